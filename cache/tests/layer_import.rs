//! [`Store::unpack_blob`]: a stored layer becomes the snapshot for its
//! chain id once; a tampered blob or a wrong diff id commits nothing.

mod common;
mod layer_util;

use layer_util::{describe, sample_tree};
use rdock_cache::{ChainId, Digest, Error, PackOptions};

#[test]
fn stored_layers_unpack_once_per_chain_id() {
    let src = tempfile::tempdir().unwrap();
    sample_tree(src.path(), false, 1_000);
    let (_dir, store) = common::temp_store();
    let lease = store.lease().unwrap();
    let info = store
        .write_layer(&lease, src.path(), &PackOptions::default())
        .unwrap();
    let first = store
        .unpack_blob(&lease, &info.descriptor(), &info.diff_id, None)
        .unwrap();
    assert_eq!(first.chain_id, ChainId::base(&info.diff_id));
    assert_eq!(first.stats.unwrap().diff_id, info.diff_id);
    assert_eq!(
        describe(&store.snapshot_path(&first.chain_id)),
        describe(src.path())
    );

    let again = store
        .unpack_blob(&lease, &info.descriptor(), &info.diff_id, None)
        .unwrap();
    assert_eq!(
        (again.chain_id, again.stats),
        (first.chain_id.clone(), None)
    );

    let child = store
        .unpack_blob(
            &lease,
            &info.descriptor(),
            &info.diff_id,
            Some(&first.chain_id),
        )
        .unwrap();
    assert_eq!(child.chain_id, first.chain_id.child(&info.diff_id));
    assert_eq!(store.list_snapshots().unwrap().len(), 2);
}

#[test]
fn wrong_diff_id_or_tampered_blob_commits_nothing() {
    let src = tempfile::tempdir().unwrap();
    std::fs::write(src.path().join("file"), vec![5u8; 10_000]).unwrap();
    let (_dir, store) = common::temp_store();
    let lease = store.lease().unwrap();
    let opts = PackOptions {
        compression: rdock_cache::Compression::None,
        source_date_epoch: None,
    };
    let info = store.write_layer(&lease, src.path(), &opts).unwrap();
    let wrong = Digest::sha256(b"not the layer");
    let err = store
        .unpack_blob(&lease, &info.descriptor(), &wrong, None)
        .unwrap_err();
    assert!(matches!(err, Error::DiffIdMismatch { .. }), "{err}");
    assert!(store.list_snapshots().unwrap().is_empty());

    // Same length, one byte of content changed: only the blob digest catches it.
    let path = store.blob_path(&info.digest);
    let mut bytes = std::fs::read(&path).unwrap();
    let at = bytes.len() / 2;
    bytes[at] ^= 1;
    std::fs::remove_file(&path).unwrap();
    std::fs::write(&path, &bytes).unwrap();
    let tampered_diff_id = Digest::sha256(&bytes);
    let err = store
        .unpack_blob(&lease, &info.descriptor(), &tampered_diff_id, None)
        .unwrap_err();
    assert!(matches!(err, Error::DigestMismatch { .. }), "{err}");
    assert!(store.list_snapshots().unwrap().is_empty());
    assert!(common::files_in(&store.root().join("snapshots/sha256")).is_empty());
}
