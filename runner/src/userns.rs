//! User namespaces: the parent writes the id maps of the intermediate's
//! new user namespace (directly as root, through Debian's `newuidmap` and
//! `newgidmap` from the `uidmap` package otherwise, which check
//! `/etc/subuid` and `/etc/subgid`), then lets it continue.
//!
//! As root, the lower dirs are *idmapped* (kernel >= 5.12, and a file
//! system that allows it: ext4, xfs, btrfs, tmpfs): once the maps are
//! written the parent clones each lower dir into a detached mount
//! (`open_tree`), gives it the namespace's id mapping (`mount_setattr`
//! with `MOUNT_ATTR_IDMAP`) and passes the descriptors to the child with
//! the go-ahead; the child attaches them (`move_mount`) under the runtime
//! directory and stacks the overlay on them. Image files owned by host
//! root then show up owned by root inside, with no copy of the layers,
//! while the upper and work dirs (chowned to the mapped root) receive
//! files owned by the mapped host ids. Without root (rootless), nothing is
//! idmapped: the caller's own files appear as the mapped root's.
//! The runtime directory is made world-readable so the mapped root can
//! mount from it.

use std::io::{IoSlice, IoSliceMut};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};
use std::process::Command;

use nix::sys::socket::{recvmsg, sendmsg, ControlMessage, ControlMessageOwned, MsgFlags};

use nix::errno::Errno;
use nix::unistd::Pid;

use crate::error::{Error, Result, Stage};
use crate::spec::{IdMapping, IdRange, RunSpec};

/// How many descriptors go in one `SCM_RIGHTS` message (the kernel takes
/// at most 253).
const FDS_PER_MESSAGE: usize = 64;

/// Waits for the child's request, writes the maps, answers 1 (go on) or 0
/// (give up), with the idmapped clones of `idmap` (lower dirs; empty when
/// not root) attached to the go-ahead. A child that died first is not an
/// error here: its report says why.
pub(crate) fn write_maps(
    sock: &OwnedFd,
    pid: Pid,
    map: &IdMapping,
    idmap: &[PathBuf],
) -> Result<()> {
    let mut byte = [0u8];
    match nix::unistd::read(sock, &mut byte) {
        Ok(1) => {}
        _ => return Ok(()),
    }
    let result = if nix::unistd::geteuid().is_root() {
        write_direct(pid, map).and_then(|()| idmapped_clones(pid, idmap))
    } else {
        write_helpers(pid, map).map(|()| Vec::new())
    };
    match &result {
        Ok(fds) if !fds.is_empty() => {
            let raw: Vec<RawFd> = fds.iter().map(AsRawFd::as_raw_fd).collect();
            for chunk in raw.chunks(FDS_PER_MESSAGE) {
                let sent = sendmsg::<()>(
                    sock.as_raw_fd(),
                    &[IoSlice::new(&[1])],
                    &[ControlMessage::ScmRights(chunk)],
                    MsgFlags::empty(),
                    None,
                );
                if let Err(errno) = sent {
                    return Err(map_err("sending idmapped layers".into(), errno));
                }
            }
        }
        _ => {
            let _ = nix::unistd::write(sock, &[u8::from(result.is_ok())]);
        }
    }
    result.map(drop)
}

/// The child's side of [`write_maps`]: waits for the go-ahead and the
/// `count` idmapped layers that come with it.
pub(crate) fn await_maps(sock: BorrowedFd<'_>, count: usize) -> Result<Vec<OwnedFd>> {
    let err = |errno| map_err("id maps".into(), errno);
    let mut fds = Vec::with_capacity(count);
    loop {
        let mut byte = [0u8];
        let mut iov = [IoSliceMut::new(&mut byte)];
        let mut space = nix::cmsg_space!([RawFd; FDS_PER_MESSAGE]);
        let msg = recvmsg::<()>(
            sock.as_raw_fd(),
            &mut iov,
            Some(&mut space),
            MsgFlags::MSG_CMSG_CLOEXEC,
        )
        .map_err(err)?;
        let got = msg.bytes;
        for c in msg.cmsgs().map_err(err)? {
            if let ControlMessageOwned::ScmRights(raw) = c {
                // SAFETY: the kernel just installed these descriptors.
                fds.extend(raw.iter().map(|fd| unsafe { OwnedFd::from_raw_fd(*fd) }));
            }
        }
        if got != 1 || byte[0] != 1 {
            return Err(err(Errno::EPERM));
        }
        if fds.len() >= count {
            return Ok(fds);
        }
    }
}

/// Detached clones of `dirs`, each mapped through the user namespace of
/// `pid`: a file owned by host id 0 shows up owned by the namespace's root.
fn idmapped_clones(pid: Pid, dirs: &[PathBuf]) -> Result<Vec<OwnedFd>> {
    if dirs.is_empty() {
        return Ok(Vec::new());
    }
    let ns_path = format!("/proc/{pid}/ns/user");
    let ns = std::fs::File::open(&ns_path)
        .map_err(|e| map_err(ns_path, Errno::from_raw(e.raw_os_error().unwrap_or(0))))?;
    dirs.iter()
        .map(|dir| idmapped_clone(dir, ns.as_raw_fd()))
        .collect()
}

fn idmapped_clone(dir: &Path, userns: RawFd) -> Result<OwnedFd> {
    use std::os::unix::ffi::OsStrExt;
    let fail = |what: &str, errno: Errno| {
        let hint = match errno {
            Errno::EINVAL | Errno::ENOSYS => {
                " (idmapped mounts need kernel >= 5.12 and ext4, xfs, btrfs or tmpfs)"
            }
            _ => "",
        };
        map_err(format!("{what} {}{hint}", dir.display()), errno)
    };
    let path = std::ffi::CString::new(dir.as_os_str().as_bytes())
        .map_err(|_| fail("open_tree", Errno::EINVAL))?;
    const OPEN_TREE_CLONE: libc::c_uint = 1;
    // SAFETY: open_tree reads a NUL-terminated path and returns a new fd.
    let raw = unsafe {
        libc::syscall(
            libc::SYS_open_tree,
            libc::AT_FDCWD,
            path.as_ptr(),
            OPEN_TREE_CLONE | libc::O_CLOEXEC as libc::c_uint,
        )
    };
    if raw < 0 {
        return Err(fail("open_tree", Errno::last()));
    }
    // SAFETY: a fresh descriptor of ours.
    let tree = unsafe { OwnedFd::from_raw_fd(raw as RawFd) };
    /// `struct mount_attr` of `mount_setattr(2)`.
    #[repr(C)]
    struct MountAttr {
        attr_set: u64,
        attr_clr: u64,
        propagation: u64,
        userns_fd: u64,
    }
    const MOUNT_ATTR_IDMAP: u64 = 0x0010_0000;
    let attr = MountAttr {
        attr_set: MOUNT_ATTR_IDMAP,
        attr_clr: 0,
        propagation: 0,
        userns_fd: userns as u64,
    };
    // SAFETY: the kernel reads `attr` (of the size given) and the empty path.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            tree.as_raw_fd(),
            c"".as_ptr(),
            libc::AT_EMPTY_PATH,
            &attr as *const MountAttr,
            std::mem::size_of::<MountAttr>(),
        )
    };
    if rc < 0 {
        return Err(fail("idmapping", Errno::last()));
    }
    Ok(tree)
}

/// As root with a user namespace: makes the upper and work dirs the
/// mapped root's (overlay works there with its credentials) and creates
/// one mount point per lower dir under `runtime`, returned for
/// [`crate::run::Plan::idmapped`]. Otherwise nothing to do.
pub(crate) fn prepare_idmap(spec: &RunSpec, runtime: &Path) -> Result<Vec<PathBuf>> {
    let Some(map) = &spec.userns else {
        return Ok(Vec::new());
    };
    if !nix::unistd::geteuid().is_root() {
        return Ok(Vec::new());
    }
    let uid = map.host_uid(0).map(nix::unistd::Uid::from_raw);
    let gid = map.host_gid(0).map(nix::unistd::Gid::from_raw);
    let work_sub = spec.work_dir.join("work");
    for dir in [&spec.upper_dir, &spec.work_dir, &work_sub] {
        match nix::unistd::chown(dir.as_path(), uid, gid) {
            Ok(()) => {}
            // Overlay makes `work/work` at the first mount.
            Err(Errno::ENOENT) if dir == &work_sub => {}
            Err(errno) => return Err(map_err(format!("chown {}", dir.display()), errno)),
        }
    }
    let base = runtime.join("lower");
    let mkdir = |p: &Path| {
        std::fs::create_dir(p).map_err(|e| {
            map_err(
                format!("create {}", p.display()),
                Errno::from_raw(e.raw_os_error().unwrap_or(0)),
            )
        })
    };
    if spec.lower_dirs.is_empty() {
        return Ok(Vec::new());
    }
    mkdir(&base)?;
    (0..spec.lower_dirs.len())
        .map(|i| {
            let p = base.join(i.to_string());
            mkdir(&p).map(|()| p)
        })
        .collect()
}

/// Gives the owner access to `dir` and the directories under it (best
/// effort), so a non-root caller can remove what overlay made mode 000.
pub(crate) fn open_up(dir: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let Ok(meta) = dir.symlink_metadata() else {
        return;
    };
    if !meta.is_dir() {
        return;
    }
    let mode = meta.permissions().mode() | 0o700;
    let _ = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(mode));
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        open_up(&e.path());
    }
}

/// Removes `dir` (and everything in it) from a new user namespace with
/// `map`, where the ids it maps are the caller's own: a rootless caller
/// can then remove what its containers made as their non-root users
/// (owned by subordinate ids on the host). Runs `rm -rf` there.
pub fn remove_tree(dir: &Path, map: &IdMapping) -> Result<()> {
    use std::os::unix::ffi::OsStrExt;
    let fail = |errno| map_err(format!("removing {}", dir.display()), errno);
    let path =
        std::ffi::CString::new(dir.as_os_str().as_bytes()).map_err(|_| fail(Errno::EINVAL))?;
    let argv = [
        c"rm".as_ptr(),
        c"-rf".as_ptr(),
        c"--".as_ptr(),
        path.as_ptr(),
        std::ptr::null(),
    ];
    let (parent, child) = crate::pty::socketpair()?;
    // SAFETY: the child only makes syscalls (and the small allocation of
    // `await_maps`, which glibc's fork makes safe) before execvp or _exit.
    let pid = match unsafe { nix::unistd::fork() }.map_err(fail)? {
        nix::unistd::ForkResult::Child => {
            let go = nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWUSER)
                .and_then(|()| nix::unistd::write(&child, &[1u8]).map(drop))
                .ok()
                .and_then(|()| await_maps(child.as_fd(), 0).ok())
                .and_then(|_| {
                    let root = nix::unistd::Uid::from_raw(0);
                    let gid = nix::unistd::Gid::from_raw(0);
                    nix::unistd::setresgid(gid, gid, gid)
                        .and_then(|()| nix::unistd::setresuid(root, root, root))
                        .ok()
                });
            if go.is_some() {
                // SAFETY: NUL-terminated strings and a NULL-terminated argv.
                unsafe { libc::execvp(argv[0], argv.as_ptr()) };
            }
            crate::child::exit(127)
        }
        nix::unistd::ForkResult::Parent { child: pid } => pid,
    };
    drop(child);
    let mapped = write_maps(&parent, pid, map, &[]);
    let status = loop {
        match nix::sys::wait::waitpid(pid, None) {
            Err(Errno::EINTR) => continue,
            other => break other,
        }
    };
    mapped?;
    match status {
        Ok(nix::sys::wait::WaitStatus::Exited(_, 0)) => Ok(()),
        Ok(_) => Err(fail(Errno::EPERM)),
        Err(errno) => Err(fail(errno)),
    }
}

/// In the child: attaches the idmapped layers at `targets` (mount points
/// in the runtime directory), in this private mount namespace only.
pub(crate) fn attach(fds: Vec<OwnedFd>, targets: &[PathBuf]) -> Result<()> {
    use std::os::unix::ffi::OsStrExt;
    let err = |t: &Path, errno| map_err(format!("attaching {}", t.display()), errno);
    // Nothing attached here may propagate to the host.
    nix::mount::mount(
        None::<&str>,
        "/",
        None::<&str>,
        nix::mount::MsFlags::MS_REC | nix::mount::MsFlags::MS_PRIVATE,
        None::<&str>,
    )
    .map_err(|e| err(Path::new("/"), e))?;
    for (fd, target) in fds.into_iter().zip(targets) {
        let path = std::ffi::CString::new(target.as_os_str().as_bytes())
            .map_err(|_| err(target, Errno::EINVAL))?;
        const MOVE_MOUNT_F_EMPTY_PATH: libc::c_uint = 4;
        // SAFETY: move_mount reads two NUL-terminated paths.
        let rc = unsafe {
            libc::syscall(
                libc::SYS_move_mount,
                fd.as_raw_fd(),
                c"".as_ptr(),
                libc::AT_FDCWD,
                path.as_ptr(),
                MOVE_MOUNT_F_EMPTY_PATH,
            )
        };
        if rc < 0 {
            return Err(err(target, Errno::last()));
        }
    }
    Ok(())
}

fn map_err(detail: String, errno: Errno) -> Error {
    Error::Setup {
        stage: Stage::UserNamespace,
        detail,
        errno,
    }
}

fn write_direct(pid: Pid, map: &IdMapping) -> Result<()> {
    for (file, ranges) in [("uid_map", &map.uids), ("gid_map", &map.gids)] {
        let path = format!("/proc/{pid}/{file}");
        std::fs::write(&path, IdMapping::map_text(ranges))
            .map_err(|e| map_err(path, Errno::from_raw(e.raw_os_error().unwrap_or(0))))?;
    }
    Ok(())
}

fn write_helpers(pid: Pid, map: &IdMapping) -> Result<()> {
    for (tool, ranges) in [("newuidmap", &map.uids), ("newgidmap", &map.gids)] {
        let args = helper_args(pid.as_raw(), ranges);
        let out = Command::new(tool).args(&args).output();
        match out {
            Ok(o) if o.status.success() => {}
            Ok(o) => {
                let msg = String::from_utf8_lossy(&o.stderr).trim().to_owned();
                return Err(map_err(format!("{tool}: {msg}"), Errno::EPERM));
            }
            Err(e) => {
                return Err(map_err(
                    format!("{tool} (install Debian's uidmap)"),
                    Errno::from_raw(e.raw_os_error().unwrap_or(0)),
                ))
            }
        }
    }
    Ok(())
}

/// `newuidmap PID inside outside count ...`.
fn helper_args(pid: i32, ranges: &[IdRange]) -> Vec<String> {
    let mut args = vec![pid.to_string()];
    for r in ranges {
        args.extend([r.container, r.host, r.size].map(|n| n.to_string()));
    }
    args
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn map_text_and_helper_args() {
        let m = IdMapping {
            uids: vec![
                IdRange {
                    container: 0,
                    host: 1000,
                    size: 1,
                },
                IdRange {
                    container: 1,
                    host: 100000,
                    size: 65536,
                },
            ],
            gids: vec![],
        };
        assert_eq!(IdMapping::map_text(&m.uids), "0 1000 1\n1 100000 65536\n");
        assert_eq!(
            helper_args(42, &m.uids),
            ["42", "0", "1000", "1", "1", "100000", "65536"]
        );
        assert_eq!(m.host_uid(0), Some(1000));
        assert_eq!(m.host_uid(5), Some(100004));
        assert_eq!(m.host_uid(70000), None);
    }
}
