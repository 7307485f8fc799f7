//! The HTTP layer under [`Client`](crate::Client): endpoints (HTTPS, plain
//! HTTP only for loopback and insecure registries), authentication (Basic,
//! Bearer tokens cached per scope until they expire, one re-authentication
//! on a 401), retries with backoff on connection errors, 5xx and 429
//! (honouring `Retry-After`), and registry error documents turned into
//! one-line [`Error`]s.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use reqwest::blocking::{Body, RequestBuilder, Response};
use reqwest::header::{HeaderMap, AUTHORIZATION, RETRY_AFTER, WWW_AUTHENTICATE};
use reqwest::{Method, StatusCode};
use serde::Deserialize;

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
}

struct Token {
    value: String,
    expires: Instant,
}

/// One request: everything needed to send it again on a retry.
pub(crate) struct Call<'a> {
    pub method: Method,
    pub url: String,
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
    pub(crate) fn new(method: Method, url: String, domain: &'a str) -> Call<'a> {
        Call {
            method,
            url,
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

#[derive(Deserialize)]
struct TokenDoc {
    #[serde(default)]
    token: Option<String>,
    #[serde(default)]
    access_token: Option<String>,
    #[serde(default)]
    expires_in: Option<u64>,
    #[serde(default)]
    refresh_token: Option<String>,
}

impl Transport {
    pub(crate) fn new(http: reqwest::blocking::Client, opts: ClientOptions) -> Transport {
        Transport {
            http,
            opts,
            challenges: Mutex::new(HashMap::new()),
            tokens: Mutex::new(HashMap::new()),
            refresh_tokens: Mutex::new(HashMap::new()),
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

    fn is_insecure(&self, host: &str) -> bool {
        let bare = match host.strip_prefix('[') {
            Some(rest) => rest.split(']').next().unwrap_or(rest),
            None => host.rsplit_once(':').map_or(host, |(h, _)| h),
        };
        bare == "localhost"
            || bare == "::1"
            || bare.starts_with("127.")
            || self
                .opts
                .insecure_registries
                .iter()
                .any(|r| r == host || r == bare)
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
                    let cause = error_chain(&e);
                    if attempt >= self.opts.retry.attempts
                        || cause.contains("dns error")
                        || !call.replayable
                    {
                        return Err(Error::Connect {
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
        match call.credentials {
            Some(c) => Ok(Some(c.clone())),
            None => self.opts.credentials.get(call.domain),
        }
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

    fn token(
        &self,
        call: &Call,
        host: &str,
        realm: &str,
        service: Option<&str>,
        scopes: &[String],
        fresh: bool,
    ) -> Result<String> {
        let key = (host.to_owned(), scopes.join(" "));
        if !fresh && call.credentials.is_none() {
            if let Some(t) = self.tokens.lock().expect("tokens").get(&key) {
                if t.expires > Instant::now() {
                    return Ok(t.value.clone());
                }
            }
        }
        let creds = self.credentials(call)?;
        let fail = |cause: String| Error::Token {
            registry: host.to_owned(),
            realm: realm.to_owned(),
            cause,
        };
        let mut query: Vec<(&str, &str)> = Vec::new();
        if let Some(s) = service {
            query.push(("service", s));
        }
        let req = match creds.as_ref().and_then(|c| c.identity_token.as_deref()) {
            // An identity token is an OAuth2 refresh token.
            Some(refresh) => {
                let joined = scopes.join(" ");
                let mut form = query.clone();
                form.extend([
                    ("grant_type", "refresh_token"),
                    ("refresh_token", refresh),
                    ("client_id", "rdock"),
                    ("scope", joined.as_str()),
                ]);
                self.http.post(realm).form(&form)
            }
            None => {
                for s in scopes {
                    query.push(("scope", s));
                }
                let mut req = self.http.get(realm).query(&query);
                if let Some(c) = &creds {
                    req = req
                        .query(&[("account", c.username.as_str())])
                        .basic_auth(&c.username, Some(&c.password));
                }
                if call.credentials.is_some() {
                    // A login: ask for a refresh token to store instead
                    // of the password, as docker does.
                    req = req.query(&[("offline_token", "true"), ("client_id", "rdock")]);
                }
                req
            }
        };
        // Token services rate-limit and fail too: retry them like the rest.
        let mut attempt = 0u32;
        let resp = loop {
            attempt += 1;
            let last = attempt >= self.opts.retry.attempts;
            let this = req
                .try_clone()
                .expect("token requests have in-memory bodies");
            match this.send() {
                Ok(resp) if is_transient(resp.status()) && !last => {
                    let wait = retry_after(resp.headers())
                        .map(|d| d.min(self.opts.retry.max_retry_after))
                        .unwrap_or_else(|| self.opts.retry.backoff(attempt));
                    std::thread::sleep(wait);
                }
                Ok(resp) => break resp,
                Err(e) => {
                    let cause = error_chain(&e);
                    if last || cause.contains("dns error") {
                        return Err(fail(cause));
                    }
                    std::thread::sleep(self.opts.retry.backoff(attempt));
                }
            }
        };
        let status = resp.status();
        let body = read_small(resp);
        if !status.is_success() {
            let said = match serde_json::from_slice::<ErrorDoc>(&body) {
                Ok(doc) => match (doc.errors.first(), doc.details) {
                    (Some(e), _) => format!("{}: {}", render_code(&e.code), e.message),
                    (None, Some(d)) => d,
                    (None, None) => String::from_utf8_lossy(&body).trim().to_owned(),
                },
                Err(_) => String::from_utf8_lossy(&body).trim().to_owned(),
            };
            return Err(fail(format!("{status}: {said}")));
        }
        let doc: TokenDoc =
            serde_json::from_slice(&body).map_err(|e| fail(format!("unreadable answer: {e}")))?;
        if let Some(refresh) = doc.refresh_token.filter(|t| !t.is_empty()) {
            if call.credentials.is_some() {
                self.refresh_tokens
                    .lock()
                    .expect("refresh tokens")
                    .insert(host.to_owned(), refresh);
            }
        }
        let value = doc
            .token
            .or(doc.access_token)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| fail("answer has no token".into()))?;
        // The spec's minimum lifetime is 60 s; renew a little early.
        let lifetime = Duration::from_secs(doc.expires_in.unwrap_or(60).max(60));
        let expires = Instant::now() + lifetime.saturating_sub(Duration::from_secs(10));
        if call.credentials.is_none() {
            self.tokens.lock().expect("tokens").insert(
                key,
                Token {
                    value: value.clone(),
                    expires,
                },
            );
        }
        Ok(value)
    }
}

impl Transport {
    /// The refresh token the last login to `host` got, if any.
    pub(crate) fn take_refresh_token(&self, host: &str) -> Option<String> {
        self.refresh_tokens
            .lock()
            .expect("refresh tokens")
            .remove(host)
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

fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?;
    value.trim().parse::<u64>().ok().map(Duration::from_secs)
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
