//! One function per command: build a request, call one library function,
//! render the result, pick the exit code.

mod build;
mod debug;

use std::process::ExitCode;

use crate::cli::{Cli, Command, DebugCommand};

pub fn dispatch(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Build(args) => build::run(args),
        Command::Run(args) => anyhow::bail!(
            "cannot run {}: running containers is not available in this version yet",
            args.image
        ),
        Command::Debug(DebugCommand::Parse { json, file }) => debug::parse(&file, json),
    }
}

/// Prints an error and its causes on one line each, as `rdock: ...`.
#[allow(clippy::print_stderr)]
pub fn report(err: &anyhow::Error) {
    eprintln!("rdock: {err:#}");
}
