//! Renders a diagnostic the way compilers do: `file:line:col: message`, the
//! source lines concerned, and a caret under the column when it is known.

use std::fmt::Write;

use crate::ast::Span;

/// At most this many source lines are shown under a message.
const MAX_SHOWN: usize = 6;

pub(crate) fn render_diagnostic(file: &str, source: &[u8], span: Span, message: &str) -> String {
    let mut out = String::new();
    let line = span.start.line;
    // A column is known when it is past the line start or spans something.
    let has_column = span.start.column > 0 || span.end.column > span.start.column;
    if has_column {
        let _ = write!(out, "{file}:{line}:{}: {message}", span.start.column + 1);
    } else {
        let _ = write!(out, "{file}:{line}: {message}");
    }
    if line == 0 {
        return out;
    }
    let text = String::from_utf8_lossy(source);
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    let last = span.end.line.max(line).min(line + MAX_SHOWN - 1);
    let width = last.to_string().len();
    for (i, src) in text
        .split('\n')
        .enumerate()
        .skip(line - 1)
        .take(last + 1 - line)
    {
        let src = src.trim_end_matches('\r');
        let _ = write!(out, "\n {:>width$} | {src}", i + 1);
        if i + 1 == line && has_column {
            let col = src
                .get(..span.start.column)
                .map_or(span.start.column, |p| p.chars().count());
            let len = if span.end.line == line && span.end.column > span.start.column {
                src.get(span.start.column..span.end.column)
                    .map_or(1, |p| p.chars().count().max(1))
            } else {
                1
            };
            let _ = write!(
                out,
                "\n {:>width$} | {}{}",
                "",
                " ".repeat(col),
                "^".repeat(len)
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::render_diagnostic;
    use crate::ast::Span;

    #[test]
    fn shows_line_and_caret() {
        let src = b"FROM a\nCOPY --bogus x y\n";
        let r = render_diagnostic("Dockerfile", src, Span::at(2, 5, 12), "unknown flag: bogus");
        assert_eq!(
            r,
            "Dockerfile:2:6: unknown flag: bogus\n 2 | COPY --bogus x y\n   |      ^^^^^^^"
        );
    }
}
