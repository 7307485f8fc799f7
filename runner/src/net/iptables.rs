//! NAT and filter rules through Debian's `iptables` (iptables-nft), laid out
//! as Docker lays them out without its userland proxy:
//!
//! - nat `RDOCK`, jumped to from `PREROUTING` and `OUTPUT` for local
//!   destinations, holds one `DNAT` rule per published port;
//! - nat `POSTROUTING` masquerades traffic leaving a subnet for elsewhere,
//!   traffic from local addresses (127.0.0.1 included) into a bridge, so
//!   replies to a DNAT from loopback find their way back, and containers'
//!   DNAT'd traffic back into their bridge (hairpin: a container reaching a
//!   published port through a host address);
//! - filter `RDOCK-FORWARD`, first in `FORWARD` (whose policy may be DROP),
//!   lets containers out, replies in, and published ports in; it starts
//!   with `RDOCK-ISOLATION-1`/`-2`, which drop traffic from one network's
//!   bridge to another's, as Docker isolates networks.
//!
//! Every rule is a [`Rule`] value, so teardown deletes exactly what setup
//! added, even from a record written before a crash.

use std::process::Command;

use serde::{Deserialize, Serialize};

use super::config::{NetworkConfig, PublishedPort};
use super::error::{NetError, NetResult};
use super::state::{self, FileLock};
use std::net::Ipv4Addr;

const NAT_CHAIN: &str = "RDOCK";
const FORWARD_CHAIN: &str = "RDOCK-FORWARD";
const ISOLATION_CHAIN: &str = "RDOCK-ISOLATION-1";
const ISOLATION_DROP_CHAIN: &str = "RDOCK-ISOLATION-2";

/// One rule: table, chain and match/target arguments.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Rule {
    table: String,
    chain: String,
    args: Vec<String>,
}

impl Rule {
    fn new(table: &str, chain: &str, args: &[&str]) -> Rule {
        Rule {
            table: table.to_owned(),
            chain: chain.to_owned(),
            args: args.iter().map(|s| (*s).to_owned()).collect(),
        }
    }

    fn command(&self, op: &str) -> Vec<String> {
        let mut v = vec![
            "-t".to_owned(),
            self.table.clone(),
            op.to_owned(),
            self.chain.clone(),
        ];
        v.extend(self.args.iter().cloned());
        v
    }
}

fn iptables(args: &[String]) -> NetResult<()> {
    let out = Command::new("iptables")
        .arg("-w")
        .arg("10")
        .args(args)
        .output()
        .map_err(|e| NetError::Iptables {
            args: args.join(" "),
            reason: format!("cannot run iptables: {e} (install the iptables package)"),
        })?;
    if out.status.success() {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    Err(NetError::Iptables {
        args: args.join(" "),
        reason: stderr.lines().next().unwrap_or("failed").trim().to_owned(),
    })
}

fn exists(rule: &Rule) -> bool {
    iptables(&rule.command("-C")).is_ok()
}

fn ensure_chain(table: &str, chain: &str) -> NetResult<()> {
    let listed = iptables(&["-t", table, "-n", "-L", chain].map(String::from));
    if listed.is_ok() {
        return Ok(());
    }
    iptables(&["-t", table, "-N", chain].map(String::from))
}

/// Adds `rule` unless it is there; `first` inserts at the top of the chain.
fn ensure(rule: &Rule, first: bool) -> NetResult<()> {
    if exists(rule) {
        return Ok(());
    }
    if first {
        let mut cmd = rule.command("-I");
        cmd.insert(4, "1".to_owned());
        iptables(&cmd)
    } else {
        iptables(&rule.command("-A"))
    }
}

/// Deletes `rule`; a rule that is not there is fine.
fn delete(rule: &Rule) {
    let _ = iptables(&rule.command("-D"));
}

/// The jumps into rdock's own chains, shared by every network.
fn base_rules() -> Vec<(Rule, bool)> {
    let local = ["-m", "addrtype", "--dst-type", "LOCAL", "-j", NAT_CHAIN];
    vec![
        (Rule::new("nat", "PREROUTING", &local), false),
        (Rule::new("nat", "OUTPUT", &local), false),
        (Rule::new("filter", "FORWARD", &["-j", FORWARD_CHAIN]), true),
        (
            Rule::new("filter", FORWARD_CHAIN, &["-j", ISOLATION_CHAIN]),
            true,
        ),
    ]
}

fn legacy_return(net: &NetworkConfig) -> Rule {
    Rule::new("nat", NAT_CHAIN, &["-i", &net.bridge, "-j", "RETURN"])
}

/// The rules of one network (not of its containers), each with whether it
/// goes first in its chain.
fn network_rules(net: &NetworkConfig) -> Vec<(Rule, bool)> {
    let br = net.bridge.as_str();
    let subnet = net.subnet.to_string();
    let isolation = [
        (
            Rule::new(
                "filter",
                ISOLATION_CHAIN,
                &["-i", br, "!", "-o", br, "-j", ISOLATION_DROP_CHAIN],
            ),
            false,
        ),
        (
            Rule::new("filter", ISOLATION_DROP_CHAIN, &["-o", br, "-j", "DROP"]),
            false,
        ),
    ];
    let mut rules = network_only_rules(net, br, &subnet);
    rules.extend(isolation);
    rules
}

fn network_only_rules(net: &NetworkConfig, br: &str, subnet: &str) -> Vec<(Rule, bool)> {
    if net.internal {
        return vec![
            (
                Rule::new(
                    "filter",
                    FORWARD_CHAIN,
                    &["-i", br, "-o", br, "-j", "ACCEPT"],
                ),
                false,
            ),
            (
                Rule::new("filter", FORWARD_CHAIN, &["-i", br, "-j", "DROP"]),
                false,
            ),
            (
                Rule::new("filter", FORWARD_CHAIN, &["-o", br, "-j", "DROP"]),
                false,
            ),
        ];
    }
    vec![
        // Containers reach published ports through the host's addresses
        // too (hairpin): the DNAT'd connection leaves with the gateway as
        // its source, so the answer comes back the same way.
        (
            Rule::new(
                "nat",
                "POSTROUTING",
                &[
                    "-s",
                    subnet,
                    "-o",
                    br,
                    "-m",
                    "conntrack",
                    "--ctstate",
                    "DNAT",
                    "-j",
                    "MASQUERADE",
                ],
            ),
            false,
        ),
        (
            Rule::new(
                "nat",
                "POSTROUTING",
                &["-s", subnet, "!", "-o", br, "-j", "MASQUERADE"],
            ),
            false,
        ),
        (
            Rule::new(
                "nat",
                "POSTROUTING",
                &[
                    "-o",
                    br,
                    "-m",
                    "addrtype",
                    "--src-type",
                    "LOCAL",
                    "-j",
                    "MASQUERADE",
                ],
            ),
            false,
        ),
        (
            Rule::new("filter", FORWARD_CHAIN, &["-i", br, "-j", "ACCEPT"]),
            false,
        ),
        (
            Rule::new(
                "filter",
                FORWARD_CHAIN,
                &[
                    "-o",
                    br,
                    "-m",
                    "conntrack",
                    "--ctstate",
                    "RELATED,ESTABLISHED",
                    "-j",
                    "ACCEPT",
                ],
            ),
            false,
        ),
    ]
}

/// Installs the shared chains and the rules of `net`; idempotent.
pub(crate) fn setup_network(net: &NetworkConfig) -> NetResult<()> {
    // Chain creation and the check-then-add steps race between processes.
    let _lock = FileLock::acquire(&state::run_root().join("iptables.lock"))?;
    ensure_chain("nat", NAT_CHAIN)?;
    ensure_chain("filter", FORWARD_CHAIN)?;
    ensure_chain("filter", ISOLATION_CHAIN)?;
    ensure_chain("filter", ISOLATION_DROP_CHAIN)?;
    for (rule, first) in base_rules() {
        ensure(&rule, first)?;
    }
    for (rule, first) in network_rules(net) {
        ensure(&rule, first)?;
    }
    // Older rdock kept containers out of DNAT (no hairpin).
    delete(&legacy_return(net));
    Ok(())
}

/// Deletes the rules of `net` (the shared chains stay, as Docker's do).
pub(crate) fn teardown_network(net: &NetworkConfig) {
    let _lock = FileLock::acquire(&state::run_root().join("iptables.lock"));
    for (rule, _) in network_rules(net) {
        delete(&rule);
    }
    delete(&legacy_return(net));
}

/// The rules publishing `port` of the container at `ip` on `net`.
pub(crate) fn port_rules(net: &NetworkConfig, ip: Ipv4Addr, port: &PublishedPort) -> Vec<Rule> {
    let br = net.bridge.as_str();
    let proto = port.proto.to_string();
    let host_port = port.host_port.to_string();
    let container_port = port.container_port.to_string();
    let to = format!("{ip}:{}", port.container_port);
    let dest = format!("{ip}/32");
    let mut dnat: Vec<&str> = Vec::new();
    let host_ip = port
        .host_ip
        .filter(|h| !h.is_unspecified())
        .map(|h| format!("{h}/32"));
    if let Some(h) = &host_ip {
        dnat.extend(["-d", h]);
    }
    dnat.extend(["-p", &proto, "-m", &proto, "--dport", &host_port]);
    dnat.extend(["-j", "DNAT", "--to-destination", &to]);
    let accept = [
        "-d",
        &dest,
        "!",
        "-i",
        br,
        "-o",
        br,
        "-p",
        &proto,
        "-m",
        &proto,
        "--dport",
        &container_port,
        "-j",
        "ACCEPT",
    ];
    vec![
        Rule::new("nat", NAT_CHAIN, &dnat),
        Rule::new("filter", FORWARD_CHAIN, &accept),
    ]
}

/// Applies `op` (`-A` or `-D`) to all `rules` in one `iptables-restore`
/// transaction: one process per container instead of one per rule, and
/// all or nothing.
fn restore(op: &str, rules: &[Rule]) -> NetResult<()> {
    use std::io::Write as _;
    if rules.is_empty() {
        return Ok(());
    }
    let mut text = String::new();
    for table in ["nat", "filter"] {
        let lines: Vec<String> = rules
            .iter()
            .filter(|r| r.table == table)
            .map(|r| format!("{op} {} {}\n", r.chain, r.args.join(" ")))
            .collect();
        if !lines.is_empty() {
            text.push_str(&format!("*{table}\n{}COMMIT\n", lines.concat()));
        }
    }
    let fail = |reason: String| NetError::Iptables {
        args: format!("-restore: {}", text.lines().nth(1).unwrap_or_default()),
        reason,
    };
    let mut child = Command::new("iptables-restore")
        .args(["-w", "10", "--noflush"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| {
            fail(format!(
                "cannot run iptables-restore: {e} (install the iptables package)"
            ))
        })?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(text.as_bytes())
            .map_err(|e| fail(e.to_string()))?;
    }
    let out = child.wait_with_output().map_err(|e| fail(e.to_string()))?;
    if out.status.success() {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    Err(fail(
        stderr.lines().next().unwrap_or("failed").trim().to_owned(),
    ))
}

/// Adds `rules`, all or none.
pub(crate) fn add(rules: &[Rule]) -> NetResult<()> {
    restore("-A", rules)
}

/// Deletes `rules`; missing ones are fine (one at a time when the batch
/// fails because some are gone already).
pub(crate) fn remove(rules: &[Rule]) {
    if restore("-D", rules).is_err() {
        for rule in rules {
            delete(rule);
        }
    }
}
