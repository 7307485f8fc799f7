//! Where the store lives by default: [`RootEnv`] captures the inputs (the
//! `RDOCK_ROOT`, `XDG_DATA_HOME` and `HOME` variables and whether we run as
//! root) so the rule itself is a pure function that tests can drive.
//!
//! The rule: `RDOCK_ROOT` when set, else `/var/lib/rdock` for root, else
//! `$XDG_DATA_HOME/rdock`, else `~/.local/share/rdock`. A `--root` flag is
//! the CLI's business: it simply passes its path to [`crate::Store::open`].

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// The store root used when running as root.
pub const SYSTEM_ROOT: &str = "/var/lib/rdock";

/// The facts that decide the default store root.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RootEnv {
    /// Value of `RDOCK_ROOT`.
    pub rdock_root: Option<OsString>,
    /// Whether the effective user id is 0.
    pub is_root: bool,
    /// Value of `XDG_DATA_HOME`.
    pub xdg_data_home: Option<OsString>,
    /// Value of `HOME`.
    pub home: Option<OsString>,
}

impl RootEnv {
    /// Reads the current process's environment and effective user id.
    pub fn from_process() -> RootEnv {
        RootEnv {
            rdock_root: std::env::var_os("RDOCK_ROOT"),
            is_root: rustix::process::geteuid().is_root(),
            xdg_data_home: std::env::var_os("XDG_DATA_HOME"),
            home: std::env::var_os("HOME"),
        }
    }

    /// The store root these facts select.
    pub fn root_dir(&self) -> Result<PathBuf> {
        if let Some(dir) = non_empty(&self.rdock_root) {
            return Ok(PathBuf::from(dir));
        }
        if self.is_root {
            return Ok(PathBuf::from(SYSTEM_ROOT));
        }
        // The XDG spec says relative values are invalid and must be ignored.
        if let Some(dir) = non_empty(&self.xdg_data_home).filter(|d| Path::new(d).is_absolute()) {
            return Ok(Path::new(dir).join("rdock"));
        }
        if let Some(home) = non_empty(&self.home) {
            return Ok(Path::new(home).join(".local/share/rdock"));
        }
        Err(Error::NoRootDir)
    }
}

fn non_empty(value: &Option<OsString>) -> Option<&OsString> {
    value.as_ref().filter(|v| !v.is_empty())
}
