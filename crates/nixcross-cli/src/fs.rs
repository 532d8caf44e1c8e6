//! Reading files safely: regular files only (a FIFO, a device or a folder is
//! refused without blocking on it), never more than
//! [`MAX_FILE_BYTES`](nixcross::files::MAX_FILE_BYTES), and [`DiskFiles`]:
//! the library's [`Files`] view over a folder on disk, confined to it.

use std::cell::RefCell;
use std::collections::HashMap;
use std::fs::File;
use std::io::Read;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use nixcross::files::{EntryKind, FileError, Files, RelPath, MAX_FILE_BYTES};
use rustix::fs::{Mode, OFlags};

use crate::common::CliError;

/// An error about `path` for the terminal (exit 2).
pub fn file_error(path: &Path, err: &FileError) -> CliError {
    CliError::usage(format!("{}: {err}", path.display()))
}

/// What an I/O error means to a reader.
pub fn classify(err: &std::io::Error) -> FileError {
    match err.kind() {
        std::io::ErrorKind::NotFound => FileError::NotFound,
        std::io::ErrorKind::IsADirectory => FileError::NotAFile,
        _ if err.raw_os_error() == Some(rustix::io::Errno::NOTDIR.raw_os_error()) => {
            FileError::NotFound
        }
        _ => FileError::Other(err.to_string()),
    }
}

/// Open `path` for reading if it is a regular file. The open does not block
/// on a FIFO and does not make a terminal the controlling one; anything but a
/// regular file (after following symlinks) is [`FileError::NotAFile`].
pub fn open_regular(path: &Path) -> Result<File, FileError> {
    open_regular_with(path, OFlags::empty())
}

/// [`open_regular`] with extra flags (`OFlags::NOFOLLOW`).
pub fn open_regular_with(path: &Path, extra: OFlags) -> Result<File, FileError> {
    let flags = OFlags::RDONLY | OFlags::NONBLOCK | OFlags::NOCTTY | OFlags::CLOEXEC | extra;
    let fd = rustix::fs::open(path, flags, Mode::empty())
        .map_err(|e| classify(&std::io::Error::from(e)))?;
    let file = File::from(fd);
    let meta = file.metadata().map_err(|e| classify(&e))?;
    if !meta.file_type().is_file() {
        return Err(FileError::NotAFile);
    }
    Ok(file)
}

/// Read at most `limit` bytes from `file`; more is [`FileError::TooLarge`].
pub fn read_to_limit(file: &mut File, limit: u64) -> Result<Vec<u8>, FileError> {
    // Room for the whole file at once (one read, not a doubling series of
    // them), as far as the limit allows; a file that grows still reads on.
    let size = file.metadata().map_or(0, |m| m.len()).min(limit + 1);
    let mut bytes = Vec::with_capacity(size as usize + 1);
    file.take(limit + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| classify(&e))?;
    if bytes.len() as u64 > limit {
        return Err(FileError::TooLarge { limit });
    }
    Ok(bytes)
}

/// The bytes of the regular file at `path`, at most `limit` of them.
pub fn read_bytes(path: &Path, limit: u64) -> Result<Vec<u8>, FileError> {
    read_to_limit(&mut open_regular(path)?, limit)
}

/// The first `n` bytes of the regular file at `path` (fewer when it is
/// shorter), whatever its size.
pub fn read_head(path: &Path, n: usize) -> Result<Vec<u8>, FileError> {
    let mut file = open_regular(path)?;
    let mut bytes = Vec::with_capacity(n);
    (&mut file)
        .take(n as u64)
        .read_to_end(&mut bytes)
        .map_err(|e| classify(&e))?;
    Ok(bytes)
}

/// The text of the regular file at `path`: UTF-8, at most
/// [`MAX_FILE_BYTES`].
pub fn read_text(path: &Path) -> Result<String, FileError> {
    String::from_utf8(read_bytes(path, MAX_FILE_BYTES)?).map_err(|_| FileError::NotText)
}

/// The library's [`Files`] over a folder on disk (the flake's folder).
///
/// Every path is resolved with symlinks followed; one that ends outside the
/// root (`../x` after resolution, a symlink to `/etc`) is
/// [`FileError::Outside`]. Reads take regular files only, at most
/// [`MAX_FILE_BYTES`], as UTF-8. The edit loop hands the texts a plan read
/// (its `Outcome`'s `before`) to the write transaction, which checks them
/// against the files before it replaces them.
///
/// A path is resolved, and a file read, once per view: the library asks for
/// a file's real path, its kind and its text separately (and may read a
/// file again), each resolution walks every component of the path, and one
/// plan should see one text per file. A later change on disk is still
/// caught when the write checks the texts; a new view ([`DiskFiles::new`])
/// resolves and reads afresh.
#[derive(Debug)]
pub struct DiskFiles {
    root: PathBuf,
    resolved: RefCell<HashMap<RelPath, Result<PathBuf, FileError>>>,
    /// Texts read so far, by real path.
    texts: RefCell<HashMap<PathBuf, String>>,
}

impl DiskFiles {
    /// A view of the folder `root` (canonicalized now).
    pub fn new(root: &Path) -> Result<DiskFiles, FileError> {
        let root = std::fs::canonicalize(root).map_err(|e| classify(&e))?;
        if !root.is_dir() {
            return Err(FileError::NotAFile);
        }
        Ok(DiskFiles {
            root,
            resolved: RefCell::default(),
            texts: RefCell::default(),
        })
    }

    /// Take `text` as what `real` (a real path, as [`DiskFiles::resolve`]
    /// gives it) holds: the text the write transaction read under its lock,
    /// so that the plan starts from exactly that text.
    pub fn know(&self, real: PathBuf, text: String) {
        self.texts.borrow_mut().insert(real, text);
    }

    /// `root/path`, not resolved (for messages and for writing through
    /// symlinks, which the write transaction resolves itself).
    pub fn path(&self, path: &RelPath) -> PathBuf {
        if path.is_root() {
            self.root.clone()
        } else {
            self.root.join(path.as_str())
        }
    }

    /// `path` with every symlink followed, when it stays inside the root.
    pub fn resolve(&self, path: &RelPath) -> Result<PathBuf, FileError> {
        if let Some(known) = self.resolved.borrow().get(path) {
            return known.clone();
        }
        let resolved = std::fs::canonicalize(self.path(path))
            .map_err(|e| classify(&e))
            .and_then(|real| {
                if real.starts_with(&self.root) {
                    Ok(real)
                } else {
                    Err(FileError::Outside)
                }
            });
        self.resolved
            .borrow_mut()
            .insert(path.clone(), resolved.clone());
        resolved
    }
}

impl Files for DiskFiles {
    fn real_path(&self, path: &RelPath) -> Result<RelPath, FileError> {
        let real = self.resolve(path)?;
        let rel = real
            .strip_prefix(&self.root)
            .map_err(|_| FileError::Outside)?;
        if rel.as_os_str().is_empty() {
            return Ok(RelPath::root());
        }
        rel.to_str()
            .and_then(RelPath::new)
            .ok_or(FileError::NotText)
    }

    fn read(&self, path: &RelPath) -> Result<String, FileError> {
        let real = self.resolve(path)?;
        if let Some(text) = self.texts.borrow().get(&real) {
            return Ok(text.clone());
        }
        let text = read_text(&real)?;
        self.texts.borrow_mut().insert(real, text.clone());
        Ok(text)
    }

    fn list(&self, path: &RelPath) -> Result<Vec<(String, EntryKind)>, FileError> {
        let real = self.resolve(path)?;
        let dir = std::fs::read_dir(&real).map_err(|e| classify(&e))?;
        let mut out = Vec::new();
        for entry in dir {
            let entry = entry.map_err(|e| classify(&e))?;
            let Ok(name) = entry.file_name().into_string() else {
                // Not UTF-8: no RelPath can name it.
                continue;
            };
            let kind = entry.file_type().map(kind_of).unwrap_or(EntryKind::Unknown);
            out.push((name, kind));
        }
        out.sort();
        Ok(out)
    }

    fn kind(&self, path: &RelPath) -> Result<EntryKind, FileError> {
        // What is there, symlinks followed (as `import` and `pathExists`
        // see it); `list` gives `readDir`'s own kinds.
        let real = self.resolve(path)?;
        let meta = std::fs::metadata(&real).map_err(|e| classify(&e))?;
        Ok(kind_of(meta.file_type()))
    }
}

fn kind_of(t: std::fs::FileType) -> EntryKind {
    if t.is_symlink() {
        EntryKind::Symlink
    } else if t.is_dir() {
        EntryKind::Directory
    } else if t.is_file() {
        EntryKind::Regular
    } else {
        EntryKind::Unknown
    }
}

/// `path` absolute, with its symbolic links resolved component by component
/// as far as it exists, and what does not exist yet appended with `.`
/// dropped and `..` taking the component before it: where the path leads.
pub fn resolved(path: &Path) -> std::io::Result<PathBuf> {
    use std::path::Component;
    let abs = std::path::absolute(path)?;
    let mut cur = PathBuf::from("/");
    let mut exists = true;
    for c in abs.components() {
        match c {
            Component::RootDir | Component::Prefix(_) | Component::CurDir => {}
            Component::ParentDir => {
                cur.pop();
            }
            Component::Normal(name) => {
                cur.push(name);
                if exists {
                    match cur.canonicalize() {
                        Ok(real) => cur = real,
                        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                            // A dangling link leads nowhere this can follow.
                            if std::fs::symlink_metadata(&cur).is_ok() {
                                return Err(e);
                            }
                            exists = false;
                        }
                        Err(e) => return Err(e),
                    }
                }
            }
        }
    }
    Ok(cur)
}

/// The device and inode of an open file (its identity, whatever its name).
pub fn identity(file: &File) -> std::io::Result<(u64, u64)> {
    let m = file.metadata()?;
    Ok((m.dev(), m.ino()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rel(p: &str) -> RelPath {
        RelPath::new(p).unwrap()
    }

    #[test]
    fn disk_files_stay_inside_the_root() {
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("secret.nix"), "{ secret = 1; }").unwrap();
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::write(root.join("flake.nix"), "{ }").unwrap();
        std::fs::create_dir(root.join("hosts")).unwrap();
        std::fs::write(root.join("hosts/a.nix"), "{ a = 1; }").unwrap();
        std::os::unix::fs::symlink("a.nix", root.join("hosts/b.nix")).unwrap();
        std::os::unix::fs::symlink(outside.path().join("secret.nix"), root.join("out.nix"))
            .unwrap();
        std::os::unix::fs::symlink(outside.path(), root.join("outdir")).unwrap();
        let files = DiskFiles::new(root).unwrap();
        assert_eq!(files.read(&rel("hosts/b.nix")).unwrap(), "{ a = 1; }");
        assert_eq!(files.read(&rel("out.nix")), Err(FileError::Outside));
        assert_eq!(
            files.read(&rel("outdir/secret.nix")),
            Err(FileError::Outside)
        );
        assert_eq!(files.list(&rel("outdir")), Err(FileError::Outside));
        assert_eq!(
            files.kind(&rel("outdir/secret.nix")),
            Err(FileError::Outside)
        );
        assert_eq!(files.read(&rel("nope.nix")), Err(FileError::NotFound));
        assert_eq!(files.read(&rel("hosts")), Err(FileError::NotAFile));
        // `kind` follows the link, as `import` does; `list` is `readDir`.
        assert_eq!(files.kind(&rel("hosts/b.nix")), Ok(EntryKind::Regular));
        assert_eq!(
            files.list(&rel("hosts")).unwrap(),
            vec![
                ("a.nix".to_string(), EntryKind::Regular),
                ("b.nix".to_string(), EntryKind::Symlink)
            ]
        );
    }

    #[test]
    fn a_view_reads_each_file_once() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::write(root.join("a.nix"), "{ a = 1; }").unwrap();
        std::fs::write(root.join("b.nix"), "{ b = 1; }").unwrap();
        let files = DiskFiles::new(root).unwrap();
        assert_eq!(files.read(&rel("a.nix")).unwrap(), "{ a = 1; }");
        // A change on disk after the first read: the view keeps the text it
        // planned with (the write's check catches the change).
        std::fs::write(root.join("a.nix"), "{ a = 2; }").unwrap();
        assert_eq!(files.read(&rel("a.nix")).unwrap(), "{ a = 1; }");
        // A text read under the write's lock is the text the plan reads.
        let real = files.resolve(&rel("b.nix")).unwrap();
        files.know(real, "{ b = 2; }".to_string());
        assert_eq!(files.read(&rel("b.nix")).unwrap(), "{ b = 2; }");
        // A new view reads afresh.
        let again = DiskFiles::new(root).unwrap();
        assert_eq!(again.read(&rel("a.nix")).unwrap(), "{ a = 2; }");
        assert_eq!(again.read(&rel("b.nix")).unwrap(), "{ b = 1; }");
    }

    #[test]
    fn reads_are_bounded_and_regular_only() {
        let dir = tempfile::tempdir().unwrap();
        let big = dir.path().join("big");
        std::fs::write(&big, vec![b'x'; 100]).unwrap();
        assert_eq!(read_bytes(&big, 99), Err(FileError::TooLarge { limit: 99 }));
        assert_eq!(read_bytes(&big, 100).unwrap().len(), 100);
        assert_eq!(read_head(&big, 4).unwrap(), b"xxxx");
        let fifo = dir.path().join("fifo");
        rustix::fs::mknodat(
            rustix::fs::CWD,
            &fifo,
            rustix::fs::FileType::Fifo,
            Mode::from_raw_mode(0o600),
            0,
        )
        .unwrap();
        // Does not block waiting for a writer.
        assert_eq!(read_text(&fifo), Err(FileError::NotAFile));
        assert_eq!(read_text(Path::new("/dev/zero")), Err(FileError::NotAFile));
        std::fs::write(dir.path().join("latin1"), b"# caf\xe9\n").unwrap();
        assert_eq!(
            read_text(&dir.path().join("latin1")),
            Err(FileError::NotText)
        );
    }
}

/// Files of a system mounted at `root` (`doctor --root`), read as that
/// system would see them: an absolute path, an absolute symlink and `..` all
/// resolve inside `root`, as if `root` were `/` (a chroot); nothing outside
/// it is ever opened. Reads are bounded and take regular files only.
#[derive(Debug)]
pub struct RootFiles {
    root: PathBuf,
}

/// How many symlinks one path may go through (Linux's limit).
const MAX_SYMLINKS: usize = 40;

impl RootFiles {
    /// The system at `root`, which must be a readable folder.
    pub fn new(root: &Path) -> Result<RootFiles, FileError> {
        let root = std::fs::canonicalize(root).map_err(|e| classify(&e))?;
        std::fs::read_dir(&root).map_err(|e| classify(&e))?;
        Ok(RootFiles { root })
    }

    /// True when inspecting the running system itself.
    pub fn is_host(&self) -> bool {
        self.root == Path::new("/")
    }

    /// Where `abs` (a path inside the inspected system) is on this machine,
    /// every symlink resolved inside the root.
    pub fn resolve(&self, abs: &str) -> Result<PathBuf, FileError> {
        // Components still to walk, last first; `inside` is what has been
        // resolved so far, relative to the root.
        let mut todo: Vec<String> = abs.split('/').rev().map(str::to_string).collect();
        let mut inside: Vec<String> = Vec::new();
        let mut links = 0;
        while let Some(part) = todo.pop() {
            match part.as_str() {
                "" | "." => continue,
                ".." => {
                    inside.pop();
                    continue;
                }
                _ => {}
            }
            let here = self.join(&inside).join(&part);
            match std::fs::symlink_metadata(&here) {
                Ok(m) if m.file_type().is_symlink() => {
                    links += 1;
                    if links > MAX_SYMLINKS {
                        return Err(FileError::Other("too many levels of symbolic links".into()));
                    }
                    let target = std::fs::read_link(&here).map_err(|e| classify(&e))?;
                    let target = target.to_string_lossy().into_owned();
                    if target.starts_with('/') {
                        inside.clear();
                    }
                    todo.extend(target.split('/').rev().map(str::to_string));
                }
                Ok(_) => inside.push(part),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    return Err(FileError::NotFound)
                }
                Err(e) => return Err(classify(&e)),
            }
        }
        Ok(self.join(&inside))
    }

    fn join(&self, parts: &[String]) -> PathBuf {
        let mut p = self.root.clone();
        for part in parts {
            p.push(part);
        }
        p
    }

    /// The text of the file at `abs` inside the root (bounded; regular files
    /// only; invalid UTF-8 replaced, as these files are only diagnosed).
    pub fn read(&self, abs: &str) -> Result<String, FileError> {
        let real = self.resolve(abs)?;
        let bytes = read_to_limit(
            &mut open_regular_with(&real, OFlags::NOFOLLOW)?,
            MAX_FILE_BYTES,
        )?;
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    }

    /// Whether anything is at `abs` inside the root.
    pub fn exists(&self, abs: &str) -> bool {
        self.resolve(abs).is_ok()
    }

    /// The names in the folder at `abs` inside the root, sorted.
    pub fn list(&self, abs: &str) -> Result<Vec<String>, FileError> {
        let real = self.resolve(abs)?;
        let mut names: Vec<String> = std::fs::read_dir(&real)
            .map_err(|e| classify(&e))?
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        Ok(names)
    }
}

#[cfg(test)]
mod root_tests {
    use super::*;

    #[test]
    fn nothing_outside_the_root_is_read() {
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("secret"), "secret").unwrap();
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("etc/nix")).unwrap();
        std::fs::create_dir_all(root.join("etc/static")).unwrap();
        std::fs::write(root.join("etc/static/nix.conf"), "inside").unwrap();
        std::os::unix::fs::symlink("/etc/static/nix.conf", root.join("etc/nix/nix.conf")).unwrap();
        std::os::unix::fs::symlink(outside.path().join("secret"), root.join("etc/nix/machines"))
            .unwrap();
        std::os::unix::fs::symlink("../../../../../../..", root.join("etc/nix/up")).unwrap();
        let files = RootFiles::new(root).unwrap();
        // An absolute link resolves inside the root, as in a chroot.
        assert_eq!(files.read("/etc/nix/nix.conf").unwrap(), "inside");
        // A link to the real /tmp/... is looked up under the root: absent.
        assert_eq!(files.read("/etc/nix/machines"), Err(FileError::NotFound));
        let escaped = format!(
            "/etc/nix/../../../../{}",
            outside.path().join("secret").display()
        );
        assert_eq!(files.read(&escaped), Err(FileError::NotFound));
        assert_eq!(files.resolve("/etc/nix/up").unwrap(), files.root);
        assert_eq!(files.read("/dev/zero"), Err(FileError::NotFound));
    }
}
