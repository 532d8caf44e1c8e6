//! Where a NixOS module writes its definitions, seen through the shapes
//! modules use: `{ ... }`, a function returning one, `let ... in`, the full
//! form `{ options = ...; config = ...; }`, and inside `config`:
//! `lib.mkIf cond { ... }`, `lib.mkMerge [ { ... } ... ]`, priority wrappers.
//! A module that is `lib.mkIf cond { ... }` (or `lib.optionalAttrs cond
//! { ... }`) as a whole is one too.
//!
//! Also: what kind of file a module file is (a NixOS module or something
//! else nixcross must not edit as one), and removing several entries of
//! one set at once. An option's list value is `super::list`'s.

use super::{find_option, Opaque, OptionHit};
use crate::edit::TextEdit;
use crate::syntax::{self, AttrSetView, Entry, Node, Param};

/// A literal set that holds definitions of the module's config.
#[derive(Debug, Clone)]
pub struct Place {
    /// The set; option paths are relative to it (`boot.binfmt...`).
    pub set: AttrSetView,
    /// Set when the set is inside `lib.mkIf`: the condition's text.
    pub condition: Option<String>,
}

/// What kind of file a module file is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    /// A NixOS module.
    NixosModule,
    /// A flake (it defines `outputs`).
    Flake,
    /// A flake-parts module (`flake.*`, `perSystem`, `systems`).
    FlakePartsModule,
    /// A home-manager module (`home.*`).
    HomeManagerModule,
    /// A package (`{ stdenv, fetchurl, ... }: ...`).
    Package,
}

impl FileKind {
    /// What the kind is called in a message.
    pub fn describe(self) -> &'static str {
        match self {
            FileKind::NixosModule => "a NixOS module",
            FileKind::Flake => "a flake (it defines `outputs`)",
            FileKind::FlakePartsModule => {
                "a flake-parts module (it defines `flake`, `perSystem` or `systems`)"
            }
            FileKind::HomeManagerModule => "a home-manager module (it defines `home.*`)",
            FileKind::Package => "a package (it takes `stdenv` or builds a derivation)",
        }
    }
}

/// The expression a module's function returns, through `let ... in`.
fn module_value(expr: &Node) -> (Node, Option<Param>) {
    let mut cur = expr.let_layers().1;
    let mut formals = None;
    if let Some(l) = cur.lambda() {
        formals = Some(l.param.clone());
        cur = l.body.let_layers().1;
    }
    (cur, formals)
}

/// The name of a called function (`lib.mkIf` gives `mkIf`), and its arguments.
pub(super) fn called(node: &Node) -> Option<(String, Vec<Node>)> {
    let (f, args) = node.unparen().call()?;
    let r = f.reference()?;
    Some((r.last()?.clone(), args))
}

/// Heuristics for what a file is, from the names it defines and takes.
/// Documented and tested on real shapes: a flake defines `outputs`; a
/// flake-parts module defines `flake`, `perSystem` or `systems`, or takes
/// `withSystem`/`flake-parts-lib`; a home-manager module defines `home`; a
/// package takes `stdenv` (or `mkDerivation`-style builders) or is a call.
pub fn file_kind(expr: &Node) -> FileKind {
    let (value, formals) = module_value(expr);
    if let Some(Param::Pattern { formals, .. }) = &formals {
        let names: Vec<&str> = formals.iter().map(|f| f.name.as_str()).collect();
        if names.iter().any(|n| {
            matches!(
                *n,
                "stdenv"
                    | "stdenvNoCC"
                    | "fetchurl"
                    | "fetchFromGitHub"
                    | "buildGoModule"
                    | "rustPlatform"
                    | "buildPythonPackage"
            )
        }) {
            return FileKind::Package;
        }
        if names
            .iter()
            .any(|n| matches!(*n, "withSystem" | "flake-parts-lib" | "moduleWithSystem"))
        {
            return FileKind::FlakePartsModule;
        }
    }
    if let Some((f, _)) = called(&value) {
        if f == "mkDerivation" || f.starts_with("build") || f == "callPackage" {
            return FileKind::Package;
        }
    }
    let Some(set) = value.attrset() else {
        return FileKind::NixosModule;
    };
    let firsts: Vec<&str> = set.entries.iter().filter_map(|e| e.first_name()).collect();
    if expr.unparen().attrset().is_some() && firsts.contains(&"outputs") {
        return FileKind::Flake;
    }
    if firsts
        .iter()
        .any(|k| matches!(*k, "flake" | "perSystem" | "systems"))
    {
        return FileKind::FlakePartsModule;
    }
    if firsts.contains(&"home") {
        return FileKind::HomeManagerModule;
    }
    FileKind::NixosModule
}

/// The NixOS modules a flake-parts module defines, by the names flake-parts
/// gives them: `flake.nixosModules.<name>`, `flake.modules.nixos.<name>`
/// (the "dendritic" layout) and `flake.aspects.<name>.nixos`, in any
/// spelling (dotted or nested plain sets). Each with its path as written and
/// the module expression.
pub fn nested_nixos_modules(expr: &Node) -> Vec<(String, Node)> {
    let (value, _) = module_value(expr);
    let Some(set) = value.attrset() else {
        return Vec::new();
    };
    let mut flat = Vec::new();
    flatten(&set, &mut Vec::new(), &mut flat);
    flat.into_iter()
        .filter(|(path, _)| {
            let p: Vec<&str> = path.iter().map(String::as_str).collect();
            matches!(
                p.as_slice(),
                ["flake", "nixosModules", _]
                    | ["flake", "modules", "nixos", _]
                    | ["flake", "aspects", _, "nixos"]
            )
        })
        .map(|(path, v)| (path.join("."), v))
        .collect()
}

/// Every binding under `set` with its full static path, looking into plain
/// nested sets (at most four names deep: the paths above).
fn flatten(
    set: &syntax::AttrSetView,
    prefix: &mut Vec<String>,
    out: &mut Vec<(Vec<String>, Node)>,
) {
    for e in &set.entries {
        let Entry::Binding(b) = e else { continue };
        let Some(key) = &b.path else { continue };
        let depth = prefix.len();
        prefix.extend(key.iter().cloned());
        if prefix.len() <= 4 {
            out.push((prefix.clone(), b.value.clone()));
            if let Some(inner) = b.value.unparen().attrset() {
                if !inner.rec {
                    flatten(&inner, prefix, out);
                }
            }
        }
        prefix.truncate(depth);
    }
}

/// The entry that tells what a non-module file is (`outputs = ...;`,
/// `flake.x = ...;`, `home.packages = ...;`), for error locations.
pub fn kind_evidence(expr: &Node) -> Option<Node> {
    let (value, _) = module_value(expr);
    let set = value.attrset()?;
    set.entries.iter().find_map(|e| match e {
        Entry::Binding(b)
            if matches!(
                e.first_name(),
                Some("outputs" | "flake" | "perSystem" | "systems" | "home")
            ) =>
        {
            Some(b.node.clone())
        }
        _ => None,
    })
}

/// The definition places of a module expression, or what hides them.
pub fn places(expr: &Node) -> Result<Vec<Place>, Opaque> {
    let (value, _) = module_value(expr);
    if let Some(set) = value.attrset() {
        if set.rec {
            return Err(Opaque {
                range: value.range(),
                reason: "the module is a `rec { ... }` set, whose names nixcross does not follow"
                    .into(),
            });
        }
        let full = set
            .entries
            .iter()
            .any(|e| e.defines("config") || e.defines("options"));
        if !full {
            return Ok(vec![Place {
                set,
                condition: None,
            }]);
        }
        let mut out = Vec::new();
        for e in &set.entries {
            match e {
                Entry::Binding(b) if b.path.as_deref() == Some(&["config".to_string()][..]) => {
                    walk(&b.value, None, &mut out)?;
                }
                Entry::Binding(b) if b.path.as_ref().is_some_and(|p| p[0] == "config") => {
                    // `config.boot.x = ...;`: dotted under config. The
                    // whole body is then the place, with `config.` keys;
                    // nixcross writes into a `config = { ... }` only.
                    return Err(Opaque {
                        range: b.range,
                        reason: "the module writes `config.<option>` dotted; nixcross edits `config = { ... }` sets".into(),
                    });
                }
                Entry::Inherit(i) if i.names.iter().any(|(n, _)| n == "config") => {
                    return Err(Opaque {
                        range: i.range,
                        reason: "`config` is inherited, so nixcross cannot see into it".into(),
                    })
                }
                _ => {}
            }
        }
        return Ok(out);
    }
    // A module that is `lib.mkIf c { ... }` or `lib.mkMerge [ ... ]` as a whole.
    let mut out = Vec::new();
    walk(&value, None, &mut out)?;
    Ok(out)
}

fn walk(value: &Node, condition: Option<String>, out: &mut Vec<Place>) -> Result<(), Opaque> {
    let v = value.unparen();
    if let Some(set) = v.attrset() {
        if set.rec {
            return Err(Opaque {
                range: v.range(),
                reason: "a `rec { ... }` set, whose names nixcross does not follow".into(),
            });
        }
        out.push(Place { set, condition });
        return Ok(());
    }
    if let Some((f, args)) = called(&v) {
        match (f.as_str(), args.len()) {
            // `lib.optionalAttrs c { ... }` holds its definitions under
            // the same condition.
            ("mkIf" | "optionalAttrs", 2) => {
                let c = syntax::compact(&args[0].text());
                let cond = Some(match condition {
                    Some(outer) => format!("{outer} && {c}"),
                    None => c,
                });
                return walk(&args[1], cond, out);
            }
            ("mkMerge", 1) => {
                let Some(list) = args[0].unparen().list() else {
                    return Err(Opaque {
                        range: args[0].range(),
                        reason: "`mkMerge` of something that is not a literal list".into(),
                    });
                };
                for item in &list.items {
                    walk(item, condition.clone(), out)?;
                }
                return Ok(());
            }
            ("mkDefault" | "mkForce" | "mkOptionDefault", 1) | ("mkOverride", 2) => {
                return walk(args.last().expect("checked"), condition, out);
            }
            _ => {}
        }
    }
    Err(Opaque {
        range: v.range(),
        reason: format!(
            "the module's definitions are `{}`, which nixcross cannot see into",
            syntax::compact(&v.text())
                .chars()
                .take(40)
                .collect::<String>()
        ),
    })
}

/// Every definition of `path` in the places, with the place it is in, and
/// the shapes that could hide one.
pub fn find_in(places: &[Place], path: &[&str]) -> (Vec<(usize, OptionHit)>, Vec<Opaque>) {
    let mut hits = Vec::new();
    let mut opaque = Vec::new();
    for (i, p) in places.iter().enumerate() {
        let (h, o) = find_option(&p.set, path);
        hits.extend(h.into_iter().map(|h| (i, h)));
        opaque.extend(o);
    }
    (hits, opaque)
}

/// The place a new definition of `path` goes: the one that shares the
/// longest prefix with it (`boot.binfmt.*`, then `boot.*`), else the first
/// unconditional one, else the first.
pub fn best_place(places: &[Place], path: &[&str]) -> Option<usize> {
    let score = |p: &Place| -> usize {
        p.set
            .entries
            .iter()
            .map(|e| match e {
                Entry::Binding(b) => b
                    .static_prefix
                    .iter()
                    .zip(path)
                    .take_while(|(k, p)| k == p)
                    .count(),
                Entry::Inherit(_) => usize::from(e.defines(path[0])),
            })
            .max()
            .unwrap_or(0)
    };
    let best = places.iter().enumerate().max_by_key(|(i, p)| {
        (
            score(p),
            usize::from(p.condition.is_none()),
            std::cmp::Reverse(*i),
        )
    });
    match best {
        Some((i, p)) if score(p) > 0 => Some(i),
        _ => places
            .iter()
            .position(|p| p.condition.is_none())
            .or(if places.is_empty() { None } else { Some(0) }),
    }
}

/// Delete several entries of one set (with their comments and lines): one
/// edit per run of neighbouring entries, removed as one span.
pub fn remove_entries(src: &str, set: &AttrSetView, ranges: &[(usize, usize)]) -> Vec<TextEdit> {
    let mut edits = Vec::new();
    let mut i = 0;
    let gone = |e: &Entry| ranges.contains(&e.range());
    while i < set.entries.len() {
        if !gone(&set.entries[i]) {
            i += 1;
            continue;
        }
        let first = i;
        while i + 1 < set.entries.len() && gone(&set.entries[i + 1]) {
            i += 1;
        }
        let span = (set.entries[first].range().0, set.entries[i].range().1);
        edits.push(super::remove_entry(src, set, span));
        i += 1;
    }
    edits
}

/// The removal of several bindings under `top` (a module's body or place):
/// each goes with its comments and line; a set that every one of its
/// entries leaves goes too (`boot.binfmt = { };` never stays behind), up to
/// `top`. Returns the edits and whether `top` is left empty (then the
/// caller removes the module itself, when it can).
pub fn remove_bindings(src: &str, top: &AttrSetView, bindings: &[Node]) -> (Vec<TextEdit>, bool) {
    use std::collections::BTreeMap;
    // Every binding, climbed to the highest holder that is left empty.
    let mut removed: Vec<Node> = bindings.to_vec();
    loop {
        let mut by_set: BTreeMap<(usize, usize), (AttrSetView, usize)> = BTreeMap::new();
        for b in &removed {
            if let Some(set) = b.parent_set() {
                let e = by_set.entry(set.node.range()).or_insert((set, 0));
                e.1 += 1;
            }
        }
        let mut changed = false;
        for (set, count) in by_set.values() {
            if *count < set.entries.len() || set.node == top.node {
                continue;
            }
            let Some(holder) = set.node.holding_entry() else {
                continue;
            };
            removed.retain(|b| !set.node.contains(b));
            if !removed.contains(&holder) {
                removed.push(holder);
            }
            changed = true;
        }
        if !changed {
            break;
        }
    }
    type Removals = (AttrSetView, Vec<(usize, usize)>);
    let mut by_set: BTreeMap<(usize, usize), Removals> = BTreeMap::new();
    for b in &removed {
        if let Some(set) = b.parent_set() {
            by_set
                .entry(set.node.range())
                .or_insert((set, Vec::new()))
                .1
                .push(b.range());
        }
    }
    let mut edits = Vec::new();
    let mut top_empty = false;
    for (set, ranges) in by_set.values() {
        if set.node == top.node && ranges.len() == set.entries.len() {
            top_empty = true;
        }
        edits.extend(remove_entries(src, set, ranges));
    }
    merge_edits(&mut edits);
    (edits, top_empty)
}

/// Join deletions whose ranges touch or overlap into one.
fn merge_edits(edits: &mut Vec<TextEdit>) {
    edits.sort_by_key(|e| e.range);
    let mut out: Vec<TextEdit> = Vec::new();
    for e in edits.drain(..) {
        if let Some(last) = out.last_mut() {
            if e.range.start <= last.range.end && last.insert.is_empty() && e.insert.is_empty() {
                last.range.end = last.range.end.max(e.range.end);
                continue;
            }
        }
        out.push(e);
    }
    *edits = out;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expr(src: &str) -> Node {
        syntax::parse(src).unwrap().expr().unwrap()
    }

    #[test]
    fn places_see_through_conditions_and_merges() {
        let e = expr("{ config, lib, ... }: { options.x = 1; config = lib.mkIf config.x.enable { a = 1; }; }");
        let p = places(&e).unwrap();
        assert_eq!(p.len(), 1);
        assert_eq!(p[0].condition.as_deref(), Some("config.x.enable"));
        let e = expr(
            "{ lib, ... }: { config = lib.mkMerge [ { a = 1; } (lib.mkIf true { b = 2; }) ]; }",
        );
        assert_eq!(places(&e).unwrap().len(), 2);
        let e = expr("{ lib, ... }: lib.mkIf true { a = 1; }");
        assert_eq!(places(&e).unwrap().len(), 1);
        assert!(places(&expr("{ config = import ./x.nix; options = { }; }")).is_err());
        let p = places(&expr("{ a.b = 1; }")).unwrap();
        assert_eq!(best_place(&p, &["a", "c"]), Some(0));
    }

    #[test]
    fn kinds_of_files() {
        assert_eq!(file_kind(&expr("{ boot.x = 1; }")), FileKind::NixosModule);
        assert_eq!(
            file_kind(&expr("{ inputs = { }; outputs = _: { }; }")),
            FileKind::Flake
        );
        assert_eq!(
            file_kind(&expr("{ ... }: { flake.nixosModules.x = { }; }")),
            FileKind::FlakePartsModule
        );
        assert_eq!(
            file_kind(&expr("{ perSystem = { pkgs, ... }: { }; }")),
            FileKind::FlakePartsModule
        );
        assert_eq!(
            file_kind(&expr("{ pkgs, ... }: { home.packages = [ ]; }")),
            FileKind::HomeManagerModule
        );
        assert_eq!(
            file_kind(&expr("{ stdenv, fetchurl }: stdenv.mkDerivation { }")),
            FileKind::Package
        );
    }
}
