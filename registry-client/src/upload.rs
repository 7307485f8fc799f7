//! Pushing blobs: [`Client::push_blob`] skips blobs the registry has,
//! mounts from another repository of the same registry, else uploads with
//! one PUT (up to [`ClientOptions::chunk_size`](crate::ClientOptions)) or
//! PATCH chunks then a PUT, hashing the content as it goes and completing
//! the upload only if it matches; a failed chunk resumes from the
//! registry's upload offset.

use std::io::{self, Read};
use std::sync::{Arc, Mutex};

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
        let mut call = Call::new(Method::POST, url, repo.domain());
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
        let mut call = Call::new(method, url, self.repo.domain());
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

    /// A small blob: read and checked in memory, then one PUT.
    fn monolithic(&self, location: String, open: OpenBlob, progress: &Progress) -> Result<()> {
        let mut content = Vec::with_capacity(self.desc.size as usize);
        open()
            .and_then(|r| r.take(self.desc.size + 1).read_to_end(&mut content))
            .map_err(|e| self.read_err(e))?;
        if content.len() as u64 != self.desc.size {
            return Err(self.local_mismatch(content.len() as u64));
        }
        let mut hasher = Sha256::new();
        hasher.update(&content);
        self.check_digest(&hasher)?;
        let url = with_digest(&location, &self.desc.digest);
        let body = Piece::new(&Arc::new(content), 0, 0, progress);
        let resp = self.send_body(Method::PUT, url, body, None)?;
        if resp.status() != StatusCode::CREATED {
            return Err(status_error(&self.what, resp));
        }
        progress.report(self.desc.size);
        Ok(())
    }

    /// A large blob: PATCH chunks streamed from the reader (hashed as they
    /// go; nothing is held in memory), then the PUT that commits it, sent
    /// only if the hash matches. After a failed chunk the registry says
    /// how much it has and the upload goes on from there, re-reading the
    /// content from its start if it must go back.
    fn streamed(&self, mut location: String, open: OpenBlob, progress: &Progress) -> Result<()> {
        let chunk_size = self.client.t.opts.chunk_size.max(1);
        let size = self.desc.size;
        let reader = open().map_err(|e| self.read_err(e))?;
        let src = Arc::new(Mutex::new(Source::new(reader)));
        let mut pos = 0u64;
        let mut failures = 0u32;
        while pos < size {
            if src.lock().expect("source").read != pos {
                self.rewind(&src, pos, open)?;
            }
            let end = (pos + chunk_size).min(size);
            let window = Window {
                src: src.clone(),
                end,
                progress: progress.clone(),
            };
            let resp = self.send_stream(location.clone(), window, pos, end);
            if let Some(failure) = src.lock().expect("source").failure.take() {
                return Err(match failure {
                    Failure::Short(n) => self.local_mismatch(n),
                    Failure::Read(e) => self.read_err(e),
                });
            }
            match resp {
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
        {
            let mut s = src.lock().expect("source");
            let mut extra = [0u8; 1];
            if s.reader.read(&mut extra).map_err(|e| self.read_err(e))? > 0 {
                return Err(self.local_mismatch(size + 1));
            }
            self.check_digest(&s.hasher)?;
        }
        let url = with_digest(&location, &self.desc.digest);
        let body = Piece::new(&Arc::new(Vec::new()), 0, 0, &Progress::none());
        let resp = self.send_body(Method::PUT, url, body, None)?;
        if resp.status() != StatusCode::CREATED {
            return Err(status_error(&self.what, resp));
        }
        Ok(())
    }

    /// Reopens the content and reads (and hashes) it up to `to`.
    fn rewind(&self, src: &Mutex<Source>, to: u64, open: OpenBlob) -> Result<()> {
        let mut fresh = Source::new(open().map_err(|e| self.read_err(e))?);
        let mut buf = vec![0u8; 256 << 10];
        while fresh.read < to {
            let want = buf.len().min((to - fresh.read) as usize);
            let n = fresh
                .reader
                .read(&mut buf[..want])
                .map_err(|e| self.read_err(e))?;
            if n == 0 {
                return Err(self.local_mismatch(fresh.read));
            }
            fresh.hasher.update(&buf[..n]);
            fresh.read += n as u64;
        }
        *src.lock().expect("source") = fresh;
        Ok(())
    }

    /// One PATCH of `window` (bytes `start..end`), sent once: its body
    /// cannot be replayed, [`Upload::streamed`] recovers instead.
    fn send_stream(&self, url: String, window: Window, start: u64, end: u64) -> Result<Response> {
        let len = end - start;
        let body = move || Ok(Body::sized(window.clone(), len));
        let mut call = self.call(Method::PATCH, url);
        call.headers
            .push((CONTENT_TYPE.as_str(), "application/octet-stream".into()));
        call.headers
            .push((CONTENT_LENGTH.as_str(), len.to_string()));
        call.headers
            .push((CONTENT_RANGE.as_str(), format!("{start}-{}", end - 1)));
        call.body = Some(&body);
        call.replayable = false;
        self.client.t.send(&call)
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
        piece: Piece,
        range: Option<String>,
    ) -> Result<Response> {
        let len = piece.len();
        let body = move || Ok(Body::sized(piece.clone(), len));
        let mut call = self.call(method, url);
        call.headers
            .push((CONTENT_TYPE.as_str(), "application/octet-stream".into()));
        call.headers
            .push((CONTENT_LENGTH.as_str(), len.to_string()));
        if let Some(range) = range {
            call.headers.push((CONTENT_RANGE.as_str(), range));
        }
        call.body = Some(&body);
        self.client.t.send(&call)
    }
}

/// The content being pushed, read once in order.
struct Source {
    reader: Box<dyn Read + Send>,
    hasher: Sha256,
    /// Bytes read (and hashed) so far.
    read: u64,
    failure: Option<Failure>,
}

enum Failure {
    /// The content ended after this many bytes.
    Short(u64),
    Read(io::Error),
}

impl Source {
    fn new(reader: Box<dyn Read + Send>) -> Source {
        Source {
            reader,
            hasher: Sha256::new(),
            read: 0,
            failure: None,
        }
    }
}

/// A request body: the source's bytes up to `end`, hashed and reported as
/// they are read.
#[derive(Clone)]
struct Window {
    src: Arc<Mutex<Source>>,
    end: u64,
    progress: Progress,
}

impl Read for Window {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let mut s = self.src.lock().expect("source");
        let left = self.end.saturating_sub(s.read);
        if left == 0 {
            return Ok(0);
        }
        let want = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
        let n = match s.reader.read(&mut buf[..want]) {
            Ok(0) => {
                s.failure = Some(Failure::Short(s.read));
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
            Ok(n) => n,
            Err(e) => {
                let kind = e.kind();
                s.failure = Some(Failure::Read(e));
                return Err(kind.into());
            }
        };
        s.hasher.update(&buf[..n]);
        s.read += n as u64;
        self.progress.report(s.read);
        Ok(n)
    }
}

/// The part of a chunk from `from` on, as a request body that reports
/// progress (`base` is the chunk's offset in the blob) as it is read.
#[derive(Clone)]
struct Piece {
    data: Arc<Vec<u8>>,
    pos: usize,
    base: u64,
    progress: Progress,
}

impl Piece {
    fn new(data: &Arc<Vec<u8>>, from: usize, base: u64, progress: &Progress) -> Piece {
        Piece {
            data: data.clone(),
            pos: from,
            base: base - from as u64,
            progress: progress.clone(),
        }
    }

    fn len(&self) -> u64 {
        (self.data.len() - self.pos) as u64
    }
}

impl Read for Piece {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let rest = &self.data[self.pos..];
        let n = rest.len().min(buf.len());
        buf[..n].copy_from_slice(&rest[..n]);
        self.pos += n;
        if n > 0 {
            self.progress.report(self.base + self.pos as u64);
        }
        Ok(n)
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
