//! Build-cache records: [`CacheKey`] (a step's content-addressed key) to
//! [`CacheRecord`] (the layer the step produced), one JSON file per key in
//! `cache/`, each written by temp file and rename.
//!
//! Records do not keep content alive: prune drops a record once its layer
//! blob is gone, and [`Store::get_record`] treats such a record as absent.

use std::collections::BTreeMap;
use std::fmt;
use std::fs;
use std::path::PathBuf;
use std::str::FromStr;

use oci_spec::image::Descriptor;

use crate::digest::{Algorithm, Digest};
use crate::error::{Error, Result};
use crate::fsutil::{self, LockMode};
use crate::snapshot::ChainId;
use crate::store::{list_dir, Store, CACHE_DIR};

const RECORD_SUFFIX: &str = ".json";

/// The key of a build step: a SHA-256 digest of its definition and inputs.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "Digest", into = "Digest")]
pub struct CacheKey(Digest);

impl CacheKey {
    /// The key whose digest is the SHA-256 of `bytes`.
    pub fn of(bytes: &[u8]) -> CacheKey {
        CacheKey(Digest::sha256(bytes))
    }

    /// Wraps a SHA-256 digest.
    pub fn from_digest(digest: Digest) -> Result<CacheKey> {
        if digest.algorithm() != Algorithm::Sha256 {
            return Err(Error::InvalidCacheKey {
                input: digest.to_string(),
                reason: "cache keys are sha256 digests",
            });
        }
        Ok(CacheKey(digest))
    }

    /// The underlying digest.
    pub fn digest(&self) -> &Digest {
        &self.0
    }
}

impl TryFrom<Digest> for CacheKey {
    type Error = Error;

    fn try_from(digest: Digest) -> Result<CacheKey> {
        CacheKey::from_digest(digest)
    }
}

impl From<CacheKey> for Digest {
    fn from(key: CacheKey) -> Digest {
        key.0
    }
}

impl FromStr for CacheKey {
    type Err = Error;

    fn from_str(s: &str) -> Result<CacheKey> {
        let digest = s.parse::<Digest>().map_err(|e| match e {
            Error::InvalidDigest { reason, .. } => Error::InvalidCacheKey {
                input: s.to_owned(),
                reason,
            },
            other => other,
        })?;
        CacheKey::from_digest(digest)
    }
}

impl fmt::Display for CacheKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl fmt::Debug for CacheKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CacheKey({})", self.0)
    }
}

/// What a cached build step produced.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CacheRecord {
    /// The layer blob as it appears in a manifest (media type, digest, size).
    pub layer: Descriptor,
    /// Digest of the uncompressed layer tar.
    pub diff_id: Digest,
    /// Chain id of the image's layers up to and including this one.
    pub chain_id: ChainId,
    /// Free-form details (e.g. `created_by`), written in key order.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub metadata: BTreeMap<String, String>,
}

impl Store {
    fn record_path(&self, key: &CacheKey) -> PathBuf {
        self.root()
            .join(CACHE_DIR)
            .join(format!("{}{RECORD_SUFFIX}", key.digest().hex()))
    }

    /// Stores `record` under `key`, replacing any previous record. The layer
    /// blob must be stored (protect it with a lease until this returns).
    pub fn put_record(&self, key: &CacheKey, record: &CacheRecord) -> Result<()> {
        let path = self.record_path(key);
        let layer = Digest::try_from(record.layer.digest())?;
        let bytes = serde_json::to_value(record)
            .and_then(|v| serde_json::to_vec(&v))
            .expect("a cache record serializes");
        let _gc = self.lock_gc(LockMode::Shared)?;
        if !self.has_blob(&layer) {
            return Err(Error::BlobNotFound { digest: layer });
        }
        fsutil::write_atomic(&self.ingest_dir(), &path, &bytes)
            .map_err(|source| Error::Record { path, source })
    }

    /// The record under `key`, or `None` if there is none or its layer blob
    /// has been removed.
    pub fn get_record(&self, key: &CacheKey) -> Result<Option<CacheRecord>> {
        let path = self.record_path(key);
        let Some(record) = read_record(path)? else {
            return Ok(None);
        };
        let layer = Digest::try_from(record.layer.digest())?;
        Ok(self.has_blob(&layer).then_some(record))
    }

    /// Removes the record under `key`; `false` if there was none.
    pub fn remove_record(&self, key: &CacheKey) -> Result<bool> {
        let path = self.record_path(key);
        match fs::remove_file(&path) {
            Ok(()) => Ok(true),
            Err(e) if fsutil::is_not_found(&e) => Ok(false),
            Err(source) => Err(Error::Record { path, source }),
        }
    }

    /// Keys of every record file, sorted (stale records included).
    pub fn list_records(&self) -> Result<Vec<CacheKey>> {
        Ok(self
            .record_files()?
            .into_iter()
            .filter_map(|(_, k)| k)
            .collect())
    }

    /// Files in `cache/`, with their key when the name is `<hex>.json`.
    pub(crate) fn record_files(&self) -> Result<Vec<(PathBuf, Option<CacheKey>)>> {
        Ok(list_dir(&self.root().join(CACHE_DIR))?
            .into_iter()
            .map(|(path, name)| {
                let key = name
                    .to_str()
                    .and_then(|n| n.strip_suffix(RECORD_SUFFIX))
                    .and_then(|hex| Digest::from_parts(Algorithm::Sha256, hex).ok())
                    .map(CacheKey);
                (path, key)
            })
            .collect())
    }
}

/// Reads and parses one record file; `None` if it does not exist.
pub(crate) fn read_record(path: PathBuf) -> Result<Option<CacheRecord>> {
    let bytes = match fs::read(&path) {
        Ok(bytes) => bytes,
        Err(e) if fsutil::is_not_found(&e) => return Ok(None),
        Err(source) => return Err(Error::Record { path, source }),
    };
    serde_json::from_slice(&bytes)
        .map(Some)
        .map_err(|source| Error::ParseRecord { path, source })
}
