//! `nixcross add-overlay`: replace packages with an overlay, either for the
//! whole system (`nixpkgs.overlays`) or in a scoped package set
//! (`pkgs-gcc12 = import nixpkgs { ... overlays = [ ... ]; }` in a `let`
//! around the outputs, passed to the modules through `specialArgs`).
//!
//! - `ATTR=PACKAGE` pairs are checked to be attribute paths of identifiers,
//!   so no argument can inject Nix; several pairs make one overlay;
//! - the overlay's argument names follow the file (`self: super:` when the
//!   file already writes overlays that way, else `final: prev:`);
//! - overlays already in effect, and a scoped set that already means the same
//!   thing (whatever its layout), are recognised and left alone;
//! - overriding a compiler attribute warns that it does not change
//!   `stdenv.cc` (FACTS.md: stdenv overrides come after user overlays).

use std::collections::BTreeMap;

use crate::error::{Error, Result};
use crate::flake::{self, Bound, Call, Config, Flake, PlatformExpr, PlatformOption, Scopes};
use crate::module;
use crate::ops::editor::{compact, indent_tail, Planner};
use crate::ops::EditOutcome;
use crate::platform;
use crate::syntax::{self, Entry, Node, Param};

/// Options for [`add_overlay`].
#[derive(Debug, Clone, Default)]
pub struct AddOverlayOptions {
    /// `ATTR=PACKAGE` pairs, e.g. `gcc=gcc12`.
    pub pairs: Vec<String>,
    /// The configuration to edit; may be omitted when there is only one.
    pub config: Option<String>,
    /// Put the overlay in a scoped package set instead of `nixpkgs.overlays`.
    pub scoped: bool,
    /// The scoped set's name (default `pkgs-<package>`).
    pub instance: Option<String>,
    /// Packages of the scoped set to add to `environment.systemPackages`.
    pub uses: Vec<String>,
}

/// One `ATTR=PACKAGE` pair: `attr = final.<package>;`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pair {
    pub attr: String,
    /// A dotted attribute path, e.g. `gcc12` or `llvmPackages_15.clang`.
    pub package: String,
}

fn attr_path(s: &str, what: &str, whole: &str) -> Result<Vec<String>> {
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
pub fn parse_pair(s: &str) -> Result<Pair> {
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
pub fn parse_package(s: &str) -> Result<String> {
    attr_path(s, "the package", s).map(|_| s.to_string())
}

/// Attributes that name a compiler, a toolchain piece or a stdenv.
pub fn is_compiler_attr(attr: &str) -> bool {
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

/// An overlay as written in the file.
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

/// The `attr -> package` map that a list of overlays has in effect (later
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

/// Where a configuration's inline modules set `nixpkgs.overlays`.
#[derive(Debug, Clone)]
pub struct ModuleOverlays {
    /// Index in [`Call::inline_modules`].
    pub module: usize,
    /// The value as written.
    pub value: Node,
    /// The literal list, when the value is one (after `mkDefault`/`mkForce`).
    pub list: Option<syntax::ListView>,
    pub overlays: Vec<OverlayView>,
}

/// Every `nixpkgs.overlays` definition in the configuration's inline modules.
pub fn module_overlays(call: &Call) -> Vec<ModuleOverlays> {
    let mut out = Vec::new();
    for (i, m) in call.inline_modules.iter().enumerate() {
        let (hits, _) = module::find_option(&m.set, &["nixpkgs", "overlays"]);
        for hit in hits.into_iter().filter(|h| h.rest.is_empty()) {
            let list = flake::unwrap_priority(&hit.value).list();
            let overlays = list
                .iter()
                .flat_map(|l| l.items.iter().map(read_overlay))
                .collect();
            out.push(ModuleOverlays {
                module: i,
                value: hit.value.clone(),
                list,
                overlays,
            });
        }
    }
    out
}

/// The overlays of an `import nixpkgs { overlays = [ ... ]; }` argument set.
fn instance_overlays(args: &syntax::AttrSetView) -> Option<Vec<OverlayView>> {
    let v = key(args, &["overlays"])?;
    let list = v.unparen().list()?;
    Some(list.items.iter().map(read_overlay).collect())
}

fn key(set: &syntax::AttrSetView, keys: &[&str]) -> Option<Node> {
    set.entries.iter().find_map(|e| match e {
        Entry::Binding(b) => match b.path.as_deref() {
            Some([k]) if keys.contains(&k.as_str()) => Some(b.value.clone()),
            _ => None,
        },
        _ => None,
    })
}

/// A scoped package set as `show` reports it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ScopedReport {
    pub name: String,
    /// The building system, as a double.
    pub local_system: Option<String>,
    /// The host system, as a double; `None` when the set is not cross.
    pub cross_system: Option<String>,
    /// `attr -> package` of its overlays.
    pub overlays: BTreeMap<String, String>,
    /// Packages of the set the inline modules add to `environment.systemPackages`.
    pub uses: Vec<String>,
}

/// The packages of `name` listed in `environment.systemPackages` of the
/// configuration's inline modules.
pub fn used_packages(call: &Call, name: &str) -> Vec<String> {
    let mut out = Vec::new();
    for m in &call.inline_modules {
        let (hits, _) = module::find_option(&m.set, &["environment", "systemPackages"]);
        for hit in hits.iter().filter(|h| h.rest.is_empty()) {
            let Some(list) = flake::unwrap_priority(&hit.value).list() else {
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
    }
    out
}

/// The global overlays (`attr -> package`) and scoped package sets of a
/// configuration, for `show`.
pub fn report(config: &Config) -> (BTreeMap<String, String>, Vec<ScopedReport>) {
    let Some(call) = &config.call else {
        return (BTreeMap::new(), Vec::new());
    };
    let all: Vec<OverlayView> = module_overlays(call)
        .into_iter()
        .flat_map(|m| m.overlays)
        .collect();
    let scoped = flake::scoped_instances(call)
        .into_iter()
        .map(|inst| {
            let system = |kv: &Option<flake::KeyValue>| -> Option<String> {
                kv.as_ref()
                    .and_then(|kv| flake::read_platform(&kv.value, &call.scopes).1)
            };
            ScopedReport {
                local_system: system(&inst.local),
                cross_system: system(&inst.cross),
                overlays: effective(&instance_overlays(&inst.args).unwrap_or_default()),
                uses: used_packages(call, &inst.name),
                name: inst.name,
            }
        })
        .collect();
    (effective(&all), scoped)
}

/// The overlay argument names the file already uses, or `final: prev:`.
fn file_overlay_args(flake: &Flake) -> (String, String) {
    let mut found = Vec::new();
    for c in &flake.configs {
        if let Some(call) = &c.call {
            found.extend(module_overlays(call).into_iter().flat_map(|m| m.overlays));
            for inst in flake::scoped_instances(call) {
                found.extend(instance_overlays(&inst.args).unwrap_or_default());
            }
        }
    }
    for l in &flake.outputs_lets {
        for e in &l.entries {
            if let Entry::Binding(b) = e {
                if let Some(args) = flake::import_args(&b.value) {
                    found.extend(instance_overlays(&args).unwrap_or_default());
                }
            }
        }
    }
    found
        .into_iter()
        .find_map(|o| o.args)
        .unwrap_or_else(|| ("final".into(), "prev".into()))
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

/// Plan and apply the overlay. The returned text has been re-parsed.
pub fn add_overlay(src: &str, opts: &AddOverlayOptions) -> Result<EditOutcome> {
    if opts.pairs.is_empty() {
        return Err(Error::invalid(
            "give at least one ATTR=PACKAGE pair, e.g. gcc=gcc12",
        ));
    }
    let mut pairs: Vec<Pair> = Vec::new();
    for s in &opts.pairs {
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
    let instance = if opts.scoped {
        Some(instance_name(opts.instance.as_deref(), &pairs)?)
    } else {
        None
    };
    let flake = Flake::parse(src)?;
    let (config, call) = flake.select_editable(opts.config.as_deref())?;
    let args = file_overlay_args(&flake);
    let mut plan = Planner::new(src, &flake, config, call);
    let summary = match &instance {
        None => {
            let added = plan.global_overlay(&args, &pairs)?;
            if !added.is_empty() {
                plan.warnings.push(format!(
                    "nixpkgs.overlays changes the system's whole package set (buildPackages too): everything that depends on {} is rebuilt locally instead of coming from the binary cache; `--scoped` confines the change to the modules that ask for it",
                    added.iter().map(|p| p.attr.as_str()).collect::<Vec<_>>().join(", ")
                ));
            }
            format!("{}: overlay {}", config.name, describe(&pairs))
        }
        Some(name) => {
            plan.scoped_instance(&args, &pairs, name, &uses)?;
            let mut s = format!(
                "{}: scoped package set {name} ({})",
                config.name,
                describe(&pairs)
            );
            if !uses.is_empty() {
                s.push_str(&format!(", used for {}", uses.join(", ")));
            }
            s
        }
    };
    for p in &pairs {
        if is_compiler_attr(&p.attr) {
            let stdenv = if p.package.starts_with("gcc") || p.package.starts_with("clang") {
                format!("{}Stdenv", p.package)
            } else {
                "<compiler>Stdenv".into()
            };
            plan.warnings.push(format!(
                "`{} = {}.{}` does not change `stdenv.cc`, the compiler packages are built with: nixpkgs applies the stdenv's own overrides after user overlays (pkgs/top-level/stage.nix). To build a package with {}, give it another stdenv, e.g. `hello.override {{ stdenv = {stdenv}; }}` or `overrideCC stdenv buildPackages.{}`",
                p.attr, args.0, p.package, p.package, p.package
            ));
        }
    }
    let mut out = plan.finish(summary)?;
    if !out.changed {
        // Nothing to do: the notes were given when the overlay was added.
        out.warnings.clear();
    }
    Ok(out)
}

/// NixOS passes these to every module; a scoped set must not take their name.
const MODULE_ARGS: &[&str] = &["config", "options", "lib", "modulesPath", "specialArgs"];

fn instance_name(given: Option<&str>, pairs: &[Pair]) -> Result<String> {
    let name = match given {
        Some(n) => n.to_string(),
        None => {
            let last = pairs[0].package.rsplit('.').next().unwrap_or_default();
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
        return Err(Error::invalid(format!(
            "`{name}` cannot be a variable name"
        ))
        .hint("a name such as pkgs-gcc12: letters, digits, `_`, `-` and `'`, not starting with a digit"));
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

/// What the scoped set should be: its platforms and overlays.
struct Want {
    /// The double the set is built on.
    local: String,
    /// The host double and the crossSystem text, for cross configurations.
    cross: Option<(String, String)>,
    overlays: BTreeMap<String, String>,
    nixpkgs: String,
}

impl Planner<'_> {
    /// Add the pairs to the configuration's `nixpkgs.overlays`; returns the
    /// pairs that were not already in effect.
    fn global_overlay(&mut self, args: &(String, String), pairs: &[Pair]) -> Result<Vec<Pair>> {
        let found = module_overlays(self.call);
        let all: Vec<OverlayView> = found.iter().flat_map(|m| m.overlays.clone()).collect();
        let now = effective(&all);
        let missing: Vec<Pair> = pairs
            .iter()
            .filter(|p| now.get(&p.attr) != Some(&p.package))
            .cloned()
            .collect();
        if missing.is_empty() {
            return Ok(missing);
        }
        let text = overlay_text(args, &missing);
        if let Some(list) = found.iter().rev().find_map(|m| m.list.as_ref()) {
            self.guard_shared(list.node.range(), "the overlays list")?;
            let e = module::append_items(self.src, &self.style, list, &[text]);
            self.push(e);
            return Ok(missing);
        }
        if let Some(m) = found.first() {
            return Err(Error::refused(format!(
                "nixpkgs.overlays is `{}`, not a literal list, so nixcross cannot add to it",
                compact(&m.value.text())
            ))
            .at(m.value.range()));
        }
        let call = self.call;
        if let Some(m) = self.nixpkgs_module().or(call.inline_modules.first()) {
            self.insert_option(m, "overlays", &format!("[ {text} ]"))?;
        } else {
            let module = format!("{{\n  nixpkgs.overlays = [ {text} ];\n}}");
            self.add_module(
                &format!("Overlay for the whole system: {}.", describe(&missing)),
                &module,
            )?;
        }
        Ok(missing)
    }

    /// The platforms and the nixpkgs the scoped set is built from.
    fn want(&self, pairs: &[Pair]) -> Result<Want> {
        let p = self.config.platforms();
        let (Some(build), Some(host)) = (p.build.clone(), p.host.clone()) else {
            return Err(Error::refused(format!(
                "cannot tell which platforms `{}` is built on and for, so nixcross cannot give the scoped package set the same ones",
                self.config.name
            ))
            .at(self.config.name_range)
            .hint("set them first, e.g. `nixcross set-target riscv64-linux --mode cross`"));
        };
        let cross = if build != host {
            Some((host.clone(), self.cross_text(&host)?))
        } else {
            None
        };
        Ok(Want {
            local: build,
            cross,
            overlays: pairs
                .iter()
                .map(|p| (p.attr.clone(), p.package.clone()))
                .collect(),
            nixpkgs: self.nixpkgs_ref()?,
        })
    }

    /// The crossSystem value for the set: the example when the configuration
    /// uses one that carries more than a config, else `{ config = "<triple>"; }`.
    fn cross_text(&self, host: &str) -> Result<String> {
        let lib = self.call.lib_expr();
        let setting = self
            .call
            .settings_of(PlatformOption::CrossSystem)
            .into_iter()
            .chain(self.call.settings_of(PlatformOption::HostPlatform))
            .next();
        let mut triple = None;
        if let Some(s) = setting {
            match &s.expr {
                PlatformExpr::Example { name, .. } => {
                    if let Some(e) = platform::catalogue().example(name) {
                        if !e.extra.is_empty() {
                            return Ok(format!("{lib}.systems.examples.{name}"));
                        }
                        triple = Some(e.config.clone());
                    }
                }
                PlatformExpr::Str(lit) | PlatformExpr::Keyed { literal: lit, .. } => {
                    if let Some(v) = lit.string_literal() {
                        if v.split('-').count() >= 3 {
                            triple = Some(v);
                        }
                    }
                }
                PlatformExpr::Other(_) => {}
            }
        }
        let triple = match triple {
            Some(t) => t,
            None => platform::resolve(host)?.config,
        };
        Ok(format!("{{\n  config = {};\n}}", syntax::quote(&triple)))
    }

    /// The expression for nixpkgs that is in scope around the outputs body:
    /// the configuration's own (`nixpkgs`, `inputs.nixpkgs`, ...), else the
    /// `nixpkgs` formal, else `<inputs>.nixpkgs`.
    fn nixpkgs_ref(&self) -> Result<String> {
        let scopes = &self.flake.outputs_scopes;
        if let Some(r) = self.call.lib_expr().strip_suffix(".lib") {
            let root = r.split('.').next().unwrap_or_default();
            if scopes.binds(root) {
                return Ok(r.to_string());
            }
        }
        match &self.flake.outputs_param {
            Some(p) if p.names().contains(&"nixpkgs") => Ok("nixpkgs".into()),
            Some(Param::Ident { name }) => Ok(format!("{name}.nixpkgs")),
            Some(Param::Pattern { bind: Some(b), .. }) => Ok(format!("{b}.nixpkgs")),
            _ => Err(Error::refused(
                "cannot tell how to reach nixpkgs around the outputs (no `nixpkgs` argument and no `inputs@`)",
            )
            .at(self.config.name_range)),
        }
    }

    /// Whether `expr` is `import <nixpkgs> { ... }` with the wanted meaning.
    fn same_instance(&self, expr: &Node, want: &Want, scopes: &Scopes) -> bool {
        instance_difference(expr, want, scopes).is_none()
    }

    /// Where `name` is bound as an outputs argument, for error locations.
    fn param_range(&self, name: &str) -> (usize, usize) {
        if let Some(Param::Pattern { formals, .. }) = &self.flake.outputs_param {
            if let Some(f) = formals.iter().find(|f| f.name == name) {
                return f.range;
            }
        }
        self.config.name_range
    }

    fn scoped_instance(
        &mut self,
        args: &(String, String),
        pairs: &[Pair],
        name: &str,
        uses: &[String],
    ) -> Result<()> {
        let want = self.want(pairs)?;
        let call = self.call;
        let other = |range: (usize, usize), what: String| {
            Err(Error::refused(format!(
                "`{name}` already exists here as {what}, not as the package set this command would write"
            ))
            .at(range)
            .hint("choose another name with --instance NAME"))
        };
        // The name as a variable at the call.
        match call.scopes.lookup(name) {
            Some(Bound::Expr(e)) => {
                if let Some(why) = instance_difference(e, &want, &call.scopes) {
                    return other(e.range(), format!("`{}` ({why})", short(&e.text())));
                }
            }
            Some(Bound::Opaque) => {
                return other(
                    self.param_range(name),
                    "a function argument or inherited value".into(),
                );
            }
            None => {
                let mut text = format!("{name} = import {} {{\n", want.nixpkgs);
                text.push_str(&format!(
                    "  localSystem = {};\n",
                    syntax::quote(&want.local)
                ));
                if let Some((_, c)) = &want.cross {
                    text.push_str(&format!("  crossSystem = {};\n", indent_tail(c)));
                }
                text.push_str(&format!(
                    "  overlays = [\n    {}\n  ];\n}};",
                    overlay_text(args, pairs)
                ));
                let comment = format!(
                    "A package set with {}, only for the modules that take `{name}`.",
                    describe(pairs)
                );
                self.insert_outputs_let(&comment, &text)?;
            }
        }
        // specialArgs = { inherit name; };
        let (dotted, _) = module::find_option(&call.args, &["specialArgs", name]);
        if let Some(hit) = dotted.iter().find(|h| h.chain.len() == 1) {
            // `specialArgs.<name> = ...;`
            let value = hit.value.unparen();
            let same = hit.rest.is_empty()
                && (value.ident().as_deref() == Some(name)
                    || self.same_instance(&value, &want, &call.scopes));
            if !same {
                return other(hit.entry().range(), "a specialArgs entry".into());
            }
        } else if call.special_args.is_none()
            && call.args.entries.iter().any(|e| e.defines("specialArgs"))
        {
            // Only dotted `specialArgs.x = ...;` entries: write another one.
            self.guard_shared(call.args.node.range(), "nixosSystem's arguments")?;
            let e = module::insert_binding(
                self.src,
                &self.style,
                &call.args,
                &format!("specialArgs.{name}"),
                name,
                module::Position::Last,
            );
            self.push(e);
        } else {
            self.special_args_set(name, &want, &other)?;
        }
        self.use_packages(name, uses)
    }

    fn special_args_set(
        &mut self,
        name: &str,
        want: &Want,
        other: &dyn Fn((usize, usize), String) -> Result<()>,
    ) -> Result<()> {
        let call = self.call;
        match &call.special_args {
            None => self
                .insert_arg_before_modules("specialArgs", &format!("{{\n  inherit {name};\n}}"))?,
            Some(v) => {
                let Some(set) = v.unparen().attrset().filter(|s| !s.rec) else {
                    return Err(Error::refused(format!(
                        "specialArgs is `{}`, not a literal attribute set, so nixcross cannot add `{name}` to it",
                        short(&v.text())
                    ))
                    .at(v.range()));
                };
                let existing = set
                    .entries
                    .iter()
                    .find(|e| e.defines(name) || e.is_dynamic());
                match existing {
                    Some(Entry::Inherit(i)) if i.from.is_none() => {}
                    Some(Entry::Binding(b)) if b.path.as_ref().is_some_and(|p| p.len() == 1) => {
                        let value = b.value.unparen();
                        let same = value.ident().as_deref() == Some(name)
                            || self.same_instance(&value, want, &call.scopes);
                        if !same {
                            return other(b.range, "a specialArgs entry".into());
                        }
                    }
                    Some(e) if e.is_dynamic() => {
                        return Err(Error::refused(
                            "specialArgs has a dynamic name (`${...}`), which could already define this name",
                        )
                        .at(e.range()));
                    }
                    Some(e) => return other(e.range(), "a specialArgs entry".into()),
                    None => {
                        self.guard_shared(set.node.range(), "specialArgs")?;
                        let last_inherit = set.entries.iter().rev().find_map(|e| match e {
                            Entry::Inherit(i) if i.from.is_none() && !i.names.is_empty() => {
                                Some(i.names.last().unwrap().1 .1)
                            }
                            _ => None,
                        });
                        let e = match last_inherit {
                            Some(at) => crate::edit::TextEdit::insert(at, format!(" {name}")),
                            None => module::insert_entry(
                                self.src,
                                &self.style,
                                &set,
                                &format!("inherit {name};"),
                                module::Position::Last,
                            ),
                        };
                        self.push(e);
                    }
                }
            }
        }
        Ok(())
    }

    /// Modules that use the set: `environment.systemPackages = [ <name>.<pkg> ];`.
    fn use_packages(&mut self, name: &str, uses: &[String]) -> Result<()> {
        let call = self.call;
        let have = used_packages(call, name);
        let missing: Vec<&String> = uses.iter().filter(|u| !have.contains(u)).collect();
        if missing.is_empty() {
            return Ok(());
        }
        let mut dedup: Vec<String> = Vec::new();
        for u in missing {
            if !dedup.contains(u) {
                dedup.push(u.clone());
            }
        }
        let items: Vec<String> = dedup.iter().map(|u| format!("{name}.{u}")).collect();
        // A module that already takes the set and lists packages: append.
        for m in &call.inline_modules {
            let takes = m
                .formals
                .as_ref()
                .is_some_and(|f| f.names().contains(&name));
            if !takes {
                continue;
            }
            let (hits, opaque) = module::find_option(&m.set, &["environment", "systemPackages"]);
            if hits.len() == 1 && hits[0].rest.is_empty() && opaque.is_empty() {
                if let Some(list) = hits[0].value.unparen().list() {
                    self.guard_shared(list.node.range(), "the package list")?;
                    let e = module::append_items(self.src, &self.style, &list, &items);
                    self.push(e);
                    return Ok(());
                }
            }
        }
        let module = format!(
            "({{ {name}, ... }}: {{\n  environment.systemPackages = [ {} ];\n}})",
            items.join(" ")
        );
        self.add_module_after_inline(&format!("Packages built with `{name}`."), &module)
    }
}

/// How `expr` differs from the wanted package set, or `None` when it means
/// the same: `import <nixpkgs> { ... }` with the same platforms (compared as
/// system doubles) and the same `attr -> package` overlays, in any layout.
fn instance_difference(expr: &Node, want: &Want, scopes: &Scopes) -> Option<String> {
    let Some(args) = flake::import_args(expr) else {
        return Some("it is not `import nixpkgs { ... }`".into());
    };
    let source = expr
        .unparen()
        .call()
        .and_then(|(_, a)| a[0].reference())
        .and_then(|r| r.last().cloned());
    let want_source = want.nixpkgs.rsplit('.').next().unwrap_or_default();
    if source.as_deref() != Some(want_source) {
        return Some(format!("it does not import `{}`", want.nixpkgs));
    }
    let double = |n: Option<Node>| n.and_then(|v| flake::read_platform(&v, scopes).1);
    let local = double(key(&args, &["localSystem", "system"]));
    if local.as_deref() != Some(want.local.as_str()) {
        return Some(format!(
            "its localSystem is {}, the configuration builds on {}",
            local.as_deref().unwrap_or("unknown"),
            want.local
        ));
    }
    let cross = key(&args, &["crossSystem"]).map(|c| double(Some(c)));
    match (&want.cross, cross) {
        (None, None) => {}
        (None, Some(Some(c))) if c == want.local => {}
        (Some((host, _)), Some(Some(c))) if &c == host => {}
        (Some((host, _)), _) => {
            return Some(format!(
                "it is not cross-compiled for {host} as the configuration is"
            ))
        }
        (None, Some(_)) => {
            return Some("it is cross-compiled, and the configuration is not".into())
        }
    }
    let overlays = instance_overlays(&args).map(|o| effective(&o));
    if overlays.as_ref() != Some(&want.overlays) {
        let have = overlays
            .map(|m| {
                m.iter()
                    .map(|(a, p)| format!("{a} = {p}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            })
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| "nothing nixcross can read".into());
        let wanted = want
            .overlays
            .iter()
            .map(|(a, p)| format!("{a} = {p}"))
            .collect::<Vec<_>>()
            .join(", ");
        return Some(format!("its overlays set {have}, not {wanted}"));
    }
    None
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
            let map = effective(&[o]);
            assert_eq!(map.get("gcc").map(String::as_str), Some("gcc12"), "{src}");
        }
        let n = syntax::parse("(import ./o.nix)").unwrap().expr().unwrap();
        assert!(read_overlay(&n).pairs.is_none());
    }

    #[test]
    fn instance_names() {
        let p = [parse_pair("gcc=gcc12").unwrap()];
        assert_eq!(instance_name(None, &p).unwrap(), "pkgs-gcc12");
        assert!(instance_name(Some("pkgs"), &p).is_err());
        assert!(instance_name(Some("lib"), &p).is_err());
        assert!(instance_name(Some("a b"), &p).is_err());
        assert!(instance_name(Some("x; y"), &p).is_err());
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
            let err = instance_name(Some(builtin), &p).unwrap_err();
            assert!(err.message.contains("Nix builtin"), "{builtin}: {err:?}");
        }
    }
}
