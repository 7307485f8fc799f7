//! Conformance of [`rdock_parser::dockerignore`] with moby/patternmatcher
//! (5a6d8429a19b) and its `ignorefile` reader, which BuildKit (73ed6825c4b7)
//! vendors: the upstream test tables are ported below as data (`TestMatches`
//! and its multi-pattern table, `TestMatch` from Go's `filepath.Match`
//! suite, `TestCompile`, the `TestCleanPatterns*` and single-case tests,
//! `TestReadAll`, the malformed-pattern regression), followed by cases
//! derived from reading the Go code (marked as such) and property tests.

use proptest::prelude::*;
use rdock_parser::dockerignore::{
    read_patterns, MatchKind, PatternError, PatternMatcher, RegexpError,
};

fn matcher(patterns: &[&str]) -> PatternMatcher {
    PatternMatcher::new(patterns).unwrap_or_else(|e| panic!("patterns {patterns:?}: {e}"))
}

/// patternmatcher's `TestMatches` table: (pattern, path, excluded), checked
/// with `MatchesOrParentMatches`. The last row is the non-Windows addition.
const MATCHES: &[(&str, &str, bool)] = &[
    ("**", "file", true),
    ("**", "file/", true),
    ("**/", "file", true),
    ("**/", "file/", true),
    ("**", "/", true),
    ("**/", "/", true),
    ("**", "dir/file", true),
    ("**/", "dir/file", true),
    ("**", "dir/file/", true),
    ("**/", "dir/file/", true),
    ("**/**", "dir/file", true),
    ("**/**", "dir/file/", true),
    ("dir/**", "dir/file", true),
    ("dir/**", "dir/file/", true),
    ("dir/**", "dir/dir2/file", true),
    ("dir/**", "dir/dir2/file/", true),
    ("**/dir", "dir", true),
    ("**/dir", "dir/file", true),
    ("**/dir2/*", "dir/dir2/file", true),
    ("**/dir2/*", "dir/dir2/file/", true),
    ("**/dir2/**", "dir/dir2/dir3/file", true),
    ("**/dir2/**", "dir/dir2/dir3/file/", true),
    ("**file", "file", true),
    ("**file", "dir/file", true),
    ("**/file", "dir/file", true),
    ("**file", "dir/dir/file", true),
    ("**/file", "dir/dir/file", true),
    ("**/file*", "dir/dir/file", true),
    ("**/file*", "dir/dir/file.txt", true),
    ("**/file*txt", "dir/dir/file.txt", true),
    ("**/file*.txt", "dir/dir/file.txt", true),
    ("**/file*.txt*", "dir/dir/file.txt", true),
    ("**/**/*.txt", "dir/dir/file.txt", true),
    ("**/**/*.txt2", "dir/dir/file.txt", false),
    ("**/*.txt", "file.txt", true),
    ("**/**/*.txt", "file.txt", true),
    ("a**/*.txt", "a/file.txt", true),
    ("a**/*.txt", "a/dir/file.txt", true),
    ("a**/*.txt", "a/dir/dir/file.txt", true),
    ("a/*.txt", "a/dir/file.txt", false),
    ("a/*.txt", "a/file.txt", true),
    ("a/*.txt**", "a/file.txt", true),
    ("a[b-d]e", "ae", false),
    ("a[b-d]e", "ace", true),
    ("a[b-d]e", "aae", false),
    ("a[^b-d]e", "aze", true),
    (".*", ".foo", true),
    (".*", "foo", false),
    ("abc.def", "abcdef", false),
    ("abc.def", "abc.def", true),
    ("abc.def", "abcZdef", false),
    ("abc?def", "abcZdef", true),
    ("abc?def", "abcdef", false),
    ("a\\\\", "a\\", true),
    ("**/foo/bar", "foo/bar", true),
    ("**/foo/bar", "dir/foo/bar", true),
    ("**/foo/bar", "dir/dir2/foo/bar", true),
    ("abc/**", "abc", false),
    ("abc/**", "abc/def", true),
    ("abc/**", "abc/def/ghi", true),
    ("**/.foo", ".foo", true),
    ("**/.foo", "bar.foo", false),
    ("a(b)c/def", "a(b)c/def", true),
    ("a(b)c/def", "a(b)c/xyz", false),
    ("a.|)$(}+{bc", "a.|)$(}+{bc", true),
    (
        "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl",
        "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl",
        true,
    ),
    (
        "dist/*.whl",
        "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl",
        true,
    ),
    ("a\\*b", "a*b", true),
];

/// patternmatcher's multi-pattern table: (patterns, path, excluded).
const MULTI: &[(&[&str], &str, bool)] = &[
    (&["**", "!util/docker/web"], "util/docker/web/foo", false),
    (
        &["**", "!util/docker/web", "util/docker/web/foo"],
        "util/docker/web/foo",
        true,
    ),
    (
        &[
            "**",
            "!dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl",
        ],
        "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl",
        false,
    ),
    (
        &["**", "!dist/*.whl"],
        "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl",
        false,
    ),
];

/// The single-case tests of patternmatcher_test.go (`TestWildcardMatches`
/// to `TestMatchesWithNoPatterns`): (patterns, path, excluded).
const SINGLE_CASES: &[(&[&str], &str, bool)] = &[
    (&["*"], "fileutils.go", true),
    (&["*.go"], "fileutils.go", true),
    (&["!fileutils.go", "*.go"], "fileutils.go", true),
    (&["docs", "!docs/README.md"], "docs/README.md", false),
    (&["docs/", "!docs/README.md"], "docs/README.md", false),
    (&["docs/*", "!docs/README.md"], "docs/README.md", false),
    (&["*.go", "!fileutils.go"], "fileutils.go", false),
    (&["*.go"], ".", false),
    (&[], "/any/path/there", false),
];

/// What a case of Go's `filepath.Match` table expects.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Expect {
    Match(bool),
    BadPattern,
}

use Expect::{BadPattern, Match};

/// `matchTests` of patternmatcher_test.go (taken from Go's `filepath.Match`
/// tests), run through the matcher: (pattern, path, expectation).
const FILEPATH_MATCH: &[(&str, &str, Expect)] = &[
    ("abc", "abc", Match(true)),
    ("*", "abc", Match(true)),
    ("*c", "abc", Match(true)),
    ("a*", "a", Match(true)),
    ("a*", "abc", Match(true)),
    ("a*", "ab/c", Match(true)),
    ("a*/b", "abc/b", Match(true)),
    ("a*/b", "a/c/b", Match(false)),
    ("a*b*c*d*e*/f", "axbxcxdxe/f", Match(true)),
    ("a*b*c*d*e*/f", "axbxcxdxexxx/f", Match(true)),
    ("a*b*c*d*e*/f", "axbxcxdxe/xxx/f", Match(false)),
    ("a*b*c*d*e*/f", "axbxcxdxexxx/fff", Match(false)),
    ("a*b?c*x", "abxbbxdbxebxczzx", Match(true)),
    ("a*b?c*x", "abxbbxdbxebxczzy", Match(false)),
    ("ab[c]", "abc", Match(true)),
    ("ab[b-d]", "abc", Match(true)),
    ("ab[e-g]", "abc", Match(false)),
    ("ab[^c]", "abc", Match(false)),
    ("ab[^b-d]", "abc", Match(false)),
    ("ab[^e-g]", "abc", Match(true)),
    ("a\\*b", "a*b", Match(true)),
    ("a\\*b", "ab", Match(false)),
    ("a?b", "a☺b", Match(true)),
    ("a[^a]b", "a☺b", Match(true)),
    ("a???b", "a☺b", Match(false)),
    ("a[^a][^a][^a]b", "a☺b", Match(false)),
    ("[a-ζ]*", "α", Match(true)),
    ("*[a-ζ]", "A", Match(false)),
    ("a?b", "a/b", Match(false)),
    ("a*b", "a/b", Match(false)),
    ("[\\]a]", "]", Match(true)),
    ("[\\-]", "-", Match(true)),
    ("[x\\-]", "x", Match(true)),
    ("[x\\-]", "-", Match(true)),
    ("[x\\-]", "z", Match(false)),
    ("[\\-x]", "x", Match(true)),
    ("[\\-x]", "-", Match(true)),
    ("[\\-x]", "a", Match(false)),
    ("[]a]", "]", BadPattern),
    ("[-]", "-", BadPattern),
    ("[x-]", "x", BadPattern),
    ("[x-]", "-", BadPattern),
    ("[x-]", "z", BadPattern),
    ("[-x]", "x", BadPattern),
    ("[-x]", "-", BadPattern),
    ("[-x]", "a", BadPattern),
    ("\\", "a", BadPattern),
    ("[a-b-c]", "a", BadPattern),
    ("[", "a", BadPattern),
    ("[^", "a", BadPattern),
    ("[^bc", "a", BadPattern),
    ("a[", "a", BadPattern),
    ("a[", "ab", BadPattern),
    ("*x", "xxx", Match(true)),
];

/// `compileTests` of patternmatcher_test.go, `/` separator: (pattern, kind,
/// regular expression when the kind is [`MatchKind::Regexp`]).
const COMPILE: &[(&str, MatchKind, &str)] = &[
    ("*", MatchKind::Regexp, r"^[^/]*$"),
    ("file*", MatchKind::Regexp, r"^file[^/]*$"),
    ("*file", MatchKind::Regexp, r"^[^/]*file$"),
    ("a*/b", MatchKind::Regexp, r"^a[^/]*/b$"),
    ("**", MatchKind::Suffix, ""),
    ("**/**", MatchKind::Regexp, r"^(.*/)?.*$"),
    ("dir/**", MatchKind::Prefix, ""),
    ("**/dir", MatchKind::Suffix, ""),
    ("**/dir2/*", MatchKind::Regexp, r"^(.*/)?dir2/[^/]*$"),
    ("**/dir2/**", MatchKind::Regexp, r"^(.*/)?dir2/.*$"),
    ("**file", MatchKind::Suffix, ""),
    ("**/file*txt", MatchKind::Regexp, r"^(.*/)?file[^/]*txt$"),
    (
        "**/**/*.txt",
        MatchKind::Regexp,
        r"^(.*/)?(.*/)?[^/]*\.txt$",
    ),
    ("a[b-d]e", MatchKind::Regexp, r"^a[b-d]e$"),
    (".*", MatchKind::Regexp, r"^\.[^/]*$"),
    ("abc.def", MatchKind::Exact, ""),
    ("abc?def", MatchKind::Regexp, r"^abc[^/]def$"),
    ("**/foo/bar", MatchKind::Suffix, ""),
    ("a(b)c/def", MatchKind::Exact, ""),
    ("a.|)$(}+{bc", MatchKind::Exact, ""),
    (
        "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl",
        MatchKind::Exact,
        "",
    ),
];

/// Cases derived from the Go code rather than copied from upstream tables:
/// the translation to RE2 gives some rules surprising meanings, which
/// Docker has and so must we. (patterns, path, excluded).
const DERIVED: &[(&[&str], &str, bool)] = &[
    // A `**` rule with nothing else is a suffix test on the raw text.
    (&["**foo"], "barfoo", true),
    (&["**/foo"], "barfoo", false),
    (&["**/foo"], "bar/foo/baz", true),
    // Exact rules compare text: `^` is literal when nothing else is special.
    (&["a^b"], "a^b", true),
    // ...but in a translated rule `^` is RE2's begin-of-text anchor.
    (&["a^b*"], "a^b", false),
    (&["^a*"], "abc", true),
    // `[*]` becomes `[[^/]*]`: a class of `[`, `^`, `/` repeated, then `]`.
    (&["[*]"], "*", false),
    (&["[*]"], "[^]", true),
    (&["[?]"], "^]", true),
    // POSIX classes and Perl escapes are RE2's, not filepath.Match's.
    (&["[[:digit:]]x"], "7x", true),
    (&["[[:digit:]]x"], ":x", false),
    (&["\\d*"], "7up", true),
    (&["[\\d]"], "d", false),
    (&["a\\b*"], "a-c", true),
    (&["a\\b*"], "ac", false),
    // `.` (from `**`) stops at newlines; `[^/]` (from `*`) does not.
    (&["**/x*"], "a\nb/x", false),
    (&["x*"], "x\ny", true),
    // Paths are not cleaned: `./a` is not `a`, a trailing `/` is a parent.
    (&["a"], "./a", false),
    (&["a"], "a/", true),
    (&["a/b"], "a//b", false),
    // `!` rules are cleaned before the `!` is removed, so `./` stays.
    (&["**", "!./keep"], "keep", true),
    (&["**", "!keep"], "keep", false),
    // A leading `/` is not removed by the matcher, only by the reader.
    (&["/a"], "a", false),
    (&["/a"], "/a", true),
    // Parent directories count even when the rule is a regular expression.
    (&["*.d"], "x.d/y/z", true),
    (&["x/*/z"], "x/y/z/w", true),
    // A byte order mark opening a rule is skipped by the translation only.
    (&["\u{feff}*.go"], "a.go", true),
    (&["\u{feff}a"], "a", false),
    (&["\u{feff}a"], "\u{feff}a", true),
    // BuildKit's `testDockerignore` integration case.
    (
        &["ba*", "Dockerfile", "!bay", ".dockerignore"],
        "foo",
        false,
    ),
    (&["ba*", "Dockerfile", "!bay", ".dockerignore"], "bar", true),
    (&["ba*", "Dockerfile", "!bay", ".dockerignore"], "baz", true),
    (
        &["ba*", "Dockerfile", "!bay", ".dockerignore"],
        "bay",
        false,
    ),
    (
        &["ba*", "Dockerfile", "!bay", ".dockerignore"],
        "Dockerfile",
        true,
    ),
    (
        &["ba*", "Dockerfile", "!bay", ".dockerignore"],
        ".dockerignore",
        true,
    ),
];

/// Reader cases: `TestReadAll` first, then cases derived from
/// `ignorefile.ReadAll`. (file text, patterns).
const READ: &[(&str, &[&str])] = &[
    ("", &[]),
    (
        "test1\n/test2\n/a/file/here\n\nlastfile\n# this is a comment\n! /inverted/abs/path\n!\n! ",
        &[
            "test1",
            "test2",
            "a/file/here",
            "lastfile",
            "!inverted/abs/path",
            "!",
            "!",
        ],
    ),
    ("\u{feff}# comment\nx", &["x"]),
    ("\u{feff}a\n\u{feff}b", &["a", "\u{feff}b"]),
    ("  # not a comment\n#comment", &["# not a comment"]),
    ("a\r\nb\r\n\r\n", &["a", "b"]),
    ("a\rb", &["a\rb"]),
    ("\t a/../b/./c//d/ \t", &["b/c/d"]),
    (
        "/\n!/\n//x\n../x\n/../x\n.",
        &["/", "!/", "x", "../x", "x", "."],
    ),
    ("!  ./x/", &["!x"]),
    ("!!x", &["!!x"]),
    ("\u{a0}x\u{3000}", &["x"]),
];

#[test]
fn matches_table() {
    for &(pattern, path, want) in MATCHES {
        let got = matcher(&[pattern]).matches(path);
        assert_eq!(got, Ok(want), "pattern {pattern:?}, path {path:?}");
    }
}

#[test]
fn multi_pattern_table() {
    for &(patterns, path, want) in MULTI.iter().chain(SINGLE_CASES).chain(DERIVED) {
        let got = matcher(patterns).matches(path);
        assert_eq!(got, Ok(want), "patterns {patterns:?}, path {path:?}");
    }
}

#[test]
fn filepath_match_table() {
    for &(pattern, path, want) in FILEPATH_MATCH {
        let got = match PatternMatcher::new(&[pattern]) {
            Err(PatternError::Syntax { .. }) => BadPattern,
            Err(other) => panic!("pattern {pattern:?}: unexpected error {other}"),
            Ok(m) => Match(m.matches(path).unwrap()),
        };
        assert_eq!(got, want, "pattern {pattern:?}, path {path:?}");
    }
}

#[test]
fn compile_table() {
    for &(pattern, kind, regexp) in COMPILE {
        let m = matcher(&[pattern]);
        let compiled = &m.patterns()[0];
        assert_eq!(compiled.kind(), kind, "pattern {pattern:?}");
        let want = (kind == MatchKind::Regexp).then_some(regexp);
        assert_eq!(compiled.regexp(), want, "pattern {pattern:?}");
    }
}

#[test]
fn read_table() {
    for &(text, want) in READ {
        assert_eq!(read_patterns(text), want, "text {text:?}");
    }
}

#[test]
fn clean_patterns() {
    assert_eq!(matcher(&["docs", "config"]).patterns().len(), 2);
    assert_eq!(matcher(&["docs", "config", ""]).patterns().len(), 2);
    assert!(matcher(&["docs", "!docs/README.md"]).has_exclusions());
    assert!(matcher(&["docs", "  !docs/README.md"]).has_exclusions());
    assert!(matcher(&["docs", "!docs/README.md  "]).has_exclusions());
    assert!(!matcher(&["docs", "config"]).has_exclusions());
    let texts: Vec<String> = matcher(&[" a/./b/ ", "!c//d", "\t"])
        .patterns()
        .iter()
        .map(|p| p.to_string())
        .collect();
    assert_eq!(texts, ["a/b", "!c/d"]);
}

#[test]
fn pattern_errors() {
    let cases: &[(&[&str], PatternError)] = &[
        (&["!"], PatternError::IllegalExclusion),
        (&["a", " ! "], PatternError::IllegalExclusion),
        (&["!/"], PatternError::IllegalExclusion),
        (
            &["["],
            PatternError::Syntax {
                pattern: "[".into(),
            },
        ),
        (
            &["!a/[b"],
            PatternError::Syntax {
                pattern: "a/[b".into(),
            },
        ),
        (
            &["x\\"],
            PatternError::Syntax {
                pattern: "x\\".into(),
            },
        ),
    ];
    for (patterns, want) in cases {
        assert_eq!(
            PatternMatcher::new(patterns).err().as_ref(),
            Some(want),
            "{patterns:?}"
        );
    }
    assert_eq!(
        PatternError::IllegalExclusion.to_string(),
        "illegal exclusion pattern: \"!\""
    );
    assert_eq!(
        PatternError::Syntax {
            pattern: "a[".into()
        }
        .to_string(),
        "syntax error in pattern \"a[\""
    );
}

/// patternmatcher's regression test for moby/moby#52203: a rule that passes
/// `filepath.Match` but whose regular expression is invalid fails on every
/// match attempt, without panicking.
#[test]
fn malformed_regexp_fails_every_time() {
    let m = matcher(&["[Local-Only]/"]);
    let error = PatternError::Regexp {
        pattern: "[Local-Only]".into(),
        source: RegexpError::InvalidCharRange("l-O".into()),
    };
    assert_eq!(m.matches("x"), Err(error.clone()));
    assert_eq!(m.matches("x"), Err(error.clone()));
    assert_eq!(
        error.to_string(),
        "syntax error in pattern \"[Local-Only]\": error parsing regexp: \
         invalid character class range: `l-O`"
    );
}

/// Derived: the error only surfaces when the ordering consults the rule, as
/// patternmatcher compiles lazily.
#[test]
fn malformed_regexp_only_fails_when_consulted() {
    let m = matcher(&["a", "![z-a]"]);
    assert_eq!(m.matches("b"), Ok(false));
    assert!(matches!(m.matches("a"), Err(PatternError::Regexp { .. })));
    let m = matcher(&["\\q*"]);
    assert!(matches!(
        m.matches("q"),
        Err(PatternError::Regexp {
            source: RegexpError::InvalidEscape(_),
            ..
        })
    ));
}

#[test]
fn matching_pattern_names_the_deciding_rule() {
    let m = matcher(&["*.log", "", "build", "!build/keep.log", "build/keep.log/x"]);
    let decided = |path: &str| {
        m.matching_pattern(path)
            .unwrap()
            .map(|p| (p.index(), p.as_str()))
    };
    assert_eq!(decided("a.log"), Some((0, "*.log")));
    assert_eq!(decided("build/out/x.o"), Some((2, "build")));
    assert_eq!(decided("build/keep.log"), None);
    assert_eq!(decided("build/keep.log/x/y"), Some((4, "build/keep.log/x")));
    assert_eq!(decided("src/main.rs"), None);
    for path in ["a.log", "build/keep.log", "src", "build/keep.log/x"] {
        assert_eq!(
            m.matches(path).unwrap(),
            m.matching_pattern(path).unwrap().is_some()
        );
    }
}

#[test]
fn may_reinclude_below() {
    assert!(!matcher(&["node_modules"]).may_reinclude_below("node_modules"));
    let m = matcher(&["vendor", "!vendor/keep/**", "!other"]);
    assert!(m.may_reinclude_below("vendor"));
    assert!(m.may_reinclude_below("vendor/keep"));
    assert!(!m.may_reinclude_below("vendor/drop"));
    assert!(!m.may_reinclude_below("vend"));
    assert!(m.may_reinclude_below("other"));
    let m = matcher(&["vendor", "!**/*.md"]);
    assert!(m.may_reinclude_below("anything"));
}

/// A small reference for rules made of literal segments and `*` segments
/// (no `**`, no classes): `*` matches any run without `/`, and a rule
/// matching a parent directory matches the path.
fn reference_match(pattern: &[String], path: &str) -> bool {
    let parts: Vec<&str> = path.split('/').collect();
    (1..=parts.len()).any(|n| {
        n == pattern.len()
            && pattern
                .iter()
                .zip(&parts[..n])
                .all(|(p, s)| p == "*" || p == s)
    })
}

fn pattern_chars() -> impl Strategy<Value = String> {
    proptest::string::string_regex(r"[a-c*?\[\]\^!\\/.\-{}$()|:+ é\u{feff}\t]{0,12}")
        .expect("valid strategy")
}

fn path_chars() -> impl Strategy<Value = String> {
    proptest::string::string_regex(r"[a-c/.*\[\]\^\\é\n]{0,16}").expect("valid strategy")
}

proptest! {
    #[test]
    fn never_panics(patterns in prop::collection::vec(pattern_chars(), 0..5), path in path_chars()) {
        if let Ok(m) = PatternMatcher::new(&patterns) {
            let decided = m.matching_pattern(&path).map(|p| p.is_some());
            prop_assert_eq!(m.matches(&path), decided);
            let _ = m.may_reinclude_below(&path);
            for pattern in m.patterns() {
                let _ = (pattern.is_match(&path), pattern.regexp(), pattern.to_string());
            }
        }
    }

    #[test]
    fn reader_never_panics(text in "(?s).{0,64}") {
        for pattern in read_patterns(&text) {
            prop_assert!(!pattern.is_empty() && !pattern.contains('\n'));
        }
    }

    #[test]
    fn literal_rules_match_path_and_below(
        rule in "[a-c]{1,2}(/[a-c]{1,2}){0,2}",
        path in "[a-c]{1,2}(/[a-c]{1,2}){0,3}",
    ) {
        let expected = path == rule || path.starts_with(&format!("{rule}/"));
        prop_assert_eq!(matcher(&[&rule]).matches(&path), Ok(expected));
    }

    #[test]
    fn star_segments_agree_with_reference(
        rule in prop::collection::vec(prop_oneof!["[ab]", Just("*".to_owned())], 1..4),
        path in "[ab]{1,2}(/[ab]{1,2}){0,3}",
    ) {
        let text = rule.join("/");
        let expected = reference_match(&rule, &path);
        prop_assert_eq!(matcher(&[&text]).matches(&path), Ok(expected), "rule {}", text);
    }
}
