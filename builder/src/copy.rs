//! COPY and ADD of local files: [`copy_into`] writes the sources (from the
//! build context or another stage's [`Layers`]) into a fresh upper dir,
//! with BuildKit's path rules: a file to `dir/` keeps its name, a directory
//! copies its contents, wildcards match names in the last path element,
//! several sources need a directory destination. Missing parent
//! directories of the destination take the metadata they have in the
//! stage's file system, or `0755` and the `--chown` owner when new.
//! `--exclude` patterns ([`left_out`]) match below each source, heredoc
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

/// Glob match of one name (`*`, `?`, `[...]`), as Go's `filepath.Match`.
pub(crate) fn glob_match(pattern: &[u8], name: &[u8]) -> bool {
    match pattern.split_first() {
        None => name.is_empty(),
        Some((b'*', rest)) => (0..=name.len()).any(|i| glob_match(rest, &name[i..])),
        Some((b'?', rest)) => !name.is_empty() && glob_match(rest, &name[1..]),
        Some((b'[', rest)) => {
            let Some(end) = rest.iter().position(|&c| c == b']') else {
                return false;
            };
            let Some((&c, tail)) = name.split_first() else {
                return false;
            };
            let (negate, set) = match rest[..end].split_first() {
                Some((b'^' | b'!', s)) => (true, s),
                _ => (false, &rest[..end]),
            };
            let mut hit = false;
            let mut i = 0;
            while i < set.len() {
                if i + 2 < set.len() && set[i + 1] == b'-' {
                    hit |= set[i] <= c && c <= set[i + 2];
                    i += 3;
                } else {
                    hit |= set[i] == c;
                    i += 1;
                }
            }
            hit != negate && glob_match(&rest[end + 1..], tail)
        }
        Some((b'\\', rest)) if !rest.is_empty() => {
            name.first() == Some(&rest[0]) && glob_match(&rest[1..], &name[1..])
        }
        Some((&p, rest)) => name.first() == Some(&p) && glob_match(rest, &name[1..]),
    }
}

pub(crate) fn has_glob(s: &str) -> bool {
    s.contains(['*', '?', '['])
}

fn ignored(ignore: Option<&PatternMatcher>, rel: &Path) -> Result<bool> {
    match ignore {
        Some(m) if !rel.as_os_str().is_empty() => Ok(m.matches(&rel.to_string_lossy())?),
        _ => Ok(false),
    }
}

/// Whether a directory walk leaves out `child` (at `rel`): ignored, and
/// not a directory that a later `!` pattern may re-include files below.
pub(crate) fn skipped(ignore: Option<&PatternMatcher>, rel: &Path, child: &Path) -> Result<bool> {
    if !ignored(ignore, rel)? {
        return Ok(false);
    }
    let keep =
        ignore.is_some_and(|i| i.may_reinclude_below(&rel.to_string_lossy()) && child.is_dir());
    Ok(!keep)
}

/// Whether a walk below the source at `base` leaves out `child` (at
/// `rel`): ignored by `.dockerignore` or by an `--exclude` pattern.
pub(crate) fn left_out(
    req: &CopyRequest<'_>,
    base: &Path,
    rel: &Path,
    child: &Path,
) -> Result<bool> {
    if skipped(req.ignore, rel, child)? {
        return Ok(true);
    }
    let below = rel.strip_prefix(base).unwrap_or(rel);
    skipped(req.exclude, below, child)
}

/// One matched source: the name it was asked by, and the file it names
/// once symlinks in its path are followed (as BuildKit's copy does).
pub(crate) struct Source {
    pub name: std::ffi::OsString,
    pub rel: PathBuf,
    pub real: PathBuf,
    pub meta: Metadata,
    /// With `--parents`: the path below the destination directory.
    pub dest: Option<PathBuf>,
}

impl Source {
    /// Where `--exclude` patterns are relative to: the source itself, or
    /// with `--parents` the pivot.
    pub(crate) fn exclude_base(&self) -> PathBuf {
        let mut base = self.rel.clone();
        for _ in self.dest.iter().flat_map(|d| d.components()) {
            if !base.pop() {
                break;
            }
        }
        base
    }

    /// The source at `rel`, its symlinks followed; a dangling symlink is
    /// taken as it is.
    pub(crate) fn find(from: &Layers, rel: &Path) -> Option<Source> {
        let (rel_resolved, real, meta) = from.resolve(rel).or_else(|| {
            from.lookup(rel)
                .map(|(real, meta)| (rel.to_path_buf(), real, meta))
        })?;
        Some(Source {
            name: rel.file_name().unwrap_or_default().to_os_string(),
            rel: rel_resolved,
            real,
            meta,
            dest: None,
        })
    }
}

/// The sources a request selects, in order. A wildcard may stand in any
/// path element and matching nothing is no error (BuildKit allows empty
/// wildcards); a plain source must exist in what the context sends.
pub(crate) fn select(req: &CopyRequest<'_>) -> Result<Vec<Source>> {
    let mut found: Vec<Source> = Vec::new();
    for src in req.sources {
        if req.parents {
            found.extend(crate::copy_parents::select_parents(req, src)?);
            continue;
        }
        let rel = clean(src);
        let not_found = || Error::SourceNotFound {
            step: req.step.to_string(),
            source_path: format!("/{}", rel.display()),
        };
        let first_glob = rel.iter().position(|c| has_glob(&c.to_string_lossy()));
        if let Some(at) = first_glob {
            // The part before the wildcard follows symlinks, as BuildKit's
            // copy resolves it; matches are named below the resolved path.
            let written: PathBuf = rel.iter().take(at).collect();
            let base = match req.from.resolve(&written) {
                Some((resolved, _, _)) => resolved,
                None => written,
            };
            let pattern: Vec<Vec<u8>> = rel
                .iter()
                .skip(at)
                .map(|c| c.as_encoded_bytes().to_vec())
                .collect();
            glob_walk(req, &base, &base, &pattern, &mut found)?;
            continue;
        }
        let source = Source::find(req.from, &rel);
        let hidden = match &source {
            Some(s) => skipped(req.ignore, &rel, &s.real)?,
            None => false,
        };
        if hidden {
            let pattern = req
                .ignore
                .and_then(|m| m.matching_pattern(&rel.to_string_lossy()).ok().flatten());
            return Err(match pattern {
                Some(p) => Error::SourceIgnored {
                    step: req.step.to_string(),
                    source_path: format!("/{}", rel.display()),
                    pattern: p.as_str().to_owned(),
                },
                None => not_found(),
            });
        }
        found.push(source.ok_or_else(not_found)?);
    }
    Ok(found)
}

/// Walks `dir` (below the wildcard's `base`) for paths whose elements
/// below `base` match `pattern`'s, as BuildKit's walk: sorted by name, a
/// matched directory is not entered, symlinks are not entered.
fn glob_walk(
    req: &CopyRequest<'_>,
    base: &Path,
    dir: &Path,
    pattern: &[Vec<u8>],
    found: &mut Vec<Source>,
) -> Result<()> {
    let depth = dir.iter().count() - base.iter().count();
    let Some(element) = pattern.get(depth) else {
        return Ok(());
    };
    let entries = match req.from.lookup(dir) {
        Some((_, m)) if m.is_dir() => req
            .from
            .read_dir(dir)
            .map_err(io_err(req.step, "reading", dir))?,
        _ => return Ok(()),
    };
    for (name, real) in entries {
        let rel = dir.join(&name);
        if !glob_match(element, name.as_encoded_bytes()) || skipped(req.ignore, &rel, &real)? {
            continue;
        }
        if depth + 1 == pattern.len() {
            // `--exclude` applies below each match, not to the match
            // itself, as BuildKit's copier does.
            found.extend(Source::find(req.from, &rel));
        } else if std::fs::symlink_metadata(&real).is_ok_and(|m| m.is_dir()) {
            glob_walk(req, base, &rel, pattern, found)?;
        }
    }
    Ok(())
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
    for Source {
        name,
        rel,
        real,
        meta,
        dest,
    } in &found
    {
        if slash {
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
        if req.unpack && meta.is_file() {
            match crate::archive::detect(req.step, real)? {
                Kind::Archive => {
                    make_dirs(req.step, req.target, req.new_dirs(), upper, &dest_rel, true)?;
                    crate::archive::unpack(req.step, real, &upper.join(&dest_rel), req.owner)?;
                    continue;
                }
                Kind::Plain => {}
            }
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

#[cfg(test)]
mod tests {
    use super::glob_match;

    #[test]
    fn globs() {
        assert!(glob_match(b"*.txt", b"a.txt"));
        assert!(!glob_match(b"*.txt", b"a.txs"));
        assert!(glob_match(b"f?[0-9]", b"fx7"));
        assert!(glob_match(b"[!a]b", b"cb"));
        assert!(!glob_match(b"[!a]b", b"ab"));
    }
}
