//! [`Lease`]: protection from prune for content that is being written or was
//! written but is not yet referenced from index.json, in the manner of
//! containerd's leases.
//!
//! A lease is a file in `leases/` that its owner keeps flocked exclusively
//! and appends one line to per protected resource (`blob <digest>` or
//! `snapshot <chain id>`). The flock dies with the process, so a lease left by
//! a killed process is recognised (its lock can be taken) and removed.
//!
//! The locking protocol, for every handle in every process:
//! - `locks/gc` shared: held briefly while creating a temporary file, a
//!   prepared snapshot or a lease, and while committing content (recording it
//!   in the lease, then renaming it into place) or tagging an image.
//! - `locks/gc` exclusive: held by prune for its whole mark and sweep, and
//!   by [`crate::Store::open`] while it removes leftovers.
//! - `locks/index` exclusive: around each read-modify-write of index.json,
//!   always taken after `locks/gc`.
//! - each temporary file, prepared snapshot and lease is flocked by its
//!   owner, so a sweeper only removes those whose owner is gone.

use std::collections::BTreeSet;
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use crate::digest::Digest;
use crate::error::{Error, Result};
use crate::fsutil::{self, LockMode};
use crate::snapshot::ChainId;
use crate::store::{list_dir, Store, LEASES_DIR};

/// Keeps blobs and snapshots alive across a prune until dropped.
///
/// Writers ([`crate::Writer`], [`crate::PreparedSnapshot`]) record what they
/// commit in the lease they were created with; [`Lease::protect_blob`] adds
/// content that already exists. Clones share one lease, which ends when the
/// last clone is dropped.
#[derive(Clone, Debug)]
pub struct Lease {
    inner: Arc<LeaseInner>,
}

#[derive(Debug)]
struct LeaseInner {
    store: Store,
    path: PathBuf,
    file: Mutex<File>,
}

/// Something a lease protects.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Resource {
    Blob(Digest),
    Snapshot(ChainId),
}

impl Store {
    /// Starts a new lease on this store.
    pub fn lease(&self) -> Result<Lease> {
        let _gc = self.lock_gc(LockMode::Shared)?;
        let dir = self.root().join(LEASES_DIR);
        loop {
            let path = dir.join(fsutil::unique_name("lease-"));
            let lease_err = |source| Error::Lease {
                path: path.clone(),
                source,
            };
            let file = match OpenOptions::new().append(true).create_new(true).open(&path) {
                Ok(file) => file,
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(lease_err(e)),
            };
            if let Err(source) = file.lock() {
                let _ = fs::remove_file(&path);
                return Err(lease_err(source));
            }
            let inner = LeaseInner {
                store: self.clone(),
                path,
                file: Mutex::new(file),
            };
            return Ok(Lease {
                inner: Arc::new(inner),
            });
        }
    }
}

impl Lease {
    /// The store this lease belongs to.
    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    /// Protects an existing blob; `false` if the blob is not stored.
    pub fn protect_blob(&self, digest: &Digest) -> Result<bool> {
        let _gc = self.store().lock_gc(LockMode::Shared)?;
        if !self.store().has_blob(digest) {
            return Ok(false);
        }
        self.record(&Resource::Blob(digest.clone()))?;
        Ok(true)
    }

    /// Protects an existing snapshot; `false` if it is not stored.
    pub fn protect_snapshot(&self, chain_id: &ChainId) -> Result<bool> {
        let _gc = self.store().lock_gc(LockMode::Shared)?;
        if !self.store().has_snapshot(chain_id) {
            return Ok(false);
        }
        self.record(&Resource::Snapshot(chain_id.clone()))?;
        Ok(true)
    }

    /// Appends one resource. The caller holds the gc lock shared, so prune
    /// never reads a half-written line.
    pub(crate) fn record(&self, resource: &Resource) -> Result<()> {
        let line = match resource {
            Resource::Blob(d) => format!("blob {d}\n"),
            Resource::Snapshot(c) => format!("snapshot {c}\n"),
        };
        let mut file = self.inner.file.lock().expect("lease file mutex");
        file.write_all(line.as_bytes())
            .map_err(|source| Error::Lease {
                path: self.inner.path.clone(),
                source,
            })
    }
}

impl Drop for LeaseInner {
    fn drop(&mut self) {
        // Remove first, unlock (close) second: a sweeper never sees an
        // unlocked lease file that is still meant to be live.
        let _ = fs::remove_file(&self.path);
    }
}

/// What the live leases protect.
#[derive(Debug, Default)]
pub(crate) struct LeasedSet {
    pub(crate) blobs: BTreeSet<Digest>,
    pub(crate) snapshots: BTreeSet<ChainId>,
}

/// Reads every live lease and removes dead ones; returns the protected set
/// and the number of dead leases removed. The caller holds the gc lock
/// exclusively.
pub(crate) fn scan_leases(store: &Store) -> Result<(LeasedSet, usize)> {
    let mut set = LeasedSet::default();
    let mut removed = 0;
    for (path, _) in list_dir(&store.root().join(LEASES_DIR))? {
        let sweep = |source| Error::Sweep {
            path: path.clone(),
            source,
        };
        let file = match File::open(&path) {
            Ok(file) => file,
            Err(e) if fsutil::is_not_found(&e) => continue,
            Err(e) => return Err(sweep(e)),
        };
        if let Some(_dead) = fsutil::try_lock_file(file, LockMode::Exclusive).map_err(sweep)? {
            match fs::remove_file(&path) {
                Ok(()) => removed += 1,
                Err(e) if fsutil::is_not_found(&e) => {}
                Err(e) => return Err(sweep(e)),
            }
            continue;
        }
        let text = match fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if fsutil::is_not_found(&e) => continue,
            Err(e) => return Err(sweep(e)),
        };
        for line in text.lines() {
            match line.split_once(' ') {
                Some(("blob", d)) => set.blobs.extend(d.parse::<Digest>().ok()),
                Some(("snapshot", c)) => set.snapshots.extend(c.parse::<ChainId>().ok()),
                _ => {}
            }
        }
    }
    Ok((set, removed))
}
