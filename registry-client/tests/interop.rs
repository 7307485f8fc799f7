//! Interop with skopeo through a real `docker-registry`: what skopeo
//! pushes from an OCI layout, we resolve and fetch with the same digests;
//! what we push, skopeo inspects and copies with the same digests.

#[path = "../../tests/common/registry.rs"]
mod registry;
mod support;

use std::path::Path;
use std::process::Command;

use rdock_registry_client::{media_type, Descriptor, Digest, ImageRef, Platform};
use registry::{Auth, Registry};
use support::*;

fn skopeo(args: &[&str]) -> String {
    let out = Command::new("skopeo")
        .args(args)
        .output()
        .expect("running skopeo (apt-get install skopeo)");
    assert!(
        out.status.success(),
        "skopeo {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn write_blob(layout: &Path, bytes: &[u8]) -> Digest {
    let d = Digest::of(bytes);
    std::fs::write(layout.join("blobs/sha256").join(d.hex()), bytes).unwrap();
    d
}

/// An OCI layout with one gzip layer of a small file tree (busybox if
/// Debian's busybox-static is installed), tagged `v1`.
fn make_layout(dir: &Path) -> (Digest, Descriptor, Vec<u8>) {
    let root = dir.join("rootfs");
    std::fs::create_dir_all(root.join("bin")).unwrap();
    std::fs::create_dir_all(root.join("etc")).unwrap();
    std::fs::write(root.join("etc/hello"), "hello from skopeo\n").unwrap();
    if Path::new("/bin/busybox").exists() {
        std::fs::copy("/bin/busybox", root.join("bin/busybox")).unwrap();
    }
    let layer_path = dir.join("layer.tar.gz");
    let status = Command::new("tar")
        .arg("-czf")
        .arg(&layer_path)
        .arg("-C")
        .arg(&root)
        .arg(".")
        .status()
        .unwrap();
    assert!(status.success());
    let layer = std::fs::read(&layer_path).unwrap();
    let layout = dir.join("layout");
    std::fs::create_dir_all(layout.join("blobs/sha256")).unwrap();
    let layer_desc = Descriptor {
        media_type: "application/vnd.oci.image.layer.v1.tar+gzip".into(),
        digest: write_blob(&layout, &layer),
        size: layer.len() as u64,
    };
    // diff_ids need not match for registries and skopeo copy; keep it honest
    // anyway with the uncompressed tar's digest.
    let tar = Command::new("gzip")
        .arg("-dc")
        .arg(&layer_path)
        .output()
        .unwrap()
        .stdout;
    let config = format!(
        r#"{{"architecture":"amd64","os":"linux","config":{{"Cmd":["/bin/sh"]}},"rootfs":{{"type":"layers","diff_ids":["{}"]}}}}"#,
        Digest::of(&tar)
    );
    let config_desc = Descriptor {
        media_type: CONFIG.into(),
        digest: write_blob(&layout, config.as_bytes()),
        size: config.len() as u64,
    };
    let manifest = format!(
        r#"{{"schemaVersion":2,"mediaType":"{}","config":{},"layers":[{}]}}"#,
        media_type::OCI_MANIFEST,
        desc_json(&config_desc),
        desc_json(&layer_desc)
    );
    let manifest_digest = write_blob(&layout, manifest.as_bytes());
    std::fs::write(
        layout.join("oci-layout"),
        r#"{"imageLayoutVersion":"1.0.0"}"#,
    )
    .unwrap();
    std::fs::write(
        layout.join("index.json"),
        format!(
            r#"{{"schemaVersion":2,"manifests":[{{"mediaType":"{}","digest":"{manifest_digest}","size":{},"annotations":{{"org.opencontainers.image.ref.name":"v1"}}}}]}}"#,
            media_type::OCI_MANIFEST,
            manifest.len()
        ),
    )
    .unwrap();
    (manifest_digest, layer_desc, layer)
}

#[test]
fn what_skopeo_pushes_we_pull() {
    let reg = Registry::start(Auth::None);
    let tmp = registry::TempDir::new("interop-skopeo-push");
    let dir = tmp.path();
    let (manifest_digest, layer_desc, layer) = make_layout(dir);
    let src = format!("oci:{}:v1", dir.join("layout").display());
    let dst = format!("docker://{}/from/skopeo:v1", reg.host());
    skopeo(&["copy", "--dest-tls-verify=false", &src, &dst]);

    let client = anonymous();
    let r: ImageRef = format!("{}/from/skopeo:v1", reg.host()).parse().unwrap();
    let got = client.resolve(&r, &Platform::host()).unwrap();
    assert_eq!(got.manifest.digest, manifest_digest);
    assert_eq!(got.layers, vec![layer_desc.clone()]);
    let mut fetched = Vec::new();
    client
        .fetch_blob(
            &r.repository(),
            &layer_desc,
            &mut fetched,
            &rdock_registry_client::Progress::none(),
        )
        .unwrap();
    assert_eq!(fetched, layer);
}

#[test]
fn what_we_push_skopeo_reads() {
    let reg = Registry::start(Auth::None);
    let client = anonymous();
    let image = Image::gzipped(50, &[5000, 90_000]);
    image.push(&client, &repo(&reg.host(), "from/rdock"), "v2");
    let src = format!("docker://{}/from/rdock:v2", reg.host());
    let digest = skopeo(&[
        "inspect",
        "--tls-verify=false",
        "--format",
        "{{.Digest}}",
        &src,
    ]);
    assert_eq!(digest.trim(), image.digest().as_str());
    let raw = skopeo(&["inspect", "--tls-verify=false", "--raw", &src]);
    assert_eq!(raw.as_bytes(), image.manifest.as_slice());

    let tmp = registry::TempDir::new("interop-skopeo-pull");
    let dir = tmp.path();
    let dst = format!("oci:{}:v2", dir.join("layout").display());
    skopeo(&["copy", "--src-tls-verify=false", &src, &dst]);
    for (d, content) in image.layer_descs().iter().zip(&image.layers) {
        let copied = std::fs::read(dir.join("layout/blobs/sha256").join(d.digest.hex())).unwrap();
        assert_eq!(&copied, content);
    }
    let copied = std::fs::read(dir.join("layout/blobs/sha256").join(image.digest().hex())).unwrap();
    assert_eq!(copied, image.manifest);
}
