//! Command-line arguments (clap). Arguments are turned into library requests
//! in `commands`; libraries never see these types.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use clap::{Args, Parser, Subcommand, ValueEnum};
use rdock_engine::ImageRef;

mod containers;
pub use containers::*;

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
