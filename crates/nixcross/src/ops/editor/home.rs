//! Where a configuration's new definitions and modules go: its own
//! module ([`Home`]), else a new inline module in a list of modules of its
//! own, else the `imports` of its own module file ([`ModuleSlot`]).

use crate::edit::TextEdit;
use crate::error::{Error, Result};
use crate::flake::ModuleOrigin;
use crate::module::{self, ModuleBody};
use crate::source::{FileId, Src};
use crate::syntax::{self, Layout};

use super::{compact, indent_tail, Planner};

/// Where new definitions of a configuration go.
pub(crate) enum Home {
    /// A module it already loads, which only it loads.
    Module {
        /// Index in [`SystemCall::modules`](crate::flake::SystemCall::modules).
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

/// The new inline module this plan writes into a modules list for
/// [`Planner::insert_option`]: its edit, so that the next option joins it
/// instead of becoming a second module.
#[derive(Clone)]
pub(super) struct NewInline {
    pub(super) list: Src,
    pub(super) edit: usize,
    pub(super) comment: String,
    /// Its definitions, one `key = value;` each.
    pub(super) lines: Vec<String>,
}

/// An `imports = [ ... ];` this plan writes into a module file: the index of
/// its edit, so that a second module for the same file joins the list
/// instead of writing a second `imports`.
#[derive(Clone)]
pub(super) struct NewImports {
    pub(super) edit: usize,
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

impl<'a, 'f> Planner<'a, 'f> {
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
        if let Some(index) = self.core.new_imports.get(&file).map(|n| n.edit) {
            let Some(edit) = self
                .core
                .files
                .get_mut(&file)
                .and_then(|f| f.0.get_mut(index))
            else {
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
            if let Some(entry) = self.core.files.get_mut(&file) {
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
        let edit = self.core.files[&file]
            .0
            .iter()
            .position(|x| x.range == range)
            .expect("just pushed");
        self.core.new_imports.insert(file, NewImports { edit });
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
