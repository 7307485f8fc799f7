//! A small synchronous rtnetlink client ([`Rtnl`]): just the link, address
//! and route requests bridge networking needs, so a container start costs a
//! handful of netlink round trips instead of several `ip` processes.
//!
//! A netlink socket belongs to the network namespace it was opened in; to
//! configure a container's namespace, open the socket inside it (see
//! [`super::netns`]) and use it from anywhere.

use std::net::Ipv4Addr;
use std::os::fd::RawFd;

use netlink_packet_core::{
    NetlinkHeader, NetlinkMessage, NetlinkPayload, NLM_F_ACK, NLM_F_CREATE, NLM_F_EXCL,
    NLM_F_REQUEST,
};
use netlink_packet_route::address::{AddressAttribute, AddressMessage};
use netlink_packet_route::link::{
    InfoData, InfoKind, InfoVeth, LinkAttribute, LinkFlags, LinkInfo, LinkMessage,
};
use netlink_packet_route::route::{
    RouteAddress, RouteAttribute, RouteHeader, RouteMessage, RouteProtocol, RouteScope, RouteType,
};
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};
use netlink_sys::{protocols::NETLINK_ROUTE, Socket, SocketAddr};

use super::error::{NetError, NetResult};

/// A connected `NETLINK_ROUTE` socket in one network namespace.
#[derive(Debug)]
pub(crate) struct Rtnl {
    socket: Socket,
    seq: u32,
}

fn nl_err(action: &'static str, object: &str) -> impl FnOnce(std::io::Error) -> NetError {
    let object = object.to_owned();
    move |source| NetError::Netlink {
        action,
        object,
        source,
    }
}

impl Rtnl {
    /// A socket in the calling thread's network namespace.
    pub(crate) fn open() -> NetResult<Rtnl> {
        let mut socket = Socket::new(NETLINK_ROUTE).map_err(nl_err("open socket", "rtnetlink"))?;
        socket
            .bind_auto()
            .map_err(nl_err("bind socket", "rtnetlink"))?;
        socket
            .connect(&SocketAddr::new(0, 0))
            .map_err(nl_err("connect socket", "rtnetlink"))?;
        Ok(Rtnl { socket, seq: 0 })
    }

    /// Sends one request and waits for the kernel's acknowledgement; for a
    /// `GET`, returns the answers.
    fn request(
        &mut self,
        msg: RouteNetlinkMessage,
        flags: u16,
        action: &'static str,
        object: &str,
    ) -> NetResult<Vec<RouteNetlinkMessage>> {
        self.seq = self.seq.wrapping_add(1);
        let mut header = NetlinkHeader::default();
        header.flags = flags;
        header.sequence_number = self.seq;
        let mut packet = NetlinkMessage::new(header, NetlinkPayload::from(msg));
        packet.finalize();
        let mut buf = vec![0; packet.buffer_len()];
        packet.serialize(&mut buf);
        self.socket.send(&buf, 0).map_err(nl_err(action, object))?;
        let mut answers = Vec::new();
        let mut rx = vec![0u8; 32 * 1024];
        loop {
            let n = self
                .socket
                .recv(&mut &mut rx[..], 0)
                .map_err(nl_err(action, object))?;
            let mut off = 0;
            while off < n {
                let msg = NetlinkMessage::<RouteNetlinkMessage>::deserialize(&rx[off..n]).map_err(
                    |e| NetError::Netlink {
                        action,
                        object: object.to_owned(),
                        source: std::io::Error::new(std::io::ErrorKind::InvalidData, e.to_string()),
                    },
                )?;
                let len = msg.header.length as usize;
                if len == 0 {
                    break;
                }
                off += (len + 3) & !3;
                if msg.header.sequence_number != self.seq {
                    continue;
                }
                match msg.payload {
                    NetlinkPayload::Error(e) => {
                        return match e.code {
                            None => Ok(answers),
                            Some(code) => Err(NetError::Netlink {
                                action,
                                object: object.to_owned(),
                                source: std::io::Error::from_raw_os_error(-code.get()),
                            }),
                        };
                    }
                    NetlinkPayload::Done(_) => return Ok(answers),
                    NetlinkPayload::InnerMessage(m) => answers.push(m),
                    _ => {}
                }
            }
        }
    }

    fn change(
        &mut self,
        msg: RouteNetlinkMessage,
        create: bool,
        action: &'static str,
        object: &str,
    ) -> NetResult<()> {
        let mut flags = NLM_F_REQUEST | NLM_F_ACK;
        if create {
            flags |= NLM_F_CREATE | NLM_F_EXCL;
        }
        self.request(msg, flags, action, object).map(drop)
    }

    /// The index of interface `name`, `None` when there is none.
    pub(crate) fn link_index(&mut self, name: &str) -> NetResult<Option<u32>> {
        let mut msg = LinkMessage::default();
        msg.attributes.push(LinkAttribute::IfName(name.to_owned()));
        match self.request(
            RouteNetlinkMessage::GetLink(msg),
            NLM_F_REQUEST | NLM_F_ACK,
            "look up link",
            name,
        ) {
            Ok(answers) => Ok(answers.into_iter().find_map(|m| match m {
                RouteNetlinkMessage::NewLink(l) => Some(l.header.index),
                _ => None,
            })),
            Err(NetError::Netlink { source, .. })
                if source.raw_os_error() == Some(libc::ENODEV) =>
            {
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }

    /// Creates bridge `name`, down.
    pub(crate) fn add_bridge(&mut self, name: &str) -> NetResult<()> {
        let mut msg = LinkMessage::default();
        msg.attributes.push(LinkAttribute::IfName(name.to_owned()));
        msg.attributes
            .push(LinkAttribute::LinkInfo(vec![LinkInfo::Kind(
                InfoKind::Bridge,
            )]));
        self.change(
            RouteNetlinkMessage::NewLink(msg),
            true,
            "create bridge",
            name,
        )
    }

    /// Creates the veth pair `host` (enslaved to `master`, up) and `peer`
    /// with hardware address `peer_mac` (created directly inside the
    /// namespace `peer_ns`, so no rename and no move are needed).
    pub(crate) fn add_veth(
        &mut self,
        host: &str,
        master: u32,
        peer: &str,
        peer_mac: [u8; 6],
        peer_ns: RawFd,
    ) -> NetResult<()> {
        let mut peer_msg = LinkMessage::default();
        peer_msg
            .attributes
            .push(LinkAttribute::IfName(peer.to_owned()));
        peer_msg
            .attributes
            .push(LinkAttribute::Address(peer_mac.to_vec()));
        peer_msg.attributes.push(LinkAttribute::NetNsFd(peer_ns));
        let mut msg = LinkMessage::default();
        msg.header.flags = LinkFlags::Up;
        msg.header.change_mask = LinkFlags::Up;
        msg.attributes.push(LinkAttribute::IfName(host.to_owned()));
        msg.attributes.push(LinkAttribute::Controller(master));
        msg.attributes.push(LinkAttribute::LinkInfo(vec![
            LinkInfo::Kind(InfoKind::Veth),
            LinkInfo::Data(InfoData::Veth(InfoVeth::Peer(peer_msg))),
        ]));
        self.change(RouteNetlinkMessage::NewLink(msg), true, "create veth", host)
    }

    /// Sets interface `index` up.
    pub(crate) fn set_up(&mut self, index: u32, name: &str) -> NetResult<()> {
        let mut msg = LinkMessage::default();
        msg.header.index = index;
        msg.header.flags = LinkFlags::Up;
        msg.header.change_mask = LinkFlags::Up;
        self.change(RouteNetlinkMessage::SetLink(msg), false, "set up", name)
    }

    /// Deletes interface `name`; `false` when it did not exist.
    pub(crate) fn del_link(&mut self, name: &str) -> NetResult<bool> {
        let mut msg = LinkMessage::default();
        msg.attributes.push(LinkAttribute::IfName(name.to_owned()));
        match self.change(
            RouteNetlinkMessage::DelLink(msg),
            false,
            "delete link",
            name,
        ) {
            Ok(()) => Ok(true),
            Err(NetError::Netlink { source, .. })
                if source.raw_os_error() == Some(libc::ENODEV) =>
            {
                Ok(false)
            }
            Err(e) => Err(e),
        }
    }

    /// Removes `ip/prefix` from interface `index`; an address not there is
    /// fine.
    pub(crate) fn del_addr(
        &mut self,
        index: u32,
        ip: Ipv4Addr,
        prefix: u8,
        name: &str,
    ) -> NetResult<()> {
        let msg = address_message(index, ip, prefix);
        let object = format!("{ip}/{prefix} on {name}");
        let done = self.change(
            RouteNetlinkMessage::DelAddress(msg),
            false,
            "delete address",
            &object,
        );
        unless_errno(done, libc::EADDRNOTAVAIL)
    }

    /// Adds `ip/prefix` to interface `index`; an address already there is
    /// fine (a bridge re-created by a concurrent start).
    pub(crate) fn add_addr(
        &mut self,
        index: u32,
        ip: Ipv4Addr,
        prefix: u8,
        name: &str,
    ) -> NetResult<()> {
        let mut msg = address_message(index, ip, prefix);
        msg.attributes.push(AddressAttribute::Address(ip.into()));
        if prefix < 31 {
            let brd = Ipv4Addr::from(u32::from(ip) | (u32::MAX >> prefix));
            msg.attributes.push(AddressAttribute::Broadcast(brd));
        }
        let object = format!("{ip}/{prefix} on {name}");
        let done = self.change(
            RouteNetlinkMessage::NewAddress(msg),
            true,
            "add address",
            &object,
        );
        unless_errno(done, libc::EEXIST)
    }

    /// Adds the default route via `gateway`.
    pub(crate) fn add_default_route(&mut self, gateway: Ipv4Addr) -> NetResult<()> {
        let mut msg = RouteMessage::default();
        msg.header.address_family = AddressFamily::Inet;
        msg.header.table = RouteHeader::RT_TABLE_MAIN;
        msg.header.protocol = RouteProtocol::Boot;
        msg.header.scope = RouteScope::Universe;
        msg.header.kind = RouteType::Unicast;
        msg.attributes
            .push(RouteAttribute::Gateway(RouteAddress::Inet(gateway)));
        self.change(
            RouteNetlinkMessage::NewRoute(msg),
            true,
            "add default route via",
            &gateway.to_string(),
        )
    }
}

/// An IPv4 address message for `ip/prefix` on interface `index`.
fn address_message(index: u32, ip: Ipv4Addr, prefix: u8) -> AddressMessage {
    let mut msg = AddressMessage::default();
    msg.header.family = AddressFamily::Inet;
    msg.header.prefix_len = prefix;
    msg.header.index = index;
    msg.attributes.push(AddressAttribute::Local(ip.into()));
    msg
}

/// `done`, with the kernel's `errno` answer taken as success (the state
/// asked for is already there).
fn unless_errno(done: NetResult<()>, errno: i32) -> NetResult<()> {
    match done {
        Err(NetError::Netlink { source, .. }) if source.raw_os_error() == Some(errno) => Ok(()),
        other => other,
    }
}
