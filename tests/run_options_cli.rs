//! `rrun` options end to end, as root: tmpfs mounts as docker makes them
//! (mode 1777, `rw,noexec,nosuid,nodev`, `--tmpfs` options and
//! `--mount type=tmpfs`), an image's `VOLUME` as an anonymous volume,
//! `-p` ignored with a warning on `--network none|host`, and bad flag
//! values as one-line errors naming the flag.

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::OnceLock;

use common::{busybox_rootfs, rdock_at, tempdir};

/// One store per test binary with busybox imported.
fn root() -> &'static Path {
    static ROOT: OnceLock<PathBuf> = OnceLock::new();
    ROOT.get_or_init(|| {
        let root = tempdir("options", "store");
        let tar = busybox_rootfs().to_str().unwrap().to_owned();
        let out = rdock_at(&root, &["import", &tar, "busybox"]);
        assert!(out.status.success(), "{}", stderr(&out));
        root
    })
}

fn rdock(args: &[&str]) -> Output {
    rdock_at(root(), args)
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// `rrun --rm --network none ARGS`.
fn rrun(args: &[&str]) -> Output {
    let mut all = vec!["run", "--rm", "--network", "none"];
    all.extend_from_slice(args);
    rdock(&all)
}

fn ok(args: &[&str]) -> String {
    let out = rrun(args);
    assert!(out.status.success(), "rrun {args:?}: {}", stderr(&out));
    stdout(&out)
}

/// The line of /proc/mounts for `/t` and the mode of `/t`, seen by a
/// container run with `flags`.
fn tmpfs_at_t(flags: &[&str]) -> (String, String) {
    let mut args = flags.to_vec();
    args.extend([
        "busybox",
        "sh",
        "-c",
        "grep ' /t ' /proc/mounts; stat -c %a /t",
    ]);
    let out = ok(&args);
    let mut lines = out.lines();
    let mount = lines.next().unwrap_or_default().to_owned();
    let mode = lines.next().unwrap_or_default().to_owned();
    (mount, mode)
}

/// The options column of a /proc/mounts line.
fn options(mount: &str) -> Vec<String> {
    let field = mount.split_whitespace().nth(3).unwrap_or_default();
    field.split(',').map(str::to_owned).collect()
}

#[test]
fn tmpfs_mounts_as_docker_makes_them() {
    let (mount, mode) = tmpfs_at_t(&["--tmpfs", "/t"]);
    assert_eq!(mode, "1777", "{mount}");
    let opts = options(&mount);
    for o in ["rw", "noexec", "nosuid", "nodev"] {
        assert!(opts.iter().any(|x| x == o), "{o} missing: {mount}");
    }
    // A non-root user can write to it; a script on it cannot run.
    let out = ok(&[
        "--tmpfs",
        "/t",
        "-u",
        "65534:65534",
        "busybox",
        "sh",
        "-c",
        "echo hi > /t/f && cat /t/f; printf '#!/bin/sh\\necho ran\\n' > /t/x; chmod +x /t/x; /t/x || echo refused",
    ]);
    assert_eq!(out, "hi\nrefused\n");
    // :ro refuses writes.
    let out = rrun(&["--tmpfs", "/t:ro", "busybox", "touch", "/t/f"]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("Read-only file system"),
        "{}",
        stderr(&out)
    );
    // Options as mount(8) takes them.
    let (mount, mode) = tmpfs_at_t(&["--tmpfs", "/t:exec,size=64k,mode=700,uid=65534"]);
    assert_eq!(mode, "700");
    let opts = options(&mount);
    assert!(opts.iter().any(|o| o == "size=64k"), "{mount}");
    assert!(!opts.iter().any(|o| o == "noexec"), "{mount}");
    let out = ok(&[
        "--tmpfs",
        "/t:uid=65534,gid=65534",
        "busybox",
        "stat",
        "-c",
        "%u:%g",
        "/t",
    ]);
    assert_eq!(out, "65534:65534\n");
    // --mount type=tmpfs with docker's keys.
    let (mount, mode) = tmpfs_at_t(&[
        "--mount",
        "type=tmpfs,destination=/t,tmpfs-size=128k,tmpfs-mode=1770",
    ]);
    assert_eq!(mode, "1770");
    let opts = options(&mount);
    assert!(opts.iter().any(|o| o == "size=128k"), "{mount}");
    assert!(opts.iter().any(|o| o == "noexec"), "{mount}");
    let out = rrun(&[
        "--mount",
        "type=tmpfs,dst=/t,readonly",
        "busybox",
        "touch",
        "/t/f",
    ]);
    assert!(!out.status.success());
    // Bad options are one-line errors.
    for bad in ["/t:bogus", "/t:mode=999", "/t:size=12x"] {
        let out = rrun(&["--tmpfs", bad, "busybox", "true"]);
        assert_eq!(out.status.code(), Some(125), "{bad}");
        assert_eq!(stderr(&out).lines().count(), 1, "{}", stderr(&out));
        assert!(stderr(&out).contains("--tmpfs"), "{}", stderr(&out));
    }
}

#[test]
fn an_image_volume_is_an_anonymous_volume() {
    let ctx = tempdir("options", "volume-image");
    std::fs::write(
        ctx.join("Dockerfile"),
        "FROM busybox\nRUN mkdir /data && echo seed > /data/seed\nVOLUME /data\n",
    )
    .unwrap();
    let tag = format!("withvol{}", std::process::id());
    let out = rdock(&["build", "-t", &tag, ctx.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let volumes = || stdout(&rdock(&["volume", "ls", "-q"]));
    let before = volumes();
    let name = format!("vol-{}", std::process::id());
    let out = rdock(&[
        "run",
        "--name",
        &name,
        "--network",
        "none",
        &tag,
        "sh",
        "-c",
        "cat /data/seed; echo new > /data/new",
    ]);
    assert_eq!(stdout(&out), "seed\n", "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_slice(&rdock(&["inspect", &name]).stdout).unwrap();
    let vol = v[0]["Mounts"][0]["Name"].as_str().unwrap().to_owned();
    assert_eq!(v[0]["Mounts"][0]["Destination"], "/data");
    assert_eq!(vol.len(), 64, "anonymous: a random name");
    assert!(volumes().lines().any(|l| l == vol));
    // rm -v removes it, as docker's.
    assert!(rdock(&["rm", "-v", &name]).status.success());
    assert!(!volumes().lines().any(|l| l == vol));
    // --rm too; a flag's mount over the path replaces it.
    ok(&[&tag, "true"]);
    let out = ok(&["-v", "/data", &tag, "ls", "/data"]);
    assert_eq!(out, "seed\n");
    assert_eq!(volumes(), before);
    let _ = rdock(&["rmi", &tag]);
    let _ = std::fs::remove_dir_all(ctx);
}

#[test]
fn published_ports_without_a_network_are_ignored_with_a_warning() {
    let out = rdock(&[
        "run",
        "--rm",
        "--network",
        "host",
        "-p",
        "8080:80",
        "busybox",
        "true",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        stderr(&out),
        "WARNING: Published ports are discarded when using host network mode\n"
    );
    let out = rrun(&["-p", "8080:80", "busybox", "true"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).starts_with("WARNING: Published ports are discarded"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn bad_flag_values_are_one_line_errors_naming_the_flag() {
    for (args, flag) in [
        (&["--stop-signal", "FOO"][..], "--stop-signal"),
        (&["--cpus", "abc"], "--cpus"),
        (&["--pids-limit", "x"], "--pids-limit"),
        (&["--stop-timeout", "soon"], "--stop-timeout"),
        (&["--sig-proxy", "maybe"], "--sig-proxy"),
    ] {
        let mut all = args.to_vec();
        all.extend(["busybox", "true"]);
        let out = rrun(&all);
        assert_eq!(out.status.code(), Some(125), "{args:?}");
        let err = stderr(&out);
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
        assert!(err.starts_with("rdock: ") && err.contains(flag), "{err}");
    }
    // STOPSIGNAL shows as docker shows it.
    let name = format!("sig-{}", std::process::id());
    let out = rdock(&[
        "run",
        "--name",
        &name,
        "--network",
        "none",
        "--stop-signal",
        "10",
        "busybox",
        "true",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_slice(&rdock(&["inspect", &name]).stdout).unwrap();
    assert_eq!(v[0]["Config"]["StopSignal"], "SIGUSR1");
    assert!(rdock(&["rm", &name]).status.success());
}
