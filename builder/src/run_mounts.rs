//! `RUN --mount`: [`plan`] expands each flag and applies BuildKit's
//! defaults (a relative target is under WORKDIR; a cache's id is its
//! target; a secret's id is its source or the target's name and its
//! target `/run/secrets/<id>`; SSH is `default` at
//! `/run/buildkit/ssh_agent.N`), [`write_key`] adds the mounts' definitions
//! to the RUN's cache key (a context bind by the content it mounts, a
//! `from=` by that stage's key; never a secret's bytes or a cache's
//! contents), and [`prepare`] turns them into runner mounts in the step's
//! scratch folder, which is removed before the upper dir is packed.
//!
//! Kinds: `bind` (the context or a stage, read-only, or a throwaway copy
//! with `rw`), `cache` (a folder under `<store>/cache-mounts/` kept across
//! builds, `sharing=shared|locked|private`), `tmpfs`, `secret` (a file
//! or an environment variable from [`MountSources`]) and `ssh` (the agent
//! socket of `--ssh`).

use std::fs::File;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use rdock_cache::{Algorithm, Hasher};
use rdock_parser::go_quote;
use rdock_parser::instructions::{CacheSharing, Mount, MountType, Run};
use rdock_parser::shell::Lexer;
use rustix::fs::{flock, FlockOperation};

use crate::contenthash::content_digest;
use crate::copy::{copy_into, CopyRequest};
use crate::error::{Error, Result};
use crate::fsview::{clean, Layers};
use crate::key::KeyWriter;
use crate::solve::{lock, Solver, StageState};
use crate::steps::under_workdir;

const STEP: &str = "RUN";

/// One mount with its defaults applied.
#[derive(Debug, Clone)]
pub(crate) struct Planned {
    m: Mount,
    /// Absolute target; `None` for a secret given only as `env=`.
    target: Option<String>,
    /// Cache, secret or SSH id.
    id: String,
}

fn invalid(reason: String) -> Error {
    Error::InvalidFlag {
        step: STEP.into(),
        reason,
    }
}

fn io(action: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> Error {
    let path = path.to_path_buf();
    move |source| Error::Io {
        step: STEP.into(),
        action,
        path,
        source,
    }
}

/// The RUN's mounts, expanded with the stage's variables and defaulted.
pub(crate) fn plan(s: &Solver<'_>, state: &StageState, run: &Run) -> Result<Vec<Planned>> {
    let workdir = &state.config.workdir;
    let mut ssh_index = 0;
    let mut out = Vec::new();
    for rm in &run.mounts {
        let m = match &rm.mount {
            Some(m) => m.clone(),
            None => rm
                .resolve(|w| Lexer::new(s.plan.escape).process_word(w, state.scope()))
                .map_err(|e| invalid(e.to_string()))?,
        };
        let abs = |t: &str| format!("/{}", clean(&under_workdir(workdir, t)).display());
        let (target, id) = match m.kind {
            MountType::Bind | MountType::Cache | MountType::Tmpfs => {
                let target = m
                    .target
                    .as_deref()
                    .ok_or_else(|| invalid("mount target is required".into()))?;
                let id = m.id.clone().unwrap_or_else(|| target.to_string());
                (Some(abs(target)), id)
            }
            MountType::Secret => {
                let id = m.id.clone().or_else(|| m.source.clone()).or_else(|| {
                    m.target
                        .as_deref()
                        .map(|t| t.rsplit('/').next().unwrap_or(t).to_string())
                });
                let id = id.ok_or_else(|| invalid("secret mount needs an id".into()))?;
                let target = match (&m.target, &m.env) {
                    (Some(t), _) => Some(abs(t)),
                    (None, Some(_)) => None,
                    (None, None) => Some(format!("/run/secrets/{id}")),
                };
                (target, id)
            }
            MountType::Ssh => {
                let target = match &m.target {
                    Some(t) => abs(t),
                    None => format!("/run/buildkit/ssh_agent.{ssh_index}"),
                };
                ssh_index += 1;
                (
                    Some(target),
                    m.id.clone().unwrap_or_else(|| "default".into()),
                )
            }
        };
        out.push(Planned { m, target, id });
    }
    Ok(out)
}

fn context_request<'a>(
    s: &'a Solver<'_>,
    layers: &'a Layers,
    sources: &'a [String],
    empty: &'a Layers,
) -> CopyRequest<'a> {
    CopyRequest {
        step: STEP,
        from: layers,
        ignore: s.opts.ignore,
        sources,
        dest: "/",
        owner: None,
        context: true,
        chmod: None,
        target: empty,
        exclude: None,
        inline: &[],
        parents: false,
        unpack: false,
    }
}

fn source_of(m: &Mount) -> String {
    m.source.clone().unwrap_or_else(|| "/".into())
}

/// Adds the mounts' definitions to a RUN key.
pub(crate) fn write_key(s: &mut Solver<'_>, k: &mut KeyWriter, mounts: &[Planned]) -> Result<()> {
    for p in mounts {
        let m = &p.m;
        k.str("mount")
            .str(m.kind.as_str())
            .opt_str(p.target.as_deref())
            .str(&p.id)
            .opt_str(m.source.as_deref())
            .opt_str(m.from.as_deref())
            .u64(u64::from(m.read_only))
            .opt_str(m.sharing.map(|s| match s {
                CacheSharing::Shared => "shared",
                CacheSharing::Private => "private",
                CacheSharing::Locked => "locked",
            }))
            .u64(m.size_limit as u64)
            .u64(u64::from(m.required))
            .opt_str(m.env.as_deref());
        for n in [m.mode, m.uid, m.gid] {
            k.u64(n.map_or(u64::MAX, u64::from));
        }
        match (&m.kind, &m.from) {
            (MountType::Bind | MountType::Cache, Some(from)) => {
                let key = s.source_key(from)?;
                k.key(&key);
            }
            (MountType::Bind, None) => {
                let layers = Layers::new(vec![s.opts.context.clone()]);
                let sources = [source_of(m)];
                let empty = Layers::default();
                let req = context_request(s, &layers, &sources, &empty);
                let digest = content_digest(&req, &mut lock(&s.shared.index))?;
                k.digest(&digest);
            }
            _ => {}
        }
    }
    Ok(())
}

/// The mounts of one RUN, ready for the runner. Holds the cache locks
/// and removes private cache copies when dropped.
#[derive(Debug, Default)]
pub(crate) struct Prepared {
    pub mounts: Vec<rdock_runner::Mount>,
    pub env: Vec<String>,
    locks: Vec<File>,
    throwaway: Vec<PathBuf>,
}

impl Drop for Prepared {
    fn drop(&mut self) {
        for dir in &self.throwaway {
            // Best effort: a leftover private copy only takes space.
            let _ = std::fs::remove_dir_all(dir);
        }
        self.locks.clear();
    }
}

/// Copies `source` of `layers` into `dir`; returns the path to mount
/// (`dir`, or the file in it).
fn materialize(req: &CopyRequest<'_>, source: &str, dir: &Path) -> Result<PathBuf> {
    let rel = clean(source);
    let (_, _, meta) = req
        .from
        .resolve(&rel)
        .ok_or_else(|| Error::SourceNotFound {
            step: STEP.into(),
            source_path: format!("/{}", rel.display()),
        })?;
    std::fs::create_dir_all(dir).map_err(io("creating", dir))?;
    copy_into(req, dir)?;
    Ok(match (meta.is_dir(), rel.file_name()) {
        (false, Some(name)) => dir.join(name),
        _ => dir.to_path_buf(),
    })
}

fn bind(s: &mut Solver<'_>, m: &Mount, dir: &Path) -> Result<PathBuf> {
    let source = source_of(m);
    let empty = Layers::default();
    let sources = [source.clone()];
    let (layers, context) = match &m.from {
        Some(from) => (s.source_view(from)?, false),
        None => (Layers::new(vec![s.opts.context.clone()]), true),
    };
    if context && m.read_only && s.opts.ignore.is_none() {
        // The context as it is: nothing copied (with `.dockerignore`
        // rules, a copy without the ignored files, as BuildKit sends it).
        let rel = clean(&source);
        return match layers.resolve(&rel) {
            Some((_, real, _)) => Ok(real),
            None => Err(Error::SourceNotFound {
                step: STEP.into(),
                source_path: format!("/{}", rel.display()),
            }),
        };
    }
    let mut req = context_request(s, &layers, &sources, &empty);
    if !context {
        req.ignore = None;
        req.context = false;
    }
    materialize(&req, &source, dir)
}

fn hex_id(id: &str) -> String {
    let mut h = Hasher::new(Algorithm::Sha256);
    h.update(id.as_bytes());
    h.finish().hex().to_string()
}

/// The folder of a cache mount, made with the mount's mode and owner when
/// new (seeded from `from`), and the lock `sharing` asks for.
fn cache(s: &mut Solver<'_>, p: &Planned, out: &mut Prepared, n: usize) -> Result<PathBuf> {
    let m = &p.m;
    let base = s.store.root().join("cache-mounts");
    std::fs::create_dir_all(&base).map_err(io("creating", &base))?;
    let hex = hex_id(&p.id);
    let lock_path = base.join(format!("{hex}.lock"));
    let lock_file = File::create(&lock_path).map_err(io("creating", &lock_path))?;
    let mut dir = base.join(&hex);
    match m.sharing.unwrap_or(CacheSharing::Shared) {
        CacheSharing::Shared => {}
        CacheSharing::Locked => {
            flock(&lock_file, FlockOperation::LockExclusive)
                .map_err(|e| io("locking", &lock_path)(e.into()))?;
            out.locks.push(lock_file);
        }
        CacheSharing::Private => {
            if flock(&lock_file, FlockOperation::NonBlockingLockExclusive).is_ok() {
                out.locks.push(lock_file);
            } else {
                // In use: this RUN gets a fresh folder of its own.
                dir = base.join(format!("{hex}-private-{}-{n}", std::process::id()));
                let _ = std::fs::remove_dir_all(&dir);
                out.throwaway.push(dir.clone());
            }
        }
    }
    if !dir.exists() {
        let fresh = base.join(format!("{hex}-new-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&fresh);
        match &m.from {
            Some(_) => {
                bind(
                    s,
                    &Mount {
                        read_only: false,
                        ..m.clone()
                    },
                    &fresh,
                )?;
            }
            None => std::fs::create_dir(&fresh).map_err(io("creating", &fresh))?,
        }
        let mode = std::fs::Permissions::from_mode(m.mode.unwrap_or(0o755));
        std::fs::set_permissions(&fresh, mode).map_err(io("setting mode of", &fresh))?;
        std::os::unix::fs::chown(&fresh, Some(m.uid.unwrap_or(0)), Some(m.gid.unwrap_or(0)))
            .map_err(io("changing owner of", &fresh))?;
        if std::fs::rename(&fresh, &dir).is_err() {
            // Another build made it first: use theirs.
            let _ = std::fs::remove_dir_all(&fresh);
        }
    }
    Ok(dir)
}

/// A secret's bytes in a private file of the scratch folder.
fn secret_file(p: &Planned, value: &[u8], scratch: &Path, n: usize) -> Result<PathBuf> {
    let dir = scratch.join("secrets");
    std::fs::create_dir_all(&dir).map_err(io("creating", &dir))?;
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700))
        .map_err(io("setting mode of", &dir))?;
    let file = dir.join(n.to_string());
    std::fs::write(&file, value).map_err(io("writing", &file))?;
    let mode = std::fs::Permissions::from_mode(p.m.mode.unwrap_or(0o400));
    std::fs::set_permissions(&file, mode).map_err(io("setting mode of", &file))?;
    std::os::unix::fs::chown(
        &file,
        Some(p.m.uid.unwrap_or(0)),
        Some(p.m.gid.unwrap_or(0)),
    )
    .map_err(io("changing owner of", &file))?;
    Ok(file)
}

/// Turns the mounts into runner mounts, with `scratch` (removed with the
/// upper dir's other scratch folders) for copies and secret files.
pub(crate) fn prepare(s: &mut Solver<'_>, mounts: &[Planned], scratch: &Path) -> Result<Prepared> {
    let mut out = Prepared::default();
    // Gone with the mounts even when the RUN fails: it may hold secrets.
    out.throwaway.push(scratch.to_path_buf());
    for (n, p) in mounts.iter().enumerate() {
        let m = &p.m;
        let target = p.target.clone().unwrap_or_default();
        let mount = match m.kind {
            MountType::Bind => Some(rdock_runner::Mount::Bind {
                source: bind(s, m, &scratch.join(format!("bind-{n}")))?,
                target,
                readonly: m.read_only,
            }),
            MountType::Cache => Some(rdock_runner::Mount::Bind {
                source: cache(s, p, &mut out, n)?,
                target,
                readonly: m.read_only,
            }),
            MountType::Tmpfs => Some(rdock_runner::Mount::Tmpfs {
                target,
                size: u64::try_from(m.size_limit).ok().filter(|n| *n > 0),
            }),
            MountType::Secret => match s.opts.mounts.secret(&p.id) {
                None if m.required => return Err(Error::SecretNotFound { id: p.id.clone() }),
                None => None,
                Some(value) => {
                    if let Some(name) = &m.env {
                        out.env
                            .push(format!("{name}={}", String::from_utf8_lossy(value)));
                    }
                    match p.target {
                        Some(_) => Some(rdock_runner::Mount::Bind {
                            source: secret_file(p, value, scratch, n)?,
                            target,
                            readonly: true,
                        }),
                        None => None,
                    }
                }
            },
            MountType::Ssh => match s.opts.mounts.ssh(&p.id) {
                None if m.required => {
                    return Err(Error::SshNotForwarded {
                        id: go_quote(&p.id),
                    })
                }
                None => None,
                Some(socket) => {
                    if !out.env.iter().any(|e| e.starts_with("SSH_AUTH_SOCK=")) {
                        out.env.push(format!("SSH_AUTH_SOCK={target}"));
                    }
                    Some(rdock_runner::Mount::Bind {
                        source: socket.to_path_buf(),
                        target,
                        readonly: false,
                    })
                }
            },
        };
        out.mounts.extend(mount);
    }
    Ok(out)
}
