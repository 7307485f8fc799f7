//! Stable cache-key encoding: [`KeyWriter`] hashes a step's definition
//! and its inputs' keys into a [`CacheKey`].
//!
//! The encoding is versioned and length-prefixed (in the manner of uv's
//! `cache-key` crate), never the `Debug` or JSON form of a Rust value, so
//! a key only changes when [`KEY_VERSION`] does: a magic and the version
//! open every key, then each field is a one-byte tag and its bytes, a
//! string or list prefixed by its length as a little-endian `u64`.

use rdock_cache::{Algorithm, CacheKey, Digest, Hasher};

/// Bump when the meaning or encoding of any key changes.
pub(crate) const KEY_VERSION: u32 = 2;

const MAGIC: &[u8] = b"rdock-step-key\0";

/// Builds one key, field by field.
pub(crate) struct KeyWriter {
    hasher: Hasher,
}

impl std::fmt::Debug for KeyWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KeyWriter")
    }
}

impl KeyWriter {
    /// A key of the step kind `kind` (`run`, `copy`, `image`, ...).
    pub fn new(kind: &str) -> KeyWriter {
        let mut hasher = Hasher::new(Algorithm::Sha256);
        hasher.update(MAGIC);
        hasher.update(&KEY_VERSION.to_le_bytes());
        let mut w = KeyWriter { hasher };
        w.str(kind);
        w
    }

    fn len(&mut self, n: usize) {
        self.hasher.update(&(n as u64).to_le_bytes());
    }

    /// Raw bytes, length-prefixed.
    pub fn bytes(&mut self, b: &[u8]) -> &mut Self {
        self.hasher.update(b"b");
        self.len(b.len());
        self.hasher.update(b);
        self
    }

    /// A string, length-prefixed.
    pub fn str(&mut self, s: &str) -> &mut Self {
        self.hasher.update(b"s");
        self.len(s.len());
        self.hasher.update(s.as_bytes());
        self
    }

    /// A number.
    pub fn u64(&mut self, n: u64) -> &mut Self {
        self.hasher.update(b"n");
        self.hasher.update(&n.to_le_bytes());
        self
    }

    /// An optional value: a presence byte, then the value.
    pub fn opt_str(&mut self, s: Option<&str>) -> &mut Self {
        match s {
            Some(s) => {
                self.hasher.update(b"1");
                self.str(s)
            }
            None => {
                self.hasher.update(b"0");
                self
            }
        }
    }

    /// A list of strings: its length, then each one.
    pub fn list<S: AsRef<str>>(&mut self, items: &[S]) -> &mut Self {
        self.hasher.update(b"l");
        self.len(items.len());
        for i in items {
            self.str(i.as_ref());
        }
        self
    }

    /// A digest (an input's key or content digest).
    pub fn digest(&mut self, d: &Digest) -> &mut Self {
        self.hasher.update(b"d");
        self.str(&d.to_string())
    }

    /// Another step's key.
    pub fn key(&mut self, k: &CacheKey) -> &mut Self {
        self.digest(k.digest())
    }

    /// The key; the writer is left empty (of no kind).
    pub fn finish(&mut self) -> CacheKey {
        let hasher = std::mem::replace(&mut self.hasher, Hasher::new(Algorithm::Sha256));
        CacheKey::from_digest(hasher.finish()).expect("the key hasher is sha256")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoding_is_stable_and_unambiguous() {
        let key = |parts: &[&str]| {
            let mut w = KeyWriter::new("run");
            for p in parts {
                w.str(p);
            }
            w.finish()
        };
        // Length prefixes keep field boundaries apart.
        assert_ne!(key(&["ab", "c"]), key(&["a", "bc"]));
        assert_eq!(key(&["ab", "c"]), key(&["ab", "c"]));
        assert_ne!(
            KeyWriter::new("run").finish(),
            KeyWriter::new("copy").finish()
        );
        // Golden: the encoding must not drift without a version bump.
        assert_eq!(
            key(&["x"]).to_string(),
            "sha256:ee1ac0215226b3683e20caca6bf63bef94e01265155fedefbec13cc7b66e0210"
        );
    }
}
