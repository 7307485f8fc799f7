//! The crate's one error type, [`Error`], and its [`Result`] alias.
//!
//! Each variant names the action that failed and carries the path, digest
//! or name it was about. Problems found by [`crate::Store::verify`] are not
//! errors: they are returned as [`crate::Problem`] values.

use std::io;
use std::path::PathBuf;

use crate::digest::{Algorithm, Digest};

/// Result alias for this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in the store.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A string is not a digest (`sha256:` and 64 lowercase hex digits).
    #[error("invalid digest {input:?}: {reason}")]
    InvalidDigest {
        /// The text that was parsed.
        input: String,
        /// Why it was refused.
        reason: &'static str,
    },
    /// A string or digest is not a build-cache key (a sha256 digest).
    #[error("invalid cache key {input:?}: {reason}")]
    InvalidCacheKey {
        /// The text that was parsed.
        input: String,
        /// Why it was refused.
        reason: &'static str,
    },
    /// An image name cannot be stored in index.json.
    #[error("invalid image name {name:?}: {reason}")]
    InvalidImageName {
        /// The name given.
        name: String,
        /// Why it was refused.
        reason: &'static str,
    },
    /// No store root could be derived from the environment.
    #[error("cannot choose a store root: set RDOCK_ROOT, XDG_DATA_HOME or HOME")]
    NoRootDir,
    /// The store root could not be created or is not an rdock OCI layout.
    #[error("cannot open the store at {path}: {source}")]
    OpenStore {
        /// The file or folder that failed.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
    /// `oci-layout` exists but is not an OCI image layout this store can use.
    #[error("{path} is not a usable OCI image layout marker: {reason}")]
    LayoutMarker {
        /// Path of the `oci-layout` file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// Taking a file lock failed.
    #[error("cannot lock {path}: {source}")]
    Lock {
        /// The lock file.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
    /// Creating, writing or removing a temporary file in `ingest/` failed.
    #[error("cannot write ingest file {path}: {source}")]
    Ingest {
        /// The temporary file.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
    /// Moving verified content into `blobs/` failed.
    #[error("cannot commit blob {digest} to {path}: {source}")]
    CommitBlob {
        /// The digest being committed.
        digest: Digest,
        /// The destination path.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
    /// Written content does not hash to the expected digest; nothing was stored.
    #[error("digest mismatch: expected {expected}, content hashes to {actual}")]
    DigestMismatch {
        /// The digest the caller expected.
        expected: Digest,
        /// The digest of the bytes received.
        actual: Digest,
    },
    /// Written content does not have the expected size; nothing was stored.
    #[error("size mismatch for {digest}: expected {expected} bytes, got {actual}")]
    SizeMismatch {
        /// The digest the caller expected.
        digest: Digest,
        /// The size the caller expected.
        expected: u64,
        /// The number of bytes received.
        actual: u64,
    },
    /// The expected digest uses another algorithm than the writer hashes with.
    #[error("expected a {expected} digest but the writer hashes with {actual}")]
    AlgorithmMismatch {
        /// Algorithm of the expected digest.
        expected: Algorithm,
        /// Algorithm the writer was created with.
        actual: Algorithm,
    },
    /// A blob is not in the store.
    #[error("blob {digest} not found")]
    BlobNotFound {
        /// The digest looked up.
        digest: Digest,
    },
    /// Reading a stored blob failed.
    #[error("cannot read blob {digest}: {source}")]
    ReadBlob {
        /// The blob.
        digest: Digest,
        /// The underlying error.
        source: io::Error,
    },
    /// A stored blob could not be parsed as the manifest, index or config it
    /// is referenced as.
    #[error("cannot parse blob {digest} as {kind}: {reason}")]
    ParseBlob {
        /// The blob.
        digest: Digest,
        /// What it was read as ("image manifest", "image index", "image config").
        kind: &'static str,
        /// The parser's message.
        reason: String,
    },
    /// Reading index.json failed.
    #[error("cannot read {path}: {source}")]
    ReadIndex {
        /// Path of index.json.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
    /// index.json is not a valid OCI image index.
    #[error("cannot parse {path}: {source}")]
    ParseIndex {
        /// Path of index.json.
        path: PathBuf,
        /// The parser's error.
        source: serde_json::Error,
    },
    /// Writing index.json failed; the previous version is still in place.
    #[error("cannot write {path}: {source}")]
    WriteIndex {
        /// Path of index.json.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
    /// No image of that name is in index.json.
    #[error("image {name:?} not found")]
    ImageNotFound {
        /// The name looked up.
        name: String,
    },
    /// Creating, committing or removing a snapshot directory failed.
    #[error("snapshot operation on {path} failed: {source}")]
    Snapshot {
        /// The directory.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
    /// Reading or writing a build-cache record failed.
    #[error("cannot access cache record {path}: {source}")]
    Record {
        /// The record file.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
    /// A build-cache record is not valid JSON of the expected shape.
    #[error("cannot parse cache record {path}: {source}")]
    ParseRecord {
        /// The record file.
        path: PathBuf,
        /// The parser's error.
        source: serde_json::Error,
    },
    /// Creating or extending a lease failed.
    #[error("cannot write lease {path}: {source}")]
    Lease {
        /// The lease file.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
    /// Listing or removing content during prune or verify failed.
    #[error("cannot scan or remove {path}: {source}")]
    Sweep {
        /// The file or folder.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
    /// A layer media type this store cannot unpack.
    #[error("unsupported layer media type {media_type:?}")]
    UnsupportedMediaType {
        /// The media type given.
        media_type: String,
    },
    /// Reading or decompressing a layer stream failed (corrupt tar, gzip
    /// or zstd data, or a failing source).
    #[error("cannot read layer: {source}")]
    ReadLayer {
        /// The underlying error.
        source: io::Error,
    },
    /// A layer entry is refused: it would escape the snapshot root, links
    /// outside the layer, or is otherwise malformed. Nothing is committed.
    #[error("refused layer entry {path:?}: {reason}")]
    LayerEntry {
        /// The entry's path as written in the tar.
        path: String,
        /// Why it was refused.
        reason: &'static str,
    },
    /// Writing an entry into the snapshot folder failed.
    #[error("cannot unpack layer entry to {path}: {source}")]
    UnpackEntry {
        /// The file being created, relative to the snapshot root.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
    /// The unpacked layer does not hash to the expected diff id.
    #[error("layer diff id mismatch: expected {expected}, the tar hashes to {actual}")]
    DiffIdMismatch {
        /// The diff id the caller expected.
        expected: Digest,
        /// The sha256 of the uncompressed tar.
        actual: Digest,
    },
    /// Reading a file of the directory being packed failed.
    #[error("cannot pack {path}: {source}")]
    PackFile {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
    /// A file of the directory being packed cannot be expressed in a layer.
    #[error("cannot pack {path}: {reason}")]
    PackUnsupported {
        /// The file.
        path: PathBuf,
        /// What a tar layer cannot express.
        reason: &'static str,
    },
    /// Writing the packed layer to its destination failed.
    #[error("cannot write layer: {source}")]
    WriteLayer {
        /// The underlying error.
        source: io::Error,
    },
}
