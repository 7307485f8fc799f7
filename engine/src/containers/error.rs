//! [`ContainerError`]: what can go wrong creating, running and managing
//! containers and volumes, with the docker exit code each maps to.

use std::path::PathBuf;

/// Result alias for the container functions.
pub type Result<T, E = ContainerError> = std::result::Result<T, E>;

/// Errors of the container and volume functions.
#[derive(Debug, thiserror::Error)]
pub enum ContainerError {
    /// Not a 64-hex container ID.
    #[error("invalid container ID {0:?}")]
    InvalidId(String),
    /// Not a valid container or volume name.
    #[error(
        "invalid name {0:?}: only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed, at least 2 characters"
    )]
    InvalidName(String),
    /// A flag value does not parse or is out of range.
    #[error("invalid {flag} {value:?}: {reason}")]
    InvalidOption {
        /// The flag, e.g. `--memory`.
        flag: &'static str,
        /// The value as given.
        value: String,
        /// Why it is rejected.
        reason: String,
    },
    /// A file operation on the container store failed.
    #[error("{action} {}: {source}", path.display())]
    Io {
        /// What was being done.
        action: &'static str,
        /// The path involved.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A state or config file does not parse.
    #[error("parsing {}: {source}", path.display())]
    Parse {
        /// The file.
        path: PathBuf,
        /// The parser's error.
        source: serde_json::Error,
    },
    /// `--name` is taken.
    #[error("the container name \"/{name}\" is already in use by container \"{id}\": remove (or rename) that container to be able to reuse that name")]
    NameInUse {
        /// The name.
        name: String,
        /// Who has it.
        id: String,
    },
    /// No container has this name, ID or ID prefix.
    #[error("no such container: {0}")]
    NotFound(String),
    /// An ID prefix names several containers.
    #[error("multiple containers found with provided prefix: {0}")]
    Ambiguous(String),
    /// The image is not in the store (pulling is not done here).
    #[error("Unable to find image '{0}' locally: no such image (pull it first, or rdock load/import it)")]
    NoImage(String),
    /// Reading the image failed.
    #[error(transparent)]
    Image(#[from] crate::Error),
    /// The content store failed (unpacking the image's layers).
    #[error(transparent)]
    Store(#[from] rdock_cache::Error),
    /// The runtime could not start (or run) the container, or wire it
    /// into its network (or a `-p` is invalid).
    #[error(transparent)]
    Runner(#[from] rdock_runner::Error),
    /// A `--mount type=bind` source that does not exist.
    #[error("invalid mount config for type \"bind\": bind source path does not exist: {}", .0.display())]
    BindSource(PathBuf),
    /// The container runs, and the operation needs it stopped.
    #[error("cannot {action} container {id}: container is running: stop the container before removing or force remove")]
    Running {
        /// The operation.
        action: &'static str,
        /// The container's ID.
        id: String,
    },
    /// The container does not run, and the operation needs it running.
    #[error("container {0} is not running")]
    NotRunning(String),
    /// The container's monitor did not report within the start timeout.
    #[error("container {id}: {reason}")]
    Monitor {
        /// The container's ID.
        id: String,
        /// What the monitor said or why it is missing.
        reason: String,
    },
    /// The container's first start failed in its (detached) monitor.
    #[error("{message}")]
    StartFailed {
        /// The exit code docker gives for it.
        code: u8,
        /// The monitor's error message.
        message: String,
    },
    /// `--network` names no network.
    #[error("network {0} not found")]
    NoNetwork(String),
    /// Looking up a user network failed.
    #[error(transparent)]
    NetworkLookup(#[from] crate::NetworkError),
    /// No volume has this name.
    #[error("no such volume: {0}")]
    NoVolume(String),
    /// The volume is used by a container.
    #[error("remove {name}: volume is in use - [{ids}]")]
    VolumeInUse {
        /// The volume.
        name: String,
        /// The containers using it.
        ids: String,
    },
    /// What a container started by a non-root user cannot have, or what
    /// such a user lacks (a subordinate id range, `newuidmap`).
    #[error("rootless: {0}")]
    Rootless(String),
    /// A feature of `rdock run` that this build cannot provide yet.
    #[error("{0} is not supported yet")]
    Unsupported(&'static str),
}

impl ContainerError {
    /// The exit code `docker run` gives for this failure: 127 when the
    /// command is not found, 126 when it cannot be executed, otherwise 125.
    pub fn exit_code(&self) -> u8 {
        use rdock_runner::Error as R;
        match self {
            ContainerError::Runner(R::ExecNotFound { .. }) => 127,
            ContainerError::Runner(R::Exec { errno, .. }) => match *errno as i32 {
                2 => 127, // ENOENT: a path given with '/' that does not exist
                _ => 126,
            },
            ContainerError::StartFailed { code, .. } => *code,
            _ => 125,
        }
    }
}
