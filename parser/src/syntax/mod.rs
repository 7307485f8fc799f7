//! Stage one: Dockerfile text to [`Node`]s, following BuildKit's
//! `frontend/dockerfile/parser` line for line in behaviour: directives,
//! comments, continuations, flags, per-instruction argument shapes and
//! heredocs. No variables are expanded here.

mod args;
mod directives;
mod flags;
mod heredoc;
mod json;
mod lines;

pub use heredoc::parse_heredoc;

use std::borrow::Cow;

use crate::ast::{Args, Dockerfile, Node, ParseWarning, Span};
use crate::error::{Error, ErrorKind};
use args::Shape;
use directives::DirectiveParser;
use lines::{is_blank, is_comment, trim_continuation, trim_leading_space, trim_newline, Lines};

const BOM: &[u8] = b"\xef\xbb\xbf";

/// Parses Dockerfile bytes into nodes. Errors carry the lines they concern.
pub fn parse(src: &[u8]) -> Result<Dockerfile, Error> {
    let mut lines = Lines::new(src);
    let mut directive_parser = DirectiveParser::default();
    let mut escape = b'\\';
    let mut current = 0usize;
    let mut nodes: Vec<Node> = Vec::new();
    let mut warnings = Vec::new();
    let mut comments: Vec<String> = Vec::new();
    let mut buf: Vec<u8> = Vec::new();

    while let Some(mut raw) = lines.next() {
        if current == 0 {
            raw = raw.strip_prefix(BOM).unwrap_or(raw);
        }
        if is_comment(raw) {
            let c = String::from_utf8_lossy(&raw[1..]);
            let c = c.trim();
            if c.is_empty() {
                comments.clear();
            } else {
                comments.push(c.to_string());
            }
        }
        let line = trim_leading_space(trim_newline(raw));
        let indent = trim_newline(raw).len() - line.len();
        // Directives can only open the file: skip the UTF-8 check after that.
        let directive = if directive_parser.is_done() {
            None
        } else {
            directive_parser.parse_line(&String::from_utf8_lossy(line))?
        };
        if let Some(d) = directive {
            comments.pop();
            if d.name == "escape" {
                escape = match d.value.as_str() {
                    "\\" => b'\\',
                    "`" => b'`',
                    other => {
                        return Err(Error::new(
                            Span::lines(current + 1, current + 1),
                            ErrorKind::InvalidEscapeToken(other.to_string()),
                        ))
                    }
                };
            }
        }
        current += 1;
        let line: &[u8] = if is_comment(line) { &[] } else { line };

        let start = current;
        let (first, mut ends) = trim_continuation(line, escape);
        if ends && first.is_empty() {
            continue;
        }
        buf.clear();
        buf.extend_from_slice(first);

        let mut empty_continuation = false;
        while !ends {
            let Some(next) = lines.next() else { break };
            current += 1;
            if is_comment(next) {
                continue;
            }
            let next = trim_newline(next);
            if is_blank(next) {
                empty_continuation = true;
                continue;
            }
            let (part, e) = trim_continuation(next, escape);
            ends = e;
            buf.extend_from_slice(part);
        }

        let logical = String::from_utf8_lossy(&buf).into_owned();
        if empty_continuation {
            warnings.push(ParseWarning {
                message: format!("Empty continuation line found in: {logical}"),
                span: Span::lines(current, current),
            });
        }
        let span = Span::lines(start, current);
        let mut node = node_from_line(&logical, escape, std::mem::take(&mut comments))
            .map_err(|kind| Error::new(span, kind))?;

        if can_contain_heredoc(&node) && logical.contains("<<") {
            let docs = heredoc::heredocs_in_line(&logical)
                .map_err(|e| Error::new(span, ErrorKind::Heredoc(e)))?;
            for mut doc in docs {
                let mut terminated = false;
                let mut content = Vec::new();
                for body in lines.by_ref() {
                    current += 1;
                    let mut candidate = trim_newline(body);
                    if doc.chomp {
                        while let [b'\t', rest @ ..] = candidate {
                            candidate = rest;
                        }
                    }
                    if candidate == doc.name.as_bytes() {
                        terminated = true;
                        break;
                    }
                    content.extend_from_slice(body);
                }
                if !terminated {
                    return Err(Error::new(
                        Span::lines(start, current),
                        ErrorKind::UnterminatedHeredoc,
                    ));
                }
                doc.content = String::from_utf8_lossy(&content).into_owned();
                node.heredocs.push(doc);
            }
        }
        node.span = Span::lines(start, current);
        // Where the keyword starts, so errors can point into the line.
        node.span.start.column = indent;
        nodes.push(node);
    }

    if nodes.is_empty() {
        return Err(Error::new(
            Span::lines(current, current),
            ErrorKind::NoInstructions,
        ));
    }
    if lines.too_long {
        return Err(Error::new(
            Span::lines(current + 1, current + 1),
            ErrorKind::LineTooLong,
        ));
    }
    Ok(Dockerfile {
        directives: directive_parser.found,
        escape: char::from(escape),
        nodes,
        warnings,
    })
}

/// Splits a logical line into keyword, flags and arguments.
fn node_from_line(line: &str, escape: u8, comments: Vec<String>) -> Result<Node, ErrorKind> {
    let trimmed = line.trim();
    let (keyword, rest) = args::split_ws2(trimmed);
    let (flags, rest): (Vec<String>, Cow<'_, str>) = match rest {
        Some(rest) => {
            let (flags, rest) = flags::extract_flags(rest.as_bytes(), escape);
            (flags, String::from_utf8_lossy(rest))
        }
        None => (Vec::new(), Cow::Borrowed("")),
    };
    let rest = rest.trim();
    let esc = char::from(escape);
    let args = match args::shape_of(&keyword.to_lowercase()) {
        Shape::MaybeJson => args::maybe_json(rest)?,
        Shape::MaybeJsonList => args::maybe_json_list(rest)?,
        Shape::Whitespace => args::whitespace(rest),
        Shape::Text => args::text(rest),
        Shape::NameVal(key) => args::name_val(rest, key, esc)?,
        Shape::Words => args::words(rest, esc),
        Shape::Healthcheck => args::healthcheck(rest)?,
        Shape::SubCommand if rest.is_empty() => Args::Empty,
        Shape::SubCommand => Args::SubCommand(Box::new(node_from_line(rest, escape, Vec::new())?)),
        Shape::Unknown => Args::Unknown,
    };
    Ok(Node {
        keyword: keyword.to_string(),
        flags,
        args,
        heredocs: Vec::new(),
        original: line.to_string(),
        span: Span::default(),
        comments,
    })
}

fn can_contain_heredoc(node: &Node) -> bool {
    let node = node.sub_command().unwrap_or(node);
    matches!(node.name().as_str(), "run" | "copy" | "add") && !node.is_json()
}
