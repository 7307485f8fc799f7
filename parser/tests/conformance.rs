//! Runs the BuildKit parser conformance suite (`fixtures/conformance`): every
//! Dockerfile there is parsed and its JSON compared with `expected.json`, the
//! official parser's output (with the documented corrections for current
//! BuildKit).

use std::path::{Path, PathBuf};

use serde_json::Value;

const FIELDS: [&str; 9] = [
    "cmd",
    "sub_cmd",
    "json",
    "original",
    "start_line",
    "end_line",
    "flags",
    "value",
    "heredocs",
];
/// The reference tool drops these for ONBUILD; BuildKit keeps them, so do we.
const ONBUILD_LOSSY: [&str; 3] = ["flags", "heredocs", "original"];

fn cases() -> Vec<(PathBuf, PathBuf)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/conformance");
    let mut out = Vec::new();
    let mut stack = vec![root];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.file_name().is_some_and(|n| n == "Dockerfile") {
                let expected = path.with_file_name("expected.json");
                if expected.exists() {
                    out.push((path, expected));
                }
            }
        }
    }
    out.sort();
    out
}

fn compare(expected: &Value, got: &Value) -> Vec<String> {
    match (expected, got) {
        (Value::Object(_), Value::Object(g)) if g.contains_key("error") => vec![],
        (Value::Object(e), _) => vec![format!("expected error {:?}, parsed OK", e["error"])],
        (_, Value::Object(g)) => vec![format!("unexpected error {:?}", g["error"])],
        (Value::Array(e), Value::Array(g)) => {
            let mut diffs = Vec::new();
            if e.len() != g.len() {
                diffs.push(format!(
                    "{} instructions expected, got {}",
                    e.len(),
                    g.len()
                ));
            }
            for (i, (ei, gi)) in e.iter().zip(g).enumerate() {
                let onbuild = ei["cmd"]
                    .as_str()
                    .is_some_and(|c| c.eq_ignore_ascii_case("onbuild"));
                for f in FIELDS {
                    if onbuild && ONBUILD_LOSSY.contains(&f) {
                        continue;
                    }
                    if ei[f] != gi[f] {
                        diffs.push(format!("#{i} {f}: expected {}, got {}", ei[f], gi[f]));
                    }
                }
            }
            diffs
        }
        _ => vec!["not an array or error object".into()],
    }
}

#[test]
fn matches_official_parser() {
    let cases = cases();
    assert!(
        cases.len() >= 95,
        "conformance fixtures missing: {}",
        cases.len()
    );
    let mut failures = Vec::new();
    for (file, expected) in &cases {
        let src = std::fs::read(file).unwrap();
        let expected: Value = serde_json::from_slice(&std::fs::read(expected).unwrap()).unwrap();
        let got = rdock_parser::conformance::to_json(&rdock_parser::parse(&src));
        let diffs = compare(&expected, &got);
        if !diffs.is_empty() {
            failures.push(format!("{}:\n  {}", file.display(), diffs.join("\n  ")));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} differ:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

#[test]
fn error_messages_match_official_parser() {
    for (file, expected) in cases() {
        let expected: Value = serde_json::from_slice(&std::fs::read(expected).unwrap()).unwrap();
        let Some(msg) = expected.get("error").and_then(Value::as_str) else {
            continue;
        };
        let err = rdock_parser::parse(&std::fs::read(&file).unwrap()).unwrap_err();
        assert_eq!(err.kind.to_string(), msg, "{}", file.display());
    }
}
