//! Which registries are reached over plain HTTP, by docker's rule for
//! `--insecure-registry`: an entry that is a CIDR (`10.0.0.0/8`) covers
//! every registry whose host is, or resolves to, an address in it; any
//! other entry is a `host[:port]` matched exactly (`myhost` does not
//! cover `myhost:5000`), an `http://` or `https://` prefix ignored.
//! `127.0.0.0/8` and `::1` always are insecure, so `localhost` and any
//! name that resolves to loopback are too. Everything else is HTTPS.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, ToSocketAddrs};

/// Whether `registry` (`host[:port]`, `[v6]:port`) is reached over plain
/// HTTP given the `--insecure-registry` entries; `resolve` gives a host
/// name's addresses (a DNS lookup, only for names).
pub(crate) fn is_insecure(
    registry: &str,
    entries: &[String],
    resolve: impl Fn(&str) -> Vec<IpAddr>,
) -> bool {
    let mut cidrs = vec![
        Cidr::new(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 0)), 8),
        Cidr::new(IpAddr::V6(Ipv6Addr::LOCALHOST), 128),
    ];
    for entry in entries {
        let entry = strip_scheme(entry.trim());
        match Cidr::parse(entry) {
            Some(c) => cidrs.push(c),
            None if entry == registry => return true,
            None => {}
        }
    }
    let host = host_of(registry);
    let addresses = match host.parse::<IpAddr>() {
        Ok(ip) => vec![ip],
        // docker resolves it too; saving the lookup changes nothing.
        Err(_) if host.eq_ignore_ascii_case("localhost") => vec![IpAddr::V4(Ipv4Addr::LOCALHOST)],
        Err(_) => resolve(host),
    };
    addresses
        .iter()
        .any(|ip| cidrs.iter().any(|c| c.contains(ip)))
}

/// The addresses a host name resolves to; none if it does not.
pub(crate) fn lookup(host: &str) -> Vec<IpAddr> {
    (host, 0)
        .to_socket_addrs()
        .map(|addrs| addrs.map(|a| a.ip()).collect())
        .unwrap_or_default()
}

fn strip_scheme(entry: &str) -> &str {
    let lower = entry.to_ascii_lowercase();
    let rest = if lower.starts_with("http://") {
        &entry[7..]
    } else if lower.starts_with("https://") {
        &entry[8..]
    } else {
        entry
    };
    rest.trim_end_matches('/')
}

/// The host of `host[:port]` or `[v6]:port`, without brackets.
fn host_of(registry: &str) -> &str {
    if let Some(rest) = registry.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    match registry.rsplit_once(':') {
        // A bare IPv6 address has several colons and no port.
        Some((h, _)) if !h.contains(':') => h,
        _ => registry,
    }
}

/// An address range `ip/prefix`.
#[derive(Debug, Clone, Copy)]
struct Cidr {
    net: IpAddr,
    prefix: u32,
}

impl Cidr {
    fn new(net: IpAddr, prefix: u32) -> Cidr {
        Cidr { net, prefix }
    }

    fn parse(text: &str) -> Option<Cidr> {
        let (ip, prefix) = text.split_once('/')?;
        let net: IpAddr = ip.parse().ok()?;
        let prefix: u32 = prefix.parse().ok()?;
        let max = if net.is_ipv4() { 32 } else { 128 };
        (prefix <= max).then_some(Cidr { net, prefix })
    }

    fn contains(&self, ip: &IpAddr) -> bool {
        let (net, ip, bits) = match (self.net, ip) {
            (IpAddr::V4(n), IpAddr::V4(i)) => {
                (u128::from(u32::from(n)), u128::from(u32::from(*i)), 32u32)
            }
            (IpAddr::V6(n), IpAddr::V6(i)) => (u128::from(n), u128::from(*i), 128),
            (IpAddr::V4(n), IpAddr::V6(i)) => match i.to_ipv4_mapped() {
                Some(i) => (u128::from(u32::from(n)), u128::from(u32::from(i)), 32),
                None => return false,
            },
            (IpAddr::V6(_), IpAddr::V4(_)) => return false,
        };
        let shift = bits - self.prefix;
        shift >= bits || (net >> shift) == (ip >> shift)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn insecure(registry: &str, entries: &[&str]) -> bool {
        let entries: Vec<String> = entries.iter().map(|e| (*e).to_owned()).collect();
        is_insecure(registry, &entries, |host| match host {
            "loop.test" => vec![IpAddr::V4(Ipv4Addr::new(127, 0, 1, 1))],
            "lan.test" => vec!["10.1.2.3".parse().unwrap()],
            _ => Vec::new(),
        })
    }

    #[test]
    fn loopback_always_is() {
        for r in [
            "localhost",
            "localhost:5000",
            "127.0.0.1:39999",
            "127.9.9.9",
            "[::1]:5000",
            "::1",
            "loop.test:5000",
        ] {
            assert!(insecure(r, &[]), "{r}");
        }
        for r in [
            "docker.io",
            "lan.test:5000",
            "10.1.2.3:5000",
            "[fd00::2]:5000",
        ] {
            assert!(!insecure(r, &[]), "{r}");
        }
    }

    #[test]
    fn host_entries_match_exactly_as_docker_does() {
        assert!(insecure("reg.example:5000", &["reg.example:5000"]));
        assert!(insecure("reg.example", &["reg.example"]));
        // A bare host does not cover its ports, nor a port the bare host.
        assert!(!insecure("reg.example:5000", &["reg.example"]));
        assert!(!insecure("reg.example", &["reg.example:5000"]));
        assert!(insecure("reg.example:5000", &["http://reg.example:5000/"]));
        assert!(insecure("[fd00::2]:5000", &["[fd00::2]:5000"]));
    }

    #[test]
    fn cidr_entries_cover_addresses_and_names_that_resolve_into_them() {
        assert!(insecure("10.1.2.3:5000", &["10.0.0.0/8"]));
        assert!(insecure("lan.test:5000", &["10.0.0.0/8"]));
        assert!(insecure("lan.test", &["10.1.2.3/32"]));
        assert!(!insecure("lan.test", &["10.1.2.4/32"]));
        assert!(!insecure("11.1.2.3", &["10.0.0.0/8"]));
        assert!(insecure("[fd00::2]:5000", &["fd00::/8"]));
        assert!(insecure("8.8.8.8", &["0.0.0.0/0"]));
        assert!(!insecure("unknown.test:5000", &["10.0.0.0/8"]));
    }
}
