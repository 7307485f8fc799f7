//! What a container may leave on the host, as the end-to-end tests look
//! for it: mounts, cgroups, its network namespace file, its veth on a
//! bridge, and iptables rules naming its address or a published port.
#![allow(dead_code)] // each test binary uses part of it

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// The host end of container `id`'s veth pair on network `network`
/// (`bridge` is the default one), named as the runner names it
/// (`runner/src/net/attach.rs`): `rv` and 48 bits of FNV-1a of both.
pub fn veth_name(network: &str, id: &str) -> String {
    let h = format!("{network}\0{id}")
        .bytes()
        .fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        });
    format!("rv{:012x}", h & 0xffff_ffff_ffff)
}

/// Whether the host has a network interface `name`.
pub fn link_exists(name: &str) -> bool {
    Path::new("/sys/class/net").join(name).exists()
}

/// `iptables-save`'s rules.
pub fn iptables_rules() -> String {
    let out = Command::new("iptables-save")
        .output()
        .expect("iptables-save (apt-get install iptables)");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The rules that name address `ip` (as `IP`, `IP/32` or `IP:PORT`) or
/// have `--dport PORT` for one of `ports`.
pub fn rules_naming(ip: Option<&str>, ports: &[u16]) -> Vec<String> {
    let rules = iptables_rules();
    rules
        .lines()
        .filter(|line| {
            let words: Vec<&str> = line.split_whitespace().collect();
            let by_ip = ip.is_some_and(|ip| {
                words.iter().any(|w| {
                    *w == ip
                        || w.strip_prefix(ip)
                            .is_some_and(|rest| rest.starts_with(['/', ':']))
                })
            });
            let by_port = words
                .windows(2)
                .any(|w| w[0] == "--dport" && ports.iter().any(|p| w[1] == p.to_string()));
            by_ip || by_port
        })
        .map(str::to_owned)
        .collect()
}

/// What of container `id` (on `network`, with address `ip` and published
/// `ports`) is still on the host, one description per leftover.
pub fn leftovers(id: &str, network: &str, ip: Option<&str>, ports: &[u16]) -> Vec<String> {
    let mut out = Vec::new();
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    out.extend(
        mountinfo
            .lines()
            .filter(|l| l.contains(id))
            .map(|l| format!("mount {l}")),
    );
    let cgroup = Path::new("/sys/fs/cgroup");
    let mut dirs = vec![cgroup.join("rdock").join(id)];
    if let Ok(entries) = std::fs::read_dir(cgroup) {
        dirs.extend(entries.flatten().map(|e| e.path().join("rdock").join(id)));
    }
    out.extend(
        dirs.into_iter()
            .filter(|d| d.exists())
            .map(|d| format!("cgroup {}", d.display())),
    );
    let netns = Path::new("/run/rdock/netns").join(id);
    if netns.exists() {
        out.push(format!("netns file {}", netns.display()));
    }
    let veth = veth_name(network, id);
    if link_exists(&veth) {
        out.push(format!("veth {veth}"));
    }
    out.extend(
        rules_naming(ip, ports)
            .into_iter()
            .map(|r| format!("rule {r}")),
    );
    out
}

/// Asserts that nothing of the container is left. The kernel deletes a
/// veth with its namespace once the last process in it is gone, which may
/// lag the command by a moment: this waits up to 10 s for it all to go.
pub fn assert_nothing_left(id: &str, network: &str, ip: Option<&str>, ports: &[u16]) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let left = leftovers(id, network, ip, ports);
        if left.is_empty() {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "container {id} left behind:\n{}",
            left.join("\n")
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}
