//! `nixcross apply`: make the flake (and the build host's configuration)
//! say what `nixcross.yaml` says, as one transaction.

use std::path::{Path, PathBuf};

use nixcross::files::RelPath;
use nixcross::ops::apply::{apply, ApplyOptions, HostFile, Origin};
use nixcross::spec::{Document, HostMachine, FILE_NAME};

use crate::editing::{self, Finish, EDIT_ATTEMPTS};
use crate::error::{CliError, CmdResult, WriteError};
use crate::tree::{self, Located};
use crate::write;

#[derive(clap::Args, Debug)]
#[command(after_help = "Examples:
  nixcross apply                     nixcross.yaml here or in the nearest parent
  nixcross apply --check             in CI: exit 1 when the flake has drifted from the spec
  nixcross apply deploy/nixcross.yaml --dry-run

Every configuration the spec names gets its target, mode, build machine and
style (set-target; added with add-config when the flake lacks it) and its
overlays (add-overlay); the build host gets its emulated systems (emulate).
Configurations and overlays the spec does not mention are left alone. All
changes are planned in memory, one operation after another, and checked
before anything is written; a second run changes nothing.")]
pub struct Args {
    /// The spec, or a folder with a nixcross.yaml [default: nixcross.yaml
    /// in this folder or the nearest parent]
    #[arg(value_name = "SPEC", value_hint = clap::ValueHint::FilePath)]
    pub spec: Option<PathBuf>,
    /// Print a unified diff of the changes and write nothing
    #[arg(long)]
    pub dry_run: bool,
    /// Write nothing; exit 1 if anything would change (with --dry-run, also
    /// print the diff)
    #[arg(long)]
    pub check: bool,
    #[command(flatten)]
    pub verify: crate::verify::VerifyFlag,
    /// Replace a file even when its permissions do not let you write it
    #[arg(long)]
    pub force: bool,
    /// Let the spec's flake or build host module be this file, or be in
    /// this folder, although it is outside the spec's folder (repeatable)
    #[arg(long = "allow-outside", value_name = "PATH", value_hint = clap::ValueHint::AnyPath)]
    pub allow_outside: Vec<PathBuf>,
    /// Print what apply does as one JSON object on stdout: the files with
    /// their reasons and diffs, the summary, warnings, claims and the exit
    /// status (also with --dry-run and --check)
    #[arg(long)]
    pub json: bool,
}

/// The spec the arguments name, or the nearest nixcross.yaml.
fn find_spec(given: Option<&Path>) -> Result<PathBuf, CliError> {
    match given {
        Some(p) if p.is_dir() => Ok(p.join(FILE_NAME)),
        Some(p) => Ok(p.to_path_buf()),
        None => tree::find_up(
            FILE_NAME,
            &format!(
                "no {FILE_NAME} in this folder or any parent; pass the spec's path (`nixcross export -o {FILE_NAME}` writes one)"
            ),
        )
        .map_err(CliError::from),
    }
}

/// `rel` in the folder `dir` (as written, without a leading `./`).
fn under(dir: &Path, rel: &str) -> PathBuf {
    if dir == Path::new(".") {
        PathBuf::from(rel)
    } else {
        dir.join(rel)
    }
}

/// The folder a path is in, `.` for a bare name.
pub fn folder_of(path: &Path) -> PathBuf {
    match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// Every file the spec names must lead, symbolic links followed, to a
/// place inside the spec's folder, so that a spec (from a repository, say)
/// cannot make apply read or write anything else; an `--allow-outside`
/// that names the file or a folder above it lets it be elsewhere. And it
/// must be a folder or a `.nix` file, so that an error never quotes
/// another kind of file.
fn confine(
    doc: &Document,
    spec_path: &Path,
    spec_dir: &Path,
    allowed: &[PathBuf],
) -> Result<(), CliError> {
    let resolved = |p: &Path| crate::fs::resolved(p).map_err(|e| CliError::io(p, &e));
    let root = resolved(spec_dir)?;
    let allowed = allowed
        .iter()
        .map(|a| resolved(a))
        .collect::<Result<Vec<_>, _>>()?;
    for p in doc.paths() {
        let fail = |message: String, hint: &str| {
            let err = nixcross::Error::new(nixcross::ErrorKind::InvalidInput, message)
                .at(p.range)
                .hint(hint);
            CliError::from_lib(Some(spec_path), &doc.text, &err)
        };
        let shown = crate::term::escape(p.value);
        let real = resolved(&under(spec_dir, p.value))?;
        if !real.starts_with(&root) && !allowed.iter().any(|a| real.starts_with(a)) {
            let real_shown = crate::term::escape_os(real.as_os_str());
            let hint = match p.key {
                "flake" => format!(
                    "keep nixcross.yaml in the flake's folder or one above it, or pass `--allow-outside {real_shown}`"
                ),
                _ => format!(
                    "edit a build host elsewhere with `nixcross emulate ... -f {real_shown}` (or `add-builder ... -f`), or pass `--allow-outside {real_shown}`"
                ),
            };
            return Err(fail(
                format!(
                    "`{}` names {shown}, which is outside the spec's folder ({}); apply reads and writes only below it",
                    p.key,
                    root.display()
                ),
                &hint,
            ));
        }
        if !real.is_dir() && real.extension().is_none_or(|x| x != "nix") {
            return Err(fail(
                format!("`{}` names {shown}, which is not a .nix file", p.key),
                "name a flake.nix (or its folder) and a NixOS module file",
            ));
        }
    }
    Ok(())
}

pub fn run(args: Args) -> CmdResult {
    let json = args.json;
    crate::common::reported("apply", json, || edit(args))
}

fn edit(args: Args) -> CmdResult {
    let spec_path = find_spec(args.spec.as_deref())?;
    let text = crate::fs::read_text(&spec_path).map_err(|e| CliError::file(&spec_path, &e))?;
    let doc =
        Document::parse(&text).map_err(|e| CliError::from_lib(Some(&spec_path), &text, &e))?;
    let spec_dir = folder_of(&spec_path);
    confine(&doc, &spec_path, &spec_dir, &args.allow_outside)?;
    let flake_path = under(&spec_dir, doc.spec.flake.as_deref().unwrap_or("flake.nix"));
    let mut flake = tree::locate(Some(&flake_path))?;
    // The build host's module: a file of the flake's folder, or a tree of
    // its own.
    let mut host_tree: Option<Located> = None;
    let mut in_flake: Option<RelPath> = None;
    if let Some(HostMachine::File(f)) = doc.spec.build_host.as_ref().map(|h| h.machine()) {
        let p = under(&spec_dir, f);
        if !p.is_file() {
            return Err(CliError::usage(format!(
                "{}: the build host's module {} does not exist",
                spec_path.display(),
                p.display()
            )));
        }
        let real = p.canonicalize().map_err(|e| CliError::io(&p, &e))?;
        let root = flake
            .dir
            .canonicalize()
            .map_err(|e| CliError::io(&flake.dir, &e))?;
        match real
            .strip_prefix(&root)
            .ok()
            .and_then(|r| r.to_str())
            .and_then(RelPath::new)
        {
            Some(rel) => in_flake = Some(rel),
            None => host_tree = Some(tree::locate(Some(&p))?),
        }
    }
    let writes = !(args.check || args.dry_run);
    // As the editing commands do: lock the entry files before reading,
    // write everything in one transaction, and plan again when a file
    // changed under the plan.
    for attempt in 0..EDIT_ATTEMPTS {
        let mut tx = write::WriteBatch::new().forced(args.force);
        if writes {
            let mut entries = vec![flake.path(&flake.rel)];
            if let Some(t) = &host_tree {
                entries.push(t.path(&t.rel));
            }
            for entry in entries {
                tx.read_locked(&entry).map_err(|e| match e {
                    WriteError::Io { error, .. } => CliError::io(&entry, &error),
                    other => CliError::from(other),
                })?;
            }
        }
        if attempt > 0 {
            flake = flake.reread()?;
            if let Some(t) = &host_tree {
                host_tree = Some(t.reread()?);
            }
        }
        let host_file = match (&in_flake, &host_tree) {
            (Some(rel), _) => Some(HostFile::InFlakeTree(rel.clone())),
            (None, Some(t)) => Some(HostFile::Other {
                files: &t.files,
                path: t.rel.clone(),
            }),
            (None, None) => None,
        };
        let opts = ApplyOptions {
            local_system: nixcross::platform::current_system(),
            host_file,
        };
        let applied = apply(&doc, &flake.files, &flake.rel, &opts).map_err(|e| match e.origin {
            Origin::Spec => CliError::from_lib(Some(&spec_path), &text, &e.error),
            Origin::Flake => flake.error(&e.error),
            Origin::Host => match &host_tree {
                Some(t) => t.error(&e.error),
                None => flake.error(&e.error),
            },
        })?;
        let mut parts = vec![(&flake, applied.flake)];
        if let (Some(t), Some(out)) = (&host_tree, applied.host) {
            parts.push((t, out));
        }
        let mode = editing::Finishing {
            dry_run: args.dry_run,
            check: args.check,
            verify: args.verify.verify,
        };
        match editing::finish_trees(mode, &spec_path, parts, tx) {
            Err(Finish::Conflict) => {}
            Err(Finish::Error(e)) => return Err(e),
            Ok(code) => return Ok(code),
        }
    }
    Err(CliError::usage(format!(
        "{}: the files kept changing while nixcross was applying it ({EDIT_ATTEMPTS} attempts); nothing was written",
        spec_path.display()
    )))
}
