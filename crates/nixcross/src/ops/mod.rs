//! Operations: each takes the text of a file and options, and returns the
//! edited text (or an error with a range into the input).

pub mod emulate;

/// What an editing operation produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EditOutcome {
    /// The whole file after the edit (the input itself when nothing changed).
    pub text: String,
    /// Whether `text` differs from the input.
    pub changed: bool,
    /// One line saying what changed, e.g. "added aarch64-linux to boot.binfmt.emulatedSystems".
    pub summary: String,
    /// Things the user should know that do not stop the edit.
    pub warnings: Vec<String>,
}
