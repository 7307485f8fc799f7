//! The `rdock` binary. `rbuild` and `rrun` are the same binary: called by
//! those names it behaves as `rdock build` and `rdock run`.

mod cli;
mod commands;

use std::ffi::OsString;
use std::io::Write;
use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let args = cli::with_alias(std::env::args_os().collect::<Vec<OsString>>());
    let cli = match cli::Cli::try_parse_from(args) {
        Ok(cli) => cli,
        // Usage errors exit 125, as docker's do (2 is clap's default);
        // --help and --version still exit 0.
        Err(e) => {
            if let Some(line) = one_line(&e) {
                let _ = writeln!(std::io::stderr(), "rdock: {line}");
            } else {
                let _ = e.print();
            }
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

/// A bad flag value as one line (the bad-input rule), without
/// clap's usage hint; other usage errors keep clap's rendering.
fn one_line(e: &clap::Error) -> Option<String> {
    use clap::error::ErrorKind as K;
    let value_error = matches!(
        e.kind(),
        K::InvalidValue | K::ValueValidation | K::InvalidUtf8 | K::NoEquals
    );
    let text = e.render().to_string();
    let first = text.lines().next()?;
    value_error.then(|| first.trim_start_matches("error: ").to_owned())
}
