//! [`run`]: the parent side. Prepares a runtime directory (the merged mount
//! point and the generated `/etc` files), forks the sandbox, collects its
//! reports, output and exit status, enforces the timeout, and removes the
//! mount stubs from the upper dir.

use std::fs;
use std::io::Read;
use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};
use std::thread::JoinHandle;
use std::time::Instant;

use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signal::{kill, Signal};
use nix::sys::wait::waitpid;
use nix::unistd::{pipe2, ForkResult, Pid};

use crate::child::{self, TAG_EXIT, TAG_PID, TAG_SIGNAL};
use crate::error::{Error, Result};
use crate::report::{self, Report};
use crate::spec::{ExitStatus, Outcome, RunSpec, Stdio};
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
}

/// A temporary directory on the host, removed on drop. The overlay is
/// mounted on `merged` only inside the child's mount namespace, so the host
/// sees an empty directory.
#[derive(Debug)]
struct RuntimeDir(PathBuf);

impl Drop for RuntimeDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn io(action: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> Error {
    let path = path.to_owned();
    move |source| Error::Io {
        action,
        path,
        source,
    }
}

fn sys(action: &'static str) -> impl FnOnce(Errno) -> Error {
    move |errno| Error::Sys { action, errno }
}

impl RuntimeDir {
    fn create(spec: &RunSpec) -> Result<RuntimeDir> {
        let template = std::env::temp_dir().join("rdock-run-XXXXXX");
        let dir = RuntimeDir(nix::unistd::mkdtemp(&template).map_err(sys("mkdtemp"))?);
        let read_host = |p: &str| fs::read_to_string(p).ok();
        let files = [
            ("hostname", format!("{}\n", spec.hostname)),
            (
                "hosts",
                net::hosts(
                    spec.network,
                    &spec.hostname,
                    read_host("/etc/hosts").as_deref(),
                ),
            ),
            (
                "resolv.conf",
                net::resolv_conf(spec.network, read_host("/etc/resolv.conf").as_deref()),
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

/// Runs `spec` to completion in a fresh sandbox and reports how it ended.
///
/// Failures before the command starts (a mount, a missing user, exec of a
/// missing binary) come back as typed [`Error`]s; the command's own failure
/// is an [`Outcome`] with a non-zero [`ExitStatus`]. Nothing stays mounted
/// afterwards, and mount points the sandbox had to create (`/etc/hostname`,
/// `/proc`, bind targets, ...) are removed from the upper dir.
pub fn run(spec: &RunSpec) -> Result<Outcome> {
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
    let overlay_opts = format!(
        "lowerdir={lower},upperdir={},workdir={}",
        spec.upper_dir.display(),
        spec.work_dir.display()
    );
    let etc_files = ["hosts", "resolv.conf", "hostname"]
        .iter()
        .zip(["/etc/hosts", "/etc/resolv.conf", "/etc/hostname"])
        .map(|(name, target)| (rt.0.join(name), target))
        .collect();

    let pipe = || pipe2(OFlag::O_CLOEXEC).map_err(sys("pipe"));
    let (report_r, report_w) = pipe()?;
    let (status_r, status_w) = pipe()?;
    let mut keep: Vec<OwnedFd> = Vec::new();
    let mut readers: Vec<OwnedFd> = Vec::new();
    let stdio = match spec.stdio {
        Stdio::Inherit => [None, None, None],
        Stdio::Null | Stdio::Capture => {
            let null: OwnedFd = fs::File::options()
                .read(true)
                .write(true)
                .open("/dev/null")
                .map_err(io("open", Path::new("/dev/null")))?
                .into();
            let mut fds = [Some(null.as_raw_fd()); 3];
            keep.push(null);
            if spec.stdio == Stdio::Capture {
                for slot in &mut fds[1..] {
                    let (r, w) = pipe()?;
                    *slot = Some(w.as_raw_fd());
                    readers.push(r);
                    keep.push(w);
                }
            }
            fds
        }
    };
    let plan = Plan {
        spec,
        merged: rt.0.join("merged"),
        overlay_opts,
        etc_files,
        stdio,
    };

    // SAFETY: glibc's fork resets allocator locks in the child, which then
    // only runs this crate's setup code before execve or _exit.
    let middle = match unsafe { nix::unistd::fork() }.map_err(sys("fork"))? {
        ForkResult::Child => child::intermediate(&plan, report_w.as_raw_fd(), status_w.as_raw_fd()),
        ForkResult::Parent { child } => child,
    };
    drop((report_w, status_w, keep));
    let limit = spec.capture_limit;
    let threads: Vec<JoinHandle<Vec<u8>>> = readers
        .into_iter()
        .map(|fd| std::thread::spawn(move || read_tail(fd, limit)))
        .collect();

    let mut failure = None;
    let mut stub_paths = Vec::new();
    for r in report::decode(&read_tail(report_r, usize::MAX)) {
        match r {
            Report::Stub(p) => stub_paths.push(p),
            Report::Failure(e) => failure = failure.or(Some(e)),
        }
    }
    let waited = match failure {
        None => wait_status(&status_r, spec),
        Some(e) => Err(e),
    };
    drop(status_r);
    let _ = waitpid(middle, None);
    let mut outputs = threads.into_iter().map(|t| t.join().unwrap_or_default());
    let (stdout, stderr) = (
        outputs.next().unwrap_or_default(),
        outputs.next().unwrap_or_default(),
    );
    stubs::remove(&spec.upper_dir, &stub_paths)?;
    let (status, timed_out) = waited?;
    Ok(Outcome {
        status,
        timed_out,
        stdout,
        stderr,
    })
}

/// Reads the command's pid, then its wait status, killing it when the
/// timeout passes first.
fn wait_status(status_r: &OwnedFd, spec: &RunSpec) -> Result<(ExitStatus, bool)> {
    let pid = match read_status(status_r)? {
        (TAG_PID, pid) => Pid::from_raw(pid),
        _ => return Err(Error::ChildLost),
    };
    let mut timed_out = false;
    if let Some(timeout) = spec.timeout {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let ms = PollTimeout::try_from(left.as_millis().min(i32::MAX as u128) as i32)
                .unwrap_or(PollTimeout::MAX);
            let mut fds = [PollFd::new(status_r.as_fd(), PollFlags::POLLIN)];
            match poll(&mut fds, ms) {
                Ok(0) => {
                    // The intermediate has not reaped the pid yet, so it
                    // cannot have been reused.
                    let _ = kill(pid, Signal::SIGKILL);
                    timed_out = true;
                    break;
                }
                Ok(_) => break,
                Err(Errno::EINTR) => continue,
                Err(e) => return Err(sys("poll")(e)),
            }
        }
    }
    match read_status(status_r)? {
        (TAG_EXIT, code) => Ok((ExitStatus::Exited(code), timed_out)),
        (TAG_SIGNAL, sig) => Ok((ExitStatus::Signaled(sig), timed_out)),
        _ => Err(Error::ChildLost),
    }
}

fn read_status(fd: &OwnedFd) -> Result<(u8, i32)> {
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
