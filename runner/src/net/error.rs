//! [`NetError`]: the crate's [`crate::Error`] under the name the
//! networking code uses; its networking variants (netlink, iptables, ports,
//! addresses) happen in the caller's process (attach and detach), not in
//! the sandbox child.

use std::path::PathBuf;

pub use crate::error::Error as NetError;

/// Result alias for the networking module.
pub type NetResult<T, E = NetError> = std::result::Result<T, E>;

impl NetError {
    pub(crate) fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
    ) -> impl FnOnce(std::io::Error) -> NetError {
        let path = path.into();
        move |source| NetError::Io {
            action,
            path,
            source,
        }
    }

    pub(crate) fn invalid(what: &'static str, value: &str, reason: impl Into<String>) -> NetError {
        NetError::Invalid {
            what,
            value: value.to_owned(),
            reason: reason.into(),
        }
    }
}
