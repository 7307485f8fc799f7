//! The checks BuildKit makes before its dry run: while it reads each
//! instruction (MaintainerDeprecated, StageNameCasing, FromAsCasing,
//! InvalidDefinitionDescription), then over the stages as a whole
//! (ReservedStageName, DuplicateStageName, ConsistentInstructionCasing).

use std::collections::BTreeSet;

use super::eval::Linter;
use super::rules::{msg, Rule};
use crate::ast::{Dockerfile, Node};
use crate::error::Error;
use crate::instructions::{self, Instruction, ParsedDockerfile};

/// Reads every instruction in order, running the checks that go with
/// reading it; stops at the first that cannot be read, so the findings
/// before it are kept, as BuildKit keeps them.
pub(super) fn instruction_checks(df: &Dockerfile, lint: &mut Linter) -> Result<(), Error> {
    for node in &df.nodes {
        let span = node.span;
        match node.name().as_str() {
            "maintainer" => lint.at(
                &node.comments,
                Rule::MaintainerDeprecated,
                span,
                msg::MAINTAINER.into(),
            ),
            "from" => from_casing(node, lint),
            _ => {}
        }
        let ins = instructions::parse_instruction(node)?;
        match &ins {
            Instruction::From(from) => {
                if let Some(name) = &from.name {
                    description_check("FROM", &[name.as_str().to_string()], node, lint);
                }
            }
            Instruction::Arg(arg) => {
                let keys: Vec<String> = arg.args.iter().map(|d| d.key.clone()).collect();
                description_check("ARG", &keys, node, lint);
            }
            _ => {}
        }
    }
    Ok(())
}

/// StageNameCasing and FromAsCasing, from the words as written.
fn from_casing(node: &Node, lint: &mut Linter) {
    let span = node.span;
    let args = node.values();
    if args.len() == 3 && args[2] != args[2].to_lowercase() {
        lint.at(
            &node.comments,
            Rule::StageNameCasing,
            span,
            msg::stage_name_casing(&args[2]),
        );
    }
    let cmd = &node.keyword;
    let (lower, upper) = (*cmd == cmd.to_lowercase(), *cmd == cmd.to_uppercase());
    if args.len() >= 3 && (lower || upper) {
        let as_ok = if lower {
            args[1] == args[1].to_lowercase()
        } else {
            args[1] == args[1].to_uppercase()
        };
        if !as_ok {
            lint.at(
                &node.comments,
                Rule::FromAsCasing,
                span,
                msg::from_as_casing(cmd, &args[1]),
            );
        }
    }
}

/// InvalidDefinitionDescription: the comment right above a named stage or
/// an ARG should start with the name it describes.
fn description_check(instruction: &str, keys: &[String], node: &Node, lint: &mut Linter) {
    let Some(last) = node.comments.last() else {
        return;
    };
    if keys.is_empty() {
        return;
    }
    let first_word = last.split(' ').next().unwrap_or("");
    if keys.iter().any(|k| k == first_word) {
        return;
    }
    let example = if keys.len() > 1 {
        "<arg_key>"
    } else {
        keys[0].as_str()
    };
    lint.at(
        &node.comments,
        Rule::InvalidDefinitionDescription,
        node.span,
        msg::invalid_description(instruction, example),
    );
}

pub(super) fn stage_name_checks(parsed: &ParsedDockerfile, lint: &mut Linter) {
    let config = lint.config.clone();
    let mut seen = BTreeSet::new();
    for st in &parsed.stages {
        let Some(name) = &st.name else { continue };
        let name = name.as_str();
        if name == "context" || name == "scratch" {
            lint.run(
                &config,
                Rule::ReservedStageName,
                st.span,
                msg::reserved_stage_name(name),
            );
        }
        if !seen.insert(name.to_string()) {
            lint.run(
                &config,
                Rule::DuplicateStageName,
                st.span,
                msg::duplicate_stage_name(name),
            );
        }
    }
}

/// ConsistentInstructionCasing: every keyword against the casing of the
/// majority of the keywords that are all lower or all upper case.
pub(super) fn casing_checks(parsed: &ParsedDockerfile, lint: &mut Linter) {
    let config = lint.config.clone();
    let consistent = |s: &str| s == s.to_lowercase() || s == s.to_uppercase();
    let all = || {
        parsed.stages.iter().flat_map(|st| {
            std::iter::once((st.from.keyword.as_str(), st.span))
                .chain(st.instructions.iter().map(|i| (i.keyword(), i.span())))
        })
    };
    let (mut lower, mut upper) = (0, 0);
    for (k, _) in all() {
        if consistent(k) {
            if k == k.to_lowercase() {
                lower += 1;
            } else {
                upper += 1;
            }
        }
    }
    let majority_lower = lower > upper;
    for (k, span) in all() {
        let casing = if majority_lower && k.to_lowercase() != k {
            "lowercase"
        } else if !majority_lower && k.to_uppercase() != k {
            "uppercase"
        } else {
            continue;
        };
        lint.run(
            &config,
            Rule::ConsistentInstructionCasing,
            span,
            msg::consistent_casing(k, casing),
        );
    }
}
