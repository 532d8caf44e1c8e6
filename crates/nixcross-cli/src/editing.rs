//! The editing commands' contract: the flags they share ([`EditFlags`]),
//! the edit loop ([`edit_tree`]: locate the tree, plan with the library,
//! write every changed file in one transaction, and plan again when a file
//! changed under the plan), and how an edit finishes under `--dry-run`,
//! `--check` and `--verify` ([`finish_trees`]).

use std::path::{Path, PathBuf};

use crate::common::{
    plain_diff, print, reporting, status, unified_diff, verdict, warn, with_report, EditReport,
    FileReport,
};
use crate::error::{CliError, CmdResult, WriteError};
use crate::exit::Exit;
use crate::tree::{self, Located};
use crate::verify::{self, VerifyFlag};
use crate::write::{Before, Change, WriteBatch};

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
    pub verify: VerifyFlag,
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
    let mut tree = tree::locate(flags.file.as_deref())?;
    for attempt in 0..EDIT_ATTEMPTS {
        if attempt > 0 {
            tree = tree.reread()?;
        }
        let mut tx = WriteBatch::new().forced(flags.force);
        // --check and --dry-run write nothing and take no lock.
        if !(flags.check || flags.dry_run) {
            let entry = tree.path(&tree.rel);
            let text = tx.read_locked(&entry).map_err(|e| match e {
                WriteError::Io { error, .. } => CliError::io(&entry, &error),
                other => CliError::from(other),
            })?;
            // The plan starts from the text read under the lock.
            if let Ok(real) = tree.files.resolve(&tree.rel) {
                tree.files.know(real, text);
            }
        }
        let out = op(&tree.files, &tree.rel).map_err(|e| tree.error(&e))?;
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
    tree: &Located,
    out: nixcross::edit::Outcome,
    tx: WriteBatch,
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
fn describe(report: &mut EditReport, parts: &[(&Located, nixcross::edit::Outcome)]) {
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
    parts: Vec<(&Located, nixcross::edit::Outcome)>,
    tx: WriteBatch,
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
        verify::refuse_unverifiable(&parts)?;
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
            verify::verify(&parts)?;
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
        verify::verify(&parts)?;
    }
    let changes: Vec<Change> = parts
        .iter()
        .flat_map(|(tree, out)| {
            out.changes.iter().map(|c| Change {
                path: tree.path(&c.path),
                before: Before::Text(c.before.clone()),
                after: c.after.clone(),
            })
        })
        .collect();
    match tx.commit(&changes) {
        Ok(_) => {}
        Err(WriteError::Conflict { .. }) => return Err(Finish::Conflict),
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
