//! Where an instruction error points: the instruction's lines, narrowed to
//! the columns of the offending flag when the instruction sits on one line
//! (the flag is then found in the node's logical line, which is that line).
//! Columns count from the keyword's column, `node.span.start.column`. Any
//! other error points at the keyword.

use super::Failure;
use crate::ast::{Node, Span};
use crate::error::{Error, ErrorKind};

/// Wraps a failure into the crate error, pointing at the flag when the
/// instruction is a single line.
pub(super) fn error_at(node: &Node, failure: Failure) -> Error {
    let column = node.span.start.column;
    let keyword = Span {
        start: node.span.start,
        end: crate::ast::Position {
            line: node.span.end.line,
            column: column + node.keyword.len(),
        },
    };
    let span = failure
        .flag
        .and_then(|i| flag_columns(node, i))
        .map_or(keyword, |(start, end)| {
            let column = node.span.start.column;
            Span::at(node.span.start.line, column + start, column + end)
        });
    Error {
        span,
        kind: ErrorKind::Instruction(failure.error),
    }
}

/// Byte range, in the node's logical line, of its `index`-th flag word, when
/// the instruction sits on one physical line (so that range is also a range
/// of the source line).
fn flag_columns(node: &Node, index: usize) -> Option<(usize, usize)> {
    let body_lines: usize = node
        .heredocs
        .iter()
        .map(|h| h.content.matches('\n').count() + 1)
        .sum();
    let lines = node.span.end.line + 1 - node.span.start.line;
    if lines != body_lines + 1 {
        return None;
    }
    let line = node.original.as_str();
    raw_tokens(line)
        .skip(1)
        .take_while(|&(s, _)| line[s..].starts_with("--"))
        .nth(index)
}

/// Start and end of each blank-separated word, quotes keeping blanks inside.
fn raw_tokens(line: &str) -> impl Iterator<Item = (usize, usize)> + '_ {
    let bytes = line.as_bytes();
    let mut pos = 0;
    std::iter::from_fn(move || {
        while pos < bytes.len() && bytes[pos].is_ascii_whitespace() {
            pos += 1;
        }
        if pos >= bytes.len() {
            return None;
        }
        let start = pos;
        let mut quote: Option<u8> = None;
        while pos < bytes.len() {
            let b = bytes[pos];
            match quote {
                Some(q) if b == q => quote = None,
                Some(_) => {}
                None if b.is_ascii_whitespace() => break,
                None if b == b'"' || b == b'\'' => quote = Some(b),
                None if b == b'\\' => pos += 1,
                None => {}
            }
            pos += 1;
        }
        Some((start, pos.min(bytes.len())))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::instructions::parse_dockerfile;

    fn first_error(src: &str) -> Error {
        let df = crate::parse(src.as_bytes()).unwrap();
        parse_dockerfile(&df).unwrap_err()
    }

    #[test]
    fn flag_columns_point_at_the_flag() {
        let e = first_error("FROM a\nCOPY --link --bogus=1 x y\n");
        assert_eq!(e.span, Span::at(2, 12, 21));
        assert_eq!(e.kind.to_string(), "unknown flag: --bogus");
        let e = first_error("FROM a\nRUN --network=\"a b\" true\n");
        assert_eq!(e.span, Span::at(2, 4, 19));
    }

    #[test]
    fn multi_line_instructions_point_at_the_keyword() {
        let e = first_error("FROM a\nCOPY --bogus \\\n  x y\n");
        assert_eq!((e.span.start.line, e.span.start.column), (2, 0));
        assert_eq!((e.span.end.line, e.span.end.column), (3, 4));
    }

    #[test]
    fn tokens_keep_quoted_blanks() {
        let line = r#"RUN --a="x y" --b=c\ d e"#;
        let tokens: Vec<&str> = raw_tokens(line).map(|(s, e)| &line[s..e]).collect();
        assert_eq!(tokens, ["RUN", r#"--a="x y""#, r"--b=c\ d", "e"]);
    }
}
