//! Unit tests of the image functions on temporary stores, with archives
//! built in memory.

use super::*;

enum Member<'a> {
    File(&'a str, Vec<u8>),
    Link(&'a str, &'a str),
}

fn tar_of(members: &[Member]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for m in members {
        let mut h = tar::Header::new_gnu();
        h.set_mode(0o644);
        match m {
            Member::File(path, data) => {
                h.set_size(data.len() as u64);
                b.append_data(&mut h, path, data.as_slice()).unwrap();
            }
            Member::Link(path, target) => {
                h.set_entry_type(tar::EntryType::Symlink);
                h.set_size(0);
                b.append_link(&mut h, path, target).unwrap();
            }
        }
    }
    b.into_inner().unwrap()
}

fn rootfs() -> Vec<u8> {
    tar_of(&[Member::File("etc/hello", b"hello\n".to_vec())])
}

fn store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("root")).unwrap();
    (dir, store)
}

fn name(s: &str) -> ImageRef {
    s.parse().unwrap()
}

fn fixed() -> ImportOptions {
    ImportOptions {
        created: Some(0),
        ..ImportOptions::default()
    }
}

#[test]
fn import_is_deterministic_and_listed() {
    let (_d1, s1) = store();
    let (_d2, s2) = store();
    let a = import(&s1, rootfs().as_slice(), &name("busybox"), &fixed()).unwrap();
    let b = import(&s2, rootfs().as_slice(), &name("busybox"), &fixed()).unwrap();
    assert_eq!(a.id, b.id);
    assert_eq!(a.manifest_digest, b.manifest_digest);
    assert_eq!(a.created(), Some(0));
    let layer = &a.manifest.layers()[0];
    assert_eq!(layer.size(), rootfs().len() as u64);
    assert_eq!(
        a.config["rootfs"]["diff_ids"][0],
        layer.digest().to_string()
    );
    let listed = images(&s1).unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(
        listed[0].name.as_deref(),
        Some("docker.io/library/busybox:latest")
    );
}

#[test]
fn import_refuses_compressed_and_broken_tars() {
    let (_d, s) = store();
    let zstd = [0x28, 0xb5, 0x2f, 0xfd, 0];
    let err = import(&s, &zstd[..], &name("x"), &fixed()).unwrap_err();
    assert!(matches!(err, Error::CompressedRootfs("zstd")), "{err}");
    let junk = vec![b'x'; 1024];
    let err = import(&s, junk.as_slice(), &name("x"), &fixed()).unwrap_err();
    assert!(matches!(err, Error::ReadRootfs { .. }), "{err}");
    assert!(s.list_images().unwrap().is_empty());
}

/// A legacy docker-archive: `<id>/layer.tar` is a symlink to the layer.
fn docker_archive(diff_ids: &[String], layer: &[u8]) -> Vec<u8> {
    let config = serde_json::to_vec(&json!({
        "architecture": "amd64", "os": "linux",
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
    }))
    .unwrap();
    let config_hex = Digest::sha256(&config).hex().to_owned();
    let layer_hex = Digest::sha256(layer).hex().to_owned();
    let manifest = serde_json::to_vec(&json!([{
        "Config": format!("{config_hex}.json"),
        "RepoTags": ["busybox:old"],
        "Layers": ["abc/layer.tar"],
    }]))
    .unwrap();
    let target = format!("../{layer_hex}.tar");
    tar_of(&[
        Member::File(&format!("{layer_hex}.tar"), layer.to_vec()),
        Member::Link("abc/layer.tar", &target),
        Member::File(&format!("{config_hex}.json"), config),
        Member::File("manifest.json", manifest),
    ])
}

#[test]
fn loads_legacy_docker_archives() {
    let (_d, s) = store();
    let layer = rootfs();
    let diff_id = Digest::sha256(&layer).to_string();
    let loaded = load(&s, docker_archive(&[diff_id], &layer).as_slice()).unwrap();
    assert_eq!(loaded[0].names, vec![name("busybox:old")]);
    let image = find_image(&s, "busybox:old").unwrap();
    assert_eq!(image.id, loaded[0].id);
    assert!(is_plain_layer(image.manifest.layers()[0].media_type()));
    assert!(verify(&s).unwrap().is_ok());
}

#[test]
fn bad_docker_archives_store_nothing() {
    let (_d, s) = store();
    let layer = rootfs();
    let diff_id = Digest::sha256(&layer).to_string();
    let two = [diff_id.clone(), diff_id];
    let err = load(&s, docker_archive(&two, &layer).as_slice()).unwrap_err();
    assert!(
        matches!(
            err,
            Error::LayerCount {
                diff_ids: 2,
                layers: 1,
                ..
            }
        ),
        "{err}"
    );
    let wrong = [Digest::sha256(b"other").to_string()];
    let err = load(&s, docker_archive(&wrong, &layer).as_slice()).unwrap_err();
    assert!(matches!(err, Error::DiffIdMismatch { .. }), "{err}");
    assert!(s.list_blobs().unwrap().is_empty());
    assert!(s.list_images().unwrap().is_empty());
    let err = load(&s, rootfs().as_slice()).unwrap_err();
    assert!(matches!(err, Error::UnknownArchive), "{err}");
}

#[test]
fn save_load_round_trip_and_unnamed_entries() {
    let (_d1, s1) = store();
    let image = import(&s1, rootfs().as_slice(), &name("a/b:1"), &fixed()).unwrap();
    let mut archive = Vec::new();
    save(&s1, &["a/b:1".to_owned()], &mut archive).unwrap();
    let (_d2, s2) = store();
    let loaded = load(&s2, archive.as_slice()).unwrap();
    assert_eq!(loaded[0].id, image.id);
    assert_eq!(loaded[0].names, vec![name("a/b:1")]);

    // The same layout with the names taken out of index.json.
    let index = json!({
        "schemaVersion": 2,
        "manifests": [{
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": image.manifest_digest.to_string(),
            "size": image.descriptor.size(),
            "annotations": {"org.opencontainers.image.ref.name": "latest"},
        }],
    });
    let mut members = vec![Member::File(
        "index.json",
        serde_json::to_vec(&index).unwrap(),
    )];
    let mut blobs = vec![image.manifest_digest.clone(), image.id.clone()];
    blobs.push(Digest::try_from(image.manifest.layers()[0].digest()).unwrap());
    let paths: Vec<String> = blobs
        .iter()
        .map(|d| format!("blobs/sha256/{}", d.hex()))
        .collect();
    for (d, p) in blobs.iter().zip(&paths) {
        members.push(Member::File(p, s1.read_blob(d).unwrap()));
    }
    let (_d3, s3) = store();
    let err = load(&s3, tar_of(&members).as_slice()).unwrap_err();
    assert!(matches!(err, Error::UnnamedImage { .. }), "{err}");
    assert!(s3.list_blobs().unwrap().is_empty());
}

#[test]
fn rmi_by_name_and_by_id() {
    let (_d, s) = store();
    let image = import(&s, rootfs().as_slice(), &name("x"), &fixed()).unwrap();
    tag(&s, "x", &name("y:2")).unwrap();
    let short = &image.id.hex()[..12];
    assert!(matches!(
        rmi(&s, short, false),
        Err(Error::ImageInUse { .. })
    ));
    let removed = rmi(&s, short, true).unwrap();
    assert_eq!(removed.untagged.len(), 2);
    assert_eq!(removed.deleted.as_ref(), Some(&image.id));
    assert!(matches!(
        find_image(&s, "x"),
        Err(Error::ImageNotFound { .. })
    ));
    assert_eq!(prune(&s).unwrap().blobs.len(), 3);
}

#[test]
fn gzip_is_undone_other_compressions_refused() {
    use std::io::Write;
    let gzip = |data: &[u8]| {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    };
    let (_d, s) = store();
    let plain = import(&s, rootfs().as_slice(), &name("p"), &fixed()).unwrap();
    let gz = import(&s, gzip(&rootfs()).as_slice(), &name("g"), &fixed()).unwrap();
    assert_eq!(plain.config["rootfs"], gz.config["rootfs"]);
    let mut archive = Vec::new();
    save(&s, &["p".to_owned()], &mut archive).unwrap();
    let (_d2, s2) = store();
    assert_eq!(
        load(&s2, gzip(&archive).as_slice()).unwrap()[0].id,
        plain.id
    );
    let err = load(&s, &[0xfd, b'7', b'z', b'X', 0][..]).unwrap_err();
    assert!(matches!(err, Error::CompressedArchive("xz")), "{err}");
}
