//! `--build-context NAME=DIR` in the solver: [`context_base`] makes the
//! directory the first layer of a stage (`FROM NAME`, and what
//! `RUN --mount from=NAME` mounts), and
//! [`context_ignore`] reads its own `.dockerignore`, which BuildKit
//! applies to a named local context as to the main one. `COPY --from=NAME`
//! is in [`crate::copy_step`].

use std::path::Path;

use rdock_parser::dockerignore::PatternMatcher;

use crate::contenthash::{content_digest, ContextIndex};
use crate::copy::{copy_into, CopyRequest};
use crate::error::Result;
use crate::fsview::Layers;
use crate::key::KeyWriter;
use crate::snapshot::Upper;
use crate::solve::{Ran, Solver, StageState};

/// The `.dockerignore` rules of a named context directory (BuildKit
/// applies them as it does the main context's).
pub(crate) fn context_ignore(dir: &Path) -> Result<Option<PatternMatcher>> {
    let path = dir.join(".dockerignore");
    match std::fs::read_to_string(&path) {
        Ok(text) => {
            let patterns = rdock_parser::dockerignore::read_patterns(&text);
            Ok(Some(PatternMatcher::new(&patterns)?))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(crate::copy::io_err("FROM", "reading", &path)(e)),
    }
}

/// A request copying all of `dir` to `/`, files owned by root.
fn whole_dir<'a>(
    step: &'a str,
    from: &'a Layers,
    target: &'a Layers,
    ignore: Option<&'a PatternMatcher>,
) -> CopyRequest<'a> {
    const ALL: &[String] = &[];
    CopyRequest {
        step,
        from,
        ignore,
        sources: ALL,
        dest: "/",
        owner: None,
        context: true,
        chmod: None,
        target,
        exclude: None,
        inline: &[],
        parents: false,
        unpack: false,
    }
}

/// `FROM NAME` where `--build-context NAME=DIR`: the directory's files
/// become the stage's first layer (cached by their content digest).
pub(crate) fn context_base(
    s: &mut Solver<'_>,
    state: &mut StageState,
    name: &str,
    dir: &Path,
) -> Result<Ran> {
    let from = Layers::new(vec![dir.to_path_buf()]);
    let target = Layers::default();
    let all = [".".to_string()];
    let ignore = context_ignore(dir)?;
    let req = CopyRequest {
        sources: &all,
        ..whole_dir("FROM", &from, &target, ignore.as_ref())
    };
    let digest = content_digest(&req, &mut ContextIndex::default())?;
    let key = KeyWriter::new("named-context")
        .key(state.parent_key())
        .digest(&digest)
        .finish();
    let created = s.opts.created.clone();
    let history = format!("FROM context {name}");
    if let Some(layer) = s.reuse(state, &key)? {
        state.config.add_history(&created, history, !layer);
        state.key = Some(key);
        return Ok(Ran::Cached);
    }
    let upper = Upper::new(s, "FROM")?;
    copy_into(&req, &upper.path())?;
    let layer = upper.finish(s, state, &key)?;
    state.config.add_history(&created, history, !layer);
    state.key = Some(key);
    Ok(Ran::Executed)
}
