//! What every command shares: error reporting with `path:line:col`, output
//! that survives a closed pipe, colour (`--color`, `NO_COLOR`), unified
//! diffs, atomic writes that keep permissions, and the `--dry-run`/`--check`
//! contract of the editing commands.
//!
//! Colour: output is styled with anstyle and written through anstream, which
//! drops the styles when the stream gets no colour (`--color never`,
//! `NO_COLOR`, `CLICOLOR=0`, or not a terminal under `--color auto`).

use anstyle::{AnsiColor, Color, Style};
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::exit::Exit;

/// An error ready for the terminal: the whole message and how the process
/// exits.
#[derive(Debug)]
pub struct CliError {
    pub message: String,
    pub exit: Exit,
}

impl CliError {
    /// An [`Exit::Error`] with a message.
    pub fn usage(message: impl Into<String>) -> Self {
        CliError {
            message: message.into(),
            exit: Exit::Error,
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
        CliError {
            message,
            exit: Exit::Error,
        }
    }

    /// A library error about a file of `tree`: `path:line:col: message` when
    /// it has a location, else as [`CliError::from_lib`] about `rel`.
    pub fn from_tree(tree: &crate::tree::Located, err: &nixcross::Error) -> Self {
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
            return CliError {
                message,
                exit: Exit::Error,
            };
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

    /// Print to stderr and give the process's exit status.
    pub fn report(self) -> Exit {
        styled_status(&format!("nixcross: {ERROR}error{ERROR:#}: "), &self.message);
        self.exit
    }
}

impl From<nixcross::Error> for CliError {
    fn from(err: nixcross::Error) -> Self {
        CliError::lib(&err)
    }
}

pub type CmdResult = Result<Exit, CliError>;

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
/// quietly with exit 0, as ripgrep does; any other write error (a full disk,
/// `> /dev/full`) ends it with exit 2 and says why.
pub fn print(s: &str) {
    let mut out = anstream::stdout().lock();
    if let Err(e) = out.write_all(s.as_bytes()).and_then(|_| out.flush()) {
        crate::term::stdout_failed(&e);
    }
}

static QUIET: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// `-q`/`--quiet` for the rest of the process: no notes, warnings or
/// status lines on stderr. Errors, what stdout prints (diffs, JSON,
/// tables) and `--check`'s verdict ([`verdict`]) stay.
pub fn set_quiet(quiet: bool) {
    QUIET.store(quiet, std::sync::atomic::Ordering::Relaxed);
}

/// Whether `-q` was given.
pub fn quiet() -> bool {
    QUIET.load(std::sync::atomic::Ordering::Relaxed)
}

/// Print a status line to stderr (what was written, what is up to date),
/// unless `-q` or `--json` (whose report says it).
pub fn status(s: &str) {
    if !quiet() && !reporting() {
        styled_status("", s);
    }
}

/// Print `--check`'s verdict (`path: would change: ...`) to stderr, also
/// under `-q`: it is the answer the check was asked for (`--json` says it
/// in its report).
pub fn verdict(s: &str) {
    if !reporting() {
        styled_status("", s);
    }
}

/// Print advice to stderr, `note:` prefixed, unless `-q`; under `--json`
/// it goes into the report's `notes`.
pub fn note(s: &str) {
    if with_report(|r| r.notes.push(s.to_string())).is_none() && !quiet() {
        styled_status("note: ", s);
    }
}

/// Print a warning to stderr, `warning:` prefixed, unless `-q`; under
/// `--json` it goes into the report's `warnings`.
pub fn warn(s: &str) {
    if with_report(|r| r.warnings.push(s.to_string())).is_none() && !quiet() {
        styled_status(&format!("nixcross: {WARNING}warning{WARNING:#}: "), s);
    }
}

/// What an editing command did, as `--json` prints it (README, "JSON
/// output of the editing commands"): one object on stdout, whatever the
/// outcome.
#[derive(serde::Serialize, Default, Debug)]
pub struct EditReport {
    /// The command (`set-target`, `apply`, ...).
    pub command: &'static str,
    /// `written`, `up-to-date`, `would-change` (`--dry-run`, `--check`) or
    /// `error`.
    pub status: &'static str,
    /// The exit status (as its number): 0 done (written, up to date, or a
    /// dry run), 1 would change under `--check` or `--verify` disagrees, 2
    /// bad input or a refusal.
    pub exit: Exit,
    /// Whether files were written.
    pub written: bool,
    /// Each file that changes (or would), in the order of the write.
    pub files: Vec<FileReport>,
    /// What the edit does, one line per tree edited.
    pub summary: Vec<String>,
    /// What the user should know about the edit.
    pub warnings: Vec<String>,
    /// Advice for the build machine (emulation, remote builders).
    pub notes: Vec<String>,
    /// What the edit establishes, proven on the edited files
    /// (`nixcross::edit::Claim`).
    pub claims: Vec<nixcross::edit::Claim>,
    /// The error, as stderr says it, when `status` is `error`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// One file of an [`EditReport`].
#[derive(serde::Serialize, Debug)]
pub struct FileReport {
    /// As nixcross names it on stderr (relative to this folder, or absolute).
    pub path: String,
    /// What changes in it.
    pub reasons: Vec<String>,
    /// Its unified diff, without colour.
    pub diff: String,
}

static REPORT: std::sync::Mutex<Option<EditReport>> = std::sync::Mutex::new(None);

/// `f` on the report being collected, when `--json` asked for one.
fn with_report<T>(f: impl FnOnce(&mut EditReport) -> T) -> Option<T> {
    REPORT
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .as_mut()
        .map(f)
}

/// Whether a `--json` report is being collected.
fn reporting() -> bool {
    with_report(|_| ()).is_some()
}

/// Run the editing command `command`; with `json`, collect what it does
/// into an [`EditReport`] instead of printing lines, and print the report
/// on stdout at the end, errors included (which stderr still shows).
pub fn reported(command: &'static str, json: bool, run: impl FnOnce() -> CmdResult) -> CmdResult {
    if !json {
        return run();
    }
    *REPORT.lock().unwrap_or_else(|e| e.into_inner()) = Some(EditReport {
        command,
        ..EditReport::default()
    });
    let result = run();
    let mut report = REPORT
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .take()
        .expect("the report was started above");
    match &result {
        Ok(exit) => {
            report.exit = *exit;
            report.status = if report.written {
                "written"
            } else if report.files.is_empty() {
                "up-to-date"
            } else {
                "would-change"
            };
        }
        Err(e) => {
            report.exit = e.exit;
            report.status = "error";
            report.error = Some(e.message.clone());
        }
    }
    print_json(&report);
    result
}

/// `prefix` (nixcross's own, maybe styled) and then `s`, to stderr. `s`
/// holds text from files and arguments: its control characters are shown
/// escaped, so a file cannot style or move the terminal.
fn styled_status(prefix: &str, s: &str) {
    let _ = writeln!(
        anstream::stderr().lock(),
        "{prefix}{}",
        crate::term::escape_message(s)
    );
}

/// Serialize `value` as pretty JSON with a final newline, with the
/// characters a terminal may interpret escaped (`crate::term::json`).
pub fn print_json<T: serde::Serialize>(value: &T) {
    let mut s =
        crate::term::json(serde_json::to_string_pretty(value).expect("JSON values serialize"));
    s.push('\n');
    print(&s);
}

/// A unified diff of `before` → `after`, labelled with `path`, styled (the
/// styles go when [`print`] writes it to a stream without colour).
pub fn unified_diff(path: &Path, before: &str, after: &str) -> String {
    let text = plain_diff(path, before, after);
    // The file's own control characters are shown escaped, on a terminal
    // or not (without colour, the writer would drop escape sequences, and
    // the diff would not show what the file holds).
    let text = crate::term::escape_file_lines(&text).into_owned();
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

/// The unified diff of `before` → `after`, labelled with `path`, as text.
fn plain_diff(path: &Path, before: &str, after: &str) -> String {
    let diff = similar::TextDiff::from_lines(before, after);
    let label = path.display().to_string();
    let (old, new) = if path.is_absolute() {
        (label.clone(), label)
    } else {
        (format!("a/{label}"), format!("b/{label}"))
    };
    diff.unified_diff()
        .context_radius(3)
        .header(&old, &new)
        .to_string()
}

// The flags every editing command takes. (Not a doc comment: clap would make
// it the `about` of every command that flattens these, since the commands'
// arguments are added after their own `about`; see `Command` in main.rs.)
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
    #[command(flatten)]
    pub verify: crate::verify::VerifyFlag,
    /// Replace a file even when its permissions do not let you write it
    #[arg(long)]
    pub force: bool,
    /// Print what the edit does as one JSON object on stdout: the files
    /// with their reasons and diffs, the summary, warnings, notes, claims
    /// and the exit status (also with --dry-run and --check)
    #[arg(long)]
    pub json: bool,
}

/// How many times an edit is planned again when a file changed under it
/// (an editor saved it between the read and the write).
pub const EDIT_ATTEMPTS: usize = 5;

/// Run an editing operation over the tree of the flake (or module) that
/// `flags` names: `op` plans and applies against the tree; then every file
/// that changes is diffed, checked or written in one transaction
/// (`crate::write`: locks taken in a fixed order, each file compared with
/// what the plan read before anything is renamed). A write locks the file
/// `flags` names before anything is read and holds the lock to the rename,
/// so parallel nixcross runs on one flake take turns. When a file changed
/// since it was read (a program that does not lock), the edit is planned
/// again from the new text, a few times, and then refused with exit 2.
pub fn edit_tree(
    flags: &EditFlags,
    mut op: impl FnMut(
        &dyn nixcross::files::Files,
        &nixcross::files::RelPath,
    ) -> nixcross::Result<nixcross::edit::Outcome>,
) -> CmdResult {
    let mut tree = crate::tree::locate(flags.file.as_deref())?;
    for attempt in 0..EDIT_ATTEMPTS {
        if attempt > 0 {
            tree = tree.reread()?;
        }
        let mut tx = crate::write::WriteBatch::new().forced(flags.force);
        // --check and --dry-run write nothing and take no lock.
        if !(flags.check || flags.dry_run) {
            let entry = tree.path(&tree.rel);
            let text = tx.read_locked(&entry).map_err(|e| match e {
                crate::write::WriteError::Io { error, .. } => CliError::io(&entry, &error),
                other => CliError::from(other),
            })?;
            // The plan starts from the text read under the lock.
            if let Ok(real) = tree.files.resolve(&tree.rel) {
                tree.files.know(real, text);
            }
        }
        let out = op(&tree.files, &tree.rel).map_err(|e| CliError::from_tree(&tree, &e))?;
        match finish_tree(flags, &tree, out, tx) {
            Err(Finish::Conflict) => {}
            Err(Finish::Error(e)) => return Err(e),
            Ok(code) => return Ok(code),
        }
    }
    Err(CliError::usage(format!(
        "{}: the files kept changing while nixcross was editing them ({EDIT_ATTEMPTS} attempts); nothing was written",
        tree.display(&tree.rel).display()
    )))
}

/// Why [`finish_tree`] did not finish.
pub enum Finish {
    /// A file changed since it was read: plan again.
    Conflict,
    /// Anything else.
    Error(CliError),
}

impl From<CliError> for Finish {
    fn from(e: CliError) -> Self {
        Finish::Error(e)
    }
}

/// Finish a multi-file edit according to `--dry-run`/`--check`: the
/// warnings, then the diffs, the check verdict or the write (through `tx`,
/// which may hold the entry file's lock already). `--check
/// --dry-run` prints the diffs and exits 1, as `cargo fmt --check` does.
pub fn finish_tree(
    flags: &EditFlags,
    tree: &crate::tree::Located,
    out: nixcross::edit::Outcome,
    tx: crate::write::WriteBatch,
) -> Result<Exit, Finish> {
    let shown = tree.display(&tree.rel);
    let mode = Finishing {
        dry_run: flags.dry_run,
        check: flags.check,
        verify: flags.verify.verify,
    };
    finish_trees(mode, &shown, vec![(tree, out)], tx)
}

/// Fill `report` with what `parts` change (replacing what an earlier plan,
/// made before a file changed under it, said).
fn describe(report: &mut EditReport, parts: &[(&crate::tree::Located, nixcross::edit::Outcome)]) {
    report.files.clear();
    report.summary.clear();
    report.warnings.clear();
    report.claims.clear();
    for (tree, out) in parts {
        for c in &out.changes {
            let path = tree.display(&c.path);
            report.files.push(FileReport {
                path: path.display().to_string(),
                reasons: c.reasons.clone(),
                diff: plain_diff(&path, &c.before, &c.after),
            });
        }
        if !out.summary.is_empty() {
            report.summary.push(out.summary.clone());
        }
        report.warnings.extend(out.warnings.iter().cloned());
        report.claims.extend(out.claims.iter().cloned());
    }
}

/// How an edit finishes: `--dry-run`, `--check` and `--verify`.
#[derive(Debug, Clone, Copy)]
pub struct Finishing {
    pub dry_run: bool,
    pub check: bool,
    pub verify: bool,
}

/// [`finish_tree`] for edits of several trees (`apply` changes the flake's
/// folder and a build host's folder elsewhere): every outcome is complete
/// and checked before anything is written, and all files of all trees are
/// written in the one transaction `tx`. `shown` names what is up to date
/// when nothing changes. With `--verify`, the user's nix is asked about
/// the edit first (`crate::verify`), also under `--dry-run` and `--check`;
/// nothing is written unless it agrees.
pub fn finish_trees(
    mode: Finishing,
    shown: &Path,
    parts: Vec<(&crate::tree::Located, nixcross::edit::Outcome)>,
    tx: crate::write::WriteBatch,
) -> Result<Exit, Finish> {
    let Finishing {
        dry_run,
        check,
        verify,
    } = mode;
    // `--check` says only what would change: no advice. (A `--json`
    // report has the warnings already.)
    let warn_all = || {
        if check || reporting() {
            return;
        }
        for (_, out) in &parts {
            for w in &out.warnings {
                warn(w);
            }
        }
    };
    if verify {
        crate::verify::refuse_unverifiable(&parts)?;
    }
    with_report(|r| describe(r, &parts));
    if !parts.iter().any(|(_, out)| out.changed()) {
        warn_all();
        status(&format!("{}: already up to date", shown.display()));
        return Ok(Exit::Success);
    }
    if dry_run || check {
        warn_all();
        if dry_run && !reporting() {
            let mut diff = String::new();
            for (tree, out) in &parts {
                for c in &out.changes {
                    diff.push_str(&unified_diff(&tree.display(&c.path), &c.before, &c.after));
                }
            }
            print(&diff);
        }
        if verify {
            crate::verify::verify(&parts)?;
        }
        if check {
            for (tree, out) in &parts {
                for c in &out.changes {
                    verdict(&format!(
                        "{}: would change: {}",
                        tree.display(&c.path).display(),
                        c.reasons.join("; ")
                    ));
                }
            }
            return Ok(Exit::CheckFailed);
        }
        return Ok(Exit::Success);
    }
    if verify {
        crate::verify::verify(&parts)?;
    }
    let changes: Vec<crate::write::Change> = parts
        .iter()
        .flat_map(|(tree, out)| {
            out.changes.iter().map(|c| crate::write::Change {
                path: tree.path(&c.path),
                before: crate::write::Before::Text(c.before.clone()),
                after: c.after.clone(),
            })
        })
        .collect();
    match tx.commit(&changes) {
        Ok(_) => {}
        Err(crate::write::WriteError::Conflict { .. }) => return Err(Finish::Conflict),
        Err(e) => return Err(Finish::Error(e.into())),
    }
    with_report(|r| r.written = true);
    // Warnings once, for the plan that was written.
    warn_all();
    for (tree, out) in &parts {
        for c in &out.changes {
            status(&format!(
                "{}: {}",
                tree.display(&c.path).display(),
                c.reasons.join("; ")
            ));
        }
    }
    // The summary, unless a file's line above already said just that.
    for (_, out) in &parts {
        let said = out
            .changes
            .iter()
            .any(|c| c.reasons.join("; ") == out.summary);
        if out.changed() && !said && !out.summary.is_empty() {
            status(&out.summary);
        }
    }
    Ok(Exit::Success)
}
