//! The file view: how the pure library reads a tree of files without doing
//! I/O itself. The CLI implements [`Files`] over the file system (confined to
//! the flake's folder, with bounded reads); tests implement it in memory
//! ([`MemFiles`]). This is rust-analyzer's `vfs` seam at nixcross's size.
//!
//! Paths are [`RelPath`]s: normalized, `/`-separated, relative to the root
//! of the tree (the folder that holds `flake.nix`). A Nix path such as
//! `./hosts/a.nix` or `../modules` is resolved lexically from the folder of
//! the file that writes it ([`RelPath::join_nix`]); a path that would leave
//! the root is not followed.

use std::collections::BTreeMap;
use std::fmt;

/// The largest file nixcross reads: 4 MiB. Readers refuse a larger file with
/// [`FileError::TooLarge`]; [`crate::syntax::parse`] refuses larger text.
/// Hand-written Nix files stay far below it (nixpkgs' `all-packages.nix`,
/// among the largest, is under 2 MiB); the limit also bounds how long
/// rnix may take on a hostile file (a few seconds at worst).
pub const MAX_FILE_BYTES: u64 = 4 * 1024 * 1024;

/// A normalized path relative to the root of a [`Files`] tree: no `.`, no
/// `..`, no empty components, no leading `/`. The root itself is empty.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct RelPath(String);

impl serde::Serialize for RelPath {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl RelPath {
    /// The root folder.
    pub fn root() -> RelPath {
        RelPath(String::new())
    }

    /// Parse a relative path such as `hosts/a/default.nix`. `None` when it is
    /// absolute or leaves the root (`../x`).
    pub fn new(path: &str) -> Option<RelPath> {
        if path.starts_with('/') {
            return None;
        }
        RelPath::root().join(path)
    }

    /// The path as `/`-separated text (`""` for the root).
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// True for the root folder.
    pub fn is_root(&self) -> bool {
        self.0.is_empty()
    }

    /// The folder that holds this path (the root's parent is `None`).
    pub fn parent(&self) -> Option<RelPath> {
        if self.is_root() {
            return None;
        }
        Some(RelPath(
            self.0
                .rsplit_once('/')
                .map_or("", |(dir, _)| dir)
                .to_string(),
        ))
    }

    /// The last component (`""` for the root).
    pub fn file_name(&self) -> &str {
        self.0.rsplit_once('/').map_or(&self.0, |(_, name)| name)
    }

    /// `self/rest`, normalized lexically. `None` when `rest` climbs above
    /// the root or is absolute.
    pub fn join(&self, rest: &str) -> Option<RelPath> {
        if rest.starts_with('/') {
            return None;
        }
        let mut parts: Vec<&str> = if self.is_root() {
            Vec::new()
        } else {
            self.0.split('/').collect()
        };
        for part in rest.split('/') {
            match part {
                "" | "." => {}
                ".." => {
                    parts.pop()?;
                }
                p => parts.push(p),
            }
        }
        Some(RelPath(parts.join("/")))
    }

    /// Resolve a Nix path literal written in the file `self` (`./x.nix`,
    /// `../modules`, `./.`) against that file's folder. `None` for paths that
    /// are absolute, home-relative (`~/x`), search paths (`<nixpkgs>`), or
    /// that leave the root.
    pub fn join_nix(&self, literal: &str) -> Option<RelPath> {
        let rest = literal
            .strip_prefix("./")
            .map(|r| r.to_string())
            .or_else(|| literal.starts_with("../").then(|| literal.to_string()))
            .or_else(|| (literal == ".").then(String::new))?;
        self.parent()?.join(&rest)
    }
}

impl fmt::Display for RelPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_root() {
            f.write_str(".")
        } else {
            f.write_str(&self.0)
        }
    }
}

/// What `builtins.readDir` calls an entry's type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum EntryKind {
    /// `"regular"`
    Regular,
    /// `"directory"`
    Directory,
    /// `"symlink"`
    Symlink,
    /// `"unknown"` (a FIFO, a device, ...)
    Unknown,
}

impl EntryKind {
    /// The string `builtins.readDir` gives.
    pub fn as_nix(self) -> &'static str {
        match self {
            EntryKind::Regular => "regular",
            EntryKind::Directory => "directory",
            EntryKind::Symlink => "symlink",
            EntryKind::Unknown => "unknown",
        }
    }
}

/// Why a file could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum FileError {
    /// There is no such file or folder.
    NotFound,
    /// The path leads outside the tree (a symlink out of the root, ...).
    Outside,
    /// The file is larger than the reader accepts.
    TooLarge {
        /// The limit, in bytes.
        limit: u64,
    },
    /// Not a regular file (a FIFO, a device), or a folder where a file was
    /// expected.
    NotAFile,
    /// The bytes are not UTF-8 text.
    NotText,
    /// Anything else the operating system said.
    Other(String),
}

impl fmt::Display for FileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FileError::NotFound => f.write_str("no such file or folder"),
            FileError::Outside => f.write_str("it leads outside the flake's folder"),
            FileError::TooLarge { limit } => write!(f, "it is larger than {limit} bytes"),
            FileError::NotAFile => f.write_str("it is not a regular file"),
            FileError::NotText => f.write_str("it is not UTF-8 text"),
            FileError::Other(s) => f.write_str(s),
        }
    }
}

/// Read access to a tree of files rooted at the flake's folder.
pub trait Files {
    /// The text of the file at `path`.
    fn read(&self, path: &RelPath) -> Result<String, FileError>;
    /// The entries of the folder at `path`, sorted by name.
    fn list(&self, path: &RelPath) -> Result<Vec<(String, EntryKind)>, FileError>;
    /// What `path` is, without reading it.
    fn kind(&self, path: &RelPath) -> Result<EntryKind, FileError>;
    /// The file `path` names, with symbolic links followed: two paths that
    /// name one file give the same answer, so that nixcross sees that a
    /// file reached through a link is shared. The default, for a tree
    /// without links, is `path` itself.
    fn real_path(&self, path: &RelPath) -> Result<RelPath, FileError> {
        Ok(path.clone())
    }
}

/// A tree of files in memory, for tests and for callers that hold the text
/// already. Folders exist implicitly wherever a file is below them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MemFiles {
    files: BTreeMap<RelPath, String>,
}

impl MemFiles {
    /// An empty tree.
    pub fn new() -> MemFiles {
        MemFiles::default()
    }

    /// A tree of one file.
    pub fn single(path: &str, text: impl Into<String>) -> MemFiles {
        let mut files = MemFiles::new();
        files.insert(path, text);
        files
    }

    /// Add or replace a file. Panics on a path that is not relative (a
    /// programming error in the caller).
    pub fn insert(&mut self, path: &str, text: impl Into<String>) -> &mut MemFiles {
        let p = RelPath::new(path).unwrap_or_else(|| panic!("not a relative path: {path}"));
        self.files.insert(p, text.into());
        self
    }

    /// Every file, in path order.
    pub fn iter(&self) -> impl Iterator<Item = (&RelPath, &str)> {
        self.files.iter().map(|(p, t)| (p, t.as_str()))
    }

    fn is_dir(&self, path: &RelPath) -> bool {
        path.is_root()
            || self
                .files
                .keys()
                .any(|k| k.as_str().starts_with(&format!("{}/", path.as_str())))
    }
}

impl Files for MemFiles {
    fn read(&self, path: &RelPath) -> Result<String, FileError> {
        match self.files.get(path) {
            Some(t) => Ok(t.clone()),
            None if self.is_dir(path) => Err(FileError::NotAFile),
            None => Err(FileError::NotFound),
        }
    }

    fn list(&self, path: &RelPath) -> Result<Vec<(String, EntryKind)>, FileError> {
        if !self.is_dir(path) {
            return Err(if self.files.contains_key(path) {
                FileError::NotAFile
            } else {
                FileError::NotFound
            });
        }
        let prefix = if path.is_root() {
            String::new()
        } else {
            format!("{}/", path.as_str())
        };
        let mut out: BTreeMap<String, EntryKind> = BTreeMap::new();
        for k in self.files.keys() {
            let Some(rest) = k.as_str().strip_prefix(&prefix) else {
                continue;
            };
            match rest.split_once('/') {
                Some((dir, _)) => out.insert(dir.to_string(), EntryKind::Directory),
                None => out.insert(rest.to_string(), EntryKind::Regular),
            };
        }
        Ok(out.into_iter().collect())
    }

    fn kind(&self, path: &RelPath) -> Result<EntryKind, FileError> {
        if self.files.contains_key(path) {
            Ok(EntryKind::Regular)
        } else if self.is_dir(path) {
            Ok(EntryKind::Directory)
        } else {
            Err(FileError::NotFound)
        }
    }
}

/// A tree seen through edits not yet written: the texts in `changed`
/// replace (or add) files of `base`. Operations composed into one
/// transaction ([`crate::edit::Transaction`]) each read the tree as the
/// ones before them left it.
pub struct Overlay<'b> {
    base: &'b dyn Files,
    changed: BTreeMap<RelPath, String>,
}

impl<'b> Overlay<'b> {
    /// `base`, unchanged so far.
    pub fn new(base: &'b dyn Files) -> Overlay<'b> {
        Overlay {
            base,
            changed: BTreeMap::new(),
        }
    }

    /// The tree underneath.
    pub fn base(&self) -> &'b dyn Files {
        self.base
    }

    /// Give `path` the text `text` (a new file, or a new text of one of `base`).
    pub fn set(&mut self, path: RelPath, text: String) {
        self.changed.insert(path, text);
    }

    /// The files given a text so far, in path order.
    pub fn changed(&self) -> impl Iterator<Item = (&RelPath, &str)> {
        self.changed.iter().map(|(p, t)| (p, t.as_str()))
    }

    /// Whether `path` is a folder only because a new file lies below it.
    fn new_dir(&self, path: &RelPath) -> bool {
        let prefix = format!("{}/", path.as_str());
        path.is_root() || self.changed.keys().any(|k| k.as_str().starts_with(&prefix))
    }
}

impl Files for Overlay<'_> {
    fn read(&self, path: &RelPath) -> Result<String, FileError> {
        let real = self.real_path(path)?;
        match self.changed.get(&real).or_else(|| self.changed.get(path)) {
            Some(t) => Ok(t.clone()),
            None => self.base.read(path),
        }
    }

    fn real_path(&self, path: &RelPath) -> Result<RelPath, FileError> {
        match self.base.real_path(path) {
            Err(FileError::NotFound) if self.changed.contains_key(path) => Ok(path.clone()),
            other => other,
        }
    }

    fn list(&self, path: &RelPath) -> Result<Vec<(String, EntryKind)>, FileError> {
        let mut out: BTreeMap<String, EntryKind> = match self.base.list(path) {
            Ok(entries) => entries.into_iter().collect(),
            Err(FileError::NotFound) if self.new_dir(path) => BTreeMap::new(),
            Err(e) => return Err(e),
        };
        let prefix = if path.is_root() {
            String::new()
        } else {
            format!("{}/", path.as_str())
        };
        for k in self.changed.keys() {
            let Some(rest) = k.as_str().strip_prefix(&prefix) else {
                continue;
            };
            match rest.split_once('/') {
                Some((dir, _)) => out.entry(dir.to_string()).or_insert(EntryKind::Directory),
                None => out.entry(rest.to_string()).or_insert(EntryKind::Regular),
            };
        }
        Ok(out.into_iter().collect())
    }

    fn kind(&self, path: &RelPath) -> Result<EntryKind, FileError> {
        if self.changed.contains_key(path) {
            return Ok(EntryKind::Regular);
        }
        match self.base.kind(path) {
            Err(FileError::NotFound) if self.new_dir(path) => Ok(EntryKind::Directory),
            other => other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_normalize_and_stay_inside() {
        let p = RelPath::new("hosts/./a/../b/default.nix").unwrap();
        assert_eq!(p.as_str(), "hosts/b/default.nix");
        assert_eq!(p.parent().unwrap().as_str(), "hosts/b");
        assert_eq!(p.file_name(), "default.nix");
        assert!(RelPath::new("../x").is_none());
        assert!(RelPath::new("/etc/nixos").is_none());
        let flake = RelPath::new("flake.nix").unwrap();
        assert_eq!(
            flake.join_nix("./hosts/a.nix").unwrap().as_str(),
            "hosts/a.nix"
        );
        assert!(flake.join_nix("../outside.nix").is_none());
        assert!(flake.join_nix("/etc/nixos/x.nix").is_none());
        assert!(flake.join_nix("<nixpkgs>").is_none());
        assert!(flake.join_nix("./.").unwrap().is_root());
        let m = RelPath::new("hosts/a/configuration.nix").unwrap();
        assert_eq!(
            m.join_nix("../../modules/x.nix").unwrap().as_str(),
            "modules/x.nix"
        );
        assert_eq!(m.join_nix(".").unwrap().as_str(), "hosts/a");
    }

    #[test]
    fn memory_tree_lists_like_read_dir() {
        let mut f = MemFiles::new();
        f.insert("flake.nix", "{ }")
            .insert("hosts/a/default.nix", "{ }")
            .insert("hosts/b.nix", "{ }");
        let hosts = RelPath::new("hosts").unwrap();
        assert_eq!(
            f.list(&hosts).unwrap(),
            vec![
                ("a".to_string(), EntryKind::Directory),
                ("b.nix".to_string(), EntryKind::Regular)
            ]
        );
        assert_eq!(f.kind(&hosts).unwrap(), EntryKind::Directory);
        assert_eq!(f.read(&hosts), Err(FileError::NotAFile));
        assert_eq!(
            f.read(&RelPath::new("nope.nix").unwrap()),
            Err(FileError::NotFound)
        );
        assert_eq!(f.list(&RelPath::root()).unwrap().len(), 2);
    }

    #[test]
    fn an_overlay_shows_new_texts_over_the_base() {
        let mut base = MemFiles::new();
        base.insert("flake.nix", "old").insert("hosts/a.nix", "a");
        let mut o = Overlay::new(&base);
        o.set(RelPath::new("flake.nix").unwrap(), "new".into());
        o.set(RelPath::new("hosts/b/default.nix").unwrap(), "b".into());
        assert_eq!(o.read(&RelPath::new("flake.nix").unwrap()).unwrap(), "new");
        assert_eq!(o.read(&RelPath::new("hosts/a.nix").unwrap()).unwrap(), "a");
        let hosts = RelPath::new("hosts").unwrap();
        assert_eq!(
            o.list(&hosts).unwrap(),
            vec![
                ("a.nix".to_string(), EntryKind::Regular),
                ("b".to_string(), EntryKind::Directory)
            ]
        );
        let b = RelPath::new("hosts/b").unwrap();
        assert_eq!(o.kind(&b).unwrap(), EntryKind::Directory);
        assert_eq!(o.list(&b).unwrap().len(), 1);
        assert_eq!(
            o.read(&RelPath::new("nope").unwrap()),
            Err(FileError::NotFound)
        );
        // The base is untouched.
        assert_eq!(
            base.read(&RelPath::new("flake.nix").unwrap()).unwrap(),
            "old"
        );
    }
}
