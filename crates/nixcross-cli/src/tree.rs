//! The file tree a command reads: the folder of the flake (or module) it
//! edits, read through [`crate::fs::DiskFiles`] (every read confined to that
//! folder, bounded, remembered for the write's check), and how the flake is
//! found (`-f` a file or a folder, else `flake.nix` in the current folder or
//! a parent, as cargo finds Cargo.toml).

use std::path::{Path, PathBuf};

use nixcross::files::RelPath;

use crate::error::{CliError, Missing, TreeError};
use crate::fs::DiskFiles;

/// A file to work on, as [`locate`] found it: the tree of its folder and
/// its path in that tree.
#[derive(Debug)]
pub struct Located {
    /// The folder's files.
    pub files: DiskFiles,
    /// The file, relative to the folder.
    pub rel: RelPath,
    /// The folder as the user named it (for messages).
    pub dir: PathBuf,
}

impl Located {
    /// The disk path of a file of the tree, as the user would write it.
    pub fn display(&self, rel: &RelPath) -> PathBuf {
        let full = if self.dir.as_os_str().is_empty() || self.dir == Path::new(".") {
            PathBuf::from(rel.as_str())
        } else {
            self.dir.join(rel.as_str())
        };
        // A tree found above the current folder: its files below the
        // current folder are shown from here.
        if full.is_absolute() {
            if let Some(r) = std::env::current_dir()
                .ok()
                .and_then(|cwd| full.strip_prefix(cwd).ok().map(Path::to_path_buf))
            {
                return r;
            }
        }
        full
    }

    /// The disk path to write `rel` to.
    pub fn path(&self, rel: &RelPath) -> PathBuf {
        self.files.path(rel)
    }

    /// The same tree, with nothing read yet (to plan again after a file
    /// changed under an edit).
    pub fn reread(&self) -> Result<Located, TreeError> {
        Ok(Located {
            files: open(&self.dir)?.with_entry(self.rel.clone()),
            rel: self.rel.clone(),
            dir: self.dir.clone(),
        })
    }

    /// A library error about a file of this tree: `path:line:col: message`
    /// when it has a location, else as [`CliError::from_lib`] about the
    /// file located.
    pub fn error(&self, err: &nixcross::Error) -> CliError {
        if let Some(loc) = &err.location {
            return CliError::at(&self.display(&loc.file), loc.line, loc.col, err);
        }
        let text = nixcross::files::Files::read(&self.files, &self.rel).unwrap_or_default();
        CliError::from_lib(Some(&self.display(&self.rel)), &text, err)
    }
}

fn open(dir: &Path) -> Result<DiskFiles, TreeError> {
    DiskFiles::new(dir).map_err(|error| TreeError::File {
        path: dir.to_path_buf(),
        error,
    })
}

/// The file `-f` names (a folder means its `flake.nix`), or `flake.nix` in
/// the current folder or the nearest parent that has one.
pub fn locate(file: Option<&Path>) -> Result<Located, TreeError> {
    let path = match file {
        Some(p) if p.is_dir() => {
            let inside = p.join("flake.nix");
            if !inside.exists() {
                return Err(TreeError::NoFlakeIn {
                    dir: p.to_path_buf(),
                    named_flake_nix: p.file_name().is_some_and(|n| n == "flake.nix"),
                });
            }
            inside
        }
        Some(p) => p.to_path_buf(),
        None => find_flake()?,
    };
    if let Err(e) = std::fs::metadata(&path) {
        let why = missing(&path, e);
        return Err(TreeError::Missing { path, why });
    }
    if path.is_dir() {
        return Err(TreeError::Folder { path });
    }
    let parent = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    // A module file of a flake is read in the flake's tree, so that what it
    // imports from `../` is read too; elsewhere (/etc/nixos) in its folder.
    let is_flake = path.file_name().is_some_and(|n| n == "flake.nix");
    let dir = (!is_flake)
        .then(|| flake_root_above(&parent))
        .flatten()
        .unwrap_or(parent);
    let abs_path = lexical_absolute(&path).unwrap_or_else(|| path.clone());
    let abs_dir = lexical_absolute(&dir).unwrap_or_else(|| dir.clone());
    let within = abs_path.strip_prefix(&abs_dir).ok();
    let name = within
        .filter(|r| !r.as_os_str().is_empty())
        .and_then(|r| r.to_str())
        .or_else(|| path.file_name().and_then(|n| n.to_str()))
        .ok_or_else(|| TreeError::NotUtf8 { path: path.clone() })?;
    let rel = RelPath::new(name).ok_or_else(|| TreeError::BadName { path: path.clone() })?;
    // The file named may be a link to a file elsewhere (a module kept in a
    // repository, linked from /etc/nixos): it is read and written through
    // the link, and its relative paths are read from this folder, as Nix
    // reads them.
    Ok(Located {
        files: open(&dir)?.with_entry(rel.clone()),
        rel,
        dir,
    })
}

/// `p` as an absolute path with `.` and `..` taken out as written (not
/// through links).
fn lexical_absolute(p: &Path) -> Option<PathBuf> {
    let abs = std::path::absolute(p).ok()?;
    let mut out = PathBuf::new();
    for c in abs.components() {
        match c {
            std::path::Component::ParentDir => {
                out.pop();
            }
            std::path::Component::CurDir => {}
            c => out.push(c),
        }
    }
    Some(out)
}

/// The nearest folder at or above `dir` with a `flake.nix`, not above the
/// root of a git repository.
fn flake_root_above(dir: &Path) -> Option<PathBuf> {
    let abs = lexical_absolute(dir)?;
    for d in abs.ancestors() {
        if d.join("flake.nix").is_file() {
            if d == abs {
                // The file's own folder: as the user named it.
                return Some(dir.to_path_buf());
            }
            // Above: relative to the current folder when it is below it.
            let cwd = lexical_absolute(Path::new("."))?;
            return Some(match d.strip_prefix(&cwd) {
                Ok(r) if r.as_os_str().is_empty() => PathBuf::from("."),
                Ok(r) => r.to_path_buf(),
                Err(_) => d.to_path_buf(),
            });
        }
        if d.join(".git").exists() {
            return None;
        }
    }
    None
}

/// Why the file at `path` cannot be opened, given the error of following
/// it: a link that leads to itself and a dangling link say so.
fn missing(path: &Path, e: std::io::Error) -> Missing {
    if e.raw_os_error() == Some(rustix::io::Errno::LOOP.raw_os_error()) {
        return Missing::Loop;
    }
    if e.kind() == std::io::ErrorKind::NotFound {
        if let Ok(to) = std::fs::read_link(path) {
            return Missing::Dangling { to };
        }
        return Missing::NotFound;
    }
    Missing::Io(e)
}

fn find_flake() -> Result<PathBuf, TreeError> {
    find_up(
        "flake.nix",
        "no flake.nix in this folder or any parent; pass -f <FILE or FOLDER>",
    )
}

/// `name` in the current folder or the nearest parent that has one,
/// relative to the current folder when it is below it; else `missing` as
/// the error.
pub fn find_up(name: &str, missing: &str) -> Result<PathBuf, TreeError> {
    let cwd = std::env::current_dir().map_err(|error| TreeError::Io {
        path: PathBuf::from("."),
        error,
    })?;
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
            None => {
                return Err(TreeError::NotAbove {
                    message: missing.to_string(),
                })
            }
        }
    }
}
