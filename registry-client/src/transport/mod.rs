//! The HTTP layer under [`Client`](crate::Client): endpoints (HTTPS, plain
//! HTTP only for registries `endpoint.rs` calls insecure; an HTTPS request
//! answered in plain HTTP fails at once, with Go's words), authentication
//! (Basic with the credentials looked up once per registry, Bearer tokens
//! from `token.rs` cached per scope until they expire, one
//! re-authentication on a 401), retries with backoff on connection errors,
//! 5xx and 429 (honouring `Retry-After`, in seconds or as an HTTP date),
//! and registry error documents turned into one-line [`Error`]s.

mod token;

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use reqwest::blocking::{Body, RequestBuilder, Response};
use reqwest::header::{HeaderMap, AUTHORIZATION, RETRY_AFTER, WWW_AUTHENTICATE};
use reqwest::{Method, StatusCode};
use serde::Deserialize;

use token::Token;

use crate::auth::{Challenge, Credentials};
use crate::client::ClientOptions;
use crate::error::{Error, Result};

/// Docker Hub's API host for the `docker.io` domain.
const DOCKER_HUB_HOST: &str = "registry-1.docker.io";
/// Error documents and token answers larger than this are not read.
const SMALL_BODY: u64 = 1 << 20;

pub(crate) struct Transport {
    pub(crate) http: reqwest::blocking::Client,
    pub(crate) opts: ClientOptions,
    /// Per host: the challenge of its `/v2/` (None: no auth needed).
    challenges: Mutex<HashMap<String, Option<Challenge>>>,
    tokens: Mutex<HashMap<(String, String), Token>>,
    /// Per host: the refresh token a login got (`offline_token=true`).
    refresh_tokens: Mutex<HashMap<String, String>>,
    /// Per registry domain: its credentials, looked up once (a credential
    /// helper is a process run; Basic auth needs them on every request).
    credentials: Mutex<HashMap<String, Option<Credentials>>>,
    /// Per registry domain: whether it is reached over plain HTTP (the
    /// rule may need a DNS lookup).
    insecure: Mutex<HashMap<String, bool>>,
}

/// One request: everything needed to send it again on a retry.
pub(crate) struct Call<'a> {
    pub method: Method,
    pub url: String,
    /// What is asked for, for errors (`manifest for REF`, `blob D of REPO`).
    pub what: &'a str,
    /// Registry domain (for credentials).
    pub domain: &'a str,
    pub scopes: Vec<String>,
    pub headers: Vec<(&'static str, String)>,
    /// Makes the body (again, on a retry); None for no body.
    pub body: Option<&'a dyn Fn() -> Result<Body>>,
    /// Credentials that replace the configured ones (`login`).
    pub credentials: Option<&'a Credentials>,
    /// False for a streamed body that can be sent only once: no retry
    /// and no re-authentication, the caller recovers.
    pub replayable: bool,
}

impl<'a> Call<'a> {
    pub(crate) fn new(method: Method, url: String, domain: &'a str, what: &'a str) -> Call<'a> {
        Call {
            method,
            url,
            what,
            domain,
            scopes: Vec::new(),
            headers: Vec::new(),
            body: None,
            credentials: None,
            replayable: true,
        }
    }
}

#[derive(Deserialize)]
struct ErrorDoc {
    #[serde(default)]
    errors: Vec<ErrorEntry>,
    #[serde(default)]
    details: Option<String>,
}

#[derive(Deserialize)]
struct ErrorEntry {
    #[serde(default)]
    code: String,
    #[serde(default)]
    message: String,
}

impl Transport {
    pub(crate) fn new(http: reqwest::blocking::Client, opts: ClientOptions) -> Transport {
        Transport {
            http,
            opts,
            challenges: Mutex::new(HashMap::new()),
            tokens: Mutex::new(HashMap::new()),
            refresh_tokens: Mutex::new(HashMap::new()),
            credentials: Mutex::new(HashMap::new()),
            insecure: Mutex::new(HashMap::new()),
        }
    }

    /// `scheme://host` for a registry domain.
    pub(crate) fn base_url(&self, domain: &str) -> String {
        let host = if domain == crate::reference::DEFAULT_DOMAIN {
            DOCKER_HUB_HOST
        } else {
            domain
        };
        let scheme = if self.is_insecure(host) {
            "http"
        } else {
            "https"
        };
        format!("{scheme}://{host}")
    }

    /// Whether `host` is reached over plain HTTP (`endpoint.rs`), decided
    /// once per client.
    pub(crate) fn is_insecure(&self, host: &str) -> bool {
        if let Some(known) = self.insecure.lock().expect("insecure").get(host) {
            return *known;
        }
        let insecure = crate::endpoint::is_insecure(
            host,
            &self.opts.insecure_registries,
            crate::endpoint::lookup,
        );
        self.insecure
            .lock()
            .expect("insecure")
            .insert(host.to_owned(), insecure);
        insecure
    }

    /// Sends `call`, authenticating, re-authenticating once on a 401 and
    /// retrying transient failures. Returns the final response whatever
    /// its status; callers map unexpected ones with [`status_error`].
    pub(crate) fn send(&self, call: &Call) -> Result<Response> {
        let host = host_of(&call.url);
        let mut reauthenticated = false;
        let mut attempt = 0u32;
        let mut pending_auth = None;
        loop {
            attempt += 1;
            let auth = match pending_auth.take() {
                Some(auth) => Some(auth),
                None => self.authorization(call, &host, false)?,
            };
            let result = self.build(call, auth)?.send();
            let resp = match result {
                Ok(resp) => resp,
                Err(e) => {
                    let mut cause = error_chain(&e);
                    let plain_http = is_plain_http_answer(&call.url, &cause);
                    if plain_http {
                        cause = PLAIN_HTTP_ANSWER.to_owned();
                    }
                    if attempt >= self.opts.retry.attempts
                        || cause.contains("dns error")
                        || plain_http
                        || !call.replayable
                    {
                        return Err(Error::Connect {
                            what: call.what.to_owned(),
                            method: call.method.to_string(),
                            url: call.url.clone(),
                            cause,
                        });
                    }
                    std::thread::sleep(self.opts.retry.backoff(attempt));
                    continue;
                }
            };
            let status = resp.status();
            if status == StatusCode::UNAUTHORIZED && !reauthenticated && call.replayable {
                let challenge = resp
                    .headers()
                    .get(WWW_AUTHENTICATE)
                    .and_then(|v| v.to_str().ok())
                    .and_then(Challenge::parse);
                if let Some(challenge) = challenge {
                    reauthenticated = true;
                    let known = self
                        .challenges
                        .lock()
                        .expect("challenges")
                        .insert(host.clone(), Some(challenge));
                    // A 401 with a token already sent means the token is
                    // stale or too narrow: get a fresh one.
                    let fresh = matches!(known, Some(Some(_)));
                    let auth = self.authorization(call, &host, fresh)?;
                    if auth.is_some() {
                        pending_auth = auth;
                        attempt -= 1;
                        drop(resp);
                        continue;
                    }
                }
                return Ok(resp);
            }
            let transient = is_transient(status);
            if transient && attempt < self.opts.retry.attempts && call.replayable {
                let wait = retry_after(resp.headers())
                    .map(|d| d.min(self.opts.retry.max_retry_after))
                    .unwrap_or_else(|| self.opts.retry.backoff(attempt));
                drop(resp);
                std::thread::sleep(wait);
                continue;
            }
            if !self
                .challenges
                .lock()
                .expect("challenges")
                .contains_key(&host)
                && status.is_success()
            {
                self.challenges
                    .lock()
                    .expect("challenges")
                    .insert(host, None);
            }
            return Ok(resp);
        }
    }

    fn build(&self, call: &Call, auth: Option<String>) -> Result<RequestBuilder> {
        let mut req = self.http.request(call.method.clone(), &call.url);
        for (name, value) in &call.headers {
            req = req.header(*name, value);
        }
        if let Some(auth) = auth {
            req = req.header(AUTHORIZATION, auth);
        }
        if let Some(body) = call.body {
            req = req.body(body()?);
        }
        Ok(req)
    }

    fn credentials(&self, call: &Call) -> Result<Option<Credentials>> {
        if let Some(c) = call.credentials {
            return Ok(Some(c.clone()));
        }
        let mut known = self.credentials.lock().expect("credentials");
        if let Some(c) = known.get(call.domain) {
            return Ok(c.clone());
        }
        // Looked up under the lock: concurrent transfers wait for one
        // helper run instead of each starting their own.
        let found = self.opts.credentials.get(call.domain)?;
        known.insert(call.domain.to_owned(), found.clone());
        Ok(found)
    }

    /// The `Authorization` value for `call` under the host's known
    /// challenge (none known yet: no header, the 401 will tell).
    fn authorization(&self, call: &Call, host: &str, fresh: bool) -> Result<Option<String>> {
        let challenge = self
            .challenges
            .lock()
            .expect("challenges")
            .get(host)
            .cloned();
        match challenge.flatten() {
            None => Ok(None),
            Some(Challenge::Basic) => Ok(self.credentials(call)?.map(|c| {
                let pair = format!("{}:{}", c.username, c.password);
                format!("Basic {}", STANDARD.encode(pair))
            })),
            Some(Challenge::Bearer {
                realm,
                service,
                scope,
            }) => {
                let mut scopes = call.scopes.clone();
                if scopes.is_empty() {
                    scopes.extend(scope);
                }
                let token = self.token(call, host, &realm, service.as_deref(), &scopes, fresh)?;
                Ok(Some(format!("Bearer {token}")))
            }
        }
    }
}

/// The error for a response with an unexpected status: the registry's
/// `errors[0]` as docker renders it, else the status line.
pub(crate) fn status_error(what: &str, resp: Response) -> Error {
    let status = resp.status();
    let body = read_small(resp);
    if let Ok(doc) = serde_json::from_slice::<ErrorDoc>(&body) {
        if let Some(e) = doc.errors.first() {
            return Error::Registry {
                what: what.to_owned(),
                status: status.as_u16(),
                code: render_code(&e.code),
                message: e.message.clone(),
            };
        }
    }
    // HEAD answers have no body: say what docker says for the common ones.
    let (code, message) = match status {
        StatusCode::UNAUTHORIZED => ("unauthorized", "authentication required"),
        StatusCode::FORBIDDEN => ("denied", "requested access to the resource is denied"),
        StatusCode::TOO_MANY_REQUESTS => ("toomanyrequests", "too many requests"),
        _ => {
            return Error::Status {
                what: what.to_owned(),
                status: status.to_string(),
            }
        }
    };
    Error::Registry {
        what: what.to_owned(),
        status: status.as_u16(),
        code: code.into(),
        message: message.into(),
    }
}

/// `MANIFEST_UNKNOWN` is printed `manifest unknown`, as docker does.
fn render_code(code: &str) -> String {
    code.replace('_', " ").to_lowercase()
}

fn read_small(resp: Response) -> Vec<u8> {
    use std::io::Read as _;
    let mut body = Vec::new();
    let _ = resp.take(SMALL_BODY).read_to_end(&mut body);
    body
}

/// Statuses worth another try: overload and passing server trouble.
fn is_transient(status: StatusCode) -> bool {
    status == StatusCode::TOO_MANY_REQUESTS
        || status == StatusCode::BAD_GATEWAY
        || status == StatusCode::SERVICE_UNAVAILABLE
        || status == StatusCode::GATEWAY_TIMEOUT
        || status == StatusCode::INTERNAL_SERVER_ERROR
}

/// `Retry-After` in seconds or as an HTTP date (RFC 9110); a date in the
/// past means now.
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(
        at.duration_since(SystemTime::now())
            .unwrap_or(Duration::ZERO),
    )
}

/// Go's words for an HTTPS request answered in plain HTTP, as docker
/// prints them.
pub(crate) const PLAIN_HTTP_ANSWER: &str = "http: server gave HTTP response to HTTPS client";

/// Whether a failed HTTPS request met a plain-HTTP server: TLS saw a
/// record that is not one (an HTTP status line). Retrying cannot help.
fn is_plain_http_answer(url: &str, cause: &str) -> bool {
    url.starts_with("https://") && cause.contains("InvalidContentType")
}

pub(crate) fn host_of(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    rest.split(['/', '?']).next().unwrap_or(rest).to_owned()
}

/// An error and its causes in one line, without reqwest's repeated URL.
pub(crate) fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !text.starts_with("client error (") && !parts.contains(&text) {
            parts.push(text);
        }
        source = s.source();
    }
    if parts.is_empty() {
        parts.push(e.to_string());
    }
    parts.join(": ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn transport(insecure: &[&str]) -> Transport {
        let opts = ClientOptions {
            insecure_registries: insecure.iter().map(|s| (*s).to_owned()).collect(),
            ..ClientOptions::default()
        };
        Transport::new(reqwest::blocking::Client::new(), opts)
    }

    #[test]
    fn docker_io_is_served_by_registry_1() {
        let t = transport(&[]);
        assert_eq!(t.base_url("docker.io"), "https://registry-1.docker.io");
        assert_eq!(t.base_url("ghcr.io"), "https://ghcr.io");
        assert_eq!(t.base_url("localhost:5000"), "http://localhost:5000");
        assert_eq!(t.base_url("127.0.0.1:5000"), "http://127.0.0.1:5000");
        let t = transport(&["reg.example:5000"]);
        assert_eq!(t.base_url("reg.example:5000"), "http://reg.example:5000");
        assert_eq!(t.base_url("reg.example"), "https://reg.example");
    }

    #[test]
    fn retry_after_in_seconds_or_as_an_http_date() {
        let mut h = HeaderMap::new();
        h.insert(RETRY_AFTER, HeaderValue::from_static("3"));
        assert_eq!(retry_after(&h), Some(Duration::from_secs(3)));
        let later = SystemTime::now() + Duration::from_secs(30);
        let date = httpdate::fmt_http_date(later);
        h.insert(RETRY_AFTER, HeaderValue::from_str(&date).unwrap());
        let wait = retry_after(&h).unwrap();
        assert!(
            wait > Duration::from_secs(27) && wait <= Duration::from_secs(30),
            "{wait:?}"
        );
        h.insert(
            RETRY_AFTER,
            HeaderValue::from_static("Wed, 21 Oct 2015 07:28:00 GMT"),
        );
        assert_eq!(retry_after(&h), Some(Duration::ZERO));
        h.insert(RETRY_AFTER, HeaderValue::from_static("soon"));
        assert_eq!(retry_after(&h), None);
    }
}
