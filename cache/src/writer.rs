//! The write side of the blob API: [`Writer`] streams content into a locked
//! temporary file in `ingest/` while hashing it, and [`Writer::commit`]
//! verifies digest and size, fsyncs, and renames the file into `blobs/`.
//! Nothing is visible under `blobs/` before it is verified, and a writer
//! dropped without commit leaves nothing behind.

use std::fs;
use std::io::{self, Write};

use crate::digest::{Algorithm, Digest, Hasher};
use crate::error::{Error, Result};
use crate::fsutil::{IngestFile, LockMode};
use crate::lease::{Lease, Resource};
use crate::store::Store;

/// A committed blob: its digest and size.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct BlobInfo {
    /// The content's digest.
    pub digest: Digest,
    /// The content's size in bytes.
    pub size: u64,
}

/// Streams one blob into the store. Obtain with [`Store::writer`].
#[derive(Debug)]
pub struct Writer {
    lease: Lease,
    ingest: IngestFile,
    hasher: Hasher,
    size: u64,
}

impl Store {
    /// A writer hashing with SHA-256, whose blob `lease` will protect.
    pub fn writer(&self, lease: &Lease) -> Result<Writer> {
        self.writer_with(lease, Algorithm::Sha256)
    }

    /// A writer hashing with `algorithm`.
    pub fn writer_with(&self, lease: &Lease, algorithm: Algorithm) -> Result<Writer> {
        let _gc = self.lock_gc(LockMode::Shared)?;
        let dir = self.ingest_dir();
        let ingest =
            IngestFile::create(&dir).map_err(|source| Error::Ingest { path: dir, source })?;
        Ok(Writer {
            lease: lease.clone(),
            ingest,
            hasher: Hasher::new(algorithm),
            size: 0,
        })
    }

    /// Stores `data` as one SHA-256 blob protected by `lease`.
    pub fn write_blob(&self, lease: &Lease, data: &[u8]) -> Result<BlobInfo> {
        let mut writer = self.writer(lease)?;
        writer.write_all(data).map_err(|source| Error::Ingest {
            path: writer.ingest.path().to_path_buf(),
            source,
        })?;
        writer.commit(None)
    }
}

impl Writer {
    /// Bytes written so far.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Digest of the bytes written so far.
    pub fn digest(&self) -> Digest {
        self.hasher.clone().finish()
    }

    /// Verifies the content against `expected` (digest and size) when given,
    /// then moves it into `blobs/` and records it in the writer's lease.
    ///
    /// On a mismatch the temporary file is removed and nothing is stored. If
    /// the blob is already stored, the new copy is discarded: committing
    /// existing content is a no-op that succeeds.
    pub fn commit(mut self, expected: Option<(Digest, u64)>) -> Result<BlobInfo> {
        let ingest_err = |path: &std::path::Path, source| Error::Ingest {
            path: path.to_path_buf(),
            source,
        };
        self.ingest
            .flush()
            .map_err(|e| ingest_err(self.ingest.path(), e))?;
        let actual = self.hasher.clone().finish();
        if let Some((digest, size)) = expected {
            if digest.algorithm() != actual.algorithm() {
                return Err(Error::AlgorithmMismatch {
                    expected: digest.algorithm(),
                    actual: actual.algorithm(),
                });
            }
            if size != self.size {
                return Err(Error::SizeMismatch {
                    digest,
                    expected: size,
                    actual: self.size,
                });
            }
            if digest != actual {
                return Err(Error::DigestMismatch {
                    expected: digest,
                    actual,
                });
            }
        }
        let info = BlobInfo {
            digest: actual,
            size: self.size,
        };
        let store = self.lease.store().clone();
        let dest = store.blob_path(&info.digest);
        let commit_err = |source| Error::CommitBlob {
            digest: info.digest.clone(),
            path: dest.clone(),
            source,
        };
        // fsync before taking the gc lock keeps its critical section short.
        let mut sealed = false;
        if !dest.exists() {
            self.ingest
                .seal(0o444)
                .map_err(|e| ingest_err(self.ingest.path(), e))?;
            sealed = true;
        }
        let _gc = store.lock_gc(LockMode::Shared)?;
        self.lease.record(&Resource::Blob(info.digest.clone()))?;
        if dest.exists() {
            return Ok(info); // dropping `self` removes the temporary file
        }
        if !sealed {
            // The stored copy was pruned meanwhile: ours replaces it.
            self.ingest
                .seal(0o444)
                .map_err(|e| ingest_err(self.ingest.path(), e))?;
        }
        if let Some(parent) = dest.parent() {
            fs::create_dir_all(parent).map_err(commit_err)?;
        }
        self.ingest.persist(&dest).map_err(commit_err)?;
        Ok(info)
    }

    /// Discards everything written; same as dropping the writer.
    pub fn abort(self) {}
}

impl Write for Writer {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.ingest.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.size += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.ingest.flush()
    }
}
