//! Crash safety of `rbuild`: a build SIGKILLed (with its whole process
//! group) while a RUN step runs, and again at several moments while a large
//! COPY layer is being written to the store's `ingest/`, leaves no process
//! and no mount behind, `rdock store verify` clean, no stray ingest file once
//! the store is opened again, and the next build succeeds with the same
//! image ID as an uninterrupted build. `rdock prune` afterwards keeps the
//! store clean too.
//!
//! Nothing here waits for a fixed time: the tests poll (the runner's
//! `sleep` process, the ingest folder) with generous deadlines.

mod common;

use std::fs;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::{busybox_rootfs, rdock_bin, tempdir};

const EPOCH: &str = "1000000000";
const DEADLINE: Duration = Duration::from_secs(30);

fn rdock_cmd(root: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(rdock_bin());
    cmd.arg("--root")
        .arg(root)
        .args(args)
        .env("SOURCE_DATE_EPOCH", EPOCH)
        .env_remove("RDOCK_ROOT");
    cmd
}

fn rdock(root: &Path, args: &[&str]) -> Output {
    rdock_cmd(root, args).output().expect("running rdock")
}

fn ok(root: &Path, args: &[&str]) -> String {
    let out = rdock(root, args);
    assert!(
        out.status.success(),
        "rdock {args:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8 output")
}

/// A test's temporary folder, removed on drop (also when the test fails).
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> Self {
        TempDir(tempdir("crash", name))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// A store root under `dir` with busybox imported as `busybox:latest`.
fn store_with_busybox(dir: &Path) -> PathBuf {
    let root = dir.join("root");
    ok(
        &root,
        &["import", busybox_rootfs().to_str().unwrap(), "busybox"],
    );
    root
}

/// A build running in its own process group; dropping it SIGKILLs the group.
struct Build {
    child: Child,
    reaped: bool,
}

impl Build {
    fn spawn(root: &Path, args: &[&str]) -> Self {
        let child = rdock_cmd(root, args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .expect("spawning rdock build");
        Build {
            child,
            reaped: false,
        }
    }

    fn pgid(&self) -> i32 {
        i32::try_from(self.child.id()).expect("pid fits i32")
    }

    /// SIGKILLs the whole group and reaps the build.
    fn kill_group(&mut self) {
        // The group may be gone already; kill's status does not matter.
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.pgid())])
            .stderr(Stdio::null())
            .status();
        let _ = self.child.wait();
        self.reaped = true;
    }

    /// Whether the build already exited (so the kill came too late).
    fn exited(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(Some(_)))
    }
}

impl Drop for Build {
    fn drop(&mut self) {
        if !self.reaped {
            self.kill_group();
        }
    }
}

/// One process of /proc: (pid, comm, ppid, pgid).
fn processes() -> Vec<(i32, String, i32, i32)> {
    let mut out = Vec::new();
    let Ok(entries) = fs::read_dir("/proc") else {
        return out;
    };
    for entry in entries.flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|s| s.parse().ok()) else {
            continue;
        };
        let Ok(stat) = fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else {
            continue;
        };
        let comm = stat[open + 1..close].to_string();
        let rest: Vec<&str> = stat[close + 1..].split_whitespace().collect();
        let (Some(ppid), Some(pgid)) = (
            rest.get(1).and_then(|s| s.parse().ok()),
            rest.get(2).and_then(|s| s.parse().ok()),
        ) else {
            continue;
        };
        out.push((pid, comm, ppid, pgid));
    }
    out
}

/// A `sleep` process descending from `ancestor`.
fn sleep_under(ancestor: i32) -> Option<i32> {
    let procs = processes();
    let parent = |pid: i32| procs.iter().find(|p| p.0 == pid).map(|p| p.2);
    procs.iter().find_map(|(pid, comm, _, _)| {
        if comm != "sleep" {
            return None;
        }
        let mut cur = *pid;
        for _ in 0..64 {
            match parent(cur) {
                Some(p) if p == ancestor => return Some(*pid),
                Some(p) if p > 1 => cur = p,
                _ => return None,
            }
        }
        None
    })
}

fn alive(pid: i32) -> bool {
    // A zombie has no more mounts or files; only a running process counts.
    fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| {
            !s.rsplit(')')
                .next()
                .unwrap_or("")
                .trim_start()
                .starts_with('Z')
        })
        .unwrap_or(false)
}

/// Polls `cond` until it holds or the deadline passes.
fn wait_for(what: &str, mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(start.elapsed() < DEADLINE, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// After a kill: nothing of the group runs and no mount mentions `dir`.
fn assert_nothing_left(pgid: i32, extra: Option<i32>, dir: &Path) {
    wait_for("the build's processes to die", || {
        processes()
            .iter()
            .all(|p| (p.3 != pgid || !alive(p.0)) && Some(p.0) != extra.filter(|e| alive(*e)))
    });
    let mounts = fs::read_to_string("/proc/self/mountinfo").unwrap();
    let dir = dir.to_str().unwrap();
    let left: Vec<&str> = mounts.lines().filter(|l| l.contains(dir)).collect();
    assert!(left.is_empty(), "mounts left behind: {left:#?}");
}

fn assert_verify_clean(root: &Path) {
    let out = rdock(root, &["store", "verify"]);
    assert!(
        out.status.success(),
        "store verify found problems: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn ingest_files(root: &Path) -> Vec<(PathBuf, u64)> {
    fs::read_dir(root.join("ingest"))
        .map(|dir| {
            dir.flatten()
                .map(|e| (e.path(), e.metadata().map(|m| m.len()).unwrap_or(0)))
                .collect()
        })
        .unwrap_or_default()
}

fn assert_no_tag(root: &Path, name: &str) {
    let images = ok(root, &["images"]);
    assert!(
        !images
            .lines()
            .any(|l| l.split_whitespace().any(|w| w == name)),
        "{name} listed after a killed build: {images}"
    );
}

#[test]
fn sigkill_during_run_leaves_the_store_clean() {
    let tmp = TempDir::new("run");
    let root = store_with_busybox(&tmp.0);
    let context = tmp.0.join("context");
    fs::create_dir_all(&context).unwrap();
    fs::write(
        context.join("Dockerfile"),
        "FROM busybox\nARG DELAY=30\nRUN sleep $DELAY && echo done > /done\n",
    )
    .unwrap();
    let ctx = context.to_str().unwrap();

    let mut build = Build::spawn(&root, &["build", "-t", "crashrun", ctx]);
    let pid = build.pgid();
    let mut sleeper = None;
    wait_for("the RUN step's sleep", || {
        assert!(!build.exited(), "the build exited before its RUN slept");
        sleeper = sleep_under(pid);
        sleeper.is_some()
    });
    build.kill_group();
    assert_nothing_left(pid, sleeper, &tmp.0);

    assert_verify_clean(&root);
    assert_no_tag(&root, "crashrun");
    assert!(ingest_files(&root).is_empty(), "{:?}", ingest_files(&root));

    ok(
        &root,
        &["build", "-t", "crashrun", "--build-arg", "DELAY=0", ctx],
    );
    assert!(ok(&root, &["images"]).contains("crashrun"));
    assert_verify_clean(&root);
    ok(&root, &["prune"]);
    assert_verify_clean(&root);
}

/// Writes `total` bytes of incompressible, deterministic data in files.
fn big_context(context: &Path, total: usize) {
    let files = 16;
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    fs::create_dir_all(context.join("data")).unwrap();
    for i in 0..files {
        let mut buf = Vec::with_capacity(total / files);
        while buf.len() < total / files {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            buf.extend_from_slice(&x.to_le_bytes());
        }
        fs::write(context.join(format!("data/f{i:02}")), buf).unwrap();
    }
    fs::write(
        context.join("Dockerfile"),
        "FROM busybox\nCOPY data /data\n",
    )
    .unwrap();
}

fn image_id(root: &Path, dir: &Path, ctx: &str) -> String {
    let iid = dir.join("iid");
    ok(
        root,
        &[
            "build",
            "-t",
            "big",
            "--iidfile",
            iid.to_str().unwrap(),
            ctx,
        ],
    );
    fs::read_to_string(iid).unwrap()
}

#[test]
fn sigkill_during_commit_leaves_the_store_clean() {
    const TOTAL: usize = 64 << 20;
    let tmp = TempDir::new("commit");
    let context = tmp.0.join("context");
    big_context(&context, TOTAL);
    let ctx = context.to_str().unwrap();

    let reference = {
        let dir = tmp.0.join("reference");
        let root = store_with_busybox(&dir);
        let id = image_id(&root, &dir, ctx);
        let _ = fs::remove_dir_all(&dir);
        id
    };

    let root = store_with_busybox(&tmp.0);
    // Kill once a temp file appears, then once one holds a quarter and
    // three quarters of the layer.
    let mut killed = 0;
    for threshold in [0, TOTAL as u64 / 4, TOTAL as u64 * 3 / 4] {
        let mut build = Build::spawn(&root, &["build", "-t", "big", ctx]);
        let pid = build.pgid();
        let mut finished = false;
        wait_for("an ingest file", || {
            if build.exited() {
                finished = true;
                return true;
            }
            ingest_files(&root)
                .iter()
                .any(|(_, len)| *len >= threshold.max(1))
        });
        build.kill_group();
        assert_nothing_left(pid, None, &tmp.0);
        if finished {
            // Too late to kill: start over from an empty store next time.
            let _ = rdock(&root, &["rmi", "big"]);
            ok(&root, &["prune"]);
            continue;
        }
        killed += 1;
        assert_verify_clean(&root);
        let stray = ingest_files(&root);
        assert!(stray.is_empty(), "stray ingest files: {stray:?}");
        assert_no_tag(&root, "big");
    }
    assert!(killed > 0, "every build finished before it could be killed");

    assert_eq!(image_id(&root, &tmp.0, ctx), reference);
    assert_verify_clean(&root);
    assert!(ingest_files(&root).is_empty());
    ok(&root, &["prune"]);
    assert_verify_clean(&root);
    assert_eq!(image_id(&root, &tmp.0, ctx), reference);
}
