//! [`Root`]: file operations confined to one directory tree, used to unpack
//! untrusted layers. Every parent is opened component by component with
//! `O_NOFOLLOW | O_DIRECTORY`, so a symlink or non-directory on the way is
//! refused instead of followed; the final operation is then relative to the
//! parent's descriptor.

use std::ffi::OsStr;
use std::io;
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

use rustix::fs::{self as rfs, AtFlags, Mode, OFlags, Timespec, Timestamps, XattrFlags, CWD};
use rustix::io::Errno;

/// An open directory that every operation stays beneath.
#[derive(Debug)]
pub(crate) struct Root {
    path: PathBuf,
    fd: OwnedFd,
}

/// Why a parent could not be opened safely.
#[derive(Debug)]
pub(crate) enum WalkError {
    /// A component is a symlink or not a directory.
    NotDir,
    /// A component is missing and `create` was false.
    Missing,
    /// Anything else.
    Io(io::Error),
}

const DIR_FLAGS: OFlags = OFlags::RDONLY
    .union(OFlags::DIRECTORY)
    .union(OFlags::NOFOLLOW)
    .union(OFlags::CLOEXEC);

impl Root {
    pub(crate) fn open(path: &Path) -> io::Result<Root> {
        let fd = rfs::openat(CWD, path, DIR_FLAGS, Mode::empty())?;
        Ok(Root {
            path: path.to_path_buf(),
            fd,
        })
    }

    /// The absolute path of `rel`, for calls that have no `*at` form. Only
    /// used right after [`Root::dir`] checked the parents, while nothing
    /// else writes to the tree.
    pub(crate) fn full_path(&self, rel: &Path) -> PathBuf {
        self.path.join(rel)
    }

    /// Opens the directory `rel` (a normalized relative path; empty is the
    /// root), creating missing components with mode 0755 when `create`.
    pub(crate) fn dir(&self, rel: &Path, create: bool) -> Result<OwnedFd, WalkError> {
        let mut current = rfs::openat(&self.fd, ".", DIR_FLAGS, Mode::empty())
            .map_err(|e| WalkError::Io(e.into()))?;
        for component in rel.components() {
            let Component::Normal(name) = component else {
                return Err(WalkError::NotDir);
            };
            current = open_child_dir(&current, name, create)?;
        }
        Ok(current)
    }
}

fn open_child_dir(parent: &OwnedFd, name: &OsStr, create: bool) -> Result<OwnedFd, WalkError> {
    match rfs::openat(parent, name, DIR_FLAGS, Mode::empty()) {
        Ok(fd) => Ok(fd),
        Err(Errno::NOENT) if create => {
            match rfs::mkdirat(parent, name, Mode::from_raw_mode(0o755)) {
                Ok(()) | Err(Errno::EXIST) => {}
                Err(e) => return Err(WalkError::Io(e.into())),
            }
            rfs::openat(parent, name, DIR_FLAGS, Mode::empty()).map_err(walk_errno)
        }
        Err(e) => Err(walk_errno(e)),
    }
}

fn walk_errno(e: Errno) -> WalkError {
    match e {
        Errno::LOOP | Errno::NOTDIR => WalkError::NotDir,
        Errno::NOENT => WalkError::Missing,
        e => WalkError::Io(e.into()),
    }
}

/// What is at `name` in `parent`, without following a symlink.
pub(crate) fn lstat_at(parent: &OwnedFd, name: &OsStr) -> io::Result<Option<rfs::Stat>> {
    match rfs::statat(parent, name, AtFlags::SYMLINK_NOFOLLOW) {
        Ok(stat) => Ok(Some(stat)),
        Err(Errno::NOENT) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// Whether a stat describes a directory.
pub(crate) fn is_dir(stat: &rfs::Stat) -> bool {
    rfs::FileType::from_raw_mode(stat.st_mode) == rfs::FileType::Directory
}

/// Removes whatever is at `name` (a whole tree for a directory).
pub(crate) fn remove_at(
    root: &Root,
    parent: &OwnedFd,
    rel: &Path,
    stat: &rfs::Stat,
) -> io::Result<()> {
    let name = rel.file_name().unwrap_or_default();
    if is_dir(stat) {
        // std's remove_dir_all does not follow symlinks inside the tree.
        crate::fsutil::remove_tree(&root.full_path(rel))
    } else {
        rfs::unlinkat(parent, name, AtFlags::empty()).map_err(Into::into)
    }
}

/// Timestamps setting both access and modification time to `mtime`.
pub(crate) fn times(mtime: i64) -> Timestamps {
    let t = Timespec {
        tv_sec: mtime,
        tv_nsec: 0,
    };
    Timestamps {
        last_access: t,
        last_modification: t,
    }
}

/// Sets an xattr without following a symlink. `Ok(false)` when the file
/// system or our privileges do not allow it.
pub(crate) fn set_xattr(path: &Path, name: &[u8], value: &[u8]) -> io::Result<bool> {
    match rfs::lsetxattr(path, OsStr::from_bytes(name), value, XattrFlags::empty()) {
        Ok(()) => Ok(true),
        Err(Errno::PERM | Errno::NOTSUP | Errno::ACCESS) => Ok(false),
        Err(e) => Err(e.into()),
    }
}
