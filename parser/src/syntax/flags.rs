//! Leading `--flag` words of an instruction. Like BuildKit, this works byte
//! by byte: each byte becomes the character of the same number, so non-ASCII
//! text in a flag comes out as Latin-1 (a known BuildKit quirk we keep).

/// Go's `unicode.IsSpace` applied to a single byte taken as a code point.
fn is_space_byte(b: u8) -> bool {
    matches!(b, b'\t' | b'\n' | 0x0b | 0x0c | b'\r' | b' ' | 0x85 | 0xa0)
}

/// Splits `line` into its leading flags and the rest of the text.
pub(crate) fn extract_flags(line: &[u8], escape: u8) -> (Vec<String>, &[u8]) {
    #[derive(PartialEq)]
    enum Phase {
        Spaces,
        Word,
        Quote(u8),
    }
    let mut words = Vec::new();
    let mut word = String::new();
    let mut blank_ok = false;
    let mut phase = Phase::Spaces;
    let mut pos = 0;
    while pos < line.len() {
        let mut ch = line[pos];
        match phase {
            Phase::Spaces => {
                if is_space_byte(ch) {
                    pos += 1;
                    continue;
                }
                if ch != b'-' || line.get(pos + 1) != Some(&b'-') {
                    return (words, &line[pos..]);
                }
                phase = Phase::Word;
                continue;
            }
            Phase::Word => {
                if is_space_byte(ch) {
                    phase = Phase::Spaces;
                    if word == "--" {
                        return (words, &line[pos..]);
                    }
                    if blank_ok || !word.is_empty() {
                        words.push(std::mem::take(&mut word));
                    }
                    word.clear();
                    blank_ok = false;
                    pos += 1;
                    continue;
                }
                if ch == b'\'' || ch == b'"' {
                    phase = Phase::Quote(ch);
                    blank_ok = true;
                    pos += 1;
                    continue;
                }
                if ch == escape {
                    if pos + 1 == line.len() {
                        pos += 1;
                        continue;
                    }
                    pos += 1;
                    ch = line[pos];
                }
                word.push(char::from(ch));
                pos += 1;
            }
            Phase::Quote(q) => {
                if ch == q {
                    phase = Phase::Word;
                    pos += 1;
                    continue;
                }
                if ch == escape {
                    if pos + 1 == line.len() {
                        phase = Phase::Word;
                        pos += 1;
                        continue;
                    }
                    pos += 1;
                    ch = line[pos];
                }
                word.push(char::from(ch));
                pos += 1;
            }
        }
    }
    if phase != Phase::Spaces && word != "--" && (blank_ok || !word.is_empty()) {
        words.push(word);
    }
    (words, &[])
}

#[cfg(test)]
mod tests {
    use super::extract_flags;

    fn f(s: &str) -> (Vec<String>, String) {
        let (w, r) = extract_flags(s.as_bytes(), b'\\');
        (w, String::from_utf8_lossy(r).into_owned())
    }

    #[test]
    fn flags() {
        assert_eq!(f("--from=a b c"), (vec!["--from=a".into()], "b c".into()));
        assert_eq!(
            f("--from=\"a b\" c"),
            (vec!["--from=a b".into()], "c".into())
        );
        // The rest keeps its leading blank; the caller trims it.
        assert_eq!(f("-- --x /d"), (vec![], " --x /d".into()));
        assert_eq!(f("--a --b"), (vec!["--a".into(), "--b".into()], "".into()));
        assert_eq!(f("--a=''"), (vec!["--a=".into()], "".into()));
        assert_eq!(f("--chown=ü x"), (vec!["--chown=Ã¼".into()], "x".into()));
        assert_eq!(f("x"), (vec![], "x".into()));
    }
}
