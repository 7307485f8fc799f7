//! `Store::verify`: problems are reported as values, one per inconsistency.

mod common;

use std::os::unix::fs::PermissionsExt;

use common::{digest_of, temp_store, write_image};
use rdock_cache::{Digest, Problem, Referrer};

fn make_writable(path: &std::path::Path) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o644)).unwrap();
}

#[test]
fn a_healthy_store_verifies_clean() {
    let (_dir, store) = temp_store();
    let report = store.verify().unwrap();
    assert!(report.is_ok(), "{report:?}");
    let lease = store.lease().unwrap();
    let image = write_image(&store, &lease, "ok", 3);
    store.tag("ok:1", &image.manifest).unwrap();
    let report = store.verify().unwrap();
    assert!(report.is_ok(), "{report:?}");
    assert_eq!(report.blobs_checked, 5);
    let total: u64 = image
        .blobs()
        .iter()
        .map(|d| store.blob_size(d).unwrap())
        .sum();
    assert_eq!(report.bytes_checked, total);
}

#[test]
fn a_flipped_byte_is_reported_as_corrupt() {
    let (_dir, store) = temp_store();
    let lease = store.lease().unwrap();
    let image = write_image(&store, &lease, "flip", 1);
    store.tag("flip:1", &image.manifest).unwrap();
    let layer = digest_of(&image.layers[0]);
    let path = store.blob_path(&layer);
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[600] ^= 0x01;
    make_writable(&path);
    std::fs::write(&path, &bytes).unwrap();
    let report = store.verify().unwrap();
    assert_eq!(
        report.problems,
        vec![Problem::BlobCorrupt {
            digest: layer.clone(),
            actual: Digest::sha256(&bytes),
        }]
    );
    let text = report.problems[0].to_string();
    assert!(text.starts_with(&format!("{layer}: corrupt")), "{text}");
}

#[test]
fn a_missing_blob_is_reported_with_its_referrer() {
    let (_dir, store) = temp_store();
    let lease = store.lease().unwrap();
    let image = write_image(&store, &lease, "missing", 2);
    store.tag("missing:1", &image.manifest).unwrap();
    let config = digest_of(&image.config);
    std::fs::remove_file(store.blob_path(&config)).unwrap();
    let report = store.verify().unwrap();
    assert_eq!(
        report.problems,
        vec![Problem::BlobMissing {
            digest: config.clone(),
            referrer: Referrer::Blob(digest_of(&image.manifest)),
        }]
    );
    // A missing manifest is reported against index.json.
    std::fs::remove_file(store.blob_path(&digest_of(&image.manifest))).unwrap();
    let report = store.verify().unwrap();
    assert_eq!(
        report.problems,
        vec![Problem::BlobMissing {
            digest: digest_of(&image.manifest),
            referrer: Referrer::Index,
        }]
    );
    assert_eq!(
        report.problems[0].to_string(),
        format!(
            "{}: missing (referenced by index.json)",
            image.manifest.digest()
        )
    );
}

#[test]
fn truncation_is_reported_as_size_mismatch_and_corruption() {
    let (_dir, store) = temp_store();
    let lease = store.lease().unwrap();
    let image = write_image(&store, &lease, "trunc", 1);
    store.tag("trunc:1", &image.manifest).unwrap();
    let layer = digest_of(&image.layers[0]);
    let path = store.blob_path(&layer);
    make_writable(&path);
    let bytes = std::fs::read(&path).unwrap();
    std::fs::write(&path, &bytes[..100]).unwrap();
    let report = store.verify().unwrap();
    assert_eq!(
        report.problems,
        vec![
            Problem::SizeMismatch {
                digest: layer.clone(),
                referrer: Referrer::Blob(digest_of(&image.manifest)),
                expected: bytes.len() as u64,
                actual: 100,
            },
            Problem::BlobCorrupt {
                digest: layer,
                actual: Digest::sha256(&bytes[..100]),
            },
        ]
    );
}

#[test]
fn broken_index_marker_strays_and_records_are_reported() {
    let (_dir, store) = temp_store();
    let root = store.root();
    std::fs::write(root.join("index.json"), b"{").unwrap();
    std::fs::write(root.join("oci-layout"), b"{}").unwrap();
    std::fs::write(root.join("blobs/sha256/not-a-digest"), b"?").unwrap();
    let bad_record = root
        .join("cache")
        .join(format!("{}.json", Digest::sha256(b"k").hex()));
    std::fs::write(&bad_record, b"[]").unwrap();
    let report = store.verify().unwrap();
    let kinds: Vec<&str> = report
        .problems
        .iter()
        .map(|p| match p {
            Problem::LayoutMarker { .. } => "layout",
            Problem::IndexUnreadable { .. } => "index",
            Problem::StrayFile { .. } => "stray",
            Problem::RecordUnreadable { .. } => "record",
            _ => "other",
        })
        .collect();
    assert_eq!(
        kinds,
        vec!["layout", "index", "stray", "record"],
        "{report:?}"
    );
}

#[test]
fn a_manifest_that_does_not_parse_is_reported() {
    let (_dir, store) = temp_store();
    let lease = store.lease().unwrap();
    let junk = store.write_blob(&lease, b"not a manifest").unwrap();
    let desc = common::descriptor(
        rdock_cache::oci_spec::image::MediaType::ImageManifest,
        &junk.digest,
        junk.size,
    );
    store.tag("junk:1", &desc).unwrap();
    let report = store.verify().unwrap();
    match report.problems.as_slice() {
        [Problem::BlobUnparsable { digest, kind, .. }] => {
            assert_eq!(digest, &junk.digest);
            assert_eq!(*kind, "image manifest");
        }
        other => panic!("{other:?}"),
    }
}
