//! The `.dockerignore` reader: [`read_patterns`] turns the file's text into
//! the pattern list Docker and BuildKit hand to the matcher, with the rules of
//! moby's `ignorefile.ReadAll`.

use super::path::clean;

/// Patterns read from a `.dockerignore` file's text.
///
/// The rules are `ignorefile.ReadAll`'s:
/// - a UTF-8 byte order mark at the very start is dropped;
/// - lines end at `\n` (a `\r` before it goes too);
/// - a line whose first character is `#` is a comment (an indented `#` is
///   not: `"  #x"` yields the pattern `#x`);
/// - surrounding whitespace is trimmed and blank lines are skipped;
/// - after a leading `!` the rest is trimmed again, and the pattern is
///   cleaned as a path (`a//b/../c/` becomes `a/c`) and loses one leading
///   `/` unless it is `/` itself, so `/foo` and `foo` are the same rule;
/// - a lone `!` stays `!` (the matcher rejects it).
///
/// Docker fails on a line longer than 64 KiB; this reader accepts it.
pub fn read_patterns(text: &str) -> Vec<String> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut lines: Vec<&str> = text.split('\n').collect();
    if lines.last() == Some(&"") {
        lines.pop();
    }
    let mut patterns = Vec::new();
    for line in lines {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.starts_with('#') {
            continue;
        }
        let trimmed = line.trim();
        if trimmed.is_empty() {
            continue;
        }
        let (invert, body) = match trimmed.strip_prefix('!') {
            Some(rest) => (true, rest.trim()),
            None => (false, trimmed),
        };
        let mut pattern = String::new();
        if invert {
            pattern.push('!');
        }
        if !body.is_empty() {
            let cleaned = clean(body);
            match cleaned.strip_prefix('/') {
                Some(relative) if !relative.is_empty() => pattern.push_str(relative),
                _ => pattern.push_str(&cleaned),
            }
        }
        patterns.push(pattern);
    }
    patterns
}
