//! A stored [`ContainerConfig`] becomes the runner's [`RunSpec`]: layers,
//! the writable layer, command, environment, mounts (volumes as binds of
//! their folders), security, limits and network.

use std::path::PathBuf;

use rdock_runner::{Mount, Resources, RunSpec, Security};

use super::config::ContainerConfig;
use super::error::Result;
use super::network::NetworkSetup;
use super::options::MountSpec;
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
            } => Mount::Bind {
                source: crate::volumes::volume_create(root, name.as_deref().unwrap_or_default())?
                    .mountpoint,
                target: target.clone(),
                readonly: *readonly,
            },
            MountSpec::Tmpfs { target, size } => Mount::Tmpfs {
                target: target.clone(),
                size: *size,
            },
        });
    }
    spec.security = Security {
        cap_add: config.cap_add.clone(),
        cap_drop: config.cap_drop.clone(),
        privileged: config.privileged,
        ..Security::default()
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
    // `--userns` is checked at create: only "host" (no remapping) exists.
    Ok(spec)
}
