//! Errors raised while expanding a shell word.
//!
//! Every variant corresponds to one failure cause in BuildKit's
//! `frontend/dockerfile/shell/lex.go`, and its `Display` text is the message
//! BuildKit produces for that cause. BuildKit additionally wraps every error as
//! `failed to process "<word>": <message>`; that outer context is left to the
//! caller, which knows the word and how it wants to quote it.

use thiserror::Error;

/// Why a shell word could not be expanded.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum ExpandError {
    /// A `'` was opened but never closed.
    #[error("unexpected end of statement while looking for matching single-quote")]
    UnterminatedSingleQuote,

    /// A `"` was opened but never closed.
    #[error("unexpected end of statement while looking for matching double-quote")]
    UnterminatedDoubleQuote,

    /// The input ended inside `${...}` before the closing `}`.
    #[error("syntax error: missing '}}'")]
    MissingBrace,

    /// The input ended inside `${name/pattern/...}` before the `/` that ends the
    /// pattern.
    #[error("syntax error: missing '/' in ${{}}")]
    MissingSlash,

    /// `${}`, `${{...}`, `${:...}`: no parameter name where one is required.
    #[error("syntax error: bad substitution")]
    BadSubstitution,

    /// An operator after the parameter name that is not supported, such as
    /// `${name=word}`, `${name:=word}`, `${name:#pattern}` or `${name.}`.
    ///
    /// `modifier` is the operator text as BuildKit reports it (for example
    /// `:=`). Where the input ended instead of giving an operator, BuildKit
    /// prints its end-of-input marker as U+FFFD, and so does this.
    #[error("unsupported modifier ({modifier}) in substitution")]
    UnsupportedModifier {
        /// The operator text.
        modifier: String,
    },

    /// `${name?message}` with `name` unset, or `${name:?message}` with `name`
    /// unset or empty.
    ///
    /// `message` is the expanded message, or BuildKit's default text
    /// (`is not allowed to be unset` / `is not allowed to be empty`) when none
    /// was given.
    #[error("{name}: {message}")]
    RequiredVariable {
        /// The variable that was required.
        name: String,
        /// The expanded message (or the default text).
        message: String,
    },

    /// The pattern of `${name#pattern}`, `${name%pattern}` or
    /// `${name/pattern/replacement}` contains a backslash that escapes
    /// something other than `*`, `?` or `\` (or ends with a lone backslash).
    ///
    /// `pattern` is the pattern text as BuildKit reports it: for `%` and `%%`
    /// BuildKit matches a reversed pattern against the reversed value, and it
    /// reports that reversed pattern.
    #[error(
        "invalid pattern ({pattern}) in substitution: invalid escape '\\{}'",
        escaped.unwrap_or(char::REPLACEMENT_CHARACTER)
    )]
    InvalidPattern {
        /// The pattern text.
        pattern: String,
        /// The character after the backslash; `None` when the backslash was
        /// the last character (shown as U+FFFD, as BuildKit does).
        escaped: Option<char>,
    },

    /// `${...}` expressions nested deeper than [`MAX_NESTING`](super::MAX_NESTING).
    ///
    /// BuildKit has no such limit (Go's stacks grow without bound); this crate
    /// refuses absurdly deep nesting rather than risk overflowing the stack.
    #[error("substitutions nested more than {limit} levels deep")]
    NestingTooDeep {
        /// The limit that was exceeded.
        limit: usize,
    },
}
