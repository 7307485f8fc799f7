//! Manifests on a [`Client`]: [`Client::fetch_manifest`] (verified against
//! the digest asked for or the registry's `Docker-Content-Digest`),
//! [`Client::resolve`] (tag or digest to one platform's manifest through
//! an index, with its config and layers), [`Client::manifest_digest`]
//! (HEAD) and [`Client::push_manifest`]. OCI and Docker schema 2
//! manifests and indexes are accepted; schema 1 is refused.

use reqwest::blocking::{Body, Response};
use reqwest::header::{ACCEPT, CONTENT_TYPE};
use reqwest::{Method, StatusCode};
use serde::Deserialize;

use crate::auth::{pull_scope, push_scope};
use crate::client::Client;
use crate::error::{Error, Result};
use crate::reference::{ImageRef, Repository};
use crate::transport::{status_error, Call};
use crate::types::{media_type, Descriptor, Digest, Platform};

/// Manifests larger than this are refused (registries cap them at 4 MiB).
const MAX_MANIFEST: u64 = 8 << 20;

/// A manifest or index as the registry serves it, verified.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Manifest {
    /// Its media type.
    pub media_type: String,
    /// The digest of `bytes`.
    pub digest: Digest,
    /// The exact bytes (their digest is the manifest's identity).
    pub bytes: Vec<u8>,
}

/// A reference resolved for one platform.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Resolved {
    /// The platform's image manifest.
    pub manifest: Manifest,
    /// Its config blob.
    pub config: Descriptor,
    /// Its layers, in order.
    pub layers: Vec<Descriptor>,
    /// The index the manifest was chosen from, if the reference named an
    /// index (its digest is what docker shows as the repo digest).
    pub index: Option<Manifest>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Doc {
    #[serde(default)]
    schema_version: Option<u32>,
    #[serde(default)]
    media_type: Option<String>,
    #[serde(default)]
    manifests: Option<Vec<DescDoc>>,
    #[serde(default)]
    config: Option<DescDoc>,
    #[serde(default)]
    layers: Option<Vec<DescDoc>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct DescDoc {
    #[serde(default)]
    media_type: String,
    digest: String,
    size: u64,
    #[serde(default)]
    platform: Option<PlatformDoc>,
}

#[derive(Deserialize)]
struct PlatformDoc {
    #[serde(default)]
    os: String,
    #[serde(default)]
    architecture: String,
    #[serde(default)]
    variant: Option<String>,
}

fn what(repo: &Repository, reference: &str) -> String {
    let sep = if reference.contains(':') { '@' } else { ':' };
    format!("manifest for {repo}{sep}{reference}")
}

/// The registry's `Docker-Content-Digest` header, if it parses.
fn content_digest(resp: &Response) -> Option<Digest> {
    resp.headers()
        .get("docker-content-digest")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<Digest>().ok())
}

impl Client {
    /// A GET or HEAD of manifest `reference` accepting every manifest kind;
    /// the description used in errors, and the 200 answer.
    fn manifest_request(
        &self,
        method: Method,
        repo: &Repository,
        reference: &str,
    ) -> Result<(String, String, Response)> {
        let what = what(repo, reference);
        let url = format!(
            "{}/v2/{}/manifests/{reference}",
            self.t.base_url(repo.domain()),
            repo.path()
        );
        let mut call = Call::new(method, url.clone(), repo.domain(), &what);
        call.scopes = vec![pull_scope(repo.path())];
        call.headers
            .push((ACCEPT.as_str(), media_type::ACCEPT.into()));
        let resp = self.t.send(&call)?;
        if resp.status() != StatusCode::OK {
            return Err(status_error(&what, resp));
        }
        Ok((what, url, resp))
    }

    /// Fetches the manifest or index `reference` (a tag or a digest) of
    /// `repo`. The bytes are checked against the digest when `reference`
    /// is one, else against the registry's `Docker-Content-Digest`. A
    /// body cut part-way is asked for again, as a dropped connection is.
    pub fn fetch_manifest(&self, repo: &Repository, reference: &str) -> Result<Manifest> {
        let mut attempt = 0u32;
        let (what, header_type, header_digest, bytes) = loop {
            attempt += 1;
            let (what, url, resp) = self.manifest_request(Method::GET, repo, reference)?;
            let header_type = resp
                .headers()
                .get(CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .map(|v| v.split(';').next().unwrap_or(v).trim().to_owned());
            let header_digest = content_digest(&resp);
            match read_limited(resp, &what, &url) {
                Ok(bytes) => break (what, header_type, header_digest, bytes),
                Err(Error::Connect { .. }) if attempt < self.t.opts.retry.attempts => {
                    std::thread::sleep(self.t.opts.retry.backoff(attempt));
                }
                Err(e) => return Err(e),
            }
        };
        let digest = Digest::of(&bytes);
        let expected = match reference.parse::<Digest>() {
            Ok(d) => Some(d),
            Err(_) if reference.contains(':') => {
                return Err(Error::InvalidDigest {
                    digest: reference.to_owned(),
                })
            }
            Err(_) => header_digest,
        };
        if let Some(expected) = expected {
            if expected != digest {
                return Err(Error::DigestMismatch {
                    what,
                    expected: expected.to_string(),
                    actual: digest.to_string(),
                });
            }
        }
        let media_type = detect_media_type(&what, header_type.as_deref(), &bytes)?;
        Ok(Manifest {
            media_type,
            digest,
            bytes,
        })
    }

    /// The digest of `reference` in `repo` from a HEAD request (cheap:
    /// does not count as a pull on Docker Hub), to tell whether a local
    /// copy is current.
    pub fn manifest_digest(&self, repo: &Repository, reference: &str) -> Result<Digest> {
        let (_, _, resp) = self.manifest_request(Method::HEAD, repo, reference)?;
        match content_digest(&resp) {
            Some(d) => Ok(d),
            None => Ok(self.fetch_manifest(repo, reference)?.digest),
        }
    }

    /// Resolves `reference` to the image manifest for `platform`: fetches
    /// it (through an index if it names one) and reads its config and
    /// layer descriptors.
    pub fn resolve(&self, reference: &ImageRef, platform: &Platform) -> Result<Resolved> {
        let repo = reference.repository();
        let top = self.fetch_manifest(&repo, reference.reference())?;
        if media_type::is_manifest(&top.media_type) {
            let (config, layers) =
                parse_image_manifest(&what(&repo, reference.reference()), &top.bytes)?;
            return Ok(Resolved {
                manifest: top,
                config,
                layers,
                index: None,
            });
        }
        let index_what = what(&repo, top.digest.as_str());
        let doc: Doc = parse_doc(&index_what, &top.bytes)?;
        let entries = doc.manifests.unwrap_or_default();
        let mut available = Vec::new();
        let mut chosen = None;
        for e in &entries {
            let Some(p) = &e.platform else { continue };
            if p.os == "unknown" {
                continue; // attestations
            }
            let variant = p.variant.as_deref().filter(|v| !v.is_empty());
            available.push(Platform::new(&p.os, &p.architecture, variant).to_string());
            if chosen.is_none() && platform.matches(&p.os, &p.architecture, variant) {
                chosen = Some(e);
            }
        }
        let Some(entry) = chosen else {
            return Err(Error::NoMatchingPlatform {
                reference: reference.to_string(),
                platform: platform.to_string(),
                available: available.join(", "),
            });
        };
        let manifest = self.fetch_manifest(&repo, &entry.digest)?;
        if !media_type::is_manifest(&manifest.media_type) {
            return Err(Error::Manifest {
                what: what(&repo, &entry.digest),
                reason: format!("expected an image manifest, got {}", manifest.media_type),
            });
        }
        let (config, layers) = parse_image_manifest(&what(&repo, &entry.digest), &manifest.bytes)?;
        Ok(Resolved {
            manifest,
            config,
            layers,
            index: Some(top),
        })
    }

    /// Uploads a manifest or index under `reference` (a tag, or its own
    /// digest) and returns its digest, checked against the registry's.
    /// Its blobs (or child manifests) must be pushed first.
    pub fn push_manifest(
        &self,
        repo: &Repository,
        reference: &str,
        media_type: &str,
        bytes: &[u8],
    ) -> Result<Digest> {
        let what = what(repo, reference);
        let digest = Digest::of(bytes);
        let url = format!(
            "{}/v2/{}/manifests/{reference}",
            self.t.base_url(repo.domain()),
            repo.path()
        );
        let owned = bytes.to_vec();
        let body = move || Ok(Body::from(owned.clone()));
        let mut call = Call::new(Method::PUT, url, repo.domain(), &what);
        call.scopes = vec![push_scope(repo.path())];
        call.headers
            .push((CONTENT_TYPE.as_str(), media_type.to_owned()));
        call.body = Some(&body);
        let resp = self.t.send(&call)?;
        if resp.status() != StatusCode::CREATED && resp.status() != StatusCode::OK {
            return Err(status_error(&what, resp));
        }
        let theirs = resp
            .headers()
            .get("docker-content-digest")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        if let Some(theirs) = theirs {
            if theirs != digest.as_str() {
                return Err(Error::DigestMismatch {
                    what,
                    expected: digest.to_string(),
                    actual: theirs,
                });
            }
        }
        Ok(digest)
    }
}

fn read_limited(resp: reqwest::blocking::Response, what: &str, url: &str) -> Result<Vec<u8>> {
    use std::io::Read as _;
    let mut bytes = Vec::new();
    resp.take(MAX_MANIFEST + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| Error::Connect {
            what: what.to_owned(),
            method: "GET".into(),
            url: url.to_owned(),
            cause: crate::transport::error_chain(&e),
        })?;
    if bytes.len() as u64 > MAX_MANIFEST {
        return Err(Error::Manifest {
            what: what.to_owned(),
            reason: format!("larger than {MAX_MANIFEST} bytes"),
        });
    }
    Ok(bytes)
}

fn parse_doc(what: &str, bytes: &[u8]) -> Result<Doc> {
    serde_json::from_slice(bytes).map_err(|e| Error::Manifest {
        what: what.to_owned(),
        reason: format!("not a valid manifest: {e}"),
    })
}

/// The media type from the header, or from the document when the
/// registry sent a generic one (OCI manifests may omit `mediaType`).
fn detect_media_type(what: &str, header: Option<&str>, bytes: &[u8]) -> Result<String> {
    let schema1 =
        |t: &str| t == media_type::DOCKER_SCHEMA1 || t == media_type::DOCKER_SCHEMA1_SIGNED;
    let refuse = || Error::Manifest {
        what: what.to_owned(),
        reason: "uses the Docker image manifest v2, schema 1 format, which is not supported: \
                 push the image again with a current client"
            .into(),
    };
    if let Some(t) = header {
        if schema1(t) {
            return Err(refuse());
        }
        if media_type::is_index(t) || media_type::is_manifest(t) {
            return Ok(t.to_owned());
        }
    }
    let doc = parse_doc(what, bytes)?;
    if doc.schema_version == Some(1) {
        return Err(refuse());
    }
    let t = match (
        doc.media_type,
        doc.manifests.is_some(),
        doc.config.is_some(),
    ) {
        (Some(t), _, _) => t,
        (None, true, _) => media_type::OCI_INDEX.to_owned(),
        (None, false, true) => media_type::OCI_MANIFEST.to_owned(),
        (None, false, false) => String::new(),
    };
    if schema1(&t) {
        return Err(refuse());
    }
    if !media_type::is_index(&t) && !media_type::is_manifest(&t) {
        return Err(Error::Manifest {
            what: what.to_owned(),
            reason: format!("unsupported manifest media type {:?}", header.unwrap_or(&t)),
        });
    }
    Ok(t)
}

/// The config and layer descriptors of an image manifest.
pub fn parse_image_manifest(what: &str, bytes: &[u8]) -> Result<(Descriptor, Vec<Descriptor>)> {
    let doc = parse_doc(what, bytes)?;
    let bad = |reason: String| Error::Manifest {
        what: what.to_owned(),
        reason,
    };
    let desc = |d: DescDoc| -> Result<Descriptor> {
        Ok(Descriptor {
            media_type: d.media_type,
            digest: d.digest.parse()?,
            size: d.size,
        })
    };
    let config = doc
        .config
        .ok_or_else(|| bad("image manifest without config".into()))?;
    let layers = doc
        .layers
        .unwrap_or_default()
        .into_iter()
        .map(desc)
        .collect::<Result<Vec<_>>>()?;
    Ok((desc(config)?, layers))
}
