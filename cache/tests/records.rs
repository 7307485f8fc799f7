//! Build-cache records: key to produced layer, stored as JSON files.

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use common::{descriptor, temp_store, write_image};
use rdock_cache::oci_spec::image::MediaType;
use rdock_cache::{CacheKey, CacheRecord, Digest, Error};

fn record_for(image: &common::TestImage) -> CacheRecord {
    CacheRecord {
        layer: image.layers[0].clone(),
        diff_id: image.diff_ids[0].clone(),
        chain_id: image.chain_ids[0].clone(),
        metadata: BTreeMap::from([(
            "created_by".to_owned(),
            "RUN echo hi > /file0.txt".to_owned(),
        )]),
    }
}

#[test]
fn put_get_remove_list() {
    let (_dir, store) = temp_store();
    let lease = store.lease().unwrap();
    let image = write_image(&store, &lease, "rec", 1);
    let key = CacheKey::of(b"RUN echo hi");
    assert_eq!(store.get_record(&key).unwrap(), None);
    let record = record_for(&image);
    store.put_record(&key, &record).unwrap();
    assert_eq!(store.get_record(&key).unwrap(), Some(record.clone()));
    assert_eq!(store.list_records().unwrap(), vec![key.clone()]);
    assert!(store
        .root()
        .join("cache")
        .join(format!("{}.json", key.digest().hex()))
        .is_file());
    // Replacing is allowed.
    let mut changed = record.clone();
    changed.metadata.clear();
    store.put_record(&key, &changed).unwrap();
    assert_eq!(store.get_record(&key).unwrap(), Some(changed));
    assert!(store.remove_record(&key).unwrap());
    assert!(!store.remove_record(&key).unwrap());
    assert!(store.list_records().unwrap().is_empty());
    assert!(common::files_in(&store.root().join("ingest")).is_empty());
}

#[test]
fn a_record_needs_its_layer_blob() {
    let (_dir, store) = temp_store();
    let lease = store.lease().unwrap();
    let image = write_image(&store, &lease, "rec", 1);
    let mut record = record_for(&image);
    record.layer = descriptor(MediaType::ImageLayer, &Digest::sha256(b"gone"), 4);
    assert!(matches!(
        store.put_record(&CacheKey::of(b"k"), &record),
        Err(Error::BlobNotFound { .. })
    ));
    assert!(store.list_records().unwrap().is_empty());
}

#[test]
fn record_json_matches_golden() {
    let (_dir, store) = temp_store();
    let lease = store.lease().unwrap();
    let image = write_image(&store, &lease, "golden", 2);
    let key = CacheKey::of(b"golden step");
    store.put_record(&key, &record_for(&image)).unwrap();
    let path = store
        .root()
        .join("cache")
        .join(format!("{}.json", key.digest().hex()));
    let written: serde_json::Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    let golden = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/record.json");
    if std::env::var_os("UPDATE_EXPECT").is_some() {
        std::fs::write(
            &golden,
            serde_json::to_string_pretty(&written).unwrap() + "\n",
        )
        .unwrap();
    }
    let expected: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&golden).unwrap())
            .expect("golden record.json (regenerate with UPDATE_EXPECT=1)");
    assert_eq!(written, expected);
}
