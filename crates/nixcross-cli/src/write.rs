//! Writing files: one transaction for one file or many.
//!
//! A [`Change`] says which file to replace, what it held when it was read
//! ([`Before`]) and what it should hold. [`commit`] (or
//! [`WriteBatch::commit`]):
//!
//! 1. resolves each path: a symlink is followed to the file it names, and
//!    that file is written, so the link stays a link; a dangling symlink is
//!    refused;
//! 2. locks the files with `flock(LOCK_EX)` in a fixed order (sorted by
//!    resolved path), and after each lock checks that the locked inode is
//!    still the one at the path (another nixcross may have renamed a new file
//!    over it while this one waited);
//! 3. checks that every file still holds exactly what was read (or is still
//!    absent), else [`WriteError::Conflict`] and nothing is written;
//! 4. refuses a file whose permissions deny this user writing it (a 0444
//!    file in a folder the user may write would otherwise be replaced by
//!    the rename): [`WriteError::Refused`], unless the transaction is
//!    [forced](WriteBatch::forced); root may write any file, as with
//!    other tools;
//! 5. writes each new text to a temporary file in the target's folder, gives
//!    it the target's owner, group and mode (setuid, setgid and sticky bits
//!    included), checks that they took, and fsyncs it; a file whose owner or
//!    mode cannot be kept is [`WriteError::Refused`] with the reason, before
//!    anything is written;
//! 6. compares each file with what was read once more, now that every
//!    temporary file is written and synced, immediately before the renames
//!    ([`WriteError::Conflict`] on a difference);
//! 7. only then creates new files (never over an existing name, not even a
//!    dangling symlink) and renames the temporary files over the targets;
//! 8. looks at each replaced file (still held open) once more: when a
//!    program wrote to it since step 6 (or through a descriptor it opened
//!    before the rename), that text is put back, with whatever was appended
//!    to the new file since, and the result is [`WriteError::Conflict`], so
//!    the edit is planned again from it.
//!
//! **Hard links.** A file with more than one link is written in place,
//! through the same inode, so every name keeps seeing the same content
//! (after the same checks, under the same lock). That write is not atomic: a
//! crash in the middle of it can leave the file half written.
//!
//! Only regular files are written; a FIFO, a device or a folder is refused.
//! Extended attributes and ACLs are not copied to the new file.
//!
//! Locks are advisory: they make concurrent nixcross runs wait for each other;
//! a program that writes without locking is caught by steps 6 and 8 instead,
//! except for a write into the old file after step 8 or one into the new
//! file between step 8's look and its put-back (the README says how narrow
//! that is).

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{Seek, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use nixcross::files::{FileError, MAX_FILE_BYTES};
use rustix::fs::{FlockOperation, OFlags};

use crate::error::{CliError, WriteError};
use crate::fs::{identity, open_regular_with, read_to_limit};

/// What a file held when it was read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Before {
    /// There was no file: the change creates it, and fails if one appeared.
    Absent,
    /// The file's whole text.
    Text(String),
}

/// One file to replace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// The path as the user or the flake names it (symlinks are followed).
    pub path: PathBuf,
    /// What it held when it was read.
    pub before: Before,
    /// What it should hold. Equal to `before`: checked, not written.
    pub after: String,
}

fn io(path: &Path, error: std::io::Error) -> WriteError {
    WriteError::Io {
        path: path.to_path_buf(),
        error,
    }
}

fn refused(path: &Path, reason: impl Into<String>) -> WriteError {
    WriteError::Refused {
        path: path.to_path_buf(),
        reason: reason.into(),
    }
}

/// Where a change lands.
enum Dest {
    /// An existing regular file (the canonical path, symlinks resolved).
    Existing(PathBuf),
    /// No entry at the name: the absolute path to create.
    New(PathBuf),
}

fn resolve(path: &Path) -> Result<Dest, WriteError> {
    match std::fs::symlink_metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let name = path
                .file_name()
                .ok_or_else(|| refused(path, "not a file name"))?;
            let parent = match path.parent() {
                Some(p) if !p.as_os_str().is_empty() => p,
                _ => Path::new("."),
            };
            let parent = std::fs::canonicalize(parent).map_err(|e| io(parent, e))?;
            Ok(Dest::New(parent.join(name)))
        }
        Err(e) => Err(io(path, e)),
        Ok(meta) => match std::fs::canonicalize(path) {
            Ok(real) => Ok(Dest::Existing(real)),
            Err(e) if meta.file_type().is_symlink() && e.kind() == std::io::ErrorKind::NotFound => {
                let to = std::fs::read_link(path)
                    .map(|t| t.display().to_string())
                    .unwrap_or_default();
                Err(refused(
                    path,
                    format!("it is a symlink to {to}, which does not exist"),
                ))
            }
            Err(e) => Err(io(path, e)),
        },
    }
}

/// A locked file: the lock lasts as long as this value.
#[derive(Debug)]
struct Held {
    file: File,
    bytes: Vec<u8>,
}

fn lock(target: &Path) -> Result<Held, WriteError> {
    // Another nixcross may rename a new file over `target` while this one
    // waits for the lock: then the inode locked is no longer the file, and
    // the new one is locked instead. Each round means another writer
    // finished, so this ends; the bound only guards against a bug.
    for _ in 0..10_000 {
        let mut file = open_regular_with(target, OFlags::NOFOLLOW).map_err(|e| match e {
            FileError::NotFound => WriteError::Conflict {
                path: target.to_path_buf(),
            },
            FileError::NotAFile => refused(
                target,
                "it is not a regular file (a FIFO, a device or a folder)",
            ),
            other => refused(target, other.to_string()),
        })?;
        rustix::fs::flock(&file, FlockOperation::LockExclusive)
            .map_err(|e| io(target, e.into()))?;
        let locked = identity(&file).map_err(|e| io(target, e))?;
        let now = match std::fs::symlink_metadata(target) {
            Ok(m) => (m.dev(), m.ino()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(WriteError::Conflict {
                    path: target.to_path_buf(),
                })
            }
            Err(e) => return Err(io(target, e)),
        };
        if locked != now {
            continue;
        }
        file.rewind().map_err(|e| io(target, e))?;
        let bytes = read_to_limit(&mut file, MAX_FILE_BYTES).map_err(|e| match e {
            FileError::TooLarge { limit } => {
                refused(target, format!("it is larger than {limit} bytes"))
            }
            other => refused(target, other.to_string()),
        })?;
        return Ok(Held { file, bytes });
    }
    Err(refused(
        target,
        "it kept being replaced while nixcross waited for its lock",
    ))
}

/// A batch of file writes, committed as one transaction. Files can be
/// locked and read first ([`WriteBatch::read_locked`]: other nixcross runs
/// then wait instead of conflicting), and the rest are locked when it
/// commits.
///
/// To stay free of deadlocks between processes, lock at most one file with
/// `read_locked` before `commit`, or lock them in sorted order of their
/// resolved paths; `commit` itself locks in that order.
#[derive(Debug, Default)]
pub struct WriteBatch {
    held: BTreeMap<PathBuf, Held>,
    /// Replace files whose permissions deny this user writing them.
    force: bool,
}

/// What a committed transaction did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Committed {
    /// The files written (as the changes named them).
    pub written: Vec<PathBuf>,
    /// The files created.
    pub created: Vec<PathBuf>,
}

enum Step {
    /// Checked, nothing to write.
    Same,
    /// Create a new file from this temporary file.
    Create(tempfile::NamedTempFile, PathBuf),
    /// Rename this temporary file over the target.
    Replace(tempfile::NamedTempFile, PathBuf),
    /// Write in place through the locked inode (more than one hard link).
    InPlace(PathBuf, String),
}

impl WriteBatch {
    /// An empty transaction.
    pub fn new() -> WriteBatch {
        WriteBatch::default()
    }

    /// The same transaction, which replaces files whose permissions deny
    /// this user writing them when `force` (`--force`).
    pub fn forced(mut self, force: bool) -> WriteBatch {
        self.force = force;
        self
    }

    /// Lock the regular file at `path` (symlinks followed) and return its
    /// text. The lock is held until the transaction commits or is dropped.
    pub fn read_locked(&mut self, path: &Path) -> Result<String, WriteError> {
        let target = match resolve(path)? {
            Dest::Existing(t) => t,
            Dest::New(_) => {
                return Err(io(path, std::io::Error::from(std::io::ErrorKind::NotFound)))
            }
        };
        if !self.held.contains_key(&target) {
            let held = lock(&target)?;
            self.held.insert(target.clone(), held);
        }
        let held = &self.held[&target];
        String::from_utf8(held.bytes.clone()).map_err(|_| refused(path, "it is not UTF-8 text"))
    }

    /// Check every change and write them all, or write nothing (see the
    /// module documentation for the steps).
    pub fn commit(mut self, changes: &[Change]) -> Result<Committed, WriteError> {
        // 1. Resolve, in a fixed order.
        let mut plan: BTreeMap<PathBuf, (&Change, bool)> = BTreeMap::new();
        for change in changes {
            // Creating: any entry at the name, a dangling symlink too, is
            // an existing file.
            if change.before == Before::Absent && std::fs::symlink_metadata(&change.path).is_ok() {
                return Err(WriteError::Exists {
                    path: change.path.clone(),
                });
            }
            let (target, exists) = match resolve(&change.path)? {
                Dest::Existing(t) => (t, true),
                Dest::New(t) => (t, false),
            };
            if plan.insert(target.clone(), (change, exists)).is_some() {
                return Err(refused(
                    &change.path,
                    "two changes in one transaction name this file",
                ));
            }
        }
        // 2. and 3. Lock and verify.
        for (target, (change, exists)) in &plan {
            match (&change.before, exists) {
                (Before::Absent, true) => {
                    return Err(WriteError::Exists {
                        path: change.path.clone(),
                    })
                }
                (Before::Absent, false) => {}
                (Before::Text(_), false) => {
                    return Err(WriteError::Conflict {
                        path: change.path.clone(),
                    })
                }
                (Before::Text(text), true) => {
                    if !self.held.contains_key(target) {
                        let held = lock(target)?;
                        self.held.insert(target.clone(), held);
                    }
                    if self.held[target].bytes != text.as_bytes() {
                        return Err(WriteError::Conflict {
                            path: change.path.clone(),
                        });
                    }
                }
            }
        }
        // 4. Prepare every write; refuse before anything is written.
        let mut steps = Vec::new();
        for (target, (change, exists)) in &plan {
            let step = if !exists {
                let mut tmp = temp_in(target)?;
                tmp.as_file()
                    .set_permissions(std::fs::Permissions::from_mode(0o644))
                    .map_err(|e| io(tmp.path(), e))?;
                fill(&mut tmp, &change.after)?;
                Step::Create(tmp, target.clone())
            } else if matches!(&change.before, Before::Text(t) if *t == change.after) {
                Step::Same
            } else {
                let meta = self.held[target]
                    .file
                    .metadata()
                    .map_err(|e| io(target, e))?;
                if !self.force {
                    may_write(target, &meta, &change.path)?;
                }
                if meta.nlink() > 1 {
                    // Fail now, not halfway, when it cannot be opened for writing.
                    open_same(target, &self.held[target].file)?;
                    Step::InPlace(target.clone(), change.after.clone())
                } else {
                    let mut tmp = temp_in(target)?;
                    keep_owner_and_mode(&tmp, &meta, &change.path)?;
                    fill(&mut tmp, &change.after)?;
                    Step::Replace(tmp, target.clone())
                }
            };
            steps.push((change.path.clone(), step));
        }
        // 5. Every temporary file is written and synced: compare each file
        // with what the plan read once more, as late as possible, through
        // the locked descriptor (a program that does not lock may have
        // written since; the first check above compared the text read when
        // the lock was taken).
        for (target, (change, exists)) in &plan {
            if let (Before::Text(text), true) = (&change.before, exists) {
                if !still_holds(target, &self.held[target], text)? {
                    return Err(WriteError::Conflict {
                        path: change.path.clone(),
                    });
                }
            }
        }
        // 6. Create, then replace.
        let mut done = Committed::default();
        for (path, step) in &mut steps {
            let Step::Create(_, target) = step else {
                continue;
            };
            let target = target.clone();
            let Step::Create(tmp, _) = std::mem::replace(step, Step::Same) else {
                unreachable!()
            };
            if let Err(e) = tmp.persist_noclobber(&target) {
                // Undo the files this transaction created: nobody else can
                // have written them yet in a way that matters more than
                // all-or-nothing.
                for created in &done.created {
                    let _ = std::fs::remove_file(created);
                }
                return Err(if e.error.kind() == std::io::ErrorKind::AlreadyExists {
                    WriteError::Exists { path: path.clone() }
                } else {
                    io(path, e.error)
                });
            }
            done.created.push(path.clone());
        }
        let mut dirs = Vec::new();
        let mut replaced = Vec::new();
        for (path, step) in steps {
            let result = match step {
                Step::Same | Step::Create(..) => continue,
                Step::Replace(tmp, target) => {
                    dirs.push(target.parent().map(Path::to_path_buf));
                    match tmp.persist(&target) {
                        Ok(new) => {
                            replaced.push((path.clone(), target, new));
                            Ok(())
                        }
                        Err(e) => Err(e.error),
                    }
                }
                Step::InPlace(target, text) => write_in_place(&target, &self.held[&target], &text),
            };
            if let Err(error) = result {
                let mut written = done.created.clone();
                written.extend(done.written.iter().cloned());
                return Err(if written.is_empty() {
                    io(&path, error)
                } else {
                    WriteError::Partial {
                        written,
                        path,
                        error,
                    }
                });
            }
            done.written.push(path);
        }
        for dir in dirs.into_iter().flatten() {
            if let Ok(d) = File::open(&dir) {
                let _ = d.sync_all();
            }
        }
        // 8. Look back at each replaced file, which this transaction still
        // holds open: a program that does not lock may have written to it
        // after the comparison, or through a descriptor it opened before
        // the rename. Its text is put back, with whatever was appended to
        // the new file since, and the edit is planned again.
        let mut restored = None;
        for (path, target, new) in &replaced {
            let (change, _) = plan[target];
            let Before::Text(before) = &change.before else {
                continue;
            };
            let held = &self.held[target];
            let theirs = read_all(&held.file).map_err(|e| io(target, e))?;
            if theirs != before.as_bytes() {
                put_back(target, held, &theirs, &change.after, new, path)?;
                restored.get_or_insert_with(|| path.clone());
            }
        }
        match restored {
            Some(path) => Err(WriteError::Conflict { path }),
            None => Ok(done),
        }
    }
}

/// The whole content of `file`, read from its start (through a second
/// descriptor, so the first one's offset does not matter).
fn read_all(file: &File) -> std::io::Result<Vec<u8>> {
    let mut f = file.try_clone()?;
    f.rewind()?;
    read_to_limit(&mut f, MAX_FILE_BYTES).map_err(|e| std::io::Error::other(e.to_string()))
}

/// Another program wrote `theirs` into the file this transaction replaced
/// by `ours` (now `new`, at `target`): put `theirs` back at `target`, with
/// what was appended to `new` since the rename, so that nothing it wrote
/// is lost (the caller then plans the edit again, from that text).
fn put_back(
    target: &Path,
    held: &Held,
    theirs: &[u8],
    ours: &str,
    new: &File,
    path: &Path,
) -> Result<(), WriteError> {
    let meta = held.file.metadata().map_err(|e| io(target, e))?;
    let now = read_all(new).map_err(|e| io(target, e))?;
    let Some(extra) = now.strip_prefix(ours.as_bytes()) else {
        return Err(refused(
            path,
            "another program wrote it while nixcross replaced it, and then rewrote nixcross's version; check that it holds what you expect",
        ));
    };
    let mut text = theirs.to_vec();
    text.extend_from_slice(extra);
    let mut tmp = temp_in(target)?;
    keep_owner_and_mode(&tmp, &meta, path)?;
    tmp.write_all(&text)
        .and_then(|_| tmp.as_file().sync_all())
        .map_err(|e| io(tmp.path(), e))?;
    let restored = tmp.persist(target).map_err(|e| io(target, e.error))?;
    // What was appended to `new` while this ran goes to the end as well.
    let later = read_all(new).map_err(|e| io(target, e))?;
    if let Some(more) = later.get(now.len()..).filter(|m| !m.is_empty()) {
        let mut f = &restored;
        f.seek(std::io::SeekFrom::End(0))
            .and_then(|_| f.write_all(more))
            .and_then(|_| f.sync_all())
            .map_err(|e| io(target, e))?;
    }
    Ok(())
}

/// What is at `path` now, for a command that replaces a whole file it did
/// not plan from (`init --force`, `man --dir`): [`Before::Absent`] when
/// nothing is at that name, else the file's text.
pub fn current(path: &Path) -> Result<Before, CliError> {
    match std::fs::symlink_metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Before::Absent),
        _ => crate::fs::read_text(path)
            .map(Before::Text)
            .map_err(|e| CliError::file(path, &e)),
    }
}

/// [`WriteBatch::commit`] with nothing locked beforehand.
pub fn commit(changes: &[Change]) -> Result<Committed, WriteError> {
    WriteBatch::new().commit(changes)
}

fn temp_in(target: &Path) -> Result<tempfile::NamedTempFile, WriteError> {
    let dir = target.parent().unwrap_or(Path::new("/"));
    tempfile::Builder::new()
        .prefix(".nixcross-")
        .suffix(".tmp")
        .tempfile_in(dir)
        .map_err(|e| io(dir, e))
}

fn fill(tmp: &mut tempfile::NamedTempFile, text: &str) -> Result<(), WriteError> {
    tmp.write_all(text.as_bytes())
        .and_then(|_| tmp.as_file().sync_all())
        .map_err(|e| io(tmp.path(), e))
}

/// Give the temporary file the target's owner, group and mode, and check
/// that the kernel kept them (it clears setgid for a group the user is not
/// in).
fn keep_owner_and_mode(
    tmp: &tempfile::NamedTempFile,
    meta: &std::fs::Metadata,
    path: &Path,
) -> Result<(), WriteError> {
    let file = tmp.as_file();
    let mine = file.metadata().map_err(|e| io(tmp.path(), e))?;
    let uid = (mine.uid() != meta.uid()).then_some(meta.uid());
    let gid = (mine.gid() != meta.gid()).then_some(meta.gid());
    if uid.is_some() || gid.is_some() {
        std::os::unix::fs::fchown(file, uid, gid).map_err(|e| {
            refused(
                path,
                format!(
                    "cannot keep its owner and group (uid {}, gid {}): {e}; run nixcross as its owner or as root",
                    meta.uid(),
                    meta.gid()
                ),
            )
        })?;
    }
    let mode = meta.mode() & 0o7777;
    file.set_permissions(std::fs::Permissions::from_mode(mode))
        .map_err(|e| io(tmp.path(), e))?;
    let got = file.metadata().map_err(|e| io(tmp.path(), e))?;
    if got.mode() & 0o7777 != mode || got.uid() != meta.uid() || got.gid() != meta.gid() {
        return Err(refused(
            path,
            format!(
                "cannot keep its mode {mode:04o} (the system allowed {:04o}); run nixcross as its owner or as root",
                got.mode() & 0o7777
            ),
        ));
    }
    Ok(())
}

/// Whether `target` is still the locked file and holds `before`, read again
/// through the locked descriptor.
fn still_holds(target: &Path, held: &Held, before: &str) -> Result<bool, WriteError> {
    let now = match std::fs::symlink_metadata(target) {
        Ok(m) => (m.dev(), m.ino()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(io(target, e)),
    };
    if identity(&held.file).map_err(|e| io(target, e))? != now {
        return Ok(false);
    }
    let mut file = held.file.try_clone().map_err(|e| io(target, e))?;
    file.rewind().map_err(|e| io(target, e))?;
    match read_to_limit(&mut file, MAX_FILE_BYTES) {
        Ok(bytes) => Ok(bytes == before.as_bytes()),
        Err(FileError::TooLarge { .. }) => Ok(false),
        Err(e) => Err(refused(target, e.to_string())),
    }
}

/// Refuse `target` when its permissions deny this user writing it (the
/// kernel's answer for the effective user: mode bits, groups, ACLs; root
/// may write any file). Replacing it by a rename would need only the
/// folder's permission, and would take a protection its owner gave it.
fn may_write(target: &Path, meta: &std::fs::Metadata, path: &Path) -> Result<(), WriteError> {
    use rustix::fs::{Access, AtFlags};
    match rustix::fs::accessat(rustix::fs::CWD, target, Access::WRITE_OK, AtFlags::EACCESS) {
        Err(rustix::io::Errno::ACCESS) => Err(refused(
            path,
            format!(
                "its permissions do not let you write it (mode {:04o}, owner uid {}); pass --force to replace it anyway",
                meta.mode() & 0o7777,
                meta.uid()
            ),
        )),
        // Anything else (a read-only file system) is for the write to say.
        _ => Ok(()),
    }
}

/// `target` opened for writing, if it is still the locked inode.
fn open_same(target: &Path, locked: &File) -> Result<File, WriteError> {
    let file = std::fs::OpenOptions::new()
        .write(true)
        .custom_flags(OFlags::NOFOLLOW.bits() as i32)
        .open(target)
        .map_err(|e| {
            refused(
                target,
                format!("it has several hard links, so it is written in place, but it cannot be opened for writing: {e}"),
            )
        })?;
    let same = identity(&file).ok() == identity(locked).ok();
    if !same {
        return Err(WriteError::Conflict {
            path: target.to_path_buf(),
        });
    }
    Ok(file)
}

fn write_in_place(target: &Path, held: &Held, text: &str) -> std::io::Result<()> {
    let mut file =
        open_same(target, &held.file).map_err(|e| std::io::Error::other(e.to_string()))?;
    file.write_all(text.as_bytes())?;
    file.set_len(text.len() as u64)?;
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::{symlink, FileTypeExt};

    fn change(path: &Path, before: Option<&str>, after: &str) -> Change {
        Change {
            path: path.to_path_buf(),
            before: before.map_or(Before::Absent, |b| Before::Text(b.into())),
            after: after.into(),
        }
    }

    fn read(p: &Path) -> String {
        std::fs::read_to_string(p).unwrap()
    }

    #[test]
    fn several_files_all_land() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a.nix");
        let b = dir.path().join("sub/b.nix");
        let c = dir.path().join("c.nix");
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        std::fs::write(&a, "a0").unwrap();
        std::fs::write(&b, "b0").unwrap();
        let done = commit(&[
            change(&b, Some("b0"), "b1"),
            change(&a, Some("a0"), "a1"),
            change(&c, None, "c1"),
        ])
        .unwrap();
        assert_eq!(
            (read(&a), read(&b), read(&c)),
            ("a1".into(), "b1".into(), "c1".into())
        );
        assert_eq!(done.created, vec![c.clone()]);
        assert_eq!(done.written.len(), 2);
        let mode = std::fs::metadata(&c).unwrap().mode() & 0o777;
        assert_eq!(mode, 0o644);
    }

    #[test]
    fn one_stale_file_writes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a.nix");
        let b = dir.path().join("b.nix");
        let c = dir.path().join("c.nix");
        std::fs::write(&a, "a0").unwrap();
        std::fs::write(&b, "b-changed").unwrap();
        let err = commit(&[
            change(&a, Some("a0"), "a1"),
            change(&b, Some("b0"), "b1"),
            change(&c, None, "c1"),
        ])
        .unwrap_err();
        assert!(
            matches!(&err, WriteError::Conflict { path } if *path == b),
            "{err}"
        );
        assert_eq!(read(&a), "a0");
        assert_eq!(read(&b), "b-changed");
        assert!(!c.exists());
        // A file that appeared where a new one was to go.
        std::fs::write(&c, "someone").unwrap();
        let err = commit(&[change(&a, Some("a0"), "a1"), change(&c, None, "c1")]).unwrap_err();
        assert!(matches!(err, WriteError::Exists { .. }), "{err}");
        assert_eq!(read(&a), "a0");
        // A file that vanished.
        std::fs::remove_file(&c).unwrap();
        let err = commit(&[change(&c, Some("someone"), "c1")]).unwrap_err();
        assert!(matches!(err, WriteError::Conflict { .. }), "{err}");
        // The same file twice, through a symlink.
        symlink("a.nix", dir.path().join("link.nix")).unwrap();
        let err = commit(&[
            change(&a, Some("a0"), "a1"),
            change(&dir.path().join("link.nix"), Some("a0"), "a2"),
        ])
        .unwrap_err();
        assert!(matches!(err, WriteError::Refused { .. }), "{err}");
        assert_eq!(read(&a), "a0");
    }

    #[test]
    fn unchanged_files_are_checked_not_written() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a.nix");
        let b = dir.path().join("b.nix");
        std::fs::write(&a, "a0").unwrap();
        std::fs::write(&b, "b0").unwrap();
        let ino = std::fs::metadata(&b).unwrap().ino();
        let done = commit(&[change(&a, Some("a0"), "a1"), change(&b, Some("b0"), "b0")]).unwrap();
        assert_eq!(done.written, vec![a.clone()]);
        assert_eq!(std::fs::metadata(&b).unwrap().ino(), ino);
        let err =
            commit(&[change(&a, Some("a1"), "a2"), change(&b, Some("bX"), "bX")]).unwrap_err();
        assert!(matches!(err, WriteError::Conflict { .. }));
        assert_eq!(read(&a), "a1");
    }

    #[test]
    fn symlinks_hard_links_and_modes_are_kept() {
        let dir = tempfile::tempdir().unwrap();
        let real_dir = dir.path().join("real");
        std::fs::create_dir(&real_dir).unwrap();
        let real = real_dir.join("configuration.nix");
        std::fs::write(&real, "x0").unwrap();
        std::fs::set_permissions(&real, std::fs::Permissions::from_mode(0o2640)).unwrap();
        let link = dir.path().join("configuration.nix");
        symlink(&real, &link).unwrap();
        commit(&[change(&link, Some("x0"), "x1")]).unwrap();
        assert!(std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink());
        assert_eq!(read(&real), "x1");
        let mode = std::fs::metadata(&real).unwrap().mode() & 0o7777;
        // setgid stays when the user is in the file's group (the creator is).
        assert_eq!(mode, 0o2640);

        let twin = dir.path().join("twin.nix");
        std::fs::hard_link(&real, &twin).unwrap();
        let ino = std::fs::metadata(&real).unwrap().ino();
        commit(&[change(&link, Some("x1"), "x2 longer")]).unwrap();
        assert_eq!(read(&twin), "x2 longer");
        assert_eq!(std::fs::metadata(&real).unwrap().ino(), ino);
        commit(&[change(&twin, Some("x2 longer"), "x3")]).unwrap();
        assert_eq!(read(&real), "x3");

        let dangling = dir.path().join("dangling.nix");
        symlink(dir.path().join("missing.nix"), &dangling).unwrap();
        let err = commit(&[change(&dangling, None, "new")]).unwrap_err();
        assert!(
            matches!(err, WriteError::Refused { .. } | WriteError::Exists { .. }),
            "{err}"
        );
        assert!(!dir.path().join("missing.nix").exists());
    }

    #[test]
    fn non_regular_files_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo.nix");
        rustix::fs::mknodat(
            rustix::fs::CWD,
            &fifo,
            rustix::fs::FileType::Fifo,
            rustix::fs::Mode::from_raw_mode(0o600),
            0,
        )
        .unwrap();
        let err = commit(&[change(&fifo, Some(""), "x")]).unwrap_err();
        assert!(matches!(err, WriteError::Refused { .. }), "{err}");
        assert!(std::fs::symlink_metadata(&fifo)
            .unwrap()
            .file_type()
            .is_fifo());
    }

    #[test]
    fn a_held_lock_makes_others_wait() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a.nix");
        std::fs::write(&a, "0").unwrap();
        let mut tx = WriteBatch::new();
        assert_eq!(tx.read_locked(&a).unwrap(), "0");
        let a2 = a.clone();
        let other = std::thread::spawn(move || {
            let mut tx = WriteBatch::new();
            let text = tx.read_locked(&a2).unwrap();
            let next = format!("{text}+b");
            tx.commit(&[change(&a2, Some(&text), &next)]).unwrap();
        });
        std::thread::sleep(std::time::Duration::from_millis(100));
        tx.commit(&[change(&a, Some("0"), "0+a")]).unwrap();
        other.join().unwrap();
        assert_eq!(read(&a), "0+a+b");
    }
}
