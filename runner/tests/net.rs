//! Bridge networking against the real kernel (root only), the lifecycle:
//! interfaces, addresses, rules and state made by attach and all removed by
//! detach, also after failures and crashes. Each test uses its own network
//! (own bridge and subnet), removed by a drop guard even when the test
//! fails, so tests run in parallel.
#![allow(clippy::print_stderr)] // skip reasons and timings go to the test log

#[macro_use]
mod net_support;

use std::collections::HashSet;
use std::fs;
use std::net::{Ipv4Addr, TcpListener};
use std::path::Path;
use std::process::Command;
use std::time::Instant;

use net_support::*;
use rdock_runner::net::{
    attach, create_network, detach, endpoints, remove_network, AttachRequest, NetworkConfig,
};

#[test]
fn attach_sets_everything_up_and_detach_removes_it() {
    root_or_skip!();
    let net = TestNet::new("life", 1);
    let t = Instant::now();
    let udp = free_port(false);
    let att = net.attach("c1", "web", &["127.0.0.1::80", &format!("{udp}:53/udp")]);
    eprintln!("attach with two ports took {:?}", t.elapsed());
    let ep = att.endpoint.clone();
    assert!(net.cfg.subnet.contains(att.ip) && att.ip != net.cfg.gateway);
    assert_eq!(att.gateway, net.cfg.gateway);
    // The host end is on the bridge.
    let master = fs::read_link(format!("/sys/class/net/{}/master", ep.veth)).unwrap();
    assert!(master.ends_with(&net.cfg.bridge), "{master:?}");
    // Inside: eth0 with the address, lo up, the default route.
    let addrs = output(in_ns(&att.netns, &["ip", "-4", "-o", "addr"]));
    assert!(
        addrs.contains(&format!("eth0    inet {}/24", att.ip)),
        "{addrs}"
    );
    assert!(addrs.contains("lo    inet 127.0.0.1/8"), "{addrs}");
    let routes = output(in_ns(&att.netns, &["ip", "route"]));
    assert!(
        routes.contains(&format!("default via {} dev eth0", net.cfg.gateway)),
        "{routes}"
    );
    // Generated files.
    let hosts = fs::read_to_string(&att.hosts_file).unwrap();
    assert!(hosts.starts_with("127.0.0.1\tlocalhost\n"), "{hosts}");
    assert!(
        hosts.contains(&format!("{}\tweb web-alias\n", att.ip)),
        "{hosts}"
    );
    let resolv = fs::read_to_string(&att.resolv_conf).unwrap();
    assert!(
        resolv.contains("nameserver") && !resolv.contains("nameserver 127."),
        "{resolv}"
    );
    // Ports: one chosen by the kernel, both forwarded.
    assert_eq!(att.ports.len(), 2);
    assert_ne!(att.ports[0].host_port, 0);
    let rules = ruleset();
    assert!(
        rules.contains(&format!("--to-destination {}:80", att.ip)),
        "{rules}"
    );
    assert!(
        rules.contains(&format!("--to-destination {}:53", att.ip)),
        "{rules}"
    );

    detach(&ep.container_id, &net.cfg).unwrap();
    assert!(!link_exists(&ep.veth));
    assert!(!att.netns.exists());
    assert!(!att.hosts_file.exists() && !att.resolv_conf.exists());
    assert!(endpoints(&net.cfg.name).unwrap().is_empty());
    assert!(
        !ruleset().contains(&format!("{}", att.ip)),
        "rules left for {}",
        att.ip
    );
    // Idempotent.
    detach(&ep.container_id, &net.cfg).unwrap();
    // The address is free again: the next container gets it.
    let again = net.attach("c2", "web2", &[]);
    assert_eq!(again.ip, att.ip);
}

#[test]
fn a_failed_attach_names_the_port_and_leaves_nothing() {
    root_or_skip!();
    let net = TestNet::new("fail", 2);
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let first = free_port(true);
    let req = AttachRequest {
        hostname: "x".into(),
        aliases: vec![],
        ports: vec![
            format!("{first}:80").parse().unwrap(),
            format!("127.0.0.1:{port}:80").parse().unwrap(),
        ],
    };
    let id = net.id("busy");
    let err = attach(&id, &net.cfg, &req).unwrap_err().to_string();
    assert_eq!(
        err,
        format!("failed to bind host port 127.0.0.1:{port}/tcp: address already in use")
    );
    assert!(!Path::new("/run/rdock/netns").join(&id).exists());
    assert!(endpoints(&net.cfg.name).unwrap().is_empty());
    assert!(
        !ruleset().contains("--to-destination 10.251.2."),
        "rules left"
    );
    // The first port's reservation was released with the failure.
    TcpListener::bind(("0.0.0.0", first)).expect("the first port is still reserved");
    // Attaching the same container twice is refused, and leaves the first.
    let first = net.attach("dup", "x", &[]);
    let err = attach(
        &net.id("dup"),
        &net.cfg,
        &AttachRequest {
            hostname: "x".into(),
            ..Default::default()
        },
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("already attached"), "{err}");
    assert!(first.netns.exists());
}

#[test]
fn concurrent_attaches_get_distinct_addresses() {
    root_or_skip!();
    let net = TestNet::new("many", 6);
    let ips: Vec<Ipv4Addr> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..8)
            .map(|i| {
                let net = &net;
                s.spawn(move || net.attach(&format!("c{i}"), &format!("h{i}"), &[]).ip)
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let distinct: HashSet<_> = ips.iter().collect();
    assert_eq!(distinct.len(), 8, "{ips:?}");
    assert!(ips
        .iter()
        .all(|ip| net.cfg.subnet.contains(*ip) && *ip != net.cfg.gateway));
    assert_eq!(endpoints(&net.cfg.name).unwrap().len(), 8);
}

#[test]
fn removing_a_network_removes_its_bridge_and_rules_but_not_while_in_use() {
    root_or_skip!();
    let net = TestNet::new("rm", 8);
    let a = net.attach("a", "a", &[]);
    let err = remove_network(&net.cfg).unwrap_err().to_string();
    assert!(
        err.contains("has active endpoints") && err.contains(&a.endpoint.container_id),
        "{err}"
    );
    detach(&a.endpoint.container_id, &net.cfg).unwrap();
    remove_network(&net.cfg).unwrap();
    assert!(!link_exists(&net.cfg.bridge));
    let rules = ruleset();
    assert!(
        !rules.contains(&net.cfg.bridge) && !rules.contains("10.251.8.0/24"),
        "{rules}"
    );
    assert!(!rdock_runner::net::list()
        .unwrap()
        .iter()
        .any(|n| n.name == net.cfg.name));
}

#[test]
fn leftovers_of_dead_containers_are_reclaimed() {
    root_or_skip!();
    let net = TestNet::new("dead", 9);
    // A container whose namespace vanished without a detach (its state
    // dropped, as after a crash): the next attach reclaims its address,
    // port rules and record.
    let gone = net.attach("gone", "gone", &["127.0.0.1::80"]);
    let gone_ip = gone.ip;
    let status = Command::new("umount").arg(&gone.netns).status().unwrap();
    assert!(status.success());
    fs::remove_file(&gone.netns).unwrap();
    drop(gone);
    let next = net.attach("next", "next", &[]);
    assert_eq!(next.ip, gone_ip);
    assert!(!ruleset().contains(&format!("--to-destination {gone_ip}:80")));
    let ids: Vec<String> = endpoints(&net.cfg.name)
        .unwrap()
        .into_iter()
        .map(|e| e.container_id)
        .collect();
    assert_eq!(ids, [net.id("next")]);

    // detach_dead removes whatever the liveness check rejects.
    let other = net.attach("other", "other", &["127.0.0.1::81"]);
    let keep = net.id("next");
    let reaped = rdock_runner::net::detach_dead(&net.cfg, |e| e.container_id == keep).unwrap();
    assert_eq!(reaped, [net.id("other")]);
    assert!(!link_exists(&other.endpoint.veth) && !other.netns.exists());
    assert!(!ruleset().contains(&format!("--to-destination {}:81", other.ip)));
    assert!(next.netns.exists());
}

#[test]
fn an_exhausted_subnet_fails_cleanly() {
    root_or_skip!();
    let name = format!("rdt-tiny-{}", std::process::id());
    // A /30: network, gateway, one container, broadcast.
    let cfg = NetworkConfig::new(&name, "10.251.11.0/30".parse().unwrap()).unwrap();
    let _ = remove_network(&cfg);
    create_network(&cfg).unwrap();
    let net = TestNet { cfg };
    let only = net.attach("only", "only", &[]);
    assert_eq!(only.ip, Ipv4Addr::new(10, 251, 11, 2));
    let id = net.id("more");
    let err = attach(
        &id,
        &net.cfg,
        &AttachRequest {
            hostname: "more".into(),
            ..Default::default()
        },
    )
    .unwrap_err()
    .to_string();
    assert_eq!(
        err,
        format!("no available IPv4 addresses on network {name} (10.251.11.0/30)")
    );
    assert!(!Path::new("/run/rdock/netns").join(&id).exists());
    assert_eq!(endpoints(&net.cfg.name).unwrap().len(), 1);
}

#[test]
fn a_container_joins_one_network_and_other_networks_leave_it_alone() {
    root_or_skip!();
    let one = TestNet::new("one", 16);
    let two = TestNet::new("two", 17);
    let id = one.id("c");
    let att = one.attach("c", "c", &[]);
    let req = AttachRequest {
        hostname: "c".into(),
        ..Default::default()
    };
    let err = attach(&id, &two.cfg, &req).unwrap_err().to_string();
    assert!(err.contains("already has a network namespace"), "{err}");
    // Neither the failed attach nor a stray detach on the other network
    // touches the namespace of the first.
    detach(&id, &two.cfg).unwrap();
    assert!(att.netns.exists());
    assert!(endpoints(&two.cfg.name).unwrap().is_empty());
    detach(&id, &one.cfg).unwrap();
    assert!(!att.netns.exists());
}
