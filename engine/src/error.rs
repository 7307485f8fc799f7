//! The engine's error type.

use std::path::PathBuf;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("reading {}", .path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{rendered}")]
    Dockerfile {
        /// The parser's error, rendered with file, line and source.
        rendered: String,
        /// The error itself (not a `source`: `rendered` already says it all).
        error: Box<rdock_parser::Error>,
    },
    #[error("reading ignore rules in {}", .path.display())]
    Dockerignore {
        path: PathBuf,
        source: rdock_parser::dockerignore::PatternError,
    },
    #[error("invalid --build-arg {0:?}: expected NAME=VALUE or NAME")]
    BuildArg(String),
    /// A `--secret` or `--ssh` value is invalid.
    #[error("invalid {flag} {value:?}: {reason}")]
    MountFlag {
        flag: &'static str,
        value: String,
        reason: String,
    },
    /// A `--secret` names an environment variable that is not set.
    #[error("secret {id}: environment variable {var} is not set")]
    SecretEnv { id: String, var: String },
    /// A step of the build failed: the Dockerfile and the instruction's
    /// line, then why.
    #[error("{file}:{line}")]
    Step {
        file: String,
        line: usize,
        #[source]
        error: Box<rdock_builder::Error>,
    },
    /// A base image (of a FROM or a `--from`) could not be found or
    /// pulled: the Dockerfile and the line that needs it, then why.
    #[error("{file}:{line}: {error}")]
    BaseImage {
        file: String,
        line: usize,
        error: Box<Error>,
    },
    /// The build failed.
    #[error(transparent)]
    Build(#[from] rdock_builder::Error),
    /// The content store failed.
    #[error(transparent)]
    Store(#[from] rdock_cache::Error),
    /// An image name is not a valid reference, or talking to a registry
    /// (or reading docker's config.json) failed.
    #[error(transparent)]
    Reference(#[from] rdock_registry_client::Error),
    /// No image has this name or ID.
    #[error("no such image: {name}")]
    ImageNotFound { name: String },
    /// An ID prefix names several images.
    #[error("image ID prefix {prefix} is ambiguous: it matches {count} images")]
    AmbiguousImage { prefix: String, count: usize },
    /// `rmi` by ID of an image that has several names, without `-f`.
    #[error("unable to delete {id} (must be forced): image is referenced by {}", .names.join(", "))]
    ImageInUse { id: String, names: Vec<String> },
    /// `rmi` without `-f` of the last name of an image a container uses.
    #[error("conflict: unable to remove repository reference \"{reference}\" (must force) - container {container} is using its referenced image {id}")]
    ImageUsedByContainer {
        reference: String,
        container: String,
        id: String,
    },
    /// A stored manifest, index or config does not parse.
    #[error("parsing {what} {digest}")]
    ParseBlob {
        what: &'static str,
        digest: String,
        source: serde_json::Error,
    },
    /// A manifest or index has a media type rdock does not handle.
    #[error("{digest} has unsupported media type {media_type}")]
    UnsupportedMediaType { digest: String, media_type: String },
    /// An image index has no manifest for this host.
    #[error("image index {digest} has no manifest for linux/{arch}")]
    NoPlatform { digest: String, arch: String },
    /// Reading the archive (a tar stream) failed.
    #[error("reading the archive")]
    ReadArchive { source: std::io::Error },
    /// The archive given to `load` is compressed.
    #[error(
        "the archive is {0}-compressed: decompress it first (rdock load reads plain or gzip tars)"
    )]
    CompressedArchive(&'static str),
    /// The archive is neither an OCI layout nor a docker-archive.
    #[error("unrecognized archive: it has neither index.json (OCI layout) nor manifest.json (docker-archive)")]
    UnknownArchive,
    /// A JSON file of the archive does not parse.
    #[error("parsing {path} in the archive")]
    ArchiveJson {
        path: String,
        source: serde_json::Error,
    },
    /// The archive refers to a file it does not contain.
    #[error("the archive refers to {path} but does not contain it")]
    ArchiveMissing { path: String },
    /// A metadata file of the archive is too large to be JSON metadata.
    #[error("{path} in the archive is too large ({size} bytes) to be image metadata")]
    ArchiveTooLarge { path: String, size: u64 },
    /// A blob of the archive does not hash to its name or descriptor.
    #[error("blob {path} in the archive is corrupt: expected {expected}, its content hashes to {actual}")]
    BlobMismatch {
        path: String,
        expected: String,
        actual: String,
    },
    /// A blob of the archive has another size than its descriptor says.
    #[error("blob {path} in the archive is corrupt: expected {expected} bytes, it has {actual}")]
    BlobSize {
        path: String,
        expected: u64,
        actual: u64,
    },
    /// A docker-archive layer is not the layer its image config names.
    #[error("layer {path} in the archive is corrupt or compressed: the image config says its diff ID is {expected}, its content hashes to {actual}")]
    DiffIdMismatch {
        path: String,
        expected: String,
        actual: String,
    },
    /// A docker-archive image lists another number of layers than its config.
    #[error("image config {config} lists {diff_ids} layers but the archive's manifest.json lists {layers}")]
    LayerCount {
        config: String,
        diff_ids: usize,
        layers: usize,
    },
    /// An image in the archive has no name to store it under.
    #[error("image {id} in the archive has no name (RepoTags or io.containerd.image.name); unnamed images cannot be stored yet")]
    UnnamedImage { id: String },
    /// Reading or checking the rootfs tar of `import` failed.
    #[error("reading the rootfs tar")]
    ReadRootfs { source: std::io::Error },
    /// The rootfs given to `import` is compressed.
    #[error(
        "the rootfs is {0}-compressed: decompress it first (rdock import reads plain or gzip tars)"
    )]
    CompressedRootfs(&'static str),
    /// Building image metadata with oci-spec failed.
    #[error("building image metadata")]
    Spec(#[from] rdock_cache::oci_spec::OciSpecError),
    /// Writing the archive of `save` failed.
    #[error("writing the archive")]
    WriteArchive { source: std::io::Error },
    /// Creating the file of a build `--output` failed.
    #[error("writing the build output {}", .path.display())]
    WriteOutput {
        path: PathBuf,
        source: std::io::Error,
    },
    /// An output kind that cannot go to standard output was asked to.
    #[error("the {kind} output cannot be written to standard output: give dest=DIR")]
    OutputToStdout { kind: &'static str },
    /// A pulled index has no manifest for the platform asked for.
    #[error("no matching manifest for {platform} in the manifest list entries of {reference}")]
    NoMatchingPlatform { reference: String, platform: String },
    /// A registry served a manifest that does not hash to its digest.
    #[error(
        "manifest of {reference} is corrupt: expected {expected}, its content hashes to {actual}"
    )]
    ManifestDigest {
        reference: String,
        expected: String,
        actual: String,
    },
    /// `push` of a name the store does not have.
    #[error("an image does not exist locally with the tag: {reference}")]
    NoSuchTag { reference: String },
    /// `pull --platform` of a single-platform image of another platform.
    #[error("image with reference {reference} was found but does not match the specified platform: wanted {wanted}, actual: {actual}")]
    PlatformMismatch {
        reference: String,
        wanted: String,
        actual: String,
    },
    /// Moving one blob of an image failed (the cause names only the blob
    /// and repository): names the image.
    #[error("{verb} {reference}")]
    Transfer {
        /// `pulling` or `pushing`.
        verb: &'static str,
        reference: String,
        #[source]
        source: Box<Error>,
    },
    // Containers and volumes.
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
    ContainerNotFound(String),
    /// An ID prefix names several containers.
    #[error("multiple containers found with provided prefix: {0}")]
    AmbiguousContainer(String),
    /// The image is not in the store (pulling is not done here).
    #[error("Unable to find image '{0}' locally: no such image (pull it first, or rdock load/import it)")]
    NoImage(String),
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
    // Networks.
    /// No network has this name or ID.
    #[error("network {0} not found")]
    NetworkNotFound(String),
    /// `create` of a name in use.
    #[error("network with name {0} already exists")]
    NetworkExists(String),
    /// `rm` of `bridge`, `host` or `none`.
    #[error("{0} is a pre-defined network and cannot be removed")]
    PredefinedNetwork(String),
    /// An ID prefix matching several networks.
    #[error("network ID prefix {0} is ambiguous")]
    AmbiguousNetwork(String),
    /// The host or none network given where a bridge network is needed.
    #[error("network {0} is not a bridge network")]
    NotBridge(String),
    /// No free subnet left in rdock's pool.
    #[error("could not find an available, non-overlapping IPv4 address pool among the defaults to assign to the network")]
    NoFreeSubnet,
}

impl Error {
    /// The exit code `docker run` gives for this failure: 127 when the
    /// command is not found, 126 when it cannot be executed, otherwise 125.
    pub fn exit_code(&self) -> u8 {
        use rdock_runner::Error as R;
        match self {
            Error::Runner(R::ExecNotFound { .. }) => 127,
            Error::Runner(R::Exec { errno, .. }) => match *errno as i32 {
                2 => 127, // ENOENT: a path given with '/' that does not exist
                _ => 126,
            },
            Error::StartFailed { code, .. } => *code,
            _ => 125,
        }
    }
}
