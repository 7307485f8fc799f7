//! Runs the stages of a [`Plan`] in parallel, as BuildKit does: [`run`]
//! starts a stage on its own (scoped) thread once every stage it reads
//! ([`Plan::dependencies`]) is built, with at most `jobs` stages at once.
//!
//! Stage threads never call the caller's progress callback: they send
//! [`Message`]s to the scheduling thread, which forwards the events in the
//! order they were sent and collects the finished [`StageState`]s. The first
//! failure stops starting stages; those running finish (an executor cannot
//! be cancelled), and the error of the earliest failed stage in plan order
//! is returned. A panic in a stage is resumed on the calling thread.

use std::any::Any;
use std::collections::BTreeMap;
use std::num::NonZeroUsize;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::sync::mpsc::{self, Sender};

use crate::error::{Error, Result};
use crate::plan::Plan;
use crate::solve::{Event, StageState};

/// What a stage thread tells the scheduling thread.
pub(crate) enum Message {
    /// A progress event, forwarded to the callback.
    Event(Event),
    /// The stage at this position of the plan ended.
    Done(usize, Box<Result<StageState>>),
    /// A stage panicked.
    Panicked(Box<dyn Any + Send>),
}

/// Where a stage of the plan is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Status {
    Waiting,
    Running,
    Ended,
}

/// The number of stages run at once: `jobs`, or one per CPU when 0.
fn limit(jobs: usize) -> usize {
    match jobs {
        0 => std::thread::available_parallelism().map_or(1, NonZeroUsize::get),
        n => n,
    }
}

/// Runs every stage of `plan` with `stage(position, finished, events)`,
/// where `finished` holds the states of the stages built so far (by
/// Dockerfile index, every dependency among them), and returns the state of
/// the last (target) stage.
pub(crate) fn run<F>(
    plan: &Plan,
    jobs: usize,
    progress: &mut dyn FnMut(Event),
    stage: F,
) -> Result<StageState>
where
    F: Fn(usize, BTreeMap<usize, StageState>, Sender<Message>) -> Result<StageState> + Sync,
{
    let limit = limit(jobs);
    let deps: Vec<Vec<usize>> = plan.stages.iter().map(|s| plan.dependencies(s)).collect();
    let mut status = vec![Status::Waiting; plan.stages.len()];
    let mut done: BTreeMap<usize, StageState> = BTreeMap::new();
    let mut failure: Option<(usize, Error)> = None;
    let mut panic = None;
    let mut running = 0;
    let (tx, rx) = mpsc::channel();
    std::thread::scope(|scope| loop {
        if failure.is_none() && panic.is_none() {
            for (pos, wanted) in deps.iter().enumerate() {
                if running >= limit {
                    break;
                }
                if status[pos] != Status::Waiting || !wanted.iter().all(|d| done.contains_key(d)) {
                    continue;
                }
                status[pos] = Status::Running;
                running += 1;
                let (tx, stage, finished) = (tx.clone(), &stage, done.clone());
                scope.spawn(move || {
                    let events = tx.clone();
                    let msg = match catch_unwind(AssertUnwindSafe(|| stage(pos, finished, events)))
                    {
                        Ok(result) => Message::Done(pos, Box::new(result)),
                        Err(payload) => Message::Panicked(payload),
                    };
                    // The receiver lives until every stage has reported.
                    let _ = tx.send(msg);
                });
            }
        }
        if running == 0 {
            break;
        }
        match rx.recv().expect("the scheduler holds a sender") {
            Message::Event(e) => progress(e),
            Message::Done(pos, result) => {
                running -= 1;
                status[pos] = Status::Ended;
                match *result {
                    Ok(state) => {
                        done.insert(plan.stages[pos].index, state);
                    }
                    Err(e) => {
                        if failure.as_ref().is_none_or(|(first, _)| pos < *first) {
                            failure = Some((pos, e));
                        }
                    }
                }
            }
            Message::Panicked(payload) => {
                running -= 1;
                panic.get_or_insert(payload);
            }
        }
    });
    if let Some(payload) = panic {
        resume_unwind(payload);
    }
    if let Some((_, e)) = failure {
        return Err(e);
    }
    let target = plan.stages.last().ok_or(Error::NoStages)?;
    done.remove(&target.index)
        .ok_or_else(|| Error::MissingBase(target.label.clone()))
}
