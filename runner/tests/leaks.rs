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

fn runtime_dirs() -> Vec<String> {
    fs::read_dir(std::env::temp_dir())
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("rdock-run-"))
        .collect()
}

#[test]
fn no_mounts_or_temp_dirs_leak() {
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
}
