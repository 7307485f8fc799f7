//! Stage two of the pipeline: [`plan`] turns a parsed Dockerfile into a
//! [`Plan`], a petgraph graph of stage dependencies (FROM another stage,
//! `COPY --from`, `RUN --mount from=`) reduced to the stages `--target`
//! needs, in Dockerfile order (every stage comes after the ones it reads);
//! [`Plan::dependencies`] tells the solver which stages a stage waits for.
//!
//! FROM may name an earlier stage only; `--from` may name any stage (a
//! cycle is an error) and is not expanded, as in BuildKit.
//! Global ARGs are resolved as BuildKit does: predefined platform ARGs,
//! then the ARGs before the first FROM in order, each overridable by a
//! `--build-arg` only when declared.

use std::collections::{BTreeMap, BTreeSet};

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
    /// The stage as parsed.
    pub stage: Stage,
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
}

impl Plan {
    /// What a `COPY --from` (or mount `from=`) reference means: an earlier
    /// stage by name or index (planning rejects later ones, as BuildKit),
    /// `scratch`, or an image. The reference is not expanded.
    pub fn resolve(&self, reference: &str) -> Base {
        resolve_ref(&self.names, reference, self.names.len())
    }

    /// The stages (by Dockerfile index) that `stage` reads: the stage its
    /// FROM names and those its `--from` references name. It may start
    /// once they all are built.
    pub(crate) fn dependencies(&self, stage: &PlannedStage) -> Vec<usize> {
        let mut out: Vec<usize> = stage_refs(&stage.stage)
            .iter()
            .filter_map(|r| match self.resolve(r) {
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
        let mut out = BTreeSet::new();
        for s in &self.stages {
            if let Base::Image(name) = &s.base {
                out.insert(name.clone());
            }
            for r in stage_refs(&s.stage) {
                if let Base::Image(name) = self.resolve(&r) {
                    out.insert(name);
                }
            }
        }
        out
    }
}

fn resolve_ref(names: &[Option<String>], reference: &str, before: usize) -> Base {
    let lower = reference.to_lowercase();
    if let Some(i) = names[..before.min(names.len())]
        .iter()
        .position(|n| n.as_deref() == Some(lower.as_str()))
    {
        return Base::Stage(i);
    }
    if let Ok(i) = reference.parse::<usize>() {
        if i < before {
            return Base::Stage(i);
        }
    }
    if lower == "scratch" {
        return Base::Scratch;
    }
    Base::Image(reference.to_string())
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
fn stage_refs(stage: &Stage) -> Vec<String> {
    let mut out = Vec::new();
    for ins in &stage.instructions {
        match ins {
            Instruction::Copy(c) => out.extend(c.from.iter().cloned()),
            Instruction::Run(r) => out.extend(
                r.mounts
                    .iter()
                    .filter_map(|m| m.mount.as_ref().and_then(|m| m.from.clone())),
            ),
            _ => {}
        }
    }
    out
}

/// Global ARGs in order, each default expanded with those before it.
fn globals(parsed: &ParsedDockerfile, opts: &PlanOptions) -> Result<EnvList> {
    let host = Platform::host().normalize();
    let target = parsed.target_name(opts.target.as_deref());
    let mut env = default_args(&host, &host, &opts.build_args, &target);
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
    let target = match &opts.target {
        None => parsed.stages.len() - 1,
        Some(t) => names
            .iter()
            .position(|n| n.as_deref() == Some(t.to_lowercase().as_str()))
            .ok_or_else(|| Error::UnknownTarget(t.clone()))?,
    };
    let mut graph: DiGraph<usize, ()> = DiGraph::new();
    let nodes: Vec<NodeIndex> = (0..parsed.stages.len())
        .map(|i| graph.add_node(i))
        .collect();
    let mut bases = Vec::new();
    let mut later = Vec::new();
    for (i, stage) in parsed.stages.iter().enumerate() {
        let label = label(stage, i);
        let base = resolve_ref(
            &names,
            &expand(&globals, parsed.escape, &label, &stage.base)?,
            i,
        );
        if let Base::Stage(j) = base {
            graph.add_edge(nodes[j], nodes[i], ());
        }
        for r in stage_refs(stage) {
            if let Base::Stage(j) = resolve_ref(&names, &r, names.len()) {
                graph.add_edge(nodes[j], nodes[i], ());
                if j >= i {
                    later.push((i, r));
                }
            }
        }
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
            stage: label(&parsed.stages[i], i),
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
            label: label(&parsed.stages[i], i),
            base: bases[i].clone(),
            stage: parsed.stages[i].clone(),
        })
        .collect();
    Ok(Plan {
        stages,
        escape: parsed.escape,
        globals,
        build_args: opts.build_args.clone(),
        names,
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
    fn copy_from_adds_an_edge() {
        let text = "FROM busybox AS a\nFROM scratch\nCOPY --from=a / /\nCOPY --from=0 / /\n";
        let p = planned(text, None).unwrap();
        assert_eq!(order(&p), ["a", "stage-1"]);
        assert!(matches!(
            planned(text, Some("nope")),
            Err(Error::UnknownTarget(_))
        ));
    }
}
