//! Host port reservation: one bound (not listening) socket per published
//! port, so a port already taken fails the attach with a clear error, and a
//! later program cannot take it while the container runs. Packets for the
//! port never reach the socket: the `DNAT` rule rewrites them first.

use std::net::{IpAddr, Ipv4Addr};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use super::config::{PortMapping, Proto, PublishedPort};
use super::error::{NetError, NetResult};

/// Binds `m`'s host address and port (port 0: the kernel picks a free one)
/// and returns the mapping with its actual port, and the socket.
pub(crate) fn reserve(m: &PortMapping) -> NetResult<(PublishedPort, OwnedFd)> {
    let ip = match m.host_ip {
        None => Ipv4Addr::UNSPECIFIED,
        Some(IpAddr::V4(ip)) => ip,
        Some(IpAddr::V6(_)) => {
            return Err(NetError::invalid(
                "port mapping",
                &m.to_string(),
                "IPv6 host addresses are not supported",
            ))
        }
    };
    let fail = |source: std::io::Error| {
        if source.raw_os_error() == Some(libc::EADDRINUSE) {
            NetError::PortInUse {
                ip: m.host_ip,
                port: m.host_port,
                proto: m.proto,
            }
        } else {
            NetError::PortBind {
                ip: m.host_ip,
                port: m.host_port,
                proto: m.proto,
                source,
            }
        }
    };
    let kind = match m.proto {
        Proto::Tcp => libc::SOCK_STREAM,
        Proto::Udp => libc::SOCK_DGRAM,
    };
    // SAFETY: plain socket(2); the fd is owned right away.
    let raw = unsafe { libc::socket(libc::AF_INET, kind | libc::SOCK_CLOEXEC, 0) };
    if raw < 0 {
        return Err(fail(std::io::Error::last_os_error()));
    }
    // SAFETY: `raw` is a fresh descriptor nobody else owns.
    let sock = unsafe { OwnedFd::from_raw_fd(raw) };
    // SAFETY: sockaddr_in is plain old data; all-zero is valid.
    let mut addr: libc::sockaddr_in = unsafe { std::mem::zeroed() };
    addr.sin_family = libc::AF_INET as libc::sa_family_t;
    addr.sin_port = m.host_port.to_be();
    addr.sin_addr.s_addr = u32::from(ip).to_be();
    let len = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
    // SAFETY: `addr` is a valid sockaddr_in of `len` bytes.
    let rc = unsafe {
        libc::bind(
            sock.as_raw_fd(),
            (&addr as *const libc::sockaddr_in).cast(),
            len,
        )
    };
    if rc < 0 {
        return Err(fail(std::io::Error::last_os_error()));
    }
    let mut got: libc::sockaddr_in = addr;
    let mut got_len = len;
    // SAFETY: getsockname writes at most `got_len` bytes into `got`.
    let rc = unsafe {
        libc::getsockname(
            sock.as_raw_fd(),
            (&mut got as *mut libc::sockaddr_in).cast(),
            &mut got_len,
        )
    };
    if rc < 0 {
        return Err(fail(std::io::Error::last_os_error()));
    }
    let published = PublishedPort {
        host_ip: m.host_ip,
        host_port: u16::from_be(got.sin_port),
        container_port: m.container_port,
        proto: m.proto,
    };
    Ok((published, sock))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_taken_port_is_refused_and_port_zero_picks_one() {
        let any: PortMapping = "127.0.0.1::80".parse().unwrap();
        let (p, _sock) = reserve(&any).unwrap();
        assert_ne!(p.host_port, 0);
        let again: PortMapping = format!("127.0.0.1:{}:80", p.host_port).parse().unwrap();
        let err = reserve(&again).unwrap_err().to_string();
        assert_eq!(
            err,
            format!(
                "failed to bind host port 127.0.0.1:{}/tcp: address already in use",
                p.host_port
            )
        );
        // The same number over UDP is another port.
        let udp: PortMapping = format!("127.0.0.1:{}:80/udp", p.host_port).parse().unwrap();
        assert!(reserve(&udp).is_ok());
    }
}
