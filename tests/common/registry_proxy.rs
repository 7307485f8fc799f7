//! The fault-injecting [`Proxy`] between a client and a registry, and a
//! plain TCP [`Tunnel`] that shows a registry at another address.

use std::io::{BufReader, Read, Write};
use std::net::{IpAddr, Shutdown, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::{parse_response_head, split_head, write_response, Request, Server};

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
    /// Forward the request with only this many bytes of its body, then
    /// close both connections without an answer (an upload cut off).
    DropRequest(usize),
    /// Forward the whole body but announce one byte more in
    /// `Content-Length`, then close: the connection fails after the last
    /// real byte.
    OverstateLength,
}

#[derive(Debug)]
struct Rule {
    method: String,
    path_contains: String,
    fault: Fault,
    skip: usize,
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
        self.fault_after(method, path_contains, 0, fault, times);
    }

    /// Like [`Proxy::fault`], but lets the first `skip` matching requests
    /// through untouched.
    pub fn fault_after(
        &self,
        method: &str,
        path_contains: &str,
        skip: usize,
        fault: Fault,
        times: usize,
    ) {
        self.rules.lock().expect("rules").push(Rule {
            method: method.to_owned(),
            path_contains: path_contains.to_owned(),
            fault,
            skip,
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
        hit.and_then(|r| {
            if r.skip > 0 {
                r.skip -= 1;
                return None;
            }
            r.times -= 1;
            Some(r.fault.clone())
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
    if let Some(Fault::DropRequest(n)) = &fault {
        let _ = up.write_all(head.as_bytes());
        let _ = up.write_all(&req.body[..(*n).min(req.body.len())]);
        let _ = up.flush();
        // Let the registry take what it got before the cut.
        std::thread::sleep(Duration::from_millis(200));
        let _ = up.shutdown(Shutdown::Both);
        record(0);
        let _ = client.shutdown(Shutdown::Both);
        return;
    }
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
    if let Some(Fault::OverstateLength) = fault {
        let text = String::from_utf8_lossy(head).into_owned();
        let longer = format!("Content-Length: {}", body.len() + 1);
        let head: Vec<String> = text
            .split("\r\n")
            .map(
                |l| match l.to_ascii_lowercase().starts_with("content-length:") {
                    true => longer.clone(),
                    false => l.to_owned(),
                },
            )
            .collect();
        let _ = client.write_all(head.join("\r\n").as_bytes());
        let _ = client.write_all(&body);
        let _ = client.flush();
        let _ = client.shutdown(Shutdown::Both);
        return;
    }
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

/// A TCP forwarder on another address of this machine to a registry,
/// bytes untouched (a TLS handshake reaches the registry as it is).
#[derive(Debug)]
pub struct Tunnel {
    server: Server,
    connections: Arc<AtomicUsize>,
}

impl Tunnel {
    /// Forwards connections to a free port of `ip` to `upstream`.
    pub fn start(ip: IpAddr, upstream: &str) -> Tunnel {
        let connections = Arc::new(AtomicUsize::new(0));
        let (count, up) = (connections.clone(), upstream.to_owned());
        let server = Server::start_on(ip, move |client| {
            count.fetch_add(1, Ordering::SeqCst);
            let Ok(upstream) = TcpStream::connect(&up) else {
                return;
            };
            let (mut c_in, mut u_out) = (
                client.try_clone().expect("clone"),
                upstream.try_clone().expect("clone"),
            );
            let forward = std::thread::spawn(move || {
                let _ = std::io::copy(&mut c_in, &mut u_out);
                let _ = u_out.shutdown(Shutdown::Write);
            });
            let (mut u_in, mut c_out) = (upstream, client);
            let _ = std::io::copy(&mut u_in, &mut c_out);
            let _ = c_out.shutdown(Shutdown::Both);
            let _ = forward.join();
        });
        Tunnel {
            server,
            connections,
        }
    }

    /// `IP:PORT` (IPv6 in brackets).
    pub fn host(&self) -> String {
        self.server.addr.clone()
    }

    /// Connections accepted so far.
    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }
}
