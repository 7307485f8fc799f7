//! Command-line arguments (clap). Arguments are turned into library requests
//! in `commands`; libraries never see these types.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(
    name = "rdock",
    version,
    about = "Build and run OCI container images, daemonless"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Build an image from a Dockerfile (also run as `rbuild`)
    Build(BuildArgs),
    /// Run a command in a new container (also run as `rrun`)
    Run(RunArgs),
    /// Developer tools
    #[command(subcommand)]
    Debug(DebugCommand),
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// The image to run
    pub image: String,
    /// The command and its arguments
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub command: Vec<String>,
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
}

#[derive(Debug, Args)]
pub struct BuildArgs {
    /// Build context directory
    pub context: PathBuf,
    /// Name of the Dockerfile (default: PATH/Dockerfile)
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
    /// Type of progress output
    #[arg(long, value_enum, default_value_t = Progress::Auto)]
    pub progress: Progress,
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
