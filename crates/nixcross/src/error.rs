//! One error type for the whole library: a kind, a message, an optional byte
//! range in the input and hints. Callers turn the range into `line:col` with
//! [`line_col`].

use std::fmt;

/// What went wrong, coarsely. The CLI maps every kind to exit code 2.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ErrorKind {
    /// The input is not valid Nix.
    Parse,
    /// The input is valid, but nixcross cannot edit this shape safely.
    Refused,
    /// The edit would change text that other configurations use too (so it
    /// would change them): refused, and an operation may write the
    /// configuration's own definition instead.
    Shared,
    /// An argument is wrong: unknown target, bad name, a trap from FACTS.md.
    InvalidInput,
    /// A binary file could not be decoded.
    Format,
    /// A bug: an edit produced text that does not parse. Never written.
    Internal,
}

/// An error with an optional byte range into the text that was being read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    pub kind: ErrorKind,
    pub message: String,
    /// Byte range in the input the error points at, if any.
    pub range: Option<(usize, usize)>,
    /// The file the error is about, with the 1-based line and column of the
    /// range's start, when the error comes from a file of a tree (whole
    /// configurations span many files).
    pub location: Option<Location>,
    /// Suggestions shown after the message ("did you mean ...?").
    pub hints: Vec<String>,
}

impl Error {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error {
            kind,
            message: message.into(),
            range: None,
            location: None,
            hints: Vec::new(),
        }
    }
    pub fn parse(message: impl Into<String>, range: (usize, usize)) -> Self {
        Error::new(ErrorKind::Parse, message).at(range)
    }
    pub fn refused(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::Refused, message)
    }
    pub fn shared(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::Shared, message)
    }
    pub fn invalid(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::InvalidInput, message)
    }
    pub fn format(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::Format, message)
    }
    pub fn internal(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::Internal, message)
    }
    /// Attach a byte range.
    pub fn at(mut self, range: (usize, usize)) -> Self {
        self.range = Some(range);
        self
    }
    /// Attach a byte range unless one is already set.
    pub fn or_at(mut self, range: (usize, usize)) -> Self {
        if self.range.is_none() {
            self.range = Some(range);
        }
        self
    }
    /// Say which file of a tree the error is about; `text` is that file's
    /// text (for the line and column of the range).
    pub fn in_file(mut self, path: &crate::files::RelPath, text: &str) -> Self {
        if self.location.is_none() {
            let (line, col) = self.range.map_or((1, 1), |(s, _)| line_col(text, s));
            self.location = Some(Location {
                file: path.clone(),
                line,
                col,
            });
        }
        self
    }
    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hints.push(hint.into());
        self
    }
    /// `line:col` (1-based) of the start of the range in `src`, if there is a range.
    pub fn line_col(&self, src: &str) -> Option<(usize, usize)> {
        self.range.map(|(start, _)| line_col(src, start))
    }
}

/// Where in a tree of files an error points.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// The file, relative to the tree's root.
    pub file: crate::files::RelPath,
    /// 1-based line.
    pub line: usize,
    /// 1-based column, in characters.
    pub col: usize,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

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
pub struct LineIndex {
    starts: Vec<usize>,
}

impl LineIndex {
    pub fn new(src: &str) -> Self {
        let mut starts = vec![0];
        starts.extend(src.match_indices('\n').map(|(i, _)| i + 1));
        LineIndex { starts }
    }
    /// 1-based line of a byte offset.
    pub fn line(&self, offset: usize) -> usize {
        self.starts.partition_point(|&s| s <= offset)
    }

    /// 1-based `(line, column)` of a byte offset of `src` (the text the index
    /// was made from), as [`line_col`] gives it.
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
    }
}
