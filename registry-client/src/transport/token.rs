//! Bearer tokens from a registry's token service: anonymous, with the
//! user's password (asking for a refresh token on a login), or with an
//! identity token (an OAuth2 refresh grant); cached per host and scope
//! until shortly before they expire.

use std::time::{Duration, Instant};

use serde::Deserialize;

use super::ErrorDoc;
use super::{error_chain, is_transient, read_small, render_code, retry_after, Call, Transport};
use crate::error::{Error, Result};

pub(super) struct Token {
    pub(super) value: String,
    pub(super) expires: Instant,
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
    pub(super) fn token(
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
            if let Some(value) = self.cached_token(&key, Instant::now()) {
                return Ok(value);
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

    /// The token cached for `key` if it is still good at `now`.
    fn cached_token(&self, key: &(String, String), now: Instant) -> Option<String> {
        let tokens = self.tokens.lock().expect("tokens");
        tokens
            .get(key)
            .filter(|t| t.expires > now)
            .map(|t| t.value.clone())
    }

    /// The refresh token the last login to `host` got, if any.
    pub(crate) fn take_refresh_token(&self, host: &str) -> Option<String> {
        self.refresh_tokens
            .lock()
            .expect("refresh tokens")
            .remove(host)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::ClientOptions;

    #[test]
    fn a_cached_token_is_used_only_until_it_expires() {
        let http = reqwest::blocking::Client::new();
        let t = Transport::new(http, ClientOptions::default());
        let key = ("reg.example".to_owned(), "repository:a:pull".to_owned());
        let now = Instant::now();
        t.tokens.lock().unwrap().insert(
            key.clone(),
            Token {
                value: "tok".into(),
                expires: now + Duration::from_secs(5),
            },
        );
        assert_eq!(t.cached_token(&key, now).as_deref(), Some("tok"));
        assert_eq!(t.cached_token(&key, now + Duration::from_secs(6)), None);
        let other = ("reg.example".to_owned(), "repository:b:pull".to_owned());
        assert_eq!(t.cached_token(&other, now), None);
    }
}
