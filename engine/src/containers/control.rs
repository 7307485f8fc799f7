//! The monitor's control socket: `stop`, `kill` and friends reach the
//! process that owns a running container through an abstract unix socket
//! named after the container's ID (no file to clean up, gone when the
//! monitor dies). One request per connection: a line `kill <signal>` or
//! `stop <signal>`, answered by `ok` or an error line.

use std::io::{BufRead, BufReader, Write};
use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::{SocketAddr, UnixListener, UnixStream};
use std::time::Duration;

use super::error::{ContainerError, Result};
use super::id::ContainerId;

/// A request to the monitor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Request {
    /// Send a signal; `manual` marks a user stop (no restart).
    Signal { sig: i32, manual: bool },
    /// Set the pty's window size (`-t`, on the client's SIGWINCH).
    Resize { rows: u16, cols: u16 },
}

impl Request {
    fn encode(self) -> String {
        match self {
            Request::Signal { sig, manual } => {
                format!("{} {sig}\n", if manual { "stop" } else { "kill" })
            }
            Request::Resize { rows, cols } => format!("resize {rows}x{cols}\n"),
        }
    }

    fn decode(line: &str) -> Option<Request> {
        let (verb, arg) = line.trim().split_once(' ')?;
        match verb {
            "stop" | "kill" => Some(Request::Signal {
                sig: arg.parse().ok()?,
                manual: verb == "stop",
            }),
            "resize" => {
                let (rows, cols) = arg.split_once('x')?;
                Some(Request::Resize {
                    rows: rows.parse().ok()?,
                    cols: cols.parse().ok()?,
                })
            }
            _ => None,
        }
    }
}

fn address(id: &ContainerId) -> std::io::Result<SocketAddr> {
    SocketAddr::from_abstract_name(format!("rdock-ctl-{id}"))
}

/// Serves requests on a thread until the process exits.
pub(crate) fn serve(
    id: &ContainerId,
    handle: impl Fn(Request) -> std::result::Result<(), String> + Send + 'static,
) -> Result<()> {
    let err = |source| ContainerError::Io {
        action: "binding the control socket of",
        path: id.as_str().into(),
        source,
    };
    let listener = UnixListener::bind_addr(&address(id).map_err(err)?).map_err(err)?;
    std::thread::spawn(move || {
        for conn in listener.incoming().flatten() {
            let mut line = String::new();
            let mut reader = BufReader::new(&conn);
            if reader.read_line(&mut line).is_err() {
                continue;
            }
            let answer = match Request::decode(&line) {
                Some(req) => match handle(req) {
                    Ok(()) => "ok\n".to_owned(),
                    Err(e) => format!("{e}\n"),
                },
                None => "unknown request\n".to_owned(),
            };
            let _ = (&conn).write_all(answer.as_bytes());
        }
    });
    Ok(())
}

/// Sends a request; `Ok(false)` when no monitor listens (the container is
/// not running).
pub(crate) fn send(id: &ContainerId, req: Request) -> Result<bool> {
    let fail = |reason: String| ContainerError::Monitor {
        id: id.to_string(),
        reason,
    };
    let addr = address(id).map_err(|e| fail(e.to_string()))?;
    let mut conn = match UnixStream::connect_addr(&addr) {
        Ok(c) => c,
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => return Ok(false),
        Err(e) => return Err(fail(format!("connecting to its monitor: {e}"))),
    };
    let _ = conn.set_read_timeout(Some(Duration::from_secs(10)));
    conn.write_all(req.encode().as_bytes())
        .map_err(|e| fail(format!("writing to its monitor: {e}")))?;
    let mut answer = String::new();
    BufReader::new(&conn)
        .read_line(&mut answer)
        .map_err(|e| fail(format!("reading from its monitor: {e}")))?;
    match answer.trim() {
        "ok" => Ok(true),
        other => Err(fail(other.to_owned())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_round_trip() {
        for req in [
            Request::Signal {
                sig: 15,
                manual: true,
            },
            Request::Signal {
                sig: 9,
                manual: false,
            },
            Request::Resize { rows: 24, cols: 80 },
        ] {
            assert_eq!(Request::decode(&req.encode()), Some(req));
        }
        assert_eq!(Request::decode("bogus"), None);
    }

    #[test]
    fn serves_and_sends() {
        let id = ContainerId::random().unwrap();
        assert!(!send(
            &id,
            Request::Signal {
                sig: 1,
                manual: false
            }
        )
        .unwrap());
        let (tx, rx) = std::sync::mpsc::channel();
        serve(&id, move |r| tx.send(r).map_err(|e| e.to_string())).unwrap();
        assert!(send(
            &id,
            Request::Signal {
                sig: 2,
                manual: true
            }
        )
        .unwrap());
        assert_eq!(
            rx.recv().unwrap(),
            Request::Signal {
                sig: 2,
                manual: true
            }
        );
    }
}
