//! The exec form: a JSON array of strings, decoded with Go's
//! `encoding/json` rules (any syntax error means "not JSON, use the shell
//! form"; a well-formed array holding a non-string is an error).

/// Outcome of trying the exec form.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum JsonArray {
    Strings(Vec<String>),
    /// Well-formed, but not only strings.
    NotStrings,
    /// Not a JSON array: the text is shell form.
    NotJson,
}

pub(crate) fn parse_json_array(text: &str) -> JsonArray {
    let text = text.trim_start_matches(char::is_whitespace);
    if !text.starts_with('[') {
        return JsonArray::NotJson;
    }
    let mut p = Json {
        s: text.as_bytes(),
        i: 0,
        overflow: false,
    };
    let mut out = Vec::new();
    let mut all_strings = true;
    let ok = (|| {
        p.i = 1;
        p.ws();
        if p.eat(b']') {
            return Some(());
        }
        loop {
            p.ws();
            if p.peek() == Some(b'"') {
                out.push(p.string()?);
            } else {
                p.value()?;
                all_strings = false;
            }
            p.ws();
            if p.eat(b']') {
                return Some(());
            }
            if !p.eat(b',') {
                return None;
            }
        }
    })();
    p.ws();
    if ok.is_none() || p.i != p.s.len() || p.overflow {
        // Go reports a number that does not fit a float64 as an error of
        // its own, which BuildKit treats like any non-JSON text.
        return JsonArray::NotJson;
    }
    if all_strings {
        JsonArray::Strings(out)
    } else {
        JsonArray::NotStrings
    }
}

struct Json<'a> {
    s: &'a [u8],
    i: usize,
    overflow: bool,
}

impl Json<'_> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    fn eat(&mut self, b: u8) -> bool {
        if self.peek() == Some(b) {
            self.i += 1;
            true
        } else {
            false
        }
    }

    fn ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.i += 1;
        }
    }

    fn lit(&mut self, word: &[u8]) -> Option<()> {
        self.s[self.i..]
            .starts_with(word)
            .then(|| self.i += word.len())
    }

    fn value(&mut self) -> Option<()> {
        self.ws();
        match self.peek()? {
            b'"' => self.string().map(drop),
            b'[' => {
                self.i += 1;
                self.ws();
                if self.eat(b']') {
                    return Some(());
                }
                loop {
                    self.value()?;
                    self.ws();
                    if self.eat(b']') {
                        return Some(());
                    }
                    if !self.eat(b',') {
                        return None;
                    }
                }
            }
            b'{' => {
                self.i += 1;
                self.ws();
                if self.eat(b'}') {
                    return Some(());
                }
                loop {
                    self.ws();
                    if self.peek() != Some(b'"') {
                        return None;
                    }
                    self.string()?;
                    self.ws();
                    if !self.eat(b':') {
                        return None;
                    }
                    self.value()?;
                    self.ws();
                    if self.eat(b'}') {
                        return Some(());
                    }
                    if !self.eat(b',') {
                        return None;
                    }
                }
            }
            b't' => self.lit(b"true"),
            b'f' => self.lit(b"false"),
            b'n' => self.lit(b"null"),
            b'-' | b'0'..=b'9' => self.number(),
            _ => None,
        }
    }

    fn digits(&mut self) -> usize {
        let start = self.i;
        while matches!(self.peek(), Some(b'0'..=b'9')) {
            self.i += 1;
        }
        self.i - start
    }

    fn number(&mut self) -> Option<()> {
        let start = self.i;
        self.eat(b'-');
        match self.peek()? {
            b'0' => self.i += 1,
            b'1'..=b'9' => {
                self.digits();
            }
            _ => return None,
        }
        if self.eat(b'.') && self.digits() == 0 {
            return None;
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.i += 1;
            if !self.eat(b'+') {
                self.eat(b'-');
            }
            if self.digits() == 0 {
                return None;
            }
        }
        let text = std::str::from_utf8(&self.s[start..self.i]).ok()?;
        if text.parse::<f64>().map_or(true, |f| f.is_infinite()) {
            self.overflow = true;
        }
        Some(())
    }

    fn hex4(&mut self) -> Option<u32> {
        let h = self.s.get(self.i..self.i + 4)?;
        let v = u32::from_str_radix(std::str::from_utf8(h).ok()?, 16).ok()?;
        if !h.iter().all(u8::is_ascii_hexdigit) {
            return None;
        }
        self.i += 4;
        Some(v)
    }

    /// A string; invalid UTF-8 and lone surrogates become U+FFFD as in Go.
    fn string(&mut self) -> Option<String> {
        self.i += 1; // opening quote
        let mut out: Vec<u8> = Vec::new();
        loop {
            let b = self.peek()?;
            match b {
                b'"' => {
                    self.i += 1;
                    return Some(String::from_utf8_lossy(&out).into_owned());
                }
                0..=0x1f => return None,
                b'\\' => {
                    self.i += 1;
                    let e = self.peek()?;
                    self.i += 1;
                    let c = match e {
                        b'"' => '"',
                        b'\\' => '\\',
                        b'/' => '/',
                        b'b' => '\u{8}',
                        b'f' => '\u{c}',
                        b'n' => '\n',
                        b'r' => '\r',
                        b't' => '\t',
                        b'u' => {
                            let hi = self.hex4()?;
                            if (0xd800..0xdc00).contains(&hi)
                                && self.s[self.i..].starts_with(b"\\u")
                            {
                                let save = self.i;
                                self.i += 2;
                                match self.hex4() {
                                    Some(lo) if (0xdc00..0xe000).contains(&lo) => {
                                        let c = 0x10000 + ((hi - 0xd800) << 10) + (lo - 0xdc00);
                                        char::from_u32(c).unwrap_or('\u{fffd}')
                                    }
                                    _ => {
                                        self.i = save;
                                        '\u{fffd}'
                                    }
                                }
                            } else {
                                char::from_u32(hi).unwrap_or('\u{fffd}')
                            }
                        }
                        _ => return None,
                    };
                    let mut buf = [0u8; 4];
                    out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                }
                _ => {
                    out.push(b);
                    self.i += 1;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{parse_json_array as p, JsonArray::*};

    fn s(v: &[&str]) -> super::JsonArray {
        Strings(v.iter().map(|x| x.to_string()).collect())
    }

    #[test]
    fn forms() {
        assert_eq!(p(r#"["a", "b c"]"#), s(&["a", "b c"]));
        assert_eq!(p("[]"), s(&[]));
        assert_eq!(p(r#"  ["\u00e9\n"] "#), s(&["é\n"]));
        assert_eq!(p(r#"["a"] x"#), NotJson);
        assert_eq!(p(r#"["a", 1]"#), NotStrings);
        assert_eq!(p(r#"[["a"]]"#), NotStrings);
        assert_eq!(p(r#"[1e400]"#), NotJson);
        assert_eq!(p(r#"['a']"#), NotJson);
        assert_eq!(p(r#"["a",]"#), NotJson);
        assert_eq!(p(r#"["\ud800"]"#), s(&["\u{fffd}"]));
        assert_eq!(p(r#"["\ud83d\ude00"]"#), s(&["😀"]));
        assert_eq!(p("echo"), NotJson);
    }
}
