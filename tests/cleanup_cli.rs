//! Nothing left behind on the default bridge, as root: after `rm`, after
//! `--rm` (detached and in the foreground) and after failed starts (a
//! missing command, a port in use) no mount, cgroup, network namespace
//! file, veth or iptables rule naming the container's address or port
//! stays. Failed starts under `-d` and `start` report what a foreground
//! run reports. Each test has its own store; IDs of `--rm` containers come
//! from `--cidfile`.

mod common;
#[path = "common/leftovers.rs"]
mod leftovers;

use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::{Duration, Instant};

use common::{busybox_rootfs, rdock_at, tempdir};
use leftovers::{assert_nothing_left, link_exists, rules_naming, veth_name};

/// A store with busybox, removed (with its containers) on drop.
struct Store {
    root: PathBuf,
}

impl Store {
    fn new(name: &str) -> Store {
        let root = tempdir("cleanup", name);
        let tar = busybox_rootfs().to_str().unwrap().to_owned();
        let out = rdock_at(&root, &["import", &tar, "busybox"]);
        assert!(out.status.success(), "{}", stderr(&out));
        Store { root }
    }

    fn rdock(&self, args: &[&str]) -> Output {
        rdock_at(&self.root, args)
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.rdock(args);
        assert!(out.status.success(), "rdock {args:?}: {}", stderr(&out));
        stdout(&out)
    }

    fn inspect(&self, id: &str) -> serde_json::Value {
        let v: serde_json::Value =
            serde_json::from_str(&self.ok(&["container", "inspect", id])).unwrap();
        v[0].clone()
    }

    fn container_dir(&self, id: &str) -> PathBuf {
        self.root.join("containers").join(id)
    }
}

impl Drop for Store {
    fn drop(&mut self) {
        let ids = stdout(&self.rdock(&["ps", "-aq", "--no-trunc"]));
        for id in ids.lines() {
            let _ = self.rdock(&["rm", "-f", "-v", id]);
        }
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("0.0.0.0:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn wait_for(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A path for `--cidfile` (which must not exist yet).
fn cidfile(store: &Store, name: &str) -> PathBuf {
    store.root.join(format!("{name}.cid"))
}

fn read_id(path: &Path) -> String {
    let id = std::fs::read_to_string(path).expect("the --cidfile");
    assert_eq!(id.len(), 64, "{id}");
    id
}

/// The running container's address, and a check that the helpers see its
/// veth and rules (so their absence later means something).
fn address_while_running(store: &Store, id: &str, port: u16) -> String {
    let ip = store.inspect(id)["NetworkSettings"]["IPAddress"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(!ip.is_empty(), "no address for {id}");
    assert!(link_exists(&veth_name("bridge", id)), "no veth for {id}");
    assert!(
        !rules_naming(Some(&ip), &[port]).is_empty(),
        "no rules for {ip} and port {port}"
    );
    ip
}

#[test]
fn rm_leaves_nothing() {
    let store = Store::new("rm");
    let port = free_port();
    let publish = format!("{port}:80");
    let id = store.ok(&["run", "-d", "-p", &publish, "busybox", "sleep", "100"]);
    let id = id.trim();
    let ip = address_while_running(&store, id, port);
    store.ok(&["rm", "-f", id]);
    assert_nothing_left(id, "bridge", Some(&ip), &[port]);
    assert!(!store.container_dir(id).exists());
}

#[test]
fn rm_option_leaves_nothing_detached_or_not() {
    let store = Store::new("auto-rm");
    let port = free_port();
    let publish = format!("{port}:80");
    let id = store.ok(&["run", "-d", "--rm", "-p", &publish, "busybox", "sleep", "2"]);
    let id = id.trim();
    let ip = address_while_running(&store, id, port);
    wait_for("--rm to remove it", || !store.container_dir(id).exists());
    assert_nothing_left(id, "bridge", Some(&ip), &[port]);

    // In the foreground, the container tells its own address.
    let port = free_port();
    let publish = format!("{port}:80");
    let cid = cidfile(&store, "fg");
    let out = store.ok(&[
        "run",
        "--rm",
        "--cidfile",
        cid.to_str().unwrap(),
        "-p",
        &publish,
        "busybox",
        "sh",
        "-c",
        "ip -4 -o addr show eth0",
    ]);
    let ip = out
        .split_whitespace()
        .skip_while(|w| *w != "inet")
        .nth(1)
        .and_then(|cidr| cidr.split('/').next())
        .unwrap_or_else(|| panic!("no address: {out}"))
        .to_owned();
    let id = read_id(&cid);
    assert!(!store.container_dir(&id).exists());
    assert_nothing_left(&id, "bridge", Some(&ip), &[port]);
}

#[test]
fn failed_starts_leave_nothing_and_say_why_as_in_the_foreground() {
    let store = Store::new("failed");
    // A missing command: the network was set up, then the exec failed.
    let port = free_port();
    let publish = format!("{port}:80");
    let cid = cidfile(&store, "missing");
    let fg = store.rdock(&[
        "run",
        "--rm",
        "--cidfile",
        cid.to_str().unwrap(),
        "-p",
        &publish,
        "busybox",
        "nosuch",
    ]);
    assert_eq!(fg.status.code(), Some(127), "{}", stderr(&fg));
    assert_eq!(
        stderr(&fg),
        "rdock: exec: \"nosuch\": executable file not found in $PATH\n"
    );
    let id = read_id(&cid);
    assert!(!store.container_dir(&id).exists());
    assert_nothing_left(&id, "bridge", None, &[port]);

    // -d says the same, with the same code; the container stays created.
    let bg = store.rdock(&["run", "-d", "-p", &publish, "busybox", "nosuch"]);
    assert_eq!(bg.status.code(), Some(127), "{}", stderr(&bg));
    assert_eq!(stderr(&bg), stderr(&fg));
    assert_eq!(stdout(&bg), "");
    let id = store.ok(&["ps", "-aq", "--no-trunc"]).trim().to_owned();
    assert_eq!(store.inspect(&id)["State"]["Status"], "created");
    assert_eq!(store.inspect(&id)["State"]["ExitCode"], 127);
    assert_nothing_left(&id, "bridge", None, &[port]);
    // start fails as docker start does: the message, exit code 1.
    let start = store.rdock(&["start", &id]);
    assert_eq!(start.status.code(), Some(1));
    assert_eq!(stderr(&start), stderr(&fg));
    assert_nothing_left(&id, "bridge", None, &[port]);
    store.ok(&["rm", &id]);
    assert!(!store.container_dir(&id).exists());

    // A port in use: the whole message, code 125, in both modes.
    let taken = std::net::TcpListener::bind("0.0.0.0:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let publish = format!("{port}:80");
    let cid = cidfile(&store, "port");
    let fg = store.rdock(&[
        "run",
        "--rm",
        "--cidfile",
        cid.to_str().unwrap(),
        "-p",
        &publish,
        "busybox",
        "true",
    ]);
    assert_eq!(fg.status.code(), Some(125), "{}", stderr(&fg));
    assert_eq!(
        stderr(&fg),
        format!("rdock: failed to bind host port 0.0.0.0:{port}/tcp: address already in use\n")
    );
    let id = read_id(&cid);
    assert!(!store.container_dir(&id).exists());
    assert_nothing_left(&id, "bridge", None, &[port]);
    let bg = store.rdock(&["run", "-d", "--rm", "-p", &publish, "busybox", "true"]);
    assert_eq!(bg.status.code(), Some(125));
    assert_eq!(stderr(&bg), stderr(&fg));
    drop(taken);
    let left = store.ok(&["ps", "-aq"]);
    assert_eq!(left, "", "--rm removed the failed containers");
}
