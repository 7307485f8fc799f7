//! The crate's error type: every front-end error carries the span of the
//! Dockerfile lines it concerns, and can be rendered with the offending line.

use crate::ast::Span;
use crate::shell::ExpandError;

/// Result alias of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A Dockerfile error at a place in the file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {}: {kind}", .span.start.line)]
pub struct Error {
    /// Where: lines (1-based) and, when known, the column of the culprit.
    pub span: Span,
    /// What went wrong.
    pub kind: ErrorKind,
}

/// The causes of parse errors. The texts of the syntax-stage causes are
/// BuildKit's own, so tools comparing messages see the same words.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ErrorKind {
    #[error("file with no instructions")]
    NoInstructions,
    #[error("dockerfile line greater than max allowed size of 65535")]
    LineTooLong,
    #[error("only one {0} parser directive can be used")]
    DuplicateDirective(String),
    #[error("invalid escape token '{0}' does not match ` or \\")]
    InvalidEscapeToken(String),
    #[error("when using JSON array syntax, arrays must be comprised of strings only")]
    JsonNotStringArray,
    #[error("{0} must have two arguments")]
    MissingValue(&'static str),
    #[error("Syntax error - can't find = in {}. Must be of the form: name=value", crate::quote::go_quote(.0))]
    MissingEquals(String),
    #[error("unterminated heredoc")]
    UnterminatedHeredoc,
    #[error("{0}")]
    Heredoc(ExpandError),
    #[error("{0}")]
    Instruction(#[from] crate::instructions::InstructionError),
    #[error("failed to parse check options: {0}")]
    CheckConfig(crate::checks::CheckConfigError),
    #[error("{0}")]
    Expansion(ExpandError),
    #[error("base name ({0}) should not be blank")]
    BlankBaseName(String),
    #[error("failed to parse build-arg:BUILDKIT_DOCKERFILE_CHECK: {0}")]
    CheckConfigArg(crate::checks::CheckConfigError),
    #[error("empty platform value from expression {expression}{}", .suggestion.as_ref().map(|s| format!(" (did you mean {s}?)")).unwrap_or_default())]
    EmptyPlatform {
        expression: String,
        /// A declared ARG close to an undefined one the expression uses.
        suggestion: Option<String>,
    },
    #[error("failed to parse platform {expression}: {source}{}", .suggestion.as_ref().map(|s| format!(" (did you mean {s}?)")).unwrap_or_default())]
    BadPlatform {
        expression: String,
        source: Box<crate::platform::PlatformError>,
        suggestion: Option<String>,
    },
    #[error("target stage {} could not be found{}", crate::quote::go_quote(.target), .suggestion.as_ref().map(|s| format!(" (did you mean {s}?)")).unwrap_or_default())]
    UnknownTarget {
        target: String,
        suggestion: Option<String>,
    },
    #[error("cannot copy from stage {}, it needs to be defined before current stage {}", crate::quote::go_quote(.from), crate::quote::go_quote(.stage))]
    CopyFromLaterStage { from: String, stage: String },
    #[error("invalid stage index {0}")]
    StageIndex(String),
    #[error("variable expansion is not supported for --from, define a new stage with FROM using ARG from global scope as a workaround")]
    CopyFromVariable,
    #[error("circular dependency detected on stage: {0}")]
    CircularDependency(String),
    #[error("{0}")]
    InvalidPort(String),
}

impl Error {
    pub(crate) fn new(span: Span, kind: ErrorKind) -> Self {
        Error { span, kind }
    }

    /// Renders the error as a compiler would: `FILE:LINE:COL: message`, then
    /// the offending source lines with a caret under the column when known.
    pub fn render(&self, file: &str, source: &[u8]) -> String {
        crate::render::render_diagnostic(file, source, self.span, &self.kind.to_string())
    }
}
