//! Shell-word processing and variable expansion, as BuildKit's
//! `frontend/dockerfile/shell` lexer does it.
//!
//! A [`Lexer`] takes one word of a Dockerfile instruction, removes quotes and
//! escape characters, expands `$name`, `${name}` and the `${name<op>word}`
//! forms BuildKit supports (`-` `:-` `+` `:+` `?` `:?` `#` `##` `%` `%%` `/`
//! `//`), and returns the result as one string ([`Lexer::process_word`]) or
//! split on unquoted whitespace ([`Lexer::process_words`]).
//! [`Lexer::process_word_with_matches`] also reports which variables were
//! looked up.
//!
//! The behaviour, including BuildKit's quirks, follows `lex.go` at the commit
//! recorded in `fixtures/conformance/buildkit-shell/README.md`; the
//! conformance suite in `tests/shell_conformance.rs` runs BuildKit's own test
//! tables. Variable names are case-sensitive (BuildKit's non-Windows
//! behaviour).
//!
//! ```
//! use std::collections::HashMap;
//! use rdock_parser::shell::Lexer;
//!
//! let env = HashMap::from([("NAME".to_owned(), "a b".to_owned())]);
//! let lexer = Lexer::new('\\');
//! assert_eq!(lexer.process_word("x-${NAME}-'$NAME'", &env).unwrap(), "x-a b-$NAME");
//! assert_eq!(lexer.process_words("x ${NAME} \"$NAME\"", &env).unwrap(), ["x", "a", "b", "a b"]);
//! assert_eq!(lexer.process_word("${NAME%% *}", &env).unwrap(), "a");
//! ```

mod error;
mod lex;
mod pattern;
mod unicode;

#[cfg(test)]
mod tests;

use std::borrow::Borrow;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::hash::{BuildHasher, Hash};

pub use error::ExpandError;

/// How deeply `${...}` operands may nest (`${a:-${b:-...}}`) before
/// [`ExpandError::NestingTooDeep`] is returned. BuildKit has no limit; this
/// one only exists so that no input can overflow the stack.
pub const MAX_NESTING: usize = 100;

/// Variables visible to expansion.
///
/// Implemented for maps, for lists of `(name, value)` pairs (pass a slice as
/// `&slice`, i.e. a `&&[_]`, since `[_]` itself cannot become a `dyn Env`),
/// and for [`NoEnv`].
///
/// A variable that is present with an empty value is *set* (it counts as
/// matched, and `${v-x}` gives the empty string), which is different from
/// being absent.
pub trait Env {
    /// The value of variable `name`, or `None` if it is not set.
    fn get(&self, name: &str) -> Option<&str>;
}

impl<T: Env + ?Sized> Env for &T {
    fn get(&self, name: &str) -> Option<&str> {
        (**self).get(name)
    }
}

impl<K, V, S> Env for HashMap<K, V, S>
where
    K: Borrow<str> + Hash + Eq,
    V: AsRef<str>,
    S: BuildHasher,
{
    fn get(&self, name: &str) -> Option<&str> {
        HashMap::get(self, name).map(AsRef::as_ref)
    }
}

impl<K, V> Env for BTreeMap<K, V>
where
    K: Borrow<str> + Ord,
    V: AsRef<str>,
{
    fn get(&self, name: &str) -> Option<&str> {
        BTreeMap::get(self, name).map(AsRef::as_ref)
    }
}

/// A list of `(name, value)` pairs; when a name repeats, the last entry wins.
impl<K: AsRef<str>, V: AsRef<str>> Env for [(K, V)] {
    fn get(&self, name: &str) -> Option<&str> {
        self.iter()
            .rev()
            .find(|(key, _)| key.as_ref() == name)
            .map(|(_, value)| value.as_ref())
    }
}

/// A list of `(name, value)` pairs; when a name repeats, the last entry wins.
impl<K: AsRef<str>, V: AsRef<str>> Env for Vec<(K, V)> {
    fn get(&self, name: &str) -> Option<&str> {
        Env::get(self.as_slice(), name)
    }
}

/// An array of `(name, value)` pairs; when a name repeats, the last entry wins.
impl<K: AsRef<str>, V: AsRef<str>, const N: usize> Env for [(K, V); N] {
    fn get(&self, name: &str) -> Option<&str> {
        Env::get(self.as_slice(), name)
    }
}

/// An environment with no variables at all.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NoEnv;

impl Env for NoEnv {
    fn get(&self, _name: &str) -> Option<&str> {
        None
    }
}

/// Shell-word lexer: BuildKit's `shell.Lex`.
///
/// Built with [`Lexer::new`] and configured with builder-style setters, one
/// per `Lex` option. A `Lexer` holds no per-call state, so one value can be
/// shared freely (unlike BuildKit's, it is safe to use from several threads).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Lexer {
    escape: char,
    raw_quotes: bool,
    raw_escapes: bool,
    skip_unset_env: bool,
    skip_process_quotes: bool,
}

impl Default for Lexer {
    /// A lexer with the default escape character `\` and all options off.
    fn default() -> Self {
        Self::new('\\')
    }
}

impl Lexer {
    /// A lexer using `escape` as the escape character (a Dockerfile's
    /// `# escape=` directive allows `\` or `` ` ``), with all options off.
    pub fn new(escape: char) -> Self {
        Self {
            escape,
            raw_quotes: false,
            raw_escapes: false,
            skip_unset_env: false,
            skip_process_quotes: false,
        }
    }

    /// Keep quote characters in the output (BuildKit's `RawQuotes`). Quoted
    /// text is still taken literally and still keeps words together.
    pub fn raw_quotes(mut self, on: bool) -> Self {
        self.raw_quotes = on;
        self
    }

    /// Keep escape characters in the output (BuildKit's `RawEscapes`). The
    /// escaped character is still taken literally.
    pub fn raw_escapes(mut self, on: bool) -> Self {
        self.raw_escapes = on;
        self
    }

    /// Leave references to unset variables as written, e.g. `$x`, `${x}` or
    /// `${x:-word}` with `word` expanded (BuildKit's `SkipUnsetEnv`).
    pub fn skip_unset_env(mut self, on: bool) -> Self {
        self.skip_unset_env = on;
        self
    }

    /// Treat `'` and `"` as ordinary characters (BuildKit's
    /// `SkipProcessQuotes`).
    pub fn skip_process_quotes(mut self, on: bool) -> Self {
        self.skip_process_quotes = on;
        self
    }

    /// The escape character.
    pub fn escape(&self) -> char {
        self.escape
    }

    /// Whether quote characters are kept.
    pub fn is_raw_quotes(&self) -> bool {
        self.raw_quotes
    }

    /// Whether escape characters are kept.
    pub fn is_raw_escapes(&self) -> bool {
        self.raw_escapes
    }

    /// Whether references to unset variables are left as written.
    pub fn is_skip_unset_env(&self) -> bool {
        self.skip_unset_env
    }

    /// Whether quotes are treated as ordinary characters.
    pub fn is_skip_process_quotes(&self) -> bool {
        self.skip_process_quotes
    }

    /// Expands `word` into a single string; whitespace is kept as it is
    /// (BuildKit's `ProcessWord`).
    pub fn process_word(&self, word: &str, env: &dyn Env) -> Result<String, ExpandError> {
        let mut scan = lex::Scan::new(self, word, env);
        Ok(scan.run()?.result)
    }

    /// Expands `word` and splits the result on whitespace that was not quoted
    /// or escaped, dropping empty words (BuildKit's `ProcessWords`).
    /// Splitting happens after expansion, so a value with spaces substituted
    /// outside quotes becomes several words.
    pub fn process_words(&self, word: &str, env: &dyn Env) -> Result<Vec<String>, ExpandError> {
        let mut scan = lex::Scan::new(self, word, env);
        Ok(scan.run()?.words)
    }

    /// Like [`process_word`](Self::process_word), and also reports the
    /// names of the variables that were looked up and found (`matched`, even
    /// if empty) or not found (`unmatched`) (BuildKit's
    /// `ProcessWordWithMatches`).
    pub fn process_word_with_matches(
        &self,
        word: &str,
        env: &dyn Env,
    ) -> Result<Expansion, ExpandError> {
        let mut scan = lex::Scan::new(self, word, env);
        let result = scan.run()?.result;
        Ok(Expansion {
            result,
            matched: std::mem::take(&mut scan.matched),
            unmatched: std::mem::take(&mut scan.unmatched),
        })
    }
}

/// The result of [`Lexer::process_word_with_matches`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Expansion {
    /// The expanded word.
    pub result: String,
    /// Variables that were looked up and are set (possibly to "").
    pub matched: BTreeSet<String>,
    /// Variables that were looked up and are not set.
    pub unmatched: BTreeSet<String>,
}
