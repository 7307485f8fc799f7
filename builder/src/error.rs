//! The builder's error type: [`Error`] and its [`Result`] alias.

use std::path::PathBuf;

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Why a build failed. Step errors name the step as BuildKit shows it
/// (`[stage 2/4] RUN make`).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An instruction of the Dockerfile failed: `line` is its first line
    /// (1-based), so the caller can name the file and line.
    #[error("Dockerfile line {line}")]
    Instruction {
        line: usize,
        #[source]
        error: Box<Error>,
    },
    /// FROM's image expands to nothing (BuildKit's words).
    #[error("base name ({0}) should not be blank")]
    BlankBase(String),
    /// The Dockerfile has no FROM.
    #[error("dockerfile contains no stages to build")]
    NoStages,
    /// `--target` names no stage.
    #[error("target stage {} could not be found{}", rdock_parser::go_quote(.target), .suggestion.as_ref().map(|s| format!(" (did you mean {s}?)")).unwrap_or_default())]
    UnknownTarget {
        target: String,
        /// The closest stage name, as BuildKit suggests it.
        suggestion: Option<String>,
    },
    /// `COPY --from` holds something expansion would change: BuildKit
    /// refuses it rather than expand it.
    #[error("variable expansion is not supported for --from, define a new stage with FROM using ARG from global scope as a workaround")]
    FromExpansion,
    /// Stages depend on each other in a cycle.
    #[error("circular dependency detected on stage: {0}")]
    Cycle(String),
    /// BuildKit dispatches stages in file order, so a source must come first.
    #[error("cannot copy from stage {}, it needs to be defined before current stage {}", rdock_parser::go_quote(.from), rdock_parser::go_quote(.stage))]
    CopyFromLaterStage { from: String, stage: String },
    /// A word could not be expanded.
    #[error("{step}: expanding {word:?}")]
    Expand {
        step: String,
        word: String,
        source: rdock_parser::shell::ExpandError,
    },
    /// `FROM --platform` is not a platform.
    #[error("stage {stage}: failed to parse platform {platform}: {reason}")]
    Platform {
        stage: String,
        platform: String,
        reason: String,
    },
    /// A RUN of a stage for another platform: rdock does not emulate.
    #[error("RUN: cannot run {platform} commands on this {host} host (rdock does not emulate other platforms)")]
    ForeignPlatform { platform: String, host: String },
    /// `FROM --platform` or `--platform` names another platform than the
    /// local base image has (rdock neither pulls per platform nor emulates).
    #[error("stage {stage}: base image {image} is {actual}, not the requested {wanted} (rdock does not emulate other platforms)")]
    PlatformMismatch {
        stage: String,
        image: String,
        actual: String,
        wanted: String,
    },
    /// A base image the plan needs was not given to [`crate::solve`].
    #[error("base image {0} was not resolved")]
    MissingBase(String),
    /// The instruction or flag is not built by rdock yet.
    #[error("{step}: {what} is not supported yet")]
    Unsupported { step: String, what: String },
    /// An ONBUILD trigger of the base is not a valid instruction.
    #[error("parsing ONBUILD trigger {expression:?}: {reason}")]
    InvalidTrigger { expression: String, reason: String },
    /// A RUN command exited with a non-zero code.
    #[error("process {} did not complete successfully: exit code: {code}{}", rdock_parser::go_quote(.command), render_output(.output))]
    RunFailed {
        step: String,
        command: String,
        code: i32,
        /// The last lines of the command's output.
        output: String,
    },
    /// A RUN command could not be started.
    #[error("{step}: running the command")]
    Runner {
        step: String,
        source: rdock_runner::Error,
    },
    /// A required `RUN --mount=type=secret` was not given with `--secret`.
    #[error("secret {id}: not found")]
    SecretNotFound { id: String },
    /// A required `RUN --mount=type=ssh` was not given with `--ssh`.
    #[error("no SSH key {id} forwarded from the client")]
    SshNotForwarded { id: String },
    /// A COPY or ADD source does not exist.
    #[error("{step}: failed to compute cache key: \"{source_path}\": not found")]
    SourceNotFound { step: String, source_path: String },
    /// A COPY or ADD source exists in the context but `.dockerignore`
    /// leaves it out: the message names the pattern, the usual surprise.
    #[error("{step}: failed to compute cache key: \"{source_path}\": not found (excluded by .dockerignore pattern {pattern:?})")]
    SourceIgnored {
        step: String,
        source_path: String,
        pattern: String,
    },
    /// COPY would put a directory where the stage has a file or symlink
    /// (`dir`), or a file where it has a directory: BuildKit's copier
    /// refuses both, with these words.
    #[error("{step}: {}", if *.dir { format!("cannot copy to non-directory: {}", .path.display()) } else { format!("cannot replace to directory {} with file", .path.display()) })]
    CopyConflict {
        step: String,
        path: PathBuf,
        dir: bool,
    },
    /// A destination path goes round a loop of symlinks.
    #[error("{step}: {path}: too many levels of symbolic links")]
    SymlinkLoop { step: String, path: String },
    /// STOPSIGNAL names no signal (BuildKit's words).
    #[error("invalid signal: {0}")]
    InvalidSignal(String),
    /// A `--chown` user or group is unknown, or `--chmod` is invalid.
    #[error("{step}: {reason}")]
    InvalidFlag { step: String, reason: String },
    /// A file system operation of a step failed.
    #[error("{step}: {action} {}", .path.display())]
    Io {
        step: String,
        action: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    /// An ADD URL could not be downloaded.
    #[error("{step}: fetching {url}")]
    Fetch {
        step: String,
        url: String,
        source: crate::FetchError,
    },
    /// An ADD URL's content does not have the `--checksum` digest.
    #[error("{step}: digest mismatch for {url}: {actual} (expected: {expected})")]
    ChecksumMismatch {
        step: String,
        url: String,
        expected: String,
        actual: String,
    },
    /// The `.dockerignore` patterns could not be applied.
    #[error("matching .dockerignore patterns")]
    Ignore(#[from] rdock_parser::dockerignore::PatternError),
    /// The content store failed.
    #[error(transparent)]
    Store(#[from] rdock_cache::Error),
}

impl Error {
    /// The error itself, without the [`Error::Instruction`] that says where.
    pub fn cause(&self) -> &Error {
        match self {
            Error::Instruction { error, .. } => error.cause(),
            e => e,
        }
    }
}

fn render_output(output: &str) -> String {
    if output.is_empty() {
        String::new()
    } else {
        format!("\n{output}")
    }
}
