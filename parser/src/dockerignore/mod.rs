//! `.dockerignore` files, read and matched exactly as Docker and BuildKit do.
//!
//! [`read_patterns`] turns the file's text into rules (moby's
//! `ignorefile.ReadAll`, which BuildKit's `dockerignore.ReadAll` wraps);
//! [`PatternMatcher`] compiles them and decides whether a context path is
//! excluded (moby/patternmatcher's `New` and `MatchesOrParentMatches`),
//! naming the deciding [`Pattern`]. Invalid rules give a [`PatternError`].
//! Pure functions of text: no I/O.
//!
//! patternmatcher turns each wildcard rule into a Go regular expression;
//! this module builds the same expression text ([`Pattern::regexp`]) and
//! runs it on its own small RE2-compatible engine, so odd rules keep their
//! Docker meaning. Known differences: Unicode category escapes such as
//! `\pL` are rejected ([`RegexpError::Unsupported`]) and lines longer than
//! 64 KiB are accepted. Paths are Unix-style (Docker's Windows rules differ).
//! Reference: moby/patternmatcher 5a6d8429a19b, buildkit 73ed6825c4b7.
//!
//! ```
//! use rdock_parser::dockerignore::{read_patterns, PatternMatcher};
//!
//! let rules = read_patterns("# build output\n/target\n*.log\n!keep.log\n");
//! assert_eq!(rules, ["target", "*.log", "!keep.log"]);
//! let matcher = PatternMatcher::new(&rules).unwrap();
//! assert!(matcher.matches("target/debug/rdock").unwrap());
//! assert!(!matcher.matches("keep.log").unwrap());
//! let rule = matcher.matching_pattern("build.log").unwrap().unwrap();
//! assert_eq!((rule.index(), rule.as_str()), (1, "*.log"));
//! ```

mod glob;
mod matcher;
mod path;
mod reader;
mod regexp;

pub use glob::{MatchKind, Pattern};
pub use matcher::PatternMatcher;
pub use reader::read_patterns;
pub use regexp::RegexpError;

use crate::quote::go_quote;

/// Why a rule was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PatternError {
    /// A rule that is only `!` (patternmatcher's own message).
    #[error("illegal exclusion pattern: \"!\"")]
    IllegalExclusion,
    /// Rejected by Go's `filepath.Match` syntax (an unclosed `[`, a
    /// trailing `\`, a class starting with `-` or `]`, ...), when compiling.
    #[error("syntax error in pattern {}", go_quote(.pattern))]
    Syntax {
        /// The cleaned rule, without its `!`.
        pattern: String,
    },
    /// The rule's translation is not a valid regular expression (for
    /// example `[z-a]`); patternmatcher reports it when the rule is first
    /// consulted, and so does [`PatternMatcher::matches`].
    #[error("syntax error in pattern {}: error parsing regexp: {source}", go_quote(.pattern))]
    Regexp {
        /// The cleaned rule, without its `!`.
        pattern: String,
        /// What the regular-expression parser objected to.
        source: RegexpError,
    },
}
