//! Shared by the network tests: a network per test removed by a drop
//! guard, processes run in a namespace file, a fake "internet" namespace.
#![allow(dead_code)] // each test binary uses a part

use std::io::Read;
use std::net::{Ipv4Addr, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rdock_runner::net::{
    attach, create_network, detach, endpoints, remove_network, AttachRequest, Attachment,
    NetworkConfig,
};

pub fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

/// Returns (skips) when not root, except under CI where root is required.
macro_rules! root_or_skip {
    () => {
        if !$crate::net_support::is_root() {
            assert!(
                std::env::var_os("CI").is_none(),
                "network tests must run as root in CI"
            );
            eprintln!("skipped: needs root");
            return;
        }
    };
}

/// A network of its own for one test, removed (with whatever is still
/// attached) on drop.
pub struct TestNet {
    pub cfg: NetworkConfig,
}

impl TestNet {
    pub fn new(tag: &str, third_octet: u8) -> TestNet {
        let name = format!("rdt-{tag}-{}", std::process::id());
        let subnet = format!("10.251.{third_octet}.0/24").parse().unwrap();
        let cfg = NetworkConfig::new(&name, subnet).unwrap();
        // A leftover from a killed earlier run would block the subnet.
        let _ = remove_network(&cfg);
        create_network(&cfg).unwrap();
        TestNet { cfg }
    }

    pub fn attach(&self, id: &str, hostname: &str, ports: &[&str]) -> Attachment {
        let req = AttachRequest {
            hostname: hostname.to_owned(),
            aliases: vec![format!("{hostname}-alias")],
            ports: ports.iter().map(|p| p.parse().unwrap()).collect(),
        };
        attach(&self.id(id), &self.cfg, &req).unwrap()
    }

    /// Container ids unique to this process and network.
    pub fn id(&self, short: &str) -> String {
        format!("{}-{short}", self.cfg.name)
    }
}

impl Drop for TestNet {
    fn drop(&mut self) {
        for ep in endpoints(&self.cfg.name).unwrap_or_default() {
            let _ = detach(&ep.container_id, &self.cfg);
        }
        let _ = remove_network(&self.cfg);
    }
}

/// A background process killed and reaped on drop.
pub struct Proc(pub Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub fn in_ns(ns: &Path, args: &[&str]) -> Command {
    let mut c = Command::new("nsenter");
    c.arg(format!("--net={}", ns.display())).args(args);
    c
}

pub fn output(mut c: Command) -> String {
    let out = c.output().unwrap();
    assert!(
        out.status.success(),
        "{c:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// A TCP server in namespace `ns` on `port` answering every connection
/// with `reply`.
pub fn serve(ns: &Path, port: u16, reply: &str) -> Proc {
    let child = in_ns(
        ns,
        &[
            "busybox",
            "nc",
            "-ll",
            "-p",
            &port.to_string(),
            "-e",
            "busybox",
            "echo",
            reply,
        ],
    )
    .stdout(Stdio::null())
    .spawn()
    .unwrap();
    Proc(child)
}

/// Connects to `addr` (retrying while the server starts) and reads it all.
pub fn fetch(addr: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let attempt = TcpStream::connect_timeout(&addr.parse().unwrap(), Duration::from_secs(2))
            .and_then(|mut s| {
                s.set_read_timeout(Some(Duration::from_secs(3)))?;
                let mut out = String::new();
                s.read_to_string(&mut out)?;
                Ok(out)
            });
        match attempt {
            Ok(out) if !out.is_empty() => return out,
            _ if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(50)),
            other => panic!("{addr}: {other:?}"),
        }
    }
}

/// A port free on every address right now (TCP or UDP).
pub fn free_port(tcp: bool) -> u16 {
    if tcp {
        std::net::TcpListener::bind("0.0.0.0:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port()
    } else {
        std::net::UdpSocket::bind("0.0.0.0:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port()
    }
}

pub fn link_exists(name: &str) -> bool {
    Path::new("/sys/class/net").join(name).exists()
}

pub fn ruleset() -> String {
    output({
        let mut c = Command::new("iptables-save");
        c.arg("-c");
        c
    })
}

/// The host's first global IPv4 address that is not on one of our bridges.
pub fn other_host_address() -> Ipv4Addr {
    let out = output({
        let mut c = Command::new("ip");
        c.args(["-4", "-o", "addr", "show", "scope", "global"]);
        c
    });
    out.lines()
        .filter(|l| !l.contains(" rdk-") && !l.contains(" rdock") && !l.contains(" rdt"))
        .find_map(|l| {
            let cidr = l.split_whitespace().nth(3)?;
            cidr.split('/').next()?.parse().ok()
        })
        .expect("the host has a global IPv4 address")
}

/// A fake "internet": a namespace behind a veth from the host, with its own
/// subnet, removed on drop.
pub struct Internet {
    pub ns: String,
    pub host_if: String,
}

impl Internet {
    /// `tag` keeps names apart between tests; the internet side is
    /// `net.2/24`, the host side `net.1/24`.
    pub fn new(tag: &str, net: &str) -> Internet {
        let pid = std::process::id();
        let inet = Internet {
            ns: format!("rdt-{tag}-{pid}"),
            host_if: format!("rdt{tag}{}", pid % 100_000),
        };
        let ip = |args: &[&str]| {
            let out = Command::new("ip").args(args).output().unwrap();
            assert!(
                out.status.success(),
                "ip {args:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        };
        let _ = Command::new("ip").args(["netns", "del", &inet.ns]).output();
        ip(&["netns", "add", &inet.ns]);
        ip(&[
            "link",
            "add",
            &inet.host_if,
            "type",
            "veth",
            "peer",
            "name",
            "eth0",
            "netns",
            &inet.ns,
        ]);
        ip(&["addr", "add", &format!("{net}.1/24"), "dev", &inet.host_if]);
        ip(&["link", "set", &inet.host_if, "up"]);
        ip(&[
            "-n",
            &inet.ns,
            "addr",
            "add",
            &format!("{net}.2/24"),
            "dev",
            "eth0",
        ]);
        ip(&["-n", &inet.ns, "link", "set", "eth0", "up"]);
        ip(&["-n", &inet.ns, "link", "set", "lo", "up"]);
        inet
    }
}

impl Drop for Internet {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["link", "del", &self.host_if])
            .output();
        let _ = Command::new("ip").args(["netns", "del", &self.ns]).output();
    }
}
