//! User namespaces end to end: `rdock run --userns=auto` as root (a
//! subordinate range per container, image files idmapped so they still
//! belong to root inside, writes owned by the mapped ids on the host), and
//! rootless use by a throwaway user made with `useradd` and run through
//! `runuser` (its own store under `$XDG_DATA_HOME`, `--network none` and
//! `host`, clear refusals for what needs root). Runs as root, as CI does.

mod common;

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use common::{busybox_rootfs, rdock_at, rdock_bin, tempdir};

fn rdock(root: &Path, args: &[&str]) -> Output {
    rdock_at(root, args)
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn ok(out: Output, what: &str) -> String {
    assert!(
        out.status.success(),
        "{what}: {}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    text(&out.stdout)
}

/// The `(inside, outside, count)` lines of a printed `uid_map`.
fn map_lines(text: &str) -> Vec<[u64; 3]> {
    text.lines()
        .filter_map(|l| {
            let n: Vec<u64> = l
                .split_whitespace()
                .map(|w| w.parse().ok())
                .collect::<Option<_>>()?;
            <[u64; 3]>::try_from(n).ok()
        })
        .collect()
}

/// Makes a device node (a copy of /dev/null): root's CAP_MKNOD allows it
/// only outside a user namespace.
const MKNOD: &str = "mknod /tmp/null c 1 3 2>/dev/null && echo mknod allowed || echo mknod refused";

/// Removes a test's store even when an assertion failed.
struct RemoveOnDrop(PathBuf);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn root_store(name: &str) -> PathBuf {
    let root = tempdir("userns", name);
    let bb = busybox_rootfs().to_str().unwrap();
    ok(rdock(&root, &["import", bb, "busybox"]), "import");
    root
}

#[test]
fn auto_maps_root_to_a_subordinate_range() {
    assert!(nix_is_root(), "the userns tests run as root");
    let root = root_store("auto");
    let _gone = RemoveOnDrop(root.clone());
    let script = &format!(
        "id -u; id -g; cat /proc/self/uid_map; grep CapEff /proc/self/status; {MKNOD}; \
         stat -c %u:%g /bin/busybox /etc/passwd; echo made > /made; echo more >> /etc/passwd"
    );
    let out = ok(
        rdock(
            &root,
            &[
                "run",
                "--name",
                "one",
                "--userns=auto",
                "busybox",
                "sh",
                "-c",
                script,
            ],
        ),
        "run --userns=auto",
    );
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(&lines[..2], ["0", "0"], "{out}");
    let map = map_lines(&out);
    assert_eq!(map.len(), 1, "{out}");
    let [inside, host, size] = map[0];
    assert_eq!((inside, size), (0, 65536), "{out}");
    assert!(host >= 65536, "a remap never maps to host root: {out}");
    // Docker's default capabilities, held in the namespace only.
    assert!(out.contains("CapEff:\t00000000a80425fb"), "{out}");
    // ... which do not reach the host: CAP_MKNOD makes no device nodes.
    assert!(out.contains("mknod refused"), "{out}");
    // The image's files (owned by host root in the store) are root's inside.
    assert_eq!(&lines[lines.len() - 2..], ["0:0", "0:0"], "{out}");

    // On the host, what the container wrote is the mapped root's.
    let upper = only_upper(&root.join("containers"));
    for p in ["made", "etc/passwd"] {
        let m = fs::metadata(upper.join(p)).unwrap();
        assert_eq!(
            (u64::from(m.uid()), u64::from(m.gid())),
            (host, host),
            "{p}"
        );
    }
    // A restart keeps the range its files belong to.
    ok(rdock(&root, &["start", "one"]), "start");
    ok(rdock(&root, &["wait", "one"]), "wait");
    let logs = ok(rdock(&root, &["logs", "one"]), "logs");
    let maps = map_lines(&logs);
    assert_eq!(maps, [map[0], map[0]], "{logs}");

    // Containers alive at the same time get ranges that do not overlap.
    let other = ok(
        rdock(
            &root,
            &[
                "run",
                "--rm",
                "--userns=auto",
                "busybox",
                "cat",
                "/proc/self/uid_map",
            ],
        ),
        "second run",
    );
    let [_, host2, size2] = map_lines(&other)[0];
    assert!(
        host2 >= host + size || host2 + size2 <= host,
        "{out}\n{other}"
    );
    // The host's ids stay available too.
    let plain = ok(
        rdock(
            &root,
            &[
                "run",
                "--rm",
                "--userns=host",
                "busybox",
                "sh",
                "-c",
                &format!("cat /proc/self/uid_map; {MKNOD}"),
            ],
        ),
        "host run",
    );
    assert_eq!(map_lines(&plain), [[0, 0, 4294967295]]);
    assert!(plain.contains("mknod allowed"), "{plain}");

    // A fresh named volume is the remapped root's to write.
    ok(
        rdock(
            &root,
            &[
                "run",
                "--rm",
                "--userns=auto",
                "-v",
                "vol:/data",
                "busybox",
                "sh",
                "-c",
                "echo x > /data/f",
            ],
        ),
        "run --userns=auto -v vol:/data",
    );
    let f = root.join("volumes/vol/_data/f");
    let owner = u64::from(fs::metadata(&f).unwrap().uid());
    assert!(owner >= 65536, "{} owned by {owner}", f.display());

    // Docker's rule: a privileged container shares the host's ids.
    let bad = rdock(
        &root,
        &[
            "run",
            "--rm",
            "--userns=auto",
            "--privileged",
            "busybox",
            "true",
        ],
    );
    assert_eq!(bad.status.code(), Some(125));
    assert!(text(&bad.stderr).contains("privileged"), "{bad:?}");
    let bad = rdock(
        &root,
        &["run", "--rm", "--userns=keep-id", "busybox", "true"],
    );
    assert_eq!(bad.status.code(), Some(125));
    let err = text(&bad.stderr);
    assert!(err.contains("--userns") && err.contains("keep-id"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    ok(rdock(&root, &["rm", "-f", "one"]), "rm");
}

/// The upper dir of the store's only container.
fn only_upper(containers: &Path) -> PathBuf {
    let uppers: Vec<PathBuf> = fs::read_dir(containers)
        .unwrap()
        .flatten()
        .map(|e| e.path().join("upper"))
        .filter(|p| p.exists())
        .collect();
    assert_eq!(uppers.len(), 1, "{uppers:?}");
    uppers[0].clone()
}

fn nix_is_root() -> bool {
    fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

/// A user made for one test with its own subordinate range; `Drop` deletes
/// it and restores `/etc/subuid` and `/etc/subgid` as they were.
struct TestUser {
    name: String,
    uid: u32,
    saved: Vec<(&'static str, Option<String>)>,
    home: PathBuf,
}

impl TestUser {
    fn create(range: u32) -> TestUser {
        let name = format!("rdock-ns{}", std::process::id());
        let saved = ["/etc/subuid", "/etc/subgid"]
            .map(|f| (f, fs::read_to_string(f).ok()))
            .to_vec();
        let home = tempdir("userns", "rootless");
        let mut user = TestUser {
            name: name.clone(),
            uid: 0,
            saved,
            home: home.clone(),
        };
        let st = Command::new("useradd")
            .args(["-M", "-d", "/nonexistent", "-s", "/bin/sh", &name])
            .status()
            .expect("running useradd");
        assert!(st.success(), "useradd {name}");
        // useradd may have given it a range already: use ours.
        user.remove_ranges();
        for f in ["/etc/subuid", "/etc/subgid"] {
            let mut t = fs::read_to_string(f).unwrap_or_default();
            t.push_str(&format!("{name}:{range}:65536\n"));
            fs::write(f, t).unwrap();
        }
        let id = Command::new("id").args(["-u", &name]).output().unwrap();
        user.uid = text(&id.stdout).trim().parse().unwrap();
        for d in ["data", "tmp"] {
            fs::create_dir_all(home.join(d)).unwrap();
        }
        // Its own copies: the build's target dir need not be readable.
        fs::copy(rdock_bin(), home.join("rdock")).unwrap();
        fs::copy(busybox_rootfs(), home.join("busybox.tar")).unwrap();
        chown_tree(&home, user.uid);
        user
    }

    fn remove_ranges(&self) {
        let prefix = format!("{}:", self.name);
        for f in ["/etc/subuid", "/etc/subgid"] {
            let t = fs::read_to_string(f).unwrap_or_default();
            let kept: String = t
                .lines()
                .filter(|l| !l.starts_with(&prefix))
                .map(|l| format!("{l}\n"))
                .collect();
            fs::write(f, kept).unwrap();
        }
    }

    /// `rdock ARGS` as this user, with `path` as `$PATH`.
    fn rdock_path(&self, path: &str, args: &[&str]) -> Output {
        let h = &self.home;
        Command::new("runuser")
            .args(["-u", &self.name, "--", "env", "-i"])
            .arg(format!("PATH={path}"))
            .arg(format!("HOME={}", h.display()))
            .arg(format!("XDG_DATA_HOME={}", h.join("data").display()))
            .arg(format!("TMPDIR={}", h.join("tmp").display()))
            .arg(h.join("rdock"))
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("running runuser")
    }

    fn rdock(&self, args: &[&str]) -> Output {
        self.rdock_path("/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin", args)
    }
}

impl Drop for TestUser {
    fn drop(&mut self) {
        // Containers a failed assertion left running would keep the user.
        let ids = text(&self.rdock(&["ps", "-aq"]).stdout);
        for id in ids.split_whitespace() {
            let _ = self.rdock(&["rm", "-f", id]);
        }
        let _ = Command::new("userdel").arg(&self.name).status();
        for (f, t) in &self.saved {
            match t {
                Some(t) => {
                    let _ = fs::write(f, t);
                }
                None => {
                    let _ = fs::remove_file(f);
                }
            }
        }
        let _ = fs::remove_dir_all(&self.home);
    }
}

fn chown_tree(path: &Path, uid: u32) {
    std::os::unix::fs::lchown(path, Some(uid), Some(uid)).unwrap();
    if path.symlink_metadata().unwrap().is_dir() {
        for e in fs::read_dir(path).unwrap() {
            chown_tree(&e.unwrap().path(), uid);
        }
    }
}

/// Expects exit 125 with one line on stderr containing all of `words`.
fn refused(out: Output, words: &[&str]) {
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(125), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    for w in words {
        assert!(err.contains(w), "{w:?} not in {err}");
    }
}

#[test]
fn rootless_user_imports_and_runs() {
    assert!(nix_is_root(), "the userns tests run as root (runuser)");
    let range = 700_000_000;
    let user = TestUser::create(range);
    let tar = user.home.join("busybox.tar");
    ok(
        user.rdock(&["import", tar.to_str().unwrap(), "busybox"]),
        "rootless import",
    );
    let store = user.home.join("data/rdock");
    // The store is the user's, under $XDG_DATA_HOME.
    assert_eq!(fs::metadata(&store).unwrap().uid(), user.uid);

    let script = "id -u; cat /proc/self/uid_map; stat -c %u /bin/busybox; \
                  echo hi > /made; mkdir /sub; echo x > /sub/f; chown -R 7:7 /sub; ls /sys/class/net";
    let out = ok(
        user.rdock(&[
            "run",
            "--name",
            "c1",
            "--network",
            "none",
            "busybox",
            "sh",
            "-c",
            script,
        ]),
        "rootless run --network none",
    );
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "0", "{out}");
    let u = u64::from(user.uid);
    let r = u64::from(range);
    assert_eq!(map_lines(&out), [[0, u, 1], [1, r, 65535]], "{out}");
    // Unpacked without root, the image's files are the user's: root inside.
    assert_eq!(lines[3], "0", "{out}");
    // Only loopback in its own network namespace.
    assert_eq!(lines[4..], ["lo"], "{out}");

    // The container's writes: root's as the user, uid 7 as subuid range+6.
    let containers = store.join("containers");
    let upper = only_upper(&containers);
    assert_eq!(fs::metadata(upper.join("made")).unwrap().uid(), user.uid);
    assert_eq!(
        u64::from(fs::metadata(upper.join("sub")).unwrap().uid()),
        r + 6
    );
    // Removing it (files of uid 7 included) needs the user's namespace.
    ok(user.rdock(&["rm", "c1"]), "rootless rm");
    assert!(!upper.exists(), "{}", upper.display());

    // Detached, then exec joins its namespaces (no cgroup to join).
    ok(
        user.rdock(&[
            "run",
            "-d",
            "--name",
            "bg",
            "--network",
            "none",
            "busybox",
            "sleep",
            "60",
        ]),
        "rootless run -d",
    );
    let ex = ok(
        user.rdock(&["exec", "bg", "sh", "-c", "id -u; cat /proc/self/uid_map"]),
        "rootless exec",
    );
    assert_eq!(ex.lines().next(), Some("0"), "{ex}");
    assert_eq!(
        map_lines(&ex),
        [[0, u64::from(user.uid), 1], [1, u64::from(range), 65535]]
    );
    ok(user.rdock(&["rm", "-f", "bg"]), "rootless rm -f");

    let host = ok(
        user.rdock(&[
            "run",
            "--rm",
            "--network",
            "host",
            "busybox",
            "cat",
            "/proc/self/uid_map",
        ]),
        "rootless run --network host",
    );
    assert_eq!(map_lines(&host), [[0, u, 1], [1, r, 65535]], "{host}");

    // A non-root user inside is a subordinate id outside.
    let as_user = ok(
        user.rdock(&[
            "run",
            "--rm",
            "--network",
            "none",
            "-u",
            "7:7",
            "busybox",
            "sh",
            "-c",
            "id -u; id -g; cat /proc/self/uid_map",
        ]),
        "rootless run -u 7:7",
    );
    assert_eq!(as_user.lines().take(2).collect::<Vec<_>>(), ["7", "7"]);

    // What needs root is refused in one line, before anything runs.
    refused(
        user.rdock(&["run", "--rm", "busybox", "true"]),
        &["bridge", "--network none"],
    );
    refused(
        user.rdock(&[
            "run",
            "--rm",
            "--network",
            "none",
            "--memory",
            "64m",
            "busybox",
            "true",
        ]),
        &["--memory", "cgroup"],
    );
    refused(
        user.rdock(&[
            "run",
            "--rm",
            "--network",
            "none",
            "--pids-limit",
            "10",
            "busybox",
            "true",
        ]),
        &["--pids-limit"],
    );
    refused(
        user.rdock(&[
            "run",
            "--rm",
            "--network",
            "none",
            "--privileged",
            "busybox",
            "true",
        ]),
        &["--privileged"],
    );
    refused(
        user.rdock_path(
            "/nonexistent",
            &["run", "--rm", "--network", "none", "busybox", "true"],
        ),
        &["newuidmap", "uidmap"],
    );
    user.remove_ranges();
    refused(
        user.rdock(&["run", "--rm", "--network", "none", "busybox", "true"]),
        &[&user.name, "/etc/subuid"],
    );
    // Nothing was left behind by the refused runs.
    let left: Vec<_> = fs::read_dir(&containers)
        .unwrap()
        .flatten()
        .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
        .map(|e| e.file_name())
        .collect();
    assert!(left.is_empty(), "{left:?}");
}
