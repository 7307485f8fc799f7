//! COPY and ADD as steps: [`CopyArgs`] unifies the two instructions,
//! [`copy`] expands their words, resolves `--from`, `--chown` (numeric or
//! names from the stage's `/etc/passwd` and `/etc/group`) and `--chmod`,
//! fills a fresh upper dir with [`crate::copy::copy_into`] and packs it.
//! The step's cache key hashes the expanded instruction, the resolved
//! owner and, as its input, the content digest of the selected context
//! files ([`crate::contenthash`]) or the key of the `--from` source.
//! `--exclude`, `--parents`, heredoc sources and the unpacking of local
//! archives by ADD ([`crate::archive`]) are handled by the copy itself;
//! `--link` copies onto an empty file system. ADD of http(s) URLs (with
//! `--checksum`) downloads them first ([`crate::fetch`]); their key part is
//! the checksum or the content digest. ADD of git repositories
//! ([`crate::git`]) resolves the ref to a commit (the key part) and copies
//! the checkout.

use rdock_parser::dockerignore::PatternMatcher;
use rdock_parser::instructions::{Add, Chmod, Copy, SourceContent};
use rdock_parser::shell::Lexer;

use crate::contenthash::{content_digest, ContextIndex};
use crate::copy::{copy_into, CopyRequest, Inline};
use crate::error::{Error, Result};
use crate::fetch::{is_git, is_http, Download};
use crate::fsview::{clean, Layers};
use crate::git::GitRef;
use crate::key::KeyWriter;
use crate::snapshot::Upper;
use crate::solve::{Ran, Solver, StageState};
use crate::steps::{expand, under_workdir};

/// What COPY and ADD have in common.
#[derive(Debug)]
pub(crate) struct CopyArgs<'a> {
    add: bool,
    sources: &'a [String],
    contents: &'a [SourceContent],
    exclude: &'a [String],
    dest: &'a str,
    from: Option<&'a str>,
    chown: Option<&'a str>,
    chmod: Option<&'a Chmod>,
    link: bool,
    parents: bool,
    unpack: bool,
    /// ADD `--checksum` as written.
    checksum: Option<&'a str>,
    /// ADD of a URL unpacks archives only with `--unpack` (BuildKit).
    unpack_urls: bool,
    /// ADD `--keep-git-dir`, when given.
    keep_git_dir: Option<bool>,
}

impl<'a> From<&'a Copy> for CopyArgs<'a> {
    fn from(c: &'a Copy) -> Self {
        CopyArgs {
            add: false,
            sources: &c.sources,
            contents: &c.contents,
            exclude: &c.exclude,
            dest: &c.dest,
            from: c.from.as_deref(),
            chown: c.chown.as_deref(),
            chmod: c.chmod.as_ref(),
            link: c.link,
            parents: c.parents,
            unpack: false,
            checksum: None,
            unpack_urls: false,
            keep_git_dir: None,
        }
    }
}

impl<'a> From<&'a Add> for CopyArgs<'a> {
    fn from(a: &'a Add) -> Self {
        CopyArgs {
            add: true,
            sources: &a.sources,
            contents: &a.contents,
            exclude: &a.exclude,
            dest: &a.dest,
            from: None,
            chown: a.chown.as_deref(),
            chmod: a.chmod.as_ref(),
            link: a.link,
            parents: false,
            unpack: a.unpack.unwrap_or(true),
            checksum: a.checksum.as_deref(),
            unpack_urls: a.unpack.unwrap_or(false),
            keep_git_dir: a.keep_git_dir,
        }
    }
}

fn read_text(view: &Layers, path: &str) -> String {
    view.lookup(&clean(path))
        .and_then(|(p, _)| std::fs::read_to_string(p).ok())
        .unwrap_or_default()
}

/// `--chown` (and WORKDIR's USER) to ids, as BuildKit's file operations
/// read them: a numeric user is also the group; a user name gives its
/// passwd uid and primary group; a group (name or number) replaces that
/// group. A name missing from the stage's files is not an error there: it
/// leaves the id at 0 (the user) or unchanged (the group).
pub(crate) fn owner(view: &Layers, chown: &str) -> (u32, u32) {
    let (user, group) = match chown.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (chown, None),
    };
    let (uid, mut gid) = match numeric_id(user) {
        Some(id) => (id, id),
        None => rdock_runner::passwd_ids(&read_text(view, "/etc/passwd"), user).unwrap_or((0, 0)),
    };
    if let Some(g) = group {
        gid = match numeric_id(g) {
            Some(id) => id,
            None => rdock_runner::group_id(&read_text(view, "/etc/group"), g).unwrap_or(gid),
        };
    }
    (uid, gid)
}

/// An id BuildKit takes without a lookup: a number, or `root` (0).
fn numeric_id(part: &str) -> Option<u32> {
    match part {
        "root" => Some(0),
        _ => part.parse().ok(),
    }
}

/// Whether a `--chown` value names a user or group that needs a lookup.
fn chown_has_name(chown: &str) -> bool {
    chown.split(':').any(|part| numeric_id(part).is_none())
}

pub(crate) fn copy(s: &mut Solver<'_>, state: &mut StageState, c: CopyArgs<'_>) -> Result<Ran> {
    let step = if c.add { "ADD" } else { "COPY" };
    let mut sources = Vec::new();
    let mut urls = Vec::new();
    let mut gits = Vec::new();
    // Every source as written (expanded), for the history and the key.
    let mut written = Vec::new();
    for src in c.sources {
        let src = expand(s, state, step, src)?;
        written.push(src.clone());
        if !c.add && (is_git(&src) || is_http(&src)) {
            // BuildKit's texts.
            let what = if is_git(&src) { "a git ref" } else { "a URL" };
            return Err(Error::InvalidFlag {
                step: step.to_string(),
                reason: format!("source can't be {what} for COPY"),
            });
        }
        if c.add && is_git(&src) {
            gits.push(GitRef::parse(step, &src)?);
        } else if c.add && is_http(&src) {
            urls.push(src);
        } else {
            sources.push(src);
        }
    }
    let written_dest = expand(s, state, step, c.dest)?;
    let invalid = |reason: &str| Error::InvalidFlag {
        step: step.to_string(),
        reason: reason.to_string(),
    };
    let mut checksum = None;
    if let Some(text) = c.checksum {
        // BuildKit's checks, in its order.
        if written.len() != 1 {
            return Err(invalid("checksum can't be specified for multiple sources"));
        }
        if urls.is_empty() && gits.is_empty() {
            return Err(invalid("checksum requires HTTP(S) or Git sources"));
        }
        let text = expand(s, state, step, text)?;
        if let Some(git) = gits.first_mut() {
            if git.checksum.as_ref().is_some_and(|c| *c != text) {
                let url = git.checksum.clone().unwrap_or_default();
                return Err(invalid(&format!("checksum mismatch {text:?} != {url:?}")));
            }
            git.checksum = Some(text);
        } else {
            checksum = Some(
                text.parse::<rdock_cache::Digest>()
                    .map_err(|e| invalid(&format!("invalid checksum {text:?}: {e}")))?,
            );
        }
    }
    for git in &mut gits {
        match (c.keep_git_dir, git.keep_git_dir) {
            (Some(a), Some(b)) if a != b => {
                return Err(invalid("inconsistent keep-git-dir configuration"))
            }
            (Some(a), _) => git.keep_git_dir = Some(a),
            _ => {}
        }
    }
    let remote = !urls.is_empty() || !gits.is_empty();
    if remote && written.len() + c.contents.len() > 1 && !written_dest.ends_with('/') {
        return Err(invalid(
            "When using ADD with more than one source file, the destination must be a directory and end with a /",
        ));
    }
    let mut dest = under_workdir(&state.config.workdir, &written_dest);
    if written_dest == "." || written_dest.is_empty() {
        dest.push('/');
    }
    let target = state.view(s.store);
    let chown = match c.chown {
        Some(ch) => Some(expand(s, state, step, ch)?),
        None => None,
    };
    let owner = chown.as_deref().map(|ch| owner(&target, ch));
    let chmod = match c.chmod {
        Some(Chmod::Unexpanded(text)) => Some(
            expand(s, state, step, text)?
                .parse::<Chmod>()
                .map_err(|e| Error::InvalidFlag {
                    step: step.to_string(),
                    reason: e.to_string(),
                })?,
        ),
        other => other.cloned(),
    };
    // A `--from` naming a `--build-context` directory reads it as a
    // second build context (without the main context's ignore rules).
    let named_dir = match c.from.map(|f| s.plan.resolve(f)) {
        Some(crate::plan::Base::Context(name)) => Some(s.context_dir(&name)?),
        _ => None,
    };
    let named_ignore = match &named_dir {
        Some(dir) => crate::named_context::context_ignore(dir)?,
        None => None,
    };
    let (from, context) = match (c.from, &named_dir) {
        (_, Some(dir)) => (Layers::new(vec![dir.clone()]), true),
        (Some(f), None) => (s.source_view(f)?, false),
        (None, None) => (Layers::new(vec![s.opts.context.clone()]), true),
    };
    // As BuildKit, the patterns are not expanded.
    let exclude = c.exclude;
    let matcher = match exclude.is_empty() {
        true => None,
        false => Some(PatternMatcher::new(exclude)?),
    };
    let inline = inline_sources(state, step, c.contents)?;
    // `--link` (without `--chmod`, as BuildKit) copies onto an empty file
    // system: destination parents are new `0755` dirs, nothing existing
    // at the destination is looked at.
    let linked = c.link && chmod.is_none();
    // Names resolve in the layer below, which a linked copy does not see:
    // current BuildKit refuses them (older ones failed at solve time).
    if let Some(ch) = chown.as_deref().filter(|ch| linked && chown_has_name(ch)) {
        return Err(Error::InvalidFlag {
            step: step.to_string(),
            reason: format!(
                "--chown={ch} names a user or group, which --link cannot look up: use numeric ids"
            ),
        });
    }
    let scratch = Layers::default();
    let opts = s.opts;
    let req = CopyRequest {
        step,
        from: &from,
        ignore: match (&named_dir, context) {
            (Some(_), _) => named_ignore.as_ref(),
            (None, true) => opts.ignore,
            (None, false) => None,
        },
        sources: &sources,
        dest: &dest,
        owner,
        context,
        chmod: chmod.as_ref(),
        target: if linked { &scratch } else { &target },
        exclude: matcher.as_ref(),
        inline: &inline,
        parents: c.parents,
        unpack: c.unpack,
    };
    // URLs are resolved first: without a checksum the key needs their
    // content digest. They download beside the step's upper dir.
    let mut downloads = Vec::new();
    let mut upper = None;
    if !urls.is_empty() {
        let u = Upper::new(s, step)?;
        let dir = u.scratch_dir("fetched")?;
        for (i, url) in urls.iter().enumerate() {
            let mut d = Download::new(url, i, checksum.clone());
            d.resolve(step, s.opts.fetcher, s.store.root(), &dir)?;
            downloads.push(d);
        }
        upper = Some(u);
    }
    // Git refs resolve to commits for the key; the checkout waits for a miss.
    let mut commits = Vec::new();
    for git in &gits {
        let fetch_err = |source| Error::Fetch {
            step: step.to_string(),
            url: git.remote.clone(),
            source,
        };
        let commit = s
            .opts
            .fetcher
            .git_resolve(&git.remote, &git.reference)
            .map_err(fetch_err)?;
        if let Some(sum) = &git.checksum {
            if !crate::git::checksum_matches(&commit, sum) {
                return Err(Error::ChecksumMismatch {
                    step: step.to_string(),
                    url: git.remote.clone(),
                    expected: sum.clone(),
                    actual: commit,
                });
            }
        }
        commits.push(commit);
    }
    let mut key = KeyWriter::new(if c.add { "add" } else { "copy" });
    key.key(state.parent_key())
        .list(&written)
        .str(&dest)
        .opt_str(chown.as_deref())
        .opt_str(chmod.as_ref().map(ToString::to_string).as_deref())
        .u64(u64::from(c.link))
        .list(exclude)
        .u64(u64::from(c.parents))
        .u64(u64::from(c.unpack));
    for doc in &inline {
        key.str(&doc.name).str(&doc.data);
    }
    if let Some((uid, gid)) = owner {
        key.u64(u64::from(uid)).u64(u64::from(gid));
    }
    for d in &downloads {
        let digest = d.checksum.as_ref().or(d.digest.as_ref());
        key.str("url")
            .str(&d.url)
            .str(&d.rel.to_string_lossy())
            .opt_str(digest.map(ToString::to_string).as_deref())
            .opt_str(d.last_modified.map(|t| t.to_string()).as_deref())
            .u64(u64::from(c.unpack_urls));
    }
    for (git, commit) in gits.iter().zip(&commits) {
        key.str("git")
            .str(&git.remote)
            .str(commit)
            .str(&git.subdir)
            .u64(u64::from(git.keep_git_dir.unwrap_or(false)));
    }
    match (c.from, &named_dir) {
        (_, Some(_)) => key
            .str("named-context")
            .digest(&content_digest(&req, &mut ContextIndex::default())?),
        (Some(f), None) => key.str("from").key(&s.source_key(f)?),
        (None, None) => key.str("context").digest(&content_digest(
            &req,
            &mut crate::solve::lock(&s.shared.index),
        )?),
    };
    let key = key.finish();
    // BuildKit's commit message: flags, sources and the destination as
    // written (expanded).
    let mut words = vec![step.to_string()];
    words.extend(c.parents.then(|| "--parents".to_string()));
    words.extend(chown.map(|c| format!("--chown={c}")));
    words.extend(
        chmod
            .as_ref()
            .map(|c| format!("--chmod={}", c.as_written())),
    );
    words.extend(written.iter().cloned());
    words.extend(inline.iter().map(|d| format!("<<{}", d.name)));
    words.push(written_dest.clone());
    let history = format!("{} # buildkit", words.join(" "));
    let created = s.opts.created.clone();
    if let Some(layer) = s.reuse(state, &key)? {
        state.config.add_history(&created, history, !layer);
        state.key = Some(key);
        return Ok(Ran::Cached);
    }
    let upper = match upper {
        Some(u) => u,
        None => Upper::new(s, step)?,
    };
    copy_into(&req, &upper.path())?;
    if !downloads.is_empty() {
        let dir = upper.scratch_dir("fetched")?;
        for d in &mut downloads {
            d.materialize(step, s.opts.fetcher, s.store.root(), &dir)?;
        }
        let rels: Vec<String> = downloads
            .iter()
            .map(|d| d.rel.to_string_lossy().into_owned())
            .collect();
        let fetched = Layers::new(vec![dir]);
        copy_into(
            &CopyRequest {
                from: &fetched,
                ignore: None,
                sources: &rels,
                context: true,
                exclude: None,
                inline: &[],
                parents: false,
                unpack: c.unpack_urls,
                ..req
            },
            &upper.path(),
        )?;
    }
    for (i, (git, commit)) in gits.iter().zip(&commits).enumerate() {
        let dir = upper.scratch_dir(&format!("git-{i}"))?;
        s.opts
            .fetcher
            .git_checkout(&git.remote, &git.reference, commit, &dir)
            .map_err(|source| Error::Fetch {
                step: step.to_string(),
                url: git.remote.clone(),
                source,
            })?;
        if !git.keep_git_dir.unwrap_or(false) {
            crate::git::drop_git_dir(step, &dir)?;
        }
        let checkout = Layers::new(vec![dir]);
        let src = [git.source()];
        copy_into(
            &CopyRequest {
                from: &checkout,
                ignore: None,
                sources: &src,
                context: true,
                exclude: None,
                inline: &[],
                parents: false,
                unpack: false,
                ..req
            },
            &upper.path(),
        )?;
    }
    let layer = upper.finish(s, state, &key)?;
    state.config.add_history(&created, history, !layer);
    state.key = Some(key);
    Ok(Ran::Executed)
}

/// Heredoc sources with their variables expanded (unless the delimiter
/// was quoted), quotes kept as BuildKit's raw expansion does.
fn inline_sources(state: &StageState, step: &str, docs: &[SourceContent]) -> Result<Vec<Inline>> {
    docs.iter()
        .map(|d| {
            let data = match d.expand {
                true => Lexer::new('\\')
                    .skip_process_quotes(true)
                    .process_word(&d.data, state.scope())
                    .map_err(|source| Error::Expand {
                        step: step.to_string(),
                        word: d.data.clone(),
                        source,
                    })?,
                false => d.data.clone(),
            };
            Ok(Inline {
                name: d.path.clone(),
                data,
            })
        })
        .collect()
}
