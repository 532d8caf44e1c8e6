//! What every command shares for output: errors on stderr, output that
//! survives a closed pipe, stderr's kinds of line (status, verdict, note,
//! warning) and `-q`, colour (`--color`, `NO_COLOR`), unified diffs, JSON,
//! and the `--json` report of the editing commands (their edit loop and
//! `--dry-run`/`--check` contract are `crate::editing`'s).
//!
//! Colour: output is styled with anstyle and written through anstream, which
//! drops the styles when the stream gets no colour (`--color never`,
//! `NO_COLOR`, `CLICOLOR=0`, or not a terminal under `--color auto`).

use std::io::Write;
use std::path::Path;

use anstyle::{AnsiColor, Color, Style};

use crate::error::{CliError, CmdResult};
use crate::exit::Exit;

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

/// Print `err` to stderr (`nixcross: error: ...`) and give the process's
/// exit status.
pub fn report(err: CliError) -> Exit {
    styled_status(&format!("nixcross: {ERROR}error{ERROR:#}: "), &err.message);
    err.exit
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
pub fn with_report<T>(f: impl FnOnce(&mut EditReport) -> T) -> Option<T> {
    REPORT
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .as_mut()
        .map(f)
}

/// Whether a `--json` report is being collected.
pub fn reporting() -> bool {
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
pub fn plain_diff(path: &Path, before: &str, after: &str) -> String {
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
