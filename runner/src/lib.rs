//! Runs one process isolated in a root filesystem (namespaces, mounts,
//! networking). The only crate allowed syscalls and `unsafe`.
//!
//! Filled in by the rbuild (RUN sandbox) and rrun issues.
#![allow(unsafe_code)]
