//! The regular-expression engine behind [`super::MatchKind::Regexp`] rules:
//! [`Regexp`] parses RE2 text the way Go's `regexp` package does (the
//! subset patternmatcher's translations can produce, see [`parse`]) and runs
//! it on a linear-time automaton ([`vm`]). [`RegexpError`] carries RE2's
//! reasons for rejecting an expression.

mod parse;
mod vm;

use vm::Program;

/// Why an expression was rejected, with RE2's wording and the offending
/// text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RegexpError {
    #[error("invalid escape sequence: `{0}`")]
    InvalidEscape(String),
    #[error("invalid character class range: `{0}`")]
    InvalidCharRange(String),
    #[error("missing closing ]: `{0}`")]
    MissingBracket(String),
    #[error("missing closing ): `{0}`")]
    MissingParen(String),
    #[error("unexpected ): `{0}`")]
    UnexpectedParen(String),
    #[error("missing argument to repetition operator: `{0}`")]
    MissingRepeatArgument(String),
    #[error("invalid nested repetition operator: `{0}`")]
    InvalidRepeatOp(String),
    #[error("trailing backslash at end of expression")]
    TrailingBackslash,
    /// Valid for Go but not implemented here: Unicode category classes such
    /// as `\pL`, which no sensible ignore rule needs.
    #[error("`{0}` is not supported by this matcher")]
    Unsupported(String),
}

/// A compiled expression.
#[derive(Debug, Clone)]
pub(crate) struct Regexp {
    program: Program,
}

impl Regexp {
    pub(crate) fn new(source: &str) -> Result<Self, RegexpError> {
        let nodes = parse::parse(source)?;
        Ok(Regexp {
            program: Program::new(&nodes),
        })
    }

    /// Whether the expression matches somewhere in `text`, like Go's
    /// `Regexp.MatchString`.
    pub(crate) fn is_match(&self, text: &str) -> bool {
        self.program.is_match(text)
    }
}

#[cfg(test)]
mod tests {
    use super::{Regexp, RegexpError};

    fn matches(source: &str, text: &str) -> bool {
        Regexp::new(source)
            .map(|re| re.is_match(text))
            .unwrap_or_else(|e| panic!("{source}: {e}"))
    }

    #[test]
    fn translations_of_globs() {
        assert!(matches(r"^[^/]*\.go$", "main.go"));
        assert!(!matches(r"^[^/]*\.go$", "cmd/main.go"));
        assert!(matches(r"^(.*/)?file[^/]*txt$", "a/b/file.txt"));
        assert!(matches(r"^(.*/)?file[^/]*txt$", "file.txt"));
        assert!(!matches(r"^(.*/)?file$", "a\nb/file"));
        assert!(matches(r"^[^/]*$", "a\nb"));
        assert!(matches(r"^a\\$", "a\\"));
    }

    #[test]
    fn re2_features_reachable_from_globs() {
        assert!(matches(r"^[[:alpha:]]$", "q"));
        assert!(!matches(r"^[[:alpha:]]$", "["));
        assert!(matches(r"^[[^/]*]$", "[^[]"));
        assert!(!matches(r"^a^b[^/]*$", "a^b"));
        assert!(matches(r"^\d\w\s$", "7_ "));
        assert!(matches(r"^[\D]$", "x"));
        assert!(matches(r"^a\b[^/]*$", "a-b"));
        assert!(!matches(r"^a\b[^/]*$", "ab"));
        assert!(matches(r"^\Qa[^/]*$", "a[^/]*$ and more"));
        assert!(matches(r"^\Qa\E[^/]*$", "abc"));
        assert!(matches(r"^\x41\101\0$", "AA\0"));
        assert!(matches(r"^x*?$", "xx"));
    }

    #[test]
    fn re2_errors() {
        let error = |source: &str| Regexp::new(source).err();
        assert_eq!(
            error(r"^[Local-Only]$"),
            Some(RegexpError::InvalidCharRange("l-O".into()))
        );
        assert_eq!(
            error(r"^\q$"),
            Some(RegexpError::InvalidEscape(r"\q".into()))
        );
        assert_eq!(
            error(r"^\1$"),
            Some(RegexpError::InvalidEscape(r"\1".into()))
        );
        assert_eq!(
            error(r"^\é$"),
            Some(RegexpError::InvalidEscape(r"\é".into()))
        );
        assert_eq!(
            error(r"^[[:foo:]]$"),
            Some(RegexpError::InvalidCharRange("[:foo:]".into()))
        );
        assert_eq!(
            error(r"^a**$"),
            Some(RegexpError::InvalidRepeatOp("**".into()))
        );
        assert_eq!(
            error(r"^\pL$"),
            Some(RegexpError::Unsupported(r"\pL".into()))
        );
        assert_eq!(
            error(r"^\pX$"),
            Some(RegexpError::InvalidCharRange(r"\pX".into()))
        );
        assert_eq!(error("^[a"), Some(RegexpError::MissingBracket("[a".into())));
        assert!(matches!(error("^(a"), Some(RegexpError::MissingParen(_))));
        assert!(matches!(
            error("^a)"),
            Some(RegexpError::UnexpectedParen(_))
        ));
        assert!(matches!(
            error("*"),
            Some(RegexpError::MissingRepeatArgument(_))
        ));
    }
}
