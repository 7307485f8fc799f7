//! One function per command: build a request, call one library function,
//! render the result, pick the exit code.

mod archive;
mod build;
mod build_opts;
mod containers;
mod debug;
mod images;
mod network;
mod progress;
mod registry;
mod render;
mod store;

use std::process::ExitCode;

use crate::cli::{Cli, Command, ContainerCommand, DebugCommand, StoreCommand};

pub fn dispatch(cli: Cli) -> anyhow::Result<ExitCode> {
    let store = || rdock_engine::open_store(cli.root.clone());
    match &cli.command {
        Command::Load(args) => archive::load(&store()?, args),
        Command::Import(args) => archive::import(&store()?, args),
        Command::Save(args) => archive::save(&store()?, args),
        Command::Images(args) => images::list(&store()?, args),
        Command::Tag(args) => images::tag(&store()?, args),
        Command::Rmi(args) => images::rmi(&store()?, args),
        Command::Inspect(args) => containers::inspect(&store()?, args),
        Command::Prune => store::prune(&store()?),
        Command::Store(StoreCommand::Verify) => store::verify(&store()?),
        Command::Pull(args) => registry::pull(
            &store()?,
            args,
            registry::options(&cli.insecure_registries)?,
        ),
        Command::Push(args) => registry::push(
            &store()?,
            args,
            registry::options(&cli.insecure_registries)?,
        ),
        Command::Login(args) => registry::login(args, registry::options(&cli.insecure_registries)?),
        Command::Logout(args) => registry::logout(args),
        Command::Run(args) => containers::run(
            &store()?,
            args,
            registry::options(&cli.insecure_registries)?,
        ),
        Command::Ps(args) => containers::ps(&store()?, args),
        Command::Logs(args) => containers::logs(&store()?, args),
        Command::Stop(args) => containers::stop(&store()?, args),
        Command::Kill(args) => containers::kill(&store()?, args),
        Command::Rm(args) => containers::rm(&store()?, args),
        Command::Exec(args) => containers::exec(&store()?, args),
        Command::Start(args) => containers::start(&store()?, args),
        Command::Wait(args) => containers::wait(&store()?, args),
        Command::Volume(cmd) => containers::volume(&store()?, cmd),
        Command::Network(cmd) => network::run(store()?.root(), cmd),
        Command::Container(ContainerCommand::Inspect(args)) => {
            containers::container_inspect(&store()?, args)
        }
        Command::ContainerMonitor { id } => containers::monitor(&store()?, id),
        _ => dispatch_other(cli),
    }
}

fn dispatch_other(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Build(args) => {
            build::run(args, cli.root, registry::options(&cli.insecure_registries)?)
        }
        Command::Debug(DebugCommand::Parse { json, file }) => debug::parse(&file, json),
        _ => unreachable!("handled by dispatch"),
    }
}

/// Prints an error and its causes on one line each, as `rdock: ...`.
#[allow(clippy::print_stderr)]
pub fn report(err: &anyhow::Error) {
    eprintln!("rdock: {err:#}");
}
