//! Networking for containers, as `docker run --network` does it.
//!
//! For the sandbox: the `/etc/hosts` and `/etc/resolv.conf` contents for
//! each [`Network`] mode, and bringing up loopback inside a fresh network
//! namespace.
//!
//! Bridge networks ([`NetworkConfig`]: name, bridge interface, [`Ipv4Net`]
//! subnet, gateway): [`default_bridge`] is Docker's `bridge` network on
//! interface `rdock0`; [`create_network`], [`remove_network`] and [`list`]
//! manage user networks (bridges `rdk-<hash of the name>`), whose members
//! resolve each other's names through their hosts files.
//!
//! [`attach`] wires a container in before it starts: it reserves the host
//! ports of its [`PortMapping`]s (`-p [ip:][hostPort:]containerPort[/udp]`),
//! leases an address (IPAM under `/run/rdock/net/<network>/`, with a file
//! lock), creates a network namespace file `/run/rdock/netns/<id>` with `lo`
//! up and a veth pair (host end on the bridge, `eth0` inside, default route
//! via the gateway), adds the `DNAT` rules and writes the container's
//! `/etc/hosts` and `/etc/resolv.conf`. The returned [`Attachment`] names the
//! namespace file to join and the files to bind-mount, and holds the port
//! reservations; its [`Endpoint`] is the serializable record for `ps` and
//! `inspect` (also listed by [`endpoints`]). [`detach`] removes all of it,
//! idempotently, also after a crash; [`detach_dead`] does so for every
//! container a liveness check rejects, and `attach` for those whose
//! namespace file is gone. [`detach_exited`], for a container whose
//! processes have all exited, leaves its veth pair to the kernel, which
//! deletes it with the namespace (a synchronous delete waits for the
//! network stack's RCU grace periods). Published ports answer on every host address,
//! loopback included, to the host and to containers alike. Errors are
//! [`NetError`]s.
//!
//! A container is on one network at a time: its namespace file is keyed by
//! its id alone.
//!
//! Links, addresses and routes go through netlink (no `ip` processes);
//! NAT goes through `iptables` (see the `iptables` module for the rules).
//! Everything here needs root and must run in the host's network namespace.
//!
//! ```no_run
//! use rdock_runner::net::{attach, default_bridge, detach, AttachRequest};
//!
//! let net = default_bridge();
//! let req = AttachRequest {
//!     hostname: "web".into(),
//!     aliases: vec![],
//!     ports: vec!["8080:80".parse()?],
//! };
//! let att = attach("c0ffee", &net, &req)?;
//! // Run the container in att.netns with att.hosts_file and att.resolv_conf.
//! assert_eq!(att.ports[0].to_string(), "0.0.0.0:8080->80/tcp");
//! detach("c0ffee", &net)?;
//! # Ok::<(), rdock_runner::net::NetError>(())
//! ```

mod attach;
mod config;
mod error;
mod hosts;
mod iptables;
mod netlink;
mod netns;
mod network;
mod ports;
mod state;

pub use attach::{
    attach, detach, detach_dead, detach_exited, endpoints, AttachRequest, Attachment, Endpoint,
};
pub use config::{
    validate_network_name, Ipv4Net, NetworkConfig, PortMapping, Proto, PublishedPort,
    DEFAULT_BRIDGE, DEFAULT_NETWORK,
};
pub use error::{NetError, NetResult};
pub use network::{create_network, default_bridge, list, remove_network, subnet_in_use};

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use nix::errno::Errno;

use crate::spec::Network;

/// The sandbox's `/etc/hosts`: the host's file for host networking,
/// otherwise localhost and the sandbox's own name.
pub(crate) fn hosts(network: Network, hostname: &str, host_file: Option<&str>) -> String {
    match (network, host_file) {
        (Network::Host, Some(text)) => text.to_owned(),
        _ => {
            format!("127.0.0.1\tlocalhost {hostname}\n::1\tlocalhost ip6-localhost ip6-loopback\n")
        }
    }
}

/// The sandbox's `/etc/resolv.conf`. Host networking copies the host's; the
/// default network drops loopback name servers (unreachable from a fresh
/// namespace) and falls back to public ones, as Docker does; `none` gets an
/// empty file.
pub(crate) fn resolv_conf(network: Network, host_file: Option<&str>) -> String {
    match network {
        Network::Host => host_file.unwrap_or_default().to_owned(),
        Network::None => String::new(),
        Network::Default | Network::Join(_) => {
            let text = host_file.unwrap_or_default();
            let kept: Vec<&str> = text
                .lines()
                .filter(|l| !is_loopback_nameserver(l))
                .collect();
            let mut out = kept.join("\n");
            if !out.is_empty() {
                out.push('\n');
            }
            if !kept
                .iter()
                .any(|l| l.trim_start().starts_with("nameserver"))
            {
                out.push_str("nameserver 8.8.8.8\nnameserver 8.8.4.4\n");
            }
            out
        }
    }
}

fn is_loopback_nameserver(line: &str) -> bool {
    let mut words = line.split_whitespace();
    words.next() == Some("nameserver")
        && words
            .next()
            .is_some_and(|a| a.starts_with("127.") || a == "::1")
}

/// Sets `IFF_UP` on `lo` in the current network namespace.
pub(crate) fn loopback_up() -> Result<(), Errno> {
    // SAFETY: plain socket(2); the fd is owned right away.
    let raw = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    if raw < 0 {
        return Err(Errno::last());
    }
    // SAFETY: `raw` is a fresh, valid descriptor nobody else owns.
    let sock = unsafe { OwnedFd::from_raw_fd(raw) };
    // SAFETY: ifreq is plain old data; all-zero is a valid value.
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    for (dst, src) in req.ifr_name.iter_mut().zip(b"lo") {
        *dst = *src as libc::c_char;
    }
    // SAFETY: SIOCGIFFLAGS/SIOCSIFFLAGS read and write the ifreq we own.
    unsafe {
        if libc::ioctl(sock.as_raw_fd(), libc::SIOCGIFFLAGS, &mut req) < 0 {
            return Err(Errno::last());
        }
        req.ifr_ifru.ifru_flags |= libc::IFF_UP as libc::c_short;
        if libc::ioctl(sock.as_raw_fd(), libc::SIOCSIFFLAGS, &req) < 0 {
            return Err(Errno::last());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolv_conf_per_mode() {
        let host = "search lan\nnameserver 127.0.0.53\n";
        assert_eq!(
            resolv_conf(Network::Default, Some(host)),
            "search lan\nnameserver 8.8.8.8\nnameserver 8.8.4.4\n"
        );
        let host2 = "nameserver 10.0.0.1\n";
        assert_eq!(resolv_conf(Network::Default, Some(host2)), host2);
        assert_eq!(resolv_conf(Network::Host, Some(host)), host);
        assert_eq!(resolv_conf(Network::None, Some(host)), "");
    }

    #[test]
    fn hosts_per_mode() {
        assert!(hosts(Network::None, "box", None).starts_with("127.0.0.1\tlocalhost box\n"));
        assert_eq!(hosts(Network::Host, "box", Some("x\n")), "x\n");
    }
}
