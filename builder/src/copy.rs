//! COPY and ADD of local files: [`copy_into`] writes the sources (from the
//! build context or another stage's [`Layers`]) into a fresh upper dir,
//! with BuildKit's path rules: a file to `dir/` keeps its name, a directory
//! copies its contents, wildcards match names in the last path element,
//! several sources need a directory destination. Missing parent
//! directories of the destination take the metadata they have in the
//! stage's file system, or `0755` and the `--chown` owner when new.
//! Sources are chosen by [`crate::copy_select`]; heredoc
//! sources ([`Inline`]) become `0644` files, `--parents` sources come from
//! [`crate::copy_parents`] and ADD unpacks archives ([`crate::archive`]).

use std::collections::HashMap;
use std::fs::Metadata;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use rdock_parser::dockerignore::PatternMatcher;
use rdock_parser::instructions::Chmod;
use rustix::fs::{self as rfs, AtFlags, FileType, Mode, Timespec, Timestamps};

use crate::archive::Kind;
use crate::error::{Error, Result};
use crate::fsview::{clean, Layers};
use crate::untar::Untar;

pub(crate) use crate::copy_select::{has_glob, left_out, select, Source};

/// One COPY, expanded.
#[derive(Debug)]
pub(crate) struct CopyRequest<'a> {
    pub step: &'a str,
    /// Where the files come from.
    pub from: &'a Layers,
    /// The build context's ignore rules, when copying from the context.
    pub ignore: Option<&'a PatternMatcher>,
    /// Source paths as written (expanded), relative to the source root.
    pub sources: &'a [String],
    /// Absolute destination (WORKDIR applied); a trailing `/` kept.
    pub dest: &'a str,
    /// `--chown` as numeric ids; `None` keeps the owner (context: root).
    pub owner: Option<(u32, u32)>,
    /// Copying from the build context: files become root's unless `owner`.
    pub context: bool,
    pub chmod: Option<&'a Chmod>,
    /// The stage's file system, for destination parents and existing dirs.
    pub target: &'a Layers,
    /// `--exclude` patterns, matched relative to each source.
    pub exclude: Option<&'a PatternMatcher>,
    /// Heredoc sources: files written with mode `0644`.
    pub inline: &'a [Inline],
    /// `--parents`: sources keep their path below the pivot.
    pub parents: bool,
    /// ADD: local tar archives are unpacked into the destination.
    pub unpack: bool,
}

impl CopyRequest<'_> {
    /// Owner and mode of the directories a copy creates: an octal
    /// `--chmod` applies to them too, as in current BuildKit (fsutil's copy
    /// since 2025); a symbolic one leaves them `0755`, as there.
    pub(crate) fn new_dirs(&self) -> (Option<(u32, u32)>, u32) {
        let mode = match self.chmod {
            Some(Chmod::Octal(bits, _)) => *bits,
            _ => 0o755,
        };
        (self.owner, mode & 0o7777)
    }
}

/// A heredoc source, its variables expanded: a file name and its body.
#[derive(Debug, Clone)]
pub(crate) struct Inline {
    pub name: String,
    pub data: String,
}

pub(crate) fn io_err(
    step: &str,
    action: &'static str,
    path: &Path,
) -> impl FnOnce(std::io::Error) -> Error {
    let (step, path) = (step.to_string(), path.to_path_buf());
    move |source| Error::Io {
        step,
        action,
        path,
        source,
    }
}

/// Copies the request's sources into `upper`, one after the other as
/// BuildKit's copy actions: each lands in the destination when it is (by
/// then) a directory or written with a trailing `/`, else becomes it, so
/// several files to a path without `/` leave the last one there.
pub(crate) fn copy_into(req: &CopyRequest<'_>, upper: &Path) -> Result<()> {
    let found = select(req)?;
    // Symlinks in the stage's file system are followed, as BuildKit does.
    let dest_rel = req
        .target
        .resolve_dest(&clean(req.dest))
        .ok_or_else(|| Error::SymlinkLoop {
            step: req.step.to_string(),
            path: req.dest.to_string(),
        })?;
    let slash =
        req.parents || req.dest.ends_with('/') || req.dest.ends_with("/.") || req.dest == ".";
    let is_dir_now = || existing_is_dir(req, upper, &dest_rel) == Some(true);
    if req.parents && crate::copy_parents::makes_dest(req) {
        make_dirs(req.step, req.target, req.new_dirs(), upper, &dest_rel, true)?;
    }
    for Source {
        name,
        rel,
        real,
        meta,
        dest,
    } in &found
    {
        let archive = req.unpack
            && dest.is_none()
            && meta.is_file()
            && crate::archive::detect(req.step, real)? == Kind::Archive;
        if slash && !archive {
            make_dirs(req.step, req.target, req.new_dirs(), upper, &dest_rel, true)?;
        }
        if let Some(below) = dest {
            let target = dest_rel.join(below);
            crate::copy_parents::source_parents(req, rel, below, upper, &dest_rel)?;
            let apply = !below.as_os_str().is_empty();
            let keep = rel.iter().count().saturating_sub(below.iter().count());
            let base = rel.iter().take(keep);
            let base: PathBuf = base.collect();
            Writer::new(req, upper).entry(&base, rel, real, meta, &target, apply)?;
            continue;
        }
        if archive {
            // 0755 whatever --chmod says: BuildKit's unpack makes it.
            let dirs = (req.owner, 0o755);
            make_dirs(req.step, req.target, dirs, upper, &dest_rel, true)?;
            let into = Untar {
                step: req.step,
                stage: req.target,
                upper,
                root: &dest_rel,
                owner: req.owner,
            };
            crate::archive::unpack(real, &into)?;
            continue;
        }
        let target = if meta.is_dir() || !is_dir_now() {
            dest_rel.clone()
        } else {
            dest_rel.join(name)
        };
        // Copying into an existing directory keeps its metadata.
        let existing = match meta.is_dir() {
            true => req.target.lookup(&target).filter(|(_, m)| m.is_dir()),
            false => None,
        };
        make_dirs(
            req.step,
            req.target,
            req.new_dirs(),
            upper,
            &target,
            meta.is_dir(),
        )?;
        // A directory's contents go into a target made above, which keeps
        // the metadata it was made with (as BuildKit's copier does).
        Writer::new(req, upper).entry(rel, rel, real, meta, &target, !meta.is_dir())?;
        if let Some((_, m)) = existing {
            set_meta(
                req.step,
                &upper.join(&target),
                &m,
                m.uid(),
                m.gid(),
                m.mode(),
            )?;
        }
    }
    for doc in req.inline {
        if slash {
            make_dirs(req.step, req.target, req.new_dirs(), upper, &dest_rel, true)?;
        }
        let target = match is_dir_now() {
            true => dest_rel.join(&doc.name),
            false => dest_rel.clone(),
        };
        write_inline(req, upper, &target, doc)?;
    }
    Ok(())
}

/// Writes a heredoc source at `target`: mode `0644` (or `--chmod`), owned
/// by root or the `--chown` owner, as BuildKit's inline document.
fn write_inline(req: &CopyRequest<'_>, upper: &Path, target: &Path, doc: &Inline) -> Result<()> {
    let step = req.step;
    make_dirs(step, req.target, req.new_dirs(), upper, target, false)?;
    let dst = upper.join(target);
    if dst.is_dir() {
        return Err(Error::Unsupported {
            step: step.to_string(),
            what: format!("replacing the directory {} with a file", target.display()),
        });
    }
    let _ = std::fs::remove_file(&dst);
    std::fs::write(&dst, &doc.data).map_err(io_err(step, "writing", &dst))?;
    let mode = req
        .chmod
        .and_then(|c| c.apply(0o644, false))
        .unwrap_or(0o644);
    let (uid, gid) = req.owner.unwrap_or((0, 0));
    std::os::unix::fs::lchown(&dst, Some(uid), Some(gid)).map_err(io_err(step, "chown", &dst))?;
    std::fs::set_permissions(&dst, std::fs::Permissions::from_mode(mode & 0o7777))
        .map_err(io_err(step, "chmod", &dst))?;
    Ok(())
}

/// Creates the missing parents of `target` (and `target` itself when
/// `with_last`) in `upper`: with the metadata they have in the stage's file
/// system `view`, or `mode` owned by `owner` (root by default) when new.
pub(crate) fn make_dirs(
    step: &str,
    view: &Layers,
    (owner, mode): (Option<(u32, u32)>, u32),
    upper: &Path,
    target: &Path,
    with_last: bool,
) -> Result<()> {
    let mut rel = PathBuf::new();
    let parts: Vec<_> = target.components().collect();
    let n = if with_last {
        parts.len()
    } else {
        parts.len().saturating_sub(1)
    };
    for part in &parts[..n] {
        rel.push(part);
        let path = upper.join(&rel);
        if path.exists() {
            continue;
        }
        let below = view.lookup(&rel);
        if below.as_ref().is_some_and(|(_, m)| !m.is_dir()) {
            return Err(Error::CopyConflict {
                step: step.to_string(),
                path: Path::new("/").join(&rel),
                dir: true,
            });
        }
        std::fs::create_dir(&path).map_err(io_err(step, "creating", &path))?;
        match below {
            Some((_, m)) => set_meta(step, &path, &m, m.uid(), m.gid(), m.mode())?,
            None => {
                let (uid, gid) = owner.unwrap_or((0, 0));
                std::os::unix::fs::lchown(&path, Some(uid), Some(gid))
                    .map_err(io_err(step, "chown", &path))?;
                std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode))
                    .map_err(io_err(step, "chmod", &path))?;
            }
        }
    }
    Ok(())
}

pub(crate) fn set_meta(
    step: &str,
    path: &Path,
    m: &Metadata,
    uid: u32,
    gid: u32,
    mode: u32,
) -> Result<()> {
    std::os::unix::fs::lchown(path, Some(uid), Some(gid)).map_err(io_err(step, "chown", path))?;
    if !m.file_type().is_symlink() {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode & 0o7777))
            .map_err(io_err(step, "chmod", path))?;
        // By path, not through an open file: opening a FIFO would block.
        let mtime = Timespec {
            tv_sec: m.mtime(),
            tv_nsec: m.mtime_nsec() as _,
        };
        let times = Timestamps {
            last_access: mtime,
            last_modification: mtime,
        };
        rfs::utimensat(rfs::CWD, path, &times, AtFlags::SYMLINK_NOFOLLOW)
            .map_err(|e| io_err(step, "setting times of", path)(e.into()))?;
    }
    Ok(())
}

/// Devices and FIFOs are made anew (mknod); a socket becomes an empty
/// regular file, as BuildKit's copier and context transfer leave it.
fn special(step: &str, dst: &Path, m: &Metadata) -> Result<()> {
    let ft = m.file_type();
    let kind = if ft.is_fifo() {
        FileType::Fifo
    } else if ft.is_char_device() {
        FileType::CharacterDevice
    } else if ft.is_block_device() {
        FileType::BlockDevice
    } else {
        std::fs::File::create(dst).map_err(io_err(step, "creating", dst))?;
        return Ok(());
    };
    rfs::mknodat(rfs::CWD, dst, kind, Mode::from_raw_mode(0o600), m.rdev())
        .map_err(|e| io_err(step, "creating", dst)(e.into()))
}

/// What is at `target` for a copy to meet: this step's upper dir first,
/// then the stage's file system. `Some(true)` for a directory.
fn existing_is_dir(req: &CopyRequest<'_>, upper: &Path, target: &Path) -> Option<bool> {
    match std::fs::symlink_metadata(upper.join(target)) {
        Ok(m) => Some(m.is_dir()),
        Err(_) => req.target.lookup(target).map(|(_, m)| m.is_dir()),
    }
}

/// Writes one source's tree into `upper`. Files that are hard links of
/// each other in the source stay linked, as BuildKit's copier keeps them.
struct Writer<'r, 'a> {
    req: &'r CopyRequest<'a>,
    upper: &'r Path,
    /// (device, inode) of a multiply linked source file to its first copy.
    links: HashMap<(u64, u64), PathBuf>,
}

impl<'r, 'a> Writer<'r, 'a> {
    fn new(req: &'r CopyRequest<'a>, upper: &'r Path) -> Self {
        Writer {
            req,
            upper,
            links: HashMap::new(),
        }
    }

    /// Copies one source entry (recursively for a directory) to `target`
    /// (relative to `upper`). As BuildKit's copier: a directory never
    /// replaces a file or symlink of the destination, a file never replaces
    /// a directory; a file replaces a symlink (it is not followed).
    fn entry(
        &mut self,
        base: &Path,
        rel: &Path,
        real: &Path,
        m: &Metadata,
        target: &Path,
        apply_meta: bool,
    ) -> Result<()> {
        let req = self.req;
        let step = req.step;
        let dst = self.upper.join(target);
        let (uid, gid) = match (req.owner, req.context) {
            (Some(o), _) => o,
            (None, true) => (0, 0),
            (None, false) => (m.uid(), m.gid()),
        };
        let mode = match req.chmod {
            Some(c) => c.apply(m.mode() & 0o7777, m.is_dir()).unwrap_or(m.mode()),
            None => m.mode(),
        };
        let ft = m.file_type();
        let existing = existing_is_dir(req, self.upper, target);
        let conflict = |dir: bool| Error::CopyConflict {
            step: step.to_string(),
            path: Path::new("/").join(target),
            dir,
        };
        if ft.is_dir() {
            match existing {
                Some(false) => return Err(conflict(true)),
                Some(true) if dst.is_dir() => {}
                _ => std::fs::create_dir(&dst).map_err(io_err(step, "creating", &dst))?,
            }
            let entries = req
                .from
                .read_dir(rel)
                .map_err(io_err(step, "reading", real))?;
            for (name, child) in entries {
                let child_rel = rel.join(&name);
                if left_out(req, base, &child_rel, &child)? {
                    continue;
                }
                let cm =
                    std::fs::symlink_metadata(&child).map_err(io_err(step, "reading", &child))?;
                self.entry(base, &child_rel, &child, &cm, &target.join(&name), true)?;
            }
        } else if existing == Some(true) {
            return Err(conflict(false));
        } else if ft.is_symlink() {
            let link = std::fs::read_link(real).map_err(io_err(step, "reading", real))?;
            let _ = std::fs::remove_file(&dst);
            std::os::unix::fs::symlink(&link, &dst).map_err(io_err(step, "creating", &dst))?;
        } else if ft.is_file() {
            let _ = std::fs::remove_file(&dst);
            let first = match m.nlink() > 1 {
                true => self.links.get(&(m.dev(), m.ino())).cloned(),
                false => None,
            };
            match first {
                Some(first) => {
                    return std::fs::hard_link(&first, &dst).map_err(io_err(step, "linking", &dst))
                }
                None => {
                    std::fs::copy(real, &dst).map_err(io_err(step, "copying", real))?;
                    if m.nlink() > 1 {
                        self.links.insert((m.dev(), m.ino()), dst.clone());
                    }
                }
            }
        } else {
            let _ = std::fs::remove_file(&dst);
            special(step, &dst, m)?;
        }
        if apply_meta {
            set_meta(step, &dst, m, uid, gid, mode)?;
        }
        Ok(())
    }
}
