//! [`push`]: upload a stored image under its name: the layers and the
//! config first (a few at a time, skipping blobs the repository has and
//! mounting, as docker does, those that stored images were pulled from or
//! pushed to in another repository of the same registry), then
//! the manifest, byte for byte as stored, so the registry serves the same
//! digests (an image built with gzip layers is not recompressed). An image
//! stored as an index (from `load`) is pushed as its manifest for this
//! host.

use std::collections::HashMap;

use rdock_cache::oci_spec::image::Descriptor;
use rdock_cache::{Digest, Store};
use rdock_registry_client::ImageRef;

use super::pull::{run_bounded, DEFAULT_JOBS};
use super::ANNOTATION_REPO_DIGEST;
use super::{connect, remote_reference, BlobPush, RegistryOptions, Remote, TransferEvent};
use crate::error::{Error, Result};
use crate::images::{bare, is_manifest, read_image};

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
    let image = read_image(store, Some(name.clone()), &top)?;
    // Protects the image from a concurrent rmi and prune while it uploads.
    let lease = store.lease()?;
    let config = image.manifest.config().clone();
    let mut blobs: Vec<Descriptor> = image.manifest.layers().clone();
    blobs.push(config.clone());
    for d in &blobs {
        let digest = Digest::try_from(d.digest())?;
        if !lease.protect_blob(&digest)? {
            return Err(rdock_cache::Error::BlobNotFound { digest }.into());
        }
        // Docker shows layers only, not the config.
        if d != &config {
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
    run_bounded(&blobs, jobs, |d| {
        let shown: &(dyn Fn(TransferEvent) + Sync) = if d == &config { &quiet } else { progress };
        let from = sources.get(&d.digest().to_string()).map(String::as_str);
        upload(store, remote, d, from, shown)
    })?;

    let bytes = store.read_blob(&image.manifest_digest)?;
    let media_type = if is_manifest(top.media_type()) {
        top.media_type().to_string()
    } else {
        serde_json::from_slice::<serde_json::Value>(&bytes)
            .ok()
            .and_then(|v| v["mediaType"].as_str().map(str::to_owned))
            .unwrap_or_else(|| rdock_cache::oci_spec::image::MediaType::ImageManifest.to_string())
    };
    remote.put_manifest(&remote_reference(reference), &media_type, &bytes)?;
    if is_manifest(top.media_type()) {
        let mut entry = bare(&top);
        let mut annotations = top.annotations().clone().unwrap_or_default();
        annotations.insert(
            ANNOTATION_REPO_DIGEST.to_owned(),
            format!("{}@{}", reference.name(), image.manifest_digest),
        );
        entry.set_annotations(Some(annotations));
        store.tag(&name, &entry)?;
    }
    Ok(Pushed {
        name: reference.clone(),
        digest: image.manifest_digest,
        size: bytes.len() as u64,
    })
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
