//! Physical lines of a Dockerfile, as BuildKit's scanner reads them: split
//! after each `\n` (kept), at most 64 KiB a line.

/// Longest line, newline included, that BuildKit's scanner accepts.
const MAX_TOKEN: usize = 64 * 1024;

/// Iterator over physical lines (with their `\n`). Stops at a line that is
/// too long and remembers that it did.
#[derive(Debug)]
pub(crate) struct Lines<'a> {
    rest: &'a [u8],
    pub(crate) too_long: bool,
}

impl<'a> Lines<'a> {
    pub(crate) fn new(src: &'a [u8]) -> Self {
        Lines {
            rest: src,
            too_long: false,
        }
    }
}

impl<'a> Iterator for Lines<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        if self.rest.is_empty() || self.too_long {
            return None;
        }
        let (line, rest) = match memchr(b'\n', self.rest) {
            Some(i) if i < MAX_TOKEN => self.rest.split_at(i + 1),
            // A last line without newline must leave room in the scanner's
            // buffer: Go fails once the buffer is full before EOF is seen.
            None if self.rest.len() < MAX_TOKEN => (self.rest, &[][..]),
            _ => {
                self.too_long = true;
                return None;
            }
        };
        self.rest = rest;
        Some(line)
    }
}

fn memchr(needle: u8, hay: &[u8]) -> Option<usize> {
    hay.iter().position(|&b| b == needle)
}

/// Strips every trailing `\r` and `\n`.
pub(crate) fn trim_newline(mut s: &[u8]) -> &[u8] {
    while let [rest @ .., b'\r' | b'\n'] = s {
        s = rest;
    }
    s
}

/// Strips leading Unicode white space (Go's `unicode.IsSpace`).
pub(crate) fn trim_leading_space(s: &[u8]) -> &[u8] {
    let mut i = 0;
    while i < s.len() {
        match space_len(&s[i..]) {
            Some(n) => i += n,
            None => break,
        }
    }
    &s[i..]
}

/// Length of the white-space character at the start of `s`, if it is one.
fn space_len(s: &[u8]) -> Option<usize> {
    match s.first()? {
        b'\t' | b'\n' | 0x0b | 0x0c | b'\r' | b' ' => Some(1),
        b if *b < 0x80 => None,
        _ => {
            let n = utf8_len(s)?;
            let c = std::str::from_utf8(&s[..n]).ok()?.chars().next()?;
            c.is_whitespace().then_some(n)
        }
    }
}

fn utf8_len(s: &[u8]) -> Option<usize> {
    let n = match s[0] {
        0xc0..=0xdf => 2,
        0xe0..=0xef => 3,
        0xf0..=0xf7 => 4,
        _ => return None,
    };
    (s.len() >= n).then_some(n)
}

pub(crate) fn is_comment(line: &[u8]) -> bool {
    trim_leading_space(line).first() == Some(&b'#')
}

pub(crate) fn is_blank(line: &[u8]) -> bool {
    trim_leading_space(trim_newline(line)).is_empty()
}

/// Removes a line-continuation escape at the end of `line`: the escape token
/// followed only by blanks, not itself escaped. Returns whether the line
/// ends the instruction (no continuation found).
pub(crate) fn trim_continuation(line: &[u8], escape: u8) -> (&[u8], bool) {
    let mut end = line.len();
    while end > 0 && matches!(line[end - 1], b' ' | b'\t') {
        end -= 1;
    }
    if end == 0 || line[end - 1] != escape {
        return (line, true);
    }
    if end >= 2 && line[end - 2] == escape {
        return (line, true);
    }
    (&line[..end - 1], false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_keeping_newlines() {
        let v: Vec<_> = Lines::new(b"a\r\nb\n\nc").collect();
        assert_eq!(v, vec![&b"a\r\n"[..], b"b\n", b"\n", b"c"]);
    }

    #[test]
    fn line_limit() {
        let ok = vec![b'x'; MAX_TOKEN - 1];
        let mut l = Lines::new(&ok);
        assert!(l.next().is_some() && !l.too_long);
        let mut nl = vec![b'x'; MAX_TOKEN - 1];
        nl.push(b'\n');
        let mut l = Lines::new(&nl);
        assert!(l.next().is_some() && !l.too_long);
        let bad = vec![b'x'; MAX_TOKEN];
        let mut l = Lines::new(&bad);
        assert!(l.next().is_none() && l.too_long);
    }

    #[test]
    fn continuation() {
        assert_eq!(trim_continuation(b"a \\", b'\\'), (&b"a "[..], false));
        assert_eq!(trim_continuation(b"a\\ \t", b'\\'), (&b"a"[..], false));
        assert_eq!(trim_continuation(b"a\\\\", b'\\'), (&b"a\\\\"[..], true));
        assert_eq!(trim_continuation(b"\\", b'\\'), (&b""[..], false));
        assert_eq!(trim_continuation(b"a`", b'`'), (&b"a"[..], false));
        assert_eq!(trim_continuation(b"a\\", b'`'), (&b"a\\"[..], true));
    }

    #[test]
    fn unicode_space() {
        assert_eq!(trim_leading_space("\u{a0}\u{2003} x".as_bytes()), b"x");
        assert!(is_comment(" \t# c".as_bytes()));
    }
}
