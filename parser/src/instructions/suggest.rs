//! "Did you mean ...?" hints: the closest candidate by Levenshtein distance
//! (fewer than three edits), as BuildKit's `util/suggest` picks it for
//! unknown instructions, flags, mount types and mount keys.

use std::fmt;

use serde::Serialize;

/// An optional hint shown after an error message as ` (did you mean X?)`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Suggestion(pub Option<String>);

impl Suggestion {
    /// The closest of `options` to `value`, when one is within two edits and
    /// `value` is not itself one of the options. When `case_sensitive` is
    /// false, the comparison ignores case and the hint follows the case of
    /// `value` (all lower, all upper, or the option as listed).
    pub fn search(value: &str, options: &[&str], case_sensitive: bool) -> Self {
        Suggestion(crate::suggest::suggest(
            value,
            options.iter().copied(),
            case_sensitive,
        ))
    }
}

impl fmt::Display for Suggestion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Some(s) => write!(f, " (did you mean {s}?)"),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hints() {
        let names = ["FROM", "RUN", "COPY"];
        assert_eq!(
            Suggestion::search("foo", &names, false).0.as_deref(),
            Some("from")
        );
        assert_eq!(
            Suggestion::search("FOO", &names, false).0.as_deref(),
            Some("FROM")
        );
        assert_eq!(
            Suggestion::search("Cpy", &names, false).0.as_deref(),
            Some("copy")
        );
        assert_eq!(Suggestion::search("xyzzy", &names, false).0, None);
        assert_eq!(Suggestion::search("run", &names, false).0, None);
        assert_eq!(
            Suggestion::search("lnk", &["link"], true).to_string(),
            " (did you mean link?)"
        );
    }
}
