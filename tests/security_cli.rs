//! `rrun`'s security end to end, as root, checked from inside containers:
//! Docker's seccomp profile refuses `unshare` and `keyctl` (busybox's
//! `unshare`, and a static C probe of raw syscalls from
//! runner/tests/probe/probe.c bound into the container), /proc/kcore is
//! masked, and `--security-opt no-new-privileges` and `seccomp=unconfined`
//! show in /proc/self/status as docker's do.
#![allow(clippy::print_stderr)] // skip reasons go to the test log

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use common::{busybox_rootfs, rdock_at, tempdir};

/// One store per test binary with busybox imported.
fn root() -> &'static Path {
    static ROOT: OnceLock<PathBuf> = OnceLock::new();
    ROOT.get_or_init(|| {
        let root = tempdir("security", "store");
        let tar = busybox_rootfs().to_str().unwrap().to_owned();
        let out = rdock_at(&root, &["import", &tar, "busybox"]);
        assert!(out.status.success(), "{}", stderr(&out));
        root
    })
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// `rrun --rm --network none ARGS`: its output.
fn rrun(args: &[&str]) -> Output {
    let mut all = vec!["run", "--rm", "--network", "none"];
    all.extend_from_slice(args);
    rdock_at(root(), &all)
}

/// `rrun` expecting success; stdout.
fn ok(args: &[&str]) -> String {
    let out = rrun(args);
    assert!(out.status.success(), "rrun {args:?}: {}", stderr(&out));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The runner's syscall probe, built static once per test binary into
/// cargo's scratch folder.
fn probe() -> &'static Path {
    static PROBE: OnceLock<PathBuf> = OnceLock::new();
    PROBE.get_or_init(|| {
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("../runner/tests/probe/probe.c");
        let bin = Path::new(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("rdock-probe-{}", std::process::id()));
        let out = Command::new("gcc")
            .args(["-static", "-O1", "-o"])
            .arg(&bin)
            .arg(&src)
            .output()
            .expect("gcc missing: apt-get install -y gcc libc6-dev");
        assert!(out.status.success(), "{}", stderr(&out));
        bin
    })
}

/// `/proc/self/status` fields of a container run with `flags`.
fn status(flags: &[&str], field: &str) -> String {
    let mut args = flags.to_vec();
    args.extend(["busybox", "grep", field, "/proc/self/status"]);
    let out = ok(&args);
    out.split_whitespace().nth(1).unwrap_or_default().to_owned()
}

#[test]
fn seccomp_refuses_unshare_and_keyctl() {
    // busybox's unshare: the syscall fails, the shell goes on.
    let out = ok(&[
        "busybox",
        "sh",
        "-c",
        "unshare -U true; echo user=$?; unshare -m true; echo mount=$?",
    ]);
    assert!(out.ends_with("user=1\nmount=1\n"), "{out}");
    let mount = format!("{}:/probe:ro", probe().display());
    let out = ok(&[
        "-v",
        &mount,
        "busybox",
        "/probe",
        "unshare-user",
        "unshare-mount",
        "keyctl",
        "add_key",
        "getpid",
    ]);
    assert_eq!(
        out,
        "unshare-user=EPERM\nunshare-mount=EPERM\nkeyctl=EPERM\nadd_key=EPERM\ngetpid=ok\n"
    );
    // Unconfined, keyctl reaches the kernel (which answers for itself).
    let out = ok(&[
        "--security-opt",
        "seccomp=unconfined",
        "-v",
        &mount,
        "busybox",
        "/probe",
        "keyctl",
    ]);
    assert_ne!(out, "keyctl=EPERM\n");
}

#[test]
fn security_opts_show_in_proc_status() {
    assert_eq!(status(&[], "NoNewPrivs"), "0");
    assert_eq!(status(&[], "Seccomp:"), "2", "filter mode by default");
    let nnp = ["--security-opt", "no-new-privileges"];
    assert_eq!(status(&nnp, "NoNewPrivs"), "1");
    let nnp = ["--security-opt", "no-new-privileges=true"];
    assert_eq!(status(&nnp, "NoNewPrivs"), "1");
    let nnp = ["--security-opt", "no-new-privileges=false"];
    assert_eq!(status(&nnp, "NoNewPrivs"), "0");
    let unconfined = ["--security-opt", "seccomp=unconfined"];
    assert_eq!(status(&unconfined, "Seccomp:"), "0");
    // exec joins with the container's settings.
    let name = format!("nnp-{}", std::process::id());
    let out = rdock_at(
        root(),
        &[
            "run",
            "-d",
            "--network",
            "none",
            "--name",
            &name,
            "--security-opt",
            "no-new-privileges",
            "busybox",
            "sleep",
            "60",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let exec = rdock_at(
        root(),
        &["exec", &name, "grep", "NoNewPrivs", "/proc/self/status"],
    );
    let inspect = rdock_at(root(), &["inspect", &name]);
    let _ = rdock_at(root(), &["rm", "-f", &name]);
    assert_eq!(String::from_utf8_lossy(&exec.stdout), "NoNewPrivs:\t1\n");
    let v: serde_json::Value = serde_json::from_slice(&inspect.stdout).unwrap();
    assert_eq!(v[0]["HostConfig"]["SecurityOpt"][0], "no-new-privileges");
    assert_eq!(v[0]["Config"]["StopSignal"], "SIGTERM");
}

#[test]
fn bad_security_opts_are_one_line_errors() {
    for (opt, says) in [
        (
            "seccomp=/etc/profile.json",
            "custom seccomp profiles are not supported",
        ),
        ("no-new-privileges=maybe", "expected no-new-privileges"),
        ("apparmor=docker-default", "AppArmor"),
    ] {
        let out = rrun(&["--security-opt", opt, "busybox", "true"]);
        assert_eq!(out.status.code(), Some(125), "{opt}");
        let err = stderr(&out);
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(
            err.contains("--security-opt") && err.contains(says),
            "{err}"
        );
    }
}

#[test]
fn proc_kcore_is_masked() {
    // Masked files get /dev/null bound over them: empty, char device 1:3.
    let out = ok(&[
        "busybox",
        "sh",
        "-c",
        "for f in /proc/kcore /proc/keys /proc/timer_list; do \
         [ -e $f ] && echo $f $(stat -c %t:%T $f) $(head -c 64 $f | wc -c); done; true",
    ]);
    if Path::new("/proc/kcore").exists() {
        assert!(out.contains("/proc/kcore 1:3 0\n"), "{out}");
    } else {
        eprintln!("skipped the /proc/kcore check: the host has none");
    }
    if Path::new("/proc/timer_list").exists() {
        assert!(out.contains("/proc/timer_list 1:3 0\n"), "{out}");
    }
    // /proc/sys is read-only.
    let out = rrun(&[
        "busybox",
        "sh",
        "-c",
        "echo 1 > /proc/sys/kernel/ctrl-alt-del",
    ]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("Read-only file system"),
        "{}",
        stderr(&out)
    );
}
