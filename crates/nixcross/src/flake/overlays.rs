//! Overlays and scoped package sets of a configuration: the read model that
//! `show` reports and `add-overlay` edits.
//!
//! - global overlays: every definition of `nixpkgs.overlays` in the
//!   configuration's modules, read as `(final: prev: { attr = final.pkg; })`;
//! - scoped package sets: `specialArgs` entries that are
//!   `import <nixpkgs> { ... }`, with the platforms and overlays they are
//!   imported with, and the packages modules take from them.

use std::collections::BTreeMap;

use crate::error::{Error, Result};
use crate::source::Src;
use crate::syntax;
use crate::syntax::{compact, Entry, Node, Param};

/// An overlay as written.
#[derive(Debug, Clone)]
pub struct OverlayView {
    /// The list item.
    pub node: Node,
    /// `(final, prev)` argument names, when it is a two-argument lambda.
    pub args: Option<(String, String)>,
    /// `attr -> package` for `attr = final.package;` (or `prev.package`);
    /// other values are given as their text. `None` when the overlay is not
    /// a lambda returning a literal set (`import ./overlay.nix`, ...).
    pub pairs: Option<Vec<(String, String)>>,
}

/// Read a list item as an overlay.
pub fn read_overlay(item: &Node) -> OverlayView {
    let mut view = OverlayView {
        node: item.clone(),
        args: None,
        pairs: None,
    };
    let Some(outer) = item.unparen().lambda() else {
        return view;
    };
    let Param::Ident { name: a } = &outer.param else {
        return view;
    };
    let Some(inner) = outer.body.unparen().lambda() else {
        return view;
    };
    let Param::Ident { name: b } = &inner.param else {
        return view;
    };
    view.args = Some((a.clone(), b.clone()));
    let Some(set) = inner.body.unparen().attrset().filter(|s| !s.rec) else {
        return view;
    };
    let mut pairs = Vec::new();
    for e in &set.entries {
        match e {
            Entry::Binding(bind) => {
                let Some(path) = &bind.path else {
                    return view;
                };
                let value = match bind.value.reference() {
                    Some(r) if r.len() > 1 && (&r[0] == a || &r[0] == b) => r[1..].join("."),
                    _ => compact(&bind.value.text()),
                };
                pairs.push((path.join("."), value));
            }
            Entry::Inherit(inh) => {
                let from = inh.from.as_ref().and_then(|f| f.reference());
                for (n, _) in &inh.names {
                    match &from {
                        Some(r) if r.len() == 1 && (&r[0] == a || &r[0] == b) => {
                            pairs.push((n.clone(), n.clone()))
                        }
                        _ => pairs.push((n.clone(), format!("inherited {n}"))),
                    }
                }
            }
        }
    }
    view.pairs = Some(pairs);
    view
}

/// The `attr -> package` map a list of overlays has in effect (later
/// overlays win). Overlays nixcross cannot read are skipped.
pub fn effective(overlays: &[OverlayView]) -> BTreeMap<String, String> {
    let mut map = BTreeMap::new();
    for o in overlays {
        for (a, p) in o.pairs.iter().flatten() {
            map.insert(a.clone(), p.clone());
        }
    }
    map
}

/// The value inside a priority wrapper (`lib.mkDefault x`, `mkForce`,
/// `mkBefore`, `mkAfter`, `mkOptionDefault`, `mkOverride n`, `mkOrder n`).
pub(crate) fn unwrap_priority(value: &Node) -> Option<Node> {
    let (f, args) = value.unparen().call()?;
    let r = f.reference()?;
    let arity = match r.last()?.as_str() {
        "mkForce" | "mkDefault" | "mkBefore" | "mkAfter" | "mkOptionDefault" => 1,
        "mkOverride" | "mkOrder" => 2,
        _ => return None,
    };
    (args.len() == arity).then(|| args[arity - 1].unparen())
}

/// The literal list of a value: `[ ... ]`, or one inside a priority wrapper
/// (`lib.mkDefault [ ... ]`, `mkForce`, `mkBefore`, `mkAfter`, `mkOverride n`,
/// `mkOrder n`).
pub fn literal_list(value: &Node) -> Option<Node> {
    let v = value.unparen();
    if v.list().is_some() {
        return Some(v);
    }
    unwrap_priority(&v).filter(|l| l.list().is_some())
}

/// A `nixpkgs.overlays` definition.
#[derive(Debug, Clone)]
pub struct OverlayDef {
    /// The binding.
    pub site: Src,
    /// The literal list, when the value is one.
    pub list: Option<Src>,
    /// Its overlays, read from the literal list.
    pub overlays: Vec<OverlayView>,
}

impl OverlayDef {
    /// Read a `nixpkgs.overlays = ...;` binding.
    pub fn read(site: Src) -> OverlayDef {
        let value = match site.node.as_entry() {
            Some(Entry::Binding(b)) => Some(b.value.clone()),
            _ => None,
        };
        let list = value.as_ref().and_then(literal_list);
        let overlays = list
            .as_ref()
            .and_then(|l| l.list())
            .map(|l| l.items.iter().map(read_overlay).collect())
            .unwrap_or_default();
        OverlayDef {
            list: list.map(|l| Src::new(site.file, l)),
            site,
            overlays,
        }
    }
}

/// How a scoped package set reaches the modules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScopedVia {
    /// An entry of nixosSystem's `specialArgs`.
    SpecialArgs,
    /// A module's `_module.args.<name>`.
    ModuleArgs,
}

/// How a scoped package set's platforms relate to the configuration's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Tracking {
    /// Its own (written out, or unknown): `set-target` rewrites them.
    Own,
    /// Built on the configuration's build platform for its host
    /// (`localSystem = config.nixpkgs.buildPlatform; crossSystem =
    /// config.nixpkgs.hostPlatform;`): it follows every change by itself.
    BuildAndHost,
    /// Built natively for the configuration's host, in a module
    /// (`inherit (pkgs) system;`, `system = pkgs.stdenv.hostPlatform.system;`):
    /// right for a native or emulated build; a cross build needs
    /// `localSystem` and `crossSystem` instead.
    Host,
}

/// One of a configuration's platforms, as an expression in a module names
/// it (`config.nixpkgs.hostPlatform`, `pkgs.stdenv.buildPlatform.system`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ConfigPlatform {
    Build,
    Host,
}

/// A scoped package set passed to the modules.
#[derive(Debug, Clone)]
pub struct ScopedSet {
    /// Its name in `specialArgs` or `_module.args`.
    pub name: String,
    /// How it reaches the modules.
    pub via: ScopedVia,
    /// Its platforms are the configuration's own
    /// (`localSystem = config.nixpkgs.buildPlatform; crossSystem =
    /// config.nixpkgs.hostPlatform;`, or `localSystem`/`crossSystem`): it
    /// follows every change of the configuration's platforms by itself.
    /// `local` and `cross` then say what they are now.
    pub tracking: Tracking,
    /// The `specialArgs` entry (`inherit pkgs-x;` or `pkgs-x = ...;`), or
    /// the `_module.args.pkgs-x = ...;` binding.
    pub entry: Option<Src>,
    /// The `import nixpkgs { ... }` application.
    pub import: Option<Src>,
    /// Its argument set, when it is a literal.
    pub args: Option<Src>,
    /// The double it is built on (`localSystem`, or the older `system`).
    pub local: Option<String>,
    /// The `localSystem`/`system` binding (or `inherit system;`).
    pub local_site: Option<Src>,
    /// The string literal the local platform comes from.
    pub local_literal: Option<Src>,
    /// The host double, when it is a cross set.
    pub cross: Option<String>,
    /// The `crossSystem` binding.
    pub cross_site: Option<Src>,
    /// The string literal the host platform comes from.
    pub cross_literal: Option<Src>,
    /// Its overlays.
    pub overlays: Vec<OverlayView>,
    /// The `overlays` binding.
    pub overlays_site: Option<Src>,
}

/// Packages a configuration's modules take from each scoped set:
/// `environment.systemPackages = [ <set>.<package> ];`.
pub fn used_packages(package_lists: &[Src], name: &str) -> Vec<String> {
    let mut out = Vec::new();
    for site in package_lists {
        let Some(Entry::Binding(b)) = site.node.as_entry() else {
            continue;
        };
        let Some(list) = literal_list(&b.value).and_then(|l| l.list()) else {
            continue;
        };
        for item in &list.items {
            if let Some(r) = item.reference() {
                if r.len() > 1 && r[0] == name {
                    out.push(r[1..].join("."));
                }
            }
        }
    }
    out
}

/// One `ATTR=PACKAGE` pair: `attr = final.<package>;`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Pair {
    /// The attribute replaced.
    pub attr: String,
    /// A dotted attribute path, e.g. `gcc12` or `llvmPackages_15.clang`.
    pub package: String,
}

pub(crate) fn attr_path(s: &str, what: &str, whole: &str) -> Result<Vec<String>> {
    let parts: Vec<String> = s.split('.').map(str::to_string).collect();
    if parts.iter().all(|p| syntax::is_identifier(p)) {
        return Ok(parts);
    }
    Err(Error::invalid(format!(
        "`{whole}`: {what} `{s}` is not an attribute path of identifiers"
    ))
    .hint("write ATTR=PACKAGE with names such as gcc=gcc12 or clang=llvmPackages_15.clang"))
}

/// Parse `ATTR=PACKAGE`. `ATTR` is one identifier (a dotted name would
/// replace the whole set it is in); `PACKAGE` is an attribute path.
pub(crate) fn parse_pair(s: &str) -> Result<Pair> {
    let Some((attr, package)) = s.split_once('=') else {
        return Err(
            Error::invalid(format!("`{s}` is not of the form ATTR=PACKAGE"))
                .hint("for example: nixcross add-overlay gcc=gcc12"),
        );
    };
    let a = attr_path(attr, "the attribute", s)?;
    if a.len() != 1 {
        return Err(Error::invalid(format!(
            "`{s}`: the attribute must be a single name; `{attr}` in an overlay would replace the whole `{}` set",
            a[0]
        )));
    }
    attr_path(package, "the package", s)?;
    Ok(Pair {
        attr: attr.to_string(),
        package: package.to_string(),
    })
}

/// Parse a package name for `--use`.
pub(crate) fn parse_package(s: &str) -> Result<String> {
    attr_path(s, "the package", s).map(|_| s.to_string())
}
