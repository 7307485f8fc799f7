//! `rbuild --output`, `--label`, `--compression` and `--metadata-file` end
//! to end, on a busybox base imported into a temporary store root: the
//! OCI and docker archives are read by skopeo, the `tar` and `local`
//! outputs hold the flattened root file system (with the base's deleted
//! file gone), labels land in the config, zstd layers carry the zstd
//! media type and skopeo copies them, and the metadata file names the
//! image's digests.

mod common;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::{busybox_rootfs, rdock_bin, tempdir};
use serde_json::Value;

const EPOCH: &str = "1000000000";

const DOCKERFILE: &str = "FROM busybox\n\
COPY hello.txt /hello.txt\n\
RUN echo built > /built.txt && rm /bin/ls\n";

/// A fresh folder for one test, with `ctx/` (the build context) and
/// `root/` (a store holding busybox).
fn setup(name: &str) -> PathBuf {
    let dir = tempdir("outputs", name);
    std::fs::create_dir_all(dir.join("ctx")).expect("temp dir");
    std::fs::write(dir.join("ctx/Dockerfile"), DOCKERFILE).unwrap();
    std::fs::write(dir.join("ctx/hello.txt"), "hello\n").unwrap();
    ok(
        &dir,
        &["import", busybox_rootfs().to_str().unwrap(), "busybox"],
    );
    dir
}

fn rdock(dir: &Path, args: &[&str]) -> Output {
    Command::new(rdock_bin())
        .arg("--root")
        .arg(dir.join("root"))
        .args(args)
        .current_dir(dir)
        .env("SOURCE_DATE_EPOCH", EPOCH)
        .env_remove("RDOCK_ROOT")
        .output()
        .expect("running rdock")
}

fn ok(dir: &Path, args: &[&str]) -> Vec<u8> {
    let out = rdock(dir, args);
    assert!(
        out.status.success(),
        "rdock {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

fn skopeo(args: &[&str]) -> Value {
    let out = Command::new("skopeo")
        .args(args)
        .output()
        .expect("running skopeo (apt-get install skopeo)");
    assert!(
        out.status.success(),
        "skopeo {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or(Value::Null)
}

fn inspect(dir: &Path, name: &str) -> Value {
    let v: Value = serde_json::from_slice(&ok(dir, &["inspect", name])).unwrap();
    v[0].clone()
}

/// The names and contents of the regular files of a tar.
fn tar_files(data: &[u8]) -> Vec<(String, Vec<u8>)> {
    let mut archive = tar::Archive::new(data);
    let mut out = Vec::new();
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        let path = entry.path().unwrap().to_string_lossy().into_owned();
        let mut content = Vec::new();
        entry.read_to_end(&mut content).unwrap();
        out.push((path.trim_end_matches('/').to_owned(), content));
    }
    out
}

#[test]
fn oci_output_is_an_oci_archive_and_tags_nothing() {
    let dir = setup("oci");
    ok(&dir, &["build", "--output", "type=oci,dest=out.tar", "ctx"]);
    let v = skopeo(&[
        "inspect",
        &format!("oci-archive:{}", dir.join("out.tar").display()),
    ]);
    assert_eq!(v["Layers"].as_array().unwrap().len(), 3, "{v}");
    let images = String::from_utf8(ok(&dir, &["images", "-q"])).unwrap();
    assert_eq!(images.lines().count(), 1, "only busybox is named: {images}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn docker_output_is_a_docker_archive() {
    let dir = setup("docker");
    ok(
        &dir,
        &[
            "build",
            "-t",
            "out:docker",
            "--output",
            "type=docker,dest=out.tar",
            "ctx",
        ],
    );
    let path = dir.join("out.tar");
    let v = skopeo(&["inspect", &format!("docker-archive:{}", path.display())]);
    let image = inspect(&dir, "out:docker");
    assert_eq!(v["Layers"].as_array().unwrap().len(), 3, "{v}");
    let files = tar_files(&std::fs::read(&path).unwrap());
    let (_, manifest) = files.iter().find(|(p, _)| p == "manifest.json").unwrap();
    let manifest: Value = serde_json::from_slice(manifest).unwrap();
    assert_eq!(manifest[0]["RepoTags"][0], "out:docker");
    let id = image["Id"]
        .as_str()
        .unwrap()
        .strip_prefix("sha256:")
        .unwrap();
    assert_eq!(manifest[0]["Config"], format!("blobs/sha256/{id}"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn tar_output_is_the_flattened_rootfs_also_on_stdout() {
    let dir = setup("tar");
    ok(
        &dir,
        &["build", "--output", "type=tar,dest=rootfs.tar", "ctx"],
    );
    let data = std::fs::read(dir.join("rootfs.tar")).unwrap();
    let files = tar_files(&data);
    let find = |p: &str| files.iter().find(|(f, _)| f == p).map(|(_, c)| c.clone());
    assert_eq!(find("hello.txt").unwrap(), b"hello\n");
    assert_eq!(find("built.txt").unwrap(), b"built\n");
    assert!(find("bin/busybox").is_some());
    assert!(find("bin/ls").is_none(), "a deleted file stays deleted");
    assert!(files.iter().all(|(p, _)| !p.contains(".wh.")));
    let piped = ok(&dir, &["build", "--output", "type=tar,dest=-", "ctx"]);
    assert_eq!(piped, data, "the same tar on standard output");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn local_output_writes_the_rootfs_into_a_directory() {
    let dir = setup("local");
    ok(&dir, &["build", "-o", "out", "ctx"]);
    let out = dir.join("out");
    assert_eq!(std::fs::read(out.join("hello.txt")).unwrap(), b"hello\n");
    assert_eq!(std::fs::read(out.join("built.txt")).unwrap(), b"built\n");
    assert!(out.join("bin/busybox").is_file());
    assert!(!out.join("bin/ls").exists());
    ok(
        &dir,
        &[
            "build",
            "--output",
            "type=local,dest=out2",
            "--metadata-file",
            "meta.json",
            "ctx",
        ],
    );
    assert!(dir.join("out2/built.txt").is_file());
    // BuildKit's local exporter makes no image, so no image metadata.
    let meta: Value =
        serde_json::from_slice(&std::fs::read(dir.join("meta.json")).unwrap()).unwrap();
    assert_eq!(meta, serde_json::json!({}));
    let err = rdock(&dir, &["build", "--output", "type=local,dest=-", "ctx"]);
    assert!(!err.status.success());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn labels_zstd_and_metadata_file() {
    let dir = setup("meta");
    // A gzip build first: the zstd build's steps come from its cache.
    ok(&dir, &["build", "-t", "meta:gzip", "ctx"]);
    ok(
        &dir,
        &[
            "build",
            "-t",
            "meta:zstd",
            "--label",
            "org.example.team=build",
            "--label",
            "empty=",
            "--compression",
            "zstd",
            "--metadata-file",
            "meta.json",
            "ctx",
        ],
    );
    let image = inspect(&dir, "meta:zstd");
    assert_eq!(image["Config"]["Labels"]["org.example.team"], "build");
    assert_eq!(image["Config"]["Labels"]["empty"], "");
    let layers = image["Manifest"]["layers"].as_array().unwrap();
    let new_layer = &layers[layers.len() - 1];
    assert_eq!(
        new_layer["mediaType"],
        "application/vnd.oci.image.layer.v1.tar+zstd"
    );
    let meta: Value =
        serde_json::from_slice(&std::fs::read(dir.join("meta.json")).unwrap()).unwrap();
    assert_eq!(meta["containerimage.config.digest"], image["Id"]);
    assert_eq!(meta["containerimage.digest"], image["Manifest"]["digest"]);
    assert_eq!(meta["image.name"], "docker.io/library/meta:zstd");
    let copy = dir.join("copied");
    skopeo(&[
        "copy",
        &format!("oci:{}:zstd", dir.join("root").display()),
        &format!("dir:{}", copy.display()),
    ]);
    assert!(copy.join("manifest.json").is_file());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn plain_progress_names_the_output() {
    let dir = setup("plain");
    let out = rdock(
        &dir,
        &[
            "build",
            "--progress",
            "plain",
            "-o",
            "type=tar,dest=x.tar",
            "ctx",
        ],
    );
    assert!(out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("] COPY hello.txt /hello.txt\n"), "{stderr}");
    assert!(stderr.contains(" exporting to image\n"), "{stderr}");
    assert!(
        stderr.contains(" sending rootfs tarball to x.tar done\n"),
        "{stderr}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
