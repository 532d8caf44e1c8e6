//! What the commands that edit a module's options share: reading a module
//! file's places and the one definition of an option there, and the words
//! for what a value is.

use crate::error::{Error, Result};
use crate::flake::ModuleOrigin;
use crate::module::list::{Added, ListOption};
use crate::module::places::{self, FileKind, Place};
use crate::module::{self, OptionHit};
use crate::ops::editor::{Edits, Planner};
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
