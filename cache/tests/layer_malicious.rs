//! Hostile and broken layers: every entry that would write outside the
//! snapshot root, or link to a file outside the layer, fails the whole
//! unpack; nothing appears outside the root and nothing is committed. A
//! wrong diff id or a corrupt stream is refused the same way.

mod common;
mod layer_util;

use std::path::Path;

use layer_util::{raw_tar, Raw};
use rdock_cache::{unpack_layer, Digest, Error, Store};

/// Unpacks `tar` into a fresh prepared snapshot that is then dropped, as a
/// caller does on error, and checks the store kept nothing.
fn unpack_fails(store: &Store, tar: &[u8], expected: Option<&Digest>) -> Error {
    let lease = store.lease().unwrap();
    let prepared = store.prepare_snapshot(&lease).unwrap();
    let err = unpack_layer(tar, None, &prepared, expected).unwrap_err();
    drop(prepared);
    assert!(store.list_snapshots().unwrap().is_empty());
    let leftovers = common::files_in(&store.root().join("snapshots"));
    assert_eq!(
        leftovers,
        vec![store.root().join("snapshots/sha256")],
        "{err}"
    );
    assert!(common::files_in(&store.root().join("snapshots/sha256")).is_empty());
    err
}

fn assert_refused(err: &Error) {
    assert!(matches!(err, Error::LayerEntry { .. }), "{err:?}");
}

fn untouched(outside: &Path) {
    assert_eq!(common::files_in(outside), vec![outside.join("keep")]);
    assert_eq!(std::fs::read(outside.join("keep")).unwrap(), b"keep");
}

#[test]
fn entries_escaping_the_root_are_refused() {
    let (dir, store) = common::temp_store();
    let outside = dir.path().join("outside");
    std::fs::create_dir(&outside).unwrap();
    std::fs::write(outside.join("keep"), b"keep").unwrap();
    let outside_str = outside.to_str().unwrap().to_owned();
    let file_in_outside = format!("{outside_str}/x");
    let cases: Vec<Vec<Raw<'_>>> = vec![
        vec![Raw::file("../x", b"evil")],
        vec![Raw::file(&file_in_outside, b"evil")],
        vec![Raw::file("a/../../x", b"evil")],
        vec![Raw::dir("a/"), Raw::file("a/b/../../../outside/x", b"evil")],
        // A symlink to a folder outside, then a file "through" it.
        vec![
            Raw::symlink("a", &outside_str),
            Raw::file("a/file", b"evil"),
        ],
        vec![
            Raw::symlink("a", "../../outside"),
            Raw::file("a/x", b"evil"),
        ],
        vec![Raw::symlink("a", &outside_str), Raw::dir("a/sub/")],
        // A regular file used as a parent.
        vec![Raw::file("f", b""), Raw::file("f/x", b"evil")],
        // Hardlinks to files outside the layer.
        vec![Raw::hardlink("l", "../../etc/passwd")],
        vec![Raw::hardlink("l", "/etc/passwd")],
        vec![Raw::hardlink("l", "missing-in-this-layer")],
        vec![
            Raw::symlink("a", &outside_str),
            Raw::hardlink("l", "a/keep"),
        ],
        vec![Raw::dir("d/"), Raw::hardlink("l", "d")],
    ];
    for (i, entries) in cases.iter().enumerate() {
        let err = unpack_fails(&store, &raw_tar(entries), None);
        assert_refused(&err);
        untouched(&outside);
        assert!(!dir.path().join("x").exists(), "case {i}");
        assert!(!dir.path().join("root/x").exists(), "case {i}");
    }
}

#[test]
fn a_later_entry_replaces_a_symlink_instead_of_following_it() {
    let (dir, store) = common::temp_store();
    let outside = dir.path().join("outside");
    std::fs::create_dir(&outside).unwrap();
    std::fs::write(outside.join("keep"), b"keep").unwrap();
    let target = format!("{}/keep", outside.display());
    let tar = raw_tar(&[Raw::symlink("a", &target), Raw::file("a", b"mine")]);
    let lease = store.lease().unwrap();
    let prepared = store.prepare_snapshot(&lease).unwrap();
    unpack_layer(&tar[..], None, &prepared, None).unwrap();
    untouched(&outside);
    assert_eq!(std::fs::read(prepared.path().join("a")).unwrap(), b"mine");
}

#[test]
fn wrong_diff_id_is_refused_before_commit() {
    let (_dir, store) = common::temp_store();
    let tar = raw_tar(&[Raw::file("hello", b"hi")]);
    let wrong = Digest::sha256(b"something else");
    match unpack_fails(&store, &tar, Some(&wrong)) {
        Error::DiffIdMismatch { expected, actual } => {
            assert_eq!(expected, wrong);
            assert_eq!(actual, Digest::sha256(&tar));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn corrupt_streams_are_refused() {
    let (_dir, store) = common::temp_store();
    let tar = raw_tar(&[Raw::file("hello", &[1u8; 4000])]);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    std::io::Write::write_all(&mut gz, &tar).unwrap();
    let gz = gz.finish().unwrap();
    let truncated = &gz[..gz.len() - 6];
    assert!(matches!(
        unpack_fails(&store, truncated, None),
        Error::ReadLayer { .. }
    ));
    let mut flipped = gz.clone();
    let at = flipped.len() - 3;
    flipped[at] ^= 0xff; // the length in the trailer
    assert!(matches!(
        unpack_fails(&store, &flipped, None),
        Error::ReadLayer { .. }
    ));
    let mut bad_header = tar.clone();
    bad_header[148] = b'9'; // checksum
    assert!(matches!(
        unpack_fails(&store, &bad_header, None),
        Error::ReadLayer { .. }
    ));
}

#[test]
fn dot_dot_inside_the_root_and_dot_slash_prefixes_are_fine() {
    let (_dir, store) = common::temp_store();
    let tar = raw_tar(&[
        Raw::dir("./"),
        Raw::dir("./a/"),
        Raw::file("./a/../b", b"b"),
        Raw::hardlink("c", "./a/../b"),
    ]);
    let lease = store.lease().unwrap();
    let prepared = store.prepare_snapshot(&lease).unwrap();
    let stats = unpack_layer(&tar[..], None, &prepared, Some(&Digest::sha256(&tar))).unwrap();
    assert_eq!(stats.entries, 4);
    assert_eq!(std::fs::read(prepared.path().join("c")).unwrap(), b"b");
}

#[test]
fn blank_numeric_fields_read_as_zero() {
    // Some image tools leave uid and gid blank; Go's archive/tar reads 0.
    let mut tar = raw_tar(&[Raw::file("f", b"x")]);
    tar[108..124].fill(0);
    let mut header = tar::Header::new_old();
    header.as_mut_bytes().copy_from_slice(&tar[..512]);
    header.set_cksum();
    tar[..512].copy_from_slice(header.as_bytes());
    let (_dir, store) = common::temp_store();
    let lease = store.lease().unwrap();
    let prepared = store.prepare_snapshot(&lease).unwrap();
    unpack_layer(&tar[..], None, &prepared, None).unwrap();
    assert_eq!(std::fs::read(prepared.path().join("f")).unwrap(), b"x");
}
