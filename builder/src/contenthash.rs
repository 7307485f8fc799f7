//! Content digests of COPY sources from the build context, for cache keys
//! (in the manner of BuildKit's `cache/contenthash`): [`content_digest`]
//! walks what a [`CopyRequest`] selects and hashes, sorted, each entry's
//! path relative to the context, type, mode, owner as it will be written,
//! size, content SHA-256 and link target. Never mtimes, never the
//! context's absolute path, so the same files give the same key anywhere.
//!
//! [`ContextIndex`] is the stat fast path, like git's index: per context
//! folder (the absolute path names only the local index file, under
//! `context-index/` in the store root), relative path to size, mtime,
//! inode, mode and content digest, so unchanged files are not re-read.
//! As in git, an entry is "racily clean" when its file's mtime is not
//! older than the build that hashed it (a later write in the same clock
//! tick would not show), and such entries are read again. Files that need
//! reading are hashed in parallel.

use std::collections::BTreeMap;
use std::fs::Metadata;
use std::io::Read;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use rdock_cache::{Algorithm, Digest, Hasher};
use serde::{Deserialize, Serialize};

use crate::copy::{left_out, select, CopyRequest};
use crate::error::{Error, Result};
use crate::key::KeyWriter;

/// The index file format version.
const INDEX_VERSION: u32 = 1;

/// What the index remembers of one file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Stat {
    size: u64,
    mtime_ns: i64,
    ino: u64,
    mode: u32,
    sha256: String,
}

impl Stat {
    fn matches(&self, m: &Metadata) -> bool {
        self.size == m.size()
            && self.mtime_ns == mtime_ns(m)
            && self.ino == m.ino()
            && self.mode == m.mode()
    }
}

fn mtime_ns(m: &Metadata) -> i64 {
    m.mtime().saturating_mul(1_000_000_000) + m.mtime_nsec()
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct IndexFile {
    version: u32,
    /// When the build that wrote it started (ns since the epoch).
    started_ns: i64,
    files: BTreeMap<String, Stat>,
}

fn now_ns() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
}

/// The stat cache of one build context.
#[derive(Debug, Default)]
pub(crate) struct ContextIndex {
    /// Where it is saved; `None` keeps it in memory only.
    path: Option<PathBuf>,
    /// The context folder, to forget files that are gone.
    context: PathBuf,
    /// When this build started: entries hashed now are racy for files
    /// modified from then on.
    started_ns: i64,
    files: BTreeMap<String, Stat>,
    dirty: bool,
    /// Files read and hashed so far (the rest came from the index).
    pub hashed: usize,
}

impl ContextIndex {
    /// The index of `context` kept under `store_root`; an unreadable or
    /// outdated index file starts empty.
    pub fn load(store_root: &Path, context: &Path) -> ContextIndex {
        let started_ns = now_ns();
        let abs = std::fs::canonicalize(context).unwrap_or_else(|_| context.to_path_buf());
        let name = Digest::sha256(abs.as_os_str().as_bytes());
        let path = store_root
            .join("context-index")
            .join(format!("{}.json", name.hex()));
        let files = std::fs::read(&path)
            .ok()
            .and_then(|b| serde_json::from_slice::<IndexFile>(&b).ok())
            .filter(|f| f.version == INDEX_VERSION)
            .map(|f| {
                let started = f.started_ns;
                let mut files = f.files;
                files.retain(|_, s| s.mtime_ns < started);
                files
            })
            .unwrap_or_default();
        ContextIndex {
            path: Some(path),
            context: abs,
            started_ns,
            files,
            ..ContextIndex::default()
        }
    }

    /// Writes the index back when it changed: temp file, then rename.
    pub fn save(&mut self) -> Result<()> {
        let Some(path) = self.path.clone().filter(|_| self.dirty) else {
            return Ok(());
        };
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| Error::Io {
                step: "saving the context index".into(),
                action: "writing",
                path,
                source,
            }
        };
        let dir = path.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir).map_err(io(dir))?;
        let context = &self.context;
        self.files
            .retain(|rel, _| std::fs::symlink_metadata(context.join(rel)).is_ok());
        let file = IndexFile {
            version: INDEX_VERSION,
            started_ns: self.started_ns,
            files: std::mem::take(&mut self.files),
        };
        let bytes = serde_json::to_vec(&file).expect("the index serializes");
        self.files = file.files;
        let tmp = path.with_extension(format!("tmp-{}", std::process::id()));
        std::fs::write(&tmp, bytes).map_err(io(&tmp))?;
        std::fs::rename(&tmp, &path).map_err(io(&path))?;
        self.dirty = false;
        Ok(())
    }
}

/// One selected entry.
struct Entry {
    /// Path relative to the context root.
    rel: PathBuf,
    /// The file's name at the destination.
    name: std::ffi::OsString,
    real: PathBuf,
    meta: Metadata,
}

/// Every entry the request copies, in walk order (sorted per folder).
fn entries(req: &CopyRequest<'_>) -> Result<Vec<Entry>> {
    let found = select(req)?;
    let mut out = Vec::new();
    for s in found {
        let base = s.exclude_base();
        let mut stack = vec![Entry {
            rel: s.rel,
            name: s.name,
            real: s.real,
            meta: s.meta,
        }];
        while let Some(e) = stack.pop() {
            if e.meta.is_dir() {
                let children = req.from.read_dir(&e.rel).map_err(|source| Error::Io {
                    step: req.step.to_string(),
                    action: "reading",
                    path: e.real.clone(),
                    source,
                })?;
                for (name, child) in children.into_iter().rev() {
                    let rel = e.rel.join(&name);
                    if left_out(req, &base, &rel, &child)? {
                        continue;
                    }
                    let meta = std::fs::symlink_metadata(&child).map_err(|source| Error::Io {
                        step: req.step.to_string(),
                        action: "reading",
                        path: child.clone(),
                        source,
                    })?;
                    stack.push(Entry {
                        rel,
                        name,
                        real: child,
                        meta,
                    });
                }
            }
            out.push(e);
        }
    }
    Ok(out)
}

fn hash_file(step: &str, path: &Path) -> Result<String> {
    let io = |source| Error::Io {
        step: step.to_string(),
        action: "hashing",
        path: path.to_path_buf(),
        source,
    };
    let mut f = std::fs::File::open(path).map_err(io)?;
    let mut h = Hasher::new(Algorithm::Sha256);
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = f.read(&mut buf).map_err(io)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(h.finish().hex().to_string())
}

/// The digest of everything `req` copies from the context: entries as
/// BuildKit's checksum walk sees them, files hashed in parallel unless
/// `index` knows them unchanged.
pub(crate) fn content_digest(req: &CopyRequest<'_>, index: &mut ContextIndex) -> Result<Digest> {
    let entries = entries(req)?;
    let key_of = |e: &Entry| e.rel.to_string_lossy().into_owned();
    let missing: Vec<&Entry> = entries
        .iter()
        .filter(|e| e.meta.is_file())
        .filter(|e| {
            !index
                .files
                .get(&key_of(e))
                .is_some_and(|s| s.matches(&e.meta))
        })
        .collect();
    let hashed: Vec<(String, Stat)> = missing
        .par_iter()
        .map(|e| {
            let sha256 = hash_file(req.step, &e.real)?;
            let m = &e.meta;
            let stat = Stat {
                size: m.size(),
                mtime_ns: mtime_ns(m),
                ino: m.ino(),
                mode: m.mode(),
                sha256,
            };
            Ok((key_of(e), stat))
        })
        .collect::<Result<_>>()?;
    index.hashed += hashed.len();
    index.dirty |= !hashed.is_empty();
    index.files.extend(hashed);

    let (uid, gid) = req.owner.unwrap_or((0, 0));
    let mut w = KeyWriter::new("context-content");
    w.u64(entries.len() as u64);
    for e in &entries {
        let m = &e.meta;
        w.str(&key_of(e))
            .bytes(e.name.as_bytes())
            .u64(u64::from(m.mode()))
            .u64(u64::from(uid))
            .u64(u64::from(gid));
        if m.is_file() {
            let sha = &index.files[&key_of(e)].sha256;
            w.u64(m.size()).str(sha);
        } else if m.file_type().is_symlink() {
            let link = std::fs::read_link(&e.real).map_err(|source| Error::Io {
                step: req.step.to_string(),
                action: "reading",
                path: e.real.clone(),
                source,
            })?;
            w.bytes(link.as_os_str().as_bytes());
        }
    }
    Ok(w.finish().digest().clone())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fsview::Layers;
    use std::os::unix::fs::PermissionsExt;

    fn digest(ctx: &Path, index: &mut ContextIndex) -> Digest {
        let from = Layers::new(vec![ctx.to_path_buf()]);
        let target = Layers::default();
        let req = CopyRequest {
            step: "COPY",
            from: &from,
            ignore: None,
            sources: &[".".to_string()],
            dest: "/",
            owner: None,
            context: true,
            chmod: None,
            target: &target,
            exclude: None,
            inline: &[],
            parents: false,
            unpack: false,
        };
        content_digest(&req, index).unwrap()
    }

    fn context(dir: &Path) {
        std::fs::create_dir_all(dir.join("sub")).unwrap();
        std::fs::write(dir.join("a"), "a").unwrap();
        std::fs::write(dir.join("sub/b"), "b").unwrap();
        std::os::unix::fs::symlink("sub/b", dir.join("link")).unwrap();
    }

    #[test]
    fn stat_fast_path_and_what_the_digest_sees() {
        let tmp = tempfile::tempdir().unwrap();
        let ctx = tmp.path().join("ctx");
        context(&ctx);
        let mut index = ContextIndex::load(&tmp.path().join("root"), &ctx);
        let first = digest(&ctx, &mut index);
        assert_eq!(index.hashed, 2);
        assert_eq!(digest(&ctx, &mut index), first);
        assert_eq!(index.hashed, 2, "unchanged files are not read again");
        index.save().unwrap();

        // The saved index serves the next build.
        let mut index = ContextIndex::load(&tmp.path().join("root"), &ctx);
        assert_eq!(digest(&ctx, &mut index), first);
        assert_eq!(index.hashed, 0);

        // An mtime change re-reads the file, and the digest stays.
        let f = std::fs::File::options()
            .write(true)
            .open(ctx.join("a"))
            .unwrap();
        f.set_modified(std::time::SystemTime::UNIX_EPOCH).unwrap();
        assert_eq!(digest(&ctx, &mut index), first);
        assert_eq!(index.hashed, 1);

        // Mode and content count.
        std::fs::set_permissions(ctx.join("a"), std::fs::Permissions::from_mode(0o600)).unwrap();
        let moded = digest(&ctx, &mut index);
        assert_ne!(moded, first);
        std::fs::write(ctx.join("sub/b"), "B").unwrap();
        assert_ne!(digest(&ctx, &mut index), moded);

        // Gone files leave the saved index; racily clean entries (mtime
        // not older than the build that hashed them) are read again.
        assert!(index.files.contains_key("a"));
        std::fs::remove_file(ctx.join("a")).unwrap();
        index.dirty = true;
        index.save().unwrap();
        assert!(!index.files.contains_key("a"));
        assert!(index.files.contains_key("sub/b"));
        index.started_ns = 0;
        index.dirty = true;
        index.save().unwrap();
        let reloaded = ContextIndex::load(&tmp.path().join("root"), &ctx);
        assert!(reloaded.files.is_empty(), "{reloaded:?}");
        std::fs::write(ctx.join("a"), "a").unwrap();
        std::fs::set_permissions(ctx.join("a"), std::fs::Permissions::from_mode(0o600)).unwrap();

        // The same files elsewhere give the same digest.
        let other = tmp.path().join("x/y");
        context(&other);
        let mut fresh = ContextIndex::default();
        let a = digest(&ctx, &mut ContextIndex::default());
        std::fs::set_permissions(other.join("a"), std::fs::Permissions::from_mode(0o600)).unwrap();
        std::fs::write(other.join("sub/b"), "B").unwrap();
        assert_eq!(digest(&other, &mut fresh), a);
    }
}
