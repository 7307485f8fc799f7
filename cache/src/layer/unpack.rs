//! Unpacking a layer tar into a prepared snapshot: [`unpack_layer`] and the
//! [`UnpackStats`] it returns.
//!
//! The snapshot becomes an overlayfs lower directory, so OCI whiteouts are
//! written in overlayfs' form (see [`super::whiteout`]). Entries are checked
//! before anything is written: absolute paths, `..` escaping the root,
//! parents that are symlinks or files, and hardlinks to targets outside the
//! layer all fail the whole unpack. Directory modes and mtimes are applied
//! last, deepest first, so read-only directories can still be filled.

use std::ffi::OsStr;
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use oci_spec::image::MediaType;
use rustix::fs::{self as rfs, AtFlags, FileType, Mode, OFlags};
use rustix::io::Errno;

use super::compress::{decoder, Compression, Hashing};
use super::entry::{ids, normalize, read_meta, Meta};
use super::tree::{self, Root, WalkError};
use super::whiteout::{classify, EntryName, OPAQUE_XATTR};
use crate::digest::Digest;
use crate::error::{Error, Result};
use crate::snapshot::PreparedSnapshot;

/// What [`unpack_layer`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnpackStats {
    /// The sha256 of the uncompressed tar stream: the layer's diff id.
    pub diff_id: Digest,
    /// Size of the uncompressed tar stream in bytes.
    pub tar_size: u64,
    /// Tar entries applied (extension headers not counted).
    pub entries: u64,
    /// Entries or attributes left out because this process may not create them.
    pub skipped: Skipped,
}

/// Counts of what an unprivileged unpack had to leave out.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Skipped {
    /// Character and block devices (mknod needs root).
    pub devices: u64,
    /// Whiteouts that could not become a character device 0:0.
    pub whiteouts: u64,
    /// Opaque markers that could not set `trusted.overlay.opaque`.
    pub opaque_dirs: u64,
    /// Extended attributes refused by the file system or our privileges.
    pub xattrs: u64,
    /// Entries of a type with no meaning in a layer (tape volume labels...).
    pub unknown: u64,
}

/// Unpacks a layer into `prepared`'s folder and checks its diff id.
///
/// `media_type` selects the decompression; `None` detects gzip, zstd or a
/// plain tar from the first bytes. On an error the snapshot folder holds a
/// partial tree: drop or abort `prepared`, never commit it.
pub fn unpack_layer<R: Read>(
    reader: R,
    media_type: Option<&MediaType>,
    prepared: &PreparedSnapshot,
    expected_diff_id: Option<&Digest>,
) -> Result<UnpackStats> {
    let compression = media_type.map(Compression::from_media_type).transpose()?;
    unpack_to_dir(reader, compression, &prepared.path(), expected_diff_id)
}

fn read_err(source: io::Error) -> Error {
    Error::ReadLayer { source }
}

/// [`unpack_layer`] into any empty directory.
pub(crate) fn unpack_to_dir<R: Read>(
    reader: R,
    compression: Option<Compression>,
    dir: &Path,
    expected_diff_id: Option<&Digest>,
) -> Result<UnpackStats> {
    let tar = Hashing::new(decoder(reader, compression).map_err(read_err)?);
    let mut archive = tar::Archive::new(tar);
    let root = Root::open(dir).map_err(|source| Error::UnpackEntry {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut unpacker = Unpacker {
        root,
        is_root: rustix::process::geteuid().is_root(),
        dirs: Vec::new(),
        entries: 0,
        skipped: Skipped::default(),
    };
    for entry in archive.entries().map_err(read_err)? {
        unpacker.entry(entry.map_err(read_err)?)?;
    }
    // The diff id covers the whole stream, padding after the end marker
    // included; draining also makes the decoder check its trailer.
    let mut rest = archive.into_inner();
    io::copy(&mut rest, &mut io::sink()).map_err(read_err)?;
    let (_, diff_id, tar_size) = rest.finish();
    if let Some(expected) = expected_diff_id {
        if *expected != diff_id {
            return Err(Error::DiffIdMismatch {
                expected: expected.clone(),
                actual: diff_id,
            });
        }
    }
    unpacker.finish_dirs()?;
    Ok(UnpackStats {
        diff_id,
        tar_size,
        entries: unpacker.entries,
        skipped: unpacker.skipped,
    })
}

struct Unpacker {
    root: Root,
    is_root: bool,
    /// Directories whose mode and mtime are applied at the end.
    dirs: Vec<(PathBuf, u32, i64)>,
    entries: u64,
    skipped: Skipped,
}

impl Unpacker {
    fn entry<R: Read>(&mut self, mut entry: tar::Entry<'_, R>) -> Result<()> {
        let kind = entry.header().entry_type();
        if kind.is_pax_global_extensions() {
            return Ok(());
        }
        let raw = entry.path_bytes().into_owned();
        let shown = String::from_utf8_lossy(&raw).into_owned();
        let refuse = |reason| Error::LayerEntry {
            path: shown.clone(),
            reason,
        };
        if raw.starts_with(b"/") {
            return Err(refuse("absolute path"));
        }
        let rel = normalize(&raw).ok_or_else(|| refuse("path escapes the layer root"))?;
        let meta = read_meta(&mut entry).map_err(read_err)?;
        self.entries += 1;

        let Some(name) = rel.file_name().map(OsStr::to_os_string) else {
            // The root itself ("./"): only its metadata can be applied.
            if kind.is_dir() {
                self.dirs.push((rel, meta.mode, meta.mtime));
                return Ok(());
            }
            return Err(refuse("entry replaces the layer root"));
        };
        let parent_rel = rel.parent().unwrap_or(Path::new("")).to_path_buf();
        let parent = self.open_dir(&parent_rel, true, &shown)?;
        match classify(&name) {
            EntryName::Meta => Ok(()),
            EntryName::Opaque => {
                let path = self.root.full_path(&parent_rel);
                if !tree::set_xattr(&path, OPAQUE_XATTR.as_bytes(), b"y")
                    .map_err(|e| self.io_err(&parent_rel, e))?
                {
                    self.skipped.opaque_dirs += 1;
                }
                Ok(())
            }
            EntryName::Whiteout(target) => {
                if matches!(target.as_bytes(), b"" | b"." | b"..") {
                    return Err(refuse("whiteout of no file"));
                }
                let target_rel = parent_rel.join(target);
                self.clear(&parent, &target_rel, false)?;
                let dev = rfs::makedev(0, 0);
                match rfs::mknodat(
                    &parent,
                    target,
                    FileType::CharacterDevice,
                    Mode::empty(),
                    dev,
                ) {
                    Ok(()) => self.finish_node(&parent, &target_rel, &meta),
                    Err(Errno::PERM) => {
                        self.skipped.whiteouts += 1;
                        Ok(())
                    }
                    Err(e) => Err(self.io_err(&target_rel, e.into())),
                }
            }
            EntryName::Plain => self.plain(entry, kind, &parent, &rel, &meta, &shown),
        }
    }

    fn plain<R: Read>(
        &mut self,
        mut entry: tar::Entry<'_, R>,
        kind: tar::EntryType,
        parent: &OwnedFd,
        rel: &Path,
        meta: &Meta,
        shown: &str,
    ) -> Result<()> {
        let name = rel.file_name().unwrap_or_default();
        let ioe = |e: io::Error| Error::UnpackEntry {
            path: rel.to_path_buf(),
            source: e,
        };
        use tar::EntryType as T;
        match kind {
            T::Directory => {
                self.clear(parent, rel, true)?;
                match rfs::mkdirat(parent, name, Mode::from_raw_mode(0o755)) {
                    Ok(()) | Err(Errno::EXIST) => {}
                    Err(e) => return Err(ioe(e.into())),
                }
                let fd = self.open_dir(rel, false, shown)?;
                self.chown_fd(&fd, meta).map_err(ioe)?;
                self.xattrs(rel, meta)?;
                self.dirs.push((rel.to_path_buf(), meta.mode, meta.mtime));
                Ok(())
            }
            T::Regular | T::Continuous | T::GNUSparse => {
                self.clear(parent, rel, false)?;
                let flags = OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW;
                let fd = rfs::openat(
                    parent,
                    name,
                    flags | OFlags::CLOEXEC,
                    Mode::from_raw_mode(0o600),
                )
                .map_err(|e| ioe(e.into()))?;
                let mut file = File::from(fd);
                copy_entry(&mut entry, &mut file, rel)?;
                self.chown_fd(&file, meta).map_err(ioe)?;
                self.xattrs(rel, meta)?;
                rfs::fchmod(&file, Mode::from_raw_mode(meta.mode)).map_err(|e| ioe(e.into()))?;
                rfs::futimens(&file, &tree::times(meta.mtime)).map_err(|e| ioe(e.into()))
            }
            T::Symlink => {
                let target = entry
                    .link_name_bytes()
                    .ok_or_else(|| refuse(shown, "symlink without a target"))?
                    .into_owned();
                self.clear(parent, rel, false)?;
                rfs::symlinkat(OsStr::from_bytes(&target), parent, name)
                    .map_err(|e| ioe(e.into()))?;
                self.chown_at(parent, name, meta).map_err(ioe)?;
                self.xattrs(rel, meta)?;
                rfs::utimensat(
                    parent,
                    name,
                    &tree::times(meta.mtime),
                    AtFlags::SYMLINK_NOFOLLOW,
                )
                .map_err(|e| ioe(e.into()))
            }
            T::Link => {
                let raw = entry
                    .link_name_bytes()
                    .ok_or_else(|| refuse(shown, "hardlink without a target"))?
                    .into_owned();
                if raw.starts_with(b"/") {
                    return Err(refuse(shown, "hardlink target is an absolute path"));
                }
                let target = normalize(&raw)
                    .filter(|t| t.file_name().is_some())
                    .ok_or_else(|| refuse(shown, "hardlink target outside the layer"))?;
                if target == rel {
                    return Err(refuse(shown, "hardlink to itself"));
                }
                let target_parent =
                    self.open_dir(target.parent().unwrap_or(Path::new("")), false, shown)?;
                let target_name = target.file_name().unwrap_or_default();
                match tree::lstat_at(&target_parent, target_name).map_err(ioe)? {
                    None => return Err(refuse(shown, "hardlink target not in the layer")),
                    Some(st) if tree::is_dir(&st) => {
                        return Err(refuse(shown, "hardlink to a directory"))
                    }
                    Some(_) => {}
                }
                self.clear(parent, rel, false)?;
                rfs::linkat(&target_parent, target_name, parent, name, AtFlags::empty())
                    .map_err(|e| ioe(e.into()))
            }
            T::Char | T::Block | T::Fifo => {
                let file_type = match kind {
                    T::Char => FileType::CharacterDevice,
                    T::Block => FileType::BlockDevice,
                    _ => FileType::Fifo,
                };
                let major = entry.header().device_major().ok().flatten().unwrap_or(0);
                let minor = entry.header().device_minor().ok().flatten().unwrap_or(0);
                self.clear(parent, rel, false)?;
                let dev = rfs::makedev(major, minor);
                match rfs::mknodat(parent, name, file_type, Mode::from_raw_mode(0o600), dev) {
                    Ok(()) => self.finish_node(parent, rel, meta),
                    Err(Errno::PERM) if kind != T::Fifo => {
                        self.skipped.devices += 1;
                        Ok(())
                    }
                    Err(e) => Err(ioe(e.into())),
                }
            }
            _ => {
                self.skipped.unknown += 1;
                Ok(())
            }
        }
    }

    /// Owner, xattrs, mode and mtime of a node made by mknod.
    fn finish_node(&mut self, parent: &OwnedFd, rel: &Path, meta: &Meta) -> Result<()> {
        let name = rel.file_name().unwrap_or_default();
        let ioe = |e: io::Error| self.io_err(rel, e);
        self.chown_at(parent, name, meta).map_err(ioe)?;
        self.xattrs(rel, meta)?;
        let ioe = |e: Errno| self.io_err(rel, e.into());
        // A device node is never a symlink, so following is harmless here.
        rfs::chmodat(
            parent,
            name,
            Mode::from_raw_mode(meta.mode),
            AtFlags::empty(),
        )
        .map_err(ioe)?;
        rfs::utimensat(
            parent,
            name,
            &tree::times(meta.mtime),
            AtFlags::SYMLINK_NOFOLLOW,
        )
        .map_err(ioe)
    }

    /// Makes room for a new entry at `rel`; an existing directory is kept
    /// when the new entry is one too (tar's merge semantics).
    fn clear(&self, parent: &OwnedFd, rel: &Path, keep_dir: bool) -> Result<()> {
        let name = rel.file_name().unwrap_or_default();
        let ioe = |e| self.io_err(rel, e);
        match tree::lstat_at(parent, name).map_err(ioe)? {
            None => Ok(()),
            Some(st) if keep_dir && tree::is_dir(&st) => Ok(()),
            Some(st) => tree::remove_at(&self.root, parent, rel, &st).map_err(ioe),
        }
    }

    fn open_dir(&self, rel: &Path, create: bool, shown: &str) -> Result<OwnedFd> {
        self.root.dir(rel, create).map_err(|e| match e {
            WalkError::NotDir => refuse(shown, "a parent is a symlink or not a directory"),
            WalkError::Missing => refuse(shown, "a parent directory is missing"),
            WalkError::Io(source) => self.io_err(rel, source),
        })
    }

    fn io_err(&self, rel: &Path, source: io::Error) -> Error {
        Error::UnpackEntry {
            path: rel.to_path_buf(),
            source,
        }
    }

    fn chown_fd(&self, fd: impl std::os::fd::AsFd, meta: &Meta) -> io::Result<()> {
        if !self.is_root {
            return Ok(());
        }
        let (uid, gid) = ids(meta)?;
        rfs::fchown(fd, Some(uid), Some(gid)).map_err(Into::into)
    }

    fn chown_at(&self, parent: &OwnedFd, name: &OsStr, meta: &Meta) -> io::Result<()> {
        if !self.is_root {
            return Ok(());
        }
        let (uid, gid) = ids(meta)?;
        rfs::chownat(
            parent,
            name,
            Some(uid),
            Some(gid),
            AtFlags::SYMLINK_NOFOLLOW,
        )
        .map_err(Into::into)
    }

    fn xattrs(&mut self, rel: &Path, meta: &Meta) -> Result<()> {
        let path = self.root.full_path(rel);
        for (name, value) in &meta.xattrs {
            if !tree::set_xattr(&path, name, value).map_err(|e| self.io_err(rel, e))? {
                self.skipped.xattrs += 1;
            }
        }
        Ok(())
    }

    /// Applies directory modes and mtimes, deepest first so that a
    /// read-only parent does not block its children.
    fn finish_dirs(&mut self) -> Result<()> {
        // A directory listed twice takes its last entry's metadata.
        let mut last = std::collections::BTreeMap::new();
        for (rel, mode, mtime) in std::mem::take(&mut self.dirs) {
            last.insert(rel, (mode, mtime));
        }
        let mut dirs: Vec<_> = last.into_iter().collect();
        dirs.sort_by_key(|(rel, _)| std::cmp::Reverse(rel.components().count()));
        for (rel, (mode, mtime)) in dirs {
            let fd = match self.root.dir(&rel, false) {
                Ok(fd) => fd,
                // Replaced by a later entry: nothing to apply.
                Err(WalkError::NotDir | WalkError::Missing) => continue,
                Err(WalkError::Io(e)) => return Err(self.io_err(&rel, e)),
            };
            let ioe = |e: Errno| self.io_err(&rel, e.into());
            rfs::fchmod(&fd, Mode::from_raw_mode(mode)).map_err(ioe)?;
            rfs::futimens(&fd, &tree::times(mtime)).map_err(ioe)?;
        }
        Ok(())
    }
}

fn refuse(shown: &str, reason: &'static str) -> Error {
    Error::LayerEntry {
        path: shown.to_owned(),
        reason,
    }
}

/// Copies an entry's content, telling stream errors from write errors.
fn copy_entry<R: Read>(entry: &mut tar::Entry<'_, R>, file: &mut File, rel: &Path) -> Result<()> {
    let mut buf = vec![0u8; 128 * 1024];
    loop {
        let n = entry.read(&mut buf).map_err(read_err)?;
        if n == 0 {
            return Ok(());
        }
        file.write_all(&buf[..n])
            .map_err(|source| Error::UnpackEntry {
                path: rel.to_path_buf(),
                source,
            })?;
    }
}
