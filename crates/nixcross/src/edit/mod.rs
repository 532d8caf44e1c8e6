//! Planned text edits: a batch of disjoint `(range, insert)` pairs computed
//! against the untouched source, applied in one pass, then re-parsed.
//!
//! Two edits overlap when their ranges share a byte, or when an insertion
//! point lies strictly inside another edit's replaced range. Insertions at the
//! same point are kept in plan order.

use std::collections::BTreeMap;

use crate::error::{Error, Result};
use crate::files::{FileError, Files, Overlay, RelPath};

/// Replace `range` of the source with `insert` (an empty range inserts).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TextEdit {
    /// The byte range `(start, end)` replaced, in the text the edit was
    /// planned against.
    pub range: (usize, usize),
    /// The text put in its place.
    pub insert: String,
}

/// Two fillings of one empty pair of brackets (`{ }`, `[ ]`: whitespace
/// between them) planned by separate steps, as one: the first's entries,
/// then the second's. A filling is either one line (` a = 1; `) or opened up
/// (`\n  a = 1;\n`, ending with the closing bracket's indentation); the
/// result is opened up when either is.
pub(crate) fn merge_fillings(first: &str, second: &str) -> String {
    let multi = |t: &str| t.contains('\n');
    if !multi(first) && !multi(second) {
        return format!(" {} {} ", first.trim(), second.trim());
    }
    let m = if multi(first) { first } else { second };
    let nl = if m.contains("\r\n") { "\r\n" } else { "\n" };
    // The opened-up form: nl, lines, nl, closing indentation.
    let close_indent = &m[m.rfind('\n').map_or(0, |i| i + 1)..];
    let base = m
        .lines()
        .find(|l| !l.trim().is_empty())
        .map(|l| &l[..l.len() - l.trim_start().len()])
        .unwrap_or("")
        .to_string();
    let lines = |t: &str| -> Vec<String> {
        if multi(t) {
            let body = t
                .trim_end_matches([' ', '\t'])
                .trim_end_matches(['\r', '\n']);
            body.trim_start_matches(['\r', '\n'])
                .split(nl)
                .map(|l| l.trim_end_matches('\r').to_string())
                .collect()
        } else {
            vec![format!("{base}{}", t.trim())]
        }
    };
    let mut all = lines(first);
    all.extend(lines(second));
    format!("{nl}{}{nl}{close_indent}", all.join(nl))
}

impl TextEdit {
    /// Replace `range` with `insert`.
    pub fn replace(range: (usize, usize), insert: impl Into<String>) -> Self {
        TextEdit {
            range,
            insert: insert.into(),
        }
    }
    /// Insert `insert` at byte `at`.
    pub fn insert(at: usize, insert: impl Into<String>) -> Self {
        TextEdit::replace((at, at), insert)
    }
    /// Delete `range`.
    pub fn delete(range: (usize, usize)) -> Self {
        TextEdit::replace(range, "")
    }
}

/// Apply `edits` to `src`. Edits refer to `src`'s offsets; they may come in
/// any order but must not overlap.
pub fn apply(src: &str, edits: &[TextEdit]) -> Result<String> {
    let mut order: Vec<usize> = (0..edits.len()).collect();
    order.sort_by_key(|&i| (edits[i].range.0, edits[i].range.1, i));
    let mut out =
        String::with_capacity(src.len() + edits.iter().map(|e| e.insert.len()).sum::<usize>());
    let mut pos = 0usize;
    let mut last_end = 0usize;
    for (n, &i) in order.iter().enumerate() {
        let e = &edits[i];
        let (start, end) = e.range;
        if start > end
            || end > src.len()
            || !src.is_char_boundary(start)
            || !src.is_char_boundary(end)
        {
            return Err(Error::internal(format!(
                "edit range {start}..{end} does not fit the file"
            )));
        }
        if n > 0 && start < last_end {
            return Err(Error::internal(format!(
                "planned edits overlap at byte {start}"
            )));
        }
        out.push_str(&src[pos..start]);
        out.push_str(&e.insert);
        pos = end;
        last_end = end;
    }
    out.push_str(&src[pos..]);
    Ok(out)
}

/// Where each edit's text lies in the result of [`apply`] (an empty range
/// where an edit only deleted).
fn written_regions(edits: &[TextEdit]) -> Vec<(usize, usize)> {
    let mut order: Vec<&TextEdit> = edits.iter().collect();
    order.sort_by_key(|e| e.range);
    let mut shift: isize = 0;
    let mut out = Vec::with_capacity(order.len());
    for e in order {
        let start = (e.range.0 as isize + shift) as usize;
        out.push((start, start + e.insert.len()));
        shift += e.insert.len() as isize - (e.range.1 - e.range.0) as isize;
    }
    out
}

/// Apply `edits` and re-parse the result. Text that does not parse is an
/// internal error and is never returned.
pub fn apply_checked(src: &str, edits: &[TextEdit]) -> Result<String> {
    let out = apply(src, edits)?;
    let doc = match crate::syntax::parse(&out) {
        Ok(doc) => doc,
        Err(err) => {
            let (line, col) = err.line_col(&out).unwrap_or((0, 0));
            return Err(Error::internal(format!(
                "nixcross produced text that does not parse ({}:{line}:{col}: {}); nothing was written. This is a bug",
                "<result>", err.message
            )));
        }
    };
    // rnix accepts attributes defined twice; Nix does not. Refuse an edit
    // that adds such a conflict (the input may already have its own). Only
    // the sets the edits wrote in can have a new one: look there first, and
    // count over the whole file (before and after) only when one has any.
    let near = crate::syntax::attr_conflicts_near(&doc, &written_regions(edits));
    if near.is_empty() {
        if crate::source::leave_trees() {
            std::mem::forget(doc);
        }
        return Ok(out);
    }
    let after = crate::syntax::attr_conflicts(&doc);
    if !after.is_empty() {
        let before = crate::syntax::parse(src)
            .map(|d| crate::syntax::attr_conflicts(&d).len())
            .unwrap_or(0);
        if after.len() > before {
            let c = &after[0];
            let (line, col) = crate::error::line_col(&out, c.range.0);
            return Err(Error::internal(format!(
                "the edit would define attribute `{}` twice ({}:{line}:{col}), which Nix rejects; nothing was written. This is a bug",
                c.name, "<result>"
            ))
            .hint("make the change by hand, or write the surrounding attributes as one nested set"));
        }
    }
    Ok(out)
}

/// The edits planned for one file, and why it changes.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct FileEdits {
    /// The file, relative to the root of the tree.
    pub path: RelPath,
    /// Disjoint edits against the file's text as it was read.
    pub edits: Vec<TextEdit>,
    /// Why the file changes, one sentence per reason.
    pub reasons: Vec<String>,
}

/// Planned edits over one or more files, not yet applied: the seam between
/// finding what to change and changing it. Every operation plans one; it is
/// applied once, to all files together.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct Plan {
    /// Edits per file, in a fixed order (the order files were read).
    pub files: Vec<FileEdits>,
    /// One line saying what the plan does.
    pub summary: String,
    /// What the user should know (traps, costs, guesses declined).
    pub warnings: Vec<String>,
}

/// One file's text before and after.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct FileChange {
    /// The file.
    pub path: RelPath,
    /// Its text as read.
    pub before: String,
    /// Its text after the edits (parsed, checked).
    pub after: String,
    /// Why it changes.
    pub reasons: Vec<String>,
}

/// An applied plan: the files that change.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Outcome {
    /// The files whose text changes (none when everything is up to date).
    pub changes: Vec<FileChange>,
    /// One line saying what the plan does.
    pub summary: String,
    /// What the user should know.
    pub warnings: Vec<String>,
}

impl Outcome {
    /// Whether any file changes.
    pub fn changed(&self) -> bool {
        !self.changes.is_empty()
    }

    /// The new text of `path`, when it changes.
    pub fn text_of(&self, path: &str) -> Option<&str> {
        self.changes
            .iter()
            .find(|c| c.path.as_str() == path)
            .map(|c| c.after.as_str())
    }
}

impl Plan {
    /// Apply the plan to the texts it was planned against (`text_of` gives
    /// each file's text), re-parsing every changed file. Text that does not
    /// parse, or that Nix would reject for a duplicate attribute, is an
    /// error and nothing is returned.
    pub fn apply_with(
        &self,
        mut text_of: impl FnMut(&RelPath) -> Result<String>,
    ) -> Result<Outcome> {
        let mut changes = Vec::new();
        for f in &self.files {
            if f.edits.is_empty() {
                continue;
            }
            let before = text_of(&f.path)?;
            let after = apply_checked(&before, &f.edits).map_err(|e| {
                let mut e = e;
                e.message = format!("{}: {}", f.path, e.message);
                e
            })?;
            if after != before {
                changes.push(FileChange {
                    path: f.path.clone(),
                    before,
                    after,
                    reasons: f.reasons.clone(),
                });
            }
        }
        Ok(Outcome {
            changes,
            summary: self.summary.clone(),
            warnings: self.warnings.clone(),
        })
    }

    /// Apply the plan to the files of `files`.
    pub fn apply(&self, files: &dyn Files) -> Result<Outcome> {
        self.apply_with(|p| {
            files
                .read(p)
                .map_err(|e| Error::invalid(format!("cannot read {p}: {e}")))
        })
    }
}

/// Several operations as one change: each is planned and applied in memory
/// against the tree as the ones before it left it ([`Overlay`]), and
/// [`Transaction::finish`] gives one [`Outcome`] of each file's original
/// text and its final text. Plans are computed against the text they read,
/// so two plans of one file cannot be merged; steps can.
pub struct Transaction<'b> {
    tree: Overlay<'b>,
    /// Each changed file's text before the first step changed it.
    original: BTreeMap<RelPath, String>,
    reasons: BTreeMap<RelPath, Vec<String>>,
    summaries: Vec<String>,
    warnings: Vec<String>,
}

impl<'b> Transaction<'b> {
    /// A transaction over `base`, which it never changes.
    pub fn new(base: &'b dyn Files) -> Transaction<'b> {
        Transaction {
            tree: Overlay::new(base),
            original: BTreeMap::new(),
            reasons: BTreeMap::new(),
            summaries: Vec::new(),
            warnings: Vec::new(),
        }
    }

    /// The tree as the steps so far left it.
    pub fn files(&self) -> &dyn Files {
        &self.tree
    }

    /// Run one operation against the tree as it is now and keep what it
    /// changes. Returns whether it changed anything. An error leaves the
    /// transaction as it was.
    pub fn step(&mut self, op: impl FnOnce(&dyn Files) -> Result<Outcome>) -> Result<bool> {
        let out = op(&self.tree)?;
        self.record(out)
    }

    /// Plan with `plan` against the tree as it is now, apply, and keep it.
    pub fn plan(&mut self, plan: impl FnOnce(&dyn Files) -> Result<Plan>) -> Result<bool> {
        self.step(|files| plan(files)?.apply(files))
    }

    /// Keep an outcome computed against [`Transaction::files`].
    pub fn record(&mut self, out: Outcome) -> Result<bool> {
        for c in &out.changes {
            let now = self.tree.read(&c.path).or_else(|e| match e {
                FileError::NotFound => Ok(String::new()),
                e => Err(Error::invalid(format!("cannot read {}: {e}", c.path))),
            })?;
            if now != c.before {
                return Err(Error::internal(format!(
                    "{}: a step was planned against another text of the file than the transaction holds. This is a bug",
                    c.path
                )));
            }
        }
        let changed = out.changed();
        for c in out.changes {
            self.original.entry(c.path.clone()).or_insert(c.before);
            let reasons = self.reasons.entry(c.path.clone()).or_default();
            for r in c.reasons {
                if !reasons.contains(&r) {
                    reasons.push(r);
                }
            }
            self.tree.set(c.path, c.after);
        }
        if changed && !out.summary.is_empty() {
            self.summaries.push(out.summary);
        }
        for w in out.warnings {
            if !self.warnings.contains(&w) {
                self.warnings.push(w);
            }
        }
        Ok(changed)
    }

    /// Add a warning for the user.
    pub fn warn(&mut self, warning: impl Into<String>) {
        let w = warning.into();
        if !self.warnings.contains(&w) {
            self.warnings.push(w);
        }
    }

    /// One outcome: every file whose final text differs from its original,
    /// with the reasons of every step that changed it.
    pub fn finish(self) -> Outcome {
        let Transaction {
            tree,
            mut original,
            mut reasons,
            summaries,
            warnings,
        } = self;
        let changes = tree
            .changed()
            .filter_map(|(path, after)| {
                let before = original.remove(path)?;
                (before != after).then(|| FileChange {
                    path: path.clone(),
                    before,
                    after: after.to_string(),
                    reasons: reasons.remove(path).unwrap_or_default(),
                })
            })
            .collect();
        Outcome {
            changes,
            summary: summaries.join("; "),
            warnings,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fillings_of_one_empty_set_merge() {
        assert_eq!(merge_fillings(" a = 1; ", " b = 2; "), " a = 1; b = 2; ");
        assert_eq!(
            merge_fillings("\n  # c\n  a = 1;\n", " b = 2; "),
            "\n  # c\n  a = 1;\n  b = 2;\n"
        );
        assert_eq!(
            merge_fillings(" b = 2; ", "\r\n\t\t# c\r\n\t\ta = 1;\r\n\t"),
            "\r\n\t\tb = 2;\r\n\t\t# c\r\n\t\ta = 1;\r\n\t"
        );
        assert_eq!(
            merge_fillings("\n    a = 1;\n  ", "\n    b = [\n      x\n    ];\n  "),
            "\n    a = 1;\n    b = [\n      x\n    ];\n  "
        );
    }

    #[test]
    fn applies_in_offset_order() {
        let src = "abcdef";
        let edits = [
            TextEdit::replace((4, 5), "E"),
            TextEdit::insert(0, ">"),
            TextEdit::delete((1, 3)),
        ];
        assert_eq!(apply(src, &edits).unwrap(), ">adEf");
    }

    #[test]
    fn same_point_insertions_keep_plan_order() {
        let edits = [TextEdit::insert(1, "1"), TextEdit::insert(1, "2")];
        assert_eq!(apply("ab", &edits).unwrap(), "a12b");
    }

    #[test]
    fn overlaps_are_rejected() {
        let edits = [
            TextEdit::replace((0, 3), "x"),
            TextEdit::replace((2, 4), "y"),
        ];
        assert!(apply("abcdef", &edits).is_err());
        let edits = [TextEdit::replace((0, 3), "x"), TextEdit::insert(1, "y")];
        assert!(apply("abcdef", &edits).is_err());
        // Touching ranges are fine.
        let edits = [
            TextEdit::replace((0, 3), "x"),
            TextEdit::replace((3, 4), "y"),
        ];
        assert_eq!(apply("abcdef", &edits).unwrap(), "xyef");
    }

    #[test]
    fn out_of_range_is_an_error() {
        assert!(apply("ab", &[TextEdit::insert(3, "x")]).is_err());
        assert!(apply("é", &[TextEdit::insert(1, "x")]).is_err());
    }

    #[test]
    fn checked_apply_refuses_broken_results() {
        let err = apply_checked("{ a = 1; }", &[TextEdit::delete((7, 8))]).unwrap_err();
        assert_eq!(err.kind, crate::ErrorKind::Internal);
        assert_eq!(
            apply_checked("{ a = 1; }", &[TextEdit::replace((6, 7), "2")]).unwrap(),
            "{ a = 2; }"
        );
    }

    #[test]
    fn checked_apply_refuses_duplicate_attributes() {
        // `boot.binfmt` is defined, so a `binfmt` inside `boot = { }` is a
        // second definition for Nix, though rnix parses it.
        let src = "{ boot.binfmt.a = 1; boot = { }; }";
        let at = src.find("{ }").unwrap() + 1;
        let err = apply_checked(src, &[TextEdit::insert(at, " binfmt.b = 2;")]).unwrap_err();
        assert_eq!(err.kind, crate::ErrorKind::Internal);
        assert!(err.message.contains("`binfmt` twice"), "{}", err.message);
        // A conflict the input already had does not block an unrelated edit.
        let src = "{ a = 1; a = 2; b = 1; }";
        let one = src.rfind('1').unwrap();
        assert_eq!(
            apply_checked(src, &[TextEdit::replace((one, one + 1), "3")]).unwrap(),
            "{ a = 1; a = 2; b = 3; }"
        );
    }

    #[test]
    fn a_transaction_composes_steps_of_one_file() {
        let mut files = crate::files::MemFiles::new();
        files.insert("a.nix", "{ a = 1; }").insert("b.nix", "{ }");
        let a = RelPath::new("a.nix").unwrap();
        let mut t = Transaction::new(&files);
        // Each step is planned against the text the previous one left.
        let edit = |find: &'static str, with: &'static str, why: &'static str| {
            let a = a.clone();
            move |f: &dyn Files| -> Result<Plan> {
                let text = f.read(&a).unwrap();
                let at = text.find(find).unwrap();
                Ok(Plan {
                    files: vec![FileEdits {
                        path: a.clone(),
                        edits: vec![TextEdit::replace((at, at + find.len()), with)],
                        reasons: vec![why.into()],
                    }],
                    summary: why.into(),
                    warnings: vec!["w".into()],
                })
            }
        };
        assert!(t.plan(edit("1", "2", "two")).unwrap());
        assert!(t.plan(edit("a = 2;", "a = 2; b = 3;", "three")).unwrap());
        assert!(!t.plan(edit("3", "3", "same")).unwrap());
        // A failing step leaves the transaction as it was.
        assert!(t.step(|_| Err(Error::refused("no"))).is_err());
        let out = t.finish();
        assert_eq!(out.changes.len(), 1);
        let c = &out.changes[0];
        assert_eq!(c.before, "{ a = 1; }");
        assert_eq!(c.after, "{ a = 2; b = 3; }");
        assert_eq!(c.reasons, ["two", "three"]);
        assert_eq!(out.summary, "two; three");
        assert_eq!(out.warnings, ["w"]);
        // Back to the original text: no change at all.
        let mut t = Transaction::new(&files);
        t.plan(edit("1", "2", "two")).unwrap();
        t.plan(edit("2", "1", "one")).unwrap();
        assert!(!t.finish().changed());
    }
}
