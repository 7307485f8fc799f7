//! Packing an overlayfs upper directory into a deterministic layer:
//! [`pack_dir`], [`Store::write_layer`], [`PackOptions`] and [`LayerInfo`].
//!
//! The same tree always gives the same bytes: each directory's entries are
//! sorted by name bytes and its whiteouts (opaque marker first) come before
//! its other entries, as the OCI spec recommends; parents precede children;
//! ids are numeric with empty names; times are whole seconds, clamped to
//! `SOURCE_DATE_EPOCH` when given; access times, inode numbers and creation
//! order never show. Hardlinks are found by (device, inode).

use std::collections::HashMap;
use std::ffi::OsString;
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;

use oci_spec::image::{Descriptor, MediaType};
use rustix::fs::{self as rfs, Mode, OFlags, CWD};
use rustix::io::Errno;
use tar::EntryType;

use super::compress::{Compression, Encoder, Hashing};
use super::header::{self, EntryMeta};
use super::whiteout::{self, OPAQUE_MARKER, OPAQUE_XATTR, UNSUPPORTED_OVERLAY_XATTRS};
use crate::digest::Digest;
use crate::error::{Error, Result};
use crate::lease::Lease;
use crate::store::Store;

/// Labels that belong to the host's security policy, not to the image.
const HOST_XATTRS: [&str; 1] = ["security.selinux"];

/// How [`pack_dir`] writes a layer.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PackOptions {
    /// Compression of the layer blob; gzip by default.
    pub compression: Compression,
    /// `SOURCE_DATE_EPOCH`: no entry's mtime is later than this.
    pub source_date_epoch: Option<i64>,
}

/// A packed layer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LayerInfo {
    /// Digest of the (compressed) blob.
    pub digest: Digest,
    /// Size of the blob in bytes.
    pub size: u64,
    /// Digest of the uncompressed tar, for the image config's `rootfs`.
    pub diff_id: Digest,
    /// The OCI layer media type matching the compression.
    pub media_type: MediaType,
}

impl LayerInfo {
    /// The manifest descriptor of this layer.
    pub fn descriptor(&self) -> Descriptor {
        Descriptor::new(self.media_type.clone(), self.size, self.digest.to_oci())
    }
}

/// Tar bytes handed to the compressing thread in pieces of this size.
const CHUNK: usize = 1 << 20;

/// Packs `dir` (an overlay upper directory, or any tree) as a layer into
/// `out`, returning the layer's digests and `out` back. Reading the files
/// into the tar (and its diff ID) runs beside compressing and hashing the
/// blob, on a second thread, so a layer costs about its compression.
pub fn pack_dir<W: Write + Send>(dir: &Path, opts: &PackOptions, out: W) -> Result<(LayerInfo, W)> {
    let write_err = |source| Error::WriteLayer { source };
    let root_meta = lstat(dir)?;
    if !root_meta.is_dir() {
        return Err(Error::PackUnsupported {
            path: dir.to_path_buf(),
            reason: "not a directory",
        });
    }
    let compression = opts.compression;
    std::thread::scope(|scope| {
        let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<u8>>(4);
        let compressor = scope.spawn(move || -> io::Result<(W, Digest, u64)> {
            let mut encoder = Encoder::new(Hashing::new(out), compression)?;
            for chunk in rx {
                encoder.write_all(&chunk)?;
            }
            Ok(encoder.finish()?.finish())
        });
        let sink = Chunks {
            tx,
            buf: Vec::with_capacity(CHUNK),
        };
        let packer = Packer {
            epoch: opts.source_date_epoch,
            builder: tar::Builder::new(Hashing::new(sink)),
            links: HashMap::new(),
        };
        // The packer (and with it the sender) is gone when this returns,
        // so the compressor ends; its own error says more than a closed
        // channel.
        let packed = packer.pack(dir, &root_meta);
        let compressed = compressor
            .join()
            .unwrap_or_else(|_| Err(io::Error::other("the layer compressor panicked")));
        let (out, digest, size) = compressed.map_err(write_err)?;
        let diff_id = packed?;
        Ok((
            LayerInfo {
                digest,
                size,
                diff_id,
                media_type: opts.compression.media_type(),
            },
            out,
        ))
    })
}

impl Packer<Hashing<Chunks>> {
    /// Packs the tree and returns its diff ID.
    fn pack(mut self, dir: &Path, root_meta: &std::fs::Metadata) -> Result<Digest> {
        let write_err = |source| Error::WriteLayer { source };
        self.dir_contents(dir, b"", root_meta)?;
        let tar = self.builder.into_inner().map_err(write_err)?;
        let (mut sink, diff_id, _) = tar.finish();
        sink.flush().map_err(write_err)?;
        Ok(diff_id)
    }
}

/// The tar side of the pipe: bytes go to the compressor in [`CHUNK`]s.
struct Chunks {
    tx: std::sync::mpsc::SyncSender<Vec<u8>>,
    buf: Vec<u8>,
}

impl Write for Chunks {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= CHUNK {
            self.flush()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk = std::mem::replace(&mut self.buf, Vec::with_capacity(CHUNK));
        self.tx
            .send(chunk)
            .map_err(|_| io::Error::other("the layer compressor stopped"))
    }
}

impl Store {
    /// Packs `dir` straight into a blob of this store, protected by `lease`.
    pub fn write_layer(&self, lease: &Lease, dir: &Path, opts: &PackOptions) -> Result<LayerInfo> {
        let writer = self.writer(lease)?;
        let (info, writer) = pack_dir(dir, opts, writer)?;
        writer.commit(Some((info.digest.clone(), info.size)))?;
        Ok(info)
    }
}

struct Packer<W: Write> {
    epoch: Option<i64>,
    builder: tar::Builder<W>,
    /// Tar path of the first occurrence of each multiply-linked inode.
    links: HashMap<(u64, u64), Vec<u8>>,
}

fn lstat(path: &Path) -> Result<std::fs::Metadata> {
    std::fs::symlink_metadata(path).map_err(|source| pack_err(path, source))
}

fn pack_err(path: &Path, source: io::Error) -> Error {
    Error::PackFile {
        path: path.to_path_buf(),
        source,
    }
}

/// Whether a file is an overlayfs whiteout (character device 0:0).
fn is_whiteout(meta: &std::fs::Metadata) -> bool {
    meta.file_type().is_char_device() && meta.rdev() == 0
}

impl<W: Write> Packer<W> {
    /// Emits the opaque marker, whiteouts, then every other child of `abs`
    /// (whose tar path, with a trailing `/` unless the root, is `prefix`).
    fn dir_contents(&mut self, abs: &Path, prefix: &[u8], meta: &std::fs::Metadata) -> Result<()> {
        let xattrs = read_xattrs(abs)?;
        if xattrs
            .iter()
            .any(|(k, v)| k == OPAQUE_XATTR.as_bytes() && v == b"y")
        {
            let mut path = prefix.to_vec();
            path.extend_from_slice(OPAQUE_MARKER);
            self.append_marker(path, meta)?;
        }
        let mut names: Vec<OsString> = std::fs::read_dir(abs)
            .map_err(|e| pack_err(abs, e))?
            .map(|e| e.map(|e| e.file_name()))
            .collect::<io::Result<_>>()
            .map_err(|e| pack_err(abs, e))?;
        names.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
        let mut children = Vec::with_capacity(names.len());
        for name in names {
            let child = abs.join(&name);
            let child_meta = lstat(&child)?;
            if name.as_bytes().starts_with(whiteout::WHITEOUT_PREFIX) {
                return Err(Error::PackUnsupported {
                    path: child,
                    reason: "the name is reserved for whiteouts",
                });
            }
            let mut path = prefix.to_vec();
            if is_whiteout(&child_meta) {
                path.extend_from_slice(&whiteout::whiteout_name(&name));
                self.append_marker(path, &child_meta)?;
            } else {
                path.extend_from_slice(name.as_bytes());
                children.push((child, path, child_meta));
            }
        }
        for (child, path, child_meta) in children {
            self.entry(&child, path, &child_meta)?;
        }
        Ok(())
    }

    /// A whiteout or opaque marker: an empty regular file.
    fn append_marker(&mut self, path: Vec<u8>, meta: &std::fs::Metadata) -> Result<()> {
        let entry = EntryMeta {
            path,
            kind: EntryType::Regular,
            mode: 0,
            uid: meta.uid().into(),
            gid: meta.gid().into(),
            mtime: self.clamp(meta.mtime()),
            size: 0,
            link: None,
            device: (0, 0),
            xattrs: Vec::new(),
        };
        header::append(&mut self.builder, &entry, io::empty())
            .map_err(|source| Error::WriteLayer { source })
    }

    fn clamp(&self, mtime: i64) -> i64 {
        match self.epoch {
            Some(epoch) => mtime.min(epoch),
            None => mtime,
        }
    }

    fn entry(&mut self, abs: &Path, mut path: Vec<u8>, meta: &std::fs::Metadata) -> Result<()> {
        let file_type = meta.file_type();
        if file_type.is_socket() {
            return Ok(()); // a socket is a running process's, not the image's
        }
        let mut xattrs = read_xattrs(abs)?;
        if xattrs
            .iter()
            .any(|(k, _)| UNSUPPORTED_OVERLAY_XATTRS.iter().any(|u| k == u.as_bytes()))
        {
            return Err(Error::PackUnsupported {
                path: abs.to_path_buf(),
                reason: "overlay redirect_dir or metacopy; mount the upper dir without them",
            });
        }
        xattrs.retain(|(k, _)| {
            !whiteout::is_overlay_xattr(k) && !HOST_XATTRS.iter().any(|h| k == h.as_bytes())
        });
        let mut entry = EntryMeta {
            path: Vec::new(),
            kind: EntryType::Regular,
            mode: meta.mode() & 0o7777,
            uid: meta.uid().into(),
            gid: meta.gid().into(),
            mtime: self.clamp(meta.mtime()),
            size: 0,
            link: None,
            device: (0, 0),
            xattrs,
        };
        if file_type.is_dir() {
            path.push(b'/');
            entry.kind = EntryType::Directory;
            entry.path = path.clone();
            self.append(&entry, io::empty())?;
            return self.dir_contents(abs, &path, meta);
        }
        entry.path = path;
        if meta.nlink() > 1 {
            let key = (meta.dev(), meta.ino());
            if let Some(first) = self.links.get(&key) {
                entry.kind = EntryType::Link;
                entry.link = Some(first.clone());
                return self.append(&entry, io::empty());
            }
            self.links.insert(key, entry.path.clone());
        }
        if file_type.is_file() {
            entry.size = meta.len();
            let fd = rfs::openat(
                CWD,
                abs,
                OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                Mode::empty(),
            )
            .map_err(|e: Errno| pack_err(abs, e.into()))?;
            let content = Exact {
                inner: File::from(fd).take(entry.size),
                left: entry.size,
            };
            self.append(&entry, content).map_err(|e| match e {
                Error::WriteLayer { source } if source.kind() == io::ErrorKind::UnexpectedEof => {
                    pack_err(abs, source)
                }
                e => e,
            })
        } else if file_type.is_symlink() {
            let target = std::fs::read_link(abs).map_err(|e| pack_err(abs, e))?;
            entry.kind = EntryType::Symlink;
            entry.link = Some(target.as_os_str().as_bytes().to_vec());
            self.append(&entry, io::empty())
        } else {
            entry.kind = if file_type.is_char_device() {
                EntryType::Char
            } else if file_type.is_block_device() {
                EntryType::Block
            } else {
                EntryType::Fifo
            };
            if !file_type.is_fifo() {
                let rdev = meta.rdev();
                entry.device = (rfs::major(rdev), rfs::minor(rdev));
            }
            self.append(&entry, io::empty())
        }
    }

    fn append(&mut self, entry: &EntryMeta, data: impl Read) -> Result<()> {
        header::append(&mut self.builder, entry, data)
            .map_err(|source| Error::WriteLayer { source })
    }
}

/// Reads exactly `left` bytes, failing if the file shrank while packed
/// (the header already promised its size).
struct Exact<R> {
    inner: R,
    left: u64,
}

impl<R: Read> Read for Exact<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n == 0 && self.left > 0 && !buf.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "file shrank while being packed",
            ));
        }
        self.left -= n as u64;
        Ok(n)
    }
}

/// Every xattr of `path` (not following a symlink), sorted by name.
fn read_xattrs(path: &Path) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
    let err = |e: Errno| pack_err(path, e.into());
    let size = match rfs::llistxattr_query(path) {
        Ok(n) => n,
        Err(Errno::NOTSUP) => return Ok(Vec::new()),
        Err(e) => return Err(err(e)),
    };
    if size == 0 {
        return Ok(Vec::new());
    }
    let mut list = vec![0u8; size];
    let n = rfs::llistxattr(path, &mut list[..]).map_err(err)?;
    list.truncate(n);
    let mut out = Vec::new();
    for name in list.split(|&b| b == 0).filter(|n| !n.is_empty()) {
        let name_os = std::ffi::OsStr::from_bytes(name);
        let size = match rfs::lgetxattr_query(path, name_os) {
            Ok(n) => n,
            Err(Errno::NODATA) => continue, // removed meanwhile
            Err(e) => return Err(err(e)),
        };
        let mut value = vec![0u8; size];
        let n = rfs::lgetxattr(path, name_os, &mut value[..]).map_err(err)?;
        value.truncate(n);
        out.push((name.to_vec(), value));
    }
    out.sort();
    Ok(out)
}
