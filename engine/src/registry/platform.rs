//! [`Platform`]: `os/arch[/variant]` as `--platform` takes it, and how it
//! picks a manifest out of an image index.

use std::fmt;
use std::str::FromStr;

use rdock_cache::oci_spec::image::{Arch, Descriptor};

use crate::error::{Error, Result};

/// A target platform, e.g. `linux/amd64` or `linux/arm64/v8`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Platform {
    os: String,
    arch: String,
    variant: Option<String>,
}

impl Platform {
    /// This host: linux and the architecture rdock was built for.
    pub fn host() -> Platform {
        Platform {
            os: "linux".to_owned(),
            arch: Arch::default().to_string(),
            variant: None,
        }
    }

    /// Whether an index entry is for this platform. A missing variant on
    /// either side matches any variant (`linux/arm64` takes `v8`).
    pub(crate) fn matches(&self, d: &Descriptor) -> bool {
        let Some(p) = d.platform() else {
            return false;
        };
        let variant_ok = match (&self.variant, p.variant()) {
            (Some(want), Some(have)) => want == have,
            _ => true,
        };
        p.os().to_string() == self.os && p.architecture().to_string() == self.arch && variant_ok
    }

    /// The manifest of `manifests` for this platform.
    pub(crate) fn select<'a>(
        &self,
        manifests: &'a [Descriptor],
        reference: &str,
    ) -> Result<&'a Descriptor> {
        manifests
            .iter()
            .find(|d| self.matches(d))
            .ok_or_else(|| Error::NoMatchingPlatform {
                reference: reference.to_owned(),
                platform: self.to_string(),
            })
    }
}

impl FromStr for Platform {
    type Err = Error;

    fn from_str(s: &str) -> Result<Platform> {
        let invalid = || Error::InvalidPlatform {
            value: s.to_owned(),
        };
        let parts: Vec<&str> = s.split('/').collect();
        let ok = |p: &str| {
            !p.is_empty()
                && p.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        };
        if !(2..=3).contains(&parts.len()) || !parts.iter().all(|p| ok(p)) {
            return Err(invalid());
        }
        // The names docker accepts for the same architectures.
        let arch = match parts[1] {
            "x86_64" => "amd64",
            "aarch64" => "arm64",
            "i386" => "386",
            a => a,
        };
        Ok(Platform {
            os: parts[0].to_owned(),
            arch: arch.to_owned(),
            variant: parts.get(2).map(|v| (*v).to_owned()),
        })
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.os, self.arch)?;
        if let Some(v) = &self.variant {
            write!(f, "/{v}")?;
        }
        Ok(())
    }
}
