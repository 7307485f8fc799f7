//! `rdock run` and the container verbs (`ps`, `logs`, `stop`, `kill`,
//! `rm`, `exec`, `start`, `wait`, `container inspect`, `volume ...`), and
//! the hidden `container-monitor` that supervises a detached container.
//! Errors of `run` and `exec` exit with docker's codes (125, 126, 127).

use std::io::Write;
use std::os::fd::{AsFd, OwnedFd};
use std::process::ExitCode;
use std::time::Duration;

use rdock_engine::{
    ContainerError, ContainerInfo, ExecRequest, MonitorCommand, MountSpec, RunRequest, Status,
    Store, Terminal,
};

use super::render::{human_duration, table};
use crate::cli::{
    ContainersArgs, ExecArgs, InspectArgs, KillArgs, LogsArgs, PsArgs, RmArgs, RunArgs, StopArgs,
    VolumeCommand,
};

/// Prints a container error and picks docker's exit code for it.
fn fail(err: ContainerError) -> ExitCode {
    let code = err.exit_code();
    super::report(&err.into());
    ExitCode::from(code)
}

fn request(args: &RunArgs) -> Result<RunRequest, ContainerError> {
    let mut mounts = Vec::new();
    for v in &args.volumes {
        mounts.push(MountSpec::from_volume_flag(v)?);
    }
    for m in &args.mounts {
        mounts.push(MountSpec::from_mount_flag(m)?);
    }
    for t in &args.tmpfs {
        mounts.push(MountSpec::from_tmpfs_flag(t)?);
    }
    let memory_swap = match args.memory_swap.as_deref() {
        None => None,
        Some("-1") => Some(-1),
        Some(s) => Some(rdock_engine::parse_bytes("--memory-swap", s)? as i64),
    };
    Ok(RunRequest {
        image: args.image.clone(),
        args: args.command.clone(),
        name: args.name.as_deref().map(str::parse).transpose()?,
        env: args.env.clone(),
        env_files: args.env_file.clone(),
        workdir: args.workdir.clone(),
        user: args.user.clone(),
        entrypoint: args.entrypoint.clone(),
        hostname: args.hostname.clone(),
        read_only: args.read_only,
        init: args.init,
        network: args.network.parse()?,
        publish: args.publish.clone(),
        resources: rdock_engine::Resources {
            memory: args
                .memory
                .as_deref()
                .map(|m| rdock_engine::parse_bytes("--memory", m))
                .transpose()?,
            memory_swap,
            cpus: args.cpus,
            pids_limit: args.pids_limit,
        },
        cap_add: args.cap_add.clone(),
        cap_drop: args.cap_drop.clone(),
        privileged: args.privileged,
        security: rdock_engine::SecurityOpts::parse(&args.security_opt)?,
        userns: args.userns.clone(),
        restart: args.restart.parse()?,
        mounts,
        stop_signal: args
            .stop_signal
            .as_deref()
            .map(|s| rdock_engine::parse_signal("--stop-signal", s))
            .transpose()?,
        stop_timeout: args.stop_timeout,
        auto_remove: args.rm,
        tty: args.tty,
        interactive: args.interactive,
    })
}

fn dup(fd: impl AsFd) -> Option<OwnedFd> {
    fd.as_fd().try_clone_to_owned().ok()
}

fn monitor_command(root: Option<&std::path::Path>) -> anyhow::Result<MonitorCommand> {
    let mut args = Vec::new();
    if let Some(root) = root {
        args.push("--root".into());
        args.push(root.into());
    }
    args.push("container-monitor".into());
    Ok(MonitorCommand {
        program: std::env::current_exe()?,
        args,
    })
}

pub fn run(
    store: &Store,
    args: &RunArgs,
    registry: rdock_engine::RegistryOptions,
) -> anyhow::Result<ExitCode> {
    if let Err(e) = super::registry::pull_missing(store, &args.image, registry) {
        // As docker run: the pull's error, and 125 (nothing was started).
        super::report(&e);
        return Ok(ExitCode::from(125));
    }
    if let Some(path) = args.cidfile.as_deref().filter(|p| p.exists()) {
        // docker's check: the file may belong to a container still running.
        let path = path.display();
        super::report(&anyhow::anyhow!(
            "container ID file found, make sure the other container isn't running or delete {path}"
        ));
        return Ok(ExitCode::from(125));
    }
    let created = match request(args).and_then(|req| rdock_engine::create(store, &req)) {
        Ok(c) => c,
        Err(e) => return Ok(fail(e)),
    };
    let id = created.config.id.clone();
    for w in &created.warnings {
        writeln!(std::io::stderr(), "WARNING: {w}")?;
    }
    if let Some(path) = &args.cidfile {
        std::fs::write(path, &id).map_err(|e| {
            anyhow::anyhow!("writing the container ID file {}: {e}", path.display())
        })?;
    }
    if args.detach {
        let monitor = monitor_command(Some(store.root()))?;
        return Ok(match rdock_engine::start_detached(store, &id, &monitor) {
            Ok(id) => {
                writeln!(std::io::stdout(), "{id}")?;
                ExitCode::SUCCESS
            }
            Err(e) => fail(e),
        });
    }
    // docker proxies signals in non-TTY mode only; with a TTY, ^C and
    // friends travel through the terminal and SIGWINCH resizes it.
    if args.tty {
        follow_window_size(store, &id)?;
    } else if args.sig_proxy {
        proxy_signals(store, &id)?;
    }
    let _raw = (args.tty && args.interactive)
        .then(rdock_engine::tty::RawMode::enable)
        .flatten();
    let terminal = terminal(args.interactive);
    Ok(
        match rdock_engine::run_foreground(store, &created, terminal) {
            Ok(exit) => ExitCode::from(exit.code.clamp(0, 255) as u8),
            Err(e) => fail(e),
        },
    )
}

/// This process's streams for a container (stdin only with `-i`).
fn terminal(interactive: bool) -> Terminal {
    Terminal {
        stdin: interactive.then(|| dup(std::io::stdin())).flatten(),
        stdout: dup(std::io::stdout()),
        stderr: dup(std::io::stderr()),
        size: rdock_engine::tty::window_size(),
        resizes: None,
    }
}

/// Resizes the container's terminal when ours changes size.
fn follow_window_size(store: &Store, id: &str) -> anyhow::Result<()> {
    let (store, id) = (store.clone(), id.to_owned());
    on_window_size(move |rows, cols| {
        let _ = rdock_engine::resize(&store, &id, rows, cols);
    })
}

/// Calls `f` with our terminal's new size on each SIGWINCH.
fn on_window_size(f: impl Fn(u16, u16) + Send + 'static) -> anyhow::Result<()> {
    let mut signals = signal_hook::iterator::Signals::new([signal_hook::consts::SIGWINCH])?;
    std::thread::spawn(move || {
        for _ in signals.forever() {
            if let Some((rows, cols)) = rdock_engine::tty::window_size() {
                f(rows, cols);
            }
        }
    });
    Ok(())
}

/// Forwards the signals `rrun` gets to the container (docker's sig-proxy).
fn proxy_signals(store: &Store, id: &str) -> anyhow::Result<()> {
    use signal_hook::consts::*;
    let mut signals =
        signal_hook::iterator::Signals::new([SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2])?;
    let (store, id) = (store.clone(), id.to_owned());
    std::thread::spawn(move || {
        for sig in signals.forever() {
            let _ = rdock_engine::kill(&store, &id, sig, true);
        }
    });
    Ok(())
}

pub fn monitor(store: &Store, id: &str) -> anyhow::Result<ExitCode> {
    // A session of its own: no controlling terminal, so the terminal's
    // hang-up and ^C are not its business.
    rdock_engine::tty::new_session();
    let mut out = std::io::stdout();
    rdock_engine::monitor(store, id, &mut out)?;
    Ok(ExitCode::SUCCESS)
}

pub fn ps(store: &Store, args: &PsArgs) -> anyhow::Result<ExitCode> {
    let list = rdock_engine::list(store, args.all)?;
    let mut out = std::io::stdout().lock();
    let id = |c: &ContainerInfo| match args.no_trunc {
        true => c.config.id.clone(),
        false => c.config.id[..12].to_owned(),
    };
    if args.quiet {
        for c in &list {
            writeln!(out, "{}", id(c))?;
        }
        return Ok(ExitCode::SUCCESS);
    }
    let now = now_secs();
    let ago = |t: Option<i64>| t.map_or("N/A".to_owned(), |t| human_duration(now - t));
    let mut rows = vec![[
        "CONTAINER ID",
        "IMAGE",
        "COMMAND",
        "CREATED",
        "STATUS",
        "PORTS",
        "NAMES",
    ]
    .map(String::from)
    .to_vec()];
    for c in &list {
        let mut command = c.config.args().join(" ");
        if !args.no_trunc && command.chars().count() > 20 {
            command = command.chars().take(19).collect::<String>() + "…";
        }
        let code = c.state.exit_code.unwrap_or(0);
        let status = match c.state.status {
            Status::Created => "Created".to_owned(),
            Status::Running => format!("Up {}", ago(c.started_unix())),
            Status::Restarting => format!("Restarting ({code}) {} ago", ago(c.finished_unix())),
            Status::Exited => format!("Exited ({code}) {} ago", ago(c.finished_unix())),
        };
        rows.push(vec![
            id(c),
            c.config.image.clone(),
            format!("\"{command}\""),
            format!("{} ago", ago(c.created_unix())),
            status,
            c.state.ports.join(", "),
            c.config.name.clone(),
        ]);
    }
    out.write_all(table(&rows).as_bytes())?;
    Ok(ExitCode::SUCCESS)
}

fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

pub fn logs(store: &Store, args: &LogsArgs) -> anyhow::Result<ExitCode> {
    let tail: Option<usize> =
        match args.tail.as_str() {
            "all" | "-1" => None,
            n => Some(n.parse().map_err(|_| {
                anyhow::anyhow!("invalid --tail {n:?}: expected a number or \"all\"")
            })?),
        };
    let (mut lines, mut offset, mut active) = rdock_engine::logs(store, &args.container, 0)?;
    if let Some(n) = tail {
        lines.drain(..lines.len().saturating_sub(n));
    }
    loop {
        let (mut out, mut err) = (std::io::stdout().lock(), std::io::stderr().lock());
        for l in &lines {
            let sink: &mut dyn Write = match l.stream {
                rdock_engine::Stream::Stdout => &mut out,
                rdock_engine::Stream::Stderr => &mut err,
            };
            if args.timestamps {
                write!(sink, "{} ", l.time)?;
            }
            sink.write_all(l.log.as_bytes())?;
        }
        out.flush()?;
        if !args.follow || (!active && lines.is_empty()) {
            return Ok(ExitCode::SUCCESS);
        }
        drop((out, err));
        std::thread::sleep(Duration::from_millis(100));
        (lines, offset, active) = rdock_engine::logs(store, &args.container, offset)?;
    }
}

/// Runs `f` on each container, printing what it returns; failures are
/// reported one per line and make the exit code 1, as docker does.
fn each(
    names: &[String],
    mut f: impl FnMut(&str) -> Result<String, ContainerError>,
) -> anyhow::Result<ExitCode> {
    let mut failed = false;
    for name in names {
        match f(name) {
            Ok(line) => writeln!(std::io::stdout(), "{line}")?,
            Err(e) => {
                super::report(&e.into());
                failed = true;
            }
        }
    }
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

pub fn stop(store: &Store, args: &StopArgs) -> anyhow::Result<ExitCode> {
    each(&args.containers, |n| {
        rdock_engine::stop(store, n, args.time).map(|_| n.to_owned())
    })
}

pub fn kill(store: &Store, args: &KillArgs) -> anyhow::Result<ExitCode> {
    let sig = match rdock_engine::parse_signal("--signal", &args.signal) {
        Ok(s) => s,
        Err(e) => return Ok(fail(e)),
    };
    each(&args.containers, |n| {
        rdock_engine::kill(store, n, sig, false).map(|_| n.to_owned())
    })
}

pub fn rm(store: &Store, args: &RmArgs) -> anyhow::Result<ExitCode> {
    each(&args.containers, |n| {
        rdock_engine::remove(store, n, args.force, args.volumes).map(|_| n.to_owned())
    })
}

pub fn start(store: &Store, args: &ContainersArgs) -> anyhow::Result<ExitCode> {
    let monitor = monitor_command(Some(store.root()))?;
    each(&args.containers, |n| {
        rdock_engine::start_detached(store, n, &monitor).map(|_| n.to_owned())
    })
}

pub fn wait(store: &Store, args: &ContainersArgs) -> anyhow::Result<ExitCode> {
    each(&args.containers, |n| {
        rdock_engine::wait(store, n).map(|c| c.to_string())
    })
}

pub fn exec(store: &Store, args: &ExecArgs) -> anyhow::Result<ExitCode> {
    let req = ExecRequest {
        args: args.command.clone(),
        env: args.env.clone(),
        workdir: args.workdir.clone(),
        user: args.user.clone(),
        tty: args.tty,
    };
    let _raw = (args.tty && args.interactive)
        .then(rdock_engine::tty::RawMode::enable)
        .flatten();
    let mut terminal = terminal(args.interactive);
    if args.tty {
        let (tx, rx) = std::sync::mpsc::channel();
        on_window_size(move |rows, cols| {
            let _ = tx.send((rows, cols));
        })?;
        terminal.resizes = Some(rx);
    }
    Ok(
        match rdock_engine::exec(store, &args.container, &req, terminal) {
            Ok(code) => ExitCode::from(code.clamp(0, 255) as u8),
            Err(e) => fail(e),
        },
    )
}

/// `inspect`: containers first, then images, as docker looks names up.
pub fn inspect(store: &Store, args: &InspectArgs) -> anyhow::Result<ExitCode> {
    let is_container = |n: &String| {
        !matches!(
            rdock_engine::container(store, n),
            Err(ContainerError::ContainerNotFound(_))
        )
    };
    if !args.images.iter().any(is_container) {
        return super::images::inspect(store, args);
    }
    let mut values = Vec::new();
    for name in &args.images {
        match rdock_engine::container(store, name) {
            Ok(info) => values.push(rdock_engine::inspect_container(&info)),
            Err(ContainerError::ContainerNotFound(_)) => {
                values.push(rdock_engine::inspect(store, name)?)
            }
            Err(e) => return Err(e.into()),
        }
    }
    print_json(&values)
}

pub fn container_inspect(store: &Store, args: &ContainersArgs) -> anyhow::Result<ExitCode> {
    let values = args
        .containers
        .iter()
        .map(|n| rdock_engine::container(store, n).map(|i| rdock_engine::inspect_container(&i)))
        .collect::<Result<Vec<_>, _>>()?;
    print_json(&values)
}

fn print_json(values: &[serde_json::Value]) -> anyhow::Result<ExitCode> {
    let mut out = std::io::stdout().lock();
    let mut ser = serde_json::Serializer::with_formatter(
        &mut out,
        serde_json::ser::PrettyFormatter::with_indent(b"    "),
    );
    serde::Serialize::serialize(values, &mut ser)?;
    writeln!(out)?;
    Ok(ExitCode::SUCCESS)
}

pub fn volume(store: &Store, cmd: &VolumeCommand) -> anyhow::Result<ExitCode> {
    let root = store.root();
    let mut out = std::io::stdout().lock();
    match cmd {
        VolumeCommand::Create { name } => {
            let name = match name {
                Some(n) => n.clone(),
                None => rdock_engine::ContainerId::random()?.to_string(),
            };
            writeln!(out, "{}", rdock_engine::volume_create(root, &name)?.name)?;
        }
        VolumeCommand::Ls { quiet } => {
            let vols = rdock_engine::volume_ls(root)?;
            if *quiet {
                for v in vols {
                    writeln!(out, "{}", v.name)?;
                }
            } else {
                let mut rows = vec![vec!["DRIVER".to_owned(), "VOLUME NAME".to_owned()]];
                rows.extend(vols.into_iter().map(|v| vec!["local".to_owned(), v.name]));
                out.write_all(table(&rows).as_bytes())?;
            }
        }
        VolumeCommand::Rm { force, names } => {
            drop(out);
            return each(names, |n| {
                rdock_engine::volume_rm(root, n, *force).map(|()| n.to_owned())
            });
        }
    }
    Ok(ExitCode::SUCCESS)
}
