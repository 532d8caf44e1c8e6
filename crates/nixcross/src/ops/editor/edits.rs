//! The planning core every operation uses: the files read, the edits
//! planned for each with their reasons, the warnings and the claims,
//! finished into one [`Plan`].

use std::collections::{BTreeMap, HashSet};

use std::sync::Arc;

use crate::edit::{Claim, FileEdits, Plan, Prover, Subject, TextEdit};
use crate::error::{Diagnostic, Error};
use crate::source::{FileId, SourceMap, Src};
use crate::syntax::Layout;

use super::home::{NewImports, NewInline};

/// What an [`Edits`] had planned at some point.
pub(crate) struct Snapshot {
    pub(super) files: BTreeMap<FileId, (Vec<TextEdit>, Vec<String>)>,
    warnings: usize,
    pub(super) replaced: HashSet<(FileId, (usize, usize))>,
    pub(super) new_imports: BTreeMap<FileId, NewImports>,
    pub(super) new_inline: Option<NewInline>,
    call_args: CallArgs,
    claims: usize,
}

/// The planning core every operation uses: the files read (a
/// [`SourceMap`]), the edits planned for each with the reasons, and the
/// warnings; finished into one [`Plan`]. Operations on a single module file
/// use it directly; [`Planner`](super::Planner) adds the guards of a flake configuration.
pub(crate) struct Edits<'a> {
    pub sources: &'a SourceMap<'a>,
    pub(super) files: BTreeMap<FileId, (Vec<TextEdit>, Vec<String>)>,
    pub warnings: Vec<Diagnostic>,
    pub(super) replaced: HashSet<(FileId, (usize, usize))>,
    pub(super) new_imports: BTreeMap<FileId, NewImports>,
    pub(super) new_inline: Option<NewInline>,
    /// Attributes this plan adds to a configuration's own call of a helper
    /// ([`crate::ops::params`]), with their values.
    pub(crate) call_args: CallArgs,
    /// What the edits are about: the configuration, or the module file.
    pub subject: Subject,
    /// What the plan establishes (see [`crate::proof`]).
    pub claims: Vec<Claim>,
    /// Proves the claims on the edited tree.
    pub(super) prover: Option<Arc<dyn Prover>>,
}

/// `(file, argument set, attribute)` to the value written.
pub(crate) type CallArgs = BTreeMap<(FileId, (usize, usize), String), String>;

impl<'a> Edits<'a> {
    /// Planning edits of `subject` over `sources`. The plan is proven by
    /// the prover given with [`Edits::proven_by`] (a [`Planner`](super::Planner) gives its
    /// own).
    pub fn new(sources: &'a SourceMap<'a>, subject: Subject) -> Edits<'a> {
        Edits {
            sources,
            files: BTreeMap::new(),
            warnings: Vec::new(),
            replaced: HashSet::new(),
            new_imports: BTreeMap::new(),
            new_inline: None,
            call_args: BTreeMap::new(),
            subject,
            claims: Vec::new(),
            prover: None,
        }
    }

    /// Prove the plan with `prover` (made from what was read to plan it).
    pub fn proven_by(&mut self, prover: Arc<dyn Prover>) {
        self.prover = Some(prover);
    }

    /// Say what the plan establishes; proven before anything is written.
    pub fn claim(&mut self, claim: Claim) {
        if !self.claims.contains(&claim) {
            self.claims.push(claim);
        }
    }

    /// The text of a file.
    pub fn text(&self, file: FileId) -> &'a str {
        &self.sources.get(file).text
    }

    /// The layout of a file.
    pub fn layout(&self, file: FileId) -> &'a Layout {
        &self.sources.get(file).layout
    }

    /// An error pointing at `src`.
    pub fn error_at(&self, err: Error, src: &Src) -> Error {
        let s = self.sources.get(src.file);
        err.at(src.range()).in_file(&s.path, &s.text)
    }

    /// Warn about `src` (`file:line:col` where it starts), once.
    pub fn warn_at(&mut self, message: String, src: &Src) {
        let s = self.sources.get(src.file);
        let (line, col) = crate::error::line_col(&s.text, src.range().0);
        let w = Diagnostic::warning(message).at(crate::error::Location {
            file: s.path.clone(),
            line,
            col,
        });
        if !self.warnings.contains(&w) {
            self.warnings.push(w);
        }
    }

    /// Add an edit of `file`. A second filling of an empty `{ }` or `[ ]`
    /// that an earlier step fills too joins that edit (see
    /// [`crate::edit::merge_fillings`]), so that two steps can add to one
    /// empty set.
    pub fn push(&mut self, file: FileId, edit: TextEdit, reason: &str) {
        let text = self.text(file);
        let entry = self.files.entry(file).or_default();
        let (a, b) = (edit.range.start, edit.range.end);
        let empty_inside = a < b && text[a..b].trim().is_empty();
        let same = entry.0.iter_mut().find(|e| e.range == edit.range);
        match same {
            Some(e) if empty_inside => {
                e.insert = crate::edit::merge_fillings(&e.insert, &edit.insert);
            }
            _ => entry.0.push(edit),
        }
        if !entry.1.iter().any(|r| r == reason) {
            entry.1.push(reason.to_string());
        }
    }

    /// Whether a planned edit of `file` reaches into `range` (an insertion
    /// at either end does not).
    pub fn touches(&self, file: FileId, range: (usize, usize)) -> bool {
        self.files.get(&file).is_some_and(|(edits, _)| {
            edits.iter().any(|e| {
                let (a, b) = (e.range.start, e.range.end);
                if a == b {
                    range.0 < a && a < range.1
                } else {
                    a < range.1 && range.0 < b
                }
            })
        })
    }

    /// Record that a node has been replaced; false when it was already.
    pub fn mark_replaced(&mut self, src: &Src) -> bool {
        self.replaced.insert((src.file, src.range()))
    }

    /// The planned edits so far, to go back to after a failed attempt.
    pub fn snapshot(&self) -> Snapshot {
        Snapshot {
            files: self.files.clone(),
            warnings: self.warnings.len(),
            replaced: self.replaced.clone(),
            new_imports: self.new_imports.clone(),
            new_inline: self.new_inline.clone(),
            call_args: self.call_args.clone(),
            claims: self.claims.len(),
        }
    }

    /// Forget what was planned since `s`.
    pub fn restore(&mut self, s: Snapshot) {
        self.files = s.files;
        self.warnings.truncate(s.warnings);
        self.replaced = s.replaced;
        self.new_imports = s.new_imports;
        self.new_inline = s.new_inline;
        self.call_args = s.call_args;
        self.claims.truncate(s.claims);
    }

    /// Whether any edit is planned.
    pub fn is_empty(&self) -> bool {
        self.files.values().all(|(e, _)| e.is_empty())
    }

    /// The planned edits, not yet applied.
    pub fn finish(self, summary: String) -> Plan {
        let sources = self.sources;
        let files = self
            .files
            .into_iter()
            .filter(|(_, (e, _))| !e.is_empty())
            .map(|(id, (edits, reasons))| FileEdits {
                path: sources.get(id).path.clone(),
                edits,
                reasons,
                revision: Some(crate::edit::Revision::of(&sources.get(id).text)),
            })
            .collect();
        Plan {
            files,
            summary,
            warnings: self.warnings,
            claims: self.claims,
            prover: self.prover,
        }
    }
}
