//! [`Client`]: a blocking registry client, cheap to clone and shared by
//! threads (one connection pool, one token cache), configured with
//! [`ClientOptions`]. Its operations live beside it: manifests in
//! `manifest.rs`, blobs in `blob.rs`.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use reqwest::Method;

use crate::auth::{Anonymous, CredentialSource, Credentials};
use crate::error::{Error, Result};
use crate::transport::{status_error, Call, Transport};

/// How transient failures are retried.
#[derive(Clone, Debug)]
pub struct RetryPolicy {
    /// Tries per request (and per blob transfer without progress),
    /// including the first.
    pub attempts: u32,
    /// Wait before the second try; doubled each time.
    pub base_delay: Duration,
    /// Longest wait between tries.
    pub max_delay: Duration,
    /// Longest `Retry-After` honoured.
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> RetryPolicy {
        RetryPolicy {
            attempts: 5,
            base_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(10),
            max_retry_after: Duration::from_secs(60),
        }
    }
}

impl RetryPolicy {
    pub(crate) fn backoff(&self, attempt: u32) -> Duration {
        let factor = 1u32 << attempt.saturating_sub(1).min(16);
        self.base_delay.saturating_mul(factor).min(self.max_delay)
    }
}

/// Settings of a [`Client`].
#[derive(Clone, Debug)]
pub struct ClientOptions {
    /// `--insecure-registry` entries: registries spoken to over plain
    /// HTTP, as docker reads them: `host[:port]` matched exactly (a bare
    /// host does not cover its ports) or a CIDR covering the addresses
    /// the host is or resolves to. `127.0.0.0/8` and `::1` always are.
    pub insecure_registries: Vec<String>,
    /// The `User-Agent` header.
    pub user_agent: String,
    /// Where credentials come from.
    pub credentials: Arc<dyn CredentialSource>,
    /// Retries of transient failures.
    pub retry: RetryPolicy,
    /// Limit for connecting.
    pub connect_timeout: Duration,
    /// Limit for each request and each read of a body without progress.
    pub timeout: Duration,
    /// Blobs up to this size are pushed with one PUT; larger ones in
    /// PATCH chunks of this size.
    pub chunk_size: u64,
}

impl Default for ClientOptions {
    fn default() -> ClientOptions {
        ClientOptions {
            insecure_registries: Vec::new(),
            user_agent: format!("rdock/{}", env!("CARGO_PKG_VERSION")),
            credentials: Arc::new(Anonymous),
            retry: RetryPolicy::default(),
            connect_timeout: Duration::from_secs(15),
            timeout: Duration::from_secs(120),
            chunk_size: 16 << 20,
        }
    }
}

/// Called with the bytes transferred so far of one blob.
#[derive(Clone)]
pub struct Progress(Arc<dyn Fn(u64) + Send + Sync>);

impl Progress {
    /// Reports to `f`.
    pub fn new(f: impl Fn(u64) + Send + Sync + 'static) -> Progress {
        Progress(Arc::new(f))
    }

    /// Reports nowhere.
    pub fn none() -> Progress {
        Progress::new(|_| {})
    }

    pub(crate) fn report(&self, done: u64) {
        (self.0)(done)
    }
}

impl fmt::Debug for Progress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Progress")
    }
}

/// A blocking registry client. Clones share connections and tokens.
#[derive(Clone)]
pub struct Client {
    pub(crate) t: Arc<Transport>,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("options", &self.t.opts)
            .finish()
    }
}

impl Client {
    /// A client with `options`.
    pub fn new(options: ClientOptions) -> Result<Client> {
        let http = reqwest::blocking::Client::builder()
            .user_agent(options.user_agent.clone())
            .connect_timeout(options.connect_timeout)
            .timeout(options.timeout)
            .pool_max_idle_per_host(16)
            .build()
            .map_err(|e| Error::ClientSetup {
                cause: crate::transport::error_chain(&e),
            })?;
        Ok(Client {
            t: Arc::new(Transport::new(http, options)),
        })
    }

    /// `scheme://host` the client uses for a registry domain
    /// (`docker.io` is `https://registry-1.docker.io`).
    pub fn base_url(&self, domain: &str) -> String {
        self.t.base_url(domain)
    }

    /// Checks `credentials` against `server` as `docker login` does: the
    /// registry's `/v2/` with Basic auth, or a token from its token
    /// service. `server` is what the user typed (`localhost:5000`,
    /// `docker.io`, `https://index.docker.io/v1/`).
    pub fn check_login(&self, server: &str, credentials: &Credentials) -> Result<()> {
        self.login(server, credentials).map(|_| ())
    }

    /// [`Client::check_login`], also returning the identity (refresh)
    /// token the registry's token service issued for these credentials,
    /// if it did: docker stores it (`identitytoken`) instead of the
    /// password.
    pub fn login(&self, server: &str, credentials: &Credentials) -> Result<Option<String>> {
        let domain = login_domain(server);
        let base = self.t.base_url(&domain);
        let url = format!("{base}/v2/");
        let what = format!("login to {domain}");
        let mut call = Call::new(Method::GET, url.clone(), &domain, &what);
        call.credentials = Some(credentials);
        let resp = self.t.send(&call)?;
        let host = crate::transport::host_of(&url);
        let refresh = self.t.take_refresh_token(&host);
        if resp.status().is_success() {
            return Ok(refresh);
        }
        Err(status_error(&what, resp))
    }
}

/// The registry domain for what a user passes to `login`.
fn login_domain(server: &str) -> String {
    let key = crate::auth::config_key(server);
    if key == crate::auth::DOCKER_HUB_KEY {
        crate::reference::DEFAULT_DOMAIN.to_owned()
    } else {
        key
    }
}
