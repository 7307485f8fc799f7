//! The request and its result: [`RunSpec`] (validated before any work),
//! [`Network`], [`Stdio`], [`Mount`], and [`Outcome`] with [`ExitStatus`].

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::error::{Error, Result};

/// How the sandbox is networked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Network {
    /// A fresh network namespace. For now only loopback is up; bridge
    /// networking comes later.
    #[default]
    Default,
    /// A fresh network namespace with loopback only (`--network=none`).
    None,
    /// The host's network namespace (`--network=host`).
    Host,
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
    /// A fresh tmpfs.
    Tmpfs {
        /// Absolute path inside the sandbox.
        target: String,
        /// Size limit in bytes; `None` is the kernel's default (half of RAM).
        size: Option<u64>,
    },
}

impl Mount {
    pub(crate) fn target(&self) -> &str {
        match self {
            Mount::Bind { target, .. } | Mount::Tmpfs { target, .. } => target,
        }
    }
}

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
        // The kernel takes mount options in one page; a long layer chain
        // needs mount fd tricks (or short symlinked paths) not done yet.
        let opts_len: usize = [&self.upper_dir, &self.work_dir]
            .into_iter()
            .chain(&self.lower_dirs)
            .map(|d| d.as_os_str().len() + 1)
            .sum();
        if opts_len + 64 > 4096 {
            return Err(invalid("lower_dirs", "overlay options exceed one page"));
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
    pub(crate) fn full_env(&self, home: &str) -> Vec<String> {
        let mut env = self.env.clone();
        if !env.iter().any(|e| e.starts_with("PATH=")) {
            env.push(DEFAULT_PATH.to_owned());
        }
        if !env.iter().any(|e| e.starts_with("HOME=")) {
            env.push(format!("HOME={home}"));
        }
        env
    }
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
    fn env_defaults() {
        let mut s = spec();
        s.env = vec!["A=1".into()];
        let env = s.full_env("/root");
        assert_eq!(env, vec!["A=1", DEFAULT_PATH, "HOME=/root"]);
    }
}
