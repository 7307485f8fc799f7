//! `rbuild` ADD of git repositories end to end, against `git daemon` on
//! loopback serving a repository made in the test: branch, tag and
//! subdir refs, submodules, `--keep-git-dir`, `--checksum` with a commit,
//! the cache
//! following the remote's commits, and a clear error for a missing ref.

mod common;

use std::collections::BTreeMap;
use std::io::Read;
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Output};
use std::time::{Duration, Instant};

use common::{rdock_at_epoch, tempdir};

/// `git daemon`, killed when dropped.
struct Daemon(Child);

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_AUTHOR_NAME", "t")
        .env("GIT_AUTHOR_EMAIL", "t@example.invalid")
        .env("GIT_COMMITTER_NAME", "t")
        .env("GIT_COMMITTER_EMAIL", "t@example.invalid")
        .output()
        .expect("running git (apt-get install git)");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn commit(repo: &Path, files: &[(&str, &str)], message: &str) -> String {
    for (name, body) in files {
        let path = repo.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, body).unwrap();
    }
    git(repo, &["add", "-A"]);
    git(repo, &["commit", "-q", "-m", message]);
    git(repo, &["rev-parse", "HEAD"])
}

/// Serves `base` (holding `repo.git`) with `git daemon` on a free
/// loopback port.
fn daemon(base: &Path) -> (Daemon, String) {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    // The daemon binary itself: `git daemon` would run it as a child that
    // killing `git` leaves behind.
    let exec_path = git(base, &["--exec-path"]);
    let child = Command::new(Path::new(&exec_path).join("git-daemon"))
        .args([
            "--reuseaddr",
            "--export-all",
            "--listen=127.0.0.1",
            &format!("--port={port}"),
            &format!("--base-path={}", base.display()),
        ])
        .arg(base)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("running git daemon");
    let d = Daemon(child);
    let start = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "git daemon did not start"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    (d, format!("git://127.0.0.1:{port}/repo.git"))
}

fn rdock(root: &Path, args: &[&str]) -> Output {
    rdock_at_epoch(root, args, "1000000000")
}

/// Builds `dockerfile`; its output and the rootfs files (path to body).
fn build(dir: &Path, dockerfile: &str) -> (Output, BTreeMap<String, String>) {
    let context = dir.join("context");
    std::fs::create_dir_all(&context).unwrap();
    std::fs::write(context.join("Dockerfile"), dockerfile).unwrap();
    let out_tar = dir.join("rootfs.tar");
    let _ = std::fs::remove_file(&out_tar);
    let dest = format!("type=tar,dest={}", out_tar.display());
    let out = rdock(
        &dir.join("root"),
        &[
            "build",
            "--progress=plain",
            "-o",
            &dest,
            context.to_str().unwrap(),
        ],
    );
    let mut files = BTreeMap::new();
    if let Ok(data) = std::fs::read(&out_tar) {
        for entry in tar::Archive::new(&data[..]).entries().unwrap() {
            let mut entry = entry.unwrap();
            let path = entry.path().unwrap().to_string_lossy().into_owned();
            let mut body = Vec::new();
            if entry.header().entry_type().is_file() {
                entry.read_to_end(&mut body).unwrap();
            }
            let body = String::from_utf8_lossy(&body).into_owned();
            files.insert(
                format!("/{}", path.trim_start_matches("./").trim_end_matches('/')),
                body,
            );
        }
    }
    (out, files)
}

#[test]
fn add_git_sources_as_buildkit() {
    let dir = tempdir("add-git", "ok");
    let base = dir.join("served");
    let work = dir.join("work");
    std::fs::create_dir_all(&work).unwrap();
    git(&work, &["init", "-q", "--initial-branch=main"]);
    let first = commit(
        &work,
        &[("a.txt", "one\n"), ("sub/b.txt", "bee\n")],
        "first",
    );
    git(&work, &["tag", "-a", "v1", "-m", "v1"]);
    commit(&work, &[("a.txt", "two\n")], "second");
    std::fs::create_dir_all(&base).unwrap();
    git(
        &base,
        &["clone", "-q", "--bare", work.to_str().unwrap(), "repo.git"],
    );
    let (_daemon, url) = daemon(&base);
    // A submodule, served by the same daemon, added on main.
    let lib = dir.join("lib");
    std::fs::create_dir_all(&lib).unwrap();
    git(&lib, &["init", "-q", "--initial-branch=main"]);
    commit(&lib, &[("lib.txt", "from the submodule\n")], "lib");
    git(
        &base,
        &["clone", "-q", "--bare", lib.to_str().unwrap(), "lib.git"],
    );
    let lib_url = url.replace("repo.git", "lib.git");
    git(&work, &["submodule", "add", "-q", &lib_url, "vendor/lib"]);
    git(&work, &["commit", "-q", "-m", "submodule"]);
    git(
        &work,
        &[
            "push",
            "-q",
            base.join("repo.git").to_str().unwrap(),
            "main",
        ],
    );

    let dockerfile = format!(
        "FROM scratch\n\
         ADD {url}#v1 /v1\n\
         ADD --keep-git-dir=true {url}#v1 /withgit/\n\
         ADD --checksum={} {url}#{first} /pinned/\n\
         ADD {url} /head/\n\
         ADD {url}#main:sub /sub/\n",
        &first[..12]
    );
    let (out, files) = build(&dir, &dockerfile);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert_eq!(files["/head/a.txt"], "two\n");
    assert_eq!(files["/head/sub/b.txt"], "bee\n");
    assert_eq!(files["/head/vendor/lib/lib.txt"], "from the submodule\n");
    let git_entries = |prefix: &str| {
        files
            .keys()
            .filter(|p| p.starts_with(prefix) && p.split('/').any(|c| c == ".git"))
            .count()
    };
    // Without --keep-git-dir no `.git` is left, not even a submodule's.
    assert_eq!(git_entries("/head/"), 0, "{:?}", files.keys());
    assert!(files.contains_key("/head/.gitmodules"));
    assert_eq!(files["/v1/a.txt"], "one\n");
    assert_eq!(files["/sub/b.txt"], "bee\n");
    assert!(!files.contains_key("/sub/a.txt"));
    assert!(
        files.contains_key("/withgit/.git/HEAD"),
        "{:?}",
        files.keys()
    );
    assert_eq!(files["/pinned/a.txt"], "one\n");

    // Same commits: every step is cached. A new commit on main: the steps
    // from the first that follows main run again.
    let (again, _) = build(&dir, &dockerfile);
    let stderr = String::from_utf8_lossy(&again.stderr);
    assert_eq!(stderr.matches(" CACHED").count(), 5, "{stderr}");
    commit(&work, &[("a.txt", "three\n")], "third");
    git(
        &work,
        &[
            "push",
            "-q",
            base.join("repo.git").to_str().unwrap(),
            "main",
        ],
    );
    let (third, files) = build(&dir, &dockerfile);
    let stderr = String::from_utf8_lossy(&third.stderr);
    assert!(third.status.success(), "{stderr}");
    assert_eq!(stderr.matches(" CACHED").count(), 3, "{stderr}");
    assert_eq!(files["/head/a.txt"], "three\n");

    for (dockerfile, expected) in [
        (
            format!("FROM scratch\nADD {url}#nope /x/\n"),
            format!("fetching {url}: repository has no branch or tag \"nope\""),
        ),
        (
            format!("FROM scratch\nADD --checksum=0000000 {url}#v1 /x/\n"),
            format!("digest mismatch for {url}"),
        ),
    ] {
        let (out, _) = build(&dir, &dockerfile);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success());
        assert!(stderr.contains(&expected), "{expected:?} not in:\n{stderr}");
    }
    drop(_daemon);
    let _ = std::fs::remove_dir_all(&dir);
}
