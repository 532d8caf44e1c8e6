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
use rustix::fd::AsFd;
use rustix::fs::{Mode, OFlags};

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

/// How a path under a [`Confined`] root resolves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scope {
    /// Beneath the root: a path or symbolic link that leads out of it is
    /// [`FileError::Outside`] (the flake's folder). An absolute link into
    /// the root is followed.
    Beneath,
    /// As if the root were `/` (`doctor --root`, a chroot): absolute paths,
    /// absolute links and `..` all resolve inside it.
    InRoot,
}

/// How many symbolic links one path may go through (Linux's limit).
const MAX_SYMLINKS: usize = 40;

/// A folder held open, under which every path is resolved and opened
/// without leaving it, even while folders on the way are swapped for
/// symbolic links: by `openat2` with `RESOLVE_BENEATH` (or
/// `RESOLVE_IN_ROOT`) in one system call, or, where the kernel lacks it,
/// one component at a time from held folder descriptors, each opened with
/// `O_NOFOLLOW` and each link read and resolved here, inside the root.
#[derive(Debug)]
struct Confined {
    root: PathBuf,
    fd: rustix::fd::OwnedFd,
    scope: Scope,
}

/// A file error from a system call's error.
fn errno(e: rustix::io::Errno) -> FileError {
    match e {
        rustix::io::Errno::XDEV => FileError::Outside,
        rustix::io::Errno::LOOP => FileError::Other(
            "too many levels of symbolic links (a link that leads to itself?)".into(),
        ),
        e => classify(&std::io::Error::from(e)),
    }
}

impl Confined {
    fn new(root: &Path, scope: Scope) -> Result<Confined, FileError> {
        let root = std::fs::canonicalize(root).map_err(|e| classify(&e))?;
        let fd = rustix::fs::open(
            &root,
            OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| match e {
            rustix::io::Errno::NOTDIR => FileError::NotAFile,
            e => errno(e),
        })?;
        Ok(Confined { root, fd, scope })
    }

    /// `path` under the root (relative; absolute too in [`Scope::InRoot`])
    /// opened with `flags`, every symbolic link followed inside the root.
    fn open(&self, path: &str, flags: OFlags) -> Result<rustix::fd::OwnedFd, FileError> {
        use rustix::fs::ResolveFlags;
        use rustix::io::Errno;
        let how = ResolveFlags::NO_MAGICLINKS
            | match self.scope {
                Scope::Beneath => ResolveFlags::BENEATH,
                Scope::InRoot => ResolveFlags::IN_ROOT,
            };
        let p = if path.trim_matches('/').is_empty() {
            "."
        } else {
            path
        };
        let flags = flags | OFlags::CLOEXEC | OFlags::NOCTTY;
        // The kernel answers EAGAIN when a rename raced the lookup.
        for _ in 0..4 {
            match rustix::fs::openat2(&self.fd, p, flags, Mode::empty(), how) {
                Ok(fd) => return Ok(fd),
                Err(Errno::AGAIN) => continue,
                // No openat2 (before Linux 5.6, or a filter forbids it).
                Err(Errno::NOSYS | Errno::PERM | Errno::INVAL) => break,
                // Beneath: an absolute link is refused, even into the root;
                // the walk follows one that stays inside.
                Err(Errno::XDEV) if self.scope == Scope::Beneath => break,
                Err(e) => return Err(errno(e)),
            }
        }
        self.walk_open(path, flags)
    }

    /// [`Confined::open`] by walking the path a component at a time.
    fn walk_open(&self, path: &str, flags: OFlags) -> Result<rustix::fd::OwnedFd, FileError> {
        // The last component may become a link between the walk and the
        // open (which does not follow it): walk again.
        for _ in 0..8 {
            let (dir, name, _) = self.walk(path)?;
            let dir = dir.as_ref().map_or(self.fd.as_fd(), |d| d.as_fd());
            match rustix::fs::openat(
                dir,
                name.as_os_str(),
                flags | OFlags::NOFOLLOW,
                Mode::empty(),
            ) {
                Err(rustix::io::Errno::LOOP) => continue,
                r => return r.map_err(errno),
            }
        }
        Err(errno(rustix::io::Errno::LOOP))
    }

    /// Resolve `path` inside the root: the folder that holds what it names
    /// (`None`: the root), the name there (`.` for a folder reached by
    /// `..` or the root itself), and the real path's components.
    fn walk(
        &self,
        path: &str,
    ) -> Result<
        (
            Option<rustix::fd::OwnedFd>,
            std::ffi::OsString,
            Vec<std::ffi::OsString>,
        ),
        FileError,
    > {
        use std::ffi::{OsStr, OsString};
        use std::os::unix::ffi::OsStrExt;
        fn parts(p: &[u8]) -> Vec<OsString> {
            p.split(|b| *b == b'/')
                .rev()
                .map(|c| OsStr::from_bytes(c).to_os_string())
                .collect()
        }
        let mut todo = parts(path.as_bytes());
        let mut stack: Vec<(rustix::fd::OwnedFd, OsString)> = Vec::new();
        let mut links = 0;
        while let Some(part) = todo.pop() {
            match part.as_bytes() {
                b"" | b"." => continue,
                b".." => {
                    if stack.pop().is_none() && self.scope == Scope::Beneath {
                        return Err(FileError::Outside);
                    }
                    continue;
                }
                _ => {}
            }
            let last = todo.iter().all(|p| matches!(p.as_bytes(), b"" | b"."));
            let dir = stack.last().map_or(self.fd.as_fd(), |(d, _)| d.as_fd());
            let fd = rustix::fs::openat(
                dir,
                part.as_os_str(),
                OFlags::PATH | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                Mode::empty(),
            )
            .map_err(errno)?;
            let st = rustix::fs::fstat(&fd).map_err(errno)?;
            match rustix::fs::FileType::from_raw_mode(st.st_mode) {
                rustix::fs::FileType::Symlink => {
                    links += 1;
                    if links > MAX_SYMLINKS {
                        return Err(errno(rustix::io::Errno::LOOP));
                    }
                    let target = rustix::fs::readlinkat(&fd, "", Vec::new()).map_err(errno)?;
                    let mut target = target.as_bytes();
                    if target.starts_with(b"/") {
                        match self.scope {
                            Scope::InRoot => stack.clear(),
                            Scope::Beneath => {
                                // Only a link into the root, as a path from /.
                                let root = self.root.as_os_str().as_bytes();
                                let rest = target
                                    .strip_prefix(root)
                                    .filter(|r| r.is_empty() || r.starts_with(b"/"))
                                    .ok_or(FileError::Outside)?;
                                stack.clear();
                                target = rest;
                            }
                        }
                    }
                    todo.extend(parts(target));
                }
                rustix::fs::FileType::Directory if !last => stack.push((fd, part)),
                _ if last => {
                    let names = stack.iter().map(|(_, n)| n.clone()).collect();
                    let mut real: Vec<OsString> = names;
                    real.push(part.clone());
                    let parent = stack.pop().map(|(d, _)| d);
                    return Ok((parent, part, real));
                }
                // A file in the middle of the path.
                _ => return Err(FileError::NotFound),
            }
        }
        // The root, or a folder reached by `..` or `.`.
        let real = stack.iter().map(|(_, n)| n.clone()).collect();
        let dir = stack.pop().map(|(d, _)| d);
        Ok((dir, ".".into(), real))
    }

    /// Where `path` leads, as a path on this machine (every link followed
    /// inside the root).
    fn real(&self, path: &str) -> Result<PathBuf, FileError> {
        let (_, _, parts) = self.walk(path)?;
        let mut p = self.root.clone();
        p.extend(parts);
        Ok(p)
    }

    /// The regular file at `path`, opened for reading (bounded reads: see
    /// [`read_to_limit`]); anything else is [`FileError::NotAFile`].
    fn open_regular(&self, path: &str) -> Result<File, FileError> {
        let fd = self.open(path, OFlags::RDONLY | OFlags::NONBLOCK)?;
        let file = File::from(fd);
        let meta = file.metadata().map_err(|e| classify(&e))?;
        if !meta.file_type().is_file() {
            return Err(FileError::NotAFile);
        }
        Ok(file)
    }

    /// What `path` is, links followed.
    fn kind(&self, path: &str) -> Result<EntryKind, FileError> {
        let fd = self.open(path, OFlags::PATH)?;
        let st = rustix::fs::fstat(&fd).map_err(errno)?;
        Ok(file_kind(rustix::fs::FileType::from_raw_mode(st.st_mode)))
    }

    /// The entries of the folder at `path`, with their own kinds (a link is
    /// a link), in no particular order; names that are not UTF-8 left out.
    fn list(&self, path: &str) -> Result<Vec<(String, EntryKind)>, FileError> {
        let fd = self.open(path, OFlags::RDONLY | OFlags::DIRECTORY)?;
        let mut out = Vec::new();
        let dir = rustix::fs::Dir::read_from(&fd).map_err(errno)?;
        for entry in dir {
            let entry = entry.map_err(errno)?;
            let Ok(name) = entry.file_name().to_str() else {
                continue;
            };
            if name == "." || name == ".." {
                continue;
            }
            let mut kind = entry.file_type();
            if kind == rustix::fs::FileType::Unknown {
                kind = rustix::fs::statat(&fd, name, rustix::fs::AtFlags::SYMLINK_NOFOLLOW)
                    .map(|st| rustix::fs::FileType::from_raw_mode(st.st_mode))
                    .unwrap_or(rustix::fs::FileType::Unknown);
            }
            out.push((name.to_string(), file_kind(kind)));
        }
        Ok(out)
    }
}

fn file_kind(t: rustix::fs::FileType) -> EntryKind {
    match t {
        rustix::fs::FileType::Symlink => EntryKind::Symlink,
        rustix::fs::FileType::Directory => EntryKind::Directory,
        rustix::fs::FileType::RegularFile => EntryKind::Regular,
        _ => EntryKind::Unknown,
    }
}

/// The library's [`Files`] over a folder on disk (the flake's folder).
///
/// Every path is resolved with symlinks followed; one that ends outside the
/// root (`../x` after resolution, a symlink to `/etc`) is
/// [`FileError::Outside`]. Each read, listing and kind is opened beneath
/// the root ([`Confined`]): a folder swapped for a link to elsewhere while
/// nixcross reads cannot lead it out. Reads take regular files only, at most
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
    confined: Confined,
    /// The file named on the command line, which may be a link to a file
    /// outside the root ([`DiskFiles::with_entry`]).
    entry: Option<RelPath>,
    resolved: RefCell<HashMap<RelPath, Result<PathBuf, FileError>>>,
    /// Texts read so far, by real path.
    texts: RefCell<HashMap<PathBuf, String>>,
}

impl DiskFiles {
    /// A view of the folder `root` (canonicalized now).
    pub fn new(root: &Path) -> Result<DiskFiles, FileError> {
        let confined = Confined::new(root, Scope::Beneath)?;
        Ok(DiskFiles {
            root: confined.root.clone(),
            confined,
            entry: None,
            resolved: RefCell::default(),
            texts: RefCell::default(),
        })
    }

    /// The same view, in which `entry` (the file the command line names, a
    /// name in the root) is read through its link also when the link leads
    /// outside the root: the user named it, and a module linked from
    /// elsewhere is common. Only that name; what it imports stays inside.
    pub fn with_entry(mut self, entry: RelPath) -> DiskFiles {
        self.entry = Some(entry);
        self
    }

    /// Where the entry file leads, when `path` is the entry and leads
    /// outside the root.
    fn entry_outside(&self, path: &RelPath) -> Option<PathBuf> {
        if self.entry.as_ref() != Some(path) {
            return None;
        }
        let real = std::fs::canonicalize(self.path(path)).ok()?;
        (!real.starts_with(&self.root)).then_some(real)
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
        let resolved = match self.confined.real(path.as_str()) {
            Err(FileError::Outside) => self.entry_outside(path).ok_or(FileError::Outside),
            r => r,
        };
        self.resolved
            .borrow_mut()
            .insert(path.clone(), resolved.clone());
        resolved
    }
}

impl Files for DiskFiles {
    fn real_path(&self, path: &RelPath) -> Result<RelPath, FileError> {
        let real = self.resolve(path)?;
        if !real.starts_with(&self.root) {
            // The entry, through its link out: known by its name here.
            return Ok(path.clone());
        }
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
        // Opened beneath the root by its path there, not by the real path
        // found above: nothing swapped in since can lead outside (but the
        // entry's link, which the user named).
        let mut file = match self.entry_outside(path) {
            Some(real) => open_regular(&real)?,
            None => self.confined.open_regular(path.as_str())?,
        };
        let bytes = read_to_limit(&mut file, MAX_FILE_BYTES)?;
        let text = String::from_utf8(bytes).map_err(|_| FileError::NotText)?;
        self.texts.borrow_mut().insert(real, text.clone());
        Ok(text)
    }

    fn list(&self, path: &RelPath) -> Result<Vec<(String, EntryKind)>, FileError> {
        // Names that are not UTF-8 are left out: no RelPath can name them.
        let mut out = self.confined.list(path.as_str())?;
        out.sort();
        Ok(out)
    }

    fn kind(&self, path: &RelPath) -> Result<EntryKind, FileError> {
        // What is there, symlinks followed (as `import` and `pathExists`
        // see it); `list` gives `readDir`'s own kinds.
        if self.entry_outside(path).is_some() {
            return Ok(EntryKind::Regular);
        }
        self.confined.kind(path.as_str())
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
/// it is ever opened, even while folders under it are swapped for links
/// ([`Confined`]). Reads are bounded and take regular files only.
#[derive(Debug)]
pub struct RootFiles {
    confined: Confined,
}

impl RootFiles {
    /// The system at `root`, which must be a readable folder.
    pub fn new(root: &Path) -> Result<RootFiles, FileError> {
        let confined = Confined::new(root, Scope::InRoot)?;
        confined.list("/")?;
        Ok(RootFiles { confined })
    }

    /// True when inspecting the running system itself.
    pub fn is_host(&self) -> bool {
        self.confined.root == Path::new("/")
    }

    /// Where `abs` (a path inside the inspected system) is on this machine,
    /// every symlink resolved inside the root.
    #[cfg(test)]
    pub fn resolve(&self, abs: &str) -> Result<PathBuf, FileError> {
        self.confined.real(abs)
    }

    /// The text of the file at `abs` inside the root (bounded; regular files
    /// only; invalid UTF-8 replaced, as these files are only diagnosed).
    pub fn read(&self, abs: &str) -> Result<String, FileError> {
        let bytes = read_to_limit(&mut self.confined.open_regular(abs)?, MAX_FILE_BYTES)?;
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    }

    /// Whether anything is at `abs` inside the root.
    pub fn exists(&self, abs: &str) -> bool {
        self.confined.open(abs, OFlags::PATH).is_ok()
    }

    /// The names in the folder at `abs` inside the root, sorted.
    pub fn list(&self, abs: &str) -> Result<Vec<String>, FileError> {
        let mut names: Vec<String> = self
            .confined
            .list(abs)?
            .into_iter()
            .map(|(n, _)| n)
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
        assert_eq!(files.resolve("/etc/nix/up").unwrap(), files.confined.root);
        assert_eq!(files.read("/dev/zero"), Err(FileError::NotFound));
    }
}

#[cfg(test)]
mod confined_tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn text(fd: rustix::fd::OwnedFd) -> String {
        let mut s = String::new();
        File::from(fd).read_to_string(&mut s).unwrap();
        s
    }

    /// The walk (what runs where openat2 does not) and openat2 agree: links
    /// that stay inside are followed, one that leads out is refused
    /// (beneath) or stays inside (in root), a loop is an error that says so.
    #[test]
    fn the_walk_and_openat2_confine_alike() {
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("secret"), "secret").unwrap();
        let dir = tempfile::tempdir().unwrap();
        let root = std::fs::canonicalize(dir.path()).unwrap();
        std::fs::create_dir_all(root.join("a/b")).unwrap();
        std::fs::write(root.join("a/b/f"), "inside").unwrap();
        symlink("b/f", root.join("a/rel")).unwrap();
        symlink(root.join("a/b/f"), root.join("a/abs")).unwrap();
        symlink("../../..", root.join("a/up")).unwrap();
        symlink(outside.path().join("secret"), root.join("out")).unwrap();
        symlink("loop2", root.join("loop1")).unwrap();
        symlink("loop1", root.join("loop2")).unwrap();
        let beneath = Confined::new(&root, Scope::Beneath).unwrap();
        let in_root = Confined::new(&root, Scope::InRoot).unwrap();
        for open in [
            |c: &Confined, p: &str| c.open(p, OFlags::RDONLY),
            |c: &Confined, p: &str| c.walk_open(p, OFlags::RDONLY),
        ] {
            assert_eq!(text(open(&beneath, "a/rel").unwrap()), "inside");
            assert_eq!(text(open(&beneath, "a/abs").unwrap()), "inside");
            assert_eq!(text(open(&beneath, "a/b/../b/f").unwrap()), "inside");
            assert_eq!(open(&beneath, "out").unwrap_err(), FileError::Outside);
            assert_eq!(open(&beneath, "a/up/x").unwrap_err(), FileError::Outside);
            assert_eq!(open(&beneath, "../x").unwrap_err(), FileError::Outside);
            assert_eq!(open(&beneath, "nope").unwrap_err(), FileError::NotFound);
            let looped = open(&beneath, "loop1").unwrap_err();
            assert!(looped.to_string().contains("symbolic links"), "{looped}");
            // In root: `..` and absolute links stay inside.
            assert_eq!(text(open(&in_root, "/a/up/a/b/f").unwrap()), "inside");
            assert_eq!(open(&in_root, "/out").unwrap_err(), FileError::NotFound);
        }
        assert_eq!(beneath.real("a/rel").unwrap(), root.join("a/b/f"));
        assert_eq!(beneath.real("a/abs").unwrap(), root.join("a/b/f"));
        assert_eq!(in_root.real("/a/up").unwrap(), root);
    }
}
