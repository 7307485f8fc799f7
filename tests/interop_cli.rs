//! Interop (root): other OCI tools read what `rbuild` writes. skopeo
//! inspects the `--output type=oci` archive; umoci unpacks its layout
//! into a bundle whose rootfs has the built files; podman loads the
//! `--output type=docker` archive and runs it. Podman gets its own
//! containers.conf (runc, this machine's ulimits) and a temporary storage
//! root, so nothing global is touched. Needs `skopeo umoci podman runc`
//! (scripts/setup-debian.sh).

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::{busybox_rootfs, rdock_at, tempdir};
use serde_json::Value;

const DOCKERFILE: &str = "FROM busybox\n\
    COPY greeting.txt /greeting.txt\n\
    RUN echo built by rbuild > /built.txt && mkdir -p /data && echo nested > /data/n.txt \
    && seq 1 400000 > /data/big.txt\n\
    CMD [\"cat\", \"/built.txt\"]\n";

fn rdock(root: &Path, args: &[&str]) -> Output {
    rdock_at(root, args)
}

fn run(program: &str, args: &[&str], env: &[(&str, &Path)]) -> String {
    let mut cmd = Command::new(program);
    cmd.args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("running {program} (scripts/setup-debian.sh installs it): {e}"));
    assert!(
        out.status.success(),
        "{program} {args:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Builds the test image into `dir` as an OCI and a docker archive.
fn build(dir: &Path) -> (PathBuf, PathBuf) {
    let root = dir.join("root");
    let out = rdock(
        &root,
        &["import", busybox_rootfs().to_str().unwrap(), "busybox"],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let context = dir.join("context");
    std::fs::create_dir_all(&context).unwrap();
    std::fs::write(context.join("Dockerfile"), DOCKERFILE).unwrap();
    std::fs::write(context.join("greeting.txt"), "hello interop\n").unwrap();
    let oci = dir.join("image-oci.tar");
    let docker = dir.join("image-docker.tar");
    for (kind, path) in [("oci", &oci), ("docker", &docker)] {
        let dest = format!("type={kind},dest={}", path.display());
        let out = rdock(
            &root,
            &[
                "build",
                "-t",
                "localhost/interop:v1",
                "-o",
                &dest,
                context.to_str().unwrap(),
            ],
        );
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    (oci, docker)
}

#[test]
fn skopeo_and_umoci_read_the_oci_output() {
    let dir = tempdir("interop", "umoci");
    let (oci, _) = build(&dir);
    let info: Value = serde_json::from_str(&run(
        "skopeo",
        &["inspect", &format!("oci-archive:{}", oci.display())],
        &[],
    ))
    .unwrap();
    assert!(info["Architecture"].as_str().is_some(), "{info}");
    assert_eq!(info["Os"], "linux");
    // busybox, COPY, RUN.
    assert_eq!(info["Layers"].as_array().map(Vec::len), Some(3), "{info}");

    let layout = dir.join("layout");
    std::fs::create_dir_all(&layout).unwrap();
    run(
        "tar",
        &["-xf", oci.to_str().unwrap(), "-C", layout.to_str().unwrap()],
        &[],
    );
    let bundle = dir.join("bundle");
    run(
        "umoci",
        &[
            "unpack",
            "--image",
            &format!("{}:v1", layout.display()),
            bundle.to_str().unwrap(),
        ],
        &[],
    );
    let rootfs = bundle.join("rootfs");
    let read = |p: &str| std::fs::read_to_string(rootfs.join(p)).unwrap_or_default();
    assert_eq!(read("greeting.txt"), "hello interop\n");
    assert_eq!(read("built.txt"), "built by rbuild\n");
    assert_eq!(read("data/n.txt"), "nested\n");
    // Over 1 MiB, so its layer is several gzip members, which umoci reads.
    let big = read("data/big.txt");
    assert_eq!(big.lines().count(), 400000);
    assert_eq!(big.lines().last(), Some("400000"));
    assert!(rootfs.join("bin/busybox").exists());
    // umoci turns the image config into the runtime config.
    let config: Value =
        serde_json::from_str(&std::fs::read_to_string(bundle.join("config.json")).unwrap())
            .unwrap();
    assert_eq!(
        config["process"]["args"],
        serde_json::json!(["cat", "/built.txt"])
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn podman_loads_and_runs_the_docker_output() {
    let dir = tempdir("interop", "podman");
    let (_, docker) = build(&dir);
    let conf = dir.join("containers.conf");
    std::fs::write(
        &conf,
        "[engine]\nruntime = \"runc\"\n\n[containers]\n\
         default_ulimits = [\"nofile=20000:20000\", \"nproc=32768:32768\"]\n",
    )
    .unwrap();
    let storage = dir.join("podman-root");
    let runroot = dir.join("podman-run");
    let podman = |args: &[&str]| {
        let mut all = vec![
            "--root",
            storage.to_str().unwrap(),
            "--runroot",
            runroot.to_str().unwrap(),
            "--storage-driver",
            "vfs",
            "--cgroup-manager=cgroupfs",
            "--events-backend=file",
        ];
        all.extend(args);
        run("podman", &all, &[("CONTAINERS_CONF", &conf)])
    };
    let loaded = podman(&["load", "-i", docker.to_str().unwrap()]);
    assert!(loaded.contains("interop"), "{loaded}");
    let out = podman(&[
        "run",
        "--rm",
        "--network=none",
        "localhost/interop:v1",
        "cat",
        "/greeting.txt",
    ]);
    assert_eq!(out, "hello interop\n");
    // A layer of several gzip members, as podman (Go's gzip) reads it.
    let out = podman(&[
        "run",
        "--rm",
        "--network=none",
        "localhost/interop:v1",
        "sh",
        "-c",
        "wc -l < /data/big.txt; tail -n 1 /data/big.txt",
    ]);
    assert_eq!(
        out.split_whitespace().collect::<Vec<_>>(),
        ["400000", "400000"]
    );
    // The image's CMD.
    let out = podman(&["run", "--rm", "--network=none", "localhost/interop:v1"]);
    assert_eq!(out, "built by rbuild\n");
    // Podman's storage (vfs: no mounts) and state are inside `dir`.
    let _ = std::fs::remove_dir_all(&dir);
}
