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

mod global;
use global::*;
mod scoped;
use scoped::*;

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
                p.core.warnings.push(format!(
                    "nixpkgs.overlays changes the system's whole package set (buildPackages too): everything that depends on {} is rebuilt locally instead of coming from the binary cache; `--scoped` confines the change to the modules that ask for it",
                    added.iter().map(|p| p.attr.as_str()).collect::<Vec<_>>().join(", ")
                ).into());
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
    let changes = !p.core.is_empty();
    if changes && !opts.remove {
        for pair in &req.pairs {
            if is_compiler_attr(&pair.attr) {
                let stdenv = if pair.package.starts_with("gcc") || pair.package.starts_with("clang")
                {
                    format!("{}Stdenv", pair.package)
                } else {
                    "<compiler>Stdenv".into()
                };
                p.core.warnings.push(format!(
                    "`{} = {}.{}` does not change `stdenv.cc`, the compiler packages are built with: nixpkgs applies the stdenv's own overrides after user overlays (pkgs/top-level/stage.nix). To build a package with {}, give it another stdenv, e.g. `hello.override {{ stdenv = {stdenv}; }}` or `overrideCC stdenv buildPackages.{}`",
                    pair.attr, args.0, pair.package, pair.package, pair.package
                ).into());
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
