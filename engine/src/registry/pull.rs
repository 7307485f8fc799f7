//! [`pull`]: resolve a reference, pick the manifest for the platform (a
//! single-platform image must be of the platform asked for), then
//! download the config and the missing layers (a few at a time, each
//! streamed into the store through a verifying [`rdock_cache::Writer`] and
//! unpacked into its snapshot as soon as it is complete), and name the
//! image last. Everything is written under one lease, so a failed pull
//! leaves no name and nothing a prune would not remove.

use std::io;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;

use rdock_cache::oci_spec::image::{Descriptor, ImageIndex, ImageManifest, MediaType};
use rdock_cache::{chain_ids, ChainId, Digest, Lease, Store, Writer};
use rdock_registry_client::ImageRef;

use super::platform::select;
use super::{connect, remote_reference, Platform, RegistryOptions, Remote, TransferEvent};
use super::{BlobSink, Fetched, ANNOTATION_REPO_DIGEST};
use crate::error::{Error, Result};
use crate::images::{is_index, is_manifest};

/// Layers downloaded at once unless [`PullOptions::jobs`] says otherwise
/// (docker's `max-concurrent-downloads`).
pub const DEFAULT_JOBS: usize = 3;

/// How to pull.
#[derive(Debug, Clone, Default)]
pub struct PullOptions {
    /// The platform to pick from an index (default: this host).
    pub platform: Option<Platform>,
    /// Layers moved at once (0: the default, `DEFAULT_JOBS`).
    pub jobs: usize,
    /// Registries and their transport.
    pub registry: RegistryOptions,
    /// Store the blobs only; layers are unpacked when first used (by a
    /// build or a container), as a copy into an OCI layout would leave them.
    pub skip_unpack: bool,
}

/// What [`pull`] stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pulled {
    /// The full name it is stored under.
    pub name: ImageRef,
    /// The digest the reference resolved to (the index's, for an index):
    /// what docker prints as `Digest:`.
    pub digest: Digest,
    /// The image ID (config digest).
    pub id: Digest,
    /// Whether the name already pointed at this image.
    pub up_to_date: bool,
}

/// Pulls `reference` from its registry into `store`.
pub fn pull(
    store: &Store,
    reference: &ImageRef,
    opts: &PullOptions,
    progress: &(dyn Fn(TransferEvent) + Sync),
) -> Result<Pulled> {
    let remote = connect(reference, &opts.registry)?;
    pull_from(store, remote.as_ref(), reference, opts, progress)
}

fn parse<T: serde::de::DeserializeOwned>(what: &'static str, d: &Digest, b: &[u8]) -> Result<T> {
    serde_json::from_slice(b).map_err(|source| Error::ParseBlob {
        what,
        digest: d.to_string(),
        source,
    })
}

/// A fetched manifest's digest, checked against the one asked for.
fn checked_digest(reference: &ImageRef, asked: &str, fetched: &Fetched) -> Result<Digest> {
    let actual = Digest::sha256(&fetched.bytes);
    if let Ok(want) = asked.parse::<Digest>() {
        let actual = Digest::of(want.algorithm(), &fetched.bytes);
        if actual != want {
            return Err(Error::ManifestDigest {
                reference: reference.familiar(),
                expected: want.to_string(),
                actual: actual.to_string(),
            });
        }
        return Ok(want);
    }
    Ok(actual)
}

/// Pulls `reference` through `remote` (one repository) into `store`.
pub fn pull_from(
    store: &Store,
    remote: &dyn Remote,
    reference: &ImageRef,
    opts: &PullOptions,
    progress: &(dyn Fn(TransferEvent) + Sync),
) -> Result<Pulled> {
    let lease = store.lease()?;
    let asked = remote_reference(reference);
    let top = remote.manifest(&asked)?;
    let top_digest = checked_digest(reference, &asked, &top)?;
    let top_type = media_type(&top);
    let from_index = is_index(&top_type);
    let (manifest_bytes, manifest_type, manifest_digest) = if from_index {
        let index: ImageIndex = parse("image index", &top_digest, &top.bytes)?;
        let platform = opts.platform.clone().unwrap_or_else(Platform::host);
        let chosen = select(&platform, index.manifests(), &reference.familiar())?;
        let digest = Digest::try_from(chosen.digest())?;
        let fetched = remote.manifest(&digest.to_string())?;
        checked_digest(reference, &digest.to_string(), &fetched)?;
        (fetched.bytes, chosen.media_type().clone(), digest)
    } else {
        (top.bytes, top_type, top_digest.clone())
    };
    if !is_manifest(&manifest_type) {
        return Err(Error::UnsupportedMediaType {
            digest: manifest_digest.to_string(),
            media_type: manifest_type.to_string(),
        });
    }
    let manifest: ImageManifest = parse("image manifest", &manifest_digest, &manifest_bytes)?;
    let id = Digest::try_from(manifest.config().digest())?;
    let up_to_date = store
        .resolve(&reference.to_string())?
        .is_some_and(|d| d.digest().to_string() == manifest_digest.to_string())
        && store.has_blob(&id);

    let named = super::about("pulling", reference);
    let config_bytes = fetch_small(store, &lease, remote, manifest.config()).map_err(&named)?;
    let config: serde_json::Value = parse("image config", &id, &config_bytes)?;
    if !from_index {
        if let Some(wanted) = &opts.platform {
            check_platform(reference, wanted, &config)?;
        }
    }
    let diff_ids = diff_ids(&config, &id, manifest.layers().len())?;
    let chains = chain_ids(&diff_ids);
    let layers: Vec<Layer> = manifest
        .layers()
        .iter()
        .zip(&diff_ids)
        .enumerate()
        .map(|(i, (descriptor, diff_id))| Layer {
            descriptor,
            diff_id,
            parent: i.checked_sub(1).map(|p| &chains[p]),
            chain: &chains[i],
        })
        .collect();
    for layer in &layers {
        progress(TransferEvent::Waiting {
            digest: Digest::try_from(layer.descriptor.digest())?,
            size: layer.descriptor.size(),
        });
    }
    let jobs = if opts.jobs == 0 {
        DEFAULT_JOBS
    } else {
        opts.jobs
    };
    run_bounded(&layers, jobs, |layer| {
        fetch_layer(store, &lease, remote, layer, !opts.skip_unpack, progress).map_err(&named)
    })?;

    let stored = store.write_blob(&lease, &manifest_bytes)?;
    if stored.digest != manifest_digest {
        return Err(Error::ManifestDigest {
            reference: reference.familiar(),
            expected: manifest_digest.to_string(),
            actual: stored.digest.to_string(),
        });
    }
    let mut descriptor = Descriptor::new(manifest_type, stored.size, manifest_digest.to_oci());
    descriptor.set_annotations(Some(
        [(
            ANNOTATION_REPO_DIGEST.to_owned(),
            format!("{}@{top_digest}", reference.name()),
        )]
        .into(),
    ));
    store.tag(&reference.to_string(), &descriptor)?;
    Ok(Pulled {
        name: reference.clone(),
        digest: top_digest,
        id,
        up_to_date,
    })
}

/// A single-platform image pulled with `--platform` must be of that
/// platform, as docker requires (an index is chosen from instead).
fn check_platform(
    reference: &ImageRef,
    wanted: &Platform,
    config: &serde_json::Value,
) -> Result<()> {
    let field = |name: &str| config[name].as_str().unwrap_or_default();
    let variant = Some(field("variant")).filter(|v| !v.is_empty());
    if wanted.matches(field("os"), field("architecture"), variant) {
        return Ok(());
    }
    Err(Error::PlatformMismatch {
        reference: reference.familiar(),
        wanted: wanted.to_string(),
        actual: Platform::new(field("os"), field("architecture"), variant).to_string(),
    })
}

fn media_type(fetched: &Fetched) -> MediaType {
    // The document's own mediaType wins over a generic Content-Type.
    let own = serde_json::from_slice::<serde_json::Value>(&fetched.bytes)
        .ok()
        .and_then(|v| v["mediaType"].as_str().map(str::to_owned));
    MediaType::from(own.as_deref().unwrap_or(&fetched.media_type))
}

fn diff_ids(config: &serde_json::Value, id: &Digest, layers: usize) -> Result<Vec<Digest>> {
    let listed = config["rootfs"]["diff_ids"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let parsed = listed
        .iter()
        .map(|d| d.as_str().unwrap_or_default().parse::<Digest>())
        .collect::<std::result::Result<Vec<_>, _>>()?;
    if parsed.len() != layers {
        return Err(Error::LayerCount {
            config: id.to_string(),
            diff_ids: parsed.len(),
            layers,
        });
    }
    Ok(parsed)
}

/// Stores a small blob (the config) unless stored, and returns its bytes.
fn fetch_small(
    store: &Store,
    lease: &Lease,
    remote: &dyn Remote,
    d: &Descriptor,
) -> Result<Vec<u8>> {
    let digest = Digest::try_from(d.digest())?;
    if lease.protect_blob(&digest)? {
        return Ok(store.read_blob(&digest)?);
    }
    let mut sink = StoreSink::new(store, lease)?;
    remote.blob(d, &mut sink, &|_| {})?;
    sink.commit(&digest, d.size())?;
    Ok(store.read_blob(&digest)?)
}

/// One layer of the image and where its snapshot goes.
struct Layer<'a> {
    descriptor: &'a Descriptor,
    diff_id: &'a Digest,
    parent: Option<&'a ChainId>,
    chain: &'a ChainId,
}

/// Downloads one layer unless stored, then unpacks it unless unpacked.
fn fetch_layer(
    store: &Store,
    lease: &Lease,
    remote: &dyn Remote,
    layer: &Layer,
    unpack: bool,
    progress: &(dyn Fn(TransferEvent) + Sync),
) -> Result<()> {
    let d = layer.descriptor;
    let digest = Digest::try_from(d.digest())?;
    let stored = lease.protect_blob(&digest)?;
    let unpacked = !unpack || lease.protect_snapshot(layer.chain)?;
    if stored && unpacked {
        progress(TransferEvent::Exists { digest });
        return Ok(());
    }
    if !stored {
        let mut sink = StoreSink::new(store, lease)?;
        let total = d.size();
        remote.blob(d, &mut sink, &|done| {
            progress(TransferEvent::Progress {
                digest: digest.clone(),
                done,
                total,
            })
        })?;
        sink.commit(&digest, total)?;
        progress(TransferEvent::Transferred {
            digest: digest.clone(),
        });
    }
    if !unpack {
        progress(TransferEvent::Complete { digest });
        return Ok(());
    }
    progress(TransferEvent::Extracting {
        digest: digest.clone(),
    });
    // A snapshot holds only its layer's changes, so layers unpack in any
    // order; the parent only names the chain.
    store.unpack_blob(lease, d, layer.diff_id, layer.parent)?;
    progress(TransferEvent::Complete { digest });
    Ok(())
}

/// A blob download into the store: a [`Writer`] that can start over (a
/// registry ignoring `Range`) or carry on where it stopped (a resumed
/// transfer), and commits only what matches the descriptor.
struct StoreSink<'a> {
    store: &'a Store,
    lease: &'a Lease,
    writer: Writer,
}

impl<'a> StoreSink<'a> {
    fn new(store: &'a Store, lease: &'a Lease) -> Result<StoreSink<'a>> {
        Ok(StoreSink {
            store,
            lease,
            writer: store.writer(lease)?,
        })
    }

    fn commit(self, digest: &Digest, size: u64) -> Result<()> {
        match self.writer.commit(Some((digest.clone(), size))) {
            Ok(_) => Ok(()),
            // The transfer's own error, as when the client checked it.
            Err(rdock_cache::Error::DigestMismatch { expected, actual }) => {
                Err(rdock_registry_client::Error::DigestMismatch {
                    what: format!("downloaded blob {expected}"),
                    expected: expected.to_string(),
                    actual: actual.to_string(),
                }
                .into())
            }
            Err(e) => Err(e.into()),
        }
    }
}

impl BlobSink for StoreSink<'_> {
    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        io::Write::write_all(&mut self.writer, buf)
    }

    fn truncate(&mut self, offset: u64) -> io::Result<()> {
        if offset == self.writer.size() {
            return Ok(());
        }
        if offset == 0 {
            self.writer = self.store.writer(self.lease).map_err(io::Error::other)?;
            return Ok(());
        }
        // The writer hashes as it goes, so it cannot rewind part way.
        Err(io::Error::other(format!(
            "cannot rewind a blob download from {} to {offset} bytes",
            self.writer.size()
        )))
    }
}

/// Runs `work` on every item, at most `jobs` at once; the first error
/// stops the start of further items and is returned.
pub(crate) fn run_bounded<T: Sync>(
    items: &[T],
    jobs: usize,
    work: impl Fn(&T) -> Result<()> + Sync,
) -> Result<()> {
    let next = AtomicUsize::new(0);
    let failed = AtomicBool::new(false);
    let first_error: Mutex<Option<(usize, Error)>> = Mutex::new(None);
    std::thread::scope(|scope| {
        for _ in 0..jobs.clamp(1, items.len().max(1)) {
            scope.spawn(|| loop {
                if failed.load(Ordering::SeqCst) {
                    return;
                }
                let i = next.fetch_add(1, Ordering::SeqCst);
                let Some(item) = items.get(i) else {
                    return;
                };
                if let Err(e) = work(item) {
                    failed.store(true, Ordering::SeqCst);
                    let mut slot = first_error.lock().expect("error slot");
                    // The lowest failing item wins, for a stable message.
                    if slot.as_ref().is_none_or(|(j, _)| i < *j) {
                        *slot = Some((i, e));
                    }
                }
            });
        }
    });
    match first_error.into_inner().expect("error slot") {
        Some((_, e)) => Err(e),
        None => Ok(()),
    }
}
