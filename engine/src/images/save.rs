//! [`save`]: images as one OCI-layout tar (`oci-layout`, `index.json`,
//! `blobs/sha256/...`), readable by `skopeo` as `oci-archive:FILE` and by
//! [`super::load`]. Each index.json entry carries the full name in
//! `io.containerd.image.name` and the tag in
//! `org.opencontainers.image.ref.name`, as `docker save` writes them. When
//! every layer is an uncompressed tar, a docker-archive `manifest.json` is
//! added too, so `docker load` reads the same file.
//!
//! The tar is deterministic: sorted entries, mtime 0, owner 0.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::{self, Write};

use rdock_cache::oci_spec::image::{ImageIndexBuilder, MediaType, ANNOTATION_REF_NAME};
use rdock_cache::{Digest, Store};
use rdock_registry_client::ImageRef;
use serde_json::json;

use super::load::ANNOTATION_CONTAINERD_NAME;
use super::{bare, find_image, is_index, is_plain_layer, Image};
use crate::error::{Error, Result};

fn header(size: u64, mode: u32, kind: tar::EntryType) -> tar::Header {
    let mut h = tar::Header::new_ustar();
    h.set_size(size);
    h.set_mode(mode);
    h.set_mtime(0);
    h.set_uid(0);
    h.set_gid(0);
    h.set_entry_type(kind);
    h
}

fn add_bytes<W: Write>(out: &mut tar::Builder<W>, path: &str, bytes: &[u8]) -> Result<()> {
    let mut h = header(bytes.len() as u64, 0o644, tar::EntryType::Regular);
    out.append_data(&mut h, path, bytes)
        .map_err(|source| Error::WriteArchive { source })
}

/// Writes the images named by `names` (names or IDs) to `writer`.
pub fn save(store: &Store, names: &[String], writer: impl Write) -> Result<Vec<Image>> {
    let images = names
        .iter()
        .map(|name| find_image(store, name))
        .collect::<Result<Vec<_>>>()?;
    write_archive(store, images, false, writer)
}

/// Writes `images` as one OCI-layout tar; with `docker_manifest` the
/// docker-archive `manifest.json` is added even when layers are
/// compressed (`docker load` and `podman load` read those too).
pub(crate) fn write_archive(
    store: &Store,
    images: Vec<Image>,
    docker_manifest: bool,
    writer: impl Write,
) -> Result<Vec<Image>> {
    let mut blobs = BTreeSet::new();
    for image in &images {
        let top = Digest::try_from(image.descriptor.digest())?;
        blobs.insert(top.clone());
        if is_index(image.descriptor.media_type()) {
            // Every platform the store holds; absent ones stay absent.
            let index: rdock_cache::oci_spec::image::ImageIndex =
                serde_json::from_slice(&store.read_blob(&top)?).map_err(|source| {
                    Error::ParseBlob {
                        what: "image index",
                        digest: top.to_string(),
                        source,
                    }
                })?;
            for child in index.manifests() {
                let digest = Digest::try_from(child.digest())?;
                if store.has_blob(&digest) {
                    let child_image = super::read_image(store, None, child)?;
                    add_image_blobs(&child_image, &mut blobs)?;
                }
            }
        }
        add_image_blobs(image, &mut blobs)?;
    }

    let mut entries = Vec::new();
    let mut docker = Vec::new();
    for image in &images {
        let mut d = bare(&image.descriptor);
        let mut annotations = HashMap::new();
        let named = image
            .name
            .as_deref()
            .and_then(|n| n.parse::<ImageRef>().ok());
        if let Some(r) = &named {
            annotations.insert(ANNOTATION_CONTAINERD_NAME.to_owned(), r.to_string());
            if let Some(tag) = r.tag() {
                annotations.insert(ANNOTATION_REF_NAME.to_owned(), tag.to_owned());
            }
            d.set_annotations(Some(annotations));
        }
        entries.push(d);
        docker.push(json!({
            "Config": format!("blobs/sha256/{}", image.id.hex()),
            "RepoTags": named.iter().map(ImageRef::familiar).collect::<Vec<_>>(),
            "Layers": image.manifest.layers().iter()
                .map(|l| format!("blobs/sha256/{}", l.digest().digest()))
                .collect::<Vec<_>>(),
        }));
    }
    let index = ImageIndexBuilder::default()
        .schema_version(2u32)
        .media_type(MediaType::ImageIndex)
        .manifests(entries)
        .build()?;
    let plain = docker_manifest
        || images.iter().all(|i| {
            i.manifest
                .layers()
                .iter()
                .all(|l| is_plain_layer(l.media_type()))
                && i.id.algorithm() == rdock_cache::Algorithm::Sha256
        });

    let mut out = tar::Builder::new(writer);
    let write_err = |source| Error::WriteArchive { source };
    add_bytes(
        &mut out,
        "oci-layout",
        b"{\"imageLayoutVersion\":\"1.0.0\"}",
    )?;
    let mut dirs = BTreeMap::new();
    for d in &blobs {
        dirs.entry(d.algorithm().to_string())
            .or_insert_with(Vec::new)
            .push(d);
    }
    let mut h = header(0, 0o755, tar::EntryType::Directory);
    out.append_data(&mut h, "blobs/", io::empty())
        .map_err(write_err)?;
    for (alg, digests) in dirs {
        let mut h = header(0, 0o755, tar::EntryType::Directory);
        out.append_data(&mut h, format!("blobs/{alg}/"), io::empty())
            .map_err(write_err)?;
        for d in digests {
            let size = store.blob_size(d)?;
            let file = store.open_blob(d)?;
            let mut h = header(size, 0o444, tar::EntryType::Regular);
            out.append_data(&mut h, format!("blobs/{alg}/{}", d.hex()), file)
                .map_err(write_err)?;
        }
    }
    let index_bytes = serde_json::to_value(&index)
        .and_then(|v| serde_json::to_vec(&v))
        .expect("an index serializes");
    add_bytes(&mut out, "index.json", &index_bytes)?;
    if plain {
        let manifest = serde_json::to_vec(&docker).expect("manifest.json serializes");
        add_bytes(&mut out, "manifest.json", &manifest)?;
    }
    out.into_inner()
        .and_then(|mut w| w.flush())
        .map_err(write_err)?;
    Ok(images)
}

fn add_image_blobs(image: &Image, blobs: &mut BTreeSet<Digest>) -> Result<()> {
    blobs.insert(image.manifest_digest.clone());
    blobs.insert(image.id.clone());
    for layer in image.manifest.layers() {
        blobs.insert(Digest::try_from(layer.digest())?);
    }
    Ok(())
}
