//! What every command shares: error reporting with `path:line:col`, output
//! that survives a closed pipe, colour that respects `NO_COLOR`, unified
//! diffs, atomic writes that keep permissions, and the `--dry-run`/`--check`
//! contract of the editing commands.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// An error ready for the terminal: the whole message and an exit code.
#[derive(Debug)]
pub struct CliError {
    pub message: String,
    pub code: u8,
}

impl CliError {
    /// Exit 2 with a message.
    pub fn usage(message: impl Into<String>) -> Self {
        CliError {
            message: message.into(),
            code: 2,
        }
    }

    /// A library error about `src` (read from `path`): `path:line:col: message`,
    /// then one `  hint: ...` line per hint.
    pub fn from_lib(path: Option<&Path>, src: &str, err: &nixcross::Error) -> Self {
        // An argument error is not about the file: no file prefix then.
        let about_file = err.range.is_some() || err.kind != nixcross::ErrorKind::InvalidInput;
        let path = path.filter(|_| about_file);
        let mut message = match (path, err.line_col(src)) {
            (Some(p), Some((l, c))) => format!("{}:{l}:{c}: {}", p.display(), err.message),
            (Some(p), None) => format!("{}: {}", p.display(), err.message),
            (None, Some((l, c))) => format!("<input>:{l}:{c}: {}", err.message),
            (None, None) => err.message.clone(),
        };
        for hint in &err.hints {
            message.push_str("\n  hint: ");
            message.push_str(hint);
        }
        CliError { message, code: 2 }
    }

    /// A library error with no source text to point into.
    pub fn lib(err: &nixcross::Error) -> Self {
        CliError::from_lib(None, "", err)
    }

    pub fn io(path: &Path, err: &std::io::Error) -> Self {
        CliError::usage(format!("{}: {err}", path.display()))
    }

    /// Print to stderr and turn into the process exit code.
    pub fn report(self) -> ExitCode {
        let prefix = if color_stderr() {
            "\x1b[1;31merror\x1b[0m"
        } else {
            "error"
        };
        eprintln!(
            "nixcross: {prefix}: {}",
            crate::term::escape_lines(&self.message)
        );
        ExitCode::from(self.code)
    }
}

impl From<nixcross::Error> for CliError {
    fn from(err: nixcross::Error) -> Self {
        CliError::lib(&err)
    }
}

pub type CmdResult = Result<ExitCode, CliError>;

fn no_color() -> bool {
    std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty())
}

/// Colour on stdout: a terminal, and `NO_COLOR` unset or empty.
pub fn color_stdout() -> bool {
    !no_color() && std::io::stdout().is_terminal()
}

/// Colour on stderr: a terminal, and `NO_COLOR` unset or empty.
pub fn color_stderr() -> bool {
    !no_color() && std::io::stderr().is_terminal()
}

/// Print to stdout. A closed pipe (`nixcross targets | head`) ends the process
/// quietly with exit 0, as ripgrep does; any other write error (a full disk,
/// `> /dev/full`) ends it with exit 2 and says why.
pub fn print(s: &str) {
    let mut out = std::io::stdout().lock();
    if let Err(e) = out.write_all(s.as_bytes()).and_then(|_| out.flush()) {
        crate::term::stdout_failed(&e);
    }
}

/// Print a status line or warning to stderr.
pub fn status(s: &str) {
    let _ = writeln!(std::io::stderr().lock(), "{}", crate::term::escape_lines(s));
}

/// Print a warning to stderr, `warning:` prefixed.
pub fn warn(s: &str) {
    let prefix = if color_stderr() {
        "\x1b[1;33mwarning\x1b[0m"
    } else {
        "warning"
    };
    status(&format!("nixcross: {prefix}: {s}"));
}

/// Read a Nix file: a regular file (symlinks followed), at most
/// `nixcross::files::MAX_FILE_BYTES`, UTF-8.
pub fn read_source(path: &Path) -> Result<String, CliError> {
    crate::fs::read_text(path).map_err(|e| crate::fs::file_error(path, &e))
}

/// Serialize `value` as pretty JSON with a final newline.
pub fn print_json<T: serde::Serialize>(value: &T) {
    let mut s = serde_json::to_string_pretty(value).expect("JSON values serialize");
    s.push('\n');
    print(&s);
}

/// A unified diff of `before` → `after`, labelled with `path`.
pub fn unified_diff(path: &Path, before: &str, after: &str, color: bool) -> String {
    let diff = similar::TextDiff::from_lines(before, after);
    let label = path.display().to_string();
    let (old, new) = if path.is_absolute() {
        (label.clone(), label)
    } else {
        (format!("a/{label}"), format!("b/{label}"))
    };
    let text = diff
        .unified_diff()
        .context_radius(3)
        .header(&old, &new)
        .to_string();
    if !color {
        return text;
    }
    // On a terminal, the file's own control characters are shown escaped.
    let text = crate::term::escape_file_lines(&text).into_owned();
    text.lines()
        .map(|line| {
            let code = if line.starts_with("+++") || line.starts_with("---") {
                "1"
            } else if line.starts_with('+') {
                "32"
            } else if line.starts_with('-') {
                "31"
            } else if line.starts_with("@@") {
                "36"
            } else {
                ""
            };
            if code.is_empty() {
                format!("{line}\n")
            } else {
                format!("\x1b[{code}m{line}\x1b[0m\n")
            }
        })
        .collect()
}

/// The flags every editing command takes.
#[derive(clap::Args, Debug, Clone)]
pub struct EditFlags {
    /// The file to edit
    #[arg(
        short = 'f',
        long = "file",
        value_name = "PATH",
        default_value = "flake.nix"
    )]
    pub file: PathBuf,
    /// Print a unified diff of the change and write nothing
    #[arg(long, conflicts_with = "check")]
    pub dry_run: bool,
    /// Write nothing; exit 1 if the file would change
    #[arg(long)]
    pub check: bool,
}

/// How many times an edit is planned again when the file changed under it
/// (an editor saved it between the read and the write).
const EDIT_ATTEMPTS: usize = 5;

/// Run an editing operation on `flags.file`: lock it, read it, call `op`
/// with its text, and finish the edit (see [`finish_edit`]). Errors point
/// into the file. The lock is held from the read to the rename, so parallel
/// nixcross runs on one file take turns and every edit lands; a change by a
/// program that does not lock makes nixcross read and plan again, a few
/// times, and then give up with exit 2.
pub fn edit_file(
    flags: &EditFlags,
    mut op: impl FnMut(&str) -> nixcross::Result<nixcross::ops::EditOutcome>,
) -> CmdResult {
    let path = &flags.file;
    for _ in 0..EDIT_ATTEMPTS {
        let mut tx = crate::write::Transaction::new();
        // --check and --dry-run write nothing and take no lock.
        let src = if flags.check || flags.dry_run {
            read_source(path)?
        } else {
            tx.read_locked(path).map_err(|e| match e {
                crate::write::WriteError::Io { error, .. } => CliError::io(path, &error),
                other => CliError::from(other),
            })?
        };
        let out = op(&src).map_err(|e| CliError::from_lib(Some(path), &src, &e))?;
        match finish_edit(flags, &src, out, tx) {
            Err(Finish::Conflict) => continue,
            Err(Finish::Error(e)) => return Err(e),
            Ok(code) => return Ok(code),
        }
    }
    Err(CliError::usage(format!(
        "{}: the file kept changing while nixcross was editing it ({EDIT_ATTEMPTS} attempts); nothing was written",
        path.display()
    )))
}

/// Why [`finish_edit`] did not finish.
pub enum Finish {
    /// The file changed since it was read: plan again.
    Conflict,
    /// Anything else.
    Error(CliError),
}

impl From<CliError> for Finish {
    fn from(e: CliError) -> Self {
        Finish::Error(e)
    }
}

/// Finish an edit according to `--dry-run`/`--check`: print warnings, then
/// the diff, the check verdict or the write (through `tx`, which may hold
/// the file's lock already).
pub fn finish_edit(
    flags: &EditFlags,
    before: &str,
    result: nixcross::ops::EditOutcome,
    tx: crate::write::Transaction,
) -> Result<ExitCode, Finish> {
    let path = &flags.file;
    let changed = before != result.text;
    if !changed || flags.check || flags.dry_run {
        for w in &result.warnings {
            warn(w);
        }
    }
    if flags.check {
        if changed {
            status(&format!(
                "{}: would change: {}",
                path.display(),
                result.summary
            ));
            return Ok(ExitCode::from(1));
        }
        status(&format!("{}: already up to date", path.display()));
        return Ok(ExitCode::SUCCESS);
    }
    if flags.dry_run {
        if changed {
            print(&unified_diff(path, before, &result.text, color_stdout()));
        } else {
            status(&format!("{}: already up to date", path.display()));
        }
        return Ok(ExitCode::SUCCESS);
    }
    if !changed {
        status(&format!("{}: already up to date", path.display()));
        return Ok(ExitCode::SUCCESS);
    }
    let change = crate::write::Change {
        path: path.clone(),
        before: crate::write::Before::Text(before.to_string()),
        after: result.text,
    };
    match tx.commit(&[change]) {
        Ok(_) => {}
        Err(crate::write::WriteError::Conflict { .. }) => return Err(Finish::Conflict),
        Err(e) => return Err(Finish::Error(e.into())),
    }
    // Warnings once, for the plan that was written.
    for w in &result.warnings {
        warn(w);
    }
    status(&format!("{}: {}", path.display(), result.summary));
    Ok(ExitCode::SUCCESS)
}
