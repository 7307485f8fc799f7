//! Networks as `docker network` shows them: the predefined `bridge`, `host`
//! and `none`, and user networks (`rdock network create`) kept as
//! `ROOT/networks/<name>.json`. A user network's bridge is set up at create
//! and again by the first container after a reboot (the runtime state lives
//! in `/run`); [`network_config`] gives `rdock run` the
//! [`rdock_runner::net::NetworkConfig`] to attach to.
//!
//! [`network_create`], [`network_ls`], [`network_rm`], [`network_prune`]
//! and [`network_inspect`] back the CLI; errors are [`NetworkError`]s.

use std::fs;
use std::io::Read;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

use rdock_runner::net::{self, Ipv4Net, NetError, NetworkConfig, DEFAULT_BRIDGE, DEFAULT_NETWORK};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

const NETWORKS_DIR: &str = "networks";
/// Predefined networks, as Docker has them.
const PREDEFINED: [(&str, &str); 3] = [
    (DEFAULT_NETWORK, "bridge"),
    ("host", "host"),
    ("none", "null"),
];

/// The network functions' errors are the crate's [`crate::Error`] (its
/// network variants); `NetworkError` is its name here.
pub type NetworkError = crate::Error;

type Result<T, E = NetworkError> = std::result::Result<T, E>;

fn io(action: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> NetworkError {
    let path = path.to_owned();
    move |source| NetworkError::Io {
        action,
        path,
        source,
    }
}

/// One network as `network ls` and `inspect` show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworkInfo {
    /// 64 hex digits.
    pub id: String,
    /// The name.
    pub name: String,
    /// `bridge`, `host` or `null`.
    pub driver: String,
    /// RFC 3339 (empty for the predefined ones).
    #[serde(default)]
    pub created: String,
    /// The bridge setup; `None` for `host` and `none`.
    pub config: Option<NetworkConfig>,
}

impl NetworkInfo {
    /// One of `bridge`, `host`, `none`.
    pub fn is_predefined(&self) -> bool {
        PREDEFINED.iter().any(|(n, _)| *n == self.name)
    }
}

/// `rdock network create` options.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NetworkCreate {
    /// The name.
    pub name: String,
    /// `--subnet`; picked from 10.78.0.0/16 in /24s when `None`.
    pub subnet: Option<Ipv4Net>,
    /// `--gateway`; the subnet's first address when `None`.
    pub gateway: Option<Ipv4Addr>,
    /// `--internal`: no traffic to or from outside the network.
    pub internal: bool,
}

fn record(root: &Path, name: &str) -> PathBuf {
    root.join(NETWORKS_DIR).join(format!("{name}.json"))
}

/// A predefined network's stable ID: a hash of its name, so it is the same
/// for every rdock on the host, as Docker's are stable per daemon.
fn predefined_id(name: &str) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut out = String::new();
    for round in 0u8..4 {
        for b in name.bytes().chain([round]) {
            h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
        out.push_str(&format!("{h:016x}"));
    }
    out
}

fn random_id() -> Result<String> {
    let mut bytes = [0u8; 32];
    let path = Path::new("/dev/urandom");
    fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut bytes))
        .map_err(io("read", path))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

fn predefined(name: &str, driver: &str) -> NetworkInfo {
    NetworkInfo {
        id: predefined_id(name),
        name: name.to_owned(),
        driver: driver.to_owned(),
        created: String::new(),
        config: (name == DEFAULT_NETWORK).then(net::default_bridge),
    }
}

fn user_networks(root: &Path) -> Result<Vec<NetworkInfo>> {
    let dir = root.join(NETWORKS_DIR);
    let entries = match fs::read_dir(&dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io("read", &dir)(e)),
    };
    let mut out = Vec::new();
    for e in entries.flatten() {
        let path = e.path();
        if path.extension().is_none_or(|x| x != "json") {
            continue;
        }
        let bytes = fs::read(&path).map_err(io("read", &path))?;
        let info: NetworkInfo = serde_json::from_slice(&bytes)
            .map_err(|e| io("parse", &path)(std::io::Error::other(e)))?;
        out.push(info);
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

/// Every network: the predefined ones, then the user networks by name.
pub fn network_ls(root: &Path) -> Result<Vec<NetworkInfo>> {
    let mut all: Vec<NetworkInfo> = PREDEFINED.iter().map(|(n, d)| predefined(n, d)).collect();
    all.extend(user_networks(root)?);
    Ok(all)
}

/// The network named `name_or_id`, or whose ID starts with it.
pub fn network_find(root: &Path, name_or_id: &str) -> Result<NetworkInfo> {
    let all = network_ls(root)?;
    if let Some(n) = all
        .iter()
        .find(|n| n.name == name_or_id || n.id == name_or_id)
    {
        return Ok(n.clone());
    }
    let by_prefix: Vec<&NetworkInfo> = all
        .iter()
        .filter(|n| !name_or_id.is_empty() && n.id.starts_with(name_or_id))
        .collect();
    match by_prefix.as_slice() {
        [one] => Ok((*one).clone()),
        [] => Err(NetworkError::NetworkNotFound(name_or_id.to_owned())),
        _ => Err(NetworkError::AmbiguousNetwork(name_or_id.to_owned())),
    }
}

/// What `rdock run --network NAME` attaches to: the default bridge for
/// `bridge`, the stored setup of a user network.
pub fn network_config(root: &Path, name_or_id: &str) -> Result<NetworkConfig> {
    let info = network_find(root, name_or_id)?;
    info.config.ok_or(NetworkError::NotBridge(info.name))
}

/// Picks a free /24 from 10.78.0.0/16 for a user network, avoiding host
/// routes and every other network, set up or not.
fn pick_subnet(taken: &[Ipv4Net]) -> Result<Ipv4Net> {
    for third in 0..=255u8 {
        let candidate = Ipv4Net::new(Ipv4Addr::new(10, 78, third, 0), 24)?;
        if taken.iter().any(|t| t.overlaps(&candidate)) {
            continue;
        }
        if net::subnet_in_use(&candidate, None)?.is_none() {
            return Ok(candidate);
        }
    }
    Err(NetworkError::NoFreeSubnet)
}

/// Serializes `create` and `rm` across processes, so two creates cannot
/// both take a name or a subnet.
fn lock(root: &Path) -> Result<nix::fcntl::Flock<fs::File>> {
    let dir = root.join(NETWORKS_DIR);
    fs::create_dir_all(&dir).map_err(io("create", &dir))?;
    let path = dir.join(".lock");
    let file = fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(io("open", &path))?;
    nix::fcntl::Flock::lock(file, nix::fcntl::FlockArg::LockExclusive)
        .map_err(|(_, e)| io("lock", &path)(e.into()))
}

/// Creates a user network: records it and sets its bridge up.
pub fn network_create(root: &Path, req: &NetworkCreate) -> Result<NetworkInfo> {
    net::validate_network_name(&req.name)?;
    let _lock = lock(root)?;
    let all = network_ls(root)?;
    if all.iter().any(|n| n.name == req.name) {
        return Err(NetworkError::NetworkExists(req.name.clone()));
    }
    let taken: Vec<Ipv4Net> = all
        .iter()
        .filter_map(|n| n.config.as_ref().map(|c| c.subnet))
        .collect();
    let subnet = match req.subnet {
        Some(s) => {
            if let Some(other) = all
                .iter()
                .find(|n| n.config.as_ref().is_some_and(|c| c.subnet.overlaps(&s)))
            {
                return Err(NetError::SubnetOverlap {
                    subnet: s.to_string(),
                    other: format!("network {}", other.name),
                }
                .into());
            }
            s
        }
        None => pick_subnet(&taken)?,
    };
    let mut config = NetworkConfig::new(&req.name, subnet)?;
    if let Some(gw) = req.gateway {
        config.gateway = gw;
    }
    config.internal = req.internal;
    if config.bridge == DEFAULT_BRIDGE {
        return Err(NetworkError::NetworkExists(req.name.clone()));
    }
    let info = NetworkInfo {
        id: random_id()?,
        name: req.name.clone(),
        driver: "bridge".to_owned(),
        created: crate::containers::now_rfc3339(),
        config: Some(config.clone()),
    };
    net::create_network(&config)?;
    let path = record(root, &req.name);
    let dir = root.join(NETWORKS_DIR);
    fs::create_dir_all(&dir).map_err(io("create", &dir))?;
    let tmp = dir.join(format!(".{}.tmp", req.name));
    let bytes = serde_json::to_vec_pretty(&info).unwrap_or_default();
    let written = fs::write(&tmp, bytes).and_then(|()| fs::rename(&tmp, &path));
    if let Err(e) = written {
        let _ = net::remove_network(&config);
        return Err(io("write", &path)(e));
    }
    Ok(info)
}

/// Removes a user network: its bridge, rules and record. Refused while a
/// running container is attached.
pub fn network_rm(root: &Path, name_or_id: &str) -> Result<NetworkInfo> {
    let _lock = lock(root)?;
    let info = network_find(root, name_or_id)?;
    if info.is_predefined() {
        return Err(NetworkError::PredefinedNetwork(info.name));
    }
    if let Some(config) = &info.config {
        net::remove_network(config)?;
    }
    let path = record(root, &info.name);
    fs::remove_file(&path).map_err(io("remove", &path))?;
    Ok(info)
}

/// Removes every user network no running container is attached to; their
/// names come back, sorted.
pub fn network_prune(root: &Path) -> Result<Vec<String>> {
    let mut removed = Vec::new();
    for info in user_networks(root)? {
        let in_use = match &info.config {
            Some(c) => net::endpoints(&c.name)?.iter().any(|e| e.netns.exists()),
            None => false,
        };
        if !in_use {
            network_rm(root, &info.id)?;
            removed.push(info.name);
        }
    }
    Ok(removed)
}

/// `docker network inspect`'s JSON for one network, with its running
/// containers.
pub fn network_inspect(root: &Path, name_or_id: &str) -> Result<Value> {
    let info = network_find(root, name_or_id)?;
    let mut containers = serde_json::Map::new();
    let mut ipam = Vec::new();
    let mut options = serde_json::Map::new();
    if let Some(c) = &info.config {
        ipam.push(json!({"Subnet": c.subnet.to_string(), "Gateway": c.gateway.to_string()}));
        options.insert("com.docker.network.bridge.name".into(), json!(c.bridge));
        for ep in net::endpoints(&c.name)? {
            containers.insert(
                ep.container_id.clone(),
                json!({
                    "Name": ep.aliases.first().unwrap_or(&ep.hostname),
                    "IPv4Address": format!("{}/{}", ep.ip, ep.prefix),
                    "Ports": ep.ports.iter().map(ToString::to_string).collect::<Vec<_>>(),
                }),
            );
        }
    }
    Ok(json!({
        "Name": info.name,
        "Id": info.id,
        "Created": info.created,
        "Scope": "local",
        "Driver": info.driver,
        "EnableIPv6": false,
        "IPAM": {"Driver": "default", "Options": {}, "Config": ipam},
        "Internal": info.config.as_ref().is_some_and(|c| c.internal),
        "Containers": containers,
        "Options": options,
        "Labels": {},
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn predefined_networks_are_listed_and_protected() {
        let dir = tempfile::tempdir().unwrap();
        let all = network_ls(dir.path()).unwrap();
        let names: Vec<&str> = all.iter().map(|n| n.name.as_str()).collect();
        assert_eq!(names, ["bridge", "host", "none"]);
        assert_eq!(all[0].id.len(), 64);
        assert_ne!(all[0].id, all[1].id);
        assert_eq!(all[2].driver, "null");
        let err = network_rm(dir.path(), "host").unwrap_err().to_string();
        assert_eq!(err, "host is a pre-defined network and cannot be removed");
        let err = network_rm(dir.path(), "nope").unwrap_err().to_string();
        assert_eq!(err, "network nope not found");
        assert!(matches!(
            network_config(dir.path(), "none"),
            Err(NetworkError::NotBridge(_))
        ));
        assert_eq!(
            network_config(dir.path(), "bridge").unwrap().bridge,
            "rdock0"
        );
        let by_prefix = network_find(dir.path(), &all[1].id[..12]).unwrap();
        assert_eq!(by_prefix.name, "host");
    }

    #[test]
    fn names_and_duplicates_are_checked_before_any_work() {
        let dir = tempfile::tempdir().unwrap();
        let req = |name: &str| NetworkCreate {
            name: name.into(),
            ..Default::default()
        };
        let err = network_create(dir.path(), &req("bridge"))
            .unwrap_err()
            .to_string();
        assert_eq!(err, "network with name bridge already exists");
        let err = network_create(dir.path(), &req("bad name"))
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("invalid network name \"bad name\""),
            "{err}"
        );
    }
}
