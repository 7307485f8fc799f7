//! Parser directives (`# syntax=`, `# escape=`, `# check=`): only at the very
//! top of the file, before any other line, each at most once.

use nom::bytes::complete::take_while;
use nom::character::complete::satisfy;
use nom::combinator::recognize;
use nom::sequence::pair;
use nom::Parser;

use crate::ast::{Directive, Span};
use crate::error::{Error, ErrorKind};

const KNOWN: [&str; 3] = ["syntax", "escape", "check"];

/// Scans lines for directives until the first line that is not one.
#[derive(Debug, Default)]
pub(crate) struct DirectiveParser {
    line: usize,
    done: bool,
    pub(crate) found: Vec<Directive>,
}

impl DirectiveParser {
    /// Whether scanning has ended (a line that is no directive was seen).
    pub(crate) fn is_done(&self) -> bool {
        self.done
    }

    /// Looks at the next line (newline and leading space already removed).
    /// Returns the directive it holds, if any.
    pub(crate) fn parse_line(&mut self, line: &str) -> Result<Option<&Directive>, Error> {
        self.line += 1;
        if self.done {
            return Ok(None);
        }
        let Some((name, value)) = directive(line) else {
            self.done = true;
            return Ok(None);
        };
        let name = name.to_ascii_lowercase();
        if !KNOWN.contains(&name.as_str()) {
            self.done = true;
            return Ok(None);
        }
        if self.found.iter().any(|d| d.name == name) {
            return Err(Error::new(
                Span::lines(self.line, self.line),
                ErrorKind::DuplicateDirective(name),
            ));
        }
        self.found.push(Directive {
            name,
            value: value.to_string(),
            line: self.line,
        });
        Ok(self.found.last())
    }
}

fn is_re_space(c: char) -> bool {
    // RE2's `\s`: ASCII only, no vertical tab.
    matches!(c, ' ' | '\t' | '\n' | '\x0c' | '\r')
}

/// `#`, blanks, `name`, `\s*=\s*`, value: BuildKit's directive pattern,
/// whose lazy value keeps at least one character even when it is blank.
fn directive(line: &str) -> Option<(&str, &str)> {
    let body = line
        .strip_prefix('#')?
        .trim_start_matches(char::is_whitespace);
    let (rest, name) = recognize(pair(
        satisfy::<_, &str, nom::error::Error<&str>>(|c: char| c.is_ascii_alphabetic()),
        take_while(|c: char| c.is_ascii_alphanumeric()),
    ))
    .parse(body)
    .ok()?;
    let rest = rest.trim_start_matches(is_re_space).strip_prefix('=')?;
    let value = rest
        .trim_start_matches(is_re_space)
        .trim_end_matches(is_re_space);
    if !value.is_empty() {
        return Some((name, value));
    }
    let last = rest.chars().next_back()?;
    Some((name, &rest[rest.len() - last.len_utf8()..]))
}

#[cfg(test)]
mod tests {
    use super::directive;

    #[test]
    fn forms() {
        assert_eq!(directive("# escape=`"), Some(("escape", "`")));
        assert_eq!(
            directive("#SYNTAX = docker/dockerfile:1 "),
            Some(("SYNTAX", "docker/dockerfile:1"))
        );
        assert_eq!(
            directive("# check=skip=A;error=true"),
            Some(("check", "skip=A;error=true"))
        );
        assert_eq!(directive("# x = "), Some(("x", " ")));
        assert_eq!(directive("# x ="), None);
        assert_eq!(directive("# 1x=a"), None);
        assert_eq!(directive("#x"), None);
        assert_eq!(directive("RUN x=1"), None);
    }
}
