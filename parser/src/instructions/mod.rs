//! Stage two: nodes to typed instructions, as BuildKit's
//! `frontend/dockerfile/instructions` package does it. [`parse_dockerfile`]
//! turns a [`Dockerfile`] into a [`ParsedDockerfile`]: the ARGs before the
//! first FROM and one [`Stage`] per FROM, each holding its [`Instruction`]s.
//! [`parse_instruction`] does one node. Values stay as written (no variable
//! expansion, ENV and LABEL quotes kept) because BuildKit expands them only
//! when it runs the step; the builder does that with [`crate::shell`].
//! Every error is an [`InstructionError`] with BuildKit's wording, wrapped in
//! the crate's [`Error`] with the instruction's lines and, for a bad flag, the
//! flag's columns.

mod chmod;
mod commands;
mod copy;
mod csv;
mod duration;
mod flags;
mod from;
mod healthcheck;
mod location;
mod run;
mod run_mount;
mod suggest;

pub use chmod::{Chmod, ChmodError, SymbolicMode};
pub use commands::{
    Arg, ArgDef, Cmd, CommandLine, Entrypoint, Env, Expose, KeyValuePair, Label, Maintainer,
    OnBuild, Shell, StopSignal, User, Volume, Workdir,
};
pub use copy::{parse_chown, Add, Chown, Copy, Owner, SourceContent};
pub use duration::{parse_go_duration, DurationError};
pub use from::{From, StageName};
pub use healthcheck::Healthcheck;
pub use run::{Device, DeviceError, InlineFile, NetworkMode, Run, Security};
pub use run_mount::{CacheSharing, Mount, MountError, MountType, RunMount};
pub use suggest::Suggestion;

use serde::Serialize;

use crate::ast::{Args, Dockerfile, Node, Span};
use crate::error::Error;
use crate::quote::go_quote;
use flags::Flags;
use location::error_at;

/// The instruction keywords BuildKit knows (also for "did you mean" hints).
pub const KEYWORDS: [&str; 18] = [
    "ADD",
    "ARG",
    "CMD",
    "COPY",
    "ENTRYPOINT",
    "ENV",
    "EXPOSE",
    "FROM",
    "HEALTHCHECK",
    "LABEL",
    "MAINTAINER",
    "ONBUILD",
    "RUN",
    "SHELL",
    "STOPSIGNAL",
    "USER",
    "VOLUME",
    "WORKDIR",
];

/// Why a node is not a valid instruction. The texts are BuildKit's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InstructionError {
    #[error("unknown instruction: {name}{suggestion}")]
    UnknownInstruction {
        name: String,
        suggestion: Suggestion,
    },
    #[error("no build stage in current context")]
    NoBuildStage,
    #[error("{0} requires at least one argument")]
    AtLeastOneArgument(&'static str),
    #[error("{0} requires exactly one argument")]
    ExactlyOneArgument(&'static str),
    #[error("{0} requires at least two arguments, but only one was provided. Destination could not be determined")]
    NoDestination(&'static str),
    #[error("{0} cannot accept a heredoc as a destination")]
    HeredocDestination(&'static str),
    #[error("{0} names can not be blank")]
    BlankName(&'static str),
    #[error("{0} requires the arguments to be in JSON form")]
    NotJson(&'static str),
    #[error("FROM requires either one or three arguments")]
    FromArguments,
    #[error("invalid name for build stage: {}, name can't start with a number or contain symbols", go_quote(.0))]
    InvalidStageName(String),
    #[error("Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed")]
    OnBuildChain,
    #[error("{0} isn't allowed as an ONBUILD trigger")]
    OnBuildTrigger(String),
    #[error("VOLUME specified can not be an empty string")]
    EmptyVolume,
    #[error("HEALTHCHECK NONE takes no arguments")]
    HealthcheckNoneArguments,
    #[error("Missing command after HEALTHCHECK CMD")]
    HealthcheckMissingCommand,
    #[error("Unknown type {} in HEALTHCHECK (try CMD)", go_quote(.0))]
    HealthcheckType(String),
    #[error("Interval {} cannot be less than 1ms", go_quote(.0))]
    IntervalTooShort(&'static str),
    #[error(transparent)]
    Duration(#[from] DurationError),
    #[error("strconv.ParseInt: parsing {}: {}", go_quote(.value), if *.out_of_range { "value out of range" } else { "invalid syntax" })]
    InvalidRetries { value: String, out_of_range: bool },
    #[error("--retries cannot be negative ({0})")]
    NegativeRetries(i64),
    #[error("arg should start with -- : {0}")]
    NotAFlag(String),
    #[error("unknown flag: {flag}{suggestion}")]
    UnknownFlag {
        flag: String,
        suggestion: Suggestion,
    },
    #[error("duplicate flag specified: {0}")]
    DuplicateFlag(String),
    #[error("missing a value on flag: {0}")]
    MissingFlagValue(String),
    #[error("expecting boolean value for flag {flag}, not: {value}")]
    NotABool { flag: String, value: String },
    #[error("invalid network mode {}", go_quote(.0))]
    InvalidNetwork(String),
    #[error("security {} is not valid", go_quote(.0))]
    InvalidSecurity(String),
    #[error(transparent)]
    Mount(#[from] MountError),
    #[error(transparent)]
    Device(#[from] DeviceError),
    #[error(transparent)]
    Chmod(#[from] ChmodError),
}

/// An error while parsing one node, with the flag word it concerns.
#[derive(Debug)]
pub(crate) struct Failure {
    pub(crate) error: InstructionError,
    /// Index into the node's flag words.
    pub(crate) flag: Option<usize>,
}

impl Failure {
    pub(crate) fn at_flag(error: impl Into<InstructionError>, flag: usize) -> Self {
        Failure {
            error: error.into(),
            flag: Some(flag),
        }
    }

    pub(crate) fn near(error: impl Into<InstructionError>, flag: Option<usize>) -> Self {
        Failure {
            error: error.into(),
            flag,
        }
    }
}

impl<E: Into<InstructionError>> std::convert::From<E> for Failure {
    fn from(error: E) -> Self {
        Failure {
            error: error.into(),
            flag: None,
        }
    }
}

/// One typed instruction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum Instruction {
    From(From),
    Run(Run),
    Cmd(Cmd),
    Entrypoint(Entrypoint),
    Shell(Shell),
    Copy(Copy),
    Add(Add),
    Env(Env),
    Label(Label),
    Arg(Arg),
    Expose(Expose),
    Volume(Volume),
    User(User),
    Workdir(Workdir),
    Healthcheck(Healthcheck),
    StopSignal(StopSignal),
    OnBuild(OnBuild),
    Maintainer(Maintainer),
}

macro_rules! each_instruction {
    ($self:expr, $i:ident => $body:expr) => {
        match $self {
            Instruction::From($i) => $body,
            Instruction::Run($i) => $body,
            Instruction::Cmd($i) => $body,
            Instruction::Entrypoint($i) => $body,
            Instruction::Shell($i) => $body,
            Instruction::Copy($i) => $body,
            Instruction::Add($i) => $body,
            Instruction::Env($i) => $body,
            Instruction::Label($i) => $body,
            Instruction::Arg($i) => $body,
            Instruction::Expose($i) => $body,
            Instruction::Volume($i) => $body,
            Instruction::User($i) => $body,
            Instruction::Workdir($i) => $body,
            Instruction::Healthcheck($i) => $body,
            Instruction::StopSignal($i) => $body,
            Instruction::OnBuild($i) => $body,
            Instruction::Maintainer($i) => $body,
        }
    };
}

impl Instruction {
    /// The lines of the instruction (heredoc bodies included).
    pub fn span(&self) -> Span {
        each_instruction!(self, i => i.span)
    }

    /// The keyword exactly as written (`RUN`, `run`, `Run`, ...).
    pub fn keyword(&self) -> &str {
        each_instruction!(self, i => &i.keyword)
    }
}

/// A build stage: a FROM and the instructions up to the next FROM.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Stage {
    /// The `AS` name, lower-cased.
    pub name: Option<StageName>,
    /// The base image or stage, as written (variables unexpanded).
    pub base: String,
    /// `--platform`, as written.
    pub platform: Option<String>,
    /// The FROM instruction itself.
    pub from: From,
    pub instructions: Vec<Instruction>,
    /// The lines of the FROM instruction.
    pub span: Span,
    /// The comment lines right above the FROM.
    pub comments: Vec<String>,
    /// The description from a comment `# <name> <description>` above the FROM.
    pub doc_comment: Option<String>,
}

/// A whole Dockerfile in typed form.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ParsedDockerfile {
    /// The ARG instructions before the first FROM.
    pub meta_args: Vec<Arg>,
    pub stages: Vec<Stage>,
    /// The escape token in force.
    pub escape: char,
}

impl ParsedDockerfile {
    /// The stage of that name (case-insensitive) and its index.
    pub fn stage(&self, name: &str) -> Option<(usize, &Stage)> {
        let name = name.to_lowercase();
        self.stages
            .iter()
            .enumerate()
            .find(|(_, s)| s.name.as_ref().is_some_and(|n| n.as_str() == name))
    }

    /// The build's target stage name (the predefined `TARGETSTAGE`): `target`
    /// when given, else the last stage's name, else empty.
    pub fn target_name(&self, target: Option<&str>) -> String {
        target
            .map(str::to_string)
            .or_else(|| {
                let last = self.stages.last()?;
                last.name.as_ref().map(|n| n.as_str().to_string())
            })
            .unwrap_or_default()
    }
}

/// Turns the nodes of a Dockerfile into stages of typed instructions
/// (BuildKit's `instructions.Parse`). Only ARG may come before the first FROM.
pub fn parse_dockerfile(df: &Dockerfile) -> Result<ParsedDockerfile, Error> {
    let mut meta_args = Vec::new();
    let mut stages: Vec<Stage> = Vec::new();
    for node in &df.nodes {
        let instruction = parse_instruction(node)?;
        match instruction {
            Instruction::Arg(arg) if stages.is_empty() => meta_args.push(arg),
            Instruction::From(from) => stages.push(Stage {
                name: from.name.clone(),
                base: from.base.clone(),
                platform: from.platform.clone(),
                span: from.span,
                comments: node.comments.clone(),
                doc_comment: from
                    .name
                    .as_ref()
                    .and_then(|n| doc_comment(&node.comments, n.as_str())),
                from,
                instructions: Vec::new(),
            }),
            other => match stages.last_mut() {
                Some(stage) => stage.instructions.push(other),
                None => {
                    return Err(error_at(
                        node,
                        Failure::from(InstructionError::NoBuildStage),
                    ))
                }
            },
        }
    }
    Ok(ParsedDockerfile {
        meta_args,
        stages,
        escape: df.escape,
    })
}

/// Turns one node into a typed instruction (BuildKit's `ParseInstruction`).
pub fn parse_instruction(node: &Node) -> Result<Instruction, Error> {
    dispatch(node).map_err(|failure| error_at(node, failure))
}

fn dispatch(node: &Node) -> Result<Instruction, Failure> {
    let req = Request::new(node);
    Ok(match node.name().as_str() {
        "env" => Instruction::Env(commands::parse_env(req)?),
        "maintainer" => Instruction::Maintainer(commands::parse_maintainer(req)?),
        "label" => Instruction::Label(commands::parse_label(req)?),
        "add" => Instruction::Add(copy::parse_add(req)?),
        "copy" => Instruction::Copy(copy::parse_copy(req)?),
        "from" => Instruction::From(from::parse_from(req)?),
        "onbuild" => Instruction::OnBuild(commands::parse_onbuild(req)?),
        "workdir" => Instruction::Workdir(commands::parse_workdir(req)?),
        "run" => Instruction::Run(run::parse_run(req)?),
        "cmd" => Instruction::Cmd(commands::parse_cmd(req)?),
        "healthcheck" => Instruction::Healthcheck(healthcheck::parse_healthcheck(req)?),
        "entrypoint" => Instruction::Entrypoint(commands::parse_entrypoint(req)?),
        "expose" => Instruction::Expose(commands::parse_expose(req)?),
        "user" => Instruction::User(commands::parse_user(req)?),
        "volume" => Instruction::Volume(commands::parse_volume(req)?),
        "stopsignal" => Instruction::StopSignal(commands::parse_stopsignal(req)?),
        "arg" => Instruction::Arg(commands::parse_arg(req)?),
        "shell" => Instruction::Shell(commands::parse_shell(req)?),
        _ => {
            return Err(InstructionError::UnknownInstruction {
                name: node.keyword.clone(),
                suggestion: Suggestion::search(&node.keyword, &KEYWORDS, false),
            }
            .into())
        }
    })
}

/// One node on its way to an instruction: its arguments flattened as
/// BuildKit's `nodeArgs` does, and its flags to be declared and matched.
pub(crate) struct Request<'a> {
    pub(crate) node: &'a Node,
    pub(crate) args: Vec<String>,
    /// The exec (JSON array) form was used.
    pub(crate) json: bool,
    pub(crate) flags: Flags<'a>,
}

impl<'a> Request<'a> {
    fn new(node: &'a Node) -> Self {
        Request {
            node,
            args: flat_args(&node.args),
            json: node.is_json(),
            flags: Flags::new(&node.flags),
        }
    }

    pub(crate) fn keyword(&self) -> String {
        self.node.keyword.clone()
    }

    pub(crate) fn span(&self) -> Span {
        self.node.span
    }
}

fn flat_args(args: &Args) -> Vec<String> {
    match args {
        Args::Empty | Args::Unknown => Vec::new(),
        Args::Text(s) => vec![s.clone()],
        Args::Words(w) | Args::Json(w) => w.clone(),
        Args::Pairs(pairs) => pairs
            .iter()
            .flat_map(|kv| {
                let sep = if kv.legacy { "" } else { "=" };
                [kv.key.clone(), kv.value.clone(), sep.to_string()]
            })
            .collect(),
        Args::Healthcheck { kind, command } => std::iter::once(kind.clone())
            .chain(flat_args(command))
            .collect(),
        Args::SubCommand(inner) => std::iter::once(inner.name())
            .chain(flat_args(&inner.args))
            .collect(),
    }
}

/// The rest of the first comment line that starts with `name` and a space.
pub(crate) fn doc_comment(comments: &[String], name: &str) -> Option<String> {
    if name.is_empty() {
        return None;
    }
    let prefix = format!("{name} ");
    comments
        .iter()
        .find_map(|c| c.strip_prefix(&prefix))
        .filter(|rest| !rest.is_empty())
        .map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn first_error(src: &str) -> Error {
        let df = crate::parse(src.as_bytes()).unwrap();
        parse_dockerfile(&df).unwrap_err()
    }

    #[test]
    fn nothing_but_arg_before_from() {
        let e = first_error("ARG A\nRUN true\nFROM a\n");
        assert_eq!(e.kind.to_string(), "no build stage in current context");
        assert_eq!(e.span, Span::at(2, 0, 3));
    }

    #[test]
    fn doc_comments() {
        let c = vec!["base is the base".to_string(), "other".to_string()];
        assert_eq!(doc_comment(&c, "base").as_deref(), Some("is the base"));
        assert_eq!(doc_comment(&c, "oth"), None);
        assert_eq!(doc_comment(&c, ""), None);
    }
}
