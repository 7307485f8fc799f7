//! One instruction of a stage: [`dispatch`] applies it to the
//! [`StageState`], with variables expanded as BuildKit does (ENV wins over
//! ARG; ARG must be declared in the stage), and records the history entry
//! in BuildKit's words. RUN is in [`crate::run_step`], COPY and ADD in
//! [`crate::copy_step`].

use rdock_parser::instructions::{CommandLine, Instruction};
use rdock_parser::shell::Lexer;
use serde_json::json;

use crate::config::{go_duration, go_list, go_quoted_list, go_quoted_rune};
use crate::error::{Error, Result};
use crate::key::KeyWriter;
use crate::snapshot::Upper;
use crate::solve::{Ran, Solver, StageState};

/// The instruction as the progress shows it: its first line as written,
/// and for a RUN that is one heredoc, BuildKit's summary of the body.
pub(crate) fn shown(source: &[u8], ins: &Instruction) -> String {
    let line = ins.span().start.line;
    let text = String::from_utf8_lossy(source);
    let mut out = text
        .lines()
        .nth(line.saturating_sub(1))
        .map(|l| l.trim().trim_end_matches('\\').trim_end().to_string())
        .unwrap_or_else(|| ins.keyword().to_uppercase());
    if let Instruction::Run(run) = ins {
        let whole = matches!(&run.command, CommandLine::Shell(t) if t.trim().starts_with("<<"));
        if let (true, [file]) = (whole, run.files.as_slice()) {
            let body = file.data.trim();
            let mut lines = body.lines();
            let first = lines.next().unwrap_or_default();
            let more = if lines.next().is_some() { "..." } else { "" };
            out.push_str(&format!(" ({first}{more})"));
        }
    }
    out
}

pub(crate) fn expand(
    solver: &Solver<'_>,
    state: &StageState,
    step: &str,
    word: &str,
) -> Result<String> {
    Lexer::new(solver.plan.escape)
        .process_word(word, state.scope())
        .map_err(|source| Error::Expand {
            step: step.to_string(),
            word: word.to_string(),
            source,
        })
}

/// The command of CMD, ENTRYPOINT or RUN: exec words, or the shell plus
/// the text.
pub(crate) fn command_args(state: &StageState, c: &CommandLine) -> Vec<String> {
    match c {
        CommandLine::Exec(words) => words.clone(),
        CommandLine::Shell(text) => {
            let mut args = state.config.shell();
            args.push(text.clone());
            args
        }
    }
}

/// Applies one instruction to the stage's `state`. File system steps
/// (RUN, COPY, ADD, WORKDIR) extend the state's cache key and are reused
/// from the cache when their key has a record; metadata instructions only
/// change the state the later keys hash.
pub(crate) fn dispatch(
    s: &mut Solver<'_>,
    state: &mut StageState,
    ins: &Instruction,
    id: usize,
) -> Result<Ran> {
    let step = ins.keyword().to_uppercase();
    let created = s.opts.created.clone();
    let history = match ins {
        Instruction::Run(run) => return crate::run_step::run(s, state, run, id),
        Instruction::Copy(c) => return crate::copy_step::copy(s, state, c.into()),
        Instruction::Add(a) => return crate::copy_step::copy(s, state, a.into()),
        Instruction::Workdir(w) => return workdir(s, state, &w.path),
        Instruction::From(_) => unreachable!("FROM starts a stage"),
        Instruction::Env(env) => {
            // Every word sees the variables from before the instruction.
            let mut pairs = Vec::new();
            for kv in &env.pairs {
                let k = expand(s, state, &step, &kv.key)?;
                let v = expand(s, state, &step, &kv.value)?;
                pairs.push((k, v));
            }
            let mut parts = Vec::new();
            for (k, v) in pairs {
                parts.push(format!("{k}={v}"));
                state.config.env.set(&k, &v);
                state.env.set(&k, &v);
            }
            format!("ENV {}", parts.join(" "))
        }
        Instruction::Label(label) => {
            let mut parts = Vec::new();
            for kv in &label.pairs {
                let k = expand(s, state, &step, &kv.key)?;
                let v = expand(s, state, &step, &kv.value)?;
                parts.push(format!("{k}={v}"));
                state.config.labels.insert(k, v);
            }
            format!("LABEL {}", parts.join(" "))
        }
        Instruction::Arg(arg) => {
            let mut parts = Vec::new();
            for def in &arg.args {
                // A --build-arg wins, then the default (expanded), then the
                // global value of the same name.
                let value = match (s.plan.build_args.get(&def.key), &def.value) {
                    (Some(v), _) => Some(v.clone()),
                    (None, Some(default)) => Some(expand(s, state, &step, default)?),
                    (None, None) => s.plan.globals.get(&def.key).map(str::to_string),
                };
                if let Some(v) = &value {
                    if !NON_ENV_ARGS.contains(&def.key.as_str()) {
                        state.env.set(&def.key, v);
                    }
                }
                parts.push(match &value {
                    Some(v) => format!("{}={v}", def.key),
                    None => def.key.clone(),
                });
                state.build_args.push((def.key.clone(), value));
            }
            format!("ARG {}", parts.join(" "))
        }
        Instruction::User(u) => {
            state.config.user = expand(s, state, &step, &u.user)?;
            format!("USER {}", state.config.user)
        }
        Instruction::Cmd(c) => {
            let args = command_args(state, &c.command);
            state.cmd_set = true;
            state.config.cmd = Some(args.clone());
            state.config.args_escaped = true;
            format!("CMD {}", go_quoted_list(&args))
        }
        Instruction::Entrypoint(e) => {
            let args = command_args(state, &e.command);
            if !state.cmd_set {
                state.config.cmd = None;
            }
            state.config.entrypoint = Some(args.clone());
            format!("ENTRYPOINT {}", go_quoted_list(&args))
        }
        Instruction::Shell(sh) => {
            state.config.shell = Some(sh.shell.clone());
            format!("SHELL {}", go_list(&sh.shell))
        }
        Instruction::Expose(e) => {
            let mut ports = Vec::new();
            for p in &e.ports {
                let words = Lexer::new(s.plan.escape)
                    .process_words(p, state.scope())
                    .map_err(|source| Error::Expand {
                        step: step.clone(),
                        word: p.clone(),
                        source,
                    })?;
                ports.extend(words);
            }
            // Current BuildKit lists the ports as given (ranges spread),
            // where docker 20.10's printed a Go map.
            let mut listed = Vec::new();
            for p in &ports {
                for key in port_keys(p) {
                    state.config.exposed.insert(key.clone(), json!({}));
                    listed.push(key);
                }
            }
            format!("EXPOSE [{}]", listed.join(" "))
        }
        Instruction::Volume(v) => {
            let mut paths = Vec::new();
            for p in &v.paths {
                let p = expand(s, state, &step, p)?;
                state.config.volumes.insert(p.clone(), json!({}));
                paths.push(p);
            }
            format!("VOLUME {}", go_list(&paths))
        }
        Instruction::StopSignal(sig) => {
            let sig = expand(s, state, &step, &sig.signal)?;
            if rdock_runner::signal_number(&sig).is_none() {
                return Err(Error::InvalidSignal(sig));
            }
            state.config.stop_signal = Some(sig.clone());
            format!("STOPSIGNAL {sig}")
        }
        Instruction::Healthcheck(h) => {
            let mut check = json!({ "Test": h.test });
            for (key, d) in [
                ("Interval", h.interval),
                ("Timeout", h.timeout),
                ("StartPeriod", h.start_period),
                ("StartInterval", h.start_interval),
            ] {
                if !d.is_zero() {
                    check[key] = json!(d.as_nanos() as u64);
                }
            }
            if h.retries != 0 {
                check["Retries"] = json!(h.retries);
            }
            state.config.healthcheck = Some(check);
            let durations: Vec<String> = [h.interval, h.timeout, h.start_period, h.start_interval]
                .iter()
                .map(|d| rdock_parser::go_quote(&go_duration(*d)))
                .collect();
            format!(
                "HEALTHCHECK &{{{} {} {}}}",
                go_quoted_list(&h.test),
                durations.join(" "),
                go_quoted_rune(h.retries)
            )
        }
        Instruction::OnBuild(o) => {
            // BuildKit records no history entry for ONBUILD.
            state.config.on_build.push(o.expression.clone());
            return Ok(Ran::Executed);
        }
        Instruction::Maintainer(m) => {
            state.author = Some(m.name.clone());
            format!("MAINTAINER {}", m.name)
        }
    };
    state.config.add_history(&created, history, true);
    Ok(Ran::Executed)
}

/// ARGs that never become environment variables.
const NON_ENV_ARGS: [&str; 2] = ["BUILDKIT_SBOM_SCAN_CONTEXT", "BUILDKIT_SBOM_SCAN_STAGE"];

/// The exposed-port keys of one EXPOSE word, as docker's `nat` package
/// reads it: `80`, `80/UDP` (lower-cased), a range `8000-8002/tcp`.
fn port_keys(word: &str) -> Vec<String> {
    let (ports, proto) = match word.rsplit_once('/') {
        Some((p, proto)) => (p, proto.to_lowercase()),
        None => (word, "tcp".to_string()),
    };
    // An `ip:` or `ip:host:` prefix publishes, which EXPOSE ignores.
    let ports = ports.rsplit(':').next().unwrap_or(ports);
    match ports.split_once('-') {
        Some((a, b)) => match (a.parse::<u32>(), b.parse::<u32>()) {
            (Ok(a), Ok(b)) if a <= b => (a..=b).map(|p| format!("{p}/{proto}")).collect(),
            _ => vec![format!("{ports}/{proto}")],
        },
        None => vec![format!("{ports}/{proto}")],
    }
}

/// Joins a path to the working directory, as BuildKit does for WORKDIR
/// and relative COPY destinations (a trailing `/` is kept).
pub(crate) fn under_workdir(workdir: &str, path: &str) -> String {
    if path.starts_with('/') {
        return path.to_string();
    }
    let base = if workdir.is_empty() { "/" } else { workdir };
    format!("{}/{path}", base.trim_end_matches('/'))
}

/// WORKDIR: sets the directory and creates it, owned by USER: a layer
/// (empty when the directory was there) unless it is `/`, as BuildKit.
fn workdir(s: &mut Solver<'_>, state: &mut StageState, path: &str) -> Result<Ran> {
    let path = expand(s, state, "WORKDIR", path)?;
    let joined = under_workdir(&state.config.workdir, &path);
    let clean = format!("/{}", crate::fsview::clean(&joined).display());
    state.config.workdir = clean.clone();
    let created = s.opts.created.clone();
    if clean == "/" {
        let history = "WORKDIR /".to_string();
        state.config.add_history(&created, history, true);
        return Ok(Ran::Executed);
    }
    let mut key = KeyWriter::new("workdir");
    key.key(state.parent_key())
        .str(&clean)
        .str(&state.config.user);
    let key = key.finish();
    if let Some(layer) = s.reuse(state, &key)? {
        state
            .config
            .add_history(&created, format!("WORKDIR {clean}"), !layer);
        state.key = Some(key);
        return Ok(Ran::Cached);
    }
    let view = state.view(s.store);
    let upper = Upper::new(s, "WORKDIR")?;
    // Symlinks on the way are followed, as BuildKit's mkdir does.
    let rel = view
        .resolve_dest(&crate::fsview::clean(&clean))
        .ok_or_else(|| Error::SymlinkLoop {
            step: "WORKDIR".to_string(),
            path: clean.clone(),
        })?;
    if view.lookup(&rel).is_none() {
        // BuildKit creates the missing directories as the current USER.
        let owner = match state.config.user.as_str() {
            "" => None,
            user => Some(crate::copy_step::owner(&view, user)),
        };
        crate::copy::make_dirs("WORKDIR", &view, (owner, 0o755), &upper.path(), &rel, true)?;
    }
    let layer = upper.finish(s, state, &key)?;
    state
        .config
        .add_history(&created, format!("WORKDIR {clean}"), !layer);
    state.key = Some(key);
    Ok(Ran::Executed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn port_specs() {
        assert_eq!(port_keys("80"), ["80/tcp"]);
        assert_eq!(port_keys("53/UDP"), ["53/udp"]);
        assert_eq!(port_keys("8000-8002"), ["8000/tcp", "8001/tcp", "8002/tcp"]);
    }

    #[test]
    fn paths_join_the_workdir() {
        assert_eq!(under_workdir("", "a/"), "/a/");
        assert_eq!(under_workdir("/w/", "a"), "/w/a");
        assert_eq!(under_workdir("/w", "/abs"), "/abs");
    }
}
