//! The OCI distribution protocol and registry authentication.
//!
//! Knows neither builds nor the store. Filled in by the registries issue.
