//! FROM and build-stage names: [`From`] (`FROM [--platform=p] image [AS
//! name]`) and the validating [`StageName`] newtype, lower-cased and
//! matching BuildKit's `^[a-z][a-z0-9-_.]*$`.

use std::fmt;
use std::str::FromStr;

use serde::Serialize;

use super::{Failure, InstructionError, Request};
use crate::ast::Span;

/// A build stage name: lower-cased, a letter then letters, digits, `-`, `_`
/// or `.`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct StageName(String);

impl StageName {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for StageName {
    type Err = InstructionError;

    /// Lower-cases `s` (stage names are case-insensitive) and checks it.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let lower = go_lower(s);
        let mut chars = lower.chars();
        let valid = chars.next().is_some_and(|c| c.is_ascii_lowercase())
            && chars.all(|c| {
                c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '-' | '_' | '.')
            });
        if valid {
            Ok(StageName(lower))
        } else {
            Err(InstructionError::InvalidStageName(s.to_string()))
        }
    }
}

impl fmt::Display for StageName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for StageName {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

/// Lower-cases one character at a time, as Go's `strings.ToLower` does
/// (a character never becomes two).
fn go_lower(s: &str) -> String {
    s.chars()
        .map(|c| c.to_lowercase().next().unwrap_or(c))
        .collect()
}

/// `as` in any case, with Unicode case folding as Go's `strings.EqualFold`
/// (where the long s `ſ` folds to `s`).
fn is_as(word: &str) -> bool {
    let mut chars = word.chars();
    matches!(
        (chars.next(), chars.next(), chars.next()),
        (Some('a' | 'A'), Some('s' | 'S' | '\u{17f}'), None)
    )
}

/// `FROM [--platform=<platform>] <image> [AS <name>]`
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct From {
    pub keyword: String,
    pub span: Span,
    /// The base image or stage, as written (variables unexpanded).
    pub base: String,
    /// `--platform`, as written; `None` when absent or empty.
    pub platform: Option<String>,
    /// The stage name, lower-cased.
    pub name: Option<StageName>,
    /// The `AS` word as written (for casing checks).
    pub as_keyword: Option<String>,
    /// The stage name as written, before lower-casing.
    pub name_as_written: Option<String>,
}

pub(crate) fn parse_from(mut req: Request<'_>) -> Result<From, Failure> {
    let (name, as_keyword, name_as_written) = match req.args.as_slice() {
        [_, as_word, name] if is_as(as_word) => (
            Some(name.parse::<StageName>()?),
            Some(as_word.clone()),
            Some(name.clone()),
        ),
        [_] => (None, None, None),
        _ => return Err(InstructionError::FromArguments.into()),
    };
    req.flags.add_string("platform", "");
    req.flags.parse()?;
    Ok(From {
        keyword: req.keyword(),
        span: req.span(),
        base: req.args[0].clone(),
        platform: req.flags.non_empty("platform"),
        name,
        as_keyword,
        name_as_written,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stage_names() {
        assert_eq!(
            "Build-1.x_y".parse::<StageName>().unwrap().as_str(),
            "build-1.x_y"
        );
        assert_eq!("İmage".parse::<StageName>().unwrap().to_string(), "image");
        for bad in ["1st", "", "a b", "a/b", "-a", "a:b", "ü"] {
            let err = bad.parse::<StageName>().unwrap_err();
            assert!(matches!(err, InstructionError::InvalidStageName(ref s) if s == bad));
        }
        assert_eq!(
            "1st".parse::<StageName>().unwrap_err().to_string(),
            "invalid name for build stage: \"1st\", name can't start with a number or contain symbols"
        );
    }
}
