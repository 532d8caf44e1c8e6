//! `nixcross emulate`: set `boot.binfmt.emulatedSystems` (and optionally
//! `boot.binfmt.preferStaticEmulators`) in a build host's NixOS module, or
//! in an inline module of a flake configuration (`opts.config`).
//!
//! The option belongs in the configuration of the machine that *builds*: it
//! registers QEMU through binfmt_misc, and NixOS then adds the systems to
//! `nix.settings.extra-platforms` and the interpreters to the sandbox paths.
//!
//! Rules:
//! - Every value must be a key of NixOS's binfmt magics table
//!   ([`platform::Catalogue::can_emulate`]). pkgsCross names and config
//!   triples are accepted and mapped to their system double first.
//! - The machine's own system cannot be emulated (NixOS fails an assertion).
//!   The host is `opts.host` when given, else what the file itself says
//!   (`nixpkgs.hostPlatform`, `nixpkgs.crossSystem`, `nixpkgs.localSystem`,
//!   `nixpkgs.system`, also under `lib.mkDefault`/`lib.mkForce`; for a flake
//!   configuration, the platform [`crate::flake_old::Config::platforms`] reads). When neither
//!   says, a request for `opts.local_system` (the machine nixcross runs on)
//!   only warns: the module may well be for another machine.
//! - An existing literal list is extended in its own layout and never gets
//!   a duplicate. `lib.mkForce [ ... ]` (and `mkDefault`, `mkBefore`,
//!   `mkAfter`, `mkOverride n`, `mkOrder n`) around a literal list is edited
//!   inside the wrapper. Anything else (`lib.optionals`, `++`, a variable,
//!   `boot` behind `inherit`, `//`, `with`, `rec`, `mkIf`) is refused with its
//!   location.
//! - A new binding goes after the entry whose key shares the most with it
//!   (`boot.binfmt.*`, then `boot.*`), inside the deepest plain `boot`/
//!   `boot.binfmt` set on a tie, else at the end of the set, copying the
//!   sibling layout. It never goes into `boot = { ... }` when a dotted
//!   `boot.binfmt.*` exists outside it (Nix would see `binfmt` twice).
//! - `remove` takes the systems out. When that empties a plain list, the
//!   whole binding goes, with any `boot = { }` husk it leaves, so adding and
//!   then removing the same systems gives back the original bytes. A wrapped
//!   list (`lib.mkForce [ ]`) is kept, because forcing an empty list is a
//!   statement of its own.
//! - In a flake configuration, the definitions go into the inline module
//!   that already has them, else the one with `boot.binfmt` or `boot`, else
//!   the first inline module, else a new `{ boot.binfmt... = ...; }` module
//!   at the head of `modules` (removed again when it is left empty). Edits in
//!   a helper that builds several configurations are refused.
//! - `static_emulators` sets `boot.binfmt.preferStaticEmulators = true;`;
//!   with `remove`, it removes that setting instead.
//!
//! Each step re-parses the text the previous step produced and finishes with
//! [`edit::apply_checked`], so no step can plan against stale offsets.

use std::collections::HashSet;

use super::EditOutcome;
use crate::edit::{self, TextEdit};
use crate::error::{Error, Result};
use crate::flake_old::Flake;
use crate::module::{self, ModuleBody, OptionHit, Position};
use crate::syntax::Layout;
use crate::ops::editor::Planner;
use crate::platform;
use crate::syntax::{self, AttrSetView, Entry, Kind, ListView, Node};

/// What `nixcross emulate` was asked to do.
#[derive(Debug, Clone, Default)]
pub struct EmulateOptions {
    /// Systems as the user typed them: doubles, pkgsCross names or triples.
    pub systems: Vec<String>,
    /// Take the systems out instead of adding them.
    pub remove: bool,
    /// Also set `boot.binfmt.preferStaticEmulators = true` (or remove it with `remove`).
    pub static_emulators: bool,
    /// The build host's own system, when the user states it (`--host`).
    pub host: Option<String>,
    /// A configuration inside a flake (`--config NAME`); `src` is then the flake.
    pub config: Option<String>,
    /// The system nixcross runs on; only used for a warning.
    pub local_system: Option<String>,
}

const EMULATED: &str = "emulatedSystems";
const STATIC: &str = "preferStaticEmulators";

/// Edit `src` (a NixOS module, or a flake when `opts.config` names one of
/// its configurations) as `opts` asks.
pub fn emulate(src: &str, opts: &EmulateOptions) -> Result<EditOutcome> {
    let systems = requested_systems(&opts.systems)?;
    if systems.is_empty() && !opts.static_emulators {
        return Err(Error::invalid("name at least one system to emulate"));
    }
    let place = opts.config.as_deref();
    let mut warnings = Vec::new();
    // Parse errors and refused shapes come out before any edit is planned.
    let declared = match place {
        None => declared_platform(&module_root(src)?),
        Some(name) => {
            let flake = Flake::parse(src)?;
            let (config, call) = flake.select_editable(Some(name))?;
            // Refusals (a helper shared by several configurations, ...) first.
            locate(src, place, EMULATED)?;
            let others = call
                .modules
                .as_ref()
                .and_then(|m| m.list.as_ref())
                .map_or(0, |l| l.items.len())
                .saturating_sub(call.inline_modules.len());
            if !opts.remove && (others > 0 || call.modules.as_ref().is_some_and(|m| m.partial)) {
                warnings.push(format!(
                    "`{name}` also has modules nixcross cannot see into (files, imports); \
                     if they set boot.binfmt.emulatedSystems too, NixOS merges the lists"
                ));
            }
            config.platforms().host.map(|h| {
                (
                    h.clone(),
                    config.name_range,
                    format!("the configuration `{name}` is for {h}"),
                )
            })
        }
    };
    if !opts.remove {
        check_host(declared, &systems, opts, &mut warnings)?;
    }

    let mut text = src.to_string();
    let mut summary = Vec::new();
    if !systems.is_empty() {
        let s = if opts.remove {
            remove_systems(&mut text, place, &systems, &mut warnings)?
        } else {
            add_systems(&mut text, place, &systems, &mut warnings)?
        };
        summary.extend(s);
    }
    if opts.static_emulators {
        summary.extend(set_static(&mut text, place, opts.remove)?);
    }
    let changed = text != src;
    Ok(EditOutcome {
        changed,
        summary: match (summary.is_empty(), place) {
            (true, _) => "nothing to change".into(),
            (false, None) => summary.join("; "),
            (false, Some(name)) => format!("{name}: {}", summary.join("; ")),
        },
        text,
        warnings,
    })
}

/// Turn what the user typed into the systems NixOS can emulate, in order,
/// without duplicates.
fn requested_systems(inputs: &[String]) -> Result<Vec<String>> {
    let mut out: Vec<String> = Vec::new();
    for input in inputs {
        let s = emulated_system(input)?;
        if !out.contains(&s) {
            out.push(s);
        }
    }
    Ok(out)
}

/// One system the user typed, as a key of the binfmt magics table.
pub fn emulated_system(input: &str) -> Result<String> {
    let cat = platform::catalogue();
    let s = input.trim();
    if cat.can_emulate(s) {
        return Ok(s.to_string());
    }
    let all: Vec<&str> = cat.emulatable().collect();
    match platform::resolve(s) {
        Ok(t) if cat.can_emulate(&t.system) => Ok(t.system),
        Ok(t) => {
            let what = if t.system == s {
                format!("`{s}`")
            } else {
                format!("`{s}` ({})", t.system)
            };
            Err(
                Error::invalid(format!("{what} is not a system NixOS can emulate")).hint(format!(
                    "boot.binfmt.emulatedSystems accepts: {}",
                    all.join(", ")
                )),
            )
        }
        Err(_) => {
            let mut err = Error::invalid(format!("unknown system `{s}`"));
            let mut near: Vec<String> = Vec::new();
            for name in platform::suggest(s, 10) {
                if let Ok(t) = platform::resolve(&name) {
                    if cat.can_emulate(&t.system) && !near.contains(&t.system) {
                        near.push(t.system);
                    }
                }
            }
            near.truncate(3);
            if !near.is_empty() {
                err = err.hint(format!("did you mean {}?", near.join(", ")));
            }
            Err(err.hint(format!(
                "boot.binfmt.emulatedSystems accepts: {}",
                all.join(", ")
            )))
        }
    }
}

/// The set that holds a module's definitions, and whether the module is in
/// the full form (`{ options = ...; config = ...; }`), where definitions live
/// under `config`.
struct Root {
    set: AttrSetView,
    full: bool,
    /// For an inline module of a flake configuration: the modules list and
    /// the module's item in it (removed when the module is left empty).
    item: Option<(ListView, Node)>,
}

/// Where the definitions go.
enum Located {
    Root(Root),
    /// A flake configuration without an inline module: one must be created.
    NoModule,
}

/// The set to edit for `leaf` (`emulatedSystems` or `preferStaticEmulators`):
/// the module file's body, or for a flake configuration the inline module
/// that already defines it, else the one with `boot.binfmt`, else with
/// `boot`, else the first inline module.
fn locate(text: &str, place: Option<&str>, leaf: &'static str) -> Result<Located> {
    let Some(name) = place else {
        return Ok(Located::Root(module_root(text)?));
    };
    let flake = Flake::parse(text)?;
    let (config, call) = flake.select_editable(Some(name))?;
    let prefixed = |m: &ModuleBody, p: &[&str]| -> Vec<String> {
        let full = m
            .set
            .entries
            .iter()
            .any(|e| e.defines("config") || e.defines("options"));
        let mut v: Vec<String> = if full { vec!["config".into()] } else { vec![] };
        v.extend(p.iter().map(|s| s.to_string()));
        v
    };
    let has = |m: &ModuleBody, p: &[&str]| {
        let path = prefixed(m, p);
        let path: Vec<&str> = path.iter().map(String::as_str).collect();
        !module::find_option(&m.set, &path).0.is_empty()
    };
    let leaf_path = ["boot", "binfmt", leaf];
    let with_leaf: Vec<usize> = (0..call.inline_modules.len())
        .filter(|&i| has(&call.inline_modules[i], &leaf_path))
        .collect();
    if with_leaf.len() > 1 {
        let m = &call.inline_modules[with_leaf[1]];
        return Err(Error::refused(format!(
            "`{name}` sets boot.binfmt.{leaf} in more than one inline module"
        ))
        .at(m.expr.range())
        .hint("merge them by hand first"));
    }
    let pick = with_leaf
        .first()
        .copied()
        .or_else(|| {
            (0..call.inline_modules.len())
                .find(|&i| has(&call.inline_modules[i], &["boot", "binfmt"]))
        })
        .or_else(|| {
            (0..call.inline_modules.len()).find(|&i| has(&call.inline_modules[i], &["boot"]))
        })
        .or(if call.inline_modules.is_empty() {
            None
        } else {
            Some(0)
        });
    let Some(i) = pick else {
        return Ok(Located::NoModule);
    };
    let m = &call.inline_modules[i];
    let plan = Planner::new(text, &flake, config, call);
    plan.guard_shared(m.set.node.range(), "the module")?;
    let list = call
        .modules
        .as_ref()
        .and_then(|ms| ms.list.clone())
        .ok_or_else(|| Error::internal("inline modules come from a list"))?;
    let full = m
        .set
        .entries
        .iter()
        .any(|e| e.defines("config") || e.defines("options"));
    Ok(Located::Root(Root {
        set: m.set.clone(),
        full,
        item: Some((list, m.expr.clone())),
    }))
}

/// Give configuration `name` a new inline module `{ key = value; }`.
fn new_module(text: &str, name: &str, key: &str, value: &str) -> Result<TextEdit> {
    let flake = Flake::parse(text)?;
    let (config, call) = flake.select_editable(Some(name))?;
    let mut plan = Planner::new(text, &flake, config, call);
    plan.add_module(
        "Emulated systems for building other platforms (nixcross emulate)",
        &format!("{{\n  {key} = {value};\n}}"),
    )?;
    let mut edits = plan.edits;
    if edits.len() != 1 {
        return Err(Error::internal(
            "adding a module planned more than one edit",
        ));
    }
    Ok(edits.remove(0))
}

/// Remove the option at `hit`, and the inline module when it is left empty.
fn remove_whole(text: &str, root: &Root, hit: &OptionHit) -> Result<TextEdit> {
    let (e, empty) = module::remove_option(text, hit)?;
    match (&root.item, empty) {
        (Some((list, expr)), true) => Ok(module::remove_item(text, list, expr)),
        _ => Ok(e),
    }
}

impl Root {
    fn path(&self, leaf: &'static str) -> Vec<&'static str> {
        let mut p = Vec::with_capacity(4);
        if self.full {
            p.push("config");
        }
        p.extend(["boot", "binfmt", leaf]);
        p
    }
    fn nixpkgs_path(&self, leaf: &'static str) -> Vec<&'static str> {
        let mut p = Vec::with_capacity(3);
        if self.full {
            p.push("config");
        }
        p.extend(["nixpkgs", leaf]);
        p
    }
}

/// The module expression's body, for error messages.
fn body_expr(expr: &Node) -> Node {
    let mut cur = expr.unparen();
    if let Some(l) = cur.lambda() {
        cur = l.body.unparen();
    }
    while let Some(l) = cur.let_in() {
        cur = l.body.unparen();
    }
    cur
}

fn describe(node: &Node) -> String {
    let n = node.unparen();
    match n.kind() {
        Kind::RecAttrSet => "a `rec { ... }` set".into(),
        Kind::With => "a `with ...;` expression".into(),
        Kind::Update => "a `//` merge".into(),
        Kind::Concat => "a `++` concatenation".into(),
        Kind::IfElse => "an `if ... then ... else ...`".into(),
        Kind::Ident => format!("the variable `{}`", n.text()),
        Kind::Select => format!("`{}`", n.text()),
        Kind::Path => format!("the path `{}`", n.text()),
        Kind::Apply => {
            let f = n
                .call()
                .and_then(|(f, _)| f.reference())
                .map(|r| r.join("."));
            match f {
                Some(f) => format!("a call of `{f}`"),
                None => "a function call".into(),
            }
        }
        Kind::Lambda => "a function".into(),
        Kind::LetIn => "a `let ... in` expression".into(),
        _ => "an expression nixcross cannot read".into(),
    }
}

fn module_root(src: &str) -> Result<Root> {
    let doc = syntax::parse(src)?;
    let expr = doc.expr().ok_or_else(|| {
        Error::refused("the file has no expression; a NixOS module is `{ ... }` or `{ config, pkgs, ... }: { ... }`")
    })?;
    let Some(body) = module::module_body(&expr) else {
        let b = body_expr(&expr);
        return Err(Error::refused(format!(
            "the module is {}, not an attribute set, so nixcross cannot edit it safely",
            describe(&b)
        ))
        .at(b.range())
        .hint("a module nixcross can edit is `{ ... }` or `{ config, pkgs, ... }: { ... }`"));
    };
    if let Some(e) = body.set.entries.iter().find(|e| e.defines("outputs")) {
        return Err(Error::refused(
            "this file is a flake (it defines `outputs`), not a NixOS module",
        )
        .at(e.range())
        .hint("pass --config NAME to edit a configuration of the flake, or -f the module file"));
    }
    let full = body
        .set
        .entries
        .iter()
        .any(|e| e.defines("config") || e.defines("options"));
    Ok(Root {
        set: body.set,
        full,
        item: None,
    })
}

/// The single definition of `path`, if any. Shapes that could hide a
/// definition, or a second definition, are refused.
fn find_one(set: &AttrSetView, path: &[&str]) -> Result<Option<OptionHit>> {
    let dotted = path.join(".");
    let (mut hits, opaque) = module::find_option(set, path);
    if let Some(o) = opaque.first() {
        return Err(
            Error::refused(format!("cannot edit `{dotted}`: {}", o.reason))
                .at(o.range)
                .hint("edit this part by hand, or write it as a plain attribute set"),
        );
    }
    if hits.len() > 1 {
        return Err(
            Error::refused(format!("`{dotted}` is defined more than once"))
                .at(hits[1].entry().range()),
        );
    }
    let Some(hit) = hits.pop() else {
        return Ok(None);
    };
    if !hit.rest.is_empty() {
        return Err(Error::refused(format!(
            "`{dotted}` is defined through a longer key (`{dotted}.{}`)",
            hit.rest.join(".")
        ))
        .at(hit.entry().range()));
    }
    Ok(Some(hit))
}

/// The literal list of a value: `[ ... ]`, or one inside a priority wrapper
/// such as `lib.mkForce [ ... ]`. The second part is the wrapper's name.
fn literal_list(value: &Node, dotted: &str) -> Result<(ListView, Option<String>)> {
    let v = value.unparen();
    if let Some(l) = v.list() {
        return Ok((l, None));
    }
    if let Some((f, args)) = v.call() {
        if let Some(r) = f.reference() {
            let name = r.last().map(String::as_str).unwrap_or_default();
            let arity = match name {
                "mkForce" | "mkDefault" | "mkBefore" | "mkAfter" => 1,
                "mkOverride" | "mkOrder" => 2,
                _ => 0,
            };
            if arity > 0 && args.len() == arity {
                if let Some(l) = args[arity - 1].unparen().list() {
                    return Ok((l, Some(r.join("."))));
                }
            }
        }
    }
    Err(Error::refused(format!(
        "`{dotted}` is {}, not a literal list, so nixcross cannot edit it safely",
        describe(&v)
    ))
    .at(value.range())
    .hint("write the systems as a literal list, e.g. [ \"aarch64-linux\" ], or edit this line by hand"))
}

/// Where a new `path` binding goes: a set along `path` (the top one, or a
/// plain `boot = { ... }`/`binfmt = { ... }` inside it), how many components
/// of `path` that set consumes, and the entry to insert after (`None`: at
/// the end). The entry chosen is the one whose key shares the longest prefix
/// with `path`; on a tie the deeper set wins, then the later entry. So
/// `boot.binfmt.x` goes next to a dotted `boot.binfmt.y` even when a
/// `boot = { ... }` set exists too: a `binfmt` inside that set would define
/// `binfmt` a second time, which Nix rejects.
fn best_place(
    set: &AttrSetView,
    path: &[&str],
    depth: usize,
) -> (AttrSetView, usize, Option<usize>, usize) {
    // (set, depth, after, score)
    let mut best = (set.clone(), depth, None, depth);
    let better = |c: &(AttrSetView, usize, Option<usize>, usize),
                  b: &(AttrSetView, usize, Option<usize>, usize)| {
        (c.3, c.1) > (b.3, b.1) || ((c.3, c.1) == (b.3, b.1) && c.0.node == b.0.node)
    };
    let rest = &path[depth..];
    for (i, entry) in set.entries.iter().enumerate() {
        let common = match entry {
            Entry::Binding(b) => b
                .static_prefix
                .iter()
                .zip(rest)
                .take_while(|(k, p)| k == p)
                .count(),
            Entry::Inherit(_) => usize::from(entry.defines(rest[0])),
        };
        if common == 0 {
            continue;
        }
        let here = (set.clone(), depth, Some(i), depth + common);
        if better(&here, &best) {
            best = here;
        }
        let Entry::Binding(b) = entry else { continue };
        let Some(key) = &b.path else { continue };
        if key.len() != common || key.len() >= rest.len() {
            continue;
        }
        let Some(inner) = b.value.unparen().attrset() else {
            continue;
        };
        if inner.rec {
            continue;
        }
        let deeper = best_place(&inner, path, depth + key.len());
        if better(&deeper, &best) {
            best = deeper;
        }
    }
    best
}

/// Insert `path = value;` into the best place of `set` (see [`best_place`]).
fn insert_option(src: &str, set: &AttrSetView, path: &[&str], value: &str) -> TextEdit {
    let style = Layout::of(src);
    let (target, depth, after, _) = best_place(set, path, 0);
    let key: Vec<String> = path[depth..].iter().map(|k| syntax::attr_name(k)).collect();
    let mut at = target;
    if let Some(i) = after {
        at.entries.truncate(i + 1);
    }
    module::insert_binding(src, &style, &at, &key.join("."), value, Position::Last)
}

fn add_systems(
    text: &mut String,
    place: Option<&str>,
    systems: &[String],
    warnings: &mut Vec<String>,
) -> Result<Vec<String>> {
    let items: Vec<String> = systems.iter().map(|s| syntax::quote(s)).collect();
    let value = format!("[ {} ]", items.join(" "));
    let root = match locate(text, place, EMULATED)? {
        Located::Root(root) => root,
        Located::NoModule => {
            let name = place.unwrap_or_default();
            let edit = new_module(text, name, "boot.binfmt.emulatedSystems", &value)?;
            *text = edit::apply_checked(text, &[edit])?;
            return Ok(vec![format!(
                "added {} to boot.binfmt.emulatedSystems in a new inline module",
                systems.join(", ")
            )]);
        }
    };
    let path = root.path(EMULATED);
    let dotted = path.join(".");
    let (edit, added) = match find_one(&root.set, &path)? {
        None => (
            insert_option(text, &root.set, &path, &value),
            systems.to_vec(),
        ),
        Some(hit) => {
            let (list, _) = literal_list(&hit.value, &dotted)?;
            let have: HashSet<String> = list
                .items
                .iter()
                .filter_map(|i| i.unparen().string_literal())
                .collect();
            let opaque: Vec<String> = list
                .items
                .iter()
                .filter(|i| i.unparen().string_literal().is_none())
                .map(Node::text)
                .collect();
            if !opaque.is_empty() {
                warnings.push(format!(
                    "`{dotted}` has items nixcross cannot read ({}); check that they do not repeat a system",
                    opaque.join(", ")
                ));
            }
            let added: Vec<String> = systems
                .iter()
                .filter(|s| !have.contains(*s))
                .cloned()
                .collect();
            if added.is_empty() {
                return Ok(Vec::new());
            }
            let items: Vec<String> = added.iter().map(|s| syntax::quote(s)).collect();
            (
                module::append_items(text, &Layout::of(text), &list, &items),
                added,
            )
        }
    };
    *text = edit::apply_checked(text, &[edit])?;
    Ok(vec![format!("added {} to {dotted}", added.join(", "))])
}

fn remove_systems(
    text: &mut String,
    place: Option<&str>,
    systems: &[String],
    warnings: &mut Vec<String>,
) -> Result<Vec<String>> {
    let mut removed = Vec::new();
    let mut gone = false;
    let mut dotted = String::new();
    for system in systems {
        // One item at a time, each against freshly parsed text: removals of
        // neighbours would otherwise plan overlapping deletions.
        let mut found = false;
        loop {
            let Located::Root(root) = locate(text, place, EMULATED)? else {
                break;
            };
            let path = root.path(EMULATED);
            dotted = path.join(".");
            let Some(hit) = find_one(&root.set, &path)? else {
                break;
            };
            let (list, wrapper) = literal_list(&hit.value, &dotted)?;
            let Some(item) = list
                .items
                .iter()
                .find(|i| i.unparen().string_literal().as_deref() == Some(system.as_str()))
            else {
                break;
            };
            let edit = if list.items.len() == 1 && wrapper.is_none() {
                gone = true;
                remove_whole(text, &root, &hit)?
            } else {
                module::remove_item(text, &list, item)
            };
            *text = edit::apply_checked(text, &[edit])?;
            found = true;
        }
        if found {
            removed.push(system.as_str());
        } else {
            let name = if dotted.is_empty() {
                "boot.binfmt.emulatedSystems"
            } else {
                &dotted
            };
            warnings.push(format!("`{system}` is not in {name}; nothing to remove"));
        }
    }
    if removed.is_empty() {
        return Ok(Vec::new());
    }
    let mut s = format!("removed {} from {dotted}", removed.join(", "));
    if gone {
        s.push_str(" (the list is empty now, so the option is gone)");
    }
    Ok(vec![s])
}

fn set_static(text: &mut String, place: Option<&str>, remove: bool) -> Result<Vec<String>> {
    let root = match (locate(text, place, STATIC)?, remove) {
        (Located::Root(root), _) => root,
        (Located::NoModule, true) => return Ok(Vec::new()),
        (Located::NoModule, false) => {
            let name = place.unwrap_or_default();
            let edit = new_module(text, name, "boot.binfmt.preferStaticEmulators", "true")?;
            *text = edit::apply_checked(text, &[edit])?;
            return Ok(vec![format!(
                "set boot.binfmt.preferStaticEmulators = true in a new inline module"
            )]);
        }
    };
    let path = root.path(STATIC);
    let dotted = path.join(".");
    let hit = find_one(&root.set, &path)?;
    let edit = match (hit, remove) {
        (None, false) => insert_option(text, &root.set, &path, "true"),
        (None, true) => return Ok(Vec::new()),
        (Some(hit), _) => {
            let v = hit.value.unparen();
            match (v.text().as_str(), remove) {
                ("true", false) | ("false", true) => return Ok(Vec::new()),
                ("false", false) => TextEdit::replace(v.range(), "true"),
                ("true", true) => remove_whole(text, &root, &hit)?,
                _ => {
                    return Err(Error::refused(format!(
                        "`{dotted}` is {}, not `true` or `false`, so nixcross leaves it alone",
                        describe(&v)
                    ))
                    .at(hit.value.range()))
                }
            }
        }
    };
    *text = edit::apply_checked(text, &[edit])?;
    Ok(vec![if remove {
        format!("removed {dotted}")
    } else {
        format!("set {dotted} = true")
    }])
}

/// The platform a module says it runs on, with the range of the definition.
fn declared_platform(root: &Root) -> Option<(String, (usize, usize), String)> {
    for leaf in ["hostPlatform", "crossSystem", "localSystem", "system"] {
        let path = root.nixpkgs_path(leaf);
        let (hits, _) = module::find_option(&root.set, &path);
        for hit in hits {
            let value = match hit.rest.as_slice() {
                [] => platform_value(&hit.value),
                [k] if k == "system" || k == "config" => string_value(&hit.value),
                _ => None,
            };
            if let Some(v) = value {
                let system = platform::resolve(&v).map(|t| t.system).unwrap_or(v);
                return Some((
                    system,
                    hit.value.range(),
                    format!("its {} says so", path.join(".")),
                ));
            }
        }
    }
    None
}

/// `"x"`, or `lib.mkDefault "x"` / `mkForce` / `mkOverride n "x"`.
fn string_value(value: &Node) -> Option<String> {
    let v = value.unparen();
    if let Some(s) = v.string_literal() {
        return Some(s);
    }
    let (f, args) = v.call()?;
    let r = f.reference()?;
    match (r.last()?.as_str(), args.len()) {
        ("mkDefault" | "mkForce", 1) | ("mkOverride", 2) => args.last()?.unparen().string_literal(),
        _ => None,
    }
}

/// A platform value: a string, or a set with `system` or `config`.
fn platform_value(value: &Node) -> Option<String> {
    if let Some(s) = string_value(value) {
        return Some(s);
    }
    let v = value.unparen();
    let set = match v.attrset() {
        Some(s) => s,
        None => {
            let (f, args) = v.call()?;
            let r = f.reference()?;
            if !matches!(r.last()?.as_str(), "mkDefault" | "mkForce") || args.len() != 1 {
                return None;
            }
            args[0].unparen().attrset()?
        }
    };
    for key in ["system", "config"] {
        for e in &set.entries {
            if let Entry::Binding(b) = e {
                if b.path.as_deref() == Some(&[key.to_string()][..]) {
                    if let Some(s) = b.value.unparen().string_literal() {
                        return Some(s);
                    }
                }
            }
        }
    }
    None
}

fn check_host(
    declared: Option<(String, (usize, usize), String)>,
    systems: &[String],
    opts: &EmulateOptions,
    warnings: &mut Vec<String>,
) -> Result<()> {
    let hint =
        "boot.binfmt.emulatedSystems lists the *other* systems this machine should build for; \
                NixOS fails an assertion when it lists the machine's own system";
    if let Some(host) = &opts.host {
        let host = platform::resolve(host)
            .map_err(|e| {
                let mut err = Error::invalid(format!("--host: {}", e.message));
                err.hints = e.hints;
                err
            })?
            .system;
        if let Some((d, _, why)) = &declared {
            if *d != host {
                warnings.push(format!(
                    "--host {host} disagrees with the file ({d}: {why}); checking against --host"
                ));
            }
        }
        if systems.contains(&host) {
            return Err(Error::invalid(format!(
                "`{host}` is the build host's own system (--host {host}), so it cannot be emulated"
            ))
            .hint(hint));
        }
        return Ok(());
    }
    if let Some((d, range, why)) = declared {
        if systems.contains(&d) {
            return Err(Error::invalid(format!(
                "`{d}` is this machine's own system ({why}), so it cannot be emulated"
            ))
            .at(range)
            .hint(hint));
        }
        return Ok(());
    }
    if let Some(local) = &opts.local_system {
        if systems.contains(local) {
            warnings.push(format!(
                "`{local}` is the system nixcross runs on; if this module is for this machine, \
                 NixOS will refuse to emulate its own system (pass --host to check)"
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(systems: &[&str]) -> EmulateOptions {
        EmulateOptions {
            systems: systems.iter().map(|s| s.to_string()).collect(),
            ..Default::default()
        }
    }

    fn add(src: &str, systems: &[&str]) -> String {
        emulate(src, &opts(systems)).unwrap().text
    }

    fn remove(src: &str, systems: &[&str]) -> String {
        let mut o = opts(systems);
        o.remove = true;
        emulate(src, &o).unwrap().text
    }

    fn err(src: &str, o: &EmulateOptions) -> Error {
        emulate(src, o).unwrap_err()
    }

    #[test]
    fn adds_in_every_shape() {
        let cases: &[(&str, &str)] = &[
            ("{ }", "{ boot.binfmt.emulatedSystems = [ \"aarch64-linux\" ]; }"),
            (
                "{\n  a = 1;\n}\n",
                "{\n  a = 1;\n  boot.binfmt.emulatedSystems = [ \"aarch64-linux\" ];\n}\n",
            ),
            (
                "{ pkgs, ... }:\nlet x = 1; in\n{\n  a = x;\n}\n",
                "{ pkgs, ... }:\nlet x = 1; in\n{\n  a = x;\n  boot.binfmt.emulatedSystems = [ \"aarch64-linux\" ];\n}\n",
            ),
            (
                "{\n  boot = {\n    loader.grub.enable = true;\n  };\n  a = 1;\n}\n",
                "{\n  boot = {\n    loader.grub.enable = true;\n    binfmt.emulatedSystems = [ \"aarch64-linux\" ];\n  };\n  a = 1;\n}\n",
            ),
            (
                "{\n  boot.binfmt = {\n    registrations = { };\n  };\n}\n",
                "{\n  boot.binfmt = {\n    registrations = { };\n    emulatedSystems = [ \"aarch64-linux\" ];\n  };\n}\n",
            ),
            (
                "{\n  boot.loader.grub.enable = true;\n  networking.hostName = \"b\";\n}\n",
                "{\n  boot.loader.grub.enable = true;\n  boot.binfmt.emulatedSystems = [ \"aarch64-linux\" ];\n  networking.hostName = \"b\";\n}\n",
            ),
            (
                "{\n  boot.binfmt.emulatedSystems = [ \"riscv64-linux\" ];\n}\n",
                "{\n  boot.binfmt.emulatedSystems = [ \"riscv64-linux\" \"aarch64-linux\" ];\n}\n",
            ),
            (
                "{\n  boot.binfmt.emulatedSystems = lib.mkForce [ ];\n}\n",
                "{\n  boot.binfmt.emulatedSystems = lib.mkForce [ \"aarch64-linux\" ];\n}\n",
            ),
            (
                "{\n  options = { };\n  config = {\n    a = 1;\n  };\n}\n",
                "{\n  options = { };\n  config = {\n    a = 1;\n    boot.binfmt.emulatedSystems = [ \"aarch64-linux\" ];\n  };\n}\n",
            ),
        ];
        for (src, want) in cases {
            assert_eq!(&add(src, &["aarch64-linux"]), want, "{src}");
            assert_eq!(
                &remove(want, &["aarch64-linux"]),
                src,
                "round trip of {src}"
            );
        }
    }

    #[test]
    fn never_duplicates_and_maps_names() {
        let src = "{ boot.binfmt.emulatedSystems = [ \"aarch64-linux\" ]; }";
        let out = emulate(src, &opts(&["aarch64-linux"])).unwrap();
        assert!(!out.changed);
        assert_eq!(out.text, src);
        // pkgsCross name and triple map to their double, once.
        let out = add(
            "{ }",
            &["riscv64", "riscv64-unknown-linux-gnu", "raspberryPi"],
        );
        assert_eq!(
            out,
            "{ boot.binfmt.emulatedSystems = [ \"riscv64-linux\" \"armv6l-linux\" ]; }"
        );
    }

    #[test]
    fn removes_and_drops_the_empty_binding() {
        let src = "{\n  boot.binfmt.emulatedSystems = [\n    \"aarch64-linux\" # arm\n    \"riscv64-linux\"\n  ];\n  a = 1;\n}\n";
        assert_eq!(
            remove(src, &["aarch64-linux"]),
            "{\n  boot.binfmt.emulatedSystems = [\n    \"riscv64-linux\"\n  ];\n  a = 1;\n}\n"
        );
        assert_eq!(
            remove(src, &["aarch64-linux", "riscv64-linux"]),
            "{\n  a = 1;\n}\n"
        );
        let forced = "{ boot.binfmt.emulatedSystems = lib.mkForce [ \"aarch64-linux\" ]; }";
        assert_eq!(
            remove(forced, &["aarch64-linux"]),
            "{ boot.binfmt.emulatedSystems = lib.mkForce [ ]; }"
        );
        let mut o = opts(&["riscv64-linux"]);
        o.remove = true;
        let out = emulate(src, &o).unwrap();
        assert_eq!(out.warnings.len(), 0);
        let out = emulate("{ }", &o).unwrap();
        assert!(!out.changed);
        assert!(out.warnings[0].contains("nothing to remove"));
    }

    #[test]
    fn static_emulators() {
        let mut o = opts(&["aarch64-linux"]);
        o.static_emulators = true;
        let src = "{\n  a = 1;\n}\n";
        let out = emulate(src, &o).unwrap();
        assert_eq!(
            out.text,
            "{\n  a = 1;\n  boot.binfmt.emulatedSystems = [ \"aarch64-linux\" ];\n  boot.binfmt.preferStaticEmulators = true;\n}\n"
        );
        o.remove = true;
        assert_eq!(emulate(&out.text, &o).unwrap().text, src);
        let o = EmulateOptions {
            static_emulators: true,
            ..Default::default()
        };
        assert_eq!(
            emulate("{ boot.binfmt.preferStaticEmulators = false; }", &o)
                .unwrap()
                .text,
            "{ boot.binfmt.preferStaticEmulators = true; }"
        );
        assert_eq!(
            err("{ boot.binfmt.preferStaticEmulators = x; }", &o).kind,
            crate::ErrorKind::Refused
        );
    }

    #[test]
    fn refuses_what_it_cannot_see() {
        let o = opts(&["aarch64-linux"]);
        for (src, needle) in [
            (
                "{ boot.binfmt.emulatedSystems = lib.optionals x [ ]; }",
                "lib.optionals",
            ),
            ("{ boot.binfmt.emulatedSystems = a ++ [ ]; }", "++"),
            ("{ boot.binfmt.emulatedSystems = xs; }", "variable"),
            ("{ inherit boot; }", "inherited"),
            ("{ boot = { } // x; }", "not a plain"),
            ("{ boot = with x; { }; }", "not a plain"),
            ("{ boot = rec { }; }", "not a plain"),
            ("{ boot = lib.mkIf c { }; }", "not a plain"),
            ("{ lib, ... }: lib.mkIf c { }", "lib.mkIf"),
            ("rec { }", "rec"),
            ("{ config = lib.mkIf c { }; }", "not a plain"),
            ("{ outputs = _: { }; }", "flake"),
        ] {
            let e = err(src, &o);
            assert_eq!(e.kind, crate::ErrorKind::Refused, "{src}");
            assert!(e.message.contains(needle), "{src}: {}", e.message);
            assert!(e.range.is_some(), "{src}");
        }
        let e = err("{ a = ", &o);
        assert_eq!(e.kind, crate::ErrorKind::Parse);
    }

    #[test]
    fn unknown_and_unemulatable_systems() {
        let e = err("{ }", &opts(&["aarch64-linx"]));
        assert_eq!(e.kind, crate::ErrorKind::InvalidInput);
        assert!(
            e.hints[0].contains("did you mean aarch64-linux"),
            "{:?}",
            e.hints
        );
        let e = err("{ }", &opts(&["x86_64-darwin"]));
        assert!(
            e.message.contains("not a system NixOS can emulate"),
            "{}",
            e.message
        );
    }

    #[test]
    fn the_host_cannot_emulate_itself() {
        let mut o = opts(&["x86_64-linux"]);
        o.host = Some("x86_64-linux".into());
        assert_eq!(err("{ }", &o).kind, crate::ErrorKind::InvalidInput);
        for src in [
            "{ nixpkgs.hostPlatform = \"x86_64-linux\"; }",
            "{ lib, ... }: { nixpkgs.hostPlatform = lib.mkDefault \"x86_64-linux\"; }",
            "{ nixpkgs = { system = \"x86_64-linux\"; }; }",
            "{ nixpkgs.hostPlatform.system = \"x86_64-linux\"; }",
            "{ nixpkgs.hostPlatform = { config = \"x86_64-unknown-linux-gnu\"; }; }",
        ] {
            let e = err(src, &opts(&["x86_64-linux"]));
            assert!(e.message.contains("own system"), "{src}");
            assert!(e.range.is_some(), "{src}");
        }
        // Removing the own system is allowed (it repairs the module).
        let mut o = opts(&["x86_64-linux"]);
        o.remove = true;
        o.host = Some("x86_64-linux".into());
        assert!(emulate(
            "{ boot.binfmt.emulatedSystems = [ \"x86_64-linux\" ]; }",
            &o
        )
        .is_ok());
        // Without a stated host, the local system only warns.
        let mut o = opts(&["x86_64-linux"]);
        o.local_system = Some("x86_64-linux".into());
        let out = emulate("{ }", &o).unwrap();
        assert!(out.changed);
        assert!(out.warnings[0].contains("runs on"));
        // Another declared host is fine.
        let out = emulate(
            "{ nixpkgs.hostPlatform = \"aarch64-linux\"; }",
            &opts(&["x86_64-linux"]),
        )
        .unwrap();
        assert!(out.changed);
    }

    const FLAKE: &str = r#"{
  inputs.nixpkgs.url = "github:NixOS/nixpkgs/nixos-unstable";
  outputs = { nixpkgs, ... }: {
    nixosConfigurations.builder = nixpkgs.lib.nixosSystem {
      system = "x86_64-linux";
      modules = [
        ./configuration.nix
        { networking.hostName = "builder"; }
      ];
    };
    nixosConfigurations.bare = nixpkgs.lib.nixosSystem {
      system = "x86_64-linux";
      modules = [ ./bare.nix ];
    };
  };
}
"#;

    fn in_config(name: &str, systems: &[&str], remove: bool) -> Result<EditOutcome> {
        let mut o = opts(systems);
        o.config = Some(name.into());
        o.remove = remove;
        emulate(FLAKE, &o).and_then(|out| {
            if remove {
                return Ok(out);
            }
            // Every addition here must also come out again.
            let mut back = opts(systems);
            back.config = Some(name.into());
            back.remove = true;
            let again = emulate(&out.text, &back)?;
            assert_eq!(again.text, FLAKE, "round trip in `{name}`");
            Ok(out)
        })
    }

    #[test]
    fn flake_configurations() {
        let out = in_config("builder", &["aarch64-linux"], false).unwrap();
        assert!(out
            .text
            .contains("{ networking.hostName = \"builder\"; boot.binfmt.emulatedSystems = [ \"aarch64-linux\" ]; }"),
            "{}", out.text);
        assert!(
            out.warnings[0].contains("cannot see into"),
            "{:?}",
            out.warnings
        );
        let out = in_config("bare", &["riscv64-linux"], false).unwrap();
        assert!(
            out.text.contains("modules = [ { boot.binfmt.emulatedSystems = [ \"riscv64-linux\" ]; } ./bare.nix ];"),
            "{}",
            out.text
        );
        // The configuration's own system is refused, at its name.
        let e = in_config("builder", &["x86_64-linux"], false).unwrap_err();
        assert!(e.message.contains("own system"), "{}", e.message);
        assert_eq!(
            e.range.map(|r| &FLAKE[r.0..r.1]),
            Some("nixosConfigurations.builder")
        );
        let e = in_config("nope", &["aarch64-linux"], false).unwrap_err();
        assert!(e.message.contains("no configuration named"));
        let out = in_config("bare", &["aarch64-linux"], true).unwrap();
        assert!(!out.changed);
    }
}
