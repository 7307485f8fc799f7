//! One line of comma-separated values, as the `csvvalue` package BuildKit
//! uses for `--mount` and `--device` reads it: fields split on `,`, a field
//! may be quoted with `"` (`""` inside for a quote), a bare `"` in an unquoted
//! field is an error, one trailing newline is ignored, and an empty line is
//! the error `EOF`. Errors are worded as Go's `encoding/csv`.

/// Why a line is not valid CSV; the text is Go's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum CsvError {
    #[error("EOF")]
    Empty,
    #[error("parse error on line 1, column {0}: bare \" in non-quoted-field")]
    BareQuote(usize),
    #[error("parse error on line 1, column {0}: extraneous or missing \" in quoted-field")]
    Quote(usize),
}

/// Splits `line` into fields.
pub(crate) fn fields(line: &str) -> Result<Vec<String>, CsvError> {
    let line = line
        .strip_suffix("\r\n")
        .or_else(|| line.strip_suffix('\n'))
        .unwrap_or(line);
    if line.is_empty() {
        return Err(CsvError::Empty);
    }
    let mut out = Vec::new();
    let mut rest = line;
    // Byte offset of `rest` in `line`.
    let mut pos = 0;
    loop {
        if !rest.starts_with('"') {
            let end = rest.find(',');
            let field = &rest[..end.unwrap_or(rest.len())];
            if let Some(j) = field.find('"') {
                return Err(CsvError::BareQuote(pos + j + 1));
            }
            out.push(field.to_string());
            match end {
                Some(i) => {
                    rest = &rest[i + 1..];
                    pos += i + 1;
                    continue;
                }
                None => return Ok(out),
            }
        }
        rest = &rest[1..];
        pos += 1;
        let mut field = String::new();
        loop {
            let Some(i) = rest.find('"') else {
                return Err(CsvError::Quote(pos + 1));
            };
            field.push_str(&rest[..i]);
            rest = &rest[i + 1..];
            pos += i + 1;
            match rest.chars().next() {
                Some('"') => {
                    field.push('"');
                    rest = &rest[1..];
                    pos += 1;
                }
                Some(',') => {
                    out.push(field);
                    rest = &rest[1..];
                    pos += 1;
                    break;
                }
                None => {
                    out.push(field);
                    return Ok(out);
                }
                Some(_) => return Err(CsvError::Quote(pos)),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits() {
        assert_eq!(fields("a,b=c,,d").unwrap(), ["a", "b=c", "", "d"]);
        assert_eq!(fields("a,").unwrap(), ["a", ""]);
        assert_eq!(fields("\"a,b\",c").unwrap(), ["a,b", "c"]);
        assert_eq!(fields("\"a\"\"b\"").unwrap(), ["a\"b"]);
        assert_eq!(fields("x\n").unwrap(), ["x"]);
        assert_eq!(fields("\"\"").unwrap(), [""]);
    }

    #[test]
    fn errors() {
        assert_eq!(fields("").unwrap_err().to_string(), "EOF");
        assert_eq!(
            fields("a=b\"c").unwrap_err().to_string(),
            "parse error on line 1, column 4: bare \" in non-quoted-field"
        );
        assert_eq!(
            fields("\"abc").unwrap_err().to_string(),
            "parse error on line 1, column 2: extraneous or missing \" in quoted-field"
        );
        assert_eq!(
            fields("x,\"a\"b").unwrap_err().to_string(),
            "parse error on line 1, column 5: extraneous or missing \" in quoted-field"
        );
    }
}
