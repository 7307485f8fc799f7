//! `rdock build` / `rbuild`.

use std::io::Write;
use std::process::ExitCode;

use crate::cli::BuildArgs;

pub fn run(args: BuildArgs) -> anyhow::Result<ExitCode> {
    let req = rdock_engine::BuildRequest {
        context: args.context,
        dockerfile: args.file,
        target: args.target,
        build_args: args.build_args,
    };
    if !args.check {
        anyhow::bail!("building images is not available yet: only `--check` works in this version");
    }
    let outcome = rdock_engine::check(&req)?;
    let shown = outcome.dockerfile.display().to_string();
    let mut out = std::io::stdout().lock();
    out.write_all(outcome.report.render(&shown, &outcome.source).as_bytes())?;
    if let Some(err) = &outcome.report.error {
        anyhow::bail!("{}", err.render(&shown, &outcome.source));
    }
    if let Some(violation) = outcome.report.violation() {
        anyhow::bail!("{violation}");
    }
    Ok(ExitCode::SUCCESS)
}
