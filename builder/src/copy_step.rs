//! COPY and ADD as steps: [`CopyArgs`] unifies the two instructions,
//! [`copy`] expands their words, resolves `--from`, `--chown` (numeric or
//! names from the stage's `/etc/passwd` and `/etc/group`) and `--chmod`,
//! fills a fresh upper dir with [`crate::copy::copy_into`] and packs it.
//! The step's cache key hashes the expanded instruction, the resolved
//! owner and, as its input, the content digest of the selected context
//! files ([`crate::contenthash`]) or the key of the `--from` source.
//! `--exclude`, `--parents`, heredoc sources and the unpacking of local
//! archives by ADD ([`crate::archive`]) are handled by the copy itself;
//! `--link` copies onto an empty file system. ADD of URLs and git
//! repositories, and `--checksum`, are not done yet.

use rdock_parser::dockerignore::PatternMatcher;
use rdock_parser::instructions::{Add, Chmod, Copy, SourceContent};
use rdock_parser::shell::Lexer;

use crate::contenthash::content_digest;
use crate::copy::{copy_into, CopyRequest, Inline};
use crate::error::{Error, Result};
use crate::fsview::{clean, Layers};
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
    unsupported: Option<&'static str>,
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
            unsupported: None,
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
            unsupported: a.checksum.is_some().then_some("ADD --checksum"),
        }
    }
}

fn read_text(view: &Layers, path: &str) -> String {
    view.lookup(&clean(path))
        .and_then(|(p, _)| std::fs::read_to_string(p).ok())
        .unwrap_or_default()
}

/// `--chown` to ids: a name is looked up in the stage's files; a user
/// alone gives its uid as the gid too, as Docker documents.
pub(crate) fn owner(step: &str, view: &Layers, chown: &str) -> Result<(u32, u32)> {
    let passwd = read_text(view, "/etc/passwd");
    let group = read_text(view, "/etc/group");
    let invalid = |e: rdock_runner::Error| Error::InvalidFlag {
        step: step.to_string(),
        reason: format!("unable to convert uid/gid chown string to host mapping: {e}"),
    };
    let (user, grp) = match chown.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (chown, None),
    };
    let uid = rdock_runner::resolve_user(user, &passwd, &group)
        .map_err(invalid)?
        .uid;
    let gid = match grp {
        None => uid,
        Some(g) => {
            rdock_runner::resolve_user(&format!("0:{g}"), &passwd, &group)
                .map_err(invalid)?
                .gid
        }
    };
    Ok((uid, gid))
}

pub(crate) fn copy(s: &mut Solver<'_>, state: &mut StageState, c: CopyArgs<'_>) -> Result<Ran> {
    let step = if c.add { "ADD" } else { "COPY" };
    let unsupported = |what: &str| Error::Unsupported {
        step: step.to_string(),
        what: what.to_string(),
    };
    if let Some(what) = c.unsupported {
        return Err(unsupported(what));
    }
    let mut sources = Vec::new();
    for src in c.sources {
        let src = expand(s, state, step, src)?;
        if c.add && (src.contains("://") || src.starts_with("git@")) {
            return Err(unsupported("ADD of a URL or a git repository"));
        }
        sources.push(src);
    }
    let written_dest = expand(s, state, step, c.dest)?;
    let mut dest = under_workdir(&state.config.workdir, &written_dest);
    if written_dest == "." || written_dest.is_empty() {
        dest.push('/');
    }
    let target = state.view(s.store);
    let chown = match c.chown {
        Some(ch) => Some(expand(s, state, step, ch)?),
        None => None,
    };
    let owner = match &chown {
        Some(ch) => Some(owner(step, &target, ch)?),
        None => None,
    };
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
    let (from, context) = match c.from {
        Some(f) => (s.source_view(f)?, false),
        None => (Layers::new(vec![s.opts.context.clone()]), true),
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
    let scratch = Layers::default();
    let opts = s.opts;
    let req = CopyRequest {
        step,
        from: &from,
        ignore: if context { opts.ignore } else { None },
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
    let mut key = KeyWriter::new(if c.add { "add" } else { "copy" });
    key.key(state.parent_key())
        .list(&sources)
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
    match c.from {
        Some(f) => key.str("from").key(&s.source_key(f)?),
        None => key.str("context").digest(&content_digest(
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
    words.extend(chmod.as_ref().map(|c| format!("--chmod={c}")));
    words.extend(sources.iter().cloned());
    words.extend(inline.iter().map(|d| format!("<<{}", d.name)));
    words.push(written_dest.clone());
    let history = format!("{} # buildkit", words.join(" "));
    let created = s.opts.created.clone();
    if let Some(layer) = s.reuse(state, &key)? {
        state.config.add_history(&created, history, !layer);
        state.key = Some(key);
        return Ok(Ran::Cached);
    }
    let upper = Upper::new(s, step)?;
    copy_into(&req, &upper.path())?;
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
