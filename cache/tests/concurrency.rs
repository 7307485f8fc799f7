//! Several handles on one store: threads with their own `Store`, and child
//! processes (this test binary re-run in a child mode) that write the same
//! blob, hold leases across a prune, or are killed with SIGKILL mid-work.

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{files_in, temp_store, wait_for};
use rdock_cache::oci_spec::image::MediaType;
use rdock_cache::{CacheKey, CacheRecord, Digest, Store};

const MODE: &str = "RDOCK_CACHE_TEST_CHILD";
const ROOT: &str = "RDOCK_CACHE_TEST_ROOT";
const READY: &str = "RDOCK_CACHE_TEST_READY";

/// 2 MiB that are the same in every thread and process.
fn payload() -> Vec<u8> {
    (0..2 * 1024 * 1024u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect()
}

fn write_payload(store: &Store) -> rdock_cache::BlobInfo {
    let data = payload();
    let lease = store.lease().unwrap();
    let mut writer = store.writer(&lease).unwrap();
    for chunk in data.chunks(64 * 1024) {
        writer.write_all(chunk).unwrap();
    }
    writer
        .commit(Some((Digest::sha256(&data), data.len() as u64)))
        .unwrap()
}

/// The child side: does nothing unless started by `spawn_child`.
#[test]
fn child_process_entry() {
    let Some(mode) = std::env::var_os(MODE) else {
        return;
    };
    let store = Store::open(std::env::var_os(ROOT).unwrap()).unwrap();
    let ready = std::env::var_os(READY).map(PathBuf::from);
    let signal_ready = || std::fs::write(ready.as_ref().unwrap(), b"").unwrap();
    match mode.to_str().unwrap() {
        "write" => {
            write_payload(&store);
        }
        "hold-writer" => {
            let lease = store.lease().unwrap();
            let mut writer = store.writer(&lease).unwrap();
            writer.write_all(&payload()).unwrap();
            writer.flush().unwrap();
            signal_ready();
            std::thread::sleep(Duration::from_secs(120));
        }
        "hold-lease" => {
            let lease = store.lease().unwrap();
            store.write_blob(&lease, b"leased by a child").unwrap();
            signal_ready();
            std::thread::sleep(Duration::from_secs(120));
        }
        "churn" => churn(&store, signal_ready),
        other => panic!("unknown child mode {other}"),
    }
}

/// Writes, tags, snapshots and records without end, until killed.
fn churn(store: &Store, signal_ready: impl Fn()) {
    let mut signalled = false;
    for i in 0u64.. {
        let lease = store.lease().unwrap();
        let mut writer = store.writer(&lease).unwrap();
        for _ in 0..16 {
            writer.write_all(&[i as u8; 16 * 1024]).unwrap();
            writer.write_all(&i.to_le_bytes()).unwrap();
        }
        let layer = writer.commit(None).unwrap();
        let prepared = store.prepare_snapshot(&lease).unwrap();
        std::fs::create_dir_all(prepared.path().join("usr/share")).unwrap();
        std::fs::write(prepared.path().join("usr/share/n"), i.to_string()).unwrap();
        let chain = rdock_cache::chain_ids(std::slice::from_ref(&layer.digest)).remove(0);
        prepared.commit(&chain).unwrap();
        let desc = common::descriptor(MediaType::ImageLayer, &layer.digest, layer.size);
        store
            .put_record(
                &CacheKey::of(&i.to_le_bytes()),
                &CacheRecord {
                    layer: desc,
                    diff_id: layer.digest.clone(),
                    chain_id: chain,
                    metadata: Default::default(),
                },
            )
            .unwrap();
        let image = common::write_image(store, &lease, &format!("churn{i}"), 1);
        store
            .tag(&format!("churn:{}", i % 3), &image.manifest)
            .unwrap();
        if !signalled {
            signal_ready();
            signalled = true;
        }
    }
}

fn spawn_child(mode: &str, root: &Path, ready: Option<&Path>) -> Child {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args([
        "--exact",
        "child_process_entry",
        "--nocapture",
        "--test-threads=1",
    ])
    .env(MODE, mode)
    .env(ROOT, root)
    .stdout(Stdio::null());
    if let Some(ready) = ready {
        cmd.env(READY, ready);
    }
    cmd.spawn().expect("spawn the test binary as a child")
}

#[test]
fn threads_with_their_own_handles_write_the_same_blob() {
    let (_dir, store) = temp_store();
    let threads: Vec<_> = (0..8)
        .map(|_| {
            let root = store.root().to_path_buf();
            std::thread::spawn(move || write_payload(&Store::open(root).unwrap()))
        })
        .collect();
    let infos: Vec<_> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    assert!(infos.windows(2).all(|w| w[0] == w[1]));
    assert_eq!(store.list_blobs().unwrap(), vec![infos[0].digest.clone()]);
    assert_eq!(store.read_blob(&infos[0].digest).unwrap(), payload());
    assert!(files_in(&store.root().join("ingest")).is_empty());
}

#[test]
fn processes_write_the_same_blob() {
    let (_dir, store) = temp_store();
    let children: Vec<_> = (0..4)
        .map(|_| spawn_child("write", store.root(), None))
        .collect();
    for mut child in children {
        assert!(child.wait().unwrap().success());
    }
    let expected = Digest::sha256(&payload());
    assert_eq!(store.list_blobs().unwrap(), vec![expected.clone()]);
    assert!(files_in(&store.root().join("ingest")).is_empty());
    assert!(files_in(&store.root().join("leases")).is_empty());
    assert!(store.verify().unwrap().is_ok());
}

#[test]
fn another_process_lease_and_write_survive_prune_until_it_dies() {
    let (dir, store) = temp_store();
    let ready_lease = dir.path().join("lease-ready");
    let ready_writer = dir.path().join("writer-ready");
    let mut holder = spawn_child("hold-lease", store.root(), Some(&ready_lease));
    let mut writer = spawn_child("hold-writer", store.root(), Some(&ready_writer));
    wait_for("children", || ready_lease.exists() && ready_writer.exists());

    let leased = Digest::sha256(b"leased by a child");
    let report = store.prune().unwrap();
    assert!(report.blobs.is_empty(), "{report:?}");
    assert_eq!(report.temporaries, 0);
    assert!(store.has_blob(&leased));
    assert_eq!(files_in(&store.root().join("ingest")).len(), 1);

    for child in [&mut holder, &mut writer] {
        child.kill().unwrap(); // SIGKILL: no destructor runs
        child.wait().unwrap();
    }
    let report = store.prune().unwrap();
    assert_eq!(report.blobs.len(), 1);
    assert_eq!(report.blobs[0].digest, leased);
    assert_eq!(report.dead_leases, 2);
    assert_eq!(report.temporaries, 1);
    assert!(files_in(&store.root().join("ingest")).is_empty());
    assert!(files_in(&store.root().join("leases")).is_empty());
}

#[test]
fn sigkill_at_any_point_while_pruning_leaves_the_store_consistent() {
    let (dir, store) = temp_store();
    let mut removed = 0;
    for (round, delay_ms) in [0u64, 30, 70, 150, 300].into_iter().enumerate() {
        let ready = dir.path().join(format!("churn-ready-{round}"));
        let mut child = spawn_child("churn", store.root(), Some(&ready));
        wait_for("churn child", || ready.exists());
        // Prune concurrently meanwhile: the child's work must not fail.
        let until = Instant::now() + Duration::from_millis(delay_ms);
        loop {
            removed += store.prune().unwrap().blobs.len();
            if Instant::now() >= until {
                break;
            }
        }
        assert!(child.try_wait().unwrap().is_none(), "the child failed");
        child.kill().unwrap();
        child.wait().unwrap();

        // Whatever was visible is complete and verified.
        let report = store.verify().unwrap();
        assert!(report.is_ok(), "round {round}: {:?}", report.problems);
        for image in store.list_images().unwrap() {
            let digest = Digest::try_from(image.descriptor.digest()).unwrap();
            store.read_blob(&digest).unwrap();
        }
        for chain in store.list_snapshots().unwrap() {
            assert!(store.snapshot_path(&chain).join("usr/share/n").is_file());
        }
        // The next open sweeps the dead process's leftovers.
        Store::open(store.root()).unwrap();
        assert!(files_in(&store.root().join("ingest")).is_empty());
        assert!(files_in(&store.root().join("leases")).is_empty());
        let snapshot_names: Vec<_> = files_in(&store.root().join("snapshots"))
            .into_iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(snapshot_names, vec!["sha256"], "round {round}");
    }
    let report = store.prune().unwrap();
    assert!(store.verify().unwrap().is_ok(), "{report:?}");
    assert!(store.list_images().unwrap().len() <= 3);
    assert!(removed > 0, "prune never overlapped with the child's work");
}
