//! The crate's error type: [`Error`], with [`Stage`] naming the sandbox setup
//! step that failed inside the child before `execve`.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;

use nix::errno::Errno;

use crate::net::Proto;

/// Result alias for this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong when running a sandboxed process or wiring
/// it into a network.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The [`crate::RunSpec`] was rejected before any work was done.
    #[error("invalid run spec: {field}: {reason}")]
    InvalidSpec {
        /// The offending field.
        field: &'static str,
        /// Why it was rejected.
        reason: String,
    },
    /// A file operation in the host (runtime dir, stub cleanup) failed.
    #[error("{action} {}: {source}", path.display())]
    Io {
        /// What was being done.
        action: &'static str,
        /// The path involved.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A system call made by the parent (pipe, fork, wait, kill) failed.
    #[error("{action}: {errno}")]
    Sys {
        /// The call.
        action: &'static str,
        /// The error number.
        errno: Errno,
    },
    /// A sandbox setup step in the child failed before the command ran.
    #[error("{stage} {detail}: {errno}")]
    Setup {
        /// Which step.
        stage: Stage,
        /// The path or value involved.
        detail: String,
        /// The error number.
        errno: Errno,
    },
    /// The user named in the spec does not exist in the image.
    #[error("unable to find user {user}: no matching entries in passwd file")]
    UserNotFound {
        /// The user as given.
        user: String,
    },
    /// The group named in the spec does not exist in the image.
    #[error("unable to find group {group}: no matching entries in group file")]
    GroupNotFound {
        /// The group as given.
        group: String,
    },
    /// The command was not found in `$PATH`.
    #[error("exec: \"{program}\": executable file not found in $PATH")]
    ExecNotFound {
        /// `args[0]`.
        program: String,
    },
    /// `execve` itself failed.
    #[error("exec: \"{program}\": {errno}")]
    Exec {
        /// `args[0]`.
        program: String,
        /// The error number.
        errno: Errno,
    },
    /// The child died or closed its report pipe with a malformed report.
    #[error("sandbox child failed without a report")]
    ChildLost,
    /// A capability name in `cap_add` or `cap_drop` is not known.
    #[error("unknown capability: {name:?}")]
    UnknownCapability {
        /// The name as given.
        name: String,
    },
    /// The seccomp profile could not be compiled for this architecture.
    #[error("compile seccomp profile: {reason}")]
    Seccomp {
        /// The compiler's message.
        reason: String,
    },
    /// `exec` targets a process that does not exist (the container stopped).
    #[error("container process {pid} is not running")]
    NotRunning {
        /// The host pid given.
        pid: i32,
    },
    // Networking (attach, detach, networks): run in the caller's process.
    /// A value (subnet, port mapping, network or container name) did not
    /// parse or was out of range.
    #[error("invalid {what} {value:?}: {reason}")]
    Invalid {
        /// What kind of value.
        what: &'static str,
        /// The value as given.
        value: String,
        /// Why it was rejected.
        reason: String,
    },
    /// A netlink request (link, address, route) was refused by the kernel.
    #[error("netlink: {action} {object}: {source}")]
    Netlink {
        /// The request, e.g. "create veth".
        action: &'static str,
        /// The interface or address involved.
        object: String,
        /// The kernel's answer.
        source: std::io::Error,
    },
    /// Creating, entering or removing a network namespace failed.
    #[error("network namespace {}: {action}: {source}", path.display())]
    Netns {
        /// What was being done.
        action: &'static str,
        /// The namespace file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// `iptables` could not be run or rejected a rule.
    #[error("iptables {args}: {reason}")]
    Iptables {
        /// The arguments given.
        args: String,
        /// Its error output, or why it could not start.
        reason: String,
    },
    /// The host port of a `-p` mapping is taken.
    #[error("failed to bind host port {}:{port}/{proto}: address already in use", display_ip(*.ip))]
    PortInUse {
        /// The host address (`None`: every address).
        ip: Option<IpAddr>,
        /// The host port.
        port: u16,
        /// tcp or udp.
        proto: Proto,
    },
    /// Reserving a host port failed for another reason than it being taken.
    #[error("failed to bind host port {}:{port}/{proto}: {source}", display_ip(*.ip))]
    PortBind {
        /// The host address (`None`: every address).
        ip: Option<IpAddr>,
        /// The host port.
        port: u16,
        /// tcp or udp.
        proto: Proto,
        /// The underlying error.
        source: std::io::Error,
    },
    /// Every address of the network's subnet is leased.
    #[error("no available IPv4 addresses on network {network} ({subnet})")]
    AddressesExhausted {
        /// The network.
        network: String,
        /// Its subnet.
        subnet: String,
    },
    /// The container is already attached to the network.
    #[error("container {container} is already attached to network {network} with address {ip}")]
    AlreadyAttached {
        /// The container id.
        container: String,
        /// The network.
        network: String,
        /// Its address there.
        ip: Ipv4Addr,
    },
    /// The container's namespace file exists already: it is attached to
    /// another network (one network per container).
    #[error("container {container} already has a network namespace at {} (attached to another network?)", path.display())]
    NamespaceInUse {
        /// The container id.
        container: String,
        /// The namespace file.
        path: PathBuf,
    },
    /// `remove_network` while containers are still attached.
    #[error("error while removing network: network {network} has active endpoints ({containers})")]
    ActiveEndpoints {
        /// The network.
        network: String,
        /// The attached container ids, comma separated.
        containers: String,
    },
    /// A subnet overlaps a route already on the host or another network.
    #[error("invalid subnet {subnet}: overlaps {other}")]
    SubnetOverlap {
        /// The requested subnet.
        subnet: String,
        /// What it overlaps.
        other: String,
    },
}

/// The sandbox setup step a [`Error::Setup`] comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Stage {
    /// `unshare` of the namespaces.
    Namespaces,
    /// Making the mount tree private.
    MountPrivate,
    /// Mounting the overlay root.
    Overlay,
    /// Creating a mount point inside the root.
    MountPoint,
    /// Mounting `/proc`.
    Proc,
    /// Populating `/dev`.
    Dev,
    /// Mounting `/sys`.
    Sys,
    /// Binding `/etc/hosts`, `/etc/resolv.conf`, `/etc/hostname`.
    EtcFiles,
    /// An extra bind or tmpfs mount from the spec.
    ExtraMount,
    /// `pivot_root` and detaching the old root.
    PivotRoot,
    /// Setting the hostname.
    Hostname,
    /// Bringing up the loopback interface.
    Loopback,
    /// Reading `/etc/passwd` or `/etc/group`.
    User,
    /// Switching uid, gid and groups.
    Credentials,
    /// Creating or entering the working directory.
    Cwd,
    /// Standard streams and signal state.
    Stdio,
    /// `fork` of the namespace's first process.
    Fork,
    /// Joining the container's cgroup or its cgroup namespace.
    Cgroup,
    /// Joining an existing namespace (`setns`).
    JoinNamespace,
    /// Masking or write-protecting `/proc` and `/sys` paths.
    MaskPaths,
    /// Setting up the pseudo-terminal.
    Pty,
    /// Capabilities, `no_new_privs` or seccomp.
    Security,
    /// Writing the user namespace's id maps.
    UserNamespace,
    /// Making the root file system read-only.
    ReadonlyRoot,
}

impl Stage {
    const ALL: [Stage; 24] = [
        Stage::Namespaces,
        Stage::MountPrivate,
        Stage::Overlay,
        Stage::MountPoint,
        Stage::Proc,
        Stage::Dev,
        Stage::Sys,
        Stage::EtcFiles,
        Stage::ExtraMount,
        Stage::PivotRoot,
        Stage::Hostname,
        Stage::Loopback,
        Stage::User,
        Stage::Credentials,
        Stage::Cwd,
        Stage::Stdio,
        Stage::Fork,
        Stage::Cgroup,
        Stage::JoinNamespace,
        Stage::MaskPaths,
        Stage::Pty,
        Stage::Security,
        Stage::UserNamespace,
        Stage::ReadonlyRoot,
    ];

    pub(crate) fn to_byte(self) -> u8 {
        Self::ALL.iter().position(|s| *s == self).unwrap_or(0) as u8
    }

    pub(crate) fn from_byte(b: u8) -> Option<Stage> {
        Self::ALL.get(usize::from(b)).copied()
    }
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = match self {
            Stage::Namespaces => "unshare namespaces",
            Stage::MountPrivate => "make mounts private",
            Stage::Overlay => "mount overlay",
            Stage::MountPoint => "create mount point",
            Stage::Proc => "mount /proc",
            Stage::Dev => "set up /dev",
            Stage::Sys => "mount /sys",
            Stage::EtcFiles => "bind /etc file",
            Stage::ExtraMount => "mount",
            Stage::PivotRoot => "pivot_root",
            Stage::Hostname => "set hostname",
            Stage::Loopback => "bring up loopback",
            Stage::User => "read user database",
            Stage::Credentials => "set credentials",
            Stage::Cwd => "chdir",
            Stage::Stdio => "set up stdio",
            Stage::Fork => "fork",
            Stage::Cgroup => "join cgroup",
            Stage::JoinNamespace => "join namespace",
            Stage::MaskPaths => "mask path",
            Stage::Pty => "set up terminal",
            Stage::Security => "apply security settings",
            Stage::UserNamespace => "set up user namespace",
            Stage::ReadonlyRoot => "make root read-only",
        };
        f.write_str(s)
    }
}

/// A published port's host address as docker shows it (none: every address).
fn display_ip(ip: Option<IpAddr>) -> String {
    ip.map_or_else(|| "0.0.0.0".to_owned(), |ip| ip.to_string())
}
