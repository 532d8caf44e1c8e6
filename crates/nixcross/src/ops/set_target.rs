//! `nixcross set-target`: switch one configuration between targets and
//! strategies (cross or emulate), across the files it is made of, in the
//! style the configuration already uses.
//!
//! The style comes from the whole configuration as NixOS evaluates it:
//! `nixpkgs.hostPlatform` anywhere (hardware-configuration.nix usually has
//! it) makes it modern; otherwise it is legacy (`system` + `crossSystem`),
//! also when nothing is set yet. nixcross never writes one style's options
//! into a configuration of the other.
//!
//! Where a change goes (the rule):
//! 1. **Where it lives.** The definition that wins today is rewritten in
//!    place (its string, keeping `lib.mkDefault` and the like around it),
//!    in whatever file it is, when no other configuration uses that text.
//! 2. **An override, when it is shared.** When the winning definition is
//!    in a module, helper or `let` binding that another configuration also
//!    uses, the configuration gets its own definition in its own module
//!    (see `Planner::home`) at a priority that wins: a plain definition
//!    over `mkDefault`, `mkForce` over a plain one.
//! 3. A missing option goes next to its sibling (`buildPlatform` next to
//!    `hostPlatform`) when that module is the configuration's own, else
//!    into its own module.
//! 4. Removals (`crossSystem`, `buildPlatform` for emulation) happen only
//!    where nothing else uses the text; otherwise the edit is refused with
//!    the names of the configurations that share it.
//! 5. Scoped package sets passed through `specialArgs`
//!    (`pkgs-x = import nixpkgs { localSystem; crossSystem; ... }`) follow the
//!    new platforms; one shared with other configurations is refused. A set
//!    that names its platform with `system` keeps `system` (nixpkgs rejects
//!    `localSystem` next to it).
//! 6. A configuration that sets `nixpkgs.pkgs = <set>;` takes its platforms
//!    from that set (NixOS ignores the other `nixpkgs.*` platform options).
//!    `--mode cross` rewrites it to `<set>.pkgsCross.<example>` (nixpkgs
//!    again with the same localSystem, config and overlays) when the target
//!    is exactly a pkgsCross example and the set builds on the requested
//!    build platform; a native build of the set's own build platform
//!    strips the `.pkgsCross.<example>` again. Anything else is refused:
//!    nixcross cannot make that set for another build platform.

use crate::edit::{Claim, Outcome, Plan, TextEdit, Transaction};
use crate::error::{Error, Result};
use crate::files::{Files, RelPath};
use crate::flake::{Config, Definition, Flake, PkgsOption, PlatformOption, SeenStyle, Tracking};
use crate::module;
use crate::ops::comments::{self, Anchor, Comment, Strategy};
use crate::ops::editor::{compact, indent_tail, winners, PkgsOptionUse, Planner};
use crate::platform::{self, Target};
use crate::source::FileId;
use crate::source::Src;
use crate::syntax::list_names;
use crate::syntax::{self, Entry, Node};
use crate::vocab::{Mode, Style};

/// Options for [`plan_set_target`].
#[derive(Debug, Clone)]
pub struct SetTargetOptions {
    /// A double, a pkgsCross name or a config triple.
    pub target: String,
    /// Cross-compile or emulate.
    pub mode: Mode,
    /// The configuration to edit; may be omitted when there is only one.
    pub config: Option<String>,
    /// The build platform for cross builds (defaults to the configuration's
    /// current build platform when it is cross, else `local_system`).
    pub host: Option<String>,
    /// The machine nixcross runs on (the CLI passes it), used as the default
    /// build platform.
    pub local_system: Option<String>,
    /// The option style to write; `None` keeps the configuration's (legacy
    /// when it has none). Switching a configuration from one style to the
    /// other takes two steps (see [`set_target`]).
    pub style: Option<Style>,
}

/// Plan and apply the switch to the flake `flake` of `files`. A change of
/// style (`opts.style`) is two steps in one outcome: first the other
/// style's options go ([`plan_strip_style`]), then the target is set in the
/// new style on the text the first step left.
///
/// # Examples
///
/// ```
/// use nixcross::files::{MemFiles, RelPath};
/// use nixcross::ops::set_target::{set_target, SetTargetOptions};
/// use nixcross::vocab::Mode;
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
/// let opts = SetTargetOptions {
///     target: "aarch64-linux".into(),
///     mode: Mode::Cross,
///     config: None,
///     host: None,
///     local_system: Some("x86_64-linux".into()),
///     style: None,
/// };
/// let out = set_target(&files, &RelPath::new("flake.nix").unwrap(), &opts)?;
/// let text = out.text_of("flake.nix").expect("flake.nix changes");
/// assert!(text.contains(r#"{ nixpkgs.crossSystem = { system = "aarch64-linux"; }; }"#));
/// # Ok::<(), nixcross::Error>(())
/// ```
pub fn set_target(files: &dyn Files, flake: &RelPath, opts: &SetTargetOptions) -> Result<Outcome> {
    let strip = match opts.style {
        Some(style) => {
            let f = Flake::load_for(files, flake, opts.config.as_deref())?;
            let config = f.select(opts.config.as_deref())?;
            needs_strip(config, style).then(|| config.name.clone())
        }
        None => None,
    };
    let Some(name) = strip else {
        return plan_set_target(files, flake, opts)?.apply(files);
    };
    let style = opts.style.expect("checked");
    let mut t = Transaction::new(files);
    t.plan(|files| plan_strip_style(files, flake, &name, style))?;
    let opts = SetTargetOptions {
        config: Some(name),
        ..opts.clone()
    };
    t.plan(|files| plan_set_target(files, flake, &opts))?;
    t.finish()
}

/// Plan the switch without applying it. A change of style cannot be one
/// plan: use [`set_target`], or [`plan_strip_style`] first.
pub fn plan_set_target(
    files: &dyn Files,
    flake: &RelPath,
    opts: &SetTargetOptions,
) -> Result<Plan> {
    let f = Flake::load_for(files, flake, opts.config.as_deref())?;
    plan_on(&f, opts)
}

/// The options of the style other than `style` that decide a
/// configuration's platforms (`nixpkgs.system` and nixosSystem's `system`
/// argument decide nothing once `hostPlatform` is set, so they stay).
fn other_style_options(style: Style) -> [PlatformOption; 2] {
    match style {
        Style::Modern => [PlatformOption::CrossSystem, PlatformOption::LocalSystem],
        Style::Legacy => [PlatformOption::HostPlatform, PlatformOption::BuildPlatform],
    }
}

/// Whether writing `config` in `style` first needs the other style's
/// options taken out.
fn needs_strip(config: &crate::flake::Config, style: Style) -> bool {
    let other = other_style_options(style);
    config.system().is_some_and(|s| {
        s.definitions
            .iter()
            .any(|d| other.contains(&d.option) && d.module.is_some())
    })
}

/// Plan taking out every definition of the options of the style other than
/// `style` from configuration `name` (the first step of a change of style).
pub fn plan_strip_style(
    files: &dyn Files,
    flake: &RelPath,
    name: &str,
    style: Style,
) -> Result<Plan> {
    let f = Flake::load_for(files, flake, Some(name))?;
    let config = f.select(Some(name))?;
    let mut p = Planner::new(&f, config)?;
    for option in other_style_options(style) {
        remove_option(&mut p, option)?;
    }
    Ok(p.finish(format!("{name}: now written in the {style} style")))
}

/// Plan the switch on a loaded flake.
pub fn plan_on(f: &Flake, opts: &SetTargetOptions) -> Result<Plan> {
    plan_in(f, opts, true)
}

/// Plan the switch on a loaded flake; `prove` false for a plan that is
/// never applied (`show`'s probe of what set-target would do), which then
/// needs no baseline for the self-check.
pub(crate) fn plan_in(f: &Flake, opts: &SetTargetOptions, prove: bool) -> Result<Plan> {
    let config = f.select(opts.config.as_deref())?;
    if let Some(style) = opts.style {
        if needs_strip(config, style) {
            return Err(Error::invalid(format!(
                "`{}` is written in the other style; switching it to the {style} style takes two steps (set_target does both)",
                config.name
            )));
        }
    }
    let target = platform::resolve(&opts.target)?;
    if !target.is_linux() {
        return Err(Error::invalid(format!(
            "`{}` is a {} platform; NixOS runs on Linux only",
            opts.target, target.system
        )));
    }
    let mut p = Planner::with(f, config, PkgsOptionUse::Retarget)?;
    p.prove = prove;
    let current = config.platforms.clone();
    let build = match &opts.host {
        Some(h) => platform::resolve(h)?.system,
        // A native build is built by a machine of the target's own system.
        None if opts.mode == Mode::Native => target.system.clone(),
        None => match (&current.build, &current.host) {
            (Some(b), Some(h)) if b != h => b.clone(),
            _ => opts.local_system.clone().ok_or_else(|| {
                Error::invalid("cannot tell which system builds; pass --host <SYSTEM>")
            })?,
        },
    };
    opts.mode.check_builder(&target.system, &build)?;
    match opts.mode {
        Mode::Cross if build == target.system => {
            return Err(Error::invalid(format!(
                "cross-compiling from {build} to {} is a native build",
                target.system
            ))
            .hint("use --mode emulate (which builds natively on a machine of that system), or pass --host with the system that builds"));
        }
        Mode::Emulate
            if !platform::catalogue().can_emulate(&target.system) && target.system != build =>
        {
            return Err(Error::invalid(format!(
                "NixOS knows no emulator for {}, so it cannot be built under emulation",
                target.system
            ))
            .hint("use --mode cross"));
        }
        Mode::Emulate if Some(&target.system) != opts.local_system.as_ref() => {
            p.warnings.push(emulation_warning(&target.system));
        }
        _ => {}
    }
    // The machine that builds: `--host` when given (a native build's is of
    // the target's system), else this one.
    let builder = match (opts.mode, &opts.host) {
        (Mode::Native, _) | (_, Some(_)) => Some(build.as_str()),
        _ => opts.local_system.as_deref(),
    };
    let want = Want {
        target: &target,
        build: &build,
        mode: opts.mode,
    };
    let (build_now, host_now) = match opts.mode {
        Mode::Cross => (build.clone(), target.system.clone()),
        Mode::Emulate | Mode::Native => (target.system.clone(), target.system.clone()),
    };
    if already_means(config, &build_now, &host_now, opts.style) {
        // The configuration means this already (nixpkgs reads a crossSystem
        // equal to the local system as a native build, for example): a
        // rewrite would change the text, not the meaning.
        return Ok(p.finish(format!(
            "{}: {}",
            config.name,
            describe_build(&build_now, &host_now, builder)
        )));
    }
    let what = describe_build(&build_now, &host_now, builder);
    p.claim(Claim::Platforms {
        config: config.name.clone(),
        build: build_now,
        host: host_now,
    });
    if let Some(po) = p.sys.pkgs_option.clone() {
        let how = pkgs_option(&mut p, &want, &po)?;
        return Ok(p.finish(format!("{}: {how}", config.name)));
    }
    let style = match (opts.style, current.style) {
        (Some(style), _) => style,
        (None, Some(SeenStyle::One(Style::Modern))) => Style::Modern,
        _ => Style::Legacy,
    };
    match style {
        Style::Legacy => legacy(&mut p, &want)?,
        Style::Modern => modern(&mut p, &want)?,
    }
    scoped(&mut p, &want)?;
    refresh_comments(&mut p, &want, style, builder);
    Ok(p.finish(format!("{}: {what}", config.name)))
}

/// Whether `config` is built on `build` for `host` already, in `style`
/// when one is asked for, with every scoped package set of its own built
/// the same way.
fn already_means(config: &Config, build: &str, host: &str, style: Option<Style>) -> bool {
    let p = &config.platforms;
    let Some(sys) = config.system() else {
        return false;
    };
    let cross = (build != host).then_some(host);
    p.unknown.is_none()
        && p.build.as_deref() == Some(build)
        && p.host.as_deref() == Some(host)
        && style.is_none_or(|s| p.style == Some(SeenStyle::One(s)))
        && sys.scoped.iter().all(|s| {
            s.tracking != Tracking::Own
                || (s.local.as_deref() == Some(build)
                    && s.cross
                        .as_deref()
                        .filter(|c| Some(*c) != s.local.as_deref())
                        == cross)
        })
}

/// "cross-compile for H on B", "build H natively" (on a machine of H,
/// `builder`), or "build H under emulation on B" (on a machine of another
/// system); "build H natively (under emulation on other systems)" when the
/// building machine is not known.
pub(crate) fn describe_build(build: &str, host: &str, builder: Option<&str>) -> String {
    if build != host {
        return format!("cross-compile for {host} on {build}");
    }
    match builder {
        Some(b) if b == host => format!("build {host} natively"),
        Some(b) => format!("build {host} under emulation on {b}"),
        None => format!("build {host} natively (under emulation on other systems)"),
    }
}

/// Keep the strategy comments nixcross wrote true (see [`comments`]): the
/// block above nixosSystem's `system` argument (legacy style) and above each
/// inline module (of the modules list or an `imports` list) that sets a
/// platform option, when every line of
/// it is nixcross's, the text is the configuration's own, and the plan does
/// not remove it already.
fn refresh_comments(p: &mut Planner, want: &Want, style: Style, local: Option<&str>) {
    // Only with a change: comments alone never make a configuration
    // "out of date" (whether a build is native depends on the machine).
    if p.is_empty() {
        return;
    }
    let strategy = match want.mode {
        Mode::Cross => Strategy::Cross {
            build: want.build.to_string(),
        },
        Mode::Emulate | Mode::Native => Strategy::emulate(want.target, local),
    };
    let mut anchors: Vec<(FileId, usize, Anchor)> = Vec::new();
    for d in &p.sys.definitions {
        match (d.option, d.module, &d.site) {
            (PlatformOption::System, None, Some(site)) if style == Style::Legacy => {
                anchors.push((site.file, site.node.start(), Anchor::SystemArgument))
            }
            (_, Some(i), _) => {
                if let Some((file, _, item)) = p.list_item_of(i) {
                    let a = (file, item.start(), Anchor::PlatformModule);
                    if !anchors.contains(&a) {
                        anchors.push(a);
                    }
                }
            }
            _ => {}
        }
    }
    for (file, at, anchor) in anchors {
        let src = p.text(file);
        let Some((range, old)) = comments::own_block(src, at) else {
            continue;
        };
        let new = match old.as_slice() {
            // set-target's own one-line comment keeps its form.
            [Comment::SetCross { .. } | Comment::SetEmulate(_)] => vec![match want.mode {
                Mode::Cross => Comment::SetCross {
                    build: want.build.to_string(),
                    host: want.target.system.clone(),
                },
                Mode::Emulate | Mode::Native => Comment::SetEmulate(want.target.system.clone()),
            }],
            _ => comments::block(&strategy, anchor),
        };
        if new == old
            || !p.private(file, range)
            || !p.private(file, (at, at + 1))
            || p.touches(file, range)
        {
            continue;
        }
        let indent = syntax::indent_at(src, range.0).to_string();
        let nl = p.layout(file).nl;
        let text: String = new
            .iter()
            .map(|c| format!("{indent}# {}{nl}", c.text()))
            .collect();
        p.push(
            file,
            TextEdit::replace(range, text),
            "the comments nixcross wrote follow",
        );
    }
}

/// What a configuration built natively for `system` needs from a machine
/// of another system.
pub(crate) fn emulation_warning(system: &str) -> String {
    format!(
        "an emulated build needs the building machine to emulate {system}: on NixOS add `boot.binfmt.emulatedSystems = [ \"{system}\" ];` to its configuration (`nixcross emulate {system}`)"
    )
}

/// What the configuration should mean.
struct Want<'t> {
    target: &'t Target,
    build: &'t str,
    mode: Mode,
}

impl Want<'_> {
    /// The system the configuration is built on.
    fn native(&self) -> String {
        match self.mode {
            Mode::Cross => self.build.to_string(),
            Mode::Emulate | Mode::Native => self.target.system.clone(),
        }
    }
}

/// The value text for a host-side platform option. `lib` reaches nixpkgs'
/// lib where the text goes (needed for a pkgsCross example with extras).
fn host_value(target: &Target, lib: Option<&str>, as_set: bool) -> Result<String> {
    if target.example_has_extras {
        let example = target.example.as_deref().unwrap_or_default();
        let Some(lib) = lib else {
            return Err(Error::refused(format!(
                "`{example}` is written `lib.systems.examples.{example}`, but the module it goes into does not take `lib`"
            ))
            .hint("add `lib` to the module's arguments (`{ lib, ... }:`), then run nixcross again"));
        };
        return Ok(format!("{lib}.systems.examples.{example}"));
    }
    if target.needs_config() && !target.config.is_empty() {
        return Ok(format!(
            "{{\n  config = {};\n}}",
            syntax::quote(&target.config)
        ));
    }
    Ok(if as_set {
        format!("{{\n  system = {};\n}}", syntax::quote(&target.system))
    } else {
        syntax::quote(&target.system)
    })
}

/// The string a platform literal should hold for `target`: the triple when
/// the literal is under `config` or the double does not say everything.
fn literal_value(target: &Target, key: Option<&str>) -> String {
    if (key == Some("config") || target.needs_config()) && !target.config.is_empty() {
        target.config.clone()
    } else {
        target.system.clone()
    }
}

/// `lib.mkDefault x`, `mkForce x`, `mkOverride n x`, `mkOptionDefault x`: `x`.
pub(crate) fn unwrap_priority(node: &Node) -> Node {
    let n = node.unparen();
    if let Some((f, args)) = n.call() {
        if let Some(r) = f.reference() {
            let last = r.last().map(String::as_str);
            if matches!(last, Some("mkDefault" | "mkForce" | "mkOptionDefault")) && args.len() == 1
                || last == Some("mkOverride") && args.len() == 2
            {
                return args.last().expect("checked").unparen();
            }
        }
    }
    n
}

/// The name of a `lib.systems.examples.<name>` reference.
pub(crate) fn example_name(node: &Node) -> Option<String> {
    let r = node.reference()?;
    (r.len() >= 3 && r[r.len() - 3] == "systems" && r[r.len() - 2] == "examples")
        .then(|| r.last().cloned())
        .flatten()
}

/// The key a literal is written under, when it is the value of a binding
/// of an attribute set (`config = "..."` gives `config`).
fn key_of_literal(lit: &Src) -> Option<String> {
    let set = lit.node.parent()?.attrset()?;
    set.entries.iter().find_map(|e| match e {
        Entry::Binding(b) if b.value.unparen() == lit.node => b.path.as_ref()?.last().cloned(),
        _ => None,
    })
}

/// The value node of a definition's binding.
pub(crate) fn site_value(site: &Src) -> Option<Node> {
    match site.node.as_entry()? {
        Entry::Binding(b) => Some(b.value),
        Entry::Inherit(_) => None,
    }
}

/// Rewrite definition `d` to mean `target` (host side) or the double
/// `target.system` (build side), in place. Errors when that would change
/// another configuration or the value cannot be rewritten.
/// Why a definition was not rewritten where it lives.
enum NotInPlace {
    /// Its text is used by other configurations too.
    Shared(Error),
    /// Its value is an expression nixcross cannot rewrite.
    Opaque(Error),
    /// Anything else: the edit is refused.
    Other(Error),
}

impl From<Error> for NotInPlace {
    fn from(e: Error) -> Self {
        match e.kind {
            crate::ErrorKind::Shared => NotInPlace::Shared(e),
            _ => NotInPlace::Other(e),
        }
    }
}

fn rewrite_in_place(
    p: &mut Planner,
    d: &Definition,
    target: &Target,
    host_side: bool,
    reason: &str,
) -> std::result::Result<(), NotInPlace> {
    let site = d
        .site
        .clone()
        .ok_or_else(|| Error::internal("a platform definition without a binding"))?;
    let extras = host_side && target.example_has_extras;
    let value = site_value(&site).map(|v| unwrap_priority(&v));
    // A pkgsCross example written as `lib.systems.examples.<name>`.
    if let Some(v) = &value {
        if let Some(name) = example_name(v) {
            // The same example, or (host side) an example that says no more
            // than the target's triple: nothing to change.
            if host_side && target.example.as_deref() == Some(name.as_str()) {
                return Ok(());
            }
            let same_triple = platform::catalogue()
                .example(&name)
                .is_some_and(|e| e.extra.is_empty() && e.config == target.config);
            if host_side && !extras && same_triple {
                return Ok(());
            }
            let lib = v.reference().map(|r| r[..r.len() - 3].join("."));
            let text = if host_side {
                host_value(target, lib.as_deref(), true)?
            } else {
                syntax::quote(&target.system)
            };
            return Ok(p.replace_node(&Src::new(site.file, v.clone()), &text, reason)?);
        }
    }
    if extras {
        let Some(v) = value else {
            return Err(NotInPlace::Opaque(p.error_at(
                Error::refused(
                    "this platform is inherited; nixcross cannot write a pkgsCross example there",
                ),
                &site,
            )));
        };
        let lib = p.lib_for_site(&site);
        let text = host_value(target, lib.as_deref(), true)?;
        return Ok(p.replace_node(&Src::new(site.file, v), &text, reason)?);
    }
    if d.system.as_deref() == Some(target.system.as_str()) && !target.needs_config() {
        return Ok(());
    }
    // The literal the value comes from, when there is one.
    if let Some(lit) = &d.literal {
        let key = key_of_literal(lit);
        let text = if host_side {
            literal_value(target, key.as_deref())
        } else {
            target.system.clone()
        };
        if p.owns_literal(lit) {
            return Ok(p.replace_literal(lit, &text, reason)?);
        }
        // The literal is shared (a `let` variable, a helper's argument):
        // write the value at this configuration's own definition instead.
        match (value, site.node.as_entry()) {
            (Some(v), _) if v.string_literal().is_none() => {
                let replacement = if v.attrset().is_some() {
                    // `{ system = sys; }`: the inner value.
                    let set = v.attrset().expect("checked");
                    let inner = set.entries.iter().find_map(|e| match e {
                        Entry::Binding(b)
                            if matches!(b.path.as_deref(), Some([k]) if k == "system" || k == "config") =>
                        {
                            Some((b.value.clone(), b.path.clone().unwrap_or_default()[0].clone()))
                        }
                        _ => None,
                    });
                    match inner {
                        Some((n, k)) => (n, syntax::quote(&literal_value(target, Some(&k)))),
                        None => (v, syntax::quote(&text)),
                    }
                } else {
                    (v, syntax::quote(&text))
                };
                return Ok(p.replace_node(
                    &Src::new(site.file, replacement.0),
                    &replacement.1,
                    reason,
                )?);
            }
            (None, Some(Entry::Inherit(i))) if i.names.len() == 1 => {
                let key = &i.names[0].0;
                p.guard(site.file, site.range(), "the setting")?;
                p.push(
                    site.file,
                    TextEdit::replace(
                        site.range(),
                        format!("{} = {};", syntax::attr_name(key), syntax::quote(&text)),
                    ),
                    reason,
                );
                return Ok(());
            }
            _ => {
                return Ok(p.replace_literal(lit, &text, reason)?);
            }
        }
    }
    let shown = value
        .map(|v| compact(&v.text()))
        .unwrap_or_else(|| d.text.clone());
    Err(NotInPlace::Opaque(p.error_at(
        Error::refused(format!(
            "nixpkgs.{} is `{shown}`, which nixcross cannot rewrite safely",
            d.option.name()
        )),
        &site,
    )))
}

impl Planner<'_, '_> {
    /// The `lib` expression usable at a binding: the call's lib in flake.nix,
    /// `lib` in a module that takes it.
    fn lib_for_site(&self, site: &Src) -> Option<String> {
        if site.file == self.flake.file {
            return Some(self.call_lib());
        }
        let m = self.sys.modules.iter().find(|m| {
            m.expr
                .as_ref()
                .is_some_and(|e| e.contains(site.file, site.range()))
        })?;
        let body = module::module_body(&m.expr.as_ref()?.node)?;
        match &body.formals {
            Some(syntax::Param::Pattern { formals, .. })
                if formals.iter().any(|f| f.name == "lib") =>
            {
                Some("lib".into())
            }
            _ => None,
        }
    }

    /// The winning definitions of `option`.
    fn winning(&self, option: PlatformOption) -> Vec<Definition> {
        winners(self.sys.definitions.iter().filter(|d| d.option == option))
            .into_iter()
            .cloned()
            .collect()
    }
}

/// Make `option` mean `target` (host side) or `target.system` (build side):
/// rewrite the winning definitions where they live, or override them in the
/// configuration's own module, or add the option.
fn set_option(
    p: &mut Planner,
    option: PlatformOption,
    target: &Target,
    host_side: bool,
    sibling: Option<&Definition>,
    comment: &str,
) -> Result<()> {
    let reason = format!("nixpkgs.{} = {}", option.name(), target.system);
    let reason = reason.as_str();
    let win = p.winning(option);
    if !win.is_empty() {
        // Rewrite every winner in place; all or none.
        let saved = p.snapshot();
        let mut failed = None;
        for d in &win {
            if let Err(e) = rewrite_in_place(p, d, target, host_side, reason) {
                failed = Some(e);
                break;
            }
        }
        let Some(failure) = failed else { return Ok(()) };
        p.restore(saved);
        // Shared, or an expression: override in the configuration's own
        // module, at a priority that wins.
        let (err, why) = match failure {
            NotInPlace::Other(e) => return Err(e),
            NotInPlace::Shared(e) => {
                let users: Vec<String> = win
                    .iter()
                    .filter_map(|d| d.site.as_ref())
                    .flat_map(|s| p.flake.users_of(s.file, s.range(), &p.config.name))
                    .collect::<std::collections::BTreeSet<_>>()
                    .into_iter()
                    .collect();
                let generated = win
                    .iter()
                    .filter_map(|d| d.site.as_ref())
                    .map(|s| p.flake.ev.sources.get(s.file))
                    .find(|s| s.generated);
                let why = match (generated, users.is_empty()) {
                    (Some(g), true) => format!(
                        "is set in {}, which a tool writes (nixos-generate-config) and nixcross leaves alone",
                        g.path
                    ),
                    _ => format!("is shared with {}", list_names(&users)),
                };
                (e, why)
            }
            NotInPlace::Opaque(e) => {
                let why = match win.first() {
                    Some(d) => {
                        format!("is `{}`, which nixcross cannot rewrite where it is", d.text)
                    }
                    None => "cannot be rewritten where it is".to_string(),
                };
                (e, why)
            }
        };
        let best = win
            .iter()
            .map(|d| d.priority)
            .min()
            .unwrap_or(crate::flake::platforms::PLAIN);
        let home = p.home().map_err(|h| {
            err.clone()
                .hint(format!("it cannot be overridden either: {}", h.message))
        })?;
        // The override would go into the set that holds the definition: an
        // attribute Nix does not let one set define twice.
        if let crate::ops::editor::Home::Module { file, body, .. } = &home {
            let set = body.set.node.range();
            let inside = |s: &Src| s.file == *file && set.0 <= s.range().0 && s.range().1 <= set.1;
            if win.iter().filter_map(|d| d.site.as_ref()).any(inside) {
                return Err(err);
            }
        }
        let lib = p.lib_in(&home);
        let value = if host_side {
            host_value(
                target,
                lib.as_deref(),
                option == PlatformOption::CrossSystem || option == PlatformOption::LocalSystem,
            )?
        } else if option == PlatformOption::LocalSystem {
            format!("{{\n  system = {};\n}}", syntax::quote(&target.system))
        } else {
            syntax::quote(&target.system)
        };
        let path = ["nixpkgs", option.name()];
        // `mkForce` already: nothing nixcross writes would win.
        if best <= crate::flake::platforms::MK_FORCE {
            return Err(err);
        }
        if best > crate::flake::platforms::PLAIN {
            p.insert_option(&path, &value, comment, reason)?;
        } else if let Some(lib) = lib {
            let value = format!("{lib}.mkForce {}", paren(&value));
            p.insert_option(&path, &value, comment, reason)?;
        } else {
            // The module has no `lib`: a module of its own that takes it.
            let module = format!(
                "{{ lib, ... }}: {{\n  {} = lib.mkForce {};\n}}",
                path.join("."),
                indent_tail(&paren(&value))
            );
            p.add_module(comment, &format!("({module})"), reason)
                .map_err(|h| {
                    err.clone()
                        .hint(format!("it cannot be overridden either: {}", h.message))
                })?;
        }
        let w = format!(
            "nixpkgs.{} {why}, so `{}` gets its own definition that wins over it",
            option.name(),
            p.config.name
        );
        p.warnings.push(w);
        return Ok(());
    }
    // Not defined yet: next to its sibling when that module is ours.
    let value = if host_side {
        let lib = match sibling.and_then(|s| s.site.clone()) {
            Some(site) => p.lib_for_site(&site),
            None => p.home().ok().and_then(|h| p.lib_in(&h)),
        };
        host_value(
            target,
            lib.as_deref(),
            option == PlatformOption::CrossSystem,
        )?
    } else {
        syntax::quote(&target.system)
    };
    if let Some(site) = sibling.and_then(|s| s.site.clone()) {
        if p.private(site.file, site.range()) {
            if let Some(Entry::Binding(b)) = site.node.as_entry() {
                if let Some(path) = &b.path {
                    // The sibling's key names its option, maybe followed by
                    // an attribute of its value (`hostPlatform.system`):
                    // the new option replaces the option's name and drops
                    // the rest.
                    let mut key: Vec<String> = path.iter().map(|k| syntax::attr_name(k)).collect();
                    let sibling_name = sibling.map(|s| s.option.name());
                    if let Some(at) = key.iter().rposition(|k| Some(k.as_str()) == sibling_name) {
                        key.truncate(at + 1);
                        key[at] = option.name().to_string();
                        return p.insert_after(&site, &key.join("."), &value, reason);
                    }
                }
            }
        }
    }
    p.insert_option(&["nixpkgs", option.name()], &value, comment, reason)
}

/// Retarget a configuration whose platforms come from `nixpkgs.pkgs` (rule
/// 6 of the module docs); the summary of what it does.
fn pkgs_option(p: &mut Planner, want: &Want, po: &PkgsOption) -> Result<String> {
    let target = &want.target.system;
    let native = want.native();
    let name = &p.config.name;
    let refuse = |why: String| {
        let e = Error::refused(format!(
            "cannot edit `{name}`: it sets nixpkgs.pkgs, whose platforms decide (NixOS ignores the other nixpkgs.* options), and {why}"
        ))
        .hint("change that package set by hand");
        match &po.site {
            Some(site) => p.error_at(e, site),
            None => e,
        }
    };
    if po.several {
        return Err(refuse(
            "it is defined more than once or under a condition, so nixcross cannot tell which definition NixOS uses".into(),
        ));
    }
    if po.build.as_deref() == Some(native.as_str()) && po.host.as_deref() == Some(target.as_str()) {
        // Already so: nothing to write.
        return Ok(format!("nixpkgs.pkgs already builds {target} on {native}"));
    }
    let Some(site) = &po.site else {
        return Err(refuse("nixcross cannot tell where".into()));
    };
    // The value: the binding's, or the site itself when it is the value;
    // an `inherit` has no value of its own to rewrite.
    let inherited = |n: &Node| matches!(n.as_entry(), Some(Entry::Inherit(_)));
    if inherited(&site.node) || site.node.parent().is_some_and(|p| inherited(&p)) {
        return Err(refuse(
            "it is inherited (`inherit pkgs;`), which nixcross cannot rewrite".into(),
        ));
    }
    let value = site_value(site).unwrap_or_else(|| site.node.clone());
    let inner = unwrap_priority(&value);
    let path = inner.reference();
    let cross_of = path
        .as_ref()
        .filter(|r| r.len() >= 3 && r[r.len() - 2] == "pkgsCross")
        .map(|r| r[..r.len() - 2].to_vec());
    let spell = |keys: &[String]| {
        keys.iter()
            .map(|k| syntax::attr_name(k))
            .collect::<Vec<_>>()
            .join(".")
    };
    let text = match want.mode {
        Mode::Cross => {
            let Some(example) = crate::outputs::pkgset::exact_example(want.target) else {
                return Err(refuse(format!(
                    "{target} is not exactly a pkgsCross example, so nixcross cannot derive a cross set from it"
                )));
            };
            if po.build.as_deref() != Some(want.build) {
                return Err(refuse(format!(
                    "that set builds on {}, not {}; nixcross keeps a set's build platform",
                    po.build.as_deref().unwrap_or("a platform nixcross cannot tell"),
                    want.build
                )));
            }
            let name = syntax::attr_name(&example.name);
            match (&cross_of, &path) {
                (Some(base), _) => format!("{}.pkgsCross.{name}", spell(base)),
                (None, Some(r)) => format!("{}.pkgsCross.{name}", spell(r)),
                (None, None) => format!("({}).pkgsCross.{name}", inner.text()),
            }
        }
        Mode::Emulate | Mode::Native => match &cross_of {
            Some(base) if po.build.as_deref() == Some(target.as_str()) => spell(base),
            _ => {
                return Err(refuse(
                    "nixcross can only cross-compile that set (`--mode cross`, as `<set>.pkgsCross.<example>`), not make it native on another system".into(),
                ))
            }
        },
    };
    let at_inner = Src::new(site.file, inner.clone());
    p.replace_node(&at_inner, &text, "retarget nixpkgs.pkgs")?;
    p.warnings.push(format!(
        "nixpkgs.pkgs decides this configuration's platforms; it is now `{text}`, the same package set's config and overlays{}",
        match want.mode {
            Mode::Cross => format!(", cross-compiling for {target} on {}", want.build),
            Mode::Emulate | Mode::Native => format!(", built natively for {target}"),
        }
    ));
    Ok(match want.mode {
        Mode::Cross => format!(
            "cross-compile for {target} on {} (nixpkgs.pkgs)",
            want.build
        ),
        Mode::Emulate | Mode::Native => format!("build {target} natively (nixpkgs.pkgs)"),
    })
}

fn paren(v: &str) -> String {
    if v.starts_with('"') || v.starts_with('{') || !v.contains(' ') {
        v.to_string()
    } else {
        format!("({v})")
    }
}

/// Remove every definition of `option` (for emulation).
fn remove_option(p: &mut Planner, option: PlatformOption) -> Result<()> {
    let defs: Vec<Definition> = p
        .sys
        .definitions
        .iter()
        .filter(|d| d.option == option && d.module.is_some())
        .cloned()
        .collect();
    for d in defs {
        let Some(site) = &d.site else { continue };
        let s = p.flake.ev.sources.get(site.file);
        if s.generated {
            // NixOS rejects the other style's options next to this one, and
            // the file is not nixcross's to change.
            return Err(p.error_at(
                Error::refused(format!(
                    "cannot change the style of `{}`: its nixpkgs.{} is set in {}, which a tool writes (nixos-generate-config), and NixOS rejects the other style's options next to it",
                    p.config.name,
                    option.name(),
                    s.path
                ))
                .hint("keep the style the configuration has (leave out `style`), or move the setting out of that file by hand"),
                site,
            ));
        }
        p.remove_binding(site, &format!("remove nixpkgs.{}", option.name()))?;
    }
    Ok(())
}

fn legacy(p: &mut Planner, want: &Want) -> Result<()> {
    // The building system: localSystem when the configuration uses it, else
    // nixpkgs.system or nixosSystem's `system` argument. Built natively for
    // a target the double does not say all of (a pkgsCross example with
    // gcc flags, a musl triple), localSystem names it whole, as `init`
    // writes it.
    let full =
        !want.mode.is_cross() && (want.target.example_has_extras || want.target.needs_config());
    let native = match want.mode {
        Mode::Cross => platform::resolve(want.build)?,
        Mode::Emulate | Mode::Native => want.target.clone(),
    };
    let double = platform::resolve(&want.native())?;
    let has_local = p
        .sys
        .definitions
        .iter()
        .any(|d| d.option == PlatformOption::LocalSystem);
    let has_system = p
        .sys
        .definitions
        .iter()
        .any(|d| d.option == PlatformOption::System);
    if has_local || full {
        let comment = "`system` names only the CPU and kernel; this names the exact platform.";
        set_option(
            p,
            PlatformOption::LocalSystem,
            &native,
            !want.mode.is_cross(),
            None,
            comment,
        )?;
        if !has_local && has_system {
            set_option(p, PlatformOption::System, &double, false, None, "")?;
        } else if !has_local {
            add_system_argument(p, &double.system)?;
        }
    } else if has_system {
        set_option(p, PlatformOption::System, &double, false, None, "")?;
    } else {
        add_system_argument(p, &double.system)?;
    }
    match want.mode {
        Mode::Cross => {
            let comment = format!(
                "Cross-compile: built on {}, runs on {}.",
                want.build, want.target.system
            );
            set_option(
                p,
                PlatformOption::CrossSystem,
                want.target,
                true,
                None,
                &comment,
            )
        }
        Mode::Emulate | Mode::Native => remove_option(p, PlatformOption::CrossSystem),
    }
}

/// `system = "<double>";` as the first argument of nixosSystem.
fn add_system_argument(p: &mut Planner, system: &str) -> Result<()> {
    let Some(args) = p.sys.args.clone() else {
        // Not a literal set (`host // { ... }`): the option, in the
        // configuration's own module.
        let double = platform::resolve(system)?;
        return set_option(p, PlatformOption::System, &double, false, None, "");
    };
    p.guard(args.file, args.range(), "nixosSystem's arguments")?;
    let set = args
        .node
        .attrset()
        .ok_or_else(|| Error::internal("the arguments are not a set"))?;
    let e = module::insert_binding(
        p.text(args.file),
        p.layout(args.file),
        &set,
        "system",
        &syntax::quote(system),
        module::Position::First,
    );
    p.push(args.file, e, &format!("system = {system}"));
    Ok(())
}

fn modern(p: &mut Planner, want: &Want) -> Result<()> {
    let host_win = p.winning(PlatformOption::HostPlatform);
    let comment = match want.mode {
        Mode::Cross => format!(
            "Cross-compile: built on {}, runs on {}.",
            want.build, want.target.system
        ),
        Mode::Emulate | Mode::Native => format!(
            "Runs on {}; built natively or under emulation.",
            want.target.system
        ),
    };
    // Nothing set yet and no module to put it in: one new module with both
    // (as `init` writes it), not one module per option.
    if want.mode == Mode::Cross
        && host_win.is_empty()
        && p.winning(PlatformOption::BuildPlatform).is_empty()
        && matches!(p.home(), Ok(crate::ops::editor::Home::NewInline))
    {
        let lib = p.call_lib();
        let host = host_value(want.target, Some(&lib), false)?;
        let text = format!(
            "{{\n  nixpkgs.buildPlatform = {};\n  nixpkgs.hostPlatform = {};\n}}",
            syntax::quote(want.build),
            crate::ops::editor::indent_tail(&host)
        );
        let reason = format!(
            "nixpkgs.hostPlatform = {}, nixpkgs.buildPlatform = {}",
            want.target.system, want.build
        );
        return p.add_module(&comment, &text, &reason);
    }
    set_option(
        p,
        PlatformOption::HostPlatform,
        want.target,
        true,
        None,
        &comment,
    )?;
    match want.mode {
        Mode::Cross => {
            let build = platform::resolve(want.build)?;
            set_option(
                p,
                PlatformOption::BuildPlatform,
                &build,
                false,
                host_win.first(),
                &comment,
            )
        }
        // buildPlatform defaults to the host: one that already says the
        // target (a shared `lib.mkDefault "x86_64-linux"`) changes nothing
        // and stays.
        Mode::Emulate | Mode::Native
            if p.winning(PlatformOption::BuildPlatform)
                .iter()
                .all(|d| d.system.as_deref() == Some(want.target.system.as_str()))
                && !p.winning(PlatformOption::BuildPlatform).is_empty() =>
        {
            Ok(())
        }
        Mode::Emulate | Mode::Native => remove_option(p, PlatformOption::BuildPlatform),
    }
}

/// A module's package set built natively for the configuration's host
/// (`inherit (pkgs) system;`) is built on its build platform for its host
/// instead: `localSystem = pkgs.stdenv.buildPlatform.system; crossSystem =
/// pkgs.stdenv.hostPlatform.system;` (or `config.nixpkgs.*`). For a native
/// configuration both are the same system, which nixpkgs reads as a native
/// build: so text other configurations use changes only when they are all
/// native (their meaning stays).
fn follow_build_and_host(p: &mut Planner, s: &crate::flake::ScopedSet, what: &str) -> Result<()> {
    let Some(site) = s.local_site.clone() else {
        return Ok(());
    };
    let users = p.flake.users_of(site.file, site.range(), &p.config.name);
    let not_native: Vec<String> = users
        .iter()
        .filter(|u| {
            !p.flake.configs.iter().any(|c| {
                &c.name == *u
                    && c.platforms.build.is_some()
                    && c.platforms.build == c.platforms.host
            })
        })
        .cloned()
        .collect();
    if !not_native.is_empty() {
        return Err(p.error_at(
            Error::shared(format!(
                "{what} is built natively for the host; making it a cross set would change {}, which {} not built natively (or not known to be)",
                list_names(&not_native),
                if not_native.len() == 1 { "is" } else { "are" },
            )),
            &site,
        ));
    }
    let base = match crate::flake::config_platform_base(&site) {
        Some(b) => b,
        None => return Ok(()),
    };
    let (build, host) = if base == "config" {
        (
            "config.nixpkgs.buildPlatform.system".to_string(),
            "config.nixpkgs.hostPlatform.system".to_string(),
        )
    } else {
        (
            format!("{base}.stdenv.buildPlatform.system"),
            format!("{base}.stdenv.hostPlatform.system"),
        )
    };
    let text = format!(
        "localSystem = {build};{}crossSystem = {host};",
        p.layout(site.file).nl
    );
    // One line as the binding was, or one binding per line at its indent.
    let src = p.text(site.file);
    let indent = syntax::indent_at(src, site.node.start()).to_string();
    let text = if syntax::starts_line(src, site.node.start()) {
        text.replace(
            p.layout(site.file).nl,
            &format!("{}{indent}", p.layout(site.file).nl),
        )
    } else {
        format!("localSystem = {build}; crossSystem = {host};")
    };
    p.core.mark_replaced(&site);
    p.push(
        site.file,
        TextEdit::replace(site.range(), text),
        &format!("{what} is built on the configuration's build platform for its host"),
    );
    Ok(())
}

/// Scoped package sets (through specialArgs or `_module.args`) follow the
/// new platforms.
fn scoped(p: &mut Planner, want: &Want) -> Result<()> {
    let sets = p.sys.scoped.clone();
    let lib = p.call_lib();
    let native = want.native();
    // The configuration already means what is asked: a set whose platform
    // nixcross cannot read is left as it is (nothing it depends on changes).
    let unchanged = p.config.platforms.build.as_deref() == Some(native.as_str())
        && p.config.platforms.host.as_deref() == Some(want.target.system.as_str());
    // A set built from the configuration's own platforms follows by itself.
    for s in sets
        .into_iter()
        .filter(|s| s.tracking != Tracking::BuildAndHost)
    {
        if unchanged && s.local.is_none() {
            continue;
        }
        let what = format!("the scoped package set `{}`", s.name);
        let reason = format!("{what} follows");
        if s.tracking == Tracking::Host {
            // Native for the host: right for an emulated build as it is; a
            // configuration made a cross build takes both platforms from the
            // configuration (one that is one already keeps what it says).
            if want.mode == Mode::Cross && !unchanged {
                follow_build_and_host(p, &s, &what)?;
            }
            continue;
        }
        // Its building system.
        match (&s.local_literal, &s.local_site) {
            (_, _) if s.local.as_deref() == Some(native.as_str()) => {}
            (Some(lit), _) => {
                if !p.owns_literal(lit) {
                    p.guard(lit.file, lit.range(), &what)?;
                }
                p.replace_literal(lit, &native, &reason)?;
            }
            (None, Some(site)) => {
                return Err(p.error_at(
                    Error::refused(format!(
                        "{what} sets its platform with an expression nixcross cannot rewrite"
                    )),
                    site,
                ));
            }
            (None, None) => {
                let Some(args) = s.args.clone() else {
                    return Err(Error::refused(format!(
                        "{what} is not `import nixpkgs {{ ... }}` with a literal argument set"
                    )));
                };
                p.guard(args.file, args.range(), &what)?;
                let set = args.node.attrset().expect("a set");
                let e = module::insert_binding(
                    p.text(args.file),
                    p.layout(args.file),
                    &set,
                    "localSystem",
                    &syntax::quote(&native),
                    module::Position::First,
                );
                p.push(args.file, e, &reason);
            }
        }
        // Its host platform, written in a helper other configurations call
        // too: given through this configuration's own call of it
        // (`ops::params`), when the helper can take it from there.
        let shared_cross = match &s.cross_site {
            Some(c) => !p.private(c.file, c.range()),
            None => s
                .args
                .as_ref()
                .is_some_and(|a| !p.private(a.file, a.range())),
        };
        if want.mode == Mode::Cross
            && shared_cross
            && s.cross.as_deref() != Some(want.target.system.as_str())
            && !want.target.example_has_extras
        {
            if let Some(a) = &s.args {
                let own = host_value(want.target, None, true)?;
                if p.cross_through_call(a, &own, &reason)? {
                    continue;
                }
            }
        }
        match (want.mode, &s.cross_site) {
            (Mode::Cross, Some(site)) => {
                let value = site_value(site).map(|v| unwrap_priority(&v));
                let same_example = value
                    .as_ref()
                    .and_then(example_name)
                    .is_some_and(|n| want.target.example.as_deref() == Some(n.as_str()));
                if same_example && want.target.example_has_extras {
                    continue;
                }
                if s.cross.as_deref() == Some(want.target.system.as_str())
                    && !want.target.example_has_extras
                    && !want.target.needs_config()
                {
                    continue;
                }
                match (&s.cross_literal, value) {
                    (Some(lit), Some(v))
                        if !want.target.example_has_extras && example_name(&v).is_none() =>
                    {
                        let key = key_of_literal(lit);
                        let text = literal_value(want.target, key.as_deref());
                        if !p.owns_literal(lit) {
                            p.guard(lit.file, lit.range(), &what)?;
                        }
                        p.replace_literal(lit, &text, &reason)?;
                    }
                    (_, Some(v)) => {
                        let text = host_value(want.target, Some(&lib), true)?;
                        p.replace_node(&Src::new(site.file, v), &text, &reason)?;
                    }
                    (_, None) => {
                        return Err(p.error_at(
                            Error::refused(format!(
                                "{what} inherits its crossSystem; nixcross cannot rewrite it"
                            )),
                            site,
                        ))
                    }
                }
            }
            (Mode::Cross, None) => {
                let value = host_value(want.target, Some(&lib), true)?;
                match &s.local_site {
                    Some(site) => {
                        if let Some(args) = &s.args {
                            p.guard(args.file, args.range(), &what)?;
                        }
                        p.insert_after(site, "crossSystem", &value, &reason)?
                    }
                    None => {
                        let Some(args) = s.args.clone() else { continue };
                        p.guard(args.file, args.range(), &what)?;
                        let set = args.node.attrset().expect("a set");
                        let e = module::insert_binding(
                            p.text(args.file),
                            p.layout(args.file),
                            &set,
                            "crossSystem",
                            &value,
                            module::Position::Last,
                        );
                        p.push(args.file, e, &reason);
                    }
                }
            }
            (Mode::Emulate | Mode::Native, Some(site)) => {
                let through_call = match (&s.args, shared_cross) {
                    (Some(a), true) => p.native_through_call(a, &reason)?,
                    _ => false,
                };
                if !through_call {
                    p.remove_binding(site, &reason)?;
                }
            }
            (Mode::Emulate | Mode::Native, None) => {}
        }
    }
    Ok(())
}
