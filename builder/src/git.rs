//! ADD of git repositories, as BuildKit's git source: [`GitRef`] parses
//! `https://host/repo.git#ref:subdir`, `git@host:repo.git#ref`,
//! `git://host/repo.git?ref=..&subdir=..&keep-git-dir=..&checksum=..`.
//! The [`crate::Fetcher`] resolves the ref to a commit (the cache key part,
//! with the subdir and `--keep-git-dir`) and checks it out; the tree (or
//! the subdir) is copied into the destination like a directory, owned by
//! root unless `--chown`, without `.git` unless `--keep-git-dir`.

use std::path::Path;

use crate::error::{Error, Result};

/// A git source of ADD.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct GitRef {
    /// The repository URL, without fragment and query.
    pub remote: String,
    /// A branch, tag or commit; empty for the remote's HEAD.
    pub reference: String,
    /// A directory inside the repository; empty for the whole tree.
    pub subdir: String,
    /// `keep-git-dir=` in the URL, when given.
    pub keep_git_dir: Option<bool>,
    /// `checksum=` or `commit=` in the URL: the expected commit.
    pub checksum: Option<String>,
}

impl GitRef {
    /// Parses an ADD source already known to be git (see
    /// [`crate::fetch::is_git`]); `step` names errors.
    pub fn parse(step: &str, src: &str) -> Result<GitRef> {
        let invalid = |reason: String| Error::InvalidFlag {
            step: step.to_string(),
            reason: format!("invalid git source {src:?}: {reason}"),
        };
        let (rest, fragment) = match src.split_once('#') {
            Some((r, f)) => (r, f),
            None => (src, ""),
        };
        let (remote, query) = match rest.split_once('?') {
            Some((r, q)) => (r, q),
            None => (rest, ""),
        };
        let (reference, subdir) = match fragment.split_once(':') {
            Some((r, s)) => (r, s),
            None => (fragment, ""),
        };
        let mut git = GitRef {
            remote: remote.to_string(),
            reference: reference.to_string(),
            subdir: subdir.to_string(),
            keep_git_dir: None,
            checksum: None,
        };
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let set = |slot: &mut String, what: &str| -> Result<()> {
                if !slot.is_empty() && slot != v {
                    return Err(invalid(format!("{what} conflicts: {slot:?} vs {v:?}")));
                }
                *slot = v.to_string();
                Ok(())
            };
            match k {
                "ref" | "tag" | "branch" => set(&mut git.reference, "ref")?,
                "subdir" => set(&mut git.subdir, "subdir")?,
                "checksum" | "commit" => git.checksum = Some(v.to_string()),
                "keep-git-dir" => {
                    git.keep_git_dir = Some(match v {
                        "" | "1" | "true" => true,
                        "0" | "false" => false,
                        _ => return Err(invalid(format!("invalid keep-git-dir value: {v:?}"))),
                    })
                }
                other => return Err(invalid(format!("unsupported query {other:?}"))),
            }
        }
        if git.subdir.split('/').any(|p| p == "..") {
            return Err(invalid("the subdir leaves the repository".into()));
        }
        Ok(git)
    }

    /// The source path to copy from the checkout.
    pub fn source(&self) -> String {
        match self.subdir.trim_matches('/') {
            "" => ".".to_string(),
            s => s.to_string(),
        }
    }
}

/// Whether `commit` matches the expected checksum (a commit or a prefix
/// of at least 7 hex digits, as BuildKit accepts).
pub(crate) fn checksum_matches(commit: &str, checksum: &str) -> bool {
    checksum.len() >= 7 && commit.starts_with(&checksum.to_lowercase())
}

/// Removes `.git` from a checkout, and the `.git` links of its
/// submodules (git tracks no file of that name, so only git's own go).
pub(crate) fn drop_git_dir(step: &str, dir: &Path) -> Result<()> {
    let io = |action, path: &Path| crate::copy::io_err(step, action, path);
    for entry in std::fs::read_dir(dir).map_err(io("reading", dir))? {
        let entry = entry.map_err(io("reading", dir))?;
        let path = entry.path();
        let kind = entry.file_type().map_err(io("reading", &path))?;
        if entry.file_name() == ".git" {
            match kind.is_dir() {
                true => std::fs::remove_dir_all(&path),
                false => std::fs::remove_file(&path),
            }
            .map_err(io("removing", &path))?;
        } else if kind.is_dir() {
            drop_git_dir(step, &path)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_like_buildkit() {
        let g = GitRef::parse("ADD", "https://github.com/moby/buildkit.git#v0.10.1:docs").unwrap();
        assert_eq!(g.remote, "https://github.com/moby/buildkit.git");
        assert_eq!(
            (g.reference.as_str(), g.subdir.as_str()),
            ("v0.10.1", "docs")
        );
        assert_eq!(g.source(), "docs");
        let g = GitRef::parse("ADD", "git@github.com:moby/buildkit.git").unwrap();
        assert_eq!(g.remote, "git@github.com:moby/buildkit.git");
        assert_eq!((g.reference.as_str(), g.source().as_str()), ("", "."));
        let g = GitRef::parse(
            "ADD",
            "git://h/r.git?ref=main&subdir=a/b&keep-git-dir=true&checksum=abcdef0",
        )
        .unwrap();
        assert_eq!((g.reference.as_str(), g.subdir.as_str()), ("main", "a/b"));
        assert_eq!(g.keep_git_dir, Some(true));
        assert_eq!(g.checksum.as_deref(), Some("abcdef0"));
        assert!(GitRef::parse("ADD", "git://h/r.git?ref=a#b").is_err());
        assert!(GitRef::parse("ADD", "git://h/r.git#main:../x").is_err());
        assert!(GitRef::parse("ADD", "git://h/r.git?depth=1").is_err());
    }

    #[test]
    fn checksums_are_commit_prefixes() {
        let commit = "0123456789abcdef0123456789abcdef01234567";
        assert!(checksum_matches(commit, "0123456"));
        assert!(checksum_matches(commit, commit));
        assert!(!checksum_matches(commit, "012345"));
        assert!(!checksum_matches(commit, "1123456"));
    }
}
