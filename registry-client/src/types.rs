//! The protocol's vocabulary: [`Digest`] (validated `sha256:<hex>`),
//! [`Descriptor`] (media type, digest, size), [`Platform`] and the manifest
//! [`media_type`] constants.

use std::fmt;
use std::str::FromStr;

use sha2::{Digest as _, Sha256};

use crate::error::{Error, Result};

/// Manifest and index media types the client accepts or refuses.
pub mod media_type {
    /// OCI image manifest.
    pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
    /// OCI image index.
    pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
    /// Docker image manifest, schema 2.
    pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
    /// Docker manifest list.
    pub const DOCKER_MANIFEST_LIST: &str =
        "application/vnd.docker.distribution.manifest.list.v2+json";
    /// Docker schema 1 (refused).
    pub const DOCKER_SCHEMA1: &str = "application/vnd.docker.distribution.manifest.v1+json";
    /// Docker schema 1, signed (refused).
    pub const DOCKER_SCHEMA1_SIGNED: &str =
        "application/vnd.docker.distribution.manifest.v1+prettyjws";

    /// True for the two index kinds.
    pub fn is_index(media_type: &str) -> bool {
        media_type == OCI_INDEX || media_type == DOCKER_MANIFEST_LIST
    }

    /// True for the two single-image manifest kinds.
    pub fn is_manifest(media_type: &str) -> bool {
        media_type == OCI_MANIFEST || media_type == DOCKER_MANIFEST
    }

    /// The `Accept` header sent for manifests: every kind we can use.
    pub const ACCEPT: &str = "application/vnd.oci.image.index.v1+json, \
application/vnd.docker.distribution.manifest.list.v2+json, \
application/vnd.oci.image.manifest.v1+json, \
application/vnd.docker.distribution.manifest.v2+json";
}

/// A validated content digest. Only `sha256` is accepted: it is what every
/// registry and image format uses, and what we can verify.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Digest(String);

impl Digest {
    /// The digest of `bytes`.
    pub fn of(bytes: &[u8]) -> Digest {
        Digest::from_sha256(Sha256::digest(bytes).as_slice())
    }

    pub(crate) fn from_sha256(hash: &[u8]) -> Digest {
        let mut out = String::with_capacity(71);
        out.push_str("sha256:");
        for b in hash {
            out.push_str(&format!("{b:02x}"));
        }
        Digest(out)
    }

    /// The whole digest, `sha256:<hex>`.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The hex part.
    pub fn hex(&self) -> &str {
        &self.0["sha256:".len()..]
    }
}

impl FromStr for Digest {
    type Err = Error;

    fn from_str(s: &str) -> Result<Digest> {
        let ok = s.strip_prefix("sha256:").is_some_and(|hex| {
            hex.len() == 64
                && hex
                    .bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        });
        if !ok {
            return Err(Error::InvalidDigest {
                digest: s.to_owned(),
            });
        }
        Ok(Digest(s.to_owned()))
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What a blob is: its digest and size (and media type, for pushes and
/// progress display).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Descriptor {
    /// Media type, e.g. `application/vnd.oci.image.layer.v1.tar+gzip`.
    pub media_type: String,
    /// Content digest.
    pub digest: Digest,
    /// Size in bytes.
    pub size: u64,
}

/// An `os/arch[/variant]` platform, as docker's `--platform` takes it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Platform {
    os: String,
    architecture: String,
    variant: Option<String>,
}

impl Platform {
    /// A platform from its parts, normalized (`aarch64` is `arm64`,
    /// `x86_64` is `amd64`; `arm64` without variant means `v8`).
    pub fn new(os: &str, architecture: &str, variant: Option<&str>) -> Platform {
        let os = os.to_ascii_lowercase();
        let (architecture, variant) = match (architecture, variant) {
            ("x86_64" | "x86-64", v) => ("amd64", v),
            ("aarch64" | "arm64", Some("v8") | None) => ("arm64", None),
            ("aarch64", v) => ("arm64", v),
            ("armhf", _) => ("arm", Some("v7")),
            ("armel", _) => ("arm", Some("v6")),
            ("arm", None) => ("arm", Some("v7")),
            ("i386", v) => ("386", v),
            (a, v) => (a, v),
        };
        Platform {
            os,
            architecture: architecture.to_owned(),
            variant: variant.map(str::to_owned),
        }
    }

    /// The platform of this machine, as Go names it (`linux/amd64`).
    pub fn host() -> Platform {
        let arch = match std::env::consts::ARCH {
            "x86_64" => "amd64",
            "aarch64" => "arm64",
            "x86" => "386",
            "powerpc64" => "ppc64le",
            other => other,
        };
        Platform::new("linux", arch, None)
    }

    /// Operating system, e.g. `linux`.
    pub fn os(&self) -> &str {
        &self.os
    }

    /// Architecture, e.g. `amd64`.
    pub fn architecture(&self) -> &str {
        &self.architecture
    }

    /// Variant, e.g. `v7`.
    pub fn variant(&self) -> Option<&str> {
        self.variant.as_deref()
    }

    /// True if an index entry's platform fields describe this platform.
    pub fn matches(&self, os: &str, architecture: &str, variant: Option<&str>) -> bool {
        let other = Platform::new(os, architecture, variant);
        other.os == self.os
            && other.architecture == self.architecture
            && (self.variant.is_none() || other.variant == self.variant)
    }
}

impl FromStr for Platform {
    type Err = Error;

    fn from_str(s: &str) -> Result<Platform> {
        let parts: Vec<&str> = s.split('/').collect();
        let bad = || Error::InvalidPlatform {
            input: s.to_owned(),
        };
        if parts.iter().any(|p| p.is_empty()) {
            return Err(bad());
        }
        match parts.as_slice() {
            [os, arch] => Ok(Platform::new(os, arch, None)),
            [os, arch, variant] => Ok(Platform::new(os, arch, Some(variant))),
            _ => Err(bad()),
        }
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if let Some(v) = &self.variant {
            write!(f, "/{v}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_are_validated_sha256() {
        let d = Digest::of(b"hello");
        assert_eq!(
            d.as_str(),
            "sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
        );
        assert_eq!(d.as_str().parse::<Digest>().unwrap(), d);
        assert_eq!(d.hex().len(), 64);
        for bad in [
            "sha256:abc",
            "sha512:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824",
            "sha256:2CF24DBA5FB0A30E26E83B2AC5B9E29E1B161E5C1FA7425E73043362938B9824",
            "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824",
        ] {
            let err = bad.parse::<Digest>().unwrap_err().to_string();
            assert_eq!(err, format!("invalid digest format: {bad:?}"));
        }
    }

    #[test]
    fn platforms_parse_normalize_and_match() {
        let p: Platform = "linux/arm64".parse().unwrap();
        assert_eq!(p.to_string(), "linux/arm64");
        assert!(p.matches("linux", "arm64", Some("v8")));
        assert!(p.matches("linux", "aarch64", None));
        assert!(!p.matches("linux", "amd64", None));
        let v7: Platform = "linux/arm/v7".parse().unwrap();
        assert!(v7.matches("linux", "arm", Some("v7")));
        assert!(!v7.matches("linux", "arm", Some("v6")));
        assert_eq!(
            Platform::new("Linux", "x86_64", None).to_string(),
            "linux/amd64"
        );
        for bad in ["linux", "linux/", "/amd64", "a/b/c/d"] {
            let err = bad.parse::<Platform>().unwrap_err().to_string();
            assert_eq!(
                err,
                format!("invalid platform {bad:?}: expected os/arch[/variant]")
            );
        }
        assert_eq!(Platform::host().os(), "linux");
    }

    #[test]
    fn media_type_kinds() {
        assert!(media_type::is_index(media_type::DOCKER_MANIFEST_LIST));
        assert!(media_type::is_index(media_type::OCI_INDEX));
        assert!(media_type::is_manifest(media_type::DOCKER_MANIFEST));
        assert!(!media_type::is_manifest(media_type::DOCKER_SCHEMA1_SIGNED));
        for t in [
            media_type::OCI_INDEX,
            media_type::DOCKER_MANIFEST_LIST,
            media_type::OCI_MANIFEST,
            media_type::DOCKER_MANIFEST,
        ] {
            assert!(media_type::ACCEPT.contains(t));
        }
    }
}
