//! The child-to-parent report pipe. Before `execve` the child sends the mount
//! stubs it created ([`Report::Stub`]) and, on failure, one typed error
//! ([`Report::Failure`]). The pipe is close-on-exec, so a clean EOF with no
//! failure means the command is running.

use std::os::fd::AsFd;

use nix::errno::Errno;

use crate::error::{Error, Stage};

/// One message from the child.
#[derive(Debug)]
pub(crate) enum Report {
    /// A path (relative to the root) the child created as a mount point.
    Stub(String),
    /// A setup or exec failure.
    Failure(Error),
}

const MAX_DETAIL: usize = 2048;

/// Encodes one message; every message is under `PIPE_BUF`, so one write is
/// atomic.
pub(crate) fn encode(report: &Report) -> Vec<u8> {
    let (kind, stage, errno, detail) = match report {
        Report::Stub(p) => (b'S', Stage::Fork, Errno::UnknownErrno, p.as_str()),
        Report::Failure(e) => match e {
            Error::Setup {
                stage,
                detail,
                errno,
            } => (b'E', *stage, *errno, detail.as_str()),
            Error::ExecNotFound { program } => (b'N', Stage::Fork, Errno::ENOENT, program.as_str()),
            Error::Exec { program, errno } => (b'X', Stage::Fork, *errno, program.as_str()),
            Error::UserNotFound { user } => (b'U', Stage::User, Errno::ENOENT, user.as_str()),
            Error::GroupNotFound { group } => (b'G', Stage::User, Errno::ENOENT, group.as_str()),
            _ => (b'L', Stage::Fork, Errno::UnknownErrno, ""),
        },
    };
    let mut end = detail.len().min(MAX_DETAIL);
    while !detail.is_char_boundary(end) {
        end -= 1;
    }
    let detail = &detail.as_bytes()[..end];
    let mut out = Vec::with_capacity(8 + detail.len());
    out.push(kind);
    out.push(stage.to_byte());
    out.extend_from_slice(&(errno as i32).to_le_bytes());
    out.extend_from_slice(&(detail.len() as u16).to_le_bytes());
    out.extend_from_slice(detail);
    out
}

/// Sends one message, ignoring errors: a vanished parent cannot be told.
pub(crate) fn send(fd: impl AsFd, report: &Report) {
    let _ = nix::unistd::write(fd, &encode(report));
}

/// Decodes everything read from the pipe until EOF.
pub(crate) fn decode(mut buf: &[u8]) -> Vec<Report> {
    let mut out = Vec::new();
    while buf.len() >= 8 {
        let kind = buf[0];
        let stage = Stage::from_byte(buf[1]).unwrap_or(Stage::Fork);
        let errno = Errno::from_raw(i32::from_le_bytes([buf[2], buf[3], buf[4], buf[5]]));
        let len = usize::from(u16::from_le_bytes([buf[6], buf[7]]));
        let Some(detail) = buf.get(8..8 + len) else {
            break;
        };
        let detail = String::from_utf8_lossy(detail).into_owned();
        buf = &buf[8 + len..];
        out.push(match kind {
            b'S' => Report::Stub(detail),
            b'E' => Report::Failure(Error::Setup {
                stage,
                detail,
                errno,
            }),
            b'N' => Report::Failure(Error::ExecNotFound { program: detail }),
            b'X' => Report::Failure(Error::Exec {
                program: detail,
                errno,
            }),
            b'U' => Report::Failure(Error::UserNotFound { user: detail }),
            b'G' => Report::Failure(Error::GroupNotFound { group: detail }),
            _ => Report::Failure(Error::ChildLost),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let msgs = [
            Report::Stub("etc/hostname".into()),
            Report::Failure(Error::Setup {
                stage: Stage::Overlay,
                detail: "/x".into(),
                errno: Errno::EINVAL,
            }),
            Report::Failure(Error::ExecNotFound {
                program: "foo".into(),
            }),
        ];
        let bytes: Vec<u8> = msgs.iter().flat_map(encode).collect();
        let back = decode(&bytes);
        assert_eq!(back.len(), 3);
        assert!(matches!(&back[0], Report::Stub(p) if p == "etc/hostname"));
        assert!(matches!(
            &back[1],
            Report::Failure(Error::Setup {
                stage: Stage::Overlay,
                errno: Errno::EINVAL,
                ..
            })
        ));
        let Report::Failure(e) = &back[2] else {
            panic!("not a failure")
        };
        assert_eq!(
            e.to_string(),
            "exec: \"foo\": executable file not found in $PATH"
        );
    }
}
