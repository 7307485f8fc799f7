//! `rbuild` inputs and quiet output as docker takes them, end to end on a
//! busybox base: `-f -` reads the Dockerfile from standard input (errors
//! name it `Dockerfile`), a `-` context is a tar archive or a lone
//! Dockerfile on standard input, and `-q` prints only the image ID. Every
//! build runs BuildKit's checks: findings are listed after it as buildx
//! lists them, and `# check=error=true` stops it before any step.

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};

use common::{busybox_rootfs, rdock_at, rdock_command, tempdir};

fn setup(name: &str) -> PathBuf {
    let dir = tempdir("inputs", name);
    let root = dir.join("root");
    let out = rdock_at(
        &root,
        &["import", busybox_rootfs().to_str().unwrap(), "busybox"],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    dir
}

/// `rdock ARGS` with `input` on standard input.
fn with_stdin(root: &Path, args: &[&str], input: &[u8]) -> Output {
    let mut child = rdock_command(root, args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("running rdock");
    child.stdin.take().unwrap().write_all(input).unwrap();
    child.wait_with_output().unwrap()
}

fn cat(root: &Path, image: &str, path: &str) -> String {
    let out = rdock_at(
        root,
        &["run", "--rm", "--network", "none", image, "cat", path],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn dockerfile_from_stdin_with_a_context_dir() {
    let dir = setup("file");
    let root = dir.join("root");
    let ctx = dir.join("ctx");
    std::fs::create_dir_all(&ctx).unwrap();
    std::fs::write(ctx.join("a.txt"), "from the context\n").unwrap();
    let df = b"FROM busybox\nCOPY a.txt /a.txt\n";
    let out = with_stdin(
        &root,
        &["build", "-t", "f", "-f", "-", ctx.to_str().unwrap()],
        df,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(cat(&root, "f", "/a.txt"), "from the context\n");
    // Errors name the Dockerfile as BuildKit does for standard input.
    let out = with_stdin(
        &root,
        &["build", "-f", "-", ctx.to_str().unwrap()],
        b"FROM busybox\nCOPY missing /\n",
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("Dockerfile:2: COPY"), "{stderr}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_dash_context_is_an_archive_or_a_dockerfile() {
    let dir = setup("dash");
    let root = dir.join("root");
    let mut b = tar::Builder::new(Vec::new());
    for (name, data) in [
        ("Dockerfile", &b"FROM busybox\nCOPY data/b.txt /b.txt\n"[..]),
        ("data/b.txt", &b"from the archive\n"[..]),
    ] {
        let mut h = tar::Header::new_ustar();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        b.append_data(&mut h, name, data).unwrap();
    }
    let tarball = b.into_inner().unwrap();
    let out = with_stdin(&root, &["build", "-t", "t", "-"], &tarball);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(cat(&root, "t", "/b.txt"), "from the archive\n");
    // A Dockerfile alone: an empty context, so RUN works and COPY finds nothing.
    let out = with_stdin(
        &root,
        &["build", "-t", "d", "-"],
        b"FROM busybox\nRUN echo lone > /l\n",
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(cat(&root, "d", "/l"), "lone\n");
    // The unpacked context does not outlive the build.
    let left: Vec<_> = std::fs::read_dir(std::env::temp_dir())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with("rdock-context-")
        })
        .collect();
    assert!(left.is_empty(), "{left:?}");
    let out = with_stdin(&root, &["build", "-f", "-", "-"], b"");
    assert!(String::from_utf8_lossy(&out.stderr).contains("can't use stdin for both"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn quiet_prints_only_the_image_id() {
    let dir = setup("quiet");
    let root = dir.join("root");
    let ctx = dir.join("ctx");
    std::fs::create_dir_all(&ctx).unwrap();
    std::fs::write(ctx.join("Dockerfile"), "FROM busybox\nRUN echo hi\n").unwrap();
    let iid = dir.join("iid");
    let out = rdock_at(
        &root,
        &[
            "build",
            "-q",
            "--iidfile",
            iid.to_str().unwrap(),
            ctx.to_str().unwrap(),
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stderr), "");
    let id = std::fs::read_to_string(&iid).unwrap();
    assert_eq!(String::from_utf8(out.stdout).unwrap(), format!("{id}\n"));
    let out = rdock_at(&root, &["build", "--progress=quiet", ctx.to_str().unwrap()]);
    assert!(out.status.success());
    assert!(out.stdout.is_empty() && out.stderr.is_empty());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn builds_list_check_findings_and_error_true_stops_them() {
    let dir = setup("checks");
    let root = dir.join("root");
    let ctx = dir.join("ctx");
    std::fs::create_dir_all(&ctx).unwrap();
    std::fs::write(
        ctx.join("Dockerfile"),
        "FROM busybox as base\nCMD echo hi\n",
    )
    .unwrap();
    let out = rdock_at(&root, &["build", "--progress=plain", ctx.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.ends_with(
            " DONE 0.0s\n\n 2 warnings found (use docker --debug to expand):\n \
             - FromAsCasing: 'as' and 'FROM' keywords' casing do not match (line 1)\n \
             - JSONArgsRecommended: JSON arguments recommended for CMD to prevent unintended behavior related to OS signals (line 2)\n"
        ),
        "{stderr}"
    );
    std::fs::write(
        ctx.join("Dockerfile"),
        "# check=error=true\nFROM busybox as base\nRUN touch /ran\n",
    )
    .unwrap();
    let out = rdock_at(&root, &["build", "--progress=plain", ctx.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1));
    assert!(!stderr.contains("RUN touch"), "{stderr}");
    assert!(
        stderr.ends_with("(line 2)\nrdock: lint violation found for rules: FromAsCasing\n"),
        "{stderr}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
