//! Authentication against a real `docker-registry`: htpasswd Basic auth
//! and token auth through the harness's token server (JWTs signed with a
//! certificate in the registry's bundle), credentials from docker's
//! config.json (looked up once per registry), login checks, token
//! renewal after expiry, and the 401s a user sees.

#[path = "../../tests/common/registry.rs"]
mod registry;
mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use rdock_registry_client::auth::{Anonymous, DockerConfig, StaticCredentials};
use rdock_registry_client::{Client, CredentialSource, Credentials, ImageRef, Platform, PushedHow};
use registry::{Auth, Registry};
use support::*;

fn users() -> Vec<(String, String)> {
    vec![
        ("alice".into(), "wonderland".into()),
        ("bob".into(), "builder".into()),
    ]
}

fn with_creds(host: &str, user: &str, pass: &str) -> Client {
    let creds = StaticCredentials::new().with(host, Credentials::basic(user, pass));
    Client::new(options(Arc::new(creds))).unwrap()
}

#[test]
fn htpasswd_basic_auth() {
    let reg = Registry::start(Auth::Htpasswd(users()));
    let host = reg.host();
    let repo = repo(&host, "basic/app");
    let image = Image::new(20, &[2000]);

    // Without credentials: docker's 401 line.
    let anon = anonymous();
    let d = image.config_desc();
    let err = push_bytes(&anon, &repo, &d, image.config.clone(), None).unwrap_err();
    assert!(err.is_unauthorized());
    assert_eq!(
        err.to_string(),
        format!(
            "blob {} of {host}/basic/app: unauthorized: authentication required",
            d.digest
        )
    );
    let r: ImageRef = format!("{host}/basic/app:1").parse().unwrap();
    let err = anon.resolve(&r, &Platform::host()).unwrap_err().to_string();
    assert_eq!(
        err,
        format!("manifest for {host}/basic/app:1: unauthorized: authentication required")
    );

    // Wrong password: refused the same way.
    let wrong = with_creds(&host, "alice", "nope");
    let err = wrong.resolve(&r, &Platform::host()).unwrap_err();
    assert!(err.is_unauthorized(), "{err}");

    let alice = with_creds(&host, "alice", "wonderland");
    assert_eq!(image.push(&alice, &repo, "1"), vec![PushedHow::Uploaded; 2]);
    let got = alice.resolve(&r, &Platform::host()).unwrap();
    assert_eq!(got.manifest.digest, image.digest());
    assert_eq!(
        alice.fetch_blob_bytes(&repo, &got.layers[0]).unwrap(),
        image.layers[0]
    );

    // Login checks.
    assert!(anon
        .check_login(&host, &Credentials::basic("bob", "builder"))
        .is_ok());
    let err = anon
        .check_login(&host, &Credentials::basic("bob", "x"))
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("login to {host}: unauthorized: authentication required")
    );
}

#[test]
fn credentials_from_docker_config() {
    let reg = Registry::start(Auth::Htpasswd(users()));
    let host = reg.host();
    let tmp = registry::TempDir::new("dockercfg");
    let dir = tmp.path();
    let path = dir.join("config.json");
    let mut cfg = DockerConfig::load(&path).unwrap();
    cfg.store(
        &format!("http://{host}"),
        &Credentials::basic("bob", "builder"),
    )
    .unwrap();
    let client = Client::new(options(Arc::new(DockerConfig::load(&path).unwrap()))).unwrap();
    let image = Image::new(21, &[100]);
    image.push(&client, &repo(&host, "cfg/app"), "x");
    cfg.erase(&host).unwrap();
    let client = Client::new(options(Arc::new(DockerConfig::load(&path).unwrap()))).unwrap();
    let r: ImageRef = format!("{host}/cfg/app:x").parse().unwrap();
    assert!(client
        .resolve(&r, &Platform::host())
        .unwrap_err()
        .is_unauthorized());
}

#[test]
fn token_auth_with_scopes() {
    let reg = Registry::start(Auth::Token {
        users: users(),
        anonymous_pull: true,
    });
    let host = reg.host();
    let tokens = reg.token_server().unwrap();
    let repo = repo(&host, "tok/app");
    let image = Image::new(30, &[3000, 4000]);

    // Anonymous tokens carry pull only: the registry refuses the push.
    let anon = anonymous();
    let err = push_bytes(
        &anon,
        &repo,
        &image.config_desc(),
        image.config.clone(),
        None,
    )
    .unwrap_err();
    assert!(err.is_unauthorized(), "{err}");
    assert!(err.to_string().contains(": unauthorized: "), "{err}");

    let alice = with_creds(&host, "alice", "wonderland");
    let before = tokens.requests().len();
    assert_eq!(
        image.push(&alice, &repo, "v1"),
        vec![PushedHow::Uploaded; 3]
    );
    let asked: Vec<_> = tokens.requests()[before..].to_vec();
    assert!(
        asked
            .iter()
            .all(|t| t.account.as_deref() == Some("alice") && t.status == 200),
        "{asked:?}"
    );
    assert!(
        asked
            .iter()
            .any(|t| t.scopes == ["repository:tok/app:pull,push"]),
        "{asked:?}"
    );
    // One token serves the whole push: reused until it expires.
    assert_eq!(asked.len(), 1, "{asked:?}");

    // Anonymous pull works with an anonymous token.
    let r: ImageRef = format!("{host}/tok/app:v1").parse().unwrap();
    let got = anon.resolve(&r, &Platform::host()).unwrap();
    assert_eq!(got.manifest.digest, image.digest());
    assert_eq!(
        anon.fetch_blob_bytes(&repo, &got.layers[1]).unwrap(),
        image.layers[1]
    );
    let last = tokens.requests().last().cloned().unwrap();
    assert_eq!(
        (last.account, last.scopes),
        (None, vec!["repository:tok/app:pull".to_owned()])
    );

    // A mount asks for the source's pull scope too.
    let dst = repo_of(&host, "tok/copy");
    let how = push_bytes(
        &alice,
        &dst,
        &image.layer_descs()[0],
        image.layers[0].clone(),
        Some(&repo),
    )
    .unwrap();
    assert_eq!(how, PushedHow::Mounted);
    let last = tokens.requests().last().cloned().unwrap();
    assert_eq!(
        last.scopes,
        ["repository:tok/copy:pull,push", "repository:tok/app:pull"]
    );

    // Bad password: the token service's answer, in one line.
    let err = with_creds(&host, "alice", "bad")
        .resolve(&r, &Platform::host())
        .unwrap_err();
    assert!(err.is_unauthorized());
    assert_eq!(
        err.to_string(),
        format!(
            "getting a token for {host} from {}: 401 Unauthorized: incorrect username or password",
            tokens.realm()
        )
    );

    // Login through the token service: it hands out an identity token,
    // which then works instead of the password (an OAuth2 refresh grant).
    let identity = anon
        .login(&host, &Credentials::basic("bob", "builder"))
        .unwrap()
        .expect("identity token");
    let last = tokens.requests().last().cloned().unwrap();
    assert_eq!(last.account.as_deref(), Some("bob"));
    let by_token = Credentials {
        username: String::new(),
        password: String::new(),
        identity_token: Some(identity),
    };
    let creds = StaticCredentials::new().with(&host, by_token);
    let bob = Client::new(options(Arc::new(creds))).unwrap();
    let other = Image::new(32, &[50]);
    other.push(&bob, &repo_of(&host, "tok/bob"), "1");
    let last = tokens.requests().last().cloned().unwrap();
    assert_eq!(last.account.as_deref(), Some("bob"));
    assert_eq!(last.scopes, ["repository:tok/bob:pull,push"]);
    let stale = Credentials {
        identity_token: Some("refresh-nobody".into()),
        ..Credentials::basic("", "")
    };
    let creds = StaticCredentials::new().with(&host, stale);
    let err = Client::new(options(Arc::new(creds)))
        .unwrap()
        .resolve(&r, &Platform::host())
        .unwrap_err();
    assert!(
        err.to_string()
            .ends_with(": 401 Unauthorized: invalid refresh token"),
        "{err}"
    );
    assert!(anon
        .check_login(&host, &Credentials::basic("bob", "nope"))
        .unwrap_err()
        .is_unauthorized());
}

#[test]
fn token_auth_without_anonymous_pull() {
    let reg = Registry::start(Auth::Token {
        users: users(),
        anonymous_pull: false,
    });
    let host = reg.host();
    let image = Image::new(31, &[10]);
    image.push(
        &with_creds(&host, "bob", "builder"),
        &repo(&host, "priv/app"),
        "1",
    );
    let r: ImageRef = format!("{host}/priv/app:1").parse().unwrap();
    let anon = Client::new(options(Arc::new(Anonymous))).unwrap();
    let err = anon.resolve(&r, &Platform::host()).unwrap_err();
    assert!(err.is_unauthorized());
    assert!(
        err.to_string()
            .starts_with(&format!("manifest for {host}/priv/app:1: unauthorized: ")),
        "{err}"
    );
    let bob = with_creds(&host, "bob", "builder");
    assert_eq!(
        bob.resolve(&r, &Platform::host()).unwrap().manifest.digest,
        image.digest()
    );
}

#[test]
fn token_service_overload_is_retried() {
    let reg = Registry::start(Auth::Token {
        users: users(),
        anonymous_pull: true,
    });
    let host = reg.host();
    let tokens = reg.token_server().unwrap();
    let image = Image::new(33, &[10]);
    image.push(
        &with_creds(&host, "bob", "builder"),
        &repo(&host, "busy/app"),
        "1",
    );
    let r: ImageRef = format!("{host}/busy/app:1").parse().unwrap();
    tokens.fail_next(429, 1);
    tokens.fail_next(503, 1);
    let start = std::time::Instant::now();
    let got = anonymous().resolve(&r, &Platform::host()).unwrap();
    assert_eq!(got.manifest.digest, image.digest());
    // Both answers said to wait a second.
    assert!(start.elapsed() >= std::time::Duration::from_secs(2));

    tokens.fail_next(503, 10);
    let err = anonymous().resolve(&r, &Platform::host()).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "getting a token for {host} from {}: 503 Service Unavailable: injected failure",
            tokens.realm()
        )
    );
}

#[test]
fn registry_checks_token_scopes() {
    let reg = Registry::start(Auth::Token {
        users: users(),
        anonymous_pull: true,
    });
    let host = reg.host();
    let image = Image::new(34, &[10]);
    let alice = with_creds(&host, "alice", "wonderland");
    image.push(&alice, &repo(&host, "scoped/a"), "1");
    image.push(&alice, &repo(&host, "scoped/b"), "1");
    // A token for scoped/a, asked for by hand.
    let realm = reg.token_server().unwrap().realm();
    let token_host = realm
        .trim_start_matches("http://")
        .trim_end_matches("/token");
    let path = format!(
        "/token?service={}&scope=repository:scoped/a:pull",
        registry::TOKEN_SERVICE
    );
    let (status, _, body) = registry::http_get(token_host, &path, &[]).unwrap();
    assert_eq!(status, 200);
    let body = String::from_utf8(body).unwrap();
    let token = body
        .split("\"token\":\"")
        .nth(1)
        .and_then(|t| t.split('"').next())
        .unwrap();
    let bearer = format!("Bearer {token}");
    let get = |repo: &str| {
        let path = format!("/v2/{repo}/manifests/1");
        let accept = rdock_registry_client::media_type::OCI_MANIFEST;
        registry::http_get(
            &host,
            &path,
            &[("Authorization", &bearer), ("Accept", accept)],
        )
        .unwrap()
        .0
    };
    assert_eq!(get("scoped/a"), 200);
    assert_eq!(get("scoped/b"), 401);
}

fn repo_of(host: &str, path: &str) -> rdock_registry_client::Repository {
    repo(host, path)
}

/// A credential source that counts its lookups: each would be a
/// `docker-credential-*` process run.
#[derive(Debug)]
struct Counting {
    inner: StaticCredentials,
    lookups: AtomicUsize,
}

impl CredentialSource for Counting {
    fn get(&self, registry: &str) -> rdock_registry_client::Result<Option<Credentials>> {
        self.lookups.fetch_add(1, Ordering::SeqCst);
        self.inner.get(registry)
    }
}

#[test]
fn basic_auth_looks_credentials_up_once_per_registry() {
    let reg = Registry::start(Auth::Htpasswd(users()));
    let host = reg.host();
    let counting = Arc::new(Counting {
        inner: StaticCredentials::new().with(&host, Credentials::basic("bob", "builder")),
        lookups: AtomicUsize::new(0),
    });
    let client = Client::new(options(counting.clone())).unwrap();
    let image = Image::new(26, &[1500, 2500, 3500]);
    // Every blob's HEAD, POST and PUT and the manifest's PUT carry them.
    image.push(&client, &repo(&host, "count/app"), "1");
    let r: ImageRef = format!("{host}/count/app:1").parse().unwrap();
    client.resolve(&r, &Platform::host()).unwrap();
    assert_eq!(counting.lookups.load(Ordering::SeqCst), 1);
}

#[test]
fn an_expired_token_is_renewed() {
    let reg = Registry::start(Auth::Token {
        users: users(),
        anonymous_pull: true,
    });
    let host = reg.host();
    let tokens = reg.token_server().expect("token server");
    let repo = repo(&host, "renew/app");
    let image = Image::new(27, &[1000]);
    image.push(&with_creds(&host, "alice", "wonderland"), &repo, "1");

    // Tokens the registry takes for about two more seconds, promised for
    // 300: the client keeps using one until the registry refuses it.
    tokens.set_token_lifetime(-58);
    let client = anonymous();
    client.fetch_manifest(&repo, "1").unwrap();
    let issued = tokens.requests().len();
    client.fetch_manifest(&repo, "1").unwrap();
    assert_eq!(tokens.requests().len(), issued, "a live token is reused");
    std::thread::sleep(Duration::from_secs(4));
    tokens.set_token_lifetime(300);
    let again = client.fetch_manifest(&repo, "1").unwrap();
    assert_eq!(again.digest, image.digest());
    let requests = tokens.requests();
    assert_eq!(requests.len(), issued + 1, "{requests:?}");
    let renewal = requests.last().unwrap();
    assert_eq!(renewal.scopes, ["repository:renew/app:pull"]);
    assert_eq!(renewal.status, 200);
}
