//! [`ImageRef`]: an image reference normalized the way the docker CLI does
//! it (distribution/reference's `ParseNormalizedNamed` followed by
//! `TagNameOnly`), and [`Error`], this crate's error type.
//!
//! `busybox` becomes `docker.io/library/busybox:latest`, `user/app:1`
//! becomes `docker.io/user/app:1`; a first component with a `.` or `:`, or
//! `localhost`, or any upper-case letter, is a registry domain. Digests are
//! kept (`name:tag@sha256:...` keeps both), and a reference with a digest
//! but no tag gets no default tag. [`ImageRef::familiar`] gives the short
//! form docker prints (`busybox:latest`).

use std::fmt;
use std::str::FromStr;
use std::sync::LazyLock;

use regex::Regex;

pub use crate::error::{Error, Result};

/// The default registry domain.
pub const DEFAULT_DOMAIN: &str = "docker.io";
/// The default tag.
pub const DEFAULT_TAG: &str = "latest";
/// Longest name (domain and path) accepted.
pub const NAME_TOTAL_LENGTH_MAX: usize = 255;
const LEGACY_DEFAULT_DOMAIN: &str = "index.docker.io";
const OFFICIAL_REPO_PREFIX: &str = "library/";

const DOMAIN_COMPONENT: &str = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])";
const PATH_COMPONENT: &str = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*";
const TAG: &str = r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}";
const DIGEST: &str = r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}";

fn domain_re() -> String {
    format!(r"(?:\[[a-fA-F0-9:]+\]|{DOMAIN_COMPONENT}(?:\.{DOMAIN_COMPONENT})*)(?::[0-9]+)?")
}

/// `domain/path[:tag][@digest]`, the domain mandatory (we add it first).
static REFERENCE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(&format!(
        r"^({domain})/({PATH_COMPONENT}(?:/{PATH_COMPONENT})*)(?::({TAG}))?(?:@({DIGEST}))?$",
        domain = domain_re()
    ))
    .expect("reference regex")
});

static HEX_ID: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[a-f0-9]{64}$").expect("identifier regex"));

/// A validated, normalized image reference. Fields are private; build one
/// with [`str::parse`].
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ImageRef {
    domain: String,
    path: String,
    tag: Option<String>,
    digest: Option<String>,
}

impl ImageRef {
    /// The registry domain, e.g. `docker.io` or `localhost:5000`.
    pub fn domain(&self) -> &str {
        &self.domain
    }

    /// The repository path, e.g. `library/busybox`.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The tag, if any (`latest` unless a digest was given alone).
    pub fn tag(&self) -> Option<&str> {
        self.tag.as_deref()
    }

    /// The digest, if any, e.g. `sha256:...`.
    pub fn digest(&self) -> Option<&str> {
        self.digest.as_deref()
    }

    /// `domain/path`, without tag or digest.
    pub fn name(&self) -> String {
        format!("{}/{}", self.domain, self.path)
    }

    /// The repository as docker shows it: `busybox`, `user/app`,
    /// `localhost:5000/x`.
    pub fn familiar_name(&self) -> String {
        if self.domain != DEFAULT_DOMAIN {
            return self.name();
        }
        match self.path.strip_prefix(OFFICIAL_REPO_PREFIX) {
            Some(rest) if !rest.contains('/') => rest.to_owned(),
            _ => self.path.clone(),
        }
    }

    /// The whole reference as docker shows it: `busybox:latest`.
    pub fn familiar(&self) -> String {
        let mut out = self.familiar_name();
        self.push_suffix(&mut out);
        out
    }

    /// The same repository with another tag (and no digest).
    pub fn with_tag(&self, tag: &str) -> Result<ImageRef> {
        format!("{}:{tag}", self.name()).parse()
    }

    fn push_suffix(&self, out: &mut String) {
        if let Some(tag) = &self.tag {
            out.push(':');
            out.push_str(tag);
        }
        if let Some(digest) = &self.digest {
            out.push('@');
            out.push_str(digest);
        }
    }
}

/// Splits off the registry domain as docker does: the first component is a
/// domain only if it has a `.` or `:`, is `localhost`, or has upper case.
fn split_docker_domain(input: &str) -> (String, String) {
    let (mut domain, mut rest) = match input.split_once('/') {
        Some((first, rest))
            if first.contains(['.', ':'])
                || first == "localhost"
                || first.to_lowercase() != first =>
        {
            (first.to_owned(), rest.to_owned())
        }
        _ => (DEFAULT_DOMAIN.to_owned(), input.to_owned()),
    };
    if domain == LEGACY_DEFAULT_DOMAIN {
        domain = DEFAULT_DOMAIN.to_owned();
    }
    if domain == DEFAULT_DOMAIN && !rest.contains('/') {
        rest = format!("{OFFICIAL_REPO_PREFIX}{rest}");
    }
    (domain, rest)
}

fn validate_digest(digest: &str) -> Result<()> {
    let (algorithm, hex) = digest.split_once(':').unwrap_or((digest, ""));
    let want = match algorithm {
        "sha256" => 64,
        "sha384" => 96,
        "sha512" => 128,
        _ => 0,
    };
    let lower_hex = hex
        .bytes()
        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    if want == 0 || hex.len() != want || !lower_hex {
        return Err(Error::InvalidDigest {
            digest: digest.to_owned(),
        });
    }
    Ok(())
}

impl FromStr for ImageRef {
    type Err = Error;

    fn from_str(input: &str) -> Result<ImageRef> {
        if input.is_empty() {
            return Err(Error::EmptyReference);
        }
        if HEX_ID.is_match(input) {
            return Err(Error::HexName {
                input: input.to_owned(),
            });
        }
        let (domain, rest) = split_docker_domain(input);
        let repo = rest.split_once(':').map_or(rest.as_str(), |(r, _)| r);
        if repo.to_lowercase() != repo {
            return Err(Error::Uppercase {
                name: repo.to_owned(),
            });
        }
        let full = format!("{domain}/{rest}");
        let Some(caps) = REFERENCE.captures(&full) else {
            return Err(Error::InvalidFormat {
                input: input.to_owned(),
            });
        };
        let domain = caps[1].to_owned();
        let path = caps[2].to_owned();
        if domain.len() + 1 + path.len() > NAME_TOTAL_LENGTH_MAX {
            return Err(Error::NameTooLong {
                max: NAME_TOTAL_LENGTH_MAX,
            });
        }
        let digest = caps.get(4).map(|m| m.as_str().to_owned());
        if let Some(d) = &digest {
            validate_digest(d)?;
        }
        let mut tag = caps.get(3).map(|m| m.as_str().to_owned());
        if tag.is_none() && digest.is_none() {
            tag = Some(DEFAULT_TAG.to_owned());
        }
        Ok(ImageRef {
            domain,
            path,
            tag,
            digest,
        })
    }
}

impl fmt::Display for ImageRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = self.name();
        self.push_suffix(&mut out);
        f.write_str(&out)
    }
}

#[cfg(test)]
#[path = "reference_tests.rs"]
mod tests;

/// A repository on a registry: `domain/path` without tag or digest, e.g.
/// `docker.io/library/busybox` or `localhost:5000/app`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Repository {
    domain: String,
    path: String,
}

impl Repository {
    /// A repository from its domain and path, validated with the reference
    /// grammar (`docker.io` paths keep the `library/` they are given).
    pub fn new(domain: &str, path: &str) -> Result<Repository> {
        let parsed: ImageRef = format!("{domain}/{path}").parse()?;
        if parsed.domain != domain || parsed.path != path || parsed.digest.is_some() {
            return Err(Error::InvalidFormat {
                input: format!("{domain}/{path}"),
            });
        }
        Ok(Repository {
            domain: parsed.domain,
            path: parsed.path,
        })
    }

    /// The registry domain, e.g. `docker.io`.
    pub fn domain(&self) -> &str {
        &self.domain
    }

    /// The path on the registry, e.g. `library/busybox`.
    pub fn path(&self) -> &str {
        &self.path
    }
}

impl ImageRef {
    /// The repository this reference names.
    pub fn repository(&self) -> Repository {
        Repository {
            domain: self.domain.clone(),
            path: self.path.clone(),
        }
    }

    /// The tag or digest to ask the registry for: the digest if there is
    /// one (it pins the content), else the tag.
    pub fn reference(&self) -> &str {
        self.digest
            .as_deref()
            .or(self.tag.as_deref())
            .unwrap_or(DEFAULT_TAG)
    }
}

impl fmt::Display for Repository {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.domain, self.path)
    }
}
