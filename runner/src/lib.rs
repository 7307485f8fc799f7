//! Runs processes isolated in a root filesystem: Dockerfile `RUN` steps for
//! the builder and containers for `rdock run`. The only crate allowed
//! syscalls and `unsafe`.
//!
//! A [`RunSpec`] names the overlay layers (read-only lower dirs, the upper dir
//! that becomes the new layer), the command, its environment, user, working
//! directory, hostname, [`Network`] mode, [`Stdio`], extra [`Mount`]s, and for
//! containers [`Security`] (capabilities, seccomp, `no_new_privs`,
//! privileged), [`Resources`] with a `cgroup` name, `init`,
//! `readonly_rootfs`, `userns` ([`IdMapping`]) and host files to use as
//! `/etc/hosts` and `/etc/resolv.conf`.
//!
//! [`spawn`] validates it, forks into fresh mount, pid, uts, ipc, cgroup and
//! (unless host networking or [`Network::Join`]) net namespaces, joins the
//! container's cgroup, mounts the overlay, `/proc` (with Docker's masked and
//! read-only paths), `/dev` (with `pts`, `shm`, `mqueue`), read-only `/sys`
//! and the `/etc/hosts`, `/etc/resolv.conf` and `/etc/hostname` files,
//! pivots into it, drops to Docker's default capabilities and the image's
//! user, installs Docker's default seccomp profile, and execs the command as
//! pid 1 (or under a tiny init). It returns a [`Running`] once the command
//! has been exec'd: [`Running::pid`], [`Running::pty_master`],
//! [`Running::signal`] (or a [`Signaller`] for another thread, pidfd-based
//! so a recycled pid is never hit) and [`Running::wait`], which gives a
//! [`Finished`] (the [`Outcome`] and whether the OOM killer struck) after
//! removing the cgroup, runtime files and (for build steps, which have no
//! cgroup) the mount stubs; [`Running::wait_overlapped`] returns before the
//! kernel has torn the sandbox's namespaces down, with a [`Reaper`] that
//! waits for that later. [`run`] is spawn plus wait.
//! Failures before the command starts are typed [`Error`]s with the failing
//! [`Stage`], and leave nothing behind.
//!
//! [`exec`] starts an [`ExecSpec`] inside a running container (joining its
//! namespaces and cgroup); [`resize_pty`] resizes a terminal;
//! [`kill_cgroup`] and [`remove_cgroup`] clean up a container's cgroup by
//! name, idempotently (for `rm -f` and crash recovery); [`remove_tree`]
//! removes a rootless container's files from the user's own namespace. [`CgroupFs`] takes
//! the cgroup root as a parameter so limits can be checked on a fake tree.
//!
//! Details that matter to callers:
//! - Security defaults are Docker's and also apply to build `RUN` steps, as
//!   BuildKit does. The seccomp table is for x86_64 (other architectures
//!   get a clear error unless `seccomp` is off); 32-bit syscalls are
//!   refused.
//! - The overlay is mounted `volatile`: no sync of the upper dir's file
//!   system at unmount (that sync dominated start-to-exit time on a busy
//!   host); the marker it leaves in the work dir is removed after the run.
//! - Runtime files (the merged mount point, generated `/etc` files) live in
//!   a tmpfs (`/run` or `/dev/shm`) unless `$TMPDIR` is set.
//! - With `userns` as root, the runner writes the maps, idmaps the lower
//!   dirs (`mount_setattr` with `MOUNT_ATTR_IDMAP`: ext4, xfs, btrfs or
//!   tmpfs, kernel >= 5.12) so image files owned by host root are root's
//!   inside without copying a layer, and chowns the upper and work dirs to
//!   the mapped root, so the container's writes belong to mapped host ids.
//!   Other callers (rootless) need `newuidmap`/`newgidmap` (Debian's
//!   `uidmap`) and `/etc/subuid` ranges; nothing is idmapped, so their own
//!   files are what the mapped root owns.
//! - A cgroup is created in every hierarchy: cgroup v2 when
//!   `/sys/fs/cgroup` is cgroup2, else the v1 `memory`, `cpu`, `pids` and
//!   `freezer` controllers plus the hybrid `unified` tree. The container is
//!   born in the v2 cgroup (`clone3` with `CLONE_INTO_CGROUP`) and joins v1
//!   ones through `tasks`, which avoids the RCU grace period a
//!   `cgroup.procs` migration waits for. The container sees its own
//!   cgroup (read-only) at `/sys/fs/cgroup`, as with Docker.
//! - Runtime dirs carry their owner's pid; a later run removes those of
//!   processes that were killed before they could clean up.
//!
//! Requires root, or without it (rootless) a `userns` and no `cgroup`.
//!
//! ```no_run
//! use rdock_runner::{run, spawn, Network, RunSpec, Stdio};
//!
//! let args = ["sh", "-c", "apt-get update"].map(String::from).to_vec();
//! let mut spec = RunSpec::new(vec!["/snap/2".into(), "/snap/1".into()], "/snap/3/fs", "/snap/3/work", args);
//! spec.user = "app:app".into();
//! spec.network = Network::Host;
//! let outcome = run(&spec)?;
//! assert!(outcome.status.success());
//!
//! // A container: own cgroup with limits, a terminal, waited for later.
//! spec.cgroup = Some("rdock/0123abcd".into());
//! spec.resources.memory = Some(64 << 20);
//! spec.stdio = Stdio::Pty;
//! let mut running = spawn(&spec)?;
//! let _master = running.pty_master();
//! let finished = running.wait()?;
//! assert!(!finished.oom_killed);
//! # Ok::<(), rdock_runner::Error>(())
//! ```
#![allow(unsafe_code)]

mod cgroup;
mod child;
mod error;
mod exec;
mod init;
pub mod net;
mod process;
mod pty;
mod report;
mod rootfs;
mod run;
mod running;
mod seccomp;
mod security;
mod signal;
mod spec;
mod stubs;
mod syscall;
mod tmpfs;
pub mod tty;
mod user;
mod userns;

pub use cgroup::{kill_cgroup, remove_cgroup, Cgroup, CgroupFs};
pub use error::{Error, Result, Stage};
pub use exec::exec;
pub use pty::resize_pty;
pub use run::{run, spawn};
pub use running::{Reaper, Running, Signaller};
pub use security::{CapSet, Security};
pub use signal::{signal_name, signal_number};
pub use spec::{
    ExecSpec, ExitStatus, Finished, IdMapping, IdRange, Mount, Network, Outcome, Resources,
    RunSpec, Stdio,
};
pub use tmpfs::TmpfsOptions;
pub use user::{group_id, passwd_ids, resolve_user, ExecUser};
pub use userns::remove_tree;
