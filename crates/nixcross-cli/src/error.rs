//! The command's errors, at the bottom of the crate: [`CliError`], what a
//! command fails with (the message stderr shows and the [`Exit`] status),
//! and the structured errors of the low-level modules ([`WriteError`] of
//! `write`, [`TreeError`] of `tree`; `fs` gives the library's
//! [`FileError`]), each turned into a [`CliError`] here. Every message is
//! worded in this file; printing it is `common::report`'s.

use std::fmt;
use std::path::{Path, PathBuf};

use nixcross::files::FileError;

use crate::exit::Exit;

/// An error ready for the terminal: the whole message and how the process
/// exits.
#[derive(Debug)]
pub struct CliError {
    pub message: String,
    pub exit: Exit,
}

/// What a command returns: how the process exits, or why it failed.
pub type CmdResult = Result<Exit, CliError>;

impl CliError {
    /// An [`Exit::Error`] with a message.
    pub fn usage(message: impl Into<String>) -> Self {
        CliError {
            message: message.into(),
            exit: Exit::Error,
        }
    }

    /// A library error about `src` (read from `path`): `path:line:col: message`,
    /// then one `  hint: ...` line per hint.
    pub fn from_lib(path: Option<&Path>, src: &str, err: &nixcross::Error) -> Self {
        // An argument error is not about the file: no file prefix then.
        let about_file = err.range.is_some() || err.kind != nixcross::ErrorKind::InvalidInput;
        let path = path.filter(|_| about_file);
        let message = match (path, err.line_col(src)) {
            (Some(p), Some((l, c))) => format!("{}:{l}:{c}: {}", p.display(), err.message),
            (Some(p), None) => format!("{}: {}", p.display(), err.message),
            (None, Some((l, c))) => format!("<input>:{l}:{c}: {}", err.message),
            (None, None) => err.message.clone(),
        };
        CliError::usage(with_hints(message, err))
    }

    /// A library error at `line:col` of the file shown as `shown`.
    pub fn at(shown: &Path, line: usize, col: usize, err: &nixcross::Error) -> Self {
        let message = format!("{}:{line}:{col}: {}", shown.display(), err.message);
        CliError::usage(with_hints(message, err))
    }

    /// A library error with no source text to point into.
    pub fn lib(err: &nixcross::Error) -> Self {
        CliError::from_lib(None, "", err)
    }

    /// The operating system's error about `path`.
    pub fn io(path: &Path, err: &std::io::Error) -> Self {
        CliError::usage(format!("{}: {err}", path.display()))
    }

    /// A file at `path` that cannot be read (`crate::fs`'s errors).
    pub fn file(path: &Path, err: &FileError) -> Self {
        CliError::usage(format!("{}: {err}", path.display()))
    }
}

/// `message`, then one `  hint: ...` line per hint of `err`.
fn with_hints(mut message: String, err: &nixcross::Error) -> String {
    for hint in &err.hints {
        message.push_str("\n  hint: ");
        message.push_str(hint);
    }
    message
}

impl From<nixcross::Error> for CliError {
    fn from(err: nixcross::Error) -> Self {
        CliError::lib(&err)
    }
}

/// Why a transaction wrote nothing (or, for [`WriteError::Partial`], not all).
#[derive(Debug)]
pub enum WriteError {
    /// The file changed (appeared, vanished) since it was read: read it
    /// again, plan again, and retry.
    Conflict { path: PathBuf },
    /// A file was to be created, but something is at that name already
    /// (a dangling symlink counts).
    Exists { path: PathBuf },
    /// nixcross will not write this file; the reason says why.
    Refused { path: PathBuf, reason: String },
    /// The operating system failed before anything was written.
    Io {
        path: PathBuf,
        error: std::io::Error,
    },
    /// Some files were written when the operating system failed on `path`.
    Partial {
        written: Vec<PathBuf>,
        path: PathBuf,
        error: std::io::Error,
    },
}

impl fmt::Display for WriteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WriteError::Conflict { path } => write!(
                f,
                "{}: the file changed while nixcross was editing it; nothing was written",
                path.display()
            ),
            WriteError::Exists { path } => write!(f, "{}: already exists", path.display()),
            WriteError::Refused { path, reason } => {
                write!(f, "{}: {reason}; nothing was written", path.display())
            }
            WriteError::Io { path, error } => write!(f, "{}: {error}", path.display()),
            WriteError::Partial {
                written,
                path,
                error,
            } => {
                write!(f, "{}: {error}; already written:", path.display())?;
                for w in written {
                    write!(f, " {}", w.display())?;
                }
                Ok(())
            }
        }
    }
}

impl From<WriteError> for CliError {
    fn from(err: WriteError) -> Self {
        CliError::usage(err.to_string())
    }
}

/// Why `tree` found no file to work on.
#[derive(Debug)]
pub enum TreeError {
    /// `-f` names a folder with no `flake.nix` in it (`named_flake_nix`:
    /// the folder is itself called `flake.nix`).
    NoFlakeIn { dir: PathBuf, named_flake_nix: bool },
    /// The path leads to nothing that can be opened.
    Missing { path: PathBuf, why: Missing },
    /// The path is a folder where a file is needed.
    Folder { path: PathBuf },
    /// The file's name is not UTF-8.
    NotUtf8 { path: PathBuf },
    /// The file's name is not a path nixcross can read in its tree.
    BadName { path: PathBuf },
    /// No file of that name in the current folder or any parent; the
    /// message says what to pass instead.
    NotAbove { message: String },
    /// The folder cannot be read.
    File { path: PathBuf, error: FileError },
    /// The operating system failed on `path`.
    Io {
        path: PathBuf,
        error: std::io::Error,
    },
}

/// Why a path leads to nothing that can be opened.
#[derive(Debug)]
pub enum Missing {
    /// A symbolic link that leads back to itself.
    Loop,
    /// A symbolic link to `to`, which does not exist.
    Dangling { to: PathBuf },
    /// Nothing at that name.
    NotFound,
    /// Another error of the operating system.
    Io(std::io::Error),
}

impl fmt::Display for Missing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Missing::Loop => f.write_str(
                "it is a symbolic link that leads back to itself (too many levels of symbolic links)",
            ),
            Missing::Dangling { to } => write!(
                f,
                "it is a symbolic link to {}, which does not exist",
                to.display()
            ),
            Missing::NotFound => f.write_str("no such file"),
            Missing::Io(e) => write!(f, "{e}"),
        }
    }
}

impl fmt::Display for TreeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TreeError::NoFlakeIn {
                dir,
                named_flake_nix,
            } => {
                // `-f flake.nix` where flake.nix is a folder says so.
                let what = if *named_flake_nix {
                    "is a folder, not a file"
                } else {
                    "is a folder with no flake.nix"
                };
                write!(
                    f,
                    "{}: {what}\n  hint: -f takes a flake.nix, a module file, or a folder with a flake.nix",
                    dir.display()
                )
            }
            TreeError::Missing { path, why } => write!(f, "{}: {why}", path.display()),
            TreeError::Folder { path } => write!(f, "{}: is a folder, not a file", path.display()),
            TreeError::NotUtf8 { path } => write!(
                f,
                "{}: not a file name nixcross can read (it is not UTF-8)",
                crate::term::escape_os(path.as_os_str())
            ),
            TreeError::BadName { path } => {
                write!(f, "{}: not a file name nixcross can read", path.display())
            }
            TreeError::NotAbove { message } => f.write_str(message),
            TreeError::File { path, error } => write!(f, "{}: {error}", path.display()),
            TreeError::Io { path, error } => write!(f, "{}: {error}", path.display()),
        }
    }
}

impl From<TreeError> for CliError {
    fn from(err: TreeError) -> Self {
        CliError::usage(err.to_string())
    }
}
