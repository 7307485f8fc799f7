//! Build-check golden tests: every folder of `fixtures/checks/` holds a
//! `Dockerfile` (and optionally `.dockerignore` and `args.json` with
//! `build_args` and `target`); the checks must report exactly the findings of
//! `expected.json` (rule, message, start line, in BuildKit's print order), or
//! the findings and the build error when it is an object with `error`.
//!
//! Most cases are BuildKit's own lint integration tests
//! (`frontend/dockerfile/dockerfile_check_test.go`, the unix variants, with
//! the findings its lint request returns, i.e. every stage checked); the
//! others cover ONBUILD triggers, ARG/ENV scoping, comments and errors as
//! BuildKit's conversion code behaves. Within a line the findings are in the
//! order the rules fire (BuildKit's test sorts them by text instead), and
//! `legacy-key-value-format-03` has the real lines (5, 6) where BuildKit's
//! test data, which it never compares, says 3 and 4. Base images are seen as
//! BuildKit's tests see busybox and alpine: an environment with PATH only.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use rdock_parser::checks::{self, CheckOptions, CheckReport};
use rdock_parser::dockerignore::{read_patterns, PatternMatcher};
use serde_json::{json, Value};

const IMAGE_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

fn cases() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/checks");
    let mut out: Vec<PathBuf> = std::fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("Dockerfile").exists())
        .collect();
    out.sort();
    out
}

fn image_env(_image: &str) -> Option<Vec<(String, String)>> {
    Some(vec![("PATH".to_string(), IMAGE_PATH.to_string())])
}

/// The findings (and error) of one case, in the layout of `expected.json`.
fn run_case(dir: &Path) -> Value {
    let source = std::fs::read(dir.join("Dockerfile")).unwrap();
    let matcher = std::fs::read_to_string(dir.join(".dockerignore"))
        .ok()
        .map(|text| PatternMatcher::new(&read_patterns(&text)).unwrap());
    let args: Value = std::fs::read_to_string(dir.join("args.json"))
        .map(|t| serde_json::from_str(&t).unwrap())
        .unwrap_or(Value::Null);
    let build_args: BTreeMap<String, String> = args["build_args"]
        .as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()))
                .collect()
        })
        .unwrap_or_default();
    let opts = CheckOptions {
        build_args,
        target: args["target"].as_str().map(str::to_string),
        dockerignore: matcher.as_ref(),
        image_env: Some(&image_env),
        ..CheckOptions::default()
    };
    let report = match rdock_parser::parse(&source) {
        Ok(df) => checks::lint(&df, &opts),
        Err(e) => CheckReport::failed(e),
    };
    let findings: Vec<Value> = report
        .sorted()
        .into_iter()
        .map(|f| json!({"rule": f.rule.name(), "message": f.message, "line": f.span.start.line}))
        .collect();
    let error = report
        .error_message()
        .or_else(|| report.violation())
        .map(|message| {
            let line = report.error.as_ref().map(|e| e.span.start.line);
            (message, line)
        });
    match error {
        None => Value::Array(findings),
        Some((message, line)) => {
            let mut v = json!({"findings": findings, "error": message});
            if let Some(l) = line {
                v["error_line"] = json!(l);
            }
            v
        }
    }
}

fn expected(dir: &Path) -> Value {
    let text = std::fs::read_to_string(dir.join("expected.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

#[test]
fn buildkit_check_cases() {
    let mut failures = Vec::new();
    let all = cases();
    assert!(all.len() > 80, "too few check fixtures: {}", all.len());
    for dir in &all {
        let mut got = run_case(dir);
        let exp = expected(dir);
        // A case that names no line for its error checks the text only.
        if exp.get("error_line").is_none_or(Value::is_null) {
            if let Some(g) = got.as_object_mut() {
                g.remove("error_line");
            }
        }
        if got != exp {
            failures.push(format!(
                "{}:\n  expected {}\n  got      {}",
                dir.file_name().unwrap().to_string_lossy(),
                exp,
                got
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} check cases differ:\n{}",
        failures.len(),
        all.len(),
        failures.join("\n")
    );
}

#[test]
fn render_orders_findings_by_line_keeping_emission_order() {
    let src = b"\nFROM scratch\nENV password=bar secret=baz\nCMD run\n";
    let df = rdock_parser::parse(src).unwrap();
    let report = checks::check(&df, &CheckOptions::default()).unwrap();
    let out = report.render("Dockerfile", src);
    let secret_pw = out.find("(ENV \"password\")").unwrap();
    let secret_s = out.find("(ENV \"secret\")").unwrap();
    let json_args = out.find("JSON arguments recommended for CMD").unwrap();
    assert!(secret_pw < secret_s && secret_s < json_args, "{out}");
    assert!(out.starts_with("Check complete, 3 warnings have been found!\n"));
    assert!(out.contains("Dockerfile:3\n--------------------\n"));
}
