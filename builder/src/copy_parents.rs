//! `COPY --parents`: [`select_parents`] finds what one source selects,
//! keeping each match's path below a pivot. As BuildKit, a source
//! `base/./pattern` copies what matches `pattern` below `base` and keeps
//! its path from `base` on; without `/./` the pivot is the source root.
//! `pattern` may have wildcards in any element (patternmatcher syntax); a
//! matched directory brings its whole tree. A source without wildcards
//! must exist; a wildcard matching nothing copies nothing.
//! [`source_parents`] creates the kept parents as the source's are.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use rdock_parser::dockerignore::PatternMatcher;

use crate::copy::{has_glob, io_err, left_out, make_dirs, set_meta, CopyRequest, Source};
use crate::copy_select::glob_match;
use crate::error::{Error, Result};
use crate::fsview::clean;

/// The pivot and the pattern of a `--parents` source.
pub(crate) fn split_pivot(src: &str) -> (PathBuf, PathBuf) {
    match src.split_once("/./") {
        Some((base, pattern)) => (clean(base), clean(pattern)),
        None => (PathBuf::new(), clean(src)),
    }
}

/// The pivots a `--parents` base names: itself, or with wildcards (in any
/// element) the directories they match, as BuildKit resolves the source
/// of each copy before matching the pattern below it.
fn bases(req: &CopyRequest<'_>, base: &Path) -> Vec<PathBuf> {
    if !has_glob(&base.to_string_lossy()) {
        return vec![base.to_path_buf()];
    }
    let mut found = vec![PathBuf::new()];
    for part in base.components() {
        let part = part.as_os_str();
        if !has_glob(&part.to_string_lossy()) {
            found.iter_mut().for_each(|f| f.push(part));
            continue;
        }
        let mut next = Vec::new();
        for dir in &found {
            let real = req.from.resolve(dir).map_or(dir.clone(), |(r, _, _)| r);
            let Ok(entries) = req.from.read_dir(&real) else {
                continue;
            };
            for name in entries.into_keys() {
                if glob_match(part.as_encoded_bytes(), name.as_encoded_bytes()) {
                    next.push(dir.join(name));
                }
            }
        }
        found = next;
    }
    found
}

/// Whether BuildKit's copies for the `--parents` sources make the
/// destination directory even when no file matches: each source whose
/// pivot exists is a copy of that directory, which makes it.
pub(crate) fn makes_dest(req: &CopyRequest<'_>) -> bool {
    req.sources.iter().any(|src| {
        let (base, _) = split_pivot(src);
        bases(req, &base)
            .iter()
            .any(|b| req.from.resolve(b).is_some_and(|(_, _, m)| m.is_dir()))
    })
}

/// The sources `src` selects with `--parents`, each with its destination
/// path (relative to the destination directory) set.
pub(crate) fn select_parents(req: &CopyRequest<'_>, src: &str) -> Result<Vec<Source>> {
    let (base, pattern) = split_pivot(src);
    if has_glob(&base.to_string_lossy()) {
        // Each match is a pivot of its own; none is required to exist.
        let mut out = Vec::new();
        for b in bases(req, &base) {
            out.extend(select_below(req, b, pattern.clone(), false)?);
        }
        return Ok(out);
    }
    select_below(req, base, pattern, true)
}

/// [`select_parents`] for one pivot `base`; `required`: a pattern without
/// wildcards must name something.
fn select_below(
    req: &CopyRequest<'_>,
    base: PathBuf,
    pattern: PathBuf,
    required: bool,
) -> Result<Vec<Source>> {
    let text = pattern.to_string_lossy().into_owned();
    let not_found = || Error::SourceNotFound {
        step: req.step.to_string(),
        source_path: format!("/{}", base.join(&pattern).display()),
    };
    if text.is_empty() {
        // `dir/./` copies the pivot's contents.
        let mut s = Source::find(req.from, &base).ok_or_else(not_found)?;
        s.dest = Some(PathBuf::new());
        return Ok(vec![s]);
    }
    if !has_glob(&text) {
        let found = Source::find(req.from, &base.join(&pattern));
        if left_out(req, &base, &base.join(&pattern), Path::new(""))? || found.is_none() {
            return match required {
                true => Err(not_found()),
                false => Ok(Vec::new()),
            };
        }
        let mut s = found.expect("checked above");
        s.dest = Some(pattern);
        return Ok(vec![s]);
    }
    let matcher = PatternMatcher::new(&[text])?;
    // Walk only below the pattern's literal leading elements.
    let literal: PathBuf = pattern
        .components()
        .take_while(|c| !has_glob(&c.as_os_str().to_string_lossy()))
        .collect();
    let mut out = Vec::new();
    let mut stack = vec![literal];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = req.from.read_dir(&base.join(&dir)) else {
            continue;
        };
        for (name, child) in entries.into_iter().rev() {
            let sub = dir.join(&name);
            let rel = base.join(&sub);
            if left_out(req, &base, &rel, &child)? {
                continue;
            }
            if matcher.matches(&sub.to_string_lossy())? {
                if let Some(mut s) = Source::find(req.from, &rel) {
                    s.dest = Some(sub);
                    out.push(s);
                }
            } else if child.is_dir() && !child.is_symlink() {
                stack.push(sub);
            }
        }
    }
    out.sort_by(|a, b| a.dest.cmp(&b.dest));
    Ok(out)
}

/// With `--parents`: creates the directories between the destination and
/// the source at `rel` (kept as `below`) as the source's parents are,
/// owned as copied files are.
pub(crate) fn source_parents(
    req: &CopyRequest<'_>,
    rel: &Path,
    below: &Path,
    upper: &Path,
    dest: &Path,
) -> Result<()> {
    let step = req.step;
    let ups = below.components().count();
    let mut src_dir = rel.to_path_buf();
    let mut dirs = Vec::new();
    for _ in 1..ups {
        src_dir.pop();
        dirs.push(src_dir.clone());
    }
    let mut made = dest.to_path_buf();
    for (part, src_dir) in below
        .parent()
        .into_iter()
        .flat_map(Path::components)
        .zip(dirs.iter().rev())
    {
        made.push(part);
        let path = upper.join(&made);
        let source = req.from.lookup(src_dir);
        let existing = req.target.lookup(&made).filter(|(_, m)| m.is_dir());
        if path.exists() || existing.is_some() {
            // BuildKit's copier gives a parent that is there already the
            // source's mode, not its owner.
            make_dirs(step, req.target, (None, 0o755), upper, &made, true)?;
            if let Some((_, m)) = source {
                std::fs::set_permissions(&path, std::fs::Permissions::from_mode(m.mode() & 0o7777))
                    .map_err(io_err(step, "chmod", &path))?;
            }
            continue;
        }
        std::fs::create_dir(&path).map_err(io_err(step, "creating", &path))?;
        if let Some((_, m)) = source {
            let (uid, gid) = match (req.owner, req.context) {
                (Some(o), _) => o,
                (None, true) => (0, 0),
                (None, false) => (m.uid(), m.gid()),
            };
            set_meta(step, &path, &m, uid, gid, m.mode())?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::split_pivot;
    use std::path::PathBuf;

    #[test]
    fn pivots() {
        let p = |a: &str, b: &str| (PathBuf::from(a), PathBuf::from(b));
        assert_eq!(split_pivot("x/./y/a.txt"), p("x", "y/a.txt"));
        assert_eq!(split_pivot("./x/a.txt"), p("", "x/a.txt"));
        assert_eq!(split_pivot("/a/b/./"), p("a/b", ""));
    }

    fn picked(dir: &std::path::Path, src: &str, exclude: &[&str]) -> Vec<String> {
        let from = crate::fsview::Layers::new(vec![dir.to_path_buf()]);
        let target = crate::fsview::Layers::default();
        let matcher = rdock_parser::dockerignore::PatternMatcher::new(exclude).unwrap();
        let req = crate::copy::CopyRequest {
            step: "COPY",
            from: &from,
            ignore: None,
            sources: &[],
            dest: "/",
            owner: None,
            context: true,
            chmod: None,
            target: &target,
            exclude: Some(&matcher),
            inline: &[],
            parents: true,
            unpack: false,
        };
        super::select_parents(&req, src)
            .unwrap()
            .into_iter()
            .map(|s| s.dest.unwrap().display().to_string())
            .collect()
    }

    #[test]
    fn selects_below_the_pivot() {
        let tmp = tempfile::tempdir().unwrap();
        for f in ["x/y/a.txt", "x/y/b.md", "z/y/a.txt", "z/q/a.txt"] {
            let p = tmp.path().join(f);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, f).unwrap();
        }
        let dir = tmp.path();
        assert_eq!(picked(dir, "x/./y/*.txt", &[]), ["y/a.txt"]);
        assert_eq!(picked(dir, "*/y/a.txt", &[]), ["x/y/a.txt", "z/y/a.txt"]);
        assert_eq!(picked(dir, "x/y", &[]), ["x/y"]);
        assert_eq!(
            picked(dir, "*/y/*", &["x/y/*.md"]),
            ["x/y/a.txt", "z/y/a.txt"]
        );
        assert!(picked(dir, "nothing/*", &[]).is_empty());
    }
}
