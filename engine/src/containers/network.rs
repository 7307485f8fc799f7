//! A container's network for its lifetime: nothing to set up for `none`
//! and `host`; `bridge` and user networks are attached with the runner's
//! [`rdock_runner::net::attach`] (address, veth, published ports, hosts
//! and resolv.conf files) and joined by the sandbox, and detached when the
//! container is done (its veth pair going with its network namespace), or
//! after a crash, from `rm`.

use std::path::{Path, PathBuf};

use rdock_runner::net::{self, AttachRequest, Attachment, NetworkConfig, PortMapping};
use rdock_runner::{Network, RunSpec};

use super::config::ContainerConfig;
use super::error::{ContainerError, Result};
use super::options::NetworkMode;

/// The network side of a running container.
#[derive(Debug)]
pub(crate) struct NetworkSetup {
    network: Network,
    files: Option<(PathBuf, PathBuf)>,
    bridge: Option<(String, NetworkConfig, Attachment)>,
}

/// Parses `-p` values (checked at create, before anything is made).
pub(crate) fn parse_ports(publish: &[String]) -> Result<Vec<PortMapping>> {
    publish
        .iter()
        .map(|p| p.parse().map_err(ContainerError::from))
        .collect()
}

/// The bridge network a mode names, if any (user networks are recorded
/// under the store `root`).
pub(crate) fn bridge_of(root: &Path, mode: &NetworkMode) -> Result<Option<NetworkConfig>> {
    match mode {
        NetworkMode::None | NetworkMode::Host => Ok(None),
        NetworkMode::Bridge => Ok(Some(net::default_bridge())),
        NetworkMode::Named(name) => match crate::network_config(root, name) {
            Ok(config) => Ok(Some(config)),
            Err(crate::NetworkError::NetworkNotFound(_)) => {
                Err(ContainerError::NoNetwork(name.clone()))
            }
            Err(e) => Err(e),
        },
    }
}

impl NetworkSetup {
    pub(crate) fn attach(root: &Path, config: &ContainerConfig) -> Result<NetworkSetup> {
        let Some(bridge) = bridge_of(root, &config.network)? else {
            let network = match config.network {
                NetworkMode::Host => Network::Host,
                _ => Network::None,
            };
            return Ok(NetworkSetup {
                network,
                files: None,
                bridge: None,
            });
        };
        let aliases = match &config.network {
            NetworkMode::Named(_) => vec![config.name.clone()],
            _ => Vec::new(),
        };
        let req = AttachRequest {
            hostname: config.hostname.clone(),
            aliases,
            ports: parse_ports(&config.publish)?,
        };
        let att = net::attach(&config.id, &bridge, &req)?;
        Ok(NetworkSetup {
            network: Network::Join(att.netns.clone()),
            files: Some((att.hosts_file.clone(), att.resolv_conf.clone())),
            bridge: Some((config.id.clone(), bridge, att)),
        })
    }

    /// What `ps` shows in PORTS.
    pub(crate) fn ports(&self) -> Vec<String> {
        self.bridge
            .as_ref()
            .map(|(_, _, a)| a.ports.iter().map(ToString::to_string).collect())
            .unwrap_or_default()
    }

    /// The container's address on its network.
    pub(crate) fn ip(&self) -> Option<String> {
        self.bridge.as_ref().map(|(_, _, a)| a.ip.to_string())
    }

    pub(crate) fn apply(&self, spec: &mut RunSpec) {
        spec.network = self.network.clone();
        if let Some((hosts, resolv)) = &self.files {
            spec.hosts_file = Some(hosts.clone());
            spec.resolv_conf = Some(resolv.clone());
        }
    }

    /// Detaches, once every process of the container has exited (its veth
    /// pair goes with its network namespace: see
    /// [`rdock_runner::net::detach_exited`]).
    pub(crate) fn detach(self) {
        if let Some((id, bridge, att)) = self.bridge {
            let _ = net::detach_exited(&id, &bridge);
            drop(att);
        }
    }
}

/// Removes what a crashed monitor left of the container's network.
pub(crate) fn cleanup(root: &Path, config: &ContainerConfig) {
    if let Ok(Some(bridge)) = bridge_of(root, &config.network) {
        let _ = net::detach(&config.id, &bridge);
    }
}
