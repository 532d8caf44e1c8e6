//! The editor behind the operations that change one configuration of a
//! flake: guarded edits (nothing shared with other configurations changes),
//! options inserted into inline modules, new modules in the modules list.

use crate::edit::TextEdit;
use crate::error::{Error, Result};
use crate::flake_old::{self as flake, Call, Config, Flake};
use crate::module::{self, ModuleBody, Position};
use crate::syntax::Layout;
use crate::ops::{EditOutcome, Plan};
use crate::syntax::{self, ListView, Node};

/// Plans guarded edits to one configuration of a flake.
pub(crate) struct Planner<'a> {
    pub src: &'a str,
    pub style: Layout,
    pub flake: &'a Flake,
    pub config: &'a Config,
    pub call: &'a Call,
    pub edits: Vec<TextEdit>,
    pub warnings: Vec<String>,
}

/// One-line form of generated text: comment lines dropped, lines joined.
pub(crate) fn compact(text: &str) -> String {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect::<Vec<_>>()
        .join(" ")
}

impl<'a> Planner<'a> {
    pub fn new(src: &'a str, flake: &'a Flake, config: &'a Config, call: &'a Call) -> Self {
        Planner {
            src,
            style: Layout::of(src),
            flake,
            config,
            call,
            edits: Vec::new(),
            warnings: Vec::new(),
        }
    }

    /// The planned edits, not yet applied.
    pub fn into_plan(self, summary: String) -> Plan {
        Plan {
            edits: self.edits,
            summary,
            warnings: self.warnings,
        }
    }

    /// Apply the planned edits once and re-parse the result.
    pub fn finish(self, summary: String) -> Result<EditOutcome> {
        let src = self.src;
        self.into_plan(summary).apply(src)
    }

    pub fn inside_config(&self, range: (usize, usize)) -> bool {
        let (s, e) = self.config.expr.range();
        s <= range.0 && range.1 <= e
    }

    /// Edits outside the configuration's own expression are allowed only
    /// when nothing else shares that text.
    pub fn guard_shared(&self, range: (usize, usize), what: &str) -> Result<()> {
        if self.inside_config(range) {
            return Ok(());
        }
        if let Some((name, uses)) = &self.call.helper {
            if *uses > 1 {
                return Err(Error::refused(format!(
                    "{what} is in the helper `{name}`, which builds {uses} configurations; editing it would change all of them"
                ))
                .at(range)
                .hint("give this configuration its own nixosSystem call, or edit the helper by hand"));
            }
        }
        Ok(())
    }

    pub fn push(&mut self, e: TextEdit) {
        self.edits.push(e);
    }

    pub fn replace_literal(&mut self, literal: &Node, value: &str) -> Result<()> {
        if literal.string_literal().as_deref() == Some(value) {
            return Ok(());
        }
        self.push(TextEdit::replace(literal.range(), syntax::quote(value)));
        Ok(())
    }

    /// Replace `node` with generated text, re-indented at the node's line.
    pub fn replace_generated(&mut self, node: &Node, text: &str) {
        let base = syntax::indent_at(self.src, node.start()).to_string();
        let t = syntax::reindent(text, &base, &self.style.unit, self.style.nl);
        self.push(TextEdit::replace(node.range(), t));
    }

    /// The inline module that already sets something under `nixpkgs`.
    pub fn nixpkgs_module(&self) -> Option<&'a ModuleBody> {
        self.call
            .inline_modules
            .iter()
            .find(|m| !module::find_option(&m.set, &["nixpkgs"]).0.is_empty())
    }

    /// Insert `nixpkgs.<option> = value;` into `m`, inside an existing
    /// `nixpkgs = { ... };` set when there is one.
    pub fn insert_option(&mut self, m: &ModuleBody, option: &str, value: &str) -> Result<()> {
        self.guard_shared(m.set.node.range(), "the module")?;
        let (hits, _) = module::find_option(&m.set, &["nixpkgs"]);
        let nested = hits.iter().find_map(|h| {
            if h.rest.is_empty() {
                h.value.unparen().attrset().filter(|s| !s.rec)
            } else {
                None
            }
        });
        let e = match nested {
            Some(set) => {
                module::insert_binding(self.src, &self.style, &set, option, value, Position::Last)
            }
            None => module::insert_binding(
                self.src,
                &self.style,
                &m.set,
                &format!("nixpkgs.{option}"),
                value,
                Position::Last,
            ),
        };
        self.push(e);
        Ok(())
    }

    /// Add a new inline module (generated text at column 0) to the modules list.
    pub fn add_module(&mut self, comment: &str, module_text: &str) -> Result<()> {
        let modules = self.call.modules.as_ref();
        match modules.and_then(|m| m.list.as_ref()) {
            Some(list) => {
                self.guard_shared(list.node.range(), "the modules list")?;
                let e = insert_list_first(self.src, &self.style, list, comment, module_text);
                self.push(e);
                Ok(())
            }
            None if modules.is_none() => {
                self.guard_shared(self.call.args.node.range(), "nixosSystem's arguments")?;
                let text = format!("[\n  # {comment}\n{}\n]", indent2(module_text));
                let e = module::insert_binding(
                    self.src,
                    &self.style,
                    &self.call.args,
                    "modules",
                    &text,
                    Position::Last,
                );
                self.push(e);
                Ok(())
            }
            None => Err(Error::refused(
                "`modules` is not a literal list, so nixcross cannot add a module to it",
            )
            .at(modules.unwrap().entry_range)),
        }
    }

    /// Add a new inline module after the last inline module of the list, in
    /// the list's layout (set off by a blank line when the items are); with
    /// no inline module, as [`Planner::add_module`] does.
    pub fn add_module_after_inline(&mut self, comment: &str, module_text: &str) -> Result<()> {
        let list = self.call.modules.as_ref().and_then(|m| m.list.as_ref());
        let (Some(list), Some(anchor)) = (list, self.call.inline_modules.last()) else {
            return self.add_module(comment, module_text);
        };
        self.guard_shared(list.node.range(), "the modules list")?;
        let item = &anchor.expr;
        let single = !self.src[list.open..list.close].contains('\n');
        if single || !syntax::starts_line(self.src, item.start()) {
            self.push(TextEdit::insert(
                item.end(),
                format!(" {}", compact(module_text)),
            ));
            return Ok(());
        }
        let nl = self.style.nl;
        let base = syntax::indent_at(self.src, item.start()).to_string();
        let at = syntax::after_trailing_comment(self.src, item.end());
        let commented = syntax::leading_comments_start(self.src, item.start())
            < syntax::line_start(self.src, item.start());
        let blank_after = syntax::is_blank_line(self.src, syntax::next_line_start(self.src, at));
        let sep = if commented || blank_after { nl } else { "" };
        let body = syntax::reindent(module_text, &base, &self.style.unit, nl);
        self.push(TextEdit::insert(
            at,
            format!("{nl}{sep}{base}# {comment}{nl}{base}{body}"),
        ));
        Ok(())
    }

    /// Insert `key = value;` (generated at column 0) into nixosSystem's
    /// arguments, just before `modules` when that starts a line of its own.
    pub fn insert_arg_before_modules(&mut self, key: &str, value: &str) -> Result<()> {
        self.guard_shared(self.call.args.node.range(), "nixosSystem's arguments")?;
        let entry = format!("{key} = {value};");
        let args = &self.call.args;
        let single = !self.src[args.open..args.close].contains('\n');
        let modules = self
            .call
            .modules
            .as_ref()
            .map(|m| m.entry_range)
            .filter(|r| !single && syntax::starts_line(self.src, r.0));
        let e = match modules {
            Some((start, _)) => {
                let base = syntax::indent_at(self.src, start).to_string();
                let at = syntax::leading_comments_start(self.src, start);
                let text = syntax::reindent(&entry, &base, &self.style.unit, self.style.nl);
                TextEdit::insert(at, format!("{base}{text}{}", self.style.nl))
            }
            None => module::insert_entry(self.src, &self.style, args, &entry, Position::Last),
        };
        self.push(e);
        Ok(())
    }

    /// Add a binding (generated at column 0) to the `let` around the outputs
    /// body: appended to the innermost existing `let`, or in a new
    /// `let ... in` written before the body, as `outputs = { ... }: let ... in {`.
    pub fn insert_outputs_let(&mut self, comment: &str, binding: &str) -> Result<()> {
        let nl = self.style.nl;
        if let Some(l) = self.flake.outputs_lets.last() {
            // A `let` reads like a set whose braces are `let` and `in`.
            let set = syntax::AttrSetView {
                node: l.node.clone(),
                rec: false,
                entries: l.entries.clone(),
                open: l.let_kw + 2,
                close: l.in_kw,
            };
            let e = module::insert_entry(self.src, &self.style, &set, binding, Position::Last);
            self.push(e);
            return Ok(());
        }
        let Some(body) = &self.flake.outputs_body else {
            return Err(Error::refused(
                "`outputs` is not a function, so nixcross cannot put a `let` around its body",
            )
            .at(self.config.name_range));
        };
        if !body.text().contains('\n') {
            // A one-line body gets a one-line `let`.
            self.push(TextEdit::insert(
                body.start(),
                format!("let {} in ", compact(binding)),
            ));
            return Ok(());
        }
        let base = syntax::indent_at(self.src, body.start()).to_string();
        let inner = format!("{base}{}", self.style.unit);
        let text = syntax::reindent(binding, &inner, &self.style.unit, nl);
        let comment = if comment.is_empty() {
            String::new()
        } else {
            format!("{inner}# {comment}{nl}")
        };
        self.push(TextEdit::insert(
            body.start(),
            format!("let{nl}{comment}{inner}{text}{nl}{base}in "),
        ));
        Ok(())
    }

    /// Remove a platform setting, and its module when that is left empty.
    pub fn remove_setting(&mut self, setting: &flake::PlatformSetting) -> Result<()> {
        self.guard_shared(setting.hit.value.range(), "the platform setting")?;
        let (e, empty) = module::remove_option(self.src, &setting.hit)?;
        let m = &self.call.inline_modules[setting.module];
        if empty {
            let list = self
                .call
                .modules
                .as_ref()
                .and_then(|ms| ms.list.as_ref())
                .expect("inline modules come from a list");
            self.push(module::remove_item(self.src, list, &m.expr));
        } else {
            self.push(e);
        }
        Ok(())
    }
}

/// Indent every line but the first by two spaces (for nesting generated text).
pub(crate) fn indent_tail(text: &str) -> String {
    text.replace('\n', "\n  ")
}

/// Indent every line by two spaces.
pub(crate) fn indent2(text: &str) -> String {
    text.lines()
        .map(|l| format!("  {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Insert a new first item (with a comment line above it) into a list, in
/// the list's layout. In a multi-line list whose items are separated by blank
/// lines or comments, the new item is set off by blank lines too.
pub(crate) fn insert_list_first(
    src: &str,
    style: &Layout,
    list: &ListView,
    comment: &str,
    item: &str,
) -> TextEdit {
    let nl = style.nl;
    let single = !src[list.open..list.close].contains('\n');
    if single && !list.items.is_empty() {
        return TextEdit::insert(list.items[0].start(), format!("{} ", compact(item)));
    }
    let list_indent = syntax::indent_at(src, list.open).to_string();
    if single {
        // `[ ]`: open it up.
        let base = format!("{list_indent}{}", style.unit);
        let body = syntax::reindent(item, &base, &style.unit, nl);
        return TextEdit::replace(
            (list.open + 1, list.close),
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
        .unwrap_or_else(|| format!("{}{}", syntax::indent_at(src, list.close), style.unit));
    let body = syntax::reindent(item, &base, &style.unit, nl);
    let block = format!("{base}# {comment}{nl}{base}{body}{nl}");
    if has_content && spaced {
        TextEdit::insert(at, format!("{nl}{block}{nl}"))
    } else {
        TextEdit::insert(at, block)
    }
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
    }
}
