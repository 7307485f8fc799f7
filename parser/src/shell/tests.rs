//! Unit tests for the lexer options and the BuildKit quirks that the
//! conformance tables (`tests/shell_conformance.rs`) do not exercise.

use std::collections::{BTreeMap, HashMap};

use super::*;

fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|&(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

fn word(lexer: Lexer, input: &str, vars: &[(&str, &str)]) -> String {
    lexer.process_word(input, &env(vars)).unwrap()
}

fn words(lexer: Lexer, input: &str, vars: &[(&str, &str)]) -> Vec<String> {
    lexer.process_words(input, &env(vars)).unwrap()
}

fn error(lexer: Lexer, input: &str, vars: &[(&str, &str)]) -> ExpandError {
    lexer.process_word(input, &env(vars)).unwrap_err()
}

#[test]
fn raw_quotes_keep_quote_characters() {
    let lexer = Lexer::new('\\').raw_quotes(true);
    let vars = [("A", "x y")];
    assert_eq!(word(lexer, r#"'a $A' "b $A""#, &vars), r#"'a $A' "b x y""#);
    assert_eq!(
        words(lexer, r#"'a b' "c d"e f"#, &[]),
        [r#"'a b'"#, r#""c d"e"#, "f"]
    );
    // Quotes stay as they are; escapes are still removed.
    assert_eq!(word(lexer, r#"\'a\" "q\"q""#, &[]), r#"'a" "q"q""#);
}

#[test]
fn raw_escapes_keep_escape_characters() {
    let lexer = Lexer::new('\\').raw_escapes(true);
    assert_eq!(word(lexer, r"a\ b\$A\\", &[("A", "x")]), r"a\ b\$A\\");
    assert_eq!(words(lexer, r"a\ b c", &[]), [r"a\ b", "c"]);
    assert_eq!(word(lexer, r#""\$A\"""#, &[("A", "x")]), r#"\$A\""#);
    // A trailing escape is kept too.
    assert_eq!(word(lexer, "a\\", &[]), "a\\");
    // BuildKit writes a non-escaping backslash inside double quotes twice.
    assert_eq!(word(lexer, r#""\a""#, &[]), r"\\a");
    // `-`/`+`/`?` operands always drop escapes; pattern operands keep them.
    assert_eq!(word(lexer, r"${X:-\a}", &[]), "a");
}

#[test]
fn skip_unset_env_leaves_references_as_written() {
    let lexer = Lexer::new('\\').skip_unset_env(true);
    let vars = [("SET", "v"), ("EMPTY", "")];
    assert_eq!(word(lexer, "$x-${x}-$SET-${EMPTY}.", &vars), "$x-${x}-v-.");
    assert_eq!(
        word(lexer, "${x:-$SET}${x:?no}${x+a}", &vars),
        "${x:-v}${x:?no}${x+a}"
    );
    assert_eq!(word(lexer, r"${x#\*}${x%%a*}", &vars), r"${x#\*}${x%%a*}");
    // BuildKit writes `//` back as a single `/`.
    assert_eq!(word(lexer, "${x//a/b}${x/a/b}", &vars), "${x/a/b}${x/a/b}");
    // Set variables expand as usual, also inside operators.
    assert_eq!(word(lexer, "${SET:-d}${EMPTY:-d}${SET/v/w}", &vars), "vdw");
    assert!(matches!(
        error(lexer, "${EMPTY:?}", &vars),
        ExpandError::RequiredVariable { .. }
    ));
}

#[test]
fn skip_process_quotes_treats_quotes_as_text() {
    let lexer = Lexer::new('\\').skip_process_quotes(true);
    assert_eq!(
        words(lexer, r#"'a b' "$A""#, &[("A", "x")]),
        ["'a", "b'", "\"x\""]
    );
    assert_eq!(word(lexer, "it's", &[]), "it's");
}

/// BuildKit's Dockerfile parser finds heredoc words with RawQuotes,
/// RawEscapes and SkipUnsetEnv on.
#[test]
fn heredoc_word_detection() {
    let lexer = Lexer::new('\\')
        .raw_quotes(true)
        .raw_escapes(true)
        .skip_unset_env(true);
    let split = |line: &str| lexer.process_words(line, &NoEnv).unwrap();
    assert_eq!(
        split(r#"RUN cat <<"EOF" > /x"#),
        ["RUN", "cat", r#"<<"EOF""#, ">", "/x"]
    );
    assert_eq!(split("RUN <<EOF <<-'EOF2'"), ["RUN", "<<EOF", "<<-'EOF2'"]);
    assert_eq!(split("RUN << -EOF"), ["RUN", "<< -EOF"]);
    assert_eq!(split("RUN <<\t EOF x"), ["RUN", "<<\t EOF", "x"]);
    assert_eq!(split("RUN <<- EOF"), ["RUN", "<<-", "EOF"]);
    assert_eq!(split("RUN 4<<EOF"), ["RUN", "4<<EOF"]);
    assert_eq!(
        split("RUN '<<EOF' \"<<EOF\""),
        ["RUN", "'<<EOF'", "\"<<EOF\""]
    );
    assert_eq!(
        split(r#"RUN echo $HOME \${x} "a\"b""#),
        ["RUN", "echo", "$HOME", r"\${x}", r#""a\"b""#]
    );
    assert_eq!(split("a<b <<<c"), ["a<b", "<<<c"]);
    // Unbalanced quotes are an error.
    assert!(lexer.process_words("RUN <<'EOF", &NoEnv).is_err());
}

/// BuildKit unquotes a heredoc name with SkipUnsetEnv, once with RawQuotes
/// off and once on; differing quote counts mean "do not expand the body".
#[test]
fn heredoc_name_unquoting() {
    let plain = Lexer::new('\\').skip_unset_env(true);
    let raw = plain.raw_quotes(true);
    for (rest, name, raw_name) in [
        ("EOF", "EOF", "EOF"),
        ("'EOF'", "EOF", "'EOF'"),
        (r#""EOF""#, "EOF", r#""EOF""#),
        (r#"EO"F""#, "EOF", r#"EO"F""#),
        ("$X", "$X", "$X"),
    ] {
        assert_eq!(plain.process_words(rest, &NoEnv).unwrap(), [name], "{rest}");
        assert_eq!(
            raw.process_words(rest, &NoEnv).unwrap(),
            [raw_name],
            "{rest}"
        );
    }
    for rest in ["'EOF", "\"EOF", "EOF'", "EOF\""] {
        assert!(plain.process_words(rest, &NoEnv).is_err(), "{rest}");
        assert!(raw.process_words(rest, &NoEnv).is_err(), "{rest}");
    }
    assert_eq!(
        plain.process_words("EOF sh", &NoEnv).unwrap(),
        ["EOF", "sh"]
    );
}

#[test]
fn backtick_escape() {
    let lexer = Lexer::new('`');
    let vars = [("A", "x")];
    assert_eq!(word(lexer, r"C:\dir`$A", &vars), r"C:\dir$A");
    assert_eq!(
        word(lexer, r#""C:\dir `"q`" `` `a""#, &vars),
        r#"C:\dir "q" ` `a"#
    );
    assert_eq!(words(lexer, "a` b c`", &vars), ["a b", "c"]);
    // Patterns keep using `\`.
    assert_eq!(word(lexer, r"${B#\*}", &[("B", "**")]), "*");
}

#[test]
fn word_splitting_quirks() {
    let vars = [("V", " a  b ")];
    let lexer = Lexer::new('\\');
    assert_eq!(words(lexer, "x${V}y", &vars), ["x", "a", "b", "y"]);
    assert_eq!(words(lexer, "x\"${V}\"y", &vars), ["x a  b y"]);
    assert_eq!(words(lexer, "'' \"\" x", &vars), ["x"]);
    // Splitting is on Unicode whitespace.
    assert_eq!(words(lexer, "a\u{3000}b\u{a0}c", &vars), ["a", "b", "c"]);
    // A nested `${...}` operand clears the word in progress, as in BuildKit.
    assert_eq!(words(lexer, "pre a${X:-b}c", &vars), ["pre", "bc"]);
    assert_eq!(words(lexer, "a\"${X:-b}\"c", &vars), ["bc"]);
    assert_eq!(word(lexer, "a${X:-b}c", &vars), "abc");
}

#[test]
fn names_use_go_letter_and_digit_classes() {
    let lexer = Lexer::new('\\');
    assert_eq!(word(lexer, "$é.", &[("é", "1")]), "1.");
    // U+093F is a combining vowel sign: not a letter for Go.
    assert_eq!(
        word(lexer, "$क\u{93F}", &[("क", "k"), ("क\u{93F}", "ki")]),
        "k\u{93F}"
    );
    assert_eq!(word(lexer, "$٣x", &[("٣", "3")]), "3x");
    assert_eq!(
        word(lexer, "$_a1 $1a", &[("_a1", "u"), ("1", "one")]),
        "u onea"
    );
}

#[test]
fn patterns() {
    let lexer = Lexer::new('\\');
    let vars = [("X", "abcabc"), ("N", "a\nb\nc"), ("K", "한국어")];
    assert_eq!(
        word(lexer, "${X#*b}|${X##*b}|${X%b*}|${X%%b*}", &vars),
        "cabc|c|abca|a"
    );
    assert_eq!(
        word(lexer, "${X/b/-}|${X//b/-}|${X//[bc]/-}", &vars),
        "a-cabc|a-ca-c|abcabc"
    );
    assert_eq!(word(lexer, "${X//?/.}|${X/#a/-}", &vars), "......|abcabc");
    assert_eq!(word(lexer, "${N##*}|${N%%?}", &vars), "\nb\nc|a\nb\n");
    assert_eq!(
        word(lexer, "${K#?}|${K%?}|${K/국/-}", &vars),
        "국어|한국|한-어"
    );
    // Go's ReplaceAllString expands `$0` in the replacement.
    assert_eq!(
        word(lexer, "${X//b/'<$0>'}|${X/b/'<$0>'}", &vars),
        "a<b>ca<b>c|a<$0>cabc"
    );
}

#[test]
fn error_messages() {
    let lexer = Lexer::new('\\');
    let vars = [("E", ""), ("A", "x")];
    let msg = |input: &str| error(lexer, input, &vars).to_string();
    assert_eq!(msg("${VAR:?message $A}"), "VAR: message x");
    assert_eq!(msg("${E:?}"), "E: is not allowed to be empty");
    assert_eq!(msg("${U?}"), "U: is not allowed to be unset");
    assert_eq!(msg("${A=1}"), "unsupported modifier (=) in substitution");
    assert_eq!(msg("${A:=1}"), "unsupported modifier (:=) in substitution");
    assert_eq!(msg("${A:#1}"), "unsupported modifier (:#) in substitution");
    assert_eq!(
        msg("${A"),
        "unsupported modifier (\u{FFFD}) in substitution"
    );
    assert_eq!(
        msg("${A#\\x}"),
        "invalid pattern (\\x) in substitution: invalid escape '\\x'"
    );
    assert_eq!(msg("${}"), "syntax error: bad substitution");
    assert_eq!(msg("${"), "syntax error: missing '}'");
    assert_eq!(msg("${A:-'x}"), "syntax error: missing '}'");
    assert_eq!(msg("${A:-${}}"), "syntax error: bad substitution");
    assert_eq!(msg("${A/x"), "syntax error: missing '/' in ${}");
    assert_eq!(msg("${A/x/y"), "syntax error: missing '}'");
    assert_eq!(
        msg("'x"),
        "unexpected end of statement while looking for matching single-quote"
    );
    assert_eq!(
        msg("\"x"),
        "unexpected end of statement while looking for matching double-quote"
    );
    assert_eq!(
        error(lexer, "${VAR:?m}", &[]),
        ExpandError::RequiredVariable {
            name: "VAR".into(),
            message: "m".into()
        }
    );
}

#[test]
fn leading_byte_order_mark_is_skipped() {
    let lexer = Lexer::new('\\');
    assert_eq!(word(lexer, "\u{FEFF}a\u{FEFF}", &[]), "a\u{FEFF}");
}

#[test]
fn nesting_is_limited() {
    let lexer = Lexer::new('\\');
    let nested = |depth: usize| format!("{}x{}", "${A:-".repeat(depth), "}".repeat(depth));
    assert_eq!(word(lexer, &nested(MAX_NESTING - 1), &[]), "x");
    assert_eq!(
        error(lexer, &nested(MAX_NESTING * 10), &[]),
        ExpandError::NestingTooDeep { limit: MAX_NESTING }
    );
    let quoted = format!("{}x{}", "\"${A:-".repeat(5000), "}\"".repeat(5000));
    assert!(lexer.process_words(&quoted, &NoEnv).is_err());
}

#[test]
fn env_implementations() {
    let lexer = Lexer::new('\\');
    let input = "$A-${B-unset}";
    let list = vec![("A", "1"), ("B", "2"), ("A", "3")];
    assert_eq!(lexer.process_word(input, &list).unwrap(), "3-2");
    assert_eq!(lexer.process_word(input, &&list[..1]).unwrap(), "1-unset");
    let hash: HashMap<String, String> = HashMap::from([("A".into(), "h".into())]);
    assert_eq!(lexer.process_word(input, &hash).unwrap(), "h-unset");
    let tree: BTreeMap<&str, &str> = BTreeMap::from([("B", "")]);
    assert_eq!(lexer.process_word(input, &tree).unwrap(), "-");
    assert_eq!(lexer.process_word(input, &NoEnv).unwrap(), "-unset");
    assert_eq!(
        lexer
            .process_word(input, &[("B", "x"), ("B", "y")])
            .unwrap(),
        "-y"
    );
}

#[test]
fn matches_are_reported() {
    let lexer = Lexer::new('\\');
    let vars = env(&[("A", ""), ("B", "b")]);
    let expansion = lexer
        .process_word_with_matches("$A${C:-$B}${D+x}'$E'", &vars)
        .unwrap();
    assert_eq!(expansion.result, "b$E");
    assert_eq!(
        expansion.matched.into_iter().collect::<Vec<_>>(),
        ["A", "B"]
    );
    assert_eq!(
        expansion.unmatched.into_iter().collect::<Vec<_>>(),
        ["C", "D"]
    );
}
