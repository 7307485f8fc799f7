//! The AST in the JSON form of the conformance suite (`fixtures/conformance`),
//! the shape the official parser's output is compared in.

use serde::Serialize;

use crate::ast::{Dockerfile, Node};
use crate::error::Error;

/// One instruction in conformance form.
#[derive(Debug, Serialize)]
pub struct JsonNode {
    pub cmd: String,
    pub sub_cmd: Option<String>,
    pub json: bool,
    pub original: String,
    pub start_line: usize,
    pub end_line: usize,
    pub flags: Vec<String>,
    pub value: Vec<String>,
    pub heredocs: Vec<JsonHeredoc>,
}

/// One heredoc in conformance form.
#[derive(Debug, Serialize)]
pub struct JsonHeredoc {
    pub name: String,
    pub file_descriptor: u64,
    pub content: String,
}

/// The conformance form of a parse result: an array of instructions, or an
/// `{"error": ...}` object with BuildKit's message.
pub fn to_json(result: &Result<Dockerfile, Error>) -> serde_json::Value {
    match result {
        Ok(df) => serde_json::to_value(df.nodes.iter().map(json_node).collect::<Vec<_>>())
            .unwrap_or_default(),
        Err(e) => serde_json::json!({ "error": e.kind.to_string() }),
    }
}

fn json_node(n: &Node) -> JsonNode {
    // The reference tool shows heredoc bodies appended to the logical line.
    let mut original = n.original.clone();
    if !n.heredocs.is_empty() {
        original.push('\n');
        for h in &n.heredocs {
            original.push_str(&h.content);
            original.push_str(&h.name);
            original.push('\n');
        }
    }
    JsonNode {
        cmd: n.keyword.clone(),
        sub_cmd: n.sub_command().map(|s| s.keyword.clone()),
        json: n.is_json(),
        original,
        start_line: n.span.start.line,
        end_line: n.span.end.line,
        flags: n.flags.clone(),
        value: n.values(),
        heredocs: n
            .heredocs
            .iter()
            .map(|h| JsonHeredoc {
                name: h.name.clone(),
                file_descriptor: h.file_descriptor,
                content: h.content.clone(),
            })
            .collect(),
    }
}
