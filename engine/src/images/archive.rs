//! Reading an image archive (a tar stream, seekable or not) into [`Staged`]
//! files: small ones (metadata) in memory, large ones (layers) spooled into
//! uncommitted store writers. Every file is hashed on the way in; nothing
//! becomes visible in the store until [`Staged::commit`] checks it against
//! the digest the caller expects.

use std::collections::BTreeMap;
use std::io::{self, Read, Write};

use rdock_cache::{BlobInfo, Digest, Lease, Store, Writer};

use crate::error::{Error, Result};

/// Files up to this size are kept in memory (and may be parsed as JSON)...
const IN_MEMORY_MAX: u64 = 8 << 20;
/// ...while all of them together stay under this; the rest is spooled.
const IN_MEMORY_TOTAL: u64 = 256 << 20;

#[derive(Debug)]
enum Content {
    Bytes(Vec<u8>),
    Spooled(Box<Writer>),
}

/// One regular file of the archive, hashed.
#[derive(Debug)]
pub(crate) struct StagedFile {
    pub(crate) digest: Digest,
    pub(crate) size: u64,
    content: Content,
}

/// The files of an archive by normalized path (no `./`, no leading `/`).
#[derive(Debug, Default)]
pub(crate) struct Staged {
    files: BTreeMap<String, StagedFile>,
    links: BTreeMap<String, String>,
}

/// `./a//b` and `/a/b` are `a/b`.
pub(crate) fn normalize(path: &str) -> String {
    path.split('/')
        .filter(|c| !c.is_empty() && *c != ".")
        .collect::<Vec<_>>()
        .join("/")
}

/// Resolves `target` of a symlink at `link` (relative to its folder).
fn resolve_link(link: &str, target: &str) -> String {
    if target.starts_with('/') {
        return normalize(target);
    }
    let mut parts: Vec<&str> = link.split('/').collect();
    parts.pop();
    for c in target.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            c => parts.push(c),
        }
    }
    parts.join("/")
}

/// A reader that yields the plain tar: gzip is undone, as `docker load`
/// and `docker import` do; other compressions are refused with `refuse`.
pub(crate) fn plain_tar<'a>(
    reader: impl Read + 'a,
    refuse: fn(&'static str) -> Error,
    read_err: fn(io::Error) -> Error,
) -> Result<Box<dyn Read + 'a>> {
    match sniff(reader).map_err(read_err)? {
        (None, r) => Ok(Box::new(r)),
        (Some("gzip"), r) => Ok(Box::new(flate2::read::MultiGzDecoder::new(r))),
        (Some(kind), _) => Err(refuse(kind)),
    }
}

/// Reads the first bytes of `reader` and names the compression they show,
/// if any; returns a reader that still yields every byte.
fn sniff<R: Read>(mut reader: R) -> io::Result<(Option<&'static str>, impl Read + use<R>)> {
    let mut magic = [0u8; 4];
    let mut got = 0;
    while got < magic.len() {
        match reader.read(&mut magic[got..])? {
            0 => break,
            n => got += n,
        }
    }
    let kind = match magic {
        [0x1f, 0x8b, ..] => Some("gzip"),
        [0x28, 0xb5, 0x2f, 0xfd] => Some("zstd"),
        [b'B', b'Z', b'h', _] => Some("bzip2"),
        [0xfd, b'7', b'z', b'X'] => Some("xz"),
        _ => None,
    };
    Ok((kind, io::Cursor::new(magic[..got].to_vec()).chain(reader)))
}

impl Staged {
    /// Reads the whole tar stream, spooling large files under `lease`.
    pub(crate) fn read(store: &Store, lease: &Lease, reader: impl Read) -> Result<Staged> {
        let read_err = |source| Error::ReadArchive { source };
        let mut archive = tar::Archive::new(reader);
        let mut staged = Staged::default();
        let mut in_memory = 0;
        for entry in archive.entries().map_err(read_err)? {
            let mut entry = entry.map_err(read_err)?;
            let path = normalize(&String::from_utf8_lossy(&entry.path_bytes()));
            let kind = entry.header().entry_type();
            if kind.is_symlink() || kind.is_hard_link() {
                let target = entry.link_name_bytes().unwrap_or_default();
                let target = String::from_utf8_lossy(&target);
                let resolved = if kind.is_symlink() {
                    resolve_link(&path, &target)
                } else {
                    normalize(&target)
                };
                staged.links.insert(path, resolved);
                continue;
            }
            if !kind.is_file() {
                continue;
            }
            let small = entry.size() <= IN_MEMORY_MAX;
            let file = if small && in_memory + entry.size() <= IN_MEMORY_TOTAL {
                in_memory += entry.size();
                let mut bytes = Vec::with_capacity(entry.size() as usize);
                entry.read_to_end(&mut bytes).map_err(read_err)?;
                StagedFile {
                    digest: Digest::sha256(&bytes),
                    size: bytes.len() as u64,
                    content: Content::Bytes(bytes),
                }
            } else {
                let mut writer = store.writer(lease)?;
                io::copy(&mut entry, &mut writer).map_err(read_err)?;
                StagedFile {
                    digest: writer.digest(),
                    size: writer.size(),
                    content: Content::Spooled(Box::new(writer)),
                }
            };
            staged.files.insert(path, file);
        }
        Ok(staged)
    }

    fn resolve<'a>(&'a self, path: &'a str) -> &'a str {
        let mut path = path;
        // Bounded: a link cycle ends as "not found".
        for _ in 0..16 {
            match self.links.get(path) {
                Some(target) => path = target,
                None => break,
            }
        }
        path
    }

    /// Whether the archive has a file at `path` (links followed).
    pub(crate) fn contains(&self, path: &str) -> bool {
        self.files.contains_key(self.resolve(&normalize(path)))
    }

    /// The file at `path` (links followed).
    pub(crate) fn get(&self, path: &str) -> Result<&StagedFile> {
        let path = normalize(path);
        self.files
            .get(self.resolve(&path))
            .ok_or(Error::ArchiveMissing { path })
    }

    /// The content of a metadata file.
    pub(crate) fn bytes(&self, path: &str) -> Result<&[u8]> {
        let file = self.get(path)?;
        match &file.content {
            Content::Bytes(b) => Ok(b),
            Content::Spooled(_) => Err(Error::ArchiveTooLarge {
                path: path.to_owned(),
                size: file.size,
            }),
        }
    }

    /// Parses a metadata file as JSON.
    pub(crate) fn json<T: serde::de::DeserializeOwned>(&self, path: &str) -> Result<T> {
        serde_json::from_slice(self.bytes(path)?).map_err(|source| Error::ArchiveJson {
            path: path.to_owned(),
            source,
        })
    }

    /// Checks that the file at `path` hashes to `expected` (and has
    /// `size` bytes when given).
    pub(crate) fn check(&self, path: &str, expected: &Digest, size: Option<u64>) -> Result<()> {
        let file = self.get(path)?;
        if &file.digest != expected {
            return Err(Error::BlobMismatch {
                path: path.to_owned(),
                expected: expected.to_string(),
                actual: file.digest.to_string(),
            });
        }
        match size {
            Some(size) if size != file.size => Err(Error::BlobSize {
                path: path.to_owned(),
                expected: size,
                actual: file.size,
            }),
            _ => Ok(()),
        }
    }

    /// Commits the files at `paths` (already checked) into the store under
    /// `lease`, each verified once more against its digest by the store.
    pub(crate) fn commit(mut self, lease: &Lease, paths: &[String]) -> Result<Vec<BlobInfo>> {
        let mut out = Vec::new();
        for path in paths {
            let real = self.resolve(&normalize(path)).to_owned();
            let Some(file) = self.files.remove(&real) else {
                continue; // committed already through another path
            };
            let expected = Some((file.digest.clone(), file.size));
            let info = match file.content {
                Content::Spooled(writer) => writer.commit(expected)?,
                Content::Bytes(bytes) => {
                    let mut writer = lease.store().writer(lease)?;
                    writer
                        .write_all(&bytes)
                        .map_err(|source| Error::ReadArchive { source })?;
                    writer.commit(expected)?
                }
            };
            out.push(info);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_and_links() {
        assert_eq!(normalize("./blobs//sha256/x"), "blobs/sha256/x");
        assert_eq!(resolve_link("a/layer.tar", "../b/layer.tar"), "b/layer.tar");
        assert_eq!(resolve_link("a/layer.tar", "/c"), "c");
    }
}
