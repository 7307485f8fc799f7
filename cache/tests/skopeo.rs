//! An outside opinion on the layout: `skopeo` reads the store as an OCI
//! layout (`oci:<root>:<tag>`) and copies the image out (to a `dir:`
//! folder, which keeps layers byte for byte), checking digests.
//! Skipped when skopeo is not installed.

mod common;

use std::process::Command;

use common::{temp_store, write_image};

fn skopeo_available() -> bool {
    Command::new("skopeo")
        .arg("--version")
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

#[test]
#[allow(clippy::print_stderr)]
fn skopeo_reads_the_store_as_an_oci_layout() {
    if !skopeo_available() {
        eprintln!("skipped: skopeo is not installed");
        return;
    }
    let (dir, store) = temp_store();
    let lease = store.lease().unwrap();
    let image = write_image(&store, &lease, "skopeo", 2);
    store
        .tag("docker.io/library/busybox:latest", &image.manifest)
        .unwrap();
    let source = format!("oci:{}:latest", store.root().display());

    let out = Command::new("skopeo")
        .args(["inspect", &source])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "skopeo inspect: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let inspected: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(inspected["Digest"], image.manifest.digest().to_string());
    assert_eq!(inspected["Architecture"], "amd64");
    assert_eq!(inspected["Os"], "linux");
    let layers: Vec<String> = image
        .layers
        .iter()
        .map(|l| l.digest().to_string())
        .collect();
    assert_eq!(inspected["Layers"], serde_json::json!(layers));

    let dest = dir.path().join("copy");
    let out = Command::new("skopeo")
        .args([
            "copy",
            "--quiet",
            &source,
            &format!("dir:{}", dest.display()),
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "skopeo copy: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    for layer in &image.layers {
        let digest = common::digest_of(layer);
        assert_eq!(
            std::fs::read(dest.join(digest.hex())).unwrap(),
            store.read_blob(&digest).unwrap()
        );
    }
}
