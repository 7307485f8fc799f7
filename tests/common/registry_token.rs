//! The token service of the [`Auth::Token`](super::Auth) set-up: RS256
//! JWTs with an `x5c` header, signed by `openssl` with a key whose
//! self-signed certificate is the registry's `rootcertbundle`.

use std::io::{BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use super::{need, write_response, Request, Server, TOKEN_ISSUER, TOKEN_SERVICE};

/// The scopes one token request asked for and what it was granted.
#[derive(Clone, Debug)]
pub struct TokenRequest {
    /// The authenticated user, if any.
    pub account: Option<String>,
    /// `scope` parameters as sent.
    pub scopes: Vec<String>,
    /// HTTP status answered.
    pub status: u16,
    /// A refresh-token grant (an identity token), not a password.
    pub refresh: bool,
}

/// A token service like Docker Hub's: `GET /token?service=&scope=...`
/// with optional Basic credentials, answering `{"token": JWT, ...}`.
#[derive(Debug)]
pub struct TokenServer {
    server: Server,
    pub(super) cert: PathBuf,
    log: Arc<Mutex<Vec<TokenRequest>>>,
    /// Statuses to answer (with a 1 s `Retry-After`) before serving again.
    failures: Arc<Mutex<Vec<u16>>>,
    /// Seconds from issue to a token's `exp` claim.
    lifetime: Arc<AtomicI64>,
}

impl TokenServer {
    pub(super) fn start(
        dir: &Path,
        users: Vec<(String, String)>,
        anonymous_pull: bool,
    ) -> TokenServer {
        need("openssl", "openssl");
        let key = dir.join("token.key");
        let cert = dir.join("token.pem");
        let out = Command::new("openssl")
            .args([
                "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
            ])
            .args(["-subj", "/CN=rdock-test-token"])
            .arg("-keyout")
            .arg(&key)
            .arg("-out")
            .arg(&cert)
            .output()
            .expect("running openssl req");
        assert!(
            out.status.success(),
            "openssl req: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let der = Command::new("openssl")
            .args(["x509", "-outform", "DER", "-in"])
            .arg(&cert)
            .output()
            .expect("running openssl x509");
        assert!(der.status.success(), "openssl x509 failed");
        let x5c = base64(&der.stdout, STD_ALPHABET, true);
        let log = Arc::new(Mutex::new(Vec::new()));
        let logged = log.clone();
        let failures: Arc<Mutex<Vec<u16>>> = Arc::new(Mutex::new(Vec::new()));
        let failing = failures.clone();
        let lifetime = Arc::new(AtomicI64::new(300));
        let lives = lifetime.clone();
        let server = Server::start(move |stream| {
            let mut reader = BufReader::new(stream.try_clone().expect("clone stream"));
            let Some(req) = Request::read(&mut reader) else {
                return;
            };
            if let Some(status) = failing.lock().expect("failures").pop() {
                let body = br#"{"details":"injected failure"}"#;
                let headers = [("Content-Type", "application/json"), ("Retry-After", "1")];
                let _ = write_response(&stream, status, &headers, body);
                return;
            }
            let exp = lives.load(Ordering::SeqCst);
            let signer = Signer {
                key: &key,
                x5c: &x5c,
                exp,
            };
            let (status, body) = answer_token(&req, &users, anonymous_pull, &signer, &logged);
            let _ = write_response(
                &stream,
                status,
                &[("Content-Type", "application/json")],
                body.as_bytes(),
            );
        });
        TokenServer {
            server,
            cert,
            log,
            failures,
            lifetime,
        }
    }

    /// Tokens issued from now on carry `exp` this many seconds after
    /// issue (300 at start; the registry allows 60 s of clock skew past
    /// it), while the answer's `expires_in` still says 300: a client
    /// learns of the expiry from the registry's 401.
    pub fn set_token_lifetime(&self, secs: i64) {
        self.lifetime.store(secs, Ordering::SeqCst);
    }

    /// Answers the next `times` requests with `status` (and
    /// `Retry-After: 1`) without issuing tokens.
    pub fn fail_next(&self, status: u16, times: usize) {
        self.failures
            .lock()
            .expect("failures")
            .extend(std::iter::repeat_n(status, times));
    }

    /// The realm URL.
    pub fn realm(&self) -> String {
        format!("http://{}/token", self.server.addr)
    }

    /// Every token request so far.
    pub fn requests(&self) -> Vec<TokenRequest> {
        self.log.lock().expect("token log").clone()
    }
}

/// What signs a token, and its lifetime in seconds.
struct Signer<'a> {
    key: &'a Path,
    x5c: &'a str,
    exp: i64,
}

fn answer_token(
    req: &Request,
    users: &[(String, String)],
    anonymous_pull: bool,
    signer: &Signer,
    log: &Mutex<Vec<TokenRequest>>,
) -> (u16, String) {
    // A refresh-token grant (docker's identity tokens) comes as a form.
    let form = Request {
        target: format!("/?{}", String::from_utf8_lossy(&req.body)),
        ..req.clone()
    };
    let refresh_grant = req.method == "POST";
    let params = |name: &str| {
        if refresh_grant {
            form.query(name)
        } else {
            req.query(name)
        }
    };
    let scopes: Vec<String> = if refresh_grant {
        params("scope")
            .iter()
            .flat_map(|s| s.split(' ').filter(|s| !s.is_empty()).map(str::to_owned))
            .collect()
    } else {
        params("scope")
    };
    let record = |account: Option<String>, status| {
        log.lock().expect("token log").push(TokenRequest {
            account,
            scopes: scopes.clone(),
            status,
            refresh: refresh_grant,
        })
    };
    let account = match req
        .header("authorization")
        .and_then(|v| v.strip_prefix("Basic "))
    {
        Some(b64) => {
            let pair = String::from_utf8(base64_decode(b64)).unwrap_or_default();
            let ok = pair
                .split_once(':')
                .filter(|(u, p)| users.iter().any(|(uu, pp)| uu == u && pp == p));
            match ok {
                Some((u, _)) => Some(u.to_owned()),
                None => {
                    record(None, 401);
                    return (
                        401,
                        r#"{"details":"incorrect username or password"}"#.into(),
                    );
                }
            }
        }
        None if refresh_grant => {
            let token = params("refresh_token").concat();
            let user = users
                .iter()
                .find(|(u, _)| token == format!("refresh-{u}"))
                .map(|(u, _)| u.clone());
            if user.is_none() || params("grant_type").concat() != "refresh_token" {
                record(None, 401);
                return (401, r#"{"details":"invalid refresh token"}"#.into());
            }
            user
        }
        None => None,
    };
    if params("service").first().map(String::as_str) != Some(TOKEN_SERVICE) {
        record(account, 400);
        return (400, r#"{"details":"unknown service"}"#.into());
    }
    // Grant what the policy allows; refusing nothing outright is what
    // Docker Hub does (the registry then answers 401 for missing rights).
    let mut access = Vec::new();
    for scope in &scopes {
        let mut parts = scope.splitn(3, ':');
        let (Some(kind), Some(name), Some(actions)) = (parts.next(), parts.next(), parts.next())
        else {
            continue;
        };
        let granted: Vec<&str> = actions
            .split(',')
            .filter(|a| account.is_some() || (anonymous_pull && *a == "pull"))
            .collect();
        let list = granted
            .iter()
            .map(|a| format!("\"{a}\""))
            .collect::<Vec<_>>()
            .join(",");
        access.push(format!(
            r#"{{"type":"{kind}","name":"{name}","actions":[{list}]}}"#
        ));
    }
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    let header = format!(r#"{{"typ":"JWT","alg":"RS256","x5c":["{}"]}}"#, signer.x5c);
    let claims = format!(
        r#"{{"iss":"{TOKEN_ISSUER}","sub":"{}","aud":"{TOKEN_SERVICE}","exp":{},"nbf":{},"iat":{now},"jti":"{now}-{}","access":[{}]}}"#,
        account.as_deref().unwrap_or(""),
        now as i64 + signer.exp,
        now as i64 - 10 + signer.exp.min(0),
        JTI.fetch_add(1, Ordering::Relaxed),
        access.join(",")
    );
    let signing_input = format!(
        "{}.{}",
        base64(header.as_bytes(), URL_ALPHABET, false),
        base64(claims.as_bytes(), URL_ALPHABET, false)
    );
    let sig = rs256(signer.key, signing_input.as_bytes());
    let jwt = format!("{signing_input}.{}", base64(&sig, URL_ALPHABET, false));
    let refresh = match &account {
        Some(u) if params("offline_token").concat() == "true" => {
            format!(r#","refresh_token":"refresh-{u}""#)
        }
        _ => String::new(),
    };
    record(account, 200);
    (
        200,
        format!(r#"{{"token":"{jwt}","access_token":"{jwt}","expires_in":300{refresh}}}"#),
    )
}

static JTI: AtomicUsize = AtomicUsize::new(0);

/// RSASSA-PKCS1-v1_5 with SHA-256, as JWT's RS256 wants it.
fn rs256(key: &Path, input: &[u8]) -> Vec<u8> {
    let mut child = Command::new("openssl")
        .args(["dgst", "-sha256", "-sign"])
        .arg(key)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("running openssl dgst");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input)
        .expect("signing input");
    let out = child.wait_with_output().expect("openssl dgst");
    assert!(out.status.success(), "openssl dgst failed");
    out.stdout
}

const STD_ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const URL_ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

fn base64(data: &[u8], alphabet: &[u8; 64], pad: bool) -> String {
    let mut out = String::new();
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(alphabet[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else if pad {
                out.push('=');
            }
        }
    }
    out
}

fn base64_decode(s: &str) -> Vec<u8> {
    let mut bits = 0u32;
    let mut n = 0;
    let mut out = Vec::new();
    for c in s.bytes() {
        let Some(v) = STD_ALPHABET.iter().position(|a| *a == c) else {
            continue;
        };
        bits = (bits << 6) | v as u32;
        n += 6;
        if n >= 8 {
            n -= 8;
            out.push((bits >> n) as u8);
        }
    }
    out
}
