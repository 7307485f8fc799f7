//! The engine's error type.

use std::path::PathBuf;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("reading {}", .path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{rendered}")]
    Dockerfile {
        /// The parser's error, rendered with file, line and source.
        rendered: String,
        /// The error itself (not a `source`: `rendered` already says it all).
        error: Box<rdock_parser::Error>,
    },
    #[error("reading ignore rules in {}", .path.display())]
    Dockerignore {
        path: PathBuf,
        source: rdock_parser::dockerignore::PatternError,
    },
    #[error("invalid --build-arg {0:?}: expected NAME=VALUE or NAME")]
    BuildArg(String),
}
