//! Registry authentication: [`Credentials`], where they come from
//! ([`CredentialSource`]: [`Anonymous`], [`StaticCredentials`], docker's
//! [`DockerConfig`] with its credential helpers), and the pieces of the
//! token flow the client uses: [`Challenge`] (a parsed `WWW-Authenticate`)
//! and the scope strings.

mod challenge;
mod config;
mod helper;

use std::collections::HashMap;
use std::fmt;

pub use challenge::Challenge;
pub use config::{config_key, DockerConfig, DOCKER_HUB_KEY};

use crate::error::Result;

/// A user's credentials for one registry.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// User name (may be empty with an identity token).
    pub username: String,
    /// Password or personal access token.
    pub password: String,
    /// An OAuth2 refresh token from an earlier login (`identitytoken` in
    /// docker's config): used instead of the password at the token service.
    pub identity_token: Option<String>,
}

impl Credentials {
    /// User name and password.
    pub fn basic(username: &str, password: &str) -> Credentials {
        Credentials {
            username: username.to_owned(),
            password: password.to_owned(),
            identity_token: None,
        }
    }
}

impl fmt::Debug for Credentials {
    // Never print secrets, not even in debug output.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .field(
                "identity_token",
                &self.identity_token.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

/// Where the client finds credentials for a registry. `registry` is the
/// domain as in an [`ImageRef`](crate::ImageRef): `docker.io`,
/// `localhost:5000`.
pub trait CredentialSource: Send + Sync + fmt::Debug {
    /// The credentials for `registry`, if any.
    fn get(&self, registry: &str) -> Result<Option<Credentials>>;
}

/// No credentials anywhere: anonymous pulls only.
#[derive(Debug, Clone, Copy, Default)]
pub struct Anonymous;

impl CredentialSource for Anonymous {
    fn get(&self, _registry: &str) -> Result<Option<Credentials>> {
        Ok(None)
    }
}

/// Credentials given in code, by registry domain (tests, `--creds`).
#[derive(Debug, Clone, Default)]
pub struct StaticCredentials {
    by_registry: HashMap<String, Credentials>,
}

impl StaticCredentials {
    /// An empty set.
    pub fn new() -> StaticCredentials {
        StaticCredentials::default()
    }

    /// Adds (or replaces) the credentials for `registry`.
    pub fn with(mut self, registry: &str, credentials: Credentials) -> StaticCredentials {
        self.by_registry
            .insert(config::normalize_registry(registry), credentials);
        self
    }
}

impl CredentialSource for StaticCredentials {
    fn get(&self, registry: &str) -> Result<Option<Credentials>> {
        Ok(self
            .by_registry
            .get(&config::normalize_registry(registry))
            .cloned())
    }
}

/// The token scope to pull from `repository` (a path like
/// `library/busybox`).
pub fn pull_scope(repository: &str) -> String {
    format!("repository:{repository}:pull")
}

/// The token scope to push to (and pull from) `repository`.
pub fn push_scope(repository: &str) -> String {
    format!("repository:{repository}:pull,push")
}
