//! Dockerfile parser (placeholder while the crate is assembled).
pub mod shell;
