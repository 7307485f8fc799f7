//! Bridge networking against the real kernel (root only), the traffic:
//! containers talking on a bridge, published TCP and UDP ports, outbound
//! NAT, name resolution, internal networks and isolation between networks,
//! checked with processes run in the namespace files through `nsenter`.
#![allow(clippy::print_stderr)] // skip reasons go to the test log

#[macro_use]
mod net_support;

use std::fs;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use net_support::*;
use rdock_runner::net::{
    attach, create_network, detach, remove_network, AttachRequest, NetworkConfig,
};

#[test]
fn containers_on_a_bridge_talk_to_each_other() {
    root_or_skip!();
    let net = TestNet::new("talk", 3);
    let a = net.attach("a", "a", &[]);
    let b = net.attach("b", "b", &[]);
    assert_ne!(a.ip, b.ip);
    let _server = serve(&b.netns, 7000, "hello-from-b");
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let out = in_ns(
            &a.netns,
            &["busybox", "nc", "-w", "2", &b.ip.to_string(), "7000"],
        )
        .stdin(Stdio::null())
        .output()
        .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        if text.contains("hello-from-b") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "a could not reach b: {text} {}",
            String::from_utf8_lossy(&out.stderr)
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    // And the gateway (the host) answers pings from inside.
    output(in_ns(
        &a.netns,
        &[
            "busybox",
            "ping",
            "-c",
            "1",
            "-W",
            "2",
            &net.cfg.gateway.to_string(),
        ],
    ));
}

#[test]
fn published_ports_answer_on_loopback_and_other_host_addresses() {
    root_or_skip!();
    let net = TestNet::new("pub", 4);
    let port = free_port(true);
    let att = net.attach(
        "srv",
        "srv",
        &[&format!("0.0.0.0:{port}:80"), "127.0.0.1::81"],
    );
    let _s80 = serve(&att.netns, 80, "pong80");
    let _s81 = serve(&att.netns, 81, "pong81");
    assert!(fetch(&format!("127.0.0.1:{port}")).contains("pong80"));
    let other = other_host_address();
    assert!(fetch(&format!("{other}:{port}")).contains("pong80"));
    let random = att.ports[1].host_port;
    assert!(fetch(&format!("127.0.0.1:{random}")).contains("pong81"));
    // Bound to 127.0.0.1 only: not published on the other address.
    let via_other = TcpStream::connect_timeout(
        &format!("{other}:{random}").parse().unwrap(),
        Duration::from_secs(1),
    )
    .and_then(|mut s| {
        let mut out = String::new();
        s.set_read_timeout(Some(Duration::from_secs(1)))?;
        s.read_to_string(&mut out)?;
        Ok(out)
    });
    assert!(!via_other.is_ok_and(|o| o.contains("pong81")));
    // While attached, the host port stays reserved.
    assert!(TcpListener::bind(("0.0.0.0", port)).is_err());
}

#[test]
fn outbound_traffic_leaves_with_the_hosts_address() {
    root_or_skip!();
    let inet = Internet::new("inet", "198.51.100");
    let net = TestNet::new("nat", 5);
    let c = net.attach("out", "out", &[]);
    // A server in the internet namespace reports the peer it sees.
    let ns_file = fs::File::open(format!("/run/netns/{}", inet.ns)).unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let server = std::thread::spawn(move || {
        nix::sched::setns(&ns_file, nix::sched::CloneFlags::CLONE_NEWNET).unwrap();
        let l = TcpListener::bind("198.51.100.2:9000").unwrap();
        tx.send(()).unwrap();
        let (mut s, peer) = l.accept().unwrap();
        let _ = s.write_all(b"seen\n");
        peer.ip()
    });
    rx.recv().unwrap();
    let out = in_ns(
        &c.netns,
        &["busybox", "nc", "-w", "3", "198.51.100.2", "9000"],
    )
    .stdin(Stdio::null())
    .output()
    .unwrap();
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("seen"),
        "{out:?}"
    );
    let seen = server.join().unwrap();
    assert_eq!(
        seen,
        std::net::IpAddr::from([198, 51, 100, 1]),
        "container {}",
        c.ip
    );
}

#[test]
fn members_of_a_user_network_resolve_each_other() {
    root_or_skip!();
    let net = TestNet::new("dns", 7);
    let a = net.attach("a", "alpha", &[]);
    let inode = fs::metadata(&a.hosts_file).unwrap().ino();
    let b = net.attach("b", "beta", &[]);
    let hosts_a = fs::read_to_string(&a.hosts_file).unwrap();
    assert!(
        hosts_a.contains(&format!("{}\tbeta beta-alias\n", b.ip)),
        "{hosts_a}"
    );
    // Rewritten in place: a bind mount of the file sees the change.
    assert_eq!(fs::metadata(&a.hosts_file).unwrap().ino(), inode);
    let hosts_b = fs::read_to_string(&b.hosts_file).unwrap();
    assert!(
        hosts_b.contains(&format!("{}\talpha alpha-alias\n", a.ip)),
        "{hosts_b}"
    );
    // Resolution as a container does it: its hosts file on /etc/hosts.
    let script = format!(
        "mount --bind {} /etc/hosts && getent hosts beta-alias",
        a.hosts_file.display()
    );
    let got = output(in_ns(&a.netns, &["unshare", "-m", "sh", "-c", &script]));
    assert!(got.starts_with(&b.ip.to_string()), "{got}");
    detach(&b.endpoint.container_id, &net.cfg).unwrap();
    let hosts_a = fs::read_to_string(&a.hosts_file).unwrap();
    assert!(!hosts_a.contains("beta"), "{hosts_a}");
}

#[test]
fn internal_networks_reach_each_other_but_not_outside() {
    root_or_skip!();
    let inet = Internet::new("intl", "203.0.113");
    let name = format!("rdt-intl-{}", std::process::id());
    let mut cfg = NetworkConfig::new(&name, "10.251.12.0/24".parse().unwrap()).unwrap();
    cfg.internal = true;
    let _ = remove_network(&cfg);
    create_network(&cfg).unwrap();
    let net = TestNet { cfg };
    let a = net.attach("a", "a", &[]);
    let b = net.attach("b", "b", &[]);
    // A route back, so only the firewall stands between them.
    let routed = Command::new("ip")
        .args([
            "-n",
            &inet.ns,
            "route",
            "add",
            "10.251.12.0/24",
            "via",
            "203.0.113.1",
        ])
        .status()
        .unwrap();
    assert!(routed.success());
    let rules = ruleset();
    assert!(
        rules.contains(&format!("-A RDOCK-FORWARD -i {} -j DROP", net.cfg.bridge)),
        "{rules}"
    );
    let _outside = serve(
        Path::new(&format!("/run/netns/{}", inet.ns)),
        9000,
        "outside",
    );
    let _inside = serve(&b.netns, 9000, "inside");
    let try_nc = |ip: &str| {
        let out = in_ns(&a.netns, &["busybox", "nc", "-w", "2", ip, "9000"])
            .stdin(Stdio::null())
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let deadline = Instant::now() + Duration::from_secs(5);
    while !try_nc(&b.ip.to_string()).contains("inside") {
        assert!(Instant::now() < deadline, "a cannot reach b");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(
        try_nc("203.0.113.2"),
        "",
        "an internal network reached outside"
    );
    let err = attach(
        &net.id("p"),
        &net.cfg,
        &AttachRequest {
            hostname: "p".into(),
            aliases: vec![],
            ports: vec!["8080:80".parse().unwrap()],
        },
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("is internal"), "{err}");
}

#[test]
fn networks_are_isolated_from_each_other() {
    root_or_skip!();
    let one = TestNet::new("iso1", 13);
    let two = TestNet::new("iso2", 14);
    let a = one.attach("a", "a", &[]);
    let a2 = one.attach("a2", "a2", &[]);
    let b = two.attach("b", "b", &[]);
    let _sb = serve(&b.netns, 9000, "two");
    let _sa2 = serve(&a2.netns, 9000, "one");
    let try_nc = |ip: Ipv4Addr| {
        let out = in_ns(
            &a.netns,
            &["busybox", "nc", "-w", "2", &ip.to_string(), "9000"],
        )
        .stdin(Stdio::null())
        .output()
        .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    // Same network: reachable (waiting for the server to listen).
    let deadline = Instant::now() + Duration::from_secs(5);
    while !try_nc(a2.ip).contains("one") {
        assert!(Instant::now() < deadline, "a cannot reach a2");
        std::thread::sleep(Duration::from_millis(50));
    }
    // The other network's server is up (the host reaches it, once it
    // listens), a is not let through.
    let from_host = || {
        let out = Command::new("busybox")
            .args(["nc", "-w", "2", &b.ip.to_string(), "9000"])
            .stdin(Stdio::null())
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let deadline = Instant::now() + Duration::from_secs(5);
    while !from_host().contains("two") {
        assert!(Instant::now() < deadline, "the host cannot reach b");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(try_nc(b.ip), "", "network one reached network two");
}

#[test]
fn published_udp_ports_forward_datagrams() {
    root_or_skip!();
    let net = TestNet::new("udp", 15);
    let att = net.attach("dns", "dns", &["127.0.0.1::53/udp"]);
    let host_port = att.ports[0].host_port;
    // An echo server on udp/53 inside the container's namespace.
    let ns_file = fs::File::open(&att.netns).unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let server = std::thread::spawn(move || {
        nix::sched::setns(&ns_file, nix::sched::CloneFlags::CLONE_NEWNET).unwrap();
        let sock = std::net::UdpSocket::bind("0.0.0.0:53").unwrap();
        sock.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        tx.send(()).unwrap();
        let mut buf = [0u8; 64];
        let (n, peer) = sock.recv_from(&mut buf).unwrap();
        sock.send_to(&buf[..n], peer).unwrap();
    });
    rx.recv().unwrap();
    let client = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    client
        .set_read_timeout(Some(Duration::from_secs(3)))
        .unwrap();
    client
        .send_to(b"ping-udp", ("127.0.0.1", host_port))
        .unwrap();
    let mut buf = [0u8; 64];
    let (n, _) = client
        .recv_from(&mut buf)
        .expect("no UDP answer through the port");
    assert_eq!(&buf[..n], b"ping-udp");
    server.join().unwrap();
}

#[test]
fn containers_reach_published_ports_through_host_addresses() {
    root_or_skip!();
    let net = TestNet::new("hair", 18);
    let port = free_port(true);
    let own = free_port(true);
    let a = net.attach("a", "a", &[&format!("{own}:80")]);
    let b = net.attach("b", "b", &[&format!("{port}:80")]);
    let _sa = serve(&a.netns, 80, "self");
    let _sb = serve(&b.netns, 80, "peer");
    let other = other_host_address().to_string();
    let gateway = net.cfg.gateway.to_string();
    let nc = |ip: &str, port: u16| {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let out = in_ns(
                &a.netns,
                &["busybox", "nc", "-w", "2", ip, &port.to_string()],
            )
            .stdin(Stdio::null())
            .output()
            .unwrap();
            let text = String::from_utf8_lossy(&out.stdout).into_owned();
            if !text.is_empty() || Instant::now() > deadline {
                return text;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    };
    assert!(nc(&other, port).contains("peer"), "a -> {other}:{port}");
    assert!(nc(&gateway, port).contains("peer"), "a -> {gateway}:{port}");
    assert!(
        nc(&other, own).contains("self"),
        "a -> its own {other}:{own}"
    );
}
