//! Detached containers end to end, as root: `run -d` then `ps`, `logs`,
//! `exec`, `stop`, `kill`, `rm`, `start`, `wait`; the restart policy;
//! `--rm`; crash recovery when the monitor dies; and that nothing (mounts,
//! cgroups, folders, names) is left behind.

mod common;
#[path = "common/leftovers.rs"]
mod leftovers;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use common::{busybox_rootfs, rdock_at, rdock_bin, tempdir};

fn rdock_in(root: &Path, args: &[&str]) -> Output {
    rdock_at(root, args)
}

/// The store of this test binary.
fn root_dir() -> &'static Path {
    static ROOT: OnceLock<PathBuf> = OnceLock::new();
    ROOT.get_or_init(|| tempdir("lifecycle", "store"))
}

fn rdock(args: &[&str]) -> Output {
    rdock_in(root_dir(), args)
}

fn ok(args: &[&str]) -> String {
    let out = rdock(args);
    assert!(
        out.status.success(),
        "rdock {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn inspect(name: &str) -> serde_json::Value {
    let out = ok(&["container", "inspect", name]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    v[0].clone()
}

fn wait_for(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Asserts that nothing of container `id` (on the default bridge, at
/// address `ip` if known) remains on the host: no mount, cgroup, netns
/// file, veth, rule, folder or `ps` line.
fn assert_gone_from(id: &str, ip: Option<&str>) {
    leftovers::assert_nothing_left(id, "bridge", ip, &[]);
    let dir = root_dir().join("containers").join(id);
    assert!(!dir.exists(), "{} is left", dir.display());
    let ps = ok(&["ps", "-a", "--no-trunc", "-q"]);
    assert!(!ps.contains(id), "ps -a still lists {id}");
}

fn assert_gone(id: &str) {
    assert_gone_from(id, None);
}

fn setup() {
    static DONE: OnceLock<()> = OnceLock::new();
    DONE.get_or_init(|| {
        let out = rdock(&["import", busybox_rootfs().to_str().unwrap(), "busybox"]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    });
}

#[test]
fn detached_ps_logs_exec_stop_rm() {
    setup();
    let name = format!("web-{}", std::process::id());
    let id = ok(&[
        "run",
        "-d",
        "--name",
        &name,
        "busybox",
        "sh",
        "-c",
        "echo started; trap 'echo bye; exit 0' TERM; while true; do sleep 0.05; done",
    ]);
    let id = id.trim().to_owned();
    assert_eq!(id.len(), 64, "run -d prints the full ID: {id}");
    let ip = inspect(&id)["NetworkSettings"]["IPAddress"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(leftovers::link_exists(&leftovers::veth_name("bridge", &id)));
    let ps = ok(&["ps"]);
    let line = ps.lines().find(|l| l.contains(&name)).expect("ps lists it");
    assert!(line.starts_with(&id[..12]), "{line}");
    assert!(line.contains("Up "), "{line}");
    assert!(ps.starts_with("CONTAINER ID"), "{ps}");
    wait_for("the first log line", || ok(&["logs", &name]) == "started\n");

    // exec joins its namespaces: same hostname, same pid 1.
    let out = ok(&[
        "exec",
        &name,
        "sh",
        "-c",
        "hostname; cat /proc/1/cmdline | tr '\\0' ' '",
    ]);
    assert_eq!(out.lines().next().unwrap(), &id[..12]);
    assert!(out.contains("sh -c echo started"), "{out}");
    let out = rdock(&["exec", &name, "sh", "-c", "exit 5"]);
    assert_eq!(out.status.code(), Some(5));
    let out = rdock(&[
        "exec",
        "-e",
        "X=1",
        "-w",
        "/tmp",
        &name,
        "sh",
        "-c",
        "echo $X; pwd",
    ]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "1\n/tmp\n");

    // Short ID prefixes work as names do.
    let out = rdock(&["rm", &id[..8]]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "rm of a running container needs -f"
    );
    // logs -f follows until the container ends.
    let follow = Command::new(rdock_bin())
        .arg("--root")
        .arg(root_dir())
        .args(["logs", "-f", &name])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    ok(&["stop", &id[..8]]);
    let followed = follow.wait_with_output().unwrap();
    assert_eq!(String::from_utf8_lossy(&followed.stdout), "started\nbye\n");
    let state = inspect(&name);
    assert_eq!(state["State"]["Status"], "exited");
    assert_eq!(state["State"]["ExitCode"], 0);
    assert_eq!(ok(&["logs", &name]), "started\nbye\n");
    let ts = ok(&["logs", "-t", "--tail", "1", &name]);
    assert!(ts.ends_with("Z bye\n"), "{ts}");
    ok(&["rm", &name]);
    assert_gone_from(&id, Some(&ip));
}

#[test]
fn exec_it_gives_a_terminal_that_follows_resizes() {
    setup();
    let id = ok(&["run", "-d", "busybox", "sleep", "100"]);
    let id = id.trim();
    // On a real terminal (script(1) makes one) of 40x100, which a
    // background job resizes to 50x120 after 2 s: the kernel sends
    // SIGWINCH to `exec`, which passes the size on.
    let cmd = format!(
        "stty rows 40 cols 100; (sleep 2; stty rows 50 cols 120 </dev/tty) & {} --root {} exec -it {id} sh",
        rdock_bin().display(),
        root_dir().display()
    );
    let (out, text) = common::on_terminal(
        &cmd,
        b"tty; stty size; i=0; while [ \"$(stty size)\" != '50 120' ] && [ $i -lt 100 ]; \
          do sleep 0.1; i=$((i+1)); done; stty size; echo typed-$((6*7)); exit 7\n",
    );
    ok(&["rm", "-f", id]);
    assert!(text.contains("\n/dev/pts/0\n40 100\n"), "{text}");
    assert!(text.contains("\n50 120\ntyped-42\n"), "{text}");
    assert_eq!(out.status.code(), Some(7), "{text}");
}

#[test]
fn stop_kills_after_the_timeout_and_kill_sends_signals() {
    setup();
    let id = ok(&[
        "run",
        "-d",
        "busybox",
        "sh",
        "-c",
        "trap '' TERM; while true; do sleep 0.05; done",
    ]);
    let id = id.trim();
    let t = Instant::now();
    ok(&["stop", "-t", "1", id]);
    assert!(t.elapsed() >= Duration::from_millis(900));
    assert_eq!(inspect(id)["State"]["ExitCode"], 137);

    // start runs it again, kill -s sends the signal.
    ok(&["start", id]);
    assert_eq!(inspect(id)["State"]["Status"], "running");
    ok(&["kill", "-s", "KILL", id]);
    assert_eq!(ok(&["wait", id]), "137\n");
    ok(&["rm", "-f", id]);
    assert_gone(id);

    // --stop-signal is what stop sends first.
    let id = ok(&[
        "run",
        "-d",
        "--stop-signal",
        "USR1",
        "busybox",
        "sh",
        "-c",
        "trap 'exit 7' USR1; while true; do sleep 0.05; done",
    ]);
    let id = id.trim();
    std::thread::sleep(Duration::from_millis(300));
    ok(&["stop", id]);
    assert_eq!(inspect(id)["State"]["ExitCode"], 7);
    ok(&["rm", id]);
}

#[test]
fn restart_on_failure_restarts_twice() {
    setup();
    let id = ok(&[
        "run",
        "-d",
        "--restart",
        "on-failure:2",
        "busybox",
        "sh",
        "-c",
        "echo run; exit 3",
    ]);
    let id = id.trim();
    assert_eq!(ok(&["wait", id]), "3\n");
    let v = inspect(id);
    assert_eq!(v["RestartCount"], 2, "{v}");
    assert_eq!(v["State"]["Status"], "exited");
    assert_eq!(ok(&["logs", id]), "run\nrun\nrun\n");
    ok(&["rm", id]);
    assert_gone(id);
}

#[test]
fn rm_option_removes_everything() {
    setup();
    let id = ok(&["run", "-d", "--rm", "busybox", "sh", "-c", "sleep 0.2"]);
    let id = id.trim();
    wait_for("--rm to remove it", || {
        !root_dir().join("containers").join(id).exists()
    });
    assert_gone(id);
    // Foreground --rm too.
    let name = format!("fg-rm-{}", std::process::id());
    assert!(rdock(&["run", "--rm", "--name", &name, "busybox", "true"])
        .status
        .success());
    assert!(!ok(&["ps", "-a"]).contains(&name));
    assert!(!rdock(&["container", "inspect", &name]).status.success());
}

#[test]
fn dead_monitor_shows_exited_and_rm_cleans_up() {
    setup();
    let id = ok(&["run", "-d", "busybox", "sleep", "1000"]);
    let id = id.trim();
    assert!(inspect(id)["State"]["Pid"].as_i64().unwrap() > 0);
    // Kill the monitor process (the parent of the container's init chain).
    let state: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(root_dir().join("containers").join(id).join("state.json"))
            .unwrap(),
    )
    .unwrap();
    let mpid = state["monitor_pid"].as_i64().unwrap().to_string();
    assert!(Command::new("kill")
        .args(["-9", &mpid])
        .status()
        .unwrap()
        .success());
    wait_for("the monitor to die", || {
        inspect(id)["State"]["Status"] == "exited"
    });
    ok(&["rm", id]);
    assert_gone(id);
}

#[test]
fn names_are_unique_and_volumes_in_use_stay() {
    setup();
    let name = format!("uniq-{}", std::process::id());
    let vol = format!("v-{}", std::process::id());
    ok(&[
        "run",
        "--name",
        &name,
        "-v",
        &format!("{vol}:/v"),
        "busybox",
        "true",
    ]);
    let out = rdock(&["run", "--name", &name, "busybox", "true"]);
    assert_eq!(out.status.code(), Some(125));
    assert!(String::from_utf8_lossy(&out.stderr).contains("is already in use"));
    let out = rdock(&["volume", "rm", &vol]);
    assert!(!out.status.success(), "a volume in use is kept");
    ok(&["rm", &name]);
    ok(&["volume", "rm", &vol]);

    // rm -v takes the container's anonymous volumes with it.
    let anon = format!("anon-{}", std::process::id());
    ok(&[
        "run", "--name", &anon, "-v", "/anon", "busybox", "touch", "/anon/x",
    ]);
    let vol = inspect(&anon)["Mounts"][0]["Name"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(vol.len(), 64, "an anonymous volume gets a random name");
    assert!(ok(&["volume", "ls", "-q"]).contains(&vol));
    ok(&["rm", "-v", &anon]);
    assert!(!ok(&["volume", "ls", "-q"]).contains(&vol));
}

#[test]
fn user_network_members_resolve_each_other_by_name() {
    setup();
    let net = format!("lcnet{}", std::process::id());
    let srv = format!("srv{}", std::process::id());
    ok(&["network", "create", &net]);
    let id = ok(&[
        "run",
        "-d",
        "--name",
        &srv,
        "--network",
        &net,
        "busybox",
        "sleep",
        "100",
    ]);
    let out = rdock(&[
        "run",
        "--rm",
        "--network",
        &net,
        "busybox",
        "ping",
        "-c1",
        "-W2",
        &srv,
    ]);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    ok(&["rm", "-f", &srv]);
    ok(&["network", "rm", &net]);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("1 packets received"), "{text}");
    assert_gone(id.trim());
    leftovers::assert_nothing_left(id.trim(), &net, None, &[]);
}

#[test]
fn limits_land_in_the_container_cgroup() {
    setup();
    let id = ok(&[
        "run",
        "-d",
        "--cpus",
        "0.5",
        "--pids-limit",
        "50",
        "-m",
        "64m",
        "busybox",
        "sleep",
        "100",
    ]);
    let id = id.trim();
    let cg = |ctrl: &str, file: &str| {
        std::fs::read_to_string(
            Path::new("/sys/fs/cgroup")
                .join(ctrl)
                .join("rdock")
                .join(id)
                .join(file),
        )
        .unwrap_or_default()
        .trim()
        .to_owned()
    };
    let (quota, pids, mem) = (
        cg("cpu", "cpu.cfs_quota_us"),
        cg("pids", "pids.max"),
        cg("memory", "memory.limit_in_bytes"),
    );
    ok(&["rm", "-f", id]);
    assert_eq!(quota, "50000");
    assert_eq!(pids, "50");
    assert_eq!(mem, (64u64 << 20).to_string());
    assert_gone(id);
}

#[test]
fn images_of_containers_survive_rmi_and_prune() {
    // Its own store: prune must not race the other tests' builds.
    let root = tempdir("lifecycle", "prune-store");
    let run = |args: &[&str]| rdock_in(&root, args);
    let out = run(&["import", busybox_rootfs().to_str().unwrap(), "keepme"]);
    assert!(out.status.success());
    let out = run(&["run", "--name", "user", "keepme", "echo", "hello"]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "hello\n");

    let out = run(&["rmi", "keepme"]);
    assert!(!out.status.success(), "rmi of a used image needs -f");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("container") && err.contains("must force"),
        "{err}"
    );
    assert!(run(&["rmi", "-f", "keepme"]).status.success());
    let out = run(&["prune"]);
    assert!(out.status.success());
    assert!(run(&["store", "verify"]).status.success());

    // The container still starts: its image's layers were kept.
    let out = run(&["start", "user"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = run(&["wait", "user"]);
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "0");
    let logs = String::from_utf8_lossy(&run(&["logs", "user"]).stdout).into_owned();
    assert_eq!(logs, "hello\nhello\n");

    // Without the container, prune takes the image's content.
    assert!(run(&["rm", "user"]).status.success());
    let out = run(&["prune"]);
    assert!(out.status.success());
    let blobs = std::fs::read_dir(root.join("blobs/sha256"))
        .unwrap()
        .count();
    assert_eq!(blobs, 0, "prune left blobs of an unused image");
    let _ = std::fs::remove_dir_all(&root);
}
