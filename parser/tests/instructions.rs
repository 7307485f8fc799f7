//! Golden tests of stage two: every folder of `fixtures/instructions/` holds
//! a `Dockerfile` and either `expected.json` (the typed instructions, as
//! serialized by serde) or `error.txt` (the first line of the rendered
//! error). Run with `UPDATE_EXPECT=1` to rewrite the expectations from the
//! current output; review every changed file against BuildKit's rules.

use std::fs;
use std::path::{Path, PathBuf};

use rdock_parser::instructions::parse_dockerfile;
use serde_json::Value;

fn fixture_dirs() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/instructions");
    let mut dirs: Vec<PathBuf> = fs::read_dir(&root)
        .unwrap_or_else(|e| panic!("reading {}: {e}", root.display()))
        .map(|entry| entry.expect("directory entry").path())
        .filter(|p| p.join("Dockerfile").is_file())
        .collect();
    dirs.sort();
    dirs
}

/// The outcome of one fixture: `Ok(json)` or `Err(first line of the error)`.
fn run(dir: &Path) -> Result<String, String> {
    let src = fs::read(dir.join("Dockerfile")).expect("Dockerfile");
    let parsed = rdock_parser::parse(&src).and_then(|df| parse_dockerfile(&df));
    match parsed {
        Ok(parsed) => {
            let mut value = serde_json::to_value(&parsed).expect("serializable");
            compact_spans(&mut value);
            Ok(serde_json::to_string_pretty(&value).expect("serializable") + "\n")
        }
        Err(e) => {
            let rendered = e.render("Dockerfile", &src);
            Err(rendered.lines().next().unwrap_or_default().to_string())
        }
    }
}

/// Replaces each span object by `"L<line>"` or `"L<start>-<end>"` (with
/// `:<column>` when a column is known) to keep the expectations readable.
fn compact_spans(value: &mut Value) {
    match value {
        Value::Object(map) => {
            if let Some(span) = map.get_mut("span") {
                if let Some(text) = span_text(span) {
                    *span = Value::String(text);
                }
            }
            map.values_mut().for_each(compact_spans);
        }
        Value::Array(items) => items.iter_mut().for_each(compact_spans),
        _ => {}
    }
}

fn span_text(span: &Value) -> Option<String> {
    let pos = |key: &str| {
        let p = span.get(key)?;
        Some((p.get("line")?.as_u64()?, p.get("column")?.as_u64()?))
    };
    let ((l1, c1), (l2, c2)) = (pos("start")?, pos("end")?);
    let end = |c: u64| {
        if c > 0 {
            format!(":{c}")
        } else {
            String::new()
        }
    };
    Some(if (l1, c1) == (l2, c2) {
        format!("L{l1}{}", end(c1))
    } else if l1 == l2 && c1 == 0 && c2 == 0 {
        format!("L{l1}")
    } else {
        format!("L{l1}{}-{l2}{}", end(c1), end(c2))
    })
}

fn read(path: &Path) -> Option<String> {
    fs::read_to_string(path).ok()
}

#[test]
fn fixtures() {
    let update = std::env::var_os("UPDATE_EXPECT").is_some();
    let dirs = fixture_dirs();
    assert!(dirs.len() >= 40, "only {} fixtures found", dirs.len());
    let mut failures = Vec::new();
    for dir in &dirs {
        let name = dir
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        let json_path = dir.join("expected.json");
        let error_path = dir.join("error.txt");
        let outcome = run(dir);
        if update {
            let (write, stale, text) = match &outcome {
                Ok(json) => (&json_path, &error_path, json.clone()),
                Err(line) => (&error_path, &json_path, format!("{line}\n")),
            };
            fs::write(write, text).expect("write expectation");
            let _ = fs::remove_file(stale);
            continue;
        }
        match (outcome, read(&json_path), read(&error_path)) {
            (_, Some(_), Some(_)) => {
                failures.push(format!("{name}: both expected.json and error.txt"))
            }
            (Ok(json), Some(want), None) if json == want => {}
            (Err(line), None, Some(want)) if line == want.trim_end() => {}
            (Ok(json), Some(_), None) => {
                failures.push(format!("{name}: JSON differs, got:\n{json}"))
            }
            (Err(line), None, Some(want)) => failures.push(format!(
                "{name}: error differs\n  want: {}\n  got:  {line}",
                want.trim_end()
            )),
            (Ok(_), _, Some(want)) => {
                failures.push(format!("{name}: parsed, but expected error {want}"))
            }
            (Err(line), Some(_), _) => failures.push(format!("{name}: unexpected error {line}")),
            (_, None, None) => failures.push(format!("{name}: no expected.json or error.txt")),
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} fixtures failed:\n{}",
        failures.len(),
        dirs.len(),
        failures.join("\n")
    );
}

/// BuildKit's `TestNilLinter` inputs: every keyword with odd arguments must
/// give a result or an error, never a panic.
#[test]
fn every_keyword_with_odd_arguments() {
    let keywords = rdock_parser::instructions::KEYWORDS;
    for keyword in keywords {
        for args in ["foo=bar", "a", "a b", "a b c", "0 0"] {
            let src = format!("FROM busybox\n{keyword} {args}\n");
            if let Ok(df) = rdock_parser::parse(src.as_bytes()) {
                let _ = parse_dockerfile(&df);
            }
        }
    }
}

proptest::proptest! {
    /// Flag values of any shape are accepted or refused, never a panic.
    #[test]
    fn flag_values_never_panic(value in "[a-zA-Z0-9=,\"'$.: /+-_\\\\µé]{0,24}") {
        for template in [
            "RUN --mount={} true",
            "RUN --device={} true",
            "COPY --chmod={} a b",
            "HEALTHCHECK --interval={} --retries={} CMD true",
            "RUN --mount=type=tmpfs,target=/t,size={} true",
            "RUN --mount=type=cache,target=/c,mode={} true",
        ] {
            let src = format!("FROM a\n{}\n", template.replace("{}", &value));
            if let Ok(df) = rdock_parser::parse(src.as_bytes()) {
                let _ = parse_dockerfile(&df);
            }
        }
    }
}
