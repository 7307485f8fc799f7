//! The checks proper: a dry run of the build over the typed instructions,
//! following BuildKit's conversion step by step (global ARGs, base names,
//! platforms, then every stage's instructions with its ARG/ENV scope), so
//! each rule fires where BuildKit's fires. Nothing is built or fetched.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use super::config::CheckConfig;
use super::report::{CheckReport, Finding};
use super::rules::{msg, Rule};
use super::suggest::suggest;
use super::support::{clean_path, is_secret_name, is_valid_reference, parse_port};
use crate::ast::{Dockerfile, Span};
use crate::dockerignore::PatternMatcher;
use crate::error::{Error, ErrorKind};
use crate::instructions::{self, Chmod, CommandLine, Instruction, ParsedDockerfile, Stage};
use crate::platform::Platform;
use crate::scope::{default_args, EnvList};
use crate::shell::Lexer;

/// ARGs that never become environment variables of RUN.
const NON_ENV_ARGS: [&str; 2] = ["BUILDKIT_SBOM_SCAN_CONTEXT", "BUILDKIT_SBOM_SCAN_STAGE"];
const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Image configuration environments, by image reference: what the checks
/// know of a base image. `None` means unknown (not in the store).
pub type ImageEnvLookup<'a> = &'a dyn Fn(&str) -> Option<Vec<(String, String)>>;

/// What the build would be run with.
#[derive(Clone)]
pub struct CheckOptions<'a> {
    /// `--build-arg` values.
    pub build_args: BTreeMap<String, String>,
    /// `--target`; without one, every stage is checked.
    pub target: Option<String>,
    pub build_platform: Platform,
    /// The target platform (default: the build platform).
    pub target_platform: Option<Platform>,
    /// The context's `.dockerignore` rules, for CopyIgnoredFile.
    pub dockerignore: Option<&'a PatternMatcher>,
    /// The environment of base images. Where it is unknown, UndefinedVar is
    /// not reported for that stage rather than guessed.
    pub image_env: Option<ImageEnvLookup<'a>>,
}

impl std::fmt::Debug for CheckOptions<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CheckOptions")
            .field("build_args", &self.build_args)
            .field("target", &self.target)
            .field("build_platform", &self.build_platform)
            .field("target_platform", &self.target_platform)
            .finish_non_exhaustive()
    }
}

impl Default for CheckOptions<'_> {
    fn default() -> Self {
        CheckOptions {
            build_args: BTreeMap::new(),
            target: None,
            build_platform: Platform::host(),
            target_platform: None,
            dockerignore: None,
            image_env: None,
        }
    }
}

/// Runs the build checks on a parsed Dockerfile. Errors are what would stop
/// the build itself (a bad instruction, an undefined target, ...).
pub fn check(df: &Dockerfile, opts: &CheckOptions<'_>) -> Result<CheckReport, Error> {
    let config = match df.directive("check") {
        Some(d) => CheckConfig::parse(&d.value).map_err(|e| {
            Error::new(Span::lines(d.line, d.line), ErrorKind::CheckConfig(e))
        })?,
        None => CheckConfig::default(),
    };
    let mut lint = Linter {
        config,
        findings: Vec::new(),
    };
    for w in &df.warnings {
        lint.run(&lint.config.clone(), Rule::NoEmptyContinuation, w.span, msg::EMPTY_CONTINUATION.into());
    }
    let parsed = instructions::parse_dockerfile(df)?;
    node_checks(df, &mut lint);
    stage_name_checks(&parsed, &mut lint);
    casing_checks(&parsed, &mut lint);
    let comments: HashMap<usize, &[String]> = df
        .nodes
        .iter()
        .map(|n| (n.span.start.line, n.comments.as_slice()))
        .collect();
    Dispatcher::new(&parsed, opts, &comments, &mut lint)?.run()?;
    let error_on_findings = lint.config.error;
    Ok(CheckReport {
        findings: lint.findings,
        error_on_findings,
    })
}

struct Linter {
    config: CheckConfig,
    findings: Vec<Finding>,
}

impl Linter {
    fn run(&mut self, config: &CheckConfig, rule: Rule, span: Span, message: String) {
        if config.enabled(rule) {
            self.findings.push(Finding {
                rule,
                message,
                span,
            });
        }
    }

    fn at(&mut self, comments: &[String], rule: Rule, span: Span, message: String) {
        let config = self.config.merged_with_comments(comments);
        self.run(&config, rule, span, message);
    }
}

/// Checks BuildKit runs while it reads each instruction.
fn node_checks(df: &Dockerfile, lint: &mut Linter) {
    for node in &df.nodes {
        let span = node.span;
        match node.name().as_str() {
            "maintainer" => lint.at(&node.comments, Rule::MaintainerDeprecated, span, msg::MAINTAINER.into()),
            "from" => {
                let args = node.values();
                if args.len() == 3 && args[2] != args[2].to_lowercase() {
                    lint.at(&node.comments, Rule::StageNameCasing, span, msg::stage_name_casing(&args[2]));
                }
                let cmd = &node.keyword;
                let (lower, upper) = (cmd == &cmd.to_lowercase(), cmd == &cmd.to_uppercase());
                if args.len() >= 3 && (lower || upper) {
                    let as_ok = if lower {
                        args[1] == args[1].to_lowercase()
                    } else {
                        args[1] == args[1].to_uppercase()
                    };
                    if !as_ok {
                        lint.at(&node.comments, Rule::FromAsCasing, span, msg::from_as_casing(cmd, &args[1]));
                    }
                }
                if args.len() == 3 && args[1].eq_ignore_ascii_case("as") {
                    description_check("FROM", &[args[2].to_lowercase()], node, lint);
                }
            }
            "arg" => {
                let keys: Vec<String> = node
                    .values()
                    .iter()
                    .map(|w| w.split_once('=').map_or(w.as_str(), |(k, _)| k).to_string())
                    .collect();
                description_check("ARG", &keys, node, lint);
            }
            _ => {}
        }
    }
}

fn description_check(instruction: &str, keys: &[String], node: &crate::ast::Node, lint: &mut Linter) {
    let Some(last) = node.comments.last() else { return };
    if keys.is_empty() {
        return;
    }
    let first_word = last.split(' ').next().unwrap_or("");
    if keys.iter().any(|k| k == first_word) {
        return;
    }
    let example = if keys.len() > 1 { "<arg_key>" } else { keys[0].as_str() };
    lint.at(&node.comments, Rule::InvalidDefinitionDescription, node.span, msg::invalid_description(instruction, example));
}

fn stage_name_checks(parsed: &ParsedDockerfile, lint: &mut Linter) {
    let config = lint.config.clone();
    let mut seen = BTreeSet::new();
    for st in &parsed.stages {
        let Some(name) = &st.name else { continue };
        let name = name.as_str();
        if name == "context" || name == "scratch" {
            lint.run(&config, Rule::ReservedStageName, st.span, msg::reserved_stage_name(name));
        }
        if !seen.insert(name.to_string()) {
            lint.run(&config, Rule::DuplicateStageName, st.span, msg::duplicate_stage_name(name));
        }
    }
}

fn casing_checks(parsed: &ParsedDockerfile, lint: &mut Linter) {
    let config = lint.config.clone();
    let consistent = |s: &str| s == s.to_lowercase() || s == s.to_uppercase();
    let all = || {
        parsed.stages.iter().flat_map(|st| {
            std::iter::once((st.from.keyword.as_str(), st.span))
                .chain(st.instructions.iter().map(|i| (i.keyword(), i.span())))
        })
    };
    let (mut lower, mut upper) = (0, 0);
    for (k, _) in all() {
        if consistent(k) {
            if k == k.to_lowercase() {
                lower += 1;
            } else {
                upper += 1;
            }
        }
    }
    let majority_lower = lower > upper;
    for (k, span) in all() {
        let casing = if majority_lower && k.to_lowercase() != k {
            "lowercase"
        } else if !majority_lower && k.to_uppercase() != k {
            "uppercase"
        } else {
            continue;
        };
        lint.run(&config, Rule::ConsistentInstructionCasing, span, msg::consistent_casing(k, casing));
    }
}

/// One stage as the dry run sees it.
#[derive(Debug, Clone, Default)]
struct StageState {
    /// Lower-cased `AS` name.
    name: Option<String>,
    /// The expanded base name.
    base: String,
    base_stage: Option<usize>,
    env: EnvList,
    /// Whether the environment is fully known (no unknown base image).
    env_known: bool,
    shell_set: bool,
    workdir_set: bool,
    /// ARG names declared in the stage (and its base stages).
    args: Vec<String>,
    onbuild: Vec<String>,
    cmd_seen: Option<Span>,
    entrypoint_seen: Option<Span>,
    healthcheck_seen: Option<Span>,
}

struct Dispatcher<'a, 'o> {
    parsed: &'a ParsedDockerfile,
    opts: &'a CheckOptions<'o>,
    comments: &'a HashMap<usize, &'a [String]>,
    lint: &'a mut Linter,
    lexer: Lexer,
    globals: EnvList,
    states: Vec<StageState>,
}

impl<'a, 'o> Dispatcher<'a, 'o> {
    fn new(
        parsed: &'a ParsedDockerfile,
        opts: &'a CheckOptions<'o>,
        comments: &'a HashMap<usize, &'a [String]>,
        lint: &'a mut Linter,
    ) -> Result<Self, Error> {
        let lexer = Lexer::new(parsed.escape);
        let target_platform = opts.target_platform.clone().unwrap_or_else(|| opts.build_platform.clone());
        let target_name = opts
            .target
            .clone()
            .or_else(|| parsed.stages.last().and_then(|s| s.name.as_ref()).map(|n| n.as_str().to_string()))
            .unwrap_or_default();
        let defaults = default_args(&opts.build_platform, &target_platform, &opts.build_args, &target_name);
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
        let Ok((env, _)) = self.meta_args(defaults.clone(), None) else { return };
        let config = self.lint.config.clone();
        for st in &self.parsed.stages {
            let Ok(m) = self.lexer.process_word_with_matches(&st.base, &env) else { return };
            if !is_valid_reference(&m.result) {
                self.lint.run(&config, Rule::InvalidDefaultArgInFrom, st.span, msg::invalid_default_arg_in_from(&st.base));
            }
        }
    }

    fn run(mut self) -> Result<(), Error> {
        let (_, declared) = self.meta_args(EnvList::default(), None)?;
        let mut arg_keys: BTreeSet<String> = declared;
        arg_keys.extend(self.globals.keys().map(str::to_string));
        for st in &self.parsed.stages {
            let state = self.resolve_stage(st, &arg_keys)?;
            self.states.push(state);
        }
        let wanted = self.wanted_stages()?;
        for (i, st) in self.parsed.stages.iter().enumerate() {
            if wanted[i] {
                self.dispatch_stage(i, st)?;
            }
        }
        Ok(())
    }

    /// Expands the base name and platform of a stage (UndefinedArgInFrom,
    /// RedundantTargetPlatform, FromPlatformFlagConstDisallowed).
    fn resolve_stage(&mut self, st: &Stage, arg_keys: &BTreeSet<String>) -> Result<StageState, Error> {
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
            return Err(Error::new(st.span, ErrorKind::BlankBaseName(st.base.clone())));
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
                self.lint.run(&config, Rule::RedundantTargetPlatform, st.span, msg::redundant_target_platform(expr));
            }
            if pm.matched.is_empty() && pm.unmatched.is_empty() {
                if let Ok(p) = pm.result.parse::<Platform>() {
                    let name = st.name.as_ref().map_or("", |n| n.as_str());
                    if !name.contains(&p.os) && !name.contains(&p.architecture) {
                        self.lint.run(&config, Rule::FromPlatformFlagConstDisallowed, st.span, msg::const_platform(&pm.result));
                    }
                }
            }
            if pm.result.is_empty() {
                return Err(Error::new(st.span, ErrorKind::EmptyPlatform(expr.clone())));
            }
            pm.result.parse::<Platform>().map_err(|source| {
                Error::new(st.span, ErrorKind::BadPlatform { expression: expr.clone(), source })
            })?;
        }
        let base_stage = self.states.iter().position(|s| s.name.as_deref() == Some(m.result.as_str()));
        Ok(StageState {
            name: st.name.as_ref().map(|n| n.as_str().to_string()),
            base: m.result,
            base_stage,
            ..StageState::default()
        })
    }

    fn undefined_from_args(&mut self, config: &CheckConfig, unmatched: &BTreeSet<String>, keys: &BTreeSet<String>, span: Span) {
        for arg in unmatched {
            if keys.contains(arg) {
                continue;
            }
            let s = suggest(arg, keys.iter().map(String::as_str), true);
            self.lint.run(config, Rule::UndefinedArgInFrom, span, msg::undefined_arg_in_from(arg, s.as_deref()));
        }
    }

    /// Every stage without `--target`; else the target and what it needs.
    fn wanted_stages(&self) -> Result<Vec<bool>, Error> {
        let n = self.parsed.stages.len();
        let Some(target) = &self.opts.target else {
            return Ok(vec![true; n]);
        };
        let lower = target.to_lowercase();
        let Some(t) = self.states.iter().position(|s| s.name.as_deref() == Some(lower.as_str())) else {
            let names = self.states.iter().filter_map(|s| s.name.as_deref());
            let span = self.parsed.stages.last().map_or_else(Span::default, |s| s.span);
            return Err(Error::new(span, ErrorKind::UnknownTarget {
                target: target.clone(),
                suggestion: suggest(target, names, true),
            }));
        };
        let mut wanted = vec![false; n];
        let mut todo = vec![t];
        while let Some(i) = todo.pop() {
            if std::mem::replace(&mut wanted[i], true) {
                continue;
            }
            todo.extend(self.states[i].base_stage);
            for ins in &self.parsed.stages[i].instructions {
                for r in stage_refs(ins) {
                    if let Some(j) = self.find_stage(&r) {
                        todo.push(j);
                    }
                }
            }
        }
        Ok(wanted)
    }

    fn find_stage(&self, reference: &str) -> Option<usize> {
        if let Ok(i) = reference.parse::<usize>() {
            return (i < self.states.len()).then_some(i);
        }
        let lower = reference.to_lowercase();
        self.states.iter().position(|s| s.name.as_deref() == Some(lower.as_str()))
    }

    fn dispatch_stage(&mut self, i: usize, st: &Stage) -> Result<(), Error> {
        let mut triggers = Vec::new();
        let mut state = std::mem::take(&mut self.states[i]);
        match state.base_stage {
            Some(b) => {
                let base = &self.states[b];
                state.env = base.env.clone();
                state.env_known = base.env_known;
                state.shell_set = base.shell_set;
                state.workdir_set = base.workdir_set;
                state.args = base.args.clone();
                triggers = base.onbuild.clone();
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
        let mut commands = Vec::new();
        for t in &triggers {
            // Triggers run first, reported at the FROM that inherits them.
            let df = crate::parse(t.as_bytes())?;
            for node in &df.nodes {
                let mut ins = instructions::parse_instruction(node)?;
                set_span(&mut ins, st.span);
                commands.push(ins);
            }
        }
        commands.extend(st.instructions.iter().cloned());
        for ins in &commands {
            self.dispatch(i, &mut state, ins)?;
        }
        self.states[i] = state;
        Ok(())
    }

    fn expand(&mut self, state: &StageState, config: &CheckConfig, span: Span, word: &str, raw: bool) -> Result<String, Error> {
        let lexer = if raw { Lexer::new('\\').skip_process_quotes(true) } else { self.lexer };
        let m = lexer
            .process_word_with_matches(word, &state.env)
            .map_err(|e| Error::new(span, ErrorKind::Expansion(e)))?;
        if state.env_known {
            for var in &m.unmatched {
                if state.args.contains(var) || NON_ENV_ARGS.contains(&var.as_str()) {
                    continue;
                }
                let s = suggest(var, state.env.keys(), true);
                self.lint.run(config, Rule::UndefinedVar, span, msg::undefined_var(var, s.as_deref()));
            }
        }
        Ok(m.result)
    }

    fn dispatch(&mut self, i: usize, state: &mut StageState, ins: &Instruction) -> Result<(), Error> {
        let span = ins.span();
        let comments = self.comments.get(&span.start.line).copied().unwrap_or(&[]);
        let config = self.lint.config.merged_with_comments(comments);
        let name = ins.keyword().to_string();
        match ins {
            Instruction::Env(env) => {
                for kv in &env.pairs {
                    let key = self.expand(state, &config, span, &kv.key, false)?;
                    let value = self.expand(state, &config, span, &kv.value, false)?;
                    if kv.no_delim {
                        self.lint.run(&config, Rule::LegacyKeyValueFormat, span, msg::legacy_key_value(&name));
                    }
                    if is_secret_name(&key) {
                        self.lint.run(&config, Rule::SecretsUsedInArgOrEnv, span, msg::secrets("ENV", &key));
                    }
                    state.env.set(&key, &value);
                }
            }
            Instruction::Label(label) => {
                for kv in &label.pairs {
                    self.expand(state, &config, span, &kv.key, false)?;
                    self.expand(state, &config, span, &kv.value, false)?;
                    if kv.no_delim {
                        self.lint.run(&config, Rule::LegacyKeyValueFormat, span, msg::legacy_key_value(&name));
                    }
                }
            }
            Instruction::Arg(arg) => {
                for def in &arg.args {
                    if is_secret_name(&def.key) {
                        self.lint.run(&config, Rule::SecretsUsedInArgOrEnv, span, msg::secrets("ARG", &def.key));
                    }
                    let value = match (self.opts.build_args.get(&def.key), &def.value) {
                        (Some(v), _) => Some(v.clone()),
                        (None, Some(default)) => Some(self.expand(state, &config, span, default, false)?),
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
            Instruction::Cmd(c) => {
                used_once(&mut state.cmd_seen, span, &name, &config, self.lint);
                if matches!(c.command, CommandLine::Shell(_)) && !state.shell_set {
                    self.lint.run(&config, Rule::JsonArgsRecommended, span, msg::json_args(&name));
                }
            }
            Instruction::Entrypoint(c) => {
                used_once(&mut state.entrypoint_seen, span, &name, &config, self.lint);
                if matches!(c.command, CommandLine::Shell(_)) && !state.shell_set {
                    self.lint.run(&config, Rule::JsonArgsRecommended, span, msg::json_args(&name));
                }
            }
            Instruction::Healthcheck(_) => {
                used_once(&mut state.healthcheck_seen, span, &name, &config, self.lint);
            }
            Instruction::Workdir(w) => {
                let path = self.expand(state, &config, span, &w.path, false)?;
                if !state.workdir_set && !path.starts_with('/') {
                    self.lint.run(&config, Rule::WorkdirRelativePath, span, msg::workdir_relative(&path));
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
            Instruction::OnBuild(o) => state.onbuild.push(o.expression.clone()),
            Instruction::Expose(e) => {
                for p in &e.ports {
                    let words = self
                        .lexer
                        .process_words(p, &state.env)
                        .map_err(|err| Error::new(span, ErrorKind::Expansion(err)))?;
                    for w in words {
                        let spec = parse_port(&w).map_err(|m| Error::new(span, ErrorKind::InvalidPort(m)))?;
                        if spec.proto != spec.proto.to_lowercase() {
                            self.lint.run(&config, Rule::ExposeProtoCasing, span, msg::expose_proto_casing(&w));
                        }
                        if !spec.ip.is_empty() || !spec.host_port.is_empty() {
                            self.lint.run(&config, Rule::ExposeInvalidFormat, span, msg::expose_invalid_format(&w));
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
                self.copy_like(state, &config, span, CopyView {
                    what: "Copy",
                    sources: &c.sources,
                    contents: c.contents.iter().map(|s| (s.data.as_str(), s.expand)).collect(),
                    dest: &c.dest,
                    chown: c.chown.as_deref(),
                    chmod: c.chmod.as_ref(),
                    checksum: None,
                    from_context: c.from.is_none(),
                })?;
            }
            Instruction::Add(a) => {
                self.copy_like(state, &config, span, CopyView {
                    what: "Add",
                    sources: &a.sources,
                    contents: a.contents.iter().map(|s| (s.data.as_str(), s.expand)).collect(),
                    dest: &a.dest,
                    chown: a.chown.as_deref(),
                    chmod: a.chmod.as_ref(),
                    checksum: a.checksum.as_deref(),
                    from_context: true,
                })?;
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
        let stage = self.states[i].name.clone().unwrap_or_else(|| format!("stage-{i}"));
        Error::new(span, ErrorKind::CopyFromLaterStage { from: from.to_string(), stage })
    }

    fn copy_like(&mut self, state: &StageState, config: &CheckConfig, span: Span, c: CopyView<'_>) -> Result<(), Error> {
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
                self.lint.run(config, Rule::CopyIgnoredFile, span, msg::copy_ignored(c.what, &src));
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

fn used_once(seen: &mut Option<Span>, span: Span, name: &str, config: &CheckConfig, lint: &mut Linter) {
    if let Some(prev) = seen.replace(span) {
        lint.run(config, Rule::MultipleInstructionsDisallowed, prev, msg::multiple_instructions(name));
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

/// Stages an instruction reads from (`COPY --from`, `RUN --mount from=`).
fn stage_refs(ins: &Instruction) -> Vec<String> {
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

fn set_span(ins: &mut Instruction, span: Span) {
    macro_rules! set {
        ($($v:ident),*) => {
            match ins { $(Instruction::$v(i) => i.span = span,)* }
        };
    }
    set!(From, Run, Cmd, Entrypoint, Shell, Copy, Add, Env, Label, Arg, Expose, Volume, User, Workdir, Healthcheck, StopSignal, OnBuild, Maintainer);
}
