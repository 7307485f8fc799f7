//! Finding heredoc markers (`<<EOF`, `<<-"EOF"`, `3<<EOF`, `<< EOF`) in an
//! instruction line, with BuildKit's rules for names and quoting.

use crate::ast::Heredoc;
use crate::shell::{ExpandError, Lexer};

const NO_ENV: &[(String, String)] = &[];

/// The heredocs that `line` opens, in order, with empty contents.
pub(crate) fn heredocs_in_line(line: &str) -> Result<Vec<Heredoc>, ExpandError> {
    let lexer = Lexer::new('\\')
        .raw_quotes(true)
        .raw_escapes(true)
        .skip_unset_env(true);
    // BuildKit ignores a lexing failure of the whole line: no heredocs then.
    let words = lexer.process_words(line, &NO_ENV).unwrap_or_default();
    let mut out = Vec::new();
    for word in words {
        if let Some(h) = parse_heredoc(&word)? {
            out.push(h);
        }
    }
    Ok(out)
}

/// Matches `^(\d*)<<(-?)\s*([^<]*)$` and reads the delimiter word.
pub fn parse_heredoc(word: &str) -> Result<Option<Heredoc>, ExpandError> {
    let digits = word.bytes().take_while(u8::is_ascii_digit).count();
    let Some(after) = word[digits..].strip_prefix("<<") else {
        return Ok(None);
    };
    let (chomp, after) = match after.strip_prefix('-') {
        Some(a) => (true, a),
        None => (false, after),
    };
    let rest = after.trim_start_matches([' ', '\t', '\n', '\x0c', '\r']);
    if rest.is_empty() || rest.contains('<') {
        return Ok(None);
    }
    // Go's ParseUint saturates on overflow and BuildKit ignores the error.
    let fd = if digits == 0 {
        0
    } else {
        word[..digits].parse::<u64>().unwrap_or(u64::MAX)
    };
    let lexer = Lexer::new('\\').skip_unset_env(true);
    let words = lexer.process_words(rest, &NO_ENV)?;
    let [name] = words.as_slice() else {
        return Ok(None);
    };
    let raw = lexer.raw_quotes(true).process_words(rest, &NO_ENV)?;
    let [raw_name] = raw.as_slice() else {
        return Ok(None);
    };
    let quotes = |s: &str| s.chars().filter(|c| matches!(c, '\'' | '"')).count();
    Ok(Some(Heredoc {
        name: name.clone(),
        file_descriptor: fd,
        expand: quotes(name) == quotes(raw_name),
        chomp,
        content: String::new(),
    }))
}
