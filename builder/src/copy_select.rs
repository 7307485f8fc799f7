//! COPY's sources: [`select`] turns the sources as written into
//! [`Source`]s (wildcards in any path element, symlinks followed,
//! `.dockerignore` applied), [`left_out`] tells what a walk below a source
//! skips (`.dockerignore` and `--exclude`), [`glob_match`] matches one name
//! as Go's `filepath.Match`.

use std::fs::Metadata;
use std::path::{Path, PathBuf};

use rdock_parser::dockerignore::PatternMatcher;

use crate::copy::{io_err, CopyRequest};
use crate::error::{Error, Result};
use crate::fsview::{clean, Layers};

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
