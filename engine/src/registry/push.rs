//! [`push`]: upload a stored image under its name: the layers and the
//! config first (a few at a time, skipping blobs the repository has and
//! mounting, as docker does, those that stored images were pulled from or
//! pushed to in another repository of the same registry), then
//! the manifest, byte for byte as stored, so the registry serves the same
//! digests (an image built with gzip layers is not recompressed). An image
//! stored as an index (from `load`) is pushed whole: the blobs of every
//! platform the store has, those manifests by digest, then the index
//! under the tag, so the registry serves the same index digest.

use std::collections::{HashMap, HashSet};

use rdock_cache::oci_spec::image::{Descriptor, ImageIndex, ImageManifest};
use rdock_cache::{Digest, Store};
use rdock_registry_client::ImageRef;

use super::pull::{run_bounded, DEFAULT_JOBS};
use super::ANNOTATION_REPO_DIGEST;
use super::{connect, remote_reference, BlobPush, RegistryOptions, Remote, TransferEvent};
use crate::error::{Error, Result};
use crate::images::{bare, is_index, is_manifest, parse_blob, read_image};

/// How to push.
#[derive(Debug, Clone, Default)]
pub struct PushOptions {
    /// Blobs moved at once (0: 3, docker's `max-concurrent-uploads` is 5).
    pub jobs: usize,
    /// Registries and their transport.
    pub registry: RegistryOptions,
}

/// What [`push`] uploaded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pushed {
    /// The name it was pushed as.
    pub name: ImageRef,
    /// The manifest digest the registry now serves for the tag.
    pub digest: Digest,
    /// The manifest's size in bytes.
    pub size: u64,
}

/// Pushes the image stored as `reference` to its registry.
pub fn push(
    store: &Store,
    reference: &ImageRef,
    opts: &PushOptions,
    progress: &(dyn Fn(TransferEvent) + Sync),
) -> Result<Pushed> {
    // Checked before connecting: a missing image needs no network.
    store
        .resolve(&reference.to_string())?
        .ok_or_else(|| Error::NoSuchTag {
            reference: reference.familiar(),
        })?;
    let remote = connect(reference, &opts.registry)?;
    push_to(store, remote.as_ref(), reference, opts, progress)
}

/// Pushes the image stored as `reference` through `remote`.
pub fn push_to(
    store: &Store,
    remote: &dyn Remote,
    reference: &ImageRef,
    opts: &PushOptions,
    progress: &(dyn Fn(TransferEvent) + Sync),
) -> Result<Pushed> {
    let name = reference.to_string();
    let top = store.resolve(&name)?.ok_or_else(|| Error::NoSuchTag {
        reference: reference.familiar(),
    })?;
    // Protects the image from a concurrent rmi and prune while it uploads.
    let lease = store.lease()?;
    let mut plan = Plan::default();
    plan.add(store, &top, 0)?;
    for d in &plan.blobs {
        let digest = Digest::try_from(d.digest())?;
        if !lease.protect_blob(&digest)? {
            return Err(rdock_cache::Error::BlobNotFound { digest }.into());
        }
        // Docker shows layers only, not configs.
        if !plan.configs.contains(&digest) {
            progress(TransferEvent::Waiting {
                digest,
                size: d.size(),
            });
        }
    }
    let jobs = if opts.jobs == 0 {
        DEFAULT_JOBS
    } else {
        opts.jobs
    };
    let quiet = |_| {};
    let sources = mount_sources(store, reference)?;
    let named = super::about("pushing", reference);
    run_bounded(&plan.blobs, jobs, |d| {
        let config = plan.configs.contains(&Digest::try_from(d.digest())?);
        let shown: &(dyn Fn(TransferEvent) + Sync) = if config { &quiet } else { progress };
        let from = sources.get(&d.digest().to_string()).map(String::as_str);
        upload(store, remote, d, from, shown).map_err(&named)
    })?;

    // An index goes up after the manifests it lists, by their digests.
    for (digest, media_type) in &plan.children {
        let bytes = store.read_blob(digest)?;
        remote.put_manifest(&digest.to_string(), media_type, &bytes)?;
    }
    let top_digest = Digest::try_from(top.digest())?;
    let bytes = store.read_blob(&top_digest)?;
    remote.put_manifest(
        &remote_reference(reference),
        top.media_type().as_ref(),
        &bytes,
    )?;
    let mut entry = bare(&top);
    let mut annotations = top.annotations().clone().unwrap_or_default();
    annotations.insert(
        ANNOTATION_REPO_DIGEST.to_owned(),
        format!("{}@{top_digest}", reference.name()),
    );
    entry.set_annotations(Some(annotations));
    store.tag(&name, &entry)?;
    Ok(Pushed {
        name: reference.clone(),
        digest: top_digest,
        size: bytes.len() as u64,
    })
}

/// What a push sends: every layer and config once, and for an index the
/// manifests it lists that the store has (those it lacks the registry
/// must have already, or it refuses the index).
#[derive(Default)]
struct Plan {
    blobs: Vec<Descriptor>,
    configs: HashSet<Digest>,
    /// Manifests (and nested indexes) before the index that lists them.
    children: Vec<(Digest, String)>,
    seen: HashSet<Digest>,
}

impl Plan {
    fn add(&mut self, store: &Store, d: &Descriptor, depth: usize) -> Result<()> {
        let digest = Digest::try_from(d.digest())?;
        if is_index(d.media_type()) && depth < 3 {
            let index: ImageIndex = parse_blob(store, "image index", &digest)?;
            for child in index.manifests() {
                let child_digest = Digest::try_from(child.digest())?;
                if !store.has_blob(&child_digest) || self.seen.contains(&child_digest) {
                    continue;
                }
                self.add(store, child, depth + 1)?;
                self.seen.insert(child_digest.clone());
                self.children
                    .push((child_digest, child.media_type().to_string()));
            }
            return Ok(());
        }
        if !is_manifest(d.media_type()) {
            return Err(Error::UnsupportedMediaType {
                digest: digest.to_string(),
                media_type: d.media_type().to_string(),
            });
        }
        let manifest: ImageManifest = parse_blob(store, "image manifest", &digest)?;
        let config = manifest.config();
        self.configs.insert(Digest::try_from(config.digest())?);
        for blob in manifest.layers().iter().chain([config]) {
            let blob_digest = Digest::try_from(blob.digest())?;
            if self.seen.insert(blob_digest) {
                self.blobs.push(blob.clone());
            }
        }
        Ok(())
    }
}

fn upload(
    store: &Store,
    remote: &dyn Remote,
    d: &Descriptor,
    mount_from: Option<&str>,
    progress: &(dyn Fn(TransferEvent) + Sync),
) -> Result<()> {
    let digest = Digest::try_from(d.digest())?;
    let path = store.blob_path(&digest);
    let open = move || -> std::io::Result<Box<dyn std::io::Read + Send>> {
        Ok(Box::new(std::fs::File::open(&path)?))
    };
    let total = d.size();
    let how = remote.put_blob(d, &open, mount_from, &|done| {
        progress(TransferEvent::Progress {
            digest: digest.clone(),
            done,
            total,
        })
    })?;
    progress(match (how, mount_from) {
        (BlobPush::Uploaded, _) => TransferEvent::Transferred { digest },
        (BlobPush::Mounted, Some(from)) => TransferEvent::Mounted {
            digest,
            from: from.to_owned(),
        },
        _ => TransferEvent::Exists { digest },
    });
    Ok(())
}

/// For each blob, another repository of the same registry it was pulled
/// from or pushed to (per the repo digests of stored images), so the
/// registry can link it instead of receiving it again, as docker mounts.
fn mount_sources(store: &Store, target: &ImageRef) -> Result<HashMap<String, String>> {
    let mut out = HashMap::new();
    for entry in store.list_images()? {
        let Some(repo_digest) = entry
            .descriptor
            .annotations()
            .as_ref()
            .and_then(|a| a.get(ANNOTATION_REPO_DIGEST))
        else {
            continue;
        };
        let Ok(source) = repo_digest.parse::<ImageRef>() else {
            continue;
        };
        if source.domain() != target.domain() || source.path() == target.path() {
            continue;
        }
        let Ok(image) = read_image(store, None, &entry.descriptor) else {
            continue;
        };
        let mut blobs = image.manifest.layers().clone();
        blobs.push(image.manifest.config().clone());
        for d in blobs {
            out.entry(d.digest().to_string())
                .or_insert_with(|| source.path().to_owned());
        }
    }
    Ok(out)
}
