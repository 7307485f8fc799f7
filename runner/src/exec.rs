//! [`exec`]: a new process in a running container (`docker exec`). An
//! intermediate joins the container's cgroup and namespaces (user first,
//! mount last, from descriptors opened up front) and forks, because only
//! its children enter the pid namespace; the child becomes the process as
//! a container's first process does.

use std::fs;
use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::os::unix::fs::MetadataExt;

use nix::fcntl::OFlag;
use nix::sched::CloneFlags;
use nix::unistd::{pipe2, ForkResult};

use crate::child::{clean_process, exit, reap};
use crate::error::{Error, Result, Stage};
use crate::process::{ProcessPlan, SecurityPlan};
use crate::report::{self, Report};
use crate::run::sys;
use crate::running::{Cleanup, Running, StdioSetup};
use crate::spec::ExecSpec;

/// Namespaces joined, in order: the user namespace first so the others
/// can be entered with its privileges, the mount namespace last because it
/// changes the root.
const NAMESPACES: [(&str, CloneFlags); 7] = [
    ("user", CloneFlags::CLONE_NEWUSER),
    ("ipc", CloneFlags::CLONE_NEWIPC),
    ("uts", CloneFlags::CLONE_NEWUTS),
    ("net", CloneFlags::CLONE_NEWNET),
    ("pid", CloneFlags::CLONE_NEWPID),
    ("cgroup", CloneFlags::CLONE_NEWCGROUP),
    ("mnt", CloneFlags::CLONE_NEWNS),
];

/// Starts `spec` inside the container whose pid 1 has host pid
/// `target_pid`, returning once it has been exec'd. Its `wait` reports the
/// exec'd process's own exit.
///
/// Only the new process joins the container's cgroup; like [`crate::spawn`]
/// it dies with the calling thread.
pub fn exec(target_pid: i32, spec: &ExecSpec) -> Result<Running> {
    let invalid = |reason: &str| Error::InvalidSpec {
        field: "args",
        reason: reason.to_owned(),
    };
    if spec.args.is_empty() || spec.args[0].is_empty() {
        return Err(invalid("no command given"));
    }
    if spec.args.iter().chain(&spec.env).any(|a| a.contains('\0')) {
        return Err(invalid("contains a NUL byte"));
    }
    if !spec.cwd.starts_with('/') {
        return Err(Error::InvalidSpec {
            field: "cwd",
            reason: "must be absolute".to_owned(),
        });
    }
    if target_pid <= 0 {
        return Err(Error::NotRunning { pid: target_pid });
    }
    let mut namespaces: Vec<(OwnedFd, CloneFlags, &str)> = Vec::new();
    for (name, flag) in NAMESPACES {
        let theirs = format!("/proc/{target_pid}/ns/{name}");
        let meta = fs::metadata(&theirs).map_err(|_| Error::NotRunning { pid: target_pid })?;
        // setns into one's own user namespace is EINVAL; others are no-ops.
        let ours = fs::metadata(format!("/proc/self/ns/{name}")).ok();
        if ours.is_some_and(|o| o.ino() == meta.ino() && o.dev() == meta.dev()) {
            continue;
        }
        let file = fs::File::open(&theirs).map_err(|_| Error::NotRunning { pid: target_pid })?;
        namespaces.push((file.into(), flag, name));
    }
    // Rootless containers have no cgroup of their own (nothing delegates
    // one), and a user may not move itself into another cgroup.
    let procs = match nix::unistd::geteuid().is_root() {
        true => crate::cgroup::procs_files_of(target_pid, std::path::Path::new("/sys/fs/cgroup")),
        false => Vec::new(),
    };
    let security = SecurityPlan::new(&spec.security)?;
    let io_setup = StdioSetup::new(spec.stdio, spec.capture_limit)?;
    let pipe = || pipe2(OFlag::O_CLOEXEC).map_err(sys("pipe"));
    let (report_r, report_w) = pipe()?;
    let (status_r, status_w) = pipe()?;
    let stdio = io_setup.child_fds();
    let pty = io_setup.pty_child_fd();
    let plan = ProcessPlan {
        args: &spec.args,
        env: &spec.env,
        cwd: &spec.cwd,
        user: &spec.user,
        create_cwd: false,
        init: false,
        pty,
        report: report_w.as_raw_fd(),
        security: &security,
    };
    // SAFETY: as in `spawn`: the child only runs this crate's code before
    // execve or _exit.
    let middle = match unsafe { nix::unistd::fork() }.map_err(sys("fork"))? {
        ForkResult::Child => {
            let ns: Vec<(RawFd, CloneFlags, &str)> = namespaces
                .iter()
                .map(|(fd, flag, name)| (fd.as_raw_fd(), *flag, *name))
                .collect();
            intermediate(&plan, &stdio, &procs, &ns, status_w.as_raw_fd())
        }
        ForkResult::Parent { child } => child,
    };
    drop((report_w, status_w, namespaces));
    let cleanup = Cleanup {
        work: None,
        upper: None,
        stubs: Vec::new(),
        cgroup: None,
        _rt: None,
    };
    Running::start(
        middle,
        report_r,
        status_r,
        io_setup.after_fork(),
        cleanup,
        None,
    )
}

fn intermediate(
    plan: &ProcessPlan<'_>,
    stdio: &[Option<RawFd>; 3],
    procs: &[std::path::PathBuf],
    namespaces: &[(RawFd, CloneFlags, &str)],
    status_w: RawFd,
) -> ! {
    // SAFETY: both descriptors stay open in this process until it exits.
    let (report_fd, status_fd) = unsafe {
        (
            BorrowedFd::borrow_raw(plan.report),
            BorrowedFd::borrow_raw(status_w),
        )
    };
    let cgroup_fds = match join(plan, stdio, procs, namespaces, status_w) {
        Ok(fds) => fds,
        Err(e) => {
            report::send(report_fd, &Report::Failure(e));
            exit(1);
        }
    };
    // SAFETY: this process is single-threaded (it was just forked).
    match unsafe { nix::unistd::fork() } {
        Ok(ForkResult::Child) => {
            let Err(e) =
                enter_cgroup(&cgroup_fds).and_then(|()| crate::process::become_and_exec(plan));
            report::send(report_fd, &Report::Failure(e));
            exit(127)
        }
        Ok(ForkResult::Parent { child }) => {
            drop(cgroup_fds);
            reap(child, plan.report, status_fd)
        }
        Err(errno) => {
            let e = Error::Setup {
                stage: Stage::Fork,
                detail: String::new(),
                errno,
            };
            report::send(report_fd, &Report::Failure(e));
            exit(1)
        }
    }
}

fn join(
    plan: &ProcessPlan<'_>,
    stdio: &[Option<RawFd>; 3],
    procs: &[std::path::PathBuf],
    namespaces: &[(RawFd, CloneFlags, &str)],
    status_w: RawFd,
) -> Result<Vec<OwnedFd>> {
    let mut keep = vec![plan.report, status_w];
    keep.extend(plan.pty);
    keep.extend(namespaces.iter().map(|(fd, _, _)| *fd));
    clean_process(stdio, &keep)?;
    // Only the new process joins the cgroup (a cleanup that kills the
    // cgroup must not kill the process reporting its status), and it can
    // only do so after the namespaces changed its view: open the files now.
    let mut cgroup_fds = Vec::new();
    for p in procs {
        let file = std::fs::OpenOptions::new()
            .write(true)
            .open(p)
            .map_err(|e| Error::Setup {
                stage: Stage::Cgroup,
                detail: p.display().to_string(),
                errno: nix::errno::Errno::from_raw(e.raw_os_error().unwrap_or(0)),
            })?;
        cgroup_fds.push(OwnedFd::from(file));
    }
    for (fd, flag, name) in namespaces {
        // SAFETY: the descriptor is one of the namespace files kept open.
        let ns = unsafe { BorrowedFd::borrow_raw(*fd) };
        nix::sched::setns(ns, *flag).map_err(|errno| Error::Setup {
            stage: Stage::JoinNamespace,
            detail: (*name).to_owned(),
            errno,
        })?;
        // SAFETY: not needed any more, and the command must not inherit it.
        unsafe { libc::close(*fd) };
    }
    Ok(cgroup_fds)
}

/// Writes this process into the cgroups opened before the namespaces
/// changed.
fn enter_cgroup(fds: &[OwnedFd]) -> Result<()> {
    for fd in fds {
        nix::unistd::write(fd, b"0").map_err(|errno| Error::Setup {
            stage: Stage::Cgroup,
            detail: "cgroup.procs".to_owned(),
            errno,
        })?;
    }
    Ok(())
}
