//! Nothing outlives a container: no mounts, runtime directories or cgroup
//! directories after a clean exit, a kill, a dropped handle, a failed
//! start, or an exec. One test in its own binary so no concurrent run can
//! be caught halfway.

mod common;

use std::fs;

use common::{cgroup_dirs, cgroup_name, fixture};
use nix::sys::signal::Signal;
use rdock_runner::{exec, spawn, ExecSpec, Network, Stdio};

/// Points this process's temp dir at a private directory, so runtime dirs
/// of other processes (other test suites running meanwhile) do not count.
/// The only test of this binary, so nothing reads the variable meanwhile.
fn private_tmp() {
    let dir = std::env::temp_dir().join("rdock-leaks-test");
    fs::create_dir_all(&dir).unwrap();
    std::env::set_var("TMPDIR", &dir);
}

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
fn containers_leave_nothing_behind() {
    private_tmp();
    let Some(f) = fixture() else { return };
    let before_dirs = runtime_dirs();
    let before = mount_lines();
    let _parents = common::CgroupParents;
    let name = cgroup_name("leaks");
    let container = |args: &[&str]| {
        let mut s = f.spec(args);
        s.cgroup = Some(name.clone());
        s.resources.pids_limit = Some(50);
        s.stdio = Stdio::Null;
        s
    };

    // Clean exit.
    assert!(spawn(&container(&["true"]))
        .unwrap()
        .wait()
        .unwrap()
        .outcome
        .status
        .success());
    assert!(cgroup_dirs(&name).is_empty());
    // Killed, with an exec'd process and a pty.
    let mut spec = container(&["sleep", "30"]);
    spec.stdio = Stdio::Pty;
    spec.init = true;
    let mut r = spawn(&spec).unwrap();
    let _master = r.pty_master();
    let mut e = ExecSpec::new(vec!["sleep".into(), "30".into()]);
    e.stdio = Stdio::Pty;
    let ex = exec(r.pid(), &e).unwrap();
    r.signal(Signal::SIGKILL).unwrap();
    r.wait().unwrap();
    ex.wait().unwrap();
    assert!(cgroup_dirs(&name).is_empty());
    // Dropped without wait.
    drop(spawn(&container(&["sleep", "30"])).unwrap());
    assert!(cgroup_dirs(&name).is_empty());
    // Failed starts: before exec, and before fork.
    assert!(spawn(&container(&["missing-binary"])).is_err());
    assert!(cgroup_dirs(&name).is_empty());
    let mut bad = container(&["true"]);
    bad.network = Network::Join("/nonexistent/netns".into());
    assert!(spawn(&bad).is_err());
    let mut bad = container(&["true"]);
    bad.user = "nobody-here".into();
    assert!(spawn(&bad).is_err());
    let mut bad = container(&["true"]);
    bad.security.cap_add = vec!["CAP_FLY".into()];
    assert!(spawn(&bad).is_err());
    // A cgroup that cannot take the limit: created, then removed again.
    let mut bad = container(&["true"]);
    bad.resources.cpus = Some(1e9);
    assert!(spawn(&bad).is_err());
    assert!(cgroup_dirs(&name).is_empty());
    cgroup_cleanup_kills_what_is_left(&f);
    // The cleanup functions are idempotent.
    rdock_runner::remove_cgroup(&name).unwrap();
    rdock_runner::remove_cgroup(&name).unwrap();
    rdock_runner::kill_cgroup(&name).unwrap();

    let after = mount_lines();
    let ours = f.dir.path().to_string_lossy().into_owned();
    let leaked: Vec<&String> = after
        .iter()
        // Other suites on the machine mount things meanwhile: only ours count.
        .filter(|l| !before.contains(l) && (l.contains("rdock-run-") || l.contains(&ours)))
        .collect();
    assert!(leaked.is_empty(), "leaked mounts: {leaked:#?}");
    assert_eq!(runtime_dirs(), before_dirs);
    assert!(before_dirs.is_empty(), "{before_dirs:?}");
}

/// What `rm -f` of a container whose monitor died does.
fn cgroup_cleanup_kills_what_is_left(f: &common::Fixture) {
    let _parents = common::CgroupParents;
    let name = cgroup_name("rmf");
    let mut spec = f.spec(&["sleep", "30"]);
    spec.cgroup = Some(name.clone());
    spec.stdio = Stdio::Null;
    let r = spawn(&spec).unwrap();
    rdock_runner::kill_cgroup(&name).unwrap();
    let done = r.wait().unwrap();
    assert_eq!(done.outcome.status, rdock_runner::ExitStatus::Signaled(9));
    rdock_runner::remove_cgroup(&name).unwrap();
    assert!(cgroup_dirs(&name).is_empty());
}
