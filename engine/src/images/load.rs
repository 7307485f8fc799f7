//! [`load`]: images from an archive as `docker save`, `podman save` or
//! `skopeo copy` write them, detected by content:
//!
//! - OCI layout (`index.json`, `blobs/<alg>/<hex>`): every reachable blob is
//!   checked against its descriptor's digest and size and stored as it is.
//!   Names come from `io.containerd.image.name`, else from
//!   `org.opencontainers.image.ref.name` when that is a whole reference
//!   (`busybox:latest`; a bare tag such as `latest` names nothing).
//! - docker-archive (`manifest.json` with `Config`, `RepoTags`, `Layers`):
//!   layers are uncompressed tars, so each must hash to its diff ID in the
//!   config's `rootfs.diff_ids`; the config is kept byte for byte (so the
//!   image ID is kept) and a new OCI manifest is written, with layers typed
//!   `application/vnd.oci.image.layer.v1.tar`.
//!
//! A gzip-compressed archive is read through a decompressor. Archives that
//! have both (Docker 25 and later) load as OCI layouts.
//! Everything is read and checked before anything is committed, all under
//! one lease, and names are written last: a bad archive leaves no name and
//! no blob behind.

use std::io::Read;

use rdock_cache::oci_spec::image::{
    Descriptor, ImageIndex, ImageManifest, ImageManifestBuilder, MediaType, ANNOTATION_REF_NAME,
};
use rdock_cache::{Digest, Lease, Store};
use rdock_registry_client::ImageRef;
use serde::Deserialize;

use super::archive::{normalize, plain_tar, Staged};
use super::{is_index, is_manifest, select_platform};
use crate::error::{Error, Result};

/// containerd's (and docker's) annotation for the full image name.
pub(crate) const ANNOTATION_CONTAINERD_NAME: &str = "io.containerd.image.name";

/// One image stored by [`load`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadedImage {
    /// The names it was stored under.
    pub names: Vec<ImageRef>,
    /// Its ID (config digest; for an index, the host's image).
    pub id: Digest,
}

/// What a loader found and checked, to be committed.
#[derive(Debug, Default)]
struct Plan {
    /// Archive files to commit, checked already.
    files: Vec<String>,
    /// Manifests written by rdock (docker-archive only).
    generated: Vec<Vec<u8>>,
    /// Names to write last: (names, what they point at, image ID).
    images: Vec<(Vec<ImageRef>, Descriptor, Digest)>,
}

/// Reads an archive from `reader`, checks every blob, stores the images
/// and names them. Returns the images loaded, in archive order.
pub fn load(store: &Store, reader: impl Read) -> Result<Vec<LoadedImage>> {
    let reader = plain_tar(reader, Error::CompressedArchive, |source| {
        Error::ReadArchive { source }
    })?;
    let lease = store.lease()?;
    let staged = Staged::read(store, &lease, reader)?;
    let plan = if staged.contains("index.json") {
        oci_plan(&lease, &staged)?
    } else if staged.contains("manifest.json") {
        docker_plan(&staged)?
    } else {
        return Err(Error::UnknownArchive);
    };
    staged.commit(&lease, &plan.files)?;
    for bytes in &plan.generated {
        store.write_blob(&lease, bytes)?;
    }
    let mut out = Vec::new();
    for (names, descriptor, id) in plan.images {
        for name in &names {
            store.tag(&name.to_string(), &descriptor)?;
        }
        out.push(LoadedImage { names, id });
    }
    Ok(out)
}

fn blob_path(digest: &Digest) -> String {
    format!("blobs/{}/{}", digest.algorithm(), digest.hex())
}

/// The names an OCI index entry carries.
fn entry_names(d: &Descriptor) -> Result<Vec<ImageRef>> {
    let Some(annotations) = d.annotations() else {
        return Ok(Vec::new());
    };
    if let Some(name) = annotations.get(ANNOTATION_CONTAINERD_NAME) {
        return Ok(vec![name.parse()?]);
    }
    match annotations.get(ANNOTATION_REF_NAME) {
        Some(r) if r.contains([':', '/', '@']) => Ok(vec![r.parse()?]),
        _ => Ok(Vec::new()),
    }
}

fn oci_plan(lease: &Lease, staged: &Staged) -> Result<Plan> {
    let index: ImageIndex = staged.json("index.json")?;
    let mut plan = Plan::default();
    for entry in index.manifests() {
        let id = walk(lease, staged, entry, &mut plan.files, 0)?;
        let names = entry_names(entry)?;
        if names.is_empty() {
            return Err(Error::UnnamedImage { id: id.to_string() });
        }
        plan.images.push((names, super::bare(entry), id));
    }
    Ok(plan)
}

/// Checks the blob `d` points at; returns its bytes when it is metadata.
fn check_blob(
    lease: &Lease,
    staged: &Staged,
    d: &Descriptor,
    files: &mut Vec<String>,
    want_bytes: bool,
) -> Result<(Digest, Option<Vec<u8>>)> {
    let digest = Digest::try_from(d.digest())?;
    let path = blob_path(&digest);
    if staged.contains(&path) {
        staged.check(&path, &digest, Some(d.size()))?;
        files.push(path.clone());
        let bytes = want_bytes
            .then(|| staged.bytes(&path).map(<[u8]>::to_vec))
            .transpose()?;
        return Ok((digest, bytes));
    }
    // Not in the archive but already stored: keep it through this load.
    if lease.protect_blob(&digest)? {
        let bytes = want_bytes
            .then(|| lease.store().read_blob(&digest))
            .transpose()?;
        return Ok((digest, bytes));
    }
    Err(Error::ArchiveMissing { path })
}

fn parse<T: serde::de::DeserializeOwned>(what: &'static str, d: &Digest, b: &[u8]) -> Result<T> {
    serde_json::from_slice(b).map_err(|source| Error::ParseBlob {
        what,
        digest: d.to_string(),
        source,
    })
}

/// Checks everything below `d`; returns the image ID for this host.
fn walk(
    lease: &Lease,
    staged: &Staged,
    d: &Descriptor,
    files: &mut Vec<String>,
    depth: usize,
) -> Result<Digest> {
    let (digest, bytes) = check_blob(lease, staged, d, files, true)?;
    let bytes = bytes.unwrap_or_default();
    if is_index(d.media_type()) && depth < 3 {
        let index: ImageIndex = parse("image index", &digest, &bytes)?;
        let host = select_platform(&index, &digest.to_string())?;
        let mut id = None;
        for child in index.manifests() {
            let child_id = walk(lease, staged, child, files, depth + 1)?;
            if child.digest() == host.digest() {
                id = Some(child_id);
            }
        }
        return id.ok_or(Error::NoPlatform {
            digest: digest.to_string(),
            arch: rdock_cache::oci_spec::image::Arch::default().to_string(),
        });
    }
    if !is_manifest(d.media_type()) {
        return Err(Error::UnsupportedMediaType {
            digest: digest.to_string(),
            media_type: d.media_type().to_string(),
        });
    }
    let manifest: ImageManifest = parse("image manifest", &digest, &bytes)?;
    let (id, _) = check_blob(lease, staged, manifest.config(), files, false)?;
    for layer in manifest.layers() {
        check_blob(lease, staged, layer, files, false)?;
    }
    Ok(id)
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct DockerEntry {
    config: String,
    repo_tags: Option<Vec<String>>,
    layers: Vec<String>,
}

#[derive(Deserialize)]
struct DockerConfig {
    rootfs: DockerRootFs,
}

#[derive(Deserialize)]
struct DockerRootFs {
    diff_ids: Vec<String>,
}

/// The digest a file's name promises: `blobs/sha256/<hex>` or `<hex>.json`.
fn named_digest(path: &str) -> Option<Digest> {
    let path = normalize(path);
    if let Some(rest) = path.strip_prefix("blobs/") {
        let (alg, hex) = rest.split_once('/')?;
        return format!("{alg}:{hex}").parse().ok();
    }
    let hex = path.strip_suffix(".json")?;
    Digest::from_parts(rdock_cache::Algorithm::Sha256, hex).ok()
}

fn docker_plan(staged: &Staged) -> Result<Plan> {
    let entries: Vec<DockerEntry> = staged.json("manifest.json")?;
    let mut plan = Plan::default();
    for entry in entries {
        let config_file = staged.get(&entry.config)?;
        let id = config_file.digest.clone();
        if let Some(named) = named_digest(&entry.config) {
            staged.check(&entry.config, &named, None)?;
        }
        let config: DockerConfig = staged.json(&entry.config)?;
        let diff_ids = &config.rootfs.diff_ids;
        if diff_ids.len() != entry.layers.len() {
            return Err(Error::LayerCount {
                config: entry.config,
                diff_ids: diff_ids.len(),
                layers: entry.layers.len(),
            });
        }
        let mut layers = Vec::new();
        for (path, diff_id) in entry.layers.iter().zip(diff_ids) {
            let expected: Digest = diff_id.parse()?;
            let file = staged.get(path)?;
            if file.digest != expected {
                return Err(Error::DiffIdMismatch {
                    path: path.clone(),
                    expected: expected.to_string(),
                    actual: file.digest.to_string(),
                });
            }
            layers.push(Descriptor::new(MediaType::ImageLayer, file.size, &expected));
            plan.files.push(path.clone());
        }
        plan.files.push(entry.config.clone());
        let manifest = ImageManifestBuilder::default()
            .schema_version(2u32)
            .media_type(MediaType::ImageManifest)
            .config(Descriptor::new(
                MediaType::ImageConfig,
                config_file.size,
                &id,
            ))
            .layers(layers)
            .build()?;
        let bytes = serde_json::to_vec(&manifest).expect("a manifest serializes");
        let descriptor = Descriptor::new(
            MediaType::ImageManifest,
            bytes.len() as u64,
            Digest::sha256(&bytes),
        );
        let names = entry
            .repo_tags
            .unwrap_or_default()
            .iter()
            .map(|t| t.parse::<ImageRef>())
            .collect::<std::result::Result<Vec<_>, _>>()?;
        if names.is_empty() {
            return Err(Error::UnnamedImage { id: id.to_string() });
        }
        plan.generated.push(bytes);
        plan.images.push((names, descriptor, id));
    }
    Ok(plan)
}
