//! Arguments of the container commands: `run`, `ps`, `logs`, `stop`,
//! `kill`, `rm`, `exec`, `volume`, `network` and `container`.

use std::path::PathBuf;

use clap::{Args, Subcommand};

#[derive(Debug, Args)]
// -h is --hostname, as in docker run.
#[command(disable_help_flag = true)]
pub struct RunArgs {
    /// The image to run
    pub image: String,
    /// The command and its arguments
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub command: Vec<String>,
    /// Run in the background and print the container ID
    #[arg(short = 'd', long)]
    pub detach: bool,
    /// Keep standard input open
    #[arg(short = 'i', long)]
    pub interactive: bool,
    /// Allocate a pseudo-terminal
    #[arg(short = 't', long)]
    pub tty: bool,
    /// Remove the container when it exits
    #[arg(long)]
    pub rm: bool,
    /// Name the container
    #[arg(long)]
    pub name: Option<String>,
    /// Write the container's ID to this file (which must not exist)
    #[arg(long, value_name = "FILE")]
    pub cidfile: Option<PathBuf>,
    /// Set an environment variable (KEY=VALUE, or KEY to pass this one's)
    #[arg(short = 'e', long = "env", value_name = "KEY[=VALUE]")]
    pub env: Vec<String>,
    /// Read environment variables from a file (KEY=VALUE lines)
    #[arg(long = "env-file", value_name = "FILE")]
    pub env_file: Vec<PathBuf>,
    /// Working directory inside the container
    #[arg(short = 'w', long)]
    pub workdir: Option<String>,
    /// User (name|uid[:group|gid])
    #[arg(short = 'u', long)]
    pub user: Option<String>,
    /// Override the image's ENTRYPOINT ("" resets it)
    #[arg(long, allow_hyphen_values = true)]
    pub entrypoint: Option<String>,
    /// Container host name
    #[arg(short = 'h', long)]
    pub hostname: Option<String>,
    /// Mount the root file system read-only
    #[arg(long)]
    pub read_only: bool,
    /// Run an init as pid 1 that forwards signals and reaps zombies
    #[arg(long)]
    pub init: bool,
    /// Network: bridge (default), none, host or a network's name
    #[arg(long, alias = "net", default_value = "bridge")]
    pub network: String,
    /// Publish a port ([ip:]hostPort:containerPort[/proto])
    #[arg(short = 'p', long = "publish")]
    pub publish: Vec<String>,
    /// Memory limit (e.g. 512m, 1g)
    #[arg(short = 'm', long)]
    pub memory: Option<String>,
    /// Memory plus swap limit; -1 for unlimited swap
    #[arg(long, allow_hyphen_values = true)]
    pub memory_swap: Option<String>,
    /// Number of CPUs (e.g. 1.5)
    #[arg(long)]
    pub cpus: Option<f64>,
    /// Maximum number of processes (-1 for unlimited)
    #[arg(long, allow_hyphen_values = true)]
    pub pids_limit: Option<i64>,
    /// Add a Linux capability
    #[arg(long)]
    pub cap_add: Vec<String>,
    /// Drop a Linux capability
    #[arg(long)]
    pub cap_drop: Vec<String>,
    /// Give every capability and device
    #[arg(long)]
    pub privileged: bool,
    /// Security options: no-new-privileges[=true|false], seccomp=unconfined
    #[arg(long)]
    pub security_opt: Vec<String>,
    /// User namespace mode: host (default) or auto (root inside is an
    /// unprivileged range of /etc/subuid ids of its own)
    #[arg(long)]
    pub userns: Option<String>,
    /// Restart policy: no, on-failure[:N], always, unless-stopped
    #[arg(long, default_value = "no")]
    pub restart: String,
    /// Bind a host path or a volume ([SRC:]DST[:ro])
    #[arg(short = 'v', long = "volume")]
    pub volumes: Vec<String>,
    /// Attach a mount (type=bind|volume|tmpfs,source=..,target=..[,readonly])
    #[arg(long = "mount")]
    pub mounts: Vec<String>,
    /// Mount a tmpfs (DST[:OPTS], e.g. /run:size=64m,mode=1770,exec)
    #[arg(long)]
    pub tmpfs: Vec<String>,
    /// Signal that stops the container (default SIGTERM)
    #[arg(long)]
    pub stop_signal: Option<String>,
    /// Seconds to wait before killing the container at stop
    #[arg(long)]
    pub stop_timeout: Option<u32>,
    /// Forward the signals rrun receives to the container
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    pub sig_proxy: bool,
    /// Print help
    #[arg(long, action = clap::ArgAction::Help)]
    pub help: Option<bool>,
}

#[derive(Debug, Args)]
pub struct PsArgs {
    /// Show all containers (default: running ones)
    #[arg(short = 'a', long)]
    pub all: bool,
    /// Print container IDs only
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// Do not truncate IDs and commands
    #[arg(long)]
    pub no_trunc: bool,
}

#[derive(Debug, Args)]
pub struct LogsArgs {
    /// Follow the output
    #[arg(short = 'f', long)]
    pub follow: bool,
    /// Number of lines to show from the end ("all" or N)
    #[arg(short = 'n', long, default_value = "all")]
    pub tail: String,
    /// Show timestamps
    #[arg(short = 't', long)]
    pub timestamps: bool,
    /// Container name or ID
    pub container: String,
}

#[derive(Debug, Args)]
pub struct StopArgs {
    /// Seconds to wait before killing
    #[arg(short = 't', long = "time", alias = "timeout")]
    pub time: Option<u32>,
    /// Container names or IDs
    #[arg(required = true)]
    pub containers: Vec<String>,
}

#[derive(Debug, Args)]
pub struct KillArgs {
    /// Signal to send
    #[arg(short = 's', long, default_value = "KILL")]
    pub signal: String,
    /// Container names or IDs
    #[arg(required = true)]
    pub containers: Vec<String>,
}

#[derive(Debug, Args)]
pub struct RmArgs {
    /// Kill running containers first
    #[arg(short = 'f', long)]
    pub force: bool,
    /// Also remove anonymous volumes
    #[arg(short = 'v', long)]
    pub volumes: bool,
    /// Container names or IDs
    #[arg(required = true)]
    pub containers: Vec<String>,
}

#[derive(Debug, Args)]
pub struct ContainersArgs {
    /// Container names or IDs
    #[arg(required = true)]
    pub containers: Vec<String>,
}

#[derive(Debug, Args)]
pub struct ExecArgs {
    /// Keep standard input open
    #[arg(short = 'i', long)]
    pub interactive: bool,
    /// Allocate a pseudo-terminal
    #[arg(short = 't', long)]
    pub tty: bool,
    /// Set an environment variable
    #[arg(short = 'e', long = "env")]
    pub env: Vec<String>,
    /// Working directory
    #[arg(short = 'w', long)]
    pub workdir: Option<String>,
    /// User
    #[arg(short = 'u', long)]
    pub user: Option<String>,
    /// Container name or ID
    pub container: String,
    /// The command and its arguments
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, required = true)]
    pub command: Vec<String>,
}

#[derive(Debug, Subcommand)]
pub enum VolumeCommand {
    /// Create a volume
    Create {
        /// Its name (default: a random one)
        name: Option<String>,
    },
    /// List volumes
    Ls {
        /// Print names only
        #[arg(short = 'q', long)]
        quiet: bool,
    },
    /// Remove volumes
    Rm {
        /// Remove even when containers use them
        #[arg(short = 'f', long)]
        force: bool,
        /// Volume names
        #[arg(required = true)]
        names: Vec<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum NetworkCommand {
    /// Create a bridge network
    Create(NetworkCreateArgs),
    /// List networks
    #[command(alias = "list")]
    Ls(NetworkLsArgs),
    /// Remove networks
    #[command(alias = "remove")]
    Rm {
        /// Network names or IDs
        #[arg(required = true)]
        networks: Vec<String>,
    },
    /// Show networks and their containers as JSON
    Inspect {
        /// Network names or IDs
        #[arg(required = true)]
        networks: Vec<String>,
    },
    /// Remove every user network no running container uses
    Prune {
        /// Do not ask for confirmation (rdock never asks)
        #[arg(short = 'f', long)]
        force: bool,
    },
}

#[derive(Debug, Args)]
pub struct NetworkCreateArgs {
    /// The network's name
    pub name: String,
    /// Subnet in CIDR form, e.g. 10.10.0.0/24 (default: a free /24)
    #[arg(long)]
    pub subnet: Option<String>,
    /// Gateway address (default: the subnet's first address)
    #[arg(long)]
    pub gateway: Option<std::net::Ipv4Addr>,
    /// Restrict traffic to the network (no NAT, no outside access)
    #[arg(long)]
    pub internal: bool,
    /// Driver (only bridge)
    #[arg(short = 'd', long, default_value = "bridge")]
    pub driver: String,
}

#[derive(Debug, Args)]
pub struct NetworkLsArgs {
    /// Print IDs only
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// Show full IDs
    #[arg(long)]
    pub no_trunc: bool,
}

#[derive(Debug, Subcommand)]
pub enum ContainerCommand {
    /// Show containers' configuration and state as JSON
    Inspect(ContainersArgs),
}
