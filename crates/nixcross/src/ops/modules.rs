//! What the commands that edit a module's options share: reading a module
//! file's places and the one definition of an option there, and the words
//! for what a value is.

use crate::edit::TextEdit;
use crate::error::{Error, Result};
use crate::flake::ModuleOrigin;
use crate::module::list::{Added, ListOption};
use crate::module::places::{self, FileKind, Place};
use crate::module::{self, OptionHit};
use crate::ops::editor::{Edits, Home, Planner};
use crate::source::{FileId, Src};
use crate::syntax::{self, Kind, Node};

/// How a value is written, for messages.
pub(crate) fn describe(node: &Node) -> String {
    let n = node.unparen();
    match n.kind() {
        Kind::RecAttrSet => "a `rec { ... }` set".into(),
        Kind::With => "a `with ...;` expression".into(),
        Kind::Update => "a `//` merge".into(),
        Kind::Concat => "a `++` concatenation without a literal list".into(),
        Kind::IfElse => "an `if ... then ... else ...`".into(),
        Kind::Ident => format!("the variable `{}`", n.text()),
        Kind::Select => format!("`{}`", n.text()),
        Kind::Path => format!("the path `{}`", n.text()),
        Kind::Apply => match n
            .call()
            .and_then(|(f, _)| f.reference())
            .map(|r| r.join("."))
        {
            Some(f) => format!("a call of `{f}`"),
            None => "a function call".into(),
        },
        Kind::Lambda => "a function".into(),
        Kind::LetIn => "a `let ... in` expression".into(),
        _ => "an expression nixcross cannot read".into(),
    }
}

/// The one definition of `path` among `places`; shapes that could hide a
/// definition, or a second definition, are refused.
pub(crate) fn find_one(
    e: &Edits,
    file: FileId,
    places: &[Place],
    path: &[&str],
) -> Result<Option<(usize, OptionHit)>> {
    let dotted = path.join(".");
    let (mut hits, opaque) = places::find_in(places, path);
    if let Some(o) = opaque.first() {
        return Err(e.error_at(
            Error::refused(format!("cannot edit `{dotted}`: {}", o.reason))
                .hint("edit this part by hand, or write it as a plain attribute set"),
            &Src::new(file, node_at(e, file, o.range)),
        ));
    }
    if hits.len() > 1 {
        let at = hits[1].1.entry().range();
        return Err(e.error_at(
            Error::refused(format!("`{dotted}` is defined more than once")),
            &Src::new(file, node_at(e, file, at)),
        ));
    }
    let Some((i, hit)) = hits.pop() else {
        return Ok(None);
    };
    if !hit.rest.is_empty() {
        let at = hit.entry().range();
        return Err(e.error_at(
            Error::refused(format!(
                "`{dotted}` is defined through a longer key (`{dotted}.{}`)",
                hit.rest.join(".")
            )),
            &Src::new(file, node_at(e, file, at)),
        ));
    }
    Ok(Some((i, hit)))
}

/// The smallest node covering `range` in `file` (for error locations).
pub(crate) fn node_at(e: &Edits, file: FileId, range: (usize, usize)) -> Node {
    let root = e.sources.get(file).root().expect("a parsed file");
    root.find_covering(range).unwrap_or(root)
}

/// A module file's body and definition places; a file that is not a NixOS
/// module is refused with what it is (`hint` says where the setting goes
/// instead), and so is a module whose definitions nixcross cannot see.
pub(crate) fn module_places(
    e: &Edits,
    file: FileId,
    expr: &Node,
    hint: &str,
) -> Result<(syntax::AttrSetView, Vec<Place>)> {
    let kind = places::file_kind(expr);
    if kind != FileKind::NixosModule {
        let hint = if kind == FileKind::Flake {
            "pass --config NAME to edit a configuration of the flake, or -f the module file"
        } else {
            hint
        };
        // Point at what gives it away (`outputs`, `flake`, `home`, ...).
        let at = places::kind_evidence(expr).unwrap_or_else(|| expr.clone());
        return Err(e.error_at(
            Error::refused(format!(
                "this file is {}, not a NixOS module",
                kind.describe()
            ))
            .hint(hint),
            &Src::new(file, at),
        ));
    }
    let places = places::places(expr).map_err(|o| {
        e.error_at(
            Error::refused(format!("cannot edit this module: {}", o.reason)).hint(
                "a module nixcross can edit is `{ ... }` or `{ config, pkgs, ... }: { ... }`",
            ),
            &Src::new(file, node_at(e, file, o.range)),
        )
    })?;
    let top = module::module_body(expr)
        .map(|b| b.set)
        .or_else(|| places.first().map(|p| p.set.clone()))
        .ok_or_else(|| Error::refused("the module has no set of definitions"))?;
    Ok((top, places))
}

/// A flake configuration's modules list and an inline module's item in it.
pub(crate) type InlineItem = (Src, Node);

/// The modules list and the item of module `i`, when it is an inline item
/// of the configuration's own list.
pub(crate) fn inline_list_item(p: &Planner, i: usize) -> Option<InlineItem> {
    let m = &p.sys.modules[i];
    let ModuleOrigin::Inline(src) = &m.origin else {
        return None;
    };
    if m.imported_from.is_some() {
        return None;
    }
    let list = p.sys.modules_list.clone()?;
    let lv = list.node.list()?;
    let item = lv.items.iter().find(|it| it.contains(&src.node))?.clone();
    Some((list, item))
}

/// Add `items` (rendered texts) to the list `def` of `file` defines, in
/// whatever shape it is written; how they were placed, or `None` when
/// nixcross cannot add to that shape.
pub(crate) fn add_to_list(
    e: &mut Edits,
    file: FileId,
    def: &ListOption,
    items: &[String],
    reason: &str,
) -> Option<Added> {
    let (edits, how) = def.add(e.text(file), e.layout(file), items)?;
    for edit in edits {
        e.push(file, edit, reason);
    }
    Some(how)
}

/// The item of `list` that holds `node` (the node itself when none does).
pub(crate) fn item_holding(list: &syntax::ListView, node: &Node) -> Node {
    list.items
        .iter()
        .find(|i| i.contains(node))
        .cloned()
        .unwrap_or_else(|| node.clone())
}

/// Say so when new definitions go under the module's `mkIf` (in `file`).
pub(crate) fn note_condition(e: &mut Edits, file: FileId, place: &Place) {
    if let Some(c) = &place.condition {
        e.warn_at(
            format!(
                "the new settings go among definitions that hold only when `{c}`, so they hold only then too"
            ),
            &Src::new(file, place.set.node.clone()),
        );
    }
}

/// A definition nixcross adds to a module.
pub(crate) struct NewDef<'p> {
    /// The option's path.
    pub path: &'p [&'p str],
    /// Its value (generated text, at column 0).
    pub value: String,
    /// The text of nixcross's mark on it, if it carries one.
    pub mark: Option<String>,
    /// Why (the summary's words).
    pub reason: String,
}

impl<'p> NewDef<'p> {
    /// `path = value;`, unmarked.
    pub fn new(path: &'p [&'p str], value: impl Into<String>, reason: impl Into<String>) -> Self {
        NewDef {
            path,
            value: value.into(),
            mark: None,
            reason: reason.into(),
        }
    }

    /// With nixcross's mark on it.
    pub fn marked(self, mark: impl Into<String>) -> Self {
        NewDef {
            mark: Some(mark.into()),
            ..self
        }
    }

    /// `key = value;` (with its mark as a `# ` comment when `line`, else a
    /// block comment before the `;`), keys quoted where Nix needs it.
    fn binding(&self, line: bool) -> String {
        let key: Vec<String> = self.path.iter().map(|k| syntax::attr_name(k)).collect();
        let key = key.join(".");
        match (&self.mark, line) {
            (None, _) => format!("{key} = {};", self.value),
            (Some(m), true) => format!("{key} = {}; # {m}", self.value),
            (Some(m), false) => format!("{key} = {} /* {m} */;", self.value),
        }
    }
}

/// Insert new definitions into a module file's best places (each next to
/// the entries that share most of its path, in a place of no condition
/// where there is one). Several going into one empty set (`{ }`) become
/// one edit that opens the set up, one definition a line.
pub(crate) fn insert_defs(
    e: &mut Edits,
    file: FileId,
    places: &[Place],
    defs: &[NewDef],
) -> Result<()> {
    let src = e.text(file);
    let layout = e.layout(file).clone();
    let mut groups: Vec<(usize, Vec<&NewDef>)> = Vec::new();
    for d in defs {
        let Some(i) = places::best_place(places, d.path) else {
            return Err(Error::refused(
                "the module has no set of definitions to add to",
            ));
        };
        match groups.iter_mut().find(|(g, _)| *g == i) {
            Some((_, v)) => v.push(d),
            None => groups.push((i, vec![d])),
        }
        note_condition(e, file, &places[i]);
    }
    for (i, group) in groups {
        let set = &places[i].set;
        // One definition of one line into an empty set written on one
        // line stays on that line (`{ boot.x = [ ... ]; }`).
        let one_line = group.len() == 1
            && !group[0].value.contains('\n')
            && !src[set.open..set.close].contains('\n');
        if !set.entries.is_empty() || one_line {
            for d in group {
                let mut edit = module::insert_at_path(src, &layout, set, d.path, &d.value);
                if let Some(mark) = &d.mark {
                    mark_edit(src, &mut edit, mark);
                }
                e.push(file, edit, &d.reason);
            }
            continue;
        }
        // An empty set: all of them at once, one a line.
        let nl = layout.nl;
        let close_indent = syntax::indent_at(src, set.close).to_string();
        let open_indent = syntax::indent_at(src, set.open).to_string();
        let base = format!("{open_indent}{}", layout.unit);
        let lines: Vec<String> = group
            .iter()
            .map(|d| syntax::reindent(&d.binding(true), &base, &layout.unit, nl))
            .collect();
        let text = lines.join(&format!("{nl}{base}"));
        let reason = group
            .iter()
            .map(|d| d.reason.clone())
            .collect::<Vec<_>>()
            .join("; ");
        let edit = if !src[set.open..set.close].contains('\n') {
            module::fill_empty(
                src,
                set.open,
                set.close,
                format!("{nl}{base}{text}{nl}{open_indent}"),
            )
        } else {
            TextEdit::insert(
                syntax::after_trailing_comment(src, set.open + 1),
                format!("{nl}{base}{text}{nl}{close_indent}")
                    .trim_end_matches(' ')
                    .to_string(),
            )
        };
        e.push(file, edit, &reason);
    }
    Ok(())
}

/// Put nixcross's mark on an inserted binding: a trailing comment when it
/// ends its line, a block comment before the `;` when it shares the line.
fn mark_edit(src: &str, edit: &mut TextEdit, mark: &str) {
    // A line comment only where the binding has a line of its own: written
    // on a new line, before the end of one. Another insertion at the same
    // point would otherwise continue the comment's line.
    let own_line = edit.insert.starts_with(['\n', '\r'])
        && (src[edit.range.end..].starts_with(['\n', '\r']) || edit.range.end == src.len());
    if own_line && !edit.insert.ends_with('\n') && edit.insert.ends_with(';') {
        edit.insert.push_str(&format!(" # {mark}"));
    } else if let Some(i) = edit.insert.rfind(';') {
        edit.insert.insert_str(i, &format!(" /* {mark} */"));
    }
}

/// New definitions in a configuration's own module ([`Planner::home`]):
/// among its definitions ([`insert_defs`]), or in a new inline module of
/// its modules list with `comment` above it. Returns the summary's lines.
pub(crate) fn define_in_home(
    p: &mut Planner,
    defs: &[NewDef],
    comment: &str,
) -> Result<Vec<String>> {
    match p.home()? {
        Home::Module {
            file, body, full, ..
        } => {
            let mut places = places::places(&body.expr).unwrap_or_default();
            if places.is_empty() {
                if full {
                    return Err(Error::refused(format!(
                        "`{}`'s own module writes its definitions in a shape nixcross cannot see into",
                        p.config.name
                    )));
                }
                places.push(Place {
                    set: body.set.clone(),
                    condition: None,
                });
            }
            insert_defs(&mut p.core, file, &places, defs)?;
            Ok(defs.iter().map(|d| d.reason.clone()).collect())
        }
        Home::NewInline => {
            // A one-line modules list gets the module on one line: a mark
            // is then a block comment.
            let one_line = p
                .sys
                .modules_list
                .as_ref()
                .is_some_and(|l| !l.node.text().contains('\n'));
            let body: Vec<String> = defs
                .iter()
                .map(|d| format!("  {}", d.binding(!one_line).replace('\n', "\n  ")))
                .collect();
            let text = format!("{{\n{}\n}}", body.join("\n"));
            let reason = defs
                .iter()
                .map(|d| d.reason.clone())
                .collect::<Vec<_>>()
                .join("; ");
            p.add_module(comment, &text, &reason)?;
            Ok(vec![format!("{reason} in a new inline module")])
        }
    }
}

/// The modules of the configuration that define any of `paths`, in its
/// order: their index in its modules and their expression. Modules
/// nixcross does not read (another input's) and those whose definitions it
/// cannot see are not among them.
pub(crate) fn modules_defining(p: &Planner, paths: &[&[&str]]) -> Vec<(usize, Src)> {
    let mut out = Vec::new();
    for (i, m) in p.sys.modules.iter().enumerate() {
        let Some(expr) = &m.expr else { continue };
        if matches!(m.origin, ModuleOrigin::External(_)) {
            continue;
        }
        let Ok(places) = places::places(&expr.node) else {
            continue;
        };
        if paths
            .iter()
            .any(|path| !places::find_in(&places, path).0.is_empty())
        {
            out.push((i, expr.clone()));
        }
    }
    out
}
