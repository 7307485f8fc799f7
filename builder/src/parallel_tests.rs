//! Independent stages run in parallel, proved without timing: a fake
//! [`Executor`] logs when each RUN starts and ends, and a RUN can wait
//! (on a condition variable, with a timeout that fails the test instead of
//! hanging) until another one has started or ended. Progress events and
//! the log give the partial order; the image must not depend on it.

use std::collections::BTreeMap;
use std::sync::{Condvar, Mutex};
use std::time::Duration;

use rdock_cache::Store;
use rdock_runner::{ExitStatus, Outcome, RunSpec};

use crate::{plan, solve, Error, Event, Executor, PlanOptions, SolveOptions};

/// How long a gated RUN waits before it fails the test.
const GATE: Duration = Duration::from_secs(30);

/// One entry of the fake's log: a RUN started (`true`) or ended.
type Note = (bool, String);

/// Runs `NAME [after-start:X] [after-end:X] [exit:N]`: waits until RUN `X`
/// started or ended, writes `/NAME` and exits with `N` (0 by default).
#[derive(Debug, Default)]
struct GatedExecutor {
    log: Mutex<Vec<Note>>,
    changed: Condvar,
}

impl GatedExecutor {
    fn note(&self, start: bool, name: &str) {
        self.log.lock().unwrap().push((start, name.to_string()));
        self.changed.notify_all();
    }

    fn wait_for(&self, start: bool, name: &str) {
        let note = (start, name.to_string());
        let log = self.log.lock().unwrap();
        let (log, waited) = self
            .changed
            .wait_timeout_while(log, GATE, |l| !l.contains(&note))
            .unwrap();
        let seen = log.clone();
        drop(log);
        assert!(
            !waited.timed_out(),
            "gave up waiting for {note:?}: {seen:?}"
        );
    }

    fn log(&self) -> Vec<Note> {
        self.log.lock().unwrap().clone()
    }
}

impl Executor for GatedExecutor {
    fn run(&self, spec: &RunSpec) -> rdock_runner::Result<Outcome> {
        let command = spec.args.last().cloned().unwrap_or_default();
        let mut words = command.split(' ');
        let name = words.next().unwrap_or_default().to_string();
        self.note(true, &name);
        let mut code = 0;
        for word in words {
            if let Some(other) = word.strip_prefix("after-start:") {
                self.wait_for(true, other);
            } else if let Some(other) = word.strip_prefix("after-end:") {
                self.wait_for(false, other);
            } else if let Some(n) = word.strip_prefix("exit:") {
                code = n.parse().unwrap();
            }
        }
        std::fs::write(spec.upper_dir.join(&name), &command).unwrap();
        self.note(false, &name);
        Ok(Outcome {
            status: ExitStatus::Exited(code),
            timed_out: false,
            stdout: Vec::new(),
            stderr: Vec::new(),
        })
    }
}

/// A build's result, its progress events and the executor's log.
struct Run {
    result: crate::Result<Vec<String>>,
    events: Vec<Event>,
    log: Vec<Note>,
    order: Vec<String>,
}

fn build(dockerfile: &str, jobs: usize) -> Run {
    let tmp = tempfile::tempdir().unwrap();
    let store = Store::open(tmp.path().join("root")).unwrap();
    let context = tmp.path().join("ctx");
    std::fs::create_dir_all(&context).unwrap();
    let df = rdock_parser::parse(dockerfile.as_bytes()).unwrap();
    let parsed = rdock_parser::instructions::parse_dockerfile(&df).unwrap();
    let plan = plan(&parsed, &PlanOptions::default()).unwrap();
    let exec = GatedExecutor::default();
    let bases = BTreeMap::new();
    let opts = SolveOptions {
        context,
        ignore: None,
        bases: &bases,
        source_date_epoch: Some(0),
        created: "1970-01-01T00:00:00Z".into(),
        compression: Default::default(),
        source: dockerfile.as_bytes(),
        executor: &exec,
        no_cache: false,
        jobs,
        mounts: &crate::MountSources::default(),
        fetcher: &crate::fetch::fake::FakeFetcher::default(),
    };
    let lease = store.lease().unwrap();
    let mut events = Vec::new();
    let result = solve(&store, &plan, &opts, &lease, &mut |e| events.push(e))
        .map(|b| b.layers.iter().map(|l| l.digest().to_string()).collect());
    Run {
        result,
        events,
        log: exec.log(),
        order: plan.stages.iter().map(|s| s.label.clone()).collect(),
    }
}

/// Where the log has `note`.
fn at(log: &[Note], start: bool, name: &str) -> usize {
    log.iter()
        .position(|n| *n == (start, name.to_string()))
        .unwrap_or_else(|| panic!("{name} not in {log:?}"))
}

/// Where progress first shows a vertex whose name contains `text`.
fn started(events: &[Event], text: &str) -> usize {
    events
        .iter()
        .position(|e| matches!(e, Event::Started { name, .. } if name.contains(text)))
        .unwrap_or_else(|| panic!("{text} not started: {events:?}"))
}

/// Where progress shows the end of the vertex whose name contains `text`.
fn finished(events: &[Event], text: &str) -> usize {
    let id = match &events[started(events, text)] {
        Event::Started { id, .. } => *id,
        _ => unreachable!(),
    };
    events
        .iter()
        .position(|e| matches!(e, Event::Finished { id: i, .. } if *i == id))
        .unwrap_or_else(|| panic!("{text} never finished: {events:?}"))
}

const INDEPENDENT: &str = "FROM scratch AS a
RUN a after-start:b
FROM scratch AS b
RUN b
FROM scratch
COPY --from=a /a /a
COPY --from=b /b /b
RUN final
";

#[test]
fn independent_stages_overlap_and_dependents_wait() {
    // RUN a can only end once RUN b has started: they overlap.
    let run = build(INDEPENDENT, 2);
    let layers = run.result.unwrap();
    let log = &run.log;
    assert!(at(log, true, "b") < at(log, false, "a"), "{log:?}");
    // The last stage starts after both it reads have ended.
    for stage in ["a", "b"] {
        assert!(at(log, false, stage) < at(log, true, "final"), "{log:?}");
        let end = finished(&run.events, &format!("RUN {stage}"));
        assert!(end < started(&run.events, "stage-2 1/3] COPY"), "{stage}");
    }
    // Vertices are numbered as they start, each once.
    let ids: Vec<usize> = run
        .events
        .iter()
        .filter_map(|e| match e {
            Event::Started { id, .. } => Some(*id),
            _ => None,
        })
        .collect();
    assert_eq!(ids, (1..=ids.len()).collect::<Vec<_>>());
    assert_eq!(layers.len(), 3);
}

#[test]
fn the_image_does_not_depend_on_scheduling() {
    let sequential = INDEPENDENT.replace(" after-start:b", "");
    let one = build(&sequential, 1);
    assert_eq!(one.log.len(), 6, "{:?}", one.log);
    let parallel = build(INDEPENDENT, 2);
    // The RUN text differs, so compare the final stage's layers apart from
    // the one COPY of a: the same digests for b and the final RUN.
    let (one, parallel) = (one.result.unwrap(), parallel.result.unwrap());
    assert_eq!(one[1..], parallel[1..]);
    let again = build(&sequential, 2).result.unwrap();
    assert_eq!(one, again);
}

#[test]
fn the_earliest_failing_stage_in_plan_order_fails_the_build() {
    // The plan runs `a` before `b`; both run, `b` fails first in time,
    // then `a`; `c` and the last stage never start.
    let dockerfile = "FROM scratch AS a
RUN a after-end:b exit:3
FROM scratch AS b
RUN b after-start:a exit:4
FROM scratch AS c
RUN c
FROM scratch
COPY --from=a /a /a
COPY --from=b /b /b
COPY --from=c /c /c
";
    let run = build(dockerfile, 2);
    let (a, b) = (
        run.order.iter().position(|s| s == "a").unwrap(),
        run.order.iter().position(|s| s == "b").unwrap(),
    );
    assert!(a < b, "plan order {:?}", run.order);
    match run.result.as_ref().map_err(Error::cause) {
        Err(Error::RunFailed { code, command, .. }) => {
            assert_eq!(*code, 3, "{command}");
        }
        other => panic!("not a's failure: {other:?}"),
    }
    let log = &run.log;
    assert_eq!(log.len(), 4, "{log:?}");
    assert!(log[..2].iter().all(|(start, _)| *start), "{log:?}");
    assert_eq!(log[2..], [(false, "b".into()), (false, "a".into())]);
    assert!(run.events.iter().all(|e| match e {
        Event::Started { name, .. } => !name.contains("[c ") && !name.contains("stage-3"),
        _ => true,
    }));
}
