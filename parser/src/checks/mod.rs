//! Stage three: BuildKit's build checks (`docker build --check`).
//!
//! [`CheckConfig`] reads the `# check=` directive, [`Rule`] names each rule
//! with its text and link, and [`CheckReport`] holds and renders findings.

mod config;
mod report;
mod rules;
mod suggest;

pub use config::{CheckConfig, CheckConfigError};
pub use report::{CheckReport, Finding};
pub use rules::Rule;
pub use suggest::{levenshtein, suggest};
