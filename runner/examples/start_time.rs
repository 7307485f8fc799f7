//! Prints how long `spawn` (to exec) and `wait` take for `true` on a
//! busybox rootfs, per configuration: `cargo run --release -p rdock-runner
//! --example start_time` (root, busybox-static).
#![allow(clippy::print_stdout)]

use std::fs;
use std::os::unix::fs::symlink;
use std::time::{Duration, Instant};

use rdock_runner::{spawn, Network, RunSpec, Stdio};

fn image_dirs(lower: &std::path::Path) {
    for d in ["proc", "dev", "sys", "etc"] {
        fs::create_dir_all(lower.join(d)).unwrap();
    }
    for f in ["hostname", "hosts", "resolv.conf"] {
        fs::write(lower.join("etc").join(f), "").unwrap();
    }
}

fn main() {
    let tmp = tempfile::tempdir().unwrap();
    let bin = tmp.path().join("lower/bin");
    fs::create_dir_all(&bin).unwrap();
    fs::copy("/bin/busybox", bin.join("busybox")).unwrap();
    symlink("busybox", bin.join("true")).unwrap();
    // Like real images: the mount points exist, so no stubs are made.
    image_dirs(&tmp.path().join("lower"));
    let mut n = 0;
    let mut make = |f: &dyn Fn(&mut RunSpec)| {
        n += 1;
        let upper = tmp.path().join(format!("u{n}"));
        let work = tmp.path().join(format!("w{n}"));
        fs::create_dir_all(&upper).unwrap();
        fs::create_dir_all(&work).unwrap();
        let mut s = RunSpec::new(
            vec![tmp.path().join("lower")],
            upper,
            work,
            vec!["true".into()],
        );
        s.stdio = Stdio::Null;
        s.network = Network::None;
        f(&mut s);
        s
    };
    let cases: Vec<(&str, RunSpec)> = vec![
        ("none", make(&|_| {})),
        ("host-net", make(&|s| s.network = Network::Host)),
        ("no-seccomp", make(&|s| s.security.seccomp = false)),
        (
            "cgroup",
            make(&|s| s.cgroup = Some("rdock-start-time".into())),
        ),
    ];
    // Optional arguments: a case name and a round count.
    let args: Vec<String> = std::env::args().skip(1).collect();
    let only = args.first().cloned();
    let rounds: u32 = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(20);
    for (name, spec) in &cases {
        if only.as_deref().is_some_and(|o| o != *name) {
            continue;
        }
        let (mut sp, mut wt) = (Duration::ZERO, Duration::ZERO);
        for _ in 0..rounds {
            let t = Instant::now();
            let r = spawn(spec).unwrap();
            let t2 = Instant::now();
            r.wait().unwrap();
            sp += t2 - t;
            wt += t2.elapsed();
        }
        println!("{name:12} spawn {:?} wait {:?}", sp / rounds, wt / rounds);
    }
}
