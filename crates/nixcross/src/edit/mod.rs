//! Planned text edits: a batch of disjoint `(range, insert)` pairs computed
//! against the untouched source, applied in one pass, then re-parsed.
//!
//! Two edits overlap when their ranges share a byte, or when an insertion
//! point lies strictly inside another edit's replaced range. Insertions at the
//! same point are kept in plan order.

mod claim;

use std::collections::BTreeMap;
use std::sync::Arc;

pub use claim::{Claim, Subject};

use crate::error::{Diagnostic, Error, Result, TextRange};
use crate::files::{FileError, Files, Overlay, RelPath};

/// Replace `range` of the source with `insert` (an empty range inserts).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TextEdit {
    /// The byte range replaced, in the text the edit was planned against.
    pub range: TextRange,
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
    pub fn replace(range: impl Into<TextRange>, insert: impl Into<String>) -> Self {
        TextEdit {
            range: range.into(),
            insert: insert.into(),
        }
    }
    /// Insert `insert` at byte `at`.
    pub fn insert(at: usize, insert: impl Into<String>) -> Self {
        TextEdit::replace((at, at), insert)
    }
    /// Delete `range`.
    pub fn delete(range: impl Into<TextRange>) -> Self {
        TextEdit::replace(range, "")
    }
}

/// Apply `edits` to `src`. Edits refer to `src`'s offsets; they may come in
/// any order but must not overlap.
pub fn apply(src: &str, edits: &[TextEdit]) -> Result<String> {
    let mut order: Vec<usize> = (0..edits.len()).collect();
    order.sort_by_key(|&i| (edits[i].range.start, edits[i].range.end, i));
    let mut out =
        String::with_capacity(src.len() + edits.iter().map(|e| e.insert.len()).sum::<usize>());
    let mut pos = 0usize;
    let mut last_end = 0usize;
    for (n, &i) in order.iter().enumerate() {
        let e = &edits[i];
        let (start, end) = (e.range.start, e.range.end);
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
/// where an edit only deleted), with the range the edit replaced in the
/// text it was planned against.
fn written_regions(edits: &[TextEdit]) -> Vec<((usize, usize), (usize, usize))> {
    let mut order: Vec<&TextEdit> = edits.iter().collect();
    order.sort_by_key(|e| e.range);
    let mut shift: isize = 0;
    let mut out = Vec::with_capacity(order.len());
    for e in order {
        let start = (e.range.start as isize + shift) as usize;
        out.push(((start, start + e.insert.len()), e.range.into()));
        shift += e.insert.len() as isize - (e.range.end - e.range.start) as isize;
    }
    out
}

/// Apply `edits` and re-parse the result. Text that does not parse, that
/// Nix's own parser would reject (a duplicate attribute, say), or where an
/// edit's text ran into a comment or a string (its text crosses the edge of
/// one) is an error of kind [`crate::ErrorKind::Unsafe`], at the first
/// edit, and is never returned.
pub fn apply_checked(src: &str, edits: &[TextEdit]) -> Result<String> {
    let out = apply(src, edits)?;
    let regions = written_regions(edits);
    // The edit that wrote (or wrote last before) an offset of the result.
    let edit_at = |offset: usize| {
        regions
            .iter()
            .rev()
            .find(|(w, _)| w.0 <= offset)
            .or(regions.first())
            .map_or((0, 0), |(_, planned)| *planned)
    };
    let refuse = |why: String, at: (usize, usize)| {
        Error::new(
            crate::ErrorKind::Unsafe,
            format!("nixcross could not place this edit safely: {why}"),
        )
        .at(at)
        .hint("nothing was written; make this change by hand, or report the layout nixcross could not edit")
    };
    // Larger than nixcross reads: not a text that fails to parse, but one
    // nixcross would not read back.
    if out.len() as u64 > crate::files::MAX_FILE_BYTES
        && src.len() as u64 <= crate::files::MAX_FILE_BYTES
    {
        return Err(Error::new(
            crate::ErrorKind::Unsafe,
            format!(
                "the edit would make the file {} bytes, more than the {} (4 MiB) nixcross reads",
                out.len(),
                crate::files::MAX_FILE_BYTES
            ),
        )
        .at(edit_at(0))
        .hint("nothing was written; move part of the file into a module of its own, or make this change by hand"));
    }
    let doc = match crate::syntax::parse_shared(&out) {
        Ok(doc) => doc,
        Err(err) => {
            let (line, col) = err.line_col(&out).unwrap_or((0, 0));
            let at = edit_at(err.range.map_or(0, |r| r.start));
            return Err(refuse(
                format!(
                    "the edited text would not be valid Nix ({line}:{col} of the result: {})",
                    err.message
                ),
                at,
            ));
        }
    };
    for (s, e) in crate::syntax::text_spans(&doc) {
        let crosses = |at: usize| s < at && at < e;
        let hit = regions
            .iter()
            .find(|((ws, we), _)| ws < we && (crosses(*ws) || crosses(*we)));
        if let Some((_, planned)) = hit {
            let what = if out[s..e].starts_with('#') || out[s..e].starts_with("/*") {
                "a comment"
            } else {
                "a string"
            };
            return Err(refuse(runs_into(what), *planned));
        }
    }
    if crate::syntax::trees_kept() {
        std::mem::forget(doc);
    }
    Ok(out)
}

/// Why an edit whose text meets `what` (`a comment`, `a string`) is
/// refused.
pub(crate) fn runs_into(what: &str) -> String {
    format!("the new text would run into {what} (so Nix would not read it as written)")
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
    /// The revision of the text the edits were planned against: applying
    /// them to another text is [`crate::ErrorKind::Changed`], never a write.
    pub(crate) revision: Option<Revision>,
}

/// A text's revision: its length and a hash of its bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Revision(usize, u64);

impl Revision {
    /// The revision of `text`.
    pub(crate) fn of(text: &str) -> Revision {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        text.hash(&mut h);
        Revision(text.len(), h.finish())
    }
}

/// Planned edits over one or more files, not yet applied: the seam between
/// finding what to change and changing it. Every operation plans one; it is
/// applied once, to all files together, and proven before anyone sees the
/// result ([`Plan::apply`]).
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct Plan {
    /// Edits per file, in a fixed order (the order files were read).
    pub files: Vec<FileEdits>,
    /// One line saying what the plan does.
    pub summary: String,
    /// What the user should know (traps, costs, guesses declined).
    pub warnings: Vec<Diagnostic>,
    /// What the plan establishes: proven on the edited tree before the
    /// plan's outcome is returned.
    pub claims: Vec<Claim>,
    /// Reads the edited tree as `show` does and proves the claims against
    /// what the operation read before it planned.
    pub(crate) prover: Option<Arc<dyn Prover>>,
}

/// Proves a plan's claims: made by the operation that plans, from what it
/// read before it planned (the baseline), it reads the edited tree again
/// with the same reader `show` uses. It fails when a claim does not hold,
/// or when anything else it read (another configuration, another option
/// of the same one) reads differently; what was unknown before may stay
/// unknown.
pub(crate) trait Prover: std::fmt::Debug + Send + Sync {
    /// Check `claims` on `after`, the tree with the plan applied.
    fn prove(&self, after: &dyn Files, claims: &[Claim]) -> Result<()>;
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
    pub warnings: Vec<Diagnostic>,
    /// What the change establishes, proven on the changed tree.
    pub claims: Vec<Claim>,
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
    /// Apply the plan to the files of `files` (the texts it was planned
    /// against) and prove it. Every changed file is re-parsed and must pass
    /// Nix's own parser rules (duplicate attributes, its whitespace); no
    /// inserted text may land inside a comment or a string; and the edited
    /// tree, read again as `show` reads it, must show every claim in effect
    /// and everything else as it was. Otherwise it is an error (of kind
    /// [`crate::ErrorKind::Unsafe`] when the check fails) and nothing is
    /// returned.
    pub fn apply(&self, files: &dyn Files) -> Result<Outcome> {
        let out = self.apply_edits(files)?;
        if let Some(prover) = &self.prover {
            prove(&**prover, files, &out.changes, &self.claims)?;
        }
        Ok(out)
    }

    /// [`Plan::apply`] without the proof of the claims: for a step of a
    /// [`Transaction`], which proves every step's claims on the final tree.
    fn apply_edits(&self, files: &dyn Files) -> Result<Outcome> {
        let mut changes = Vec::new();
        for f in &self.files {
            if f.edits.is_empty() {
                continue;
            }
            let before = files
                .read(&f.path)
                .map_err(|e| Error::invalid(format!("cannot read {}: {e}", f.path)))?;
            if crate::syntax::is_generated(&before) {
                return Err(Error::refused(format!(
                    "{} says a tool writes it (nixos-generate-config or an @generated marker); nixcross does not edit it",
                    f.path
                ))
                .hint("put the setting in a module of your own, e.g. configuration.nix"));
            }
            if f.revision.is_some_and(|r| r != Revision::of(&before)) {
                return Err(Error::new(
                    crate::ErrorKind::Changed,
                    format!(
                        "{} changed since the plan was made; nothing was written",
                        f.path
                    ),
                )
                .hint("plan again from the file as it is now"));
            }
            let after = apply_checked(&before, &f.edits).map_err(|e| {
                if e.kind == crate::ErrorKind::Unsafe {
                    return e.in_file(&f.path, &before);
                }
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
            claims: self.claims.clone(),
        })
    }

    /// Whether the plan changes nothing.
    pub fn is_empty(&self) -> bool {
        self.files.iter().all(|f| f.edits.is_empty())
    }
}

/// Prove `claims` on `base` with `changes` applied (nothing to prove when
/// nothing changes).
fn prove(
    prover: &dyn Prover,
    base: &dyn Files,
    changes: &[FileChange],
    claims: &[Claim],
) -> Result<()> {
    if changes.is_empty() {
        return Ok(());
    }
    let mut tree = Overlay::new(base);
    for c in changes {
        tree.set(c.path.clone(), c.after.clone());
    }
    prover.prove(&tree, claims).map_err(unsafe_edit)
}

/// The self-check refused an edit: say so in the user's words.
fn unsafe_edit(e: Error) -> Error {
    if e.kind == crate::ErrorKind::Unsafe {
        return e;
    }
    let mut out = Error::new(
        crate::ErrorKind::Unsafe,
        format!("nixcross could not place this edit safely: {}", e.message),
    );
    out.range = e.range;
    out.location = e.location;
    out.hints = e.hints;
    if out.hints.is_empty() {
        out.hints
            .push("nothing was written; make this change by hand, or report the layout that nixcross could not edit".into());
    }
    out
}

/// Several operations as one change: each is planned and applied in memory
/// against the tree as the ones before it left it ([`Overlay`]), and
/// [`Transaction::finish`] gives one [`Outcome`] of each file's original
/// text and its final text. Plans are computed against the text they read,
/// so two plans of one file cannot be merged; steps can.
///
/// The self-check runs once, at the end: every step planned here is proven
/// on the final tree against what it read, with the claims of all steps
/// (a later claim about the same fact replaces an earlier one), so a step
/// may depend on the next (a new configuration, then its platforms).
pub struct Transaction<'b> {
    tree: Overlay<'b>,
    /// Each changed file's text before the first step changed it.
    original: BTreeMap<RelPath, String>,
    reasons: BTreeMap<RelPath, Vec<String>>,
    summaries: Vec<String>,
    warnings: Vec<Diagnostic>,
    claims: Vec<Claim>,
    provers: Vec<Arc<dyn Prover>>,
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
            claims: Vec::new(),
            provers: Vec::new(),
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

    /// Plan with `plan` against the tree as it is now, apply, and keep it;
    /// its claims are proven by [`Transaction::finish`].
    pub fn plan(&mut self, plan: impl FnOnce(&dyn Files) -> Result<Plan>) -> Result<bool> {
        let plan = plan(&self.tree)?;
        let out = plan.apply_edits(&self.tree)?;
        let changed = self.record(out)?;
        if changed {
            if let Some(p) = plan.prover {
                self.provers.push(p);
            }
        }
        Ok(changed)
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
        for c in out.claims {
            // A later step's claim about the same fact replaces an earlier one.
            self.claims.retain(|k| !same_fact(k, &c));
            self.claims.push(c);
        }
        Ok(changed)
    }

    /// Add a warning for the user.
    pub fn warn(&mut self, warning: impl Into<Diagnostic>) {
        let w = warning.into();
        if !self.warnings.contains(&w) {
            self.warnings.push(w);
        }
    }

    /// One outcome: every file whose final text differs from its original,
    /// with the reasons of every step that changed it, once every step
    /// planned here is proven on the final tree.
    pub fn finish(self) -> Result<Outcome> {
        let Transaction {
            tree,
            mut original,
            mut reasons,
            summaries,
            warnings,
            claims,
            provers,
        } = self;
        if tree.changed().next().is_some() {
            for p in &provers {
                p.prove(&tree, &claims).map_err(unsafe_edit)?;
            }
        }
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
        Ok(Outcome {
            changes,
            summary: summaries.join("; "),
            warnings,
            claims,
        })
    }
}

/// Whether two claims are about the same fact (so that the later one
/// decides).
fn same_fact(a: &Claim, b: &Claim) -> bool {
    use Claim::*;
    match (a, b) {
        (Platforms { config: x, .. }, Platforms { config: y, .. })
        | (Configuration { config: x, .. }, Configuration { config: y, .. }) => x == y,
        (
            Overlay {
                config: c1,
                set: s1,
                attr: a1,
                ..
            },
            Overlay {
                config: c2,
                set: s2,
                attr: a2,
                ..
            },
        ) => (c1, s1, a1) == (c2, s2, a2),
        (
            Emulated {
                subject: s1,
                system: y1,
                ..
            },
            Emulated {
                subject: s2,
                system: y2,
                ..
            },
        ) => (s1, y1) == (s2, y2),
        (
            Toggle {
                subject: s1,
                option: o1,
                ..
            },
            Toggle {
                subject: s2,
                option: o2,
                ..
            },
        ) => (s1, o1) == (s2, o2),
        (
            Builder {
                subject: s1,
                host: h1,
                protocol: p1,
                ..
            },
            Builder {
                subject: s2,
                host: h2,
                protocol: p2,
                ..
            },
        ) => (s1, h1, p1) == (s2, h2, p2),
        _ => a == b,
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
        assert_eq!(err.kind, crate::ErrorKind::Unsafe);
        assert_eq!(err.range, Some((7, 8).into()));
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
        assert_eq!(err.kind, crate::ErrorKind::Unsafe);
        assert!(
            err.message.contains("`binfmt` is defined twice"),
            "{}",
            err.message
        );
    }

    #[test]
    fn checked_apply_refuses_text_that_runs_into_a_comment_or_a_string() {
        let refused = |src: &str, edits: &[TextEdit]| {
            let e = apply_checked(src, edits).unwrap_err();
            assert_eq!(e.kind, crate::ErrorKind::Unsafe, "{src}");
            e.message
        };
        // Inserted after an opening `/*`: the new text is comment.
        let src = "{ modules = [ /*
 */ ]; }";
        let at = src.find("/*").unwrap() + 2;
        assert!(refused(
            src,
            &[TextEdit::insert(
                at,
                "
  ./a.nix"
            )]
        )
        .contains("a comment"));
        // A line comment of the new text swallows the rest of its line.
        let src = "{
  a = 1; b = 2;
}";
        let at = src.find("a = 1;").unwrap() + 6;
        assert!(refused(src, &[TextEdit::insert(at, " c = 3; # mark")]).contains("a comment"));
        // Inserted at the end of a line comment.
        let src = "{
  a = 1; # note
}";
        let at = src.find("note").unwrap() + 4;
        assert!(refused(src, &[TextEdit::insert(at, " b = 2;")]).contains("a comment"));
        // Inside a string.
        let src = "{ a = \"x\"; }";
        assert!(refused(src, &[TextEdit::insert(7, "y = 1; ")]).contains("a string"));
        // A comment or a string inside the new text is fine, and so is one
        // the edit replaces whole.
        let src = "{
  a = 1;
}";
        let at = src.find("a = 1;").unwrap() + 6;
        assert!(apply_checked(
            src,
            &[TextEdit::insert(
                at,
                "
  b = \"#\"; # mark"
            )]
        )
        .is_ok());
        let src = "{ a = \"x\"; }";
        assert!(apply_checked(src, &[TextEdit::replace((6, 9), "\"y\"")]).is_ok());
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
                        revision: Some(Revision::of(&text)),
                    }],
                    summary: why.into(),
                    warnings: vec!["w".into()],
                    ..Plan::default()
                })
            }
        };
        assert!(t.plan(edit("1", "2", "two")).unwrap());
        assert!(t.plan(edit("a = 2;", "a = 2; b = 3;", "three")).unwrap());
        assert!(!t.plan(edit("3", "3", "same")).unwrap());
        // A failing step leaves the transaction as it was.
        assert!(t.step(|_| Err(Error::refused("no"))).is_err());
        let out = t.finish().unwrap();
        assert_eq!(out.changes.len(), 1);
        let c = &out.changes[0];
        assert_eq!(c.before, "{ a = 1; }");
        assert_eq!(c.after, "{ a = 2; b = 3; }");
        assert_eq!(c.reasons, ["two", "three"]);
        assert_eq!(out.summary, "two; three");
        assert_eq!(out.warnings, [Diagnostic::warning("w")]);
        // Back to the original text: no change at all.
        let mut t = Transaction::new(&files);
        t.plan(edit("1", "2", "two")).unwrap();
        t.plan(edit("2", "1", "one")).unwrap();
        assert!(!t.finish().unwrap().changed());
    }
}
