//! What `RUN --mount=type=secret` and `type=ssh` read from the client:
//! [`MountSources`] holds the `--secret` values by id and the `--ssh`
//! agent sockets by id. Its `Debug` form names the ids only, never a
//! secret's bytes.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

/// The secrets and SSH agents a build may mount.
#[derive(Clone, Default)]
pub struct MountSources {
    secrets: BTreeMap<String, Vec<u8>>,
    ssh: BTreeMap<String, PathBuf>,
}

impl fmt::Debug for MountSources {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MountSources")
            .field("secrets", &self.secrets.keys().collect::<Vec<_>>())
            .field("ssh", &self.ssh)
            .finish()
    }
}

impl MountSources {
    /// Adds (or replaces) the secret `id`.
    pub fn add_secret(&mut self, id: impl Into<String>, value: Vec<u8>) {
        self.secrets.insert(id.into(), value);
    }

    /// Adds (or replaces) the SSH agent socket `id`.
    pub fn add_ssh(&mut self, id: impl Into<String>, socket: PathBuf) {
        self.ssh.insert(id.into(), socket);
    }

    pub(crate) fn secret(&self, id: &str) -> Option<&[u8]> {
        self.secrets.get(id).map(Vec::as_slice)
    }

    pub(crate) fn ssh(&self, id: &str) -> Option<&Path> {
        self.ssh.get(id).map(PathBuf::as_path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_secret_bytes() {
        let mut m = MountSources::default();
        m.add_secret("token", b"hunter2".to_vec());
        m.add_ssh("default", "/tmp/agent.sock".into());
        let shown = format!("{m:?}");
        assert!(shown.contains("token") && !shown.contains("hunter2"));
        assert_eq!(m.secret("token"), Some(&b"hunter2"[..]));
        assert_eq!(m.ssh("default"), Some(Path::new("/tmp/agent.sock")));
        assert_eq!(m.secret("other"), None);
    }
}
