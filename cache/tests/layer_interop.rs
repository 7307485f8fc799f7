//! Layers meet real tools: GNU tar's archives unpack as GNU tar would
//! extract them, GNU tar (and `zstd`) extract our layers to the original
//! tree, and skopeo reads an image built from them, decompressing each
//! layer to its diff id. Tools that are not installed skip their test.

mod common;
mod layer_util;

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use layer_util::{describe, sample_tree};
use rdock_cache::oci_spec::image::{
    Arch, ImageConfigurationBuilder, ImageManifestBuilder, MediaType, Os, RootFsBuilder,
};
use rdock_cache::{pack_dir, unpack_layer, Compression, PackOptions};

fn available(tool: &str) -> bool {
    Command::new(tool)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

#[allow(clippy::print_stderr)]
fn skip(tool: &str) -> bool {
    if available(tool) {
        return false;
    }
    eprintln!("skipped: {tool} is not installed");
    true
}

fn run(cmd: &mut Command, stdin: &[u8]) -> Vec<u8> {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    let data = stdin.to_vec();
    let feeder = std::thread::spawn(move || {
        let _ = input.write_all(&data);
    });
    let out = child.wait_with_output().unwrap();
    feeder.join().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

const XATTR_FLAGS: [&str; 2] = ["--xattrs", "--xattrs-include=*"];

#[test]
fn layers_made_by_gnu_tar_unpack() {
    if skip("tar") {
        return;
    }
    let src = tempfile::tempdir().unwrap();
    sample_tree(src.path(), false, 1_000);
    let expected = describe(src.path());
    let (_dir, store) = common::temp_store();
    let lease = store.lease().unwrap();
    for format in ["--format=posix", "--format=gnu"] {
        let mut cmd = Command::new("tar");
        cmd.arg(format).args(XATTR_FLAGS).arg("-C").arg(src.path());
        let tar = run(cmd.args(["-cf", "-", "."]), b"");
        let prepared = store.prepare_snapshot(&lease).unwrap();
        let stats = unpack_layer(&tar[..], None, &prepared, None).unwrap();
        assert_eq!(stats.diff_id, rdock_cache::Digest::sha256(&tar));
        let got = describe(&prepared.path());
        if format == "--format=gnu" {
            // GNU's own format has no place for xattrs.
            let strip = |l: &String| l.split(" xattr ").next().unwrap().to_owned();
            let got: Vec<String> = got.iter().map(strip).collect();
            assert_eq!(
                got,
                expected.iter().map(strip).collect::<Vec<_>>(),
                "{format}"
            );
        } else {
            assert_eq!(got, expected, "{format}");
        }
    }
}

fn extract_with_gnu_tar(layer: &[u8], compression: Compression, dest: &Path) {
    let mut cmd = Command::new("tar");
    cmd.args(XATTR_FLAGS)
        .args(["--numeric-owner", "-xp", "-C"])
        .arg(dest);
    match compression {
        Compression::Gzip => cmd.arg("-z"),
        Compression::Zstd => cmd.arg("--zstd"),
        Compression::None => &mut cmd,
    };
    run(cmd.args(["-f", "-"]), layer);
}

#[test]
fn gnu_tar_extracts_our_layers() {
    if skip("tar") {
        return;
    }
    let src = tempfile::tempdir().unwrap();
    sample_tree(src.path(), false, 1_000);
    let expected = describe(src.path());
    for compression in [Compression::None, Compression::Gzip, Compression::Zstd] {
        if compression == Compression::Zstd && skip("zstd") {
            continue;
        }
        let opts = PackOptions {
            compression,
            source_date_epoch: None,
        };
        let (_, layer) = pack_dir(src.path(), &opts, Vec::new()).unwrap();
        let dest = tempfile::tempdir().unwrap();
        extract_with_gnu_tar(&layer, compression, dest.path());
        assert_eq!(describe(dest.path()), expected, "{compression:?}");
    }
}

#[test]
fn skopeo_decompresses_our_layers_to_their_diff_ids() {
    if skip("skopeo") {
        return;
    }
    let src = tempfile::tempdir().unwrap();
    sample_tree(src.path(), false, 1_000);
    let (dir, store) = common::temp_store();
    let lease = store.lease().unwrap();
    let mut layers = Vec::new();
    for compression in [Compression::Gzip, Compression::Zstd] {
        let opts = PackOptions {
            compression,
            source_date_epoch: Some(1_600_000_000),
        };
        layers.push(store.write_layer(&lease, src.path(), &opts).unwrap());
    }
    let rootfs = RootFsBuilder::default()
        .typ("layers")
        .diff_ids(
            layers
                .iter()
                .map(|l| l.diff_id.to_string())
                .collect::<Vec<_>>(),
        )
        .build()
        .unwrap();
    let config = ImageConfigurationBuilder::default()
        .architecture(Arch::Amd64)
        .os(Os::Linux)
        .rootfs(rootfs)
        .build()
        .unwrap();
    let config = store
        .write_blob(&lease, &common::canonical_json(&config))
        .unwrap();
    let manifest = ImageManifestBuilder::default()
        .schema_version(2u32)
        .media_type(MediaType::ImageManifest)
        .config(common::descriptor(
            MediaType::ImageConfig,
            &config.digest,
            config.size,
        ))
        .layers(layers.iter().map(|l| l.descriptor()).collect::<Vec<_>>())
        .build()
        .unwrap();
    let manifest = store
        .write_blob(&lease, &common::canonical_json(&manifest))
        .unwrap();
    let desc = common::descriptor(MediaType::ImageManifest, &manifest.digest, manifest.size);
    store.tag("localhost/layers:latest", &desc).unwrap();

    let dest = dir.path().join("copy");
    let source = format!("oci:{}:latest", store.root().display());
    run(
        Command::new("skopeo").args([
            "copy",
            "--quiet",
            "--dest-decompress",
            &source,
            &format!("dir:{}", dest.display()),
        ]),
        b"",
    );
    // Both layers decompress to the same tar, stored under its diff id.
    assert_eq!(layers[0].diff_id, layers[1].diff_id);
    let tar = std::fs::read(dest.join(layers[0].diff_id.hex())).unwrap();
    assert_eq!(rdock_cache::Digest::sha256(&tar), layers[0].diff_id);
}
