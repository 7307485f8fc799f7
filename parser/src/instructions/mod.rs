//! Stage two: nodes to typed instructions. (Being written.)

/// Why a node is not a valid instruction.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InstructionError {
    #[error("unknown instruction: {0}")]
    UnknownInstruction(String),
}
