//! Network namespace files, as `ip netns add` makes them: a namespace made
//! by `unshare(CLONE_NEWNET)` in a short-lived thread and kept alive by a
//! bind mount of `/proc/thread-self/ns/net` onto `/run/rdock/netns/<id>`.
//! The directory is itself a shared mount point, so the bind mounts reach
//! (and their unmounts leave) mount namespaces copied from the host's.

use std::fs::{self, File, OpenOptions};
use std::io::ErrorKind;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::mount::{mount, umount2, MntFlags, MsFlags};
use nix::sched::{unshare, CloneFlags};

use super::error::{NetError, NetResult};
use super::netlink::Rtnl;
use super::state::{self, FileLock};

/// Where namespace files live.
pub(crate) fn dir() -> PathBuf {
    state::run_root().join("netns")
}

/// The namespace file of container `id`.
pub(crate) fn path(id: &str) -> PathBuf {
    dir().join(id)
}

fn ns_err(action: &'static str, path: &Path) -> impl FnOnce(Errno) -> NetError {
    let path = path.to_owned();
    move |e| NetError::Netns {
        action,
        path,
        source: std::io::Error::from(e),
    }
}

/// Makes the namespace directory a shared mount point (once).
fn ensure_dir() -> NetResult<PathBuf> {
    let dir = dir();
    fs::create_dir_all(&dir).map_err(NetError::io("create", &dir))?;
    let shared = || {
        mount(
            None::<&str>,
            &dir,
            None::<&str>,
            MsFlags::MS_SHARED | MsFlags::MS_REC,
            None::<&str>,
        )
    };
    if shared().is_ok() {
        return Ok(dir);
    }
    // Not a mount point yet: bind it onto itself, under a lock so two first
    // starts do not stack two mounts.
    let _lock = FileLock::acquire(&state::run_root().join("netns.lock"))?;
    if shared().is_ok() {
        return Ok(dir);
    }
    mount(
        Some(&dir),
        &dir,
        None::<&str>,
        MsFlags::MS_BIND | MsFlags::MS_REC,
        None::<&str>,
    )
    .map_err(ns_err("bind the namespace directory", &dir))?;
    shared().map_err(ns_err("make the namespace directory shared", &dir))?;
    Ok(dir)
}

/// Creates the namespace file of `id` with `lo` up, and returns it with a
/// netlink socket opened inside the namespace.
pub(crate) fn create(id: &str) -> NetResult<(PathBuf, Rtnl)> {
    ensure_dir()?;
    let path = path(id);
    OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o444)
        .open(&path)
        .map_err(|source| match source.kind() {
            ErrorKind::AlreadyExists => NetError::NamespaceInUse {
                container: id.to_owned(),
                path: path.clone(),
            },
            _ => NetError::Netns {
                action: "create",
                path: path.clone(),
                source,
            },
        })?;
    let target = path.clone();
    // unshare(CLONE_NEWNET) only moves the calling thread: a throwaway
    // thread keeps the caller in the host's namespace.
    let made = std::thread::spawn(move || -> NetResult<Rtnl> {
        unshare(CloneFlags::CLONE_NEWNET).map_err(ns_err("unshare", &target))?;
        mount(
            Some("/proc/thread-self/ns/net"),
            &target,
            None::<&str>,
            MsFlags::MS_BIND,
            None::<&str>,
        )
        .map_err(ns_err("bind mount", &target))?;
        super::loopback_up().map_err(ns_err("bring up lo", &target))?;
        Rtnl::open()
    })
    .join()
    .unwrap_or_else(|_| {
        Err(NetError::Netns {
            action: "create",
            path: path.clone(),
            source: std::io::Error::other("namespace thread panicked"),
        })
    });
    match made {
        Ok(rtnl) => Ok((path, rtnl)),
        Err(e) => {
            let _ = remove(id);
            Err(e)
        }
    }
}

/// A netlink socket inside the namespace file `path` (a socket stays in
/// the namespace it was made in; a throwaway thread joins it to make one).
pub(crate) fn rtnl_in(path: &Path) -> NetResult<Rtnl> {
    let file = open(path)?;
    let target = path.to_owned();
    std::thread::spawn(move || -> NetResult<Rtnl> {
        nix::sched::setns(&file, CloneFlags::CLONE_NEWNET).map_err(ns_err("join", &target))?;
        Rtnl::open()
    })
    .join()
    .unwrap_or_else(|_| {
        Err(NetError::Netns {
            action: "join",
            path: path.to_owned(),
            source: std::io::Error::other("namespace thread panicked"),
        })
    })
}

/// Opens the namespace file of `id` (for `IFLA_NET_NS_FD` or `setns`).
pub(crate) fn open(path: &Path) -> NetResult<File> {
    File::open(path).map_err(|source| NetError::Netns {
        action: "open",
        path: path.to_owned(),
        source,
    })
}

/// Unmounts and deletes the namespace file of `id`; nothing there is fine.
pub(crate) fn remove(id: &str) -> NetResult<()> {
    let path = path(id);
    match umount2(&path, MntFlags::MNT_DETACH) {
        Ok(()) | Err(Errno::EINVAL) | Err(Errno::ENOENT) => {}
        Err(e) => return Err(ns_err("unmount", &path)(e)),
    }
    match fs::remove_file(&path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
        Err(source) => Err(NetError::Netns {
            action: "remove",
            path,
            source,
        }),
    }
}
