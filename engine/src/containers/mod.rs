//! Containers: `rdock run` and the lifecycle after it, daemonless.
//!
//! [`create`] turns a [`RunRequest`] (the `run` flags, typed: [`RestartPolicy`],
//! [`NetworkMode`], [`MountSpec`], ...) and the image's config into a
//! container in the store (`ROOT/containers/<id>/`: [`ContainerConfig`],
//! [`State`], the json-file log, the writable layer). It then runs under a
//! *monitor*: `rrun` itself in the foreground ([`run_foreground`]) or a
//! detached re-exec of the binary ([`start_detached`] starts one, which calls
//! [`monitor`]). The monitor pumps output into the log, records the state,
//! applies the restart policy and answers `stop`/`kill` on a control
//! socket; a flock it holds tells everyone else whether it is alive, so a
//! container whose monitor died shows as exited and `rm` cleans it.
//! [`list`], [`container`], [`stop`], [`kill`], [`remove`], [`wait`],
//! [`logs`], [`exec`] and [`inspect_container`] are the other verbs;
//! [`ContainerError::exit_code`] gives docker's exit codes (125, 126, 127).
//! Names are [`ContainerName`]s, unique per store; IDs [`ContainerId`]s,
//! found by full ID, name or unique prefix as docker does.

mod config;
mod control;
mod create;
mod error;
mod id;
mod inspect;
mod lifecycle;
mod logs;
mod monitor;
mod mounts;
mod network;
mod options;
mod spec;
mod store;
mod userns;

pub use config::{ContainerConfig, Resources, State, Status};
pub use create::{create, Created, RunRequest};
pub use error::{ContainerError, Result};
pub use id::{ContainerId, ContainerName};
pub use inspect::inspect_container;
pub(crate) use lifecycle::image_users;
pub use lifecycle::{
    container, exec, images_in_use, kill, list, logs, monitor, remove, resize, run_foreground,
    start_detached, stop, wait, ContainerInfo, ExecRequest, MonitorCommand,
};
pub use logs::{LogLine, Stream};
pub use monitor::{Exit, Terminal};
pub use mounts::{MountSpec, TmpfsSpec};
pub use options::{parse_bytes, parse_signal, NetworkMode, RestartPolicy, SecurityOpts};

pub(crate) use lifecycle::volume_users;
pub(crate) use mounts::check_volume_name;
pub(crate) use store::io;

/// Now as RFC 3339 with nanoseconds (`2024-05-01T12:00:00.123456789Z`),
/// as docker writes log and state times.
pub(crate) fn now_rfc3339() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let secs = crate::images::timefmt::format_rfc3339(now.as_secs() as i64);
    format!("{}.{:09}Z", secs.trim_end_matches('Z'), now.subsec_nanos())
}
