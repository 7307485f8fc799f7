//! Blob writes and reads: streaming, verification at commit, and what is
//! (not) left on disk afterwards.

mod common;

use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;

use common::{files_in, temp_store};
use rdock_cache::{Algorithm, Digest, Error, Store};

#[test]
fn open_creates_an_oci_layout_and_rdock_folders() {
    let (_dir, store) = temp_store();
    let root = store.root();
    assert_eq!(
        std::fs::read_to_string(root.join("oci-layout")).unwrap(),
        r#"{"imageLayoutVersion":"1.0.0"}"#
    );
    for sub in [
        "blobs/sha256",
        "ingest",
        "snapshots",
        "cache",
        "locks",
        "leases",
    ] {
        assert!(root.join(sub).is_dir(), "{sub}");
    }
    // Opening again (and from another handle) changes nothing.
    let again = Store::open(root).unwrap();
    assert_eq!(again.read_index().unwrap(), store.read_index().unwrap());
}

#[test]
fn open_refuses_a_foreign_layout_version() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("oci-layout"),
        r#"{"imageLayoutVersion":"2.0.0"}"#,
    )
    .unwrap();
    match Store::open(dir.path()) {
        Err(e @ Error::LayoutMarker { .. }) => assert!(e.to_string().contains("2.0.0"), "{e}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn write_and_read_round_trip() {
    let (_dir, store) = temp_store();
    let lease = store.lease().unwrap();
    let info = store.write_blob(&lease, b"hello").unwrap();
    assert_eq!(info.digest, Digest::sha256(b"hello"));
    assert_eq!(info.size, 5);
    assert!(store.has_blob(&info.digest));
    assert_eq!(store.blob_size(&info.digest).unwrap(), 5);
    assert_eq!(store.read_blob(&info.digest).unwrap(), b"hello");
    let mut s = String::new();
    store
        .open_blob(&info.digest)
        .unwrap()
        .read_to_string(&mut s)
        .unwrap();
    assert_eq!(s, "hello");
    assert_eq!(store.list_blobs().unwrap(), vec![info.digest.clone()]);
    let path = store.blob_path(&info.digest);
    assert_eq!(path, store.root().join(info.digest.blob_path()));
    let mode = std::fs::metadata(&path).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o444, "blobs are read-only");
    assert!(files_in(&store.root().join("ingest")).is_empty());
}

#[test]
fn streaming_writer_hashes_as_it_goes() {
    let (_dir, store) = temp_store();
    let lease = store.lease().unwrap();
    let mut writer = store.writer(&lease).unwrap();
    let chunk = vec![7u8; 100_000];
    for _ in 0..10 {
        writer.write_all(&chunk).unwrap();
    }
    assert_eq!(writer.size(), 1_000_000);
    let all = vec![7u8; 1_000_000];
    let expected = Digest::sha256(&all);
    assert_eq!(writer.digest(), expected);
    // Before commit the content is only in ingest/.
    assert!(!store.has_blob(&expected));
    assert_eq!(files_in(&store.root().join("ingest")).len(), 1);
    let info = writer.commit(Some((expected.clone(), 1_000_000))).unwrap();
    assert_eq!(info.digest, expected);
    assert_eq!(store.read_blob(&expected).unwrap(), all);
    assert!(files_in(&store.root().join("ingest")).is_empty());
}

#[test]
fn wrong_digest_is_rejected_and_nothing_is_left() {
    let (_dir, store) = temp_store();
    let lease = store.lease().unwrap();
    let mut writer = store.writer(&lease).unwrap();
    writer.write_all(b"actual content").unwrap();
    let claimed = Digest::sha256(b"claimed content");
    match writer.commit(Some((claimed.clone(), 14))) {
        Err(Error::DigestMismatch { expected, actual }) => {
            assert_eq!(expected, claimed);
            assert_eq!(actual, Digest::sha256(b"actual content"));
        }
        other => panic!("{other:?}"),
    }
    assert!(files_in(&store.root().join("blobs/sha256")).is_empty());
    assert!(files_in(&store.root().join("ingest")).is_empty());
}

#[test]
fn wrong_size_is_rejected_and_nothing_is_left() {
    let (_dir, store) = temp_store();
    let lease = store.lease().unwrap();
    let mut writer = store.writer(&lease).unwrap();
    writer.write_all(b"12345").unwrap();
    let digest = Digest::sha256(b"12345");
    match writer.commit(Some((digest.clone(), 6))) {
        Err(Error::SizeMismatch {
            digest: d,
            expected: 6,
            actual: 5,
        }) => assert_eq!(d, digest),
        other => panic!("{other:?}"),
    }
    assert!(files_in(&store.root().join("blobs/sha256")).is_empty());
    assert!(files_in(&store.root().join("ingest")).is_empty());
}

#[test]
fn expected_digest_of_another_algorithm_is_rejected() {
    let (_dir, store) = temp_store();
    let lease = store.lease().unwrap();
    let mut writer = store.writer(&lease).unwrap();
    writer.write_all(b"x").unwrap();
    let err = writer
        .commit(Some((Digest::of(Algorithm::Sha512, b"x"), 1)))
        .unwrap_err();
    assert!(matches!(err, Error::AlgorithmMismatch { .. }), "{err:?}");
    assert!(files_in(&store.root().join("ingest")).is_empty());
}

#[test]
fn sha512_writer_stores_under_its_own_folder() {
    let (_dir, store) = temp_store();
    let lease = store.lease().unwrap();
    let mut writer = store.writer_with(&lease, Algorithm::Sha512).unwrap();
    writer.write_all(b"abc").unwrap();
    let expected = Digest::of(Algorithm::Sha512, b"abc");
    let info = writer.commit(Some((expected.clone(), 3))).unwrap();
    assert_eq!(info.digest, expected);
    assert!(store
        .root()
        .join("blobs/sha512")
        .join(expected.hex())
        .is_file());
    assert_eq!(store.read_blob(&expected).unwrap(), b"abc");
}

#[test]
fn committing_an_existing_blob_is_a_no_op() {
    let (_dir, store) = temp_store();
    let lease = store.lease().unwrap();
    let first = store.write_blob(&lease, b"same").unwrap();
    let before = std::fs::metadata(store.blob_path(&first.digest)).unwrap();
    let mut writer = store.writer(&lease).unwrap();
    writer.write_all(b"same").unwrap();
    let second = writer.commit(Some((first.digest.clone(), 4))).unwrap();
    assert_eq!(first, second);
    let after = std::fs::metadata(store.blob_path(&first.digest)).unwrap();
    use std::os::unix::fs::MetadataExt;
    assert_eq!(
        before.ino(),
        after.ino(),
        "the stored file was not replaced"
    );
    assert_eq!(store.list_blobs().unwrap().len(), 1);
    assert!(files_in(&store.root().join("ingest")).is_empty());
}

#[test]
fn dropped_or_aborted_writers_leave_nothing() {
    let (_dir, store) = temp_store();
    let lease = store.lease().unwrap();
    let mut a = store.writer(&lease).unwrap();
    a.write_all(b"partial").unwrap();
    drop(a);
    let mut b = store.writer(&lease).unwrap();
    b.write_all(b"partial").unwrap();
    b.abort();
    assert!(files_in(&store.root().join("ingest")).is_empty());
    assert!(store.list_blobs().unwrap().is_empty());
}

#[test]
fn missing_blobs_are_a_typed_error() {
    let (_dir, store) = temp_store();
    let d = Digest::sha256(b"absent");
    assert!(!store.has_blob(&d));
    for err in [
        store.read_blob(&d).unwrap_err(),
        store.blob_size(&d).unwrap_err(),
        store.open_blob(&d).unwrap_err(),
    ] {
        match err {
            Error::BlobNotFound { digest } => assert_eq!(digest, d),
            other => panic!("{other:?}"),
        }
    }
}

#[test]
fn read_blob_detects_corruption() {
    let (_dir, store) = temp_store();
    let lease = store.lease().unwrap();
    let info = store.write_blob(&lease, b"pristine").unwrap();
    let path = store.blob_path(&info.digest);
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    std::fs::write(&path, b"Pristine").unwrap();
    match store.read_blob(&info.digest) {
        Err(Error::DigestMismatch { expected, actual }) => {
            assert_eq!(expected, info.digest);
            assert_eq!(actual, Digest::sha256(b"Pristine"));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn stale_ingest_files_are_swept_on_open() {
    let (_dir, store) = temp_store();
    // A leftover of a dead process: unlocked, in ingest/.
    let stale = store.root().join("ingest/123-456-0");
    std::fs::write(&stale, b"half a layer").unwrap();
    // A live writer's file must survive the sweep.
    let lease = store.lease().unwrap();
    let mut live = store.writer(&lease).unwrap();
    live.write_all(b"in flight").unwrap();
    live.flush().unwrap();
    Store::open(store.root()).unwrap();
    let left = files_in(&store.root().join("ingest"));
    assert_eq!(left.len(), 1);
    assert_ne!(left[0], stale);
    let info = live.commit(None).unwrap();
    assert_eq!(store.read_blob(&info.digest).unwrap(), b"in flight");
}
