//! [`DockerConfig`]: docker's `config.json` (`$DOCKER_CONFIG/config.json`,
//! else `~/.docker/config.json`) as docker reads and writes it: `auths`
//! entries with base64 `user:password` and `identitytoken`, `credsStore`
//! (one helper for all registries) and `credHelpers` (a helper per
//! registry). Other fields are kept as they are when the file is written.

use std::path::{Path, PathBuf};

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use serde_json::{Map, Value};

use super::helper;
use super::{CredentialSource, Credentials};
use crate::error::{Error, Result};

/// The key docker uses for Docker Hub in `auths`.
pub const DOCKER_HUB_KEY: &str = "https://index.docker.io/v1/";

/// The `auths` key docker uses for a registry given as the user typed it
/// (`docker.io`, `https://index.docker.io/v1/`, `localhost:5000`,
/// `https://ghcr.io/`): Docker Hub's legacy URL, else the bare host.
pub fn config_key(server: &str) -> String {
    normalize_registry(server)
}

pub(crate) fn normalize_registry(server: &str) -> String {
    let host = hostname(server);
    match host.as_str() {
        "docker.io" | "index.docker.io" | "registry-1.docker.io" | "registry.hub.docker.com" => {
            DOCKER_HUB_KEY.to_owned()
        }
        _ => host,
    }
}

/// docker's `ConvertToHostname`: no scheme, nothing after the first `/`.
fn hostname(server: &str) -> String {
    let s = server
        .strip_prefix("https://")
        .or_else(|| server.strip_prefix("http://"))
        .unwrap_or(server);
    s.split('/').next().unwrap_or(s).to_owned()
}

/// docker's config file, loaded; edits are written back with
/// [`DockerConfig::store`] and [`DockerConfig::erase`].
#[derive(Debug, Clone)]
pub struct DockerConfig {
    path: PathBuf,
    doc: Map<String, Value>,
    helper_dir: Option<PathBuf>,
}

impl DockerConfig {
    /// `$DOCKER_CONFIG/config.json`, else `$HOME/.docker/config.json`.
    pub fn default_path() -> PathBuf {
        if let Some(dir) = std::env::var_os("DOCKER_CONFIG").filter(|d| !d.is_empty()) {
            return PathBuf::from(dir).join("config.json");
        }
        let home = std::env::var_os("HOME").unwrap_or_else(|| "/root".into());
        PathBuf::from(home).join(".docker").join("config.json")
    }

    /// Loads the file at [`DockerConfig::default_path`].
    pub fn load_default() -> Result<DockerConfig> {
        DockerConfig::load(&DockerConfig::default_path())
    }

    /// Loads `path`; a missing file is an empty configuration.
    pub fn load(path: &Path) -> Result<DockerConfig> {
        let err = |action, cause: String| Error::Config {
            action,
            path: path.to_owned(),
            cause,
        };
        let doc = match std::fs::read(path) {
            Ok(bytes) if bytes.iter().all(u8::is_ascii_whitespace) => Map::new(),
            Ok(bytes) => match serde_json::from_slice::<Value>(&bytes) {
                Ok(Value::Object(map)) => map,
                Ok(_) => return Err(err("parsing", "not a JSON object".into())),
                Err(e) => return Err(err("parsing", e.to_string())),
            },
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Map::new(),
            Err(e) => return Err(err("reading", e.to_string())),
        };
        Ok(DockerConfig {
            path: path.to_owned(),
            doc,
            helper_dir: None,
        })
    }

    /// Looks for `docker-credential-NAME` helpers in `dir` instead of on
    /// `PATH` (sandboxes, tests).
    pub fn with_helper_dir(mut self, dir: &Path) -> DockerConfig {
        self.helper_dir = Some(dir.to_owned());
        self
    }

    fn helper(&self, name: String) -> helper::Helper {
        helper::Helper::new(name, self.helper_dir.as_deref())
    }

    /// The file this configuration is read from and written to.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The helper that holds `server`'s credentials, if any
    /// (`credHelpers` first, then `credsStore`).
    pub fn helper_for(&self, server: &str) -> Option<String> {
        let key = normalize_registry(server);
        let host = hostname(server);
        let helpers = self.doc.get("credHelpers").and_then(Value::as_object);
        let per_registry = helpers.and_then(|h| {
            h.get(&key).or_else(|| h.get(&host)).or_else(|| {
                h.iter()
                    .find(|(k, _)| normalize_registry(k) == key)
                    .map(|e| e.1)
            })
        });
        per_registry
            .or_else(|| self.doc.get("credsStore"))
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    }

    /// The credentials stored for `server`, from its helper or `auths`.
    pub fn get(&self, server: &str) -> Result<Option<Credentials>> {
        let key = normalize_registry(server);
        if let Some(name) = self.helper_for(server) {
            return self.helper(name).get(&key);
        }
        let Some(auths) = self.doc.get("auths").and_then(Value::as_object) else {
            return Ok(None);
        };
        let entry = auths.get(&key).or_else(|| {
            auths
                .iter()
                .find(|(k, _)| normalize_registry(k) == key)
                .map(|e| e.1)
        });
        let Some(entry) = entry.and_then(Value::as_object) else {
            return Ok(None);
        };
        self.decode_entry(&key, entry)
    }

    fn decode_entry(&self, key: &str, entry: &Map<String, Value>) -> Result<Option<Credentials>> {
        let field = |name: &str| entry.get(name).and_then(Value::as_str).unwrap_or("");
        let (mut username, mut password) =
            (field("username").to_owned(), field("password").to_owned());
        if !field("auth").is_empty() {
            let bad = |cause: String| Error::Config {
                action: "parsing",
                path: self.path.clone(),
                cause: format!("auths[{key:?}].auth: {cause}"),
            };
            let raw = STANDARD
                .decode(field("auth"))
                .map_err(|e| bad(e.to_string()))?;
            let text = String::from_utf8(raw).map_err(|_| bad("not UTF-8".into()))?;
            let (u, p) = text
                .split_once(':')
                .ok_or_else(|| bad("expected base64 of user:password".into()))?;
            (username, password) = (u.to_owned(), p.to_owned());
        }
        let identity_token = Some(field("identitytoken").to_owned()).filter(|t| !t.is_empty());
        if username.is_empty() && password.is_empty() && identity_token.is_none() {
            return Ok(None);
        }
        Ok(Some(Credentials {
            username,
            password,
            identity_token,
        }))
    }

    /// Saves `credentials` for `server` as `docker login` does (in its
    /// helper if one is configured, else in `auths`) and writes the file.
    pub fn store(&mut self, server: &str, credentials: &Credentials) -> Result<()> {
        let key = normalize_registry(server);
        if let Some(name) = self.helper_for(server) {
            self.helper(name).store(&key, credentials)?;
            // docker records the server with an empty entry so that
            // `docker logout` and listings know about it.
            self.auths_mut().insert(key, Value::Object(Map::new()));
            return self.write();
        }
        let mut entry = Map::new();
        let password = match &credentials.identity_token {
            Some(_) => "",
            None => credentials.password.as_str(),
        };
        entry.insert(
            "auth".into(),
            Value::String(STANDARD.encode(format!("{}:{password}", credentials.username))),
        );
        if let Some(token) = &credentials.identity_token {
            entry.insert("identitytoken".into(), Value::String(token.clone()));
        }
        self.auths_mut().insert(key, Value::Object(entry));
        self.write()
    }

    /// Forgets `server`'s credentials as `docker logout` does; false if
    /// there were none.
    pub fn erase(&mut self, server: &str) -> Result<bool> {
        let key = normalize_registry(server);
        let helper_name = self.helper_for(server);
        let keys: Vec<String> = self
            .doc
            .get("auths")
            .and_then(Value::as_object)
            .map(|a| {
                a.keys()
                    .filter(|k| normalize_registry(k) == key)
                    .cloned()
                    .collect()
            })
            .unwrap_or_default();
        let mut found = !keys.is_empty();
        if let Some(name) = helper_name {
            found |= self.helper(name).erase(&key)?;
        }
        if !keys.is_empty() {
            let auths = self.auths_mut();
            for k in keys {
                auths.remove(&k);
            }
            self.write()?;
        }
        Ok(found)
    }

    fn auths_mut(&mut self) -> &mut Map<String, Value> {
        let auths = self
            .doc
            .entry("auths")
            .or_insert_with(|| Value::Object(Map::new()));
        if !auths.is_object() {
            *auths = Value::Object(Map::new());
        }
        auths.as_object_mut().expect("auths is an object")
    }

    /// Writes the file: temp file (mode 0600, credentials inside) then
    /// rename, so a crash never leaves half a config.
    fn write(&self) -> Result<()> {
        use std::io::Write as _;
        use std::os::unix::fs::OpenOptionsExt as _;
        let err = |cause: std::io::Error| Error::Config {
            action: "writing",
            path: self.path.clone(),
            cause: cause.to_string(),
        };
        let dir = self.path.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir).map_err(err)?;
        let tmp = dir.join(format!(".config.json.tmp-{}", std::process::id()));
        let mut text = serde_json::to_string_pretty(&Value::Object(self.doc.clone()))
            .expect("a JSON map serializes");
        text.push('\n');
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)
            .map_err(err)?;
        file.write_all(text.as_bytes()).map_err(err)?;
        file.sync_all().map_err(err)?;
        std::fs::rename(&tmp, &self.path).map_err(err)
    }
}

impl CredentialSource for DockerConfig {
    fn get(&self, registry: &str) -> Result<Option<Credentials>> {
        DockerConfig::get(self, registry)
    }
}

#[cfg(test)]
#[path = "config_tests.rs"]
mod tests;
