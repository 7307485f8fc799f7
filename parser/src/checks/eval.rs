//! The entry points of the checks ([`check`], [`lint`], [`CheckOptions`]):
//! which configuration is in force, the checks made while reading the
//! instructions, then a dry run of the build (`stages`, `dispatch`) that
//! follows BuildKit's conversion step by step so each rule fires where
//! BuildKit's fires. Nothing is built or fetched.

use std::collections::{BTreeMap, HashMap};

use super::config::CheckConfig;
use super::parse_checks;
use super::report::{CheckReport, Finding};
use super::rules::{msg, Rule};
use super::stages::Dispatcher;
use crate::ast::{Dockerfile, Span};
use crate::dockerignore::PatternMatcher;
use crate::error::{Error, ErrorKind};
use crate::instructions;
use crate::platform::Platform;

/// Image configuration environments, by image reference: what the checks
/// know of a base image. `None` means unknown (not in the store).
pub type ImageEnvLookup<'a> = &'a dyn Fn(&str) -> Option<Vec<(String, String)>>;

/// What the build would be run with.
#[derive(Clone)]
pub struct CheckOptions<'a> {
    /// `--build-arg` values.
    pub build_args: BTreeMap<String, String>,
    /// `--target`; without one, every stage is checked.
    pub target: Option<String>,
    pub build_platform: Platform,
    /// The target platform (default: the build platform).
    pub target_platform: Option<Platform>,
    /// The context's `.dockerignore` rules, for CopyIgnoredFile.
    pub dockerignore: Option<&'a PatternMatcher>,
    /// The environment of base images. Where it is unknown, UndefinedVar is
    /// not reported for that stage rather than guessed.
    pub image_env: Option<ImageEnvLookup<'a>>,
}

impl std::fmt::Debug for CheckOptions<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CheckOptions")
            .field("build_args", &self.build_args)
            .field("target", &self.target)
            .field("build_platform", &self.build_platform)
            .field("target_platform", &self.target_platform)
            .finish_non_exhaustive()
    }
}

impl Default for CheckOptions<'_> {
    fn default() -> Self {
        CheckOptions {
            build_args: BTreeMap::new(),
            target: None,
            build_platform: Platform::host(),
            target_platform: None,
            dockerignore: None,
            image_env: None,
        }
    }
}

/// The build arg that replaces the `# check=` directive, as in BuildKit.
const CHECK_ARG: &str = "BUILDKIT_DOCKERFILE_CHECK";

/// Runs the build checks on a parsed Dockerfile. Errors are what would stop
/// the build itself (a bad instruction, an undefined target, ...); the
/// findings made before such an error are then dropped (see [`lint`]).
pub fn check(df: &Dockerfile, opts: &CheckOptions<'_>) -> Result<CheckReport, Error> {
    let mut report = lint(df, opts);
    match report.error.take() {
        Some(e) => Err(e),
        None => Ok(report),
    }
}

/// Runs the build checks as BuildKit's lint request does: the report holds
/// the findings made up to the error that would stop the build, and that
/// error.
pub fn lint(df: &Dockerfile, opts: &CheckOptions<'_>) -> CheckReport {
    let config = match check_config(df, opts) {
        Ok(c) => c,
        Err(e) => return CheckReport::failed(e),
    };
    let mut lint = Linter {
        config,
        findings: Vec::new(),
    };
    let error = run_checks(df, opts, &mut lint).err();
    CheckReport {
        findings: lint.findings,
        error_on_findings: lint.config.error,
        error,
    }
}

/// The `BUILDKIT_DOCKERFILE_CHECK` build arg when given, else the directive.
fn check_config(df: &Dockerfile, opts: &CheckOptions<'_>) -> Result<CheckConfig, Error> {
    if let Some(v) = opts.build_args.get(CHECK_ARG) {
        return CheckConfig::parse(v)
            .map_err(|e| Error::new(Span::default(), ErrorKind::CheckConfigArg(e)));
    }
    match df.directive("check") {
        Some(d) => CheckConfig::parse(&d.value)
            .map_err(|e| Error::new(Span::lines(d.line, d.line), ErrorKind::CheckConfig(e))),
        None => Ok(CheckConfig::default()),
    }
}

fn run_checks(df: &Dockerfile, opts: &CheckOptions<'_>, lint: &mut Linter) -> Result<(), Error> {
    let config = lint.config.clone();
    for w in &df.warnings {
        lint.run(
            &config,
            Rule::NoEmptyContinuation,
            w.span,
            msg::EMPTY_CONTINUATION.into(),
        );
    }
    parse_checks::instruction_checks(df, lint)?;
    let parsed = instructions::parse_dockerfile(df)?;
    parse_checks::stage_name_checks(&parsed, lint);
    parse_checks::casing_checks(&parsed, lint);
    let comments: HashMap<usize, &[String]> = df
        .nodes
        .iter()
        .map(|n| (n.span.start.line, n.comments.as_slice()))
        .collect();
    Dispatcher::new(&parsed, opts, &comments, lint)?.run()
}

/// The configuration in force and the findings so far.
pub(super) struct Linter {
    pub(super) config: CheckConfig,
    findings: Vec<Finding>,
}

impl Linter {
    pub(super) fn run(&mut self, config: &CheckConfig, rule: Rule, span: Span, message: String) {
        if config.enabled(rule) {
            self.findings.push(Finding {
                rule,
                message,
                span,
            });
        }
    }

    /// Runs `rule` under the configuration plus the `check=` comment among
    /// `comments`, the comment lines above the instruction.
    pub(super) fn at(&mut self, comments: &[String], rule: Rule, span: Span, message: String) {
        let config = self.config.merged_with_comments(comments);
        self.run(&config, rule, span, message);
    }
}
