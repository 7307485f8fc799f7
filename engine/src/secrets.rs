//! `--secret` and `--ssh` as buildx reads them: [`SecretSpec`]
//! (`id=ID,src=PATH`, `id=ID,env=VAR`, `type=file|env`) and [`SshSpec`]
//! (`default`, `ID=SOCKET`), parsed with `FromStr`, then read into the
//! builder's [`MountSources`] by [`mount_sources`] when the build starts.

use std::path::PathBuf;
use std::str::FromStr;

use rdock_builder::MountSources;

use crate::error::{Error, Result};

/// Where a secret's bytes come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretSource {
    /// A file.
    File(PathBuf),
    /// An environment variable.
    Env(String),
    /// Neither given: the variable `id` when set, else the file `id`.
    Default,
}

/// One `--secret` flag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretSpec {
    id: String,
    source: SecretSource,
}

impl SecretSpec {
    pub fn id(&self) -> &str {
        &self.id
    }

    pub fn source(&self) -> &SecretSource {
        &self.source
    }
}

fn invalid(flag: &'static str, value: &str, reason: &str) -> Error {
    Error::MountFlag {
        flag,
        value: value.to_string(),
        reason: reason.to_string(),
    }
}

impl FromStr for SecretSpec {
    type Err = Error;

    fn from_str(s: &str) -> Result<SecretSpec> {
        let bad = |reason: &str| invalid("--secret", s, reason);
        let (mut kind, mut id, mut src, mut env) = (None, None, None, None);
        for field in s.split(',') {
            let (key, value) = field
                .split_once('=')
                .ok_or_else(|| bad(&format!("field {field:?} must be a key=value pair")))?;
            match key.trim().to_lowercase().as_str() {
                "type" => match value {
                    "file" | "env" => kind = Some(value.to_string()),
                    _ => return Err(bad(&format!("unsupported secret type {value:?}"))),
                },
                "id" => id = Some(value.to_string()),
                "source" | "src" => src = Some(value.to_string()),
                "env" => env = Some(value.to_string()),
                other => return Err(bad(&format!("unexpected key {other:?}"))),
            }
        }
        let id = id
            .or_else(|| env.clone())
            .filter(|i| !i.is_empty())
            .ok_or_else(|| bad("id is required"))?;
        let source = match (kind.as_deref(), src, env) {
            (_, Some(_), Some(_)) => return Err(bad("src and env can't both be set")),
            (Some("env"), Some(var), None) | (_, None, Some(var)) => SecretSource::Env(var),
            (Some("env"), None, None) => SecretSource::Env(id.clone()),
            (_, Some(path), None) => SecretSource::File(path.into()),
            (_, None, None) => SecretSource::Default,
        };
        Ok(SecretSpec { id, source })
    }
}

/// One `--ssh` flag: an agent socket by id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SshSpec {
    id: String,
    /// The socket; `None` is `$SSH_AUTH_SOCK`.
    socket: Option<PathBuf>,
}

impl SshSpec {
    pub fn id(&self) -> &str {
        &self.id
    }
}

impl FromStr for SshSpec {
    type Err = Error;

    fn from_str(s: &str) -> Result<SshSpec> {
        let (id, paths) = match s.split_once('=') {
            Some((id, paths)) => (id, Some(paths)),
            None => (s, None),
        };
        if id.is_empty() {
            return Err(invalid("--ssh", s, "id is required"));
        }
        let socket = match paths {
            None | Some("") => None,
            Some(p) if p.contains(',') => {
                return Err(invalid("--ssh", s, "only one agent socket is supported"))
            }
            Some(p) => Some(PathBuf::from(p)),
        };
        Ok(SshSpec {
            id: id.to_string(),
            socket,
        })
    }
}

/// Reads the secrets and finds the agent sockets; `env` looks up
/// environment variables.
pub fn mount_sources(
    secrets: &[SecretSpec],
    ssh: &[SshSpec],
    env: impl Fn(&str) -> Option<String>,
) -> Result<MountSources> {
    let mut out = MountSources::default();
    for spec in secrets {
        let file =
            |path: PathBuf| std::fs::read(&path).map_err(|source| Error::Read { path, source });
        let from_env = |var: &str| {
            env(var).ok_or_else(|| Error::SecretEnv {
                id: spec.id.clone(),
                var: var.to_string(),
            })
        };
        let value = match &spec.source {
            SecretSource::File(path) => file(path.clone())?,
            SecretSource::Env(var) => from_env(var)?.into_bytes(),
            SecretSource::Default => match env(&spec.id) {
                Some(v) => v.into_bytes(),
                None => file(PathBuf::from(&spec.id))?,
            },
        };
        out.add_secret(spec.id.clone(), value);
    }
    for spec in ssh {
        let socket = match &spec.socket {
            Some(p) => p.clone(),
            None => env("SSH_AUTH_SOCK")
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
                .ok_or_else(|| {
                    invalid(
                        "--ssh",
                        &spec.id,
                        "invalid empty ssh agent socket: make sure SSH_AUTH_SOCK is set",
                    )
                })?,
        };
        out.add_ssh(spec.id.clone(), socket);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret(s: &str) -> SecretSpec {
        s.parse().unwrap()
    }

    #[test]
    fn secret_flags_as_buildx_reads_them() {
        let file = |id: &str, p: &str| SecretSpec {
            id: id.into(),
            source: SecretSource::File(p.into()),
        };
        let env = |id: &str, v: &str| SecretSpec {
            id: id.into(),
            source: SecretSource::Env(v.into()),
        };
        assert_eq!(secret("id=a,src=/x"), file("a", "/x"));
        assert_eq!(secret("id=a,source=/x,type=file"), file("a", "/x"));
        assert_eq!(secret("id=a,env=TOKEN"), env("a", "TOKEN"));
        assert_eq!(secret("type=env,id=a,src=TOKEN"), env("a", "TOKEN"));
        assert_eq!(secret("type=env,id=TOKEN"), env("TOKEN", "TOKEN"));
        assert_eq!(secret("env=TOKEN"), env("TOKEN", "TOKEN"));
        assert_eq!(secret("id=a").source, SecretSource::Default);
        for bad in [
            "src=/x",
            "id=a,src=/x,env=Y",
            "id=a,type=ssh",
            "id=a,x=1",
            "id",
        ] {
            let err = bad.parse::<SecretSpec>().unwrap_err().to_string();
            assert!(err.starts_with("invalid --secret"), "{bad}: {err}");
        }
    }

    #[test]
    fn ssh_flags_and_sources() {
        let spec: SshSpec = "default".parse().unwrap();
        assert_eq!((spec.id(), spec.socket.as_deref()), ("default", None));
        let spec: SshSpec = "agent=/run/a.sock".parse().unwrap();
        assert_eq!(
            spec.socket.as_deref(),
            Some(std::path::Path::new("/run/a.sock"))
        );
        assert!("=x".parse::<SshSpec>().is_err());
        assert!("a=/x,/y".parse::<SshSpec>().is_err());

        let env = |k: &str| match k {
            "SSH_AUTH_SOCK" => Some("/tmp/agent".to_string()),
            "TOKEN" => Some("t0k".to_string()),
            _ => None,
        };
        let secrets = [secret("id=a,env=TOKEN")];
        let ssh = ["default".parse().unwrap()];
        let m = mount_sources(&secrets, &ssh, env).unwrap();
        let shown = format!("{m:?}");
        assert!(shown.contains("/tmp/agent") && !shown.contains("t0k"));
        let err = mount_sources(&[secret("id=a,env=NOPE")], &[], env).unwrap_err();
        assert_eq!(
            err.to_string(),
            "secret a: environment variable NOPE is not set"
        );
        let err = mount_sources(&[], &ssh, |_| None).unwrap_err();
        assert!(err.to_string().contains("SSH_AUTH_SOCK is set"), "{err}");
    }
}
