//! Conformance of `rdock_parser::shell` with BuildKit's own shell-lexer test
//! tables (`fixtures/conformance/buildkit-shell/`, see its README.md), plus a
//! property test that the lexer never panics.
#![allow(
    clippy::print_stdout,
    reason = "the per-table case counts are useful with --nocapture"
)]

use std::collections::{BTreeMap, BTreeSet};

use proptest::prelude::*;
use rdock_parser::shell::{ExpandError, Lexer};
use serde::Deserialize;

const FIXTURES: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../fixtures/conformance/buildkit-shell"
);

fn load<T: serde::de::DeserializeOwned>(file: &str) -> T {
    let path = format!("{FIXTURES}/{file}");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("parsing {path}: {e}"))
}

/// Panics with every failure listed, or reports how many cases ran.
fn finish(table: &str, ran: usize, skipped: usize, failures: &[String]) {
    assert!(
        failures.is_empty(),
        "{table}: {} of {ran} cases failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
    println!("{table}: {ran} cases passed, {skipped} skipped");
}

/// Compares an expansion outcome with an expected value (`None` = error).
fn check<T: PartialEq + std::fmt::Debug>(
    expected: Option<&T>,
    actual: &Result<T, ExpandError>,
) -> Result<(), String> {
    match (expected, actual) {
        (Some(want), Ok(got)) if want == got => Ok(()),
        (None, Err(_)) => Ok(()),
        (Some(want), got) => Err(format!("expected {want:?}, got {got:?}")),
        (None, Ok(got)) => Err(format!("expected an error, got {got:?}")),
    }
}

#[derive(Deserialize)]
struct EnvVarFile {
    escape: String,
    envs: BTreeMap<String, String>,
    cases: Vec<EnvVarCase>,
}

#[derive(Deserialize)]
struct EnvVarCase {
    line: usize,
    platform: String,
    input: String,
    expected: Option<String>,
    error: bool,
}

fn lexer_for(escape: &str) -> Lexer {
    let mut chars = escape.chars();
    let (Some(ch), None) = (chars.next(), chars.next()) else {
        panic!("escape token must be one character: {escape:?}");
    };
    Lexer::new(ch)
}

#[test]
fn env_var_test_process_word() {
    let file: EnvVarFile = load("envVarTest.json");
    let lexer = lexer_for(&file.escape);
    let (mut ran, mut skipped, mut failures) = (0, 0, Vec::new());
    for case in &file.cases {
        match case.platform.as_str() {
            "A" | "U" => {}
            "W" => {
                skipped += 1;
                continue;
            }
            other => panic!("line {}: unknown platform {other:?}", case.line),
        }
        ran += 1;
        assert_eq!(
            case.error,
            case.expected.is_none(),
            "line {}: inconsistent case",
            case.line
        );
        let actual = lexer.process_word(&case.input, &file.envs);
        if let Err(why) = check(case.expected.as_ref(), &actual) {
            failures.push(format!("line {} {:?}: {why}", case.line, case.input));
        }
    }
    assert_eq!(ran + skipped, 230, "case count");
    finish("envVarTest", ran, skipped, &failures);
}

#[derive(Deserialize)]
struct WordsFile {
    escape: String,
    cases: Vec<WordsCase>,
}

#[derive(Deserialize)]
struct WordsCase {
    line: usize,
    input: String,
    env: Vec<String>,
    expected: Option<Vec<String>>,
    error: bool,
}

#[test]
fn words_test_process_words() {
    let file: WordsFile = load("wordsTest.json");
    let lexer = lexer_for(&file.escape);
    let mut failures = Vec::new();
    for case in &file.cases {
        assert_eq!(
            case.error,
            case.expected.is_none(),
            "line {}: inconsistent case",
            case.line
        );
        // `NAME=value` entries; like Go's strings.Cut, no `=` means an empty
        // value. The list form lets the last entry win.
        let env: Vec<(&str, &str)> = case
            .env
            .iter()
            .map(|e| e.split_once('=').unwrap_or((e, "")))
            .collect();
        let actual = lexer.process_words(&case.input, &env);
        if let Err(why) = check(case.expected.as_ref(), &actual) {
            failures.push(format!("line {} {:?}: {why}", case.line, case.input));
        }
    }
    assert_eq!(file.cases.len(), 24, "case count");
    finish("wordsTest", file.cases.len(), 0, &failures);
}

#[derive(Deserialize)]
struct MatchesFile {
    cases: Vec<MatchesCase>,
    platform_cases: CaseGroup<SimpleCase>,
    mandatory_env_cases: CaseGroup<SimpleCase>,
}

#[derive(Deserialize)]
struct CaseGroup<T> {
    cases: Vec<T>,
}

#[derive(Deserialize)]
struct MatchesCase {
    input: String,
    envs: BTreeMap<String, String>,
    expected: Option<String>,
    error: bool,
    matched: BTreeSet<String>,
    unmatched: BTreeSet<String>,
}

#[derive(Deserialize)]
struct SimpleCase {
    input: String,
    envs: BTreeMap<String, String>,
    expected: Option<String>,
    error: bool,
    #[serde(default)]
    error_contains: Option<String>,
}

#[test]
fn process_with_matches() {
    let file: MatchesFile = load("processWithMatches.json");
    let lexer = Lexer::new('\\');
    let mut failures = Vec::new();

    for (i, case) in file.cases.iter().enumerate() {
        assert_eq!(
            case.error,
            case.expected.is_none(),
            "case {i}: inconsistent case"
        );
        let outcome = lexer.process_word_with_matches(&case.input, &case.envs);
        let why = match (&case.expected, &outcome) {
            (Some(want), Ok(got)) => {
                let mut problems = Vec::new();
                if &got.result != want {
                    problems.push(format!("result {:?}, expected {want:?}", got.result));
                }
                if got.matched != case.matched {
                    problems.push(format!(
                        "matched {:?}, expected {:?}",
                        got.matched, case.matched
                    ));
                }
                if got.unmatched != case.unmatched {
                    problems.push(format!(
                        "unmatched {:?}, expected {:?}",
                        got.unmatched, case.unmatched
                    ));
                }
                problems.join("; ")
            }
            (Some(want), Err(err)) => format!("expected {want:?}, got error {err}"),
            (None, Ok(got)) => format!("expected an error, got {:?}", got.result),
            (None, Err(_)) => String::new(),
        };
        if !why.is_empty() {
            failures.push(format!("cases[{i}] {:?}: {why}", case.input));
        }
    }

    for (i, case) in file.platform_cases.cases.iter().enumerate() {
        assert_eq!(
            case.error,
            case.expected.is_none(),
            "platform case {i}: inconsistent case"
        );
        let actual = lexer
            .process_word_with_matches(&case.input, &case.envs)
            .map(|e| e.result);
        if let Err(why) = check(case.expected.as_ref(), &actual) {
            failures.push(format!("platform_cases[{i}] {:?}: {why}", case.input));
        }
    }

    for (i, case) in file.mandatory_env_cases.cases.iter().enumerate() {
        assert_eq!(
            case.error,
            case.expected.is_none(),
            "mandatory case {i}: inconsistent case"
        );
        let actual = lexer.process_word(&case.input, &case.envs);
        let mut why = check(case.expected.as_ref(), &actual).err();
        if let (Err(err), Some(needle)) = (&actual, &case.error_contains) {
            if !err.to_string().contains(needle.as_str()) {
                why = Some(format!(
                    "error {:?} does not contain {needle:?}",
                    err.to_string()
                ));
            }
        }
        if let Some(why) = why {
            failures.push(format!(
                "mandatory_env_cases[{i}] {:?} {:?}: {why}",
                case.input, case.envs
            ));
        }
    }

    let total =
        file.cases.len() + file.platform_cases.cases.len() + file.mandatory_env_cases.cases.len();
    assert_eq!(
        (
            file.cases.len(),
            file.platform_cases.cases.len(),
            file.mandatory_env_cases.cases.len()
        ),
        (47, 3, 6),
        "case counts"
    );
    finish("processWithMatches", total, 0, &failures);
}

/// Inputs biased towards the characters the lexer treats specially.
fn shellish() -> impl Strategy<Value = String> {
    let special = prop::sample::select(vec![
        "$", "{", "}", ":", "-", "+", "?", "#", "%", "/", "*", "\\", "`", "'", "\"", "<", " ",
        "\t", "\n", "a", "B", "_", "0", "9", "@", "!", "=", "[", "]", "한", "\u{FEFF}", "\u{93F}",
    ]);
    let piece = prop_oneof![
        special.prop_map(str::to_owned),
        any::<char>().prop_map(String::from)
    ];
    prop::collection::vec(piece, 0..40).prop_map(|pieces| pieces.concat())
}

fn all_lexers() -> Vec<Lexer> {
    let mut lexers = Vec::new();
    for escape in ['\\', '`'] {
        for flags in 0u8..32 {
            lexers.push(
                Lexer::new(escape)
                    .raw_quotes(flags & 1 != 0)
                    .raw_escapes(flags & 2 != 0)
                    .skip_unset_env(flags & 4 != 0)
                    .skip_process_quotes(flags & 8 != 0),
            );
        }
    }
    lexers
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 512,
        // There is no lib.rs next to this file to anchor a regressions folder.
        failure_persistence: Some(Box::new(prop::test_runner::FileFailurePersistence::Off)),
        ..ProptestConfig::default()
    })]

    #[test]
    fn never_panics_on_arbitrary_strings(input in any::<String>(), value in any::<String>()) {
        let env = [("a", value.as_str()), ("B", ""), ("_", "x*y")];
        for escape in ['\\', '`'] {
            let lexer = Lexer::new(escape);
            let _ = lexer.process_word(&input, &env);
            let _ = lexer.process_words(&input, &env);
            let _ = lexer.process_word_with_matches(&input, &env);
        }
    }

    #[test]
    fn never_panics_on_shell_like_strings(input in shellish(), value in shellish()) {
        let env = [("a", value.as_str()), ("B", ""), ("_", "x*y"), ("0", "zero")];
        for lexer in all_lexers() {
            let word = lexer.process_word(&input, &env);
            let words = lexer.process_words(&input, &env);
            let with_matches = lexer.process_word_with_matches(&input, &env);
            // All three entry points agree on success and on the result.
            prop_assert_eq!(word.is_ok(), words.is_ok());
            prop_assert_eq!(word.clone(), with_matches.map(|e| e.result));
        }
    }
}
