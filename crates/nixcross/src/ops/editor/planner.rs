//! A flake configuration's planner: [`Edits`] with the guards that keep
//! other configurations' text unchanged, and the edits of the flake's own
//! text (bindings, inline modules, nixosSystem's arguments, the outputs'
//! `let`).

use crate::edit::{Plan, Subject, TextEdit};
use crate::error::{Error, Result};
use crate::flake::{Config, Flake, ModuleOrigin, SystemCall};
use crate::module::{self};
use crate::source::{FileId, Src};
use crate::syntax::{self, list_names, Entry, Layout, Node};

use super::{compact, edit_blocker, Edits, Home, PkgsOptionUse};

/// Plans guarded edits to one configuration of a flake.
pub(crate) struct Planner<'a, 'f> {
    pub flake: &'a Flake<'f>,
    pub config: &'a Config,
    pub sys: &'a SystemCall,
    pub core: Edits<'a>,
    /// Whether the plan gets a prover (false for a plan never applied).
    pub prove: bool,
}

/// What a planner does through its [`Edits`] (the planning core), said
/// here rather than through `Deref`, so that a reader sees which of the
/// core's operations a configuration's plan uses.
impl<'a> Planner<'a, '_> {
    /// The text of `file`, as read.
    pub fn text(&self, file: FileId) -> &'a str {
        self.core.text(file)
    }

    /// The layout (indentation unit, line ending) of `file`.
    pub fn layout(&self, file: FileId) -> &'a Layout {
        self.core.layout(file)
    }

    /// `err`, located at `src`.
    pub fn error_at(&self, err: Error, src: &Src) -> Error {
        self.core.error_at(err, src)
    }

    /// Add an edit of `file` (see [`Edits::push`]).
    pub fn push(&mut self, file: FileId, edit: TextEdit, reason: &str) {
        self.core.push(file, edit, reason);
    }

    /// Say what the plan establishes (see [`Edits::claim`]).
    pub fn claim(&mut self, claim: crate::edit::Claim) {
        self.core.claim(claim);
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
}

impl<'a, 'f> Planner<'a, 'f> {
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
