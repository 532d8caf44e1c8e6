//! What every command shares: error reporting with `path:line:col`, output
//! that survives a closed pipe, colour (`--color`, `NO_COLOR`), unified
//! diffs, atomic writes that keep permissions, and the `--dry-run`/`--check`
//! contract of the editing commands.
//!
//! Colour: output is styled with anstyle and written through anstream, which
//! drops the styles when the stream gets no colour (`--color never`,
//! `NO_COLOR`, `CLICOLOR=0`, or not a terminal under `--color auto`).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anstyle::{AnsiColor, Color, Style};

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

    /// A library error about a file of `tree`: `path:line:col: message` when
    /// it has a location, else as [`CliError::from_lib`] about `rel`.
    pub fn from_tree(tree: &crate::tree::Target, err: &nixcross::Error) -> Self {
        if let Some(loc) = &err.location {
            let mut message = format!(
                "{}:{}:{}: {}",
                tree.display(&loc.file).display(),
                loc.line,
                loc.col,
                err.message
            );
            for hint in &err.hints {
                message.push_str("\n  hint: ");
                message.push_str(hint);
            }
            return CliError { message, code: 2 };
        }
        let text = nixcross::files::Files::read(&tree.files, &tree.rel).unwrap_or_default();
        CliError::from_lib(Some(&tree.display(&tree.rel)), &text, err)
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
        status(&format!(
            "nixcross: {ERROR}error{ERROR:#}: {}",
            self.message
        ));
        ExitCode::from(self.code)
    }
}

impl From<nixcross::Error> for CliError {
    fn from(err: nixcross::Error) -> Self {
        CliError::lib(&err)
    }
}

pub type CmdResult = Result<ExitCode, CliError>;

const fn fg(color: AnsiColor) -> Style {
    Style::new().fg_color(Some(Color::Ansi(color)))
}

/// `error:` prefixes.
pub const ERROR: Style = fg(AnsiColor::Red).bold();
/// `warning:` prefixes.
pub const WARNING: Style = fg(AnsiColor::Yellow).bold();
/// Something that is ready or fine (doctor's marks).
pub const GOOD: Style = fg(AnsiColor::Green);
/// Something that is missing or wrong (doctor's marks).
pub const BAD: Style = fg(AnsiColor::Red);
const DIFF_HEADER: Style = Style::new().bold();
const DIFF_ADDED: Style = fg(AnsiColor::Green);
const DIFF_REMOVED: Style = fg(AnsiColor::Red);
const DIFF_HUNK: Style = fg(AnsiColor::Cyan);

/// Use `choice` for the rest of the process (`--color`). `auto` still
/// honours `NO_COLOR` and `CLICOLOR`, and colours only terminals.
pub fn set_color(choice: clap::ColorChoice) {
    let choice = match choice {
        clap::ColorChoice::Auto => anstream::ColorChoice::Auto,
        clap::ColorChoice::Always => anstream::ColorChoice::Always,
        clap::ColorChoice::Never => anstream::ColorChoice::Never,
    };
    choice.write_global();
}

/// Whether stdout gets colour; decorations that only make sense in colour
/// (doctor's ✓ and ✗) follow it.
pub fn stdout_has_color() -> bool {
    anstream::AutoStream::choice(&std::io::stdout()) != anstream::ColorChoice::Never
}

/// Print to stdout. A closed pipe (`nixcross targets | head`) ends the process
/// quietly with exit 0, as ripgrep does.
pub fn print(s: &str) {
    let mut out = anstream::stdout().lock();
    if let Err(e) = out.write_all(s.as_bytes()).and_then(|_| out.flush()) {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
    }
}

/// Print a status line or warning to stderr.
pub fn status(s: &str) {
    let _ = writeln!(anstream::stderr().lock(), "{s}");
}

/// Print a warning to stderr, `warning:` prefixed.
pub fn warn(s: &str) {
    status(&format!("nixcross: {WARNING}warning{WARNING:#}: {s}"));
}

/// Serialize `value` as pretty JSON with a final newline.
pub fn print_json<T: serde::Serialize>(value: &T) {
    let mut s = serde_json::to_string_pretty(value).expect("JSON values serialize");
    s.push('\n');
    print(&s);
}

/// A unified diff of `before` → `after`, labelled with `path`, styled (the
/// styles go when [`print`] writes it to a stream without colour).
pub fn unified_diff(path: &Path, before: &str, after: &str) -> String {
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
    text.split_inclusive('\n')
        .map(|line| {
            let style = if line.starts_with("+++") || line.starts_with("---") {
                DIFF_HEADER
            } else if line.starts_with('+') {
                DIFF_ADDED
            } else if line.starts_with('-') {
                DIFF_REMOVED
            } else if line.starts_with("@@") {
                DIFF_HUNK
            } else {
                return line.to_string();
            };
            let (body, end) = match line.strip_suffix('\n') {
                Some(body) => (body, "\n"),
                None => (line, ""),
            };
            format!("{style}{body}{style:#}{end}")
        })
        .collect()
}

/// Write `contents` to `path` atomically: a temporary file in the same
/// folder, the original file's permissions, then a rename over the original.
pub fn atomic_write(path: &Path, contents: &str) -> Result<(), CliError> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let mut tmp = tempfile::Builder::new()
        .prefix(".nixcross-")
        .suffix(".tmp")
        .tempfile_in(&dir)
        .map_err(|e| CliError::io(&dir, &e))?;
    tmp.write_all(contents.as_bytes())
        .and_then(|_| tmp.as_file().sync_all())
        .map_err(|e| CliError::io(tmp.path(), &e))?;
    match std::fs::metadata(path) {
        Ok(meta) => std::fs::set_permissions(tmp.path(), meta.permissions())
            .map_err(|e| CliError::io(path, &e))?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            // A new file: the usual 0644 rather than tempfile's 0600.
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o644))
                    .map_err(|e| CliError::io(path, &e))?;
            }
        }
        Err(e) => return Err(CliError::io(path, &e)),
    }
    tmp.persist(path)
        .map_err(|e| CliError::io(path, &e.error))?;
    Ok(())
}

/// The flags every editing command takes.
#[derive(clap::Args, Debug, Clone)]
pub struct EditFlags {
    /// The file to edit, or a folder with a flake.nix [default: flake.nix in
    /// this folder or the nearest parent]
    #[arg(short = 'f', long = "file", value_name = "PATH", value_hint = clap::ValueHint::AnyPath)]
    pub file: Option<PathBuf>,
    /// Print a unified diff of the change and write nothing
    #[arg(long)]
    pub dry_run: bool,
    /// Write nothing; exit 1 if the file would change (with --dry-run, also
    /// print the diff)
    #[arg(long)]
    pub check: bool,
}

/// Run an editing operation over the tree of the flake (or module) that
/// `flags` names: `op` plans and applies against the tree; then every file
/// that changes is diffed, checked or written.
pub fn edit_tree(
    flags: &EditFlags,
    op: impl FnOnce(
        &dyn nixcross::files::Files,
        &nixcross::files::RelPath,
    ) -> nixcross::Result<nixcross::edit::Outcome>,
) -> CmdResult {
    let tree = crate::tree::locate(flags.file.as_deref())?;
    let out = op(&tree.files, &tree.rel).map_err(|e| CliError::from_tree(&tree, &e))?;
    finish_tree(flags, &tree, out)
}

/// Finish a multi-file edit according to `--dry-run`/`--check`.
pub fn finish_tree(
    flags: &EditFlags,
    tree: &crate::tree::Target,
    out: nixcross::edit::Outcome,
) -> CmdResult {
    let shown = tree.display(&tree.rel);
    finish_trees(flags.dry_run, flags.check, &shown, vec![(tree, out)])
}

/// Finish edits of one or more trees (`apply` changes the flake's folder
/// and the build host's) according to `--dry-run`/`--check`: every outcome
/// is complete and checked before the first file is written. `shown` names
/// what is up to date when nothing changes.
pub fn finish_trees(
    dry_run: bool,
    check: bool,
    shown: &Path,
    parts: Vec<(&crate::tree::Target, nixcross::edit::Outcome)>,
) -> CmdResult {
    for (_, out) in &parts {
        for w in &out.warnings {
            warn(w);
        }
    }
    if !parts.iter().any(|(_, out)| out.changed()) {
        status(&format!("{}: already up to date", shown.display()));
        return Ok(ExitCode::SUCCESS);
    }
    if dry_run || check {
        if dry_run {
            let mut diff = String::new();
            for (tree, out) in &parts {
                for c in &out.changes {
                    diff.push_str(&unified_diff(&tree.display(&c.path), &c.before, &c.after));
                }
            }
            print(&diff);
        }
        if check {
            for (tree, out) in &parts {
                for c in &out.changes {
                    status(&format!(
                        "{}: would change: {}",
                        tree.display(&c.path).display(),
                        c.reasons.join("; ")
                    ));
                }
            }
            return Ok(ExitCode::from(1));
        }
        return Ok(ExitCode::SUCCESS);
    }
    for (tree, out) in &parts {
        for c in &out.changes {
            atomic_write(&tree.path(&c.path), &c.after)?;
        }
    }
    for (tree, out) in &parts {
        for c in &out.changes {
            status(&format!(
                "{}: {}",
                tree.display(&c.path).display(),
                c.reasons.join("; ")
            ));
        }
    }
    for (_, out) in &parts {
        if out.changed() && !out.summary.is_empty() {
            status(&out.summary);
        }
    }
    Ok(ExitCode::SUCCESS)
}
