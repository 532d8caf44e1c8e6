//! The files an analysis has read, parsed once each: a [`SourceMap`] hands
//! out a [`FileId`] per path, and a [`Src`] names a syntax node together with
//! the file it is in, so an edit planned from it knows which file to change.

use std::collections::HashMap;

use crate::error::{Error, LineIndex, Result};
use crate::files::{FileError, Files, RelPath};
use crate::syntax::{self, Doc, Layout, Node};

/// A file of a [`SourceMap`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FileId(pub(crate) u32);

/// A syntax node and the file it is in.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Src {
    /// The file.
    pub file: FileId,
    /// The node.
    pub node: Node,
}

impl Src {
    /// A node of `file`.
    pub fn new(file: FileId, node: Node) -> Src {
        Src { file, node }
    }

    /// The node's byte range.
    pub fn range(&self) -> (usize, usize) {
        self.node.range()
    }

    /// Whether `other` lies inside this node (same file).
    pub fn contains(&self, file: FileId, range: (usize, usize)) -> bool {
        let (s, e) = self.range();
        self.file == file && s <= range.0 && range.1 <= e
    }
}

/// One file: its path, its text and its parse.
#[derive(Debug, Clone)]
pub struct Source {
    /// Where it is, relative to the root of the tree (links followed: the
    /// file's identity, and where its edits are written).
    pub path: RelPath,
    /// The path it was first loaded by, which Nix resolves the file's
    /// relative paths from (it does not follow links for that).
    pub loaded_as: RelPath,
    /// Set when it was also loaded by a path in another folder (through a
    /// link): its relative paths then mean different files for each.
    pub ambiguous_base: bool,
    /// Its text.
    pub text: String,
    /// Its parse; a file with a syntax error keeps the error (with its range).
    pub doc: std::result::Result<Doc, Error>,
    /// Its indentation and line ending.
    pub layout: Layout,
    /// Whether a tool writes it (`syntax::is_generated`): never edited.
    pub generated: bool,
    /// Its line starts, built on the first `line_col`.
    lines: std::cell::OnceCell<LineIndex>,
}

impl Source {
    /// The top-level expression, or why there is none.
    pub fn root(&self) -> Result<Node> {
        let doc = self.doc.as_ref().map_err(Clone::clone)?;
        doc.expr()
            .ok_or_else(|| Error::refused("the file has no expression"))
    }

    /// 1-based `(line, column)` of a byte offset, in O(log n) after the
    /// first look-up (`show` asks for thousands in one file).
    pub fn line_col(&self, offset: usize) -> (usize, usize) {
        self.lines
            .get_or_init(|| LineIndex::new(&self.text))
            .line_col(&self.text, offset)
    }
}

/// Why a file could not be loaded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadError {
    /// The path asked for.
    pub path: RelPath,
    /// What went wrong.
    pub error: FileError,
}

/// The files of one analysis.
pub struct SourceMap<'f> {
    files: &'f dyn Files,
    sources: Vec<Source>,
    by_path: HashMap<RelPath, FileId>,
}

impl std::fmt::Debug for SourceMap<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SourceMap")
            .field("files", &self.sources.len())
            .finish_non_exhaustive()
    }
}

impl<'f> SourceMap<'f> {
    /// An empty map reading through `files`.
    pub fn new(files: &'f dyn Files) -> SourceMap<'f> {
        SourceMap {
            files,
            sources: Vec::new(),
            by_path: HashMap::new(),
        }
    }

    /// The file tree behind the map.
    pub fn files(&self) -> &'f dyn Files {
        self.files
    }

    /// Load (once) and parse the file at `path`. Two paths that name one
    /// file (through a symbolic link) give one [`FileId`], whose path is
    /// the file's real one.
    pub fn load(&mut self, path: &RelPath) -> std::result::Result<FileId, LoadError> {
        if let Some(id) = self.by_path.get(path) {
            return Ok(*id);
        }
        let fail = |error| LoadError {
            path: path.clone(),
            error,
        };
        let real = self.files.real_path(path).map_err(fail)?;
        if let Some(id) = self.by_path.get(&real).copied() {
            self.by_path.insert(path.clone(), id);
            let s = &mut self.sources[id.0 as usize];
            if s.loaded_as.parent() != path.parent() {
                s.ambiguous_base = true;
            }
            return Ok(id);
        }
        let asked = path.clone();
        let path = &real;
        let text = self.files.read(path).map_err(fail)?;
        let doc = syntax::parse_shared(&text);
        let layout = Layout::of(&text);
        let generated = syntax::is_generated(&text);
        let id = FileId(self.sources.len() as u32);
        self.sources.push(Source {
            path: path.clone(),
            loaded_as: asked.clone(),
            ambiguous_base: false,
            text,
            doc,
            layout,
            generated,
            lines: std::cell::OnceCell::new(),
        });
        self.by_path.insert(path.clone(), id);
        self.by_path.insert(asked, id);
        Ok(id)
    }

    /// A loaded file.
    pub fn get(&self, id: FileId) -> &Source {
        &self.sources[id.0 as usize]
    }

    /// The id of a loaded path.
    pub fn id(&self, path: &RelPath) -> Option<FileId> {
        self.by_path.get(path).copied()
    }

    /// `path:line:col` of a node, for messages.
    pub fn describe(&self, src: &Src) -> String {
        let s = self.get(src.file);
        let (l, c) = s.line_col(src.node.start());
        format!("{}:{l}:{c}", s.path)
    }
}
