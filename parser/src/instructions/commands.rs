//! The small instructions: ENV, LABEL, ARG, EXPOSE, VOLUME, USER, WORKDIR,
//! SHELL, STOPSIGNAL, MAINTAINER, CMD, ENTRYPOINT and ONBUILD, with
//! [`CommandLine`] (shell versus exec form) and [`KeyValuePair`]. Values are
//! kept as written: BuildKit removes ENV and LABEL quotes and expands
//! variables only when it runs the step.

use serde::Serialize;

use super::{doc_comment, Failure, InstructionError, Request};
use crate::ast::{Args, Span};

/// A command in shell form or exec form.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum CommandLine {
    /// Shell form: the text is run by the stage's shell (`sh -c` by default).
    Shell(String),
    /// Exec (JSON array) form: run as is.
    Exec(Vec<String>),
}

impl CommandLine {
    /// BuildKit's `handleJSONArgs`: the exec words, or the shell words joined.
    pub(crate) fn from_args(args: &[String], json: bool) -> Self {
        if json {
            CommandLine::Exec(args.to_vec())
        } else {
            CommandLine::Shell(args.join(" "))
        }
    }

    /// Whether the stage's shell goes in front (shell form).
    pub fn prepend_shell(&self) -> bool {
        matches!(self, CommandLine::Shell(_))
    }
}

/// One `key=value` (or legacy `key value`) of ENV or LABEL, quotes kept.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KeyValuePair {
    pub key: String,
    pub value: String,
    /// Written as `key value` (no `=`).
    pub no_delim: bool,
}

/// `ENV key=value ...`
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Env {
    pub keyword: String,
    pub span: Span,
    pub pairs: Vec<KeyValuePair>,
}

/// `LABEL key=value ...`
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Label {
    pub keyword: String,
    pub span: Span,
    pub pairs: Vec<KeyValuePair>,
}

/// One name of an ARG, with its default when given.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ArgDef {
    pub key: String,
    /// The default value as written (quotes kept), `None` for `ARG name`.
    pub value: Option<String>,
    /// The description from a comment `# <key> <description>` above the ARG.
    pub doc_comment: Option<String>,
}

/// `ARG name[=default] ...`
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Arg {
    pub keyword: String,
    pub span: Span,
    pub args: Vec<ArgDef>,
}

/// `EXPOSE port[/proto] ...`
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Expose {
    pub keyword: String,
    pub span: Span,
    /// The ports as written, sorted as BuildKit sorts them (bytewise).
    pub ports: Vec<String>,
}

/// `VOLUME path ...` or `VOLUME ["path", ...]`
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Volume {
    pub keyword: String,
    pub span: Span,
    /// The paths, surrounding blanks removed.
    pub paths: Vec<String>,
}

/// `USER user[:group]`
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct User {
    pub keyword: String,
    pub span: Span,
    pub user: String,
}

/// `WORKDIR path`
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Workdir {
    pub keyword: String,
    pub span: Span,
    pub path: String,
}

/// `SHELL ["executable", "parameters"]`
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Shell {
    pub keyword: String,
    pub span: Span,
    pub shell: Vec<String>,
}

/// `STOPSIGNAL signal`
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StopSignal {
    pub keyword: String,
    pub span: Span,
    pub signal: String,
}

/// `MAINTAINER name` (deprecated)
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Maintainer {
    pub keyword: String,
    pub span: Span,
    pub name: String,
}

/// `CMD command`
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Cmd {
    pub keyword: String,
    pub span: Span,
    pub command: CommandLine,
}

/// `ENTRYPOINT command`
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Entrypoint {
    pub keyword: String,
    pub span: Span,
    pub command: CommandLine,
}

/// `ONBUILD instruction`: kept as text, parsed when an image built on this
/// one runs it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OnBuild {
    pub keyword: String,
    pub span: Span,
    /// The wrapped instruction's keyword, upper-cased.
    pub trigger: String,
    /// The wrapped instruction as written, heredoc bodies appended after a
    /// newline each, followed by their delimiter.
    pub expression: String,
}

fn pairs(req: &Request<'_>, what: &'static str) -> Result<Vec<KeyValuePair>, Failure> {
    let Args::Pairs(kvs) = &req.node.args else {
        return Err(InstructionError::AtLeastOneArgument(what).into());
    };
    if kvs.is_empty() {
        return Err(InstructionError::AtLeastOneArgument(what).into());
    }
    kvs.iter()
        .map(|kv| {
            if kv.key.is_empty() {
                return Err(InstructionError::BlankName(what).into());
            }
            Ok(KeyValuePair {
                key: kv.key.clone(),
                value: kv.value.clone(),
                no_delim: kv.legacy,
            })
        })
        .collect()
}

fn exactly_one(req: &Request<'_>, what: &'static str) -> Result<String, Failure> {
    match req.args.as_slice() {
        [one] => Ok(one.clone()),
        _ => Err(InstructionError::ExactlyOneArgument(what).into()),
    }
}

fn at_least_one(req: &Request<'_>, what: &'static str) -> Result<(), Failure> {
    if req.args.is_empty() {
        return Err(InstructionError::AtLeastOneArgument(what).into());
    }
    Ok(())
}

pub(crate) fn parse_env(mut req: Request<'_>) -> Result<Env, Failure> {
    req.flags.parse()?;
    Ok(Env {
        pairs: pairs(&req, "ENV")?,
        keyword: req.keyword(),
        span: req.span(),
    })
}

pub(crate) fn parse_label(mut req: Request<'_>) -> Result<Label, Failure> {
    req.flags.parse()?;
    Ok(Label {
        pairs: pairs(&req, "LABEL")?,
        keyword: req.keyword(),
        span: req.span(),
    })
}

pub(crate) fn parse_maintainer(mut req: Request<'_>) -> Result<Maintainer, Failure> {
    let name = exactly_one(&req, "MAINTAINER")?;
    req.flags.parse()?;
    Ok(Maintainer {
        keyword: req.keyword(),
        span: req.span(),
        name,
    })
}

pub(crate) fn parse_workdir(mut req: Request<'_>) -> Result<Workdir, Failure> {
    let path = exactly_one(&req, "WORKDIR")?;
    req.flags.parse()?;
    Ok(Workdir {
        keyword: req.keyword(),
        span: req.span(),
        path,
    })
}

pub(crate) fn parse_user(mut req: Request<'_>) -> Result<User, Failure> {
    let user = exactly_one(&req, "USER")?;
    req.flags.parse()?;
    Ok(User {
        keyword: req.keyword(),
        span: req.span(),
        user,
    })
}

/// STOPSIGNAL does not look at its flags at all, as in BuildKit.
pub(crate) fn parse_stopsignal(req: Request<'_>) -> Result<StopSignal, Failure> {
    let signal = exactly_one(&req, "STOPSIGNAL")?;
    Ok(StopSignal {
        keyword: req.keyword(),
        span: req.span(),
        signal,
    })
}

pub(crate) fn parse_cmd(mut req: Request<'_>) -> Result<Cmd, Failure> {
    req.flags.parse()?;
    Ok(Cmd {
        command: CommandLine::from_args(&req.args, req.json),
        keyword: req.keyword(),
        span: req.span(),
    })
}

pub(crate) fn parse_entrypoint(mut req: Request<'_>) -> Result<Entrypoint, Failure> {
    req.flags.parse()?;
    Ok(Entrypoint {
        command: CommandLine::from_args(&req.args, req.json),
        keyword: req.keyword(),
        span: req.span(),
    })
}

pub(crate) fn parse_expose(mut req: Request<'_>) -> Result<Expose, Failure> {
    at_least_one(&req, "EXPOSE")?;
    req.flags.parse()?;
    let mut ports = std::mem::take(&mut req.args);
    ports.sort();
    Ok(Expose {
        keyword: req.keyword(),
        span: req.span(),
        ports,
    })
}

pub(crate) fn parse_volume(mut req: Request<'_>) -> Result<Volume, Failure> {
    at_least_one(&req, "VOLUME")?;
    req.flags.parse()?;
    let paths = req
        .args
        .iter()
        .map(|v| match v.trim() {
            "" => Err(InstructionError::EmptyVolume.into()),
            v => Ok(v.to_string()),
        })
        .collect::<Result<_, Failure>>()?;
    Ok(Volume {
        keyword: req.keyword(),
        span: req.span(),
        paths,
    })
}

/// ARG does not look at its flags at all, as in BuildKit.
pub(crate) fn parse_arg(req: Request<'_>) -> Result<Arg, Failure> {
    at_least_one(&req, "ARG")?;
    let args = req
        .args
        .iter()
        .map(|word| {
            let (key, value) = match word.split_once('=') {
                Some(("", _)) => return Err(InstructionError::BlankName("ARG").into()),
                Some((k, v)) => (k, Some(v.to_string())),
                None => (word.as_str(), None),
            };
            Ok(ArgDef {
                key: key.to_string(),
                value,
                doc_comment: doc_comment(&req.node.comments, key),
            })
        })
        .collect::<Result<_, Failure>>()?;
    Ok(Arg {
        keyword: req.keyword(),
        span: req.span(),
        args,
    })
}

pub(crate) fn parse_shell(mut req: Request<'_>) -> Result<Shell, Failure> {
    req.flags.parse()?;
    if req.args.is_empty() {
        return Err(InstructionError::AtLeastOneArgument("SHELL").into());
    }
    if !req.json {
        return Err(InstructionError::NotJson("SHELL").into());
    }
    Ok(Shell {
        keyword: req.keyword(),
        span: req.span(),
        shell: std::mem::take(&mut req.args),
    })
}

pub(crate) fn parse_onbuild(mut req: Request<'_>) -> Result<OnBuild, Failure> {
    at_least_one(&req, "ONBUILD")?;
    req.flags.parse()?;
    let trigger = req.args[0].trim().to_uppercase();
    match trigger.as_str() {
        "ONBUILD" => return Err(InstructionError::OnBuildChain.into()),
        "MAINTAINER" | "FROM" => return Err(InstructionError::OnBuildTrigger(trigger).into()),
        _ => {}
    }
    let mut expression = strip_onbuild(&req.node.original).to_string();
    for heredoc in &req.node.heredocs {
        expression.push('\n');
        expression.push_str(&heredoc.content);
        expression.push_str(&heredoc.name);
    }
    Ok(OnBuild {
        keyword: req.keyword(),
        span: req.span(),
        trigger,
        expression,
    })
}

/// Removes a leading `ONBUILD` (any case) and the blanks around it.
fn strip_onbuild(line: &str) -> &str {
    let is_blank = |c: char| matches!(c, '\t' | '\n' | '\x0c' | '\r' | ' ');
    let rest = line.trim_start_matches(is_blank);
    match rest.get(..7) {
        Some(word) if word.eq_ignore_ascii_case("onbuild") => {
            rest[7..].trim_start_matches(is_blank)
        }
        _ => line,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn onbuild_prefix() {
        assert_eq!(strip_onbuild("ONBUILD RUN x"), "RUN x");
        assert_eq!(strip_onbuild("  onBuild\tCOPY a b"), "COPY a b");
        assert_eq!(strip_onbuild("ONBUILDRUN"), "RUN");
        assert_eq!(strip_onbuild("ONBUIL"), "ONBUIL");
    }

    #[test]
    fn command_lines() {
        let words = vec!["a".to_string(), "b".to_string()];
        assert_eq!(
            CommandLine::from_args(&words, false),
            CommandLine::Shell("a b".into())
        );
        assert!(!CommandLine::from_args(&words, true).prepend_shell());
    }
}
