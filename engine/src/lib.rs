//! What the CLI (and later a daemon) calls: images, containers, build,
//! pull and push. Ties builder, cache, runner and registry-client together.
//!
//! Today: [`check`] reads a build's Dockerfile and context ignore rules and
//! runs the build checks.

mod check;
mod error;

pub use check::{check, BuildRequest, CheckOutcome};
pub use error::{Error, Result};
