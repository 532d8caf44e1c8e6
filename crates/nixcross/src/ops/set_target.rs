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

mod in_place;
use in_place::*;
mod styles;
use styles::*;

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
            p.core
                .warnings
                .push(emulation_warning(&target.system).into());
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
    if p.core.is_empty() {
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
            || p.core.touches(file, range)
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
