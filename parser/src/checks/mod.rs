//! Stage three: BuildKit's build checks (`docker build --check`).
//!
//! [`CheckConfig`] reads the `# check=` directive, [`Rule`] names each rule
//! with its text and link, [`check`] and [`lint`] run them over a
//! Dockerfile, and [`CheckReport`] holds and renders the findings.

mod config;
mod dispatch;
mod eval;
mod parse_checks;
mod report;
mod rules;
mod stages;
mod support;

pub use config::{CheckConfig, CheckConfigError};
pub use eval::{check, lint, CheckOptions, ImageEnvLookup};
pub use report::{CheckReport, Finding};
pub use rules::Rule;
