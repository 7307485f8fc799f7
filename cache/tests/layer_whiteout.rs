//! Whiteouts between their overlayfs form (character device 0:0, the
//! `trusted.overlay.opaque=y` xattr) and their OCI form (`.wh.NAME`,
//! `.wh..wh..opq`). Creating the overlayfs form needs root; without it the
//! unpack counts what it left out.

mod common;
mod layer_util;

use std::io::Read;
use std::path::Path;

use layer_util::{describe, is_root, raw_tar, Raw};
use rdock_cache::{pack_dir, unpack_layer, Compression, Error, PackOptions};
use rustix::fs::{self as rfs, XattrFlags, CWD};

fn mknod_whiteout(path: &Path) {
    rfs::mknodat(
        CWD,
        path,
        rfs::FileType::CharacterDevice,
        rfs::Mode::empty(),
        rfs::makedev(0, 0),
    )
    .unwrap();
}

fn plain() -> PackOptions {
    PackOptions {
        compression: Compression::None,
        source_date_epoch: None,
    }
}

/// Paths and PAX keys of every entry of a plain tar.
fn entries(tar: &[u8]) -> Vec<(String, Vec<String>)> {
    let mut archive = tar::Archive::new(tar);
    let mut out = Vec::new();
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        let path = String::from_utf8(entry.path_bytes().into_owned()).unwrap();
        let keys = match entry.pax_extensions().unwrap() {
            Some(pax) => pax.map(|e| e.unwrap().key().unwrap().to_owned()).collect(),
            None => Vec::new(),
        };
        let mut rest = Vec::new();
        entry.read_to_end(&mut rest).unwrap();
        out.push((path, keys));
    }
    out
}

#[test]
fn overlay_whiteouts_and_opaque_dirs_round_trip() {
    if !is_root() {
        // Needs mknod and trusted.* xattrs; CI runs as root.
        return;
    }
    let upper = tempfile::tempdir().unwrap();
    let u = upper.path();
    std::fs::write(u.join("keep"), b"keep").unwrap();
    mknod_whiteout(&u.join("gone"));
    std::fs::create_dir(u.join("opq")).unwrap();
    std::fs::write(u.join("opq/new"), b"new").unwrap();
    let set = |p: &str, k: &str, v: &[u8]| {
        rfs::lsetxattr(u.join(p), k, v, XattrFlags::empty()).unwrap();
    };
    set("opq", "trusted.overlay.opaque", b"y");
    set("opq", "trusted.overlay.origin", b"overlay bookkeeping");
    std::fs::create_dir(u.join("plain")).unwrap();
    mknod_whiteout(&u.join("plain/old"));

    let (info, tar) = pack_dir(u, &plain(), Vec::new()).unwrap();
    let listed = entries(&tar);
    let paths: Vec<&str> = listed.iter().map(|e| e.0.as_str()).collect();
    assert_eq!(
        paths,
        [
            ".wh.gone",
            "keep",
            "opq/",
            "opq/.wh..wh..opq",
            "opq/new",
            "plain/",
            "plain/.wh.old"
        ]
    );
    assert!(
        listed
            .iter()
            .all(|(_, keys)| keys.iter().all(|k| !k.contains("overlay"))),
        "overlay xattrs are never packed: {listed:?}"
    );

    rfs::lremovexattr(u.join("opq"), "trusted.overlay.origin").unwrap();
    let (_dir, store) = common::temp_store();
    let lease = store.lease().unwrap();
    let prepared = store.prepare_snapshot(&lease).unwrap();
    let stats = unpack_layer(&tar[..], None, &prepared, Some(&info.diff_id)).unwrap();
    assert_eq!(stats.skipped, rdock_cache::Skipped::default());
    let unpacked = describe(&prepared.path());
    assert_eq!(unpacked, describe(u));
    assert!(
        unpacked.iter().any(|l| l.starts_with("gone char 0:0")),
        "{unpacked:#?}"
    );
    assert!(unpacked
        .iter()
        .any(|l| l.starts_with("opq dir") && l.contains("trusted.overlay.opaque=[121]")));
}

#[test]
fn oci_whiteouts_unpack_to_overlay_form_or_are_counted() {
    let tar = raw_tar(&[
        Raw::file(".wh.gone", b""),
        Raw::dir("d/"),
        Raw::file("d/.wh..wh..opq", b""),
        Raw::file("d/kept", b"k"),
        Raw::file(".wh..wh.plnk", b""),
    ]);
    let (_dir, store) = common::temp_store();
    let lease = store.lease().unwrap();
    let prepared = store.prepare_snapshot(&lease).unwrap();
    let stats = unpack_layer(&tar[..], None, &prepared, None).unwrap();
    let root = prepared.path();
    assert!(!root.join(".wh.gone").exists() && !root.join(".wh..wh.plnk").exists());
    assert!(!root.join("d/.wh..wh..opq").exists());
    assert_eq!(std::fs::read(root.join("d/kept")).unwrap(), b"k");
    if is_root() {
        assert_eq!(stats.skipped, rdock_cache::Skipped::default());
        let listing = describe(&root);
        assert!(
            listing.iter().any(|l| l.starts_with("gone char 0:0")),
            "{listing:#?}"
        );
        let mut value = [0u8; 4];
        let n = rfs::lgetxattr(root.join("d"), "trusted.overlay.opaque", &mut value[..]).unwrap();
        assert_eq!(&value[..n], b"y");
    } else {
        assert_eq!((stats.skipped.whiteouts, stats.skipped.opaque_dirs), (1, 1));
    }
}

#[test]
fn whiteout_entries_cannot_escape_or_be_empty() {
    let (_dir, store) = common::temp_store();
    let lease = store.lease().unwrap();
    for name in ["../.wh.x", ".wh..", "/.wh.etc"] {
        let prepared = store.prepare_snapshot(&lease).unwrap();
        let tar = raw_tar(&[Raw::file(name, b"")]);
        let err = unpack_layer(&tar[..], None, &prepared, None).unwrap_err();
        assert!(matches!(err, Error::LayerEntry { .. }), "{name}: {err}");
    }
}

#[test]
fn packing_refuses_what_a_layer_cannot_express() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join(".wh.looks-like-a-whiteout"), b"").unwrap();
    let err = pack_dir(dir.path(), &plain(), Vec::new()).unwrap_err();
    assert!(matches!(err, Error::PackUnsupported { .. }), "{err}");

    if is_root() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("moved")).unwrap();
        rfs::lsetxattr(
            dir.path().join("moved"),
            "trusted.overlay.redirect",
            b"/elsewhere",
            XattrFlags::empty(),
        )
        .unwrap();
        let err = pack_dir(dir.path(), &plain(), Vec::new()).unwrap_err();
        assert!(matches!(err, Error::PackUnsupported { .. }), "{err}");
    }
}

#[test]
fn sockets_are_left_out() {
    let dir = tempfile::tempdir().unwrap();
    let _listener = std::os::unix::net::UnixListener::bind(dir.path().join("sock")).unwrap();
    std::fs::write(dir.path().join("file"), b"x").unwrap();
    let (_, tar) = pack_dir(dir.path(), &plain(), Vec::new()).unwrap();
    let paths: Vec<String> = entries(&tar).into_iter().map(|e| e.0).collect();
    assert_eq!(paths, ["file"]);
}
