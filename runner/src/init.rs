//! The `--init` pid 1: forks the command, then forwards every signal it
//! gets to it and reaps every child (orphans of the namespace end up here),
//! exiting as the command did (`128 + signal` when it was killed, as tini
//! does).

use std::os::fd::{BorrowedFd, RawFd};

use nix::errno::Errno;
use nix::sys::signal::{sigprocmask, SigSet, SigmaskHow, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::{ForkResult, Pid};

use crate::error::Error;
use crate::report::{self, Report};

/// Forks; the child calls `exec` (reporting its error on `report` if it
/// returns), the parent never returns.
/// With a terminal, the command gets its own process group in the
/// foreground (as tini does), so keys like ^C reach it and not pid 1.
pub(crate) fn run(
    report: RawFd,
    terminal: bool,
    exec: impl FnOnce() -> Error,
) -> Result<(), Errno> {
    let all = SigSet::all();
    let mut old = SigSet::empty();
    sigprocmask(SigmaskHow::SIG_BLOCK, Some(&all), Some(&mut old))?;
    // SAFETY: this process is single-threaded.
    match unsafe { nix::unistd::fork() }? {
        ForkResult::Child => {
            if terminal {
                // SIGTTOU is still blocked, so a background group may take
                // the terminal.
                let _ = nix::unistd::setpgid(Pid::from_raw(0), Pid::from_raw(0));
                let _ = nix::unistd::tcsetpgrp(std::io::stdin(), nix::unistd::getpgrp());
            }
            let _ = sigprocmask(SigmaskHow::SIG_SETMASK, Some(&old), None);
            let e = exec();
            // SAFETY: the report pipe stays open until this process exits.
            report::send(
                unsafe { BorrowedFd::borrow_raw(report) },
                &Report::Failure(e),
            );
            // SAFETY: leave without running the parent's atexit handlers.
            unsafe { libc::_exit(127) }
        }
        ForkResult::Parent { child } => {
            // The parent sees EOF on the report pipe once the command execs.
            // SAFETY: our copy of the descriptor; nothing else uses it here.
            unsafe { libc::close(report) };
            supervise(child, &all)
        }
    }
}

fn supervise(child: Pid, all: &SigSet) -> ! {
    loop {
        let sig = match all.wait() {
            Ok(s) => s,
            Err(_) => continue,
        };
        if sig != Signal::SIGCHLD {
            let _ = nix::sys::signal::kill(child, sig);
            continue;
        }
        loop {
            match waitpid(None, Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::Exited(pid, code)) if pid == child => exit(code),
                Ok(WaitStatus::Signaled(pid, sig, _)) if pid == child => exit(128 + sig as i32),
                Ok(WaitStatus::StillAlive) | Err(Errno::ECHILD) => break,
                Ok(_) | Err(Errno::EINTR) => continue,
                Err(_) => break,
            }
        }
    }
}

fn exit(code: i32) -> ! {
    // SAFETY: _exit skips atexit handlers, which belong to the parent.
    unsafe { libc::_exit(code) }
}
