//! The syntax tree the first stage produces: one [`Node`] per instruction,
//! with its keyword as written, its flags, its arguments shaped per
//! instruction, its heredocs and the lines it spans. No expansion is done.

use serde::Serialize;

/// A position in the Dockerfile: 1-based line, 0-based byte column (0 when
/// only the line is known).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize)]
pub struct Position {
    pub line: usize,
    pub column: usize,
}

/// A range of the Dockerfile, both ends inclusive lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize)]
pub struct Span {
    pub start: Position,
    pub end: Position,
}

impl Span {
    /// Whole lines `start..=end`.
    pub fn lines(start: usize, end: usize) -> Self {
        Span {
            start: Position {
                line: start,
                column: 0,
            },
            end: Position {
                line: end.max(start),
                column: 0,
            },
        }
    }

    /// A column range on one line.
    pub fn at(line: usize, column: usize, end_column: usize) -> Self {
        Span {
            start: Position { line, column },
            end: Position {
                line,
                column: end_column,
            },
        }
    }
}

/// A parser directive from the top of the file (`# syntax=`, `# escape=`,
/// `# check=`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Directive {
    /// Lower-cased name.
    pub name: String,
    pub value: String,
    pub line: usize,
}

/// A heredoc attached to an instruction (`<<EOF` .. `EOF`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Heredoc {
    /// The delimiter, unquoted.
    pub name: String,
    /// The digits before `<<`, 0 when none.
    pub file_descriptor: u64,
    /// Whether variables in the body are expanded (the delimiter was not quoted).
    pub expand: bool,
    /// Whether leading tabs are removed (`<<-`).
    pub chomp: bool,
    /// The body exactly as in the file, each line with its line ending.
    pub content: String,
}

/// One `key=value` (or legacy `key value`) pair of ENV or LABEL. Quotes and
/// escapes are still in place; the instruction stage removes them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KeyValue {
    pub key: String,
    pub value: String,
    /// `ENV key value` rather than `ENV key=value`.
    pub legacy: bool,
}

/// The arguments of an instruction, shaped as BuildKit's parser shapes them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum Args {
    /// No arguments at all.
    Empty,
    /// The whole argument text as one string (shell form of RUN, CMD, ... and
    /// the single-string instructions such as USER or WORKDIR).
    Text(String),
    /// Whitespace- or quote-aware words (FROM, EXPOSE, COPY, ADD, VOLUME, ARG).
    Words(Vec<String>),
    /// The exec (JSON array) form.
    Json(Vec<String>),
    /// ENV and LABEL pairs.
    Pairs(Vec<KeyValue>),
    /// HEALTHCHECK: the type word (`CMD`, `NONE`) and the command after it.
    Healthcheck { kind: String, command: Box<Args> },
    /// ONBUILD: the instruction it wraps.
    SubCommand(Box<Node>),
    /// An unknown keyword: the parser keeps the line, later stages reject it.
    Unknown,
}

/// One instruction of the Dockerfile.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Node {
    /// The keyword exactly as written (`FROM`, `from`, ...).
    pub keyword: String,
    /// Leading `--name[=value]` words, quotes and escapes processed.
    pub flags: Vec<String>,
    pub args: Args,
    pub heredocs: Vec<Heredoc>,
    /// The logical line: continuation lines joined, escape tokens removed.
    pub original: String,
    pub span: Span,
    /// The comment lines right above the instruction, `#` removed.
    pub comments: Vec<String>,
}

impl Node {
    /// The keyword lower-cased (by Unicode rules, as Go's `strings.ToLower`),
    /// which is how instructions are dispatched.
    pub fn name(&self) -> String {
        self.keyword.to_lowercase()
    }

    /// Whether the arguments (of the wrapped instruction, for ONBUILD) are in
    /// exec form.
    pub fn is_json(&self) -> bool {
        match &self.args {
            Args::Json(_) => true,
            Args::Healthcheck { command, .. } => matches!(**command, Args::Json(_)),
            Args::SubCommand(inner) => inner.is_json(),
            _ => false,
        }
    }

    /// The flat list of argument strings BuildKit's AST holds (without the
    /// ENV/LABEL separators), as the conformance JSON shows it.
    pub fn values(&self) -> Vec<String> {
        match &self.args {
            Args::Empty => Vec::new(),
            Args::Text(s) => vec![s.clone()],
            Args::Words(w) | Args::Json(w) => w.clone(),
            Args::Pairs(p) => p
                .iter()
                .flat_map(|kv| [kv.key.clone(), kv.value.clone()])
                .collect(),
            Args::Healthcheck { kind, command } => {
                let inner = Node {
                    args: (**command).clone(),
                    ..self.clone()
                };
                std::iter::once(kind.clone())
                    .chain(inner.values())
                    .collect()
            }
            Args::SubCommand(inner) => match &inner.args {
                // BuildKit's nested ONBUILD node holds one empty value.
                Args::SubCommand(_) => vec![String::new()],
                _ => inner.values(),
            },
            Args::Unknown => vec![String::new()],
        }
    }

    /// The wrapped instruction of an ONBUILD.
    pub fn sub_command(&self) -> Option<&Node> {
        match &self.args {
            Args::SubCommand(inner) => Some(inner),
            _ => None,
        }
    }
}

/// A warning found while parsing (BuildKit warns about empty continuation
/// lines).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ParseWarning {
    pub message: String,
    pub span: Span,
}

/// The parsed Dockerfile.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Dockerfile {
    pub directives: Vec<Directive>,
    /// The escape token in force (`\` or `` ` ``).
    pub escape: char,
    pub nodes: Vec<Node>,
    pub warnings: Vec<ParseWarning>,
}

impl Dockerfile {
    /// The value of a directive, by lower-case name.
    pub fn directive(&self, name: &str) -> Option<&Directive> {
        self.directives.iter().find(|d| d.name == name)
    }
}
