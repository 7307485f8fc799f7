//! A tiny busybox root filesystem for the sandbox tests, in a temp dir with
//! an empty upper and work dir beside it.
#![allow(dead_code)]

use std::fs;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::Command;

use rdock_runner::RunSpec;

/// Debian's `busybox-static` puts a static busybox here.
const BUSYBOX: &str = "/bin/busybox";

#[derive(Debug)]
pub struct Fixture {
    pub dir: tempfile::TempDir,
    pub lower: PathBuf,
    pub upper: PathBuf,
    pub work: PathBuf,
}

impl Fixture {
    /// A spec running `sh -c script` in this rootfs.
    pub fn sh(&self, script: &str) -> RunSpec {
        self.spec(&["sh", "-c", script])
    }

    pub fn spec(&self, args: &[&str]) -> RunSpec {
        RunSpec::new(
            vec![self.lower.clone()],
            &self.upper,
            &self.work,
            args.iter().map(|a| a.to_string()).collect(),
        )
    }

    /// Every path under the upper dir, relative, sorted.
    pub fn upper_entries(&self) -> Vec<String> {
        let mut out = Vec::new();
        walk(&self.upper, &self.upper, &mut out);
        out.sort();
        out
    }
}

fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
    for e in fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        out.push(p.strip_prefix(root).unwrap().to_string_lossy().into_owned());
        if p.symlink_metadata().unwrap().is_dir() {
            walk(root, &p, out);
        }
    }
}

/// `None` (with the reason printed) when not root: the sandbox needs
/// `CAP_SYS_ADMIN`. As root, a missing busybox is a hard failure.
#[allow(clippy::print_stderr)] // the skip reason is for the test log
pub fn fixture() -> Option<Fixture> {
    if !nix::unistd::Uid::effective().is_root() {
        eprintln!("skipping: the sandbox tests need root");
        return None;
    }
    assert!(
        Path::new(BUSYBOX).exists(),
        "{BUSYBOX} missing: apt-get install -y busybox-static"
    );
    let dir = tempfile::tempdir().unwrap();
    let lower = dir.path().join("lower");
    let upper = dir.path().join("upper");
    let work = dir.path().join("work");
    for d in [&upper, &work, &lower.join("bin"), &lower.join("etc")] {
        fs::create_dir_all(d).unwrap();
    }
    fs::copy(BUSYBOX, lower.join("bin/busybox")).unwrap();
    let list = Command::new(BUSYBOX).arg("--list").output().unwrap();
    for applet in String::from_utf8(list.stdout).unwrap().lines() {
        if applet != "busybox" {
            symlink("busybox", lower.join("bin").join(applet)).unwrap();
        }
    }
    fs::write(
        lower.join("etc/passwd"),
        "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:app:/home/app:/bin/sh\n",
    )
    .unwrap();
    fs::write(
        lower.join("etc/group"),
        "root:x:0:\napp:x:1000:\nstaff:x:50:app\n",
    )
    .unwrap();
    fs::write(lower.join("etc/motd"), "hello from the image\n").unwrap();
    Some(Fixture {
        dir,
        lower,
        upper,
        work,
    })
}

/// The command's stdout as a trimmed string.
pub fn out(o: &rdock_runner::Outcome) -> String {
    String::from_utf8_lossy(&o.stdout).trim().to_owned()
}

/// Builds `tests/probe/probe.c` statically into the image as `/bin/probe`.
pub fn install_probe(f: &Fixture) {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/probe/probe.c");
    let out = Command::new("gcc")
        .args(["-static", "-O1", "-o"])
        .arg(f.lower.join("bin/probe"))
        .arg(&src)
        .output()
        .expect("gcc missing: apt-get install -y gcc libc6-dev");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A cgroup name unique to this test process and `tag`.
pub fn cgroup_name(tag: &str) -> String {
    format!("rdock-test-{}/{tag}", std::process::id())
}

/// Every cgroup directory named `name` under the host's hierarchies.
pub fn cgroup_dirs(name: &str) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in fs::read_dir("/sys/fs/cgroup").unwrap().flatten() {
        let d = e.path().join(name);
        if d.exists() {
            out.push(d);
        }
    }
    out
}

/// Removes the per-process cgroup parents when dropped, also when a test
/// fails (a parent still used by a concurrent test stays: rmdir refuses).
pub struct CgroupParents;

impl Drop for CgroupParents {
    fn drop(&mut self) {
        remove_test_cgroup_parents();
    }
}

/// Removes the per-process cgroup parents the tests created.
pub fn remove_test_cgroup_parents() {
    let parent = format!("rdock-test-{}", std::process::id());
    for e in fs::read_dir("/sys/fs/cgroup").unwrap().flatten() {
        let _ = fs::remove_dir(e.path().join(&parent));
    }
}
