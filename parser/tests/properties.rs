//! Property tests of the front end: [`rdock_parser::parse`] never panics, on
//! arbitrary bytes and on random Dockerfile-shaped text (keywords, flags,
//! quotes, both escape tokens, `# escape=` directives, continuations,
//! heredoc markers, CR/LF, BOM, non-ASCII, JSON arrays), and a successful
//! parse is well formed: nodes in file order with sane line spans and a
//! conformance JSON. The shell lexer is run over every node value, and the
//! later stages ([`rdock_parser::instructions::parse_dockerfile`] and
//! [`rdock_parser::checks::check`]) over every successful parse: they may
//! return errors, but not panic.
//!
//! The default case count keeps the suite fast; for a longer run set
//! `PROPTEST_CASES`, e.g. `PROPTEST_CASES=20000 cargo test --release -p
//! rdock-parser --test properties`.

use std::collections::HashMap;

use proptest::prelude::*;
use rdock_parser::checks::{self, CheckOptions};
use rdock_parser::dockerignore::PatternMatcher;
use rdock_parser::shell::Lexer;
use rdock_parser::{conformance, instructions, parse, Dockerfile, Node};

/// Instruction keywords, in several cases, and an unknown one.
const KEYWORDS: &[&str] = &[
    "FROM ",
    "from ",
    "RUN ",
    "run ",
    "CMD ",
    "ENTRYPOINT ",
    "SHELL ",
    "COPY ",
    "ADD ",
    "VOLUME ",
    "EXPOSE ",
    "USER ",
    "WORKDIR ",
    "STOPSIGNAL ",
    "MAINTAINER ",
    "ENV ",
    "LABEL ",
    "ARG ",
    "HEALTHCHECK ",
    "HEALTHCHECK NONE",
    "HEALTHCHECK CMD ",
    "ONBUILD ",
    "ONBUILD ONBUILD ",
    "BOGUS ",
];

/// Leading flags.
const FLAGS: &[&str] = &[
    "--from=build ",
    "--mount=type=cache,target=/root/.cache ",
    "--chown=1000:1000 ",
    "--link ",
    "--",
    "--=",
    "--platform=$BUILDPLATFORM ",
    "--interval=5s ",
];

/// The other pieces Dockerfile-shaped text is built from.
const FRAGMENTS: &[&str] = &[
    // Quotes and escapes.
    "\"",
    "'",
    "\\",
    "`",
    "\\\"",
    "\\'",
    "\\\\",
    "\\ ",
    // Continuations.
    "\\\n",
    "`\n",
    "\\\r\n",
    " \\ \n",
    "\\\n\n",
    "\\\n# comment in continuation\n",
    // Directives and comments.
    "# escape=`\n",
    "# escape=\\\n",
    "# escape=x\n",
    "#escape = ` \n",
    "# syntax=docker/dockerfile:1\n",
    "# check=skip=all\n",
    "# comment\n",
    "#\n",
    // Heredocs.
    "<<EOF",
    "<<-\"E\"",
    "<<'EOF'",
    "<< EOF",
    "2<<EOF",
    "<<-E",
    "<<\"EOF\"",
    "EOF\n",
    "\tE\n",
    "E\n",
    "\tEOF\n",
    // Line endings and white space.
    "\n",
    "\n",
    "\r\n",
    "\r",
    " ",
    "\t",
    "\x0b",
    "\x0c",
    // Odd characters.
    "\u{feff}",
    "é",
    "日本語",
    "\u{2028}",
    "\u{a0}",
    "\u{85}",
    "\0",
    "😀",
    // JSON.
    "[",
    "]",
    "[\"sh\", \"-c\", \"echo hi\"]",
    "[\"a\"]",
    "[]",
    "[1, 2]",
    "[\"\\u0000\", \"\\ud800\"]",
    ",",
    "{",
    "}",
    // Variables and words.
    "$",
    "${",
    "${a:-b}",
    "${a%%*}",
    "${a/x/y}",
    "$HOME",
    ":-",
    "=",
    "a",
    "b=c",
    "key=\"v w\"",
    "alpine:3.19 AS build",
    "/app",
    "apt-get install -y curl",
    "&&",
];

/// A fragment, keyword or flag, or a short run of arbitrary characters.
fn fragment() -> impl Strategy<Value = String> {
    prop_oneof![
        8 => prop::sample::select(FRAGMENTS).prop_map(str::to_string),
        2 => prop::sample::select(KEYWORDS).prop_map(str::to_string),
        1 => prop::sample::select(FLAGS).prop_map(str::to_string),
        1 => "\\PC{0,6}",
        1 => any::<char>().prop_map(String::from),
    ]
}

/// Random text built from fragments.
fn fragment_text() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(fragment(), 0..60).prop_map(|parts| parts.concat().into_bytes())
}

/// One instruction-like line: keyword, flags, argument pieces, line ending.
fn line() -> impl Strategy<Value = String> {
    let keyword = prop::sample::select(KEYWORDS);
    let flags = prop::collection::vec(prop::sample::select(FLAGS), 0..3);
    let args = prop::collection::vec(fragment(), 0..8);
    let ending = prop::sample::select(&["\n", "\r\n", "\\\n", "`\n", ""][..]);
    (keyword, flags, args, ending)
        .prop_map(|(k, f, a, e)| format!("{k}{}{}{e}", f.concat(), a.concat()))
}

/// A Dockerfile of instruction-like lines, maybe with directives on top.
fn line_text() -> impl Strategy<Value = Vec<u8>> {
    let header = prop::sample::select(
        &[
            "",
            "\u{feff}",
            "# escape=`\n",
            "# syntax=docker/dockerfile:1\n# escape=\\\n",
            "\u{feff}# escape=`\r\n",
        ][..],
    );
    (header, prop::collection::vec(line(), 1..20))
        .prop_map(|(h, lines)| format!("{h}{}", lines.concat()).into_bytes())
}

/// Fragment text with some raw (possibly invalid UTF-8) bytes spliced in.
fn mixed_bytes() -> impl Strategy<Value = Vec<u8>> {
    (
        fragment_text(),
        prop::collection::vec((any::<usize>(), any::<u8>()), 0..6),
    )
        .prop_map(|(mut text, inserts)| {
            for (at, byte) in inserts {
                let at = if text.is_empty() { 0 } else { at % text.len() };
                text.insert(at, byte);
            }
            text
        })
}

/// Physical lines as the parser counts them: split after each `\n`.
fn line_count(src: &[u8]) -> usize {
    let newlines = src.iter().filter(|&&b| b == b'\n').count();
    newlines + usize::from(src.last().is_some_and(|&b| b != b'\n'))
}

/// Runs the shell lexer over everything a node holds; it may fail, but not
/// panic.
fn lex_node(lexer: &Lexer, env: &HashMap<String, String>, node: &Node) {
    for word in node.values().iter().chain(&node.flags) {
        let _ = lexer.process_word(word, env);
        let _ = lexer.process_words(word, env);
    }
    let _ = lexer.process_words(&node.original, env);
    for doc in &node.heredocs {
        let _ = lexer.process_word(&doc.content, env);
    }
}

fn check_well_formed(src: &[u8], df: &Dockerfile) -> Result<(), TestCaseError> {
    let lines = line_count(src);
    prop_assert!(!df.nodes.is_empty(), "a successful parse has nodes");
    let mut previous_end = 0;
    for node in &df.nodes {
        let span = node.span;
        prop_assert!(span.start.line >= 1, "lines are 1-based: {span:?}");
        prop_assert!(span.start.line <= span.end.line, "span backwards: {span:?}");
        prop_assert!(
            span.start.line > previous_end,
            "node at {span:?} starts before the previous one ends (line {previous_end})"
        );
        prop_assert!(
            span.end.line <= lines,
            "node ends on line {} of {lines}",
            span.end.line
        );
        previous_end = span.end.line;
    }
    for warning in &df.warnings {
        prop_assert!(
            warning.span.end.line <= lines,
            "warning past the end: {warning:?}"
        );
    }
    Ok(())
}

/// Runs stage two and the build checks, with and without options.
fn later_stages(df: &Dockerfile) {
    let _ = instructions::parse_dockerfile(df);
    let _ = checks::check(df, &CheckOptions::default());
    let ignore = PatternMatcher::new(&["*.md", "!README.md", "target/", "**/.git"]).ok();
    let image_env = |image: &str| {
        (!image.is_empty()).then(|| vec![("PATH".to_owned(), "/usr/bin:/bin".to_owned())])
    };
    let opts = CheckOptions {
        build_args: [("VERSION".to_owned(), "1.0".to_owned())].into(),
        target: Some("build".to_owned()),
        dockerignore: ignore.as_ref(),
        image_env: Some(&image_env),
        ..CheckOptions::default()
    };
    let _ = checks::check(df, &opts);
}

/// Parses `src`, checks the invariants, and exercises the later stages.
fn exercise(src: &[u8]) -> Result<(), TestCaseError> {
    let result = parse(src);
    let json = conformance::to_json(&result);
    match &result {
        Ok(df) => {
            prop_assert!(json.is_array(), "a successful parse gives an array: {json}");
            prop_assert_eq!(json.as_array().map(Vec::len), Some(df.nodes.len()));
            check_well_formed(src, df)?;
            let lexer = Lexer::new(df.escape);
            let env = HashMap::from([
                ("HOME".to_owned(), "/root".to_owned()),
                ("a".to_owned(), "x y".to_owned()),
                ("EMPTY".to_owned(), String::new()),
            ]);
            for node in &df.nodes {
                lex_node(&lexer, &env, node);
            }
            later_stages(df);
        }
        Err(e) => {
            prop_assert!(
                json.get("error").is_some(),
                "an error gives {{error}}: {json}"
            );
            let _ = e.render("Dockerfile", src);
        }
    }
    Ok(())
}

/// 1024 cases a property unless `PROPTEST_CASES` says otherwise.
fn config() -> ProptestConfig {
    let mut config = ProptestConfig::default();
    if std::env::var_os("PROPTEST_CASES").is_none() {
        config.cases = 1024;
    }
    config
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn arbitrary_bytes(src in prop::collection::vec(any::<u8>(), 0..512)) {
        exercise(&src)?;
    }

    #[test]
    fn dockerfile_shaped_fragments(src in fragment_text()) {
        exercise(&src)?;
    }

    #[test]
    fn dockerfile_shaped_lines(src in line_text()) {
        exercise(&src)?;
    }

    #[test]
    fn fragments_with_raw_bytes(src in mixed_bytes()) {
        exercise(&src)?;
    }
}

#[test]
fn line_count_matches_the_parser() {
    assert_eq!(line_count(b""), 0);
    assert_eq!(line_count(b"FROM a"), 1);
    assert_eq!(line_count(b"FROM a\n"), 1);
    assert_eq!(line_count(b"FROM a\r\nRUN b"), 2);
    let df = parse(b"FROM a\nRUN b \\\n  c\n").unwrap();
    assert_eq!(df.nodes[1].span.end.line, 3);
}
