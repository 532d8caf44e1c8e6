//! The file tree a command reads: the folder of the flake (or module) it
//! edits, read through [`crate::fs::DiskFiles`] (every read confined to that
//! folder, bounded, remembered for the write's check), and how the flake is
//! found (`-f` a file or a folder, else `flake.nix` in the current folder or
//! a parent, as cargo finds Cargo.toml).

use std::path::{Path, PathBuf};

use nixcross::files::RelPath;

use crate::common::CliError;
use crate::fs::DiskFiles;

/// A file to work on: the tree of its folder and its path in that tree.
#[derive(Debug)]
pub struct Target {
    /// The folder's files.
    pub files: DiskFiles,
    /// The file, relative to the folder.
    pub rel: RelPath,
    /// The folder as the user named it (for messages).
    pub dir: PathBuf,
}

impl Target {
    /// The disk path of a file of the tree, as the user would write it.
    pub fn display(&self, rel: &RelPath) -> PathBuf {
        if self.dir.as_os_str().is_empty() || self.dir == Path::new(".") {
            PathBuf::from(rel.as_str())
        } else {
            self.dir.join(rel.as_str())
        }
    }

    /// The disk path to write `rel` to.
    pub fn path(&self, rel: &RelPath) -> PathBuf {
        self.files.path(rel)
    }

    /// The same tree, with nothing read yet (to plan again after a file
    /// changed under an edit).
    pub fn reread(&self) -> Result<Target, CliError> {
        Ok(Target {
            files: open(&self.dir)?,
            rel: self.rel.clone(),
            dir: self.dir.clone(),
        })
    }
}

fn open(dir: &Path) -> Result<DiskFiles, CliError> {
    DiskFiles::new(dir).map_err(|e| crate::fs::file_error(dir, &e))
}

/// The file `-f` names (a folder means its `flake.nix`), or `flake.nix` in
/// the current folder or the nearest parent that has one.
pub fn locate(file: Option<&Path>) -> Result<Target, CliError> {
    let path = match file {
        Some(p) if p.is_dir() => {
            let inside = p.join("flake.nix");
            if !inside.exists() {
                // `-f flake.nix` where flake.nix is a folder says so.
                let what = if p.file_name().is_some_and(|n| n == "flake.nix") {
                    "is a folder, not a file"
                } else {
                    "is a folder with no flake.nix"
                };
                return Err(CliError::usage(format!(
                    "{}: {what}\n  hint: -f takes a flake.nix, a module file, or a folder with a flake.nix",
                    p.display()
                )));
            }
            inside
        }
        Some(p) => p.to_path_buf(),
        None => find_flake()?,
    };
    if !path.exists() {
        return Err(CliError::usage(format!("{}: no such file", path.display())));
    }
    if path.is_dir() {
        return Err(CliError::usage(format!(
            "{}: is a folder, not a file",
            path.display()
        )));
    }
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = path.file_name().and_then(|n| n.to_str()).ok_or_else(|| {
        CliError::usage(format!(
            "{}: not a file name nixcross can read",
            path.display()
        ))
    })?;
    let rel = RelPath::new(name).ok_or_else(|| {
        CliError::usage(format!(
            "{}: not a file name nixcross can read",
            path.display()
        ))
    })?;
    Ok(Target {
        files: open(&dir)?,
        rel,
        dir,
    })
}

fn find_flake() -> Result<PathBuf, CliError> {
    find_up(
        "flake.nix",
        "no flake.nix in this folder or any parent; pass -f <FILE or FOLDER>",
    )
}

/// `name` in the current folder or the nearest parent that has one,
/// relative to the current folder when it is below it; else `missing` as
/// the error.
pub fn find_up(name: &str, missing: &str) -> Result<PathBuf, CliError> {
    let cwd = std::env::current_dir().map_err(|e| CliError::io(Path::new("."), &e))?;
    let mut dir: &Path = &cwd;
    loop {
        let candidate = dir.join(name);
        // A folder of that name is found too: reading it says what it is
        // (not "no flake.nix").
        if candidate.exists() {
            return Ok(match candidate.strip_prefix(&cwd) {
                Ok(rel) => rel.to_path_buf(),
                Err(_) => candidate,
            });
        }
        match dir.parent() {
            Some(p) => dir = p,
            None => return Err(CliError::usage(missing)),
        }
    }
}
