//! How `nixcross` ends: one exit status per meaning, the same in every
//! command (README, "Exit codes"; each man page's EXIT STATUS says what
//! they mean for that command). No exit number is written anywhere else.

/// The exit status of the process.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Exit {
    /// 0: done. An edit is written, already up to date, or shown (`--dry-run`);
    /// a check holds (`--check` finds nothing to change, `doctor` can build
    /// every `--target` here); help and version were printed; stdout was
    /// closed by its reader.
    #[default]
    Success = 0,
    /// 1: the command ran, and what it checks does not hold: under
    /// `--check`, something would change; under `--verify`, nix disagrees
    /// with the edit (nothing is written); `doctor` cannot build a
    /// `--target` here yet.
    CheckFailed = 1,
    /// 2: an error: bad arguments or input, a file that does not parse or
    /// cannot be read or written, an edit nixcross refuses, a nix that
    /// cannot answer `--verify`, stdout that cannot be written. Nothing was
    /// written.
    Error = 2,
}

impl Exit {
    /// The number the process exits with.
    pub fn code(self) -> u8 {
        self as u8
    }

    /// What clap's help, version and usage errors exit with: help and
    /// version (on stdout) succeed, everything clap reports on stderr is an
    /// error (as clap's own `exit` does).
    pub fn of_clap(err: &clap::Error) -> Exit {
        if err.use_stderr() {
            Exit::Error
        } else {
            Exit::Success
        }
    }

    /// End the process now, with this status.
    pub fn now(self) -> ! {
        std::process::exit(self.code().into())
    }
}

impl From<Exit> for std::process::ExitCode {
    fn from(exit: Exit) -> Self {
        std::process::ExitCode::from(exit.code())
    }
}

/// As its number (`--json`'s `exit`).
impl serde::Serialize for Exit {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u8(self.code())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_the_documented_numbers() {
        assert_eq!(
            [Exit::Success, Exit::CheckFailed, Exit::Error].map(Exit::code),
            [0, 1, 2]
        );
        assert_eq!(serde_json::to_string(&Exit::CheckFailed).unwrap(), "1");
    }
}
