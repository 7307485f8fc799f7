//! Stage three: BuildKit's build checks (`docker build --check`).
//!
//! [`CheckConfig`] reads the `# check=` directive, [`Rule`] names each rule
//! with its text and link, [`check`] runs them over a Dockerfile, and
//! [`CheckReport`] holds and renders the findings.

mod config;
mod eval;
mod report;
mod rules;
mod suggest;
mod support;

pub use config::{CheckConfig, CheckConfigError};
pub use eval::{check, CheckOptions, ImageEnvLookup};
pub use report::{CheckReport, Finding};
pub use rules::Rule;
pub use suggest::{levenshtein, suggest};
