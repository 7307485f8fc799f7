#![allow(clippy::print_stderr)]
use rdock_runner::net::*;
use std::time::Instant;
#[test]
fn timing() {
    let cfg = NetworkConfig::new("tim", "10.251.30.0/24".parse().unwrap()).unwrap();
    create_network(&cfg).unwrap();
    for i in 0..6 {
        let req = AttachRequest { hostname: "x".into(), aliases: vec![], ports: if i % 2 == 0 { vec![] } else { vec!["127.0.0.1::80".parse().unwrap()] } };
        let t = Instant::now();
        let att = attach(&format!("t{i}"), &cfg, &req).unwrap();
        let a = t.elapsed();
        drop(att);
        let t = Instant::now();
        detach(&format!("t{i}"), &cfg).unwrap();
        eprintln!("ports={} attach {:?} detach {:?}", i % 2, a, t.elapsed());
    }
    remove_network(&cfg).unwrap();
}
