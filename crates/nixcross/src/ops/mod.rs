//! Operations: one module per command that computes something. Each takes an
//! options struct and returns text, planned edits or a model; none touches a
//! file.

pub mod add_builder;
pub mod add_overlay;
pub(crate) mod editor;
pub(crate) mod editor_old;
pub mod emulate;
pub mod init;
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

/// Planned edits for one file, not yet applied: the seam between finding
/// what to change and changing it. Offsets refer to the source it was
/// planned against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub edits: Vec<crate::edit::TextEdit>,
    pub summary: String,
    pub warnings: Vec<String>,
}

impl Plan {
    /// Apply the edits to `src` (the text the plan was made from) once, and
    /// re-parse the result.
    pub fn apply(self, src: &str) -> crate::Result<EditOutcome> {
        let text = crate::edit::apply_checked(src, &self.edits)?;
        Ok(EditOutcome {
            changed: text != src,
            summary: self.summary,
            text,
            warnings: self.warnings,
        })
    }
}
