//! What is stored per container: [`ContainerConfig`] (resolved once at
//! create: the command, environment, layers, mounts and limits) and
//! [`State`] (the lifecycle [`Status`], pids, exit code and times).

use serde::{Deserialize, Serialize};

use super::mounts::MountSpec;
use super::options::{NetworkMode, RestartPolicy, SecurityOpts};

/// A container's configuration, fixed at create.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ContainerConfig {
    /// The 64-hex ID.
    pub id: String,
    /// The unique name.
    pub name: String,
    /// Creation time, RFC 3339 with nanoseconds.
    pub created: String,
    /// The image as given on the command line.
    pub image: String,
    /// The image ID (config digest).
    pub image_id: String,
    /// The image's layers as snapshot paths, topmost first.
    pub lower_dirs: Vec<String>,
    /// The image's ENTRYPOINT after `--entrypoint`.
    pub entrypoint: Vec<String>,
    /// The CMD after the run arguments.
    pub cmd: Vec<String>,
    /// `KEY=value`, the image's then the run's.
    pub env: Vec<String>,
    /// Working directory.
    pub workdir: String,
    /// User (empty: root).
    pub user: String,
    /// Host name.
    pub hostname: String,
    /// Allocate a pseudo-terminal.
    pub tty: bool,
    /// Keep stdin open.
    pub interactive: bool,
    /// Network mode.
    pub network: NetworkMode,
    /// `-p` mappings as given.
    pub publish: Vec<String>,
    /// Mounts, volumes resolved to their names.
    pub mounts: Vec<MountSpec>,
    /// Limits.
    pub resources: Resources,
    /// Capabilities added.
    pub cap_add: Vec<String>,
    /// Capabilities dropped.
    pub cap_drop: Vec<String>,
    /// All capabilities and devices.
    pub privileged: bool,
    /// `--security-opt`.
    #[serde(default)]
    pub security: SecurityOpts,
    /// `--userns`.
    pub userns: Option<String>,
    /// Read-only root file system.
    pub read_only: bool,
    /// Run an init as pid 1.
    pub init: bool,
    /// Restart policy.
    pub restart: RestartPolicy,
    /// Remove when it exits.
    pub auto_remove: bool,
    /// The signal `stop` sends first.
    pub stop_signal: i32,
    /// Seconds `stop` waits before SIGKILL.
    pub stop_timeout: u32,
}

impl ContainerConfig {
    /// The command: ENTRYPOINT then CMD.
    pub fn args(&self) -> Vec<String> {
        self.entrypoint.iter().chain(&self.cmd).cloned().collect()
    }
}

/// `--memory`, `--memory-swap`, `--cpus`, `--pids-limit`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Resources {
    /// Memory limit in bytes.
    pub memory: Option<u64>,
    /// Memory plus swap in bytes; -1 unlimited.
    pub memory_swap: Option<i64>,
    /// CPUs (fractional).
    pub cpus: Option<f64>,
    /// Maximum number of processes; -1 or 0 unlimited.
    pub pids_limit: Option<i64>,
}

/// Where a container is in its life.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Created, never started.
    #[default]
    Created,
    /// Its command runs.
    Running,
    /// Waiting to be started again by its restart policy.
    Restarting,
    /// Its command ended.
    Exited,
}

impl Status {
    /// Whether `start` may start it.
    pub fn can_start(self) -> bool {
        matches!(self, Status::Created | Status::Exited)
    }

    /// Whether it runs or will run again without a `start`.
    pub fn is_active(self) -> bool {
        matches!(self, Status::Running | Status::Restarting)
    }

    /// Docker's name.
    pub fn name(self) -> &'static str {
        match self {
            Status::Created => "created",
            Status::Running => "running",
            Status::Restarting => "restarting",
            Status::Exited => "exited",
        }
    }
}

/// A container's run-time state.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct State {
    /// Lifecycle status.
    pub status: Status,
    /// Host pid of the command (0 when not running).
    pub pid: i32,
    /// Host pid of the monitor process (0 when none).
    pub monitor_pid: i32,
    /// Exit code of the last run (128+N when killed by signal N).
    pub exit_code: Option<i32>,
    /// The memory limit killed the command.
    pub oom_killed: bool,
    /// The last run was ended by `stop` or `kill` (no restart).
    pub stopped_by_user: bool,
    /// How many times the restart policy started it again.
    pub restart_count: u32,
    /// Start time of the last run, RFC 3339 with nanoseconds.
    pub started_at: String,
    /// End time of the last run.
    pub finished_at: String,
    /// Why the last start failed.
    pub error: String,
    /// Published ports of the running container, as `ps` shows them.
    #[serde(default)]
    pub ports: Vec<String>,
    /// Its address on its network.
    #[serde(default)]
    pub ip: String,
}
