//! The lifecycle verbs on stored containers: start in the foreground
//! ([`run_foreground`]) or detached ([`start_detached`], whose child runs
//! [`monitor`]), [`list`], [`stop`], [`kill`], [`remove`], [`wait`],
//! [`logs`] and [`exec`].

use std::ffi::OsString;
use std::io::{BufRead, BufReader, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio as ProcStdio};
use std::time::{Duration, Instant};

use rdock_cache::Store;
use rdock_runner::{ExecSpec, ExitStatus, Stdio};

use super::config::{ContainerConfig, State, Status};
use super::control::{self, Request};
use super::create::Created;
use super::error::{ContainerError, Result};
use super::id::ContainerId;
use super::logs::{read_log, LogLine};
use super::monitor::{cgroup_name, supervise, Exit, Terminal};
use super::mounts::MountSpec;
use super::store::{Containers, Slot};

/// A container as `ps` and `inspect` see it.
#[derive(Clone, Debug)]
pub struct ContainerInfo {
    /// Its configuration.
    pub config: ContainerConfig,
    /// Its state, corrected for a dead monitor.
    pub state: State,
    /// Its log file.
    pub log_path: PathBuf,
}

impl ContainerInfo {
    /// Creation time in seconds since the epoch.
    pub fn created_unix(&self) -> Option<i64> {
        crate::images::timefmt::parse_rfc3339(&self.config.created)
    }

    /// Start time of the last run in seconds since the epoch.
    pub fn started_unix(&self) -> Option<i64> {
        crate::images::timefmt::parse_rfc3339(&self.state.started_at)
    }

    /// End time of the last run in seconds since the epoch.
    pub fn finished_unix(&self) -> Option<i64> {
        crate::images::timefmt::parse_rfc3339(&self.state.finished_at)
    }
}

/// How to start a detached monitor: this binary and the hidden subcommand
/// that calls [`monitor`] (the container's ID is appended).
#[derive(Clone, Debug)]
pub struct MonitorCommand {
    /// The program, usually `std::env::current_exe()`.
    pub program: PathBuf,
    /// Its arguments before the ID.
    pub args: Vec<OsString>,
}

fn slot_of(store: &Store, name: &str) -> Result<Slot> {
    Containers::new(store.root()).resolve(name)
}

/// Runs a created container in this process, its output going to the log
/// and to `terminal`, until it ends for good; removes it afterwards with
/// `--rm`, also when it failed to start.
pub fn run_foreground(store: &Store, created: &Created, terminal: Terminal) -> Result<Exit> {
    let slot = &created.slot;
    let lock = slot.try_monitor_lock()?;
    if lock.is_none() {
        return Err(ContainerError::Monitor {
            id: slot.id.to_string(),
            reason: "is already running".into(),
        });
    }
    let mut reaper = None;
    let result = supervise(slot, &created.config, terminal, &mut |_| {}, &mut reaper);
    drop(lock);
    if created.config.auto_remove {
        remove_files(store.root(), slot, &created.config, true, false)?;
    }
    // The sandbox's teardown overlapped the cleanup above; wait for it.
    drop(reaper);
    result
}

/// Starts a container under a detached monitor process (which makes itself
/// a session leader) and returns once the command runs (or with why it
/// could not start).
pub fn start_detached(store: &Store, name: &str, monitor: &MonitorCommand) -> Result<ContainerId> {
    let slot = slot_of(store, name)?;
    let state = slot.read_state()?;
    if state.status.is_active() {
        return Ok(slot.id);
    }
    let fail = |reason: String| ContainerError::Monitor {
        id: slot.id.to_string(),
        reason,
    };
    let mut child = Command::new(&monitor.program)
        .args(&monitor.args)
        .arg(slot.id.as_str())
        .stdin(ProcStdio::null())
        .stdout(ProcStdio::piped())
        .stderr(ProcStdio::null())
        .spawn()
        .map_err(|e| fail(format!("starting its monitor: {e}")))?;
    let mut line = String::new();
    let read = child
        .stdout
        .take()
        .map(|out| BufReader::new(out).read_line(&mut line));
    match (read, line.trim_end().split_once(' ')) {
        (Some(Ok(_)), Some(("ok", _))) => Ok(slot.id),
        (Some(Ok(_)), Some(("err", rest))) => {
            let (code, message) = rest.split_once(' ').unwrap_or(("125", rest));
            let _ = child.wait();
            Err(ContainerError::StartFailed {
                code: code.parse().unwrap_or(125),
                message: message.to_owned(),
            })
        }
        _ => {
            let _ = child.wait();
            Err(fail("its monitor exited without starting it".into()))
        }
    }
}

/// The body of the detached monitor process: runs the container, telling
/// `report` one line when it started (`ok PID`) or failed (`err CODE MSG`),
/// then supervises it to the end.
pub fn monitor(store: &Store, id: &str, report: &mut dyn Write) -> Result<()> {
    let slot = slot_of(store, id)?;
    let Some(lock) = slot.try_monitor_lock()? else {
        let _ = writeln!(report, "err 125 container {id} is already running");
        return Ok(());
    };
    let config = slot.read_config()?;
    let mut reaper = None;
    let on_start = &mut |started: std::result::Result<i32, &ContainerError>| {
        // The code first: the parent exits with it, as a foreground run would.
        let _ = match started {
            Ok(pid) => writeln!(report, "ok {pid}"),
            Err(e) => writeln!(report, "err {} {}", e.exit_code(), one_line(&e.to_string())),
        };
        let _ = report.flush();
    };
    let result = supervise(&slot, &config, Terminal::default(), on_start, &mut reaper);
    drop(reaper);
    drop(lock);
    if config.auto_remove {
        remove_files(store.root(), &slot, &config, true, false)?;
    }
    result.map(|_| ())
}

/// The report is one line per message.
fn one_line(msg: &str) -> String {
    msg.replace('\n', " ")
}

/// Every container (running ones only unless `all`), newest first.
pub fn list(store: &Store, all: bool) -> Result<Vec<ContainerInfo>> {
    let mut out = Vec::new();
    for slot in Containers::new(store.root()).list()? {
        let Ok(config) = slot.read_config() else {
            continue; // being created or removed
        };
        let state = slot.read_state()?;
        if all || state.status.is_active() {
            out.push(ContainerInfo {
                log_path: slot.log_path(),
                config,
                state,
            });
        }
    }
    out.sort_by(|a, b| b.config.created.cmp(&a.config.created));
    Ok(out)
}

/// One container.
pub fn container(store: &Store, name: &str) -> Result<ContainerInfo> {
    let slot = slot_of(store, name)?;
    Ok(ContainerInfo {
        config: slot.read_config()?,
        state: slot.read_state()?,
        log_path: slot.log_path(),
    })
}

/// Sends `sig` to a running container's command. `rdock kill` (`proxied`
/// false) with SIGKILL or the stop signal counts as a user stop (no
/// restart); signals proxied by `rrun` do not.
pub fn kill(store: &Store, name: &str, sig: i32, proxied: bool) -> Result<ContainerId> {
    let slot = slot_of(store, name)?;
    let config = slot.read_config()?;
    let manual = !proxied && (sig == 9 || sig == config.stop_signal);
    if !control::send(&slot.id, Request::Signal { sig, manual })? {
        return Err(ContainerError::NotRunning(slot.id.to_string()));
    }
    Ok(slot.id)
}

/// Sets the window size of a running container's terminal (`-t`).
pub fn resize(store: &Store, name: &str, rows: u16, cols: u16) -> Result<()> {
    let slot = slot_of(store, name)?;
    match control::send(&slot.id, Request::Resize { rows, cols })? {
        true => Ok(()),
        false => Err(ContainerError::NotRunning(slot.id.to_string())),
    }
}

/// Stops a container: its stop signal, then SIGKILL after `timeout`
/// seconds (default: its `--stop-timeout`). Stopping a stopped container
/// is not an error.
pub fn stop(store: &Store, name: &str, timeout: Option<u32>) -> Result<ContainerId> {
    let slot = slot_of(store, name)?;
    let config = slot.read_config()?;
    let timeout = Duration::from_secs(u64::from(timeout.unwrap_or(config.stop_timeout)));
    let sig = config.stop_signal;
    if control::send(&slot.id, Request::Signal { sig, manual: true })?
        && !wait_monitor(&slot, timeout)
    {
        control::send(
            &slot.id,
            Request::Signal {
                sig: 9,
                manual: true,
            },
        )?;
        wait_monitor(&slot, Duration::from_secs(30));
    }
    Ok(slot.id)
}

/// Waits until no monitor holds the container; `false` on timeout.
fn wait_monitor(slot: &Slot, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if !slot.monitor_alive() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Blocks until the container is not running and returns its exit code.
pub fn wait(store: &Store, name: &str) -> Result<i32> {
    let slot = slot_of(store, name)?;
    drop(slot.lock("monitor.lock")?);
    Ok(slot.read_state()?.exit_code.unwrap_or(0))
}

/// Removes a container (`force` kills it first), and with `volumes` its
/// anonymous volumes. Leaves nothing: folder, name, cgroup.
pub fn remove(store: &Store, name: &str, force: bool, volumes: bool) -> Result<ContainerId> {
    let slot = slot_of(store, name)?;
    let config = slot.read_config()?;
    if slot.read_state()?.status.is_active() {
        if !force {
            return Err(ContainerError::Running {
                action: "remove",
                id: slot.id.to_string(),
            });
        }
        control::send(
            &slot.id,
            Request::Signal {
                sig: 9,
                manual: true,
            },
        )?;
        wait_monitor(&slot, Duration::from_secs(30));
    }
    remove_files(store.root(), &slot, &config, volumes, true)?;
    Ok(slot.id)
}

/// Removes a stopped container's files and name; `crashed` also cleans
/// what a monitor that died may have left (cgroup, network).
fn remove_files(
    root: &Path,
    slot: &Slot,
    config: &ContainerConfig,
    volumes: bool,
    crashed: bool,
) -> Result<()> {
    if crashed {
        let _ = rdock_runner::remove_cgroup(&cgroup_name(config));
        super::network::cleanup(root, config);
    }
    Containers::new(root).release_name(&config.name, &slot.id);
    // Config first: a half-removed folder is no longer listed.
    let _ = std::fs::remove_file(slot.config_path());
    match std::fs::remove_dir_all(&slot.dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        // Rootless: files the container's non-root users made belong to
        // subordinate ids; the user's own namespace may remove them.
        Err(e)
            if e.kind() == std::io::ErrorKind::PermissionDenied
                && !nix::unistd::geteuid().is_root() =>
        {
            rdock_runner::remove_tree(&slot.dir, &super::userns::rootless_userns()?)?;
        }
        Err(e) => return Err(super::store::io("removing", &slot.dir)(e)),
    }
    if volumes {
        for m in &config.mounts {
            if let MountSpec::Volume { name: Some(n), .. } = m {
                // Only anonymous volumes (named by a random ID) go with -v.
                if n.parse::<ContainerId>().is_ok() {
                    let _ = crate::volumes::volume_rm(root, n, true);
                }
            }
        }
    }
    Ok(())
}

/// The IDs of the images containers use (running or not): their layers'
/// snapshots must survive `rmi` and `prune` while the containers exist.
pub fn images_in_use(store: &Store) -> Result<Vec<String>> {
    let mut ids: Vec<String> = Containers::new(store.root())
        .list()?
        .into_iter()
        .filter_map(|slot| slot.read_config().ok())
        .map(|c| c.image_id)
        .collect();
    ids.sort();
    ids.dedup();
    Ok(ids)
}

/// The IDs of the containers (running or not) made from image `image_id`.
pub(crate) fn image_users(store: &Store, image_id: &str) -> Result<Vec<String>> {
    Ok(Containers::new(store.root())
        .list()?
        .into_iter()
        .filter(|slot| slot.read_config().is_ok_and(|c| c.image_id == image_id))
        .map(|slot| slot.id.to_string())
        .collect())
}

/// The containers that use volume `name`.
pub(crate) fn volume_users(root: &Path, name: &str) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for slot in Containers::new(root).list()? {
        if let Ok(config) = slot.read_config() {
            if crate::volumes::volume_names(&config.mounts).any(|n| n == name) {
                out.push(slot.id.to_string());
            }
        }
    }
    Ok(out)
}

/// Log records from `offset` on, the next offset, and whether the
/// container may still write more.
pub fn logs(store: &Store, name: &str, offset: u64) -> Result<(Vec<LogLine>, u64, bool)> {
    let slot = slot_of(store, name)?;
    let active = slot.read_state()?.status.is_active();
    let (lines, next) = read_log(&slot.log_path(), offset)?;
    Ok((lines, next, active))
}

/// `rdock exec`: what to run in a running container.
#[derive(Clone, Debug, Default)]
pub struct ExecRequest {
    /// The command.
    pub args: Vec<String>,
    /// Extra `KEY=value` (over the container's environment).
    pub env: Vec<String>,
    /// Working directory (default: the container's).
    pub workdir: Option<String>,
    /// User (default: the container's).
    pub user: Option<String>,
    /// Allocate a pty.
    pub tty: bool,
}

/// Runs a command in a running container with `terminal`'s streams and
/// returns its exit code (128+N when killed by signal N).
pub fn exec(store: &Store, name: &str, req: &ExecRequest, terminal: Terminal) -> Result<i32> {
    let slot = slot_of(store, name)?;
    let config = slot.read_config()?;
    let state = slot.read_state()?;
    if state.status != Status::Running || state.pid <= 0 {
        return Err(ContainerError::NotRunning(slot.id.to_string()));
    }
    let mut env = config.env.clone();
    for e in &req.env {
        let key = e.split('=').next().unwrap_or_default();
        env.retain(|x| x.split('=').next() != Some(key));
        env.push(e.clone());
    }
    let mut spec = ExecSpec::new(req.args.clone());
    spec.env = env;
    spec.cwd = req.workdir.clone().unwrap_or(config.workdir.clone());
    spec.user = req.user.clone().unwrap_or(config.user.clone());
    spec.security.cap_add = config.cap_add.clone();
    spec.security.cap_drop = config.cap_drop.clone();
    spec.security.privileged = config.privileged;
    spec.security.no_new_privs = config.security.no_new_privileges;
    spec.security.seccomp = !config.security.seccomp_unconfined;
    let null = std::fs::File::open("/dev/null")
        .map_err(super::store::io("opening", Path::new("/dev/null")))?;
    let fd = |f: &Option<OwnedFd>| f.as_ref().map_or(null.as_raw_fd(), |f| f.as_raw_fd());
    spec.stdio = match req.tty {
        true => Stdio::Pty,
        false => Stdio::Fds {
            stdin: fd(&terminal.stdin),
            stdout: fd(&terminal.stdout),
            stderr: fd(&terminal.stderr),
        },
    };
    let mut running = rdock_runner::exec(state.pid, &spec)?;
    if let Some(master) = running.pty_master() {
        if let Some((rows, cols)) = terminal.size {
            let _ = rdock_runner::resize_pty(std::os::fd::AsFd::as_fd(&master), rows, cols);
        }
        if let (Some(sizes), Ok(pty)) = (terminal.resizes, master.try_clone()) {
            // Ends with the process: the sender lives as long as the CLI.
            std::thread::spawn(move || {
                for (rows, cols) in sizes {
                    let _ = rdock_runner::resize_pty(std::os::fd::AsFd::as_fd(&pty), rows, cols);
                }
            });
        }
        let master = std::fs::File::from(master);
        if let (Some(stdin), Ok(mut to)) = (&terminal.stdin, master.try_clone()) {
            if let Ok(stdin) = stdin.try_clone() {
                std::thread::spawn(move || {
                    let _ = std::io::copy(&mut std::fs::File::from(stdin), &mut to);
                });
            }
        }
        if let Some(out) = terminal.stdout.as_ref().and_then(|o| o.try_clone().ok()) {
            let (mut from, mut out) = (master, std::fs::File::from(out));
            let _ = std::io::copy(&mut from, &mut out);
        }
    }
    let finished = running.wait()?;
    Ok(match finished.outcome.status {
        ExitStatus::Exited(c) => c,
        ExitStatus::Signaled(s) => 128 + s,
    })
}
