//! Nothing outlives a run: no mounts in the host's mount table and no
//! runtime directories in the temp dir, whether the command succeeds, fails
//! before exec, or is killed. In its own test binary so no concurrent run
//! can be caught halfway.

mod common;

use std::fs;
use std::time::Duration;

use common::fixture;
use rdock_runner::{run, Mount};

fn mount_lines() -> Vec<String> {
    fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

/// Runtime dirs in every place the runner may put them (a tmpfs `/run` or
/// `/dev/shm`, or the temp dir).
fn runtime_dirs() -> Vec<String> {
    let mut out: Vec<String> = [std::env::temp_dir(), "/run".into(), "/dev/shm".into()]
        .iter()
        .filter_map(|d| fs::read_dir(d).ok())
        .flatten()
        .filter_map(|e| e.ok())
        .map(|e| e.path().to_string_lossy().into_owned())
        .filter(|n| n.contains("/rdock-run-"))
        .collect();
    out.sort();
    out
}

#[test]
fn no_mounts_or_temp_dirs_leak() {
    // A private temp dir: other suites running meanwhile make their own
    // runtime dirs elsewhere.
    let private = std::env::temp_dir().join("rdock-leaks-run-test");
    fs::create_dir_all(&private).unwrap();
    std::env::set_var("TMPDIR", &private);
    let Some(f) = fixture() else { return };
    let before_dirs = runtime_dirs();
    let before = mount_lines();

    let mut ok = f.sh("mount >/dev/null; echo ok > /tmp-file");
    ok.mounts = vec![Mount::Tmpfs {
        target: "/cache".into(),
        size: None,
    }];
    assert!(run(&ok).unwrap().status.success());
    assert!(run(&f.spec(&["missing-binary"])).is_err());
    let mut slow = f.spec(&["sleep", "30"]);
    slow.timeout = Some(Duration::from_millis(200));
    assert!(run(&slow).unwrap().timed_out);

    let after = mount_lines();
    let ours = f.dir.path().to_string_lossy().into_owned();
    let leaked: Vec<&String> = after
        .iter()
        .filter(|l| l.contains("rdock-run-") || l.contains(&ours) || !before.contains(l))
        .collect();
    assert!(leaked.is_empty(), "leaked mounts: {leaked:#?}");
    assert_eq!(runtime_dirs(), before_dirs);
    assert!(!before_dirs
        .iter()
        .any(|d| d.starts_with(&*private.to_string_lossy())));
}
