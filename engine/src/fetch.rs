//! The network of ADD: [`HttpFetcher`] implements the builder's
//! [`Fetcher`] with a blocking `reqwest` client over rustls (the system's
//! root certificates are not needed: Mozilla's are built in). Redirects are
//! followed; an error status is a [`FetchError::Status`] naming the code.
//! Git sources go through the `git` binary: `ls-remote` resolves a ref,
//! a shallow `fetch` of it into a fresh repository checks it out, with its
//! submodules.

use std::io::Write;
use std::path::Path;
use std::process::Command;
use std::sync::OnceLock;

use rdock_builder::{FetchError, Fetched, Fetcher};
use reqwest::header::{ETAG, IF_NONE_MATCH, LAST_MODIFIED};
use reqwest::StatusCode;

/// GETs ADD's URLs over HTTP(S). The client is made at the first GET, so
/// a build without URLs starts no HTTP machinery (its failure is then the
/// error of that GET).
#[derive(Debug, Default)]
pub struct HttpFetcher {
    client: OnceLock<Result<reqwest::blocking::Client, String>>,
}

impl HttpFetcher {
    /// The client: no overall timeout (large downloads); connecting times
    /// out after 30 seconds.
    fn client(&self) -> Result<&reqwest::blocking::Client, FetchError> {
        self.client
            .get_or_init(|| {
                reqwest::blocking::Client::builder()
                    .user_agent(concat!("rdock/", env!("CARGO_PKG_VERSION")))
                    .connect_timeout(std::time::Duration::from_secs(30))
                    .timeout(None)
                    .build()
                    .map_err(|e| chain(&e))
            })
            .as_ref()
            .map_err(|e| FetchError::Transport(e.clone()))
    }
}

/// An error and its causes on one line.
fn chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut cur = e.source();
    while let Some(s) = cur {
        out.push_str(": ");
        out.push_str(&s.to_string());
        cur = s.source();
    }
    out
}

/// An `ETag` value without its weak marker and quotes, as BuildKit keeps it.
fn etag_value(v: &str) -> String {
    let v = v.trim();
    let v = v.strip_prefix("W/").unwrap_or(v);
    v.trim_matches('"').to_string()
}

impl Fetcher for HttpFetcher {
    fn get(
        &self,
        url: &str,
        if_none_match: Option<&str>,
        body: &mut dyn Write,
    ) -> Result<Fetched, FetchError> {
        let mut req = self.client()?.get(url);
        if let Some(etag) = if_none_match {
            req = req.header(IF_NONE_MATCH, format!("\"{etag}\""));
        }
        let mut resp = req.send().map_err(|e| FetchError::Transport(chain(&e)))?;
        let status = resp.status();
        if status == StatusCode::NOT_MODIFIED && if_none_match.is_some() {
            return Ok(Fetched::NotModified);
        }
        if !status.is_success() {
            return Err(FetchError::Status(status.to_string()));
        }
        let header = |name| {
            resp.headers()
                .get(name)
                .and_then(|v: &reqwest::header::HeaderValue| v.to_str().ok())
                .map(str::to_string)
        };
        let etag = header(ETAG).map(|v| etag_value(&v));
        let last_modified = header(LAST_MODIFIED)
            .and_then(|v| httpdate::parse_http_date(&v).ok())
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map(|d| d.as_secs() as i64);
        resp.copy_to(body)
            .map_err(|e| match e.is_body() || e.is_decode() {
                true => FetchError::Transport(chain(&e)),
                // `copy_to` reports a failed write as a plain error.
                false => FetchError::Write(std::io::Error::other(chain(&e))),
            })?;
        Ok(Fetched::Body {
            etag,
            last_modified,
        })
    }

    fn git_resolve(&self, remote: &str, reference: &str) -> Result<String, FetchError> {
        if is_commit(reference) {
            return Ok(reference.to_lowercase());
        }
        let reference = if reference.is_empty() {
            "HEAD"
        } else {
            reference
        };
        let peeled = format!("{reference}^{{}}");
        let listing = git(&["ls-remote", "--", remote, reference, &peeled], None)?;
        pick_commit(&listing, reference).ok_or_else(|| {
            FetchError::Git(format!("repository has no branch or tag {reference:?}"))
        })
    }

    fn git_checkout(
        &self,
        remote: &str,
        reference: &str,
        commit: &str,
        dest: &Path,
    ) -> Result<(), FetchError> {
        git(&["init", "-q", "--initial-branch=main"], Some(dest))?;
        git(&["remote", "add", "origin", remote], Some(dest))?;
        // A branch or tag is fetched shallow; a bare commit id needs the
        // history (servers may refuse to send unadvertised commits).
        match is_commit(reference) {
            true => git(&["fetch", "-q", "--tags", "origin"], Some(dest))?,
            false => {
                git(&["fetch", "-q", "--depth=1", "origin", commit], Some(dest)).or_else(|_| {
                    git(
                        &["fetch", "-q", "--depth=1", "origin", reference],
                        Some(dest),
                    )
                })?
            }
        };
        git(
            &["-c", "advice.detachedHead=false", "checkout", "-q", commit],
            Some(dest),
        )?;
        // BuildKit checks submodules out too.
        if dest.join(".gitmodules").exists() {
            git(
                &[
                    "submodule",
                    "update",
                    "-q",
                    "--init",
                    "--recursive",
                    "--depth=1",
                ],
                Some(dest),
            )?;
        }
        Ok(())
    }
}

/// Runs `git ARGS` without prompts or the user's configuration; its
/// standard output, or its error as one line.
fn git(args: &[&str], dir: Option<&Path>) -> Result<String, FetchError> {
    let mut cmd = Command::new("git");
    if let Some(d) = dir {
        cmd.arg("-C").arg(d);
    }
    let out = cmd
        .args(args)
        .env("GIT_TERMINAL_PROMPT", "0")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .output()
        .map_err(|e| FetchError::Git(format!("running git (apt-get install git): {e}")))?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        let said: Vec<&str> = stderr
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect();
        return Err(FetchError::Git(format!(
            "git {}: {}",
            args[0],
            said.join("; ")
        )));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Whether `s` is a full commit id (SHA-1 or SHA-256).
fn is_commit(s: &str) -> bool {
    matches!(s.len(), 40 | 64) && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The commit of `reference` in `git ls-remote` output: a peeled tag
/// (`^{}`) wins over the tag object.
fn pick_commit(listing: &str, reference: &str) -> Option<String> {
    let mut found = None;
    for line in listing.lines() {
        let (sha, name) = line.split_once('\t')?;
        let wanted = |n: &str| {
            n == reference
                || n == format!("refs/heads/{reference}")
                || n == format!("refs/tags/{reference}")
        };
        if let Some(tag) = name.strip_suffix("^{}") {
            if wanted(tag) {
                return Some(sha.to_string());
            }
        } else if wanted(name) && found.is_none() {
            found = Some(sha.to_string());
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ls_remote_output_gives_the_commit() {
        let listing = "1111111111111111111111111111111111111111\tHEAD\n\
                       2222222222222222222222222222222222222222\trefs/tags/v1\n\
                       3333333333333333333333333333333333333333\trefs/tags/v1^{}\n";
        assert_eq!(pick_commit(listing, "HEAD").unwrap(), "1".repeat(40));
        assert_eq!(pick_commit(listing, "v1").unwrap(), "3".repeat(40));
        assert_eq!(pick_commit(listing, "v2"), None);
        assert!(is_commit(&"a".repeat(40)));
        assert!(!is_commit("main"));
    }

    #[test]
    fn etags_lose_quotes_and_weakness() {
        assert_eq!(etag_value("\"abc\""), "abc");
        assert_eq!(etag_value("W/\"abc\""), "abc");
        assert_eq!(etag_value("abc"), "abc");
    }
}
