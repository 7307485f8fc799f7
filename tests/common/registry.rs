//! A real registry for tests: Debian's `docker-registry` (the reference
//! distribution registry) on a free loopback port with filesystem storage
//! in a temp dir, in three set-ups ([`Auth`]): none, htpasswd Basic auth,
//! and token auth through a [`TokenServer`] thread that issues RS256 JWTs
//! (`x5c` header, a self-signed certificate in the registry's
//! `rootcertbundle`) the way Docker Hub's auth service does. A [`Proxy`]
//! between client and registry injects faults ([`Fault`]): a dropped
//! connection mid-body, an error status (503, 429 with `Retry-After`), a
//! slow or stalled body, corrupted bytes, an upload cut off
//! ([`Proxy::fault_after`] spares the first matching requests). The token
//! server can refuse with 429/503 too ([`TokenServer::fail_next`]) and
//! logs the scopes asked for ([`TokenServer::requests`]).
//!
//! Self-contained (std only; `openssl` and `htpasswd` commands; the token
//! server and the proxy are in `registry_token.rs` and
//! `registry_proxy.rs` beside this file) so crate
//! tests (`#[path = "../../tests/common/registry.rs"] mod registry;`) and
//! the CLI's end-to-end tests share it. Everything started is stopped and
//! every temp dir removed on drop.
#![allow(dead_code)]

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{IpAddr, Ipv4Addr, Shutdown, TcpListener, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

// Files beside this one, so both ways of including it (crate tests and
// the CLI's tests) find them.
#[path = "registry_proxy.rs"]
mod proxy;
#[path = "registry_token.rs"]
mod token;

#[allow(unused_imports)]
pub use proxy::{Exchange, Fault, Proxy, Tunnel};
#[allow(unused_imports)]
pub use token::{TokenRequest, TokenServer};

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

/// An address of this machine that is not loopback, if it has one: a
/// registry reached there is spoken to over HTTPS unless it is listed as
/// insecure. The address a UDP socket would send from (nothing is sent).
pub fn outside_ip() -> Option<IpAddr> {
    let socket = UdpSocket::bind("0.0.0.0:0").ok()?;
    socket.connect("192.0.2.1:9").ok()?;
    let ip = socket.local_addr().ok()?.ip();
    (!ip.is_loopback() && !ip.is_unspecified()).then_some(ip)
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
    http(host, "GET", path, headers, &[])
}

/// A minimal HTTP/1.1 request with a body: (status, headers lower-cased,
/// body). For putting content into a registry without any client of ours.
pub fn http(
    host: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> std::io::Result<(u16, HashMap<String, String>, Vec<u8>)> {
    let mut s = TcpStream::connect(host)?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes())?;
    s.write_all(body)?;
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
        Server::start_on(IpAddr::V4(Ipv4Addr::LOCALHOST), handle)
    }

    /// [`Server::start`] on a free port of `ip`.
    fn start_on(ip: IpAddr, handle: impl Fn(TcpStream) + Send + Sync + 'static) -> Server {
        let listener = TcpListener::bind((ip, 0)).expect("binding a port");
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
