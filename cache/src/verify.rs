//! [`Store::verify`]: a full consistency check that reports [`Problem`]s as
//! values (for `rdock store verify` to print) instead of failing on the first.
//!
//! It checks the `oci-layout` marker, that index.json parses, that every
//! blob reachable from it exists with the size its descriptor states and
//! parses as what it is referenced as, and it re-hashes every stored blob.

use std::fmt;
use std::fs;
use std::path::PathBuf;

use oci_spec::image::OciLayout;

use crate::digest::Digest;
use crate::error::{Error, Result};
use crate::fsutil::LockMode;
use crate::records::read_record;
use crate::refs::{walk, Referrer};
use crate::store::{Store, IMAGE_LAYOUT_VERSION, OCI_LAYOUT_FILE};

/// One inconsistency found by [`Store::verify`].
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Problem {
    /// `oci-layout` is missing or not `{"imageLayoutVersion":"1.0.0"}`.
    LayoutMarker {
        /// What is wrong.
        reason: String,
    },
    /// index.json cannot be read or parsed.
    IndexUnreadable {
        /// The reader's or parser's message.
        reason: String,
    },
    /// A descriptor uses a digest algorithm the store cannot hold.
    UnsupportedDigest {
        /// The digest as written.
        digest: String,
        /// Where it was found.
        referrer: Referrer,
    },
    /// A referenced blob is not stored.
    BlobMissing {
        /// The blob.
        digest: Digest,
        /// Who refers to it.
        referrer: Referrer,
    },
    /// A stored blob no longer hashes to its name.
    BlobCorrupt {
        /// The blob's name.
        digest: Digest,
        /// What its content hashes to now.
        actual: Digest,
    },
    /// A stored blob's size differs from its descriptor's.
    SizeMismatch {
        /// The blob.
        digest: Digest,
        /// Whose descriptor states the size.
        referrer: Referrer,
        /// The size in the descriptor.
        expected: u64,
        /// The size on disk.
        actual: u64,
    },
    /// A blob referenced as a manifest, index or config does not parse as one.
    BlobUnparsable {
        /// The blob.
        digest: Digest,
        /// What it was read as.
        kind: &'static str,
        /// The parser's message.
        reason: String,
    },
    /// A file under `blobs/` or `cache/` whose name is not a digest.
    StrayFile {
        /// The file.
        path: PathBuf,
    },
    /// A build-cache record cannot be read or parsed.
    RecordUnreadable {
        /// The record file.
        path: PathBuf,
        /// The reader's or parser's message.
        reason: String,
    },
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::LayoutMarker { reason } => write!(f, "oci-layout: {reason}"),
            Problem::IndexUnreadable { reason } => write!(f, "index.json: {reason}"),
            Problem::UnsupportedDigest { digest, referrer } => {
                write!(f, "{referrer}: unsupported digest {digest}")
            }
            Problem::BlobMissing { digest, referrer } => {
                write!(f, "{digest}: missing (referenced by {referrer})")
            }
            Problem::BlobCorrupt { digest, actual } => {
                write!(f, "{digest}: corrupt, content hashes to {actual}")
            }
            Problem::SizeMismatch {
                digest,
                referrer,
                expected,
                actual,
            } => write!(
                f,
                "{digest}: {actual} bytes on disk, {referrer} says {expected}"
            ),
            Problem::BlobUnparsable {
                digest,
                kind,
                reason,
            } => write!(f, "{digest}: not a valid {kind}: {reason}"),
            Problem::StrayFile { path } => write!(f, "{}: unexpected file", path.display()),
            Problem::RecordUnreadable { path, reason } => {
                write!(f, "{}: unreadable cache record: {reason}", path.display())
            }
        }
    }
}

/// The outcome of [`Store::verify`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct VerifyReport {
    /// Everything found wrong, in the order checked.
    pub problems: Vec<Problem>,
    /// Number of blobs re-hashed.
    pub blobs_checked: usize,
    /// Bytes re-hashed.
    pub bytes_checked: u64,
}

impl VerifyReport {
    /// `true` when no problem was found.
    pub fn is_ok(&self) -> bool {
        self.problems.is_empty()
    }
}

impl Store {
    /// Checks the whole store. Errors only when the check itself cannot run
    /// (e.g. a folder cannot be listed); inconsistencies are in the report.
    /// Holds the gc lock shared, so no prune runs meanwhile.
    pub fn verify(&self) -> Result<VerifyReport> {
        let _gc = self.lock_gc(LockMode::Shared)?;
        let mut report = VerifyReport::default();
        if let Some(reason) = self.layout_marker_problem() {
            report.problems.push(Problem::LayoutMarker { reason });
        }
        match self.read_index() {
            Ok(index) => {
                let graph = walk(self, index.manifests());
                report.problems.extend(graph.problems);
            }
            Err(e) => report.problems.push(Problem::IndexUnreadable {
                reason: e.to_string(),
            }),
        }
        for (path, digest) in self.blob_files()? {
            let Some(digest) = digest else {
                report.problems.push(Problem::StrayFile { path });
                continue;
            };
            let (actual, size) = match self.hash_blob(&digest) {
                Ok(hashed) => hashed,
                Err(Error::BlobNotFound { .. }) => continue,
                Err(e) => return Err(e),
            };
            report.blobs_checked += 1;
            report.bytes_checked += size;
            if actual != digest {
                report
                    .problems
                    .push(Problem::BlobCorrupt { digest, actual });
            }
        }
        for (path, key) in self.record_files()? {
            if key.is_none() {
                report.problems.push(Problem::StrayFile { path });
                continue;
            }
            match read_record(path.clone()) {
                Ok(_) => {}
                Err(e @ (Error::ParseRecord { .. } | Error::Record { .. })) => {
                    report.problems.push(Problem::RecordUnreadable {
                        path,
                        reason: e.to_string(),
                    })
                }
                Err(e) => return Err(e),
            }
        }
        Ok(report)
    }

    fn layout_marker_problem(&self) -> Option<String> {
        let path = self.root().join(OCI_LAYOUT_FILE);
        let bytes = match fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) => return Some(e.to_string()),
        };
        match serde_json::from_slice::<OciLayout>(&bytes) {
            Ok(layout) if layout.image_layout_version() == IMAGE_LAYOUT_VERSION => None,
            Ok(layout) => Some(format!(
                "imageLayoutVersion {:?} is not {IMAGE_LAYOUT_VERSION:?}",
                layout.image_layout_version()
            )),
            Err(e) => Some(e.to_string()),
        }
    }
}
