//! [`create`]: a [`RunRequest`] (the validated `rdock run` flags) and the
//! image's config become a container in the store: its folder, its name,
//! its [`ContainerConfig`] and its layers unpacked as snapshots.
//!
//! The command is combined as docker does: ENTRYPOINT then CMD, run
//! arguments replace CMD, `--entrypoint` replaces ENTRYPOINT and drops the
//! image's CMD (an empty `--entrypoint` resets it). User namespaces
//! (rootless runs, `--userns=auto`) are in `userns.rs`.

use std::fs;
use std::path::PathBuf;

use rdock_cache::{ChainId, Digest, Store};
use serde_json::Value;

use super::config::{ContainerConfig, Resources, State};
use super::error::{ContainerError, Result};
use super::id::ContainerName;
use super::mounts::{prepare_mounts, MountSpec};
use super::options::{parse_userns, NetworkMode, RestartPolicy, SecurityOpts};
use super::store::{io, Containers, Slot};

/// The flags of `rdock run` (and `create`), parsed but not yet combined
/// with the image.
#[derive(Clone, Debug, Default)]
pub struct RunRequest {
    /// Image name or ID.
    pub image: String,
    /// Arguments after the image (replace CMD).
    pub args: Vec<String>,
    /// `--name`.
    pub name: Option<ContainerName>,
    /// `-e`: `KEY=value`, or `KEY` to take it from this process's environment.
    pub env: Vec<String>,
    /// `--env-file` files, read in order before `-e`.
    pub env_files: Vec<PathBuf>,
    /// `-w`.
    pub workdir: Option<String>,
    /// `-u`.
    pub user: Option<String>,
    /// `--entrypoint` (`Some("")` resets it).
    pub entrypoint: Option<String>,
    /// `-h`.
    pub hostname: Option<String>,
    /// `--read-only`.
    pub read_only: bool,
    /// `--init`.
    pub init: bool,
    /// `--network`.
    pub network: NetworkMode,
    /// `-p`.
    pub publish: Vec<String>,
    /// Limits.
    pub resources: Resources,
    /// `--cap-add`.
    pub cap_add: Vec<String>,
    /// `--cap-drop`.
    pub cap_drop: Vec<String>,
    /// `--privileged`.
    pub privileged: bool,
    /// `--security-opt`.
    pub security: SecurityOpts,
    /// `--userns`.
    pub userns: Option<String>,
    /// `--restart`.
    pub restart: RestartPolicy,
    /// `-v`, `--mount`, `--tmpfs`.
    pub mounts: Vec<MountSpec>,
    /// `--stop-signal`.
    pub stop_signal: Option<i32>,
    /// `--stop-timeout`.
    pub stop_timeout: Option<u32>,
    /// `--rm`.
    pub auto_remove: bool,
    /// `-t`.
    pub tty: bool,
    /// `-i`.
    pub interactive: bool,
}

fn invalid(flag: &'static str, value: impl ToString, reason: &str) -> ContainerError {
    ContainerError::InvalidOption {
        flag,
        value: value.to_string(),
        reason: reason.to_owned(),
    }
}

impl RunRequest {
    /// Docker's checks that need no image.
    pub fn validate(&self) -> Result<()> {
        if self.auto_remove && self.restart != RestartPolicy::No {
            return Err(invalid(
                "--restart",
                self.restart.name(),
                "conflicting options: cannot specify both --restart and --rm",
            ));
        }
        let r = &self.resources;
        if let Some(m) = r.memory {
            if m < 6 << 20 {
                return Err(invalid(
                    "--memory",
                    m,
                    "minimum memory limit allowed is 6MB",
                ));
            }
        }
        if let Some(s) = r.memory_swap {
            match r.memory {
                None if s != -1 => {
                    return Err(invalid(
                        "--memory-swap",
                        s,
                        "you should always set the memory limit when using the memory swap limit",
                    ))
                }
                Some(m) if s != -1 && (s as u64) < m => {
                    return Err(invalid(
                        "--memory-swap",
                        s,
                        "minimum memoryswap limit should be larger than memory limit",
                    ))
                }
                _ => {}
            }
        }
        if let Some(c) = r.cpus {
            let n = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
            if !(0.01..=n).contains(&c) {
                return Err(invalid(
                    "--cpus",
                    c,
                    &format!("range of CPUs is from 0.01 to {n:.2}, as there are only {n} CPUs available"),
                ));
            }
        }
        if let Some(h) = &self.hostname {
            if h.is_empty() || h.len() > 63 || h.contains(['/', ' ', '\0']) {
                return Err(invalid(
                    "--hostname",
                    h,
                    "must be 1 to 63 characters without '/' or spaces",
                ));
            }
        }
        if let Some(u) = &self.userns {
            if parse_userns(u)? && self.privileged {
                return Err(invalid(
                    "--userns",
                    u,
                    "privileged mode is incompatible with user namespaces: use --userns=host with --privileged",
                ));
            }
        }
        if let Some(w) = &self.workdir {
            if !w.starts_with('/') {
                return Err(invalid(
                    "--workdir",
                    w,
                    "the working directory must be an absolute path",
                ));
            }
        }
        Ok(())
    }

    /// The environment from `--env-file` and `-e`, in order.
    fn env_pairs(&self) -> Result<Vec<String>> {
        let mut out = Vec::new();
        for file in &self.env_files {
            let text = fs::read_to_string(file).map_err(io("reading --env-file", file))?;
            for line in text.lines() {
                let line = line.trim_start();
                if line.is_empty() || line.starts_with('#') {
                    continue;
                }
                out.extend(env_entry(line));
            }
        }
        for e in &self.env {
            out.extend(env_entry(e));
        }
        Ok(out)
    }
}

/// `KEY=value` as it is; `KEY` alone from this process's environment, or
/// nothing when unset (docker drops it).
fn env_entry(entry: &str) -> Option<String> {
    match entry.split_once('=') {
        Some(_) => Some(entry.to_owned()),
        None => std::env::var(entry).ok().map(|v| format!("{entry}={v}")),
    }
}

/// Sets or replaces `KEY=...` in `env`.
fn set_env(env: &mut Vec<String>, pair: String) {
    let key = pair.split('=').next().unwrap_or_default().to_owned();
    match env
        .iter_mut()
        .find(|e| e.split('=').next() == Some(key.as_str()))
    {
        Some(slot) => *slot = pair,
        None => env.push(pair),
    }
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// A container created in the store.
#[derive(Debug)]
pub struct Created {
    /// Its configuration.
    pub config: ContainerConfig,
    /// What docker would warn about (flags that were ignored).
    pub warnings: Vec<String>,
    pub(crate) slot: Slot,
}

/// Creates a container from `req`: finds the image, unpacks its layers,
/// combines its config with the flags, prepares mounts and volumes, and
/// writes the container's folder. Nothing is left behind on failure.
pub fn create(store: &Store, req: &RunRequest) -> Result<Created> {
    req.validate()?;
    if !nix::unistd::geteuid().is_root() {
        super::userns::check_rootless(req)?;
    }
    super::network::parse_ports(&req.publish)?;
    super::network::bridge_of(store.root(), &req.network)?;
    let image = match crate::find_image(store, &req.image) {
        Ok(i) => i,
        Err(crate::Error::ImageNotFound { .. }) => {
            return Err(ContainerError::NoImage(req.image.clone()))
        }
        Err(e) => return Err(e),
    };
    let lower_dirs = unpack_layers(store, &image)?;
    let c = &image.config["config"];

    let (entrypoint, cmd) = match &req.entrypoint {
        Some(e) => {
            let ep = if e.is_empty() {
                vec![]
            } else {
                vec![e.clone()]
            };
            (ep, req.args.clone())
        }
        None => {
            let cmd = match req.args.is_empty() {
                true => strings(&c["Cmd"]),
                false => req.args.clone(),
            };
            (strings(&c["Entrypoint"]), cmd)
        }
    };
    if entrypoint.is_empty() && cmd.is_empty() {
        return Err(invalid("command", &req.image, "no command specified"));
    }
    let mut env = strings(&c["Env"]);
    if req.tty && !env.iter().any(|e| e.starts_with("TERM=")) {
        env.push("TERM=xterm".to_owned());
    }
    for pair in req.env_pairs()? {
        set_env(&mut env, pair);
    }
    let workdir = req
        .workdir
        .clone()
        .or_else(|| {
            c["WorkingDir"]
                .as_str()
                .filter(|w| !w.is_empty())
                .map(str::to_owned)
        })
        .unwrap_or_else(|| "/".to_owned());
    let user = req
        .user
        .clone()
        .or_else(|| c["User"].as_str().map(str::to_owned))
        .unwrap_or_default();
    let stop_signal = match (req.stop_signal, c["StopSignal"].as_str()) {
        (Some(s), _) => s,
        (None, Some(s)) => super::options::parse_signal("STOPSIGNAL", s)?,
        (None, None) => 15,
    };

    let containers = Containers::new(store.root());
    let (slot, name) = containers.create(req.name.as_ref())?;
    let result = (|| {
        // Held until the config (which records the range) is written.
        let (userns, _userns_lock) = match req.userns.as_deref().map(parse_userns) {
            Some(Ok(true)) => {
                let (range, lock) = super::userns::allocate_userns(store.root(), &containers)?;
                (Some(range.to_config()), Some(lock))
            }
            _ => (req.userns.clone(), None),
        };
        let image_volumes: Vec<String> = c["Volumes"]
            .as_object()
            .map(|v| v.keys().cloned().collect())
            .unwrap_or_default();
        let mounts = prepare_mounts(store.root(), &req.mounts, &image_volumes, &lower_dirs)?;
        for dir in [slot.upper(), slot.work()] {
            fs::create_dir(&dir).map_err(io("creating", &dir))?;
        }
        let config = ContainerConfig {
            id: slot.id.to_string(),
            name: name.to_string(),
            created: super::now_rfc3339(),
            image: req.image.clone(),
            image_id: image.id.to_string(),
            lower_dirs,
            entrypoint,
            cmd,
            env,
            workdir,
            user,
            hostname: req
                .hostname
                .clone()
                .unwrap_or_else(|| slot.id.short().to_owned()),
            tty: req.tty,
            interactive: req.interactive,
            network: req.network.clone(),
            publish: req.publish.clone(),
            mounts,
            resources: req.resources,
            cap_add: req.cap_add.clone(),
            cap_drop: req.cap_drop.clone(),
            privileged: req.privileged,
            security: req.security,
            userns,
            read_only: req.read_only,
            init: req.init,
            restart: req.restart,
            auto_remove: req.auto_remove,
            stop_signal,
            stop_timeout: req.stop_timeout.unwrap_or(10),
        };
        slot.write_config(&config)?;
        slot.update_state(|s| *s = State::default())?;
        Ok(config)
    })();
    match result {
        Ok(config) => Ok(Created {
            warnings: warnings(&config),
            config,
            slot,
        }),
        Err(e) => {
            containers.release_name(name.as_str(), &slot.id);
            let _ = fs::remove_dir_all(&slot.dir);
            Err(e)
        }
    }
}

/// docker's warnings for a created container.
fn warnings(config: &ContainerConfig) -> Vec<String> {
    let mut out = Vec::new();
    if !config.publish.is_empty() {
        match config.network {
            NetworkMode::Host => {
                out.push("Published ports are discarded when using host network mode".to_owned())
            }
            // docker says nothing and publishes nothing; say why.
            NetworkMode::None => {
                out.push("Published ports are discarded when using the none network".to_owned())
            }
            _ => {}
        }
    }
    out
}

/// The image's layers as snapshot folders, topmost first, unpacking those
/// not unpacked yet.
fn unpack_layers(store: &Store, image: &crate::Image) -> Result<Vec<String>> {
    let diff_ids = strings(&image.config["rootfs"]["diff_ids"]);
    let layers = image.manifest.layers();
    if diff_ids.len() != layers.len() {
        return Err(invalid(
            "image",
            &image.id,
            "its config and manifest list different layer counts",
        ));
    }
    let mut parent: Option<ChainId> = None;
    let mut lease = None;
    let mut out = Vec::with_capacity(layers.len());
    for (desc, diff_id) in layers.iter().zip(&diff_ids) {
        let diff_id: Digest = diff_id.parse()?;
        let chain = match &parent {
            Some(p) => p.child(&diff_id),
            None => ChainId::base(&diff_id),
        };
        // The common case (already unpacked) costs one stat and no lease.
        if !store.has_snapshot(&chain) {
            let lease = match &mut lease {
                Some(l) => l,
                None => lease.insert(store.lease()?),
            };
            store.unpack_blob(lease, desc, &diff_id, parent.as_ref())?;
        }
        out.push(store.snapshot_path(&chain).display().to_string());
        parent = Some(chain);
    }
    out.reverse();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_is_merged_by_key() {
        let mut env = vec!["PATH=/bin".to_owned(), "A=1".to_owned()];
        set_env(&mut env, "A=2".into());
        set_env(&mut env, "B=3".into());
        assert_eq!(env, ["PATH=/bin", "A=2", "B=3"]);
        assert_eq!(env_entry("X=y").as_deref(), Some("X=y"));
        assert_eq!(env_entry("RDOCK_SURELY_UNSET_VAR"), None);
    }

    #[test]
    fn validation_like_docker() {
        let mut r = RunRequest {
            auto_remove: true,
            restart: RestartPolicy::Always,
            ..RunRequest::default()
        };
        assert!(r.validate().is_err());
        r.restart = RestartPolicy::No;
        assert!(r.validate().is_ok());
        r.resources.memory = Some(1 << 20);
        assert!(r.validate().is_err());
        r.resources.memory = Some(64 << 20);
        r.resources.memory_swap = Some(32 << 20);
        assert!(r.validate().is_err());
        r.resources.memory_swap = Some(-1);
        assert!(r.validate().is_ok());
        r.workdir = Some("rel".into());
        assert!(r.validate().is_err());
    }
}
