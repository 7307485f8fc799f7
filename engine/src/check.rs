//! `rbuild --check`: the Dockerfile's build checks, without building.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use rdock_parser::checks::{self, CheckOptions, CheckReport};
use rdock_parser::dockerignore::{read_patterns, PatternMatcher};

use crate::error::{Error, Result};

/// A build as the user asked for it, validated.
#[derive(Debug, Clone)]
pub struct BuildRequest {
    /// The context directory.
    pub context: PathBuf,
    /// The Dockerfile (default: `context/Dockerfile`).
    pub dockerfile: Option<PathBuf>,
    /// The Dockerfile's text, when it came on standard input (`-f -`, or
    /// a `-` context): then `dockerfile` is not read and errors name it
    /// `Dockerfile`, as BuildKit does.
    pub dockerfile_text: Option<Vec<u8>>,
    pub target: Option<String>,
    /// `--build-arg` values; a bare `NAME` takes the value from `env`.
    pub build_args: Vec<String>,
    /// `--no-cache`: run every step, ignoring cached results.
    pub no_cache: bool,
    /// `--secret`: what `RUN --mount=type=secret` reads.
    pub secrets: Vec<crate::SecretSpec>,
    /// `--ssh`: the agent sockets `RUN --mount=type=ssh` forwards.
    pub ssh: Vec<crate::SshSpec>,
    /// `--platform`: the target platform (the host's by default).
    pub platform: Option<rdock_parser::platform::Platform>,
    /// `--build-context NAME=...`, by name.
    pub contexts: BTreeMap<String, crate::NamedContext>,
}

impl BuildRequest {
    /// `-f`, or the context's `Dockerfile`, or (when that is missing) its
    /// `dockerfile`, as docker and BuildKit look for it.
    pub fn dockerfile_path(&self) -> PathBuf {
        if let Some(f) = &self.dockerfile {
            return f.clone();
        }
        let default = self.context.join("Dockerfile");
        let lower = self.context.join("dockerfile");
        if !default.exists() && lower.exists() {
            return lower;
        }
        default
    }

    /// The Dockerfile: the name errors show, its text, and the path its
    /// `<Dockerfile>.dockerignore` would be found beside.
    pub(crate) fn read_dockerfile(&self) -> Result<(String, Vec<u8>, PathBuf)> {
        if let Some(text) = &self.dockerfile_text {
            return Ok((
                "Dockerfile".to_string(),
                text.clone(),
                self.context.join("Dockerfile"),
            ));
        }
        let path = self.dockerfile_path();
        let source = std::fs::read(&path).map_err(|source| Error::Read {
            path: path.clone(),
            source,
        })?;
        Ok((path.display().to_string(), source, path))
    }

    /// `NAME=VALUE` pairs; `NAME` alone is taken from `env` or left out.
    pub fn build_arg_map(
        &self,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<BTreeMap<String, String>> {
        let mut out = BTreeMap::new();
        for a in &self.build_args {
            match a.split_once('=') {
                Some(("", _)) => return Err(Error::BuildArg(a.clone())),
                Some((k, v)) => {
                    out.insert(k.to_string(), v.to_string());
                }
                None if a.is_empty() => return Err(Error::BuildArg(a.clone())),
                None => {
                    if let Some(v) = env(a) {
                        out.insert(a.clone(), v);
                    }
                }
            }
        }
        Ok(out)
    }
}

/// The Dockerfile that was checked and what the checks found (with the
/// error that would stop the build, if any, in `report.error`).
#[derive(Debug)]
pub struct CheckOutcome {
    pub dockerfile: PathBuf,
    pub source: Vec<u8>,
    pub report: CheckReport,
}

/// Runs the build checks of `req`.
pub fn check(req: &BuildRequest) -> Result<CheckOutcome> {
    let (shown, source, path) = req.read_dockerfile()?;
    let matcher = read_ignore(&req.context, &path)?;
    let opts = CheckOptions {
        build_args: req.build_arg_map(|k| std::env::var(k).ok())?,
        target: req.target.clone(),
        dockerignore: matcher.as_ref(),
        ..CheckOptions::default()
    };
    let df = rdock_parser::parse(&source).map_err(|e| Error::Dockerfile {
        rendered: e.render(&shown, &source),
        error: Box::new(e),
    })?;
    // Findings made before a build error are kept, as BuildKit's lint does.
    let report = checks::lint(&df, &opts);
    Ok(CheckOutcome {
        dockerfile: PathBuf::from(shown),
        source,
        report,
    })
}

/// The context's ignore rules: `<Dockerfile>.dockerignore` beside the
/// Dockerfile first, then `.dockerignore` at the context root.
pub(crate) fn read_ignore(context: &Path, dockerfile: &Path) -> Result<Option<PatternMatcher>> {
    let mut candidates = Vec::new();
    if let Some(name) = dockerfile.file_name() {
        let mut n = name.to_os_string();
        n.push(".dockerignore");
        candidates.push(dockerfile.with_file_name(n));
    }
    candidates.push(context.join(".dockerignore"));
    for p in candidates {
        match std::fs::read_to_string(&p) {
            Ok(text) => {
                let m = PatternMatcher::new(&read_patterns(&text)).map_err(|source| {
                    Error::Dockerignore {
                        path: p.clone(),
                        source,
                    }
                })?;
                return Ok(Some(m));
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(source) => return Err(Error::Read { path: p, source }),
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn build_args() {
        let req = BuildRequest {
            context: ".".into(),
            dockerfile: None,
            dockerfile_text: None,
            target: None,
            build_args: vec!["A=1".into(), "B".into(), "C".into(), "D=".into()],
            no_cache: false,
            secrets: Vec::new(),
            ssh: Vec::new(),
            platform: None,
            contexts: BTreeMap::new(),
        };
        let m = req
            .build_arg_map(|k| (k == "B").then(|| "env".to_string()))
            .unwrap();
        assert_eq!(m.get("A").map(String::as_str), Some("1"));
        assert_eq!(m.get("B").map(String::as_str), Some("env"));
        assert!(!m.contains_key("C"));
        assert_eq!(m.get("D").map(String::as_str), Some(""));
        let bad = BuildRequest {
            build_args: vec!["=x".into()],
            ..req
        };
        assert!(bad.build_arg_map(|_| None).is_err());
    }

    #[test]
    fn a_lowercase_dockerfile_is_found() {
        let dir = tempfile::tempdir().unwrap();
        let req = BuildRequest {
            context: dir.path().to_path_buf(),
            dockerfile: None,
            dockerfile_text: None,
            target: None,
            build_args: Vec::new(),
            no_cache: false,
            secrets: Vec::new(),
            ssh: Vec::new(),
            platform: None,
            contexts: BTreeMap::new(),
        };
        assert_eq!(req.dockerfile_path(), dir.path().join("Dockerfile"));
        std::fs::write(dir.path().join("dockerfile"), "FROM scratch\n").unwrap();
        assert_eq!(req.dockerfile_path(), dir.path().join("dockerfile"));
        std::fs::write(dir.path().join("Dockerfile"), "FROM scratch\n").unwrap();
        assert_eq!(req.dockerfile_path(), dir.path().join("Dockerfile"));
    }
}
