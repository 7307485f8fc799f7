//! [`Error`], this crate's one error type: every variant renders as one
//! line naming the thing (reference, registry, digest, file) and the cause,
//! registry errors the way docker prints them (`manifest unknown: ...`).

use std::path::PathBuf;

/// Result alias for this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in this crate.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The reference is empty.
    #[error("invalid reference format: repository name must have at least one component")]
    EmptyReference,
    /// The reference does not follow the grammar.
    #[error("invalid reference format: {input:?}")]
    InvalidFormat {
        /// The text that was parsed.
        input: String,
    },
    /// The repository path has upper-case letters.
    #[error("invalid reference format: repository name ({name}) must be lowercase")]
    Uppercase {
        /// The offending repository path.
        name: String,
    },
    /// Domain and path together are longer than 255 characters.
    #[error("invalid reference format: repository name must not be more than {max} characters")]
    NameTooLong {
        /// The limit.
        max: usize,
    },
    /// 64 hex digits alone look like an image ID, never a name.
    #[error("invalid repository name ({input}), cannot specify 64-byte hexadecimal strings")]
    HexName {
        /// The text that was parsed.
        input: String,
    },
    /// The digest part uses an unknown algorithm or has the wrong length.
    #[error("invalid digest format: {digest:?}")]
    InvalidDigest {
        /// The digest part.
        digest: String,
    },
    /// A platform string is not `os/arch[/variant]`.
    #[error("invalid platform {input:?}: expected os/arch[/variant]")]
    InvalidPlatform {
        /// The text that was parsed.
        input: String,
    },
    /// The HTTP client could not be built (TLS roots, options).
    #[error("setting up the HTTP client: {cause}")]
    ClientSetup {
        /// What failed.
        cause: String,
    },
    /// The request never got an answer: DNS, refused connection, TLS,
    /// timeout, a plain-HTTP answer to HTTPS, or a connection dropped too
    /// often.
    #[error("{what}: {method} {url:?}: {cause}")]
    Connect {
        /// What was asked for (`manifest for REF`, `blob D of REPO`).
        what: String,
        /// HTTP method.
        method: String,
        /// The URL requested.
        url: String,
        /// The transport's error chain in one line.
        cause: String,
    },
    /// The registry answered with an error document: `what` names the
    /// object (`manifest for localhost:5000/app:1`), then docker's
    /// rendering of `errors[0]` (`manifest unknown: manifest unknown`).
    #[error("{what}: {code}: {message}")]
    Registry {
        /// The object asked for.
        what: String,
        /// HTTP status.
        status: u16,
        /// The error code as docker prints it (`manifest unknown`,
        /// `unauthorized`, `toomanyrequests`).
        code: String,
        /// The registry's message.
        message: String,
    },
    /// The registry answered with an unexpected status and no error
    /// document.
    #[error("{what}: unexpected status from registry: {status}")]
    Status {
        /// The object asked for.
        what: String,
        /// HTTP status line, e.g. `503 Service Unavailable`.
        status: String,
    },
    /// Content did not hash to the digest it was asked for by.
    #[error("{what}: digest mismatch: expected {expected}, got {actual}")]
    DigestMismatch {
        /// The object fetched.
        what: String,
        /// The digest asked for.
        expected: String,
        /// The digest of the bytes received.
        actual: String,
    },
    /// Content did not have the size its descriptor says.
    #[error("{what}: size mismatch: expected {expected} bytes, got {actual}")]
    SizeMismatch {
        /// The object fetched.
        what: String,
        /// Size from the descriptor.
        expected: u64,
        /// Bytes received.
        actual: u64,
    },
    /// A manifest or index does not parse, or is of a kind we refuse.
    #[error("{what}: {reason}")]
    Manifest {
        /// The object fetched.
        what: String,
        /// Why it is unusable.
        reason: String,
    },
    /// An index has no manifest for the wanted platform.
    #[error("{reference}: no matching manifest for {platform} in the manifest list entries (available: {available})")]
    NoMatchingPlatform {
        /// The reference resolved.
        reference: String,
        /// The wanted platform.
        platform: String,
        /// The platforms the index lists.
        available: String,
    },
    /// The token service refused or failed.
    #[error("getting a token for {registry} from {realm}: {cause}")]
    Token {
        /// The registry host.
        registry: String,
        /// The token service URL.
        realm: String,
        /// What went wrong.
        cause: String,
    },
    /// Reading the local content to push, or writing into a sink, failed.
    #[error("{action} {digest}: {source}")]
    Io {
        /// What we were doing (`reading blob`, `writing blob`).
        action: &'static str,
        /// The blob.
        digest: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// docker's config.json could not be read, parsed or written.
    #[error("{action} {}: {cause}", .path.display())]
    Config {
        /// `reading`, `parsing`, `writing`.
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// What went wrong.
        cause: String,
    },
    /// A `docker-credential-NAME` helper failed.
    #[error("credential helper docker-credential-{helper} {action} for {server}: {cause}")]
    CredentialHelper {
        /// The helper's NAME.
        helper: String,
        /// `get`, `store` or `erase`.
        action: &'static str,
        /// The server the credentials are for.
        server: String,
        /// What went wrong (its output or the spawn error).
        cause: String,
    },
}

impl Error {
    /// True for a registry's 401/403 answer or a refused token: the caller
    /// may want to suggest `rdock login`.
    pub fn is_unauthorized(&self) -> bool {
        match self {
            Error::Registry { status, .. } => *status == 401 || *status == 403,
            Error::Token { .. } => true,
            _ => false,
        }
    }

    /// True when the registry said the object (manifest, blob, repository)
    /// does not exist.
    pub fn is_not_found(&self) -> bool {
        match self {
            Error::Registry { status, .. } => *status == 404,
            Error::Status { status, .. } => status.starts_with("404"),
            _ => false,
        }
    }
}
