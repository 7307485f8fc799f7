//! A real registry for tests: Debian's `docker-registry` (the reference
//! distribution registry) on a free loopback port with filesystem storage
//! in a temp dir, in three set-ups ([`Auth`]): none, htpasswd Basic auth,
//! and token auth through a [`TokenServer`] thread that issues RS256 JWTs
//! (`x5c` header, a self-signed certificate in the registry's
//! `rootcertbundle`) the way Docker Hub's auth service does. A [`Proxy`]
//! between client and registry injects faults ([`Fault`]): a dropped
//! connection mid-body, an error status (503, 429 with `Retry-After`), a
//! slow body, corrupted bytes.
//!
//! Self-contained (std only; `openssl` and `htpasswd` commands) so crate
//! tests (`#[path = "../../tests/common/registry.rs"] mod registry;`) and
//! the CLI's end-to-end tests share it. Everything started is stopped and
//! every temp dir removed on drop.
#![allow(dead_code)]

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The service name the token set-up uses.
pub const TOKEN_SERVICE: &str = "rdock-test-registry";
const TOKEN_ISSUER: &str = "rdock-test-issuer";

/// How the registry authenticates.
#[derive(Clone, Debug)]
pub enum Auth {
    /// Anyone may pull and push.
    None,
    /// HTTP Basic against an htpasswd file (bcrypt) with these users.
    Htpasswd(Vec<(String, String)>),
    /// Bearer tokens from a [`TokenServer`]: these users get every action
    /// they ask for; anonymous callers get `pull` if `anonymous_pull`.
    Token {
        users: Vec<(String, String)>,
        anonymous_pull: bool,
    },
}

/// A unique, fresh temporary folder, removed by its owner's drop.
pub fn temp_dir(what: &str) -> PathBuf {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("rdock-{what}-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("creating temp dir");
    dir
}

/// A [`temp_dir`] removed when dropped, also when a test fails.
#[derive(Debug)]
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(what: &str) -> TempDir {
        TempDir(temp_dir(what))
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn need(cmd: &str, package: &str) {
    let found = Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {cmd}"))
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        found,
        "{cmd} not found: apt-get install {package} (scripts/setup-debian.sh)"
    );
}

/// A running `docker-registry`.
#[derive(Debug)]
pub struct Registry {
    child: Child,
    dir: PathBuf,
    port: u16,
    token: Option<TokenServer>,
}

impl Registry {
    /// Starts a registry with `auth`; panics (naming the package) if the
    /// tools are missing.
    pub fn start(auth: Auth) -> Registry {
        need("docker-registry", "docker-registry");
        let dir = temp_dir("registry");
        let token = match &auth {
            Auth::Token {
                users,
                anonymous_pull,
            } => Some(TokenServer::start(&dir, users.clone(), *anonymous_pull)),
            _ => None,
        };
        let auth_yaml = match &auth {
            Auth::None => String::new(),
            Auth::Htpasswd(users) => {
                need("htpasswd", "apache2-utils");
                let file = dir.join("htpasswd");
                let mut text = String::new();
                for (user, pass) in users {
                    let out = Command::new("htpasswd")
                        .args(["-nbB", user, pass])
                        .output()
                        .expect("running htpasswd");
                    assert!(out.status.success(), "htpasswd failed");
                    text.push_str(String::from_utf8_lossy(&out.stdout).trim());
                    text.push('\n');
                }
                std::fs::write(&file, text).expect("writing htpasswd");
                format!(
                    "auth:\n  htpasswd:\n    realm: rdock-test\n    path: {}\n",
                    file.display()
                )
            }
            Auth::Token { .. } => {
                let t = token.as_ref().expect("token server");
                format!(
                    "auth:\n  token:\n    realm: {}\n    service: {TOKEN_SERVICE}\n    issuer: {TOKEN_ISSUER}\n    rootcertbundle: {}\n",
                    t.realm(),
                    t.cert.display()
                )
            }
        };
        // The port is picked free then handed over; on the rare clash the
        // registry fails to bind and we try another.
        for _ in 0..5 {
            let port = free_port();
            let config = dir.join("config.yml");
            std::fs::write(
                &config,
                format!(
                    "version: 0.1\nlog:\n  level: warn\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: {data}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:{port}\n  secret: rdock-test-secret\n{auth_yaml}",
                    data = dir.join("data").display()
                ),
            )
            .expect("writing registry config");
            let log = std::fs::File::create(dir.join("registry.log")).expect("log file");
            let child = Command::new("docker-registry")
                .arg("serve")
                .arg(&config)
                .stdin(Stdio::null())
                .stdout(log.try_clone().expect("log file"))
                .stderr(log)
                .spawn()
                .expect("starting docker-registry");
            let mut reg = Registry {
                child,
                dir: dir.clone(),
                port,
                token: None,
            };
            if reg.wait_ready() {
                reg.token = token;
                return reg;
            }
            // Dropping `reg` would remove `dir`: stop the child only.
            let _ = reg.child.kill();
            let _ = reg.child.wait();
            std::mem::forget(reg);
        }
        panic!(
            "docker-registry did not start: {}",
            std::fs::read_to_string(dir.join("registry.log")).unwrap_or_default()
        );
    }

    fn wait_ready(&mut self) -> bool {
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return false;
            }
            if let Ok((status, _, _)) = http_get(&self.host(), "/v2/", &[]) {
                if status == 200 || status == 401 {
                    return true;
                }
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        false
    }

    /// `127.0.0.1:PORT`: the registry's domain in image references.
    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// The port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The token server of an [`Auth::Token`] registry.
    pub fn token_server(&self) -> Option<&TokenServer> {
        self.token.as_ref()
    }

    /// The registry's storage root.
    pub fn storage(&self) -> PathBuf {
        self.dir.join("data")
    }

    /// What the registry logged.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("registry.log")).unwrap_or_default()
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.token.take();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("binding a free port");
    l.local_addr().expect("local addr").port()
}

/// A minimal HTTP/1.1 GET: (status, headers lower-cased, body).
pub fn http_get(
    host: &str,
    path: &str,
    headers: &[(&str, &str)],
) -> std::io::Result<(u16, HashMap<String, String>, Vec<u8>)> {
    let mut s = TcpStream::connect(host)?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut req = format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes())?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)?;
    let (head, body) = split_head(&raw).ok_or(std::io::ErrorKind::InvalidData)?;
    let (status, headers) = parse_response_head(head);
    Ok((status, headers, body.to_vec()))
}

fn split_head(raw: &[u8]) -> Option<(&[u8], &[u8])> {
    let at = raw.windows(4).position(|w| w == b"\r\n\r\n")?;
    Some((&raw[..at + 4], &raw[at + 4..]))
}

fn parse_response_head(head: &[u8]) -> (u16, HashMap<String, String>) {
    let text = String::from_utf8_lossy(head);
    let mut lines = text.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    (status, headers)
}

/// One request as a server here saw it.
#[derive(Clone, Debug)]
pub struct Request {
    pub method: String,
    /// Path and query.
    pub target: String,
    /// Header names lower-cased.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    fn read(reader: &mut BufReader<TcpStream>) -> Option<Request> {
        let mut line = String::new();
        if reader.read_line(&mut line).ok()? == 0 {
            return None;
        }
        let mut parts = line.split_whitespace();
        let method = parts.next()?.to_owned();
        let target = parts.next()?.to_owned();
        let mut headers = Vec::new();
        loop {
            let mut l = String::new();
            reader.read_line(&mut l).ok()?;
            let l = l.trim_end();
            if l.is_empty() {
                break;
            }
            if let Some((k, v)) = l.split_once(':') {
                headers.push((k.trim().to_ascii_lowercase(), v.trim().to_owned()));
            }
        }
        let mut req = Request {
            method,
            target,
            headers,
            body: Vec::new(),
        };
        if req
            .header("transfer-encoding")
            .is_some_and(|v| v.contains("chunked"))
        {
            loop {
                let mut size = String::new();
                reader.read_line(&mut size).ok()?;
                let n = usize::from_str_radix(size.trim().split(';').next()?, 16).ok()?;
                let mut chunk = vec![0; n + 2];
                reader.read_exact(&mut chunk).ok()?;
                if n == 0 {
                    break;
                }
                req.body.extend_from_slice(&chunk[..n]);
            }
            req.headers.retain(|(k, _)| k != "transfer-encoding");
            let len = req.body.len().to_string();
            req.headers.push(("content-length".into(), len));
        } else if let Some(n) = req
            .header("content-length")
            .and_then(|v| v.parse::<usize>().ok())
        {
            req.body = vec![0; n];
            reader.read_exact(&mut req.body).ok()?;
        }
        Some(req)
    }

    /// Query parameter values by name, in order.
    pub fn query(&self, name: &str) -> Vec<String> {
        let Some((_, q)) = self.target.split_once('?') else {
            return Vec::new();
        };
        q.split('&')
            .filter_map(|kv| kv.split_once('='))
            .filter(|(k, _)| *k == name)
            .map(|(_, v)| percent_decode(v))
            .collect()
    }
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("zz");
                match u8::from_str_radix(hex, 16) {
                    Ok(b) => {
                        out.push(b);
                        i += 2;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A thread serving connections on a loopback listener until dropped.
#[derive(Debug)]
struct Server {
    addr: String,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Server {
    fn start(handle: impl Fn(TcpStream) + Send + Sync + 'static) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").expect("binding a loopback port");
        listener
            .set_nonblocking(true)
            .expect("nonblocking listener");
        let addr = listener.local_addr().expect("local addr").to_string();
        let stop = Arc::new(AtomicBool::new(false));
        let handle = Arc::new(handle);
        let stopping = stop.clone();
        let thread = std::thread::spawn(move || {
            while !stopping.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((stream, _)) => {
                        let _ = stream.set_nonblocking(false);
                        let _ = stream.set_read_timeout(Some(Duration::from_secs(30)));
                        let h = handle.clone();
                        std::thread::spawn(move || h(stream));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        Server {
            addr,
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The scopes one token request asked for and what it was granted.
#[derive(Clone, Debug)]
pub struct TokenRequest {
    /// The authenticated user, if any.
    pub account: Option<String>,
    /// `scope` parameters as sent.
    pub scopes: Vec<String>,
    /// HTTP status answered.
    pub status: u16,
}

/// A token service like Docker Hub's: `GET /token?service=&scope=...`
/// with optional Basic credentials, answering `{"token": JWT, ...}`.
#[derive(Debug)]
pub struct TokenServer {
    server: Server,
    cert: PathBuf,
    log: Arc<Mutex<Vec<TokenRequest>>>,
}

impl TokenServer {
    fn start(dir: &Path, users: Vec<(String, String)>, anonymous_pull: bool) -> TokenServer {
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
        let server = Server::start(move |stream| {
            let mut reader = BufReader::new(stream.try_clone().expect("clone stream"));
            let Some(req) = Request::read(&mut reader) else {
                return;
            };
            let (status, body) = answer_token(&req, &users, anonymous_pull, &key, &x5c, &logged);
            let _ = write_response(
                &stream,
                status,
                &[("Content-Type", "application/json")],
                body.as_bytes(),
            );
        });
        TokenServer { server, cert, log }
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

fn answer_token(
    req: &Request,
    users: &[(String, String)],
    anonymous_pull: bool,
    key: &Path,
    x5c: &str,
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
    let header = format!(r#"{{"typ":"JWT","alg":"RS256","x5c":["{x5c}"]}}"#);
    let claims = format!(
        r#"{{"iss":"{TOKEN_ISSUER}","sub":"{}","aud":"{TOKEN_SERVICE}","exp":{},"nbf":{},"iat":{now},"jti":"{now}-{}","access":[{}]}}"#,
        account.as_deref().unwrap_or(""),
        now + 300,
        now - 10,
        JTI.fetch_add(1, Ordering::Relaxed),
        access.join(",")
    );
    let signing_input = format!(
        "{}.{}",
        base64(header.as_bytes(), URL_ALPHABET, false),
        base64(claims.as_bytes(), URL_ALPHABET, false)
    );
    let sig = rs256(key, signing_input.as_bytes());
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

fn write_response(
    mut stream: &TcpStream,
    status: u16,
    headers: &[(&str, &str)],
    body: &[u8],
) -> std::io::Result<()> {
    let mut head = format!(
        "HTTP/1.1 {status} {}\r\nContent-Length: {}\r\nConnection: close\r\n",
        reason(status),
        body.len()
    );
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes())?;
    stream.write_all(body)?;
    stream.flush()?;
    let _ = stream.shutdown(Shutdown::Both);
    Ok(())
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        404 => "Not Found",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        _ => "Status",
    }
}

/// What a [`Proxy`] does to a matching exchange.
#[derive(Clone, Debug)]
pub enum Fault {
    /// Forward, but cut the response body after this many bytes.
    DropBody(usize),
    /// Answer this status (with a registry error document, and
    /// `Retry-After` seconds if given) without forwarding.
    Status {
        status: u16,
        retry_after: Option<u32>,
    },
    /// Forward, sending the response body at about this rate.
    Slow { bytes_per_sec: usize },
    /// Forward with one byte of the body changed.
    Corrupt,
    /// Forward this many body bytes, then send nothing more for five
    /// seconds (a stalled connection) before closing.
    Stall(usize),
}

#[derive(Debug)]
struct Rule {
    method: String,
    path_contains: String,
    fault: Fault,
    times: usize,
}

/// One exchange through the proxy.
#[derive(Clone, Debug)]
pub struct Exchange {
    pub method: String,
    pub target: String,
    /// The request's `Range` header.
    pub range: Option<String>,
    /// Status sent to the client.
    pub status: u16,
    /// The fault applied, if any.
    pub fault: Option<Fault>,
}

/// A TCP proxy in front of a registry, one request per connection,
/// applying [`Fault`]s to matching requests.
#[derive(Debug)]
pub struct Proxy {
    server: Server,
    rules: Arc<Mutex<Vec<Rule>>>,
    log: Arc<Mutex<Vec<Exchange>>>,
}

impl Proxy {
    /// A proxy forwarding to `upstream` (`host:port`).
    pub fn start(upstream: &str) -> Proxy {
        let rules: Arc<Mutex<Vec<Rule>>> = Arc::new(Mutex::new(Vec::new()));
        let log = Arc::new(Mutex::new(Vec::new()));
        let (r, l, up) = (rules.clone(), log.clone(), upstream.to_owned());
        let server = Server::start(move |stream| proxy_connection(stream, &up, &r, &l));
        Proxy { server, rules, log }
    }

    /// `127.0.0.1:PORT`.
    pub fn host(&self) -> String {
        self.server.addr.clone()
    }

    /// Applies `fault` to the next `times` requests with this method whose
    /// path contains `path_contains`.
    pub fn fault(&self, method: &str, path_contains: &str, fault: Fault, times: usize) {
        self.rules.lock().expect("rules").push(Rule {
            method: method.to_owned(),
            path_contains: path_contains.to_owned(),
            fault,
            times,
        });
    }

    /// Every exchange so far.
    pub fn exchanges(&self) -> Vec<Exchange> {
        self.log.lock().expect("proxy log").clone()
    }
}

fn proxy_connection(
    client: TcpStream,
    upstream: &str,
    rules: &Mutex<Vec<Rule>>,
    log: &Mutex<Vec<Exchange>>,
) {
    let mut reader = BufReader::new(client.try_clone().expect("clone stream"));
    let Some(req) = Request::read(&mut reader) else {
        return;
    };
    let path = req.target.split('?').next().unwrap_or("").to_owned();
    let fault = {
        let mut rules = rules.lock().expect("rules");
        let hit = rules
            .iter_mut()
            .find(|r| r.times > 0 && r.method == req.method && path.contains(&r.path_contains));
        hit.map(|r| {
            r.times -= 1;
            r.fault.clone()
        })
    };
    let record = |status| {
        log.lock().expect("proxy log").push(Exchange {
            method: req.method.clone(),
            target: req.target.clone(),
            range: req.header("range").map(str::to_owned),
            status,
            fault: fault.clone(),
        })
    };
    if let Some(Fault::Status {
        status,
        retry_after,
    }) = &fault
    {
        let code = if *status == 429 {
            "TOOMANYREQUESTS"
        } else {
            "UNAVAILABLE"
        };
        let body = format!(r#"{{"errors":[{{"code":"{code}","message":"injected {status}"}}]}}"#);
        let secs = retry_after.map(|s| s.to_string());
        let mut headers = vec![("Content-Type", "application/json")];
        if let Some(s) = &secs {
            headers.push(("Retry-After", s));
        }
        record(*status);
        let _ = write_response(&client, *status, &headers, body.as_bytes());
        return;
    }
    let Ok(mut up) = TcpStream::connect(upstream) else {
        record(502);
        let _ = write_response(&client, 502, &[], b"");
        return;
    };
    let mut head = format!("{} {} HTTP/1.1\r\n", req.method, req.target);
    for (k, v) in &req.headers {
        if k != "connection" {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
    }
    head.push_str("Connection: close\r\n\r\n");
    if up.write_all(head.as_bytes()).is_err() || up.write_all(&req.body).is_err() {
        return;
    }
    let mut raw = Vec::new();
    let _ = up.read_to_end(&mut raw);
    let Some((head, body)) = split_head(&raw) else {
        return;
    };
    let (status, _) = parse_response_head(head);
    record(status);
    let mut body = body.to_vec();
    let mut client = client;
    let _ = client.write_all(head);
    match fault {
        Some(Fault::DropBody(after)) => {
            let _ = client.write_all(&body[..after.min(body.len())]);
            let _ = client.flush();
        }
        Some(Fault::Slow { bytes_per_sec }) => {
            let piece = (bytes_per_sec / 10).max(1);
            for chunk in body.chunks(piece) {
                if client.write_all(chunk).is_err() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        }
        Some(Fault::Stall(after)) => {
            let _ = client.write_all(&body[..after.min(body.len())]);
            let _ = client.flush();
            std::thread::sleep(Duration::from_secs(5));
        }
        Some(Fault::Corrupt) => {
            let at = raw.len() / 3 % body.len().max(1);
            if let Some(b) = body.get_mut(at) {
                *b ^= 0xff;
            }
            let _ = client.write_all(&body);
        }
        _ => {
            let _ = client.write_all(&body);
        }
    }
    let _ = client.flush();
    let _ = client.shutdown(Shutdown::Both);
}
