//! Multi-platform images: a stored index pushed whole, and `--platform`
//! against a single-platform image.

use super::*;

/// Writes an image of `arch` (one layer) into `store`; returns the
/// manifest's descriptor with its platform.
fn stored_image(store: &Store, lease: &rdock_cache::Lease, arch: &str) -> serde_json::Value {
    let (l, d) = layer(arch, arch.as_bytes());
    let config = serde_json::to_vec(&json!({
        "architecture": arch,
        "os": "linux",
        "rootfs": {"type": "layers", "diff_ids": [d.to_string()]},
        "config": {},
    }))
    .unwrap();
    let desc = |bytes: &[u8], t: &str| json!({"mediaType": t, "digest": Digest::sha256(bytes).to_string(), "size": bytes.len()});
    let manifest = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": desc(&config, "application/vnd.oci.image.config.v1+json"),
        "layers": [desc(&l, "application/vnd.oci.image.layer.v1.tar+gzip")],
    }))
    .unwrap();
    for b in [&l, &config, &manifest] {
        store.write_blob(lease, b).unwrap();
    }
    let mut entry = desc(&manifest, "application/vnd.oci.image.manifest.v1+json");
    entry["platform"] = json!({"os": "linux", "architecture": arch});
    entry
}

#[test]
fn a_stored_index_is_pushed_whole_under_its_own_digest() {
    let (_dir, store) = store();
    let lease = store.lease().unwrap();
    let amd64 = stored_image(&store, &lease, "amd64");
    let arm64 = stored_image(&store, &lease, "arm64");
    let index = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [amd64, arm64],
    }))
    .unwrap();
    let stored = store.write_blob(&lease, &index).unwrap();
    let name: ImageRef = "localhost:5000/multi:1".parse().unwrap();
    let top = Descriptor::new(MediaType::ImageIndex, stored.size, stored.digest.to_oci());
    store.tag(&name.to_string(), &top).unwrap();
    drop(lease);

    let target = FakeRemote::default();
    let seen = Mutex::new(Vec::new());
    let pushed = push_to(&store, &target, &name, &PushOptions::default(), &|e| {
        seen.lock().unwrap().push(e)
    })
    .unwrap();
    assert_eq!(pushed.digest, stored.digest);
    assert_eq!(pushed.size, index.len() as u64);
    // Both platforms' layers and configs, then both manifests by digest,
    // then the index under the tag.
    assert_eq!(target.count("put sha256:"), 4);
    let calls = target.calls.lock().unwrap().clone();
    let manifests: Vec<&String> = calls
        .iter()
        .filter(|c| c.starts_with("put-manifest"))
        .collect();
    assert_eq!(
        manifests,
        [
            &format!("put-manifest {}", amd64["digest"].as_str().unwrap()),
            &format!("put-manifest {}", arm64["digest"].as_str().unwrap()),
            &"put-manifest 1".to_owned(),
        ]
    );
    let served = target.manifests.lock().unwrap()["1"].clone();
    assert_eq!(served.bytes, index);
    assert_eq!(served.media_type, MediaType::ImageIndex.to_string());
    // Docker shows layers only.
    let waiting = seen
        .lock()
        .unwrap()
        .iter()
        .filter(|e| matches!(e, TransferEvent::Waiting { .. }))
        .count();
    assert_eq!(waiting, 2);
    let entry = store.resolve(&name.to_string()).unwrap().unwrap();
    assert_eq!(entry.media_type(), &MediaType::ImageIndex);
    assert_eq!(
        entry.annotations().as_ref().unwrap()[ANNOTATION_REPO_DIGEST],
        format!("localhost:5000/multi@{}", stored.digest)
    );

    // Pulled back for each platform: the index's choice.
    for arch in ["amd64", "arm64"] {
        let (_d, fresh) = super::store();
        let opts = PullOptions {
            platform: Some(format!("linux/{arch}").parse().unwrap()),
            skip_unpack: true,
            ..PullOptions::default()
        };
        let pulled = pull_from(&fresh, &target, &name, &opts, &|_| {}).unwrap();
        assert_eq!(pulled.digest, stored.digest);
        let image = crate::images::find_image(&fresh, "localhost:5000/multi:1").unwrap();
        assert_eq!(image.config["architecture"], arch);
    }
}

#[test]
fn platform_of_a_single_platform_image_must_match() {
    let remote = FakeRemote::default();
    publish(&remote, "1", false);
    let (_dir, store) = store();
    let host = Platform::host();
    let other = if host.architecture() == "arm64" {
        "linux/amd64"
    } else {
        "linux/arm64"
    };
    let name: ImageRef = "localhost:5000/app:1".parse().unwrap();
    let opts = PullOptions {
        platform: Some(other.parse().unwrap()),
        ..PullOptions::default()
    };
    let err = pull_from(&store, &remote, &name, &opts, &|_| {}).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "image with reference localhost:5000/app:1 was found but does not match the \
             specified platform: wanted {other}, actual: {host}"
        )
    );
    assert!(store.list_images().unwrap().is_empty());
    assert_eq!(remote.count("blob "), 1, "only the config is fetched");

    // The host's own platform, asked for by name, is fine.
    let opts = PullOptions {
        platform: Some(host),
        ..PullOptions::default()
    };
    pull_from(&store, &remote, &name, &opts, &|_| {}).unwrap();
}
