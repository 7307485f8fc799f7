//! Images in the local store: [`load`] and [`import`] bring them in, [`save`]
//! writes them out, [`images`], [`tag`], [`rmi`] and [`inspect`] manage
//! their names, [`prune`] and [`verify`] look after the store.
//!
//! Names are normalized [`ImageRef`]s, stored in index.json in their full
//! form (`docker.io/library/busybox:latest`). An image is found by name or
//! by a prefix of its ID (the config digest, as docker shows it). Images
//! are stored as OCI manifests; the store keeps Docker media types only
//! where it received them (from an OCI-layout archive written with them).

mod archive;
mod import;
mod load;
mod recompress;
mod rootfs;
mod save;
pub(crate) mod timefmt;

use rdock_cache::oci_spec::image::{Arch, Descriptor, ImageIndex, ImageManifest, MediaType};
use rdock_cache::{Digest, PruneReport, Store, VerifyReport};
use rdock_registry_client::ImageRef;
use serde_json::{json, Value};

use crate::error::{Error, Result};

pub use import::{import, ImportOptions};
pub use load::{load, LoadedImage};
pub(crate) use recompress::recompress;
pub(crate) use rootfs::{unpack_rootfs, write_rootfs};
pub use save::save;
pub(crate) use save::write_archive;

/// Docker's media types for the same documents, accepted when reading.
pub(crate) const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
pub(crate) const DOCKER_MANIFEST_LIST: &str =
    "application/vnd.docker.distribution.manifest.list.v2+json";
pub(crate) const DOCKER_LAYER: &str = "application/vnd.docker.image.rootfs.diff.tar";

/// Writes an image's config and an OCI manifest over `layers` into the store
/// (kept alive by `lease` until tagged) and returns the manifest's descriptor.
pub(crate) fn write_image<C: serde::Serialize>(
    store: &Store,
    lease: &rdock_cache::Lease,
    config: &C,
    layers: Vec<Descriptor>,
) -> Result<Descriptor> {
    let config_bytes = serde_json::to_vec(config).expect("a config serializes");
    let config_blob = store.write_blob(lease, &config_bytes)?;
    let manifest = rdock_cache::oci_spec::image::ImageManifestBuilder::default()
        .schema_version(2u32)
        .media_type(MediaType::ImageManifest)
        .config(Descriptor::new(
            MediaType::ImageConfig,
            config_blob.size,
            &config_blob.digest,
        ))
        .layers(layers)
        .build()?;
    let manifest_bytes = serde_json::to_vec(&manifest).expect("a manifest serializes");
    let manifest_blob = store.write_blob(lease, &manifest_bytes)?;
    Ok(Descriptor::new(
        MediaType::ImageManifest,
        manifest_blob.size,
        &manifest_blob.digest,
    ))
}

/// Whether a descriptor points at an image index (or Docker manifest list).
pub(crate) fn is_index(media_type: &MediaType) -> bool {
    match media_type {
        MediaType::ImageIndex => true,
        MediaType::Other(t) => t == DOCKER_MANIFEST_LIST,
        _ => false,
    }
}

/// Whether a descriptor points at an image manifest (OCI or Docker).
pub(crate) fn is_manifest(media_type: &MediaType) -> bool {
    match media_type {
        MediaType::ImageManifest => true,
        MediaType::Other(t) => t == DOCKER_MANIFEST,
        _ => false,
    }
}

/// Whether a layer is an uncompressed tar (so its digest is its diff ID).
pub(crate) fn is_plain_layer(media_type: &MediaType) -> bool {
    match media_type {
        MediaType::ImageLayer => true,
        MediaType::Other(t) => t == DOCKER_LAYER,
        _ => false,
    }
}

/// Opens the store at `root`, or at the default root (`RDOCK_ROOT`, then
/// the per-user or system folder) when `None`.
pub fn open_store(root: Option<std::path::PathBuf>) -> Result<Store> {
    let root = match root {
        Some(root) => root,
        None => Store::default_root()?,
    };
    Ok(Store::open(root)?)
}

/// One stored image, resolved down to a single-platform manifest.
#[derive(Debug, Clone)]
pub struct Image {
    /// The full name it was found under, if found by name.
    pub name: Option<String>,
    /// What index.json points at (a manifest, or an index for this host).
    pub descriptor: Descriptor,
    /// The manifest for this host.
    pub manifest_digest: Digest,
    /// The manifest itself.
    pub manifest: ImageManifest,
    /// The config digest: the image ID.
    pub id: Digest,
    /// The config, as stored.
    pub config: Value,
}

impl Image {
    /// Creation time in seconds since the epoch, from the config.
    pub fn created(&self) -> Option<i64> {
        self.config["created"]
            .as_str()
            .and_then(timefmt::parse_rfc3339)
    }

    /// Sum of the layer sizes, as docker shows it for local images.
    pub fn size(&self) -> u64 {
        self.manifest.layers().iter().map(|l| l.size()).sum()
    }
}

pub(crate) fn parse_blob<T: serde::de::DeserializeOwned>(
    store: &Store,
    what: &'static str,
    digest: &Digest,
) -> Result<T> {
    let bytes = store.read_blob(digest)?;
    serde_json::from_slice(&bytes).map_err(|source| Error::ParseBlob {
        what,
        digest: digest.to_string(),
        source,
    })
}

/// The manifest an index selects for this host (linux and this
/// architecture), or its only manifest.
pub(crate) fn select_platform(index: &ImageIndex, digest: &str) -> Result<Descriptor> {
    let host = Arch::default();
    let manifests = index.manifests();
    let found = manifests.iter().find(|d| {
        d.platform()
            .as_ref()
            .is_some_and(|p| p.architecture() == &host && p.os().to_string() == "linux")
    });
    match (found, manifests.len()) {
        (Some(d), _) => Ok(d.clone()),
        (None, 1) => Ok(manifests[0].clone()),
        _ => Err(Error::NoPlatform {
            digest: digest.to_owned(),
            arch: host.to_string(),
        }),
    }
}

/// Reads the image a descriptor of index.json points at.
pub(crate) fn read_image(store: &Store, name: Option<String>, top: &Descriptor) -> Result<Image> {
    let mut descriptor = top.clone();
    for _ in 0..4 {
        let digest = Digest::try_from(descriptor.digest())?;
        if is_index(descriptor.media_type()) {
            let index: ImageIndex = parse_blob(store, "image index", &digest)?;
            descriptor = select_platform(&index, &digest.to_string())?;
            continue;
        }
        if !is_manifest(descriptor.media_type()) {
            return Err(Error::UnsupportedMediaType {
                digest: digest.to_string(),
                media_type: descriptor.media_type().to_string(),
            });
        }
        let manifest: ImageManifest = parse_blob(store, "image manifest", &digest)?;
        let id = Digest::try_from(manifest.config().digest())?;
        let config = parse_blob(store, "image config", &id)?;
        return Ok(Image {
            name,
            descriptor: top.clone(),
            manifest_digest: digest,
            manifest,
            id,
            config,
        });
    }
    Err(Error::UnsupportedMediaType {
        digest: top.digest().to_string(),
        media_type: "image index nested too deeply".to_owned(),
    })
}

/// Every named image, newest first.
pub fn images(store: &Store) -> Result<Vec<Image>> {
    let mut out = Vec::new();
    for entry in store.list_images()? {
        if entry.name.is_some() {
            out.push(read_image(store, entry.name, &entry.descriptor)?);
        }
    }
    out.sort_by(|a, b| b.created().cmp(&a.created()).then(a.name.cmp(&b.name)));
    Ok(out)
}

/// `sha256:<hex prefix>` or `<hex prefix>` (at least 1 digit), else `None`.
fn id_prefix(text: &str) -> Option<&str> {
    let hex = text.strip_prefix("sha256:").unwrap_or(text);
    let ok = !hex.is_empty()
        && hex.len() <= 64
        && hex
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    ok.then_some(hex)
}

/// Every named image whose ID starts with `prefix`.
fn by_id(store: &Store, prefix: &str) -> Result<Vec<Image>> {
    let all = images(store)?;
    Ok(all
        .into_iter()
        .filter(|i| i.id.hex().starts_with(prefix))
        .collect())
}

/// Finds an image by name (normalized) or by ID prefix, as docker does:
/// a name wins over an ID prefix.
pub fn find_image(store: &Store, name_or_id: &str) -> Result<Image> {
    if let Ok(r) = name_or_id.parse::<ImageRef>() {
        let full = r.to_string();
        if let Some(d) = store.resolve(&full)? {
            return read_image(store, Some(full), &d);
        }
    }
    if let Some(prefix) = id_prefix(name_or_id) {
        let found = by_id(store, prefix)?;
        let ids: std::collections::BTreeSet<_> = found.iter().map(|i| &i.id).collect();
        match ids.len() {
            0 => {}
            1 => return Ok(found.into_iter().next().expect("one match")),
            count => {
                return Err(Error::AmbiguousImage {
                    prefix: name_or_id.to_owned(),
                    count,
                })
            }
        }
    }
    Err(Error::ImageNotFound {
        name: name_or_id.to_owned(),
    })
}

/// A descriptor fit to be stored under a new name: what it points at,
/// without the names of the archive or entry it came from.
pub(crate) fn bare(descriptor: &Descriptor) -> Descriptor {
    let mut d = Descriptor::new(
        descriptor.media_type().clone(),
        descriptor.size(),
        descriptor.digest().clone(),
    );
    d.set_platform(descriptor.platform().clone());
    d
}

/// Gives the image `source` (name or ID) the name `target`.
pub fn tag(store: &Store, source: &str, target: &ImageRef) -> Result<Image> {
    let image = find_image(store, source)?;
    store.tag(&target.to_string(), &bare(&image.descriptor))?;
    Ok(image)
}

/// What [`rmi`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Removed {
    /// The names removed, in full form.
    pub untagged: Vec<String>,
    /// The image ID, when no name points at the image any more (its
    /// content goes at the next prune).
    pub deleted: Option<Digest>,
}

/// Removes a name, or with an ID every name of that image (several only
/// with `force`, as `docker rmi -f`).
pub fn rmi(store: &Store, name_or_id: &str, force: bool) -> Result<Removed> {
    let image = find_image(store, name_or_id)?;
    let by_name = name_or_id
        .parse::<ImageRef>()
        .is_ok_and(|r| Some(r.to_string()) == image.name);
    let names: Vec<String> = if by_name {
        image.name.iter().cloned().collect()
    } else {
        let names: Vec<String> = by_id(store, image.id.hex())?
            .into_iter()
            .filter_map(|i| i.name)
            .collect();
        if names.len() > 1 && !force {
            return Err(Error::ImageInUse {
                id: image.id.hex()[..12].to_owned(),
                names,
            });
        }
        names
    };
    let id = image.id.to_string();
    let last_name = by_id(store, image.id.hex())?.len() <= names.len();
    if !force && last_name {
        // As docker: a container's image keeps its last name unless forced.
        if let Some(container) = crate::containers::image_users(store, &id)?.first() {
            return Err(Error::ImageUsedByContainer {
                reference: name_or_id.to_owned(),
                container: container[..12.min(container.len())].to_owned(),
                id: image.id.hex()[..12].to_owned(),
            });
        }
    }
    for name in &names {
        store.untag(name)?;
    }
    let left = by_id(store, image.id.hex())?;
    Ok(Removed {
        untagged: names,
        deleted: left.is_empty().then_some(image.id),
    })
}

/// The important parts of an image as `docker inspect` shows them.
pub fn inspect(store: &Store, name_or_id: &str) -> Result<Value> {
    let image = find_image(store, name_or_id)?;
    let same_id = by_id(store, image.id.hex())?;
    let repo_digests = crate::registry::repo_digests(&same_id);
    let names: Vec<String> = same_id
        .into_iter()
        .filter_map(|i| i.name)
        .map(|n| n.parse::<ImageRef>().map(|r| r.familiar()).unwrap_or(n))
        .collect();
    let c = &image.config;
    let layers: Vec<Value> = c["rootfs"]["diff_ids"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let mut out = json!({
        "Id": image.id.to_string(),
        "RepoTags": names,
        "RepoDigests": repo_digests,
        "Created": c["created"],
        "Author": c.get("author").cloned().unwrap_or(json!("")),
        "Config": c.get("config").cloned().unwrap_or(json!({})),
        "Architecture": c["architecture"],
        "Os": c["os"],
        "Size": image.size(),
        "RootFS": { "Type": "layers", "Layers": layers },
        "History": c.get("history").cloned().unwrap_or(json!([])),
        "Descriptor": {
            "mediaType": image.descriptor.media_type().to_string(),
            "digest": image.descriptor.digest().to_string(),
            "size": image.descriptor.size(),
        },
        "Manifest": {
            "digest": image.manifest_digest.to_string(),
            "layers": image.manifest.layers().iter().map(|l| json!({
                "mediaType": l.media_type().to_string(),
                "digest": l.digest().to_string(),
                "size": l.size(),
            })).collect::<Vec<_>>(),
        },
    });
    if let Some(variant) = c.get("variant") {
        out["Variant"] = variant.clone();
    }
    Ok(out)
}

#[cfg(test)]
mod tests;

/// Removes everything no image name or live operation references.
pub fn prune(store: &Store) -> Result<PruneReport> {
    // Containers (also stopped ones) keep what they run on: their image's
    // config and unpacked snapshots, protected by a lease held over the
    // prune. Tagged images are kept anyway; an untagged one (`rmi -f`) loses
    // its manifest and layer blobs, as the container needs only snapshots.
    let lease = store.lease()?;
    for id in crate::containers::images_in_use(store)? {
        let Ok(id) = id.parse::<Digest>() else {
            continue;
        };
        let Ok(config) = store.read_blob(&id) else {
            continue;
        };
        lease.protect_blob(&id)?;
        let config: Value = serde_json::from_slice(&config).unwrap_or_default();
        let diff_ids: Vec<Digest> = config["rootfs"]["diff_ids"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|d| d.as_str()?.parse().ok())
            .collect();
        for chain in rdock_cache::chain_ids(&diff_ids) {
            lease.protect_snapshot(&chain)?;
        }
    }
    let report = store.prune()?;
    drop(lease);
    Ok(report)
}

/// Checks the whole store; problems are returned, not errors.
pub fn verify(store: &Store) -> Result<VerifyReport> {
    Ok(store.verify()?)
}
