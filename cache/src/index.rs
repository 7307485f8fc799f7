//! Image names in index.json: [`Store::tag`], [`Store::resolve`],
//! [`Store::untag`] and [`Store::list_images`].
//!
//! Each name is one entry of the OCI index's `manifests`, annotated with
//! [`ANNOTATION_IMAGE_NAME`] (the full name, e.g.
//! `docker.io/library/busybox:latest`) and, when the name has a tag, the
//! standard `org.opencontainers.image.ref.name` (the tag, e.g. `latest`), so
//! `skopeo` and other OCI tools find it as `oci:<root>:<tag>`. Names are
//! opaque strings here; normalizing references is another crate's job.
//!
//! index.json is replaced whole (temp file, fsync, rename, fsync) under the
//! index lock, so readers need no lock and always see a complete file.

use std::fs;
use std::path::PathBuf;

use oci_spec::image::{Descriptor, ImageIndex, MediaType, ANNOTATION_REF_NAME};

use crate::digest::Digest;
use crate::error::{Error, Result};
use crate::fsutil::{self, LockMode};
use crate::store::{Store, INDEX_FILE};

/// Annotation holding rdock's full image name on an index.json entry.
pub const ANNOTATION_IMAGE_NAME: &str = "io.rdock.image.name";

/// One entry of index.json.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImageEntry {
    /// The rdock name, else the OCI `ref.name`, else `None` (an untagged
    /// entry, e.g. from an imported layout; still kept by prune).
    pub name: Option<String>,
    /// The manifest or index descriptor, annotations included.
    pub descriptor: Descriptor,
}

/// The tag part of an image name, used as the OCI `ref.name`: the text after
/// the last `:` of the last path component, or `None` for digest references
/// and untagged names.
pub fn ref_name_of(name: &str) -> Option<&str> {
    if name.contains('@') {
        return None;
    }
    let last = name.rsplit('/').next().unwrap_or(name);
    last.rsplit_once(':')
        .map(|(_, tag)| tag)
        .filter(|t| !t.is_empty())
}

fn validate_name(name: &str) -> Result<()> {
    let invalid = |reason| {
        Err(Error::InvalidImageName {
            name: name.to_owned(),
            reason,
        })
    };
    if name.is_empty() {
        return invalid("empty");
    }
    if name.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return invalid("contains whitespace or control characters");
    }
    Ok(())
}

fn entry_name(descriptor: &Descriptor) -> Option<&str> {
    let annotations = descriptor.annotations().as_ref()?;
    annotations
        .get(ANNOTATION_IMAGE_NAME)
        .or_else(|| annotations.get(ANNOTATION_REF_NAME))
        .map(String::as_str)
}

fn empty_index() -> ImageIndex {
    let mut index = ImageIndex::default();
    index.set_media_type(Some(MediaType::ImageIndex));
    index.set_manifests(Vec::new());
    index
}

impl Store {
    fn index_path(&self) -> PathBuf {
        self.root().join(INDEX_FILE)
    }

    /// Reads and parses index.json.
    pub fn read_index(&self) -> Result<ImageIndex> {
        let path = self.index_path();
        let bytes = fs::read(&path).map_err(|source| Error::ReadIndex {
            path: path.clone(),
            source,
        })?;
        serde_json::from_slice(&bytes).map_err(|source| Error::ParseIndex { path, source })
    }

    /// Replaces index.json. The caller holds the gc lock shared and the
    /// index lock.
    fn write_index(&self, index: &ImageIndex) -> Result<()> {
        let path = self.index_path();
        // Through a Value so annotation maps are written in sorted order.
        let bytes = serde_json::to_value(index)
            .and_then(|v| serde_json::to_vec(&v))
            .expect("an image index serializes");
        fsutil::write_atomic(&self.ingest_dir(), &path, &bytes)
            .map_err(|source| Error::WriteIndex { path, source })
    }

    /// Creates an empty index.json unless one exists.
    pub(crate) fn ensure_index(&self) -> Result<()> {
        if self.index_path().exists() {
            return Ok(());
        }
        let _gc = self.lock_gc(LockMode::Shared)?;
        let _index = self.lock_index()?;
        if self.index_path().exists() {
            return Ok(());
        }
        self.write_index(&empty_index())
    }

    /// Reads index.json, applies `change`, writes it back, all under the
    /// index lock (and the gc lock shared, so prune sees before or after).
    fn update_index<T>(&self, change: impl FnOnce(&mut ImageIndex) -> Result<T>) -> Result<T> {
        let _gc = self.lock_gc(LockMode::Shared)?;
        let _index = self.lock_index()?;
        let mut index = self.read_index()?;
        let out = change(&mut index)?;
        self.write_index(&index)?;
        Ok(out)
    }

    /// Points `name` at `descriptor` (a manifest or index already stored),
    /// replacing what the name pointed at before.
    pub fn tag(&self, name: &str, descriptor: &Descriptor) -> Result<()> {
        validate_name(name)?;
        let digest = Digest::try_from(descriptor.digest())?;
        self.update_index(|index| {
            // Checked under the gc lock: prune cannot remove it before the
            // new index.json references it.
            let size = self.blob_size(&digest)?;
            if size != descriptor.size() {
                return Err(Error::SizeMismatch {
                    digest: digest.clone(),
                    expected: descriptor.size(),
                    actual: size,
                });
            }
            let mut entry = descriptor.clone();
            let mut annotations = entry.annotations().clone().unwrap_or_default();
            annotations.insert(ANNOTATION_IMAGE_NAME.to_owned(), name.to_owned());
            match ref_name_of(name) {
                Some(tag) => annotations.insert(ANNOTATION_REF_NAME.to_owned(), tag.to_owned()),
                None => annotations.remove(ANNOTATION_REF_NAME),
            };
            entry.set_annotations(Some(annotations));
            // Replace the name's entry in place (keeping file order), drop
            // any duplicates, or append.
            let mut entry = Some(entry);
            let mut manifests = Vec::with_capacity(index.manifests().len() + 1);
            for d in index.manifests().iter() {
                if entry_name(d) != Some(name) {
                    manifests.push(d.clone());
                } else if let Some(e) = entry.take() {
                    manifests.push(e);
                }
            }
            manifests.extend(entry);
            index.set_manifests(manifests);
            Ok(())
        })
    }

    /// The descriptor `name` points at, if any.
    pub fn resolve(&self, name: &str) -> Result<Option<Descriptor>> {
        let index = self.read_index()?;
        Ok(index
            .manifests()
            .iter()
            .find(|d| entry_name(d) == Some(name))
            .cloned())
    }

    /// Removes `name` from index.json and returns what it pointed at. The
    /// content stays until the next prune.
    pub fn untag(&self, name: &str) -> Result<Descriptor> {
        self.update_index(|index| {
            let mut manifests = index.manifests().clone();
            let i = manifests
                .iter()
                .position(|d| entry_name(d) == Some(name))
                .ok_or_else(|| Error::ImageNotFound {
                    name: name.to_owned(),
                })?;
            let removed = manifests.remove(i);
            index.set_manifests(manifests);
            Ok(removed)
        })
    }

    /// Every entry of index.json, in file order.
    pub fn list_images(&self) -> Result<Vec<ImageEntry>> {
        let index = self.read_index()?;
        Ok(index
            .manifests()
            .iter()
            .map(|d| ImageEntry {
                name: entry_name(d).map(str::to_owned),
                descriptor: d.clone(),
            })
            .collect())
    }
}
