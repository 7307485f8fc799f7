//! `rbuild --check` end to end: BuildKit's build checks, printed as
//! `docker build --check` prints them, with its exit status.

mod common;

use common::{fixture, run};

#[test]
fn clean_dockerfile_has_no_findings() {
    let out = run(Some("rbuild"), &["--check", &fixture("examples/hello")]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "Check complete, no warnings found.\n"
    );
}

#[test]
fn findings_name_file_and_line_and_fail_with_error_true() {
    let dir = fixture("examples/lint-error");
    let out = run(None, &["build", "--check", &dir]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stdout.starts_with("Check complete, 3 warnings have been found!"),
        "{stdout}"
    );
    assert!(stdout.contains("WARNING: StageNameCasing - https://docs.docker.com/go/dockerfile/rule/stage-name-casing/\nStage name 'Base' should be lowercase\n"), "{stdout}");
    assert!(
        stdout.contains("Attempting to Copy file \"secret.txt\" that is excluded by .dockerignore"),
        "{stdout}"
    );
    assert!(stdout.contains("lint-error/Dockerfile:4\n"), "{stdout}");
    assert!(stdout.contains("   4 | >>> CMD echo hello"), "{stdout}");
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr.contains(
            "lint violation found for rules: CopyIgnoredFile, JSONArgsRecommended, StageNameCasing"
        ),
        "{stderr}"
    );
}

#[test]
fn bad_instruction_is_an_error_with_file_and_line() {
    let dir = std::env::temp_dir().join(format!("rdock-check-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("Dockerfile"), "FROM busybox\nCOPY --bogus=1 a b\n").unwrap();
    let out = run(Some("rbuild"), &["--check", dir.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("Dockerfile:2:"), "{stderr}");
    assert!(stderr.contains("unknown flag: --bogus"), "{stderr}");
    assert!(stderr.contains("COPY --bogus=1 a b"), "{stderr}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn rrun_dispatches_to_run() {
    // An image no store has: `rrun` is `rdock run`, which fails as docker
    // run does before starting anything (exit 125, naming the image).
    let out = run(Some("rrun"), &["rdock-test-no-such-image:v0", "true"]);
    assert_eq!(out.status.code(), Some(125));
    assert!(String::from_utf8_lossy(&out.stderr).contains("rdock-test-no-such-image:v0"));
}
