//! Image names in index.json, and the layout checked against the OCI image
//! layout spec (plus a golden index.json).

mod common;

use std::collections::BTreeSet;
use std::path::Path;

use common::{descriptor, digest_of, temp_store, write_image};
use rdock_cache::oci_spec::image::{MediaType, ANNOTATION_REF_NAME};
use rdock_cache::{Digest, Error, Store, ANNOTATION_IMAGE_NAME};
use serde_json::Value;

const BUSYBOX: &str = "docker.io/library/busybox:latest";

fn annotation(d: &rdock_cache::oci_spec::image::Descriptor, key: &str) -> Option<String> {
    d.annotations().as_ref()?.get(key).cloned()
}

#[test]
fn tag_resolve_untag_round_trip() {
    let (_dir, store) = temp_store();
    let lease = store.lease().unwrap();
    let image = write_image(&store, &lease, "one", 2);
    assert_eq!(store.resolve(BUSYBOX).unwrap(), None);
    store.tag(BUSYBOX, &image.manifest).unwrap();
    let got = store.resolve(BUSYBOX).unwrap().expect("tagged");
    assert_eq!(got.digest(), image.manifest.digest());
    assert_eq!(got.size(), image.manifest.size());
    assert_eq!(got.media_type(), &MediaType::ImageManifest);
    assert_eq!(
        annotation(&got, ANNOTATION_IMAGE_NAME).as_deref(),
        Some(BUSYBOX)
    );
    assert_eq!(
        annotation(&got, ANNOTATION_REF_NAME).as_deref(),
        Some("latest")
    );

    let images = store.list_images().unwrap();
    assert_eq!(images.len(), 1);
    assert_eq!(images[0].name.as_deref(), Some(BUSYBOX));

    let removed = store.untag(BUSYBOX).unwrap();
    assert_eq!(removed.digest(), image.manifest.digest());
    assert_eq!(store.resolve(BUSYBOX).unwrap(), None);
    assert!(store.list_images().unwrap().is_empty());
    // The content stays until prune.
    assert!(store.has_blob(&digest_of(&image.manifest)));
    match store.untag(BUSYBOX) {
        Err(Error::ImageNotFound { name }) => assert_eq!(name, BUSYBOX),
        other => panic!("{other:?}"),
    }
}

#[test]
fn retagging_replaces_in_place_and_names_stay_distinct() {
    let (_dir, store) = temp_store();
    let lease = store.lease().unwrap();
    let one = write_image(&store, &lease, "one", 1);
    let two = write_image(&store, &lease, "two", 1);
    store.tag("example.com/a:1", &one.manifest).unwrap();
    store.tag("example.com/b:1", &one.manifest).unwrap();
    store.tag("example.com/a:1", &two.manifest).unwrap();
    let names: Vec<_> = store
        .list_images()
        .unwrap()
        .into_iter()
        .map(|e| (e.name.unwrap(), e.descriptor.digest().to_string()))
        .collect();
    assert_eq!(
        names,
        vec![
            (
                "example.com/a:1".to_owned(),
                two.manifest.digest().to_string()
            ),
            (
                "example.com/b:1".to_owned(),
                one.manifest.digest().to_string()
            ),
        ]
    );
    // A digest reference gets no OCI ref.name.
    let by_digest = format!("example.com/a@{}", one.manifest.digest());
    store.tag(&by_digest, &one.manifest).unwrap();
    let got = store.resolve(&by_digest).unwrap().unwrap();
    assert_eq!(annotation(&got, ANNOTATION_REF_NAME), None);
}

#[test]
fn tag_requires_the_blob_with_the_stated_size() {
    let (_dir, store) = temp_store();
    let absent = descriptor(MediaType::ImageManifest, &Digest::sha256(b"nope"), 4);
    assert!(matches!(
        store.tag("x:1", &absent),
        Err(Error::BlobNotFound { .. })
    ));
    let lease = store.lease().unwrap();
    let image = write_image(&store, &lease, "one", 1);
    let mut wrong = image.manifest.clone();
    wrong.set_size(image.manifest.size() + 1);
    assert!(matches!(
        store.tag("x:1", &wrong),
        Err(Error::SizeMismatch { .. })
    ));
    assert!(store.list_images().unwrap().is_empty());
}

#[test]
fn invalid_names_are_refused() {
    let (_dir, store) = temp_store();
    let lease = store.lease().unwrap();
    let image = write_image(&store, &lease, "one", 1);
    for name in ["", "a b", "a\nb"] {
        assert!(
            matches!(
                store.tag(name, &image.manifest),
                Err(Error::InvalidImageName { .. })
            ),
            "{name:?}"
        );
    }
}

#[test]
fn concurrent_taggers_lose_no_update() {
    let (_dir, store) = temp_store();
    let lease = store.lease().unwrap();
    let image = write_image(&store, &lease, "one", 1);
    let threads: Vec<_> = (0..8)
        .map(|t| {
            let root = store.root().to_path_buf();
            let manifest = image.manifest.clone();
            std::thread::spawn(move || {
                let store = Store::open(root).unwrap();
                for i in 0..5 {
                    store.tag(&format!("app{t}:v{i}"), &manifest).unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let names: BTreeSet<_> = store
        .list_images()
        .unwrap()
        .into_iter()
        .map(|e| e.name.unwrap())
        .collect();
    assert_eq!(names.len(), 40);
}

/// index.json and oci-layout as the OCI image-layout spec requires.
fn check_layout_against_spec(root: &Path) {
    let layout: Value =
        serde_json::from_slice(&std::fs::read(root.join("oci-layout")).unwrap()).unwrap();
    assert_eq!(layout, serde_json::json!({"imageLayoutVersion": "1.0.0"}));
    let index: Value =
        serde_json::from_slice(&std::fs::read(root.join("index.json")).unwrap()).unwrap();
    assert_eq!(index["schemaVersion"], 2);
    assert_eq!(
        index["mediaType"],
        "application/vnd.oci.image.index.v1+json"
    );
    for entry in index["manifests"]
        .as_array()
        .expect("manifests is an array")
    {
        let media_type = entry["mediaType"].as_str().unwrap();
        assert!(media_type.starts_with("application/vnd.oci.image."));
        let digest: Digest = entry["digest"].as_str().unwrap().parse().unwrap();
        let path = root.join(digest.blob_path());
        assert_eq!(
            std::fs::metadata(&path).unwrap().len(),
            entry["size"].as_u64().unwrap()
        );
        assert_eq!(Digest::sha256(&std::fs::read(&path).unwrap()), digest);
        if let Some(tag) = entry["annotations"][ANNOTATION_REF_NAME].as_str() {
            // ref ::= component ("/" component)*; component ::= alphanum (separator alphanum)*
            assert!(tag
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-._:@+/".contains(c)));
        }
    }
    for entry in std::fs::read_dir(root.join("blobs/sha256")).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_str().unwrap();
        let digest: Digest = format!("sha256:{name}").parse().unwrap();
        assert_eq!(Digest::sha256(&std::fs::read(&path).unwrap()), digest);
    }
}

#[test]
fn layout_matches_the_oci_spec_and_the_golden_index() {
    let (_dir, store) = temp_store();
    check_layout_against_spec(store.root());
    let lease = store.lease().unwrap();
    let image = write_image(&store, &lease, "golden", 2);
    store.tag(BUSYBOX, &image.manifest).unwrap();
    store.tag("localhost:5000/app", &image.manifest).unwrap();
    check_layout_against_spec(store.root());

    let written = std::fs::read_to_string(store.root().join("index.json")).unwrap();
    let golden = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/index.json");
    let written: Value = serde_json::from_str(&written).unwrap();
    if std::env::var_os("UPDATE_EXPECT").is_some() {
        let pretty = serde_json::to_string_pretty(&written).unwrap() + "\n";
        std::fs::write(&golden, pretty).unwrap();
    }
    let expected: Value = serde_json::from_str(&std::fs::read_to_string(&golden).unwrap())
        .expect("golden index.json (regenerate with UPDATE_EXPECT=1)");
    assert_eq!(written, expected);
}
