//! Runtime state of the networks under `/run/rdock/net/<network>/` (a tmpfs,
//! so a reboot, which also drops every bridge and rule, starts clean):
//!
//! - `lock`: an exclusive `flock` held while the network changes;
//! - `config.json`: the [`NetworkConfig`] the bridge was set up with;
//! - `leases/<ip>`: the id of the container holding the address (IPAM);
//! - `endpoints/<id>.json`: one attached container ([`super::Endpoint`]);
//! - `containers/<id>/{hosts,resolv.conf}`: its generated files.

use std::fs::{self, File, OpenOptions};
use std::io::{ErrorKind, Write};
use std::net::Ipv4Addr;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use nix::fcntl::{Flock, FlockArg};

use super::config::NetworkConfig;
use super::error::{NetError, NetResult};

/// The root of rdock's runtime state.
pub(crate) fn run_root() -> PathBuf {
    PathBuf::from("/run/rdock")
}

/// The state directory of network `name`.
pub(crate) fn network_dir(name: &str) -> PathBuf {
    run_root().join("net").join(name)
}

/// An exclusive `flock` on a file, released on drop.
#[derive(Debug)]
pub(crate) struct FileLock(#[allow(dead_code)] Flock<File>, PathBuf);

impl FileLock {
    /// Locks `path`, creating it. A lock file may be deleted by its holder
    /// (see [`FileLock::remove`]); a waiter that then got the lock on the
    /// deleted file retries on the new one.
    pub(crate) fn acquire(path: &Path) -> NetResult<FileLock> {
        loop {
            if let Some(parent) = path.parent() {
                fs::create_dir_all(parent).map_err(NetError::io("create", parent))?;
            }
            let file = OpenOptions::new()
                .create(true)
                .truncate(false)
                .write(true)
                .open(path)
                .map_err(NetError::io("open lock", path))?;
            let lock =
                Flock::lock(file, FlockArg::LockExclusive).map_err(|(_, e)| NetError::Io {
                    action: "lock",
                    path: path.to_owned(),
                    source: e.into(),
                })?;
            let held = lock.metadata().map_err(NetError::io("stat", path))?;
            match fs::metadata(path) {
                Ok(now) if now.ino() == held.ino() && now.dev() == held.dev() => {
                    return Ok(FileLock(lock, path.to_owned()))
                }
                _ => continue,
            }
        }
    }

    /// Deletes the lock file while holding it, then releases it.
    pub(crate) fn remove(self) -> NetResult<()> {
        remove_file(&self.1)
    }
}

/// Locks network `name`'s state.
pub(crate) fn lock_network(name: &str) -> NetResult<FileLock> {
    FileLock::acquire(&network_dir(name).join("lock"))
}

/// Writes `bytes` to `path` through a temp file and a rename, so readers
/// see the old or the new content, never a part.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> NetResult<()> {
    let dir = path.parent().unwrap_or(Path::new("/"));
    fs::create_dir_all(dir).map_err(NetError::io("create", dir))?;
    let tmp = dir.join(format!(
        ".{}.tmp{}",
        path.file_name().unwrap_or_default().to_string_lossy(),
        std::process::id()
    ));
    fs::write(&tmp, bytes).map_err(NetError::io("write", &tmp))?;
    fs::rename(&tmp, path).map_err(NetError::io("rename", path))
}

/// Rewrites `path` in place (same inode): a hosts file bind-mounted into a
/// running container must keep its inode to show the new content.
pub(crate) fn write_in_place(path: &Path, bytes: &[u8]) -> NetResult<()> {
    let mut f = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(path)
        .map_err(NetError::io("open", path))?;
    f.write_all(bytes).map_err(NetError::io("write", path))
}

/// Removes a file; a missing one is fine.
pub(crate) fn remove_file(path: &Path) -> NetResult<()> {
    match fs::remove_file(path) {
        Err(e) if e.kind() != ErrorKind::NotFound => Err(NetError::Io {
            action: "remove",
            path: path.to_owned(),
            source: e,
        }),
        _ => Ok(()),
    }
}

/// The saved config of network `name`, if its bridge was set up.
pub(crate) fn read_config(name: &str) -> NetResult<Option<NetworkConfig>> {
    let path = network_dir(name).join("config.json");
    match fs::read(&path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| NetError::Io {
                action: "parse",
                path,
                source: e.into(),
            }),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
        Err(e) => Err(NetError::io("read", path)(e)),
    }
}

/// Leases an address of `net` to container `id`. Call with the network
/// locked. Skips the network, gateway and broadcast addresses; a lease whose
/// container has no namespace file any more (a crash before detach) is taken
/// over.
pub(crate) fn lease(net: &NetworkConfig, id: &str) -> NetResult<Ipv4Addr> {
    let dir = network_dir(&net.name).join("leases");
    fs::create_dir_all(&dir).map_err(NetError::io("create", &dir))?;
    let size = 1u32 << (32 - u32::from(net.subnet.prefix()));
    for n in 1..size - 1 {
        let Some(ip) = net.subnet.nth(n) else { break };
        if ip == net.gateway {
            continue;
        }
        let path = dir.join(ip.to_string());
        match OpenOptions::new().write(true).create_new(true).open(&path) {
            Ok(mut f) => {
                f.write_all(id.as_bytes())
                    .map_err(NetError::io("write", &path))?;
                return Ok(ip);
            }
            Err(e) if e.kind() == ErrorKind::AlreadyExists => {
                let holder = fs::read_to_string(&path).unwrap_or_default();
                if holder == id {
                    return Ok(ip);
                }
                if holder.is_empty() || !super::netns::path(&holder).exists() {
                    write_atomic(&path, id.as_bytes())?;
                    return Ok(ip);
                }
            }
            Err(e) => return Err(NetError::io("create", &path)(e)),
        }
    }
    Err(NetError::AddressesExhausted {
        network: net.name.clone(),
        subnet: net.subnet.to_string(),
    })
}

/// Releases every lease of `net` held by `id`. Call with the network locked.
pub(crate) fn release(net_name: &str, id: &str) -> NetResult<()> {
    let dir = network_dir(net_name).join("leases");
    let Ok(entries) = fs::read_dir(&dir) else {
        return Ok(());
    };
    for e in entries.flatten() {
        if fs::read_to_string(e.path()).is_ok_and(|h| h == id) {
            remove_file(&e.path())?;
        }
    }
    Ok(())
}
