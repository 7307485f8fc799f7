//! [`run`]: the parent side. Prepares a runtime directory (the merged mount
//! point and the generated `/etc` files), forks the sandbox, collects its
//! reports, output and exit status, enforces the timeout, and removes the
//! mount stubs from the upper dir.

use std::fs;
use std::io::Read;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};
use std::thread::JoinHandle;
use std::time::Instant;

use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signal::Signal;
use nix::sys::wait::waitpid;
use nix::unistd::{pipe2, ForkResult, Pid};

use crate::cgroup::{Cgroup, CgroupFs};
use crate::child::{self, TAG_EXIT, TAG_PID, TAG_SIGNAL};
use crate::error::{Error, Result};
use crate::report::{self, Report};
use crate::spec::{ExitStatus, Finished, Network, Outcome, RunSpec, Stdio};
use crate::{net, stubs};

/// Everything the children need, computed before `fork`.
#[derive(Debug)]
pub(crate) struct Plan<'a> {
    pub(crate) spec: &'a RunSpec,
    pub(crate) merged: PathBuf,
    pub(crate) overlay_opts: String,
    /// (host source, path in the sandbox)
    pub(crate) etc_files: Vec<(PathBuf, &'static str)>,
    /// Descriptors to install as fds 0, 1 and 2.
    pub(crate) stdio: [Option<RawFd>; 3],
    /// The child's end of the socket the pty master is sent back on.
    pub(crate) pty: Option<RawFd>,
    /// The network namespace to join.
    pub(crate) netns: Option<RawFd>,
    /// `cgroup.procs` files the container's first process joins.
    pub(crate) cgroup_procs: Vec<PathBuf>,
    /// What to mount at `/sys/fs/cgroup`.
    pub(crate) cgroup_mounts: Vec<crate::cgroup::CgroupMount>,
    /// Capabilities and the compiled seccomp filters.
    pub(crate) security: crate::process::SecurityPlan,
    /// The child's end of the socket used to wait for the id maps.
    pub(crate) userns_sync: Option<RawFd>,
}

/// A temporary directory on the host, removed on drop. The overlay is
/// mounted on `merged` only inside the child's mount namespace, so the host
/// sees an empty directory.
#[derive(Debug)]
pub(crate) struct RuntimeDir(PathBuf);

impl Drop for RuntimeDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

pub(crate) fn io(action: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> Error {
    let path = path.to_owned();
    move |source| Error::Io {
        action,
        path,
        source,
    }
}

pub(crate) fn sys(action: &'static str) -> impl FnOnce(Errno) -> Error {
    move |errno| Error::Sys { action, errno }
}

impl RuntimeDir {
    fn create(spec: &RunSpec) -> Result<RuntimeDir> {
        let base = runtime_base();
        sweep_stale(&base);
        // The owner's pid in the name lets a later run remove what a
        // killed process could not.
        let template = base.join(format!("rdock-run-{}-XXXXXX", std::process::id()));
        let dir = RuntimeDir(nix::unistd::mkdtemp(&template).map_err(sys("mkdtemp"))?);
        if spec.userns.is_some() {
            // The mapped root mounts from here; nothing in it is secret.
            use std::os::unix::fs::PermissionsExt;
            fs::set_permissions(&dir.0, fs::Permissions::from_mode(0o755))
                .map_err(io("chmod", &dir.0))?;
        }
        let read_host = |p: &str| fs::read_to_string(p).ok();
        let files = [
            ("hostname", format!("{}\n", spec.hostname)),
            (
                "hosts",
                net::hosts(
                    spec.network.clone(),
                    &spec.hostname,
                    read_host("/etc/hosts").as_deref(),
                ),
            ),
            (
                "resolv.conf",
                net::resolv_conf(
                    spec.network.clone(),
                    read_host("/etc/resolv.conf").as_deref(),
                ),
            ),
        ];
        for (name, text) in files {
            let path = dir.0.join(name);
            fs::write(&path, text).map_err(io("write", &path))?;
        }
        for sub in ["merged", "empty"] {
            let path = dir.0.join(sub);
            fs::create_dir(&path).map_err(io("create", &path))?;
        }
        Ok(dir)
    }
}

/// Where runtime directories go: an explicit `$TMPDIR`, else a tmpfs
/// (`/run`, then `/dev/shm`) so these short-lived files never reach a disk
/// (on a file system mounted with `discard`, deleting them even waits for
/// the device), else the temp dir.
fn runtime_base() -> PathBuf {
    if std::env::var_os("TMPDIR").is_none() {
        for dir in ["/run", "/dev/shm"] {
            if nix::sys::statfs::statfs(dir)
                .is_ok_and(|s| s.filesystem_type() == nix::sys::statfs::TMPFS_MAGIC)
                && nix::unistd::access(dir, nix::unistd::AccessFlags::W_OK).is_ok()
            {
                return PathBuf::from(dir);
            }
        }
    }
    std::env::temp_dir()
}

/// Removes runtime dirs whose owning process is gone (killed before it
/// could clean up). Only the mount namespace that died with it used them.
fn sweep_stale(base: &Path) {
    let Ok(entries) = fs::read_dir(base) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name();
        let Some(rest) = name.to_str().and_then(|n| n.strip_prefix("rdock-run-")) else {
            continue;
        };
        let Some(pid) = rest
            .split_once('-')
            .and_then(|(p, _)| p.parse::<i32>().ok())
        else {
            continue;
        };
        if pid > 0 && nix::sys::signal::kill(Pid::from_raw(pid), None) == Err(Errno::ESRCH) {
            let _ = fs::remove_dir_all(e.path());
        }
    }
}

/// Removes the `incompat/volatile` marker a `volatile` overlay leaves in
/// its work dir once the overlay is gone; the next mount refuses the work
/// dir while it exists.
pub(crate) fn remove_volatile_marker(work_dir: &Path) {
    let incompat = work_dir.join("work/incompat");
    if incompat.symlink_metadata().is_ok() {
        let _ = fs::remove_dir_all(&incompat);
    }
}

/// Runs `spec` to completion in a fresh sandbox and reports how it ended:
/// [`spawn`] then [`Running::wait`].
///
/// Failures before the command starts (a mount, a missing user, exec of a
/// missing binary) come back as typed [`Error`]s; the command's own failure
/// is an [`Outcome`] with a non-zero [`ExitStatus`]. Nothing stays mounted
/// afterwards, and mount points the sandbox had to create (`/etc/hostname`,
/// `/proc`, bind targets, ...) are removed from the upper dir.
pub fn run(spec: &RunSpec) -> Result<Outcome> {
    Ok(spawn(spec)?.wait()?.outcome)
}

/// Starts `spec` in a fresh sandbox and returns once the command has been
/// exec'd (or with the typed error that stopped it first; then nothing is
/// left behind).
pub fn spawn(spec: &RunSpec) -> Result<Running> {
    spec.validate()?;
    let rt = RuntimeDir::create(spec)?;
    let lower = if spec.lower_dirs.is_empty() {
        rt.0.join("empty").to_string_lossy().into_owned()
    } else {
        let dirs: Vec<_> = spec
            .lower_dirs
            .iter()
            .map(|d| d.to_string_lossy())
            .collect();
        dirs.join(":")
    };
    // `volatile`: unmounting the overlay would otherwise sync the whole
    // file system under the upper dir, which costs tens to hundreds of ms
    // on a busy host; the layer is committed (and synced) by the store, and
    // a container's writes are as durable as any unsynced write. A marker
    // left by a killed run would block the mount: remove it first.
    remove_volatile_marker(&spec.work_dir);
    let overlay_opts = format!(
        "lowerdir={lower},upperdir={},workdir={},volatile",
        spec.upper_dir.display(),
        spec.work_dir.display()
    );
    let etc_files = [
        spec.hosts_file
            .clone()
            .unwrap_or_else(|| rt.0.join("hosts")),
        spec.resolv_conf
            .clone()
            .unwrap_or_else(|| rt.0.join("resolv.conf")),
        rt.0.join("hostname"),
    ]
    .into_iter()
    .zip(["/etc/hosts", "/etc/resolv.conf", "/etc/hostname"])
    .collect();
    let netns = match &spec.network {
        Network::Join(path) => Some(OwnedFd::from(
            fs::File::open(path).map_err(io("open network namespace", path))?,
        )),
        _ => None,
    };
    let cgroup = match &spec.cgroup {
        Some(name) => Some(CgroupFs::default().create(name, &spec.resources)?),
        None => None,
    };
    let security = crate::process::SecurityPlan::new(&spec.security)?;
    let cleanup = Cleanup {
        work: Some(spec.work_dir.clone()),
        upper: Some(spec.upper_dir.clone()),
        stubs: Vec::new(),
        cgroup,
        _rt: Some(rt),
    };
    let io_setup = StdioSetup::new(spec.stdio, spec.capture_limit)?;
    let (report_r, report_w) = pipe()?;
    let (status_r, status_w) = pipe()?;
    let sync = match &spec.userns {
        Some(_) => Some(crate::pty::socketpair()?),
        None => None,
    };
    let plan = Plan {
        spec,
        merged: cleanup
            ._rt
            .as_ref()
            .map(|r| r.0.join("merged"))
            .unwrap_or_default(),
        overlay_opts,
        etc_files,
        stdio: io_setup.child_fds(),
        pty: io_setup.pty_child_fd(),
        netns: netns.as_ref().map(AsRawFd::as_raw_fd),
        cgroup_procs: cleanup
            .cgroup
            .as_ref()
            .map(|c| c.procs_files())
            .unwrap_or_default(),
        cgroup_mounts: cleanup
            .cgroup
            .as_ref()
            .map(|c| c.mounts())
            .unwrap_or_default(),
        security,
        userns_sync: sync.as_ref().map(|(_, c)| c.as_raw_fd()),
    };

    // SAFETY: glibc's fork resets allocator locks in the child, which then
    // only runs this crate's setup code before execve or _exit.
    let middle = match unsafe { nix::unistd::fork() }.map_err(sys("fork"))? {
        ForkResult::Child => child::intermediate(&plan, report_w.as_raw_fd(), status_w.as_raw_fd()),
        ForkResult::Parent { child } => child,
    };
    drop((report_w, status_w, netns));
    let map_error = match (sync, &spec.userns) {
        (Some((parent, child)), Some(map)) => {
            drop(child);
            crate::userns::write_maps(&parent, middle, map).err()
        }
        _ => None,
    };
    let running = Running::start(
        middle,
        report_r,
        status_r,
        io_setup.after_fork(),
        cleanup,
        spec.timeout,
    );
    match map_error {
        Some(e) => Err(e),
        None => running,
    }
}

fn pipe() -> Result<(OwnedFd, OwnedFd)> {
    pipe2(OFlag::O_CLOEXEC).map_err(sys("pipe"))
}

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
    fn run(&mut self) -> Result<bool> {
        let mut oom = false;
        if let Some(cg) = self.cgroup.take() {
            oom = cg.oom_killed();
            // Stray tasks of a joined pid namespace die with its pid 1, but
            // an exec'd process may still be exiting.
            cg.kill()?;
            cg.remove()?;
        }
        if let Some(work) = self.work.take() {
            remove_volatile_marker(&work);
        }
        if let Some(upper) = self.upper.take() {
            stubs::remove(&upper, &std::mem::take(&mut self.stubs))?;
        }
        self._rt = None;
        Ok(oom)
    }
}

/// A started container process (from [`spawn`] or [`crate::exec`]).
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

    /// Reaps the intermediate and undoes everything; returns whether the
    /// OOM killer struck.
    fn finish(&mut self) -> Result<bool> {
        let _ = waitpid(self.middle, None);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sweeps_only_dirs_of_dead_processes() {
        let base = tempfile::tempdir().unwrap();
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let dead = child.id();
        child.wait().unwrap();
        let ours = std::process::id();
        for name in [
            format!("rdock-run-{dead}-abc"),
            format!("rdock-run-{ours}-def"),
            "rdock-run-old".to_owned(),
            format!("other-{dead}-x"),
        ] {
            fs::create_dir_all(base.path().join(name).join("merged")).unwrap();
        }
        sweep_stale(base.path());
        let mut left: Vec<String> = fs::read_dir(base.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        let mut want = vec![
            format!("other-{dead}-x"),
            "rdock-run-old".to_owned(),
            format!("rdock-run-{ours}-def"),
        ];
        want.sort();
        assert_eq!(left, want);
    }
}
