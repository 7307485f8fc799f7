//! User namespaces of containers: what a rootless (non-root) user's
//! container cannot have ([`check_rootless`]), the user's own subordinate
//! ids it runs as ([`rootless_userns`]), and the free range a
//! `--userns=auto` container gets ([`allocate_userns`]).
//!
//! `--userns=auto` (podman's flag; Docker only has the
//! daemon-wide `userns-remap`) gives the container, as root, 65536 ids of
//! its own, allocated under a lock so no two containers share them, from
//! the `/etc/subuid`/`/etc/subgid` entry of `rdock` (else `root`, else
//! from 10^9 up) and recorded in the config as `auto:UID:GID:SIZE` so a
//! restart keeps them. Layers are not copied: the runner idmaps them.
//! Without root (rootless) every container runs as the user's own
//! subordinate ids (`newuidmap`), in a store under `$XDG_DATA_HOME`; limits,
//! the bridge network, `--privileged` and `--userns=auto` are refused with
//! one-line errors, as is a user without a range or `newuidmap`.

use std::fs;
use std::path::Path;

use super::create::RunRequest;
use super::error::{ContainerError, Result};
use super::options::{parse_userns, subid_pool, NetworkMode, UsernsRange, DEFAULT_POOL};
use super::store::{io, Containers};

fn invalid(flag: &'static str, value: &str, reason: &str) -> ContainerError {
    ContainerError::InvalidOption {
        flag,
        value: value.to_owned(),
        reason: reason.to_owned(),
    }
}

/// What a non-root user's container cannot have: cgroup limits (without
/// systemd nothing delegates a cgroup to the user), the bridge network
/// (rootless bridging needs slirp4netns or pasta), `--userns=auto`; and
/// the id range it needs.
pub(crate) fn check_rootless(req: &RunRequest) -> Result<()> {
    let r = &req.resources;
    let limits = [
        ("--memory", r.memory.is_some()),
        ("--memory-swap", r.memory_swap.is_some()),
        ("--cpus", r.cpus.is_some()),
        ("--pids-limit", r.pids_limit.is_some()),
    ];
    if let Some((flag, _)) = limits.iter().find(|(_, set)| *set) {
        return Err(ContainerError::Rootless(format!(
            "{flag} needs a cgroup, and without root (or systemd delegation) rdock has none"
        )));
    }
    if !matches!(req.network, NetworkMode::None | NetworkMode::Host) {
        return Err(ContainerError::Rootless(format!(
            "network {:?} is not available without root (it needs slirp4netns or pasta): use --network none or --network host",
            req.network.name()
        )));
    }
    if req.privileged {
        return Err(ContainerError::Rootless(
            "--privileged needs root (the host's devices and capabilities)".into(),
        ));
    }
    if req.userns.as_deref().map(parse_userns).transpose()? == Some(true) {
        return Err(ContainerError::Rootless(
            "--userns=auto needs root; rootless containers always run in the user's own subordinate ids".into(),
        ));
    }
    rootless_userns().map(drop)
}

/// The user namespace of a non-root user's container: the user is root
/// inside and its `/etc/subuid` and `/etc/subgid` ranges (by name or uid)
/// are ids 1 and up, written by `newuidmap`/`newgidmap`, as podman does.
pub(crate) fn rootless_userns() -> Result<rdock_runner::IdMapping> {
    let uid = nix::unistd::getuid();
    let gid = nix::unistd::getgid();
    let name = nix::unistd::User::from_uid(uid)
        .ok()
        .flatten()
        .map(|u| u.name)
        .unwrap_or_else(|| uid.to_string());
    for tool in ["newuidmap", "newgidmap"] {
        // The runner runs them through $PATH.
        let found = std::env::var_os("PATH")
            .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(tool).is_file()));
        if !found {
            return Err(ContainerError::Rootless(format!(
                "{tool} not found in $PATH: install it (Debian: apt-get install uidmap)"
            )));
        }
    }
    let range = |file: &str, own: u32| -> Result<Vec<rdock_runner::IdRange>> {
        let text = fs::read_to_string(file).unwrap_or_default();
        let Some((start, count)) = subid_pool(&text, &[&name, &own.to_string()]) else {
            return Err(ContainerError::Rootless(format!(
                "user {name} has no range of at least 65536 ids in {file} (add one: usermod --add-subuids 100000-165535 --add-subgids 100000-165535 {name})"
            )));
        };
        let own = rdock_runner::IdRange {
            container: 0,
            host: own,
            size: 1,
        };
        let sub = rdock_runner::IdRange {
            container: 1,
            host: start,
            size: count.min(super::options::USERNS_SIZE - 1),
        };
        Ok(vec![own, sub])
    };
    Ok(rdock_runner::IdMapping {
        uids: range("/etc/subuid", uid.as_raw())?,
        gids: range("/etc/subgid", gid.as_raw())?,
    })
}

/// A subordinate id range for a `--userns=auto` container that no other
/// container holds, from the `/etc/subuid` and `/etc/subgid` entries of
/// `rdock` or `root`, else [`DEFAULT_POOL`]. The returned lock keeps
/// concurrent creates from picking the same range until the config is
/// written.
pub(crate) fn allocate_userns(
    root: &Path,
    containers: &Containers,
) -> Result<(UsernsRange, fs::File)> {
    let lock_path = root.join("userns.lock");
    let lock = fs::File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(io("opening", &lock_path))?;
    lock.lock().map_err(io("locking", &lock_path))?;
    let pool = |file: &str| {
        let text = fs::read_to_string(file).unwrap_or_default();
        subid_pool(&text, &["rdock", "root"]).unwrap_or(DEFAULT_POOL)
    };
    let used: Vec<u32> = containers
        .list()?
        .iter()
        .filter_map(|s| s.read_config().ok()?.userns)
        .filter_map(|u| UsernsRange::from_config(&u).map(|r| r.uid))
        .collect();
    let range = UsernsRange::allocate(pool("/etc/subuid"), pool("/etc/subgid"), &used)
        .ok_or_else(|| {
            invalid(
                "--userns",
                "auto",
                "every subordinate id range is in use (add a larger \"rdock\" entry to /etc/subuid and /etc/subgid)",
            )
        })?;
    Ok((range, lock))
}
