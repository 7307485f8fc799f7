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
        let fold = |s: &str| {
            if case_sensitive {
                s.to_string()
            } else {
                s.to_lowercase()
            }
        };
        let wanted = fold(value);
        let mut best: Option<String> = None;
        let mut best_distance = 3;
        for option in options {
            let candidate = fold(option);
            if candidate == wanted {
                return Suggestion(None);
            }
            let d = distance(&wanted, &candidate);
            if d < best_distance {
                best_distance = d;
                best = Some(if case_sensitive {
                    candidate
                } else {
                    follow_case(&candidate, value)
                });
            }
        }
        Suggestion(best)
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

/// `candidate` (lower case) in the case style of `original`.
fn follow_case(candidate: &str, original: &str) -> String {
    if original == original.to_lowercase() {
        candidate.to_lowercase()
    } else if original == original.to_uppercase() {
        candidate.to_uppercase()
    } else {
        candidate.to_string()
    }
}

/// Edit distance between two strings, counted in characters.
fn distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut row = vec![0; b.len() + 1];
    for (i, ca) in a.iter().enumerate() {
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitute = prev[j] + usize::from(ca != cb);
            row[j + 1] = substitute.min(prev[j + 1] + 1).min(row[j] + 1);
        }
        std::mem::swap(&mut prev, &mut row);
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distances() {
        assert_eq!(distance("foo", "from"), 2);
        assert_eq!(distance("", "abc"), 3);
        assert_eq!(distance("kitten", "sitting"), 3);
        assert_eq!(distance("ü", "u"), 1);
    }

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
