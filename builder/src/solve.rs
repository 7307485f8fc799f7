//! Stage three: [`solve`] runs a [`Plan`] and returns the target's layers
//! and image config as [`Built`]. Independent stages run in parallel (see
//! [`crate::schedule`]); the steps of one stage run in order, each stage
//! with its own [`Solver`] over the state the stages of one solve share
//! ([`Shared`]: vertex numbers, unpacked base images, the context index).
//!
//! Every step that changes files works in a fresh snapshot prepared in the
//! store: its folder is the overlay upper dir (RUN) or the folder COPY
//! writes into; when the step changed something it is packed with
//! [`Store::write_layer`] and committed as the snapshot of the new chain
//! id, so later steps stack it as a lower dir. A step that changed nothing
//! adds no layer, only a history entry with `empty_layer`, as BuildKit's
//! exporter does. Progress goes to the caller's callback as [`Event`]s.
//!
//! Each file system step first computes its cache key from the stage's
//! key so far (the base image's manifest digest, `scratch`, or the parent
//! stage's key) and its own definition and inputs; when the store has a
//! record for it, the recorded layer is stacked and the step does not run
//! (`#N CACHED`). See [`crate::stepcache`] and [`crate::contenthash`].

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::mpsc::Sender;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use rdock_cache::oci_spec::image::Descriptor;
use rdock_cache::{CacheKey, ChainId, Compression, Digest, Lease, PackOptions, Store};
use rdock_parser::dockerignore::PatternMatcher;
use rdock_parser::instructions::Instruction;
use rdock_parser::platform::Platform;
use rdock_parser::scope::EnvList;
use serde_json::{json, Value};

use crate::config::{ImageConfig, DEFAULT_PATH};
use crate::contenthash::ContextIndex;
use crate::error::{Error, Result};
use crate::executor::Executor;
use crate::fsview::Layers;
use crate::key::KeyWriter;
use crate::plan::{Base, Plan, PlannedStage};
use crate::schedule::Message;

/// A base image, resolved from the store by the caller.
#[derive(Debug, Clone)]
pub struct BaseImage {
    /// Full name, for progress (`docker.io/library/busybox:latest`).
    pub name: String,
    /// The digest of its manifest: the base of its stages' cache keys.
    pub manifest_digest: Digest,
    /// Layer descriptors with their diff ids, bottom first.
    pub layers: Vec<(Descriptor, Digest)>,
    /// The whole image config JSON.
    pub config: Value,
}

/// How to run a plan.
#[derive(Debug)]
pub struct SolveOptions<'a> {
    /// The build context directory.
    pub context: PathBuf,
    /// Its `.dockerignore` rules.
    pub ignore: Option<&'a PatternMatcher>,
    /// Every image of [`Plan::images`], by the name used there.
    pub bases: &'a BTreeMap<String, BaseImage>,
    /// `SOURCE_DATE_EPOCH`: clamps layer file times.
    pub source_date_epoch: Option<i64>,
    /// The RFC 3339 creation time of the image and its history entries.
    pub created: String,
    /// Layer compression (gzip by default).
    pub compression: Compression,
    /// The Dockerfile text, to show instructions as written.
    pub source: &'a [u8],
    /// Runs RUN commands.
    pub executor: &'a dyn Executor,
    /// `--no-cache`: run every step (records are still written).
    pub no_cache: bool,
    /// How many independent stages run at once; 0 means one per CPU.
    pub jobs: usize,
    /// `--secret` and `--ssh`: what secret and SSH mounts read.
    pub mounts: &'a crate::MountSources,
    /// Downloads the URLs of ADD.
    pub fetcher: &'a dyn crate::Fetcher,
}

/// A progress event, numbered like BuildKit's vertices.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A step started: `[build 2/4] RUN make`.
    Started { id: usize, name: String },
    /// A line of the step's output.
    Output { id: usize, line: String },
    /// The step's result came from the build cache; it did not run (no
    /// `Finished` follows).
    Cached { id: usize },
    /// The step ended, with the error when it failed.
    Finished {
        id: usize,
        error: Option<String>,
        elapsed: Duration,
    },
}

/// The built target stage.
#[derive(Debug, Clone)]
pub struct Built {
    /// Layer descriptors, bottom first.
    pub layers: Vec<Descriptor>,
    /// The OCI image config, ready to store.
    pub config: Value,
}

/// One layer of a stage's file system.
#[derive(Debug, Clone)]
pub(crate) struct Layer {
    pub descriptor: Descriptor,
    pub diff_id: Digest,
    pub chain_id: ChainId,
}

/// What a stage has built so far.
#[derive(Debug, Clone)]
pub(crate) struct StageState {
    pub layers: Vec<Layer>,
    pub config: ImageConfig,
    /// The variables steps see, as BuildKit's LLB state env: the image's
    /// ENV, then every ARG with a value and every ENV in order (a later
    /// one replaces an earlier one of the same name). RUN gets them all.
    pub env: EnvList,
    /// The ARGs declared in scope, in order, with their values (BuildKit's
    /// `buildArgs`, for the RUN history text).
    pub build_args: Vec<(String, Option<String>)>,
    /// CMD was set in this stage (ENTRYPOINT then keeps it).
    pub cmd_set: bool,
    /// The platform of the image config: the base image's, or the
    /// stage's for scratch and named contexts.
    pub platform: Platform,
    pub author: Option<String>,
    /// The cache key of the stage's file system so far: its base, then
    /// each file system step.
    pub key: Option<CacheKey>,
}

impl Default for StageState {
    fn default() -> StageState {
        StageState {
            layers: Vec::new(),
            config: ImageConfig::default(),
            env: EnvList::default(),
            build_args: Vec::new(),
            cmd_set: false,
            platform: Platform::host(),
            author: None,
            key: None,
        }
    }
}

impl StageState {
    /// The overlay lower dirs, topmost first.
    pub fn lowers(&self, store: &Store) -> Vec<PathBuf> {
        self.layers
            .iter()
            .rev()
            .map(|l| store.snapshot_path(&l.chain_id))
            .collect()
    }

    pub fn view(&self, store: &Store) -> Layers {
        Layers::new(self.lowers(store))
    }

    /// Variables for expansion.
    pub fn scope(&self) -> &EnvList {
        &self.env
    }

    /// The key the next step builds on.
    pub fn parent_key(&self) -> &CacheKey {
        self.key
            .as_ref()
            .expect("every stage state starts with a key")
    }
}

/// How a file system step ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ran {
    Executed,
    Cached,
}

/// What the stages of one solve share across their threads.
pub(crate) struct Shared {
    /// The number of the last vertex started.
    next_id: Mutex<usize>,
    /// Base images by name, their layers unpacked once.
    images: Mutex<BTreeMap<String, StageState>>,
    /// The hashes of the context files COPY read.
    pub index: Mutex<ContextIndex>,
}

/// Locks `m`; a panic elsewhere is resumed by the scheduler anyway.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The solver of one stage.
pub(crate) struct Solver<'a> {
    pub store: &'a Store,
    pub lease: Lease,
    pub opts: &'a SolveOptions<'a>,
    pub plan: &'a Plan,
    pub shared: &'a Shared,
    /// Progress events, to the scheduling thread.
    events: Sender<Message>,
    /// The stages built before this one started (its dependencies among them).
    pub done: BTreeMap<usize, StageState>,
}

impl Solver<'_> {
    /// Reports a progress event.
    pub fn emit(&self, event: Event) {
        // The receiver lives until every stage has ended.
        let _ = self.events.send(Message::Event(event));
    }

    /// Reports events from another thread (a RUN's output reader).
    pub fn emitter(&self) -> impl Fn(Event) + Send + 'static {
        let events = self.events.clone();
        move |event| {
            let _ = events.send(Message::Event(event));
        }
    }

    pub fn pack_options(&self) -> PackOptions {
        PackOptions {
            compression: self.opts.compression,
            source_date_epoch: self.opts.source_date_epoch,
        }
    }

    /// Runs a file system step: progress shows `CACHED` instead of its
    /// end when it was a cache hit.
    pub fn vertex(
        &mut self,
        name: String,
        f: impl FnOnce(&mut Self, usize) -> Result<Ran>,
    ) -> Result<Ran> {
        // Numbered as started; sent under the lock so that the numbers
        // arrive in order.
        let id = {
            let mut next = lock(&self.shared.next_id);
            *next += 1;
            self.emit(Event::Started { id: *next, name });
            *next
        };
        let start = Instant::now();
        let out = f(self, id);
        match out {
            Ok(Ran::Cached) => self.emit(Event::Cached { id }),
            _ => self.emit(Event::Finished {
                id,
                error: out.as_ref().err().map(ToString::to_string),
                elapsed: start.elapsed(),
            }),
        }
        out
    }

    /// The state of an image from the store, its layers unpacked once,
    /// and whether they all were unpacked already.
    pub fn image_state(&self, name: &str) -> Result<(StageState, Ran)> {
        // Held while unpacking: a stage on the same image waits for it.
        let mut images = lock(&self.shared.images);
        if let Some(s) = images.get(name) {
            return Ok((s.clone(), Ran::Cached));
        }
        let base = self
            .opts
            .bases
            .get(name)
            .ok_or_else(|| Error::MissingBase(name.to_string()))?;
        let mut layers = Vec::new();
        let mut ran = Ran::Cached;
        let mut parent: Option<ChainId> = None;
        for (desc, diff_id) in &base.layers {
            let unpacked = self
                .store
                .unpack_blob(&self.lease, desc, diff_id, parent.as_ref())?;
            self.lease.protect_snapshot(&unpacked.chain_id)?;
            if unpacked.stats.is_some() {
                ran = Ran::Executed;
            }
            parent = Some(unpacked.chain_id.clone());
            layers.push(Layer {
                descriptor: desc.clone(),
                diff_id: diff_id.clone(),
                chain_id: unpacked.chain_id,
            });
        }
        let mut config = ImageConfig::from_image(&base.config);
        if config.env.get("PATH").is_none() {
            config.env.set("PATH", DEFAULT_PATH);
        }
        let field = |k: &str| base.config[k].as_str().unwrap_or_default().to_string();
        let host = Platform::host();
        let platform = Platform {
            os: Some(field("os"))
                .filter(|o| !o.is_empty())
                .unwrap_or(host.os),
            architecture: Some(field("architecture"))
                .filter(|a| !a.is_empty())
                .unwrap_or(host.architecture),
            variant: field("variant"),
        };
        let state = StageState {
            layers,
            env: config.env.clone(),
            config,
            platform,
            author: base.config["author"].as_str().map(str::to_string),
            key: Some(
                KeyWriter::new("image")
                    .digest(&base.manifest_digest)
                    .finish(),
            ),
            ..StageState::default()
        };
        images.insert(name.to_string(), state.clone());
        Ok((state, ran))
    }

    /// The cache key of what a `--from` reference names.
    pub fn source_key(&mut self, reference: &str) -> Result<CacheKey> {
        Ok(match self.plan.resolve(reference) {
            Base::Scratch => scratch_state(Platform::host()).parent_key().clone(),
            Base::Context(name) => self.context_state(&name)?.parent_key().clone(),
            Base::Stage(i) => self
                .done
                .get(&i)
                .ok_or_else(|| Error::MissingBase(reference.to_string()))?
                .parent_key()
                .clone(),
            Base::Image(name) => self.image_state(&name)?.0.parent_key().clone(),
        })
    }

    /// The file system a `--from` reference names, as a merged view.
    pub fn source_view(&mut self, reference: &str) -> Result<Layers> {
        let state = match self.plan.resolve(reference) {
            Base::Scratch => return Ok(Layers::default()),
            Base::Context(name) => self.context_state(&name)?,
            Base::Stage(i) => self
                .done
                .get(&i)
                .cloned()
                .ok_or_else(|| Error::MissingBase(reference.to_string()))?,
            Base::Image(name) => self.image_state(&name)?.0,
        };
        Ok(state.view(self.store))
    }

    /// A named context directory as a one-layer file system (its
    /// `.dockerignore` applied, files owned by root), for `RUN --mount
    /// from=`; cached like a COPY of it.
    fn context_state(&mut self, name: &str) -> Result<StageState> {
        let dir = self.context_dir(name)?;
        let mut state = scratch_state(Platform::host());
        crate::named_context::context_base(self, &mut state, name, &dir)?;
        Ok(state)
    }

    /// The directory of a named context.
    pub fn context_dir(&self, name: &str) -> Result<PathBuf> {
        self.plan
            .context_dir(name)
            .map(PathBuf::from)
            .ok_or_else(|| Error::MissingBase(name.to_string()))
    }
}

fn scratch_state(platform: Platform) -> StageState {
    let mut config = ImageConfig::default();
    config.env.set("PATH", DEFAULT_PATH);
    // BuildKit's empty image has `WorkingDir: /`.
    config.workdir = "/".to_string();
    StageState {
        env: config.env.clone(),
        config,
        platform,
        key: Some(KeyWriter::new("scratch").finish()),
        ..StageState::default()
    }
}

/// Runs the plan and returns the target stage's image. `progress` gets
/// every step's events, on the calling thread; the content written is kept
/// alive by a lease of `store` until the caller has referenced it (the lease
/// ends on drop). The result does not depend on the order stages ran in: a
/// stage reads only the finished stages it names.
pub fn solve(
    store: &Store,
    plan: &Plan,
    opts: &SolveOptions<'_>,
    lease: &Lease,
    progress: &mut dyn FnMut(Event),
) -> Result<Built> {
    let shared = Shared {
        next_id: Mutex::new(0),
        images: Mutex::default(),
        index: Mutex::new(ContextIndex::load(store.root(), &opts.context)),
    };
    let result = crate::schedule::run(plan, opts.jobs, progress, |pos, done, events| {
        let mut solver = Solver {
            store,
            lease: lease.clone(),
            opts,
            plan,
            shared: &shared,
            events,
            done,
        };
        solve_stage(&mut solver, &plan.stages[pos])
    });
    // The files hashed so far serve the next build, even after a failure.
    let saved = shared
        .index
        .into_inner()
        .unwrap_or_else(PoisonError::into_inner)
        .save();
    let state = result?;
    saved?;
    Ok(Built {
        layers: state.layers.iter().map(|l| l.descriptor.clone()).collect(),
        config: image_config(&state, &opts.created),
    })
}

/// Runs the steps of one stage, its dependencies built; returns its state.
fn solve_stage(solver: &mut Solver<'_>, planned: &PlannedStage) -> Result<StageState> {
    let opts = solver.opts;
    // As BuildKit: only FROM and the steps that make a filesystem
    // vertex (RUN, COPY, ADD, WORKDIR) are numbered and shown; the
    // metadata instructions apply silently.
    // FROM is a numbered step only for an image base: a stage base or
    // scratch makes no vertex of its own.
    let base = planned.base.clone();
    let mut from_step = 1;
    let mut state = match &base {
        Base::Stage(i) => {
            from_step = 0;
            solver
                .done
                .get(i)
                .cloned()
                .ok_or_else(|| Error::MissingBase(planned.stage.base.clone()))?
        }
        Base::Scratch => {
            from_step = 0;
            scratch_state(planned.platform.clone())
        }
        _ => {
            let shown = match &base {
                Base::Image(name) => opts.bases.get(name).map_or(name.as_str(), |b| &b.name),
                Base::Context(name) => name.as_str(),
                _ => planned.stage.base.as_str(),
            };
            let total = 1 + planned
                .stage
                .instructions
                .iter()
                .filter(|i| is_vertex(i))
                .count();
            let name = format!("[{}] FROM {shown}", counter(&planned.label, 1, total));
            let mut state = None;
            solver.vertex(name, |s, _| {
                let (st, ran) = match &base {
                    Base::Image(name) => s.image_state(name)?,
                    Base::Context(name) => {
                        let mut st = scratch_state(planned.platform.clone());
                        let dir = s.context_dir(name)?;
                        let ran = crate::named_context::context_base(s, &mut st, name, &dir)?;
                        (st, ran)
                    }
                    _ => (scratch_state(planned.platform.clone()), Ran::Executed),
                };
                if let (Base::Image(name), true) = (&base, planned.platform_requested) {
                    let actual = st.platform.normalize();
                    if actual != planned.platform {
                        return Err(Error::PlatformMismatch {
                            stage: planned.label.clone(),
                            image: name.clone(),
                            actual: actual.to_string(),
                            wanted: planned.platform.to_string(),
                        });
                    }
                }
                let ran = if s.opts.no_cache { Ran::Executed } else { ran };
                state = Some(st);
                Ok(ran)
            })?;
            state.expect("the FROM step sets the state")
        }
    };
    state.cmd_set = false;
    // The base's ONBUILD triggers run first and are not inherited.
    let triggers = crate::onbuild::parse(std::mem::take(&mut state.config.on_build))?;
    // (text shown, instruction, its Dockerfile line: none for triggers,
    // which come from the base image)
    let steps: Vec<(String, &Instruction, Option<usize>)> = triggers
        .iter()
        .map(|(e, ins)| (format!("ONBUILD {e}"), ins, None))
        .chain(planned.stage.instructions.iter().map(|ins| {
            let shown = crate::steps::shown(opts.source, ins);
            (shown, ins, Some(ins.span().start.line))
        }))
        .collect();
    let total = from_step + steps.iter().filter(|(_, i, _)| is_vertex(i)).count();
    let mut index = from_step;
    for (text, ins, line) in steps {
        let at = |error: Error| match line {
            Some(line) => Error::Instruction {
                line,
                error: Box::new(error),
            },
            None => error,
        };
        if !is_vertex(ins) {
            // Not a vertex: no output to number.
            crate::steps::dispatch(solver, &mut state, ins, 0).map_err(at)?;
            continue;
        }
        index += 1;
        let name = format!("[{}] {text}", counter(&planned.label, index, total));
        solver
            .vertex(name, |s, id| crate::steps::dispatch(s, &mut state, ins, id))
            .map_err(at)?;
    }
    Ok(state)
}

/// Whether an instruction makes a filesystem step (a numbered vertex).
fn is_vertex(ins: &Instruction) -> bool {
    matches!(
        ins,
        Instruction::Run(_) | Instruction::Copy(_) | Instruction::Add(_) | Instruction::Workdir(_)
    )
}

/// BuildKit's step prefix: `build 2/5`, the index padded to the total's width.
fn counter(label: &str, index: usize, total: usize) -> String {
    let width = total.to_string().len();
    format!("{label} {index:>width$}/{total}")
}

fn image_config(state: &StageState, created: &str) -> Value {
    let diff_ids: Vec<String> = state.layers.iter().map(|l| l.diff_id.to_string()).collect();
    let mut c = json!({
        "created": created,
        "architecture": state.platform.architecture,
        "os": state.platform.os,
        "config": state.config.to_json(),
        "rootfs": { "type": "layers", "diff_ids": diff_ids },
        "history": state.config.history,
    });
    if !state.platform.variant.is_empty() {
        c["variant"] = json!(state.platform.variant);
    }
    if let Some(a) = &state.author {
        c["author"] = json!(a);
    }
    c
}
