//! Fuzz target `parse`: any bytes through the whole front end: `parse`,
//! `conformance::to_json`, the shell lexer on every node value and flag,
//! `instructions::parse_dockerfile` and `checks::check`. Each stage may return
//! an error, but nothing may panic, and a successful parse must give sane
//! spans and a conformance JSON array.

#![no_main]

use std::collections::HashMap;

use libfuzzer_sys::fuzz_target;
use rdock_parser::checks::{self, CheckOptions};
use rdock_parser::dockerignore::PatternMatcher;
use rdock_parser::shell::Lexer;
use rdock_parser::{conformance, instructions, parse};

fuzz_target!(|data: &[u8]| {
    let result = parse(data);
    let json = conformance::to_json(&result);
    let Ok(df) = &result else {
        assert!(json.get("error").is_some());
        return;
    };
    assert_eq!(json.as_array().map(Vec::len), Some(df.nodes.len()));

    let lines = data.iter().filter(|&&b| b == b'\n').count()
        + usize::from(data.last().is_some_and(|&b| b != b'\n'));
    let mut previous_end = 0;
    for node in &df.nodes {
        assert!(node.span.start.line > previous_end);
        assert!(node.span.start.line <= node.span.end.line);
        assert!(node.span.end.line <= lines);
        previous_end = node.span.end.line;
    }

    let lexer = Lexer::new(df.escape);
    let env = HashMap::from([
        ("HOME".to_owned(), "/root".to_owned()),
        ("a".to_owned(), "x y".to_owned()),
        ("EMPTY".to_owned(), String::new()),
    ]);
    for node in &df.nodes {
        for word in node.values().iter().chain(&node.flags) {
            let _ = lexer.process_word(word, &env);
            let _ = lexer.process_words(word, &env);
            let _ = lexer.process_word_with_matches(word, &env);
        }
    }

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
});
