//! [`NetError`]: what can go wrong while wiring a container into a network.
//! Kept apart from the sandbox's [`crate::Error`] because networking runs in
//! the caller's process (attach and detach), not in the sandbox child.

use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;

use super::Proto;

/// Result alias for the networking module.
pub type NetResult<T, E = NetError> = std::result::Result<T, E>;

/// Everything that can go wrong while creating networks and attaching
/// containers to them.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NetError {
    /// A value (subnet, port mapping, network or container name) did not
    /// parse or was out of range.
    #[error("invalid {what} {value:?}: {reason}")]
    Invalid {
        /// What kind of value.
        what: &'static str,
        /// The value as given.
        value: String,
        /// Why it was rejected.
        reason: String,
    },
    /// A file operation on the network state under `/run/rdock` failed.
    #[error("{action} {}: {source}", path.display())]
    Io {
        /// What was being done.
        action: &'static str,
        /// The path involved.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A netlink request (link, address, route) was refused by the kernel.
    #[error("netlink: {action} {object}: {source}")]
    Netlink {
        /// The request, e.g. "create veth".
        action: &'static str,
        /// The interface or address involved.
        object: String,
        /// The kernel's answer.
        source: std::io::Error,
    },
    /// Creating, entering or removing a network namespace failed.
    #[error("network namespace {}: {action}: {source}", path.display())]
    Netns {
        /// What was being done.
        action: &'static str,
        /// The namespace file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// `iptables` could not be run or rejected a rule.
    #[error("iptables {args}: {reason}")]
    Iptables {
        /// The arguments given.
        args: String,
        /// Its error output, or why it could not start.
        reason: String,
    },
    /// The host port of a `-p` mapping is taken.
    #[error("failed to bind host port {}:{port}/{proto}: address already in use", display_ip(*.ip))]
    PortInUse {
        /// The host address (`None`: every address).
        ip: Option<IpAddr>,
        /// The host port.
        port: u16,
        /// tcp or udp.
        proto: Proto,
    },
    /// Reserving a host port failed for another reason than it being taken.
    #[error("failed to bind host port {}:{port}/{proto}: {source}", display_ip(*.ip))]
    PortBind {
        /// The host address (`None`: every address).
        ip: Option<IpAddr>,
        /// The host port.
        port: u16,
        /// tcp or udp.
        proto: Proto,
        /// The underlying error.
        source: std::io::Error,
    },
    /// Every address of the network's subnet is leased.
    #[error("no available IPv4 addresses on network {network} ({subnet})")]
    AddressesExhausted {
        /// The network.
        network: String,
        /// Its subnet.
        subnet: String,
    },
    /// The container is already attached to the network.
    #[error("container {container} is already attached to network {network} with address {ip}")]
    AlreadyAttached {
        /// The container id.
        container: String,
        /// The network.
        network: String,
        /// Its address there.
        ip: Ipv4Addr,
    },
    /// The container's namespace file exists already: it is attached to
    /// another network (one network per container).
    #[error("container {container} already has a network namespace at {} (attached to another network?)", path.display())]
    NamespaceInUse {
        /// The container id.
        container: String,
        /// The namespace file.
        path: PathBuf,
    },
    /// `remove_network` while containers are still attached.
    #[error("error while removing network: network {network} has active endpoints ({containers})")]
    ActiveEndpoints {
        /// The network.
        network: String,
        /// The attached container ids, comma separated.
        containers: String,
    },
    /// A subnet overlaps a route already on the host or another network.
    #[error("invalid subnet {subnet}: overlaps {other}")]
    SubnetOverlap {
        /// The requested subnet.
        subnet: String,
        /// What it overlaps.
        other: String,
    },
}

fn display_ip(ip: Option<IpAddr>) -> String {
    ip.map_or_else(|| "0.0.0.0".to_owned(), |ip| ip.to_string())
}

impl NetError {
    pub(crate) fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
    ) -> impl FnOnce(std::io::Error) -> NetError {
        let path = path.into();
        move |source| NetError::Io {
            action,
            path,
            source,
        }
    }

    pub(crate) fn invalid(what: &'static str, value: &str, reason: impl Into<String>) -> NetError {
        NetError::Invalid {
            what,
            value: value.to_owned(),
            reason: reason.into(),
        }
    }
}
