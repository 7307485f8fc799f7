//! The request and its result: [`RunSpec`] (validated before any work),
//! [`Network`], [`Stdio`], [`Mount`], and [`Outcome`] with [`ExitStatus`].

use std::os::fd::RawFd;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::error::{Error, Result};
use crate::security::Security;
use crate::tmpfs::TmpfsOptions;

/// How the sandbox is networked.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Network {
    /// A fresh network namespace. For now only loopback is up; bridge
    /// networking comes later.
    #[default]
    Default,
    /// A fresh network namespace with loopback only (`--network=none`).
    None,
    /// The host's network namespace (`--network=host`).
    Host,
    /// Join the existing network namespace behind this file (a bind mount
    /// of `/proc/<pid>/ns/net`, as `ip netns add` makes) instead of
    /// creating one; its interfaces are configured by whoever made it.
    Join(PathBuf),
}

/// Where the command's standard streams go.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Stdio {
    /// stdin, stdout and stderr are the caller's.
    Inherit,
    /// stdin from `/dev/null`; stdout and stderr captured into
    /// [`Outcome::stdout`] and [`Outcome::stderr`].
    #[default]
    Capture,
    /// All three are `/dev/null`.
    Null,
    /// Caller-owned descriptors, `dup2`'d onto 0, 1 and 2 of the command.
    /// They must stay open until [`crate::spawn`] returns.
    Fds {
        /// Becomes the command's stdin.
        stdin: RawFd,
        /// Becomes the command's stdout.
        stdout: RawFd,
        /// Becomes the command's stderr.
        stderr: RawFd,
    },
    /// A new pseudo-terminal from the sandbox's own `/dev/pts`: the slave
    /// is the command's controlling terminal and its stdin, stdout and
    /// stderr (after `setsid`); the master comes back from
    /// [`crate::Running::pty_master`].
    Pty,
}

/// An extra mount inside the sandbox (for `RUN --mount`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mount {
    /// A recursive bind of a host path.
    Bind {
        /// Host path.
        source: PathBuf,
        /// Absolute path inside the sandbox.
        target: String,
        /// Remount read-only.
        readonly: bool,
    },
    /// A fresh tmpfs as `RUN --mount=type=tmpfs` makes it (mode 755,
    /// `nosuid`, `nodev`).
    Tmpfs {
        /// Absolute path inside the sandbox.
        target: String,
        /// Size limit in bytes; `None` is the kernel's default (half of RAM).
        size: Option<u64>,
    },
    /// A fresh tmpfs with the options of a container's `--tmpfs` or
    /// `--mount type=tmpfs`.
    TmpfsWith {
        /// Absolute path inside the sandbox.
        target: String,
        /// Its flags and tmpfs options.
        options: TmpfsOptions,
    },
}

impl Mount {
    pub(crate) fn target(&self) -> &str {
        match self {
            Mount::Bind { target, .. }
            | Mount::Tmpfs { target, .. }
            | Mount::TmpfsWith { target, .. } => target,
        }
    }
}

/// The most lower layers one overlay mount takes (the kernel's limit).
const MAX_LOWERS: usize = 500;

/// One process to run isolated in an overlay root filesystem.
///
/// Build it with [`RunSpec::new`], set the public fields, and pass it to
/// [`crate::run`], which validates it first.
#[derive(Debug, Clone)]
pub struct RunSpec {
    /// Read-only layers, topmost first (overlayfs `lowerdir` order). May be
    /// empty, for a command run on `scratch`.
    pub lower_dirs: Vec<PathBuf>,
    /// The overlay upper dir: receives every change and becomes the layer.
    pub upper_dir: PathBuf,
    /// The overlay work dir, empty, on the same file system as `upper_dir`.
    pub work_dir: PathBuf,
    /// The command and its arguments; `args[0]` is looked up in `$PATH`
    /// unless it contains a `/`.
    pub args: Vec<String>,
    /// `KEY=value` pairs. `PATH` and `HOME` get defaults when missing.
    pub env: Vec<String>,
    /// Absolute working directory; created if missing, as `WORKDIR` does.
    pub cwd: String,
    /// `user`, `uid`, `user:group` or `uid:gid`, resolved against the image's
    /// `/etc/passwd` and `/etc/group`; empty means root.
    pub user: String,
    /// The sandbox's hostname.
    pub hostname: String,
    /// Networking mode.
    pub network: Network,
    /// Standard streams.
    pub stdio: Stdio,
    /// Extra mounts, applied in order after the standard ones.
    pub mounts: Vec<Mount>,
    /// Kill the command with `SIGKILL` after this long.
    pub timeout: Option<Duration>,
    /// How many trailing bytes of each captured stream to keep.
    pub capture_limit: usize,
    /// Capabilities, seccomp, masked paths; Docker's defaults.
    pub security: Security,
    /// Resource limits; they need [`RunSpec::cgroup`].
    pub resources: Resources,
    /// The container's own cgroup, a relative name like `rdock/<id>`
    /// created under each hierarchy (with a cgroup namespace rooted at it),
    /// and removed after [`crate::Running::wait`]. `None` (build steps)
    /// leaves the command in the caller's cgroup. A spec with a cgroup is a
    /// container: the mount points it had to create in its upper dir
    /// (`/etc/hostname`, ...) stay there, as in Docker's container layer.
    pub cgroup: Option<String>,
    /// `--init`: a small built-in pid 1 forwards signals to the command
    /// (its only child) and reaps zombies.
    pub init: bool,
    /// Mount the root file system read-only (`--read-only`).
    pub readonly_rootfs: bool,
    /// Run in a new user namespace with these id maps (`--userns`).
    pub userns: Option<IdMapping>,
    /// A host file bind-mounted as `/etc/hosts` instead of the generated one.
    pub hosts_file: Option<PathBuf>,
    /// A host file bind-mounted as `/etc/resolv.conf` instead of the
    /// generated one.
    pub resolv_conf: Option<PathBuf>,
}

/// Resource limits of a container's cgroup (`docker run --memory`,
/// `--memory-swap`, `--cpus`, `--pids-limit`). `None` is unlimited.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Resources {
    /// Memory limit in bytes.
    pub memory: Option<u64>,
    /// Memory plus swap in bytes, as Docker counts it; `-1` is unlimited
    /// swap. Docker's default (unset, with `memory` set) is twice `memory`.
    pub memory_swap: Option<i64>,
    /// CPUs (`1.5` = one and a half CPUs of time per period).
    pub cpus: Option<f64>,
    /// Maximum number of tasks; `0` or negative is unlimited.
    pub pids_limit: Option<i64>,
}

impl Resources {
    /// Docker's checks: limits need a cgroup, memory at least 6 MiB, swap
    /// total at least memory, CPUs positive.
    fn validate(&self, has_cgroup: bool) -> Result<()> {
        let invalid = |reason: &str| Error::InvalidSpec {
            field: "resources",
            reason: reason.to_owned(),
        };
        if self.any() && !has_cgroup {
            return Err(invalid("limits need a cgroup"));
        }
        if self.memory.is_some_and(|m| m < 6 << 20) {
            return Err(invalid("minimum memory limit allowed is 6MB"));
        }
        if let Some(swap) = self.memory_swap {
            match self.memory {
                None if swap != -1 => {
                    return Err(invalid(
                        "you should always set the memory limit when using the memoryswap limit",
                    ))
                }
                Some(m) if swap != -1 && swap < m as i64 => {
                    return Err(invalid(
                        "minimum memoryswap limit should be larger than memory limit",
                    ))
                }
                _ => {}
            }
        }
        if self.cpus.is_some_and(|c| !(c.is_finite() && c > 0.0)) {
            return Err(invalid("cpus must be a positive number"));
        }
        Ok(())
    }

    /// Whether any limit is set.
    pub fn any(&self) -> bool {
        self.memory.is_some()
            || self.memory_swap.is_some()
            || self.cpus.is_some()
            || self.pids_limit.is_some()
    }
}

/// One line of a `uid_map` or `gid_map`: `size` ids from `container` up map
/// to `size` ids from `host` up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IdRange {
    /// First id inside the namespace.
    pub container: u32,
    /// First id on the host.
    pub host: u32,
    /// How many ids.
    pub size: u32,
}

/// The id maps of a user namespace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdMapping {
    /// Lines of `/proc/<pid>/uid_map`.
    pub uids: Vec<IdRange>,
    /// Lines of `/proc/<pid>/gid_map`.
    pub gids: Vec<IdRange>,
}

impl IdMapping {
    /// Maps container ids `0..size` to host ids `host..host+size`, the
    /// usual remapping.
    pub fn single(host: u32, size: u32) -> IdMapping {
        let r = IdRange {
            container: 0,
            host,
            size,
        };
        IdMapping {
            uids: vec![r],
            gids: vec![r],
        }
    }

    /// The text written to a map file.
    pub(crate) fn map_text(ranges: &[IdRange]) -> String {
        ranges
            .iter()
            .map(|r| format!("{} {} {}\n", r.container, r.host, r.size))
            .collect()
    }

    /// The host id a container id maps to.
    pub fn host_uid(&self, id: u32) -> Option<u32> {
        map_id(&self.uids, id)
    }

    /// The host gid a container gid maps to.
    pub fn host_gid(&self, id: u32) -> Option<u32> {
        map_id(&self.gids, id)
    }
}

fn map_id(ranges: &[IdRange], id: u32) -> Option<u32> {
    ranges
        .iter()
        .find(|r| id >= r.container && id - r.container < r.size)
        .map(|r| r.host + (id - r.container))
}

/// A process to start inside a running container with [`crate::exec`]
/// (`docker exec`).
#[derive(Debug, Clone)]
pub struct ExecSpec {
    /// The command and its arguments, looked up in the container's `$PATH`.
    pub args: Vec<String>,
    /// `KEY=value` pairs (the container's environment is not inherited:
    /// pass it in). `PATH` and `HOME` get defaults when missing.
    pub env: Vec<String>,
    /// Absolute working directory inside the container.
    pub cwd: String,
    /// `user[:group]` resolved against the container's `/etc/passwd`.
    pub user: String,
    /// Standard streams.
    pub stdio: Stdio,
    /// Capabilities, seccomp, `no_new_privs` for the new process.
    pub security: Security,
    /// How many trailing bytes of each captured stream to keep.
    pub capture_limit: usize,
}

impl ExecSpec {
    /// Runs `args` as root in `/` with captured output and Docker's default
    /// security.
    pub fn new(args: Vec<String>) -> ExecSpec {
        ExecSpec {
            args,
            env: Vec::new(),
            cwd: "/".to_owned(),
            user: String::new(),
            stdio: Stdio::Capture,
            security: Security::default(),
            capture_limit: 1 << 20,
        }
    }
}

/// The default `PATH`, as Docker sets it for Linux containers.
pub(crate) const DEFAULT_PATH: &str =
    "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

impl RunSpec {
    /// A spec with the defaults: root, cwd `/`, hostname `rdock`, default
    /// network, captured output (last 1 MiB kept), no timeout.
    pub fn new(
        lower_dirs: Vec<PathBuf>,
        upper_dir: impl Into<PathBuf>,
        work_dir: impl Into<PathBuf>,
        args: Vec<String>,
    ) -> RunSpec {
        RunSpec {
            lower_dirs,
            upper_dir: upper_dir.into(),
            work_dir: work_dir.into(),
            args,
            env: Vec::new(),
            cwd: "/".to_owned(),
            user: String::new(),
            hostname: "rdock".to_owned(),
            network: Network::Default,
            stdio: Stdio::Capture,
            mounts: Vec::new(),
            timeout: None,
            capture_limit: 1 << 20,
            security: Security::default(),
            resources: Resources::default(),
            cgroup: None,
            init: false,
            readonly_rootfs: false,
            userns: None,
            hosts_file: None,
            resolv_conf: None,
        }
    }

    /// Checks everything that can be checked without touching the system
    /// beyond `stat`.
    pub fn validate(&self) -> Result<()> {
        let invalid = |field, reason: &str| Error::InvalidSpec {
            field,
            reason: reason.to_owned(),
        };
        if self.args.is_empty() || self.args[0].is_empty() {
            return Err(invalid("args", "no command given"));
        }
        if self.args.iter().chain(&self.env).any(|a| a.contains('\0')) {
            return Err(invalid("args", "contains a NUL byte"));
        }
        if let Some(e) = self.env.iter().find(|e| !e.contains('=')) {
            return Err(invalid("env", &format!("{e:?} is not KEY=value")));
        }
        if !self.cwd.starts_with('/') {
            return Err(invalid("cwd", "must be absolute"));
        }
        if self.hostname.is_empty() || self.hostname.len() > 64 {
            return Err(invalid("hostname", "must be 1 to 64 bytes"));
        }
        for (field, dir) in [("upper_dir", &self.upper_dir), ("work_dir", &self.work_dir)]
            .into_iter()
            .chain(self.lower_dirs.iter().map(|d| ("lower_dirs", d)))
        {
            check_dir(field, dir)?;
        }
        // Overlay stacks at most 500 lower layers.
        if self.lower_dirs.len() > MAX_LOWERS {
            return Err(invalid("lower_dirs", "more than 500 layers"));
        }
        self.resources.validate(self.cgroup.is_some())?;
        if let Some(map) = &self.userns {
            if map.host_uid(0).is_none() || map.host_gid(0).is_none() {
                return Err(invalid("userns", "the maps must map root (id 0)"));
            }
        }
        for m in &self.mounts {
            if !m.target().starts_with('/') || m.target() == "/" {
                return Err(invalid("mounts", "target must be absolute and not /"));
            }
            if let Mount::Bind { source, .. } = m {
                if !source.exists() {
                    return Err(invalid(
                        "mounts",
                        &format!("{} is missing", source.display()),
                    ));
                }
            }
        }
        Ok(())
    }

    /// `env` with the defaults filled in.
    #[cfg(test)]
    pub(crate) fn full_env(&self, home: &str) -> Vec<String> {
        full_env(&self.env, home)
    }
}

/// `env` with `PATH` and `HOME` defaults filled in.
pub(crate) fn full_env(env: &[String], home: &str) -> Vec<String> {
    let mut env = env.to_vec();
    if !env.iter().any(|e| e.starts_with("PATH=")) {
        env.push(DEFAULT_PATH.to_owned());
    }
    if !env.iter().any(|e| e.starts_with("HOME=")) {
        env.push(format!("HOME={home}"));
    }
    env
}

fn check_dir(field: &'static str, dir: &Path) -> Result<()> {
    let text = dir.to_string_lossy();
    // Overlay options are comma and colon separated and cannot escape them.
    if !dir.is_absolute() || text.contains([',', ':', '\0']) {
        return Err(Error::InvalidSpec {
            field,
            reason: format!("{text:?} must be absolute without ',' or ':'"),
        });
    }
    if !dir.is_dir() {
        return Err(Error::InvalidSpec {
            field,
            reason: format!("{text} is not a directory"),
        });
    }
    Ok(())
}

/// How the command ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatus {
    /// Exited with this code.
    Exited(i32),
    /// Killed by this signal number.
    Signaled(i32),
}

impl ExitStatus {
    /// Whether the command exited with code 0.
    pub fn success(self) -> bool {
        self == ExitStatus::Exited(0)
    }
}

/// The result of [`crate::run`].
#[derive(Debug, Clone)]
pub struct Outcome {
    /// How the command ended.
    pub status: ExitStatus,
    /// Whether the timeout killed it.
    pub timed_out: bool,
    /// The tail of stdout (with [`Stdio::Capture`]).
    pub stdout: Vec<u8>,
    /// The tail of stderr (with [`Stdio::Capture`]).
    pub stderr: Vec<u8>,
}

/// What [`crate::Running::wait`] returns: the [`Outcome`] plus what only a
/// container with a cgroup can tell.
#[derive(Debug, Clone)]
pub struct Finished {
    /// Exit status, timeout and captured output.
    pub outcome: Outcome,
    /// Whether the kernel's OOM killer killed a process of the container's
    /// cgroup (`docker inspect`'s `OOMKilled`).
    pub oom_killed: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> RunSpec {
        let tmp = std::env::temp_dir();
        RunSpec::new(vec![], &tmp, &tmp, vec!["true".into()])
    }

    #[test]
    fn validates_fields() {
        assert!(spec().validate().is_ok());
        let mut s = spec();
        s.args.clear();
        assert!(s.validate().is_err());
        let mut s = spec();
        s.cwd = "rel".into();
        assert!(s.validate().is_err());
        let mut s = spec();
        s.lower_dirs = vec!["/a:b".into()];
        assert!(s.validate().is_err());
        let mut s = spec();
        s.env = vec!["NOEQ".into()];
        assert!(s.validate().is_err());
        let mut s = spec();
        s.lower_dirs = vec![std::env::temp_dir(); 1000];
        assert!(s.validate().is_err());
    }

    #[test]
    fn validates_resources_and_userns() {
        let err = |s: &RunSpec| s.validate().unwrap_err().to_string();
        let mut s = spec();
        s.resources.pids_limit = Some(10);
        assert_eq!(err(&s), "invalid run spec: resources: limits need a cgroup");
        s.cgroup = Some("rdock/x".into());
        assert!(s.validate().is_ok());
        s.resources.memory = Some(1 << 20);
        assert!(err(&s).ends_with("minimum memory limit allowed is 6MB"));
        s.resources.memory = Some(64 << 20);
        s.resources.memory_swap = Some(32 << 20);
        assert!(err(&s).ends_with("should be larger than memory limit"));
        s.resources.memory_swap = Some(-1);
        assert!(s.validate().is_ok());
        s.resources.cpus = Some(0.0);
        assert!(err(&s).ends_with("cpus must be a positive number"));
        s.resources.cpus = Some(0.5);
        s.userns = Some(IdMapping {
            uids: vec![IdRange {
                container: 1,
                host: 1000,
                size: 10,
            }],
            gids: IdMapping::single(1000, 10).gids,
        });
        assert!(err(&s).ends_with("the maps must map root (id 0)"));
        s.userns = Some(IdMapping::single(100000, 65536));
        assert!(s.validate().is_ok());
    }

    #[test]
    fn env_defaults() {
        let mut s = spec();
        s.env = vec!["A=1".into()];
        let env = s.full_env("/root");
        assert_eq!(env, vec!["A=1", DEFAULT_PATH, "HOME=/root"]);
    }
}
