//! Shell patterns for `${name#pattern}`, `${name%pattern}` and
//! `${name/pattern/replacement}`.
//!
//! BuildKit turns such a pattern into a Go regular expression and lets Go's
//! `regexp` package do the matching. Its pattern language is small: `*` is
//! any run of characters, `?` is one character, a backslash escapes `*`, `?`
//! or another backslash (and is dropped before `}` and `/`), and every other
//! character, including `[` and `]`, is literal. There are no bracket
//! expressions. Because the translation goes through a regular expression,
//! `*` and `?` never match a newline (Go's `.` does not).
//!
//! This module reproduces that without a regex engine: a pattern compiles to a
//! list of atoms, and [`Glob::find_at`] runs them as a small Pike VM that
//! follows Go's leftmost-first rules (greedy or lazy `*`). It runs in
//! `O(pattern × text)` time and never recurses, so no input can overflow the
//! stack. Positions are `char` indexes, never byte offsets.

use super::error::ExpandError;
use super::unicode::{is_digit, is_letter};

/// One element of a compiled pattern.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Atom {
    /// This exact character.
    Lit(char),
    /// Any character except a newline (`?`).
    Any,
    /// Any run of characters without a newline (`*`).
    Star,
}

/// A compiled shell pattern.
#[derive(Debug, Clone)]
pub(crate) struct Glob {
    atoms: Vec<Atom>,
    /// Whether `*` prefers the longest run (`##`, `%%`, `/`) or the shortest.
    greedy: bool,
}

impl Glob {
    /// Compiles `pattern`. On a bad escape, returns the escaped character
    /// (`None` when the pattern ends with the backslash).
    pub(crate) fn compile(pattern: &str, greedy: bool) -> Result<Self, Option<char>> {
        // BuildKit reads the pattern with Go's text/scanner, which skips a
        // byte-order mark at the very start.
        let pattern = pattern.strip_prefix('\u{FEFF}').unwrap_or(pattern);
        let mut atoms = Vec::with_capacity(pattern.len());
        let mut chars = pattern.chars().peekable();
        while let Some(ch) = chars.next() {
            let atom = match ch {
                '*' => Atom::Star,
                '?' => Atom::Any,
                '\\' => {
                    if matches!(chars.peek(), Some('}' | '/')) {
                        // The backslash only protected the character from the
                        // `${...}` syntax; it is not part of the pattern.
                        continue;
                    }
                    match chars.next() {
                        Some(escaped @ ('*' | '?' | '\\')) => Atom::Lit(escaped),
                        other => return Err(other),
                    }
                }
                other => Atom::Lit(other),
            };
            atoms.push(atom);
        }
        Ok(Self { atoms, greedy })
    }

    /// Finds the leftmost match in `text` that starts at or after `from`, as
    /// Go's `FindStringIndex` would; with `anchored`, only a match starting
    /// exactly at `from` counts. Returns the `(start, end)` char indexes.
    pub(crate) fn find_at(
        &self,
        text: &[char],
        from: usize,
        anchored: bool,
    ) -> Option<(usize, usize)> {
        let matched = self.atoms.len();
        // `seen[state]` holds the last position for which `state` was queued.
        let mut seen = vec![usize::MAX; matched + 1];
        let mut current: Vec<(usize, usize)> = Vec::new();
        let mut next: Vec<(usize, usize)> = Vec::new();
        let mut best = None;
        let mut pos = from;
        loop {
            if best.is_none() && (!anchored || pos == from) {
                // A thread starting here has the lowest priority of all.
                self.add_thread(&mut current, &mut seen, pos, 0, pos);
            }
            if current.is_empty() {
                break;
            }
            let ch = text.get(pos).copied();
            next.clear();
            for &(state, start) in &current {
                if state == matched {
                    // Everything after this thread has lower priority.
                    best = Some((start, pos));
                    break;
                }
                let Some(ch) = ch else { continue };
                match self.atoms[state] {
                    Atom::Lit(lit) if lit == ch => {
                        self.add_thread(&mut next, &mut seen, pos + 1, state + 1, start);
                    }
                    Atom::Any | Atom::Star if ch != '\n' => {
                        let to = if self.atoms[state] == Atom::Star {
                            state
                        } else {
                            state + 1
                        };
                        self.add_thread(&mut next, &mut seen, pos + 1, to, start);
                    }
                    _ => {}
                }
            }
            if ch.is_none() {
                break;
            }
            std::mem::swap(&mut current, &mut next);
            pos += 1;
        }
        best
    }

    /// Queues `state` and everything reachable from it without consuming a
    /// character, in priority order.
    fn add_thread(
        &self,
        list: &mut Vec<(usize, usize)>,
        seen: &mut [usize],
        pos: usize,
        state: usize,
        start: usize,
    ) {
        let mut end = state;
        while self.atoms.get(end) == Some(&Atom::Star) {
            end += 1;
        }
        let mut push = |s: usize| {
            if seen[s] != pos {
                seen[s] = pos;
                list.push((s, start));
            }
        };
        if self.greedy {
            // Each star first tries to take another character.
            (state..end).for_each(&mut push);
            push(end);
        } else {
            // Each star first tries to stop.
            push(end);
            (state..end).rev().for_each(&mut push);
        }
    }
}

/// `${value#pattern}` / `${value##pattern}`: removes the shortest (longest)
/// matching prefix.
pub(crate) fn trim_prefix(pattern: &str, value: &str, greedy: bool) -> Result<String, ExpandError> {
    let glob = Glob::compile(pattern, greedy).map_err(|escaped| ExpandError::InvalidPattern {
        pattern: pattern.to_owned(),
        escaped,
    })?;
    let text: Vec<char> = value.chars().collect();
    Ok(match glob.find_at(&text, 0, true) {
        Some((_, end)) => text[end..].iter().collect(),
        None => value.to_owned(),
    })
}

/// `${value%pattern}` / `${value%%pattern}`: removes the shortest (longest)
/// matching suffix, by trimming a prefix of the reversed value with the
/// reversed pattern (as BuildKit does).
pub(crate) fn trim_suffix(pattern: &str, value: &str, greedy: bool) -> Result<String, ExpandError> {
    let reversed: String = value.chars().rev().collect();
    let trimmed = trim_prefix(&reverse_pattern(pattern), &reversed, greedy)?;
    Ok(trimmed.chars().rev().collect())
}

/// Reverses a pattern but keeps each backslash in front of the character it
/// escapes: `a\*c` becomes `c\*a`.
pub(crate) fn reverse_pattern(pattern: &str) -> String {
    let chars: Vec<char> = pattern.chars().collect();
    let mut out = chars.clone();
    let len = chars.len();
    let mut i = 0;
    while i < len {
        let at = len - 1 - i;
        if chars[i] == '\\' && i + 1 < len {
            out[at - 1] = '\\';
            out[at] = chars[i + 1];
            i += 2;
        } else {
            out[at] = chars[i];
            i += 1;
        }
    }
    out.into_iter().collect()
}

/// `${value/pattern/replacement}` (first match) and
/// `${value//pattern/replacement}` (every match).
///
/// The single replacement is inserted literally. For "every match" BuildKit
/// uses Go's `ReplaceAllString`, which expands `$0` / `${0}` in the
/// replacement to the matched text, any other `$name` / `${name}` to nothing
/// and `$$` to `$`; that is reproduced here, as is Go's rule that an empty
/// match right after a previous match is not replaced.
pub(crate) fn replace(
    value: &str,
    pattern: &str,
    replacement: &str,
    all: bool,
) -> Result<String, ExpandError> {
    let glob = Glob::compile(pattern, true).map_err(|escaped| ExpandError::InvalidPattern {
        pattern: pattern.to_owned(),
        escaped,
    })?;
    let text: Vec<char> = value.chars().collect();
    if !all {
        return Ok(match glob.find_at(&text, 0, false) {
            Some((start, end)) => {
                let mut out: String = text[..start].iter().collect();
                out.push_str(replacement);
                out.extend(&text[end..]);
                out
            }
            None => value.to_owned(),
        });
    }
    let mut out = String::with_capacity(value.len());
    let mut last_end = 0;
    let mut search = 0;
    while search <= text.len() {
        let Some((start, end)) = glob.find_at(&text, search, false) else {
            break;
        };
        out.extend(&text[last_end..start]);
        if end > last_end || start == 0 {
            expand_template(&mut out, replacement, &text[start..end]);
        }
        last_end = end;
        let width = usize::from(search < text.len());
        search = if search + width > end {
            search + width
        } else if search + 1 > end {
            search + 1
        } else {
            end
        };
    }
    out.extend(&text[last_end..]);
    Ok(out)
}

/// Go's `Regexp.Expand` for a regexp whose only group is the whole match.
fn expand_template(out: &mut String, template: &str, whole: &[char]) {
    let mut rest = template;
    while let Some(dollar) = rest.find('$') {
        out.push_str(&rest[..dollar]);
        rest = &rest[dollar + 1..];
        if let Some(after) = rest.strip_prefix('$') {
            out.push('$');
            rest = after;
            continue;
        }
        match template_name(rest) {
            Some((name, after)) => {
                if name == "0" {
                    out.extend(whole);
                }
                rest = after;
            }
            // Not a reference: the `$` is kept as text.
            None => out.push('$'),
        }
    }
    out.push_str(rest);
}

/// Reads `name` or `{name}` after a `$` in a replacement template. Returns the
/// name and the text after it, or `None` if there is no valid reference.
fn template_name(text: &str) -> Option<(&str, &str)> {
    let (braced, body) = match text.strip_prefix('{') {
        Some(body) => (true, body),
        None => (false, text),
    };
    let len = body
        .char_indices()
        .find(|&(_, ch)| !(is_letter(ch) || is_digit(ch) || ch == '_'))
        .map_or(body.len(), |(index, _)| index);
    if len == 0 {
        return None;
    }
    let (name, after) = body.split_at(len);
    if braced {
        let after = after.strip_prefix('}')?;
        return Some((name, after));
    }
    Some((name, after))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn find(pattern: &str, greedy: bool, text: &str, anchored: bool) -> Option<(usize, usize)> {
        let text: Vec<char> = text.chars().collect();
        Glob::compile(pattern, greedy)
            .unwrap()
            .find_at(&text, 0, anchored)
    }

    #[test]
    fn compile_rejects_bad_escapes() {
        assert_eq!(Glob::compile("\\", true).unwrap_err(), None);
        assert_eq!(Glob::compile("\\x", true).unwrap_err(), Some('x'));
        assert_eq!(Glob::compile("\\\\\\", true).unwrap_err(), None);
        assert!(Glob::compile("(()[]{\\}^$.\\*\\?|\\\\", true).is_ok());
        assert!(Glob::compile("a\\/b", true).is_ok());
    }

    #[test]
    fn leftmost_first_matching() {
        assert_eq!(find("*x*y", false, "xxyy", true), Some((0, 3)));
        assert_eq!(find("*x*y", true, "xxyy", true), Some((0, 4)));
        assert_eq!(find("*", false, "abc", true), Some((0, 0)));
        assert_eq!(find("*", true, "abc", true), Some((0, 3)));
        assert_eq!(find("b?", true, "abcbd", false), Some((1, 3)));
        assert_eq!(find("b*", true, "abcbd", false), Some((1, 5)));
        assert_eq!(find("x", true, "abc", false), None);
        assert_eq!(find("b", true, "abc", true), None);
        assert_eq!(find("", true, "abc", false), Some((0, 0)));
        // `*` and `?` stop at newlines, like Go's `.`.
        assert_eq!(find("*", true, "ab\ncd", true), Some((0, 2)));
        assert_eq!(find("a?c", true, "a\nc", false), None);
        // Brackets are literal.
        assert_eq!(find("[ab]", true, "x[ab]", false), Some((1, 5)));
    }

    #[test]
    fn reversing_patterns_keeps_escapes() {
        for (pattern, expected) in [
            ("a\\*c", "c\\*a"),
            ("\\\\\\ab", "b\\a\\\\"),
            ("ab\\", "\\ba"),
            ("👽\\🚀🖖", "🖖\\🚀👽"),
            ("\\\\b", "b\\\\"),
            ("", ""),
        ] {
            assert_eq!(reverse_pattern(pattern), expected, "pattern {pattern:?}");
        }
    }

    #[test]
    fn trimming() {
        assert_eq!(trim_prefix("*x", "xxyy", true).unwrap(), "yy");
        assert_eq!(trim_prefix("*x", "xxyy", false).unwrap(), "xyy");
        assert_eq!(trim_suffix("y*", "xxyy", false).unwrap(), "xxy");
        assert_eq!(trim_suffix("y*", "xxyy", true).unwrap(), "xx");
        assert_eq!(trim_suffix("한*", "가한국어", false).unwrap(), "가");
        let err = trim_suffix("a\\x", "v", false).unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid pattern (\\xa) in substitution: invalid escape '\\x'"
        );
    }

    #[test]
    fn replacing() {
        assert_eq!(replace("abcabc", "b", "X", false).unwrap(), "aXcabc");
        assert_eq!(replace("abcabc", "b", "X", true).unwrap(), "aXcaXc");
        assert_eq!(replace("abc", "", "-", true).unwrap(), "-a-b-c-");
        assert_eq!(replace("abc", "*", "-", true).unwrap(), "-");
        assert_eq!(replace("abc", "x*", "-", true).unwrap(), "abc");
        // Go's template expansion applies only when replacing every match.
        assert_eq!(replace("abc", "b", "[$0]", true).unwrap(), "a[b]c");
        assert_eq!(replace("abc", "b", "[${0}$$$x$]", true).unwrap(), "a[b$$]c");
        assert_eq!(replace("abc", "b", "[$0]", false).unwrap(), "a[$0]c");
        assert_eq!(replace("abc", "b", "${0", true).unwrap(), "a${0c");
    }
}
