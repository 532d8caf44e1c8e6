//! One error type for the whole library: a kind, a message, an optional byte
//! range in the input ([`TextRange`]) and hints. Callers turn the range into
//! `line:col` with [`Error::line_col`] or [`line_col`].

use std::fmt;

/// What went wrong, coarsely. The CLI maps every kind to exit code 2.
///
/// More kinds may be added; a `match` needs a wildcard arm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum ErrorKind {
    /// The input is not valid Nix.
    Parse,
    /// The input is valid, but nixcross cannot edit this shape safely.
    Refused,
    /// The edit would change text that other configurations use too (so it
    /// would change them): refused, and an operation may write the
    /// configuration's own definition instead.
    Shared,
    /// An argument is wrong: unknown target, bad name, an option that does
    /// not fit the others.
    InvalidInput,
    /// A binary file could not be decoded.
    Format,
    /// A bug: an edit produced text that does not parse. Never written.
    Internal,
    /// A file changed after a plan was made against it: the plan was not
    /// applied (plan again).
    Changed,
    /// The self-check refused a planned edit: read again, the edited files
    /// do not show what the edit claims, or show another configuration (or
    /// another option) changed, or break Nix's own parser rules. Nothing is
    /// written.
    Unsafe,
}

/// A byte range `start..end` in a text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct TextRange {
    /// The offset of the first byte.
    pub start: usize,
    /// The offset just past the last byte (`start` for an empty range).
    pub end: usize,
}

impl From<(usize, usize)> for TextRange {
    fn from((start, end): (usize, usize)) -> Self {
        TextRange { start, end }
    }
}

impl From<TextRange> for (usize, usize) {
    fn from(r: TextRange) -> Self {
        (r.start, r.end)
    }
}

/// An error with an optional byte range into the text that was being read.
///
/// Built with [`Error::new`] and the builder methods; fields may be added.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Error {
    /// What kind of failure it is.
    pub kind: ErrorKind,
    /// One line saying what went wrong, without the location.
    pub message: String,
    /// Byte range in the input the error points at, if any.
    pub range: Option<TextRange>,
    /// The file the error is about, with the 1-based line and column of the
    /// range's start, when the error comes from a file of a tree (whole
    /// configurations span many files).
    pub location: Option<Location>,
    /// Suggestions shown after the message ("did you mean ...?").
    pub hints: Vec<String>,
}

impl Error {
    /// An error of `kind` with no range, location or hints.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error {
            kind,
            message: message.into(),
            range: None,
            location: None,
            hints: Vec::new(),
        }
    }
    /// A [`ErrorKind::Parse`] error at `range`.
    pub(crate) fn parse(message: impl Into<String>, range: (usize, usize)) -> Self {
        Error::new(ErrorKind::Parse, message).at(range)
    }
    /// A [`ErrorKind::Refused`] error.
    pub(crate) fn refused(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::Refused, message)
    }
    /// A [`ErrorKind::Shared`] error.
    pub(crate) fn shared(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::Shared, message)
    }
    /// A [`ErrorKind::InvalidInput`] error.
    pub(crate) fn invalid(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::InvalidInput, message)
    }
    /// A [`ErrorKind::Format`] error.
    pub(crate) fn format(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::Format, message)
    }
    /// A [`ErrorKind::Internal`] error.
    pub(crate) fn internal(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::Internal, message)
    }
    /// Attach a byte range.
    pub fn at(mut self, range: impl Into<TextRange>) -> Self {
        self.range = Some(range.into());
        self
    }
    /// Attach a byte range unless one is already set.
    pub fn or_at(mut self, range: impl Into<TextRange>) -> Self {
        if self.range.is_none() {
            self.range = Some(range.into());
        }
        self
    }
    /// Say which file of a tree the error is about; `text` is that file's
    /// text (for the line and column of the range).
    pub(crate) fn in_file(mut self, path: &crate::files::RelPath, text: &str) -> Self {
        if self.location.is_none() {
            let (line, col) = self.range.map_or((1, 1), |r| line_col(text, r.start));
            self.location = Some(Location {
                file: path.clone(),
                line,
                col,
            });
        }
        self
    }
    /// Add a suggestion, shown after the message.
    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hints.push(hint.into());
        self
    }
    /// `line:col` (1-based) of the start of the range in `src`, if there is a range.
    pub fn line_col(&self, src: &str) -> Option<(usize, usize)> {
        self.range.map(|r| line_col(src, r.start))
    }
}

/// Where in a tree of files an error points.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Location {
    /// The file, relative to the tree's root.
    pub file: crate::files::RelPath,
    /// 1-based line.
    pub line: usize,
    /// 1-based column, in characters.
    pub col: usize,
}

/// A note that comes with a result, never an error: a cost, a choice
/// nixcross made, or something it left to the user, with where it applies
/// when that is one place.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Diagnostic {
    /// How much it matters.
    pub severity: Severity,
    /// One line, without the location.
    pub message: String,
    /// The place it is about, if one.
    pub location: Option<Location>,
}

/// How much a [`Diagnostic`] matters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Severity {
    /// Something the user should check or know; the result stands.
    Warning,
}

impl Diagnostic {
    /// A warning with no location.
    pub fn warning(message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Warning,
            message: message.into(),
            location: None,
        }
    }
    /// The same, about `location`.
    pub fn at(self, location: Location) -> Self {
        Diagnostic {
            location: Some(location),
            ..self
        }
    }
}

impl From<String> for Diagnostic {
    fn from(message: String) -> Self {
        Diagnostic::warning(message)
    }
}

impl From<&str> for Diagnostic {
    fn from(message: &str) -> Self {
        Diagnostic::warning(message)
    }
}

/// `file:line:col: message`, or the message alone.
impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(l) = &self.location {
            write!(f, "{}:{}:{}: ", l.file, l.line, l.col)?;
        }
        f.write_str(&self.message)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

/// The library's result type: [`Error`] unless said otherwise.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// 1-based line and column (in characters) of a byte offset.
/// Offsets past the end or inside a character are clamped.
pub fn line_col(src: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(src.len());
    while !src.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &src[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let col = before[line_start..].chars().count() + 1;
    (line, col)
}

/// Line starts of a text, for many `line:col` look-ups in O(log n) each.
#[derive(Debug, Clone)]
pub(crate) struct LineIndex {
    starts: Vec<usize>,
}

impl LineIndex {
    /// The line starts of `src`.
    pub fn new(src: &str) -> Self {
        let mut starts = vec![0];
        starts.extend(src.match_indices('\n').map(|(i, _)| i + 1));
        LineIndex { starts }
    }
    /// 1-based line of a byte offset.
    pub fn line(&self, offset: usize) -> usize {
        self.starts.partition_point(|&s| s <= offset)
    }
    /// 1-based line and column (in characters) of a byte offset of `src`,
    /// the text the index was built from: [`line_col`] in O(log n).
    pub fn line_col(&self, src: &str, offset: usize) -> (usize, usize) {
        let mut offset = offset.min(src.len());
        while !src.is_char_boundary(offset) {
            offset -= 1;
        }
        let line = self.line(offset);
        let start = self.starts[line - 1];
        (line, src[start..offset].chars().count() + 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_col_counts_lines_and_chars() {
        assert_eq!(line_col("abc", 0), (1, 1));
        assert_eq!(line_col("abc\ndef", 5), (2, 2));
        assert_eq!(line_col("é\nx", 3), (2, 1));
        assert_eq!(line_col("éa", 2), (1, 2));
        assert_eq!(line_col("ab", 99), (1, 3));
    }

    #[test]
    fn line_index_agrees_with_line_col() {
        let src = "a\nbc\n\nd\u{e9}x\n";
        let idx = LineIndex::new(src);
        for off in 0..=src.len() {
            assert_eq!(idx.line(off), line_col(src, off).0, "offset {off}");
            assert_eq!(idx.line_col(src, off), line_col(src, off), "offset {off}");
        }
        let src = "é\nxé y";
        let idx = LineIndex::new(src);
        for off in 0..=src.len() + 2 {
            assert_eq!(idx.line_col(src, off), line_col(src, off), "offset {off}");
        }
    }
}
