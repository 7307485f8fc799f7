//! docker's credential helper protocol: `docker-credential-NAME get|store|erase`
//! found on `PATH`, the server URL or a JSON document on stdin, JSON
//! `{ServerURL, Username, Secret}` on stdout. A user name of `<token>`
//! means the secret is an identity token.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde::{Deserialize, Serialize};

use super::Credentials;
use crate::error::{Error, Result};

const TOKEN_USER: &str = "<token>";
/// What helpers print when they hold nothing for the server.
const NOT_FOUND: &str = "credentials not found in native keychain";

#[derive(Serialize, Deserialize)]
struct Entry {
    #[serde(rename = "ServerURL", default)]
    server_url: String,
    #[serde(rename = "Username", default)]
    username: String,
    #[serde(rename = "Secret", default)]
    secret: String,
}

/// One helper program.
pub(super) struct Helper {
    name: String,
    program: PathBuf,
}

impl Helper {
    /// `docker-credential-NAME`, in `dir` if given, else from `PATH`.
    pub(super) fn new(name: String, dir: Option<&Path>) -> Helper {
        let file = format!("docker-credential-{name}");
        let program = match dir {
            Some(d) => d.join(file),
            None => PathBuf::from(file),
        };
        Helper { name, program }
    }

    pub(super) fn get(&self, server: &str) -> Result<Option<Credentials>> {
        get(self, server)
    }

    pub(super) fn store(&self, server: &str, credentials: &Credentials) -> Result<()> {
        store(self, server, credentials)
    }

    pub(super) fn erase(&self, server: &str) -> Result<bool> {
        erase(self, server)
    }
}

fn run(h: &Helper, action: &'static str, server: &str, input: &[u8]) -> Result<(bool, String)> {
    let name = &h.name;
    let fail = |cause: String| Error::CredentialHelper {
        helper: name.to_owned(),
        action,
        server: server.to_owned(),
        cause,
    };
    let mut child = Command::new(&h.program)
        .arg(action)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| fail(e.to_string()))?;
    // Write then drop stdin so the helper sees EOF.
    child
        .stdin
        .take()
        .expect("piped stdin")
        .write_all(input)
        .map_err(|e| fail(e.to_string()))?;
    let out = child.wait_with_output().map_err(|e| fail(e.to_string()))?;
    let stdout = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    if out.status.success() {
        return Ok((true, stdout));
    }
    if stdout.contains(NOT_FOUND) {
        return Ok((false, stdout));
    }
    let stderr = String::from_utf8_lossy(&out.stderr).trim().to_owned();
    let said = [stdout, stderr]
        .into_iter()
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    Err(fail(format!("{}: {}", out.status, said.replace('\n', " "))))
}

fn get(h: &Helper, server: &str) -> Result<Option<Credentials>> {
    let (found, stdout) = run(h, "get", server, server.as_bytes())?;
    if !found {
        return Ok(None);
    }
    let entry: Entry = serde_json::from_str(&stdout).map_err(|e| Error::CredentialHelper {
        helper: h.name.clone(),
        action: "get",
        server: server.to_owned(),
        cause: format!("unreadable answer: {e}"),
    })?;
    Ok(Some(if entry.username == TOKEN_USER {
        Credentials {
            username: String::new(),
            password: String::new(),
            identity_token: Some(entry.secret),
        }
    } else {
        Credentials::basic(&entry.username, &entry.secret)
    }))
}

fn store(h: &Helper, server: &str, credentials: &Credentials) -> Result<()> {
    let entry = match &credentials.identity_token {
        Some(token) => Entry {
            server_url: server.to_owned(),
            username: TOKEN_USER.to_owned(),
            secret: token.clone(),
        },
        None => Entry {
            server_url: server.to_owned(),
            username: credentials.username.clone(),
            secret: credentials.password.clone(),
        },
    };
    let json = serde_json::to_vec(&entry).expect("entry serializes");
    run(h, "store", server, &json).map(|_| ())
}

fn erase(h: &Helper, server: &str) -> Result<bool> {
    run(h, "erase", server, server.as_bytes()).map(|(found, _)| found)
}
