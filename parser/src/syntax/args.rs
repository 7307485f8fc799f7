//! Shapes an instruction's argument text the way BuildKit's line parsers do,
//! by instruction keyword.

use super::json::{parse_json_array, JsonArray};
use crate::ast::{Args, KeyValue};
use crate::error::ErrorKind;

/// Splits on BuildKit's `[\t\v\f\r ]+`.
pub(crate) fn split_ws(s: &str) -> impl Iterator<Item = &str> {
    s.split(is_ws_sep).filter(|w| !w.is_empty())
}

/// Splits on the first run of BuildKit's `[\t\v\f\r ]+`.
pub(crate) fn split_ws2(s: &str) -> (&str, Option<&str>) {
    match s.find(is_ws_sep) {
        Some(i) => (&s[..i], Some(s[i..].trim_start_matches(is_ws_sep))),
        None => (s, None),
    }
}

fn is_ws_sep(c: char) -> bool {
    matches!(c, '\t' | '\x0b' | '\x0c' | '\r' | ' ')
}

/// What the keyword (lower-cased) takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Shape {
    MaybeJson,
    MaybeJsonList,
    Whitespace,
    Text,
    NameVal(&'static str),
    Words,
    Healthcheck,
    SubCommand,
    Unknown,
}

pub(crate) fn shape_of(keyword_lower: &str) -> Shape {
    match keyword_lower {
        "run" | "cmd" | "entrypoint" | "shell" => Shape::MaybeJson,
        "add" | "copy" | "volume" => Shape::MaybeJsonList,
        "from" | "expose" => Shape::Whitespace,
        "maintainer" | "user" | "workdir" | "stopsignal" => Shape::Text,
        "env" => Shape::NameVal("ENV"),
        "label" => Shape::NameVal("LABEL"),
        "arg" => Shape::Words,
        "healthcheck" => Shape::Healthcheck,
        "onbuild" => Shape::SubCommand,
        _ => Shape::Unknown,
    }
}

pub(crate) fn maybe_json(rest: &str) -> Result<Args, ErrorKind> {
    if rest.is_empty() {
        return Ok(Args::Empty);
    }
    match parse_json_array(rest) {
        JsonArray::Strings(v) => Ok(Args::Json(v)),
        JsonArray::NotStrings => Err(ErrorKind::JsonNotStringArray),
        JsonArray::NotJson => Ok(Args::Text(rest.to_string())),
    }
}

pub(crate) fn maybe_json_list(rest: &str) -> Result<Args, ErrorKind> {
    match parse_json_array(rest) {
        JsonArray::Strings(v) => Ok(Args::Json(v)),
        JsonArray::NotStrings => Err(ErrorKind::JsonNotStringArray),
        JsonArray::NotJson => Ok(whitespace(rest)),
    }
}

pub(crate) fn whitespace(rest: &str) -> Args {
    if rest.is_empty() {
        return Args::Empty;
    }
    // `rest` is trimmed, so no empty word can appear at either end.
    Args::Words(split_ws(rest).map(str::to_string).collect())
}

pub(crate) fn text(rest: &str) -> Args {
    if rest.is_empty() {
        Args::Empty
    } else {
        Args::Text(rest.to_string())
    }
}

pub(crate) fn words(rest: &str, escape: char) -> Args {
    let w = parse_words(rest, escape);
    if w.is_empty() {
        Args::Empty
    } else {
        Args::Words(w)
    }
}

pub(crate) fn name_val(rest: &str, key: &'static str, escape: char) -> Result<Args, ErrorKind> {
    let words = parse_words(rest, escape);
    let Some(first) = words.first() else {
        return Ok(Args::Empty);
    };
    if !first.contains('=') {
        return match split_ws2(rest) {
            (k, Some(v)) => Ok(Args::Pairs(vec![KeyValue {
                key: k.to_string(),
                value: v.to_string(),
                legacy: true,
            }])),
            _ => Err(ErrorKind::MissingValue(key)),
        };
    }
    let mut pairs = Vec::with_capacity(words.len());
    for w in words {
        let Some((k, v)) = w.split_once('=') else {
            return Err(ErrorKind::MissingEquals(w));
        };
        pairs.push(KeyValue {
            key: k.to_string(),
            value: v.to_string(),
            legacy: false,
        });
    }
    Ok(Args::Pairs(pairs))
}

pub(crate) fn healthcheck(rest: &str) -> Result<Args, ErrorKind> {
    // BuildKit looks for the end of the type word byte by byte.
    let b = rest.as_bytes();
    let is_sp = |c: u8| matches!(c, b'\t' | b'\n' | 0x0b | 0x0c | b'\r' | b' ' | 0x85 | 0xa0);
    let sep = b.iter().position(|&c| is_sp(c)).unwrap_or(b.len());
    if sep == 0 {
        return Ok(Args::Empty);
    }
    let next = b[sep..]
        .iter()
        .position(|&c| !is_sp(c))
        .map_or(b.len(), |n| sep + n);
    let kind = String::from_utf8_lossy(&b[..sep]).into_owned();
    let command = maybe_json(&String::from_utf8_lossy(&b[next..]))?;
    Ok(Args::Healthcheck {
        kind,
        command: Box::new(command),
    })
}

/// Words that honour quotes and the escape token but keep both in the text
/// (BuildKit's `parseWords`, used by ARG, ENV and LABEL).
pub(crate) fn parse_words(rest: &str, escape: char) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut blank_ok = false;
    let mut quote: Option<char> = None;
    let mut in_word = false;
    let mut chars = rest.chars().peekable();
    while let Some(mut ch) = chars.next() {
        if !in_word {
            if ch.is_whitespace() {
                continue;
            }
            in_word = true;
        }
        match quote {
            None => {
                if ch.is_whitespace() {
                    in_word = false;
                    if blank_ok || !word.is_empty() {
                        words.push(std::mem::take(&mut word));
                    }
                    blank_ok = false;
                    continue;
                }
                if ch == '\'' || ch == '"' {
                    quote = Some(ch);
                    blank_ok = true;
                }
                if ch == escape {
                    match chars.next() {
                        None => continue,
                        Some(next) => {
                            word.push(ch);
                            ch = next;
                        }
                    }
                }
                word.push(ch);
            }
            Some(q) => {
                if ch == q {
                    quote = None;
                }
                if ch == escape && q != '\'' {
                    match chars.next() {
                        None => {
                            quote = None;
                            continue;
                        }
                        Some(next) => {
                            word.push(ch);
                            ch = next;
                        }
                    }
                }
                word.push(ch);
            }
        }
    }
    if in_word && (blank_ok || !word.is_empty()) {
        words.push(word);
    }
    words
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_keep_quotes() {
        assert_eq!(
            parse_words(r#"A="a b" B='c'"#, '\\'),
            vec![r#"A="a b""#, "B='c'"]
        );
        assert_eq!(parse_words(r"A=a\ b", '\\'), vec![r"A=a\ b"]);
        assert_eq!(parse_words("A=\"\"", '\\'), vec!["A=\"\""]);
        assert_eq!(parse_words("''", '\\'), vec!["''"]);
    }

    #[test]
    fn env_forms() {
        let legacy = name_val("A 1 2 3", "ENV", '\\').unwrap();
        assert_eq!(
            legacy,
            Args::Pairs(vec![KeyValue {
                key: "A".into(),
                value: "1 2 3".into(),
                legacy: true
            }])
        );
        assert_eq!(
            name_val("A", "ENV", '\\'),
            Err(ErrorKind::MissingValue("ENV"))
        );
        assert_eq!(
            name_val("A=1 J", "ENV", '\\'),
            Err(ErrorKind::MissingEquals("J".into()))
        );
    }
}
