//! RUN: the command (shell form with the stage's SHELL, exec form, or a
//! heredoc body given to the shell as BuildKit does) runs with the runner
//! on the stage's layers and a fresh upper dir; env is the stage's
//! variables (image ENV, ARG values and ENV in order); cwd is WORKDIR; the
//! user is USER. A non-zero exit fails the build with the last lines of output.
//! `RUN --mount` flags become runner mounts through [`crate::run_mounts`].

use rdock_parser::instructions::{CommandLine, NetworkMode, Run, Security};
use std::collections::{BTreeMap, VecDeque};
use std::io::{BufRead, BufReader};
use std::os::fd::AsRawFd;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;

use rdock_runner::{Mount, Network, RunSpec, Stdio};

use crate::error::{Error, Result};
use crate::key::KeyWriter;
use crate::run_mounts;
use crate::snapshot::Upper;
use crate::solve::{Event, Ran, Solver, StageState};
use crate::steps::command_args;

/// How many output lines a failed RUN's error keeps.
const TAIL_LINES: usize = 10;

/// A heredoc script run by its `#!` line, mounted at `/dev/pipes/NAME`.
#[derive(Debug, PartialEq, Eq)]
struct Script {
    name: String,
    data: String,
}

/// BuildKit's `ChompHeredocContent`: leading tabs off every line.
fn chomp(data: &str) -> String {
    data.split_inclusive('\n')
        .map(|l| l.trim_start_matches('\t'))
        .collect()
}

/// The command of a RUN, heredocs resolved as BuildKit does: a RUN that is
/// one heredoc runs its body with the shell (or, with a `#!` line, as a
/// script); heredocs inside a longer command are given back to the shell
/// with their bodies.
fn run_args(state: &StageState, run: &Run) -> Result<(Vec<String>, Option<Script>)> {
    if run.files.is_empty() {
        return Ok((command_args(state, &run.command), None));
    }
    let CommandLine::Shell(text) = &run.command else {
        return Err(Error::Unsupported {
            step: "RUN".into(),
            what: "a heredoc with an exec-form RUN".into(),
        });
    };
    let whole = text.trim();
    let marker = whole.strip_prefix("<<").map(|m| {
        m.trim_start_matches('-')
            .trim_matches(|c| c == '"' || c == '\'')
    });
    let mut script = None;
    let body = match (marker, run.files.as_slice()) {
        (Some(m), [file]) if m == file.name => {
            let data = match file.chomp {
                true => chomp(&file.data),
                false => file.data.clone(),
            };
            if data.starts_with("#!") && !file.name.contains('/') {
                let path = format!("/dev/pipes/{}", file.name);
                script = Some(Script {
                    name: file.name.clone(),
                    data,
                });
                path
            } else {
                data
            }
        }
        _ => {
            let mut full = text.clone();
            for file in &run.files {
                full.push('\n');
                full.push_str(&file.data);
                full.push_str(&file.name);
            }
            full
        }
    };
    let mut args = state.config.shell();
    args.push(body);
    Ok((args, script))
}

/// BuildKit's `runCommandString`: `|N K=V ...` before the command when
/// ARGs are in scope, each with its current value (an ENV of the same name
/// wins), a name declared twice listed once.
fn history_text(state: &StageState, args: &[String]) -> String {
    let mut words: Vec<String> = Vec::new();
    let mut index: Vec<&str> = Vec::new();
    for (k, v) in &state.build_args {
        let value = state.env.get(k).or(v.as_deref()).unwrap_or_default();
        let word = format!("{k}={value}");
        match index.iter().position(|n| n == k) {
            Some(i) => words[i] = word,
            None => {
                index.push(k);
                words.push(word);
            }
        }
    }
    if !words.is_empty() {
        words.insert(0, format!("|{}", words.len()));
    }
    words.extend(args.iter().cloned());
    format!("RUN {} # buildkit", words.join(" "))
}

/// BuildKit's predefined proxy args: a `--build-arg` of one of these
/// names (any case) reaches every RUN as both spellings without an ARG,
/// and stays out of the cache key and the history. An ENV of the same
/// name comes first, so it wins.
fn add_proxy_env(env: &mut Vec<String>, build_args: &BTreeMap<String, String>) {
    const PROXIES: [&str; 5] = [
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "FTP_PROXY",
        "NO_PROXY",
        "ALL_PROXY",
    ];
    for name in PROXIES {
        let value = build_args
            .get(name)
            .or_else(|| build_args.get(&name.to_ascii_lowercase()))
            .or_else(|| {
                build_args
                    .iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case(name))
                    .map(|(_, v)| v)
            });
        let Some(value) = value.filter(|v| !v.is_empty()) else {
            continue;
        };
        for key in [name.to_string(), name.to_ascii_lowercase()] {
            if !env
                .iter()
                .any(|e| e.split('=').next() == Some(key.as_str()))
            {
                env.push(format!("{key}={value}"));
            }
        }
    }
}

fn tail(streamed: &[String], outcome_stdout: &[u8], outcome_stderr: &[u8]) -> String {
    let mut lines: Vec<&str> = streamed.iter().map(String::as_str).collect();
    let captured = [
        String::from_utf8_lossy(outcome_stdout),
        String::from_utf8_lossy(outcome_stderr),
    ];
    lines.extend(captured.iter().flat_map(|t| t.lines()));
    lines[lines.len().saturating_sub(TAIL_LINES)..].join("\n")
}

/// Runs the command with stdout and stderr on one pipe, as BuildKit shows
/// them: each line is reported as it comes, and the last lines are kept
/// for the error of a failed command.
fn run_streaming(
    s: &Solver<'_>,
    spec: &mut RunSpec,
    id: usize,
) -> Result<(rdock_runner::Outcome, Vec<String>)> {
    let io = |action, path: &str| {
        let path = PathBuf::from(path);
        move |source| Error::Io {
            step: "RUN".into(),
            action,
            path,
            source,
        }
    };
    let (reader, writer) = std::io::pipe().map_err(io("creating", "a pipe"))?;
    let null = std::fs::File::open("/dev/null").map_err(io("opening", "/dev/null"))?;
    spec.stdio = Stdio::Fds {
        stdin: null.as_raw_fd(),
        stdout: writer.as_raw_fd(),
        stderr: writer.as_raw_fd(),
    };
    let emit = s.emitter();
    let pump = std::thread::spawn(move || {
        let mut tail = VecDeque::with_capacity(TAIL_LINES);
        for line in BufReader::new(reader).split(b'\n') {
            let Ok(line) = line else { break };
            let line = String::from_utf8_lossy(&line)
                .trim_end_matches('\r')
                .to_string();
            if tail.len() == TAIL_LINES {
                tail.pop_front();
            }
            tail.push_back(line.clone());
            emit(Event::Output { id, line });
        }
        Vec::from(tail)
    });
    let outcome = s.opts.executor.run(spec);
    // The command's copies are gone with it; ours ends the reader's input.
    drop(writer);
    drop(null);
    let streamed = pump.join().unwrap_or_default();
    let outcome = outcome.map_err(|source| Error::Runner {
        step: "RUN".into(),
        source,
    })?;
    Ok((outcome, streamed))
}

/// The build arg BuildKit's frontend reads the sandbox hostname from.
const HOSTNAME_ARG: &str = "BUILDKIT_SANDBOX_HOSTNAME";

/// The RUN's cache key: the parent's key, the command (with a heredoc
/// script's body), every variable the command sees (image ENV, ARG values
/// in scope, ENV), the working directory, the user and the flags.
fn run_key(
    s: &mut Solver<'_>,
    state: &StageState,
    run: &Run,
    args: &[String],
    script: Option<&Script>,
    cwd: &str,
    mounts: &[run_mounts::Planned],
) -> Result<rdock_cache::CacheKey> {
    let mut k = KeyWriter::new("run");
    k.key(state.parent_key())
        .list(args)
        .opt_str(script.map(|s| s.name.as_str()))
        .opt_str(script.map(|s| s.data.as_str()))
        .list(&state.env.to_env_strings())
        .str(cwd)
        .str(&state.config.user)
        .str(match run.network {
            NetworkMode::Default => "default",
            NetworkMode::None => "none",
            NetworkMode::Host => "host",
        })
        .str(match run.security {
            Security::Insecure => "insecure",
            _ => "sandbox",
        });
    // Only when set, so that the keys of other RUNs stay.
    if let Some(h) = s.plan.build_args.get(HOSTNAME_ARG) {
        k.str(h);
    }
    // Only with mounts, so that the keys of RUNs without them stay.
    run_mounts::write_key(s, &mut k, mounts)?;
    Ok(k.finish())
}

pub(crate) fn run(s: &mut Solver<'_>, state: &mut StageState, run: &Run, id: usize) -> Result<Ran> {
    if run.security == Security::Insecure || !run.devices.is_empty() {
        return Err(Error::Unsupported {
            step: "RUN".into(),
            what: "RUN --security=insecure and --device".into(),
        });
    }
    let host = rdock_parser::platform::Platform::host().normalize();
    if state.platform.normalize() != host {
        return Err(Error::ForeignPlatform {
            platform: state.platform.normalize().to_string(),
            host: host.to_string(),
        });
    }
    let (args, script) = run_args(state, run)?;
    let cwd = if state.config.workdir.is_empty() {
        "/".to_string()
    } else {
        state.config.workdir.clone()
    };
    let mounts = run_mounts::plan(s, state, run)?;
    let key = run_key(s, state, run, &args, script.as_ref(), &cwd, &mounts)?;
    let history = history_text(state, &args);
    let created = s.opts.created.clone();
    if let Some(layer) = s.reuse(state, &key)? {
        state.config.add_history(&created, history, !layer);
        state.key = Some(key);
        return Ok(Ran::Cached);
    }
    let upper = Upper::new(s, "RUN")?;
    let mut spec = RunSpec::new(
        state.lowers(s.store),
        upper.path(),
        upper.work_dir()?,
        args.clone(),
    );
    // BuildKit's sandbox name, which RUN commands see in hostname and
    // hosts; the BUILDKIT_SANDBOX_HOSTNAME build arg replaces it.
    spec.hostname = s
        .plan
        .build_args
        .get(HOSTNAME_ARG)
        .cloned()
        .unwrap_or_else(|| "buildkitsandbox".to_owned());
    spec.env = state.env.to_env_strings();
    add_proxy_env(&mut spec.env, &s.plan.build_args);
    let prepared = match mounts.is_empty() {
        true => None,
        false => Some(run_mounts::prepare(
            s,
            &mounts,
            &upper.scratch_dir("mounts")?,
        )?),
    };
    if let Some(p) = &prepared {
        spec.mounts.extend(p.mounts.iter().cloned());
        for e in &p.env {
            let name = e.split('=').next().unwrap_or_default();
            spec.env.retain(|x| x.split('=').next() != Some(name));
            spec.env.push(e.clone());
        }
    }
    if let Some(script) = script {
        let dir = upper.scratch_dir("pipes")?;
        let file = dir.join(&script.name);
        let io = |source| Error::Io {
            step: "RUN".into(),
            action: "writing",
            path: file.clone(),
            source,
        };
        std::fs::write(&file, &script.data).map_err(io)?;
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o755)).map_err(io)?;
        spec.mounts.push(Mount::Bind {
            source: dir,
            target: "/dev/pipes".into(),
            readonly: true,
        });
    }
    spec.cwd = cwd;
    spec.user = state.config.user.clone();
    spec.network = match run.network {
        NetworkMode::Default => Network::Default,
        NetworkMode::None => Network::None,
        NetworkMode::Host => Network::Host,
    };
    let (outcome, streamed) = run_streaming(s, &mut spec, id)?;
    // An executor that captured instead (a test's) reports at the end.
    for line in String::from_utf8_lossy(&outcome.stdout)
        .lines()
        .chain(String::from_utf8_lossy(&outcome.stderr).lines())
    {
        s.emit(Event::Output {
            id,
            line: line.to_string(),
        });
    }
    let code = match outcome.status {
        rdock_runner::ExitStatus::Exited(0) => None,
        rdock_runner::ExitStatus::Exited(c) => Some(c),
        rdock_runner::ExitStatus::Signaled(sig) => Some(128 + sig),
    };
    if let Some(code) = code {
        return Err(Error::RunFailed {
            step: "RUN".into(),
            command: args.join(" "),
            code,
            output: tail(&streamed, &outcome.stdout, &outcome.stderr),
        });
    }
    let layer = upper.finish(s, state, &key)?;
    drop(prepared);
    state.config.add_history(&created, history, !layer);
    state.key = Some(key);
    Ok(Ran::Executed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rdock_parser::instructions::Instruction;

    fn first_run(text: &str) -> Run {
        let df = rdock_parser::parse(text.as_bytes()).unwrap();
        let parsed = rdock_parser::instructions::parse_dockerfile(&df).unwrap();
        match &parsed.stages[0].instructions[0] {
            Instruction::Run(r) => r.clone(),
            other => panic!("not a RUN: {other:?}"),
        }
    }

    fn args(state: &StageState, run: &Run) -> Vec<String> {
        run_args(state, run).unwrap().0
    }

    #[test]
    fn shell_exec_and_heredoc_commands() {
        let mut state = StageState::default();
        let run = first_run("FROM x\nRUN echo $A\n");
        assert_eq!(args(&state, &run), ["/bin/sh", "-c", "echo $A"]);
        let run = first_run("FROM x\nRUN [\"a\", \"b c\"]\n");
        assert_eq!(args(&state, &run), ["a", "b c"]);
        state.config.shell = Some(vec!["/bin/ash".into(), "-ec".into()]);
        let run = first_run("FROM x\nRUN <<-EOT\n\tone\n\ttwo\n\tEOT\n");
        assert_eq!(args(&state, &run), ["/bin/ash", "-ec", "one\ntwo\n"]);
        let run = first_run("FROM x\nRUN cat <<EOT > /f\nx\nEOT\n");
        assert_eq!(
            args(&state, &run),
            ["/bin/ash", "-ec", "cat <<EOT > /f\nx\nEOT"]
        );
        let run = first_run("FROM x\nRUN <<EOT\n#!/bin/sh\necho hi\nEOT\n");
        let (words, script) = run_args(&state, &run).unwrap();
        assert_eq!(words, ["/bin/ash", "-ec", "/dev/pipes/EOT"]);
        assert_eq!(script.unwrap().data, "#!/bin/sh\necho hi\n");
    }

    #[test]
    fn history_lists_args_with_current_values() {
        let mut state = StageState::default();
        assert_eq!(
            history_text(&state, &["true".into()]),
            "RUN true # buildkit"
        );
        for (k, v) in [
            ("A", Some("arg")),
            ("B", Some("b")),
            ("C", None),
            ("A", None),
        ] {
            state.build_args.push((k.into(), v.map(String::from)));
        }
        state.env.set("A", "env");
        let args = ["/bin/sh".to_string(), "-c".into(), "x".into()];
        assert_eq!(
            history_text(&state, &args),
            "RUN |3 A=env B=b C= /bin/sh -c x # buildkit"
        );
    }
}
