//! Stage two of the pipeline: [`plan`] turns a parsed Dockerfile into a
//! [`Plan`], a petgraph graph of stage dependencies (FROM another stage,
//! `COPY --from`, `RUN --mount from=`) reduced to the stages `--target`
//! needs, in Dockerfile order (every stage comes after the ones it reads);
//! [`Plan::dependencies`] tells the solver which stages a stage waits for.
//!
//! FROM may name an earlier stage only; `--from` may name any stage (a
//! cycle is an error) and is not expanded, as in BuildKit.
//! Global ARGs are resolved as BuildKit does: predefined platform ARGs
//! (`TARGETPLATFORM` and its parts from [`PlanOptions::platform`], the
//! `BUILD*` ones from the host), then the ARGs before the first FROM in
//! order, each overridable by a `--build-arg` only when declared. Each
//! stage gets its platform: `FROM --platform=` (expanded) or the target's.
//!
//! `--build-context NAME=...` ([`NamedContext`]) replaces, as BuildKit,
//! the stage called `NAME` (its instructions are not run) or the image
//! `NAME` (matched by its familiar name, `:latest` left out) wherever FROM,
//! `COPY --from` or `RUN --mount from=` name it: by a local directory
//! ([`Base::Context`]) or another image.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use petgraph::algo::toposort;
use petgraph::graph::{DiGraph, NodeIndex};
use rdock_parser::instructions::{Instruction, ParsedDockerfile, Stage};
use rdock_parser::platform::Platform;
use rdock_parser::scope::{default_args, EnvList};
use rdock_parser::shell::Lexer;

use crate::error::{Error, Result};

/// What the build was asked for, besides the Dockerfile.
#[derive(Debug, Clone, Default)]
pub struct PlanOptions {
    /// `--build-arg` values.
    pub build_args: BTreeMap<String, String>,
    /// `--target`; the last stage when `None`.
    pub target: Option<String>,
    /// `--platform`: the target platform; the host's when `None`.
    pub platform: Option<Platform>,
    /// `--build-context`, by name as given.
    pub contexts: BTreeMap<String, NamedContext>,
}

/// What a `--build-context` name stands for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NamedContext {
    /// A local directory: its files (owned by root) on an empty config.
    Dir(PathBuf),
    /// An image (`docker-image://REF`), by reference.
    Image(String),
}

/// Where a stage (or a `COPY --from`) starts from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Base {
    /// The empty file system.
    Scratch,
    /// An image from the store, by name as written (expanded).
    Image(String),
    /// An earlier stage, by index.
    Stage(usize),
    /// A `--build-context` directory, by its (normalized) name.
    Context(String),
}

/// One stage the build runs.
#[derive(Debug, Clone)]
pub struct PlannedStage {
    /// Index in the Dockerfile.
    pub index: usize,
    /// Name shown in progress: the `AS` name or `stage-N`.
    pub label: String,
    /// What FROM resolved to.
    pub base: Base,
    /// The stage as parsed (without instructions when a named context
    /// replaces it).
    pub stage: Stage,
    /// The platform it builds for: `FROM --platform` or the target's.
    pub platform: Platform,
    /// Whether the platform was asked for (`FROM --platform` or
    /// `--platform`), so that the base image must match it.
    pub platform_requested: bool,
    /// What the ONBUILD triggers of a stage base read (`--from`, mount
    /// `from=`): they run first in this stage.
    pub(crate) trigger_refs: Vec<(String, usize)>,
}

/// The stages to build, in dependency order, with the global scope.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Needed stages, dependencies first; the target is last.
    pub stages: Vec<PlannedStage>,
    /// The escape character of the Dockerfile.
    pub escape: char,
    /// Predefined and global ARGs, with `--build-arg` applied.
    pub globals: EnvList,
    /// `--build-arg` values.
    pub build_args: BTreeMap<String, String>,
    names: Vec<Option<String>>,
    /// `--build-context`s by normalized name.
    contexts: BTreeMap<String, NamedContext>,
}

impl Plan {
    /// What a `COPY --from` (or mount `from=`) reference means: an earlier
    /// stage by name or index (planning rejects later ones, as BuildKit),
    /// `scratch`, or an image. The reference is not expanded.
    pub fn resolve(&self, reference: &str) -> Base {
        resolve_ref(&self.names, &self.contexts, reference, self.names.len())
    }

    /// The directory of a [`Base::Context`].
    pub fn context_dir(&self, name: &str) -> Option<&Path> {
        match self.contexts.get(name) {
            Some(NamedContext::Dir(dir)) => Some(dir),
            _ => None,
        }
    }

    /// The stages (by Dockerfile index) that `stage` reads: the stage its
    /// FROM names and those its `--from` references name. It may start
    /// once they all are built.
    pub(crate) fn dependencies(&self, stage: &PlannedStage) -> Vec<usize> {
        let mut out: Vec<usize> = stage_refs(&stage.stage)
            .iter()
            .chain(&stage.trigger_refs)
            .filter_map(|(r, _)| match self.resolve(r) {
                Base::Stage(i) => Some(i),
                _ => None,
            })
            .collect();
        if let Base::Stage(i) = stage.base {
            out.push(i);
        }
        out
    }

    /// The image names the build reads (bases and `COPY --from` images).
    pub fn images(&self) -> BTreeSet<String> {
        self.image_lines().into_keys().collect()
    }

    /// [`Plan::images`], each with the Dockerfile line (1-based) that first
    /// needs it (its FROM, or a `--from`), for errors that name the line.
    pub fn image_lines(&self) -> BTreeMap<String, usize> {
        let mut out = BTreeMap::new();
        for s in &self.stages {
            if let Base::Image(name) = &s.base {
                out.entry(name.clone()).or_insert(s.stage.span.start.line);
            }
            let triggers = s
                .trigger_refs
                .iter()
                .map(|(r, _)| (r.clone(), s.stage.span.start.line));
            for (r, line) in stage_refs(&s.stage).into_iter().chain(triggers) {
                if let Base::Image(name) = self.resolve(&r) {
                    out.entry(name).or_insert(line);
                }
            }
        }
        out
    }
}

/// An image name as BuildKit matches named contexts: its familiar form
/// (no `docker.io/library/`), without `:latest`.
fn familiar(name: &str) -> String {
    let mut n = name;
    for prefix in [
        "docker.io/library/",
        "index.docker.io/library/",
        "docker.io/",
        "index.docker.io/",
    ] {
        if let Some(rest) = n.strip_prefix(prefix) {
            n = rest;
            break;
        }
    }
    n.strip_suffix(":latest").unwrap_or(n).to_string()
}

fn from_context(name: &str, c: &NamedContext) -> Base {
    match c {
        NamedContext::Dir(_) => Base::Context(name.to_string()),
        NamedContext::Image(r) => Base::Image(r.clone()),
    }
}

fn resolve_ref(
    names: &[Option<String>],
    contexts: &BTreeMap<String, NamedContext>,
    reference: &str,
    before: usize,
) -> Base {
    let lower = reference.to_lowercase();
    if let Some(i) = names[..before.min(names.len())]
        .iter()
        .position(|n| n.as_deref() == Some(lower.as_str()))
    {
        return match contexts.get(&lower) {
            Some(c) => from_context(&lower, c),
            None => Base::Stage(i),
        };
    }
    if let Ok(i) = reference.parse::<usize>() {
        if i < before {
            return Base::Stage(i);
        }
    }
    if lower == "scratch" {
        return Base::Scratch;
    }
    let key = familiar(reference);
    match contexts.get(&key) {
        Some(c) => from_context(&key, c),
        None => Base::Image(reference.to_string()),
    }
}

fn expand(env: &EnvList, escape: char, step: &str, word: &str) -> Result<String> {
    Lexer::new(escape)
        .process_word(word, env)
        .map_err(|source| Error::Expand {
            step: step.to_string(),
            word: word.to_string(),
            source,
        })
}

/// Stage references of a stage's instructions (`COPY --from`, mounts).
fn stage_refs(stage: &Stage) -> Vec<(String, usize)> {
    refs(&stage.instructions)
}

/// The references of some instructions, with their lines.
fn refs(instructions: &[Instruction]) -> Vec<(String, usize)> {
    let mut out = Vec::new();
    for ins in instructions {
        let line = ins.span().start.line;
        match ins {
            Instruction::Copy(c) => out.extend(c.from.iter().map(|f| (f.clone(), line))),
            Instruction::Run(r) => out.extend(
                r.mounts
                    .iter()
                    .filter_map(|m| m.mount.as_ref().and_then(|m| m.from.clone()))
                    .map(|f| (f, line)),
            ),
            _ => {}
        }
    }
    out
}

/// BuildKit expands `COPY --from` with no variables at all and refuses a
/// value that changes (every stage, wanted or not).
fn check_copy_from(stage: &Stage, escape: char) -> Result<()> {
    let empty = EnvList::default();
    for ins in &stage.instructions {
        if let Instruction::Copy(c) = ins {
            if let Some(from) = &c.from {
                let same = Lexer::new(escape)
                    .process_word(from, &empty)
                    .is_ok_and(|w| w == *from);
                if !same {
                    return Err(Error::Instruction {
                        line: ins.span().start.line,
                        error: Box::new(Error::FromExpansion),
                    });
                }
            }
        }
    }
    Ok(())
}

/// Global ARGs in order, each default expanded with those before it.
fn globals(parsed: &ParsedDockerfile, opts: &PlanOptions) -> Result<EnvList> {
    let host = Platform::host().normalize();
    let platform = opts
        .platform
        .as_ref()
        .map_or(host.clone(), Platform::normalize);
    let target = parsed.target_name(opts.target.as_deref());
    let mut env = default_args(&host, &platform, &opts.build_args, &target);
    for arg in &parsed.meta_args {
        for def in &arg.args {
            let value = match (opts.build_args.get(&def.key), &def.value) {
                (Some(v), _) => Some(v.clone()),
                (None, Some(v)) => Some(expand(&env, parsed.escape, "ARG", v)?),
                (None, None) => None,
            };
            if let Some(v) = value {
                env.set(&def.key, &v);
            }
        }
    }
    Ok(env)
}

/// Plans the build: resolves FROM and `--from` references, builds the
/// dependency graph, keeps what the target needs and orders it.
pub fn plan(parsed: &ParsedDockerfile, opts: &PlanOptions) -> Result<Plan> {
    if parsed.stages.is_empty() {
        return Err(Error::NoStages);
    }
    let globals = globals(parsed, opts)?;
    let names: Vec<Option<String>> = parsed
        .stages
        .iter()
        .map(|s| s.name.as_ref().map(|n| n.as_str().to_string()))
        .collect();
    let contexts: BTreeMap<String, NamedContext> = opts
        .contexts
        .iter()
        .map(|(k, v)| (familiar(&k.to_lowercase()), v.clone()))
        .collect();
    // A stage a named context replaces keeps no instructions.
    let stages: Vec<Stage> = parsed
        .stages
        .iter()
        .map(|st| {
            let mut st = st.clone();
            if st
                .name
                .as_ref()
                .is_some_and(|n| contexts.contains_key(n.as_str()))
            {
                st.instructions.clear();
            }
            st
        })
        .collect();
    let target_platform = opts
        .platform
        .as_ref()
        .map_or_else(|| Platform::host().normalize(), Platform::normalize);
    let target = match &opts.target {
        None => parsed.stages.len() - 1,
        Some(t) => names
            .iter()
            .position(|n| n.as_deref() == Some(t.to_lowercase().as_str()))
            .ok_or_else(|| Error::UnknownTarget {
                target: t.clone(),
                suggestion: rdock_parser::suggest(
                    t,
                    names.iter().flatten().map(String::as_str),
                    true,
                ),
            })?,
    };
    let mut graph: DiGraph<usize, ()> = DiGraph::new();
    let nodes: Vec<NodeIndex> = (0..parsed.stages.len())
        .map(|i| graph.add_node(i))
        .collect();
    let mut bases = Vec::new();
    let mut platforms = Vec::new();
    let mut later = Vec::new();
    let mut trigger_refs = Vec::new();
    for (i, stage) in stages.iter().enumerate() {
        let label = label(stage, i);
        let overridden = stage.name.as_ref().and_then(|n| {
            contexts
                .get(n.as_str())
                .map(|c| from_context(n.as_str(), c))
        });
        let base = match overridden {
            Some(b) => b,
            None => {
                let name = expand(&globals, parsed.escape, &label, &stage.base)?;
                if name.is_empty() {
                    return Err(Error::Instruction {
                        line: stage.span.start.line,
                        error: Box::new(Error::BlankBase(stage.base.clone())),
                    });
                }
                resolve_ref(&names, &contexts, &name, i)
            }
        };
        let platform = match &stage.platform {
            Some(p) => {
                let text = expand(&globals, parsed.escape, &label, p)?;
                let parsed = text.parse::<Platform>().map_err(|e| Error::Platform {
                    stage: label.clone(),
                    platform: text.clone(),
                    reason: e.to_string(),
                })?;
                (parsed.normalize(), true)
            }
            None => (target_platform.clone(), opts.platform.is_some()),
        };
        platforms.push(platform);
        if let Base::Stage(j) = base {
            graph.add_edge(nodes[j], nodes[i], ());
        }
        check_copy_from(stage, parsed.escape)?;
        for (r, _) in stage_refs(stage) {
            if let Base::Stage(j) = resolve_ref(&names, &contexts, &r, names.len()) {
                graph.add_edge(nodes[j], nodes[i], ());
                if j >= i {
                    later.push((i, r));
                }
            }
        }
        // A stage base's triggers run here: what they read is read here.
        let triggered = match base {
            Base::Stage(j) => refs(&crate::onbuild::stage_triggers(&stages[j])),
            _ => Vec::new(),
        };
        for (r, _) in &triggered {
            if let Base::Stage(j) = resolve_ref(&names, &contexts, r, names.len()) {
                if j < i {
                    graph.add_edge(nodes[j], nodes[i], ());
                }
            }
        }
        trigger_refs.push(triggered);
        bases.push(base);
    }
    let order = toposort(&graph, None).map_err(|c| {
        Error::Cycle(label(
            &parsed.stages[graph[c.node_id()]],
            graph[c.node_id()],
        ))
    })?;
    let mut wanted = vec![false; parsed.stages.len()];
    let mut todo = vec![nodes[target]];
    while let Some(n) = todo.pop() {
        if !std::mem::replace(&mut wanted[graph[n]], true) {
            todo.extend(graph.neighbors_directed(n, petgraph::Direction::Incoming));
        }
    }
    // Only stages that would be dispatched fail, as in BuildKit.
    if let Some((i, from)) = later.into_iter().find(|(i, _)| wanted[*i]) {
        return Err(Error::CopyFromLaterStage {
            from,
            stage: label(&stages[i], i),
        });
    }
    // Every stage kept reads earlier stages only, so the Dockerfile's order
    // is a dependency order: the plan keeps it, whatever the sort gave.
    let mut kept: Vec<usize> = order
        .into_iter()
        .map(|n| graph[n])
        .filter(|&i| wanted[i])
        .collect();
    kept.sort_unstable();
    let stages = kept
        .into_iter()
        .map(|i| PlannedStage {
            index: i,
            label: label(&stages[i], i),
            base: bases[i].clone(),
            stage: stages[i].clone(),
            platform: platforms[i].0.clone(),
            platform_requested: platforms[i].1,
            trigger_refs: trigger_refs[i].clone(),
        })
        .collect();
    Ok(Plan {
        stages,
        escape: parsed.escape,
        globals,
        build_args: opts.build_args.clone(),
        names,
        contexts,
    })
}

fn label(stage: &Stage, i: usize) -> String {
    match &stage.name {
        Some(n) => n.as_str().to_string(),
        None => format!("stage-{i}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn planned(text: &str, target: Option<&str>) -> Result<Plan> {
        let df = rdock_parser::parse(text.as_bytes()).unwrap();
        let parsed = rdock_parser::instructions::parse_dockerfile(&df).unwrap();
        let opts = PlanOptions {
            build_args: [("V".to_string(), "9".to_string())].into(),
            target: target.map(str::to_string),
            ..PlanOptions::default()
        };
        plan(&parsed, &opts)
    }

    fn order(p: &Plan) -> Vec<String> {
        p.stages.iter().map(|s| s.label.clone()).collect()
    }

    #[test]
    fn orders_and_prunes_stages() {
        let text = "ARG BASE=busybox\nARG V=1\nFROM $BASE AS a\nFROM scratch AS unused\n\
                    FROM busybox:$V AS c\nFROM a AS b\nCOPY --from=c /x /x\n\
                    COPY --from=img /y /y\n";
        let p = planned(text, Some("b")).unwrap();
        let mut got = order(&p);
        assert_eq!(got.pop().as_deref(), Some("b"));
        got.sort();
        assert_eq!(got, ["a", "c"]);
        // A `--from` that names no stage is an image.
        assert_eq!(
            p.images(),
            ["busybox", "busybox:9", "img"].map(String::from).into()
        );
        assert_eq!(p.resolve("c"), Base::Stage(2));
        assert_eq!(p.globals.get("V"), Some("9"));
        let c = planned(text, Some("c")).unwrap();
        assert_eq!(order(&c), ["c"]);
        assert_eq!(c.stages[0].base, Base::Image("busybox:9".into()));
    }

    #[test]
    fn copy_from_a_later_stage_is_an_error_when_dispatched() {
        let text = "FROM busybox AS a\nCOPY --from=b /x /x\nFROM busybox AS b\n";
        let err = planned(text, Some("a")).expect_err("later stage");
        assert_eq!(
            err.to_string(),
            "cannot copy from stage \"b\", it needs to be defined before current stage \"a\""
        );
        // Not needed for the target: not dispatched, no error.
        assert!(planned(text, Some("b")).is_ok());
    }

    #[test]
    fn triggers_of_a_stage_base_bring_their_stages_and_images() {
        let text = "FROM busybox AS src\nFROM busybox AS t\n\
                    ONBUILD COPY --from=src /x /x\nONBUILD COPY --from=img:1 /y /y\n\
                    FROM t\nRUN true\n";
        let p = planned(text, None).unwrap();
        assert_eq!(order(&p), ["src", "t", "stage-2"]);
        assert!(p.images().contains("img:1"));
    }

    #[test]
    fn copy_from_adds_an_edge() {
        let text = "FROM busybox AS a\nFROM scratch\nCOPY --from=a / /\nCOPY --from=0 / /\n";
        let p = planned(text, None).unwrap();
        assert_eq!(order(&p), ["a", "stage-1"]);
        assert!(matches!(
            planned(text, Some("nope")),
            Err(Error::UnknownTarget { .. })
        ));
    }

    fn planned_with(text: &str, opts: &PlanOptions) -> Result<Plan> {
        let df = rdock_parser::parse(text.as_bytes()).unwrap();
        let parsed = rdock_parser::instructions::parse_dockerfile(&df).unwrap();
        plan(&parsed, opts)
    }

    #[test]
    fn named_contexts_replace_stages_and_images() {
        let text = "FROM alpine AS base\nRUN x\nFROM docker.io/library/busybox:latest\n\
                    COPY --from=base /a /a\nCOPY --from=tools /t /t\nCOPY --from=alpine:3 / /\n";
        let opts = PlanOptions {
            contexts: [
                ("base".to_string(), NamedContext::Dir("/d1".into())),
                ("busybox".to_string(), NamedContext::Image("mybox:1".into())),
                ("tools".to_string(), NamedContext::Dir("/d2".into())),
            ]
            .into(),
            ..PlanOptions::default()
        };
        let p = planned_with(text, &opts).unwrap();
        // The replaced stage is not needed: nothing reads it as a stage.
        assert_eq!(order(&p), ["stage-1"]);
        assert_eq!(p.stages[0].base, Base::Image("mybox:1".into()));
        assert_eq!(p.resolve("base"), Base::Context("base".into()));
        assert_eq!(p.resolve("tools"), Base::Context("tools".into()));
        assert_eq!(p.context_dir("tools"), Some(Path::new("/d2")));
        // `alpine:3` is not `alpine` (only `:latest` is left out).
        assert_eq!(p.images(), ["alpine:3", "mybox:1"].map(String::from).into());
        // As a target, the stage is the context and runs nothing.
        let base = planned_with(
            text,
            &PlanOptions {
                target: Some("base".into()),
                ..opts
            },
        )
        .unwrap();
        assert_eq!(base.stages[0].base, Base::Context("base".into()));
        assert!(base.stages[0].stage.instructions.is_empty());
    }

    #[test]
    fn platforms_follow_the_request() {
        let text =
            "FROM --platform=$BUILDPLATFORM busybox AS b\nFROM --platform=linux/arm64 scratch\n\
                    FROM busybox\n";
        let host = Platform::host().normalize();
        let p = planned(text, None).unwrap();
        assert!(p.stages.iter().all(|s| s.platform == host));
        // Only the last stage is needed; it asked for no platform.
        assert_eq!(
            p.stages
                .iter()
                .map(|s| s.platform_requested)
                .collect::<Vec<_>>(),
            [false]
        );
        let arm: Platform = "linux/arm/v7".parse().unwrap();
        let opts = PlanOptions {
            platform: Some(arm.clone()),
            target: Some("b".into()),
            ..PlanOptions::default()
        };
        let p = planned_with(text, &opts).unwrap();
        assert_eq!(p.globals.get("TARGETPLATFORM"), Some("linux/arm/v7"));
        assert_eq!(p.globals.get("TARGETARCH"), Some("arm"));
        assert_eq!(p.globals.get("TARGETVARIANT"), Some("v7"));
        assert_eq!(
            p.globals.get("BUILDPLATFORM"),
            Some(host.to_string().as_str())
        );
        assert_eq!(p.stages[0].platform, host);
        assert!(p.stages[0].platform_requested);
        let last = planned_with(
            text,
            &PlanOptions {
                target: None,
                ..opts
            },
        )
        .unwrap();
        assert_eq!(last.stages[0].platform, arm);
        assert!(last.stages[0].platform_requested);
        let bad = planned("FROM --platform=linux/a!b busybox\n", None).unwrap_err();
        assert!(matches!(bad, Error::Platform { .. }), "{bad}");
    }
}
