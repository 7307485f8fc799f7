//! Dockerfile to build graph to layers and image.
//!
//! Filled in by the rbuild issue; today it re-exports the parse stage it
//! starts from.
pub use rdock_parser as parser;
