//! `rrun` (= `rdock run`) end to end, as root: isolation (pid 1, hostname,
//! processes, network), docker's exit codes, the flags that shape the
//! command (-e, --env-file, -w, -u, --entrypoint, --read-only, --init),
//! limits (--pids-limit, --memory), volumes, signal forwarding, and that
//! failed starts leave nothing behind. Images come from `rdock import` of
//! the busybox rootfs.

mod common;
#[path = "common/leftovers.rs"]
mod leftovers;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use common::{busybox_rootfs, rdock_at, rdock_bin, tempdir};

/// One store per test binary with busybox imported.
fn root() -> &'static Path {
    static ROOT: OnceLock<PathBuf> = OnceLock::new();
    ROOT.get_or_init(|| {
        let root = tempdir("run", "store");
        let out = rdock(
            &root,
            &["import", busybox_rootfs().to_str().unwrap(), "busybox"],
        );
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        root
    })
}

fn rdock(root: &Path, args: &[&str]) -> Output {
    rdock_at(root, args)
}

/// `rdock run ARGS` on the shared store.
fn rrun(args: &[&str]) -> Output {
    let mut all = vec!["run"];
    all.extend_from_slice(args);
    rdock(root(), &all)
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn code(out: &Output) -> i32 {
    out.status.code().unwrap_or(-1)
}

/// Runs and expects exit 0; returns stdout.
fn ok(args: &[&str]) -> String {
    let out = rrun(args);
    assert_eq!(code(&out), 0, "rrun {args:?}: {}", stderr(&out));
    stdout(&out)
}

/// A store of its own (with busybox) for tests that count what is left.
fn own_root(name: &str) -> PathBuf {
    let root = tempdir("run", name);
    let out = rdock(
        &root,
        &["import", busybox_rootfs().to_str().unwrap(), "busybox"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    root
}

fn container_dirs(root: &Path) -> usize {
    std::fs::read_dir(root.join("containers"))
        .map(|d| d.flatten().filter(|e| e.file_name().len() == 64).count())
        .unwrap_or(0)
}

fn rdock_mounts() -> Vec<String> {
    let text = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    let root = root().display().to_string();
    text.lines()
        .filter(|l| l.contains(&root) || l.contains("rdock-run-"))
        .map(str::to_owned)
        .collect()
}

#[test]
fn command_is_pid_1_in_its_own_namespaces() {
    let out = ok(&[
        "--rm",
        "--network",
        "none",
        "busybox",
        "sh",
        "-c",
        "echo $$; hostname; ps -o pid= | wc -l; ls /sys/class/net",
    ]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "1", "{out}");
    // The default host name is the short ID.
    assert_eq!(lines[1].len(), 12, "{out}");
    assert!(lines[1].bytes().all(|b| b.is_ascii_hexdigit()), "{out}");
    // sh, ps and wc only: no host process is visible.
    let procs: usize = lines[2].trim().parse().unwrap();
    assert!(procs <= 4, "{out}");
    assert_eq!(&lines[3..], ["lo"], "--network none has only lo: {out}");
    let out = ok(&["--rm", "-h", "box1", "busybox", "hostname"]);
    assert_eq!(out, "box1\n");
}

#[test]
fn exit_codes_as_docker() {
    assert_eq!(code(&rrun(&["--rm", "busybox", "true"])), 0);
    assert_eq!(code(&rrun(&["--rm", "busybox", "sh", "-c", "exit 3"])), 3);
    let out = rrun(&["--rm", "busybox", "no-such-command"]);
    assert_eq!(code(&out), 127, "{}", stderr(&out));
    assert!(stderr(&out).contains("no-such-command"), "{}", stderr(&out));
    let out = rrun(&["--rm", "busybox", "/etc/passwd"]);
    assert_eq!(code(&out), 126, "{}", stderr(&out));
    // pid 1 cannot be killed from inside its namespace (as with docker);
    // under --init the command is not pid 1, and its death by SIGKILL
    // becomes 128+9.
    let out = rrun(&["--rm", "--init", "busybox", "sh", "-c", "kill -9 $$"]);
    assert_eq!(code(&out), 137);
}

#[test]
fn missing_image_and_bad_flags_exit_125_and_leave_nothing() {
    let root = own_root("failed-starts");
    let rrun = |args: &[&str]| {
        let mut all = vec!["run"];
        all.extend_from_slice(args);
        rdock(&root, &all)
    };
    let out = rrun(&["--rm", "no-such-image:1", "true"]);
    assert_eq!(code(&out), 125);
    assert!(stderr(&out).contains("Unable to find image 'no-such-image:1' locally"));
    assert_eq!(stderr(&out).lines().count(), 1, "{}", stderr(&out));
    for bad in [
        &["--memory", "12x", "busybox", "true"][..],
        &["--restart", "sometimes", "busybox", "true"],
        &["--rm", "--restart", "always", "busybox", "true"],
        &[
            "--mount",
            "type=bind,source=/no/such/dir,target=/x",
            "busybox",
            "true",
        ],
        &["--name=-bad", "busybox", "true"],
        &["--userns", "remap", "busybox", "true"],
        &["--network", "no-such-net", "busybox", "true"],
    ] {
        let out = rrun(bad);
        assert_eq!(code(&out), 125, "{bad:?}: {}", stderr(&out));
        assert_eq!(stderr(&out).lines().count(), 1, "{bad:?}: {}", stderr(&out));
    }
    let out = rrun(&[
        "--mount",
        "type=bind,source=/no/such/dir,target=/x",
        "busybox",
        "true",
    ]);
    assert!(stderr(&out).contains("bind source path does not exist: /no/such/dir"));
    // A command that cannot start, with --rm: nothing stays either.
    let cid = root.join("cid");
    let out = rrun(&[
        "--rm",
        "--cidfile",
        cid.to_str().unwrap(),
        "busybox",
        "no-such-command",
    ]);
    assert_eq!(code(&out), 127);
    assert_eq!(container_dirs(&root), 0);
    assert!(rdock_mounts().is_empty(), "{:?}", rdock_mounts());
    let id = std::fs::read_to_string(&cid).unwrap();
    leftovers::assert_nothing_left(&id, "bridge", None, &[]);
}

#[test]
fn environment_workdir_user_entrypoint() {
    let dir = tempdir("run", "envfile");
    let env_file = dir.join("env");
    std::fs::write(&env_file, "# comment\nFROM_FILE=1\nBOTH=file\n").unwrap();
    let out = ok(&[
        "--rm",
        "--env-file",
        env_file.to_str().unwrap(),
        "-e",
        "BOTH=flag",
        "-e",
        "A=x y",
        "-w",
        "/tmp/work",
        "-u",
        "65534:65534",
        "busybox",
        "sh",
        "-c",
        "echo $FROM_FILE $BOTH $A; pwd; id -u; id -g",
    ]);
    assert_eq!(out, "1 flag x y\n/tmp/work\n65534\n65534\n");
    let out = ok(&["--rm", "--entrypoint", "echo", "busybox", "a", "b"]);
    assert_eq!(out, "a b\n");
    let out = ok(&["--rm", "--entrypoint", "", "busybox", "echo", "reset"]);
    assert_eq!(out, "reset\n");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn read_only_and_init() {
    let out = rrun(&["--rm", "--read-only", "busybox", "touch", "/x"]);
    assert_ne!(code(&out), 0);
    assert!(
        stderr(&out).contains("Read-only file system"),
        "{}",
        stderr(&out)
    );
    // Volumes and tmpfs stay writable on a read-only root.
    ok(&[
        "--rm",
        "--read-only",
        "--tmpfs",
        "/scratch",
        "busybox",
        "touch",
        "/scratch/x",
    ]);
    // With --init the command is not pid 1, and orphans are reaped.
    let out = ok(&[
        "--rm",
        "--init",
        "busybox",
        "sh",
        "-c",
        "echo $$; (sleep 0.1 &); sleep 0.5; ps -o stat= | grep -c Z || true",
    ]);
    let lines: Vec<&str> = out.lines().collect();
    assert_ne!(lines[0], "1", "{out}");
    assert_eq!(lines[1], "0", "no zombies: {out}");
}

#[test]
fn limits_stop_fork_bombs_and_memory_hogs() {
    // Forks until the limit refuses, then reports how far it got.
    let out = rrun(&[
        "--rm",
        "--pids-limit",
        "20",
        "busybox",
        "sh",
        "-c",
        "i=0; while [ $i -lt 100 ]; do sleep 5 & i=$((i+1)); done 2>/dev/null; echo started",
    ]);
    assert_ne!(
        code(&out),
        0,
        "100 processes under --pids-limit 20: {}",
        stdout(&out)
    );
    // The host still forks.
    assert!(Command::new("true").status().unwrap().success());

    let name = format!("hog-{}", std::process::id());
    let out = rrun(&[
        "--name",
        &name,
        "-m",
        "16m",
        "--memory-swap",
        "16m",
        "busybox",
        "sh",
        "-c",
        "x=a; while true; do x=$x$x; done",
    ]);
    assert_eq!(code(&out), 137, "{}", stderr(&out));
    let out = rdock(root(), &["inspect", &name]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v[0]["State"]["OOMKilled"], true, "{v}");
    assert_eq!(v[0]["State"]["ExitCode"], 137);
    assert!(rdock(root(), &["rm", &name]).status.success());
}

#[test]
fn volumes_persist_and_named_volumes_copy_up() {
    let host = tempdir("run", "bind");
    let bind = format!("{}:/data", host.display());
    ok(&[
        "--rm",
        "-v",
        &bind,
        "busybox",
        "sh",
        "-c",
        "echo hi > /data/f",
    ]);
    assert_eq!(std::fs::read_to_string(host.join("f")).unwrap(), "hi\n");
    let ro = format!("{}:/data:ro", host.display());
    assert_ne!(
        code(&rrun(&["--rm", "-v", &ro, "busybox", "touch", "/data/g"])),
        0
    );
    // A missing host path for -v is an error (docker would make an empty
    // folder, hiding typos): one line, exit 125, nothing created.
    let missing = host.join("new/dir");
    let v = format!("{}:/m", missing.display());
    let out = rrun(&["--rm", "-v", &v, "busybox", "true"]);
    assert_eq!(code(&out), 125);
    let err = stderr(&out);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains(&missing.display().to_string()), "{err}");
    assert!(!missing.exists());

    let vol = format!("vol{}", std::process::id());
    // An empty named volume takes the image's content at its path.
    let out = ok(&[
        "--rm",
        "-v",
        &format!("{vol}:/etc"),
        "busybox",
        "cat",
        "/etc/passwd",
    ]);
    assert!(out.contains("root:"), "{out}");
    ok(&[
        "--rm",
        "-v",
        &format!("{vol}:/v"),
        "busybox",
        "sh",
        "-c",
        "echo kept > /v/note",
    ]);
    let out = ok(&[
        "--rm",
        "-v",
        &format!("{vol}:/v"),
        "busybox",
        "cat",
        "/v/note",
        "/v/passwd",
    ]);
    assert!(out.starts_with("kept\nroot:"), "{out}");
    let ls = rdock(root(), &["volume", "ls", "-q"]);
    assert!(stdout(&ls).lines().any(|l| l == vol));
    assert!(rdock(root(), &["volume", "rm", &vol]).status.success());
    std::fs::remove_dir_all(host).unwrap();
}

#[test]
fn signals_are_forwarded_to_the_container() {
    let name = format!("sig-{}", std::process::id());
    let child = Command::new(rdock_bin())
        .arg("--root")
        .arg(root())
        .args(["run", "--rm", "--name", &name, "busybox", "sh", "-c"])
        .arg("trap 'echo got; exit 42' TERM; echo ready; while true; do sleep 0.05; done")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let ps = stdout(&rdock(root(), &["ps"]));
        if ps.contains(&name) {
            break;
        }
        assert!(Instant::now() < deadline, "container never ran: {ps}");
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(300));
    let pid = child.id().to_string();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    let out = child.wait_with_output().unwrap();
    assert_eq!(code(&out), 42, "{}", stderr(&out));
    assert_eq!(stdout(&out), "ready\ngot\n");
}

#[test]
fn output_goes_to_the_terminal_and_the_log() {
    let name = format!("log-{}", std::process::id());
    let out = rrun(&[
        "--name",
        &name,
        "busybox",
        "sh",
        "-c",
        "echo out; echo err >&2",
    ]);
    assert_eq!(stdout(&out), "out\n");
    assert_eq!(stderr(&out), "err\n");
    let logs = rdock(root(), &["logs", &name]);
    assert_eq!(stdout(&logs), "out\n");
    assert_eq!(stderr(&logs), "err\n");
    let log_path = {
        let v: serde_json::Value =
            serde_json::from_slice(&rdock(root(), &["inspect", &name]).stdout).unwrap();
        PathBuf::from(v[0]["LogPath"].as_str().unwrap())
    };
    let first = std::fs::read_to_string(&log_path).unwrap();
    let rec: serde_json::Value = serde_json::from_str(first.lines().next().unwrap()).unwrap();
    assert!(rec["stream"] == "stdout" || rec["stream"] == "stderr");
    assert!(rec["time"].as_str().unwrap().ends_with('Z'));
    assert!(rdock(root(), &["rm", &name]).status.success());
    assert!(!log_path.exists());
}

#[test]
fn capabilities_follow_the_flags() {
    let caps = |flags: &[&str]| {
        let mut args = vec!["--rm"];
        args.extend_from_slice(flags);
        args.extend_from_slice(&["busybox", "sh", "-c", "grep CapEff /proc/self/status"]);
        ok(&args).split_whitespace().nth(1).unwrap().to_owned()
    };
    assert_eq!(caps(&[]), "00000000a80425fb", "docker's default set");
    assert_eq!(caps(&["--cap-drop", "ALL"]), "0000000000000000");
    assert_eq!(caps(&["--cap-add", "NET_ADMIN"]), "00000000a80435fb");
    assert_ne!(caps(&["--privileged"]), "00000000a80425fb");
}

#[test]
fn interactive_passes_stdin() {
    let run = |args: &[&str]| {
        let mut child = Command::new(rdock_bin())
            .arg("--root")
            .arg(root())
            .arg("run")
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        use std::io::Write;
        child.stdin.take().unwrap().write_all(b"hello\n").unwrap();
        child.wait_with_output().unwrap()
    };
    assert_eq!(stdout(&run(&["--rm", "-i", "busybox", "cat"])), "hello\n");
    // Without -i the container's stdin is empty, as docker's.
    assert_eq!(stdout(&run(&["--rm", "busybox", "cat"])), "");
}

#[test]
fn tty_gives_a_terminal() {
    let out = ok(&["--rm", "-t", "busybox", "sh", "-c", "tty; echo $TERM"]);
    assert_eq!(out.replace('\r', ""), "/dev/pts/0\nxterm\n");
    let out = ok(&["--rm", "busybox", "sh", "-c", "tty || true"]);
    assert_eq!(out, "not a tty\n");
    // On a real terminal (script(1) makes one): its size is passed on, and
    // keystrokes reach the container's shell.
    let cmd = format!(
        "stty rows 40 cols 100; {} --root {} run --rm -it busybox sh",
        rdock_bin().display(),
        root().display()
    );
    let (out, text) = common::on_terminal(&cmd, b"stty size; echo typed-$((6*7)); exit 3\n");
    assert!(text.contains("\n40 100\n"), "{text}");
    assert!(text.contains("\ntyped-42\n"), "{text}");
    assert_eq!(code(&out), 3, "{text}");
}

#[test]
fn bridge_network_and_a_bad_port() {
    let out = ok(&["--rm", "busybox", "sh", "-c", "ls /sys/class/net; ip route"]);
    assert!(out.contains("eth0") && out.contains("default via"), "{out}");
    // A port in use: tests/cleanup_cli.rs.
    let bad = rrun(&["--rm", "-p", "99999:80", "busybox", "true"]);
    assert_eq!(code(&bad), 125);
}
