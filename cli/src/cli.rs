//! Command-line arguments (clap). Arguments are turned into library requests
//! in `commands`; libraries never see these types.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use clap::{Args, Parser, Subcommand, ValueEnum};
use rdock_engine::ImageRef;

#[derive(Debug, Parser)]
#[command(
    name = "rdock",
    version,
    about = "Build and run OCI container images, daemonless"
)]
pub struct Cli {
    /// Store root (default: $RDOCK_ROOT, else /var/lib/rdock for root, else
    /// $XDG_DATA_HOME/rdock or ~/.local/share/rdock)
    #[arg(long, global = true, value_name = "DIR")]
    pub root: Option<PathBuf>,
    /// Reach this registry over plain HTTP: HOST[:PORT] exactly as it is
    /// in image names, or a CIDR its address is in; loopback always is
    /// (repeatable; also $RDOCK_INSECURE_REGISTRIES, comma-separated)
    #[arg(
        long = "insecure-registry",
        global = true,
        value_name = "HOST[:PORT]|CIDR"
    )]
    pub insecure_registries: Vec<String>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Build an image from a Dockerfile (also run as `rbuild`)
    Build(BuildArgs),
    /// Run a command in a new container (also run as `rrun`)
    Run(Box<RunArgs>),
    /// List containers
    Ps(PsArgs),
    /// Show a container's output
    Logs(LogsArgs),
    /// Stop running containers (stop signal, then SIGKILL)
    Stop(StopArgs),
    /// Send a signal to running containers
    Kill(KillArgs),
    /// Remove containers
    Rm(RmArgs),
    /// Run a command in a running container
    Exec(ExecArgs),
    /// Start stopped containers (in the background)
    Start(ContainersArgs),
    /// Wait for containers to stop and print their exit codes
    Wait(ContainersArgs),
    /// Manage volumes
    #[command(subcommand)]
    Volume(VolumeCommand),
    /// Manage networks
    #[command(subcommand)]
    Network(NetworkCommand),
    /// Manage containers
    #[command(subcommand)]
    Container(ContainerCommand),
    /// The process that supervises a detached container (internal)
    #[command(name = "container-monitor", hide = true)]
    ContainerMonitor {
        /// The container's ID
        id: String,
    },
    /// Load images from a docker-archive or OCI-layout tar
    Load(LoadArgs),
    /// Create a one-layer image from a root filesystem tar
    Import(ImportArgs),
    /// List images
    Images(ImagesArgs),
    /// Give an image another name
    Tag(TagArgs),
    /// Remove image names (the content goes at the next prune)
    Rmi(RmiArgs),
    /// Show an image's configuration as JSON
    Inspect(InspectArgs),
    /// Write images to an OCI-layout tar
    Save(SaveArgs),
    /// Remove all content no image name references
    Prune,
    /// Download an image from a registry
    Pull(PullArgs),
    /// Upload an image to a registry
    Push(PushArgs),
    /// Log in to a registry
    Login(LoginArgs),
    /// Log out from a registry
    Logout(LogoutArgs),
    /// Store maintenance
    #[command(subcommand)]
    Store(StoreCommand),
    /// Developer tools
    #[command(subcommand)]
    Debug(DebugCommand),
}

#[derive(Debug, Args)]
pub struct LoadArgs {
    /// Read from this tar file instead of standard input
    #[arg(short = 'i', long = "input")]
    pub input: Option<PathBuf>,
    /// Print nothing on success
    #[arg(short = 'q', long)]
    pub quiet: bool,
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// The root filesystem tar ("-" for standard input)
    pub file: PathBuf,
    /// Name for the image, e.g. busybox:latest
    pub name: ImageRef,
    /// Set an environment variable in the image config (NAME=VALUE)
    #[arg(long = "env", value_name = "NAME=VALUE")]
    pub env: Vec<String>,
    /// Set the image's default command (a shell-free argument list, repeatable)
    #[arg(long = "cmd", value_name = "ARG")]
    pub cmd: Vec<String>,
}

#[derive(Debug, Args)]
pub struct ImagesArgs {
    /// Print image IDs only
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// Show full image IDs
    #[arg(long)]
    pub no_trunc: bool,
    /// Show the registry digest each image was pulled as or pushed to
    #[arg(long)]
    pub digests: bool,
}

#[derive(Debug, Args)]
pub struct TagArgs {
    /// Image name or ID
    pub source: String,
    /// New name
    pub target: ImageRef,
}

#[derive(Debug, Args)]
pub struct RmiArgs {
    /// Remove every name of an image given by ID
    #[arg(short = 'f', long)]
    pub force: bool,
    /// Image names or IDs
    #[arg(required = true)]
    pub images: Vec<String>,
}

#[derive(Debug, Args)]
pub struct InspectArgs {
    /// Image names or IDs
    #[arg(required = true)]
    pub images: Vec<String>,
}

#[derive(Debug, Args)]
pub struct SaveArgs {
    /// Write to this file instead of standard output
    #[arg(short = 'o', long = "output")]
    pub output: Option<PathBuf>,
    /// Image names or IDs
    #[arg(required = true)]
    pub images: Vec<String>,
}

#[derive(Debug, Args)]
pub struct PullArgs {
    /// Image name, e.g. busybox, localhost:5000/app:1 or app@sha256:...
    pub name: String,
    /// Platform to pick from a multi-platform image (os/arch[/variant];
    /// default: this host)
    #[arg(long)]
    pub platform: Option<String>,
    /// Print only the image name
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// Store the layers without unpacking them (they are unpacked when
    /// first used)
    #[arg(long)]
    pub no_unpack: bool,
}

#[derive(Debug, Args)]
pub struct PushArgs {
    /// Image name, e.g. localhost:5000/app:1
    pub name: String,
    /// Print only the pushed digest
    #[arg(short = 'q', long)]
    pub quiet: bool,
}

#[derive(Debug, Args)]
pub struct LoginArgs {
    /// Registry (default: Docker Hub)
    pub server: Option<String>,
    /// Username
    #[arg(short = 'u', long)]
    pub username: Option<String>,
    /// Password (visible to other users: prefer --password-stdin)
    #[arg(short = 'p', long)]
    pub password: Option<String>,
    /// Read the password from standard input
    #[arg(long)]
    pub password_stdin: bool,
}

#[derive(Debug, Args)]
pub struct LogoutArgs {
    /// Registry (default: Docker Hub)
    pub server: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum StoreCommand {
    /// Check every blob and reference of the store
    Verify,
}

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

#[derive(Debug, Subcommand)]
pub enum DebugCommand {
    /// Parse a Dockerfile and print its syntax tree
    Parse {
        /// Print the tree as JSON (the conformance-suite format)
        #[arg(long)]
        json: bool,
        /// The Dockerfile ("-" for standard input)
        file: PathBuf,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Progress {
    Auto,
    Plain,
    Tty,
    Quiet,
}

#[derive(Debug, Args)]
pub struct BuildArgs {
    /// Build context directory ("-": a tar archive, or a Dockerfile alone,
    /// on standard input)
    pub context: PathBuf,
    /// Name of the Dockerfile (default: PATH/Dockerfile; "-" for standard input)
    #[arg(short = 'f', long = "file")]
    pub file: Option<PathBuf>,
    /// Name and optionally a tag (name:tag); may be repeated
    #[arg(short = 't', long = "tag")]
    pub tags: Vec<String>,
    /// Set the target build stage
    #[arg(long)]
    pub target: Option<String>,
    /// Set build-time variables (NAME=VALUE, or NAME to take it from the environment)
    #[arg(long = "build-arg")]
    pub build_args: Vec<String>,
    /// Run the build checks only and report their findings
    #[arg(long)]
    pub check: bool,
    /// Do not use cache when building the image
    #[arg(long)]
    pub no_cache: bool,
    /// Secret to expose to RUN --mount=type=secret (id=ID,src=PATH or id=ID,env=VAR)
    #[arg(long = "secret")]
    pub secrets: Vec<rdock_engine::SecretSpec>,
    /// SSH agent socket to expose to RUN --mount=type=ssh (default or ID=SOCKET)
    #[arg(long = "ssh")]
    pub ssh: Vec<rdock_engine::SshSpec>,
    /// Type of progress output
    #[arg(long, value_enum, default_value_t = Progress::Auto)]
    pub progress: Progress,
    /// Suppress the build output and print the image ID on success
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// Write the image ID to this file
    #[arg(long)]
    pub iidfile: Option<PathBuf>,
    /// Output destination: type=oci|docker|tar|local,dest=PATH (dest=- is
    /// standard output), or a directory (type=local)
    #[arg(short = 'o', long = "output", value_name = "SPEC")]
    pub output: Option<String>,
    /// Set a label in the image config (KEY=VALUE, repeatable)
    #[arg(long = "label", value_name = "KEY=VALUE")]
    pub labels: Vec<String>,
    /// Compression of the new layers
    #[arg(long, value_enum, default_value_t = LayerCompression::Gzip)]
    pub compression: LayerCompression,
    /// Write the build result metadata (digests, names) as JSON to this file
    #[arg(long)]
    pub metadata_file: Option<PathBuf>,
    /// Target platform (os/arch[/variant]); RUN steps need this host's
    #[arg(long)]
    pub platform: Option<String>,
    /// Additional build context: NAME=DIR or NAME=docker-image://REF
    /// (replaces the stage or image NAME; repeatable)
    #[arg(long = "build-context", value_name = "NAME=VALUE")]
    pub build_contexts: Vec<String>,
    /// Push the image to its registry after the build (needs -t)
    #[arg(long)]
    pub push: bool,
    /// Check the registry for newer versions of the base images
    #[arg(long)]
    pub pull: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LayerCompression {
    Gzip,
    Zstd,
    Uncompressed,
}

/// Rewrites `rbuild ARGS` to `rdock build ARGS` and `rrun ARGS` to
/// `rdock run ARGS`, by the name the binary was called with.
pub fn with_alias(mut args: Vec<OsString>) -> Vec<OsString> {
    let name = args
        .first()
        .and_then(|a| Path::new(a).file_name())
        .and_then(|n| n.to_str())
        .unwrap_or("rdock")
        .to_string();
    let sub = match name.as_str() {
        "rbuild" => Some("build"),
        "rrun" => Some("run"),
        _ => None,
    };
    if let Some(sub) = sub {
        args[0] = OsString::from(name);
        args.insert(1, OsString::from(sub));
    }
    args
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aliases_dispatch_by_name() {
        let a = with_alias(vec![
            "/usr/bin/rbuild".into(),
            "-t".into(),
            "x".into(),
            ".".into(),
        ]);
        assert_eq!(a[1], "build");
        let cli = Cli::parse_from(a);
        assert!(matches!(cli.command, Command::Build(ref b) if b.tags == ["x"]));
        let a = with_alias(vec!["rdock".into(), "build".into(), ".".into()]);
        assert_eq!(a.len(), 3);
        let cli = Cli::parse_from(with_alias(vec![
            "rrun".into(),
            "img".into(),
            "ls".into(),
            "-l".into(),
        ]));
        assert!(
            matches!(cli.command, Command::Run(ref r) if r.image == "img" && r.command == ["ls", "-l"])
        );
    }
}
