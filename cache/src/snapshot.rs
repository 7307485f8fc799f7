//! Snapshots: unpacked layers keyed by [`ChainId`], to serve as overlay
//! lower directories, with containerd's prepare-then-commit lifecycle.
//!
//! [`Store::prepare_snapshot`] makes an empty, flocked `snapshots/ingest-*`
//! folder; the caller fills [`PreparedSnapshot::path`]; [`PreparedSnapshot::commit`]
//! renames it to `snapshots/<alg>/<hex>` in one step. A committed snapshot's
//! content is `snapshots/<alg>/<hex>/fs` ([`Store::snapshot_path`]); the
//! folder names avoid `:`, which overlayfs reserves in its mount options.
//!
//! Commit renames but does not fsync the tree: a killed process leaves either
//! no snapshot or a whole one, but after a power loss a committed snapshot
//! may miss data that had not reached the disk.

use std::fmt;
use std::fs::{self, File};
use std::io;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use crate::digest::{Algorithm, Digest};
use crate::error::{Error, Result};
use crate::fsutil::{self, FileLock, LockMode};
use crate::lease::{Lease, Resource};
use crate::store::{list_dir, Store, SNAPSHOTS_DIR};

/// Prefix of snapshot folders being prepared.
pub(crate) const PREPARE_PREFIX: &str = "ingest-";
/// Prefix of snapshot folders being removed.
pub(crate) const TRASH_PREFIX: &str = "trash-";

/// The identity of a stack of layers (OCI image spec, "ChainID"): the diff
/// id of the bottom layer, then `sha256(parent + " " + diff_id)` upwards.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct ChainId(Digest);

impl ChainId {
    /// The chain id of a single bottom layer: its diff id.
    pub fn base(diff_id: &Digest) -> ChainId {
        ChainId(diff_id.clone())
    }

    /// Wraps a digest already known to be a chain id.
    pub fn from_digest(digest: Digest) -> ChainId {
        ChainId(digest)
    }

    /// The chain id of this stack with `diff_id` applied on top.
    pub fn child(&self, diff_id: &Digest) -> ChainId {
        ChainId(Digest::sha256(format!("{} {}", self.0, diff_id).as_bytes()))
    }

    /// The underlying digest.
    pub fn digest(&self) -> &Digest {
        &self.0
    }
}

/// The chain id of every prefix of `diff_ids`, bottom layer first.
pub fn chain_ids(diff_ids: &[Digest]) -> Vec<ChainId> {
    let mut out: Vec<ChainId> = Vec::with_capacity(diff_ids.len());
    for diff_id in diff_ids {
        let next = match out.last() {
            None => ChainId::base(diff_id),
            Some(parent) => parent.child(diff_id),
        };
        out.push(next);
    }
    out
}

impl FromStr for ChainId {
    type Err = Error;

    fn from_str(s: &str) -> Result<ChainId> {
        s.parse().map(ChainId)
    }
}

impl fmt::Display for ChainId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl fmt::Debug for ChainId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ChainId({})", self.0)
    }
}

/// What [`PreparedSnapshot::commit`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SnapshotCommit {
    /// The prepared folder became the snapshot.
    Created,
    /// A snapshot with that chain id existed; the prepared folder was discarded.
    Existed,
}

/// A snapshot being filled. Dropping it without commit removes it.
#[derive(Debug)]
pub struct PreparedSnapshot {
    lease: Lease,
    dir: PathBuf,
    committed: bool,
    _lock: FileLock,
}

impl Store {
    fn snapshot_dir(&self, chain_id: &ChainId) -> PathBuf {
        let digest = chain_id.digest();
        self.root()
            .join(SNAPSHOTS_DIR)
            .join(digest.algorithm().name())
            .join(digest.hex())
    }

    /// The content folder of a committed snapshot (the overlay lower dir).
    pub fn snapshot_path(&self, chain_id: &ChainId) -> PathBuf {
        self.snapshot_dir(chain_id).join("fs")
    }

    /// Whether a snapshot is committed.
    pub fn has_snapshot(&self, chain_id: &ChainId) -> bool {
        self.snapshot_path(chain_id).is_dir()
    }

    /// Every committed snapshot, sorted.
    pub fn list_snapshots(&self) -> Result<Vec<ChainId>> {
        Ok(self
            .snapshot_dirs()?
            .into_iter()
            .filter_map(|(_, c)| c)
            .collect())
    }

    /// Folders under `snapshots/<alg>/`, with their chain id when the name is one.
    pub(crate) fn snapshot_dirs(&self) -> Result<Vec<(PathBuf, Option<ChainId>)>> {
        let mut out = Vec::new();
        for algorithm in Algorithm::ALL {
            let dir = self.root().join(SNAPSHOTS_DIR).join(algorithm.name());
            for (path, name) in list_dir(&dir)? {
                let chain = name
                    .to_str()
                    .and_then(|n| Digest::from_parts(algorithm, n).ok())
                    .map(ChainId);
                out.push((path, chain));
            }
        }
        Ok(out)
    }

    /// Starts a snapshot whose commit `lease` will protect.
    pub fn prepare_snapshot(&self, lease: &Lease) -> Result<PreparedSnapshot> {
        let _gc = self.lock_gc(LockMode::Shared)?;
        let parent = self.root().join(SNAPSHOTS_DIR);
        loop {
            let dir = parent.join(fsutil::unique_name(PREPARE_PREFIX));
            let snap_err = |source| Error::Snapshot {
                path: dir.clone(),
                source,
            };
            match fs::create_dir(&dir) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(snap_err(e)),
            }
            let locked = File::open(&dir)
                .and_then(|f| fsutil::try_lock_file(f, LockMode::Exclusive))
                .and_then(|lock| lock.ok_or_else(|| io::Error::other("locked by another owner")));
            let lock = match locked.and_then(|lock| fs::create_dir(dir.join("fs")).map(|()| lock)) {
                Ok(lock) => lock,
                Err(e) => {
                    let _ = fsutil::remove_tree(&dir);
                    return Err(snap_err(e));
                }
            };
            return Ok(PreparedSnapshot {
                lease: lease.clone(),
                dir,
                committed: false,
                _lock: lock,
            });
        }
    }
}

impl PreparedSnapshot {
    /// The folder to fill with the layer's files.
    pub fn path(&self) -> PathBuf {
        self.dir.join("fs")
    }

    /// Makes the prepared folder the snapshot for `chain_id`, atomically; if
    /// that snapshot already exists, discards this one instead.
    pub fn commit(mut self, chain_id: &ChainId) -> Result<SnapshotCommit> {
        let store = self.lease.store().clone();
        let dest = store.snapshot_dir(chain_id);
        let snap_err = |source| Error::Snapshot {
            path: dest.clone(),
            source,
        };
        let _gc = store.lock_gc(LockMode::Shared)?;
        self.lease.record(&Resource::Snapshot(chain_id.clone()))?;
        let parent = dest.parent().expect("snapshot folders have a parent");
        fs::create_dir_all(parent).map_err(snap_err)?;
        // rename(2) onto a non-empty folder fails, so this is also the
        // existence check; a committed snapshot always contains `fs/`.
        match fs::rename(&self.dir, &dest) {
            Ok(()) => {
                self.committed = true;
                fsutil::sync_dir(parent).map_err(snap_err)?;
                Ok(SnapshotCommit::Created)
            }
            Err(e) if is_exists(&e) => Ok(SnapshotCommit::Existed),
            Err(e) => Err(snap_err(e)),
        }
    }

    /// Discards the prepared folder; same as dropping it.
    pub fn abort(self) {}
}

impl Drop for PreparedSnapshot {
    fn drop(&mut self) {
        if !self.committed {
            // Still flocked while removed; a partial removal is swept later.
            let _ = fsutil::remove_tree(&self.dir);
        }
    }
}

fn is_exists(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::AlreadyExists | io::ErrorKind::DirectoryNotEmpty
    )
}

/// Moves a snapshot folder to a flocked `trash-*` name so it disappears in
/// one step; the caller removes the trash with [`fsutil::remove_tree`] while
/// holding the returned lock. Called with the gc lock held exclusively.
pub(crate) fn move_to_trash(store: &Store, dir: &Path) -> io::Result<(PathBuf, FileLock)> {
    let trash = store
        .root()
        .join(SNAPSHOTS_DIR)
        .join(fsutil::unique_name(TRASH_PREFIX));
    fs::rename(dir, &trash)?;
    let lock = fsutil::try_lock_file(File::open(&trash)?, LockMode::Exclusive)?
        .ok_or_else(|| io::Error::other("trash folder locked by another owner"))?;
    Ok((trash, lock))
}
