//! Reachability GC: what prune keeps (referenced, leased, in flight) and
//! what it removes (everything else), snapshots and records included.

mod common;

use std::collections::BTreeSet;
use std::io::Write;

use common::{digest_of, files_in, temp_store, write_image, write_index};
use rdock_cache::{CacheKey, CacheRecord, Digest, Error, Store};

fn blob_set(store: &Store) -> BTreeSet<Digest> {
    store.list_blobs().unwrap().into_iter().collect()
}

fn commit_snapshot(store: &Store, lease: &rdock_cache::Lease, id: &rdock_cache::ChainId) {
    let prepared = store.prepare_snapshot(lease).unwrap();
    std::fs::write(prepared.path().join("f"), id.to_string()).unwrap();
    prepared.commit(id).unwrap();
}

#[test]
fn prune_keeps_referenced_images_and_removes_the_rest() {
    let (_dir, store) = temp_store();
    let lease = store.lease().unwrap();
    let kept = write_image(&store, &lease, "kept", 2);
    let gone = write_image(&store, &lease, "gone", 2);
    let loose = store.write_blob(&lease, b"loose").unwrap();
    store.tag("kept:1", &kept.manifest).unwrap();
    store.tag("gone:1", &gone.manifest).unwrap();
    store.untag("gone:1").unwrap();
    drop(lease);

    let report = store.prune().unwrap();
    let expected_gone: BTreeSet<Digest> = gone
        .blobs()
        .into_iter()
        .chain([loose.digest.clone()])
        .collect();
    let removed: BTreeSet<Digest> = report.blobs.iter().map(|b| b.digest.clone()).collect();
    assert_eq!(removed, expected_gone);
    let freed: u64 = report.blobs.iter().map(|b| b.size).sum();
    assert_eq!(report.bytes_freed, freed);
    assert_eq!(blob_set(&store), kept.blobs().into_iter().collect());
    assert!(store.verify().unwrap().is_ok());

    // Nothing left to do the second time.
    let again = store.prune().unwrap();
    assert!(
        again.blobs.is_empty() && again.snapshots.is_empty(),
        "{again:?}"
    );
}

#[test]
fn prune_follows_image_indexes() {
    let (_dir, store) = temp_store();
    let lease = store.lease().unwrap();
    let amd64 = write_image(&store, &lease, "amd64", 1);
    let arm64 = write_image(&store, &lease, "arm64", 1);
    let index = write_index(
        &store,
        &lease,
        &[amd64.manifest.clone(), arm64.manifest.clone()],
    );
    store.tag("multi:1", &index).unwrap();
    drop(lease);
    let report = store.prune().unwrap();
    assert!(report.blobs.is_empty(), "{report:?}");
    assert!(blob_set(&store).contains(&digest_of(&index)));
    assert_eq!(blob_set(&store).len(), 1 + 3 + 3);
}

#[test]
fn leased_content_survives_until_the_lease_ends() {
    let (_dir, store) = temp_store();
    let lease = store.lease().unwrap();
    let info = store
        .write_blob(&lease, b"committed, not yet tagged")
        .unwrap();
    let other = Store::open(store.root()).unwrap();
    let report = other.prune().unwrap();
    assert!(report.blobs.is_empty(), "{report:?}");
    assert!(store.has_blob(&info.digest));
    // A clone keeps the lease alive; dropping the last clone ends it.
    let clone = lease.clone();
    drop(lease);
    assert!(other.prune().unwrap().blobs.is_empty());
    drop(clone);
    let report = other.prune().unwrap();
    assert_eq!(report.blobs.len(), 1);
    assert!(!store.has_blob(&info.digest));
    assert!(files_in(&store.root().join("leases")).is_empty());
}

#[test]
fn protect_blob_adds_existing_content_to_a_lease() {
    let (_dir, store) = temp_store();
    let info = {
        let lease = store.lease().unwrap();
        store.write_blob(&lease, b"already here").unwrap()
    };
    let lease = store.lease().unwrap();
    assert!(lease.protect_blob(&info.digest).unwrap());
    assert!(!lease.protect_blob(&Digest::sha256(b"absent")).unwrap());
    assert!(store.prune().unwrap().blobs.is_empty());
    drop(lease);
    assert_eq!(store.prune().unwrap().blobs.len(), 1);
}

#[test]
fn in_flight_writes_survive_prune_and_commit_afterwards() {
    let (_dir, store) = temp_store();
    let lease = store.lease().unwrap();
    let mut writer = store.writer(&lease).unwrap();
    writer.write_all(b"streaming").unwrap();
    writer.flush().unwrap();
    // A stale temp file from a dead process goes; the live one stays.
    std::fs::write(store.root().join("ingest/1-2-3"), b"stale").unwrap();
    let report = store.prune().unwrap();
    assert_eq!(report.temporaries, 1);
    assert_eq!(report.bytes_freed, 5);
    assert_eq!(files_in(&store.root().join("ingest")).len(), 1);
    writer.write_all(b" more").unwrap();
    let info = writer.commit(None).unwrap();
    assert!(store.prune().unwrap().blobs.is_empty());
    assert_eq!(store.read_blob(&info.digest).unwrap(), b"streaming more");
}

#[test]
fn prune_removes_snapshots_of_unreferenced_images() {
    let (_dir, store) = temp_store();
    let lease = store.lease().unwrap();
    let kept = write_image(&store, &lease, "kept", 2);
    let gone = write_image(&store, &lease, "gone", 1);
    for id in kept.chain_ids.iter().chain(&gone.chain_ids) {
        commit_snapshot(&store, &lease, id);
    }
    let orphan = rdock_cache::chain_ids(&[Digest::sha256(b"orphan")]).remove(0);
    commit_snapshot(&store, &lease, &orphan);
    store.tag("kept:1", &kept.manifest).unwrap();
    // While leased (committed under the lease), every snapshot stays.
    assert!(store.prune().unwrap().snapshots.is_empty());
    drop(lease);

    let report = store.prune().unwrap();
    let mut expected = vec![gone.chain_ids[0].clone(), orphan.clone()];
    expected.sort();
    assert_eq!(report.snapshots, expected);
    // Each removed snapshot held one file with its chain id as content.
    let blob_bytes: u64 = report.blobs.iter().map(|b| b.size).sum();
    let snapshot_bytes = 2 * orphan.to_string().len() as u64;
    assert_eq!(report.bytes_freed, blob_bytes + snapshot_bytes);
    let mut left = store.list_snapshots().unwrap();
    left.sort();
    let mut want = kept.chain_ids.clone();
    want.sort();
    assert_eq!(left, want);
    // Removed snapshots leave no trash behind.
    let names: Vec<_> = files_in(&store.root().join("snapshots"))
        .into_iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, vec!["sha256"]);
}

#[test]
fn prune_drops_records_whose_layer_is_gone() {
    let (_dir, store) = temp_store();
    let lease = store.lease().unwrap();
    let kept = write_image(&store, &lease, "kept", 1);
    let gone = write_image(&store, &lease, "gone", 1);
    store.tag("kept:1", &kept.manifest).unwrap();
    let record = |image: &common::TestImage| CacheRecord {
        layer: image.layers[0].clone(),
        diff_id: image.diff_ids[0].clone(),
        chain_id: image.chain_ids[0].clone(),
        metadata: Default::default(),
    };
    let (k1, k2) = (CacheKey::of(b"kept step"), CacheKey::of(b"gone step"));
    store.put_record(&k1, &record(&kept)).unwrap();
    store.put_record(&k2, &record(&gone)).unwrap();
    std::fs::write(
        store
            .root()
            .join("cache")
            .join(format!("{}.json", CacheKey::of(b"bad").digest().hex())),
        b"{not json",
    )
    .unwrap();
    drop(lease);
    let report = store.prune().unwrap();
    let mut expected = vec![k2.clone(), CacheKey::of(b"bad")];
    expected.sort();
    let mut got = report.records.clone();
    got.sort();
    assert_eq!(got, expected);
    assert_eq!(store.list_records().unwrap(), vec![k1.clone()]);
    assert!(store.get_record(&k1).unwrap().is_some());
    assert_eq!(store.get_record(&k2).unwrap(), None);
}

#[test]
fn a_record_whose_blob_vanished_reads_as_absent() {
    let (_dir, store) = temp_store();
    let key = CacheKey::of(b"step");
    {
        let lease = store.lease().unwrap();
        let image = write_image(&store, &lease, "x", 1);
        store
            .put_record(
                &key,
                &CacheRecord {
                    layer: image.layers[0].clone(),
                    diff_id: image.diff_ids[0].clone(),
                    chain_id: image.chain_ids[0].clone(),
                    metadata: Default::default(),
                },
            )
            .unwrap();
        std::fs::remove_file(store.blob_path(&image.diff_ids[0])).unwrap();
    }
    assert_eq!(store.get_record(&key).unwrap(), None);
}

#[test]
fn prune_refuses_when_a_referenced_manifest_is_unreadable() {
    use std::os::unix::fs::PermissionsExt;
    let (_dir, store) = temp_store();
    let lease = store.lease().unwrap();
    let image = write_image(&store, &lease, "x", 1);
    store.tag("x:1", &image.manifest).unwrap();
    drop(lease);
    let path = store.blob_path(&digest_of(&image.manifest));
    let len = std::fs::metadata(&path).unwrap().len() as usize;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    std::fs::write(&path, "x".repeat(len)).unwrap();
    match store.prune() {
        Err(Error::ParseBlob { digest, kind, .. }) => {
            assert_eq!(digest, digest_of(&image.manifest));
            assert_eq!(kind, "image manifest");
        }
        other => panic!("{other:?}"),
    }
    // Its layers were not collected.
    for d in image.blobs() {
        assert!(store.has_blob(&d), "{d}");
    }
}
