//! [`Store`]: a handle on one store root, an OCI image layout plus rdock's
//! own folders, and the read side of the blob API.
//!
//! On disk:
//!
//! ```text
//! oci-layout            {"imageLayoutVersion":"1.0.0"}
//! index.json            OCI image index; one entry per image name
//! blobs/sha256/<hex>    content, read-only, written only by rename
//! ingest/               temporary files, each flocked by its writer
//! snapshots/sha256/<hex>/fs   unpacked layers by chain id
//! snapshots/ingest-*    snapshots being prepared (flocked)
//! cache/<hex>.json      build-cache records
//! leases/               one flocked file per live lease
//! locks/gc, locks/index lock files
//! ```
//!
//! Several handles, in one process or many, may share a root; the locking
//! protocol is described in [`crate::Lease`].

use std::fs::{self, File};
use std::io::Read;
use std::path::{Path, PathBuf};

use oci_spec::image::OciLayout;

use crate::digest::{Algorithm, Digest, Hasher};
use crate::error::{Error, Result};
use crate::fsutil::{self, FileLock, LockMode};
use crate::root::RootEnv;

/// The `imageLayoutVersion` written to and accepted in `oci-layout`.
pub const IMAGE_LAYOUT_VERSION: &str = "1.0.0";

pub(crate) const OCI_LAYOUT_FILE: &str = "oci-layout";
pub(crate) const INDEX_FILE: &str = "index.json";
pub(crate) const INGEST_DIR: &str = "ingest";
pub(crate) const SNAPSHOTS_DIR: &str = "snapshots";
pub(crate) const CACHE_DIR: &str = "cache";
pub(crate) const LEASES_DIR: &str = "leases";
const LOCKS_DIR: &str = "locks";

/// A handle on a store root. Cheap to clone; holds no open files.
#[derive(Clone, Debug)]
pub struct Store {
    root: PathBuf,
}

impl Store {
    /// The default root for this process: see [`RootEnv`].
    pub fn default_root() -> Result<PathBuf> {
        RootEnv::from_process().root_dir()
    }

    /// Opens the store at `root`, creating the layout if needed, and removes
    /// temporary files left by processes that died (when no prune runs).
    pub fn open(root: impl Into<PathBuf>) -> Result<Store> {
        let store = Store { root: root.into() };
        let snapshots = store.root.join(SNAPSHOTS_DIR);
        let mut dirs = vec![
            store.root.clone(),
            store.root.join(INGEST_DIR),
            snapshots.join(Algorithm::Sha256.name()),
            store.root.join(CACHE_DIR),
            store.root.join(LEASES_DIR),
            store.root.join(LOCKS_DIR),
        ];
        dirs.extend(Algorithm::ALL.map(|a| store.root.join("blobs").join(a.name())));
        for dir in &dirs {
            fs::create_dir_all(dir).map_err(|source| Error::OpenStore {
                path: dir.clone(),
                source,
            })?;
        }
        store.ensure_layout_marker()?;
        store.ensure_index()?;
        // Best effort; prune repeats it and reports failures.
        if let Ok(Some(_gc)) = fsutil::try_lock(&store.lock_path("gc"), LockMode::Exclusive) {
            let _ = store.sweep_stale();
            let _ = crate::lease::scan_leases(&store);
        }
        Ok(store)
    }

    /// The root folder.
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn ensure_layout_marker(&self) -> Result<()> {
        let path = self.root.join(OCI_LAYOUT_FILE);
        let marker = |reason: String| Error::LayoutMarker {
            path: path.clone(),
            reason,
        };
        match fs::read(&path) {
            Ok(bytes) => {
                let layout: OciLayout =
                    serde_json::from_slice(&bytes).map_err(|e| marker(e.to_string()))?;
                if layout.image_layout_version() != IMAGE_LAYOUT_VERSION {
                    return Err(marker(format!(
                        "imageLayoutVersion {:?} is not {IMAGE_LAYOUT_VERSION:?}",
                        layout.image_layout_version()
                    )));
                }
                Ok(())
            }
            Err(e) if fsutil::is_not_found(&e) => {
                let body = format!("{{\"imageLayoutVersion\":\"{IMAGE_LAYOUT_VERSION}\"}}");
                let open_err = |source| Error::OpenStore {
                    path: path.clone(),
                    source,
                };
                let _gc = self.lock_gc(LockMode::Shared)?;
                fsutil::write_atomic(&self.ingest_dir(), &path, body.as_bytes()).map_err(open_err)
            }
            Err(source) => Err(Error::OpenStore { path, source }),
        }
    }

    // ---- paths and locks shared by the other modules ----

    pub(crate) fn ingest_dir(&self) -> PathBuf {
        self.root.join(INGEST_DIR)
    }

    pub(crate) fn lock_path(&self, name: &str) -> PathBuf {
        self.root.join(LOCKS_DIR).join(name)
    }

    /// The gc lock: shared by anything that creates or commits content,
    /// exclusive while prune marks and sweeps.
    pub(crate) fn lock_gc(&self, mode: LockMode) -> Result<FileLock> {
        let path = self.lock_path("gc");
        fsutil::lock(&path, mode).map_err(|source| Error::Lock { path, source })
    }

    /// The index lock: exclusive around each read-modify-write of index.json.
    pub(crate) fn lock_index(&self) -> Result<FileLock> {
        let path = self.lock_path("index");
        fsutil::lock(&path, LockMode::Exclusive).map_err(|source| Error::Lock { path, source })
    }

    // ---- reading blobs ----

    /// Absolute path of a blob (whether or not it exists).
    pub fn blob_path(&self, digest: &Digest) -> PathBuf {
        self.root.join(digest.blob_path())
    }

    /// Whether the blob is stored.
    pub fn has_blob(&self, digest: &Digest) -> bool {
        self.blob_path(digest).is_file()
    }

    /// Size in bytes of a stored blob.
    pub fn blob_size(&self, digest: &Digest) -> Result<u64> {
        fs::metadata(self.blob_path(digest))
            .map(|m| m.len())
            .map_err(|e| self.read_error(digest, e))
    }

    /// Opens a stored blob for streaming. The content is not re-verified;
    /// use [`Store::read_blob`] for small blobs or [`Store::verify`].
    pub fn open_blob(&self, digest: &Digest) -> Result<File> {
        File::open(self.blob_path(digest)).map_err(|e| self.read_error(digest, e))
    }

    /// Reads a whole blob and checks it still hashes to `digest`.
    pub fn read_blob(&self, digest: &Digest) -> Result<Vec<u8>> {
        let mut bytes = Vec::new();
        self.open_blob(digest)?
            .read_to_end(&mut bytes)
            .map_err(|e| self.read_error(digest, e))?;
        let actual = Digest::of(digest.algorithm(), &bytes);
        if &actual != digest {
            return Err(Error::DigestMismatch {
                expected: digest.clone(),
                actual,
            });
        }
        Ok(bytes)
    }

    /// Every stored blob, sorted. Files under `blobs/` whose names are not
    /// digests are skipped (and reported by [`Store::verify`]).
    pub fn list_blobs(&self) -> Result<Vec<Digest>> {
        let mut out: Vec<Digest> = self
            .blob_files()?
            .into_iter()
            .filter_map(|(_, d)| d)
            .collect();
        out.sort();
        Ok(out)
    }

    /// Every file under `blobs/<alg>/`, with its digest when the name is one.
    pub(crate) fn blob_files(&self) -> Result<Vec<(PathBuf, Option<Digest>)>> {
        let mut out = Vec::new();
        for algorithm in Algorithm::ALL {
            let dir = self.root.join("blobs").join(algorithm.name());
            for (path, name) in list_dir(&dir)? {
                let digest = name
                    .to_str()
                    .and_then(|n| Digest::from_parts(algorithm, n).ok());
                out.push((path, digest));
            }
        }
        Ok(out)
    }

    /// Hashes a stored blob as it is on disk now.
    pub(crate) fn hash_blob(&self, digest: &Digest) -> Result<(Digest, u64)> {
        let mut file = self.open_blob(digest)?;
        let mut hasher = Hasher::new(digest.algorithm());
        let mut buf = vec![0u8; 256 * 1024];
        let mut size = 0u64;
        loop {
            let n = file
                .read(&mut buf)
                .map_err(|e| self.read_error(digest, e))?;
            if n == 0 {
                return Ok((hasher.finish(), size));
            }
            hasher.update(&buf[..n]);
            size += n as u64;
        }
    }

    fn read_error(&self, digest: &Digest, source: std::io::Error) -> Error {
        if fsutil::is_not_found(&source) {
            Error::BlobNotFound {
                digest: digest.clone(),
            }
        } else {
            Error::ReadBlob {
                digest: digest.clone(),
                source,
            }
        }
    }
}

/// Entries of a folder as (path, file name); a missing folder is empty.
pub(crate) fn list_dir(dir: &Path) -> Result<Vec<(PathBuf, std::ffi::OsString)>> {
    let sweep = |source| Error::Sweep {
        path: dir.to_path_buf(),
        source,
    };
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if fsutil::is_not_found(&e) => return Ok(Vec::new()),
        Err(e) => return Err(sweep(e)),
    };
    let mut out = Vec::new();
    for entry in entries {
        let entry = entry.map_err(sweep)?;
        out.push((entry.path(), entry.file_name()));
    }
    out.sort();
    Ok(out)
}
