//! Attaching a container to a bridge network and detaching it:
//! [`attach`] returns an [`Attachment`] (namespace file, address, generated
//! files, reserved ports) and records an [`Endpoint`]; [`detach`] undoes all
//! of it from that record, so it also cleans up after a crash.

use std::fs;
use std::net::Ipv4Addr;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::config::{fnv1a, NetworkConfig, PortMapping, PublishedPort};
use super::error::{NetError, NetResult};
use super::iptables::{self, Rule};
use super::netlink::Rtnl;
use super::{hosts, netns, network, ports, state};

/// What the container asks of the network.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AttachRequest {
    /// The container's hostname, in its own `/etc/hosts`.
    pub hostname: String,
    /// More names other members of a user network resolve it by (its
    /// container name, `--network-alias`).
    pub aliases: Vec<String>,
    /// `-p` flags.
    pub ports: Vec<PortMapping>,
}

/// A container's place on a network, as recorded under `/run/rdock/net`:
/// what `ps` and `inspect` show and what [`detach`] removes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Endpoint {
    /// The container id.
    pub container_id: String,
    /// The network's name.
    pub network: String,
    /// The container's address.
    pub ip: Ipv4Addr,
    /// The subnet's prefix length.
    pub prefix: u8,
    /// The default route.
    pub gateway: Ipv4Addr,
    /// The container's hostname.
    pub hostname: String,
    /// Its other names on the network.
    pub aliases: Vec<String>,
    /// The host end of its veth pair.
    pub veth: String,
    /// The namespace file.
    pub netns: PathBuf,
    /// The generated `/etc/hosts` (bind-mount it; it is rewritten in place).
    pub hosts_file: PathBuf,
    /// The generated `/etc/resolv.conf`.
    pub resolv_conf: PathBuf,
    /// The published ports.
    pub ports: Vec<PublishedPort>,
    #[serde(default)]
    pub(crate) rules: Vec<Rule>,
}

/// A live attachment. Keep it for as long as the container runs: it holds
/// the sockets reserving the published host ports (see
/// [`Attachment::take_port_reservations`] to hand them to another owner).
#[derive(Debug)]
pub struct Attachment {
    /// The network namespace file to `setns` into.
    pub netns: PathBuf,
    /// The container's address.
    pub ip: Ipv4Addr,
    /// The default route.
    pub gateway: Ipv4Addr,
    /// The generated `/etc/hosts`.
    pub hosts_file: PathBuf,
    /// The generated `/etc/resolv.conf`.
    pub resolv_conf: PathBuf,
    /// The published ports, host ports chosen.
    pub ports: Vec<PublishedPort>,
    /// The full record (serializable).
    pub endpoint: Endpoint,
    reservations: Vec<OwnedFd>,
}

impl Attachment {
    /// The sockets holding the published host ports; dropping them frees
    /// the ports for other programs (the forwarding stays until detach).
    pub fn take_port_reservations(&mut self) -> Vec<OwnedFd> {
        std::mem::take(&mut self.reservations)
    }
}

/// Container ids become file and interface name parts.
fn validate_id(id: &str) -> NetResult<()> {
    let ok = !id.is_empty()
        && id.len() <= 128
        && !id.starts_with('.')
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(NetError::invalid(
            "container id",
            id,
            "expected [a-zA-Z0-9_.-], at most 128 characters",
        ))
    }
}

fn validate_name(what: &'static str, name: &str) -> NetResult<()> {
    if name.is_empty() || name.len() > 253 || name.contains(|c: char| c.is_whitespace() || c == '#')
    {
        return Err(NetError::invalid(
            what,
            name,
            "must be 1 to 253 characters without spaces or '#'",
        ));
    }
    Ok(())
}

/// The host end of `id`'s veth pair on `network`: derived from both, so
/// [`detach`] finds it without a record.
pub(crate) fn veth_name(network: &str, id: &str) -> String {
    let h = fnv1a(format!("{network}\0{id}").as_bytes());
    format!("rv{:012x}", h & 0xffff_ffff_ffff)
}

/// The container's `eth0` address, from its IP as Docker derives it
/// (`02:42:` and the IP's bytes): a new container that gets a freed IP
/// also gets its MAC, so neighbours' ARP caches stay right.
pub(crate) fn container_mac(ip: Ipv4Addr) -> [u8; 6] {
    let [a, b, c, d] = ip.octets();
    [0x02, 0x42, a, b, c, d]
}

fn endpoint_path(network: &str, id: &str) -> PathBuf {
    state::network_dir(network)
        .join("endpoints")
        .join(format!("{id}.json"))
}

fn container_dir(network: &str, id: &str) -> PathBuf {
    state::network_dir(network).join("containers").join(id)
}

pub(crate) fn read_endpoint(path: &Path) -> NetResult<Option<Endpoint>> {
    match fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| NetError::Io {
                action: "parse",
                path: path.to_owned(),
                source: e.into(),
            }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(NetError::io("read", path)(e)),
    }
}

/// The containers attached to network `name`.
pub fn endpoints(name: &str) -> NetResult<Vec<Endpoint>> {
    let dir = state::network_dir(name).join("endpoints");
    let Ok(entries) = fs::read_dir(&dir) else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for e in entries.flatten() {
        let p = e.path();
        if p.extension().is_some_and(|x| x == "json") {
            out.extend(read_endpoint(&p)?);
        }
    }
    out.sort_by_key(|e| e.ip);
    Ok(out)
}

/// Connects container `id` to `net`: sets the network up if needed,
/// reserves the host ports, leases an address, creates the namespace file
/// with `lo` up, a veth pair (host end on the bridge, `eth0` inside with the
/// address and a default route via the gateway), the `DNAT` rules, and the
/// container's `/etc/hosts` and `/etc/resolv.conf`; on a user network the
/// other members' hosts files learn the new name. Any failure leaves nothing
/// behind. Call from a thread in the host's network namespace.
pub fn attach(id: &str, net: &NetworkConfig, req: &AttachRequest) -> NetResult<Attachment> {
    validate_id(id)?;
    net.validate()?;
    validate_name("hostname", &req.hostname)?;
    for a in &req.aliases {
        validate_name("network alias", a)?;
    }
    if net.internal && !req.ports.is_empty() {
        return Err(NetError::invalid(
            "port mapping",
            &req.ports[0].to_string(),
            format!("network {} is internal: it cannot publish ports", net.name),
        ));
    }
    // Ports first: the likeliest failure, and it needs no lock.
    let mut published = Vec::new();
    let mut reservations = Vec::new();
    for m in &req.ports {
        let (p, fd) = ports::reserve(m)?;
        published.push(p);
        reservations.push(fd);
    }
    let _lock = state::lock_network(&net.name)?;
    if let Some(old) = read_endpoint(&endpoint_path(&net.name, id))? {
        if old.netns.exists() {
            return Err(NetError::AlreadyAttached {
                container: id.to_owned(),
                network: net.name.clone(),
                ip: old.ip,
            });
        }
        teardown_locked(net, id)?;
    }
    network::ensure_locked(net)?;
    reap_locked(net, |ep| ep.netns.exists())?;
    match setup_locked(id, net, req, published) {
        Ok(endpoint) => Ok(Attachment {
            netns: endpoint.netns.clone(),
            ip: endpoint.ip,
            gateway: endpoint.gateway,
            hosts_file: endpoint.hosts_file.clone(),
            resolv_conf: endpoint.resolv_conf.clone(),
            ports: endpoint.ports.clone(),
            endpoint,
            reservations,
        }),
        Err(e) => {
            // Another network's namespace file is not ours to remove.
            let own_ns = !matches!(e, NetError::NamespaceInUse { .. });
            let _ = teardown(net, id, own_ns, true);
            Err(e)
        }
    }
}

fn setup_locked(
    id: &str,
    net: &NetworkConfig,
    req: &AttachRequest,
    published: Vec<PublishedPort>,
) -> NetResult<Endpoint> {
    let ip = state::lease(net, id)?;
    let dir = container_dir(&net.name, id);
    let rules = published
        .iter()
        .flat_map(|p| iptables::port_rules(net, ip, p))
        .collect();
    let endpoint = Endpoint {
        container_id: id.to_owned(),
        network: net.name.clone(),
        ip,
        prefix: net.subnet.prefix(),
        gateway: net.gateway,
        hostname: req.hostname.clone(),
        aliases: req.aliases.clone(),
        veth: veth_name(&net.name, id),
        netns: netns::path(id),
        hosts_file: dir.join("hosts"),
        resolv_conf: dir.join("resolv.conf"),
        ports: published,
        rules,
    };
    // The record comes first: a crash from here on is undone by detach.
    let json = serde_json::to_vec_pretty(&endpoint).unwrap_or_default();
    state::write_atomic(&endpoint_path(&net.name, id), &json)?;

    let (ns_path, mut ns) = netns::create(id)?;
    let mut host = Rtnl::open()?;
    let bridge = host
        .link_index(&net.bridge)?
        .ok_or_else(|| NetError::Netlink {
            action: "look up bridge",
            object: net.bridge.clone(),
            source: std::io::Error::from_raw_os_error(libc::ENODEV),
        })?;
    let ns_file = netns::open(&ns_path)?;
    let mac = container_mac(ip);
    match host.add_veth(&endpoint.veth, bridge, "eth0", mac, ns_file.as_raw_fd()) {
        // The pair of an earlier run of this container whose namespace the
        // kernel is still destroying (see `detach_exited`): delete it now.
        Err(NetError::Netlink { source, .. }) if source.raw_os_error() == Some(libc::EEXIST) => {
            host.del_link(&endpoint.veth)?;
            host.add_veth(&endpoint.veth, bridge, "eth0", mac, ns_file.as_raw_fd())?;
        }
        other => other?,
    }
    // Hairpin: a frame may leave the bridge port it came in by, so a
    // container reaches its own published port through a host address.
    let hairpin = format!("/sys/class/net/{}/brport/hairpin_mode", endpoint.veth);
    fs::write(&hairpin, "1").map_err(NetError::io("write", &hairpin))?;
    let eth0 = ns.link_index("eth0")?.ok_or_else(|| NetError::Netlink {
        action: "look up",
        object: "eth0 in the container".to_owned(),
        source: std::io::Error::from_raw_os_error(libc::ENODEV),
    })?;
    ns.add_addr(eth0, ip, net.subnet.prefix(), "eth0")?;
    ns.set_up(eth0, "eth0")?;
    ns.add_default_route(net.gateway)?;

    iptables::add(&endpoint.rules)?;
    let host_resolv = fs::read_to_string("/etc/resolv.conf").ok();
    let resolv = super::resolv_conf(crate::Network::Default, host_resolv.as_deref());
    state::write_atomic(&endpoint.resolv_conf, resolv.as_bytes())?;
    hosts::refresh(net, Some(&endpoint))?;
    Ok(endpoint)
}

/// Disconnects container `id` from `net`: removes its port rules, veth pair,
/// namespace file, address lease, generated files and its name from the
/// other members' hosts files. Idempotent, and safe after a crash.
pub fn detach(id: &str, net: &NetworkConfig) -> NetResult<()> {
    validate_id(id)?;
    let _lock = state::lock_network(&net.name)?;
    teardown_locked(net, id)
}

/// [`detach`] for a container whose processes have all exited: the same,
/// except that the veth pair is left to the kernel, which deletes it when
/// it destroys the network namespace, as soon as the last process in it
/// (at most the sandbox's exiting intermediate) is gone. Deleting it here
/// would wait for the network stack's RCU grace periods (12 to 48 ms on a
/// busy host). The address is taken off `eth0` first, so the namespace,
/// while it lingers, never answers for an address a new container leases.
/// A container that is still running keeps its namespace, and its veth,
/// until it exits: call [`detach`] for those.
pub fn detach_exited(id: &str, net: &NetworkConfig) -> NetResult<()> {
    validate_id(id)?;
    let _lock = state::lock_network(&net.name)?;
    let record = endpoint_path(&net.name, id);
    let own_ns = !attached_elsewhere(&net.name, id);
    match read_endpoint(&record) {
        Ok(Some(ep)) if own_ns && ep.netns.exists() => {
            // Without the address gone the veth must go now.
            if unaddress(&ep).is_err() {
                return teardown_locked(net, id);
            }
            teardown(net, id, true, false)
        }
        _ => teardown_locked(net, id),
    }
}

/// Takes the container's address off its `eth0`.
fn unaddress(ep: &Endpoint) -> NetResult<()> {
    let mut ns = netns::rtnl_in(&ep.netns)?;
    if let Some(eth0) = ns.link_index("eth0")? {
        ns.del_addr(eth0, ep.ip, ep.prefix, "eth0")?;
    }
    Ok(())
}

/// Whether another network has a record of container `id` (its namespace
/// file is then that attachment's, not ours to remove).
fn attached_elsewhere(network: &str, id: &str) -> bool {
    let Ok(entries) = fs::read_dir(state::run_root().join("net")) else {
        return false;
    };
    entries
        .flatten()
        .filter(|e| e.file_name().to_str() != Some(network))
        .any(|e| {
            e.path()
                .join("endpoints")
                .join(format!("{id}.json"))
                .exists()
        })
}

/// Detaches every container of `net` for which `alive` says no: the
/// cleanup after containers died without a detach (a killed monitor). Their
/// ids come back. [`attach`] does this itself for containers whose namespace
/// file is gone.
pub fn detach_dead(
    net: &NetworkConfig,
    alive: impl Fn(&Endpoint) -> bool,
) -> NetResult<Vec<String>> {
    net.validate()?;
    let _lock = state::lock_network(&net.name)?;
    reap_locked(net, alive)
}

fn reap_locked(net: &NetworkConfig, alive: impl Fn(&Endpoint) -> bool) -> NetResult<Vec<String>> {
    let mut reaped = Vec::new();
    for ep in endpoints(&net.name)? {
        if !alive(&ep) {
            teardown_locked(net, &ep.container_id)?;
            reaped.push(ep.container_id);
        }
    }
    Ok(reaped)
}

pub(crate) fn teardown_locked(net: &NetworkConfig, id: &str) -> NetResult<()> {
    teardown(net, id, true, true)
}

/// `delete_veth` false leaves the pair to the namespace's destruction.
fn teardown(net: &NetworkConfig, id: &str, remove_netns: bool, delete_veth: bool) -> NetResult<()> {
    let record = endpoint_path(&net.name, id);
    // An unreadable record must not stop the rest of the cleanup.
    if let Ok(Some(ep)) = read_endpoint(&record) {
        iptables::remove(&ep.rules);
    }
    if delete_veth {
        Rtnl::open()?.del_link(&veth_name(&net.name, id))?;
    }
    if remove_netns && !attached_elsewhere(&net.name, id) {
        netns::remove(id)?;
    }
    state::release(&net.name, id)?;
    state::remove_file(&record)?;
    let dir = container_dir(&net.name, id);
    match fs::remove_dir_all(&dir) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            return Err(NetError::io("remove", &dir)(e))
        }
        _ => {}
    }
    hosts::refresh(net, None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn macs_follow_addresses_as_dockers() {
        let mac = container_mac(Ipv4Addr::new(172, 17, 0, 2));
        assert_eq!(mac, [0x02, 0x42, 0xac, 0x11, 0x00, 0x02]);
    }

    #[test]
    fn veth_names_fit_and_differ() {
        let a = veth_name("bridge", "c1");
        assert_eq!(a.len(), 14);
        assert_eq!(a, veth_name("bridge", "c1"));
        assert_ne!(a, veth_name("bridge", "c2"));
        assert_ne!(a, veth_name("other", "c1"));
    }

    fn link_exists(name: &str) -> bool {
        Path::new("/sys/class/net").join(name).exists()
    }

    fn eventually(what: &str, mut ok: impl FnMut() -> bool) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while !ok() {
            assert!(std::time::Instant::now() < deadline, "timed out: {what}");
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
    }

    /// The pair goes with the namespace, the address at once; the same id
    /// and the same address can be attached again meanwhile.
    #[test]
    fn detach_exited_leaves_the_veth_to_the_namespace() {
        if !nix::unistd::geteuid().is_root() {
            assert!(std::env::var_os("CI").is_none(), "needs root in CI");
            return;
        }
        let name = format!("rdt-exited-{}", std::process::id());
        let net = NetworkConfig::new(&name, "10.251.19.0/24".parse().unwrap()).unwrap();
        struct Guard(NetworkConfig, Option<std::process::Child>);
        impl Drop for Guard {
            fn drop(&mut self) {
                if let Some(mut c) = self.1.take() {
                    let _ = c.kill();
                    let _ = c.wait();
                }
                for ep in endpoints(&self.0.name).unwrap_or_default() {
                    let _ = detach(&ep.container_id, &self.0);
                }
                let _ = super::super::remove_network(&self.0);
            }
        }
        let _ = super::super::remove_network(&net);
        let mut guard = Guard(net.clone(), None);
        let id = format!("{name}-c1");
        let req = AttachRequest {
            hostname: "c1".into(),
            aliases: vec![],
            ports: vec![],
        };
        let att = attach(&id, &net, &req).unwrap();
        let veth = att.endpoint.veth.clone();
        // A process still in the namespace (as the sandbox's exiting
        // intermediate is) keeps it, and the pair, alive.
        let holder = std::process::Command::new("nsenter")
            .arg(format!("--net={}", att.netns.display()))
            .args(["sleep", "30"])
            .spawn()
            .unwrap();
        let ns_of_holder = format!("--net=/proc/{}/ns/net", holder.id());
        guard.1 = Some(holder);
        eventually("the holder joined", || {
            fs::read_link(format!("/proc/{}/ns/net", guard.1.as_ref().unwrap().id()))
                .ok()
                .zip(fs::metadata(&att.netns).ok())
                .is_some_and(|(l, m)| {
                    use std::os::unix::fs::MetadataExt;
                    l.to_string_lossy().contains(&m.ino().to_string())
                })
        });
        detach_exited(&id, &net).unwrap();
        assert!(!att.netns.exists());
        assert!(endpoints(&net.name).unwrap().is_empty());
        assert!(!att.hosts_file.exists() && !att.resolv_conf.exists());
        assert!(link_exists(&veth), "the namespace still holds it");
        let addrs = std::process::Command::new("nsenter")
            .args([
                ns_of_holder.as_str(),
                "ip",
                "-4",
                "-o",
                "addr",
                "show",
                "eth0",
            ])
            .output()
            .unwrap();
        assert!(addrs.status.success());
        let addrs = String::from_utf8_lossy(&addrs.stdout).into_owned();
        assert!(!addrs.contains(&att.ip.to_string()), "{addrs}");
        // The same id again (a restart): the lingering pair is replaced;
        // the address is free again.
        let again = attach(&id, &net, &req).unwrap();
        assert_eq!(again.ip, att.ip);
        assert!(link_exists(&veth));
        detach(&id, &net).unwrap();
        assert!(!link_exists(&veth));
        // Once the last process leaves, the kernel deletes the old pair.
        let third = attach(&id, &net, &req).unwrap();
        detach_exited(&id, &net).unwrap();
        assert!(!third.netns.exists());
        eventually("the veth went with its namespace", || !link_exists(&veth));
        drop(guard);
    }

    #[test]
    fn ids_are_checked() {
        assert!(validate_id("abc123_x.y-z").is_ok());
        for bad in ["", "../x", "a/b", ".hidden", "a b"] {
            assert!(validate_id(bad).is_err(), "{bad}");
        }
    }
}
