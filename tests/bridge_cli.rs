//! Traffic on the default bridge end to end, as root: two containers talk
//! over it, and a container reaches, through NAT, a server in a network
//! namespace this test makes (a veth to the host, no route back to the
//! bridge's subnet, so only a masqueraded connection gets an answer).
//! Everything made here is removed by drop guards, also on failure.

mod common;

use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};

use common::{busybox_rootfs, rdock_at, tempdir};

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A store with busybox, and the containers a test starts, removed on drop.
struct Env {
    root: PathBuf,
    containers: Vec<String>,
}

impl Env {
    fn new(name: &str) -> Env {
        let root = tempdir("bridge", name);
        let tar = busybox_rootfs().to_str().unwrap().to_owned();
        let out = rdock_at(&root, &["import", &tar, "busybox"]);
        assert!(out.status.success(), "{}", stderr(&out));
        Env {
            root,
            containers: Vec::new(),
        }
    }

    fn rdock(&self, args: &[&str]) -> Output {
        rdock_at(&self.root, args)
    }

    /// `rrun -d ARGS`: its ID.
    fn detached(&mut self, args: &[&str]) -> String {
        let mut all = vec!["run", "-d"];
        all.extend_from_slice(args);
        let out = self.rdock(&all);
        assert!(out.status.success(), "{}", stderr(&out));
        let id = stdout(&out).trim().to_owned();
        self.containers.push(id.clone());
        id
    }

    /// A container's address on the bridge.
    fn address(&self, id: &str) -> String {
        let out = self.rdock(&["container", "inspect", id]);
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let ip = v[0]["NetworkSettings"]["IPAddress"].as_str().unwrap_or("");
        assert!(!ip.is_empty(), "{v}");
        ip.to_owned()
    }

    /// `rrun --rm busybox sh -c SCRIPT`, expecting success: its output.
    fn sh(&self, script: &str) -> String {
        let out = self.rdock(&["run", "--rm", "busybox", "sh", "-c", script]);
        assert!(out.status.success(), "{script}: {}", stderr(&out));
        stdout(&out)
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        for c in &self.containers {
            let _ = self.rdock(&["rm", "-f", c]);
        }
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

/// Retries `cmd` (a shell command in a container) for a few seconds, as a
/// server in another container or namespace may still be starting.
fn retrying(cmd: &str) -> String {
    format!("for i in $(seq 50); do {cmd} && exit 0; sleep 0.1; done; exit 1")
}

#[test]
fn two_containers_talk_over_the_default_bridge() {
    let mut env = Env::new("pair");
    let server = env.detached(&[
        "busybox",
        "nc",
        "-ll",
        "-p",
        "80",
        "-e",
        "echo",
        "over-the-bridge",
    ]);
    let ip = env.address(&server);
    let out = env.sh(&retrying(&format!("nc -w 2 {ip} 80 </dev/null")));
    assert!(out.contains("over-the-bridge"), "{out}");
    // And from the server's side to another container.
    let other = env.detached(&["busybox", "sleep", "60"]);
    let other_ip = env.address(&other);
    let out = env.rdock(&["exec", &server, "ping", "-c1", "-W2", &other_ip]);
    assert!(out.status.success(), "{out:?}");
    assert!(
        stdout(&out).contains("1 packets received"),
        "{}",
        stdout(&out)
    );
}

/// A network namespace with a veth to the host (`HOST_ADDR` on the host's
/// end, `NS_ADDR` in the namespace, a /30, no other route) and an HTTP
/// server in it whose CGI answers with the client's address.
struct OuterNet {
    ns: String,
    host_veth: String,
    host_addr: String,
    ns_addr: String,
    dir: PathBuf,
    server: Option<Child>,
}

fn ip(args: &[&str]) {
    let out = Command::new("ip")
        .args(args)
        .output()
        .expect("ip (iproute2)");
    assert!(out.status.success(), "ip {args:?}: {}", stderr(&out));
}

impl OuterNet {
    fn new() -> OuterNet {
        let pid = std::process::id();
        // 198.18.0.0/15 is for benchmarks (RFC 2544): nothing else here.
        let third = pid % 250;
        let mut net = OuterNet {
            ns: format!("rdt-nat-{pid}"),
            host_veth: format!("rdtn{pid}"),
            host_addr: format!("198.18.{third}.1"),
            ns_addr: format!("198.18.{third}.2"),
            dir: tempdir("bridge", "httpd"),
            server: None,
        };
        let peer = format!("rdtp{pid}");
        ip(&["netns", "add", &net.ns]);
        ip(&[
            "link",
            "add",
            &net.host_veth,
            "type",
            "veth",
            "peer",
            "name",
            &peer,
        ]);
        ip(&["link", "set", &peer, "netns", &net.ns]);
        ip(&[
            "addr",
            "add",
            &format!("{}/30", net.host_addr),
            "dev",
            &net.host_veth,
        ]);
        ip(&["link", "set", &net.host_veth, "up"]);
        let in_ns = |args: &[&str]| {
            let mut all = vec!["-n", net.ns.as_str()];
            all.extend_from_slice(args);
            ip(&all);
        };
        in_ns(&["link", "set", "lo", "up"]);
        in_ns(&["addr", "add", &format!("{}/30", net.ns_addr), "dev", &peer]);
        in_ns(&["link", "set", &peer, "up"]);

        let cgi = net.dir.join("cgi-bin");
        std::fs::create_dir_all(&cgi).unwrap();
        let script = cgi.join("peer");
        std::fs::write(
            &script,
            "#!/bin/sh\necho 'Content-Type: text/plain'\necho\necho \"peer=$REMOTE_ADDR\"\n",
        )
        .unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
        let listen = format!("{}:8080", net.ns_addr);
        net.server = Some(
            Command::new("ip")
                .args(["netns", "exec", &net.ns, "busybox", "httpd", "-f", "-p"])
                .arg(&listen)
                .arg("-h")
                .arg(&net.dir)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("busybox httpd (busybox-static)"),
        );
        net
    }
}

impl Drop for OuterNet {
    fn drop(&mut self) {
        if let Some(mut s) = self.server.take() {
            let _ = s.kill();
            let _ = s.wait();
        }
        // The veth pair goes with the namespace; delete it anyway if not.
        let _ = Command::new("ip").args(["netns", "del", &self.ns]).status();
        let _ = Command::new("ip")
            .args(["link", "del", &self.host_veth])
            .stderr(Stdio::null())
            .status();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[test]
fn outbound_traffic_leaves_through_nat() {
    let env = Env::new("nat");
    let outer = OuterNet::new();
    let url = format!("http://{}:8080/cgi-bin/peer", outer.ns_addr);
    let out = env.sh(&retrying(&format!("timeout 3 wget -q -O - {url}")));
    // The server saw the host's address on its link, not the container's.
    assert_eq!(out, format!("peer={}\n", outer.host_addr));
    drop(outer);
    let left = Command::new("ip").args(["netns", "list"]).output().unwrap();
    assert!(!stdout(&left).contains(&format!("rdt-nat-{}", std::process::id())));
}
