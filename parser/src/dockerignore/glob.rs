//! One compiled ignore rule: [`Pattern`] and its [`MatchKind`].
//!
//! patternmatcher checks a rule's syntax with Go's `filepath.Match` rules
//! ([`check_syntax`]), then classifies it: a rule without wildcards is
//! compared as a whole string, `dir/**` as a prefix, `**/name` as a suffix,
//! and everything else is translated to a Go regular expression
//! ([`translate`]). The translation is reproduced character for character
//! and run by the [`super::regexp`] engine, so rules whose translation
//! means something odd in RE2 (a class that swallows a `*`, a `^` in the
//! middle, `\d`) behave as they do in Docker.

use std::fmt;

use super::regexp::Regexp;
use super::PatternError;

/// How a rule is matched, as patternmatcher decides it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MatchKind {
    /// No wildcard: the path must equal the rule.
    Exact,
    /// `prefix**` with no other wildcard: the path must start with `prefix`.
    Prefix,
    /// Starts with `**` and has no other wildcard: the path must end with
    /// what follows the `**` (`**/name` also matches `name` itself).
    Suffix,
    /// Anything else: the translated regular expression decides.
    Regexp,
}

/// One rule of a [`super::PatternMatcher`].
#[derive(Debug, Clone)]
pub struct Pattern {
    index: usize,
    text: String,
    exclusion: bool,
    kind: MatchKind,
    regexp_text: Option<String>,
    regexp: Option<Result<Regexp, PatternError>>,
}

impl Pattern {
    /// Builds a rule from its cleaned text (without the `!`), which already
    /// passed [`check_syntax`]. A regular expression that RE2 would reject
    /// is kept as the error every match attempt returns, as patternmatcher
    /// does (it compiles lazily and fails each time).
    pub(crate) fn new(index: usize, text: String, exclusion: bool) -> Self {
        let (kind, translated) = translate(&text);
        let (regexp_text, regexp) = match kind {
            MatchKind::Regexp => {
                let compiled = Regexp::new(&translated).map_err(|source| PatternError::Regexp {
                    pattern: text.clone(),
                    source,
                });
                (Some(translated), Some(compiled))
            }
            _ => (None, None),
        };
        Pattern {
            index,
            text,
            exclusion,
            kind,
            regexp_text,
            regexp,
        }
    }

    /// Position of the rule in the list given to [`super::PatternMatcher::new`].
    pub fn index(&self) -> usize {
        self.index
    }

    /// The rule as patternmatcher keeps it: cleaned, without the leading `!`.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Whether the rule started with `!` (re-includes what it matches).
    pub fn is_exclusion(&self) -> bool {
        self.exclusion
    }

    /// How the rule is matched.
    pub fn kind(&self) -> MatchKind {
        self.kind
    }

    /// For [`MatchKind::Regexp`], the Go regular expression patternmatcher
    /// builds from the rule (for example `^[^/]*\.go$` for `*.go`).
    pub fn regexp(&self) -> Option<&str> {
        self.regexp_text.as_deref()
    }

    /// Whether this rule alone matches `path` exactly (no parent
    /// directories considered). Fails when the rule's regular expression is
    /// invalid.
    pub fn is_match(&self, path: &str) -> Result<bool, PatternError> {
        let text = self.text.as_bytes();
        let path_bytes = path.as_bytes();
        Ok(match self.kind {
            MatchKind::Exact => path_bytes == text,
            MatchKind::Prefix => path_bytes.starts_with(&text[..text.len().saturating_sub(2)]),
            MatchKind::Suffix => {
                let suffix = text.get(2..).unwrap_or(&[]);
                path_bytes.ends_with(suffix)
                    || (suffix.first() == Some(&b'/') && path_bytes == &suffix[1..])
            }
            MatchKind::Regexp => match &self.regexp {
                Some(Ok(regexp)) => regexp.is_match(path),
                Some(Err(error)) => return Err(error.clone()),
                None => false,
            },
        })
    }
}

/// The rule as written in the ignore file: `!` first for an exclusion.
impl fmt::Display for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.exclusion {
            f.write_str("!")?;
        }
        f.write_str(&self.text)
    }
}

/// Whether Go's `filepath.Match` accepts `pattern` (on Unix): `\` must be
/// followed by something, and every `[` must open a well-formed class (an
/// optional `^`, then one or more characters or `lo-hi` ranges, where a
/// character is anything but `-` and `]` unless escaped, then `]`).
pub(crate) fn check_syntax(pattern: &str) -> bool {
    let bytes = pattern.as_bytes();
    let mut at = 0;
    while at < bytes.len() {
        at = match bytes[at] {
            b'\\' if at + 1 >= bytes.len() => return false,
            b'\\' => at + 2,
            b'[' => match check_class(pattern, at + 1) {
                Some(next) => next,
                None => return false,
            },
            _ => at + 1,
        };
    }
    true
}

/// Checks the class body starting at byte `at`; returns the index after its
/// closing `]`.
fn check_class(pattern: &str, mut at: usize) -> Option<usize> {
    let bytes = pattern.as_bytes();
    if bytes.get(at) == Some(&b'^') {
        at += 1;
    }
    let mut ranges = 0;
    loop {
        if ranges > 0 && bytes.get(at) == Some(&b']') {
            return Some(at + 1);
        }
        at = class_char(pattern, at)?;
        if bytes[at] == b'-' {
            at = class_char(pattern, at + 1)?;
        }
        ranges += 1;
    }
}

/// One class character (possibly escaped) at byte `at`; returns the index
/// after it, which must not be the end of the pattern.
fn class_char(pattern: &str, mut at: usize) -> Option<usize> {
    let bytes = pattern.as_bytes();
    match bytes.get(at) {
        None | Some(b'-') | Some(b']') => return None,
        Some(b'\\') => at += 1,
        Some(_) => {}
    }
    let ch = pattern.get(at..)?.chars().next()?;
    let next = at + ch.len_utf8();
    (next < bytes.len()).then_some(next)
}

/// patternmatcher's classification and regular-expression text for a
/// cleaned rule. A byte order mark opening the rule is skipped (Go's text
/// scanner drops it) although exact, prefix and suffix matching still
/// compare the rule's full text.
pub(crate) fn translate(pattern: &str) -> (MatchKind, String) {
    let mut out = String::from("^");
    let mut kind = MatchKind::Exact;
    let body = pattern.strip_prefix('\u{feff}').unwrap_or(pattern);
    let mut chars = body.chars().peekable();
    let mut first = true;
    while let Some(ch) = chars.next() {
        match ch {
            '*' if chars.peek() == Some(&'*') => {
                chars.next();
                if chars.peek() == Some(&'/') {
                    chars.next();
                }
                if chars.peek().is_some() {
                    out.push_str("(.*/)?");
                    kind = MatchKind::Regexp;
                } else if kind == MatchKind::Exact {
                    kind = MatchKind::Prefix;
                } else {
                    out.push_str(".*");
                    kind = MatchKind::Regexp;
                }
                if first {
                    kind = MatchKind::Suffix;
                }
            }
            '*' => {
                out.push_str("[^/]*");
                kind = MatchKind::Regexp;
            }
            '?' => {
                out.push_str("[^/]");
                kind = MatchKind::Regexp;
            }
            '.' | '+' | '(' | ')' | '|' | '{' | '}' | '$' => {
                out.push('\\');
                out.push(ch);
            }
            '\\' => {
                out.push('\\');
                if let Some(escaped) = chars.next() {
                    out.push(escaped);
                    kind = MatchKind::Regexp;
                }
            }
            '[' | ']' => {
                out.push(ch);
                kind = MatchKind::Regexp;
            }
            other => out.push(other),
        }
        first = false;
    }
    if kind == MatchKind::Regexp {
        out.push('$');
    }
    (kind, out)
}
