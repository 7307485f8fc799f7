//! Dockerfile parser: BuildKit's front end, in Rust.
//!
//! The pipeline has one public function per stage, each testable alone:
//! [`parse`] turns text into [`Node`]s (directives, continuations, heredocs,
//! exec versus shell form), [`instructions::parse_dockerfile`] turns nodes
//! into typed [`instructions::Instruction`]s grouped in stages, and
//! [`checks::lint`] runs BuildKit's build checks. The [`shell`] module expands
//! variables and splits words exactly as BuildKit's lexer does. No I/O.

mod ast;
pub mod checks;
pub mod conformance;
pub mod dockerignore;
mod error;
pub mod platform;
mod quote;
mod render;
pub mod scope;
pub mod shell;
mod suggest;
mod syntax;

pub mod instructions;

pub use ast::{Args, Directive, Dockerfile, Heredoc, KeyValue, Node, ParseWarning, Position, Span};
pub use error::{Error, ErrorKind, Result};
pub use platform::Platform;
pub use quote::go_quote;
pub use suggest::suggest;
pub use syntax::{parse, parse_heredoc};
