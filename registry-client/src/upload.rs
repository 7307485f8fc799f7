//! Pushing blobs: [`Client::push_blob`] skips blobs the registry has,
//! mounts from another repository of the same registry, else uploads with
//! one PUT (up to [`ClientOptions::chunk_size`](crate::ClientOptions)) or
//! PATCH chunks then a PUT, hashing the content as it goes and completing
//! the upload only if it matches; a failed chunk resumes from the
//! registry's upload offset.

use std::io::{self, Read};
use std::sync::Arc;

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

    fn run(&self, mut location: String, open: OpenBlob, progress: &Progress) -> Result<()> {
        let chunk_size = self.client.t.opts.chunk_size.max(1);
        let mut reader = open().map_err(|e| self.read_err(e))?;
        let mut hasher = Sha256::new();
        let mut sent = 0u64;
        let single = self.desc.size <= chunk_size;
        loop {
            let want = (self.desc.size - sent).min(chunk_size);
            let mut chunk = Vec::with_capacity(want as usize);
            (&mut reader)
                .take(want + u64::from(sent + want == self.desc.size))
                .read_to_end(&mut chunk)
                .map_err(|e| self.read_err(e))?;
            if chunk.len() as u64 != want {
                return Err(Error::SizeMismatch {
                    what: format!("local content of blob {}", self.desc.digest),
                    expected: self.desc.size,
                    actual: sent + chunk.len() as u64,
                });
            }
            hasher.update(&chunk);
            let last = sent + want == self.desc.size;
            if last {
                let actual = Digest::from_sha256(&hasher.clone().finalize());
                if actual != self.desc.digest {
                    return Err(Error::DigestMismatch {
                        what: format!("local content of blob {}", self.desc.digest),
                        expected: self.desc.digest.to_string(),
                        actual: actual.to_string(),
                    });
                }
            }
            let chunk = Arc::new(chunk);
            if single {
                // Small blob: one PUT with the content.
                let url = with_digest(&location, &self.desc.digest);
                let body = Piece::new(&chunk, 0, 0, progress);
                let resp = self.send_body(Method::PUT, url, body, None)?;
                if resp.status() != StatusCode::CREATED {
                    return Err(status_error(&self.what, resp));
                }
                progress.report(self.desc.size);
                return Ok(());
            }
            location = self.patch(location, &chunk, sent, progress)?;
            sent += want;
            progress.report(sent);
            if last {
                break;
            }
        }
        let url = with_digest(&location, &self.desc.digest);
        let body = Piece::new(&Arc::new(Vec::new()), 0, 0, &Progress::none());
        let resp = self.send_body(Method::PUT, url, body, None)?;
        if resp.status() != StatusCode::CREATED {
            return Err(status_error(&self.what, resp));
        }
        Ok(())
    }

    /// PATCHes `chunk` (starting at `start` in the blob); if the registry
    /// got part of it before a failure, sends only the rest.
    fn patch(
        &self,
        mut location: String,
        chunk: &Arc<Vec<u8>>,
        start: u64,
        progress: &Progress,
    ) -> Result<String> {
        let mut from = 0usize;
        for _ in 0..self.client.t.opts.retry.attempts {
            let first = start + from as u64;
            let range = format!("{first}-{}", start + chunk.len() as u64 - 1);
            let body = Piece::new(chunk, from, start + from as u64, progress);
            let resp = self.send_body(Method::PATCH, location.clone(), body, Some(range));
            match resp {
                Ok(resp) if resp.status() == StatusCode::ACCEPTED => {
                    return location_or(&self.base, &resp, location);
                }
                Ok(resp)
                    if resp.status() != StatusCode::RANGE_NOT_SATISFIABLE
                        && !resp.status().is_server_error() =>
                {
                    return Err(status_error(&self.what, resp));
                }
                _ => {}
            }
            // Ask the registry how much it has, and go on from there.
            let (loc, have) = self.status(&location)?;
            location = loc;
            if have < start || have > start + chunk.len() as u64 {
                return Err(Error::Status {
                    what: self.what.clone(),
                    status: format!("upload offset {have} outside the chunk at {start}"),
                });
            }
            from = (have - start) as usize;
            if from == chunk.len() {
                return Ok(location);
            }
        }
        Err(Error::Status {
            what: self.what.clone(),
            status: format!(
                "chunk at offset {start} failed {} times",
                self.client.t.opts.retry.attempts
            ),
        })
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
