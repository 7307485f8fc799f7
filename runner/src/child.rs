//! The two forked processes. The *intermediate* unshares the namespaces and
//! forks again, because only children of `unshare(CLONE_NEWPID)` enter the
//! new pid namespace; it then reaps the command and sends its pid and wait
//! status to the parent. The *init* child (pid 1 of the namespace) builds the
//! root, drops credentials and `execve`s the command, reporting any failure
//! on the close-on-exec report pipe.

use std::convert::Infallible;
use std::os::fd::{AsRawFd, BorrowedFd, RawFd};

use nix::errno::Errno;
use nix::sched::{unshare, CloneFlags};
use nix::sys::signal::{sigprocmask, SigSet, SigmaskHow, Signal};
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::ForkResult;

use crate::error::{Error, Result, Stage};
use crate::process::ProcessPlan;
use crate::report::{self, Report};
use crate::run::Plan;
use crate::spec::Network;

/// Status-pipe message tags: pid of the command, exit code, signal.
pub(crate) const TAG_PID: u8 = b'P';
pub(crate) const TAG_EXIT: u8 = b'X';
pub(crate) const TAG_SIGNAL: u8 = b'K';

pub(crate) fn sys(stage: Stage, detail: &str) -> impl FnOnce(Errno) -> Error + '_ {
    move |errno| Error::Setup {
        stage,
        detail: detail.to_owned(),
        errno,
    }
}

pub(crate) fn exit(code: i32) -> ! {
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
    // Born in the v2 cgroup when possible (not from a user namespace: the
    // kernel checks the cloning process's own credentials then).
    let into = plan
        .cgroup_join
        .v2_dir
        .filter(|_| plan.userns_sync.is_none());
    match fork_into_cgroup(into) {
        Ok((ForkResult::Child, joined_v2)) => init(plan, report_fd, joined_v2),
        Ok((ForkResult::Parent { child }, _)) => reap(child, report_w, status_fd),
        Err(errno) => {
            report::send(report_fd, &Report::Failure(sys(Stage::Fork, "")(errno)));
            exit(1)
        }
    }
}

/// `fork`, or with a cgroup directory `clone3(CLONE_INTO_CGROUP)`, which
/// places the child without the migration (and its RCU grace period) a
/// later `cgroup.procs` write costs. Falls back to `fork` where the kernel
/// refuses; the bool says whether the child is already in the cgroup.
fn fork_into_cgroup(cgroup_dir: Option<RawFd>) -> Result<(ForkResult, bool), Errno> {
    if let Some(dir) = cgroup_dir {
        #[repr(C)]
        #[derive(Default)]
        struct CloneArgs {
            flags: u64,
            pidfd: u64,
            child_tid: u64,
            parent_tid: u64,
            exit_signal: u64,
            stack: u64,
            stack_size: u64,
            tls: u64,
            set_tid: u64,
            set_tid_size: u64,
            cgroup: u64,
        }
        const CLONE_INTO_CGROUP: u64 = 0x2_0000_0000;
        let args = CloneArgs {
            flags: CLONE_INTO_CGROUP,
            exit_signal: libc::SIGCHLD as u64,
            cgroup: dir as u64,
            ..CloneArgs::default()
        };
        // SAFETY: without CLONE_VM this is fork: the child gets a copy of
        // this single-threaded process and returns here with 0; it only
        // runs this crate's code (no pthread state that would need glibc's
        // fork bookkeeping) before execve or _exit.
        let rc = unsafe {
            libc::syscall(
                libc::SYS_clone3,
                &args as *const CloneArgs,
                std::mem::size_of::<CloneArgs>(),
            )
        };
        match rc {
            0 => return Ok((ForkResult::Child, true)),
            pid if pid > 0 => {
                let child = nix::unistd::Pid::from_raw(pid as i32);
                return Ok((ForkResult::Parent { child }, true));
            }
            _ => {} // older kernel or refused: fork and migrate instead
        }
    }
    // SAFETY: this process is single-threaded (it was just forked).
    unsafe { nix::unistd::fork() }.map(|r| (r, false))
}

/// The intermediate's job once the command is forked: report its pid,
/// wait for it, report how it ended, exit.
pub(crate) fn reap(child: nix::unistd::Pid, report_w: RawFd, status_fd: BorrowedFd<'_>) -> ! {
    // SAFETY: closing our copy so the parent sees EOF once the command has
    // exec'd.
    unsafe { libc::close(report_w) };
    // Our copies of the command's streams: the parent's readers see EOF
    // when the command's processes are gone, not after our own exit (which
    // tears the namespaces down, and the parent need not wait for that).
    for fd in 0..3 {
        if fd != status_fd.as_raw_fd() {
            // SAFETY: closes this process's own descriptor, unused from here.
            unsafe { libc::close(fd) };
        }
    }
    send_status(status_fd, TAG_PID, child.as_raw());
    loop {
        match waitpid(child, None) {
            Ok(WaitStatus::Exited(_, code)) => send_status(status_fd, TAG_EXIT, code),
            Ok(WaitStatus::Signaled(_, sig, _)) => send_status(status_fd, TAG_SIGNAL, sig as i32),
            Err(Errno::EINTR) | Ok(_) => continue,
            Err(_) => exit(1),
        }
        exit(0);
    }
}

pub(crate) fn send_status(fd: BorrowedFd<'_>, tag: u8, value: i32) {
    let mut msg = [tag, 0, 0, 0, 0];
    msg[1..].copy_from_slice(&value.to_le_bytes());
    let _ = nix::unistd::write(fd, &msg);
}

/// Closes every descriptor from 3 up except `keep`.
pub(crate) fn close_others(keep: &[RawFd]) {
    let mut keep: Vec<u32> = keep
        .iter()
        .filter(|f| **f >= 3)
        .map(|f| *f as u32)
        .collect();
    keep.sort_unstable();
    let mut first = 3u32;
    for k in keep.into_iter().chain([u32::MAX]) {
        if k > first {
            // SAFETY: close_range only closes descriptors this child owns.
            unsafe { libc::syscall(libc::SYS_close_range, first, k - 1, 0) };
        }
        first = k.saturating_add(1);
    }
}

/// Installs the standard streams, closes inherited descriptors, and resets
/// signal state, so the command starts clean.
pub(crate) fn clean_process(stdio: &[Option<RawFd>; 3], keep: &[RawFd]) -> Result<()> {
    for (target, fd) in stdio.iter().enumerate() {
        if let Some(fd) = fd {
            // SAFETY: dup2 onto 0..2 of this single-threaded child.
            if unsafe { libc::dup2(*fd, target as i32) } < 0 {
                return Err(sys(Stage::Stdio, "dup2")(Errno::last()));
            }
        }
    }
    // Other threads of the parent may have opened descriptors (even pipes of
    // concurrent runs) without CLOEXEC races in mind; keep only ours.
    close_others(keep);
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
    nix::sys::prctl::set_pdeathsig(Signal::SIGKILL).map_err(sys(Stage::Namespaces, "pdeathsig"))
}

/// Standard streams, descriptor hygiene, and the namespaces.
fn prepare(plan: &Plan<'_>, report_w: RawFd, status_w: RawFd) -> Result<()> {
    let mut keep: Vec<RawFd> = [
        Some(report_w),
        Some(status_w),
        plan.pty,
        plan.netns,
        plan.userns_sync,
    ]
    .into_iter()
    .flatten()
    .collect();
    keep.extend(plan.cgroup_join.all());
    clean_process(&plan.stdio, &keep)?;
    let mut flags = CloneFlags::CLONE_NEWNS
        | CloneFlags::CLONE_NEWPID
        | CloneFlags::CLONE_NEWUTS
        | CloneFlags::CLONE_NEWIPC;
    match (&plan.spec.network, plan.netns) {
        (Network::Host, _) => {}
        (Network::Join(path), Some(fd)) => {
            // SAFETY: `fd` is the open namespace file, kept above.
            let ns = unsafe { BorrowedFd::borrow_raw(fd) };
            nix::sched::setns(ns, CloneFlags::CLONE_NEWNET).map_err(|errno| Error::Setup {
                stage: Stage::JoinNamespace,
                detail: path.display().to_string(),
                errno,
            })?;
            // SAFETY: no longer needed; the command must not inherit it.
            unsafe { libc::close(fd) };
        }
        _ => flags |= CloneFlags::CLONE_NEWNET,
    }
    let Some(sync) = plan.userns_sync else {
        return unshare(flags).map_err(sys(Stage::Namespaces, ""));
    };
    unshare(flags | CloneFlags::CLONE_NEWUSER).map_err(sys(Stage::Namespaces, "user"))?;
    // Ask the parent to write the id maps and wait until it has.
    // SAFETY: `sync` is our end of the socket pair, kept above.
    let sock = unsafe { BorrowedFd::borrow_raw(sync) };
    let err = sys(Stage::UserNamespace, "id maps");
    nix::unistd::write(sock, &[1u8]).map_err(err)?;
    let layers = crate::userns::await_maps(sock, plan.idmapped.len())?;
    // SAFETY: not needed any more.
    unsafe { libc::close(sync) };
    let root = nix::unistd::Uid::from_raw(0);
    let root_gid = nix::unistd::Gid::from_raw(0);
    nix::unistd::setresgid(root_gid, root_gid, root_gid)
        .and_then(|()| nix::unistd::setresuid(root, root, root))
        .map_err(sys(Stage::UserNamespace, "become root"))?;
    if layers.is_empty() {
        return Ok(());
    }
    crate::userns::attach(layers, &plan.idmapped)
}

/// Runs as pid 1 of the new pid namespace; never returns.
fn init(plan: &Plan<'_>, report_fd: BorrowedFd<'_>, joined_v2: bool) -> ! {
    let Err(e) = setup_and_exec(plan, report_fd, joined_v2);
    report::send(report_fd, &Report::Failure(e));
    exit(127)
}

/// Writes this process into the cgroup through files the parent opened
/// (the kernel checks the opener's credentials, so this works from a user
/// namespace too), then gives it a cgroup namespace rooted there.
fn join_cgroup(join: &crate::cgroup::JoinFds, joined_v2: bool) -> Result<()> {
    let v2 = join.v2_procs.filter(|_| !joined_v2);
    for fd in join.v1_tasks.iter().chain(&v2) {
        // SAFETY: one of the parent's descriptors, kept open.
        let file = unsafe { BorrowedFd::borrow_raw(*fd) };
        nix::unistd::write(file, b"0").map_err(sys(Stage::Cgroup, "cgroup.procs"))?;
    }
    for fd in join.all() {
        // SAFETY: the command must not inherit them.
        unsafe { libc::close(fd) };
    }
    if !join.is_empty() {
        unshare(CloneFlags::CLONE_NEWCGROUP).map_err(sys(Stage::Cgroup, "cgroup namespace"))?;
    }
    Ok(())
}

fn setup_and_exec(
    plan: &Plan<'_>,
    report_fd: BorrowedFd<'_>,
    joined_v2: bool,
) -> Result<Infallible> {
    let spec = plan.spec;
    join_cgroup(&plan.cgroup_join, joined_v2)?;
    crate::rootfs::build(&crate::syscall::Linux, plan, &mut |stub| {
        report::send(report_fd, &Report::Stub(stub.to_owned()))
    })?;
    nix::unistd::sethostname(&spec.hostname).map_err(sys(Stage::Hostname, &spec.hostname))?;
    if matches!(spec.network, Network::None | Network::Default) {
        crate::net::loopback_up().map_err(sys(Stage::Loopback, "lo"))?;
    }
    crate::process::become_and_exec(&ProcessPlan {
        args: &spec.args,
        env: &spec.env,
        cwd: &spec.cwd,
        user: &spec.user,
        create_cwd: true,
        init: spec.init,
        pty: plan.pty,
        report: report_fd.as_raw_fd(),
        security: &plan.security,
    })
}
