//! [`login`] and [`logout`]: credentials in docker's `config.json`
//! (`$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`, or its
//! credential helper), checked against the registry before they are
//! written, as `docker login` does; when the registry's token service
//! issues an identity (refresh) token, that is stored instead of the
//! password.

use rdock_registry_client::auth::{config_key, Credentials, DockerConfig, DOCKER_HUB_KEY};

use super::RegistryOptions;
use crate::error::Result;

/// Checks `username` and `password` against `server` (Docker Hub when
/// `None`) and stores them, or the identity token the registry gave for
/// them; returns the key they are stored under.
pub fn login(
    server: Option<&str>,
    username: &str,
    password: &str,
    opts: &RegistryOptions,
) -> Result<String> {
    let server = server.unwrap_or(DOCKER_HUB_KEY);
    let mut credentials = Credentials::basic(username, password);
    if let Some(token) = super::remote::client(opts)?.login(server, &credentials)? {
        // As docker: the user name and the token, never the password.
        credentials.password.clear();
        credentials.identity_token = Some(token);
    }
    let mut config = DockerConfig::load_default()?;
    config.store(server, &credentials)?;
    Ok(config_key(server))
}

/// Removes the credentials for `server` (Docker Hub when `None`); returns
/// the key and whether there were any.
pub fn logout(server: Option<&str>) -> Result<(String, bool)> {
    let server = server.unwrap_or(DOCKER_HUB_KEY);
    let mut config = DockerConfig::load_default()?;
    let erased = config.erase(server)?;
    Ok((config_key(server), erased))
}
