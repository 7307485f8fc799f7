//! The scanner behind [`Lexer`]: one pass over a word that
//! removes quotes and escapes, expands `$name` / `${...}`, and splits the
//! result into words.
//!
//! The structure mirrors BuildKit's `shellWord` so that its observable quirks
//! carry over exactly. Among them:
//!
//! * `${...}` operands are scanned by a nested pass that shares the word-split
//!   buffer with the outer pass and clears it on entry, so in word-splitting
//!   mode text of the current word that precedes a `${name<op>...}` (even one
//!   inside double quotes) is dropped;
//! * operands of `#` / `%` and both parts of `/` keep their escape characters
//!   (the pattern code interprets them), while `-`, `+` and `?` operands lose
//!   them whatever the lexer's raw-escapes setting;
//! * `<<` plus the blanks after it is kept together in one word (heredocs);
//! * a byte-order mark at the very start of the word is skipped.

use std::collections::BTreeSet;

use super::error::ExpandError;
use super::pattern;
use super::unicode::{is_digit, is_letter};
use super::{Env, Lexer, MAX_NESTING};

/// The state of one `process_*` call.
pub(crate) struct Scan<'a> {
    lexer: &'a Lexer,
    env: &'a dyn Env,
    chars: Vec<char>,
    pos: usize,
    /// The raw-escapes setting in force; `${...}` operands change it while
    /// they are scanned.
    raw_escapes: bool,
    depth: usize,
    /// Buffer of the word being split out, shared by all nesting levels.
    word_buf: String,
    pub(crate) matched: BTreeSet<String>,
    pub(crate) unmatched: BTreeSet<String>,
}

/// The words split out by one pass; the word in progress is in
/// [`Scan::word_buf`].
#[derive(Default)]
struct Words {
    done: Vec<String>,
    in_word: bool,
}

impl Words {
    /// Adds a character that unquoted whitespace splits on.
    fn add_char(&mut self, buf: &mut String, ch: char) {
        if !ch.is_whitespace() {
            self.add_raw_char(buf, ch);
        } else if self.in_word && !buf.is_empty() {
            self.done.push(std::mem::take(buf));
            self.in_word = false;
        }
    }

    /// Adds a quoted or escaped character.
    fn add_raw_char(&mut self, buf: &mut String, ch: char) {
        buf.push(ch);
        self.in_word = true;
    }

    fn add_str(&mut self, buf: &mut String, text: &str) {
        for ch in text.chars() {
            self.add_char(buf, ch);
        }
    }

    fn add_raw_str(&mut self, buf: &mut String, text: &str) {
        buf.push_str(text);
        self.in_word = true;
    }

    fn finish(mut self, buf: &mut String) -> Vec<String> {
        if !buf.is_empty() {
            self.done.push(std::mem::take(buf));
        }
        self.done
    }
}

/// What one pass produced: the word as a single string, and split into words.
pub(crate) struct Processed {
    pub(crate) result: String,
    pub(crate) words: Vec<String>,
}

impl<'a> Scan<'a> {
    pub(crate) fn new(lexer: &'a Lexer, word: &str, env: &'a dyn Env) -> Self {
        let word = word.strip_prefix('\u{FEFF}').unwrap_or(word);
        Scan {
            lexer,
            env,
            chars: word.chars().collect(),
            pos: 0,
            raw_escapes: lexer.raw_escapes,
            depth: 0,
            word_buf: String::new(),
            matched: BTreeSet::new(),
            unmatched: BTreeSet::new(),
        }
    }

    /// Processes the whole word.
    pub(crate) fn run(&mut self) -> Result<Processed, ExpandError> {
        let raw_escapes = self.raw_escapes;
        self.process_until(None, raw_escapes)
    }

    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn next(&mut self) -> Option<char> {
        let ch = self.peek();
        if ch.is_some() {
            self.pos += 1;
        }
        ch
    }

    fn at_end(&self) -> bool {
        self.pos >= self.chars.len()
    }

    /// Scans up to (and consumes) `stop`, or to the end of input when `stop`
    /// is `None`, with the given raw-escapes setting.
    fn process_until(
        &mut self,
        stop: Option<char>,
        raw_escapes: bool,
    ) -> Result<Processed, ExpandError> {
        if self.depth >= MAX_NESTING {
            return Err(ExpandError::NestingTooDeep { limit: MAX_NESTING });
        }
        self.depth += 1;
        let saved = std::mem::replace(&mut self.raw_escapes, raw_escapes);
        let outcome = self.process_until_inner(stop);
        self.raw_escapes = saved;
        self.depth -= 1;
        outcome
    }

    fn process_until_inner(&mut self, stop: Option<char>) -> Result<Processed, ExpandError> {
        let mut result = String::new();
        self.word_buf.clear();
        let mut words = Words::default();
        let quotes = !self.lexer.skip_process_quotes;
        let escape = self.lexer.escape;

        while let Some(ch) = self.peek() {
            if Some(ch) == stop {
                self.pos += 1;
                let words = words.finish(&mut self.word_buf);
                return Ok(Processed { result, words });
            }
            let special = match ch {
                '$' => Some(self.process_dollar()?),
                '<' => Some(self.process_possible_heredoc()),
                '\'' if quotes => Some(self.process_single_quote()?),
                '"' if quotes => Some(self.process_double_quote()?),
                _ => None,
            };
            if let Some(text) = special {
                result.push_str(&text);
                if ch == '$' {
                    words.add_str(&mut self.word_buf, &text);
                } else {
                    words.add_raw_str(&mut self.word_buf, &text);
                }
                continue;
            }
            self.pos += 1;
            if ch == escape {
                if self.raw_escapes {
                    words.add_raw_char(&mut self.word_buf, ch);
                    result.push(ch);
                }
                // An escape at the very end is dropped.
                let Some(escaped) = self.next() else { break };
                words.add_raw_char(&mut self.word_buf, escaped);
                result.push(escaped);
            } else {
                words.add_char(&mut self.word_buf, ch);
                result.push(ch);
            }
        }
        match stop {
            // The caller reports the missing terminator.
            Some('/') => Err(ExpandError::MissingSlash),
            Some(_) => Err(ExpandError::MissingBrace),
            None => {
                let words = words.finish(&mut self.word_buf);
                Ok(Processed { result, words })
            }
        }
    }

    /// `'...'`: everything up to the next `'` is literal.
    fn process_single_quote(&mut self) -> Result<String, ExpandError> {
        let raw = self.lexer.raw_quotes;
        let mut out = String::new();
        self.pos += 1;
        if raw {
            out.push('\'');
        }
        loop {
            match self.next() {
                None => return Err(ExpandError::UnterminatedSingleQuote),
                Some('\'') => {
                    if raw {
                        out.push('\'');
                    }
                    return Ok(out);
                }
                Some(ch) => out.push(ch),
            }
        }
    }

    /// `"..."`: `$` expands; the escape character escapes only `"`, `$` and
    /// itself and is otherwise kept.
    fn process_double_quote(&mut self) -> Result<String, ExpandError> {
        let raw = self.lexer.raw_quotes;
        let escape = self.lexer.escape;
        let mut out = String::new();
        self.pos += 1;
        if raw {
            out.push('"');
        }
        loop {
            match self.peek() {
                None => return Err(ExpandError::UnterminatedDoubleQuote),
                Some('"') => {
                    self.pos += 1;
                    if raw {
                        out.push('"');
                    }
                    return Ok(out);
                }
                Some('$') => {
                    let value = self.process_dollar()?;
                    out.push_str(&value);
                }
                Some(mut ch) => {
                    self.pos += 1;
                    if ch == escape {
                        if self.raw_escapes {
                            out.push(ch);
                        }
                        match self.peek() {
                            // Unterminated: reported on the next iteration.
                            None => continue,
                            Some(next) if next == '"' || next == '$' || next == escape => {
                                self.pos += 1;
                                ch = next;
                            }
                            // Not escapable here: the escape character stays
                            // (written twice in raw-escapes mode, as BuildKit does).
                            Some(_) => {}
                        }
                    }
                    out.push(ch);
                }
            }
        }
    }

    /// `<` or `<<` followed by blanks (kept together as one word).
    fn process_possible_heredoc(&mut self) -> String {
        self.pos += 1;
        if self.peek() != Some('<') {
            return "<".to_owned();
        }
        self.pos += 1;
        let mut out = "<<".to_owned();
        while let Some(ch @ ('\t' | '\r' | ' ')) = self.peek() {
            out.push(ch);
            self.pos += 1;
        }
        out
    }

    /// Reads a parameter name: a run of digits, one special parameter
    /// character, or letters, digits and underscores.
    fn process_name(&mut self) -> String {
        let mut name = String::new();
        while let Some(ch) = self.peek() {
            if name.is_empty() && is_digit(ch) {
                while let Some(digit) = self.peek().filter(|&c| is_digit(c)) {
                    name.push(digit);
                    self.pos += 1;
                }
                return name;
            }
            if name.is_empty() && is_special_param(ch) {
                self.pos += 1;
                return ch.to_string();
            }
            if !is_letter(ch) && !is_digit(ch) && ch != '_' {
                break;
            }
            name.push(ch);
            self.pos += 1;
        }
        name
    }

    /// Looks a variable up and records whether it was found.
    fn get_env(&mut self, name: &str) -> Option<String> {
        match self.env.get(name) {
            Some(value) => {
                if !self.matched.contains(name) {
                    self.matched.insert(name.to_owned());
                }
                Some(value.to_owned())
            }
            None => {
                if !self.unmatched.contains(name) {
                    self.unmatched.insert(name.to_owned());
                }
                None
            }
        }
    }

    /// Scans a `${...}` operand up to `stop`. An error at the end of input
    /// becomes `at_end_error` (BuildKit reports the missing terminator rather
    /// than, say, an unterminated quote inside it).
    fn operand(
        &mut self,
        stop: char,
        raw_escapes: bool,
        at_end_error: ExpandError,
    ) -> Result<String, ExpandError> {
        match self.process_until(Some(stop), raw_escapes) {
            Ok(processed) => Ok(processed.result),
            Err(err @ ExpandError::NestingTooDeep { .. }) => Err(err),
            Err(_) if self.at_end() => Err(at_end_error),
            Err(err) => Err(err),
        }
    }

    /// `$name`, `${name}` and `${name<op>word}`.
    fn process_dollar(&mut self) -> Result<String, ExpandError> {
        self.pos += 1;
        if self.peek() != Some('{') {
            let name = self.process_name();
            if name.is_empty() {
                return Ok("$".to_owned());
            }
            return Ok(self.plain_reference(name, false));
        }
        self.pos += 1;
        match self.peek() {
            None => return Err(ExpandError::MissingBrace),
            Some('{' | '}' | ':') => return Err(ExpandError::BadSubstitution),
            Some(_) => {}
        }
        let name = self.process_name();
        let op = self.next();
        // Go's end-of-input marker prints as U+FFFD.
        let modifier = String::from(op.unwrap_or(char::REPLACEMENT_CHARACTER));
        match op {
            Some('}') => Ok(self.plain_reference(name, true)),
            Some(':' | '+' | '-' | '?' | '#' | '%') => self.expand_operator(name, op, modifier),
            Some('/') => self.expand_replace(name),
            _ => Err(ExpandError::UnsupportedModifier { modifier }),
        }
    }

    /// The value of `$name` (or `${name}` when `braced`).
    fn plain_reference(&mut self, name: String, braced: bool) -> String {
        match self.get_env(&name) {
            Some(value) => value,
            None if self.lexer.skip_unset_env && braced => format!("${{{name}}}"),
            None if self.lexer.skip_unset_env => format!("${name}"),
            None => String::new(),
        }
    }

    // The operand scans below recurse; the work after them is kept in
    // separate functions so that each level of nesting costs little stack.

    /// `${name<op>word}` for the `-` `+` `?` `#` `%` operators, each
    /// optionally after `:`. `op` was just read; `modifier` is its text.
    fn expand_operator(
        &mut self,
        name: String,
        op: Option<char>,
        mut modifier: String,
    ) -> Result<String, ExpandError> {
        let mut op = op;
        let null_is_unset = op == Some(':');
        if null_is_unset {
            op = self.next();
            modifier.push(op.unwrap_or(char::REPLACEMENT_CHARACTER));
        }
        let is_pattern = matches!(op, Some('#' | '%'));
        if null_is_unset && is_pattern {
            return Err(ExpandError::UnsupportedModifier { modifier });
        }
        let word = self.operand('}', is_pattern, ExpandError::MissingBrace)?;
        let value = self.get_env(&name);
        if self.lexer.skip_unset_env && value.is_none() {
            return Ok(format!("${{{name}{modifier}{word}}}"));
        }
        let op = Operator {
            name,
            modifier,
            op,
            null_is_unset,
        };
        op.apply(value, word)
    }

    /// `${name/pattern/replacement}` and `${name//pattern/replacement}`; the
    /// first `/` was just read.
    fn expand_replace(&mut self, name: String) -> Result<String, ExpandError> {
        let all = self.peek() == Some('/');
        if all {
            self.pos += 1;
        }
        let pat = self.operand('/', true, ExpandError::MissingSlash)?;
        let replacement = self.operand('}', true, ExpandError::MissingBrace)?;
        match self.get_env(&name) {
            // BuildKit writes the unexpanded form back with a single `/`,
            // even for `//`.
            None if self.lexer.skip_unset_env => Ok(format!("${{{name}/{pat}/{replacement}}}")),
            value => pattern::replace(&value.unwrap_or_default(), &pat, &replacement, all),
        }
    }
}

/// A parsed `${name<op>word}` operator.
struct Operator {
    name: String,
    /// The operator text, for error messages.
    modifier: String,
    /// The operator character after any `:` (`None` at end of input).
    op: Option<char>,
    /// Whether `:` made an empty value count as unset.
    null_is_unset: bool,
}

impl Operator {
    /// Applies the operator to the variable's value (`None` if unset) and
    /// the expanded operand `word`.
    fn apply(self, value: Option<String>, word: String) -> Result<String, ExpandError> {
        let unset = value
            .as_deref()
            .is_none_or(|v| self.null_is_unset && v.is_empty());
        match self.op {
            Some('-') => Ok(if unset {
                word
            } else {
                value.unwrap_or_default()
            }),
            Some('+') => Ok(if unset { String::new() } else { word }),
            Some('?') => match value {
                Some(value) if !unset => Ok(value),
                _ => {
                    let message = if !word.is_empty() {
                        word
                    } else if value.is_none() {
                        "is not allowed to be unset".to_owned()
                    } else {
                        "is not allowed to be empty".to_owned()
                    };
                    Err(ExpandError::RequiredVariable {
                        name: self.name,
                        message,
                    })
                }
            },
            Some(op @ ('#' | '%')) => {
                let value = value.unwrap_or_default();
                // A doubled operator (`##`, `%%`) asks for the longest match.
                let (greedy, pat) = match word.strip_prefix(op) {
                    Some(rest) => (true, rest),
                    None => (false, word.as_str()),
                };
                if op == '%' {
                    pattern::trim_suffix(pat, &value, greedy)
                } else {
                    pattern::trim_prefix(pat, &value, greedy)
                }
            }
            _ => Err(ExpandError::UnsupportedModifier {
                modifier: self.modifier,
            }),
        }
    }
}

/// The POSIX special parameters `@ * # ? - $ ! 0`.
fn is_special_param(ch: char) -> bool {
    matches!(ch, '@' | '*' | '#' | '?' | '-' | '$' | '!' | '0')
}
