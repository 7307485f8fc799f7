//! [`Running`]: the parent's handle on a started process. It collects the
//! child's reports until `execve`, receives the pty master, signals through
//! a pidfd ([`Signaller`] for other threads), waits with the timeout, and
//! undoes everything afterwards ([`Cleanup`]: cgroup, mount stubs, the
//! `volatile` marker, the runtime dir). [`StdioSetup`] prepares the
//! standard streams on both sides of `fork`.

use std::fs;
use std::io::Read;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};
use std::thread::JoinHandle;
use std::time::Instant;

use nix::errno::Errno;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signal::Signal;
use nix::sys::wait::waitpid;
use nix::unistd::Pid;

use crate::cgroup::Cgroup;
use crate::child::{TAG_EXIT, TAG_PID, TAG_SIGNAL};
use crate::error::{Error, Result};
use crate::report::{self, Report};
use crate::run::{io, pipe, remove_volatile_marker, sys, RuntimeDir};
use crate::spec::{ExitStatus, Finished, Outcome, Stdio};
use crate::stubs;

/// The parent's ends of the standard streams.
#[derive(Debug)]
pub(crate) struct StdioSetup {
    /// Descriptors the child installs as 0, 1, 2 (kept open until fork).
    keep: Vec<OwnedFd>,
    fds: [Option<RawFd>; 3],
    /// Capture pipes' read ends.
    readers: Vec<OwnedFd>,
    limit: usize,
    /// (parent end, child end) of the socket the pty master comes back on.
    pty: Option<(OwnedFd, OwnedFd)>,
}

/// What the parent keeps after `fork`.
#[derive(Debug)]
pub(crate) struct ParentStdio {
    readers: Vec<JoinHandle<Vec<u8>>>,
    pty: Option<OwnedFd>,
}

impl StdioSetup {
    pub(crate) fn new(stdio: Stdio, limit: usize) -> Result<StdioSetup> {
        let mut s = StdioSetup {
            keep: Vec::new(),
            fds: [None; 3],
            readers: Vec::new(),
            limit,
            pty: None,
        };
        match stdio {
            Stdio::Inherit => {}
            Stdio::Fds {
                stdin,
                stdout,
                stderr,
            } => s.fds = [Some(stdin), Some(stdout), Some(stderr)],
            Stdio::Null | Stdio::Capture | Stdio::Pty => {
                let null: OwnedFd = fs::File::options()
                    .read(true)
                    .write(true)
                    .open("/dev/null")
                    .map_err(io("open", Path::new("/dev/null")))?
                    .into();
                s.fds = [Some(null.as_raw_fd()); 3];
                s.keep.push(null);
                if stdio == Stdio::Capture {
                    for slot in &mut s.fds[1..] {
                        let (r, w) = pipe()?;
                        *slot = Some(w.as_raw_fd());
                        s.readers.push(r);
                        s.keep.push(w);
                    }
                }
                if stdio == Stdio::Pty {
                    s.pty = Some(crate::pty::socketpair()?);
                }
            }
        }
        Ok(s)
    }

    pub(crate) fn child_fds(&self) -> [Option<RawFd>; 3] {
        self.fds
    }

    pub(crate) fn pty_child_fd(&self) -> Option<RawFd> {
        self.pty.as_ref().map(|(_, c)| c.as_raw_fd())
    }

    /// Closes the child's ends and starts the capture threads.
    pub(crate) fn after_fork(self) -> ParentStdio {
        let limit = self.limit;
        let readers = self
            .readers
            .into_iter()
            .map(|fd| std::thread::spawn(move || read_tail(fd, limit)))
            .collect();
        ParentStdio {
            readers,
            pty: self.pty.map(|(parent, _child)| parent),
        }
    }
}

/// What is undone after the command ends.
#[derive(Debug)]
pub(crate) struct Cleanup {
    /// The overlay work dir, whose `volatile` marker goes.
    pub(crate) work: Option<PathBuf>,
    pub(crate) upper: Option<PathBuf>,
    pub(crate) stubs: Vec<String>,
    pub(crate) cgroup: Option<Cgroup>,
    pub(crate) _rt: Option<RuntimeDir>,
}

impl Cleanup {
    /// Undoes everything, even after a failed step; returns whether the OOM
    /// killer struck, or the first error.
    pub(crate) fn run(&mut self) -> Result<bool> {
        let mut oom = false;
        let mut result = Ok(());
        if let Some(cg) = self.cgroup.take() {
            oom = cg.oom_killed();
            // Stray tasks of a joined pid namespace die with its pid 1, but
            // an exec'd process may still be exiting.
            result = cg.kill().and_then(|()| cg.remove());
        }
        if let Some(work) = self.work.take() {
            remove_volatile_marker(&work);
        }
        if let Some(upper) = self.upper.take() {
            let stubs = std::mem::take(&mut self.stubs);
            result = result.and(stubs::remove(&upper, &stubs));
        }
        self._rt = None;
        result.map(|()| oom)
    }
}

/// Whatever was prepared is undone also when `spawn` fails half-way.
impl Drop for Cleanup {
    fn drop(&mut self) {
        let _ = self.run();
    }
}

/// A started container process (from [`crate::spawn`] or [`crate::exec`]).
/// Dropping it without [`Running::wait`] kills the process and cleans up.
#[derive(Debug)]
pub struct Running {
    pid: i32,
    /// A pidfd of the process: signals never hit a recycled pid.
    pidfd: Option<OwnedFd>,
    middle: Pid,
    status_r: OwnedFd,
    pty: Option<OwnedFd>,
    readers: Vec<JoinHandle<Vec<u8>>>,
    cleanup: Cleanup,
    deadline: Option<Instant>,
    waited: bool,
}

impl Running {
    /// Collects the child's reports until the report pipe closes on exec.
    pub(crate) fn start(
        middle: Pid,
        report_r: OwnedFd,
        status_r: OwnedFd,
        stdio: ParentStdio,
        cleanup: Cleanup,
        timeout: Option<std::time::Duration>,
    ) -> Result<Running> {
        let mut running = Running {
            pid: 0,
            pidfd: None,
            middle,
            status_r,
            pty: None,
            readers: stdio.readers,
            cleanup,
            deadline: timeout.map(|t| Instant::now() + t),
            waited: false,
        };
        let mut failure = None;
        for r in report::decode(&read_tail(report_r, usize::MAX)) {
            match r {
                Report::Stub(p) => running.cleanup.stubs.push(p),
                Report::Failure(e) => failure = failure.or(Some(e)),
            }
        }
        if let Some(e) = failure {
            return Err(running.abandon(e));
        }
        match read_status(&running.status_r) {
            Ok((TAG_PID, pid)) => {
                running.pid = pid;
                running.pidfd = pidfd_open(pid);
            }
            Ok(_) => return Err(running.abandon(Error::ChildLost)),
            Err(e) => return Err(running.abandon(e)),
        }
        if let Some(sock) = stdio.pty {
            match crate::pty::receive(&sock) {
                Ok(master) => running.pty = Some(master),
                Err(e) => return Err(running.abandon(e)),
            }
        }
        Ok(running)
    }

    /// Kills and cleans up after a failed start; returns the start error
    /// (which matters more than a cleanup error).
    fn abandon(mut self, e: Error) -> Error {
        let _ = self.signal(Signal::SIGKILL);
        self.waited = true;
        let _ = self.finish();
        e
    }

    /// The host pid of the container's pid 1 (or of the exec'd process).
    pub fn pid(&self) -> i32 {
        self.pid
    }

    /// The pty master with [`Stdio::Pty`]; `None` after the first call.
    pub fn pty_master(&mut self) -> Option<OwnedFd> {
        self.pty.take()
    }

    /// Sends `sig` to the process; a process that has already ended is not
    /// an error.
    pub fn signal(&self, sig: Signal) -> Result<()> {
        send_signal(self.pidfd.as_ref(), sig)
    }

    /// A handle that signals this process from another thread, also while
    /// [`Running::wait`] blocks in this one.
    pub fn signaller(&self) -> Result<Signaller> {
        let pidfd = match &self.pidfd {
            Some(fd) => Some(
                fd.try_clone()
                    .map_err(io("dup pidfd", Path::new("pidfd")))?,
            ),
            None => None,
        };
        Ok(Signaller { pidfd })
    }

    /// Waits for the process to end (killing it at the spec's timeout),
    /// then removes its cgroup, mount stubs and runtime files.
    pub fn wait(mut self) -> Result<Finished> {
        let waited = self.wait_status();
        self.waited = true;
        let oom = self.finish();
        let (status, timed_out) = waited?;
        let mut outputs = std::mem::take(&mut self.readers)
            .into_iter()
            .map(|t| t.join().unwrap_or_default());
        let (stdout, stderr) = (
            outputs.next().unwrap_or_default(),
            outputs.next().unwrap_or_default(),
        );
        Ok(Finished {
            outcome: Outcome {
                status,
                timed_out,
                stdout,
                stderr,
            },
            oom_killed: oom?,
        })
    }

    /// Like [`Running::wait`], but returns as soon as the command's status
    /// is known and its cgroup and runtime files are gone, leaving the exit
    /// of the sandbox's intermediate process to the returned [`Reaper`].
    /// That process holds the sandbox's namespaces, and the kernel tears
    /// them down (unmounting the container's root: several ms, tens under
    /// load) as it exits; the caller's own cleanup can run meanwhile. The
    /// command and every process of its pid namespace are gone already.
    pub fn wait_overlapped(mut self) -> Result<(Finished, Reaper)> {
        let waited = self.wait_status();
        self.waited = true;
        let oom = self.cleanup.run();
        let reaper = Reaper {
            middle: Some(self.middle),
        };
        let (status, timed_out) = waited?;
        let mut outputs = std::mem::take(&mut self.readers)
            .into_iter()
            .map(|t| t.join().unwrap_or_default());
        let (stdout, stderr) = (
            outputs.next().unwrap_or_default(),
            outputs.next().unwrap_or_default(),
        );
        let finished = Finished {
            outcome: Outcome {
                status,
                timed_out,
                stdout,
                stderr,
            },
            oom_killed: oom?,
        };
        Ok((finished, reaper))
    }

    /// Reaps the intermediate and undoes everything; returns whether the
    /// OOM killer struck.
    fn finish(&mut self) -> Result<bool> {
        reap(self.middle);
        self.cleanup.run()
    }

    fn wait_status(&self) -> Result<(ExitStatus, bool)> {
        let mut timed_out = false;
        if let Some(deadline) = self.deadline {
            loop {
                let left = deadline.saturating_duration_since(Instant::now());
                let ms = PollTimeout::try_from(left.as_millis().min(i32::MAX as u128) as i32)
                    .unwrap_or(PollTimeout::MAX);
                let mut fds = [PollFd::new(self.status_r.as_fd(), PollFlags::POLLIN)];
                match poll(&mut fds, ms) {
                    Ok(0) => {
                        let _ = self.signal(Signal::SIGKILL);
                        timed_out = true;
                        break;
                    }
                    Ok(_) => break,
                    Err(Errno::EINTR) => continue,
                    Err(e) => return Err(sys("poll")(e)),
                }
            }
        }
        match read_status(&self.status_r)? {
            (TAG_EXIT, code) => Ok((ExitStatus::Exited(code), timed_out)),
            (TAG_SIGNAL, sig) => Ok((ExitStatus::Signaled(sig), timed_out)),
            _ => Err(Error::ChildLost),
        }
    }
}

/// The sandbox's intermediate process after [`Running::wait_overlapped`]:
/// [`Reaper::reap`] (or dropping it) waits until it has exited, namespaces
/// torn down, so no zombie outlives the caller.
#[derive(Debug)]
#[must_use = "dropping a Reaper blocks until the sandbox is torn down"]
pub struct Reaper {
    middle: Option<Pid>,
}

impl Reaper {
    /// Waits for the intermediate's exit.
    pub fn reap(mut self) {
        if let Some(pid) = self.middle.take() {
            reap(pid);
        }
    }
}

impl Drop for Reaper {
    fn drop(&mut self) {
        if let Some(pid) = self.middle.take() {
            reap(pid);
        }
    }
}

fn reap(pid: Pid) {
    while waitpid(pid, None) == Err(Errno::EINTR) {}
}

/// Signals a started process from any thread (see [`Running::signaller`]).
#[derive(Debug)]
pub struct Signaller {
    pidfd: Option<OwnedFd>,
}

impl Signaller {
    /// Sends `sig`; a process that has already ended is not an error.
    pub fn signal(&self, sig: Signal) -> Result<()> {
        send_signal(self.pidfd.as_ref(), sig)
    }
}

fn pidfd_open(pid: i32) -> Option<OwnedFd> {
    // SAFETY: pidfd_open returns a new descriptor or -1.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    // SAFETY: a fresh descriptor nobody else owns.
    (fd >= 0).then(|| unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

fn send_signal(pidfd: Option<&OwnedFd>, sig: Signal) -> Result<()> {
    let Some(fd) = pidfd else {
        return Ok(()); // ended before we could even look
    };
    // SAFETY: pidfd_send_signal with a live pidfd and no siginfo.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            fd.as_raw_fd(),
            sig as libc::c_int,
            std::ptr::null::<libc::siginfo_t>(),
            0,
        )
    };
    match rc {
        0 => Ok(()),
        _ => match Errno::last() {
            Errno::ESRCH => Ok(()),
            e => Err(sys("kill")(e)),
        },
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if !self.waited {
            let _ = self.signal(Signal::SIGKILL);
            let _ = self.finish();
        }
    }
}

pub(crate) fn read_status(fd: &OwnedFd) -> Result<(u8, i32)> {
    let mut buf = [0u8; 5];
    let mut got = 0;
    while got < buf.len() {
        match nix::unistd::read(fd, &mut buf[got..]) {
            Ok(0) => return Err(Error::ChildLost),
            Ok(n) => got += n,
            Err(Errno::EINTR) => continue,
            Err(e) => return Err(sys("read status")(e)),
        }
    }
    Ok((buf[0], i32::from_le_bytes([buf[1], buf[2], buf[3], buf[4]])))
}

/// Reads `fd` to EOF, keeping the last `limit` bytes.
fn read_tail(fd: OwnedFd, limit: usize) -> Vec<u8> {
    let mut file = fs::File::from(fd);
    let mut out = Vec::new();
    let mut chunk = [0u8; 16 * 1024];
    loop {
        match file.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => out.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => break,
        }
        if out.len() > limit.saturating_mul(2) {
            out.drain(..out.len() - limit);
        }
    }
    if out.len() > limit {
        out.drain(..out.len() - limit);
    }
    out
}
