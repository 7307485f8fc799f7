//! Pull and push against an in-memory registry that records its calls.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::sync::Mutex;

use rdock_cache::oci_spec::image::{Descriptor, MediaType};
use rdock_cache::{Digest, Store};
use rdock_registry_client::ImageRef;
use serde_json::json;

use super::*;
use crate::error::Error;

mod index;

/// One repository in memory. `corrupt` serves wrong bytes for a blob.
#[derive(Default)]
struct FakeRemote {
    manifests: Mutex<BTreeMap<String, Fetched>>,
    blobs: Mutex<BTreeMap<String, Vec<u8>>>,
    calls: Mutex<Vec<String>>,
    corrupt: Option<String>,
}

impl FakeRemote {
    fn call(&self, c: String) {
        self.calls.lock().unwrap().push(c);
    }
    fn count(&self, prefix: &str) -> usize {
        let calls = self.calls.lock().unwrap();
        calls.iter().filter(|c| c.starts_with(prefix)).count()
    }
}

impl Remote for FakeRemote {
    fn manifest(&self, reference: &str) -> Result<Fetched> {
        self.call(format!("manifest {reference}"));
        self.manifests
            .lock()
            .unwrap()
            .get(reference)
            .cloned()
            .ok_or_else(|| Error::ImageNotFound {
                name: reference.to_owned(),
            })
    }
    fn blob(&self, d: &Descriptor, out: &mut dyn BlobSink, p: &(dyn Fn(u64) + Sync)) -> Result<()> {
        self.call(format!("blob {}", d.digest()));
        let mut bytes = self.blobs.lock().unwrap()[&d.digest().to_string()].clone();
        if self.corrupt.as_deref() == Some(d.digest().as_ref()) {
            bytes[0] ^= 1;
        }
        // Half, then a resume from there, as after a dropped connection.
        let half = bytes.len() / 2;
        out.write_all(&bytes[..half]).unwrap();
        out.truncate(half as u64).unwrap();
        out.write_all(&bytes[half..]).unwrap();
        p(bytes.len() as u64);
        Ok(())
    }
    fn put_blob(
        &self,
        d: &Descriptor,
        open: &OpenBlob,
        mount_from: Option<&str>,
        p: &(dyn Fn(u64) + Sync),
    ) -> Result<BlobPush> {
        self.call(format!("has {}", d.digest()));
        let digest = d.digest().to_string();
        if self.blobs.lock().unwrap().contains_key(&digest) {
            return Ok(BlobPush::Exists);
        }
        if let Some(from) = mount_from {
            // A registry with one repository: nothing to mount from.
            self.call(format!("mount {digest} from {from}"));
        }
        self.call(format!("put {}", d.digest()));
        let mut bytes = Vec::new();
        open().unwrap().read_to_end(&mut bytes).unwrap();
        p(bytes.len() as u64);
        assert_eq!(Digest::sha256(&bytes).to_string(), d.digest().to_string());
        self.blobs
            .lock()
            .unwrap()
            .insert(d.digest().to_string(), bytes);
        Ok(BlobPush::Uploaded)
    }
    fn put_manifest(&self, reference: &str, media_type: &str, bytes: &[u8]) -> Result<()> {
        self.call(format!("put-manifest {reference}"));
        let fetched = Fetched {
            media_type: media_type.to_owned(),
            bytes: bytes.to_vec(),
        };
        let mut m = self.manifests.lock().unwrap();
        m.insert(Digest::sha256(bytes).to_string(), fetched.clone());
        m.insert(reference.to_owned(), fetched);
        Ok(())
    }
}

/// A gzip layer with one file.
fn layer(name: &str, body: &[u8]) -> (Vec<u8>, Digest) {
    let mut tar = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_ustar();
    h.set_size(body.len() as u64);
    h.set_mode(0o644);
    h.set_cksum();
    tar.append_data(&mut h, name, body).unwrap();
    let plain = tar.into_inner().unwrap();
    let diff_id = Digest::sha256(&plain);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&plain).unwrap();
    (gz.finish().unwrap(), diff_id)
}

/// Publishes a two-layer image as `tag` in `remote`, wrapped in an index
/// with an arm64 and an amd64 entry when `index`; returns the digest the
/// tag resolves to.
fn publish(remote: &FakeRemote, tag: &str, index: bool) -> Digest {
    let (l1, d1) = layer("a", b"one");
    let (l2, d2) = layer("b", b"two");
    let config = serde_json::to_vec(&json!({
        "architecture": Platform::host().to_string().split('/').nth(1).unwrap(),
        "os": "linux",
        "rootfs": {"type": "layers", "diff_ids": [d1.to_string(), d2.to_string()]},
        "config": {},
    }))
    .unwrap();
    let desc = |bytes: &[u8], t: &str| json!({"mediaType": t, "digest": Digest::sha256(bytes).to_string(), "size": bytes.len()});
    let gz = "application/vnd.oci.image.layer.v1.tar+gzip";
    let manifest = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": desc(&config, "application/vnd.oci.image.config.v1+json"),
        "layers": [desc(&l1, gz), desc(&l2, gz)],
    }))
    .unwrap();
    let mut blobs = remote.blobs.lock().unwrap();
    for b in [l1, l2, config] {
        blobs.insert(Digest::sha256(&b).to_string(), b);
    }
    drop(blobs);
    let m_type = "application/vnd.oci.image.manifest.v1+json";
    remote.put_manifest(tag, m_type, &manifest).unwrap();
    if !index {
        return Digest::sha256(&manifest);
    }
    let host = Platform::host().to_string();
    let arch = host.split('/').nth(1).unwrap();
    let other = if arch == "arm64" { "amd64" } else { "arm64" };
    let mut entry = desc(&manifest, m_type);
    entry["platform"] = json!({"os": "linux", "architecture": arch});
    let index = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [
            {"mediaType": m_type, "size": 10, "platform": {"os": "linux", "architecture": other},
             "digest": Digest::sha256(b"elsewhere").to_string()},
            entry,
        ],
    }))
    .unwrap();
    remote
        .put_manifest(tag, "application/vnd.oci.image.index.v1+json", &index)
        .unwrap();
    Digest::sha256(&index)
}

fn store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("store")).unwrap();
    (dir, store)
}

/// How many layers a list of events completed.
fn completed(events: &Mutex<Vec<TransferEvent>>) -> usize {
    events
        .lock()
        .unwrap()
        .iter()
        .filter(|e| matches!(e, TransferEvent::Complete { .. }))
        .count()
}

#[test]
fn pull_stores_the_index_choice_with_registry_digests_and_snapshots() {
    let remote = FakeRemote::default();
    let top = publish(&remote, "1", true);
    let (_dir, store) = store();
    let name: ImageRef = "localhost:5000/app:1".parse().unwrap();
    let seen = Mutex::new(Vec::new());
    let pulled = pull_from(&store, &remote, &name, &PullOptions::default(), &|e| {
        seen.lock().unwrap().push(e)
    })
    .unwrap();
    assert_eq!(pulled.digest, top);
    assert!(!pulled.up_to_date);
    assert_eq!(completed(&seen), 2);
    let image = crate::images::find_image(&store, "localhost:5000/app:1").unwrap();
    assert_eq!(image.id, pulled.id);
    for l in image.manifest.layers() {
        assert!(store.has_blob(&Digest::try_from(l.digest()).unwrap()));
    }
    let diff_ids: Vec<Digest> = image.config["rootfs"]["diff_ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d.as_str().unwrap().parse().unwrap())
        .collect();
    let chains = rdock_cache::chain_ids(&diff_ids);
    assert!(store.snapshot_path(&chains[1]).join("b").is_file());
    let entry = store.resolve(&name.to_string()).unwrap().unwrap();
    assert_eq!(
        entry.annotations().as_ref().unwrap()[ANNOTATION_REPO_DIGEST],
        format!("localhost:5000/app@{top}")
    );
    assert!(store.verify().unwrap().is_ok());

    // Again: nothing is downloaded, the image is up to date.
    let before = remote.count("blob ");
    let again = pull_from(&store, &remote, &name, &PullOptions::default(), &|_| {}).unwrap();
    assert!(again.up_to_date);
    assert_eq!(remote.count("blob "), before);
}

#[test]
fn pull_of_a_platform_the_index_lacks_names_it() {
    let remote = FakeRemote::default();
    publish(&remote, "1", true);
    let (_dir, store) = store();
    let opts = PullOptions {
        platform: Some("linux/s390x".parse().unwrap()),
        ..PullOptions::default()
    };
    let name: ImageRef = "localhost:5000/app:1".parse().unwrap();
    let err = pull_from(&store, &remote, &name, &opts, &|_| {}).unwrap_err();
    assert_eq!(
        err.to_string(),
        "no matching manifest for linux/s390x in the manifest list entries of localhost:5000/app:1"
    );
    assert!(store.list_images().unwrap().is_empty());
}

#[test]
fn a_corrupt_blob_stores_nothing_and_names_nothing() {
    let mut remote = FakeRemote::default();
    publish(&remote, "1", false);
    let (l2, _) = layer("b", b"two");
    remote.corrupt = Some(Digest::sha256(&l2).to_string());
    let (_dir, store) = store();
    let name: ImageRef = "localhost:5000/app:1".parse().unwrap();
    let err = pull_from(&store, &remote, &name, &PullOptions::default(), &|_| {}).unwrap_err();
    // One line naming the image, then the blob and what is wrong with it.
    let text = anyhow_like(&err);
    assert!(text.starts_with("pulling localhost:5000/app:1: "), "{text}");
    assert!(text.contains(&Digest::sha256(&l2).to_string()), "{text}");
    assert!(store.list_images().unwrap().is_empty());
    assert!(!store.has_blob(&Digest::sha256(&l2)));
}

#[test]
fn a_manifest_not_matching_the_digest_asked_for_is_rejected() {
    let remote = FakeRemote::default();
    publish(&remote, "1", false);
    let wrong = Digest::sha256(b"not it");
    let served = remote.manifests.lock().unwrap()["1"].clone();
    remote
        .manifests
        .lock()
        .unwrap()
        .insert(wrong.to_string(), served);
    let (_dir, store) = store();
    let name: ImageRef = format!("localhost:5000/app@{wrong}").parse().unwrap();
    let err = pull_from(&store, &remote, &name, &PullOptions::default(), &|_| {}).unwrap_err();
    assert!(matches!(err, Error::ManifestDigest { .. }), "{err}");
}

#[test]
fn push_uploads_what_is_missing_then_the_same_manifest() {
    let source = FakeRemote::default();
    let digest = publish(&source, "1", false);
    let (_dir, store) = store();
    let name: ImageRef = "localhost:5000/app:1".parse().unwrap();
    pull_from(&store, &source, &name, &PullOptions::default(), &|_| {}).unwrap();

    let target = FakeRemote::default();
    let (l1, _) = layer("a", b"one");
    target
        .blobs
        .lock()
        .unwrap()
        .insert(Digest::sha256(&l1).to_string(), l1);
    let seen = Mutex::new(Vec::new());
    let pushed = push_to(&store, &target, &name, &PushOptions::default(), &|e| {
        seen.lock().unwrap().push(e)
    })
    .unwrap();
    assert_eq!(pushed.digest, digest);
    // One layer existed: only the other and the config go up.
    assert_eq!(target.count("put sha256:"), 2);
    assert_eq!(target.count("put-manifest 1"), 1);
    let exists = seen
        .lock()
        .unwrap()
        .iter()
        .filter(|e| matches!(e, TransferEvent::Exists { .. }))
        .count();
    assert_eq!(exists, 1);
    let served = &target.manifests.lock().unwrap()["1"];
    assert_eq!(Digest::sha256(&served.bytes), digest);
    assert_eq!(served.media_type, MediaType::ImageManifest.to_string());
}

#[test]
fn push_of_an_unknown_name_says_so_before_connecting() {
    let (_dir, store) = store();
    let name: ImageRef = "localhost:5000/none:1".parse().unwrap();
    let err = push(&store, &name, &PushOptions::default(), &|_| {}).unwrap_err();
    assert_eq!(
        err.to_string(),
        "an image does not exist locally with the tag: localhost:5000/none:1"
    );
}

#[test]
fn insecure_registries_from_the_environment_are_added() {
    let opts = RegistryOptions {
        insecure: vec!["a:1".into()],
        push_chunk_size: None,
    }
    .with_env(Some("reg.example:5000, ,10.0.0.0/8".into()));
    assert_eq!(opts.insecure, ["a:1", "reg.example:5000", "10.0.0.0/8"]);
}

#[test]
fn push_to_another_repository_mounts_from_the_one_pulled_from() {
    let source = FakeRemote::default();
    publish(&source, "1", false);
    let (_dir, store) = store();
    let pulled: ImageRef = "localhost:5000/app:1".parse().unwrap();
    pull_from(&store, &source, &pulled, &PullOptions::default(), &|_| {}).unwrap();
    let copy: ImageRef = "localhost:5000/copy:1".parse().unwrap();
    let other: ImageRef = "elsewhere:5000/copy:1".parse().unwrap();
    crate::images::tag(&store, "localhost:5000/app:1", &copy).unwrap();
    crate::images::tag(&store, "localhost:5000/app:1", &other).unwrap();

    let target = FakeRemote::default();
    push_to(&store, &target, &copy, &PushOptions::default(), &|_| {}).unwrap();
    // Two layers and the config, each offered from the repository pulled from.
    assert_eq!(target.count("mount "), 3);
    assert!(target
        .calls
        .lock()
        .unwrap()
        .iter()
        .all(|c| !c.starts_with("mount ") || c.ends_with(" from app")));
    // Another registry cannot mount from this one.
    let target = FakeRemote::default();
    push_to(&store, &target, &other, &PushOptions::default(), &|_| {}).unwrap();
    assert_eq!(target.count("mount "), 0);
}

#[test]
fn transfers_run_at_most_jobs_at_once_and_stop_at_the_first_error() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let running = AtomicUsize::new(0);
    let most = AtomicUsize::new(0);
    let started = AtomicUsize::new(0);
    let items: Vec<usize> = (0..12).collect();
    super::pull::run_bounded(&items, 3, |_| {
        let now = running.fetch_add(1, Ordering::SeqCst) + 1;
        most.fetch_max(now, Ordering::SeqCst);
        started.fetch_add(1, Ordering::SeqCst);
        std::thread::sleep(std::time::Duration::from_millis(20));
        running.fetch_sub(1, Ordering::SeqCst);
        Ok(())
    })
    .unwrap();
    assert_eq!(most.load(Ordering::SeqCst), 3);
    assert_eq!(started.load(Ordering::SeqCst), 12);

    let started = AtomicUsize::new(0);
    let err = super::pull::run_bounded(&items, 2, |i| {
        started.fetch_add(1, Ordering::SeqCst);
        if *i == 1 {
            return Err(Error::ImageNotFound {
                name: format!("item {i}"),
            });
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
        Ok(())
    })
    .unwrap_err();
    assert_eq!(err.to_string(), "no such image: item 1");
    assert!(started.load(Ordering::SeqCst) < items.len());
}

/// An error and its sources joined by `: `, as the CLI prints it.
fn anyhow_like(err: &Error) -> String {
    let mut text = err.to_string();
    let mut source = std::error::Error::source(err);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}
