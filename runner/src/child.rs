//! The two forked processes. The *intermediate* unshares the namespaces and
//! forks again, because only children of `unshare(CLONE_NEWPID)` enter the
//! new pid namespace; it then reaps the command and sends its pid and wait
//! status to the parent. The *init* child (pid 1 of the namespace) builds the
//! root, drops credentials and `execve`s the command, reporting any failure
//! on the close-on-exec report pipe.

use std::convert::Infallible;
use std::ffi::CString;
use std::os::fd::{BorrowedFd, RawFd};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use nix::errno::Errno;
use nix::sched::{unshare, CloneFlags};
use nix::sys::signal::{sigprocmask, SigSet, SigmaskHow, Signal};
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::{ForkResult, Gid, Uid};

use crate::error::{Error, Result, Stage};
use crate::report::{self, Report};
use crate::run::Plan;
use crate::spec::Network;
use crate::user::resolve_user;

/// Status-pipe message tags: pid of the command, exit code, signal.
pub(crate) const TAG_PID: u8 = b'P';
pub(crate) const TAG_EXIT: u8 = b'X';
pub(crate) const TAG_SIGNAL: u8 = b'K';

fn sys(stage: Stage, detail: &str) -> impl FnOnce(Errno) -> Error + '_ {
    move |errno| Error::Setup {
        stage,
        detail: detail.to_owned(),
        errno,
    }
}

fn exit(code: i32) -> ! {
    // SAFETY: _exit skips atexit handlers and stdio flushing, which belong
    // to the parent's copy of the process.
    unsafe { libc::_exit(code) }
}

/// Runs in the first forked process; never returns.
pub(crate) fn intermediate(plan: &Plan<'_>, report_w: RawFd, status_w: RawFd) -> ! {
    // SAFETY: both descriptors stay open in this process until it exits.
    let (report_fd, status_fd) = unsafe {
        (
            BorrowedFd::borrow_raw(report_w),
            BorrowedFd::borrow_raw(status_w),
        )
    };
    if let Err(e) = prepare(plan, report_w, status_w) {
        report::send(report_fd, &Report::Failure(e));
        exit(1);
    }
    // SAFETY: this process is single-threaded (it was just forked).
    match unsafe { nix::unistd::fork() } {
        Ok(ForkResult::Child) => init(plan, report_fd),
        Ok(ForkResult::Parent { child }) => {
            // SAFETY: closing our copy so the parent sees EOF once the
            // command has exec'd.
            unsafe { libc::close(report_w) };
            send_status(status_fd, TAG_PID, child.as_raw());
            loop {
                match waitpid(child, None) {
                    Ok(WaitStatus::Exited(_, code)) => send_status(status_fd, TAG_EXIT, code),
                    Ok(WaitStatus::Signaled(_, sig, _)) => {
                        send_status(status_fd, TAG_SIGNAL, sig as i32)
                    }
                    Err(Errno::EINTR) | Ok(_) => continue,
                    Err(_) => exit(1),
                }
                exit(0);
            }
        }
        Err(errno) => {
            report::send(report_fd, &Report::Failure(sys(Stage::Fork, "")(errno)));
            exit(1)
        }
    }
}

fn send_status(fd: BorrowedFd<'_>, tag: u8, value: i32) {
    let mut msg = [tag, 0, 0, 0, 0];
    msg[1..].copy_from_slice(&value.to_le_bytes());
    let _ = nix::unistd::write(fd, &msg);
}

/// Standard streams, descriptor hygiene, and the namespaces.
fn prepare(plan: &Plan<'_>, report_w: RawFd, status_w: RawFd) -> Result<()> {
    for (target, fd) in plan.stdio.iter().enumerate() {
        if let Some(fd) = fd {
            // SAFETY: dup2 onto 0..2 of this single-threaded child.
            if unsafe { libc::dup2(*fd, target as i32) } < 0 {
                return Err(sys(Stage::Stdio, "dup2")(Errno::last()));
            }
        }
    }
    // Other threads of the parent may have opened descriptors (even pipes of
    // concurrent runs) without CLOEXEC races in mind; keep only ours.
    let (lo, hi) = (report_w.min(status_w) as u32, report_w.max(status_w) as u32);
    for (first, last) in [
        (3, lo.wrapping_sub(1)),
        (lo + 1, hi - 1),
        (hi + 1, u32::MAX),
    ] {
        if first <= last {
            // SAFETY: close_range only closes descriptors this child owns.
            unsafe { libc::syscall(libc::SYS_close_range, first, last, 0) };
        }
    }
    // Ignored signals survive execve: the parent (a Rust program) ignores
    // SIGPIPE, and whoever started it may ignore others (an ignored SIGCHLD
    // would even break our waitpid). Reset them all,
    // through the raw syscall because glibc refuses its internal signals.
    let default_action = [0u64; 4]; // SIG_DFL, no flags, empty mask
    for sig in 1..=64 {
        // SAFETY: sets a default disposition in this single-threaded child;
        // errors (SIGKILL, SIGSTOP) are expected and harmless.
        unsafe {
            libc::syscall(
                libc::SYS_rt_sigaction,
                sig,
                default_action.as_ptr(),
                std::ptr::null_mut::<u64>(),
                8,
            )
        };
    }
    sigprocmask(SigmaskHow::SIG_SETMASK, Some(&SigSet::empty()), None)
        .map_err(sys(Stage::Stdio, "sigprocmask"))?;
    nix::sys::prctl::set_pdeathsig(Signal::SIGKILL).map_err(sys(Stage::Namespaces, "pdeathsig"))?;
    let mut flags = CloneFlags::CLONE_NEWNS
        | CloneFlags::CLONE_NEWPID
        | CloneFlags::CLONE_NEWUTS
        | CloneFlags::CLONE_NEWIPC;
    if plan.spec.network != Network::Host {
        flags |= CloneFlags::CLONE_NEWNET;
    }
    unshare(flags).map_err(sys(Stage::Namespaces, ""))
}

/// Runs as pid 1 of the new pid namespace; never returns.
fn init(plan: &Plan<'_>, report_fd: BorrowedFd<'_>) -> ! {
    let Err(e) = setup_and_exec(plan, report_fd);
    report::send(report_fd, &Report::Failure(e));
    exit(127)
}

fn setup_and_exec(plan: &Plan<'_>, report_fd: BorrowedFd<'_>) -> Result<Infallible> {
    let spec = plan.spec;

    crate::rootfs::build(&crate::syscall::Linux, plan, &mut |stub| {
        report::send(report_fd, &Report::Stub(stub.to_owned()))
    })?;
    nix::unistd::sethostname(&spec.hostname).map_err(sys(Stage::Hostname, &spec.hostname))?;
    if spec.network != Network::Host {
        crate::net::loopback_up().map_err(sys(Stage::Loopback, "lo"))?;
    }

    let read = |p: &str| std::fs::read_to_string(p).unwrap_or_default();
    let user = resolve_user(&spec.user, &read("/etc/passwd"), &read("/etc/group"))?;
    std::fs::create_dir_all(&spec.cwd).map_err(|e| Error::Setup {
        stage: Stage::Cwd,
        detail: spec.cwd.clone(),
        errno: Errno::from_raw(e.raw_os_error().unwrap_or(0)),
    })?;
    let groups: Vec<Gid> = user.groups.iter().map(|g| Gid::from_raw(*g)).collect();
    let creds = sys(Stage::Credentials, &spec.user);
    nix::unistd::setgroups(&groups)
        .and_then(|()| {
            let gid = Gid::from_raw(user.gid);
            nix::unistd::setresgid(gid, gid, gid)
        })
        .and_then(|()| {
            let uid = Uid::from_raw(user.uid);
            nix::unistd::setresuid(uid, uid, uid)
        })
        .map_err(creds)?;
    // Changing credentials clears the parent-death signal; set it again.
    nix::sys::prctl::set_pdeathsig(Signal::SIGKILL)
        .map_err(sys(Stage::Credentials, "pdeathsig"))?;
    nix::unistd::chdir(spec.cwd.as_str()).map_err(sys(Stage::Cwd, &spec.cwd))?;

    let env = spec.full_env(&user.home);
    let program = &spec.args[0];
    let path = lookup(program, &env)?;
    let cstr = |s: &str| CString::new(s).unwrap_or_default();
    let argv: Vec<CString> = spec.args.iter().map(|a| cstr(a)).collect();
    let envp: Vec<CString> = env.iter().map(|e| cstr(e)).collect();
    let errno = nix::unistd::execve(&cstr(&path), &argv, &envp).unwrap_err();
    Err(Error::Exec {
        program: program.clone(),
        errno,
    })
}

/// Finds `program` in the command's `$PATH`, as Go's `exec.LookPath` does for
/// runc: names with a `/` are used as they are.
fn lookup(program: &str, env: &[String]) -> Result<String> {
    if program.contains('/') {
        return Ok(program.to_owned());
    }
    let path = env
        .iter()
        .rev()
        .find_map(|e| e.strip_prefix("PATH="))
        .unwrap_or_default();
    for dir in path.split(':') {
        let dir = if dir.is_empty() { "." } else { dir };
        let candidate = Path::new(dir).join(program);
        if let Ok(meta) = std::fs::metadata(&candidate) {
            if meta.is_file() && meta.permissions().mode() & 0o111 != 0 {
                return Ok(candidate.to_string_lossy().into_owned());
            }
        }
    }
    Err(Error::ExecNotFound {
        program: program.to_owned(),
    })
}
