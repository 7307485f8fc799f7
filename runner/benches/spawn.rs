//! Start overhead of a container: `spawn` + `wait` of `true` on a busybox
//! rootfs with `Network::None`, bare (a build `RUN` step) and as a
//! container (own cgroup with a pids limit, Docker's default security).
//! Needs root and Debian's busybox-static: `cargo bench -p rdock-runner`.

use std::fs;
use std::os::unix::fs::symlink;
use std::path::Path;
use std::process::Command;

use criterion::{criterion_group, criterion_main, Criterion};
use rdock_runner::{spawn, Network, RunSpec, Stdio};

fn rootfs(dir: &Path) {
    let bin = dir.join("lower/bin");
    fs::create_dir_all(&bin).unwrap();
    fs::create_dir_all(dir.join("lower/etc")).unwrap();
    fs::copy("/bin/busybox", bin.join("busybox")).unwrap();
    // Like real images: the mount points exist, so no stubs are made.
    for d in ["proc", "dev", "sys"] {
        fs::create_dir_all(dir.join("lower").join(d)).unwrap();
    }
    for f in ["hostname", "hosts", "resolv.conf"] {
        fs::write(dir.join("lower/etc").join(f), "").unwrap();
    }
    let list = Command::new("/bin/busybox").arg("--list").output().unwrap();
    for applet in String::from_utf8(list.stdout).unwrap().lines() {
        if applet != "busybox" {
            symlink("busybox", bin.join(applet)).unwrap();
        }
    }
}

fn bench(c: &mut Criterion) {
    if !nix::unistd::Uid::effective().is_root() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    rootfs(tmp.path());
    let mut n = 0u64;
    let mut spec_for = |container: bool| {
        n += 1;
        let upper = tmp.path().join(format!("upper{n}"));
        let work = tmp.path().join(format!("work{n}"));
        fs::create_dir_all(&upper).unwrap();
        fs::create_dir_all(&work).unwrap();
        let mut s = RunSpec::new(
            vec![tmp.path().join("lower")],
            upper,
            work,
            vec!["true".into()],
        );
        s.network = Network::None;
        s.stdio = Stdio::Null;
        if container {
            s.cgroup = Some(format!("rdock-bench-{}", std::process::id()));
            s.resources.pids_limit = Some(100);
        }
        s
    };
    let bare = spec_for(false);
    let container = spec_for(true);
    let mut g = c.benchmark_group("spawn_wait_true");
    g.sample_size(50);
    g.bench_function("run_step", |b| {
        b.iter(|| {
            assert!(spawn(&bare)
                .unwrap()
                .wait()
                .unwrap()
                .outcome
                .status
                .success())
        })
    });
    g.bench_function("container_cgroup", |b| {
        b.iter(|| {
            assert!(spawn(&container)
                .unwrap()
                .wait()
                .unwrap()
                .outcome
                .status
                .success())
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
