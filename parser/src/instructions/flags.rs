//! Instruction flags (`--name=value`), checked the way BuildKit's `BFlags`
//! does: each instruction declares the flags it takes ([`Flags::add_bool`],
//! [`Flags::add_string`], [`Flags::add_strings`]) and then [`Flags::parse`]
//! matches the words the first stage found. Booleans take `--link`,
//! `--link=true` or `--link=false` (any case); strings need `=value`; string
//! lists may repeat. Unknown and repeated flags are errors, with a hint.
//! Every value remembers which flag word it came from, so errors can point
//! at it.

use super::suggest::Suggestion;
use super::{Failure, InstructionError};

/// What a flag holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Bool,
    String,
    Strings,
}

#[derive(Debug)]
struct Def {
    name: &'static str,
    kind: Kind,
    default: &'static str,
    /// The value of a bool or string flag once given.
    value: Option<String>,
    /// Every value of a string-list flag.
    values: Vec<String>,
    /// Indices of the flag words that set this flag.
    at: Vec<usize>,
}

/// The declared flags of one instruction and the words to match.
#[derive(Debug)]
pub(crate) struct Flags<'a> {
    words: &'a [String],
    defs: Vec<Def>,
    /// Names in the order they were first used.
    used: Vec<&'static str>,
}

impl<'a> Flags<'a> {
    /// Flags to be matched against `words` (the node's flag words).
    pub(crate) fn new(words: &'a [String]) -> Self {
        Flags {
            words,
            defs: Vec::new(),
            used: Vec::new(),
        }
    }

    fn add(&mut self, name: &'static str, kind: Kind, default: &'static str) {
        debug_assert!(
            self.defs.iter().all(|d| d.name != name),
            "flag {name} declared twice"
        );
        self.defs.push(Def {
            name,
            kind,
            default,
            value: None,
            values: Vec::new(),
            at: Vec::new(),
        });
    }

    /// Declares a boolean flag (default false).
    pub(crate) fn add_bool(&mut self, name: &'static str) {
        self.add(name, Kind::Bool, "false");
    }

    /// Declares a string flag with its default.
    pub(crate) fn add_string(&mut self, name: &'static str, default: &'static str) {
        self.add(name, Kind::String, default);
    }

    /// Declares a repeatable string flag.
    pub(crate) fn add_strings(&mut self, name: &'static str) {
        self.add(name, Kind::Strings, "");
    }

    /// Matches the words against the declared flags.
    pub(crate) fn parse(&mut self) -> Result<(), Failure> {
        for (index, word) in self.words.iter().enumerate() {
            let fail = |error: InstructionError| Failure::at_flag(error, index);
            if word == "--" {
                return Ok(());
            }
            let Some(body) = word.strip_prefix("--") else {
                return Err(fail(InstructionError::NotAFlag(word.clone())));
            };
            let (name, value) = match body.split_once('=') {
                Some((n, v)) => (n, Some(v)),
                None => (body, None),
            };
            let flag = format!("--{name}");
            let Some(def) = self.defs.iter_mut().find(|d| d.name == name) else {
                let names: Vec<&str> = self.defs.iter().map(|d| d.name).collect();
                return Err(fail(InstructionError::UnknownFlag {
                    flag,
                    suggestion: Suggestion::search(name, &names, true),
                }));
            };
            if !def.at.is_empty() && def.kind != Kind::Strings {
                return Err(fail(InstructionError::DuplicateFlag(flag)));
            }
            def.at.push(index);
            if !self.used.contains(&def.name) {
                self.used.push(def.name);
            }
            match (def.kind, value) {
                (Kind::Bool, Some("")) => {
                    return Err(fail(InstructionError::MissingFlagValue(flag)))
                }
                (Kind::Bool, v) => {
                    let v = v.unwrap_or("");
                    def.value = Some(match v.to_lowercase().as_str() {
                        "" | "true" => "true".to_string(),
                        "false" => "false".to_string(),
                        _ => {
                            return Err(fail(InstructionError::NotABool {
                                flag,
                                value: v.to_string(),
                            }))
                        }
                    });
                }
                (_, None) => return Err(fail(InstructionError::MissingFlagValue(flag))),
                (Kind::String, Some(v)) => def.value = Some(v.to_string()),
                (Kind::Strings, Some(v)) => def.values.push(v.to_string()),
            }
        }
        Ok(())
    }

    fn def(&self, name: &str) -> &Def {
        self.defs
            .iter()
            .find(|d| d.name == name)
            .unwrap_or_else(|| panic!("flag {name} was not declared"))
    }

    /// The value of a string flag, or its default.
    pub(crate) fn string(&self, name: &str) -> &str {
        let def = self.def(name);
        def.value.as_deref().unwrap_or(def.default)
    }

    /// The value of a string flag, `None` when empty (BuildKit's "unset").
    pub(crate) fn non_empty(&self, name: &str) -> Option<String> {
        Some(self.string(name))
            .filter(|v| !v.is_empty())
            .map(str::to_string)
    }

    /// The value of a boolean flag.
    pub(crate) fn bool(&self, name: &str) -> bool {
        self.string(name) == "true"
    }

    /// The value of a boolean flag, `None` when the flag was not given.
    pub(crate) fn bool_if_used(&self, name: &str) -> Option<bool> {
        self.used(name).then(|| self.bool(name))
    }

    /// Every value of a string-list flag, in order.
    pub(crate) fn strings(&self, name: &str) -> &[String] {
        &self.def(name).values
    }

    /// Whether the flag was given.
    pub(crate) fn used(&self, name: &str) -> bool {
        !self.def(name).at.is_empty()
    }

    /// Index of the flag word that gave the flag's value (the last one), or
    /// of the `n`-th value of a string-list flag.
    pub(crate) fn word_index(&self, name: &str, n: Option<usize>) -> Option<usize> {
        let at = &self.def(name).at;
        match n {
            Some(n) => at.get(n).copied(),
            None => at.last().copied(),
        }
    }

    /// Names of the flags given, in order of first use.
    pub(crate) fn used_names(&self) -> Vec<String> {
        self.used.iter().map(|s| s.to_string()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(w: &[&str]) -> Vec<String> {
        w.iter().map(|s| s.to_string()).collect()
    }

    fn err(w: &[&str]) -> String {
        let w = words(w);
        let mut f = Flags::new(&w);
        f.add_string("str1", "HI");
        f.add_bool("bool1");
        f.add_strings("many");
        f.parse().unwrap_err().error.to_string()
    }

    #[test]
    fn defaults_and_values() {
        let w = words(&[]);
        let mut f = Flags::new(&w);
        f.add_string("str1", "HI");
        f.add_bool("bool1");
        f.parse().unwrap();
        assert_eq!(f.string("str1"), "HI");
        assert!(!f.bool("bool1") && !f.used("str1") && !f.used("bool1"));
        assert_eq!(f.bool_if_used("bool1"), None);

        let w = words(&["--bool1", "--str1=", "--many=a", "--many=b"]);
        let mut f = Flags::new(&w);
        f.add_string("str1", "HI");
        f.add_bool("bool1");
        f.add_strings("many");
        f.parse().unwrap();
        assert_eq!(f.string("str1"), "");
        assert_eq!(f.non_empty("str1"), None);
        assert!(f.bool("bool1"));
        assert_eq!(f.strings("many"), ["a", "b"]);
        assert_eq!(f.word_index("many", Some(1)), Some(3));
        assert_eq!(f.used_names(), ["bool1", "str1", "many"]);
    }

    #[test]
    fn booleans() {
        for (word, want) in [("--b=true", true), ("--b=FALSE", false), ("--b=True", true)] {
            let w = words(&[word]);
            let mut f = Flags::new(&w);
            f.add_bool("b");
            f.parse().unwrap();
            assert_eq!(f.bool("b"), want, "{word}");
        }
    }

    #[test]
    fn double_dash_ends_flags() {
        let w = words(&["--", "--bogus"]);
        let mut f = Flags::new(&w);
        assert!(f.parse().is_ok());
    }

    #[test]
    fn errors() {
        assert_eq!(err(&["--str1"]), "missing a value on flag: --str1");
        assert_eq!(err(&["--many"]), "missing a value on flag: --many");
        assert_eq!(err(&["--bool1="]), "missing a value on flag: --bool1");
        assert_eq!(
            err(&["--bool1=false1"]),
            "expecting boolean value for flag --bool1, not: false1"
        );
        assert_eq!(
            err(&["--bool2"]),
            "unknown flag: --bool2 (did you mean bool1?)"
        );
        assert_eq!(err(&["--zzzzzz"]), "unknown flag: --zzzzzz");
        assert_eq!(
            err(&["--str1=a", "--str1=b"]),
            "duplicate flag specified: --str1"
        );
        assert_eq!(
            err(&["--bool1", "--bool1=false"]),
            "duplicate flag specified: --bool1"
        );
        assert_eq!(err(&["-x"]), "arg should start with -- : -x");
    }
}
