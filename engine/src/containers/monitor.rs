//! The monitor: the process that owns a running container. It is `rrun`
//! itself in the foreground, or a detached re-exec of the binary (`-d`).
//! [`supervise`] starts the command with the runner, pumps its output into
//! the log (and the terminal), serves `stop`/`kill` on the control socket,
//! records the state, applies the restart policy with docker's back-off,
//! and cleans up when the container is done.

use std::io::{Read, Write};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rdock_runner::{ExitStatus, Reaper, Signaller, Stdio};

use super::config::{ContainerConfig, Status};
use super::control::{self, Request};
use super::error::{ContainerError, Result};
use super::logs::{LogWriter, Stream};
use super::network::NetworkSetup;
use super::store::{io, Slot};

/// Where a foreground run's streams go besides the log.
#[derive(Debug, Default)]
pub struct Terminal {
    /// Becomes the container's stdin (`-i`); `None` is `/dev/null`.
    pub stdin: Option<OwnedFd>,
    /// Receives stdout (and, with `-t`, everything).
    pub stdout: Option<OwnedFd>,
    /// Receives stderr.
    pub stderr: Option<OwnedFd>,
    /// The window size (rows, columns) to give the pty with `-t`.
    pub size: Option<(u16, u16)>,
    /// Later window sizes, for `exec -t` (a foreground run is resized
    /// through its control socket instead).
    pub resizes: Option<std::sync::mpsc::Receiver<(u16, u16)>>,
}

/// State shared with the control socket's thread.
#[derive(Debug, Default)]
struct Shared {
    /// Signals the current run's command (also while it is waited for).
    running: Mutex<Option<Signaller>>,
    manual_stop: AtomicBool,
    /// A copy of the pty master, for resizes.
    pty: Mutex<Option<OwnedFd>>,
}

impl Shared {
    fn handle(&self, cgroup: &str, req: Request) -> std::result::Result<(), String> {
        let (sig, manual) = match req {
            Request::Signal { sig, manual } => (sig, manual),
            Request::Resize { rows, cols } => {
                let pty = self.pty.lock().unwrap_or_else(|e| e.into_inner());
                return match pty.as_ref() {
                    Some(fd) => {
                        rdock_runner::resize_pty(fd.as_fd(), rows, cols).map_err(|e| e.to_string())
                    }
                    None => Err("the container has no terminal".to_owned()),
                };
            }
        };
        if manual {
            self.manual_stop.store(true, Ordering::SeqCst);
        }
        let signal = nix::sys::signal::Signal::try_from(sig).map_err(|e| e.to_string())?;
        // Signalling through the pidfd is quick: hold the lock meanwhile.
        let running = self.running.lock().unwrap_or_else(|e| e.into_inner());
        match running.as_ref() {
            Some(r) => r.signal(signal).map_err(|e| e.to_string()),
            // Between restarts: only a kill of the whole cgroup can matter.
            None if sig == 9 => rdock_runner::kill_cgroup(cgroup).map_err(|e| e.to_string()),
            None => Ok(()),
        }
    }
}

/// How a supervised container ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Exit {
    /// docker's exit code: the command's, or 128+N after signal N.
    pub code: i32,
    /// The memory limit's OOM killer struck.
    pub oom_killed: bool,
}

/// Runs the container until it ends for good (restart policy included).
/// `on_start` hears of the first start (or why it failed) as soon as it is
/// known; the detached parent waits for exactly that. The last run's
/// sandbox may still be tearing down when this returns: `reaper` then
/// waits for it (drop it after the caller's own cleanup, which overlaps).
pub(crate) fn supervise(
    slot: &Slot,
    config: &ContainerConfig,
    terminal: Terminal,
    on_start: &mut dyn FnMut(std::result::Result<i32, &ContainerError>),
    reaper: &mut Option<Reaper>,
) -> Result<Exit> {
    let shared = Arc::new(Shared::default());
    let cgroup = cgroup_name(config);
    let prepared = {
        let (shared, cgroup) = (shared.clone(), cgroup.clone());
        control::serve(&slot.id, move |r| shared.handle(&cgroup, r))
            .and_then(|()| LogWriter::open(&slot.log_path()))
            .and_then(|log| Ok((log, NetworkSetup::attach(slot.root(), config)?)))
    };
    let (log, net) = match prepared {
        Ok(both) => both,
        Err(e) => {
            record_failure(slot, &e);
            on_start(Err(&e));
            return Err(e);
        }
    };
    // Whatever happens in the loop, the network is detached afterwards.
    let result = run_loop(
        slot, config, &terminal, &log, &net, &shared, &cgroup, on_start, reaper,
    );
    // The runner removed the cgroup when the command was waited for.
    net.detach();
    result
}

/// Starts the command, and again as the restart policy says.
#[allow(clippy::too_many_arguments)]
fn run_loop(
    slot: &Slot,
    config: &ContainerConfig,
    terminal: &Terminal,
    log: &LogWriter,
    net: &NetworkSetup,
    shared: &Arc<Shared>,
    cgroup: &str,
    on_start: &mut dyn FnMut(std::result::Result<i32, &ContainerError>),
    reaper: &mut Option<Reaper>,
) -> Result<Exit> {
    let mut restarts = 0u32;
    let mut backoff = Duration::from_millis(100);
    let mut first = true;
    loop {
        // A restart mounts the same upper dir: the last sandbox goes first.
        if let Some(r) = reaper.take() {
            r.reap();
        }
        let started = Instant::now();
        let outcome = attempt(slot, config, terminal, log, net, shared, cgroup, restarts);
        let exit = match outcome {
            Ok((pid, wait)) => {
                if first {
                    on_start(Ok(pid));
                    first = false;
                }
                wait().map(|(exit, r)| {
                    *reaper = Some(r);
                    exit
                })
            }
            Err(e) => Err(e),
        };
        let exit = match exit {
            Ok(exit) => exit,
            Err(e) => {
                record_failure(slot, &e);
                if first {
                    on_start(Err(&e));
                }
                return Err(e);
            }
        };
        let manual = shared.manual_stop.load(Ordering::SeqCst);
        let again = !manual && config.restart.should_restart(exit.code, restarts);
        slot.update_state(|s| {
            s.status = if again {
                Status::Restarting
            } else {
                Status::Exited
            };
            s.pid = 0;
            s.ports.clear();
            s.exit_code = Some(exit.code);
            s.oom_killed = exit.oom_killed;
            s.stopped_by_user = manual;
            s.finished_at = super::now_rfc3339();
        })?;
        if !again {
            return Ok(exit);
        }
        // docker's back-off: doubles from 100 ms, reset by a run of 10 s.
        if started.elapsed() >= Duration::from_secs(10) {
            backoff = Duration::from_millis(100);
        }
        let until = Instant::now() + backoff;
        while Instant::now() < until && !shared.manual_stop.load(Ordering::SeqCst) {
            std::thread::sleep(Duration::from_millis(20));
        }
        backoff = (backoff * 2).min(Duration::from_secs(60));
        if shared.manual_stop.load(Ordering::SeqCst) {
            slot.update_state(|s| s.status = Status::Exited)?;
            return Ok(exit);
        }
        restarts += 1;
    }
}

fn record_failure(slot: &Slot, e: &ContainerError) {
    let _ = slot.update_state(|s| {
        // docker keeps a container that never started as created.
        s.status = match s.started_at.is_empty() {
            true => Status::Created,
            false => Status::Exited,
        };
        s.pid = 0;
        s.exit_code = Some(i32::from(e.exit_code()));
        s.error = e.to_string();
        s.finished_at = super::now_rfc3339();
    });
}

/// The container's cgroup, relative to each hierarchy.
pub(crate) fn cgroup_name(config: &ContainerConfig) -> String {
    format!("rdock/{}", config.id)
}

type Waiter = Box<dyn FnOnce() -> Result<(Exit, Reaper)>>;

/// Starts the command once; returns its pid and a function that pumps
/// its output and waits for it.
#[allow(clippy::too_many_arguments)]
fn attempt(
    slot: &Slot,
    config: &ContainerConfig,
    terminal: &Terminal,
    log: &LogWriter,
    net: &NetworkSetup,
    shared: &Arc<Shared>,
    cgroup: &str,
    restarts: u32,
) -> Result<(i32, Waiter)> {
    let mut spec = super::spec::run_spec(slot, config, net)?;
    // Without root there is no cgroup to create (create refused limits).
    if nix::unistd::geteuid().is_root() {
        spec.cgroup = Some(cgroup.to_owned());
    }
    let pipe = |what| std::io::pipe().map_err(io(what, &slot.dir));
    let null = std::fs::File::open("/dev/null").map_err(io("opening", "/dev/null".as_ref()))?;
    let stdin_fd = match &terminal.stdin {
        Some(fd) => fd.as_raw_fd(),
        None => null.as_raw_fd(),
    };
    let mut readers = Vec::new();
    let mut writers = Vec::new();
    if config.tty {
        spec.stdio = Stdio::Pty;
    } else {
        let (out_r, out_w) = pipe("creating the stdout pipe of")?;
        let (err_r, err_w) = pipe("creating the stderr pipe of")?;
        spec.stdio = Stdio::Fds {
            stdin: stdin_fd,
            stdout: out_w.as_raw_fd(),
            stderr: err_w.as_raw_fd(),
        };
        readers.push((Stream::Stdout, OwnedFd::from(out_r)));
        readers.push((Stream::Stderr, OwnedFd::from(err_r)));
        writers.push(out_w);
        writers.push(err_w);
    }
    let mut running = rdock_runner::spawn(&spec)?;
    drop(writers);
    drop(null);
    let pid = running.pid();
    let mut pumps: Vec<JoinHandle<()>> = Vec::new();
    if let Some(master) = running.pty_master() {
        if let Some((rows, cols)) = terminal.size {
            let _ = rdock_runner::resize_pty(master.as_fd(), rows, cols);
        }
        *shared.pty.lock().unwrap_or_else(|e| e.into_inner()) = master.try_clone().ok();
        let master = std::fs::File::from(master);
        if let (Some(stdin), Ok(mut to_master)) = (&terminal.stdin, master.try_clone()) {
            if let Ok(stdin) = stdin.try_clone() {
                // Detached from the container's lifetime: it ends with
                // the process (a blocked terminal read cannot be joined).
                std::thread::spawn(move || {
                    let _ = std::io::copy(&mut std::fs::File::from(stdin), &mut to_master);
                });
            }
        }
        pumps.push(pump(
            master.into(),
            Stream::Stdout,
            log,
            terminal.stdout.as_ref(),
        ));
    }
    for (stream, fd) in readers {
        let sink = match stream {
            Stream::Stdout => terminal.stdout.as_ref(),
            Stream::Stderr => terminal.stderr.as_ref(),
        };
        pumps.push(pump(fd, stream, log, sink));
    }
    *shared.running.lock().unwrap_or_else(|e| e.into_inner()) = Some(running.signaller()?);
    slot.update_state(|s| {
        s.status = Status::Running;
        s.pid = pid;
        s.monitor_pid = std::process::id() as i32;
        s.exit_code = None;
        s.oom_killed = false;
        s.error.clear();
        s.restart_count = restarts;
        s.started_at = super::now_rfc3339();
        s.ports = net.ports();
        s.ip = net.ip().unwrap_or_default();
    })?;
    let shared = shared.clone();
    let wait = move || -> Result<(Exit, Reaper)> {
        let finished = running.wait_overlapped();
        // The command ended: no more signals for it.
        let signaller = shared
            .running
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        drop(signaller);
        // The log is complete once every writer of the streams is gone.
        for p in pumps {
            let _ = p.join();
        }
        let (finished, reaper) = finished?;
        let code = match finished.outcome.status {
            ExitStatus::Exited(c) => c,
            ExitStatus::Signaled(s) => 128 + s,
        };
        let exit = Exit {
            code,
            oom_killed: finished.oom_killed,
        };
        Ok((exit, reaper))
    };
    Ok((pid, Box::new(wait)))
}

/// Copies `fd` to the log (and `sink`) until EOF.
fn pump(fd: OwnedFd, stream: Stream, log: &LogWriter, sink: Option<&OwnedFd>) -> JoinHandle<()> {
    let log = log.clone();
    let mut sink = sink
        .and_then(|s| s.try_clone().ok())
        .map(std::fs::File::from);
    let mut src = std::fs::File::from(fd);
    std::thread::spawn(move || {
        let mut buf = vec![0u8; 32 * 1024];
        loop {
            let n = match src.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                // EIO: the pty's last slave closed.
                Err(_) => break,
            };
            log.write(stream, &buf[..n]);
            if let Some(s) = &mut sink {
                let _ = s.write_all(&buf[..n]);
            }
        }
    })
}
