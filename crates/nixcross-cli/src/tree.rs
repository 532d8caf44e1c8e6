//! The file tree a command reads: the folder of the flake (or module) it
//! edits, read through [`nixcross::files::Files`] with every read confined to
//! that folder, and how the flake is found (`-f` a file or a folder, else
//! `flake.nix` in the current folder or a parent, as cargo finds
//! Cargo.toml).

use std::path::{Path, PathBuf};

use nixcross::files::{EntryKind, FileError, Files, RelPath};

use crate::common::CliError;

/// The most bytes nixcross reads from one file.
pub const MAX_FILE: u64 = 64 * 1024 * 1024;

/// A folder on disk, read-only, nothing outside it.
#[derive(Debug, Clone)]
pub struct DiskFiles {
    root: PathBuf,
}

impl DiskFiles {
    /// The tree under `root`.
    pub fn new(root: &Path) -> Result<DiskFiles, CliError> {
        let root = root.canonicalize().map_err(|e| CliError::io(root, &e))?;
        Ok(DiskFiles { root })
    }

    /// The real path of `rel`, refusing paths that lead out of the root.
    fn real(&self, rel: &RelPath) -> Result<PathBuf, FileError> {
        let p = if rel.is_root() {
            self.root.clone()
        } else {
            self.root.join(rel.as_str())
        };
        let real = p.canonicalize().map_err(io_error)?;
        if !real.starts_with(&self.root) {
            return Err(FileError::Outside);
        }
        Ok(real)
    }

    /// The disk path of `rel` as the user would write it (for messages and writes).
    pub fn path_of(&self, rel: &RelPath) -> PathBuf {
        self.root.join(rel.as_str())
    }
}

fn io_error(e: std::io::Error) -> FileError {
    match e.kind() {
        std::io::ErrorKind::NotFound => FileError::NotFound,
        _ => FileError::Other(e.to_string()),
    }
}

impl Files for DiskFiles {
    fn read(&self, rel: &RelPath) -> Result<String, FileError> {
        use std::io::Read;
        let real = self.real(rel)?;
        let meta = std::fs::metadata(&real).map_err(io_error)?;
        if !meta.is_file() {
            return Err(FileError::NotAFile);
        }
        if meta.len() > MAX_FILE {
            return Err(FileError::TooLarge { limit: MAX_FILE });
        }
        let f = std::fs::File::open(&real).map_err(io_error)?;
        let mut bytes = Vec::new();
        f.take(MAX_FILE + 1)
            .read_to_end(&mut bytes)
            .map_err(io_error)?;
        if bytes.len() as u64 > MAX_FILE {
            return Err(FileError::TooLarge { limit: MAX_FILE });
        }
        String::from_utf8(bytes).map_err(|_| FileError::NotText)
    }

    fn list(&self, rel: &RelPath) -> Result<Vec<(String, EntryKind)>, FileError> {
        let real = self.real(rel)?;
        let mut out = Vec::new();
        for entry in std::fs::read_dir(&real).map_err(io_error)? {
            let entry = entry.map_err(io_error)?;
            let kind = match entry.file_type() {
                Ok(t) if t.is_symlink() => EntryKind::Symlink,
                Ok(t) if t.is_dir() => EntryKind::Directory,
                Ok(t) if t.is_file() => EntryKind::Regular,
                _ => EntryKind::Unknown,
            };
            out.push((entry.file_name().to_string_lossy().into_owned(), kind));
        }
        out.sort();
        Ok(out)
    }

    fn kind(&self, rel: &RelPath) -> Result<EntryKind, FileError> {
        let real = self.real(rel)?;
        let meta = std::fs::metadata(&real).map_err(io_error)?;
        Ok(if meta.is_dir() {
            EntryKind::Directory
        } else if meta.is_file() {
            EntryKind::Regular
        } else {
            EntryKind::Unknown
        })
    }
}

/// A file to work on: the tree of its folder and its path in that tree.
#[derive(Debug, Clone)]
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
        self.files.path_of(rel)
    }
}

/// The file `-f` names (a folder means its `flake.nix`), or `flake.nix` in
/// the current folder or the nearest parent that has one.
pub fn locate(file: Option<&Path>) -> Result<Target, CliError> {
    let path = match file {
        Some(p) if p.is_dir() => p.join("flake.nix"),
        Some(p) => p.to_path_buf(),
        None => find_flake()?,
    };
    if !path.exists() {
        return Err(CliError::usage(format!("{}: no such file", path.display())));
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
        files: DiskFiles::new(&dir)?,
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
        if candidate.is_file() {
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
