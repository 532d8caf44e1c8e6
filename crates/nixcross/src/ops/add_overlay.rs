//! `nixcross add-overlay`: replace packages with an overlay, either for the
//! whole system (`nixpkgs.overlays`) or in a scoped package set that only
//! the modules asking for it use.
//!
//! - `ATTR=PACKAGE` pairs are checked to be attribute paths of identifiers,
//!   so no argument can inject Nix; several pairs make one overlay;
//! - the overlay's argument names follow the flake (`self: super:` when it
//!   already writes overlays that way, else `final: prev:`);
//! - an overlay already in effect is left alone; one nixcross recognises as
//!   setting the same attribute to another package is changed in place
//!   (`gcc=gcc13` after `gcc=gcc12`), not doubled;
//! - `remove` takes attributes out again: the binding, then an overlay left
//!   empty, then a `nixpkgs.overlays` left empty; a scoped set left without
//!   overlays goes with its `specialArgs` entry, its `let` binding and the
//!   module nixcross wrote to use it, so that adding and then removing gives
//!   back the original bytes;
//! - overriding a compiler attribute warns that it does not change
//!   `stdenv.cc` (stdenv overrides come after user overlays).
//!
//! Where a scoped set goes (the rule):
//! - **`let` + `specialArgs`** (the seed's form): `name = import nixpkgs {
//!   localSystem; crossSystem; overlays; }` in a `let` around the outputs,
//!   with the configuration's effective platforms, passed with
//!   `specialArgs = { inherit name; }`, when the configuration's call and
//!   `specialArgs` are its own and `specialArgs` is a literal set (or absent);
//! - **`_module.args`** otherwise: an inline module in the configuration's
//!   modules list, `{ config, ... }: { _module.args.name = import nixpkgs {
//!   localSystem = config.nixpkgs.<build>; crossSystem = config.nixpkgs.<host>;
//!   overlays = [ ... ]; }; }`, which takes the configuration's platforms from
//!   NixOS itself, so it needs to know neither the platforms nor the shape of
//!   `specialArgs`, and follows a later `set-target` by itself;
//! - **`imports` of its own module file** when the modules list is shared
//!   (hosts generated from `./hosts/${name}`) or not a literal list: the same
//!   module, importing `pkgs.path` (the nixpkgs the configuration's `pkgs`
//!   comes from, since the flake's inputs are not in scope there), added to
//!   that file's `imports` (created when the file has none);
//! - **that module file itself** when its `imports` is computed
//!   (`lib.flatten [ ... ]`): the same `_module.args.name = import pkgs.path
//!   { ... };`, as one of its own definitions, with `config` and `pkgs`
//!   added to its function's pattern when it lacks them.
//!
//! A set given through `_module.args` (nixcross's or the user's) is read
//! back as the configuration's, so running again changes nothing, and
//! `--remove` takes out its module (and an `imports` list left empty).

use std::collections::BTreeMap;

use crate::edit::{Claim, Outcome, Plan, TextEdit};
use crate::error::{Error, Result};
use crate::files::{Files, RelPath};
use crate::flake::overlays::{
    attr_path, effective, literal_list, parse_package, parse_pair, used_packages, OverlayView,
    Pair, ScopedVia,
};
use crate::flake::{Flake, ModuleOrigin, SeenStyle};
use crate::module;
use crate::module::list::{self, ListOption, Removal};
use crate::ops::editor::{compact, indent_tail, Planner};
use crate::ops::editor::{Home, ModuleSlot};
use crate::ops::modules::item_holding;
use crate::platform;
use crate::source::Src;
use crate::syntax::{self, Entry, Param};
use crate::vocab::Style;

/// Options for [`add_overlay`].
#[derive(Debug, Clone, Default)]
pub struct AddOverlayOptions {
    /// `ATTR=PACKAGE` pairs, e.g. `gcc=gcc12`; with `remove`, attribute names.
    pub pairs: Vec<String>,
    /// The configuration to edit; may be omitted when there is only one.
    pub config: Option<String>,
    /// Put the overlay in a scoped package set instead of `nixpkgs.overlays`.
    pub scoped: bool,
    /// The scoped set's name (default `pkgs-<package>`).
    pub instance: Option<String>,
    /// Packages of the scoped set to add to `environment.systemPackages`.
    pub uses: Vec<String>,
    /// Take the attributes out instead of adding them.
    pub remove: bool,
}

/// Attributes that name a compiler, a toolchain piece or a stdenv.
pub(crate) fn is_compiler_attr(attr: &str) -> bool {
    let digits_after = |p: &str| {
        attr.strip_prefix(p).is_some_and(|r| {
            let r = r.trim_start_matches('_');
            !r.is_empty() && r.chars().all(|c| c.is_ascii_digit())
        })
    };
    matches!(
        attr,
        "gcc"
            | "clang"
            | "cc"
            | "stdenv"
            | "binutils"
            | "binutils-unwrapped"
            | "bintools"
            | "bintools-unwrapped"
            | "gcc-unwrapped"
            | "clang-unwrapped"
            | "libcCross"
            | "llvm"
            | "lld"
            | "gfortran"
            | "gnat"
    ) || digits_after("gcc")
        || digits_after("clang")
        || digits_after("gfortran")
        || attr.starts_with("llvmPackages")
        || attr.ends_with("Stdenv")
        || attr.starts_with("stdenv")
}

/// `(final: prev: { gcc = final.gcc12; })`.
fn overlay_text(args: &(String, String), pairs: &[Pair]) -> String {
    let body: Vec<String> = pairs
        .iter()
        .map(|p| format!("{} = {}.{};", syntax::attr_name(&p.attr), args.0, p.package))
        .collect();
    format!("({}: {}: {{ {} }})", args.0, args.1, body.join(" "))
}

fn describe(pairs: &[Pair]) -> String {
    pairs
        .iter()
        .map(|p| format!("{} = {}", p.attr, p.package))
        .collect::<Vec<_>>()
        .join(", ")
}

/// NixOS passes these to every module; a scoped set must not take their name.
const MODULE_ARGS: &[&str] = &[
    "config",
    "options",
    "lib",
    "modulesPath",
    "specialArgs",
    "pkgs",
];

pub(crate) fn instance_name(given: Option<&str>, package: &str) -> Result<String> {
    let name = match given {
        Some(n) => n.to_string(),
        None => {
            let last = package.rsplit('.').next().unwrap_or_default();
            format!("pkgs-{last}")
        }
    };
    if name == "pkgs" {
        return Err(Error::invalid(
            "a scoped package set must not be called `pkgs`: passing `pkgs` through specialArgs makes nixpkgs silently ignore nixpkgs.config and nixpkgs.overlays",
        )
        .hint("use another name, e.g. --instance pkgs-gcc12"));
    }
    if !syntax::is_identifier(&name) {
        return Err(Error::invalid(format!("`{name}` cannot be a variable name")).hint(
            "a name such as pkgs-gcc12: letters, digits, `_`, `-` and `'`, not starting with a digit",
        ));
    }
    if syntax::is_builtin_name(&name) {
        return Err(Error::invalid(format!(
            "`{name}` is a Nix builtin: a scoped package set of that name would shadow it in the whole outputs body"
        ))
        .hint("use another name, e.g. --instance pkgs-gcc12"));
    }
    if MODULE_ARGS.contains(&name.as_str()) {
        return Err(Error::invalid(format!(
            "`{name}` is an argument NixOS gives every module; a scoped package set needs its own name"
        )));
    }
    Ok(name)
}

/// What the user asked for, validated.
struct Request {
    pairs: Vec<Pair>,
    /// With `remove`: the attributes to take out.
    attrs: Vec<String>,
    uses: Vec<String>,
    instance: Option<String>,
    /// `--remove --scoped` without `--instance`: the configuration's scoped
    /// set is found when it has one ([`scoped_to_remove_from`]).
    find_instance: bool,
}

fn request(opts: &AddOverlayOptions) -> Result<Request> {
    if opts.pairs.is_empty() {
        return Err(Error::invalid(if opts.remove {
            "name at least one attribute to remove, e.g. gcc"
        } else {
            "give at least one ATTR=PACKAGE pair, e.g. gcc=gcc12"
        }));
    }
    let mut pairs: Vec<Pair> = Vec::new();
    let mut attrs: Vec<String> = Vec::new();
    for s in &opts.pairs {
        if opts.remove {
            let a = attr_path(s, "the attribute", s)?;
            if a.len() != 1 {
                return Err(Error::invalid(format!(
                    "`{s}`: name one attribute, e.g. gcc"
                )));
            }
            if !attrs.contains(s) {
                attrs.push(s.clone());
            }
            continue;
        }
        let p = parse_pair(s)?;
        if let Some(q) = pairs.iter().find(|q| q.attr == p.attr) {
            if q.package != p.package {
                return Err(Error::invalid(format!(
                    "`{}` is given twice, as {} and as {}",
                    p.attr, q.package, p.package
                )));
            }
            continue;
        }
        pairs.push(p);
    }
    let uses: Vec<String> = opts
        .uses
        .iter()
        .map(|u| parse_package(u))
        .collect::<Result<_>>()?;
    if !opts.scoped && (opts.instance.is_some() || !uses.is_empty()) {
        return Err(Error::invalid("--instance and --use need --scoped"));
    }
    if opts.remove && !uses.is_empty() {
        return Err(Error::invalid(
            "--use adds packages; it does not go with --remove",
        ));
    }
    let instance = if opts.scoped {
        let package = pairs.first().map(|p| p.package.as_str());
        match (&opts.instance, package) {
            (Some(i), _) => Some(instance_name(Some(i), "")?),
            (None, Some(p)) => Some(instance_name(None, p)?),
            (None, None) => None,
        }
    } else {
        None
    };
    Ok(Request {
        find_instance: opts.scoped && instance.is_none(),
        pairs,
        attrs,
        uses,
        instance,
    })
}

/// The scoped set `--remove --scoped` without `--instance` takes `attrs`
/// out of: the configuration's only one, or the only one whose overlays
/// replace one of them; otherwise the names to choose from.
fn scoped_to_remove_from(p: &Planner, attrs: &[String]) -> Result<String> {
    let replaces = |s: &&crate::flake::overlays::ScopedSet| {
        s.overlays.iter().any(|o| {
            o.pairs
                .as_ref()
                .is_some_and(|ps| ps.iter().any(|(a, _)| attrs.contains(a)))
        })
    };
    let sets: Vec<&crate::flake::overlays::ScopedSet> = p.sys.scoped.iter().collect();
    let with: Vec<&crate::flake::overlays::ScopedSet> =
        sets.iter().copied().filter(replaces).collect();
    match (sets.as_slice(), with.as_slice()) {
        ([only], _) | (_, [only]) => Ok(only.name.clone()),
        ([], _) => Err(Error::invalid(format!(
            "`{}` receives no scoped package set to remove {} from",
            p.config.name,
            attrs.join(", ")
        ))
        .hint("without --scoped, --remove takes the overlay out of nixpkgs.overlays")),
        _ => {
            let names: Vec<&str> = with
                .iter()
                .copied()
                .chain(if with.is_empty() {
                    sets.clone()
                } else {
                    Vec::new()
                })
                .map(|s| s.name.as_str())
                .collect();
            Err(Error::invalid(format!(
                "`{}` has several scoped package sets ({}); name the one to remove {} from with --instance",
                p.config.name,
                names.join(", "),
                attrs.join(", ")
            )))
        }
    }
}

/// Plan and apply the overlay to the flake `flake` of `files`.
///
/// # Examples
///
/// ```
/// use nixcross::files::{MemFiles, RelPath};
/// use nixcross::ops::add_overlay::{add_overlay, AddOverlayOptions};
///
/// let mut files = MemFiles::new();
/// files.insert(
///     "flake.nix",
///     r#"{
///   outputs = { self, nixpkgs }: {
///     nixosConfigurations.board = nixpkgs.lib.nixosSystem {
///       system = "x86_64-linux";
///       modules = [ ./board.nix ];
///     };
///   };
/// }"#,
/// );
/// files.insert("board.nix", "{ pkgs, ... }: { networking.hostName = \"board\"; }\n");
/// let opts = AddOverlayOptions {
///     pairs: vec!["gcc=gcc12".into()],
///     ..Default::default()
/// };
/// let out = add_overlay(&files, &RelPath::new("flake.nix").unwrap(), &opts)?;
/// let text = out.text_of("flake.nix").expect("flake.nix changes");
/// assert!(text.contains("nixpkgs.overlays = [ (final: prev: { gcc = final.gcc12; }) ];"));
/// # Ok::<(), nixcross::Error>(())
/// ```
pub fn add_overlay(
    files: &dyn Files,
    flake: &RelPath,
    opts: &AddOverlayOptions,
) -> Result<Outcome> {
    plan_add_overlay(files, flake, opts)?.apply(files)
}

/// Plan the overlay without applying it.
pub fn plan_add_overlay(
    files: &dyn Files,
    flake: &RelPath,
    opts: &AddOverlayOptions,
) -> Result<Plan> {
    let mut req = request(opts)?;
    let f = Flake::load(files, flake)?;
    let config = f.select(opts.config.as_deref())?;
    let mut p = Planner::new(&f, config)?;
    if req.find_instance {
        req.instance = Some(scoped_to_remove_from(&p, &req.attrs)?);
    }
    let args = file_overlay_args(&f);
    let summary = match (&req.instance, opts.remove) {
        (None, false) => {
            let added = global_overlay(&mut p, &args, &req.pairs)?;
            if !added.is_empty() {
                p.warnings.push(format!(
                    "nixpkgs.overlays changes the system's whole package set (buildPackages too): everything that depends on {} is rebuilt locally instead of coming from the binary cache; `--scoped` confines the change to the modules that ask for it",
                    added.iter().map(|p| p.attr.as_str()).collect::<Vec<_>>().join(", ")
                ));
            }
            format!("{}: overlay {}", config.name, describe(&req.pairs))
        }
        (None, true) => {
            remove_global(&mut p, &req.attrs)?;
            format!(
                "{}: removed the overlay of {}",
                config.name,
                req.attrs.join(", ")
            )
        }
        (Some(name), false) => {
            let form = scoped_instance(&mut p, &args, &req.pairs, name, &req.uses)?;
            let mut s = format!(
                "{}: scoped package set {name} ({})",
                config.name,
                describe(&req.pairs)
            );
            if !req.uses.is_empty() {
                s.push_str(&format!(", used for {}", req.uses.join(", ")));
            }
            s.push_str(&format!(" ({form})"));
            s
        }
        (Some(name), true) => {
            remove_scoped(&mut p, name, &req.attrs)?;
            format!(
                "{}: removed {} from {name}",
                config.name,
                req.attrs.join(", ")
            )
        }
    };
    for pair in &req.pairs {
        p.claim(Claim::Overlay {
            config: config.name.clone(),
            set: req.instance.clone(),
            attr: pair.attr.clone(),
            package: (!opts.remove).then(|| pair.package.clone()),
        });
    }
    if opts.remove {
        for attr in &req.attrs {
            p.claim(Claim::Overlay {
                config: config.name.clone(),
                set: req.instance.clone(),
                attr: attr.clone(),
                package: None,
            });
        }
    }
    if let (Some(set), false) = (&req.instance, opts.remove) {
        for package in &req.uses {
            p.claim(Claim::Uses {
                config: config.name.clone(),
                set: set.clone(),
                package: package.clone(),
            });
        }
    }
    let changes = !p.is_empty();
    if changes && !opts.remove {
        for pair in &req.pairs {
            if is_compiler_attr(&pair.attr) {
                let stdenv = if pair.package.starts_with("gcc") || pair.package.starts_with("clang")
                {
                    format!("{}Stdenv", pair.package)
                } else {
                    "<compiler>Stdenv".into()
                };
                p.warnings.push(format!(
                    "`{} = {}.{}` does not change `stdenv.cc`, the compiler packages are built with: nixpkgs applies the stdenv's own overrides after user overlays (pkgs/top-level/stage.nix). To build a package with {}, give it another stdenv, e.g. `hello.override {{ stdenv = {stdenv}; }}` or `overrideCC stdenv buildPackages.{}`",
                    pair.attr, args.0, pair.package, pair.package, pair.package
                ));
            }
        }
    }
    Ok(p.finish(summary))
}

/// The overlay argument names the flake already uses, or `final: prev:`.
fn file_overlay_args(f: &Flake) -> (String, String) {
    for c in &f.configs {
        let Some(sys) = c.system() else { continue };
        let found = sys
            .overlays
            .iter()
            .flat_map(|o| o.overlays.iter())
            .chain(sys.scoped.iter().flat_map(|s| s.overlays.iter()))
            .find_map(|o| o.args.clone());
        if let Some(a) = found {
            return a;
        }
    }
    ("final".into(), "prev".into())
}

/// The single binding `attr = <x>.<package>;` of an overlay nixcross
/// recognises, as the overlay's binding node.
fn overlay_binding(o: &OverlayView, attr: &str) -> Option<syntax::Node> {
    let outer = o.node.unparen().lambda()?;
    let inner = outer.body.unparen().lambda()?;
    let set = inner.body.unparen().attrset()?;
    set.entries.iter().find_map(|e| match e {
        Entry::Binding(b) if b.path.as_deref() == Some(&[attr.to_string()][..]) => {
            Some(b.node.clone())
        }
        _ => None,
    })
}

/// Add the pairs to the configuration's `nixpkgs.overlays`; returns the
/// pairs that were not already in effect.
fn global_overlay(p: &mut Planner, args: &(String, String), pairs: &[Pair]) -> Result<Vec<Pair>> {
    let defs = p.sys.overlays.clone();
    let all: Vec<OverlayView> = defs.iter().flat_map(|d| d.overlays.clone()).collect();
    let now = effective(&all);
    let mut missing: Vec<Pair> = Vec::new();
    for pair in pairs {
        if now.get(&pair.attr) == Some(&pair.package) {
            continue;
        }
        // An overlay that sets the attribute already: change it in place.
        let mut changed = false;
        for d in defs.iter().rev() {
            for o in d.overlays.iter().rev() {
                let Some(b) = overlay_binding(o, &pair.attr) else {
                    continue;
                };
                let Some(Entry::Binding(bind)) = b.as_entry() else {
                    continue;
                };
                let Some((a, _)) = &o.args else { continue };
                let Some(r) = bind.value.reference() else {
                    continue;
                };
                if r.len() < 2 || (&r[0] != a && o.args.as_ref().is_none_or(|(_, b)| &r[0] != b)) {
                    continue;
                }
                let src = Src::new(d.site.file, bind.value.clone());
                if !p.private(src.file, src.range()) {
                    continue;
                }
                p.replace_node(
                    &src,
                    &format!("{}.{}", r[0], pair.package),
                    &format!("overlay {} = {}", pair.attr, pair.package),
                )?;
                changed = true;
                break;
            }
            if changed {
                break;
            }
        }
        if !changed {
            missing.push(pair.clone());
        }
    }
    if missing.is_empty() {
        return Ok(pairs
            .iter()
            .filter(|p| now.get(&p.attr) != Some(&p.package))
            .cloned()
            .collect());
    }
    let text = overlay_text(args, &missing);
    let reason = format!("overlay {}", describe(&missing));
    // Append to the last literal overlays list this configuration owns.
    if let Some(d) = defs.iter().rev().find(|d| {
        d.list
            .as_ref()
            .is_some_and(|l| p.private(l.file, l.range()))
    }) {
        let list = d.list.clone().expect("checked");
        let lv = list.node.list().expect("a list");
        let e = list::append(p.text(list.file), p.layout(list.file), &lv, &[text]);
        p.push(list.file, e, &reason);
        return Ok(missing);
    }
    if let Some(d) = defs.iter().find(|d| d.list.is_none()) {
        let value = match d.site.node.as_entry() {
            Some(Entry::Binding(b)) => compact(&b.value.text()),
            _ => "inherited".into(),
        };
        // A definition that is not a list: a new one next to it merges.
        if p.private(d.site.file, d.site.range()) {
            let at = match d.site.node.as_entry() {
                Some(Entry::Binding(b)) => Src::new(d.site.file, b.value.clone()),
                _ => d.site.clone(),
            };
            return Err(p.error_at(
                Error::refused(format!(
                    "nixpkgs.overlays is `{value}`, not a literal list, so nixcross cannot add to it"
                )),
                &at,
            ));
        }
    }
    p.insert_option(
        &["nixpkgs", "overlays"],
        &format!("[ {text} ]"),
        &format!("Overlay for the whole system: {}.", describe(&missing)),
        &reason,
    )?;
    Ok(missing)
}

/// Remove the overlays of `attrs` from `nixpkgs.overlays`: an overlay
/// that sets only them goes from its list (the list as the module-list
/// engine takes items out, `ListOption::remove`), else their bindings go
/// from it.
fn remove_global(p: &mut Planner, attrs: &[String]) -> Result<()> {
    let defs = p.sys.overlays.clone();
    let reason = format!("remove the overlay of {}", attrs.join(", "));
    let mut found = false;
    for d in &defs {
        let Some(list) = &d.list else { continue };
        let Some(Entry::Binding(binding)) = d.site.node.as_entry() else {
            continue;
        };
        let def = ListOption::read(d.site.node.clone(), binding.value.clone());
        let Some((lv, _)) = def.editable() else {
            continue;
        };
        let mut whole: Vec<syntax::Node> = Vec::new();
        for o in &d.overlays {
            let Some(pairs) = &o.pairs else { continue };
            let hits: Vec<&String> = attrs
                .iter()
                .filter(|a| pairs.iter().any(|(x, _)| x == *a))
                .collect();
            if hits.is_empty() {
                continue;
            }
            found = true;
            p.guard(list.file, list.range(), "the overlays list")?;
            if hits.len() == pairs.len() {
                whole.push(item_holding(lv, &o.node));
                continue;
            }
            for a in hits {
                let Some(b) = overlay_binding(o, a) else {
                    continue;
                };
                let Some(set) = b.parent_set() else { continue };
                let e = module::remove_entry(p.text(list.file), &set, b.range());
                p.push(list.file, e, &reason);
            }
        }
        if whole.is_empty() {
            continue;
        }
        match def.remove(p.text(list.file), &whole) {
            Removal::Definition => p.remove_binding(&d.site, &reason)?,
            Removal::Edits(edits) => {
                for e in edits {
                    p.push(list.file, e, &reason);
                }
            }
        }
    }
    if !found {
        p.warnings.push(format!(
            "no overlay nixcross recognises sets {}; nothing to remove",
            attrs.join(", ")
        ));
    }
    Ok(())
}

/// The form a scoped set was written in, for the summary.
fn scoped_instance(
    p: &mut Planner,
    args: &(String, String),
    pairs: &[Pair],
    name: &str,
    uses: &[String],
) -> Result<&'static str> {
    let want: BTreeMap<String, String> = pairs
        .iter()
        .map(|p| (p.attr.clone(), p.package.clone()))
        .collect();
    let (build, host) = match (&p.config.platforms.build, &p.config.platforms.host) {
        (Some(b), Some(h)) => (b.clone(), h.clone()),
        _ => (String::new(), String::new()),
    };
    // The set exists already (passed through specialArgs)?
    if let Some(s) = p.sys.scoped.iter().find(|s| s.name == name).cloned() {
        let same_platforms = s.local.as_deref() == Some(build.as_str())
            && (s.cross.as_deref() == Some(host.as_str()) || (s.cross.is_none() && build == host));
        let same_overlays = effective(&s.overlays) == want;
        if !same_platforms || !same_overlays {
            let what = if !same_platforms {
                format!(
                    "a package set for {} on {}, not {host} on {build} as the configuration",
                    s.cross
                        .as_deref()
                        .or(s.local.as_deref())
                        .unwrap_or("unknown platforms"),
                    s.local.as_deref().unwrap_or("an unknown system")
                )
            } else {
                "a package set with other overlays".to_string()
            };
            let at = s.entry.clone().or(s.import.clone());
            let e = Error::refused(format!(
                "`{name}` already exists here as {what}, not as the package set this command would write"
            ))
            .hint("choose another name with --instance NAME");
            return Err(match at {
                Some(at) => p.error_at(e, &at),
                None => e,
            });
        }
        use_packages(p, name, uses)?;
        return Ok("already there");
    }
    if p.flake.outputs_formals.iter().any(|f| f == name)
        || p.flake.outputs_bind.as_deref() == Some(name)
    {
        let e = Error::refused(format!(
            "`{name}` already exists here as a function argument, not as the package set this command would write"
        ))
        .hint("choose another name with --instance NAME");
        return Err(match formal_src(p, name) {
            Some(at) => p.error_at(e, &at),
            None => e,
        });
    }
    // A specialArgs entry of that name that is not such a package set.
    if let Some(e) = p
        .sys
        .special_args
        .as_ref()
        .and_then(|a| a.entries.get(name))
    {
        let err = Error::refused(format!(
            "`{name}` already exists here as a specialArgs entry, not as the package set this command would write"
        ))
        .hint("choose another name with --instance NAME");
        return Err(match &e.def {
            Some(at) => p.error_at(err, at),
            None => err,
        });
    }
    let nixpkgs = nixpkgs_ref(p);
    // The seed's form when it applies cleanly: the `let` around the outputs
    // body must be in scope where the arguments are written.
    let seed_form = !build.is_empty()
        && special_args_editable(p)
        && p.sys
            .args
            .as_ref()
            .is_some_and(|a| p.outputs_let_reaches(a, name));
    if seed_form {
        let nixpkgs = nixpkgs.clone()?;
        if let Some(existing) = p.outputs_let_binding(name) {
            let file = p.flake.file;
            match let_instance_difference(&existing, &build, &host, &want, &nixpkgs) {
                None => {
                    // The same set is there already: pass it.
                    special_args_entry(p, name)?;
                    use_packages(p, name, uses)?;
                    return Ok("passed through specialArgs");
                }
                Some(why) => {
                    return Err(p.error_at(
                        Error::refused(format!(
                            "`{name}` already exists here as `{}` ({why})",
                            short(&existing.text())
                        ))
                        .hint("choose another name with --instance NAME"),
                        &Src::new(file, existing),
                    ));
                }
            }
        }
        let mut text = format!("{name} = import {nixpkgs} {{\n");
        text.push_str(&format!("  localSystem = {};\n", syntax::quote(&build)));
        if build != host {
            text.push_str(&format!(
                "  crossSystem = {};\n",
                indent_tail(&cross_text(p, &host)?)
            ));
        }
        text.push_str(&format!(
            "  overlays = [\n    {}\n  ];\n}};",
            overlay_text(args, pairs)
        ));
        let comment = format!(
            "A package set with {}, only for the modules that take `{name}`.",
            describe(pairs)
        );
        let reason = format!("scoped package set {name}");
        p.insert_outputs_let(&comment, &text, &reason)?;
        special_args_entry(p, name)?;
        use_packages(p, name, uses)?;
        return Ok("passed through specialArgs");
    }
    // `_module.args`, built from the configuration's own platforms.
    let (local, cross) = match p.config.platforms.style {
        Some(SeenStyle::One(Style::Modern)) => (
            "config.nixpkgs.buildPlatform",
            "config.nixpkgs.hostPlatform",
        ),
        _ => ("config.nixpkgs.localSystem", "config.nixpkgs.crossSystem"),
    };
    if p.config.platforms.style.is_none() {
        return Err(Error::refused(format!(
            "`{}` sets no platform, so a package set cannot take the configuration's",
            p.config.name
        ))
        .hint("set one first, e.g. `nixcross set-target riscv64-linux --mode cross`"));
    }
    // The flake's own nixpkgs input in flake.nix; in another file, the
    // nixpkgs the configuration's `pkgs` comes from.
    let slot = match p.module_slot() {
        Ok(slot) => slot,
        Err(no_slot) => {
            let value = format!(
                "import pkgs.path {{\n  localSystem = {local};\n  crossSystem = {cross};\n  overlays = [\n    {}\n  ];\n}}",
                overlay_text(args, pairs)
            );
            module_args_in_own_file(p, name, &value).ok_or(no_slot)?;
            use_packages(p, name, uses)?;
            return Ok("given to the modules through _module.args");
        }
    };
    let (formals, source) = match slot {
        ModuleSlot::List(list) if list.file == p.flake.file => ("config", nixpkgs?),
        _ => ("config, pkgs", "pkgs.path".to_string()),
    };
    let module = format!(
        "{{ {formals}, ... }}: {{\n  _module.args.{name} = import {source} {{\n    localSystem = {local};\n    crossSystem = {cross};\n    overlays = [\n      {}\n    ];\n  }};\n}}",
        overlay_text(args, pairs)
    );
    p.add_module_after_inline(
        &format!(
            "A package set with {}, on this configuration's platforms, for the modules that take `{name}`.",
            describe(pairs)
        ),
        &format!("({module})"),
        &format!("scoped package set {name} (_module.args)"),
    )?;
    use_packages(p, name, uses)?;
    Ok("given to the modules through _module.args")
}

/// `_module.args.<name> = <value>;` written into the configuration's own
/// module file itself, when that file has no literal `imports` list a new
/// module could join (`imports = lib.flatten [ ... ]`): its function takes
/// `config` and `pkgs` (they are added to its pattern when missing).
/// `None` when there is no such file, or its module is not a function with
/// a pattern.
fn module_args_in_own_file(p: &mut Planner, name: &str, value: &str) -> Option<()> {
    let Some(Home::Module {
        file, body, full, ..
    }) = p.own_file_module()
    else {
        return None;
    };
    let Some(Param::Pattern { formals, .. }) = &body.formals else {
        return None;
    };
    let lambda = body.expr.let_layers().1;
    let reason = format!("scoped package set {name} (_module.args)");
    for needed in ["config", "pkgs"] {
        if !formals.iter().any(|f| f.name == needed) {
            let e = module::insert_formal(p.text(file), p.layout(file), &lambda, needed)?;
            p.push(file, e, &reason);
        }
    }
    let mut path = Vec::new();
    if full {
        path.push("config");
    }
    path.extend(["_module", "args", name]);
    let e = module::insert_at_path(p.text(file), p.layout(file), &body.set, &path, value);
    p.push(file, e, &reason);
    Some(())
}

/// Where the outputs function takes `name`.
fn formal_src(p: &Planner, name: &str) -> Option<Src> {
    let body = p.flake.outputs_body.as_ref()?;
    let lambda = body.node.parent()?;
    let l = lambda.lambda()?;
    match &l.param {
        Param::Pattern { formals, .. } => formals.iter().find(|f| f.name == name).map(|f| {
            let n = lambda.find_covering(f.range).unwrap_or(lambda.clone());
            Src::new(body.file, n)
        }),
        Param::Ident { .. } => Some(Src::new(body.file, lambda.clone())),
    }
}

/// How a `let`-bound `import <nixpkgs> { ... }` differs from the wanted
/// package set, read from its literals; `None` when it means the same.
fn let_instance_difference(
    expr: &syntax::Node,
    build: &str,
    host: &str,
    want: &BTreeMap<String, String>,
    nixpkgs: &str,
) -> Option<String> {
    let Some((f, a)) = expr.unparen().call() else {
        return Some("it is not `import nixpkgs { ... }`".into());
    };
    if f.reference().as_deref() != Some(&["import".to_string()][..]) || a.len() != 2 {
        return Some("it is not `import nixpkgs { ... }`".into());
    }
    let source = a[0].reference().and_then(|r| r.last().cloned());
    if source.as_deref() != nixpkgs.rsplit('.').next() {
        return Some(format!("it does not import `{nixpkgs}`"));
    }
    let Some(args) = a[1].unparen().attrset() else {
        return Some("its argument is not a literal set".into());
    };
    let value = |keys: &[&str]| {
        args.entries.iter().find_map(|e| match e {
            Entry::Binding(b) => match b.path.as_deref() {
                Some([k]) if keys.contains(&k.as_str()) => Some(b.value.clone()),
                _ => None,
            },
            _ => None,
        })
    };
    let double = |n: Option<syntax::Node>| -> Option<String> {
        let n = n?.unparen();
        let s = match n.string_literal() {
            Some(s) => s,
            None => n.attrset()?.entries.iter().find_map(|e| match e {
                Entry::Binding(b) if matches!(b.path.as_deref(), Some([k]) if k == "system" || k == "config") => {
                    b.value.string_literal()
                }
                _ => None,
            })?,
        };
        platform::resolve(&s).ok().map(|t| t.system)
    };
    let local = double(value(&["localSystem", "system"]));
    if local.as_deref() != Some(build) {
        return Some(format!(
            "its localSystem is {}, the configuration builds on {build}",
            local.as_deref().unwrap_or("unknown")
        ));
    }
    let cross = value(&["crossSystem"]).map(|c| double(Some(c)));
    match cross {
        None if build == host => {}
        Some(Some(c)) if c == host => {}
        _ if build != host => {
            return Some(format!(
                "it is not cross-compiled for {host} as the configuration is"
            ))
        }
        _ => return Some("it is cross-compiled, and the configuration is not".into()),
    }
    let overlays = value(&["overlays"])
        .and_then(|v| literal_list(&v))
        .and_then(|l| l.list())
        .map(|l| {
            effective(
                &l.items
                    .iter()
                    .map(crate::flake::overlays::read_overlay)
                    .collect::<Vec<_>>(),
            )
        });
    if overlays.as_ref() != Some(want) {
        return Some("its overlays are not the ones asked for".into());
    }
    None
}

/// Whether `specialArgs` can take a new entry: the call and its arguments
/// are this configuration's own, and `specialArgs` is a literal set or absent.
fn special_args_editable(p: &Planner) -> bool {
    let Some(args) = &p.sys.args else {
        return false;
    };
    if !p.private(args.file, args.range()) {
        return false;
    }
    match &p.sys.special_args_binding {
        None => true,
        Some(site) => match site.node.as_entry() {
            Some(Entry::Binding(b)) if b.path.as_ref().is_some_and(|k| k.len() == 1) => {
                b.value.unparen().attrset().is_some_and(|s| !s.rec)
            }
            // `specialArgs.x = ...;`: another dotted entry joins it.
            Some(Entry::Binding(b)) => b.path.as_ref().is_some_and(|k| k.len() == 2),
            _ => false,
        },
    }
}

/// `specialArgs = { inherit name; };`, or `name` added to it.
fn special_args_entry(p: &mut Planner, name: &str) -> Result<()> {
    let reason = format!("pass {name} through specialArgs");
    let Some(site) = p.sys.special_args_binding.clone() else {
        return p.insert_arg_before_modules(
            "specialArgs",
            &format!("{{\n  inherit {name};\n}}"),
            &reason,
        );
    };
    let Some(Entry::Binding(b)) = site.node.as_entry() else {
        return Err(Error::internal("specialArgs is not a binding"));
    };
    if b.path.as_ref().is_some_and(|k| k.len() == 2) {
        return p.insert_after(&site, &format!("specialArgs.{name}"), name, &reason);
    }
    let set = b
        .value
        .unparen()
        .attrset()
        .ok_or_else(|| Error::internal("specialArgs is not a set"))?;
    if set.entries.iter().any(|e| e.defines(name)) {
        return Ok(());
    }
    if let Some(e) = set.entries.iter().find(|e| e.is_dynamic()) {
        return Err(p.error_at(
            Error::refused(
                "specialArgs has a dynamic name (`${...}`), which could already define this name",
            ),
            &Src::new(
                site.file,
                match e {
                    Entry::Binding(b) => b.node.clone(),
                    Entry::Inherit(i) => i.node.clone(),
                },
            ),
        ));
    }
    p.guard(site.file, site.range(), "specialArgs")?;
    let last_inherit = set.entries.iter().rev().find_map(|e| match e {
        Entry::Inherit(i) if i.from.is_none() && !i.names.is_empty() => {
            Some(i.names.last().expect("names").1 .1)
        }
        _ => None,
    });
    let src = p.text(site.file);
    let e = match last_inherit {
        Some(at) => TextEdit::insert(at, format!(" {name}")),
        None => module::insert_entry(
            src,
            p.layout(site.file),
            &set,
            &format!("inherit {name};"),
            module::Position::Last,
        ),
    };
    p.push(site.file, e, &reason);
    Ok(())
}

/// The crossSystem value for the set: the example when the configuration
/// uses one that carries more than a config, else `{ config = "<triple>"; }`.
fn cross_text(p: &Planner, host: &str) -> Result<String> {
    let lib = p.call_lib();
    for d in p.sys.definitions.iter().filter(|d| {
        matches!(
            d.option,
            crate::flake::PlatformOption::CrossSystem | crate::flake::PlatformOption::HostPlatform
        )
    }) {
        let Some(site) = &d.site else { continue };
        let Some(Entry::Binding(b)) = site.node.as_entry() else {
            continue;
        };
        let v = b.value.unparen();
        if let Some(r) = v.reference() {
            if r.len() >= 3 && r[r.len() - 3] == "systems" && r[r.len() - 2] == "examples" {
                let name = r.last().expect("checked");
                if platform::catalogue()
                    .example(name)
                    .is_some_and(|e| !e.extra.is_empty())
                {
                    return Ok(format!("{lib}.systems.examples.{name}"));
                }
            }
        }
        if let Some(lit) = &d.literal {
            if let Some(v) = lit.node.string_literal() {
                if v.split('-').count() >= 3 {
                    return Ok(format!("{{\n  config = {};\n}}", syntax::quote(&v)));
                }
            }
        }
    }
    let triple = platform::resolve(host)?.config;
    Ok(format!("{{\n  config = {};\n}}", syntax::quote(&triple)))
}

/// The expression for nixpkgs that is in scope around the outputs body: the
/// configuration's own input (`nixpkgs`, `inputs.nixpkgs`, ...).
fn nixpkgs_ref(p: &Planner) -> Result<String> {
    let input = p.sys.input.clone();
    let f = p.flake;
    if f.outputs_formals.iter().any(|n| n == &input) {
        return Ok(input);
    }
    if let Some(b) = &f.outputs_bind {
        return Ok(format!("{b}.{input}"));
    }
    let lib = p.call_lib();
    if let Some(r) = lib.strip_suffix(".lib") {
        return Ok(r.to_string());
    }
    Err(Error::refused(format!(
        "cannot tell how to reach the input `{input}` around the outputs (no `{input}` argument and no `inputs@`)"
    )))
}

/// Modules that use the set: `environment.systemPackages = [ <name>.<pkg> ];`.
fn use_packages(p: &mut Planner, name: &str, uses: &[String]) -> Result<()> {
    let lists: Vec<Src> = p.sys.package_lists.iter().map(|(_, s)| s.clone()).collect();
    let have = used_packages(&lists, name);
    let mut missing: Vec<String> = Vec::new();
    for u in uses {
        if !have.contains(u) && !missing.contains(u) {
            missing.push(u.clone());
        }
    }
    if missing.is_empty() {
        return Ok(());
    }
    let items: Vec<String> = missing.iter().map(|u| format!("{name}.{u}")).collect();
    let reason = format!("use {} from {name}", missing.join(", "));
    // A module of this configuration that takes the set and lists packages.
    for (i, site) in p.sys.package_lists.clone() {
        let m = &p.sys.modules[i];
        let takes = m
            .expr
            .as_ref()
            .and_then(|e| module::module_body(&e.node))
            .and_then(|b| b.formals)
            .is_some_and(|f: Param| f.names().contains(&name));
        if !takes || !p.private(site.file, site.range()) {
            continue;
        }
        let Some(Entry::Binding(b)) = site.node.as_entry() else {
            continue;
        };
        let Some(list) = literal_list(&b.value).and_then(|l| l.list()) else {
            continue;
        };
        let e = list::append(p.text(site.file), p.layout(site.file), &list, &items);
        p.push(site.file, e, &reason);
        return Ok(());
    }
    let module = format!(
        "({{ {name}, ... }}: {{\n  environment.systemPackages = [ {} ];\n}})",
        items.join(" ")
    );
    p.add_module_after_inline(&format!("Packages built with `{name}`."), &module, &reason)
}

/// Remove `attrs` from the scoped set `name`; a set left without overlays
/// goes, with what passes and uses it.
fn remove_scoped(p: &mut Planner, name: &str, attrs: &[String]) -> Result<()> {
    let Some(s) = p.sys.scoped.iter().find(|s| s.name == name).cloned() else {
        let w = format!(
            "`{}` receives no scoped package set `{name}`; nothing to remove",
            p.config.name
        );
        p.warnings.push(w);
        return Ok(());
    };
    let reason = format!("remove {} from {name}", attrs.join(", "));
    let pairs: Vec<(String, String)> = s
        .overlays
        .iter()
        .flat_map(|o| o.pairs.clone().unwrap_or_default())
        .collect();
    let left: Vec<&(String, String)> = pairs.iter().filter(|(a, _)| !attrs.contains(a)).collect();
    let readable = s.overlays.iter().all(|o| o.pairs.is_some());
    if left.is_empty() && readable {
        // The whole set goes: its let binding, its specialArgs entry, and the
        // modules nixcross wrote to use it.
        let Some(entry) = s.entry.clone() else {
            return Err(Error::refused(format!(
                "nixcross cannot see where `{name}` is passed"
            )));
        };
        let import = s.import.clone().ok_or_else(|| {
            Error::refused(format!("nixcross cannot see where `{name}` is defined"))
        })?;
        p.guard(
            import.file,
            import.range(),
            &format!("the package set `{name}`"),
        )?;
        // Inline modules that go whole, taken out together (an `imports`
        // list they leave empty goes too).
        let mut whole: Vec<usize> = Vec::new();
        match s.via {
            // `_module.args.name = ...;`, and its module when that is all
            // it holds.
            ScopedVia::ModuleArgs => match p.inline_module_holding_only(&entry) {
                Some(i) => whole.push(i),
                None => p.remove_binding(&entry, &reason)?,
            },
            ScopedVia::SpecialArgs => {
                // specialArgs: `inherit a name b;` loses one name; `inherit name;` goes.
                match entry.node.as_entry() {
                    Some(Entry::Inherit(i)) if i.names.len() > 1 => {
                        let (_, r) = i
                            .names
                            .iter()
                            .find(|(n, _)| n == name)
                            .expect("inherits it");
                        let src = p.text(entry.file);
                        let start = src[..r.0].trim_end_matches([' ', '\t']).len();
                        p.guard(entry.file, entry.range(), "specialArgs")?;
                        p.push(entry.file, TextEdit::delete((start, r.1)), &reason);
                    }
                    _ => {
                        let set_is_single = entry
                            .node
                            .parent_set()
                            .is_some_and(|s| s.entries.len() == 1);
                        match (&p.sys.special_args_binding, set_is_single) {
                            (Some(sa), true) => p.remove_binding(sa, &reason)?,
                            _ => p.remove_binding(&entry, &reason)?,
                        }
                    }
                }
                // The let binding (`name = import nixpkgs { ... };`).
                if let Some(holder) = import.node.holding_entry() {
                    let binding = Src::new(import.file, holder.clone());
                    if let Some(set) = holder.parent_set() {
                        if set.entries.len() == 1 {
                            // The only binding of the `let`: the whole `let ... in `.
                            let src = p.text(import.file);
                            let body_start = set
                                .node
                                .let_in()
                                .map(|l| l.body.start())
                                .unwrap_or(set.close);
                            let start = set.node.start();
                            let _ = src;
                            p.push(import.file, TextEdit::delete((start, body_start)), &reason);
                        } else {
                            let src = p.text(import.file);
                            let e = module::remove_entry(src, &set, binding.range());
                            p.push(import.file, e, &reason);
                        }
                    }
                }
            }
        }
        // Modules that only list packages of the set.
        for (i, m) in p.sys.modules.clone().into_iter().enumerate() {
            let ModuleOrigin::Inline(src) = &m.origin else {
                continue;
            };
            let Some(body) = module::module_body(&src.node) else {
                continue;
            };
            let only_name = matches!(&body.formals, Some(Param::Pattern { formals, .. }) if formals.len() == 1 && formals[0].name == name);
            if !only_name || body.set.entries.len() != 1 {
                continue;
            }
            whole.push(i);
        }
        p.remove_inline_modules(&whole, &reason)?;
        return Ok(());
    }
    // Only some overlays go.
    let Some(site) = &s.overlays_site else {
        return Ok(());
    };
    let Some(Entry::Binding(b)) = site.node.as_entry() else {
        return Ok(());
    };
    let Some(lv) = literal_list(&b.value).and_then(|l| l.list()) else {
        return Ok(());
    };
    for o in &s.overlays {
        let Some(op) = &o.pairs else { continue };
        let hits: Vec<&String> = attrs
            .iter()
            .filter(|a| op.iter().any(|(x, _)| x == *a))
            .collect();
        if hits.is_empty() {
            continue;
        }
        p.guard(
            site.file,
            site.range(),
            &format!("the package set `{name}`"),
        )?;
        if hits.len() == op.len() {
            let item = item_holding(&lv, &o.node);
            let e = module::remove_item(p.text(site.file), &lv, &item);
            p.push(site.file, e, &reason);
        } else {
            for a in hits {
                let Some(bn) = overlay_binding(o, a) else {
                    continue;
                };
                let Some(set) = bn.parent_set() else { continue };
                let e = module::remove_entry(p.text(site.file), &set, bn.range());
                p.push(site.file, e, &reason);
            }
        }
    }
    Ok(())
}

fn short(s: &str) -> String {
    let one = compact(s);
    if one.chars().count() > 40 {
        format!("{}...", one.chars().take(37).collect::<String>())
    } else {
        one
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flake::overlays::read_overlay;

    #[test]
    fn pairs_are_attribute_paths() {
        assert_eq!(
            parse_pair("gcc=gcc12").unwrap(),
            Pair {
                attr: "gcc".into(),
                package: "gcc12".into()
            }
        );
        assert_eq!(
            parse_pair("clang=llvmPackages_15.clang").unwrap().package,
            "llvmPackages_15.clang"
        );
        for bad in [
            "gcc",
            "gcc=",
            "=gcc12",
            "gcc=gcc12; }; x = {",
            "gcc=${x}",
            "gcc=\"a\"",
            "a.b=gcc12",
            "gcc=gcc12.",
            "gcc=1x",
            "gcc=let",
            "g cc=gcc12",
            "gcc=gcc12 x",
        ] {
            assert!(parse_pair(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn compiler_attributes() {
        for a in [
            "gcc",
            "gcc12",
            "clang_15",
            "stdenv",
            "gcc12Stdenv",
            "binutils",
            "cc",
            "llvmPackages",
        ] {
            assert!(is_compiler_attr(a), "{a}");
        }
        for a in ["hello", "gccgo-thing", "ccache", "python3"] {
            assert!(!is_compiler_attr(a), "{a}");
        }
    }

    #[test]
    fn reads_overlays_in_any_layout() {
        for src in [
            "(final: prev: { gcc = final.gcc12; })",
            "(self: super: {\n  gcc = self.gcc12;\n})",
            "(a: b: { inherit (a) gcc12; gcc = b.gcc12; })",
        ] {
            let n = syntax::parse(src).unwrap().expr().unwrap();
            let o = read_overlay(&n);
            let map = effective(std::slice::from_ref(&o));
            assert_eq!(map.get("gcc").map(String::as_str), Some("gcc12"), "{src}");
            assert!(overlay_binding(&o, "gcc").is_some());
        }
        let n = syntax::parse("(import ./o.nix)").unwrap().expr().unwrap();
        assert!(read_overlay(&n).pairs.is_none());
    }

    #[test]
    fn instance_names() {
        assert_eq!(instance_name(None, "gcc12").unwrap(), "pkgs-gcc12");
        assert!(instance_name(Some("pkgs"), "").is_err());
        assert!(instance_name(Some("lib"), "").is_err());
        assert!(instance_name(Some("a b"), "").is_err());
        assert!(instance_name(Some("x; y"), "").is_err());
        for builtin in [
            "import",
            "builtins",
            "map",
            "toString",
            "throw",
            "derivation",
            "scopedImport",
            "__add",
        ] {
            let err = instance_name(Some(builtin), "").unwrap_err();
            assert!(err.message.contains("Nix builtin"), "{builtin}: {err:?}");
        }
    }
}
