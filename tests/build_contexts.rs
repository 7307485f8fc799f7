//! `rbuild --build-context` and `--platform` end to end, on a busybox base
//! imported into a temporary store: a named directory replaces a stage
//! and feeds `COPY --from` and `RUN --mount from=`, a `docker-image://`
//! context replaces a base image, a directory can be a FROM (its own
//! `.dockerignore` applies); the target
//! platform sets `TARGET*` and the image's architecture, the build
//! platform runs, and another platform is a clear error.

mod common;

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Output;

use common::{busybox_rootfs, rdock_at_epoch, tempdir};
use serde_json::Value;

fn rdock(root: &Path, args: &[&str]) -> Output {
    rdock_at_epoch(root, args, "1000000000")
}

fn ok(root: &Path, args: &[&str]) -> String {
    let out = rdock(root, args);
    assert!(
        out.status.success(),
        "rdock {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// A test folder with a store holding busybox.
fn setup(name: &str) -> (PathBuf, PathBuf) {
    let dir = tempdir("contexts", name);
    let root = dir.join("root");
    ok(
        &root,
        &["import", busybox_rootfs().to_str().unwrap(), "busybox"],
    );
    (dir, root)
}

fn write(dir: &Path, files: &[(&str, &str)]) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    for (name, body) in files {
        std::fs::write(dir.join(name), body).unwrap();
    }
    dir.to_path_buf()
}

/// Builds `context` with `args`, tagged `tag`; the image's files.
fn build(root: &Path, context: &Path, tag: &str, args: &[&str]) -> BTreeMap<String, String> {
    let out_tar = context.with_extension("rootfs.tar");
    let dest = format!("type=tar,dest={}", out_tar.display());
    let mut all = vec!["build", "-t", tag, "-o", &dest];
    all.extend(args);
    all.push(context.to_str().unwrap());
    ok(root, &all);
    let data = std::fs::read(&out_tar).unwrap();
    let mut files = BTreeMap::new();
    for entry in tar::Archive::new(&data[..]).entries().unwrap() {
        let mut entry = entry.unwrap();
        let path = entry.path().unwrap().to_string_lossy().into_owned();
        let mut body = String::new();
        if entry.header().entry_type().is_file() {
            let _ = entry.read_to_string(&mut body);
        }
        files.insert(format!("/{}", path.trim_start_matches("./")), body);
    }
    files
}

fn inspect(root: &Path, name: &str) -> Value {
    let v: Value = serde_json::from_str(&ok(root, &["inspect", name])).unwrap();
    v[0].clone()
}

#[test]
fn build_contexts_replace_stages_images_and_sources() {
    let (dir, root) = setup("named");
    let data = write(
        &dir.join("data"),
        &[
            ("data.txt", "from the data context\n"),
            ("hidden.txt", "ignored\n"),
            (".dockerignore", "hidden.txt\n"),
        ],
    );
    let tools = write(&dir.join("tools"), &[("tool", "from the tools context\n")]);
    let context = write(
        &dir.join("ctx"),
        &[(
            "Dockerfile",
            "FROM busybox AS tools\n\
             RUN echo from the stage > /tool\n\
             FROM busybox\n\
             COPY --from=src /data.txt /data.txt\n\
             COPY --from=tools /tool /tool\n\
             COPY --from=src / /all/\n\
             RUN --mount=from=src,target=/mnt cat /mnt/data.txt > /mounted && \
                 ls /mnt > /listed\n",
        )],
    );
    let src = format!("src={}", data.display());
    let tools_ctx = format!("tools={}", tools.display());
    let files = build(
        &root,
        &context,
        "named",
        &["--build-context", &src, "--build-context", &tools_ctx],
    );
    assert_eq!(files["/data.txt"], "from the data context\n");
    assert_eq!(files["/tool"], "from the tools context\n");
    assert_eq!(files["/mounted"], "from the data context\n");
    // The context's .dockerignore holds for COPY --from and mounts.
    assert!(files.contains_key("/all/data.txt"));
    assert!(!files.contains_key("/all/hidden.txt"), "{:?}", files.keys());
    assert_eq!(files["/listed"], "data.txt\n");

    // docker-image:// replaces the base image wherever it is named.
    let marker = write(
        &dir.join("marker"),
        &[("Dockerfile", "FROM busybox\nRUN echo marked > /marker\n")],
    );
    build(&root, &marker, "marked:1", &[]);
    let user = write(
        &dir.join("user"),
        &[(
            "Dockerfile",
            "FROM docker.io/library/busybox:latest\nRUN cat /marker > /seen\n",
        )],
    );
    let files = build(
        &root,
        &user,
        "user",
        &["--build-context", "busybox=docker-image://marked:1"],
    );
    assert_eq!(files["/seen"], "marked\n");

    // A directory as FROM: its files are the stage's file system.
    let from_dir = write(
        &dir.join("fromdir"),
        &[("Dockerfile", "FROM rootfs\nCOPY Dockerfile /copied\n")],
    );
    let rootfs = write(
        &dir.join("rootfs"),
        &[
            ("hello", "hi\n"),
            ("secret.txt", "left out\n"),
            (".dockerignore", "secret.txt\n"),
        ],
    );
    let ctx = format!("rootfs={}", rootfs.display());
    let files = build(&root, &from_dir, "fromdir", &["--build-context", &ctx]);
    assert_eq!(files["/hello"], "hi\n");
    assert!(files.contains_key("/copied"));
    // The named context's own .dockerignore applies, as in BuildKit.
    assert!(!files.contains_key("/secret.txt"), "{:?}", files.keys());

    let out = rdock(
        &root,
        &[
            "build",
            "--build-context",
            "x=https://example.invalid/r.git",
            context.to_str().unwrap(),
        ],
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("not supported yet"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn platforms_set_target_args_and_the_image_platform() {
    let (dir, root) = setup("platform");
    let host = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    };
    let other = if host == "arm64" { "amd64" } else { "arm64" };
    // The cross-compiling pattern: run on the build platform, ship for
    // the target.
    let cross = write(
        &dir.join("cross"),
        &[(
            "Dockerfile",
            "FROM --platform=$BUILDPLATFORM busybox AS build\n\
             ARG TARGETPLATFORM TARGETARCH BUILDARCH\n\
             RUN echo $TARGETPLATFORM $TARGETARCH $BUILDARCH > /out\n\
             FROM scratch\n\
             COPY --from=build /out /out\n",
        )],
    );
    let platform = format!("linux/{other}");
    let files = build(&root, &cross, "cross", &["--platform", &platform]);
    assert_eq!(files["/out"], format!("linux/{other} {other} {host}\n"));
    let image = inspect(&root, "cross");
    assert_eq!(image["Architecture"].as_str(), Some(other), "{image}");
    assert_eq!(image["Os"].as_str(), Some("linux"));

    // The host platform, asked explicitly, just works.
    let native = format!("linux/{host}");
    let files = build(&root, &cross, "native", &["--platform", &native]);
    assert_eq!(files["/out"], format!("linux/{host} {host} {host}\n"));

    // A base image of another platform, or a RUN for one: clear errors.
    let foreign = write(
        &dir.join("foreign"),
        &[("Dockerfile", "FROM busybox\nRUN true\n")],
    );
    let out = rdock(
        &root,
        &["build", "--platform", &platform, foreign.to_str().unwrap()],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains(&format!(
            "is linux/{host}, not the requested linux/{other} (rdock does not emulate"
        )),
        "{stderr}"
    );
    let scratch = write(
        &dir.join("scratch"),
        &[(
            "Dockerfile",
            &format!("FROM --platform=linux/{other} scratch\nRUN true\n"),
        )],
    );
    let out = rdock(&root, &["build", scratch.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!(
            "cannot run linux/{other} commands on this linux/{host} host"
        )),
        "{stderr}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
