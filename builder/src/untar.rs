//! ADD's extraction of a local tar archive, entry by entry as BuildKit's
//! chroot untar (moby's `archive.Unpack` run with the destination as its
//! root) would do it on the stage's file system, but written into the
//! step's upper dir: [`Untar::entry`] resolves each entry's parent through
//! the symlinks of the stage and of what the step wrote so far (absolute
//! targets start at the destination), makes missing parents `0755` and
//! root's, replaces what is there unless both are directories, and sets
//! the archive's owner (or `--chown`'s) and mode.

use std::io::Read;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};

use rustix::fs::{self as rfs, AtFlags, FileType, Mode, Timespec, Timestamps};
use tar::EntryType;

use crate::copy::{make_dirs, set_meta};
use crate::error::{Error, Result};
use crate::fsview::Layers;

/// One archive's extraction into `upper` below `root` (relative, symlinks
/// already resolved).
pub(crate) struct Untar<'a> {
    pub step: &'a str,
    /// The stage's file system under this step's upper dir.
    pub stage: &'a Layers,
    pub upper: &'a Path,
    pub root: &'a Path,
    /// `--chown`: replaces every entry's owner.
    pub owner: Option<(u32, u32)>,
}

fn io_err(step: &str, action: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> Error {
    crate::copy::io_err(step, action, path)
}

/// The entry name as components below the root: inside the chroot the
/// destination is `/`, so `..` stops there and nothing breaks out.
fn entry_name(name: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = Vec::new();
    for c in name.components() {
        match c {
            Component::Normal(n) => out.push(n.into()),
            Component::ParentDir => {
                out.pop();
            }
            _ => {}
        }
    }
    out
}

impl Untar<'_> {
    fn view(&self) -> Layers {
        self.stage.with_top(self.upper)
    }

    /// Where `parts` below the root lead once symlinks are followed.
    fn resolve(&self, parts: &[PathBuf]) -> Result<PathBuf> {
        let rel: PathBuf = parts.iter().collect();
        self.view()
            .follow_in(self.root, &rel)
            .ok_or_else(|| Error::SymlinkLoop {
                step: self.step.to_string(),
                path: rel.display().to_string(),
            })
    }

    /// Extracts one entry; `dirs` collects directories for their times.
    pub fn entry<R: Read>(
        &self,
        entry: &mut tar::Entry<'_, R>,
        dirs: &mut Vec<(PathBuf, i64)>,
    ) -> Result<()> {
        let step = self.step;
        let kind = entry.header().entry_type();
        if matches!(
            kind,
            EntryType::XGlobalHeader | EntryType::XHeader | EntryType::GNULongName
        ) {
            return Ok(());
        }
        let name = entry
            .path()
            .map_err(io_err(step, "reading", self.root))?
            .into_owned();
        let parts = entry_name(&name);
        let Some((base, parents)) = parts.split_last() else {
            // `.`: the destination exists already and keeps its metadata.
            return Ok(());
        };
        // Parents follow symlinks (the kernel does, inside the chroot);
        // missing ones are made 0755 and root's, whatever --chown says.
        let parent = self.resolve(parents)?;
        make_dirs(step, self.stage, (None, 0o755), self.upper, &parent, true)?;
        let rel = parent.join(base);
        let dst = self.upper.join(&rel);
        let is_dir = kind == EntryType::Directory;
        let existing = self.view().lookup(&rel).map(|(_, m)| m);
        let merge = is_dir && existing.as_ref().is_some_and(|m| m.is_dir());
        if !merge {
            if let Ok(m) = std::fs::symlink_metadata(&dst) {
                let gone = match m.is_dir() {
                    true => std::fs::remove_dir_all(&dst),
                    false => std::fs::remove_file(&dst),
                };
                gone.map_err(io_err(step, "removing", &dst))?;
            }
        }
        let h = entry.header();
        // Empty numeric fields read as 0, as Go's tar reader takes them.
        let mode = h.mode().unwrap_or(0) & 0o7777;
        let (uid, gid) = match self.owner {
            Some(o) => o,
            None => (h.uid().unwrap_or(0) as u32, h.gid().unwrap_or(0) as u32),
        };
        let mtime = h.mtime().unwrap_or(0) as i64;
        match kind {
            EntryType::Directory => {
                if merge && !dst.is_dir() {
                    // Copied up so the archive's metadata can be applied.
                    make_dirs(step, self.stage, (None, 0o755), self.upper, &rel, true)?;
                } else if !dst.is_dir() {
                    std::fs::create_dir(&dst).map_err(io_err(step, "creating", &dst))?;
                }
                dirs.push((rel.clone(), mtime));
            }
            EntryType::Regular | EntryType::Continuous => {
                let mut f = std::fs::File::create(&dst).map_err(io_err(step, "creating", &dst))?;
                std::io::copy(entry, &mut f).map_err(io_err(step, "writing", &dst))?;
            }
            EntryType::Symlink => {
                let link = entry
                    .link_name()
                    .map_err(io_err(step, "reading", &dst))?
                    .unwrap_or_default()
                    .into_owned();
                std::os::unix::fs::symlink(&link, &dst).map_err(io_err(step, "creating", &dst))?;
            }
            EntryType::Link => {
                let link = entry
                    .link_name()
                    .map_err(io_err(step, "reading", &dst))?
                    .unwrap_or_default()
                    .into_owned();
                let target = self.link_target(&link)?;
                return std::fs::hard_link(&target, &dst).map_err(io_err(step, "linking", &dst));
            }
            EntryType::Char | EntryType::Block | EntryType::Fifo => {
                let ft = match kind {
                    EntryType::Char => FileType::CharacterDevice,
                    EntryType::Block => FileType::BlockDevice,
                    _ => FileType::Fifo,
                };
                let major = h.device_major().ok().flatten().unwrap_or(0);
                let minor = h.device_minor().ok().flatten().unwrap_or(0);
                rfs::mknodat(
                    rfs::CWD,
                    &dst,
                    ft,
                    Mode::from_raw_mode(0o600),
                    rfs::makedev(major, minor),
                )
                .map_err(|e| io_err(step, "creating", &dst)(e.into()))?;
            }
            other => {
                return Err(Error::Unsupported {
                    step: step.to_string(),
                    what: format!("the tar entry type {other:?} of {}", name.display()),
                })
            }
        }
        std::os::unix::fs::lchown(&dst, Some(uid), Some(gid))
            .map_err(io_err(step, "chown", &dst))?;
        if kind != EntryType::Symlink {
            std::fs::set_permissions(&dst, std::fs::Permissions::from_mode(mode))
                .map_err(io_err(step, "chmod", &dst))?;
        }
        if kind != EntryType::Directory {
            set_time(step, &dst, mtime)?;
        }
        Ok(())
    }

    /// A hard link's target: its parents followed as for entries, the file
    /// itself not; a file of the stage below is copied up to be linked.
    fn link_target(&self, link: &Path) -> Result<PathBuf> {
        let parts = entry_name(link);
        let Some((base, parents)) = parts.split_last() else {
            return Err(Error::SourceNotFound {
                step: self.step.to_string(),
                source_path: link.display().to_string(),
            });
        };
        let rel = self.resolve(parents)?.join(base);
        let up = self.upper.join(&rel);
        if std::fs::symlink_metadata(&up).is_err() {
            let Some((real, m)) = self.stage.lookup(&rel) else {
                return Err(Error::SourceNotFound {
                    step: self.step.to_string(),
                    source_path: format!("/{}", rel.display()),
                });
            };
            make_dirs(
                self.step,
                self.stage,
                (None, 0o755),
                self.upper,
                &rel,
                false,
            )?;
            std::fs::copy(&real, &up).map_err(io_err(self.step, "copying", &real))?;
            set_meta(self.step, &up, &m, m.uid(), m.gid(), m.mode())?;
        }
        Ok(up)
    }

    /// Directory times last, so the files made inside do not change them.
    pub fn finish(&self, dirs: &[(PathBuf, i64)]) -> Result<()> {
        for (rel, mtime) in dirs.iter().rev() {
            set_time(self.step, &self.upper.join(rel), *mtime)?;
        }
        Ok(())
    }
}

fn set_time(step: &str, path: &Path, secs: i64) -> Result<()> {
    let t = Timespec {
        tv_sec: secs,
        tv_nsec: 0,
    };
    let times = Timestamps {
        last_access: t,
        last_modification: t,
    };
    rfs::utimensat(rfs::CWD, path, &times, AtFlags::SYMLINK_NOFOLLOW)
        .map_err(|e| io_err(step, "setting times of", path)(e.into()))
}

#[cfg(test)]
mod tests {
    use super::entry_name;
    use std::path::{Path, PathBuf};

    #[test]
    fn names_stay_below_the_root() {
        let parts = |s: &str| entry_name(Path::new(s));
        assert_eq!(parts("./a//b/../c/"), [PathBuf::from("a"), "c".into()]);
        assert_eq!(parts("/abs/x"), [PathBuf::from("abs"), "x".into()]);
        assert!(parts(".").is_empty());
        assert_eq!(parts("../up"), [PathBuf::from("up")]);
        assert_eq!(parts("a/../../up"), [PathBuf::from("up")]);
    }
}
