//! Pushing blobs: [`Client::push_blob`] skips blobs the registry has,
//! mounts from another repository of the same registry, else uploads with
//! one PUT (up to [`ClientOptions::chunk_size`](crate::ClientOptions)) or
//! PATCH chunks (read ahead on another thread) then a PUT, completing the
//! upload only if the content matches (hashed here, or for stored content
//! by the registry alone); a failed chunk resumes from the registry's
//! upload offset.

use std::io::{self, Read};
use std::sync::mpsc::{self, Receiver, Sender, SyncSender};

use bytes::Bytes;
use reqwest::blocking::{Body, Response};
use reqwest::header::{CONTENT_LENGTH, CONTENT_RANGE, CONTENT_TYPE, LOCATION, RANGE};
use reqwest::{Method, StatusCode};
use sha2::{Digest as _, Sha256};

use crate::auth::{pull_scope, push_scope};
use crate::blob::{OpenBlob, PushedHow};
use crate::client::{Client, Progress};
use crate::error::{Error, Result};
use crate::reference::Repository;
use crate::transport::{status_error, Call};
use crate::types::{Descriptor, Digest};

impl Client {
    /// Pushes blob `desc` to `repo`, reading it with `open` (called again
    /// if an upload must restart). Skipped if present; mounted from
    /// `mount_from` when that is a repository of the same registry that
    /// has it. The content is hashed while sent and the upload is only
    /// completed if it matches `desc`.
    pub fn push_blob(
        &self,
        repo: &Repository,
        desc: &Descriptor,
        open: OpenBlob,
        mount_from: Option<&Repository>,
        progress: &Progress,
    ) -> Result<PushedHow> {
        self.push(repo, desc, open, mount_from, progress, true)
    }

    /// [`Client::push_blob`] for content already known to match `desc`
    /// (a blob of a content-addressed store, verified when it was
    /// committed): not hashed again here, as skopeo trusts its layout.
    /// The registry still hashes what it receives and refuses to commit
    /// it under `desc`'s digest if it differs; only its size is checked
    /// here.
    pub fn push_stored_blob(
        &self,
        repo: &Repository,
        desc: &Descriptor,
        open: OpenBlob,
        mount_from: Option<&Repository>,
        progress: &Progress,
    ) -> Result<PushedHow> {
        self.push(repo, desc, open, mount_from, progress, false)
    }

    fn push(
        &self,
        repo: &Repository,
        desc: &Descriptor,
        open: OpenBlob,
        mount_from: Option<&Repository>,
        progress: &Progress,
        verify: bool,
    ) -> Result<PushedHow> {
        let mut scopes = vec![push_scope(repo.path())];
        let mount_from =
            mount_from.filter(|m| m.domain() == repo.domain() && m.path() != repo.path());
        if let Some(m) = mount_from {
            scopes.push(pull_scope(m.path()));
        }
        if self.blob_exists_scoped(repo, &desc.digest, scopes.clone())? == Some(desc.size) {
            progress.report(desc.size);
            return Ok(PushedHow::Exists);
        }
        let what = format!("upload of blob {} to {repo}", desc.digest);
        let base = self.t.base_url(repo.domain());
        let mut url = format!("{base}/v2/{}/blobs/uploads/", repo.path());
        if let Some(m) = mount_from {
            url.push_str(&format!("?mount={}&from={}", desc.digest, m.path()));
        }
        let mut call = Call::new(Method::POST, url, repo.domain(), &what);
        call.scopes = scopes.clone();
        call.headers.push((CONTENT_LENGTH.as_str(), "0".into()));
        let resp = self.t.send(&call)?;
        match resp.status() {
            StatusCode::CREATED if mount_from.is_some() => {
                progress.report(desc.size);
                return Ok(PushedHow::Mounted);
            }
            StatusCode::ACCEPTED => {}
            _ => return Err(status_error(&what, resp)),
        }
        let location = location(&base, &resp, &what)?;
        let upload = Upload {
            client: self,
            repo,
            desc,
            scopes,
            what,
            base,
            verify,
        };
        upload.run(location, open, progress)?;
        Ok(PushedHow::Uploaded)
    }
}

struct Upload<'a> {
    client: &'a Client,
    repo: &'a Repository,
    desc: &'a Descriptor,
    scopes: Vec<String>,
    what: String,
    base: String,
    /// Hash the content and compare it with `desc` before committing.
    verify: bool,
}

impl Upload<'_> {
    /// A new upload session (after the registry dropped the old one).
    fn restart(&self) -> Result<String> {
        let url = format!("{}/v2/{}/blobs/uploads/", self.base, self.repo.path());
        let mut call = self.call(Method::POST, url);
        call.headers.push((CONTENT_LENGTH.as_str(), "0".into()));
        let resp = self.client.t.send(&call)?;
        if resp.status() != StatusCode::ACCEPTED {
            return Err(status_error(&self.what, resp));
        }
        location(&self.base, &resp, &self.what)
    }

    fn call(&self, method: Method, url: String) -> Call<'_> {
        let mut call = Call::new(method, url, self.repo.domain(), &self.what);
        call.scopes = self.scopes.clone();
        call
    }

    fn read_err(&self, source: io::Error) -> Error {
        Error::Io {
            action: "reading blob",
            digest: self.desc.digest.to_string(),
            source,
        }
    }

    fn local_mismatch(&self, actual: u64) -> Error {
        Error::SizeMismatch {
            what: format!("local content of blob {}", self.desc.digest),
            expected: self.desc.size,
            actual,
        }
    }

    fn check_digest(&self, hasher: &Sha256) -> Result<()> {
        let actual = Digest::from_sha256(&hasher.clone().finalize());
        if actual != self.desc.digest {
            return Err(Error::DigestMismatch {
                what: format!("local content of blob {}", self.desc.digest),
                expected: self.desc.digest.to_string(),
                actual: actual.to_string(),
            });
        }
        Ok(())
    }

    fn run(&self, location: String, open: OpenBlob, progress: &Progress) -> Result<()> {
        if self.desc.size <= self.client.t.opts.chunk_size.max(1) {
            self.monolithic(location, open, progress)
        } else {
            self.streamed(location, open, progress)
        }
    }

    /// A small blob: read (and checked) in memory, then one PUT.
    fn monolithic(&self, location: String, open: OpenBlob, progress: &Progress) -> Result<()> {
        let mut content = Vec::with_capacity(self.desc.size as usize);
        open()
            .and_then(|r| r.take(self.desc.size + 1).read_to_end(&mut content))
            .map_err(|e| self.read_err(e))?;
        if content.len() as u64 != self.desc.size {
            return Err(self.local_mismatch(content.len() as u64));
        }
        if self.verify {
            let mut hasher = Sha256::new();
            hasher.update(&content);
            self.check_digest(&hasher)?;
        }
        let url = with_digest(&location, &self.desc.digest);
        let resp = self.send_body(Method::PUT, url, Bytes::from(content), None)?;
        if resp.status() != StatusCode::CREATED {
            return Err(status_error(&self.what, resp));
        }
        progress.report(self.desc.size);
        Ok(())
    }

    /// A large blob: PATCH chunks, each read (and hashed) by a reader
    /// thread while the one before is sent, so reading, hashing and
    /// sending overlap and each chunk goes out in large writes; then the
    /// PUT that commits it, sent only if the content matched. After a
    /// failed chunk the registry says how much it has and the upload goes
    /// on from there, reading the content again from its start if the
    /// registry lost it all.
    fn streamed(&self, mut location: String, open: OpenBlob, progress: &Progress) -> Result<()> {
        let size = self.desc.size;
        let mut chunks = self.read_ahead(open, progress)?;
        // The chunk being sent: its offset and bytes.
        let mut current: Option<(u64, Bytes)> = None;
        let mut pos = 0u64;
        let mut failures = 0u32;
        while pos < size {
            let (start, data) = match current.take() {
                Some((start, data)) if pos >= start && pos < start + data.len() as u64 => {
                    (start, data)
                }
                Some((start, _)) if pos < start => {
                    // The registry lost what it had: start over.
                    chunks = self.read_ahead(open, progress)?;
                    self.next_chunk(&chunks)?
                }
                _ => self.next_chunk(&chunks)?,
            };
            let end = start + data.len() as u64;
            let piece = data.slice((pos - start) as usize..);
            current = Some((start, data));
            let range = format!("{pos}-{}", end - 1);
            match self.send_body(Method::PATCH, location.clone(), piece, Some(range)) {
                Ok(resp) if resp.status() == StatusCode::ACCEPTED => {
                    location = location_or(&self.base, &resp, location)?;
                    pos = end;
                    failures = 0;
                    continue;
                }
                Ok(resp)
                    if resp.status() != StatusCode::RANGE_NOT_SATISFIABLE
                        && !resp.status().is_server_error()
                        && resp.status() != StatusCode::TOO_MANY_REQUESTS =>
                {
                    return Err(status_error(&self.what, resp));
                }
                Err(e @ Error::Connect { .. })
                    if failures + 1 >= self.client.t.opts.retry.attempts =>
                {
                    return Err(e);
                }
                Err(e @ Error::Connect { .. }) => drop(e),
                Err(e) => return Err(e),
                Ok(_) => {}
            }
            failures += 1;
            if failures >= self.client.t.opts.retry.attempts {
                return Err(Error::Status {
                    what: self.what.clone(),
                    status: format!("chunk at offset {pos} failed {failures} times"),
                });
            }
            std::thread::sleep(self.client.t.opts.retry.backoff(failures));
            // Ask the registry how much it has, and go on from there. The
            // reference registry drops a session whose PATCH was cut:
            // then start again with a new one, as docker does.
            let (loc, have) = match self.status(&location) {
                Ok(found) => found,
                Err(e) if e.is_not_found() => (self.restart()?, 0),
                Err(e) => return Err(e),
            };
            location = loc;
            if have > end || (have < pos && have != 0) {
                return Err(Error::Status {
                    what: self.what.clone(),
                    status: format!("upload offset {have} outside the chunk {pos}-{end}"),
                });
            }
            pos = have;
        }
        // The reader's verdict on the whole content comes after its last
        // chunk: the size, and the digest unless trusted.
        match chunks.recv() {
            Ok(Err(failure)) => return Err(self.failure(failure)),
            Ok(Ok(_)) => unreachable!("the reader sends no chunk past the size"),
            Err(_) => {}
        }
        let url = with_digest(&location, &self.desc.digest);
        let resp = self.send_body(Method::PUT, url, Bytes::new(), None)?;
        if resp.status() != StatusCode::CREATED {
            return Err(status_error(&self.what, resp));
        }
        Ok(())
    }

    /// Starts a thread reading the content from its start in chunks of
    /// [`ClientOptions::chunk_size`](crate::ClientOptions), at most one
    /// ahead of the one being sent. After the last chunk it checks there
    /// is nothing more and, when verifying, the digest; on a mismatch or a
    /// read error it sends that instead (and nothing after). Progress is
    /// the bytes read, as docker counts it.
    fn read_ahead(&self, open: OpenBlob, progress: &Progress) -> Result<Receiver<Chunk>> {
        let reader = open().map_err(|e| self.read_err(e))?;
        let (tx, rx) = mpsc::sync_channel(0);
        let size = self.desc.size;
        let chunk_size = self.client.t.opts.chunk_size.max(1);
        let expected = self.verify.then(|| self.desc.digest.clone());
        let progress = progress.clone();
        std::thread::Builder::new()
            .name("blob-reader".into())
            .spawn(move || read_chunks(reader, size, chunk_size, expected, &progress, &tx))
            .map_err(|e| self.read_err(e))?;
        Ok(rx)
    }

    fn next_chunk(&self, chunks: &Receiver<Chunk>) -> Result<(u64, Bytes)> {
        match chunks.recv() {
            Ok(Ok(chunk)) => Ok(chunk),
            Ok(Err(failure)) => Err(self.failure(failure)),
            Err(_) => Err(self.read_err(io::Error::other("blob reader stopped"))),
        }
    }

    fn failure(&self, failure: Failure) -> Error {
        match failure {
            Failure::Short(n) => self.local_mismatch(n),
            Failure::Read(e) => self.read_err(e),
            Failure::Digest(actual) => Error::DigestMismatch {
                what: format!("local content of blob {}", self.desc.digest),
                expected: self.desc.digest.to_string(),
                actual: actual.to_string(),
            },
        }
    }

    /// The upload's location and how many bytes the registry has.
    fn status(&self, location: &str) -> Result<(String, u64)> {
        let resp = self
            .client
            .t
            .send(&self.call(Method::GET, location.to_owned()))?;
        if resp.status() != StatusCode::NO_CONTENT {
            return Err(status_error(&self.what, resp));
        }
        // `Range: 0-N` means N+1 bytes; `0-0` can also mean none.
        let end = resp
            .headers()
            .get(RANGE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim_start_matches("bytes=").split_once('-'))
            .and_then(|(_, end)| end.parse::<u64>().ok());
        let offset = resp
            .headers()
            .get("docker-upload-offset")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        let have = match (offset, end) {
            (Some(o), _) => o,
            (None, Some(end)) if end > 0 => end + 1,
            _ => 0,
        };
        Ok((location_or(&self.base, &resp, location.to_owned())?, have))
    }

    fn send_body(
        &self,
        method: Method,
        url: String,
        data: Bytes,
        range: Option<String>,
    ) -> Result<Response> {
        let len = data.len();
        // A whole buffer, not a reader: reqwest reads a reader 8 KiB at a
        // time, each handed to its runtime thread (a wake-up each).
        let body = move || Ok(Body::from(data.clone()));
        let mut call = self.call(method, url);
        call.headers
            .push((CONTENT_TYPE.as_str(), "application/octet-stream".into()));
        call.headers
            .push((CONTENT_LENGTH.as_str(), len.to_string()));
        if let Some(range) = range {
            call.headers.push((CONTENT_RANGE.as_str(), range));
            // A chunk is not sent again blindly: the registry may have
            // kept part of it or dropped the session, and
            // [`Upload::streamed`] asks it which.
            call.replayable = false;
        }
        call.body = Some(&body);
        self.client.t.send(&call)
    }
}

/// A chunk (its offset and bytes), or why the content is wrong.
type Chunk = std::result::Result<(u64, Bytes), Failure>;

enum Failure {
    /// The content ended after this many bytes, or had more (size + 1).
    Short(u64),
    Read(io::Error),
    /// The content's actual digest.
    Digest(Digest),
}

/// The reader thread of [`Upload::read_ahead`]; stops when the receiver
/// is gone.
fn read_chunks(
    mut reader: Box<dyn Read + Send>,
    size: u64,
    chunk_size: u64,
    expected: Option<Digest>,
    progress: &Progress,
    tx: &SyncSender<Chunk>,
) {
    let mut hasher = expected.as_ref().map(|_| Sha256::new());
    // Buffers come back once sent: fresh ones would cost a page fault
    // per 4 KiB (a third of the client's CPU in a push).
    let (back, spare) = mpsc::channel();
    let mut pos = 0u64;
    while pos < size {
        let len = chunk_size.min(size - pos) as usize;
        let mut buf: Vec<u8> = spare.try_recv().unwrap_or_default();
        buf.resize(len, 0);
        let mut filled = 0;
        while filled < len {
            // Reads of at most 1 MiB, so progress moves within a chunk.
            let upto = len.min(filled + (1 << 20));
            match reader.read(&mut buf[filled..upto]) {
                Ok(0) => {
                    let _ = tx.send(Err(Failure::Short(pos + filled as u64)));
                    return;
                }
                Ok(n) => {
                    filled += n;
                    progress.report(pos + filled as u64);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    let _ = tx.send(Err(Failure::Read(e)));
                    return;
                }
            }
        }
        if let Some(h) = hasher.as_mut() {
            h.update(&buf);
        }
        let chunk = Bytes::from_owner(Pooled {
            buf,
            back: back.clone(),
        });
        if tx.send(Ok((pos, chunk))).is_err() {
            return;
        }
        pos += len as u64;
    }
    let mut extra = [0u8; 1];
    let verdict = match reader.read(&mut extra) {
        Ok(0) => None,
        Ok(_) => Some(Failure::Short(size + 1)),
        Err(e) => Some(Failure::Read(e)),
    };
    let verdict = verdict.or_else(|| {
        let actual = Digest::from_sha256(&hasher?.finalize());
        (Some(&actual) != expected.as_ref()).then_some(Failure::Digest(actual))
    });
    if let Some(failure) = verdict {
        let _ = tx.send(Err(failure));
    }
}

/// A chunk's buffer, returned to the reader when the last reference to
/// it is dropped.
struct Pooled {
    buf: Vec<u8>,
    back: Sender<Vec<u8>>,
}

impl AsRef<[u8]> for Pooled {
    fn as_ref(&self) -> &[u8] {
        &self.buf
    }
}

impl Drop for Pooled {
    fn drop(&mut self) {
        // The reader may be gone: then the buffer is just freed.
        let _ = self.back.send(std::mem::take(&mut self.buf));
    }
}

fn location(base: &str, resp: &Response, what: &str) -> Result<String> {
    let loc = resp
        .headers()
        .get(LOCATION)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| Error::Status {
            what: what.to_owned(),
            status: format!("{} without a Location header", resp.status()),
        })?;
    Ok(absolute(base, loc))
}

fn location_or(base: &str, resp: &Response, fallback: String) -> Result<String> {
    Ok(resp
        .headers()
        .get(LOCATION)
        .and_then(|v| v.to_str().ok())
        .map(|l| absolute(base, l))
        .unwrap_or(fallback))
}

fn absolute(base: &str, loc: &str) -> String {
    if loc.starts_with("http://") || loc.starts_with("https://") {
        loc.to_owned()
    } else {
        format!("{base}{loc}")
    }
}

fn with_digest(location: &str, digest: &Digest) -> String {
    let sep = if location.contains('?') { '&' } else { '?' };
    format!("{location}{sep}digest={digest}")
}
