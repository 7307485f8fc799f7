//! The runner boundary: RUN steps execute through an [`Executor`], given
//! to [`crate::solve`] in [`crate::SolveOptions`]. [`SandboxExecutor`]
//! runs the command with [`rdock_runner::run`]; tests inject a fake that
//! counts how often a step really ran.

use rdock_runner::{Outcome, RunSpec};

/// Runs one RUN command in its sandbox (the spec's lower and upper dirs).
pub trait Executor: std::fmt::Debug + Sync {
    fn run(&self, spec: &RunSpec) -> rdock_runner::Result<Outcome>;
}

/// The real executor: namespaces, overlay, pivot_root.
#[derive(Debug, Clone, Copy, Default)]
pub struct SandboxExecutor;

impl Executor for SandboxExecutor {
    fn run(&self, spec: &RunSpec) -> rdock_runner::Result<Outcome> {
        rdock_runner::run(spec)
    }
}
