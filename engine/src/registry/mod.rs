//! Images to and from registries: [`pull`] stores an image exactly as the
//! registry serves it (same manifest, config and layer digests) and unpacks
//! its layers into snapshots; [`push`] uploads a stored image's layers,
//! config and manifest byte for byte (no recompression), so its digest is
//! the same on both sides; [`login`] and [`logout`] manage credentials in
//! docker's `config.json`.
//!
//! The network is behind the [`Remote`] trait (one repository of one
//! registry); [`connect`] gives the real one over
//! `rdock_registry_client`. Layers move [`PullOptions::jobs`] at a time
//! (3 by default, as docker), each reported through [`TransferEvent`]s.
//! Each byte is hashed once: a pulled blob by the store's writer (which
//! commits only a match), a pushed one not at all here (the store
//! verified it when it was committed; the registry checks it again).
//! Plain HTTP is used only for registries on loopback and those
//! [`RegistryOptions::insecure`] covers (the CLI's `--insecure-registry`
//! and `RDOCK_INSECURE_REGISTRIES`), by docker's rule, which the registry
//! client alone applies.

mod base;
mod login;
mod platform;
mod pull;
mod push;
mod remote;

#[cfg(test)]
mod tests;

use std::io::Read;

use rdock_cache::oci_spec::image::Descriptor;
use rdock_cache::Digest;
use rdock_registry_client::ImageRef;

pub use rdock_registry_client::BlobSink;

use crate::error::Result;

pub(crate) use base::ensure_base;
pub use base::BaseOptions;
pub use login::{login, logout};
pub use platform::Platform;
pub use pull::{pull, pull_from, PullOptions, Pulled};
pub use push::{push, push_to, PushOptions, Pushed};
pub use remote::connect;

/// Annotation on an index.json entry: the `name@digest` the image was
/// pulled as or pushed to (docker's RepoDigests).
pub const ANNOTATION_REPO_DIGEST: &str = "io.rdock.repo.digest";

/// A manifest or index as a registry served it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fetched {
    /// The `Content-Type` (or the document's own `mediaType`).
    pub media_type: String,
    /// The bytes, exactly as served.
    pub bytes: Vec<u8>,
}

/// One repository of one registry: the network boundary of pull and push.
/// Implementations check manifests against the digests asked for; blobs
/// are checked by the sink they are written to.
pub trait Remote: Sync {
    /// The manifest or index that `reference` (a tag or a digest) names.
    fn manifest(&self, reference: &str) -> Result<Fetched>;
    /// Streams the blob `layer` describes into `out` (which may be told to
    /// truncate when a transfer resumes), calling `progress` with the
    /// bytes received so far; `Ok` only once the size matched. The digest
    /// is checked by `out` (a store writer commits only a match), so each
    /// byte is hashed once.
    fn blob(
        &self,
        layer: &Descriptor,
        out: &mut dyn BlobSink,
        progress: &(dyn Fn(u64) + Sync),
    ) -> Result<()>;
    /// Uploads the blob `layer` describes, reading it from `open` (again
    /// if an upload restarts), unless the repository has it or can mount
    /// it from the repository `mount_from` (a path on the same registry).
    fn put_blob(
        &self,
        layer: &Descriptor,
        open: &OpenBlob,
        mount_from: Option<&str>,
        progress: &(dyn Fn(u64) + Sync),
    ) -> Result<BlobPush>;
    /// Stores a manifest or index under `reference` (a tag or its digest).
    fn put_manifest(&self, reference: &str, media_type: &str, bytes: &[u8]) -> Result<()>;
}

/// How [`Remote::put_blob`] got a blob into the repository.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlobPush {
    /// The repository had it.
    Exists,
    /// Mounted from the repository asked for: nothing was sent.
    Mounted,
    /// Sent.
    Uploaded,
}

/// Opens a blob's content from its start, for an upload.
pub type OpenBlob = dyn Fn() -> std::io::Result<Box<dyn Read + Send>> + Sync;

/// What happens to one layer (or config) during a pull or push, for
/// progress displays.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TransferEvent {
    /// The layer is queued (docker: `Pulling fs layer`, `Preparing`).
    Waiting { digest: Digest, size: u64 },
    /// Nothing to move: the other side has it (`Already exists`,
    /// `Layer already exists`).
    Exists { digest: Digest },
    /// Bytes moved so far.
    Progress {
        digest: Digest,
        done: u64,
        total: u64,
    },
    /// All bytes moved and verified (`Download complete`, `Pushed`).
    Transferred { digest: Digest },
    /// Push: the registry linked it from another of its repositories
    /// (`Mounted from library/busybox`).
    Mounted { digest: Digest, from: String },
    /// Unpacking into a snapshot has started (`Extracting`).
    Extracting { digest: Digest },
    /// The layer is stored and unpacked (`Pull complete`).
    Complete { digest: Digest },
}

/// How to reach registries.
#[derive(Debug, Clone, Default)]
pub struct RegistryOptions {
    /// `--insecure-registry` entries, besides loopback: `host[:port]`
    /// (exactly: a bare host does not cover its ports) or a CIDR, as
    /// docker takes them. Applied by the registry client.
    pub insecure: Vec<String>,
    /// Push blobs larger than this in PATCH chunks of this size (default
    /// 16 MiB; the CLI reads `RDOCK_PUSH_CHUNK_SIZE`).
    pub push_chunk_size: Option<u64>,
}

impl RegistryOptions {
    /// The options with `RDOCK_INSECURE_REGISTRIES` (comma-separated) added.
    pub fn with_env(mut self, value: Option<String>) -> RegistryOptions {
        if let Some(value) = value {
            self.insecure.extend(
                value
                    .split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned),
            );
        }
        self
    }
}

/// The `name@digest`s images were pulled as or pushed to (docker's
/// RepoDigests, in its short form), sorted and without repeats.
pub(crate) fn repo_digests(images: &[crate::images::Image]) -> Vec<String> {
    let mut out: Vec<String> = images
        .iter()
        .filter_map(|i| {
            i.descriptor
                .annotations()
                .as_ref()?
                .get(ANNOTATION_REPO_DIGEST)
        })
        .map(|d| match d.parse::<ImageRef>() {
            Ok(r) => r.familiar(),
            Err(_) => d.clone(),
        })
        .collect();
    out.sort();
    out.dedup();
    out
}

/// The registry digest `image` was pulled as or pushed to under its name
/// (docker's `images --digests` column), if any.
pub fn repo_digest(image: &crate::images::Image) -> Option<Digest> {
    let annotations = image.descriptor.annotations().as_ref()?;
    let (_, digest) = annotations.get(ANNOTATION_REPO_DIGEST)?.rsplit_once('@')?;
    digest.parse().ok()
}

/// Wraps an error about one blob of `reference`'s image (which names only
/// the blob and the repository) so that it names the image.
pub(crate) fn about<'a>(
    verb: &'static str,
    reference: &'a ImageRef,
) -> impl Fn(crate::error::Error) -> crate::error::Error + Sync + 'a {
    move |source| crate::error::Error::Transfer {
        verb,
        reference: reference.familiar(),
        source: Box::new(source),
    }
}

/// The tag or digest to ask the registry for.
pub(crate) fn remote_reference(reference: &ImageRef) -> String {
    reference
        .digest()
        .or(reference.tag())
        .unwrap_or("latest")
        .to_owned()
}
