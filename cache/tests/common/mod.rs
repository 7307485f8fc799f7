//! Helpers shared by the store's integration tests: temporary stores, a
//! hand-made tar layer, and a small but complete test image.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rdock_cache::oci_spec::image::{
    Arch, Descriptor, ImageConfigurationBuilder, ImageIndexBuilder, ImageManifestBuilder,
    MediaType, Os, RootFsBuilder,
};
use rdock_cache::{chain_ids, ChainId, Digest, Lease, Store};

/// A store in a fresh temporary folder (removed when the guard drops).
pub fn temp_store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(dir.path().join("root")).expect("open store");
    (dir, store)
}

/// Files directly in `dir` (empty if missing), sorted.
pub fn files_in(dir: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = match std::fs::read_dir(dir) {
        Ok(entries) => entries.map(|e| e.unwrap().path()).collect(),
        Err(_) => Vec::new(),
    };
    out.sort();
    out
}

/// A ustar archive holding one regular file.
pub fn tar_with_file(name: &str, content: &[u8]) -> Vec<u8> {
    let mut header = [0u8; 512];
    header[..name.len()].copy_from_slice(name.as_bytes());
    header[100..108].copy_from_slice(b"0000644\0");
    header[108..116].copy_from_slice(b"0000000\0");
    header[116..124].copy_from_slice(b"0000000\0");
    header[124..136].copy_from_slice(format!("{:011o}\0", content.len()).as_bytes());
    header[136..148].copy_from_slice(b"00000000000\0");
    header[156] = b'0';
    header[257..263].copy_from_slice(b"ustar\0");
    header[263..265].copy_from_slice(b"00");
    header[148..156].copy_from_slice(b"        ");
    let sum: u32 = header.iter().map(|&b| u32::from(b)).sum();
    header[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
    let mut out = header.to_vec();
    out.extend_from_slice(content);
    out.resize(out.len().div_ceil(512) * 512, 0);
    out.resize(out.len() + 1024, 0);
    out
}

/// JSON with sorted keys, so the same value always gives the same digest.
pub fn canonical_json<T: serde::Serialize>(value: &T) -> Vec<u8> {
    serde_json::to_vec(&serde_json::to_value(value).unwrap()).unwrap()
}

/// A stored image: manifest, config and uncompressed tar layers.
#[derive(Debug, Clone)]
pub struct TestImage {
    pub manifest: Descriptor,
    pub config: Descriptor,
    pub layers: Vec<Descriptor>,
    pub diff_ids: Vec<Digest>,
    pub chain_ids: Vec<ChainId>,
}

impl TestImage {
    /// Every blob of the image.
    pub fn blobs(&self) -> Vec<Digest> {
        let mut out = vec![digest_of(&self.manifest), digest_of(&self.config)];
        out.extend(self.layers.iter().map(digest_of));
        out
    }
}

pub fn digest_of(d: &Descriptor) -> Digest {
    Digest::try_from(d.digest()).unwrap()
}

pub fn descriptor(media_type: MediaType, digest: &Digest, size: u64) -> Descriptor {
    Descriptor::new(media_type, size, digest.to_oci())
}

/// Writes an image with `layers` one-file layers whose contents derive from
/// `seed`, all under `lease`. Deterministic: the same seed, the same digests.
pub fn write_image(store: &Store, lease: &Lease, seed: &str, layers: usize) -> TestImage {
    let mut layer_descs = Vec::new();
    let mut diff_ids = Vec::new();
    for i in 0..layers {
        let tar = tar_with_file(
            &format!("file{i}.txt"),
            format!("{seed} layer {i}\n").as_bytes(),
        );
        let info = store.write_blob(lease, &tar).unwrap();
        diff_ids.push(info.digest.clone());
        layer_descs.push(descriptor(MediaType::ImageLayer, &info.digest, info.size));
    }
    let rootfs = RootFsBuilder::default()
        .typ("layers")
        .diff_ids(diff_ids.iter().map(ToString::to_string).collect::<Vec<_>>())
        .build()
        .unwrap();
    let config = ImageConfigurationBuilder::default()
        .architecture(Arch::Amd64)
        .os(Os::Linux)
        .rootfs(rootfs)
        .build()
        .unwrap();
    let config_info = store.write_blob(lease, &canonical_json(&config)).unwrap();
    let config_desc = descriptor(
        MediaType::ImageConfig,
        &config_info.digest,
        config_info.size,
    );
    let manifest = ImageManifestBuilder::default()
        .schema_version(2u32)
        .media_type(MediaType::ImageManifest)
        .config(config_desc.clone())
        .layers(layer_descs.clone())
        .build()
        .unwrap();
    let manifest_info = store.write_blob(lease, &canonical_json(&manifest)).unwrap();
    TestImage {
        manifest: descriptor(
            MediaType::ImageManifest,
            &manifest_info.digest,
            manifest_info.size,
        ),
        config: config_desc,
        layers: layer_descs,
        chain_ids: chain_ids(&diff_ids),
        diff_ids,
    }
}

/// Writes an image index over `manifests`; returns its descriptor.
pub fn write_index(store: &Store, lease: &Lease, manifests: &[Descriptor]) -> Descriptor {
    let index = ImageIndexBuilder::default()
        .schema_version(2u32)
        .media_type(MediaType::ImageIndex)
        .manifests(manifests.to_vec())
        .build()
        .unwrap();
    let info = store.write_blob(lease, &canonical_json(&index)).unwrap();
    descriptor(MediaType::ImageIndex, &info.digest, info.size)
}

/// Polls `cond` every 10 ms for up to 30 s.
pub fn wait_for(what: &str, mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "timed out waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}
