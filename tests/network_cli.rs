//! `rdock network create|ls|inspect|rm` end to end: the records in the store
//! and the bridge and rules on the host. Networks made here are removed by
//! a drop guard even when a test fails.
#![allow(clippy::print_stderr)] // skip reasons go to the test log

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::{run, tempdir};

fn rdock(root: &Path, args: &[&str]) -> Output {
    let mut all = vec!["--root", root.to_str().unwrap()];
    all.extend_from_slice(args);
    run(None, &all)
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn ok(o: Output) -> String {
    assert!(o.status.success(), "failed: {}", stderr(&o));
    stdout(&o)
}

fn is_root() -> bool {
    use std::os::unix::fs::MetadataExt;
    // /proc/self belongs to the process's effective user.
    std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

macro_rules! root_or_skip {
    () => {
        if !is_root() {
            assert!(
                std::env::var_os("CI").is_none(),
                "network tests must run as root in CI"
            );
            eprintln!("skipped: needs root");
            return;
        }
    };
}

/// A user network removed on drop (with its store).
struct Net {
    root: PathBuf,
    name: String,
}

impl Drop for Net {
    fn drop(&mut self) {
        let _ = rdock(&self.root, &["network", "rm", &self.name]);
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

fn bridge_of(inspect: &serde_json::Value) -> String {
    inspect[0]["Options"]["com.docker.network.bridge.name"]
        .as_str()
        .unwrap()
        .to_owned()
}

fn iptables_save() -> String {
    let out = Command::new("iptables-save").output().unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn ls_shows_the_predefined_networks() {
    let root = tempdir("network", "ls");
    let out = ok(rdock(&root, &["network", "ls"]));
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines[0].starts_with("NETWORK ID"), "{out}");
    let names: Vec<&str> = lines[1..]
        .iter()
        .map(|l| l.split_whitespace().nth(1).unwrap())
        .collect();
    assert_eq!(names, ["bridge", "host", "none"]);
    assert!(lines[3].contains("null"), "{out}");
    let ids = ok(rdock(&root, &["network", "ls", "-q"]));
    assert_eq!(ids.lines().count(), 3);
    assert!(ids
        .lines()
        .all(|l| l.len() == 12 && l.bytes().all(|b| b.is_ascii_hexdigit())));
    let o = rdock(&root, &["network", "rm", "bridge"]);
    assert!(!o.status.success());
    assert_eq!(
        stderr(&o).trim(),
        "rdock: bridge is a pre-defined network and cannot be removed"
    );
    let _ = std::fs::remove_dir_all(&root);
}

#[test]
fn create_inspect_and_rm_a_user_network() {
    root_or_skip!();
    let net = Net {
        root: tempdir("network", "life"),
        name: format!("rdt-cli-{}", std::process::id()),
    };
    let id = ok(rdock(
        &net.root,
        &["network", "create", "--subnet", "10.252.1.0/24", &net.name],
    ));
    let id = id.trim();
    assert_eq!(id.len(), 64, "{id}");
    let ls = ok(rdock(&net.root, &["network", "ls"]));
    assert!(
        ls.lines()
            .any(|l| l.starts_with(&id[..12]) && l.contains(&net.name)),
        "{ls}"
    );

    let inspect: serde_json::Value =
        serde_json::from_str(&ok(rdock(&net.root, &["network", "inspect", &net.name]))).unwrap();
    assert_eq!(inspect[0]["Id"], id);
    assert_eq!(inspect[0]["Driver"], "bridge");
    assert_eq!(inspect[0]["IPAM"]["Config"][0]["Subnet"], "10.252.1.0/24");
    assert_eq!(inspect[0]["IPAM"]["Config"][0]["Gateway"], "10.252.1.1");
    let bridge = bridge_of(&inspect);
    assert!(
        Path::new("/sys/class/net").join(&bridge).exists(),
        "no bridge {bridge}"
    );
    assert!(
        iptables_save().contains("-s 10.252.1.0/24 ! -o"),
        "no NAT rule"
    );
    // By ID prefix too.
    ok(rdock(&net.root, &["network", "inspect", &id[..10]]));

    let o = rdock(&net.root, &["network", "create", &net.name]);
    assert!(!o.status.success());
    assert_eq!(
        stderr(&o).trim(),
        format!("rdock: network with name {} already exists", net.name)
    );
    let o = rdock(
        &net.root,
        &[
            "network",
            "create",
            "--subnet",
            "10.252.1.128/25",
            "rdt-overlap",
        ],
    );
    assert!(!o.status.success());
    assert!(stderr(&o).contains("overlaps network"), "{}", stderr(&o));

    assert_eq!(
        ok(rdock(&net.root, &["network", "rm", &net.name])).trim(),
        net.name
    );
    assert!(!Path::new("/sys/class/net").join(&bridge).exists());
    let rules = iptables_save();
    assert!(
        !rules.contains("10.252.1.0/24") && !rules.contains(&bridge),
        "rules left"
    );
    let o = rdock(&net.root, &["network", "inspect", &net.name]);
    assert!(!o.status.success());
    assert_eq!(
        stderr(&o).trim(),
        format!("rdock: network {} not found", net.name)
    );
}

#[test]
fn create_picks_a_free_subnet_and_rejects_bad_ones() {
    root_or_skip!();
    let net = Net {
        root: tempdir("network", "auto"),
        name: format!("rdt-auto-{}", std::process::id()),
    };
    ok(rdock(&net.root, &["network", "create", &net.name]));
    let inspect: serde_json::Value =
        serde_json::from_str(&ok(rdock(&net.root, &["network", "inspect", &net.name]))).unwrap();
    let subnet = inspect[0]["IPAM"]["Config"][0]["Subnet"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        subnet.starts_with("10.78.") && subnet.ends_with(".0/24"),
        "{subnet}"
    );

    let o = rdock(
        &net.root,
        &["network", "create", "--subnet", "10.252.2.1/24", "rdt-bad"],
    );
    assert!(!o.status.success());
    let err = stderr(&o);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("it should be 10.252.2.0/24"), "{err}");
    let o = rdock(&net.root, &["network", "create", "bad name"]);
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("invalid network name"),
        "{}",
        stderr(&o)
    );
}

/// A store with the busybox image, and the containers and networks a test
/// makes, all removed on drop.
struct Env {
    root: PathBuf,
    containers: Vec<String>,
    networks: Vec<String>,
}

impl Env {
    fn new(name: &str) -> Env {
        let root = tempdir("network", name);
        let tar = common::busybox_rootfs().to_str().unwrap().to_owned();
        ok(rdock(&root, &["import", &tar, "busybox"]));
        Env {
            root,
            containers: Vec::new(),
            networks: Vec::new(),
        }
    }

    fn rdock(&self, args: &[&str]) -> Output {
        rdock(&self.root, args)
    }

    /// `rrun -d ARGS`: a background container, removed on drop.
    fn detached(&mut self, args: &[&str]) -> String {
        let mut all = vec!["--root", self.root.to_str().unwrap(), "-d"];
        all.extend_from_slice(args);
        let id = ok(run(Some("rrun"), &all)).trim().to_owned();
        self.containers.push(id.clone());
        id
    }

    /// `rrun --rm ARGS` in the foreground: its output.
    fn rrun(&self, args: &[&str]) -> Output {
        let mut all = vec!["--root", self.root.to_str().unwrap(), "--rm"];
        all.extend_from_slice(args);
        run(Some("rrun"), &all)
    }

    fn network(&mut self, name: &str) {
        ok(self.rdock(&["network", "create", name]));
        self.networks.push(name.to_owned());
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        for c in &self.containers {
            let _ = rdock(&self.root, &["rm", "-f", c]);
        }
        for n in &self.networks {
            let _ = rdock(&self.root, &["network", "rm", n]);
        }
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

/// A port free on loopback right now.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Connects to `addr`, retrying while the container starts; what it sends.
fn fetch(addr: &str) -> String {
    use std::io::Read;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let got = std::net::TcpStream::connect(addr).and_then(|mut s| {
            s.set_read_timeout(Some(std::time::Duration::from_secs(3)))?;
            let mut out = String::new();
            s.read_to_string(&mut out)?;
            Ok(out)
        });
        match got {
            Ok(out) if !out.is_empty() => return out,
            _ if std::time::Instant::now() < deadline => {
                std::thread::sleep(std::time::Duration::from_millis(100))
            }
            other => panic!("{addr}: {other:?}"),
        }
    }
}

#[test]
fn rrun_gets_an_address_route_and_hosts_file_on_the_default_bridge() {
    root_or_skip!();
    let env = Env::new("default");
    let inspect: serde_json::Value =
        serde_json::from_str(&ok(env.rdock(&["network", "inspect", "bridge"]))).unwrap();
    let subnet = inspect[0]["IPAM"]["Config"][0]["Subnet"].as_str().unwrap();
    let (base, prefix) = subnet.split_once('/').unwrap();
    let base: std::net::Ipv4Addr = base.parse().unwrap();
    let mask = u32::MAX << (32 - prefix.parse::<u32>().unwrap());
    let contains = |ip: std::net::Ipv4Addr| u32::from(ip) & mask == u32::from(base);
    let gateway = inspect[0]["IPAM"]["Config"][0]["Gateway"].as_str().unwrap();
    let out = ok(env.rrun(&[
        "--hostname",
        "web",
        "busybox",
        "sh",
        "-c",
        "ip -4 -o addr show eth0; ip route; cat /etc/hosts",
    ]));
    let ip: std::net::Ipv4Addr = out
        .split_whitespace()
        .skip_while(|w| *w != "inet")
        .nth(1)
        .and_then(|cidr| cidr.split('/').next())
        .and_then(|a| a.parse().ok())
        .unwrap_or_else(|| panic!("no eth0 address: {out}"));
    assert!(contains(ip), "{ip} not in {subnet}");
    assert!(
        out.contains(&format!("default via {gateway} dev eth0")),
        "{out}"
    );
    assert!(out.contains(&format!("{ip}\tweb")), "{out}");
    // --network none: loopback only.
    let out = ok(env.rrun(&["--network", "none", "busybox", "ip", "-o", "link"]));
    assert_eq!(out.lines().count(), 1, "{out}");
    assert!(out.contains(": lo:"), "{out}");
}

#[test]
fn rrun_publishes_ports_until_the_container_is_removed() {
    root_or_skip!();
    let mut env = Env::new("publish");
    let port = free_port();
    let mapping = format!("127.0.0.1:{port}:80");
    let id = env.detached(&[
        "-p", &mapping, "busybox", "nc", "-ll", "-p", "80", "-e", "echo", "hi-there",
    ]);
    assert!(fetch(&format!("127.0.0.1:{port}")).contains("hi-there"));
    let ps = ok(env.rdock(&["ps"]));
    assert!(ps.contains(&format!("127.0.0.1:{port}->80/tcp")), "{ps}");
    // The port is held while the container runs: a second container
    // asking for it fails before starting, naming the port.
    assert!(std::net::TcpListener::bind(("127.0.0.1", port)).is_err());
    let o = env.rrun(&["-p", &mapping, "busybox", "true"]);
    assert_eq!(o.status.code(), Some(125), "{}", stderr(&o));
    let err = stderr(&o);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains(&format!("127.0.0.1:{port}/tcp: address already in use")),
        "{err}"
    );
    ok(env.rdock(&["rm", "-f", &id]));
    assert!(
        !iptables_save().contains(&format!("--dport {port} ")),
        "rule left"
    );
    std::net::TcpListener::bind(("127.0.0.1", port)).expect("port still held");
}

#[test]
fn containers_on_a_user_network_reach_each_other_by_name() {
    root_or_skip!();
    let mut env = Env::new("names");
    let name = format!("rdt-names-{}", std::process::id());
    env.network(&name);
    let server = format!("srv-{}", std::process::id());
    env.detached(&[
        "--name",
        &server,
        "--network",
        &name,
        "busybox",
        "nc",
        "-ll",
        "-p",
        "80",
        "-e",
        "echo",
        "by-name",
    ]);
    let script = format!(
        "for i in 1 2 3 4 5 6 7 8 9 10; do nc -w 2 {server} 80 </dev/null && exit 0; sleep 0.2; done; exit 1"
    );
    let out = ok(env.rrun(&["--network", &name, "busybox", "sh", "-c", &script]));
    assert!(out.contains("by-name"), "{out}");
    // The network is in use while the server runs.
    let o = env.rdock(&["network", "rm", &name]);
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("has active endpoints"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn prune_removes_unused_user_networks_only() {
    root_or_skip!();
    let mut env = Env::new("prune");
    let used = format!("rdt-used-{}", std::process::id());
    let unused = format!("rdt-unused-{}", std::process::id());
    env.network(&used);
    env.network(&unused);
    env.detached(&["--network", &used, "busybox", "sleep", "60"]);
    let out = ok(env.rdock(&["network", "prune", "-f"]));
    assert_eq!(out, format!("Deleted Networks:\n{unused}\n"));
    let ls = ok(env.rdock(&["network", "ls"]));
    assert!(ls.contains(&used) && !ls.contains(&unused), "{ls}");
}
