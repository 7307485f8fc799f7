//! Networks themselves: the bridge with the gateway address, forwarding and
//! the network's NAT rules ([`create_network`], idempotent and also done by
//! the first attach), their removal ([`remove_network`]), the networks set
//! up on this host ([`list`]), the default one ([`default_bridge`]) and the
//! subnet overlap check ([`subnet_in_use`]).

use std::fs;
use std::net::Ipv4Addr;

use super::attach::{endpoints, teardown_locked};
use super::config::{Ipv4Net, NetworkConfig, DEFAULT_BRIDGE, DEFAULT_NETWORK};
use super::error::{NetError, NetResult};
use super::iptables;
use super::netlink::Rtnl;
use super::state;

/// Marks a network whose rules are the current layout: a newer rdock sets
/// up the rules of a network made by an older one again.
const RULES_MARK: &str = "rules-v3";

/// Subnets tried, in order, for the default network: private ranges that
/// Docker (172.17/16) and Podman (10.88/16) do not take by default.
const DEFAULT_CANDIDATES: [&str; 4] = [
    "10.77.0.0/16",
    "10.76.0.0/16",
    "172.30.0.0/16",
    "192.168.177.0/24",
];

/// The default network (`bridge`, interface `rdock0`): the subnet it was set
/// up with, or else the first candidate no host route or other network
/// overlaps (10.77.0.0/16 on most hosts).
pub fn default_bridge() -> NetworkConfig {
    if let Ok(Some(cfg)) = state::read_config(DEFAULT_NETWORK) {
        return cfg;
    }
    let mut pick = None;
    for c in DEFAULT_CANDIDATES {
        let Ok(subnet) = c.parse::<Ipv4Net>() else {
            continue;
        };
        if matches!(subnet_in_use(&subnet, Some(DEFAULT_BRIDGE)), Ok(None)) {
            pick = Some(subnet);
            break;
        }
    }
    let subnet =
        pick.unwrap_or_else(|| Ipv4Net::new(Ipv4Addr::new(10, 77, 0, 0), 16).expect("valid"));
    NetworkConfig::new(DEFAULT_NETWORK, subnet).expect("the default network name is valid")
}

/// What `subnet` overlaps: a host route (not through bridge `ignore`) or
/// another network set up on this host; `None` when it is free.
pub fn subnet_in_use(subnet: &Ipv4Net, ignore: Option<&str>) -> NetResult<Option<String>> {
    let text =
        fs::read_to_string("/proc/net/route").map_err(NetError::io("read", "/proc/net/route"))?;
    if let Some(route) = overlapping_route(&text, subnet, ignore) {
        return Ok(Some(route));
    }
    for other in list()? {
        if Some(other.bridge.as_str()) != ignore && other.subnet.overlaps(subnet) {
            return Ok(Some(format!("network {} ({})", other.name, other.subnet)));
        }
    }
    Ok(None)
}

/// The networks whose bridges are set up on this host.
pub fn list() -> NetResult<Vec<NetworkConfig>> {
    let dir = state::run_root().join("net");
    let Ok(entries) = fs::read_dir(&dir) else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for e in entries.flatten() {
        if let Some(name) = e.file_name().to_str() {
            out.extend(state::read_config(name)?);
        }
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

/// The first route of `table` (`/proc/net/route`: hex addresses in host
/// byte order) that shares an address with `subnet`, skipping default
/// routes and those through interface `ignore`.
fn overlapping_route(table: &str, subnet: &Ipv4Net, ignore: Option<&str>) -> Option<String> {
    let hex = |s: &str| {
        u32::from_str_radix(s, 16)
            .ok()
            .map(|v| u32::from_be_bytes(v.to_ne_bytes()))
    };
    let (lo, hi) = (u32::from(subnet.network()), u32::from(subnet.broadcast()));
    table.lines().skip(1).find_map(|l| {
        let f: Vec<&str> = l.split_whitespace().collect();
        if f.len() < 8 || Some(f[0]) == ignore {
            return None;
        }
        let (dest, mask) = (hex(f[1])?, hex(f[7])?);
        if mask == 0 {
            return None; // a default route overlaps everything
        }
        let (start, end) = (dest & mask, dest | !mask);
        (start <= hi && lo <= end).then(|| {
            format!(
                "the route to {}/{} on {}",
                Ipv4Addr::from(start),
                mask.leading_ones(),
                f[0]
            )
        })
    })
}

/// Sets `net` up: its bridge with the gateway address, up, IPv4 forwarding,
/// `route_localnet` on the bridge (DNAT from 127.0.0.1), and its NAT and
/// filter rules. Idempotent; a subnet overlapping a host route or another
/// network is refused.
pub fn create_network(net: &NetworkConfig) -> NetResult<()> {
    net.validate()?;
    let _lock = state::lock_network(&net.name)?;
    ensure_locked(net)
}

pub(crate) fn ensure_locked(net: &NetworkConfig) -> NetResult<()> {
    let mut rtnl = Rtnl::open()?;
    let existing = state::read_config(&net.name)?;
    let bridge = rtnl.link_index(&net.bridge)?;
    let mark = state::network_dir(&net.name).join(RULES_MARK);
    if existing.as_ref() == Some(net) && bridge.is_some() && mark.exists() {
        return Ok(()); // the fast path of every attach
    }
    if let Some(old) = existing.filter(|old| old != net) {
        if !endpoints(&old.name)?.is_empty() {
            return Err(NetError::invalid(
                "network",
                &net.name,
                format!(
                    "already set up as {} on {} with containers attached",
                    old.subnet, old.bridge
                ),
            ));
        }
        remove_locked(&old)?;
    }
    if let Some(other) = subnet_in_use(&net.subnet, Some(&net.bridge))? {
        return Err(NetError::SubnetOverlap {
            subnet: net.subnet.to_string(),
            other,
        });
    }
    let index = match bridge {
        Some(i) => i,
        None => {
            rtnl.add_bridge(&net.bridge)?;
            rtnl.link_index(&net.bridge)?
                .ok_or_else(|| NetError::Netlink {
                    action: "look up bridge",
                    object: net.bridge.clone(),
                    source: std::io::Error::from_raw_os_error(libc::ENODEV),
                })?
        }
    };
    rtnl.add_addr(index, net.gateway, net.subnet.prefix(), &net.bridge)?;
    rtnl.set_up(index, &net.bridge)?;
    sysctl("/proc/sys/net/ipv4/ip_forward")?;
    sysctl(&format!(
        "/proc/sys/net/ipv4/conf/{}/route_localnet",
        net.bridge
    ))?;
    iptables::setup_network(net)?;
    state::write_atomic(&mark, b"")?;
    let json = serde_json::to_vec_pretty(net).unwrap_or_default();
    state::write_atomic(&state::network_dir(&net.name).join("config.json"), &json)
}

fn sysctl(path: &str) -> NetResult<()> {
    if fs::read_to_string(path).is_ok_and(|v| v.trim() == "1") {
        return Ok(());
    }
    fs::write(path, "1").map_err(NetError::io("write", path))
}

/// Removes `net`: its rules, its bridge and its state. Refused while a
/// running container is attached; records of dead ones (their namespace
/// file gone) are cleaned up first. Removing a network that is not set up
/// is fine.
pub fn remove_network(net: &NetworkConfig) -> NetResult<()> {
    net.validate()?;
    let lock = state::lock_network(&net.name)?;
    let eps = endpoints(&net.name)?;
    let live: Vec<&str> = eps
        .iter()
        .filter(|e| e.netns.exists())
        .map(|e| e.container_id.as_str())
        .collect();
    if !live.is_empty() {
        return Err(NetError::ActiveEndpoints {
            network: net.name.clone(),
            containers: live.join(", "),
        });
    }
    for e in &eps {
        teardown_locked(net, &e.container_id)?;
    }
    remove_locked(net)?;
    let dir = state::network_dir(&net.name);
    lock.remove()?;
    // Empty unless a concurrent attach recreated it: then it stays.
    let _ = fs::remove_dir(&dir);
    Ok(())
}

fn remove_locked(net: &NetworkConfig) -> NetResult<()> {
    iptables::teardown_network(net);
    Rtnl::open()?.del_link(&net.bridge)?;
    let dir = state::network_dir(&net.name);
    for sub in [
        "config.json",
        RULES_MARK,
        "leases",
        "endpoints",
        "containers",
    ] {
        let p = dir.join(sub);
        let r = if p.is_dir() {
            fs::remove_dir_all(&p)
        } else {
            fs::remove_file(&p)
        };
        match r {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(NetError::io("remove", &p)(e))
            }
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    // As the kernel prints it on a little-endian host.
    const TABLE: &str =
        "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n\
eth0\t00000000\t010200C0\t0003\t0\t0\t0\t00000000\t0\t0\t0\n\
cni0\t0000580A\t00000000\t0001\t0\t0\t0\t0000FFFF\t0\t0\t0\n\
eth0\t000200C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n";

    fn net(s: &str) -> Ipv4Net {
        s.parse().unwrap()
    }

    #[test]
    fn overlaps_with_host_routes() {
        if cfg!(target_endian = "big") {
            return; // the table above is little-endian
        }
        let hit = overlapping_route(TABLE, &net("10.88.3.0/24"), None);
        assert_eq!(hit.as_deref(), Some("the route to 10.88.0.0/16 on cni0"));
        let hit = overlapping_route(TABLE, &net("10.0.0.0/8"), None);
        assert_eq!(hit.as_deref(), Some("the route to 10.88.0.0/16 on cni0"));
        let hit = overlapping_route(TABLE, &net("192.0.2.0/25"), None);
        assert_eq!(hit.as_deref(), Some("the route to 192.0.2.0/24 on eth0"));
        // The default route does not count, nor the ignored interface.
        assert_eq!(overlapping_route(TABLE, &net("10.77.0.0/16"), None), None);
        assert_eq!(
            overlapping_route(TABLE, &net("10.88.0.0/16"), Some("cni0")),
            None
        );
    }
}
