//! `RUN --mount` with a recording [`Executor`]: the runner mounts and
//! environment each kind turns into, the files a secret mount sees while
//! the command runs, and which parts of a mount are in the RUN's key.

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::sync::Mutex;

use rdock_cache::Store;
use rdock_runner::{ExitStatus, Mount, Outcome, RunSpec};

use crate::{plan, solve, Error, Event, Executor, MountSources, PlanOptions, SolveOptions};

/// One run as the fake saw it: the spec, and the bytes and mode of every
/// file bind-mounted (read while it "ran": secrets are gone afterwards).
#[derive(Debug, Clone)]
struct Seen {
    spec: RunSpec,
    files: BTreeMap<String, (Vec<u8>, u32)>,
}

#[derive(Debug, Default)]
struct Recorder {
    seen: Mutex<Vec<Seen>>,
}

impl Executor for Recorder {
    fn run(&self, spec: &RunSpec) -> rdock_runner::Result<Outcome> {
        let mut files = BTreeMap::new();
        for m in &spec.mounts {
            if let Mount::Bind { source, target, .. } = m {
                if source.is_file() {
                    let mode = source.metadata().unwrap().permissions().mode() & 0o7777;
                    files.insert(target.clone(), (std::fs::read(source).unwrap(), mode));
                }
            }
        }
        self.seen.lock().unwrap().push(Seen {
            spec: spec.clone(),
            files,
        });
        Ok(Outcome {
            status: ExitStatus::Exited(0),
            timed_out: false,
            stdout: Vec::new(),
            stderr: Vec::new(),
        })
    }
}

struct Fixture {
    _tmp: tempfile::TempDir,
    store: Store,
    context: PathBuf,
}

impl Fixture {
    fn new() -> Fixture {
        let tmp = tempfile::tempdir().unwrap();
        let store = Store::open(tmp.path().join("root")).unwrap();
        let context = tmp.path().join("ctx");
        std::fs::create_dir_all(context.join("src")).unwrap();
        std::fs::write(context.join("src/a.txt"), "a\n").unwrap();
        Fixture {
            _tmp: tmp,
            store,
            context,
        }
    }

    /// Builds `dockerfile`; the runs seen and how many steps were cached.
    fn build(&self, dockerfile: &str, mounts: &MountSources) -> crate::Result<(Vec<Seen>, usize)> {
        let df = rdock_parser::parse(dockerfile.as_bytes()).unwrap();
        let parsed = rdock_parser::instructions::parse_dockerfile(&df).unwrap();
        let plan = plan(&parsed, &PlanOptions::default()).unwrap();
        let exec = Recorder::default();
        let bases = BTreeMap::new();
        let opts = SolveOptions {
            context: self.context.clone(),
            ignore: None,
            bases: &bases,
            source_date_epoch: Some(0),
            created: "1970-01-01T00:00:00Z".into(),
            compression: Default::default(),
            source: dockerfile.as_bytes(),
            executor: &exec,
            no_cache: false,
            jobs: 1,
            mounts,
            fetcher: &crate::fetch::fake::FakeFetcher::default(),
        };
        let lease = self.store.lease().unwrap();
        let mut cached = 0;
        solve(&self.store, &plan, &opts, &lease, &mut |e| {
            cached += usize::from(matches!(e, Event::Cached { .. }));
        })?;
        let seen = exec.seen.into_inner().unwrap();
        Ok((seen, cached))
    }
}

fn secrets(value: &str) -> MountSources {
    let mut m = MountSources::default();
    m.add_secret("tok", value.as_bytes().to_vec());
    m
}

#[test]
fn secrets_are_files_or_env_and_never_in_the_key() {
    let f = Fixture::new();
    let df = "FROM scratch\nWORKDIR /w\n\
              RUN --mount=type=secret,id=tok --mount=type=secret,id=tok,env=T,target=rel,mode=0440 x\n";
    let (seen, _) = f.build(df, &secrets("v1")).unwrap();
    let run = &seen[0];
    assert_eq!(run.files["/run/secrets/tok"], (b"v1".to_vec(), 0o400));
    assert_eq!(run.files["/w/rel"], (b"v1".to_vec(), 0o440));
    assert!(run.spec.env.contains(&"T=v1".to_string()));
    assert!(run
        .spec
        .mounts
        .iter()
        .all(|m| matches!(m, Mount::Bind { readonly: true, .. })));
    // The secret files are gone after the run.
    let Mount::Bind { source, .. } = &run.spec.mounts[0] else {
        unreachable!()
    };
    assert!(!source.exists());
    // Another value is a cache hit.
    let (seen, cached) = f.build(df, &secrets("v2")).unwrap();
    assert_eq!((seen.len(), cached), (0, 2));
}

#[test]
fn missing_secrets_and_agents() {
    let f = Fixture::new();
    let none = MountSources::default();
    let (seen, _) = f
        .build(
            "FROM scratch\nRUN --mount=type=secret,id=tok --mount=type=ssh x\n",
            &none,
        )
        .unwrap();
    assert!(seen[0].spec.mounts.is_empty());
    let err = f
        .build(
            "FROM scratch\nRUN --mount=type=secret,id=tok,required y\n",
            &none,
        )
        .unwrap_err();
    let err = err.cause();
    assert!(
        matches!(err, Error::SecretNotFound { id } if id == "tok"),
        "{err}"
    );
    assert_eq!(err.to_string(), "secret tok: not found");
    let err = f
        .build("FROM scratch\nRUN --mount=type=ssh,required z\n", &none)
        .unwrap_err();
    assert!(matches!(err, Error::Instruction { line: 2, .. }), "{err}");
    assert_eq!(
        err.cause().to_string(),
        "no SSH key \"default\" forwarded from the client"
    );
    let mut agent = MountSources::default();
    agent.add_ssh("default", "/tmp/agent.sock".into());
    let (seen, _) = f
        .build("FROM scratch\nRUN --mount=type=ssh z\n", &agent)
        .unwrap();
    assert!(seen[0]
        .spec
        .env
        .contains(&"SSH_AUTH_SOCK=/run/buildkit/ssh_agent.0".to_string()));
    assert!(matches!(&seen[0].spec.mounts[0],
        Mount::Bind { source, target, .. }
            if source == &PathBuf::from("/tmp/agent.sock") && target == "/run/buildkit/ssh_agent.0"));
}

#[test]
fn bind_cache_and_tmpfs_mounts() {
    let f = Fixture::new();
    let df = "FROM scratch\n\
              RUN --mount=target=/ctx,source=src --mount=type=cache,target=/c,mode=0700 \
              --mount=type=tmpfs,target=/t,size=1k x\n";
    let (seen, _) = f.build(df, &MountSources::default()).unwrap();
    let mounts = &seen[0].spec.mounts;
    assert!(matches!(&mounts[0],
        Mount::Bind { source, readonly: true, .. } if source == &f.context.join("src")));
    let Mount::Bind {
        source: cache,
        readonly: false,
        ..
    } = &mounts[1]
    else {
        panic!("{mounts:?}")
    };
    assert!(cache.starts_with(f.store.root().join("cache-mounts")));
    let mode = cache.metadata().unwrap().permissions().mode() & 0o7777;
    assert_eq!(mode, 0o700);
    assert!(matches!(&mounts[2], Mount::Tmpfs { target, size: Some(1024) } if target == "/t"));
    // rw binds get a throwaway copy.
    let (seen, _) = f
        .build(
            "FROM scratch\nRUN --mount=target=/ctx,rw x\n",
            &MountSources::default(),
        )
        .unwrap();
    let Mount::Bind {
        source,
        readonly: false,
        ..
    } = &seen[0].spec.mounts[0]
    else {
        panic!()
    };
    assert_ne!(source, &f.context);
}

#[test]
fn the_key_follows_mount_definitions_and_context_content() {
    let f = Fixture::new();
    let none = MountSources::default();
    let run = |df: &str| f.build(df, &none).unwrap().0.len();
    assert_eq!(run("FROM scratch\nRUN --mount=type=cache,target=/c x\n"), 1);
    assert_eq!(run("FROM scratch\nRUN --mount=type=cache,target=/c x\n"), 0);
    assert_eq!(
        run("FROM scratch\nRUN --mount=type=cache,target=/c,id=b x\n"),
        1
    );
    assert_eq!(run("FROM scratch\nRUN --mount=type=tmpfs,target=/c x\n"), 1);
    assert_eq!(run("FROM scratch\nRUN --mount=target=/s,source=src x\n"), 1);
    assert_eq!(run("FROM scratch\nRUN --mount=target=/s,source=src x\n"), 0);
    std::fs::write(f.context.join("src/a.txt"), "changed\n").unwrap();
    assert_eq!(run("FROM scratch\nRUN --mount=target=/s,source=src x\n"), 1);
    // Without mounts, the key is what it was.
    assert_eq!(run("FROM scratch\nRUN x\n"), 1);
    assert_eq!(run("FROM scratch\nRUN x\n"), 0);
}

#[test]
fn a_private_cache_in_use_gives_a_fresh_folder() {
    let f = Fixture::new();
    let df = "FROM scratch\nRUN --mount=type=cache,target=/c,sharing=private x\n";
    let base = f.store.root().join("cache-mounts");
    std::fs::create_dir_all(&base).unwrap();
    let mut h = rdock_cache::Hasher::new(rdock_cache::Algorithm::Sha256);
    h.update(b"/c");
    let hex = h.finish().hex().to_string();
    let held = std::fs::File::create(base.join(format!("{hex}.lock"))).unwrap();
    rustix::fs::flock(&held, rustix::fs::FlockOperation::LockExclusive).unwrap();
    let (seen, _) = f.build(df, &MountSources::default()).unwrap();
    let Mount::Bind { source, .. } = &seen[0].spec.mounts[0] else {
        panic!()
    };
    assert_ne!(source, &base.join(&hex));
    assert!(!source.exists(), "the private copy is removed");
    drop(held);
    let df = "FROM scratch\nRUN --mount=type=cache,target=/c,sharing=private y\n";
    let (seen, _) = f.build(df, &MountSources::default()).unwrap();
    assert!(
        matches!(&seen[0].spec.mounts[0], Mount::Bind { source, .. } if source == &base.join(&hex))
    );
}
