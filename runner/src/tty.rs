//! The caller's side of a container's terminal: [`RawMode`] for the local
//! terminal while it drives a container's pty, [`window_size`] to pass its
//! size on, and [`new_session`] for a detached monitor.

use std::os::fd::{AsFd, AsRawFd};

use nix::sys::termios::{cfmakeraw, tcgetattr, tcsetattr, SetArg, Termios};

/// Standard input switched to raw mode (keys, ^C included, go to the
/// container's pty as typed); the previous mode comes back on drop.
#[derive(Debug)]
pub struct RawMode(Termios);

impl RawMode {
    /// Switches standard input to raw mode; `None` when it is not a
    /// terminal (or cannot be switched), which needs no restoring.
    pub fn enable() -> Option<RawMode> {
        let stdin = std::io::stdin();
        if !nix::unistd::isatty(stdin.as_fd()).unwrap_or(false) {
            return None;
        }
        let saved = tcgetattr(stdin.as_fd()).ok()?;
        let mut raw = saved.clone();
        cfmakeraw(&mut raw);
        tcsetattr(stdin.as_fd(), SetArg::TCSANOW, &raw).ok()?;
        Some(RawMode(saved))
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        let _ = tcsetattr(std::io::stdin().as_fd(), SetArg::TCSANOW, &self.0);
    }
}

/// Rows and columns of the terminal on standard output (else standard
/// input), if there is one.
pub fn window_size() -> Option<(u16, u16)> {
    let get = |fd: std::os::fd::RawFd| {
        let mut ws = libc::winsize {
            ws_row: 0,
            ws_col: 0,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        // SAFETY: TIOCGWINSZ writes a winsize we own.
        let rc = unsafe { libc::ioctl(fd, libc::TIOCGWINSZ, &mut ws) };
        (rc == 0 && ws.ws_row > 0 && ws.ws_col > 0).then_some((ws.ws_row, ws.ws_col))
    };
    get(std::io::stdout().as_raw_fd()).or_else(|| get(std::io::stdin().as_raw_fd()))
}

/// Starts a new session (no controlling terminal), so a detached monitor
/// does not get the terminal's hang-up or ^C. Fails only for a process
/// group leader, which already is in a session of its own making.
pub fn new_session() -> bool {
    nix::unistd::setsid().is_ok()
}
