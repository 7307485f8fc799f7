//! `rdock import|images|tag|inspect|save|load|rmi|prune|store verify` end
//! to end, on temporary store roots, with a busybox rootfs made by
//! `scripts/make-busybox-rootfs.sh` (needs Debian's busybox-static) and
//! archives checked with and converted by `skopeo`.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::{busybox_rootfs, rdock_at_epoch, rdock_bin, tempdir};

/// `rdock --root ROOT ARGS` with SOURCE_DATE_EPOCH=0.
fn rdock(root: &Path, args: &[&str]) -> Output {
    rdock_at_epoch(root, args, "0")
}

/// Runs and asserts success; returns stdout.
fn ok(root: &Path, args: &[&str]) -> String {
    let out = rdock(root, args);
    assert!(
        out.status.success(),
        "rdock {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8 output")
}

fn skopeo(args: &[&str]) -> Output {
    let out = Command::new("skopeo")
        .args(args)
        .output()
        .expect("running skopeo (apt-get install skopeo)");
    assert!(
        out.status.success(),
        "skopeo {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// A store with busybox imported; returns (root, full image ID).
fn store_with_busybox(name: &str) -> (PathBuf, String) {
    let root = tempdir("images", name).join("root");
    let id = ok(
        &root,
        &["import", busybox_rootfs().to_str().unwrap(), "busybox"],
    );
    (root, id.trim().to_owned())
}

fn blob_files(root: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for alg in ["sha256", "sha512"] {
        if let Ok(dir) = std::fs::read_dir(root.join("blobs").join(alg)) {
            out.extend(dir.map(|e| e.unwrap().file_name().to_string_lossy().into_owned()));
        }
    }
    out.sort();
    out
}

fn inspect(root: &Path, name: &str) -> serde_json::Value {
    let v: serde_json::Value = serde_json::from_str(&ok(root, &["inspect", name])).unwrap();
    v[0].clone()
}

/// Flips one byte of a tar member's content, found by its header name.
fn corrupt_member(archive: &Path, member: &str, at: usize) {
    let mut bytes = std::fs::read(archive).unwrap();
    let header = bytes
        .chunks(512)
        .position(|block| block.starts_with(member.as_bytes()) && block[member.len()] == 0)
        .unwrap_or_else(|| panic!("{member} not in {}", archive.display()));
    bytes[(header + 1) * 512 + at] ^= 0xff;
    std::fs::write(archive, bytes).unwrap();
}

#[test]
fn import_list_tag_inspect() {
    let (root, id) = store_with_busybox("list");
    assert!(id.starts_with("sha256:") && id.len() == 71, "{id}");
    ok(&root, &["tag", "busybox", "me/bb:1"]);
    let listing = ok(&root, &["images"]);
    let lines: Vec<&str> = listing.lines().collect();
    assert_eq!(
        lines[0],
        "REPOSITORY   TAG       IMAGE ID       CREATED        SIZE"
    );
    assert_eq!(lines.len(), 3, "{listing}");
    for (line, (repo, tag)) in lines[1..]
        .iter()
        .zip([("busybox", "latest"), ("me/bb", "1")])
    {
        let cols: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(
            (cols[0], cols[1], cols[2]),
            (repo, tag, &id[7..19]),
            "{line}"
        );
    }
    let v = inspect(&root, "docker.io/library/busybox:latest");
    assert_eq!(v["Id"], id);
    assert_eq!(
        v["RepoTags"],
        serde_json::json!(["busybox:latest", "me/bb:1"])
    );
    assert_eq!(v["Created"], "1970-01-01T00:00:00Z");
    assert_eq!(v["Os"], "linux");
    assert_eq!(v["RootFS"]["Layers"].as_array().unwrap().len(), 1);
    // By ID prefix too.
    assert_eq!(inspect(&root, &id[7..15])["Id"], id);
    let out = rdock(&root, &["tag", "busybox", "Bad/Name"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("must be lowercase"));
    let out = rdock(&root, &["inspect", "nothere"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("no such image: nothere"));
    let _ = std::fs::remove_dir_all(root.parent().unwrap());
}

#[test]
fn save_then_load_keeps_the_image_id() {
    let (root, id) = store_with_busybox("save");
    let archive = root.parent().unwrap().join("x.tar");
    ok(&root, &["save", "-o", archive.to_str().unwrap(), "busybox"]);
    // skopeo reads what we write.
    let out = skopeo(&["inspect", &format!("oci-archive:{}", archive.display())]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["Os"], "linux");
    assert_eq!(v["Layers"], inspect(&root, "busybox")["RootFS"]["Layers"]);
    // Saving is deterministic.
    let again = root.parent().unwrap().join("again.tar");
    ok(&root, &["save", "-o", again.to_str().unwrap(), "busybox"]);
    assert_eq!(
        std::fs::read(&archive).unwrap(),
        std::fs::read(&again).unwrap()
    );

    let root2 = root.parent().unwrap().join("root2");
    let loaded = ok(&root2, &["load", "-i", archive.to_str().unwrap()]);
    assert_eq!(loaded, "Loaded image: busybox:latest\n");
    assert_eq!(ok(&root2, &["images", "-q", "--no-trunc"]).trim(), id);
    assert_eq!(ok(&root2, &["store", "verify"]).lines().count(), 1);
    let _ = std::fs::remove_dir_all(root.parent().unwrap());
}

#[test]
fn loads_docker_archives_and_oci_archives_from_skopeo() {
    let (root, id) = store_with_busybox("docker");
    let dir = root.parent().unwrap();
    let oci = dir.join("x.tar");
    ok(&root, &["save", "-o", oci.to_str().unwrap(), "busybox"]);
    let docker = dir.join("y.tar");
    skopeo(&[
        "copy",
        "-q",
        &format!("oci-archive:{}", oci.display()),
        &format!("docker-archive:{}:busybox:from-docker", docker.display()),
    ]);
    let gz = dir.join("z.tar");
    skopeo(&[
        "copy",
        "-q",
        &format!("oci-archive:{}", oci.display()),
        &format!("oci-archive:{}:example.com/bb:gz", gz.display()),
    ]);
    let root2 = dir.join("root2");
    // From standard input, as `docker load < y.tar`.
    let out = Command::new(rdock_bin())
        .args(["--root", root2.to_str().unwrap(), "load"])
        .stdin(std::fs::File::open(&docker).unwrap())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "Loaded image: busybox:from-docker\n"
    );
    assert_eq!(inspect(&root2, "busybox:from-docker")["Id"], id);
    assert_eq!(
        ok(&root2, &["load", "-i", gz.to_str().unwrap()]),
        "Loaded image: example.com/bb:gz\n"
    );
    assert_eq!(inspect(&root2, "example.com/bb:gz")["Id"], id);

    // A flipped byte in a docker-archive layer names the layer and its diff ID.
    let layer = inspect(&root, "busybox")["RootFS"]["Layers"][0]
        .as_str()
        .unwrap()
        .to_owned();
    corrupt_member(&docker, &format!("{}.tar", &layer[7..]), 5000);
    let root3 = dir.join("root3");
    let out = rdock(&root3, &["load", "-i", docker.to_str().unwrap()]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&layer[7..]) && err.contains("diff ID"),
        "{err}"
    );
    assert!(blob_files(&root3).is_empty());
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn corrupted_archive_stores_nothing() {
    let (root, _) = store_with_busybox("corrupt");
    let dir = root.parent().unwrap();
    let archive = dir.join("x.tar");
    ok(&root, &["save", "-o", archive.to_str().unwrap(), "busybox"]);
    let layer = inspect(&root, "busybox")["RootFS"]["Layers"][0]
        .as_str()
        .unwrap()
        .to_owned();
    corrupt_member(&archive, &format!("blobs/sha256/{}", &layer[7..]), 1000);

    let root2 = dir.join("root2");
    ok(&root2, &["images"]);
    let before = blob_files(&root2);
    let out = rdock(&root2, &["load", "-i", archive.to_str().unwrap()]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("blobs/sha256/{}", &layer[7..])) && err.contains("corrupt"),
        "{err}"
    );
    assert_eq!(blob_files(&root2), before);
    assert_eq!(ok(&root2, &["images", "-q"]), "");
    let verify = rdock(&root2, &["store", "verify"]);
    assert!(
        verify.status.success(),
        "{}",
        String::from_utf8_lossy(&verify.stdout)
    );
    let leftovers = std::fs::read_dir(root2.join("ingest")).unwrap().count();
    assert_eq!(leftovers, 0);

    let out = rdock(&root2, &["load", "-i", busybox_rootfs().to_str().unwrap()]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("unrecognized archive"));
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn rmi_then_prune_frees_the_blobs() {
    let (root, id) = store_with_busybox("rmi");
    ok(&root, &["tag", "busybox", "me/bb:1"]);
    assert_eq!(blob_files(&root).len(), 3);
    // By ID with two names: refused without -f.
    let out = rdock(&root, &["rmi", &id[7..19]]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("must be forced"));
    assert_eq!(ok(&root, &["rmi", "busybox"]), "Untagged: busybox:latest\n");
    assert!(ok(&root, &["prune"]).ends_with("Total reclaimed space: 0B\n"));
    assert_eq!(blob_files(&root).len(), 3);
    assert_eq!(
        ok(&root, &["rmi", "me/bb:1"]),
        format!("Untagged: me/bb:1\nDeleted: {id}\n")
    );
    let pruned = ok(&root, &["prune"]);
    assert_eq!(
        pruned
            .lines()
            .filter(|l| l.starts_with("deleted: "))
            .count(),
        3,
        "{pruned}"
    );
    assert!(blob_files(&root).is_empty());
    assert_eq!(ok(&root, &["images", "-q"]), "");
    ok(&root, &["store", "verify"]);
    let _ = std::fs::remove_dir_all(root.parent().unwrap());
}

#[test]
fn root_comes_from_rdock_root() {
    let dir = tempdir("images", "env");
    let out = Command::new(rdock_bin())
        .args(["import", busybox_rootfs().to_str().unwrap(), "busybox:env"])
        .env("RDOCK_ROOT", &dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(dir.join("index.json").is_file());
    assert!(ok(&dir, &["images"]).contains("busybox      env"));
    let _ = std::fs::remove_dir_all(&dir);
}
