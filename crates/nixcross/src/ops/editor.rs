//! The planner every editing operation uses: edits across the files of one
//! configuration, guarded so that nothing another configuration also uses
//! changes, in each file's own layout, collected into one [`Plan`].
//!
//! Rules it enforces:
//! - an edit inside a module, a `nixosSystem` call or a platform literal that
//!   another configuration also uses is refused with that configuration's
//!   name ([`Flake::users_of`]);
//! - new definitions go into the configuration's own module ([`Planner::home`]):
//!   an inline module of its `modules` list, else a new inline module, else
//!   the first file module only it loads.

use std::collections::{BTreeMap, HashSet};

use std::sync::Arc;

use crate::edit::{Claim, FileEdits, Plan, Prover, Subject, TextEdit};
use crate::error::{Error, Result};
use crate::flake::{Config, Flake, ModuleOrigin, SeenStyle, System};
use crate::module::{self, ModuleBody};
use crate::source::{FileId, SourceMap, Src};
use crate::syntax::{self, list_names, Entry, Layout, Node};

/// How an operation treats a configuration whose platforms come from
/// `nixpkgs.pkgs = <package set>;` (NixOS then ignores the other
/// `nixpkgs.*` platform options).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PkgsOptionUse {
    /// Refuse: what the operation writes would not decide the platforms.
    Refuse,
    /// Go on: `set-target` retargets that package set itself.
    Retarget,
}

/// Why nixcross will not edit `config`, or `None` when it will try.
pub(crate) fn edit_blocker(flake: &Flake, config: &Config, pkgs: PkgsOptionUse) -> Option<String> {
    let Some(sys) = config.system() else {
        return Some(
            config
                .platforms
                .unknown
                .clone()
                .unwrap_or_else(|| "nixcross cannot follow this configuration".into()),
        );
    };
    if let Some(p) = &sys.pkgs_arg {
        return Some(format!(
            "the configuration is given a package set (`pkgs`, {}), whose platforms decide; edit that by hand",
            flake.describe(p)
        ));
    }
    if let Some(po) = sys
        .pkgs_option
        .as_ref()
        .filter(|_| pkgs == PkgsOptionUse::Refuse)
    {
        let at = po
            .site
            .as_ref()
            .map(|s| format!(" ({})", flake.describe(s)))
            .unwrap_or_default();
        return Some(format!(
            "it sets nixpkgs.pkgs{at}, whose platforms decide (NixOS then ignores the other nixpkgs.* options); edit that package set by hand"
        ));
    }
    if config.platforms.style == Some(SeenStyle::Mixed) {
        return Some("it sets both nixpkgs.crossSystem/localSystem and nixpkgs.hostPlatform/buildPlatform; NixOS rejects that mix with an assertion, so fix it by hand first".into());
    }
    if let Some(o) = sys.opaque.first() {
        let at =
            o.at.as_ref()
                .map(|a| format!(" ({})", flake.describe(a)))
                .unwrap_or_default();
        return Some(format!("{}{at}", o.reason));
    }
    if config.platforms.style.is_some() {
        if let Some(why) = &config.platforms.unknown {
            return Some(why.clone());
        }
    }
    None
}

pub(crate) use crate::syntax::compact;

/// Indent every line but the first by two spaces (for nesting generated text).
pub(crate) fn indent_tail(text: &str) -> String {
    text.replace('\n', "\n  ")
}

/// Where new definitions of a configuration go.
pub(crate) enum Home {
    /// A module it already loads, which only it loads.
    Module {
        /// Index in [`System::modules`].
        index: usize,
        /// The file.
        file: FileId,
        /// The module's definitions.
        body: ModuleBody,
        /// Definitions go under `config`.
        full: bool,
    },
    /// A new inline module in its `modules` list.
    NewInline,
}

/// Where a new inline module goes.
pub(crate) enum ModuleSlot {
    /// A literal list of modules: the configuration's `modules`, or the
    /// `imports` of its own module file.
    List(Src),
    /// The configuration's own module file, which has no `imports` yet.
    NewImports {
        /// The file.
        file: FileId,
        /// Its definitions.
        body: ModuleBody,
    },
}

/// What an [`Edits`] had planned at some point.
pub(crate) struct Snapshot {
    files: BTreeMap<FileId, (Vec<TextEdit>, Vec<String>)>,
    warnings: usize,
    replaced: HashSet<(FileId, (usize, usize))>,
    new_imports: BTreeMap<FileId, NewImports>,
    new_inline: Option<NewInline>,
    call_args: CallArgs,
    claims: usize,
}

/// The new inline module this plan writes into a modules list for
/// [`Planner::insert_option`]: its edit, so that the next option joins it
/// instead of becoming a second module.
#[derive(Clone)]
struct NewInline {
    list: Src,
    edit: usize,
    comment: String,
    /// Its definitions, one `key = value;` each.
    lines: Vec<String>,
}

/// An `imports = [ ... ];` this plan writes into a module file: the index of
/// its edit, so that a second module for the same file joins the list
/// instead of writing a second `imports`.
#[derive(Clone)]
struct NewImports {
    edit: usize,
}

/// Add `# comment` and `module_text` as the last item of the `imports = [
/// ... ]` list in `insert` (text nixcross generated, reindented), in the
/// layout of its first item. False when there is no such list.
fn append_to_imports(
    insert: &mut String,
    comment: &str,
    module_text: &str,
    unit: &str,
    nl: &str,
) -> bool {
    let Some(open) = insert.find("imports = [") else {
        return false;
    };
    let open = open + "imports = ".len();
    // The matching `]` (the generated modules hold no brackets in strings).
    let mut depth = 0usize;
    let mut close = None;
    for (i, c) in insert[open..].char_indices() {
        match c {
            '[' => depth += 1,
            ']' => {
                depth -= 1;
                if depth == 0 {
                    close = Some(open + i);
                    break;
                }
            }
            _ => {}
        }
    }
    let Some(close) = close else { return false };
    let line_start = insert[..close].rfind('\n').map_or(0, |i| i + 1);
    let close_indent = insert[line_start..close].to_string();
    if !close_indent.trim().is_empty() {
        // A list on one line: the module on it too, without its comment.
        insert.insert_str(close, &format!("{} ", compact(module_text)));
        return true;
    }
    let item_indent = format!("{close_indent}{unit}");
    let body = syntax::reindent(module_text, &item_indent, unit, nl);
    insert.insert_str(
        line_start,
        &format!("{item_indent}# {comment}{nl}{item_indent}{body}{nl}"),
    );
    true
}

/// The planning core every operation uses: the files read (a
/// [`SourceMap`]), the edits planned for each with the reasons, and the
/// warnings; finished into one [`Plan`]. Operations on a single module file
/// use it directly; [`Planner`] adds the guards of a flake configuration.
pub(crate) struct Edits<'a> {
    pub sources: &'a SourceMap<'a>,
    files: BTreeMap<FileId, (Vec<TextEdit>, Vec<String>)>,
    pub warnings: Vec<String>,
    replaced: HashSet<(FileId, (usize, usize))>,
    new_imports: BTreeMap<FileId, NewImports>,
    new_inline: Option<NewInline>,
    /// Attributes this plan adds to a configuration's own call of a helper
    /// ([`crate::ops::params`]), with their values.
    pub(crate) call_args: CallArgs,
    /// What the edits are about: the configuration, or the module file.
    pub subject: Subject,
    /// What the plan establishes (see [`crate::proof`]).
    pub claims: Vec<Claim>,
    /// Proves the claims on the edited tree.
    prover: Option<Arc<dyn Prover>>,
}

/// `(file, argument set, attribute)` to the value written.
pub(crate) type CallArgs = BTreeMap<(FileId, (usize, usize), String), String>;

impl<'a> Edits<'a> {
    /// Planning edits of `subject` over `sources`. The plan is proven by
    /// the prover given with [`Edits::proven_by`] (a [`Planner`] gives its
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

    /// Add an edit of `file`. A second filling of an empty `{ }` or `[ ]`
    /// that an earlier step fills too joins that edit (see
    /// [`crate::edit::merge_fillings`]), so that two steps can add to one
    /// empty set.
    pub fn push(&mut self, file: FileId, edit: TextEdit, reason: &str) {
        let text = self.text(file);
        let entry = self.files.entry(file).or_default();
        let (a, b) = edit.range;
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
                let (a, b) = e.range;
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

/// Plans guarded edits to one configuration of a flake.
pub(crate) struct Planner<'a, 'f> {
    pub flake: &'a Flake<'f>,
    pub config: &'a Config,
    pub sys: &'a System,
    pub core: Edits<'a>,
    /// Whether the plan gets a prover (false for a plan never applied).
    pub prove: bool,
}

impl<'a> std::ops::Deref for Planner<'a, '_> {
    type Target = Edits<'a>;
    fn deref(&self) -> &Edits<'a> {
        &self.core
    }
}

impl std::ops::DerefMut for Planner<'_, '_> {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.core
    }
}

impl<'a, 'f> Planner<'a, 'f> {
    /// A planner for `config`, refused when nixcross cannot edit it.
    pub fn new(flake: &'a Flake<'f>, config: &'a Config) -> Result<Self> {
        Planner::with(flake, config, PkgsOptionUse::Refuse)
    }

    /// A planner for `config`, refused when nixcross cannot edit it;
    /// `pkgs` says whether a `nixpkgs.pkgs` definition refuses it.
    pub fn with(flake: &'a Flake<'f>, config: &'a Config, pkgs: PkgsOptionUse) -> Result<Self> {
        if let Some(why) = edit_blocker(flake, config, pkgs) {
            let mut e = Error::refused(format!("cannot edit `{}`: {why}", config.name));
            let at = match &config.status {
                crate::flake::Status::NotFollowed { at: Some(at), .. } => Some(at),
                _ => config.at.as_ref(),
            };
            if let Some(at) = at {
                e = e.at(at.range());
                let s = flake.ev.sources.get(at.file);
                e = e.in_file(&s.path, &s.text);
            }
            return Err(e);
        }
        let sys = config
            .system()
            .expect("an editable configuration is followed");
        Ok(Planner {
            flake,
            config,
            sys,
            core: Edits::new(&flake.ev.sources, Subject::Config(config.name.clone())),
            prove: true,
        })
    }

    /// Refuse an edit of `range` in `file` when another configuration uses
    /// that text too.
    pub fn guard(&self, file: FileId, range: (usize, usize), what: &str) -> Result<()> {
        let s = self.flake.ev.sources.get(file);
        if s.generated {
            return Err(Error::shared(format!(
                "{what} is in {}, which a tool writes (nixos-generate-config); nixcross leaves that file alone",
                s.path
            ))
            .at(range)
            .in_file(&s.path, &s.text)
            .hint("give this configuration its own setting in its own module (nixcross does, where it can)"));
        }
        let users = self.flake.users_of(file, range, &self.config.name);
        if users.is_empty() {
            return Ok(());
        }
        Err(Error::shared(format!(
            "{what} is also used by {}; changing it would change {} too",
            list_names(&users),
            if users.len() == 1 { "it" } else { "them" }
        ))
        .at(range)
        .in_file(&s.path, &s.text)
        .hint("give this configuration its own setting (e.g. in its own module), or edit by hand"))
    }

    /// Whether an edit of `range` in `file` changes only this configuration
    /// (and the file is not one a tool writes).
    pub fn private(&self, file: FileId, range: (usize, usize)) -> bool {
        !self.flake.ev.sources.get(file).generated
            && self
                .flake
                .users_of(file, range, &self.config.name)
                .is_empty()
    }

    /// Replace a string literal with `value` (quoted). Guarded; a literal
    /// already replaced, or already equal, is left alone.
    pub fn replace_literal(&mut self, lit: &Src, value: &str, reason: &str) -> Result<()> {
        if lit.node.string_literal().as_deref() == Some(value) {
            return Ok(());
        }
        if !self.core.mark_replaced(lit) {
            return Ok(());
        }
        if !self.private(lit.file, lit.range()) {
            // A helper's default: this configuration's own call gives the
            // value instead.
            if let Some(ch) = self.param_channel(lit) {
                return self.set_call_arg(&ch, &syntax::quote(value), reason);
            }
        }
        self.guard(lit.file, lit.range(), "the value")?;
        self.push(
            lit.file,
            TextEdit::replace(lit.range(), syntax::quote(value)),
            reason,
        );
        Ok(())
    }

    /// Replace an expression with generated text (at column 0, two-space
    /// steps), re-indented at the node's line. Guarded.
    pub fn replace_node(&mut self, at: &Src, text: &str, reason: &str) -> Result<()> {
        if at.node.text() == text {
            return Ok(());
        }
        self.guard(at.file, at.range(), "the value")?;
        let src = self.text(at.file);
        let layout = self.layout(at.file);
        let base = syntax::indent_at(src, at.node.start()).to_string();
        let t = syntax::reindent(text, &base, &layout.unit, layout.nl);
        self.core.mark_replaced(at);
        self.push(at.file, TextEdit::replace(at.range(), t), reason);
        Ok(())
    }

    /// The module expression that holds `site`, when it is one of this
    /// configuration's modules.
    fn module_of(&self, site: &Src) -> Option<usize> {
        // An inline module is inside a file (maybe a module file's
        // `imports`): it comes first.
        let inline = self.sys.modules.iter().position(|m| match &m.origin {
            ModuleOrigin::Inline(s) => s.contains(site.file, site.range()),
            _ => false,
        });
        inline.or_else(|| {
            self.sys
                .modules
                .iter()
                .position(|m| matches!(&m.origin, ModuleOrigin::File(f) if *f == site.file))
        })
    }

    /// Remove the binding `site` (with its comments), and the sets it
    /// leaves empty; an inline module left empty goes from the modules list.
    pub fn remove_binding(&mut self, site: &Src, reason: &str) -> Result<()> {
        self.guard(site.file, site.range(), "the setting")?;
        let src = self.text(site.file);
        // The chain of sets from the module body down to the binding.
        let module = self.module_of(site);
        let body = module
            .and_then(|i| self.sys.modules[i].expr.as_ref())
            .and_then(|e| module::module_body(&e.node));
        let mut chain: Vec<(syntax::AttrSetView, Node)> = Vec::new();
        let mut cur = site.node.clone();
        loop {
            let Some(set) = cur.parent_set() else { break };
            chain.push((set.clone(), cur.clone()));
            let stop = body.as_ref().is_some_and(|b| b.set.node == set.node);
            if stop {
                break;
            }
            // Step out of the set to the binding that holds it.
            let Some(holder) = set.node.holding_entry() else {
                break;
            };
            // Only through plain `key = { ... };` bindings.
            match holder.as_entry() {
                Some(Entry::Binding(b)) if b.value.unparen() == set.node => cur = holder,
                _ => break,
            }
        }
        // Climb while the set would be left empty.
        let mut level = 0;
        while level + 1 < chain.len() && chain[level].0.entries.len() == 1 {
            level += 1;
        }
        let (set, entry) = &chain[level];
        let module_empty =
            body.as_ref().is_some_and(|b| b.set.node == set.node) && set.entries.len() == 1;
        if module_empty {
            if let Some(i) = module {
                if self.remove_inline_modules(&[i], reason)? == 1 {
                    return Ok(());
                }
            }
        }
        let e = module::remove_entry(src, set, entry.range());
        self.push(site.file, e, reason);
        Ok(())
    }

    /// The literal list an inline module is an item of, and that item (the
    /// module, maybe in parentheses).
    pub fn list_item_of(&self, index: usize) -> Option<(FileId, syntax::ListView, Node)> {
        let ModuleOrigin::Inline(at) = &self.sys.modules[index].origin else {
            return None;
        };
        let mut item = at.node.clone();
        loop {
            let parent = item.parent()?;
            if parent.kind() == syntax::Kind::Paren {
                item = parent;
                continue;
            }
            return parent.list().map(|l| (at.file, l, item));
        }
    }

    /// The inline module, an item of a literal list, whose only definition
    /// is the binding `site`
    /// (maybe nested: `_module = { args.x = ...; };`).
    pub fn inline_module_holding_only(&self, site: &Src) -> Option<usize> {
        let i = self.module_of(site)?;
        let m = &self.sys.modules[i];
        if !matches!(m.origin, ModuleOrigin::Inline(_)) {
            return None;
        }
        let body = module::module_body(&m.expr.as_ref()?.node)?;
        let (r, at) = (body.set.entries.first()?.range(), site.range());
        let only = body.set.entries.len() == 1 && r.0 <= at.0 && at.1 <= r.1;
        (only && self.list_item_of(i).is_some()).then_some(i)
    }

    /// Take the inline modules `indices` out of the literal lists that hold
    /// them (the modules list, or an `imports` list, whose binding goes
    /// when they were all its items). A module that is not an item of a
    /// literal list is left alone; the result is how many were taken out.
    pub fn remove_inline_modules(&mut self, indices: &[usize], reason: &str) -> Result<usize> {
        // Group the items by the list that holds them.
        let mut lists: Vec<(FileId, syntax::ListView, Vec<Node>)> = Vec::new();
        for &index in indices {
            let Some((file, list, item)) = self.list_item_of(index) else {
                continue;
            };
            match lists
                .iter_mut()
                .find(|(f, l, _)| *f == file && l.node == list.node)
            {
                Some((_, _, items)) => {
                    if !items.contains(&item) {
                        items.push(item)
                    }
                }
                None => lists.push((file, list, vec![item])),
            }
        }
        let mut removed = 0;
        for (file, list, items) in lists {
            removed += items.len();
            self.guard(file, list.node.range(), "the modules list")?;
            let src = self.text(file);
            if items.len() == list.items.len() {
                let holder = list.node.holding_entry();
                if let Some(Entry::Binding(b)) = holder.as_ref().and_then(|h| h.as_entry()) {
                    let imports = b.path.as_deref().is_some_and(|p| p == ["imports"]);
                    if let (true, Some(set)) =
                        (imports, holder.as_ref().and_then(|h| h.parent_set()))
                    {
                        let e = module::remove_entry(src, &set, b.range);
                        self.push(file, e, reason);
                        continue;
                    }
                }
            }
            // Neighbouring items go as one span (their edits must not touch).
            let mut order: Vec<usize> = items
                .iter()
                .filter_map(|it| list.items.iter().position(|x| x == it))
                .collect();
            order.sort_unstable();
            let mut run_start = 0;
            while run_start < order.len() {
                let mut run_end = run_start;
                while run_end + 1 < order.len() && order[run_end + 1] == order[run_end] + 1 {
                    run_end += 1;
                }
                let first = &list.items[order[run_start]];
                let last = &list.items[order[run_end]];
                let e = if run_start == run_end {
                    module::remove_item(src, &list, first)
                } else {
                    module::remove_items_span(src, &list, first, last)
                };
                self.push(file, e, reason);
                run_start = run_end + 1;
            }
        }
        Ok(removed)
    }

    /// Insert `key = value;` right after the binding `site`, in its set.
    /// `key` is written as given (dotted or not).
    pub fn insert_after(&mut self, site: &Src, key: &str, value: &str, reason: &str) -> Result<()> {
        self.guard(site.file, site.range(), "the module")?;
        let Some(set) = site.node.parent_set() else {
            return Err(self.error_at(Error::internal("a binding outside a set"), site));
        };
        let Some(index) = set.entries.iter().position(|e| match e {
            Entry::Binding(b) => b.node == site.node,
            Entry::Inherit(i) => i.node == site.node,
        }) else {
            return Err(self.error_at(Error::internal("a binding not in its set"), site));
        };
        let src = self.text(site.file);
        let e = module::insert_after(
            src,
            self.layout(site.file),
            &set,
            index,
            &format!("{key} = {value};"),
        );
        self.push(site.file, e, reason);
        Ok(())
    }

    /// Where new definitions go (see the module docs), or why nowhere.
    pub fn home(&self) -> Result<Home> {
        let top = |i: &usize| self.sys.modules[*i].imported_from.is_none();
        let inline: Vec<usize> = (0..self.sys.modules.len())
            .filter(top)
            .filter(|i| matches!(self.sys.modules[*i].origin, ModuleOrigin::Inline(_)))
            .collect();
        let body_of = |i: usize| -> Option<(FileId, ModuleBody)> {
            let e = self.sys.modules[i].expr.as_ref()?;
            let b = module::module_body(&e.node)?;
            self.private(e.file, e.range()).then_some((e.file, b))
        };
        // An inline module that already sets something under `nixpkgs`, else
        // the first inline module.
        let mut best: Option<(usize, FileId, ModuleBody)> = None;
        for &i in &inline {
            let Some((file, body)) = body_of(i) else {
                continue;
            };
            let has_nixpkgs = !module::find_option(&body.set, &["nixpkgs"]).0.is_empty()
                || !module::find_option(&body.set, &["config", "nixpkgs"])
                    .0
                    .is_empty();
            if has_nixpkgs {
                best = Some((i, file, body));
                break;
            }
            if best.is_none() {
                best = Some((i, file, body));
            }
        }
        if let Some((index, file, body)) = best {
            return Ok(Home::Module {
                full: self.sys.modules[index].full,
                index,
                file,
                body,
            });
        }
        if self.own_list().is_some() {
            return Ok(Home::NewInline);
        }
        if let Some(home) = self.own_file_module() {
            return Ok(home);
        }
        let mut e = Error::refused(format!(
            "`{}` has no module of its own to put the setting in: its modules list and modules are shared with other configurations",
            self.config.name
        ))
        .hint("give the configuration a module of its own (e.g. ./hosts/<name>.nix), then run nixcross again");
        if let Some(at) = &self.config.at {
            e = self.error_at(e, at);
        }
        Err(e)
    }

    /// The first module file the configuration loads from its modules list
    /// that no other configuration uses, written inline in that file (not
    /// an `import` or a variable).
    pub fn own_file_module(&self) -> Option<Home> {
        self.sys.modules.iter().enumerate().find_map(|(i, m)| {
            if m.imported_from.is_some() || !matches!(m.origin, ModuleOrigin::File(_)) {
                return None;
            }
            let e = m.expr.as_ref()?;
            let body = module::module_body(&e.node)?;
            self.private(e.file, e.range()).then_some(Home::Module {
                full: m.full,
                index: i,
                file: e.file,
                body,
            })
        })
    }

    /// Insert `path = value;` (`path` under `nixpkgs`, e.g.
    /// `["nixpkgs", "crossSystem"]`) into the home module, or into a new
    /// inline module with `comment` above it.
    pub fn insert_option(
        &mut self,
        path: &[&str],
        value: &str,
        comment: &str,
        reason: &str,
    ) -> Result<()> {
        match self.home()? {
            Home::Module {
                file, body, full, ..
            } => {
                let mut p: Vec<&str> = Vec::new();
                if full {
                    p.push("config");
                }
                p.extend(path);
                let src = self.text(file);
                let e = module::insert_at_path(src, self.layout(file), &body.set, &p, value);
                self.push(file, e, reason);
                Ok(())
            }
            Home::NewInline => {
                let line = format!("{} = {};", path.join("."), indent_tail(value));
                if let Some(mut n) = self.core.new_inline.take() {
                    // The module this plan adds already: the option joins it.
                    n.lines.push(line);
                    let e = self.new_inline_edit(&n)?;
                    let Some(slot) = self
                        .core
                        .files
                        .get_mut(&n.list.file)
                        .and_then(|f| f.0.get_mut(n.edit))
                        .filter(|x| x.range == e.range)
                    else {
                        return Err(Error::internal("the planned module is gone"));
                    };
                    *slot = e;
                    if let Some(entry) = self.core.files.get_mut(&n.list.file) {
                        if !entry.1.iter().any(|r| r == reason) {
                            entry.1.push(reason.to_string());
                        }
                    }
                    self.core.new_inline = Some(n);
                    return Ok(());
                }
                let ModuleSlot::List(list) = self.module_slot()? else {
                    let text = format!("{{\n  {line}\n}}");
                    return self.add_module(comment, &text, reason);
                };
                self.guard(list.file, list.range(), "the modules list")?;
                let n = NewInline {
                    list: list.clone(),
                    edit: 0,
                    comment: comment.to_string(),
                    lines: vec![line],
                };
                let e = self.new_inline_edit(&n)?;
                let (range, insert) = (e.range, e.insert.clone());
                self.push(list.file, e, reason);
                // Remembered unless `push` joined it to another step's edit.
                let edit = self.core.files[&list.file]
                    .0
                    .iter()
                    .rposition(|x| x.range == range && x.insert == insert);
                self.core.new_inline = edit.map(|edit| NewInline { edit, ..n });
                Ok(())
            }
        }
    }

    /// The edit that adds the module `n` describes as the first item of its
    /// list.
    fn new_inline_edit(&self, n: &NewInline) -> Result<TextEdit> {
        let Some(lv) = n.list.node.list() else {
            return Err(Error::internal("the modules list is not a list"));
        };
        let text = format!("{{\n  {}\n}}", n.lines.join("\n  "));
        let src = self.text(n.list.file);
        Ok(insert_list_first(
            src,
            self.layout(n.list.file),
            &lv,
            &n.comment,
            &text,
        ))
    }

    /// A literal list of modules only this configuration loads: its
    /// modules list, or a list its `modules` expression appends from
    /// elsewhere (a host's own `extraModules = [ ];`).
    fn own_list(&self) -> Option<Src> {
        self.sys
            .modules_list
            .iter()
            .chain(&self.sys.appended_lists)
            .find(|l| self.private(l.file, l.range()))
            .cloned()
    }

    /// Where a new inline module can go: a literal list of modules of its
    /// own ([`Planner::own_list`]), else the `imports` of its own module
    /// file (see [`Planner::own_file_module`]).
    pub fn module_slot(&self) -> Result<ModuleSlot> {
        if let Some(list) = self.own_list() {
            return Ok(ModuleSlot::List(list));
        }
        if let Some(Home::Module { file, body, .. }) = self.own_file_module() {
            let (hits, opaque) = module::find_option(&body.set, &["imports"]);
            match (hits.as_slice(), opaque.is_empty()) {
                ([], true) => return Ok(ModuleSlot::NewImports { file, body }),
                ([hit], true) if hit.rest.is_empty() => {
                    if let Some(l) = hit.value.unparen().list() {
                        return Ok(ModuleSlot::List(Src::new(file, l.node)));
                    }
                }
                _ => {}
            }
        }
        let why = match &self.sys.modules_list {
            Some(_) => "the modules list is shared with other configurations",
            None => "`modules` is not a literal list",
        };
        let e = Error::refused(format!(
            "{why}, and `{}` has no module file of its own with a literal `imports` list, so nixcross cannot add a module to it",
            self.config.name
        ))
        .hint("give the configuration a module of its own (e.g. ./hosts/<name>.nix), then run nixcross again");
        let at = self.sys.modules_binding.clone().or(self.sys.args.clone());
        Err(match at {
            Some(at) => self.error_at(e, &at),
            None => e,
        })
    }

    /// Add a new inline module (generated text at column 0), with `comment`
    /// above it, as the first item of the list [`Planner::module_slot`]
    /// chooses.
    pub fn add_module(&mut self, comment: &str, module_text: &str, reason: &str) -> Result<()> {
        match self.module_slot()? {
            ModuleSlot::List(list) => {
                self.guard(list.file, list.range(), "the modules list")?;
                let Some(lv) = list.node.list() else {
                    return Err(Error::internal("the modules list is not a list"));
                };
                let src = self.text(list.file);
                let e = insert_list_first(src, self.layout(list.file), &lv, comment, module_text);
                self.push(list.file, e, reason);
                Ok(())
            }
            ModuleSlot::NewImports { file, body } => {
                self.add_imports(file, &body, comment, module_text, reason)
            }
        }
    }

    /// `imports = [ <module> ];` in a module file that has no `imports`;
    /// a second module for the same file joins that list.
    fn add_imports(
        &mut self,
        file: FileId,
        body: &ModuleBody,
        comment: &str,
        module_text: &str,
        reason: &str,
    ) -> Result<()> {
        let layout = self.layout(file);
        if let Some(index) = self.new_imports.get(&file).map(|n| n.edit) {
            let Some(edit) = self.files.get_mut(&file).and_then(|f| f.0.get_mut(index)) else {
                return Err(Error::internal("the planned imports list is gone"));
            };
            if !append_to_imports(
                &mut edit.insert,
                comment,
                module_text,
                &layout.unit,
                layout.nl,
            ) {
                return Err(Error::internal("the planned imports list cannot be found"));
            }
            if let Some(entry) = self.files.get_mut(&file) {
                if !entry.1.iter().any(|r| r == reason) {
                    entry.1.push(reason.to_string());
                }
            }
            return Ok(());
        }
        let value = format!("[\n  # {comment}\n  {}\n]", indent_tail(module_text));
        let src = self.text(file);
        let e = module::insert_at_path(src, layout, &body.set, &["imports"], &value);
        let range = e.range;
        self.push(file, e, reason);
        let edit = self.files[&file]
            .0
            .iter()
            .position(|x| x.range == range)
            .expect("just pushed");
        self.new_imports.insert(file, NewImports { edit });
        Ok(())
    }

    /// Add a new inline module after the last inline module of the list
    /// [`Planner::module_slot`] chooses, in the list's layout (set off by a
    /// blank line when the items are); with no inline module, first in the
    /// list.
    pub fn add_module_after_inline(
        &mut self,
        comment: &str,
        module_text: &str,
        reason: &str,
    ) -> Result<()> {
        let list = match self.module_slot()? {
            ModuleSlot::List(list) => list,
            ModuleSlot::NewImports { file, body } => {
                return self.add_imports(file, &body, comment, module_text, reason)
            }
        };
        let anchor = self
            .sys
            .modules
            .iter()
            .filter_map(|m| match &m.origin {
                ModuleOrigin::Inline(src) if list.contains(src.file, src.range()) => {
                    Some(src.clone())
                }
                _ => None,
            })
            .rfind(|src| {
                // An item of this list, not a module nested deeper in one.
                list.node
                    .list()
                    .is_some_and(|lv| lv.items.iter().any(|i| i.unparen() == src.node.unparen()))
            });
        let Some(anchor) = anchor else {
            return self.add_module(comment, module_text, reason);
        };
        self.guard(list.file, list.range(), "the modules list")?;
        let Some(lv) = list.node.list() else {
            return Err(Error::internal("the modules list is not a list"));
        };
        // The list item that holds the anchor (it may be in parentheses).
        let item = lv
            .items
            .iter()
            .find(|i| i.contains(&anchor.node))
            .cloned()
            .unwrap_or(anchor.node.clone());
        let src = self.text(list.file);
        let layout = self.layout(list.file);
        let single = !src[lv.open..lv.close].contains('\n');
        if single || !syntax::starts_line(src, item.start()) {
            self.push(
                list.file,
                TextEdit::insert(item.end(), format!(" {}", compact(module_text))),
                reason,
            );
            return Ok(());
        }
        let nl = layout.nl;
        let base = syntax::indent_at(src, item.start()).to_string();
        let at = syntax::after_trailing_comment(src, item.end());
        let commented = syntax::leading_comments_start(src, item.start())
            < syntax::line_start(src, item.start());
        let blank_after = syntax::is_blank_line(src, syntax::next_line_start(src, at));
        let sep = if commented || blank_after { nl } else { "" };
        let body = syntax::reindent(module_text, &base, &layout.unit, nl);
        self.push(
            list.file,
            TextEdit::insert(at, format!("{nl}{sep}{base}# {comment}{nl}{base}{body}")),
            reason,
        );
        Ok(())
    }

    /// Insert `key = value;` (generated at column 0) into nixosSystem's
    /// arguments, just before `modules` when that starts a line of its own.
    pub fn insert_arg_before_modules(
        &mut self,
        key: &str,
        value: &str,
        reason: &str,
    ) -> Result<()> {
        let Some(args) = self.sys.args.clone() else {
            return Err(Error::refused(
                "nixosSystem's arguments are not a literal attribute set",
            ));
        };
        self.guard(args.file, args.range(), "nixosSystem's arguments")?;
        let set = args
            .node
            .attrset()
            .ok_or_else(|| Error::internal("arguments are not a set"))?;
        let src = self.text(args.file);
        let layout = self.layout(args.file);
        let entry = format!("{key} = {value};");
        let single = !src[set.open..set.close].contains('\n');
        let modules = self
            .sys
            .modules_binding
            .as_ref()
            .filter(|m| m.file == args.file && set.node.contains(&m.node))
            .map(|m| m.range())
            .filter(|r| !single && syntax::starts_line(src, r.0));
        let e = match modules {
            Some((start, _)) => {
                let base = syntax::indent_at(src, start).to_string();
                let at = syntax::leading_comments_start(src, start);
                let text = syntax::reindent(&entry, &base, &layout.unit, layout.nl);
                TextEdit::insert(at, format!("{base}{text}{}", layout.nl))
            }
            None => module::insert_entry(src, layout, &set, &entry, module::Position::Last),
        };
        self.push(args.file, e, reason);
        Ok(())
    }

    /// Add a binding (generated at column 0) to the `let` around the outputs
    /// body: appended to the innermost existing `let`, or in a new
    /// `let ... in` written before the body, as `outputs = { ... }: let ... in {`.
    pub fn insert_outputs_let(&mut self, comment: &str, binding: &str, reason: &str) -> Result<()> {
        let Some(body) = self.flake.outputs_body.clone() else {
            return Err(Error::refused(
                "`outputs` is not a function, so nixcross cannot put a `let` around its body",
            ));
        };
        let file = body.file;
        let src = self.text(file);
        let layout = self.layout(file);
        let (lets, _) = body.node.let_layers();
        if let Some(l) = lets.last() {
            // A `let` reads like a set whose braces are `let` and `in`.
            let set = syntax::AttrSetView {
                node: l.node.clone(),
                rec: false,
                entries: l.entries.clone(),
                open: l.let_kw + 2,
                close: l.in_kw,
            };
            let e = module::insert_entry(src, layout, &set, binding, module::Position::Last);
            self.push(file, e, reason);
            return Ok(());
        }
        let nl = layout.nl;
        if !body.node.text().contains('\n') {
            // A one-line body gets a one-line `let`.
            self.push(
                file,
                TextEdit::insert(body.node.start(), format!("let {} in ", compact(binding))),
                reason,
            );
            return Ok(());
        }
        let base = syntax::indent_at(src, body.node.start()).to_string();
        let inner = format!("{base}{}", layout.unit);
        let text = syntax::reindent(binding, &inner, &layout.unit, nl);
        let comment = if comment.is_empty() {
            String::new()
        } else {
            format!("{inner}# {comment}{nl}")
        };
        self.push(
            file,
            TextEdit::insert(
                body.node.start(),
                format!("let{nl}{comment}{inner}{text}{nl}{base}in "),
            ),
            reason,
        );
        Ok(())
    }

    /// Whether a binding `name` in the `let` layers around the outputs body
    /// (one there now, or one [`Planner::insert_outputs_let`] adds) is what
    /// `name` means at `at`: `at` is in `flake.nix`, inside those layers'
    /// body, and nothing in between binds `name`. (The configuration's
    /// arguments may be written in another file that the outputs import.)
    pub fn outputs_let_reaches(&self, at: &Src, name: &str) -> bool {
        let Some(body) = self.flake.outputs_body.as_ref() else {
            return false;
        };
        if body.file != at.file {
            return false;
        }
        let (lets, inner) = body.node.let_layers();
        let inside = inner.start() <= at.node.start() && at.node.end() <= inner.end();
        inside
            && at
                .node
                .binder(name)
                .is_none_or(|b| lets.iter().any(|l| l.node == b))
    }

    /// The names bound in the `let` layers around the outputs body.
    pub fn outputs_let_binding(&self, name: &str) -> Option<Node> {
        let body = self.flake.outputs_body.as_ref()?;
        let mut found = None;
        for l in body.node.let_layers().0 {
            for e in &l.entries {
                if let Entry::Binding(b) = e {
                    if b.path.as_deref() == Some(&[name.to_string()][..]) {
                        found = Some(b.value.clone());
                    }
                } else if e.defines(name) {
                    found = Some(l.node.clone());
                }
            }
        }
        found
    }

    /// The expression that reaches nixpkgs' `lib` where the configuration's
    /// call is written: `nixpkgs.lib` for `nixpkgs.lib.nixosSystem`.
    pub fn call_lib(&self) -> String {
        let func = self
            .sys
            .call
            .as_ref()
            .and_then(|c| c.node.apply())
            .and_then(|(f, _)| f.reference());
        match func {
            Some(r) if r.len() >= 2 && r[r.len() - 2] == "lib" => r[..r.len() - 1].join("."),
            _ => format!("{}.lib", self.sys.input),
        }
    }

    /// The `lib` expression usable in the home module: the call's lib in an
    /// inline module of the flake, `lib` in a file module that takes it.
    pub fn lib_in(&self, home: &Home) -> Option<String> {
        match home {
            Home::NewInline => Some(self.call_lib()),
            Home::Module {
                index, file, body, ..
            } => {
                if *file == self.flake.file
                    && matches!(self.sys.modules[*index].origin, ModuleOrigin::Inline(_))
                {
                    return Some(self.call_lib());
                }
                match &body.formals {
                    Some(syntax::Param::Pattern { formals, .. })
                        if formals.iter().any(|f| f.name == "lib") =>
                    {
                        Some("lib".into())
                    }
                    _ => None,
                }
            }
        }
    }

    /// The planned edits, not yet applied, with the prover whose baseline
    /// is the flake as this planner read it.
    pub fn finish(mut self, summary: String) -> Plan {
        if self.prove && self.core.prover.is_none() && !self.core.is_empty() {
            self.core.prover = Some(crate::proof::FlakeProver::of(self.flake));
        }
        self.core.finish(summary)
    }
}

/// Insert a new first item (with a comment line above it) into a list, in
/// the list's layout. In a multi-line list whose items are separated by blank
/// lines or comments, the new item is set off by blank lines too.
pub(crate) fn insert_list_first(
    src: &str,
    layout: &Layout,
    list: &syntax::ListView,
    comment: &str,
    item: &str,
) -> TextEdit {
    let nl = layout.nl;
    let single = !src[list.open..list.close].contains('\n');
    if single && !list.items.is_empty() {
        return TextEdit::insert(list.items[0].start(), format!("{} ", compact(item)));
    }
    let list_indent = syntax::indent_at(src, list.open).to_string();
    if single {
        // `[ ]`: open it up.
        let base = format!("{list_indent}{}", layout.unit);
        let body = syntax::reindent(item, &base, &layout.unit, nl);
        return module::fill_empty(
            src,
            list.open,
            list.close,
            format!("{nl}{base}# {comment}{nl}{base}{body}{nl}{list_indent}"),
        );
    }
    let at = syntax::next_line_start(src, syntax::after_trailing_comment(src, list.open + 1));
    // The indentation of the first thing in the list, or one level in.
    let mut p = at;
    let mut base = None;
    let mut spaced = false;
    while p < list.close {
        if syntax::is_blank_line(src, p) {
            spaced = true;
            p = syntax::next_line_start(src, p);
            continue;
        }
        base = Some(syntax::indent_at(src, p).to_string());
        if src[p..].trim_start().starts_with('#') {
            spaced = true;
        }
        break;
    }
    let has_content = p < list.close && syntax::line_start(src, list.close) > p;
    let base = base
        .filter(|_| has_content)
        .unwrap_or_else(|| format!("{}{}", syntax::indent_at(src, list.close), layout.unit));
    let body = syntax::reindent(item, &base, &layout.unit, nl);
    let block = format!("{base}# {comment}{nl}{base}{body}{nl}");
    if has_content && spaced {
        // Set off from the items below by a blank line, as they are from
        // each other (the list's first line needs none above).
        TextEdit::insert(at, format!("{block}{nl}"))
    } else {
        TextEdit::insert(at, block)
    }
}

/// Group definitions of one option by priority: the winners.
pub(crate) fn winners<'d>(
    defs: impl Iterator<Item = &'d crate::flake::Definition>,
) -> Vec<&'d crate::flake::Definition> {
    let all: Vec<&crate::flake::Definition> = defs.filter(|d| d.condition.is_none()).collect();
    let best = all.iter().map(|d| d.priority).min();
    all.into_iter()
        .filter(|d| Some(d.priority) == best)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compact_joins_generated_text() {
        assert_eq!(
            compact("{\n  # c\n  nixpkgs.crossSystem = {\n    system = \"x\";\n  };\n}"),
            "{ nixpkgs.crossSystem = { system = \"x\"; }; }"
        );
        assert_eq!(
            list_names(&["a".into(), "b".into(), "c".into()]),
            "`a`, `b` and `c`"
        );
    }
}
