//! A stored [`ContainerConfig`] becomes the runner's [`RunSpec`]: layers,
//! the writable layer, command, environment, mounts (volumes as binds of
//! their folders), security, limits and network.

use std::path::PathBuf;

use rdock_runner::{Mount, Resources, RunSpec, Security};

use super::config::ContainerConfig;
use super::error::Result;
use super::mounts::MountSpec;
use super::network::NetworkSetup;
use super::store::Slot;

pub(crate) fn run_spec(
    slot: &Slot,
    config: &ContainerConfig,
    net: &NetworkSetup,
) -> Result<RunSpec> {
    let lowers = config.lower_dirs.iter().map(PathBuf::from).collect();
    let mut spec = RunSpec::new(lowers, slot.upper(), slot.work(), config.args());
    spec.env = config.env.clone();
    spec.cwd = config.workdir.clone();
    spec.user = config.user.clone();
    spec.hostname = config.hostname.clone();
    net.apply(&mut spec);
    let root = slot
        .dir
        .parent()
        .and_then(|p| p.parent())
        .unwrap_or(&slot.dir);
    for m in &config.mounts {
        spec.mounts.push(match m {
            MountSpec::Bind {
                source,
                target,
                readonly,
                ..
            } => Mount::Bind {
                source: source.clone(),
                target: target.clone(),
                readonly: *readonly,
            },
            MountSpec::Volume {
                name,
                target,
                readonly,
                ..
            } => Mount::Bind {
                source: crate::volumes::volume_create(root, name.as_deref().unwrap_or_default())?
                    .mountpoint,
                target: target.clone(),
                readonly: *readonly,
            },
            MountSpec::Tmpfs { target, options } => Mount::TmpfsWith {
                target: target.clone(),
                options: options.to_runner(),
            },
        });
    }
    spec.security = Security {
        cap_add: config.cap_add.clone(),
        cap_drop: config.cap_drop.clone(),
        privileged: config.privileged,
        no_new_privs: config.security.no_new_privileges,
        seccomp: !config.security.seccomp_unconfined,
    };
    let r = &config.resources;
    spec.resources = Resources {
        memory: r.memory,
        memory_swap: r.memory_swap,
        cpus: r.cpus,
        pids_limit: r.pids_limit,
    };
    spec.init = config.init;
    spec.readonly_rootfs = config.read_only;
    // Without root, always the user's own subordinate ids.
    if !nix::unistd::geteuid().is_root() {
        spec.userns = Some(super::userns::rootless_userns()?);
        return Ok(spec);
    }
    // `--userns=auto` stored its range at create.
    spec.userns = config
        .userns
        .as_deref()
        .and_then(super::options::UsernsRange::from_config)
        .map(|r| rdock_runner::IdMapping {
            uids: vec![rdock_runner::IdRange {
                container: 0,
                host: r.uid,
                size: r.size,
            }],
            gids: vec![rdock_runner::IdRange {
                container: 0,
                host: r.gid,
                size: r.size,
            }],
        });
    if let Some(r) = config
        .userns
        .as_deref()
        .and_then(super::options::UsernsRange::from_config)
    {
        give_volumes(&spec, config, r);
    }
    Ok(spec)
}

/// A volume still owned by host root (fresh) becomes the remapped root's,
/// as volumes of Docker's `userns-remap` are, so the container can write
/// to it; host root keeps access to it anyway.
fn give_volumes(spec: &RunSpec, config: &ContainerConfig, r: super::options::UsernsRange) {
    use std::os::unix::fs::MetadataExt;
    let targets: Vec<&str> = config
        .mounts
        .iter()
        .filter_map(|m| match m {
            MountSpec::Volume { target, .. } => Some(target.as_str()),
            _ => None,
        })
        .collect();
    for m in &spec.mounts {
        if let Mount::Bind { source, target, .. } = m {
            let fresh = std::fs::metadata(source).is_ok_and(|md| md.uid() == 0 && md.gid() == 0);
            if fresh && targets.contains(&target.as_str()) {
                let _ = std::os::unix::fs::chown(source, Some(r.uid), Some(r.gid));
            }
        }
    }
}
