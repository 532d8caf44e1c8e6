//! The operations. Each takes source text and options and returns new text
//! (or a model); none of them reads or writes files.

pub mod add_overlay;
pub(crate) mod editor;
pub mod set_target;
pub mod show;

/// The result of an editing operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EditOutcome {
    /// The whole new file (equal to the input when nothing changed).
    pub text: String,
    /// Whether `text` differs from the input.
    pub changed: bool,
    /// One line saying what changed, e.g. "lp4a: cross riscv64-linux from x86_64-linux".
    pub summary: String,
    /// Things the user should know (traps from FACTS.md, guesses made).
    pub warnings: Vec<String>,
}
