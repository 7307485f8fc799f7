//! [`Layers`]: a read-only merged view of overlay lower dirs (topmost
//! first), as an overlay mount would show them, without mounting: whiteouts
//! (character devices 0:0) hide what is below, opaque directories
//! (`trusted.overlay.opaque=y`) hide the lower directories' entries. The
//! build context is a view of one directory.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fs::Metadata;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Component, Path, PathBuf};

/// A stack of directories, topmost first.
#[derive(Debug, Clone, Default)]
pub(crate) struct Layers {
    dirs: Vec<PathBuf>,
}

fn is_whiteout(m: &Metadata) -> bool {
    m.file_type().is_char_device() && m.rdev() == 0
}

fn is_opaque(path: &Path) -> bool {
    let mut buf = [0u8; 4];
    matches!(
        rustix::fs::lgetxattr(path, "trusted.overlay.opaque", &mut buf[..]),
        Ok(1) if buf[0] == b'y'
    )
}

/// The path's normal components (`/a/./b/` is `a/b`); `..` stays inside.
pub(crate) fn clean(path: &str) -> PathBuf {
    let mut out = PathBuf::new();
    for c in Path::new(path).components() {
        match c {
            Component::Normal(n) => out.push(n),
            Component::ParentDir => {
                out.pop();
            }
            _ => {}
        }
    }
    out
}

/// Where a path is found in one layer.
enum Found {
    Present(PathBuf, Metadata),
    /// Deleted (a whiteout), or below a file or whiteout of this layer.
    Hidden,
    Absent,
}

fn find_in(dir: &Path, rel: &Path) -> Found {
    let mut cur = dir.to_path_buf();
    let parts: Vec<_> = rel.components().collect();
    for (i, part) in parts.iter().enumerate() {
        cur.push(part);
        match std::fs::symlink_metadata(&cur) {
            Ok(m) if is_whiteout(&m) => return Found::Hidden,
            Ok(m) if i + 1 == parts.len() => return Found::Present(cur, m),
            Ok(m) if !m.is_dir() => return Found::Hidden,
            Ok(_) => {}
            Err(_) => return Found::Absent,
        }
    }
    match std::fs::symlink_metadata(&cur) {
        Ok(m) => Found::Present(cur, m),
        Err(_) => Found::Absent,
    }
}

impl Layers {
    pub fn new(dirs: Vec<PathBuf>) -> Layers {
        Layers { dirs }
    }

    /// The topmost real file for `rel` (relative, cleaned), with its metadata.
    pub fn lookup(&self, rel: &Path) -> Option<(PathBuf, Metadata)> {
        for dir in &self.dirs {
            match find_in(dir, rel) {
                Found::Present(p, m) => return Some((p, m)),
                Found::Hidden => return None,
                Found::Absent => {
                    // An opaque ancestor in this layer hides the layers below.
                    let mut a = rel.parent();
                    while let Some(anc) = a {
                        if is_opaque(&dir.join(anc)) {
                            return None;
                        }
                        a = anc.parent();
                    }
                }
            }
        }
        None
    }

    /// Like [`Layers::lookup`], but every symlink on the way (the last
    /// component included) is followed inside the view, as if it were the
    /// root (absolute targets start at the view's root, `..` stops there).
    /// Returns the resolved relative path too.
    pub fn resolve(&self, rel: &Path) -> Option<(PathBuf, PathBuf, Metadata)> {
        let cur = self.follow(rel)?;
        let (real, meta) = self.lookup(&cur)?;
        Some((cur, real, meta))
    }

    /// Where a write to `rel` lands: symlinks are followed inside the view
    /// as in [`Layers::resolve`], and from the first missing component on
    /// the path is taken as written, as BuildKit resolves COPY destinations
    /// and WORKDIR (`fs.RootPath`). `None` for a symlink loop.
    pub fn resolve_dest(&self, rel: &Path) -> Option<PathBuf> {
        self.follow(rel)
    }

    fn follow(&self, rel: &Path) -> Option<PathBuf> {
        self.follow_in(Path::new(""), rel)
    }

    /// Where `rel` below `root` leads with every symlink followed as if
    /// `root` were `/` (a chroot there): absolute targets start at `root`
    /// and `..` stops there. `None` for a symlink loop.
    pub fn follow_in(&self, root: &Path, rel: &Path) -> Option<PathBuf> {
        let mut todo: Vec<OsString> = rel.iter().map(|c| c.to_os_string()).collect();
        todo.reverse();
        let mut cur = root.to_path_buf();
        let floor = root.iter().count();
        let mut hops = 0;
        while let Some(part) = todo.pop() {
            match Path::new(&part).components().next() {
                Some(Component::ParentDir) => {
                    if cur.iter().count() > floor {
                        cur.pop();
                    }
                    continue;
                }
                Some(Component::Normal(_)) => {}
                _ => continue,
            }
            let next = cur.join(&part);
            let link = match self.lookup(&next) {
                Some((real, meta)) if meta.file_type().is_symlink() => real,
                _ => {
                    cur = next;
                    continue;
                }
            };
            hops += 1;
            if hops > 40 {
                return None;
            }
            let target = std::fs::read_link(&link).ok()?;
            if target.is_absolute() {
                cur = root.to_path_buf();
            }
            todo.extend(target.iter().map(|c| c.to_os_string()).rev());
        }
        Some(cur)
    }

    /// This view with `dir` on top (a step's upper dir over its stage).
    pub fn with_top(&self, dir: &Path) -> Layers {
        let mut dirs = vec![dir.to_path_buf()];
        dirs.extend(self.dirs.iter().cloned());
        Layers { dirs }
    }

    /// The merged entries of directory `rel`: name to the real path.
    pub fn read_dir(&self, rel: &Path) -> std::io::Result<BTreeMap<OsString, PathBuf>> {
        let mut out = BTreeMap::new();
        let mut hidden = std::collections::BTreeSet::new();
        for dir in &self.dirs {
            let here = match find_in(dir, rel) {
                Found::Present(p, m) if m.is_dir() => p,
                Found::Present(..) | Found::Hidden => break,
                Found::Absent => continue,
            };
            for entry in std::fs::read_dir(&here)? {
                let entry = entry?;
                let name = entry.file_name();
                if out.contains_key(&name) || hidden.contains(&name) {
                    continue;
                }
                if is_whiteout(&entry.metadata()?) {
                    hidden.insert(name);
                } else {
                    out.insert(name, entry.path());
                }
            }
            if is_opaque(&here) {
                break;
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upper_layers_win_and_whiteouts_hide() {
        let t = tempfile::tempdir().unwrap();
        let (top, bottom) = (t.path().join("top"), t.path().join("bottom"));
        for d in [&top, &bottom] {
            std::fs::create_dir_all(d.join("d")).unwrap();
        }
        std::fs::write(bottom.join("d/a"), "old").unwrap();
        std::fs::write(bottom.join("d/b"), "b").unwrap();
        std::fs::write(top.join("d/a"), "new").unwrap();
        let view = Layers::new(vec![top, bottom]);
        let (p, _) = view.lookup(&clean("/d/a")).unwrap();
        assert_eq!(std::fs::read_to_string(p).unwrap(), "new");
        let names: Vec<_> = view.read_dir(&clean("d")).unwrap().into_keys().collect();
        assert_eq!(names, ["a", "b"]);
        assert!(view.lookup(&clean("d/zz")).is_none());
        std::os::unix::fs::symlink("../d/a", t.path().join("top/d/rel")).unwrap();
        std::os::unix::fs::symlink("/d", t.path().join("top/abs")).unwrap();
        let (resolved, p, _) = view.resolve(&clean("abs/rel")).unwrap();
        assert_eq!(resolved, PathBuf::from("d/a"));
        assert_eq!(std::fs::read_to_string(p).unwrap(), "new");
        std::os::unix::fs::symlink("loop", t.path().join("top/loop")).unwrap();
        assert!(view.resolve(&clean("loop")).is_none());
        assert_eq!(clean("/a/./b/../c/"), PathBuf::from("a/c"));
    }
}
