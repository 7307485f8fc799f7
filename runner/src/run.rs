//! [`spawn`] and [`run`]: the parent side. Prepares a runtime directory
//! (the merged mount point and the generated `/etc` files), the cgroup, the
//! security plan and the streams, forks the sandbox, and hands over to
//! [`crate::Running`].

use std::fs;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::unistd::{pipe2, ForkResult, Pid};

use crate::cgroup::CgroupFs;
use crate::child;
use crate::error::{Error, Result};
use crate::net;
use crate::running::{Cleanup, Running, StdioSetup};
use crate::spec::{Network, Outcome, RunSpec};

/// Everything the children need, computed before `fork`.
#[derive(Debug)]
pub(crate) struct Plan<'a> {
    pub(crate) spec: &'a RunSpec,
    pub(crate) merged: PathBuf,
    pub(crate) overlay_opts: String,
    /// Where to mount the overlay from when its lower dirs are named
    /// relative to it (the short links of a long layer chain).
    pub(crate) overlay_cwd: Option<PathBuf>,
    /// (host source, path in the sandbox)
    pub(crate) etc_files: Vec<(PathBuf, &'static str)>,
    /// Descriptors to install as fds 0, 1 and 2.
    pub(crate) stdio: [Option<RawFd>; 3],
    /// The child's end of the socket the pty master is sent back on.
    pub(crate) pty: Option<RawFd>,
    /// The network namespace to join.
    pub(crate) netns: Option<RawFd>,
    /// What the container's first process joins its cgroup by.
    pub(crate) cgroup_join: crate::cgroup::JoinFds,
    /// What to mount at `/sys/fs/cgroup`.
    pub(crate) cgroup_mounts: Vec<crate::cgroup::CgroupMount>,
    /// Capabilities and the compiled seccomp filters.
    pub(crate) security: crate::process::SecurityPlan,
    /// The child's end of the socket used to wait for the id maps.
    pub(crate) userns_sync: Option<RawFd>,
    /// Where the child attaches the idmapped lower dirs (root with a user
    /// namespace; the overlay's `lowerdir` names these).
    pub(crate) idmapped: Vec<PathBuf>,
}

/// The kernel takes an overlay's options in one page.
const PAGE: usize = 4096;

/// The `lowerdir` list: the layers' own paths when they fit in the mount
/// options' page, else short symlinks to them in the runtime directory
/// (`0`, `1`, ... in `l/`, named relative to it, which the child makes its
/// working directory to mount; overlay follows the links at mount time),
/// as Docker's overlay2 driver does, so that long layer chains run.
fn short_lowers(spec: &RunSpec, runtime: &Path) -> Result<(String, Option<PathBuf>)> {
    let direct: Vec<_> = spec
        .lower_dirs
        .iter()
        .map(|d| d.to_string_lossy())
        .collect();
    let direct = direct.join(":");
    let rest = spec.upper_dir.as_os_str().len() + spec.work_dir.as_os_str().len() + 64;
    if direct.len() + rest < PAGE {
        return Ok((direct, None));
    }
    let links = runtime.join("l");
    fs::create_dir(&links).map_err(io("mkdir", &links))?;
    let mut short = Vec::with_capacity(spec.lower_dirs.len());
    for (i, dir) in spec.lower_dirs.iter().enumerate() {
        let link = links.join(i.to_string());
        std::os::unix::fs::symlink(dir, &link).map_err(io("symlink", &link))?;
        short.push(i.to_string());
    }
    Ok((short.join(":"), Some(links)))
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
        let mut files = vec![("hostname", format!("{}\n", spec.hostname))];
        // Files the caller provides are not generated.
        if spec.hosts_file.is_none() {
            let text = net::hosts(
                spec.network.clone(),
                &spec.hostname,
                read_host("/etc/hosts").as_deref(),
            );
            files.push(("hosts", text));
        }
        if spec.resolv_conf.is_none() {
            let text = net::resolv_conf(
                spec.network.clone(),
                read_host("/etc/resolv.conf").as_deref(),
            );
            files.push(("resolv.conf", text));
        }
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
    if !nix::unistd::geteuid().is_root() {
        // Overlay makes its `work` dirs mode 000: their owner (rootless:
        // the caller) must open them up to remove anything in them.
        crate::userns::open_up(&work_dir.join("work"));
    }
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
/// is an [`Outcome`] with a non-zero [`crate::ExitStatus`]. Nothing stays mounted
/// afterwards, and mount points the sandbox had to create (`/etc/hostname`,
/// `/proc`, bind targets, ...) are removed from the upper dir.
pub fn run(spec: &RunSpec) -> Result<Outcome> {
    Ok(spawn(spec)?.wait()?.outcome)
}

/// Starts `spec` in a fresh sandbox and returns once the command has been
/// exec'd (or with the typed error that stopped it first; then nothing is
/// left behind).
///
/// The sandbox is tied to the calling thread by a parent-death signal: it
/// is killed when that thread ends, so call this from a thread that lives
/// as long as the container (waiting and signalling may happen elsewhere).
pub fn spawn(spec: &RunSpec) -> Result<Running> {
    spec.validate()?;
    let rt = RuntimeDir::create(spec)?;
    let idmapped = crate::userns::prepare_idmap(spec, &rt.0)?;
    let mut overlay_cwd = None;
    let lower = if spec.lower_dirs.is_empty() {
        rt.0.join("empty").to_string_lossy().into_owned()
    } else if !idmapped.is_empty() {
        // The idmapped mount points are `lower/0`, `lower/1`, ...: named
        // relative to `lower`, a long chain fits the options' page too.
        overlay_cwd = Some(rt.0.join("lower"));
        let names: Vec<String> = (0..idmapped.len()).map(|i| i.to_string()).collect();
        names.join(":")
    } else {
        let (lower, cwd) = short_lowers(spec, &rt.0)?;
        overlay_cwd = cwd;
        lower
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
    if overlay_opts.len() >= PAGE {
        return Err(Error::InvalidSpec {
            field: "lower_dirs",
            reason: format!(
                "{} layers do not fit in one overlay mount",
                spec.lower_dirs.len()
            ),
        });
    }
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
    let security = crate::process::SecurityPlan::new(&spec.security)?;
    // From here on, dropping `cleanup` (an early return) undoes everything.
    let mut cleanup = Cleanup {
        work: Some(spec.work_dir.clone()),
        // A container's upper dir is its own (and a restart needs the same
        // mount points): only build steps, whose upper dir becomes a layer,
        // get their mount stubs removed. Removing them also costs a
        // copied-up directory's disk blocks (discards) on every run.
        upper: spec.cgroup.is_none().then(|| spec.upper_dir.clone()),
        stubs: Vec::new(),
        cgroup: None,
        _rt: Some(rt),
    };
    if let Some(name) = &spec.cgroup {
        cleanup.cgroup = Some(CgroupFs::default().create(name, &spec.resources)?);
    }
    // Opened here, as root in our namespaces, for the child to join by.
    let cgroup_files = match &cleanup.cgroup {
        Some(cg) => cg.open_join_files()?,
        None => crate::cgroup::JoinFiles::default(),
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
        overlay_cwd,
        etc_files,
        stdio: io_setup.child_fds(),
        pty: io_setup.pty_child_fd(),
        netns: netns.as_ref().map(AsRawFd::as_raw_fd),
        cgroup_join: cgroup_files.raw(),
        cgroup_mounts: cleanup
            .cgroup
            .as_ref()
            .map(|c| c.mounts())
            .unwrap_or_default(),
        security,
        userns_sync: sync.as_ref().map(|(_, c)| c.as_raw_fd()),
        idmapped,
    };

    // SAFETY: glibc's fork resets allocator locks in the child, which then
    // only runs this crate's setup code before execve or _exit.
    let middle = match unsafe { nix::unistd::fork() }.map_err(sys("fork"))? {
        ForkResult::Child => child::intermediate(&plan, report_w.as_raw_fd(), status_w.as_raw_fd()),
        ForkResult::Parent { child } => child,
    };
    drop((report_w, status_w, netns, cgroup_files));
    let idmap_sources = if plan.idmapped.is_empty() {
        &[][..]
    } else {
        &spec.lower_dirs[..]
    };
    let map_error = match (sync, &spec.userns) {
        (Some((parent, child)), Some(map)) => {
            drop(child);
            crate::userns::write_maps(&parent, middle, map, idmap_sources).err()
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

pub(crate) fn pipe() -> Result<(OwnedFd, OwnedFd)> {
    pipe2(OFlag::O_CLOEXEC).map_err(sys("pipe"))
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
