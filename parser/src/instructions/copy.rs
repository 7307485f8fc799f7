//! COPY and ADD: sources and destination (heredoc sources become inline
//! [`SourceContent`]s, as BuildKit's `SourcesAndDest` does), and their flags:
//! `--from`, `--chown`, `--chmod` (checked, see [`super::Chmod`]), `--link`,
//! `--parents`, `--exclude`; for ADD `--checksum`, `--keep-git-dir`,
//! `--unpack`. [`parse_chown`] reads a `--chown` value as BuildKit's LLB
//! does.

use serde::Serialize;

use super::chmod::Chmod;
use super::{Failure, InstructionError, Request};
use crate::ast::Span;
use crate::parse_heredoc;

/// A file given inline with a heredoc (`COPY <<EOF /dest`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SourceContent {
    /// The heredoc name, used as the file name.
    pub path: String,
    /// The body, leading tabs removed for `<<-`.
    pub data: String,
    /// Whether variables in the body are expanded (unquoted delimiter).
    pub expand: bool,
}

/// `COPY [flags] <src>... <dest>`
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Copy {
    pub keyword: String,
    pub span: Span,
    /// Source paths as written.
    pub sources: Vec<String>,
    /// Heredoc sources.
    pub contents: Vec<SourceContent>,
    pub dest: String,
    /// `--from`: a stage name, index or image.
    pub from: Option<String>,
    /// `--chown` as written (see [`parse_chown`]).
    pub chown: Option<String>,
    pub chmod: Option<Chmod>,
    pub link: bool,
    pub parents: bool,
    /// `--exclude` patterns, in order.
    pub exclude: Vec<String>,
}

/// `ADD [flags] <src>... <dest>`
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Add {
    pub keyword: String,
    pub span: Span,
    pub sources: Vec<String>,
    pub contents: Vec<SourceContent>,
    pub dest: String,
    pub chown: Option<String>,
    pub chmod: Option<Chmod>,
    pub link: bool,
    pub exclude: Vec<String>,
    /// `--keep-git-dir`, when given.
    pub keep_git_dir: Option<bool>,
    /// `--checksum` as written.
    pub checksum: Option<String>,
    /// `--unpack`, when given.
    pub unpack: Option<bool>,
}

/// A user or group of `--chown`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum Owner {
    /// A numeric id (`root` counts as 0).
    Id(i32),
    Name(String),
}

/// A `--chown` value: `user[:group]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Chown {
    pub user: Owner,
    pub group: Option<Owner>,
}

/// Reads an (expanded) `--chown` value as BuildKit's LLB does: split at the
/// first `:`; each part is an id when it is `root` or a 32-bit integer,
/// otherwise a name. Never fails.
pub fn parse_chown(value: &str) -> Chown {
    let owner = |s: &str| {
        if s == "root" {
            return Owner::Id(0);
        }
        match parse_go_int32(s) {
            Some(id) => Owner::Id(id),
            None => Owner::Name(s.to_string()),
        }
    };
    match value.split_once(':') {
        Some((user, group)) => Chown {
            user: owner(user),
            group: Some(owner(group)),
        },
        None => Chown {
            user: owner(value),
            group: None,
        },
    }
}

/// Go's `strconv.ParseInt(s, 10, 32)` when it succeeds.
fn parse_go_int32(s: &str) -> Option<i32> {
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// The parts common to COPY and ADD.
struct Files {
    sources: Vec<String>,
    contents: Vec<SourceContent>,
    dest: String,
}

fn files(req: &Request<'_>, what: &'static str) -> Result<Files, Failure> {
    let (dest, sources) = req
        .args
        .split_last()
        .ok_or(InstructionError::NoDestination(what))?;
    if heredoc(dest).is_some() {
        return Err(InstructionError::HeredocDestination(what).into());
    }
    let mut out = Files {
        sources: Vec::new(),
        contents: Vec::new(),
        dest: dest.clone(),
    };
    for src in sources {
        let Some(doc) = heredoc(src) else {
            out.sources.push(src.clone());
            continue;
        };
        // As BuildKit's lookup map: the last body of that name wins, and a
        // name without body (exec form) gives an empty file.
        let body = req
            .node
            .heredocs
            .iter()
            .rev()
            .find(|h| h.name == doc.name)
            .map_or("", |h| h.content.as_str());
        out.contents.push(SourceContent {
            path: doc.name,
            data: if doc.chomp {
                chomp(body)
            } else {
                body.to_string()
            },
            expand: doc.expand,
        });
    }
    Ok(out)
}

fn heredoc(word: &str) -> Option<crate::Heredoc> {
    parse_heredoc(word).ok().flatten()
}

/// Removes the tabs at the start of every line.
fn chomp(body: &str) -> String {
    body.split_inclusive('\n')
        .map(|line| line.trim_start_matches('\t'))
        .collect()
}

fn chmod(req: &Request<'_>) -> Result<Option<Chmod>, Failure> {
    Chmod::from_flag(req.flags.string("chmod"))
        .map_err(|e| Failure::near(e, req.flags.word_index("chmod", None)))
}

pub(crate) fn parse_copy(mut req: Request<'_>) -> Result<Copy, Failure> {
    if req.args.len() < 2 {
        return Err(InstructionError::NoDestination("COPY").into());
    }
    req.flags.add_string("chown", "");
    req.flags.add_string("from", "");
    req.flags.add_string("chmod", "");
    req.flags.add_bool("link");
    req.flags.add_strings("exclude");
    req.flags.add_bool("parents");
    req.flags.parse()?;
    let files = files(&req, "COPY")?;
    Ok(Copy {
        keyword: req.keyword(),
        span: req.span(),
        sources: files.sources,
        contents: files.contents,
        dest: files.dest,
        from: req.flags.non_empty("from"),
        chown: req.flags.non_empty("chown"),
        chmod: chmod(&req)?,
        link: req.flags.bool("link"),
        parents: req.flags.bool("parents"),
        exclude: req.flags.strings("exclude").to_vec(),
    })
}

pub(crate) fn parse_add(mut req: Request<'_>) -> Result<Add, Failure> {
    if req.args.len() < 2 {
        return Err(InstructionError::NoDestination("ADD").into());
    }
    req.flags.add_string("chown", "");
    req.flags.add_string("chmod", "");
    req.flags.add_bool("link");
    req.flags.add_bool("keep-git-dir");
    req.flags.add_string("checksum", "");
    req.flags.add_bool("unpack");
    req.flags.add_strings("exclude");
    req.flags.parse()?;
    let files = files(&req, "ADD")?;
    Ok(Add {
        keyword: req.keyword(),
        span: req.span(),
        sources: files.sources,
        contents: files.contents,
        dest: files.dest,
        chown: req.flags.non_empty("chown"),
        chmod: chmod(&req)?,
        link: req.flags.bool("link"),
        exclude: req.flags.strings("exclude").to_vec(),
        keep_git_dir: req.flags.bool_if_used("keep-git-dir"),
        checksum: req.flags.non_empty("checksum"),
        unpack: req.flags.bool_if_used("unpack"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chown_values() {
        let c = parse_chown("root:staff");
        assert_eq!(c.user, Owner::Id(0));
        assert_eq!(c.group, Some(Owner::Name("staff".into())));
        let c = parse_chown("1000:+5:x");
        assert_eq!(c.user, Owner::Id(1000));
        assert_eq!(c.group, Some(Owner::Name("+5:x".into())));
        assert_eq!(parse_chown("-1").user, Owner::Id(-1));
        assert_eq!(
            parse_chown("4294967296").user,
            Owner::Name("4294967296".into())
        );
        assert_eq!(parse_chown("").user, Owner::Name(String::new()));
    }

    #[test]
    fn chomping() {
        assert_eq!(chomp("\t\ta\n\tb\n c\n"), "a\nb\n c\n");
        assert_eq!(chomp(""), "");
    }
}
