//! End-to-end tests of the real binaries live in `tests/`; this crate has no library code.
