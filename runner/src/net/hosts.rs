//! Generated `/etc/hosts` files. Every container gets localhost and its own
//! name, as Docker writes them; on a user network each file also lists the
//! other members, and is rewritten in place (the bind mount in a running
//! container keeps the inode) whenever a member joins or leaves.

use std::fmt::Write as _;

use super::attach::{endpoints, Endpoint};
use super::config::NetworkConfig;
use super::error::NetResult;
use super::state;

const HEADER: &str = "127.0.0.1\tlocalhost\n\
::1\tlocalhost ip6-localhost ip6-loopback\n\
fe00::0\tip6-localnet\n\
ff00::0\tip6-mcastprefix\n\
ff02::1\tip6-allnodes\n\
ff02::2\tip6-allrouters\n";

fn line(out: &mut String, ep: &Endpoint) {
    let _ = write!(out, "{}\t{}", ep.ip, ep.hostname);
    for a in &ep.aliases {
        if *a != ep.hostname {
            let _ = write!(out, " {a}");
        }
    }
    out.push('\n');
}

/// The hosts file of `own` given every member of its network.
pub(crate) fn render(net: &NetworkConfig, own: &Endpoint, members: &[Endpoint]) -> String {
    let mut out = HEADER.to_owned();
    line(&mut out, own);
    if net.resolves_names() {
        for m in members
            .iter()
            .filter(|m| m.container_id != own.container_id)
        {
            line(&mut out, m);
        }
    }
    out
}

/// Writes the hosts file of `new` (just recorded) and, on a user network,
/// rewrites every member's. Call with the network locked.
pub(crate) fn refresh(net: &NetworkConfig, new: Option<&Endpoint>) -> NetResult<()> {
    if !net.resolves_names() {
        if let Some(ep) = new {
            state::write_atomic(&ep.hosts_file, render(net, ep, &[]).as_bytes())?;
        }
        return Ok(());
    }
    let members = endpoints(&net.name)?;
    for m in &members {
        let text = render(net, m, &members);
        if new.is_some_and(|n| n.container_id == m.container_id) {
            state::write_atomic(&m.hosts_file, text.as_bytes())?;
        } else if m.hosts_file.exists() {
            state::write_in_place(&m.hosts_file, text.as_bytes())?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    fn ep(id: &str, ip: u8, host: &str, aliases: &[&str]) -> Endpoint {
        Endpoint {
            container_id: id.into(),
            network: "n".into(),
            ip: Ipv4Addr::new(10, 0, 0, ip),
            prefix: 24,
            gateway: Ipv4Addr::new(10, 0, 0, 1),
            hostname: host.into(),
            aliases: aliases.iter().map(|a| a.to_string()).collect(),
            veth: String::new(),
            netns: "/x".into(),
            hosts_file: "/x".into(),
            resolv_conf: "/x".into(),
            ports: Vec::new(),
            rules: Vec::new(),
        }
    }

    #[test]
    fn user_networks_list_the_other_members_and_the_default_one_does_not() {
        let a = ep("a", 2, "alpha", &["web", "alpha"]);
        let b = ep("b", 3, "beta", &[]);
        let members = [a.clone(), b];
        let user = NetworkConfig::new("mine", "10.0.0.0/24".parse().unwrap()).unwrap();
        let text = render(&user, &a, &members);
        assert!(text.starts_with(HEADER));
        assert_eq!(
            &text[HEADER.len()..],
            "10.0.0.2\talpha web\n10.0.0.3\tbeta\n"
        );
        let default = NetworkConfig::new("bridge", "10.0.0.0/24".parse().unwrap()).unwrap();
        assert_eq!(
            &render(&default, &a, &members)[HEADER.len()..],
            "10.0.0.2\talpha web\n"
        );
    }
}
