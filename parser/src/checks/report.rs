//! Findings of the build checks and their rendering, in the layout of
//! `docker build --check`.

use std::fmt::Write;

use serde::Serialize;

use super::rules::Rule;
use crate::ast::Span;
use crate::error::{Error, ErrorKind};

/// One finding: a rule broken at a place.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub rule: Rule,
    pub message: String,
    /// The lines concerned (several ranges for MultipleInstructionsDisallowed
    /// would still point at the earlier instruction, as BuildKit does).
    pub span: Span,
}

/// The result of checking a Dockerfile.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct CheckReport {
    /// In the order the rules fired.
    pub findings: Vec<Finding>,
    /// Whether `# check=error=true` turns the findings into a failure.
    pub error_on_findings: bool,
    /// The error that would stop the build, if any; the findings are those
    /// reported before it, as BuildKit's lint request returns them.
    #[serde(skip)]
    pub error: Option<Error>,
}

impl CheckReport {
    /// A report of a Dockerfile that failed before any check ran.
    pub fn failed(error: Error) -> Self {
        CheckReport {
            error: Some(error),
            ..CheckReport::default()
        }
    }

    /// Findings as BuildKit prints them: by start line, and in the order
    /// they were reported within a line.
    pub fn sorted(&self) -> Vec<&Finding> {
        let mut v: Vec<&Finding> = self.findings.iter().collect();
        v.sort_by_key(|f| f.span.start.line);
        v
    }

    /// The build error worded as BuildKit's lint result words it: errors
    /// from reading an instruction say on which line.
    pub fn error_message(&self) -> Option<String> {
        let e = self.error.as_ref()?;
        Some(match &e.kind {
            ErrorKind::Instruction(crate::instructions::InstructionError::NoBuildStage) => {
                e.kind.to_string()
            }
            ErrorKind::Instruction(_) => {
                format!(
                    "dockerfile parse error on line {}: {}",
                    e.span.start.line, e.kind
                )
            }
            kind => kind.to_string(),
        })
    }

    /// The failure `error=true` makes of the findings, worded as BuildKit.
    pub fn violation(&self) -> Option<String> {
        if !self.error_on_findings || self.findings.is_empty() {
            return None;
        }
        let mut names: Vec<&str> = self.findings.iter().map(|f| f.rule.name()).collect();
        names.sort_unstable();
        names.dedup();
        Some(format!(
            "lint violation found for rules: {}",
            names.join(", ")
        ))
    }

    /// The summary line and every finding with its source excerpt.
    pub fn render(&self, file: &str, source: &[u8]) -> String {
        let mut out = String::new();
        match self.findings.len() {
            // With a build error buildx prints only the error, no summary.
            0 if self.error.is_some() => {}
            0 => out.push_str("Check complete, no warnings found.\n"),
            1 => out.push_str("Check complete, 1 warning has been found!\n"),
            n => {
                let _ = writeln!(out, "Check complete, {n} warnings have been found!");
            }
        }
        let text = String::from_utf8_lossy(source);
        let lines: Vec<&str> = text.split('\n').collect();
        for f in self.sorted() {
            let _ = write!(
                out,
                "\nWARNING: {} - {}\n{}\n",
                f.rule.name(),
                f.rule.url(),
                f.message
            );
            excerpt(&mut out, file, &lines, f.span);
        }
        out
    }
}

/// BuildKit's source excerpt: the lines of the span marked `>>>`, with up to
/// two lines of context around them (four around a single line).
fn excerpt(out: &mut String, file: &str, lines: &[&str], span: Span) {
    let (mut start, mut end) = (span.start.line, span.end.line.max(span.start.line));
    if start < 1 || start > lines.len() {
        return;
    }
    end = end.min(lines.len());
    let first = start;
    let pad = if start == end { 4 } else { 2 };
    let mut p = 0;
    while p < pad {
        if start > 1 {
            start -= 1;
            p += 1;
        }
        if end != lines.len() {
            end += 1;
            p += 1;
        }
        p += 1;
    }
    let _ = write!(out, "{file}:{first}\n--------------------\n");
    for i in start..=end {
        let mark = if i >= span.start.line && i <= span.end.line.max(span.start.line) {
            ">>>"
        } else {
            "   "
        };
        let _ = writeln!(out, " {i:>3} | {mark} {}", lines[i - 1]);
    }
    out.push_str("--------------------\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_like_buildkit() {
        let report = CheckReport {
            findings: vec![Finding {
                rule: Rule::JsonArgsRecommended,
                message: "JSON arguments recommended for CMD to prevent unintended behavior related to OS signals".into(),
                span: Span::lines(3, 3),
            }],
            error_on_findings: false,
            error: None,
        };
        let src = b"FROM a\nRUN x\nCMD echo hi\n";
        let r = report.render("Dockerfile", src);
        assert_eq!(
            r,
            "Check complete, 1 warning has been found!\n\
             \nWARNING: JSONArgsRecommended - https://docs.docker.com/go/dockerfile/rule/json-args-recommended/\n\
             JSON arguments recommended for CMD to prevent unintended behavior related to OS signals\n\
             Dockerfile:3\n\
             --------------------\n\
             \x20  1 |     FROM a\n\
             \x20  2 |     RUN x\n\
             \x20  3 | >>> CMD echo hi\n\
             \x20  4 |     \n\
             --------------------\n"
        );
        assert_eq!(report.violation(), None);
    }
}
