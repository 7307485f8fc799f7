//! One function per command: build a request, call one library function,
//! render the result, pick the exit code.

mod archive;
mod build;
mod build_opts;
mod debug;
mod images;
mod progress;
mod render;
mod store;

use std::process::ExitCode;

use crate::cli::{Cli, Command, DebugCommand, StoreCommand};

pub fn dispatch(cli: Cli) -> anyhow::Result<ExitCode> {
    let store = || rdock_engine::open_store(cli.root.clone());
    match &cli.command {
        Command::Load(args) => archive::load(&store()?, args),
        Command::Import(args) => archive::import(&store()?, args),
        Command::Save(args) => archive::save(&store()?, args),
        Command::Images(args) => images::list(&store()?, args),
        Command::Tag(args) => images::tag(&store()?, args),
        Command::Rmi(args) => images::rmi(&store()?, args),
        Command::Inspect(args) => images::inspect(&store()?, args),
        Command::Prune => store::prune(&store()?),
        Command::Store(StoreCommand::Verify) => store::verify(&store()?),
        _ => dispatch_other(cli),
    }
}

fn dispatch_other(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Build(args) => build::run(args, cli.root),
        Command::Run(args) => anyhow::bail!(
            "cannot run {}: running containers is not available in this version yet",
            args.image
        ),
        Command::Debug(DebugCommand::Parse { json, file }) => debug::parse(&file, json),
        _ => unreachable!("handled by dispatch"),
    }
}

/// Prints an error and its causes on one line each, as `rdock: ...`.
#[allow(clippy::print_stderr)]
pub fn report(err: &anyhow::Error) {
    eprintln!("rdock: {err:#}");
}
