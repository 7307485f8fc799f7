//! The dry run's instruction level: each instruction of a stage expanded
//! with the stage's ARG/ENV scope (UndefinedVar) and checked as BuildKit
//! checks it when it converts the instruction (LegacyKeyValueFormat,
//! SecretsUsedInArgOrEnv, JSONArgsRecommended, MultipleInstructionsDisallowed,
//! WorkdirRelativePath, Expose*, CopyIgnoredFile).

use super::config::CheckConfig;
use super::eval::Linter;
use super::rules::{msg, Rule};
use super::stages::{Dispatcher, StageState};
use super::support::{clean_path, is_secret_name, parse_port};
use crate::ast::Span;
use crate::dockerignore::PatternMatcher;
use crate::error::{Error, ErrorKind};
use crate::instructions::{Chmod, Cmd, CommandLine, Entrypoint, Instruction};
use crate::shell::Lexer;
use crate::suggest::suggest;

/// ARGs that never become environment variables of RUN.
const NON_ENV_ARGS: [&str; 2] = ["BUILDKIT_SBOM_SCAN_CONTEXT", "BUILDKIT_SBOM_SCAN_STAGE"];

impl Dispatcher<'_, '_> {
    fn expand(
        &mut self,
        state: &StageState,
        config: &CheckConfig,
        span: Span,
        word: &str,
        raw: bool,
    ) -> Result<String, Error> {
        let lexer = if raw {
            Lexer::new('\\').skip_process_quotes(true)
        } else {
            self.lexer
        };
        let m = lexer
            .process_word_with_matches(word, &state.env)
            .map_err(|e| Error::new(span, ErrorKind::Expansion(e)))?;
        if state.env_known {
            for var in &m.unmatched {
                if state.args.contains(var) || NON_ENV_ARGS.contains(&var.as_str()) {
                    continue;
                }
                let s = suggest(var, state.env.keys(), true);
                self.lint.run(
                    config,
                    Rule::UndefinedVar,
                    span,
                    msg::undefined_var(var, s.as_deref()),
                );
            }
        }
        Ok(m.result)
    }

    pub(super) fn dispatch(
        &mut self,
        i: usize,
        state: &mut StageState,
        ins: &Instruction,
        comments: &[String],
    ) -> Result<(), Error> {
        let span = ins.span();
        let config = self.lint.config.merged_with_comments(comments);
        let name = ins.keyword().to_string();
        match ins {
            Instruction::Env(env) => {
                // Every word is expanded with the environment from before
                // the instruction: `ENV A=1 B=$A` does not see this A.
                let mut pairs = Vec::with_capacity(env.pairs.len());
                for kv in &env.pairs {
                    let key = self.expand(state, &config, span, &kv.key, false)?;
                    let value = self.expand(state, &config, span, &kv.value, false)?;
                    pairs.push((key, value, kv.no_delim));
                }
                for (key, value, no_delim) in pairs {
                    if no_delim {
                        self.lint.run(
                            &config,
                            Rule::LegacyKeyValueFormat,
                            span,
                            msg::legacy_key_value(&name),
                        );
                    }
                    if is_secret_name(&key) {
                        self.lint.run(
                            &config,
                            Rule::SecretsUsedInArgOrEnv,
                            span,
                            msg::secrets("ENV", &key),
                        );
                    }
                    state.env.set(&key, &value);
                }
            }
            Instruction::Label(label) => {
                for kv in &label.pairs {
                    self.expand(state, &config, span, &kv.key, false)?;
                    self.expand(state, &config, span, &kv.value, false)?;
                }
                for _ in label.pairs.iter().filter(|kv| kv.no_delim) {
                    self.lint.run(
                        &config,
                        Rule::LegacyKeyValueFormat,
                        span,
                        msg::legacy_key_value(&name),
                    );
                }
            }
            Instruction::Arg(arg) => {
                for def in &arg.args {
                    if is_secret_name(&def.key) {
                        self.lint.run(
                            &config,
                            Rule::SecretsUsedInArgOrEnv,
                            span,
                            msg::secrets("ARG", &def.key),
                        );
                    }
                    let value = match (self.opts.build_args.get(&def.key), &def.value) {
                        (Some(v), _) => Some(v.clone()),
                        (None, Some(default)) => {
                            Some(self.expand(state, &config, span, default, false)?)
                        }
                        (None, None) => self.globals.get(&def.key).map(str::to_string),
                    };
                    if let Some(v) = value {
                        if !NON_ENV_ARGS.contains(&def.key.as_str()) {
                            state.env.set(&def.key, &v);
                        }
                    }
                    state.args.push(def.key.clone());
                }
            }
            Instruction::Cmd(Cmd { command, .. })
            | Instruction::Entrypoint(Entrypoint { command, .. }) => {
                let seen = match ins {
                    Instruction::Cmd(_) => &mut state.cmd_seen,
                    _ => &mut state.entrypoint_seen,
                };
                used_once(seen, span, &name, &config, self.lint);
                if matches!(command, CommandLine::Shell(_)) && !state.shell_set {
                    self.lint.run(
                        &config,
                        Rule::JsonArgsRecommended,
                        span,
                        msg::json_args(&name),
                    );
                }
            }
            Instruction::Healthcheck(_) => {
                used_once(&mut state.healthcheck_seen, span, &name, &config, self.lint);
            }
            Instruction::Workdir(w) => {
                let path = self.expand(state, &config, span, &w.path, false)?;
                if !state.workdir_set && !path.starts_with('/') {
                    self.lint.run(
                        &config,
                        Rule::WorkdirRelativePath,
                        span,
                        msg::workdir_relative(&path),
                    );
                }
                state.workdir_set = true;
            }
            Instruction::User(u) => {
                self.expand(state, &config, span, &u.user, false)?;
            }
            Instruction::Volume(v) => {
                for p in &v.paths {
                    self.expand(state, &config, span, p, false)?;
                }
            }
            Instruction::StopSignal(s) => {
                self.expand(state, &config, span, &s.signal, false)?;
            }
            Instruction::Shell(_) => state.shell_set = true,
            Instruction::OnBuild(_) => {}
            Instruction::Expose(e) => {
                for p in &e.ports {
                    let words = self
                        .lexer
                        .process_words(p, &state.env)
                        .map_err(|err| Error::new(span, ErrorKind::Expansion(err)))?;
                    for w in words {
                        let spec = parse_port(&w)
                            .map_err(|m| Error::new(span, ErrorKind::InvalidPort(m)))?;
                        if spec.proto != spec.proto.to_lowercase() {
                            self.lint.run(
                                &config,
                                Rule::ExposeProtoCasing,
                                span,
                                msg::expose_proto_casing(&w),
                            );
                        }
                        if !spec.ip.is_empty() || !spec.host_port.is_empty() {
                            self.lint.run(
                                &config,
                                Rule::ExposeInvalidFormat,
                                span,
                                msg::expose_invalid_format(&w),
                            );
                        }
                    }
                }
            }
            Instruction::Run(r) => {
                for m in &r.mounts {
                    self.expand(state, &config, span, &m.spec, false)?;
                }
            }
            Instruction::Copy(c) => {
                if let Some(from) = &c.from {
                    self.check_copy_from(i, from, span)?;
                }
                self.copy_like(
                    state,
                    &config,
                    span,
                    CopyView {
                        what: "Copy",
                        sources: &c.sources,
                        contents: c
                            .contents
                            .iter()
                            .map(|s| (s.data.as_str(), s.expand))
                            .collect(),
                        dest: &c.dest,
                        chown: c.chown.as_deref(),
                        chmod: c.chmod.as_ref(),
                        checksum: None,
                        from_context: c.from.is_none(),
                    },
                )?;
            }
            Instruction::Add(a) => {
                self.copy_like(
                    state,
                    &config,
                    span,
                    CopyView {
                        what: "Add",
                        sources: &a.sources,
                        contents: a
                            .contents
                            .iter()
                            .map(|s| (s.data.as_str(), s.expand))
                            .collect(),
                        dest: &a.dest,
                        chown: a.chown.as_deref(),
                        chmod: a.chmod.as_ref(),
                        checksum: a.checksum.as_deref(),
                        from_context: true,
                    },
                )?;
            }
            Instruction::From(_) | Instruction::Maintainer(_) => {}
        }
        Ok(())
    }

    fn check_copy_from(&self, i: usize, from: &str, span: Span) -> Result<(), Error> {
        if let Ok(idx) = from.parse::<usize>() {
            if idx >= self.states.len() {
                return Err(Error::new(span, ErrorKind::StageIndex(from.to_string())));
            }
            if idx >= i {
                return Err(self.later_stage(from, i, span));
            }
            return Ok(());
        }
        match self.find_stage(from) {
            Some(j) if j >= i => Err(self.later_stage(from, i, span)),
            _ => Ok(()),
        }
    }

    fn later_stage(&self, from: &str, i: usize, span: Span) -> Error {
        // The stage being dispatched is out of `states` for now.
        let stage = match &self.parsed.stages[i].name {
            Some(n) => n.as_str().to_string(),
            None => format!("stage-{i}"),
        };
        Error::new(
            span,
            ErrorKind::CopyFromLaterStage {
                from: from.to_string(),
                stage,
            },
        )
    }

    fn copy_like(
        &mut self,
        state: &StageState,
        config: &CheckConfig,
        span: Span,
        c: CopyView<'_>,
    ) -> Result<(), Error> {
        if let Some(chown) = c.chown {
            self.expand(state, config, span, chown, false)?;
        }
        if let Some(Chmod::Unexpanded(raw)) = c.chmod {
            self.expand(state, config, span, raw, false)?;
        }
        if let Some(sum) = c.checksum {
            self.expand(state, config, span, sum, false)?;
        }
        let mut sources = Vec::with_capacity(c.sources.len());
        for s in c.sources {
            sources.push(self.expand(state, config, span, s, false)?);
        }
        self.expand(state, config, span, c.dest, false)?;
        for (data, expand) in c.contents {
            if expand {
                self.expand(state, config, span, data, true)?;
            }
        }
        let Some(matcher) = self.opts.dockerignore.filter(|_| c.from_context) else {
            return Ok(());
        };
        if matcher.has_exclusions() {
            return Ok(());
        }
        for src in sources {
            if c.what == "Add" && is_remote(&src) {
                continue;
            }
            let src = clean_path(&src);
            if (src == "." || src == "/") && !root_ignored(matcher) {
                continue;
            }
            if matcher.matches(&src).unwrap_or(false) {
                self.lint.run(
                    config,
                    Rule::CopyIgnoredFile,
                    span,
                    msg::copy_ignored(c.what, &src),
                );
            }
        }
        Ok(())
    }
}

struct CopyView<'c> {
    what: &'static str,
    sources: &'c [String],
    contents: Vec<(&'c str, bool)>,
    dest: &'c str,
    chown: Option<&'c str>,
    chmod: Option<&'c Chmod>,
    checksum: Option<&'c str>,
    from_context: bool,
}

fn used_once(
    seen: &mut Option<Span>,
    span: Span,
    name: &str,
    config: &CheckConfig,
    lint: &mut Linter,
) {
    if let Some(prev) = seen.replace(span) {
        lint.run(
            config,
            Rule::MultipleInstructionsDisallowed,
            prev,
            msg::multiple_instructions(name),
        );
    }
}

fn is_remote(src: &str) -> bool {
    src.starts_with("http://")
        || src.starts_with("https://")
        || src.starts_with("git@")
        || src.starts_with("git://")
        || src.ends_with(".git")
}

fn root_ignored(m: &PatternMatcher) -> bool {
    m.patterns()
        .iter()
        .any(|p| !p.is_exclusion() && matches!(p.as_str(), "*" | "**" | "**/*"))
}
