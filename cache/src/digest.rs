//! [`Digest`], the validated content address (`sha256:<64 hex>` or
//! `sha512:<128 hex>`), its [`Algorithm`], and the streaming [`Hasher`]
//! that produces one.
//!
//! Only the canonical form is accepted: lowercase algorithm, lowercase hex of
//! the exact length. That keeps one digest one path under `blobs/`.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use sha2::Digest as _;

use crate::error::{Error, Result};

/// A hash algorithm the store can address content with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Algorithm {
    /// SHA-256, the canonical OCI algorithm.
    Sha256,
    /// SHA-512.
    Sha512,
}

impl Algorithm {
    /// Every supported algorithm, in the order blob folders are scanned.
    pub const ALL: [Algorithm; 2] = [Algorithm::Sha256, Algorithm::Sha512];

    /// The name used in digests and as the `blobs/` sub-folder.
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::Sha256 => "sha256",
            Algorithm::Sha512 => "sha512",
        }
    }

    /// Length of the hex-encoded hash.
    pub fn hex_len(self) -> usize {
        match self {
            Algorithm::Sha256 => 64,
            Algorithm::Sha512 => 128,
        }
    }

    fn from_name(name: &str) -> Option<Algorithm> {
        Algorithm::ALL.into_iter().find(|a| a.name() == name)
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A content digest: `<algorithm>:<lowercase hex>`.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Digest {
    algorithm: Algorithm,
    hex: Box<str>,
}

impl Digest {
    /// The SHA-256 digest of `data`.
    pub fn sha256(data: &[u8]) -> Digest {
        Digest::of(Algorithm::Sha256, data)
    }

    /// The digest of `data` under `algorithm`.
    pub fn of(algorithm: Algorithm, data: &[u8]) -> Digest {
        let mut hasher = Hasher::new(algorithm);
        hasher.update(data);
        hasher.finish()
    }

    /// Builds a digest from an algorithm and its hex part, validating the hex.
    pub fn from_parts(algorithm: Algorithm, hex: &str) -> Result<Digest> {
        validate_hex(algorithm, hex).map_err(|reason| Error::InvalidDigest {
            input: format!("{}:{hex}", algorithm.name()),
            reason,
        })?;
        Ok(Digest {
            algorithm,
            hex: hex.into(),
        })
    }

    /// The algorithm.
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// The hex-encoded hash, without the algorithm prefix.
    pub fn hex(&self) -> &str {
        &self.hex
    }

    /// Where the blob lives relative to a layout root: `blobs/<alg>/<hex>`.
    pub fn blob_path(&self) -> PathBuf {
        PathBuf::from("blobs")
            .join(self.algorithm.name())
            .join(&*self.hex)
    }

    /// The same digest as oci-spec's type, for descriptors.
    pub fn to_oci(&self) -> oci_spec::image::Digest {
        oci_spec::image::Digest::from_str(&self.to_string())
            .expect("a validated digest is a valid OCI digest")
    }
}

impl TryFrom<&oci_spec::image::Digest> for Digest {
    type Error = Error;

    fn try_from(value: &oci_spec::image::Digest) -> Result<Digest> {
        value.as_ref().parse()
    }
}

impl From<&Digest> for oci_spec::image::Digest {
    fn from(value: &Digest) -> Self {
        value.to_oci()
    }
}

impl From<Digest> for oci_spec::image::Digest {
    fn from(value: Digest) -> Self {
        value.to_oci()
    }
}

fn validate_hex(algorithm: Algorithm, hex: &str) -> Result<(), &'static str> {
    if hex.len() != algorithm.hex_len() {
        return Err("wrong length for the algorithm");
    }
    if !hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return Err("hash is not lowercase hex");
    }
    Ok(())
}

impl FromStr for Digest {
    type Err = Error;

    fn from_str(s: &str) -> Result<Digest> {
        let invalid = |reason| Error::InvalidDigest {
            input: s.to_owned(),
            reason,
        };
        let (alg, hex) = s.split_once(':').ok_or_else(|| invalid("missing ':'"))?;
        let algorithm =
            Algorithm::from_name(alg).ok_or_else(|| invalid("unsupported algorithm"))?;
        validate_hex(algorithm, hex).map_err(invalid)?;
        Ok(Digest {
            algorithm,
            hex: hex.into(),
        })
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.algorithm.name(), self.hex)
    }
}

impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Digest({self})")
    }
}

impl serde::Serialize for Digest {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Digest {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// Incremental hashing that ends in a [`Digest`].
#[derive(Clone)]
pub struct Hasher {
    state: HasherState,
}

#[derive(Clone)]
enum HasherState {
    Sha256(sha2::Sha256),
    Sha512(sha2::Sha512),
}

impl Hasher {
    /// A fresh hasher for `algorithm`.
    pub fn new(algorithm: Algorithm) -> Hasher {
        let state = match algorithm {
            Algorithm::Sha256 => HasherState::Sha256(sha2::Sha256::new()),
            Algorithm::Sha512 => HasherState::Sha512(sha2::Sha512::new()),
        };
        Hasher { state }
    }

    /// The algorithm this hasher computes.
    pub fn algorithm(&self) -> Algorithm {
        match self.state {
            HasherState::Sha256(_) => Algorithm::Sha256,
            HasherState::Sha512(_) => Algorithm::Sha512,
        }
    }

    /// Feeds more bytes.
    pub fn update(&mut self, data: &[u8]) {
        match &mut self.state {
            HasherState::Sha256(h) => h.update(data),
            HasherState::Sha512(h) => h.update(data),
        }
    }

    /// The digest of everything fed so far.
    pub fn finish(self) -> Digest {
        let algorithm = self.algorithm();
        let bytes = match self.state {
            HasherState::Sha256(h) => h.finalize().to_vec(),
            HasherState::Sha512(h) => h.finalize().to_vec(),
        };
        Digest {
            algorithm,
            hex: to_hex(&bytes).into(),
        }
    }
}

impl fmt::Debug for Hasher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Hasher")
            .field("algorithm", &self.algorithm())
            .finish_non_exhaustive()
    }
}

fn to_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(DIGITS[usize::from(b >> 4)] as char);
        out.push(DIGITS[usize::from(b & 0xf)] as char);
    }
    out
}
