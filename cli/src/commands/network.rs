//! `rdock network create|ls|rm|inspect`.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use rdock_engine::NetworkCreate;

use super::render::table;
use crate::cli::{NetworkCommand, NetworkCreateArgs, NetworkLsArgs};

pub fn run(root: &Path, cmd: &NetworkCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        NetworkCommand::Create(args) => create(root, args),
        NetworkCommand::Ls(args) => ls(root, args),
        NetworkCommand::Rm { networks } => rm(root, networks),
        NetworkCommand::Inspect { networks } => inspect(root, networks),
        NetworkCommand::Prune { .. } => prune(root),
    }
}

fn prune(root: &Path) -> anyhow::Result<ExitCode> {
    let removed = rdock_engine::network_prune(root)?;
    let mut out = std::io::stdout().lock();
    if !removed.is_empty() {
        writeln!(out, "Deleted Networks:")?;
        for name in removed {
            writeln!(out, "{name}")?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn create(root: &Path, args: &NetworkCreateArgs) -> anyhow::Result<ExitCode> {
    if args.driver != "bridge" {
        anyhow::bail!(
            "plugin \"{}\" not found: only the bridge driver is supported",
            args.driver
        );
    }
    let req = NetworkCreate {
        name: args.name.clone(),
        subnet: args.subnet.as_deref().map(str::parse).transpose()?,
        gateway: args.gateway,
        internal: args.internal,
    };
    let info = rdock_engine::network_create(root, &req)?;
    writeln!(std::io::stdout(), "{}", info.id)?;
    Ok(ExitCode::SUCCESS)
}

fn ls(root: &Path, args: &NetworkLsArgs) -> anyhow::Result<ExitCode> {
    let mut out = std::io::stdout().lock();
    let mut rows = vec![["NETWORK ID", "NAME", "DRIVER", "SCOPE"]
        .map(String::from)
        .to_vec()];
    for n in rdock_engine::network_ls(root)? {
        let id = if args.no_trunc {
            n.id.clone()
        } else {
            n.id[..12].to_owned()
        };
        if args.quiet {
            writeln!(out, "{id}")?;
        } else {
            rows.push(vec![id, n.name, n.driver, "local".to_owned()]);
        }
    }
    if !args.quiet {
        out.write_all(table(&rows).as_bytes())?;
    }
    Ok(ExitCode::SUCCESS)
}

fn rm(root: &Path, networks: &[String]) -> anyhow::Result<ExitCode> {
    let mut failed = false;
    for name in networks {
        match rdock_engine::network_rm(root, name) {
            Ok(_) => writeln!(std::io::stdout(), "{name}")?,
            Err(e) => {
                failed = true;
                super::report(&e.into());
            }
        }
    }
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

fn inspect(root: &Path, networks: &[String]) -> anyhow::Result<ExitCode> {
    let mut found = Vec::new();
    let mut failed = false;
    for name in networks {
        match rdock_engine::network_inspect(root, name) {
            Ok(v) => found.push(v),
            Err(e) => {
                failed = true;
                super::report(&e.into());
            }
        }
    }
    writeln!(
        std::io::stdout(),
        "{}",
        serde_json::to_string_pretty(&found)?
    )?;
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}
