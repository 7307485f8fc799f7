//! Parser from RE2 text (Go's `regexp/syntax` with Perl flags) to a small
//! tree of [`Node`]s. It covers everything patternmatcher's translations can
//! contain: literals, `.`, `^` and `$` (text anchors), classes with ranges,
//! negation, escapes, `[:name:]` and `\d`-style groups, the escapes `\A`
//! `\z` `\b` `\B` `\Q..\E`, octal, hex and control escapes, groups and the
//! `*` `+` `?` repetitions (a trailing `?` for laziness is accepted and
//! ignored, as only matching matters). Errors follow RE2's rules; Unicode
//! classes (`\pL`) and the constructs a translation never contains
//! (alternation, flag groups) are reported as unsupported.

use super::RegexpError;

/// One element of a parsed expression.
#[derive(Debug, Clone)]
pub(super) enum Node {
    Literal(u32),
    Class(Class),
    AnyNotNewline,
    Assert(Assertion),
    Repeat(Box<Node>, Repeat),
    Group(Vec<Node>),
}

/// Repetition operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Repeat {
    ZeroOrMore,
    OneOrMore,
    ZeroOrOne,
}

/// Zero-width conditions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Assertion {
    BeginText,
    EndText,
    WordBoundary,
    NotWordBoundary,
}

/// A set of code points, possibly negated.
#[derive(Debug, Clone, Default)]
pub(super) struct Class {
    ranges: Vec<(u32, u32)>,
    negated: bool,
}

impl Class {
    pub(super) fn contains(&self, code: u32) -> bool {
        self.ranges.iter().any(|&(lo, hi)| lo <= code && code <= hi) != self.negated
    }
}

/// Parses `source` into a sequence of nodes.
pub(super) fn parse(source: &str) -> Result<Vec<Node>, RegexpError> {
    Parser { source, at: 0 }.parse()
}

struct Parser<'a> {
    source: &'a str,
    at: usize,
}

impl<'a> Parser<'a> {
    fn rest(&self) -> &'a str {
        &self.source[self.at..]
    }

    fn peek(&self) -> Option<char> {
        self.rest().chars().next()
    }

    fn bump(&mut self) -> Option<char> {
        let ch = self.peek()?;
        self.at += ch.len_utf8();
        Some(ch)
    }

    fn since(&self, start: usize) -> String {
        self.source[start..self.at].to_owned()
    }

    fn parse(mut self) -> Result<Vec<Node>, RegexpError> {
        let mut current: Vec<Node> = Vec::new();
        let mut outer: Vec<Vec<Node>> = Vec::new();
        let mut last_repeat: Option<usize> = None;
        while let Some(ch) = self.peek() {
            let start = self.at;
            let mut repeat_at = None;
            match ch {
                '(' if self.rest().starts_with("(?") => {
                    return Err(RegexpError::Unsupported("(?".to_owned()));
                }
                '(' => {
                    self.bump();
                    outer.push(std::mem::take(&mut current));
                }
                ')' => {
                    self.bump();
                    let Some(parent) = outer.pop() else {
                        return Err(RegexpError::UnexpectedParen(self.source.to_owned()));
                    };
                    let inner = std::mem::replace(&mut current, parent);
                    current.push(Node::Group(inner));
                }
                '|' => return Err(RegexpError::Unsupported("|".to_owned())),
                '^' | '$' | '.' => {
                    self.bump();
                    current.push(match ch {
                        '^' => Node::Assert(Assertion::BeginText),
                        '$' => Node::Assert(Assertion::EndText),
                        _ => Node::AnyNotNewline,
                    });
                }
                '[' => current.push(Node::Class(self.parse_class()?)),
                '*' | '+' | '?' => {
                    self.bump();
                    if self.peek() == Some('?') {
                        self.bump();
                    }
                    if let Some(previous) = last_repeat {
                        return Err(RegexpError::InvalidRepeatOp(self.since(previous)));
                    }
                    let Some(atom) = current.pop() else {
                        return Err(RegexpError::MissingRepeatArgument(self.since(start)));
                    };
                    let repeat = match ch {
                        '*' => Repeat::ZeroOrMore,
                        '+' => Repeat::OneOrMore,
                        _ => Repeat::ZeroOrOne,
                    };
                    current.push(Node::Repeat(Box::new(atom), repeat));
                    repeat_at = Some(start);
                }
                '\\' => self.parse_backslash(&mut current)?,
                other => {
                    self.bump();
                    current.push(Node::Literal(u32::from(other)));
                }
            }
            last_repeat = repeat_at;
        }
        if !outer.is_empty() {
            return Err(RegexpError::MissingParen(self.source.to_owned()));
        }
        Ok(current)
    }

    /// A backslash outside a class: Perl's zero-width and quoting escapes
    /// first, then Unicode and Perl groups, then single-character escapes.
    fn parse_backslash(&mut self, out: &mut Vec<Node>) -> Result<(), RegexpError> {
        let after = self.rest().chars().nth(1);
        let assertion = match after {
            Some('A') => Some(Assertion::BeginText),
            Some('z') => Some(Assertion::EndText),
            Some('b') => Some(Assertion::WordBoundary),
            Some('B') => Some(Assertion::NotWordBoundary),
            _ => None,
        };
        if let Some(assertion) = assertion {
            self.at += 2;
            out.push(Node::Assert(assertion));
            return Ok(());
        }
        match after {
            Some('C') => Err(RegexpError::InvalidEscape("\\C".to_owned())),
            Some('Q') => {
                let quoted = &self.rest()[2..];
                let (literal, consumed) = match quoted.find("\\E") {
                    Some(end) => (&quoted[..end], end + 2),
                    None => (quoted, quoted.len()),
                };
                out.extend(literal.chars().map(|ch| Node::Literal(u32::from(ch))));
                self.at += 2 + consumed;
                Ok(())
            }
            Some('p' | 'P') => Err(self.unicode_class_error()),
            _ => {
                if let Some(class) = perl_class(self.rest()) {
                    self.at += 2;
                    out.push(Node::Class(class));
                } else {
                    out.push(Node::Literal(self.parse_escape()?));
                }
                Ok(())
            }
        }
    }

    /// `\p` or `\P` at the cursor: a one-letter Unicode category (which this
    /// engine does not implement) or a name RE2 rejects.
    fn unicode_class_error(&self) -> RegexpError {
        let text: String = self.rest().chars().take(3).collect();
        match text.chars().nth(2) {
            Some('C' | 'L' | 'M' | 'N' | 'P' | 'S' | 'Z' | '{') => RegexpError::Unsupported(text),
            _ => RegexpError::InvalidCharRange(text),
        }
    }

    /// A single-character escape at the cursor (which is on the `\`).
    fn parse_escape(&mut self) -> Result<u32, RegexpError> {
        let start = self.at;
        self.bump();
        let Some(ch) = self.bump() else {
            return Err(RegexpError::TrailingBackslash);
        };
        if ch.is_ascii() && !ch.is_ascii_alphanumeric() {
            return Ok(u32::from(ch));
        }
        let octal = |c: Option<char>| c.and_then(|c| c.to_digit(8));
        let value = match ch {
            '1'..='7' if octal(self.peek()).is_none() => None,
            '0'..='7' => {
                let mut value = u32::from(ch) - u32::from('0');
                for _ in 0..2 {
                    let Some(digit) = octal(self.peek()) else {
                        break;
                    };
                    self.bump();
                    value = value * 8 + digit;
                }
                Some(value)
            }
            'x' => self.parse_hex(),
            'a' => Some(7),
            'f' => Some(12),
            'n' => Some(10),
            'r' => Some(13),
            't' => Some(9),
            'v' => Some(11),
            _ => None,
        };
        value.ok_or_else(|| RegexpError::InvalidEscape(self.since(start)))
    }

    /// The digits of `\x`: two hex digits, or any number in braces.
    fn parse_hex(&mut self) -> Option<u32> {
        let first = self.bump()?;
        if first != '{' {
            let high = first.to_digit(16);
            let low = self.bump().and_then(|c| c.to_digit(16));
            return Some(high? * 16 + low?);
        }
        let mut value = 0u32;
        let mut digits = 0;
        loop {
            let ch = self.bump()?;
            if ch == '}' {
                break;
            }
            value = value * 16 + ch.to_digit(16)?;
            if value > 0x10_FFFF {
                return None;
            }
            digits += 1;
        }
        (digits > 0).then_some(value)
    }

    /// A bracketed class; the cursor is on the `[`.
    fn parse_class(&mut self) -> Result<Class, RegexpError> {
        let start = self.at;
        self.bump();
        let mut class = Class::default();
        if self.peek() == Some('^') {
            self.bump();
            class.negated = true;
        }
        let mut first = true;
        loop {
            let rest = self.rest();
            if rest.starts_with(']') && !first {
                self.bump();
                return Ok(class);
            }
            first = false;
            if rest.len() > 2 && rest.starts_with("[:") {
                if let Some(end) = rest[2..].find(":]") {
                    let name = &rest[..end + 4];
                    let ranges = posix_class(name)
                        .ok_or_else(|| RegexpError::InvalidCharRange(name.to_owned()))?;
                    class.ranges.extend(ranges.ranges);
                    self.at += name.len();
                    continue;
                }
            }
            if rest.starts_with("\\p") || rest.starts_with("\\P") {
                return Err(self.unicode_class_error());
            }
            if let Some(group) = perl_class(rest) {
                class.ranges.extend(group.ranges);
                self.at += 2;
                continue;
            }
            let range_start = self.at;
            let lo = self.class_char(start)?;
            let mut hi = lo;
            let rest = self.rest();
            if rest.len() >= 2 && rest.starts_with('-') && !rest[1..].starts_with(']') {
                self.bump();
                hi = self.class_char(start)?;
                if hi < lo {
                    return Err(RegexpError::InvalidCharRange(self.since(range_start)));
                }
            }
            class.ranges.push((lo, hi));
        }
    }

    fn class_char(&mut self, class_start: usize) -> Result<u32, RegexpError> {
        match self.peek() {
            None => Err(RegexpError::MissingBracket(
                self.source[class_start..].to_owned(),
            )),
            Some('\\') => self.parse_escape(),
            Some(ch) => {
                self.bump();
                Ok(u32::from(ch))
            }
        }
    }
}

/// `\d` `\s` `\w` and their negations (ASCII only, as in RE2) at the start
/// of `text`.
fn perl_class(text: &str) -> Option<Class> {
    let mut chars = text.chars();
    if chars.next() != Some('\\') {
        return None;
    }
    let letter = chars.next()?;
    let ranges: &[(u32, u32)] = match letter.to_ascii_lowercase() {
        'd' => &[(0x30, 0x39)],
        's' => &[(0x09, 0x0a), (0x0c, 0x0d), (0x20, 0x20)],
        'w' => &[(0x30, 0x39), (0x41, 0x5a), (0x5f, 0x5f), (0x61, 0x7a)],
        _ => return None,
    };
    Some(group(ranges, letter.is_ascii_uppercase()))
}

/// `[:name:]` and `[:^name:]` (ASCII only, as in RE2).
fn posix_class(name: &str) -> Option<Class> {
    let inner = name.strip_prefix("[:")?.strip_suffix(":]")?;
    let (negated, inner) = match inner.strip_prefix('^') {
        Some(rest) => (true, rest),
        None => (false, inner),
    };
    let ranges: &[(u32, u32)] = match inner {
        "alnum" => &[(0x30, 0x39), (0x41, 0x5a), (0x61, 0x7a)],
        "alpha" => &[(0x41, 0x5a), (0x61, 0x7a)],
        "ascii" => &[(0x00, 0x7f)],
        "blank" => &[(0x09, 0x09), (0x20, 0x20)],
        "cntrl" => &[(0x00, 0x1f), (0x7f, 0x7f)],
        "digit" => &[(0x30, 0x39)],
        "graph" => &[(0x21, 0x7e)],
        "lower" => &[(0x61, 0x7a)],
        "print" => &[(0x20, 0x7e)],
        "punct" => &[(0x21, 0x2f), (0x3a, 0x40), (0x5b, 0x60), (0x7b, 0x7e)],
        "space" => &[(0x09, 0x0d), (0x20, 0x20)],
        "upper" => &[(0x41, 0x5a)],
        "word" => &[(0x30, 0x39), (0x41, 0x5a), (0x5f, 0x5f), (0x61, 0x7a)],
        "xdigit" => &[(0x30, 0x39), (0x41, 0x46), (0x61, 0x66)],
        _ => return None,
    };
    Some(group(ranges, negated))
}

/// A group's ranges, complemented over all code points when negated, so it
/// can be merged into an enclosing class.
fn group(ranges: &[(u32, u32)], negated: bool) -> Class {
    if !negated {
        return Class {
            ranges: ranges.to_vec(),
            negated: false,
        };
    }
    let mut complement = Vec::new();
    let mut next = 0u32;
    for &(lo, hi) in ranges {
        if lo > next {
            complement.push((next, lo - 1));
        }
        next = hi + 1;
    }
    complement.push((next, 0x10_FFFF));
    Class {
        ranges: complement,
        negated: false,
    }
}
