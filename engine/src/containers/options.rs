//! Typed values of `rdock run` flags, parsed as docker parses them:
//! [`RestartPolicy`], [`NetworkMode`], byte sizes ([`parse_bytes`]) and signals ([`parse_signal`]),
//! and `--userns` (`host` or `auto`, with the subordinate id ranges `auto`
//! allocates).

use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::error::{ContainerError, Result};

fn invalid(flag: &'static str, value: &str, reason: impl Into<String>) -> ContainerError {
    ContainerError::InvalidOption {
        flag,
        value: value.to_owned(),
        reason: reason.into(),
    }
}

/// `--restart`: when the monitor starts the command again.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "Name", content = "MaximumRetryCount", rename_all = "kebab-case")]
pub enum RestartPolicy {
    /// Never (the default).
    #[default]
    No,
    /// After a non-zero exit, at most this many times (0: no limit).
    OnFailure(u32),
    /// Always, until stopped.
    Always,
    /// Always, until stopped (the difference with `always` is at daemon
    /// start, which rdock does not have).
    UnlessStopped,
}

impl RestartPolicy {
    /// Whether to restart after the `restarts`-th run ended with `code`.
    pub fn should_restart(self, code: i32, restarts: u32) -> bool {
        match self {
            RestartPolicy::No => false,
            RestartPolicy::Always | RestartPolicy::UnlessStopped => true,
            RestartPolicy::OnFailure(max) => code != 0 && (max == 0 || restarts < max),
        }
    }

    /// Docker's name for `HostConfig.RestartPolicy.Name`.
    pub fn name(self) -> &'static str {
        match self {
            RestartPolicy::No => "no",
            RestartPolicy::OnFailure(_) => "on-failure",
            RestartPolicy::Always => "always",
            RestartPolicy::UnlessStopped => "unless-stopped",
        }
    }
}

impl FromStr for RestartPolicy {
    type Err = ContainerError;

    fn from_str(s: &str) -> Result<RestartPolicy> {
        let (name, count) = match s.split_once(':') {
            Some((n, c)) => (n, Some(c)),
            None => (s, None),
        };
        let policy = match (name, count) {
            ("no" | "", None) => RestartPolicy::No,
            ("always", None) => RestartPolicy::Always,
            ("unless-stopped", None) => RestartPolicy::UnlessStopped,
            ("on-failure", None) => RestartPolicy::OnFailure(0),
            ("on-failure", Some(c)) => RestartPolicy::OnFailure(
                c.parse()
                    .map_err(|_| invalid("--restart", s, "maximum retry count must be a number"))?,
            ),
            (_, Some(_)) => {
                return Err(invalid(
                    "--restart",
                    s,
                    "maximum retry count cannot be used with this restart policy",
                ))
            }
            _ => {
                return Err(invalid(
                    "--restart",
                    s,
                    "expected no, always, unless-stopped or on-failure[:N]",
                ))
            }
        };
        Ok(policy)
    }
}

/// `--network`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum NetworkMode {
    /// docker's default bridge network.
    #[default]
    Bridge,
    /// Loopback only.
    None,
    /// The host's network namespace.
    Host,
    /// A user-defined network.
    Named(String),
}

impl NetworkMode {
    /// The name docker shows (`bridge`, `none`, `host` or the network's).
    pub fn name(&self) -> &str {
        match self {
            NetworkMode::Bridge => "bridge",
            NetworkMode::None => "none",
            NetworkMode::Host => "host",
            NetworkMode::Named(n) => n,
        }
    }
}

impl FromStr for NetworkMode {
    type Err = ContainerError;

    fn from_str(s: &str) -> Result<NetworkMode> {
        Ok(match s {
            "bridge" | "default" => NetworkMode::Bridge,
            "none" => NetworkMode::None,
            "host" => NetworkMode::Host,
            "" => return Err(invalid("--network", s, "empty network name")),
            other if other.starts_with("container:") => {
                return Err(ContainerError::Unsupported("--network container:NAME"))
            }
            other => NetworkMode::Named(other.to_owned()),
        })
    }
}

/// `--security-opt`: what rdock applies of docker's security options.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct SecurityOpts {
    /// `no-new-privileges`: setuid binaries and file capabilities grant
    /// nothing.
    pub no_new_privileges: bool,
    /// `seccomp=unconfined`: no seccomp filter.
    pub seccomp_unconfined: bool,
}

impl SecurityOpts {
    /// Parses `--security-opt` values as docker does (`=` or the old `:`).
    /// A custom seccomp profile and AppArmor or SELinux labels are
    /// refused; asking for none of them (`apparmor=unconfined`,
    /// `label=disable`) is what rdock does anyway.
    pub fn parse(values: &[String]) -> Result<SecurityOpts> {
        let mut opts = SecurityOpts::default();
        for v in values {
            let (key, value) = match v.split_once(['=', ':']) {
                Some((k, v)) => (k, Some(v)),
                None => (v.as_str(), None),
            };
            match (key, value) {
                ("no-new-privileges", None | Some("true")) => opts.no_new_privileges = true,
                ("no-new-privileges", Some("false")) => opts.no_new_privileges = false,
                ("seccomp", Some("unconfined")) => opts.seccomp_unconfined = true,
                ("seccomp", Some("builtin" | "default")) => opts.seccomp_unconfined = false,
                ("seccomp", Some(_)) => {
                    return Err(invalid(
                        "--security-opt",
                        v,
                        "custom seccomp profiles are not supported: use seccomp=unconfined or leave the default profile",
                    ))
                }
                ("apparmor", Some("unconfined")) | ("label", Some("disable")) => {}
                ("apparmor" | "label", Some(_)) => {
                    return Err(invalid(
                        "--security-opt",
                        v,
                        "rdock applies no AppArmor profile or SELinux label",
                    ))
                }
                _ => {
                    return Err(invalid(
                        "--security-opt",
                        v,
                        "expected no-new-privileges[=true|false] or seccomp=unconfined",
                    ))
                }
            }
        }
        Ok(opts)
    }

    /// docker's `HostConfig.SecurityOpt`.
    pub fn to_strings(self) -> Vec<String> {
        let mut out = Vec::new();
        if self.no_new_privileges {
            out.push("no-new-privileges".to_owned());
        }
        if self.seccomp_unconfined {
            out.push("seccomp=unconfined".to_owned());
        }
        out
    }
}

/// Parses docker's byte sizes (`RAMInBytes`): a number with an optional
/// `b`, `k`, `m`, `g`, `t` or `p` suffix (powers of 1024), optionally
/// followed by `b`; case-insensitive.
pub fn parse_bytes(flag: &'static str, s: &str) -> Result<u64> {
    let lower = s.trim().to_ascii_lowercase();
    let digits = lower
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(lower.len());
    let (num, unit) = lower.split_at(digits);
    let num: f64 = num
        .parse()
        .map_err(|_| invalid(flag, s, "expected a size such as 512m or 1g"))?;
    let unit = unit.trim();
    let unit = unit
        .strip_suffix("ib")
        .or_else(|| unit.strip_suffix('b').filter(|u| !u.is_empty()))
        .unwrap_or(unit);
    let shift = match unit {
        "" | "b" => 0,
        "k" => 10,
        "m" => 20,
        "g" => 30,
        "t" => 40,
        "p" => 50,
        _ => return Err(invalid(flag, s, format!("unknown unit {unit:?}"))),
    };
    Ok((num * (1u64 << shift) as f64) as u64)
}

/// Parses a signal as docker does: `SIGTERM`, `TERM` or `15`; errors
/// name `flag`.
pub fn parse_signal(flag: &'static str, s: &str) -> Result<i32> {
    if let Ok(n) = s.parse::<i32>() {
        if (1..=64).contains(&n) {
            return Ok(n);
        }
        return Err(invalid(flag, s, "signal numbers go from 1 to 64"));
    }
    rdock_runner::signal_number(s).ok_or_else(|| invalid(flag, s, "unknown signal name"))
}

/// A signal's name as docker shows it (`SIGTERM`); real-time and unnamed
/// signals by number.
pub(crate) fn signal_name(sig: i32) -> String {
    rdock_runner::signal_name(sig).unwrap_or_else(|| sig.to_string())
}

/// `--userns`: `host` (or empty, the default) shares the host's user ids;
/// `auto` (podman's name) runs the container as an unprivileged
/// subordinate range of its own ([`UsernsRange`]). Docker only has the
/// daemon-wide `userns-remap`; a per-run flag fits a daemonless tool.
pub(crate) fn parse_userns(s: &str) -> Result<bool> {
    match s {
        "" | "host" => Ok(false),
        "auto" => Ok(true),
        _ => Err(invalid(
            "--userns",
            s,
            "valid values are \"host\" and \"auto\"",
        )),
    }
}

/// The ids of one `--userns=auto` container: container ids `0..size` are
/// host uids `uid..` and gids `gid..`. Stored in the container's config as
/// `auto:UID:GID:SIZE` so restarts keep the ids its files belong to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct UsernsRange {
    pub(crate) uid: u32,
    pub(crate) gid: u32,
    pub(crate) size: u32,
}

/// Ids per container, as podman's and Docker's default.
pub(crate) const USERNS_SIZE: u32 = 65536;

/// Without an `/etc/subuid` entry for `rdock` or `root`: 1024 ranges
/// from 10^9 up, above what `useradd` hands out (its default
/// `SUB_UID_MAX` is 600100000), so no user's own range overlaps.
pub(crate) const DEFAULT_POOL: (u32, u32) = (1_000_000_000, 1024 * USERNS_SIZE);

impl UsernsRange {
    pub(crate) fn to_config(self) -> String {
        format!("auto:{}:{}:{}", self.uid, self.gid, self.size)
    }

    /// The range stored by [`UsernsRange::to_config`]; `None` for `host`.
    pub(crate) fn from_config(s: &str) -> Option<UsernsRange> {
        let mut it = s.strip_prefix("auto:")?.split(':').map(str::parse::<u32>);
        let (Some(Ok(uid)), Some(Ok(gid)), Some(Ok(size)), None) =
            (it.next(), it.next(), it.next(), it.next())
        else {
            return None;
        };
        Some(UsernsRange { uid, gid, size })
    }

    /// The first free range: slot `k` of each pool (`(start, count)` of
    /// subordinate uids and gids) is `start + k * USERNS_SIZE`; slots
    /// whose uid start is in `used` are taken.
    pub(crate) fn allocate(
        uids: (u32, u32),
        gids: (u32, u32),
        used: &[u32],
    ) -> Option<UsernsRange> {
        let slots = (uids.1 / USERNS_SIZE).min(gids.1 / USERNS_SIZE);
        (0..slots)
            .map(|k| UsernsRange {
                uid: uids.0 + k * USERNS_SIZE,
                gid: gids.0 + k * USERNS_SIZE,
                size: USERNS_SIZE,
            })
            .find(|r| !used.contains(&r.uid))
    }
}

/// The pool of `/etc/subuid` (or `/etc/subgid`) text for the first of
/// `names` that has an entry of at least [`USERNS_SIZE`] ids.
pub(crate) fn subid_pool(text: &str, names: &[&str]) -> Option<(u32, u32)> {
    names.iter().find_map(|name| {
        text.lines().find_map(|line| {
            let mut f = line.trim().split(':');
            if f.next() != Some(*name) {
                return None;
            }
            let start = f.next()?.parse::<u32>().ok()?;
            let count = f.next()?.parse::<u32>().ok()?;
            (count >= USERNS_SIZE && start.checked_add(count).is_some()).then_some((start, count))
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn restart_policies() {
        assert_eq!("no".parse::<RestartPolicy>().unwrap(), RestartPolicy::No);
        assert_eq!(
            "on-failure:2".parse::<RestartPolicy>().unwrap(),
            RestartPolicy::OnFailure(2)
        );
        assert!("always:3".parse::<RestartPolicy>().is_err());
        assert!("sometimes".parse::<RestartPolicy>().is_err());
        let p = RestartPolicy::OnFailure(2);
        assert!(p.should_restart(1, 0) && p.should_restart(1, 1));
        assert!(!p.should_restart(1, 2) && !p.should_restart(0, 0));
        assert!(RestartPolicy::Always.should_restart(0, 99));
    }

    #[test]
    fn byte_sizes_as_docker() {
        assert_eq!(parse_bytes("-m", "512m").unwrap(), 512 << 20);
        assert_eq!(parse_bytes("-m", "1G").unwrap(), 1 << 30);
        assert_eq!(parse_bytes("-m", "64MB").unwrap(), 64 << 20);
        assert_eq!(parse_bytes("-m", "1.5k").unwrap(), 1536);
        assert_eq!(parse_bytes("-m", "100").unwrap(), 100);
        assert_eq!(parse_bytes("-m", "100b").unwrap(), 100);
        assert!(parse_bytes("-m", "12x").is_err());
        assert!(parse_bytes("-m", "m").is_err());
    }

    #[test]
    fn signals_by_name_or_number() {
        assert_eq!(parse_signal("--signal", "SIGTERM").unwrap(), 15);
        assert_eq!(parse_signal("--signal", "kill").unwrap(), 9);
        assert_eq!(parse_signal("--signal", "10").unwrap(), 10);
        assert!(parse_signal("--signal", "99").is_err());
        let e = parse_signal("--stop-signal", "SIGNOPE").unwrap_err();
        assert!(e.to_string().contains("--stop-signal"), "{e}");
        assert_eq!(signal_name(15), "SIGTERM");
        assert_eq!(signal_name(10), "SIGUSR1");
        assert_eq!(signal_name(40), "40");
    }

    #[test]
    fn security_options_as_docker() {
        let parse =
            |v: &[&str]| SecurityOpts::parse(&v.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        let o = parse(&["no-new-privileges", "seccomp=unconfined"]).unwrap();
        assert!(o.no_new_privileges && o.seccomp_unconfined);
        assert!(
            parse(&["no-new-privileges:true"])
                .unwrap()
                .no_new_privileges
        );
        assert!(
            !parse(&["no-new-privileges=true", "no-new-privileges=false"])
                .unwrap()
                .no_new_privileges
        );
        assert!(parse(&["seccomp:unconfined"]).unwrap().seccomp_unconfined);
        assert_eq!(
            parse(&["apparmor=unconfined"]).unwrap(),
            SecurityOpts::default()
        );
        let e = parse(&["seccomp=/etc/profile.json"])
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("--security-opt") && e.contains("custom seccomp"),
            "{e}"
        );
        assert!(parse(&["no-new-privileges=maybe"]).is_err());
        assert!(parse(&["bogus"]).is_err());
        assert_eq!(o.to_strings(), ["no-new-privileges", "seccomp=unconfined"]);
    }

    #[test]
    fn networks() {
        assert_eq!("none".parse::<NetworkMode>().unwrap(), NetworkMode::None);
        assert_eq!(
            "mynet".parse::<NetworkMode>().unwrap(),
            NetworkMode::Named("mynet".into())
        );
    }
    #[test]
    fn userns_values_and_ranges() {
        assert!(!parse_userns("host").unwrap());
        assert!(!parse_userns("").unwrap());
        assert!(parse_userns("auto").unwrap());
        let e = parse_userns("keep-id").unwrap_err().to_string();
        assert!(e.contains("--userns") && e.contains("keep-id"), "{e}");

        let text = "alice:100000:65536\nroot:300000:131072\nrdock:900000:65535\n";
        // rdock's entry is too small for one container: root's is used.
        assert_eq!(subid_pool(text, &["rdock", "root"]), Some((300000, 131072)));
        assert_eq!(subid_pool(text, &["bob"]), None);
        assert_eq!(subid_pool("root:x:1\n", &["root"]), None);

        let pool = (300000, 131072);
        let a = UsernsRange::allocate(pool, (500000, 65536 * 4), &[]).unwrap();
        assert_eq!((a.uid, a.gid, a.size), (300000, 500000, 65536));
        let b = UsernsRange::allocate(pool, pool, &[300000]).unwrap();
        assert_eq!(b.uid, 365536);
        assert_eq!(UsernsRange::allocate(pool, pool, &[300000, 365536]), None);

        assert_eq!(UsernsRange::from_config(&b.to_config()), Some(b));
        assert_eq!(UsernsRange::from_config("host"), None);
        assert_eq!(UsernsRange::from_config("auto:1:2"), None);
        assert_eq!(UsernsRange::from_config("auto:1:2:3:4"), None);
    }
}
