//! ADD of http(s) URLs, as BuildKit's http source: the network is behind
//! the [`Fetcher`] trait (the engine implements it over HTTP); [`Download`]
//! is one URL of an ADD. The file is named after the last segment of the
//! URL's path (`__unnamed__` without one, as the Dockerfile front end
//! asks), has mode `0600` and the `Last-Modified` time (the epoch without
//! one). Its cache key part is the `--checksum` when given (then nothing is
//! downloaded on a cache hit), else the content digest; an `ETag` seen
//! before is sent as `If-None-Match`, and a `304` reuses the digest
//! recorded with it in the store's `http-cache/` folder.
//!
//! Git sources are told apart as BuildKit does ([`is_git`]) and are not
//! supported yet.

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use rdock_cache::{Digest, Hasher};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// What a GET returned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fetched {
    /// `304 Not Modified`: the `If-None-Match` validator still holds.
    NotModified,
    /// The body was written out.
    Body {
        /// The `ETag` header, quotes and `W/` removed.
        etag: Option<String>,
        /// The `Last-Modified` header, in seconds since 1970.
        last_modified: Option<i64>,
    },
}

/// Why a GET failed.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// The server answered with an error status (`404 Not Found`).
    #[error("invalid response status {0}")]
    Status(String),
    /// The request could not be sent or the body not read; the text is
    /// the transport's error chain.
    #[error("{0}")]
    Transport(String),
    /// The body could not be written.
    #[error("writing the body: {0}")]
    Write(#[source] std::io::Error),
    /// A git command failed; the text is what it said.
    #[error("{0}")]
    Git(String),
}

/// The network seam of ADD: GETs a URL.
pub trait Fetcher: Send + Sync + std::fmt::Debug {
    /// GETs `url` into `body`, sending `If-None-Match: if_none_match` when
    /// given; follows redirects.
    fn get(
        &self,
        url: &str,
        if_none_match: Option<&str>,
        body: &mut dyn Write,
    ) -> std::result::Result<Fetched, FetchError>;

    /// The commit that `reference` (a branch, tag or commit; the remote's
    /// HEAD when empty) names now in the git repository at `remote`.
    fn git_resolve(&self, remote: &str, reference: &str)
        -> std::result::Result<String, FetchError>;

    /// Checks `commit` of `remote` (reached through `reference`) out into
    /// the empty directory `dest`, with its `.git`.
    fn git_checkout(
        &self,
        remote: &str,
        reference: &str,
        commit: &str,
        dest: &Path,
    ) -> std::result::Result<(), FetchError>;
}

/// Whether an ADD source is a git repository rather than a plain URL, as
/// BuildKit's `ParseGitRef` decides it.
pub(crate) fn is_git(src: &str) -> bool {
    let no_fragment = src.split('#').next().unwrap_or(src);
    src.starts_with("git@")
        || src.starts_with("git://")
        || src.starts_with("ssh://")
        || ((src.starts_with("http://") || src.starts_with("https://"))
            && no_fragment.trim_end_matches('/').ends_with(".git"))
}

/// Whether an ADD source is an http(s) URL (and not git).
pub(crate) fn is_http(src: &str) -> bool {
    (src.starts_with("http://") || src.starts_with("https://")) && !is_git(src)
}

/// The file name BuildKit's front end gives a URL's download: the last
/// segment of the path, percent-decoded.
pub(crate) fn file_name(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let rest = rest.split(['?', '#']).next().unwrap_or(rest);
    let path = rest.find('/').map_or("", |i| &rest[i..]);
    let base = path.trim_end_matches('/').rsplit('/').next().unwrap_or("");
    let base = percent_decode(base);
    if base.is_empty() || base == "." || base == ".." || base.contains(char::is_control) {
        "__unnamed__".to_string()
    } else {
        base
    }
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        match (
            b[i],
            b.get(i + 1).copied().and_then(hex),
            b.get(i + 2).copied().and_then(hex),
        ) {
            (b'%', Some(h), Some(l)) => {
                out.push((h * 16 + l) as u8);
                i += 3;
            }
            (c, _, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// What the store remembers of a URL fetched with an `ETag`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
struct Record {
    etag: String,
    digest: String,
    last_modified: Option<i64>,
}

fn record_path(store_root: &Path, url: &str) -> PathBuf {
    store_root
        .join("http-cache")
        .join(format!("{}.json", Digest::sha256(url.as_bytes()).hex()))
}

fn load_record(store_root: &Path, url: &str) -> Option<Record> {
    let bytes = std::fs::read(record_path(store_root, url)).ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// Writes the record: temp file, then rename.
fn save_record(step: &str, store_root: &Path, url: &str, record: &Record) -> Result<()> {
    let path = record_path(store_root, url);
    let io = |path: &Path| crate::copy::io_err(step, "writing", path);
    let dir = path.parent().expect("record paths have a parent");
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(io(dir))?;
    let json = serde_json::to_vec(record).expect("records serialize");
    tmp.write_all(&json).map_err(io(tmp.path()))?;
    tmp.persist(&path).map_err(|e| io(&path)(e.error))?;
    Ok(())
}

/// A writer that hashes what goes through it.
struct Hashing<W> {
    inner: W,
    hasher: Hasher,
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// One URL of an ADD, downloaded into `dir/<index>/<file name>`.
#[derive(Debug)]
pub(crate) struct Download {
    pub url: String,
    /// `--checksum`, parsed.
    pub checksum: Option<Digest>,
    /// The source path below the download folder: `<index>/<file name>`.
    pub rel: PathBuf,
    /// The content digest, once known (from the body or a `304`).
    pub digest: Option<Digest>,
    pub last_modified: Option<i64>,
    /// Whether the file is on disk.
    pub fetched: bool,
}

impl Download {
    pub fn new(url: &str, index: usize, checksum: Option<Digest>) -> Download {
        Download {
            url: url.to_string(),
            checksum,
            rel: PathBuf::from(index.to_string()).join(file_name(url)),
            digest: None,
            last_modified: None,
            fetched: false,
        }
    }

    fn error(&self, step: &str, source: FetchError) -> Error {
        Error::Fetch {
            step: step.to_string(),
            url: self.url.clone(),
            source,
        }
    }

    /// Resolves what the cache key needs: with `--checksum`, nothing;
    /// otherwise a GET (conditional when an `ETag` was recorded).
    pub fn resolve(
        &mut self,
        step: &str,
        fetcher: &dyn Fetcher,
        store_root: &Path,
        dir: &Path,
    ) -> Result<()> {
        if self.checksum.is_some() {
            return Ok(());
        }
        let record = load_record(store_root, &self.url);
        if let Some(r) = &record {
            if self.get(step, fetcher, dir, Some(&r.etag), store_root)? == Fetched::NotModified {
                self.digest = r.digest.parse().ok();
                self.last_modified = r.last_modified;
                if self.digest.is_some() {
                    return Ok(());
                }
            }
            if self.fetched {
                return Ok(());
            }
        }
        self.get(step, fetcher, dir, None, store_root)?;
        Ok(())
    }

    /// Makes sure the file is on disk, with the checksum verified, mode
    /// `0600` and the `Last-Modified` time.
    pub fn materialize(
        &mut self,
        step: &str,
        fetcher: &dyn Fetcher,
        store_root: &Path,
        dir: &Path,
    ) -> Result<()> {
        if !self.fetched {
            self.get(step, fetcher, dir, None, store_root)?;
        }
        let path = dir.join(&self.rel);
        let io = |action| crate::copy::io_err(step, action, &path);
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))
            .map_err(io("chmod"))?;
        let secs = self.last_modified.unwrap_or(0);
        let time = match u64::try_from(secs) {
            Ok(s) => std::time::UNIX_EPOCH + std::time::Duration::from_secs(s),
            Err(_) => std::time::UNIX_EPOCH - std::time::Duration::from_secs(secs.unsigned_abs()),
        };
        let file = std::fs::File::options()
            .write(true)
            .open(&path)
            .map_err(io("opening"))?;
        file.set_modified(time).map_err(io("setting times of"))?;
        Ok(())
    }

    fn get(
        &mut self,
        step: &str,
        fetcher: &dyn Fetcher,
        dir: &Path,
        if_none_match: Option<&str>,
        store_root: &Path,
    ) -> Result<Fetched> {
        let path = dir.join(&self.rel);
        let parent = path.parent().expect("downloads are in a folder");
        std::fs::create_dir_all(parent).map_err(crate::copy::io_err(step, "creating", parent))?;
        let file =
            std::fs::File::create(&path).map_err(crate::copy::io_err(step, "creating", &path))?;
        let algorithm = self
            .checksum
            .as_ref()
            .map_or(rdock_cache::Algorithm::Sha256, Digest::algorithm);
        let mut out = Hashing {
            inner: std::io::BufWriter::new(file),
            hasher: Hasher::new(algorithm),
        };
        let got = fetcher
            .get(&self.url, if_none_match, &mut out)
            .map_err(|e| self.error(step, e))?;
        out.flush()
            .map_err(|e| self.error(step, FetchError::Write(e)))?;
        let Fetched::Body {
            etag,
            last_modified,
        } = &got
        else {
            return Ok(got);
        };
        let digest = out.hasher.finish();
        if let Some(expected) = &self.checksum {
            if *expected != digest {
                return Err(Error::ChecksumMismatch {
                    step: step.to_string(),
                    url: self.url.clone(),
                    expected: expected.to_string(),
                    actual: digest.to_string(),
                });
            }
        }
        if let (Some(etag), None) = (etag, &self.checksum) {
            let record = Record {
                etag: etag.clone(),
                digest: digest.to_string(),
                last_modified: *last_modified,
            };
            save_record(step, store_root, &self.url, &record)?;
        }
        self.digest = Some(digest);
        self.last_modified = *last_modified;
        self.fetched = true;
        Ok(got)
    }
}

#[cfg(test)]
pub(crate) mod fake {
    //! A [`Fetcher`] serving fixed bodies, counting the GETs it answers.

    use std::collections::BTreeMap;
    use std::sync::Mutex;

    use super::*;

    /// One served URL: its body, `ETag` and `Last-Modified`.
    #[derive(Debug, Clone, Default)]
    pub struct Page {
        pub body: Vec<u8>,
        pub etag: Option<String>,
        pub last_modified: Option<i64>,
    }

    #[derive(Debug, Default)]
    pub struct FakeFetcher {
        pub pages: Mutex<BTreeMap<String, Page>>,
        /// `(url, If-None-Match, answered 304)` per GET.
        pub calls: Mutex<Vec<(String, Option<String>, bool)>>,
    }

    impl FakeFetcher {
        pub fn serve(&self, url: &str, page: Page) {
            self.pages.lock().unwrap().insert(url.to_string(), page);
        }

        /// How many GETs sent the whole body.
        pub fn bodies(&self) -> usize {
            self.calls.lock().unwrap().iter().filter(|c| !c.2).count()
        }
    }

    impl Fetcher for FakeFetcher {
        fn get(
            &self,
            url: &str,
            if_none_match: Option<&str>,
            body: &mut dyn Write,
        ) -> std::result::Result<Fetched, FetchError> {
            let page = self.pages.lock().unwrap().get(url).cloned();
            let Some(page) = page else {
                return Err(FetchError::Status("404 Not Found".into()));
            };
            let not_modified = if_none_match.is_some() && if_none_match == page.etag.as_deref();
            self.calls.lock().unwrap().push((
                url.to_string(),
                if_none_match.map(str::to_string),
                not_modified,
            ));
            if not_modified {
                return Ok(Fetched::NotModified);
            }
            body.write_all(&page.body).map_err(FetchError::Write)?;
            Ok(Fetched::Body {
                etag: page.etag,
                last_modified: page.last_modified,
            })
        }

        fn git_resolve(&self, _: &str, _: &str) -> std::result::Result<String, FetchError> {
            Err(FetchError::Git("the fake fetcher has no git".into()))
        }

        fn git_checkout(
            &self,
            _: &str,
            _: &str,
            _: &str,
            _: &Path,
        ) -> std::result::Result<(), FetchError> {
            Err(FetchError::Git("the fake fetcher has no git".into()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_as_buildkit() {
        assert_eq!(file_name("https://example.com/a/b.tar.gz?x=1"), "b.tar.gz");
        assert_eq!(file_name("http://example.com/"), "__unnamed__");
        assert_eq!(file_name("http://example.com"), "__unnamed__");
        assert_eq!(file_name("http://h/dir/"), "dir");
        assert_eq!(file_name("http://h/a%20b"), "a b");
    }

    #[test]
    fn git_is_not_http() {
        assert!(is_git("https://github.com/moby/buildkit.git#v0.10.1:docs"));
        assert!(is_git("git@github.com:moby/buildkit.git"));
        assert!(!is_git("https://example.com/file.tar"));
        assert!(is_http("https://example.com/file.tar"));
        assert!(!is_http("https://github.com/moby/buildkit.git"));
    }

    #[test]
    fn etags_are_revalidated() {
        let store = tempfile::tempdir().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let f = fake::FakeFetcher::default();
        let url = "http://h/f.txt";
        f.serve(
            url,
            fake::Page {
                body: b"hello".to_vec(),
                etag: Some("v1".into()),
                last_modified: Some(1_000_000),
            },
        );
        let mut d = Download::new(url, 0, None);
        d.resolve("ADD", &f, store.path(), dir.path()).unwrap();
        assert_eq!(d.digest, Some(Digest::sha256(b"hello")));
        assert!(d.fetched);
        // Again: a 304, the digest from the record, no file yet.
        let mut again = Download::new(url, 1, None);
        again.resolve("ADD", &f, store.path(), dir.path()).unwrap();
        assert_eq!(again.digest, Some(Digest::sha256(b"hello")));
        assert_eq!(again.last_modified, Some(1_000_000));
        assert!(!again.fetched);
        assert_eq!(f.bodies(), 1);
        again
            .materialize("ADD", &f, store.path(), dir.path())
            .unwrap();
        let path = dir.path().join("1/f.txt");
        assert_eq!(std::fs::read(&path).unwrap(), b"hello");
        let meta = std::fs::metadata(&path).unwrap();
        assert_eq!(meta.permissions().mode() & 0o7777, 0o600);
        use std::os::unix::fs::MetadataExt;
        assert_eq!(meta.mtime(), 1_000_000);
    }

    #[test]
    fn checksums_are_verified() {
        let store = tempfile::tempdir().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let f = fake::FakeFetcher::default();
        let url = "http://h/f";
        f.serve(
            url,
            fake::Page {
                body: b"body".to_vec(),
                ..Default::default()
            },
        );
        let wrong = Digest::sha256(b"other");
        let mut d = Download::new(url, 0, Some(wrong.clone()));
        d.resolve("ADD", &f, store.path(), dir.path()).unwrap();
        assert_eq!(f.bodies(), 0, "a checksum needs no download for the key");
        let err = d
            .materialize("ADD", &f, store.path(), dir.path())
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            format!(
                "ADD: digest mismatch for {url}: {} (expected: {wrong})",
                Digest::sha256(b"body")
            )
        );
        let mut missing = Download::new("http://h/none", 0, None);
        let err = missing
            .resolve("ADD", &f, store.path(), dir.path())
            .unwrap_err();
        let source = std::error::Error::source(&err).map(ToString::to_string);
        assert_eq!(err.to_string(), "ADD: fetching http://h/none");
        assert_eq!(
            source.as_deref(),
            Some("invalid response status 404 Not Found")
        );
    }
}
