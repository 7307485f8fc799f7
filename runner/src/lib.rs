//! Runs one process isolated in a root filesystem: what the builder needs
//! for Dockerfile `RUN` steps. The only crate allowed syscalls and `unsafe`.
//!
//! A [`RunSpec`] names the overlay layers (read-only lower dirs, the upper dir
//! that becomes the new layer), the command, its environment, user, working
//! directory, hostname, [`Network`] mode, [`Stdio`] and extra [`Mount`]s.
//! [`run`] validates it, forks into fresh mount, pid, uts, ipc and (unless
//! host networking) net namespaces, mounts the overlay, `/proc`, `/dev`,
//! read-only `/sys` and the `/etc/hosts`, `/etc/resolv.conf` and
//! `/etc/hostname` files, pivots into it, drops to the image's user and
//! execs the command as pid 1. The result is an [`Outcome`]; failures before
//! the command starts are typed [`Error`]s with the failing [`Stage`].
//!
//! Requires root (no user namespaces yet).
//!
//! ```no_run
//! use rdock_runner::{run, Network, RunSpec};
//!
//! let args = ["sh", "-c", "apt-get update"].map(String::from).to_vec();
//! let mut spec = RunSpec::new(vec!["/snap/2".into(), "/snap/1".into()], "/snap/3/fs", "/snap/3/work", args);
//! spec.user = "app:app".into();
//! spec.network = Network::Host;
//! let outcome = run(&spec)?;
//! assert!(outcome.status.success());
//! # Ok::<(), rdock_runner::Error>(())
//! ```
#![allow(unsafe_code)]

mod child;
mod error;
mod net;
mod report;
mod rootfs;
mod run;
mod spec;
mod stubs;
mod syscall;
mod user;

pub use error::{Error, Result, Stage};
pub use run::run;
pub use spec::{ExitStatus, Mount, Network, Outcome, RunSpec, Stdio};
pub use user::{resolve_user, ExecUser};
