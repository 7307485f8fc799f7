//! [`write_rootfs`]: an image's layers flattened into the one file system
//! tar a container would see, as BuildKit's `tar` exporter writes it, and
//! [`unpack_rootfs`] for its `local` exporter (that tar written into a
//! directory).
//!
//! Two passes over the layers: the first, top layer first, decides which
//! entries survive (an entry is hidden by the same path, a whiteout
//! `.wh.NAME` or a non-directory at the path or a parent, or an opaque
//! marker `.wh..wh..opq` on a parent, in any layer above it); the second,
//! bottom layer first, copies the survivors. Whiteouts never appear in the
//! output.

use std::collections::HashSet;
use std::io::{self, Read, Seek, Write};
use std::path::Path;

use rdock_cache::{Compression, Digest, Store};

use super::archive::normalize;
use super::Image;
use crate::error::{Error, Result};

const WHITEOUT: &str = ".wh.";
const OPAQUE: &str = ".wh..wh..opq";

/// A layer blob as a plain tar stream.
pub(crate) fn layer_tar(store: &Store, digest: &Digest) -> Result<Box<dyn Read>> {
    let read_err = |source| Error::ReadArchive { source };
    let mut file = store.open_blob(digest)?;
    let mut magic = [0u8; 4];
    let mut got = 0;
    while got < magic.len() {
        match file.read(&mut magic[got..]).map_err(read_err)? {
            0 => break,
            n => got += n,
        }
    }
    let reader = io::Cursor::new(magic[..got].to_vec()).chain(file);
    Ok(match Compression::detect(&magic[..got]) {
        Compression::None => Box::new(reader),
        Compression::Gzip => Box::new(flate2::read::MultiGzDecoder::new(reader)),
        Compression::Zstd => Box::new(zstd::Decoder::new(reader).map_err(read_err)?),
    })
}

/// What one layer entry does to the layers below it.
#[derive(Debug)]
enum Change {
    /// A file, directory or link at this path.
    Entry { path: String, dir: bool },
    /// `.wh.NAME`: removes the path.
    Whiteout(String),
    /// `.wh..wh..opq`: hides what lower layers have in this directory.
    Opaque(String),
}

fn change(path: String, dir: bool) -> Change {
    let (parent, name) = match path.rsplit_once('/') {
        Some((p, n)) => (p.to_owned(), n),
        None => (String::new(), path.as_str()),
    };
    let join = |n: &str| {
        if parent.is_empty() {
            n.to_owned()
        } else {
            format!("{parent}/{n}")
        }
    };
    if name == OPAQUE {
        Change::Opaque(parent.clone())
    } else if let Some(hidden) = name.strip_prefix(WHITEOUT) {
        Change::Whiteout(join(hidden))
    } else {
        Change::Entry { path, dir }
    }
}

fn read_changes(store: &Store, digest: &Digest) -> Result<Vec<Change>> {
    let read_err = |source| Error::ReadArchive { source };
    let mut archive = tar::Archive::new(layer_tar(store, digest)?);
    let mut out = Vec::new();
    for entry in archive.entries().map_err(read_err)? {
        let entry = entry.map_err(read_err)?;
        let path = normalize(&String::from_utf8_lossy(&entry.path_bytes()));
        if path.is_empty() {
            continue;
        }
        let dir = entry.header().entry_type().is_dir();
        out.push(change(path, dir));
    }
    Ok(out)
}

/// Paths hidden from lower layers.
#[derive(Debug, Default)]
struct Masks {
    /// The path and everything under it.
    whole: HashSet<String>,
    /// Everything under the path, not the path itself.
    children: HashSet<String>,
    /// Paths an upper layer has an entry for.
    seen: HashSet<String>,
}

impl Masks {
    fn hides(&self, path: &str) -> bool {
        if self.seen.contains(path) || self.whole.contains(path) {
            return true;
        }
        let mut prefix = path;
        while let Some((parent, _)) = prefix.rsplit_once('/') {
            if self.whole.contains(parent) || self.children.contains(parent) {
                return true;
            }
            prefix = parent;
        }
        self.children.contains("")
    }
}

/// For each layer, bottom first, which of its entries (by position) go
/// into the flattened file system.
fn survivors(store: &Store, image: &Image) -> Result<Vec<Vec<bool>>> {
    let layers = image.manifest.layers();
    let mut keep = vec![Vec::new(); layers.len()];
    let mut masks = Masks::default();
    for (i, layer) in layers.iter().enumerate().rev() {
        let changes = read_changes(store, &Digest::try_from(layer.digest())?)?;
        keep[i] = changes
            .iter()
            .map(|c| matches!(c, Change::Entry { path, .. } if !masks.hides(path)))
            .collect();
        for c in changes {
            match c {
                Change::Entry { path, dir } => {
                    if !dir {
                        masks.whole.insert(path.clone());
                    }
                    masks.seen.insert(path);
                }
                Change::Whiteout(path) => {
                    masks.whole.insert(path);
                }
                Change::Opaque(path) => {
                    masks.children.insert(path);
                }
            }
        }
    }
    Ok(keep)
}

/// Writes the flattened file system of `image` as one tar to `writer`.
pub(crate) fn write_rootfs(store: &Store, image: &Image, writer: impl Write) -> Result<()> {
    let read_err = |source| Error::ReadArchive { source };
    let write_err = |source| Error::WriteArchive { source };
    let keep = survivors(store, image)?;
    let mut out = tar::Builder::new(writer);
    out.follow_symlinks(false);
    for (layer, keep) in image.manifest.layers().iter().zip(keep) {
        let mut archive = tar::Archive::new(layer_tar(store, &Digest::try_from(layer.digest())?)?);
        let mut index = 0;
        for entry in archive.entries().map_err(read_err)? {
            let entry = entry.map_err(read_err)?;
            let path = normalize(&String::from_utf8_lossy(&entry.path_bytes()));
            if path.is_empty() {
                continue;
            }
            let kept = keep.get(index).copied().unwrap_or(false);
            index += 1;
            if !kept {
                continue;
            }
            let mut header = entry.header().clone();
            let kind = header.entry_type();
            let shown = if kind.is_dir() {
                format!("{path}/")
            } else {
                path
            };
            if kind.is_symlink() || kind.is_hard_link() {
                let target = entry.link_name_bytes().unwrap_or_default();
                let target = String::from_utf8_lossy(&target).into_owned();
                let target = if kind.is_hard_link() {
                    normalize(&target)
                } else {
                    target
                };
                out.append_link(&mut header, &shown, &target)
                    .map_err(write_err)?;
            } else {
                out.append_data(&mut header, &shown, entry)
                    .map_err(write_err)?;
            }
        }
    }
    out.into_inner()
        .and_then(|mut w| w.flush())
        .map_err(write_err)?;
    Ok(())
}

/// Writes the flattened file system of `image` into the directory `dest`
/// (created if missing), keeping modes and, as root, owners.
pub(crate) fn unpack_rootfs(store: &Store, image: &Image, dest: &Path) -> Result<()> {
    let write_err = |source| Error::WriteArchive { source };
    let mut spool = tempfile::tempfile().map_err(write_err)?;
    write_rootfs(store, image, &mut spool)?;
    spool.rewind().map_err(write_err)?;
    std::fs::create_dir_all(dest).map_err(write_err)?;
    let mut archive = tar::Archive::new(spool);
    archive.set_preserve_permissions(true);
    archive.set_preserve_ownerships(is_uid_zero());
    archive.set_overwrite(true);
    archive.unpack(dest).map_err(write_err)
}

/// Whether this process runs as root (the owner of its `/proc/self`).
fn is_uid_zero() -> bool {
    std::fs::metadata("/proc/self")
        .map(|m| std::os::unix::fs::MetadataExt::uid(&m) == 0)
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whiteouts_hide_lower_entries() {
        let mut masks = Masks::default();
        for c in [
            change("a/.wh.b".into(), false),
            change("c/.wh..wh..opq".into(), false),
            change("d".into(), false),
        ] {
            match c {
                Change::Whiteout(p) => drop(masks.whole.insert(p)),
                Change::Opaque(p) => drop(masks.children.insert(p)),
                Change::Entry { path, .. } => drop(masks.whole.insert(path)),
            }
        }
        assert!(masks.hides("a/b"));
        assert!(masks.hides("a/b/x"));
        assert!(!masks.hides("a/bb"));
        assert!(masks.hides("c/x"));
        assert!(!masks.hides("c"));
        assert!(masks.hides("d/e"));
        assert!(!masks.hides("e"));
    }
}
