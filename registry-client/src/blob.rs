//! Fetching blobs: [`Client::fetch_blob`] streams into a [`BlobSink`],
//! resuming with `Range` after a dropped connection and verifying size and
//! sha256 before it returns `Ok`; [`Client::blob_exists`]. Pushing is in
//! `upload.rs`.

use std::io::{self, Read, Seek, SeekFrom, Write};

use reqwest::blocking::Response;
use reqwest::header::{CONTENT_LENGTH, CONTENT_RANGE, RANGE};
use reqwest::{Method, StatusCode};
use sha2::{Digest as _, Sha256};

use crate::auth::pull_scope;
use crate::client::{Client, Progress};
use crate::error::{Error, Result};
use crate::reference::Repository;
use crate::transport::{error_chain, status_error, Call};
use crate::types::{Descriptor, Digest};

const READ_BUF: usize = 256 << 10;

/// Where [`Client::fetch_blob`] writes. The bytes are unverified until
/// `fetch_blob` returns `Ok`: write to a temporary file and commit it
/// only then.
pub trait BlobSink {
    /// Appends `buf`.
    fn write_all(&mut self, buf: &[u8]) -> io::Result<()>;
    /// Drops everything from `offset` on; the next write lands there
    /// (0 when a registry ignores `Range` and sends the whole blob again).
    fn truncate(&mut self, offset: u64) -> io::Result<()>;
}

impl BlobSink for Vec<u8> {
    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        self.extend_from_slice(buf);
        Ok(())
    }

    fn truncate(&mut self, offset: u64) -> io::Result<()> {
        Vec::truncate(self, offset as usize);
        Ok(())
    }
}

impl BlobSink for std::fs::File {
    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        Write::write_all(self, buf)
    }

    fn truncate(&mut self, offset: u64) -> io::Result<()> {
        self.set_len(offset)?;
        self.seek(SeekFrom::Start(offset)).map(|_| ())
    }
}

/// How [`Client::push_blob`] got a blob into the repository.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PushedHow {
    /// The repository had it already.
    Exists,
    /// Mounted from another repository of the registry: no upload.
    Mounted,
    /// Uploaded.
    Uploaded,
}

/// Opens the content to push, from its start (again on a retry).
pub type OpenBlob<'a> = &'a dyn Fn() -> io::Result<Box<dyn Read + Send>>;

impl Client {
    /// Streams blob `desc` of `repo` into `sink`, resuming after dropped
    /// connections, and checks its size and sha256. On `Err` the sink
    /// holds garbage: discard it.
    pub fn fetch_blob(
        &self,
        repo: &Repository,
        desc: &Descriptor,
        sink: &mut dyn BlobSink,
        progress: &Progress,
    ) -> Result<()> {
        self.fetch(repo, desc, sink, progress, true)
    }

    /// [`Client::fetch_blob`] into a sink that hashes what it is given and
    /// refuses to commit content that does not match `desc` (a
    /// content-addressed store's writer): the size is checked here, the
    /// digest is left to the sink, so each byte is hashed once.
    pub fn fetch_blob_to_verifying_sink(
        &self,
        repo: &Repository,
        desc: &Descriptor,
        sink: &mut dyn BlobSink,
        progress: &Progress,
    ) -> Result<()> {
        self.fetch(repo, desc, sink, progress, false)
    }

    fn fetch(
        &self,
        repo: &Repository,
        desc: &Descriptor,
        sink: &mut dyn BlobSink,
        progress: &Progress,
        verify: bool,
    ) -> Result<()> {
        let what = format!("blob {} of {repo}", desc.digest);
        let url = format!(
            "{}/v2/{}/blobs/{}",
            self.t.base_url(repo.domain()),
            repo.path(),
            desc.digest
        );
        let io_err = |source| Error::Io {
            action: "writing blob",
            digest: desc.digest.to_string(),
            source,
        };
        sink.truncate(0).map_err(io_err)?;
        let mut hasher = Sha256::new();
        let mut offset = 0u64;
        let mut failures = 0u32;
        let mut buf = vec![0u8; READ_BUF];
        loop {
            let mut call = Call::new(Method::GET, url.clone(), repo.domain(), &what);
            call.scopes = vec![pull_scope(repo.path())];
            if offset > 0 {
                call.headers
                    .push((RANGE.as_str(), format!("bytes={offset}-")));
            }
            let mut resp = self.t.send(&call)?;
            match resp.status() {
                StatusCode::OK if offset > 0 => {
                    // The registry ignored Range: start over.
                    sink.truncate(0).map_err(io_err)?;
                    hasher = Sha256::new();
                    offset = 0;
                }
                StatusCode::OK => {}
                StatusCode::PARTIAL_CONTENT if content_range_start(&resp) == Some(offset) => {}
                _ => return Err(status_error(&what, resp)),
            }
            let start = offset;
            let dropped = loop {
                match resp.read(&mut buf) {
                    Ok(0) => break None,
                    Ok(n) => {
                        if offset + n as u64 > desc.size {
                            return Err(Error::SizeMismatch {
                                what,
                                expected: desc.size,
                                actual: offset + n as u64,
                            });
                        }
                        if verify {
                            hasher.update(&buf[..n]);
                        }
                        sink.write_all(&buf[..n]).map_err(io_err)?;
                        offset += n as u64;
                        progress.report(offset);
                    }
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => break Some(error_chain(&e)),
                }
            };
            // Every byte is here: a connection that failed after the last
            // one (a framing error, a reset on close) lost nothing, and a
            // resume from the end would only earn a 416.
            if offset == desc.size {
                break;
            }
            // Dropped or short: resume; give up only after `attempts`
            // tries in a row that brought nothing.
            failures = if offset > start { 1 } else { failures + 1 };
            if failures >= self.t.opts.retry.attempts {
                let cause = dropped.unwrap_or_else(|| "connection closed early".into());
                return Err(Error::Connect {
                    what,
                    method: "GET".into(),
                    url,
                    cause: format!("{cause} after {offset} of {} bytes", desc.size),
                });
            }
            std::thread::sleep(self.t.opts.retry.backoff(failures));
        }
        let actual = Digest::from_sha256(&hasher.finalize());
        if verify && actual != desc.digest {
            return Err(Error::DigestMismatch {
                what,
                expected: desc.digest.to_string(),
                actual: actual.to_string(),
            });
        }
        Ok(())
    }

    /// A small blob (a config) in memory, verified.
    pub fn fetch_blob_bytes(&self, repo: &Repository, desc: &Descriptor) -> Result<Vec<u8>> {
        let mut out = Vec::with_capacity(desc.size.min(64 << 20) as usize);
        self.fetch_blob(repo, desc, &mut out, &Progress::none())?;
        Ok(out)
    }

    /// The size of blob `digest` if `repo` has it.
    pub fn blob_exists(&self, repo: &Repository, digest: &Digest) -> Result<Option<u64>> {
        self.blob_exists_scoped(repo, digest, vec![pull_scope(repo.path())])
    }

    pub(crate) fn blob_exists_scoped(
        &self,
        repo: &Repository,
        digest: &Digest,
        scopes: Vec<String>,
    ) -> Result<Option<u64>> {
        let what = format!("blob {digest} of {repo}");
        let url = format!(
            "{}/v2/{}/blobs/{digest}",
            self.t.base_url(repo.domain()),
            repo.path()
        );
        let mut call = Call::new(Method::HEAD, url, repo.domain(), &what);
        call.scopes = scopes;
        let resp = self.t.send(&call)?;
        match resp.status() {
            StatusCode::OK => Ok(Some(
                resp.headers()
                    .get(CONTENT_LENGTH)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(0),
            )),
            StatusCode::NOT_FOUND => Ok(None),
            _ => Err(status_error(&what, resp)),
        }
    }
}

fn content_range_start(resp: &Response) -> Option<u64> {
    let v = resp.headers().get(CONTENT_RANGE)?.to_str().ok()?;
    let v = v.trim().strip_prefix("bytes ")?;
    v.split('-').next()?.parse().ok()
}
