//! The `rdock` binary. `rbuild` and `rrun` are the same binary: called by
//! those names it behaves as `rdock build` and `rdock run`.

mod cli;
mod commands;

use std::ffi::OsString;
use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let args = cli::with_alias(std::env::args_os().collect::<Vec<OsString>>());
    let cli = match cli::Cli::try_parse_from(args) {
        Ok(cli) => cli,
        // Usage errors exit 125, as docker's do (2 is clap's default);
        // --help and --version still exit 0.
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 125 } else { 0 });
        }
    };
    match commands::dispatch(cli) {
        Ok(code) => code,
        Err(err) => {
            commands::report(&err);
            ExitCode::FAILURE
        }
    }
}
