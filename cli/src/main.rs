//! The `rdock` binary. `rbuild` and `rrun` are the same binary: called by
//! those names it behaves as `rdock build` and `rdock run`.

mod cli;
mod commands;

use std::ffi::OsString;
use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let args = cli::with_alias(std::env::args_os().collect::<Vec<OsString>>());
    let cli = cli::Cli::parse_from(args);
    match commands::dispatch(cli) {
        Ok(code) => code,
        Err(err) => {
            commands::report(&err);
            ExitCode::FAILURE
        }
    }
}
