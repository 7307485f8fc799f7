//! Snapshot folders: prepare, fill, commit (or discard), keyed by chain id.

mod common;

use common::{files_in, temp_store};
use rdock_cache::{chain_ids, Digest, SnapshotCommit, Store};

fn chain(seed: &[u8]) -> rdock_cache::ChainId {
    chain_ids(&[Digest::sha256(seed)]).remove(0)
}

fn snapshot_entries(store: &Store) -> Vec<String> {
    files_in(&store.root().join("snapshots"))
        .into_iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect()
}

#[test]
fn prepare_fill_commit() {
    let (_dir, store) = temp_store();
    let lease = store.lease().unwrap();
    let id = chain(b"layer");
    assert!(!store.has_snapshot(&id));
    let prepared = store.prepare_snapshot(&lease).unwrap();
    let fs_dir = prepared.path();
    assert!(fs_dir.is_dir());
    assert!(fs_dir.starts_with(store.root().join("snapshots")));
    let ingest_name = fs_dir
        .parent()
        .unwrap()
        .file_name()
        .unwrap()
        .to_string_lossy();
    assert!(ingest_name.starts_with("ingest-"), "{ingest_name}");
    std::fs::create_dir(fs_dir.join("etc")).unwrap();
    std::fs::write(fs_dir.join("etc/hostname"), b"box\n").unwrap();
    assert_eq!(prepared.commit(&id).unwrap(), SnapshotCommit::Created);

    assert!(store.has_snapshot(&id));
    let path = store.snapshot_path(&id);
    assert_eq!(
        path,
        store
            .root()
            .join("snapshots/sha256")
            .join(id.digest().hex())
            .join("fs")
    );
    assert!(
        !path.to_string_lossy().contains(':'),
        "overlayfs reserves ':'"
    );
    assert_eq!(std::fs::read(path.join("etc/hostname")).unwrap(), b"box\n");
    assert_eq!(store.list_snapshots().unwrap(), vec![id]);
    assert_eq!(snapshot_entries(&store), vec!["sha256"]);
}

#[test]
fn committing_an_existing_chain_id_keeps_the_first() {
    let (_dir, store) = temp_store();
    let lease = store.lease().unwrap();
    let id = chain(b"layer");
    let first = store.prepare_snapshot(&lease).unwrap();
    std::fs::write(first.path().join("who"), b"first").unwrap();
    let second = store.prepare_snapshot(&lease).unwrap();
    std::fs::write(second.path().join("who"), b"second").unwrap();
    assert_eq!(first.commit(&id).unwrap(), SnapshotCommit::Created);
    assert_eq!(second.commit(&id).unwrap(), SnapshotCommit::Existed);
    assert_eq!(
        std::fs::read(store.snapshot_path(&id).join("who")).unwrap(),
        b"first"
    );
    assert_eq!(snapshot_entries(&store), vec!["sha256"]);
}

#[test]
fn aborted_snapshots_leave_nothing() {
    let (_dir, store) = temp_store();
    let lease = store.lease().unwrap();
    let a = store.prepare_snapshot(&lease).unwrap();
    std::fs::create_dir_all(a.path().join("usr/bin")).unwrap();
    a.abort();
    let b = store.prepare_snapshot(&lease).unwrap();
    drop(b);
    assert_eq!(snapshot_entries(&store), vec!["sha256"]);
    assert!(store.list_snapshots().unwrap().is_empty());
}

#[test]
fn read_only_trees_are_removed_too() {
    use std::os::unix::fs::PermissionsExt;
    let (_dir, store) = temp_store();
    let lease = store.lease().unwrap();
    let a = store.prepare_snapshot(&lease).unwrap();
    let ro = a.path().join("ro");
    std::fs::create_dir(&ro).unwrap();
    std::fs::write(ro.join("f"), b"x").unwrap();
    std::fs::set_permissions(&ro, std::fs::Permissions::from_mode(0o555)).unwrap();
    drop(a);
    assert_eq!(snapshot_entries(&store), vec!["sha256"]);
}

#[test]
fn stale_prepared_snapshots_are_swept_on_open() {
    let (_dir, store) = temp_store();
    let lease = store.lease().unwrap();
    let live = store.prepare_snapshot(&lease).unwrap();
    // Leftovers of a dead process: unlocked ingest and trash folders.
    for name in ["ingest-1-2-3", "trash-1-2-3"] {
        std::fs::create_dir_all(store.root().join("snapshots").join(name).join("fs/x")).unwrap();
    }
    Store::open(store.root()).unwrap();
    let entries = snapshot_entries(&store);
    assert_eq!(entries.len(), 2, "{entries:?}");
    assert!(live.path().is_dir(), "a live prepared snapshot survives");
    assert_eq!(live.commit(&chain(b"x")).unwrap(), SnapshotCommit::Created);
}
