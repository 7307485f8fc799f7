//! The networking vocabulary: [`Ipv4Net`], [`NetworkConfig`] (one bridge
//! network), [`PortMapping`] (a `-p` flag as Docker parses it), [`Proto`]
//! and [`PublishedPort`] (a mapping with its host port chosen).

use std::fmt;
use std::net::{IpAddr, Ipv4Addr};
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::error::{NetError, NetResult};

/// An IPv4 subnet such as `10.77.0.0/16`; the address has no host bits set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Ipv4Net {
    addr: Ipv4Addr,
    prefix: u8,
}

impl Ipv4Net {
    /// `addr/prefix`; fails when `prefix` > 30 (no room for a gateway and a
    /// container) or `addr` has host bits set.
    pub fn new(addr: Ipv4Addr, prefix: u8) -> NetResult<Ipv4Net> {
        let text = format!("{addr}/{prefix}");
        if !(8..=30).contains(&prefix) {
            return Err(NetError::invalid(
                "subnet",
                &text,
                "prefix length must be between 8 and 30",
            ));
        }
        let net = Ipv4Net { addr, prefix };
        if net.network() != addr {
            return Err(NetError::invalid(
                "subnet",
                &text,
                format!("it should be {}/{prefix}", net.network()),
            ));
        }
        Ok(net)
    }

    fn mask(&self) -> u32 {
        u32::MAX << (32 - u32::from(self.prefix))
    }

    /// The network address.
    pub fn network(&self) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.addr) & self.mask())
    }

    /// The prefix length.
    pub fn prefix(&self) -> u8 {
        self.prefix
    }

    /// The broadcast address.
    pub fn broadcast(&self) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.addr) | !self.mask())
    }

    /// Whether `ip` is inside.
    pub fn contains(&self, ip: Ipv4Addr) -> bool {
        u32::from(ip) & self.mask() == u32::from(self.addr)
    }

    /// Whether the two subnets share an address.
    pub fn overlaps(&self, other: &Ipv4Net) -> bool {
        self.contains(other.addr) || other.contains(self.addr)
    }

    /// The `n`th address (0 is the network address), `None` past the
    /// broadcast address.
    pub fn nth(&self, n: u32) -> Option<Ipv4Addr> {
        let ip = u32::from(self.addr).checked_add(n)?;
        (ip <= u32::from(self.broadcast())).then(|| Ipv4Addr::from(ip))
    }

    /// The first usable address, the gateway by convention (as Docker).
    pub fn first_host(&self) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.addr) + 1)
    }
}

impl fmt::Display for Ipv4Net {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

impl FromStr for Ipv4Net {
    type Err = NetError;

    fn from_str(s: &str) -> NetResult<Ipv4Net> {
        let (addr, prefix) = s
            .split_once('/')
            .ok_or_else(|| NetError::invalid("subnet", s, "expected ADDRESS/PREFIX (CIDR)"))?;
        let addr: Ipv4Addr = addr
            .parse()
            .map_err(|_| NetError::invalid("subnet", s, "not an IPv4 address"))?;
        let prefix: u8 = prefix
            .parse()
            .map_err(|_| NetError::invalid("subnet", s, "bad prefix length"))?;
        Ipv4Net::new(addr, prefix)
    }
}

impl TryFrom<String> for Ipv4Net {
    type Error = NetError;
    fn try_from(s: String) -> NetResult<Ipv4Net> {
        s.parse()
    }
}

impl From<Ipv4Net> for String {
    fn from(n: Ipv4Net) -> String {
        n.to_string()
    }
}

/// The name of Docker's default network, served by bridge [`DEFAULT_BRIDGE`].
pub const DEFAULT_NETWORK: &str = "bridge";
/// The default network's bridge interface.
pub const DEFAULT_BRIDGE: &str = "rdock0";

/// One bridge network: its name, bridge interface, subnet and gateway (the
/// bridge's own address).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworkConfig {
    /// The network's name (`bridge` for the default one).
    pub name: String,
    /// The bridge interface (at most 15 bytes).
    pub bridge: String,
    /// The subnet containers get addresses from.
    pub subnet: Ipv4Net,
    /// The bridge's address and the containers' default route.
    pub gateway: Ipv4Addr,
    /// No NAT and no traffic in or out of the bridge (`--internal`).
    #[serde(default)]
    pub internal: bool,
}

impl NetworkConfig {
    /// A network `name` on `subnet`, the gateway on its first address. The
    /// default network gets bridge `rdock0`; a user network `rdk-` and a hash
    /// of its name, so the name alone finds the bridge again after a crash.
    pub fn new(name: &str, subnet: Ipv4Net) -> NetResult<NetworkConfig> {
        validate_network_name(name)?;
        let bridge = if name == DEFAULT_NETWORK {
            DEFAULT_BRIDGE.to_owned()
        } else {
            format!("rdk-{:08x}", fnv1a(name.as_bytes()) as u32)
        };
        Ok(NetworkConfig {
            name: name.to_owned(),
            bridge,
            subnet,
            gateway: subnet.first_host(),
            internal: false,
        })
    }

    /// Whether containers on it resolve each other's names (user networks,
    /// as in Docker; the default bridge does not).
    pub fn resolves_names(&self) -> bool {
        self.name != DEFAULT_NETWORK
    }

    pub(crate) fn validate(&self) -> NetResult<()> {
        validate_network_name(&self.name)?;
        if self.bridge.is_empty()
            || self.bridge.len() > 15
            || self.bridge.contains(['/', ' ', '\0', ':'])
        {
            return Err(NetError::invalid(
                "bridge name",
                &self.bridge,
                "must be 1 to 15 bytes without '/', ':' or spaces",
            ));
        }
        if !self.subnet.contains(self.gateway)
            || self.gateway == self.subnet.network()
            || self.gateway == self.subnet.broadcast()
        {
            return Err(NetError::invalid(
                "gateway",
                &self.gateway.to_string(),
                format!("not a host address of {}", self.subnet),
            ));
        }
        Ok(())
    }
}

/// Docker's rule for network names: `[a-zA-Z0-9][a-zA-Z0-9_.-]*`.
pub fn validate_network_name(name: &str) -> NetResult<()> {
    let ok = name.len() <= 64
        && name
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_alphanumeric())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(NetError::invalid(
            "network name",
            name,
            "only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed, at most 64 characters",
        ))
    }
}

/// FNV-1a: a stable short hash for interface names (not for security).
pub(crate) fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// The transport protocol of a port mapping.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Proto {
    /// TCP (the default).
    #[default]
    Tcp,
    /// UDP.
    Udp,
}

impl fmt::Display for Proto {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Proto::Tcp => "tcp",
            Proto::Udp => "udp",
        })
    }
}

/// A `-p` flag: `[ip:][hostPort:]containerPort[/proto]`, as `docker run`
/// reads it. A missing or empty host port means "any free port".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PortMapping {
    /// The host address to listen on; `None` is every address.
    pub host_ip: Option<IpAddr>,
    /// The host port; 0 picks a free one.
    pub host_port: u16,
    /// The port inside the container.
    pub container_port: u16,
    /// tcp or udp.
    pub proto: Proto,
}

impl FromStr for PortMapping {
    type Err = NetError;

    fn from_str(s: &str) -> NetResult<PortMapping> {
        let bad = |reason: &str| NetError::invalid("port mapping", s, reason);
        let (rest, proto) = match s.rsplit_once('/') {
            Some((rest, "tcp")) => (rest, Proto::Tcp),
            Some((rest, "udp")) => (rest, Proto::Udp),
            Some((_, p)) => return Err(bad(&format!("unsupported protocol {p:?} (tcp or udp)"))),
            None => (s, Proto::Tcp),
        };
        // An IPv6 host address comes in brackets: [::1]:8080:80.
        let (ip_text, ports) = if let Some(stripped) = rest.strip_prefix('[') {
            let (ip, after) = stripped
                .split_once(']')
                .ok_or_else(|| bad("unclosed '['"))?;
            let ports = after
                .strip_prefix(':')
                .ok_or_else(|| bad("expected ':' after ']'"))?;
            (Some(ip), ports)
        } else {
            match rest.matches(':').count() {
                0 | 1 => (None, rest),
                2 => {
                    let (ip, ports) = rest.split_once(':').unwrap_or_default();
                    (Some(ip), ports)
                }
                _ => return Err(bad("too many ':' (put an IPv6 address in brackets)")),
            }
        };
        let host_ip = match ip_text {
            None | Some("") => None,
            Some(ip) => {
                let ip: IpAddr = ip
                    .parse()
                    .map_err(|_| bad(&format!("invalid IP address {ip:?}")))?;
                if ip.is_ipv6() {
                    return Err(bad("IPv6 host addresses are not supported"));
                }
                Some(ip)
            }
        };
        let (host, container) = match ports.split_once(':') {
            Some((h, c)) => (h, c),
            None => ("", ports),
        };
        let port = |p: &str, zero_ok: bool| -> NetResult<u16> {
            if p.contains('-') {
                return Err(bad("port ranges are not supported"));
            }
            match p.parse::<u16>() {
                Ok(0) if !zero_ok => Err(bad("port must be between 1 and 65535")),
                Ok(n) => Ok(n),
                Err(_) => Err(bad(&format!("invalid port {p:?}"))),
            }
        };
        let container_port = port(container, false)?;
        let host_port = if host.is_empty() {
            0
        } else {
            port(host, true)?
        };
        Ok(PortMapping {
            host_ip,
            host_port,
            container_port,
            proto,
        })
    }
}

impl fmt::Display for PortMapping {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(ip) = self.host_ip {
            write!(f, "{ip}:")?;
        }
        if self.host_port != 0 {
            write!(f, "{}:", self.host_port)?;
        } else if self.host_ip.is_some() {
            f.write_str(":")?;
        }
        write!(f, "{}/{}", self.container_port, self.proto)
    }
}

/// A mapping after attach: the host port actually reserved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublishedPort {
    /// The host address; `None` is every address.
    pub host_ip: Option<IpAddr>,
    /// The reserved host port.
    pub host_port: u16,
    /// The port inside the container.
    pub container_port: u16,
    /// tcp or udp.
    pub proto: Proto,
}

impl fmt::Display for PublishedPort {
    /// As `docker ps` shows it: `0.0.0.0:8080->80/tcp`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ip = self
            .host_ip
            .map_or_else(|| "0.0.0.0".to_owned(), |ip| ip.to_string());
        write!(
            f,
            "{ip}:{}->{}/{}",
            self.host_port, self.container_port, self.proto
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pm(s: &str) -> PortMapping {
        s.parse().unwrap()
    }

    #[test]
    fn port_mappings_parse_as_docker() {
        assert_eq!(
            pm("8080:80"),
            PortMapping {
                host_ip: None,
                host_port: 8080,
                container_port: 80,
                proto: Proto::Tcp
            }
        );
        assert_eq!(pm("80").host_port, 0);
        assert_eq!(pm("80/udp").proto, Proto::Udp);
        let m = pm("127.0.0.1:5353:53/udp");
        assert_eq!(m.host_ip, Some("127.0.0.1".parse().unwrap()));
        assert_eq!(
            (m.host_port, m.container_port, m.proto),
            (5353, 53, Proto::Udp)
        );
        let m = pm("127.0.0.1::80");
        assert_eq!((m.host_port, m.container_port), (0, 80));
        assert_eq!(m.to_string(), "127.0.0.1::80/tcp");
        assert_eq!(pm("1:2").to_string(), "1:2/tcp");
        for bad in [
            "",
            "0",
            "x",
            "80/sctp",
            "1.2.3:80:80",
            "8000-8010:80",
            "70000:80",
            "[::1]:80:80",
            "a:b:c:d",
        ] {
            let err = bad.parse::<PortMapping>().unwrap_err().to_string();
            assert!(err.starts_with("invalid port mapping"), "{bad}: {err}");
        }
    }

    #[test]
    fn subnets() {
        let n: Ipv4Net = "10.77.0.0/16".parse().unwrap();
        assert_eq!(n.first_host(), Ipv4Addr::new(10, 77, 0, 1));
        assert_eq!(n.broadcast(), Ipv4Addr::new(10, 77, 255, 255));
        assert!(n.contains(Ipv4Addr::new(10, 77, 3, 4)));
        assert!(!n.contains(Ipv4Addr::new(10, 78, 0, 1)));
        assert!(n.overlaps(&"10.77.5.0/24".parse().unwrap()));
        assert!(!n.overlaps(&"10.78.0.0/24".parse().unwrap()));
        assert_eq!(n.nth(65535), Some(Ipv4Addr::new(10, 77, 255, 255)));
        assert_eq!(n.nth(65536), None);
        let err = "10.77.0.1/16".parse::<Ipv4Net>().unwrap_err().to_string();
        assert!(err.contains("it should be 10.77.0.0/16"), "{err}");
        assert!("10.0.0.0/31".parse::<Ipv4Net>().is_err());
        assert!("10.0.0.0".parse::<Ipv4Net>().is_err());
    }

    #[test]
    fn network_names_and_bridges() {
        let subnet = "10.79.1.0/24".parse().unwrap();
        let a = NetworkConfig::new("app-net", subnet).unwrap();
        assert!(a.bridge.starts_with("rdk-") && a.bridge.len() == 12);
        assert_eq!(a.gateway, Ipv4Addr::new(10, 79, 1, 1));
        assert_ne!(
            NetworkConfig::new("other", subnet).unwrap().bridge,
            a.bridge
        );
        assert_eq!(
            NetworkConfig::new("bridge", subnet).unwrap().bridge,
            "rdock0"
        );
        assert!(NetworkConfig::new("-x", subnet).is_err());
        assert!(NetworkConfig::new("a b", subnet).is_err());
        assert!(a.resolves_names());
    }
}
