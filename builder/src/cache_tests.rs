//! The build cache proved with counters: a fake [`Executor`] counts how
//! often a RUN really ran, and progress events tell which steps were
//! reused ([`Event::Cached`]) and which ran.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime};

use rdock_cache::Store;
use rdock_runner::{ExitStatus, Outcome, RunSpec};

use crate::fetch::fake::{FakeFetcher, Page};
use crate::{plan, solve, Event, Executor, PlanOptions, SolveOptions};

/// Counts runs; each run writes its command and env into the upper dir,
/// so a RUN makes a layer that depends on what it saw.
#[derive(Debug, Default)]
struct CountingExecutor {
    runs: AtomicUsize,
}

impl Executor for CountingExecutor {
    fn run(&self, spec: &RunSpec) -> rdock_runner::Result<Outcome> {
        self.runs.fetch_add(1, Ordering::SeqCst);
        let text = format!("{:?} {:?}", spec.args, spec.env);
        std::fs::write(
            spec.upper_dir.join(format!("ran-{}", spec.args.len())),
            text,
        )
        .expect("writing the fake's output");
        Ok(Outcome {
            status: ExitStatus::Exited(0),
            timed_out: false,
            stdout: Vec::new(),
            stderr: Vec::new(),
        })
    }
}

const DOCKERFILE: &str = "FROM scratch
COPY a.txt /a.txt
RUN one
COPY b.txt /b.txt
ARG USED
RUN two
";

struct Fixture {
    _tmp: tempfile::TempDir,
    store: Store,
    context: PathBuf,
    fetcher: FakeFetcher,
}

impl Fixture {
    fn new() -> Fixture {
        let tmp = tempfile::tempdir().unwrap();
        let store = Store::open(tmp.path().join("root")).unwrap();
        let context = tmp.path().join("ctx");
        write_context(&context);
        Fixture {
            _tmp: tmp,
            store,
            context,
            fetcher: FakeFetcher::default(),
        }
    }
}

fn write_context(dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join("Dockerfile"), DOCKERFILE).unwrap();
    std::fs::write(dir.join("a.txt"), "a\n").unwrap();
    std::fs::write(dir.join("b.txt"), "b\n").unwrap();
}

/// What one build did: RUNs executed, and the steps that ran (not
/// cached), by their shown names minus the counter.
#[derive(Debug)]
struct Report {
    runs: usize,
    ran: Vec<String>,
    cached: usize,
    layers: Vec<String>,
}

fn build(f: &Fixture, context: &Path, args: &[(&str, &str)], no_cache: bool) -> Report {
    build_file(f, context, DOCKERFILE, args, no_cache)
}

fn build_file(
    f: &Fixture,
    context: &Path,
    dockerfile: &str,
    args: &[(&str, &str)],
    no_cache: bool,
) -> Report {
    let df = rdock_parser::parse(dockerfile.as_bytes()).unwrap();
    let parsed = rdock_parser::instructions::parse_dockerfile(&df).unwrap();
    let build_args = args
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let plan = plan(
        &parsed,
        &PlanOptions {
            build_args,
            ..PlanOptions::default()
        },
    )
    .unwrap();
    let exec = CountingExecutor::default();
    let bases = BTreeMap::new();
    let opts = SolveOptions {
        context: context.to_path_buf(),
        ignore: None,
        bases: &bases,
        source_date_epoch: Some(0),
        created: "1970-01-01T00:00:00Z".into(),
        compression: Default::default(),
        source: dockerfile.as_bytes(),
        executor: &exec,
        no_cache,
        jobs: 0,
        mounts: &crate::MountSources::default(),
        fetcher: &f.fetcher,
    };
    let lease = f.store.lease().unwrap();
    let mut events = Vec::new();
    let built = solve(&f.store, &plan, &opts, &lease, &mut |e| events.push(e)).unwrap();
    let mut names = BTreeMap::new();
    let mut cached = Vec::new();
    for e in events {
        match e {
            Event::Started { id, name } => {
                let name = name
                    .split_once("] ")
                    .map_or(name.clone(), |(_, n)| n.into());
                names.insert(id, name);
            }
            Event::Cached { id } => cached.push(id),
            _ => {}
        }
    }
    let ran = names
        .iter()
        .filter(|(id, n)| !cached.contains(id) && !n.starts_with("FROM"))
        .map(|(_, n)| n.clone())
        .collect();
    Report {
        runs: exec.runs.load(Ordering::SeqCst),
        ran,
        cached: cached.len(),
        layers: built
            .layers
            .iter()
            .map(|l| l.digest().to_string())
            .collect(),
    }
}

#[test]
fn identical_rebuild_runs_nothing_and_gives_the_same_layers() {
    let f = Fixture::new();
    let first = build(&f, &f.context, &[], false);
    assert_eq!(first.runs, 2);
    assert_eq!(first.ran.len(), 4);
    let second = build(&f, &f.context, &[], false);
    assert_eq!((second.runs, second.cached), (0, 4), "{second:?}");
    assert!(second.ran.is_empty());
    assert_eq!(first.layers, second.layers);
}

#[test]
fn an_mtime_only_change_is_a_hit() {
    let f = Fixture::new();
    build(&f, &f.context, &[], false);
    let file = std::fs::File::options()
        .write(true)
        .open(f.context.join("a.txt"))
        .unwrap();
    file.set_modified(SystemTime::now() + Duration::from_secs(3600))
        .unwrap();
    let again = build(&f, &f.context, &[], false);
    assert_eq!((again.runs, again.cached), (0, 4), "{again:?}");
}

#[test]
fn a_content_change_reruns_that_copy_and_later_steps_only() {
    let f = Fixture::new();
    build(&f, &f.context, &[], false);
    std::fs::write(f.context.join("b.txt"), "changed\n").unwrap();
    let again = build(&f, &f.context, &[], false);
    assert_eq!(again.ran, ["COPY b.txt /b.txt", "RUN two"]);
    assert_eq!(again.runs, 1);
}

#[test]
fn build_args_rerun_the_runs_that_see_them() {
    let f = Fixture::new();
    build(&f, &f.context, &[], false);
    let used = build(&f, &f.context, &[("USED", "1")], false);
    assert_eq!(used.ran, ["RUN two"]);
    let unused = build(&f, &f.context, &[("USED", "1"), ("OTHER", "x")], false);
    assert!(unused.ran.is_empty(), "{unused:?}");
    assert_eq!(unused.runs, 0);
}

#[test]
fn no_cache_runs_everything() {
    let f = Fixture::new();
    build(&f, &f.context, &[], false);
    let all = build(&f, &f.context, &[], true);
    assert_eq!((all.runs, all.cached, all.ran.len()), (2, 0, 4));
}

#[test]
fn keys_do_not_depend_on_where_the_context_is() {
    let f = Fixture::new();
    let first = build(&f, &f.context, &[], false);
    let elsewhere = f.context.with_file_name("moved").join("deeper");
    write_context(&elsewhere);
    let moved = build(&f, &elsewhere, &[], false);
    assert_eq!((moved.runs, moved.cached), (0, 4), "{moved:?}");
    assert_eq!(first.layers, moved.layers);
}

#[test]
fn copy_from_a_stage_follows_that_stage_key() {
    let f = Fixture::new();
    let dockerfile = "FROM scratch AS a
COPY a.txt /a.txt
FROM scratch
COPY --from=a /a.txt /x
WORKDIR /w
RUN three
";
    let first = build_file(&f, &f.context, dockerfile, &[], false);
    assert_eq!((first.runs, first.ran.len()), (1, 4));
    std::fs::write(f.context.join("b.txt"), "not copied\n").unwrap();
    let unrelated = build_file(&f, &f.context, dockerfile, &[], false);
    assert_eq!((unrelated.runs, unrelated.cached), (0, 4), "{unrelated:?}");
    std::fs::write(f.context.join("a.txt"), "changed\n").unwrap();
    let changed = build_file(&f, &f.context, dockerfile, &[], false);
    assert_eq!(
        changed.ran,
        [
            "COPY a.txt /a.txt",
            "COPY --from=a /a.txt /x",
            "WORKDIR /w",
            "RUN three"
        ]
    );
}

#[test]
fn copy_keys_cover_excludes_heredocs_and_parents() {
    let f = Fixture::new();
    let excluding = "FROM scratch\nCOPY --exclude=b.txt . /ctx/\n";
    let first = build_file(&f, &f.context, excluding, &[], false);
    assert_eq!(first.ran.len(), 1);
    // A change in an excluded file is a hit; other patterns are a miss.
    std::fs::write(f.context.join("b.txt"), "changed\n").unwrap();
    let hit = build_file(&f, &f.context, excluding, &[], false);
    assert_eq!(hit.cached, 1, "{hit:?}");
    let other = "FROM scratch\nCOPY --exclude=a.txt . /ctx/\n";
    assert_eq!(build_file(&f, &f.context, other, &[], false).cached, 0);

    let doc = |body: &str| format!("FROM scratch\nCOPY <<EOF /doc\n{body}\nEOF\n");
    build_file(&f, &f.context, &doc("one"), &[], false);
    assert_eq!(
        build_file(&f, &f.context, &doc("one"), &[], false).cached,
        1
    );
    assert_eq!(
        build_file(&f, &f.context, &doc("two"), &[], false).cached,
        0
    );

    let plain = "FROM scratch\nCOPY a.txt /d/\n";
    let parents = "FROM scratch\nCOPY --parents a.txt /d/\n";
    build_file(&f, &f.context, plain, &[], false);
    let p = build_file(&f, &f.context, parents, &[], false);
    assert_eq!(p.cached, 0, "--parents shares the plain COPY's key");
}

#[test]
fn add_urls_are_keyed_by_content_and_revalidated_with_their_etag() {
    let f = Fixture::new();
    let url = "http://fake.invalid/dir/a.txt";
    let df = format!("FROM scratch\nADD {url} /a.txt\nRUN one\n");
    let page = |body: &str, etag: &str| Page {
        body: body.as_bytes().to_vec(),
        etag: Some(etag.to_string()),
        last_modified: Some(1_000_000),
    };
    f.fetcher.serve(url, page("v1", "e1"));
    let first = build_file(&f, &f.context, &df, &[], false);
    assert_eq!((first.runs, f.fetcher.bodies()), (1, 1));
    // Same ETag: a 304, no body, both steps cached.
    let second = build_file(&f, &f.context, &df, &[], false);
    assert_eq!((second.runs, second.cached), (0, 2), "{second:?}");
    assert_eq!(f.fetcher.bodies(), 1);
    assert_eq!(first.layers, second.layers);
    // New content: the ADD and what follows run again.
    f.fetcher.serve(url, page("v2", "e2"));
    let third = build_file(&f, &f.context, &df, &[], false);
    assert_eq!(
        third.ran,
        [format!("ADD {url} /a.txt"), "RUN one".to_string()]
    );
    assert_ne!(third.layers, first.layers);
    // The same content under another ETag is still a hit.
    f.fetcher.serve(url, page("v2", "e3"));
    let fourth = build_file(&f, &f.context, &df, &[], false);
    assert_eq!(fourth.runs, 0, "{fourth:?}");
}

#[test]
fn add_with_a_checksum_is_cached_without_a_download() {
    let f = Fixture::new();
    let url = "http://fake.invalid/b.bin";
    f.fetcher.serve(
        url,
        Page {
            body: b"pinned".to_vec(),
            ..Page::default()
        },
    );
    let sum = rdock_cache::Digest::sha256(b"pinned");
    let df = format!("FROM scratch\nADD --checksum={sum} {url} /b\n");
    build_file(&f, &f.context, &df, &[], false);
    assert_eq!(f.fetcher.bodies(), 1);
    let again = build_file(&f, &f.context, &df, &[], false);
    assert_eq!(again.cached, 1, "{again:?}");
    assert_eq!(f.fetcher.bodies(), 1, "a hit downloads nothing");
}
