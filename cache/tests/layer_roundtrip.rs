//! Packing a tree into a layer and unpacking it again keeps every file's
//! kind, mode, owner, content, link target, mtime and xattrs; packing is
//! deterministic; SOURCE_DATE_EPOCH clamps times.

mod common;
mod layer_util;

use std::io::Read;

use layer_util::{describe, is_root, sample_tree, set_times};
use rdock_cache::oci_spec::image::MediaType;
use rdock_cache::{chain_ids, pack_dir, unpack_layer, ChainId, Compression, Digest, PackOptions};

fn pack(dir: &std::path::Path, opts: &PackOptions) -> (rdock_cache::LayerInfo, Vec<u8>) {
    pack_dir(dir, opts, Vec::new()).unwrap()
}

fn uncompressed(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    if bytes.starts_with(&[0x1f, 0x8b]) {
        flate2::read::GzDecoder::new(bytes)
            .read_to_end(&mut out)
            .unwrap();
    } else if bytes.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        zstd::stream::read::Decoder::new(bytes)
            .unwrap()
            .read_to_end(&mut out)
            .unwrap();
    } else {
        out = bytes.to_vec();
    }
    out
}

/// (path, mtime, uid, uname) of every entry, in archive order.
fn tar_entries(bytes: &[u8]) -> Vec<(String, u64, u64, Vec<u8>)> {
    let tar = uncompressed(bytes);
    let mut archive = tar::Archive::new(&tar[..]);
    archive
        .entries()
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            let h = e.header();
            (
                String::from_utf8(e.path_bytes().into_owned()).unwrap(),
                h.mtime().unwrap(),
                h.uid().unwrap(),
                h.username_bytes().unwrap_or_default().to_vec(),
            )
        })
        .collect()
}

#[test]
fn round_trip_keeps_the_tree_for_every_compression() {
    let src = tempfile::tempdir().unwrap();
    sample_tree(src.path(), false, 1_000);
    let expected = describe(src.path());
    assert!(
        expected.iter().any(|l| l.contains("inode-of bin/tool")),
        "{expected:#?}"
    );
    assert!(expected.iter().any(|l| l.contains("xattr user.rdock.test")));
    if is_root() {
        assert!(expected.iter().any(|l| l.starts_with("null char 1:3")));
        assert!(expected.iter().any(|l| l.contains("owner 1000:42")));
    }
    for compression in [Compression::Gzip, Compression::Zstd, Compression::None] {
        let opts = PackOptions {
            compression,
            source_date_epoch: None,
        };
        let (info, bytes) = pack(src.path(), &opts);
        assert_eq!(info.media_type, compression.media_type());
        assert_eq!(info.digest, Digest::sha256(&bytes));
        assert_eq!(info.size, bytes.len() as u64);
        assert_eq!(info.diff_id, Digest::sha256(&uncompressed(&bytes)));

        let (_dir, store) = common::temp_store();
        let lease = store.lease().unwrap();
        let prepared = store.prepare_snapshot(&lease).unwrap();
        let media = info.media_type.clone();
        let stats = unpack_layer(&bytes[..], Some(&media), &prepared, Some(&info.diff_id)).unwrap();
        assert_eq!(stats.diff_id, info.diff_id);
        assert_eq!(stats.skipped, rdock_cache::Skipped::default());
        assert_eq!(describe(&prepared.path()), expected, "{compression:?}");

        let chain = ChainId::base(&stats.diff_id);
        prepared.commit(&chain).unwrap();
        assert_eq!(describe(&store.snapshot_path(&chain)), expected);
    }
}

#[test]
fn autodetects_compression_and_accepts_docker_media_types() {
    let src = tempfile::tempdir().unwrap();
    sample_tree(src.path(), false, 1_000);
    let (info, bytes) = pack(src.path(), &PackOptions::default());
    let (_dir, store) = common::temp_store();
    let lease = store.lease().unwrap();
    let docker = MediaType::Other(rdock_cache::MEDIA_TYPE_DOCKER_LAYER_GZIP.to_string());
    for media in [None, Some(&docker)] {
        let prepared = store.prepare_snapshot(&lease).unwrap();
        let stats = unpack_layer(&bytes[..], media, &prepared, Some(&info.diff_id)).unwrap();
        assert_eq!(stats.diff_id, info.diff_id);
        assert_eq!(describe(&prepared.path()), describe(src.path()));
    }
    let prepared = store.prepare_snapshot(&lease).unwrap();
    let err = unpack_layer(&bytes[..], Some(&MediaType::ImageConfig), &prepared, None).unwrap_err();
    assert!(
        matches!(err, rdock_cache::Error::UnsupportedMediaType { .. }),
        "{err}"
    );
}

#[test]
fn packing_is_deterministic() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    sample_tree(a.path(), false, 1_000);
    // Other creation order (so other inode numbers and readdir order) and atimes.
    sample_tree(b.path(), true, 2_000_000_000);
    assert_eq!(describe(a.path()), describe(b.path()));
    for compression in [Compression::Gzip, Compression::Zstd, Compression::None] {
        let opts = PackOptions {
            compression,
            source_date_epoch: None,
        };
        let (first, first_bytes) = pack(a.path(), &opts);
        let (again, again_bytes) = pack(a.path(), &opts);
        let (copy, copy_bytes) = pack(b.path(), &opts);
        assert_eq!(first, again);
        assert_eq!(first, copy, "{compression:?}");
        assert!(first_bytes == again_bytes && first_bytes == copy_bytes);
    }
    // Through two fresh stores: the same blob digest, stored and verified.
    let opts = PackOptions::default();
    let infos: Vec<_> = [a.path(), b.path()]
        .iter()
        .map(|dir| {
            let (_guard, store) = common::temp_store();
            let lease = store.lease().unwrap();
            let info = store.write_layer(&lease, dir, &opts).unwrap();
            assert_eq!(
                store.read_blob(&info.digest).unwrap().len() as u64,
                info.size
            );
            info
        })
        .collect();
    assert_eq!(infos[0], infos[1]);
}

#[test]
fn headers_are_numeric_sorted_and_parents_come_first() {
    let src = tempfile::tempdir().unwrap();
    sample_tree(src.path(), false, 1_000);
    let (_, bytes) = pack(src.path(), &PackOptions::default());
    let entries = tar_entries(&bytes);
    let paths: Vec<&str> = entries.iter().map(|e| e.0.as_str()).collect();
    for (i, path) in paths.iter().enumerate() {
        let trimmed = path.trim_end_matches('/');
        if let Some((parent, _)) = trimmed.rsplit_once('/') {
            let parent = format!("{parent}/");
            let at = paths.iter().position(|p| *p == parent).unwrap();
            assert!(at < i, "{parent} after {path}");
        }
    }
    assert_eq!(paths[..3], ["abs-link", "big", "bin/"]);
    assert!(paths.contains(&"bin/tool-again") && paths.contains(&"deep/a-long-directory-name-to-push-paths-past-one-hundred-bytes/and-a-long-file-name-too-so-pax-or-prefix-is-needed.txt"));
    assert!(
        entries.iter().all(|e| e.3.is_empty()),
        "user names are empty"
    );
}

#[test]
fn source_date_epoch_clamps_mtimes() {
    let src = tempfile::tempdir().unwrap();
    sample_tree(src.path(), false, 1_000);
    let epoch = 1_600_002_000;
    set_times(&src.path().join("etc/hosts"), 1_500_000_000, 0);
    let unclamped = tar_entries(&pack(src.path(), &PackOptions::default()).1);
    let opts = PackOptions {
        source_date_epoch: Some(epoch),
        ..PackOptions::default()
    };
    let (info, bytes) = pack(src.path(), &opts);
    let clamped = tar_entries(&bytes);
    assert_eq!(unclamped.len(), clamped.len());
    let mut changed = 0;
    for (before, after) in unclamped.iter().zip(&clamped) {
        assert_eq!(before.0, after.0);
        assert_eq!(after.1, before.1.min(epoch as u64), "{}", after.0);
        changed += usize::from(before.1 != after.1);
    }
    assert!(changed > 0);
    let hosts = clamped.iter().find(|e| e.0 == "etc/hosts").unwrap();
    assert_eq!(hosts.1, 1_500_000_000, "older files keep their time");

    let (_dir, store) = common::temp_store();
    let lease = store.lease().unwrap();
    let prepared = store.prepare_snapshot(&lease).unwrap();
    unpack_layer(&bytes[..], None, &prepared, Some(&info.diff_id)).unwrap();
    let meta = std::fs::symlink_metadata(prepared.path().join("big")).unwrap();
    assert_eq!(std::os::unix::fs::MetadataExt::mtime(&meta), epoch);
}

#[test]
fn stacked_layers_get_chain_ids() {
    let lower = tempfile::tempdir().unwrap();
    let upper = tempfile::tempdir().unwrap();
    std::fs::write(lower.path().join("a"), b"a").unwrap();
    std::fs::write(upper.path().join("b"), b"b").unwrap();
    let (_dir, store) = common::temp_store();
    let lease = store.lease().unwrap();
    let mut diff_ids = Vec::new();
    for dir in [lower.path(), upper.path()] {
        let (info, bytes) = pack(dir, &PackOptions::default());
        let prepared = store.prepare_snapshot(&lease).unwrap();
        unpack_layer(&bytes[..], None, &prepared, Some(&info.diff_id)).unwrap();
        diff_ids.push(info.diff_id.clone());
        let chain = chain_ids(&diff_ids).pop().unwrap();
        prepared.commit(&chain).unwrap();
    }
    let chains = chain_ids(&diff_ids);
    assert!(std::fs::read(store.snapshot_path(&chains[0]).join("a")).is_ok());
    assert!(std::fs::read(store.snapshot_path(&chains[1]).join("b")).is_ok());
}

/// A small fixed tree owned by root; its layers' digests are pinned below
/// so a change of format, compressor or walk order cannot go unnoticed.
fn golden_tree(dir: &std::path::Path) {
    std::fs::create_dir(dir.join("etc")).unwrap();
    std::fs::write(dir.join("etc/hosts"), b"127.0.0.1 localhost\n").unwrap();
    std::os::unix::fs::symlink("etc/hosts", dir.join("hosts")).unwrap();
    use std::os::unix::fs::PermissionsExt;
    let mode = |p: &str, m| {
        std::fs::set_permissions(dir.join(p), std::fs::Permissions::from_mode(m)).unwrap()
    };
    mode("etc", 0o755);
    mode("etc/hosts", 0o644);
    for p in ["etc/hosts", "hosts", "etc"] {
        rustix::fs::chownat(
            rustix::fs::CWD,
            dir.join(p),
            Some(rustix::fs::Uid::ROOT),
            Some(rustix::fs::Gid::ROOT),
            rustix::fs::AtFlags::SYMLINK_NOFOLLOW,
        )
        .unwrap();
        set_times(&dir.join(p), 1_700_000_000, 0);
    }
}

#[test]
fn golden_layer_digests() {
    if !is_root() {
        return; // files must belong to root for fixed headers; CI runs as root
    }
    let src = tempfile::tempdir().unwrap();
    golden_tree(src.path());
    let mut got = Vec::new();
    for compression in [Compression::None, Compression::Gzip, Compression::Zstd] {
        let opts = PackOptions {
            compression,
            source_date_epoch: None,
        };
        let (info, _) = pack(src.path(), &opts);
        got.push(format!("{compression:?} {} {}", info.digest, info.diff_id));
    }
    let want = GOLDEN.lines().map(str::trim).filter(|l| !l.is_empty());
    assert_eq!(got, want.collect::<Vec<_>>(), "{}", got.join("\n"));
}

const GOLDEN: &str = "
    None sha256:dea1b1f995fd1d09f78b49a00c330abe3c5ea3fae57bedc21ae19720a9192d1f sha256:dea1b1f995fd1d09f78b49a00c330abe3c5ea3fae57bedc21ae19720a9192d1f
    Gzip sha256:b1f81f790a1ae0c47dc34ac217bd6a3a12ad32e8f6c3f699442d8fdc6bb6ef14 sha256:dea1b1f995fd1d09f78b49a00c330abe3c5ea3fae57bedc21ae19720a9192d1f
    Zstd sha256:a8b7c04803ab1cc92af81bbdcc5b93f23d2d6c84a5deee7d889795ab90708483 sha256:dea1b1f995fd1d09f78b49a00c330abe3c5ea3fae57bedc21ae19720a9192d1f
";
