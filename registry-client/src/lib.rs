//! The OCI distribution protocol and registry authentication.
//!
//! Knows neither builds nor the store. Today: [`ImageRef`], image references
//! normalized as docker normalizes them, and the crate's [`Error`].

pub mod reference;

pub use reference::{Error, ImageRef, Result};
