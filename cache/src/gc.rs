//! [`Store::prune`]: reachability garbage collection, and the sweep of
//! leftovers from dead processes that [`Store::open`] also runs.
//!
//! Prune holds `locks/gc` exclusively while it marks and sweeps, so no
//! content is committed, leased or tagged in between. Roots are the entries
//! of index.json and everything held by a live [`crate::Lease`]; reachable are
//! the manifests, indexes, configs and layers below the roots, and the
//! snapshots of every layer prefix of a reachable config. The rest goes, and
//! then build-cache records whose layer blob went with it.

use std::fs::{self, File};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::fsutil::{self, FileLock, LockMode};
use crate::lease::scan_leases;
use crate::records::{read_record, CacheKey};
use crate::refs::walk;
use crate::snapshot::{move_to_trash, ChainId, PREPARE_PREFIX, TRASH_PREFIX};
use crate::store::{list_dir, Store, SNAPSHOTS_DIR};
use crate::verify::Problem;
use crate::writer::BlobInfo;
use crate::Digest;

/// What [`Store::prune`] removed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PruneReport {
    /// Unreferenced blobs, sorted by digest.
    pub blobs: Vec<BlobInfo>,
    /// Snapshots no referenced image uses, sorted.
    pub snapshots: Vec<ChainId>,
    /// Build-cache records whose layer blob is gone (or that were unreadable).
    pub records: Vec<CacheKey>,
    /// Temporary files and folders left by processes that died.
    pub temporaries: usize,
    /// Leases left by processes that died.
    pub dead_leases: usize,
    /// Bytes of blob, snapshot and temporary content removed.
    pub bytes_freed: u64,
}

/// Leftovers removed by [`Store::sweep_stale`].
#[derive(Debug, Default)]
pub(crate) struct Stale {
    pub(crate) count: usize,
    pub(crate) bytes: u64,
}

impl Store {
    /// Removes everything not reachable from index.json or a live lease.
    ///
    /// Blocks while other handles create or commit content, and they wait
    /// for it in turn. Refuses to run (and removes nothing) if index.json or
    /// a referenced manifest or index cannot be parsed.
    pub fn prune(&self) -> Result<PruneReport> {
        let gc = self.lock_gc(LockMode::Exclusive)?;
        let mut report = PruneReport::default();
        let stale = self.sweep_stale()?;
        report.temporaries = stale.count;
        report.bytes_freed = stale.bytes;
        let (leased, dead) = scan_leases(self)?;
        report.dead_leases = dead;

        let index = self.read_index()?;
        let graph = walk(self, index.manifests());
        if let Some(Problem::BlobUnparsable {
            digest,
            kind,
            reason,
        }) = graph.unreadable_manifest()
        {
            return Err(Error::ParseBlob {
                digest: digest.clone(),
                kind,
                reason: reason.clone(),
            });
        }

        for (path, digest) in self.blob_files()? {
            let Some(digest) = digest else { continue };
            if graph.blobs.contains(&digest) || leased.blobs.contains(&digest) {
                continue;
            }
            let size = fs::symlink_metadata(&path).map_err(sweep(&path))?.len();
            remove_file(&path)?;
            report.bytes_freed += size;
            report.blobs.push(BlobInfo { digest, size });
        }

        let mut trash: Vec<(PathBuf, FileLock)> = Vec::new();
        for (path, chain) in self.snapshot_dirs()? {
            let Some(chain) = chain else { continue };
            if graph.chains.contains(&chain) || leased.snapshots.contains(&chain) {
                continue;
            }
            trash.push(move_to_trash(self, &path).map_err(sweep(&path))?);
            report.snapshots.push(chain);
        }

        for (path, key) in self.record_files()? {
            let Some(key) = key else { continue };
            let keep = match read_record(path.clone()) {
                Ok(Some(record)) => Digest::try_from(record.layer.digest())
                    .map(|layer| self.has_blob(&layer))
                    .unwrap_or(false),
                Ok(None) => continue,
                Err(Error::ParseRecord { .. }) => false,
                Err(e) => return Err(e),
            };
            if !keep {
                remove_file(&path)?;
                report.records.push(key);
            }
        }

        // Writers may go on; the trash folders are flocked and renamed away.
        drop(gc);
        for (path, _lock) in trash {
            report.bytes_freed += fsutil::tree_size(&path).map_err(sweep(&path))?;
            fsutil::remove_tree(&path).map_err(sweep(&path))?;
        }
        Ok(report)
    }

    /// Removes temporary files and folders whose owner is gone. The caller
    /// holds the gc lock exclusively.
    pub(crate) fn sweep_stale(&self) -> Result<Stale> {
        let mut stale = Stale::default();
        for (path, _) in list_dir(&self.ingest_dir())? {
            if let Some(bytes) = take_if_unlocked(&path, false)? {
                stale.count += 1;
                stale.bytes += bytes;
            }
        }
        for (path, name) in list_dir(&self.root().join(SNAPSHOTS_DIR))? {
            let name = name.to_string_lossy();
            if name.starts_with(PREPARE_PREFIX) || name.starts_with(TRASH_PREFIX) {
                if let Some(bytes) = take_if_unlocked(&path, true)? {
                    stale.count += 1;
                    stale.bytes += bytes;
                }
            }
        }
        Ok(stale)
    }
}

/// Removes `path` if nobody holds its flock; returns the bytes freed.
fn take_if_unlocked(path: &Path, is_dir: bool) -> Result<Option<u64>> {
    let file = match File::open(path) {
        Ok(file) => file,
        Err(e) if fsutil::is_not_found(&e) => return Ok(None),
        Err(e) => return Err(sweep(path)(e)),
    };
    let Some(_lock) = fsutil::try_lock_file(file, LockMode::Exclusive).map_err(sweep(path))? else {
        return Ok(None);
    };
    let bytes = fsutil::tree_size(path).map_err(sweep(path))?;
    if is_dir {
        fsutil::remove_tree(path).map_err(sweep(path))?;
    } else {
        remove_file(path)?;
    }
    Ok(Some(bytes))
}

fn remove_file(path: &Path) -> Result<()> {
    match fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if fsutil::is_not_found(&e) => Ok(()),
        Err(e) => Err(sweep(path)(e)),
    }
}

fn sweep(path: &Path) -> impl Fn(std::io::Error) -> Error + '_ {
    move |source| Error::Sweep {
        path: path.to_path_buf(),
        source,
    }
}
