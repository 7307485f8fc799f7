//! Helpers for the end-to-end tests: they run the real `rdock` binary that
//! cargo builds for these tests (`CARGO_BIN_EXE_rdock`).
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;

/// The `rdock` binary under test.
pub fn rdock_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_rdock"))
}

/// Runs `rdock ARGS` or, with `name`, the binary through a symlink of that
/// name, the way `rbuild` and `rrun` are installed.
pub fn run(name: Option<&str>, args: &[&str]) -> Output {
    let Some(name) = name else {
        return output(&rdock_bin(), args);
    };
    // One directory per call: tests run in parallel threads.
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("rdock-e2e-{}-{n}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let link = dir.join(name);
    std::os::unix::fs::symlink(rdock_bin(), &link).expect("symlink");
    let out = output(&link, args);
    std::fs::remove_dir_all(&dir).expect("removing temp dir");
    out
}

fn output(bin: &Path, args: &[&str]) -> Output {
    Command::new(bin)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("running {}: {e}", bin.display()))
}

/// A path under `fixtures/`.
pub fn fixture(rel: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../fixtures")
        .join(rel)
        .display()
        .to_string()
}

/// A fresh temporary folder for one test (`rdock-<suite>-<pid>-<name>`).
pub fn tempdir(suite: &str, name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("rdock-{suite}-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

/// A busybox root file system tar (scripts/make-busybox-rootfs.sh, from
/// Debian's busybox-static), built once per test binary into cargo's scratch
/// directory under target/, so nothing is left in /tmp.
pub fn busybox_rootfs() -> &'static Path {
    static ROOTFS: OnceLock<PathBuf> = OnceLock::new();
    ROOTFS.get_or_init(|| {
        let out = Path::new(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("busybox-rootfs-{}.tar", std::process::id()));
        let script =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/make-busybox-rootfs.sh");
        let status = Command::new("bash")
            .arg(&script)
            .arg(&out)
            .status()
            .expect("running make-busybox-rootfs.sh");
        assert!(
            status.success(),
            "make-busybox-rootfs.sh failed (apt-get install busybox-static)"
        );
        out
    })
}

/// `rdock --root ROOT ARGS`, ready to run: the caller's `RDOCK_ROOT` is
/// dropped and standard input is `/dev/null`.
pub fn rdock_command(root: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(rdock_bin());
    cmd.arg("--root")
        .arg(root)
        .args(args)
        .env_remove("RDOCK_ROOT")
        .stdin(std::process::Stdio::null());
    cmd
}

/// Runs `rdock --root ROOT ARGS` to completion.
pub fn rdock_at(root: &Path, args: &[&str]) -> Output {
    rdock_command(root, args).output().expect("running rdock")
}

/// Runs `rdock --root ROOT ARGS` with `SOURCE_DATE_EPOCH` set, for builds
/// whose image IDs tests compare.
pub fn rdock_at_epoch(root: &Path, args: &[&str], epoch: &str) -> Output {
    rdock_command(root, args)
        .env("SOURCE_DATE_EPOCH", epoch)
        .output()
        .expect("running rdock")
}

/// Runs the shell command `cmd` on a real terminal (script(1) makes one),
/// typing `input` into it; its output has the terminal's `\r`s removed.
pub fn on_terminal(cmd: &str, input: &[u8]) -> (Output, String) {
    use std::io::Write;
    let mut child = Command::new("script")
        .args(["-qec", cmd, "/dev/null"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("script (bsdutils)");
    child.stdin.take().unwrap().write_all(input).unwrap();
    let out = child.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout).replace('\r', "");
    (out, text)
}
