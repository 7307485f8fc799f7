//! ONBUILD triggers: [`parse`] turns a base's trigger expressions into
//! instructions (a stage built on it runs them first), [`stage_triggers`]
//! gives the triggers a stage leaves to the stages built on it, so that
//! planning sees the stages and images they read (`COPY --from`, mount
//! `from=`), as BuildKit adds them to the build graph.

use rdock_parser::instructions::{parse_instruction, Instruction, Stage};

use crate::error::{Error, Result};

/// Parses ONBUILD trigger expressions into instructions.
pub(crate) fn parse(expressions: Vec<String>) -> Result<Vec<(String, Instruction)>> {
    expressions
        .into_iter()
        .map(|expression| {
            let invalid = |reason: String| Error::InvalidTrigger {
                expression: expression.clone(),
                reason,
            };
            let df =
                rdock_parser::parse(expression.as_bytes()).map_err(|e| invalid(e.to_string()))?;
            let node = df.nodes.first().ok_or_else(|| invalid("empty".into()))?;
            let ins = parse_instruction(node).map_err(|e| invalid(e.to_string()))?;
            if matches!(ins, Instruction::From(_) | Instruction::OnBuild(_)) {
                return Err(invalid(format!(
                    "{} isn't allowed as an ONBUILD trigger",
                    ins.keyword()
                )));
            }
            Ok((expression, ins))
        })
        .collect()
}

/// The triggers a stage records with its ONBUILD instructions; those that
/// do not parse are left for the build to report when it runs them.
pub(crate) fn stage_triggers(stage: &Stage) -> Vec<Instruction> {
    let expressions: Vec<String> = stage
        .instructions
        .iter()
        .filter_map(|i| match i {
            Instruction::OnBuild(o) => Some(o.expression.clone()),
            _ => None,
        })
        .collect();
    expressions
        .into_iter()
        .filter_map(|e| parse(vec![e]).ok())
        .flatten()
        .map(|(_, ins)| ins)
        .collect()
}
