//! The dry run's stage level, after BuildKit's conversion: global ARGs and
//! base names (InvalidDefaultArgInFrom, UndefinedArgInFrom), platforms
//! (RedundantTargetPlatform, FromPlatformFlagConstDisallowed), the target and
//! the stages it needs, `--from` links, inherited ONBUILD triggers, then each
//! stage's instructions in order.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use super::config::CheckConfig;
use super::eval::{CheckOptions, Linter};
use super::rules::{msg, Rule};
use super::support::is_valid_reference;
use crate::ast::Span;
use crate::error::{Error, ErrorKind};
use crate::instructions::{self, Instruction, ParsedDockerfile, Stage};
use crate::platform::Platform;
use crate::scope::{default_args, EnvList};
use crate::shell::Lexer;
use crate::suggest::suggest;

/// Unless the base image says otherwise, every stage has this PATH.
const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// One stage as the dry run sees it.
#[derive(Debug, Clone, Default)]
pub(super) struct StageState {
    /// Lower-cased `AS` name.
    pub(super) name: Option<String>,
    /// The expanded base name.
    pub(super) base: String,
    pub(super) base_stage: Option<usize>,
    pub(super) env: EnvList,
    /// Whether the environment is fully known (no unknown base image).
    pub(super) env_known: bool,
    pub(super) shell_set: bool,
    pub(super) workdir_set: bool,
    /// ARG names declared in the stage (and its base stages).
    pub(super) args: Vec<String>,
    pub(super) cmd_seen: Option<Span>,
    pub(super) entrypoint_seen: Option<Span>,
    pub(super) healthcheck_seen: Option<Span>,
}

pub(super) struct Dispatcher<'a, 'o> {
    pub(super) parsed: &'a ParsedDockerfile,
    pub(super) opts: &'a CheckOptions<'o>,
    pub(super) comments: &'a HashMap<usize, &'a [String]>,
    pub(super) lint: &'a mut Linter,
    pub(super) lexer: Lexer,
    pub(super) globals: EnvList,
    pub(super) states: Vec<StageState>,
}

impl<'a, 'o> Dispatcher<'a, 'o> {
    pub(super) fn new(
        parsed: &'a ParsedDockerfile,
        opts: &'a CheckOptions<'o>,
        comments: &'a HashMap<usize, &'a [String]>,
        lint: &'a mut Linter,
    ) -> Result<Self, Error> {
        let lexer = Lexer::new(parsed.escape);
        let build_platform = opts.build_platform.normalize();
        let target_platform = opts
            .target_platform
            .as_ref()
            .map_or_else(|| build_platform.clone(), Platform::normalize);
        let target_name = parsed.target_name(opts.target.as_deref());
        let defaults = default_args(
            &build_platform,
            &target_platform,
            &opts.build_args,
            &target_name,
        );
        let mut d = Dispatcher {
            parsed,
            opts,
            comments,
            lint,
            lexer,
            globals: defaults.clone(),
            states: Vec::new(),
        };
        d.default_base_names(&defaults);
        d.globals = d.meta_args(defaults, Some(&opts.build_args))?.0;
        Ok(d)
    }

    /// Global ARGs in order, each default expanded with those before it.
    /// Returns the scope and the names declared.
    fn meta_args(
        &self,
        mut env: EnvList,
        build_args: Option<&BTreeMap<String, String>>,
    ) -> Result<(EnvList, BTreeSet<String>), Error> {
        let mut declared = BTreeSet::new();
        for arg in &self.parsed.meta_args {
            for def in &arg.args {
                declared.insert(def.key.clone());
                let value = match build_args.and_then(|b| b.get(&def.key)) {
                    Some(v) => Some(v.clone()),
                    None => match &def.value {
                        Some(v) => Some(
                            self.lexer
                                .process_word_with_matches(v, &env)
                                .map_err(|e| Error::new(arg.span, ErrorKind::Expansion(e)))?
                                .result,
                        ),
                        None => None,
                    },
                };
                if let Some(v) = value {
                    env.set(&def.key, &v);
                }
            }
        }
        Ok((env, declared))
    }

    /// InvalidDefaultArgInFrom: base names as they come out with no
    /// `--build-arg` at all.
    fn default_base_names(&mut self, defaults: &EnvList) {
        let Ok((env, _)) = self.meta_args(defaults.clone(), None) else {
            return;
        };
        let config = self.lint.config.clone();
        for st in &self.parsed.stages {
            let Ok(m) = self.lexer.process_word_with_matches(&st.base, &env) else {
                return;
            };
            if !is_valid_reference(&m.result) {
                self.lint.run(
                    &config,
                    Rule::InvalidDefaultArgInFrom,
                    st.span,
                    msg::invalid_default_arg_in_from(&st.base),
                );
            }
        }
    }

    pub(super) fn run(mut self) -> Result<(), Error> {
        let (_, declared) = self.meta_args(EnvList::default(), None)?;
        let mut arg_keys: BTreeSet<String> = declared;
        arg_keys.extend(self.globals.keys().map(str::to_string));
        for st in &self.parsed.stages {
            let state = self.resolve_stage(st, &arg_keys)?;
            self.states.push(state);
        }
        let target = self.target_index()?;
        self.dependency_checks()?;
        let triggers = self.triggers()?;
        let reachable = self.reachable(target, &triggers);
        for (i, st) in self.parsed.stages.iter().enumerate() {
            // Without a target every stage is checked, but ONBUILD triggers
            // still run only in the stages the default target needs.
            if self.opts.target.is_none() || reachable[i] {
                let t = if reachable[i] {
                    triggers[i].as_slice()
                } else {
                    &[]
                };
                self.dispatch_stage(i, st, t)?;
            }
        }
        Ok(())
    }

    /// What BuildKit checks while it links the stages, before running any:
    /// `COPY --from` holds no variable and a stage index exists, and no
    /// stage depends on itself through `--from`.
    fn dependency_checks(&self) -> Result<(), Error> {
        let mut deps: Vec<Vec<(usize, Span)>> = Vec::with_capacity(self.states.len());
        for st in &self.parsed.stages {
            let mut list = Vec::new();
            for ins in &st.instructions {
                if let Instruction::Copy(c) = ins {
                    if let Some(from) = &c.from {
                        let plain = self
                            .lexer
                            .process_word_with_matches(from, &EnvList::default());
                        if plain.map_or(true, |m| m.result != *from) {
                            return Err(Error::new(ins.span(), ErrorKind::CopyFromVariable));
                        }
                        if from.parse::<usize>().is_ok_and(|i| i >= self.states.len()) {
                            return Err(Error::new(
                                ins.span(),
                                ErrorKind::StageIndex(from.clone()),
                            ));
                        }
                    }
                }
                for r in stage_refs(ins) {
                    if let Some(j) = self.find_stage(&r) {
                        list.push((j, ins.span()));
                    }
                }
            }
            deps.push(list);
        }
        let mut visited = vec![false; deps.len()];
        for start in 0..deps.len() {
            let mut on_path = vec![false; deps.len()];
            if let Some(span) = find_cycle(start, &deps, &mut visited, &mut on_path) {
                let name = match &self.parsed.stages[start].name {
                    Some(n) => n.as_str().to_string(),
                    None => format!("stage-{start}"),
                };
                return Err(Error::new(span, ErrorKind::CircularDependency(name)));
            }
        }
        Ok(())
    }

    /// The ONBUILD triggers each stage inherits from its base stage, read
    /// as instructions placed at the stage's FROM.
    fn triggers(&self) -> Result<Vec<Vec<Instruction>>, Error> {
        let mut out = Vec::with_capacity(self.states.len());
        for (i, st) in self.parsed.stages.iter().enumerate() {
            let mut list = Vec::new();
            if let Some(b) = self.states[i].base_stage {
                for ins in &self.parsed.stages[b].instructions {
                    let Instruction::OnBuild(o) = ins else {
                        continue;
                    };
                    let df =
                        crate::parse(o.expression.as_bytes()).map_err(|e| at_stage(e, st.span))?;
                    for node in &df.nodes {
                        let mut t = instructions::parse_instruction(node)
                            .map_err(|e| at_stage(e, st.span))?;
                        set_span(&mut t, st.span);
                        list.push(t);
                    }
                }
            }
            out.push(list);
        }
        Ok(out)
    }

    /// Expands the base name and platform of a stage (UndefinedArgInFrom,
    /// RedundantTargetPlatform, FromPlatformFlagConstDisallowed).
    fn resolve_stage(
        &mut self,
        st: &Stage,
        arg_keys: &BTreeSet<String>,
    ) -> Result<StageState, Error> {
        let config = self.lint.config.merged_with_comments(&st.comments);
        let m = self
            .lexer
            .process_word_with_matches(&st.base, &self.globals)
            .map_err(|e| Error::new(st.span, ErrorKind::Expansion(e)));
        if let Ok(m) = &m {
            self.undefined_from_args(&config, &m.unmatched, arg_keys, st.span);
        }
        let m = m?;
        if m.result.is_empty() {
            return Err(Error::new(
                st.span,
                ErrorKind::BlankBaseName(st.base.clone()),
            ));
        }
        if let Some(expr) = &st.platform {
            let pm = self
                .lexer
                .process_word_with_matches(expr, &self.globals)
                .map_err(|e| Error::new(st.span, ErrorKind::Expansion(e)))?;
            self.undefined_from_args(&config, &pm.unmatched, arg_keys, st.span);
            if pm.matched.len() == 1
                && pm.unmatched.is_empty()
                && pm.matched.contains("TARGETPLATFORM")
                && self.globals.get("TARGETPLATFORM") == Some(pm.result.as_str())
            {
                self.lint.run(
                    &config,
                    Rule::RedundantTargetPlatform,
                    st.span,
                    msg::redundant_target_platform(expr),
                );
            }
            if pm.matched.is_empty() && pm.unmatched.is_empty() {
                if let Ok(p) = pm.result.parse::<Platform>() {
                    let name = st.name.as_ref().map_or("", |n| n.as_str());
                    if !name.contains(&p.os) && !name.contains(&p.architecture) {
                        self.lint.run(
                            &config,
                            Rule::FromPlatformFlagConstDisallowed,
                            st.span,
                            msg::const_platform(&pm.result),
                        );
                    }
                }
            }
            let suggestion = || {
                let keys: Vec<&str> = self.globals.keys().collect();
                pm.unmatched
                    .iter()
                    .find_map(|k| suggest(k, keys.iter().copied(), true))
            };
            if pm.result.is_empty() {
                let kind = ErrorKind::EmptyPlatform {
                    expression: expr.clone(),
                    suggestion: suggestion(),
                };
                return Err(Error::new(st.span, kind));
            }
            if let Err(source) = pm.result.parse::<Platform>() {
                let kind = ErrorKind::BadPlatform {
                    expression: expr.clone(),
                    source: Box::new(source),
                    suggestion: suggestion(),
                };
                return Err(Error::new(st.span, kind));
            }
        }
        let base_stage = self
            .states
            .iter()
            .position(|s| s.name.as_deref() == Some(m.result.as_str()));
        Ok(StageState {
            name: st.name.as_ref().map(|n| n.as_str().to_string()),
            base: m.result,
            base_stage,
            ..StageState::default()
        })
    }

    fn undefined_from_args(
        &mut self,
        config: &CheckConfig,
        unmatched: &BTreeSet<String>,
        keys: &BTreeSet<String>,
        span: Span,
    ) {
        for arg in unmatched {
            if keys.contains(arg) {
                continue;
            }
            let s = suggest(arg, keys.iter().map(String::as_str), true);
            self.lint.run(
                config,
                Rule::UndefinedArgInFrom,
                span,
                msg::undefined_arg_in_from(arg, s.as_deref()),
            );
        }
    }

    /// The stage built: `--target`, else the last one.
    fn target_index(&self) -> Result<usize, Error> {
        let Some(target) = &self.opts.target else {
            return Ok(self.states.len().saturating_sub(1));
        };
        let lower = target.to_lowercase();
        self.states
            .iter()
            .position(|s| s.name.as_deref() == Some(lower.as_str()))
            .ok_or_else(|| {
                let names = self.states.iter().filter_map(|s| s.name.as_deref());
                let span = self
                    .parsed
                    .stages
                    .last()
                    .map_or_else(Span::default, |s| s.span);
                Error::new(
                    span,
                    ErrorKind::UnknownTarget {
                        target: target.clone(),
                        suggestion: suggest(target, names, true),
                    },
                )
            })
    }

    /// The stages `target` needs: its base stages and the stages its
    /// instructions (and inherited triggers) read from.
    fn reachable(&self, target: usize, triggers: &[Vec<Instruction>]) -> Vec<bool> {
        let mut wanted = vec![false; self.states.len()];
        let mut todo = vec![target];
        while let Some(i) = todo.pop() {
            if i >= wanted.len() || std::mem::replace(&mut wanted[i], true) {
                continue;
            }
            todo.extend(self.states[i].base_stage);
            for ins in self.parsed.stages[i]
                .instructions
                .iter()
                .chain(&triggers[i])
            {
                for r in stage_refs(ins) {
                    if let Some(j) = self.find_stage(&r) {
                        todo.push(j);
                    }
                }
            }
        }
        wanted
    }

    pub(super) fn find_stage(&self, reference: &str) -> Option<usize> {
        if let Ok(i) = reference.parse::<usize>() {
            return (i < self.states.len()).then_some(i);
        }
        let lower = reference.to_lowercase();
        self.states
            .iter()
            .position(|s| s.name.as_deref() == Some(lower.as_str()))
    }

    fn dispatch_stage(
        &mut self,
        i: usize,
        st: &Stage,
        triggers: &[Instruction],
    ) -> Result<(), Error> {
        let mut state = std::mem::take(&mut self.states[i]);
        match state.base_stage {
            Some(b) => {
                let base = &self.states[b];
                state.env = base.env.clone();
                state.env_known = base.env_known;
                state.shell_set = base.shell_set;
                state.workdir_set = base.workdir_set;
                state.args = base.args.clone();
            }
            None if state.base == "scratch" => state.env_known = true,
            None => {
                let env = self.opts.image_env.and_then(|f| f(&state.base));
                state.env_known = env.is_some();
                for (k, v) in env.unwrap_or_default() {
                    state.env.set(&k, &v);
                }
            }
        }
        if state.env.get("PATH").is_none() {
            state.env.set("PATH", DEFAULT_PATH);
        }
        // Triggers run first, reported at the FROM that inherits them; no
        // comment above them can skip a check.
        for ins in triggers {
            self.dispatch(i, &mut state, ins, &[])?;
        }
        for ins in &st.instructions {
            let comments = self
                .comments
                .get(&ins.span().start.line)
                .copied()
                .unwrap_or(&[]);
            self.dispatch(i, &mut state, ins, comments)?;
        }
        self.states[i] = state;
        Ok(())
    }
}

/// Stages an instruction reads from (`COPY --from`, `RUN --mount from=`).
pub(super) fn stage_refs(ins: &Instruction) -> Vec<String> {
    match ins {
        Instruction::Copy(c) => c.from.iter().cloned().collect(),
        Instruction::Run(r) => r
            .mounts
            .iter()
            .filter_map(|m| m.mount.as_ref().and_then(|m| m.from.clone()))
            .collect(),
        _ => Vec::new(),
    }
}

/// Depth-first search from `i` for a `--from` edge back onto the path; the
/// answer is the instruction where the cycle starts.
fn find_cycle(
    i: usize,
    deps: &[Vec<(usize, Span)>],
    visited: &mut [bool],
    on_path: &mut [bool],
) -> Option<Span> {
    if std::mem::replace(&mut visited[i], true) {
        return None;
    }
    on_path[i] = true;
    for &(j, span) in &deps[i] {
        if on_path[j] {
            return Some(span);
        }
        if let Some(found) = find_cycle(j, deps, visited, on_path) {
            return Some(found);
        }
    }
    on_path[i] = false;
    None
}

/// An error in an inherited trigger, placed at the FROM that runs it.
fn at_stage(mut e: Error, span: Span) -> Error {
    e.span = span;
    e
}

fn set_span(ins: &mut Instruction, span: Span) {
    macro_rules! set {
        ($($v:ident),*) => {
            match ins { $(Instruction::$v(i) => i.span = span,)* }
        };
    }
    set!(
        From,
        Run,
        Cmd,
        Entrypoint,
        Shell,
        Copy,
        Add,
        Env,
        Label,
        Arg,
        Expose,
        Volume,
        User,
        Workdir,
        Healthcheck,
        StopSignal,
        OnBuild,
        Maintainer
    );
}
