//! `rdock debug parse` end to end: JSON contract of the conformance tools.

mod common;

use common::{fixture, run};

#[test]
fn parse_json_prints_array_and_exits_zero() {
    let out = run(
        None,
        &[
            "debug",
            "parse",
            "--json",
            &fixture("examples/hello/Dockerfile"),
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let cmds: Vec<_> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["cmd"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        cmds,
        ["ARG", "FROM", "WORKDIR", "RUN", "FROM", "LABEL", "COPY", "ENV", "CMD"]
    );
    let run_node = &v[3];
    assert_eq!(run_node["heredocs"][0]["name"], "EOF");
    assert_eq!(run_node["start_line"], 9);
    assert_eq!(run_node["end_line"], 11);
}

#[test]
fn parse_error_is_json_object_and_nonzero_exit() {
    let out = run(
        None,
        &[
            "debug",
            "parse",
            "--json",
            &fixture("conformance/buildkit-parser/testfiles-negative/env_no_value/Dockerfile"),
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["error"], "ENV must have two arguments");
}

#[test]
fn plain_parse_error_names_file_and_line() {
    let out = run(
        None,
        &[
            "debug",
            "parse",
            &fixture("conformance/buildkit-parser/testfiles-negative/env_no_value/Dockerfile"),
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("env_no_value/Dockerfile:"), "{err}");
    assert!(err.contains("ENV must have two arguments"), "{err}");
}

#[test]
fn rbuild_name_dispatches_to_build() {
    let out = run(Some("rbuild"), &["--help"]);
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(
        help.contains("--check") && help.contains("--target"),
        "{help}"
    );
}
