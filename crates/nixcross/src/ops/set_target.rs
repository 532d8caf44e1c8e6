//! `nixcross set-target`: switch one configuration between targets and
//! strategies (cross or emulate), in the style the file already uses.
//!
//! - legacy files get `system = "<build>"` plus `nixpkgs.crossSystem` (cross)
//!   or `system = "<target>"` alone (emulate);
//! - modern files get `nixpkgs.hostPlatform` plus `nixpkgs.buildPlatform`
//!   (cross) or `hostPlatform` alone (emulate);
//! - a file with no platform yet gets the legacy style, as the seed shows;
//! - cross to emulate removes crossSystem/buildPlatform and leaves no empty
//!   module or `nixpkgs = { }` behind;
//! - a scoped package set passed through `specialArgs`
//!   (`pkgs-x = import nixpkgs { localSystem; crossSystem; ... }`) follows.

use crate::edit::TextEdit;
use crate::error::{Error, Result};
use crate::flake_old::{self as flake, Flake, PlatformExpr, PlatformOption, Value};
use crate::module::{self, Position};
use crate::ops::editor::{compact, indent_tail, Planner};
use crate::ops::{EditOutcome, Plan};
use crate::platform::{self, Target};
use crate::syntax::{self, Entry};
use crate::vocab::{Mode, Style};

/// Options for [`set_target`].
#[derive(Debug, Clone)]
pub struct SetTargetOptions {
    /// A double, a pkgsCross name or a config triple.
    pub target: String,
    pub mode: Mode,
    /// The configuration to edit; may be omitted when there is only one.
    pub config: Option<String>,
    /// The build platform for cross builds (defaults to the configuration's
    /// current build platform when it is cross, else `local_system`).
    pub host: Option<String>,
    /// The machine nixcross runs on (the CLI passes it), used as the default
    /// build platform.
    pub local_system: Option<String>,
}

/// Plan and apply the switch. The returned text has been re-parsed.
pub fn set_target(src: &str, opts: &SetTargetOptions) -> Result<EditOutcome> {
    plan_set_target(src, opts)?.apply(src)
}

/// Plan the switch without applying it.
pub fn plan_set_target(src: &str, opts: &SetTargetOptions) -> Result<Plan> {
    let flake = Flake::parse(src)?;
    let (config, call) = flake.select_editable(opts.config.as_deref())?;
    let target = platform::resolve(&opts.target)?;
    if !target.is_linux() {
        return Err(Error::invalid(format!(
            "`{}` is a {} platform; NixOS runs on Linux only",
            opts.target, target.system
        )));
    }
    let current = config.platforms();
    let build = match &opts.host {
        Some(h) => platform::resolve(h)?.system,
        None => match (&current.build, &current.host) {
            (Some(b), Some(h)) if b != h => b.clone(),
            _ => opts.local_system.clone().ok_or_else(|| {
                Error::invalid("cannot tell which system builds; pass --host <SYSTEM>")
            })?,
        },
    };
    let mut warnings = Vec::new();
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
            warnings.push(format!(
                "an emulated build needs the building machine to emulate {0}: on NixOS add `boot.binfmt.emulatedSystems = [ \"{0}\" ];` to its configuration (`nixcross emulate {0}`)",
                target.system
            ));
        }
        _ => {}
    }
    let style = match current.style {
        Some("modern") => Style::Modern,
        _ => Style::Legacy,
    };
    let mut plan = Planner::new(src, &flake, config, call);
    plan.warnings = warnings;
    plan.warn_hardware_configuration(style);
    if current.style.is_none() && current.host.is_none() {
        plan.warn_hidden_platform(opts.mode);
    }
    match style {
        Style::Legacy => plan.legacy(&target, &build, opts.mode)?,
        Style::Modern => plan.modern(&target, &build, opts.mode)?,
    }
    plan.scoped(&target, &build, opts.mode)?;
    let what = match opts.mode {
        Mode::Cross => format!("cross-compile for {} on {build}", target.system),
        Mode::Emulate => format!("build {} natively (emulated elsewhere)", target.system),
    };
    Ok(plan.into_plan(format!("{}: {what}", config.name)))
}

/// The value text for a host-side platform option.
fn host_value(target: &Target, lib: &str, as_set: bool) -> String {
    if target.example_has_extras {
        return format!(
            "{lib}.systems.examples.{}",
            target.example.as_deref().unwrap()
        );
    }
    if target.needs_config() && !target.config.is_empty() {
        return format!("{{\n  config = {};\n}}", syntax::quote(&target.config));
    }
    if as_set {
        format!("{{\n  system = {};\n}}", syntax::quote(&target.system))
    } else {
        syntax::quote(&target.system)
    }
}

impl Planner<'_> {
    fn warn_hardware_configuration(&mut self, style: Style) {
        if style != Style::Legacy {
            return;
        }
        let Some(list) = self.call.modules.as_ref().and_then(|m| m.list.as_ref()) else {
            return;
        };
        if list
            .items
            .iter()
            .any(|i| i.text().contains("hardware-configuration.nix"))
        {
            self.warnings.push("hardware-configuration.nix usually sets `nixpkgs.hostPlatform`; NixOS rejects `nixpkgs.crossSystem` next to it. Remove that line from it, or switch this flake to hostPlatform/buildPlatform".into());
        }
    }

    /// Nothing in the flake says where the configuration runs, so an
    /// imported module probably does; most likely with `nixpkgs.hostPlatform`
    /// (what nixos-generate-config writes), which NixOS rejects next to the
    /// `nixpkgs.crossSystem` this edit adds.
    fn warn_hidden_platform(&mut self, mode: Mode) {
        let Some(list) = self.call.modules.as_ref().and_then(|m| m.list.as_ref()) else {
            return;
        };
        let hidden: Vec<String> = list
            .items
            .iter()
            .filter(|i| module::module_body(i).is_none())
            .filter(|i| !i.text().contains("hardware-configuration.nix"))
            .map(|i| {
                let t = i.text();
                let first = t.lines().next().unwrap_or_default();
                match first.char_indices().nth(40) {
                    Some((at, _)) => format!("{}...", &first[..at]),
                    None if first.len() < t.len() => format!("{first}..."),
                    None => first.to_string(),
                }
            })
            .take(3)
            .collect();
        if hidden.is_empty() {
            return;
        }
        let why = match mode {
            Mode::Cross => "NixOS rejects it next to `nixpkgs.crossSystem`",
            Mode::Emulate => "it wins over the `system` argument set here",
        };
        self.warnings.push(format!(
            "the flake does not say which platform `{}` runs on, so one of its modules ({}) probably does. If it sets `nixpkgs.hostPlatform` (hardware-configuration.nix does), remove that line: {why}",
            self.config.name,
            hidden.join(", ")
        ));
    }

    /// Set the `system` argument of nixosSystem to `value`.
    fn set_system_arg(&mut self, value: &str) -> Result<()> {
        match &self.call.system {
            Some((entry, Value::Literal(t))) => {
                if t.value == value {
                    return Ok(());
                }
                let literal_private = self.inside_config(t.literal.range())
                    || t.via
                        .as_ref()
                        .is_some_and(|v| self.flake.doc.count_references(v) <= 1)
                        && self.call.helper.as_ref().is_none_or(|(_, uses)| *uses <= 1);
                if literal_private {
                    return self.replace_literal(&t.literal, value);
                }
                // The literal is shared: give this call its own value.
                self.guard_shared(entry.range(), "`system`")?;
                match entry {
                    Entry::Binding(b) => {
                        self.push(TextEdit::replace(b.value.range(), syntax::quote(value)));
                    }
                    Entry::Inherit(i) if i.names.len() == 1 => {
                        self.push(TextEdit::replace(
                            i.range,
                            format!("system = {};", syntax::quote(value)),
                        ));
                    }
                    Entry::Inherit(i) => return Err(Error::refused(
                        "`system` is inherited together with other names, and its value is shared",
                    )
                    .at(i.range)),
                }
                Ok(())
            }
            Some((entry, Value::Unknown(why))) => {
                Err(Error::refused(format!("cannot change `system`: {why}")).at(entry.range()))
            }
            None => {
                self.guard_shared(self.call.args.node.range(), "nixosSystem's arguments")?;
                let e = module::insert_binding(
                    self.src,
                    &self.style,
                    &self.call.args,
                    "system",
                    &syntax::quote(value),
                    Position::First,
                );
                self.push(e);
                Ok(())
            }
        }
    }

    /// Update an existing platform setting to mean `value_text`/`target`.
    fn update_setting(
        &mut self,
        setting: &flake::PlatformSetting,
        target: &Target,
        host_side: bool,
        build: &str,
    ) -> Result<()> {
        self.guard_shared(setting.hit.value.range(), "the platform setting")?;
        let lib = self.call.lib_expr();
        let want_system = if host_side {
            target.system.as_str()
        } else {
            build
        };
        let extras = host_side && target.example_has_extras;
        let needs_config = host_side && target.needs_config() && !target.config.is_empty();
        if !setting.hit.rest.is_empty() {
            // nixpkgs.crossSystem.system = "..."
            let lit = setting.hit.value.unparen();
            if extras || lit.string_literal().is_none() {
                return Err(Error::refused(
                    "this platform is set through a longer key; nixcross can only replace its string",
                )
                .at(setting.hit.value.range()));
            }
            let v = if setting.hit.rest[0] == "config" || needs_config {
                target_config(target, want_system)
            } else {
                want_system.to_string()
            };
            return self.replace_literal(&lit, &v);
        }
        match &setting.expr {
            PlatformExpr::Example { name, node } => {
                if extras && target.example.as_deref() == Some(name.as_str()) {
                    return Ok(());
                }
                let as_set = setting.option == PlatformOption::CrossSystem;
                let text = if host_side {
                    host_value(target, &lib, as_set)
                } else {
                    syntax::quote(build)
                };
                self.replace_generated(node, &text);
                Ok(())
            }
            _ if extras => {
                let node = flake::unwrap_priority(&setting.hit.value);
                self.replace_generated(&node, &host_value(target, &lib, true));
                Ok(())
            }
            PlatformExpr::Str(lit) => {
                let v = if needs_config {
                    target.config.clone()
                } else {
                    want_system.to_string()
                };
                self.replace_literal(lit, &v)
            }
            PlatformExpr::Keyed { set, key, literal } => {
                let others: Vec<&str> = set
                    .entries
                    .iter()
                    .filter_map(|e| e.first_name())
                    .filter(|n| n != key)
                    .collect();
                if !others.is_empty() && setting.system.as_deref() != Some(want_system) {
                    self.warnings.push(format!(
                        "kept the other attributes of nixpkgs.{} ({}); check that they suit {want_system}",
                        setting.option.name(),
                        others.join(", ")
                    ));
                }
                let v = if key == "config" || needs_config {
                    target_config(target, want_system)
                } else {
                    want_system.to_string()
                };
                if key == "system" && needs_config {
                    // `system` accepts a triple as well, but say it plainly.
                    return self.replace_literal(literal, &v);
                }
                self.replace_literal(literal, &v)
            }
            PlatformExpr::Other(node) => {
                if setting.system.as_deref() == Some(want_system) && !needs_config {
                    return Ok(());
                }
                Err(Error::refused(format!(
                    "nixpkgs.{} is `{}`, which nixcross cannot rewrite safely",
                    setting.option.name(),
                    node.text().lines().next().unwrap_or_default()
                ))
                .at(node.range()))
            }
        }
    }

    fn legacy(&mut self, target: &Target, build: &str, mode: Mode) -> Result<()> {
        let local = self.call.settings_of(PlatformOption::LocalSystem);
        let system_opt = self.call.settings_of(PlatformOption::System);
        let cross = self.call.settings_of(PlatformOption::CrossSystem);
        let native = match mode {
            Mode::Cross => build.to_string(),
            Mode::Emulate => target.system.clone(),
        };
        // The building system: localSystem or nixpkgs.system when the file
        // uses them, else nixosSystem's `system` argument.
        if let Some(s) = local.first().or(system_opt.first()) {
            let t = platform::resolve(&native)?;
            self.update_setting(s, &t, false, &native)?;
        } else {
            self.set_system_arg(&native)?;
        }
        match mode {
            Mode::Cross => {
                if let Some(first) = cross.first() {
                    self.update_setting(first, target, true, build)?;
                } else if let Some(m) = self.nixpkgs_module() {
                    let v = host_value(target, &self.call.lib_expr(), true);
                    self.insert_option(m, "crossSystem", &v)?;
                } else {
                    let v = host_value(target, &self.call.lib_expr(), true);
                    let text = format!("{{\n  nixpkgs.crossSystem = {};\n}}", indent_tail(&v));
                    let comment = format!(
                        "Cross-compile: built on {build}, runs on {}.",
                        target.system
                    );
                    self.add_module(&comment, &text)?;
                }
            }
            Mode::Emulate => {
                for s in cross {
                    self.remove_setting(s)?;
                }
            }
        }
        Ok(())
    }

    fn modern(&mut self, target: &Target, build: &str, mode: Mode) -> Result<()> {
        let host = self.call.settings_of(PlatformOption::HostPlatform);
        let buildp = self.call.settings_of(PlatformOption::BuildPlatform);
        let lib = self.call.lib_expr();
        if let Some(h) = host.first() {
            self.update_setting(h, target, true, build)?;
        }
        match mode {
            Mode::Cross => {
                if let Some(b) = buildp.first() {
                    let bt = platform::resolve(build)?;
                    self.update_setting(b, &bt, false, build)?;
                }
            }
            Mode::Emulate => {
                for b in buildp.iter() {
                    self.remove_setting(b)?;
                }
            }
        }
        // Insert what is missing next to what is there.
        let need_host = host.is_empty();
        let need_build = mode == Mode::Cross && buildp.is_empty();
        if !need_host && !need_build {
            return Ok(());
        }
        let anchor = host
            .first()
            .or(buildp.first())
            .map(|s| &self.call.inline_modules[s.module]);
        let host_text = host_value(target, &lib, false);
        let build_text = syntax::quote(build);
        if let Some(m) = anchor.or(self.nixpkgs_module()) {
            if need_host {
                self.insert_option(m, "hostPlatform", &host_text)?;
            }
            if need_build {
                self.insert_option(m, "buildPlatform", &build_text)?;
            }
            return Ok(());
        }
        let mut text = format!(
            "{{\n  nixpkgs.hostPlatform = {};\n",
            indent_tail(&host_text)
        );
        if need_build {
            text.push_str(&format!("  nixpkgs.buildPlatform = {build_text};\n"));
        }
        text.push('}');
        let comment = match mode {
            Mode::Cross => format!(
                "Cross-compile: built on {build}, runs on {}.",
                target.system
            ),
            Mode::Emulate => format!(
                "Runs on {}; built natively or under emulation.",
                target.system
            ),
        };
        self.add_module(&comment, &text)
    }

    /// Scoped package sets passed through specialArgs follow the target.
    fn scoped(&mut self, target: &Target, build: &str, mode: Mode) -> Result<()> {
        let lib = self.call.lib_expr();
        for inst in flake::scoped_instances(self.call) {
            let args = &inst.args;
            let (local, cross) = (inst.local.as_ref(), inst.cross.as_ref());
            let native = match mode {
                Mode::Cross => build.to_string(),
                Mode::Emulate => target.system.clone(),
            };
            match local {
                Some(l) => match &l.value.unparen() {
                    v if v.string_literal().is_some() => self.replace_literal(v, &native)?,
                    v => {
                        let (expr, system) = flake::read_platform(v, &self.call.scopes);
                        match expr {
                            PlatformExpr::Keyed { literal, key, .. } => {
                                let t = platform::resolve(&native)?;
                                let val = if key == "config" { t.config.clone() } else { native.clone() };
                                self.replace_literal(&literal, &val)?
                            }
                            _ if system.as_deref() == Some(native.as_str()) => {}
                            _ => {
                                return Err(Error::refused(format!(
                                    "the scoped package set `{}` sets its {} with an expression nixcross cannot rewrite",
                                    inst.name, l.key
                                ))
                                .at(v.range()))
                            }
                        }
                    }
                },
                None => {
                    let e = module::insert_binding(
                        self.src,
                        &self.style,
                        args,
                        "localSystem",
                        &syntax::quote(&native),
                        Position::First,
                    );
                    self.push(e);
                }
            }
            match (mode, cross) {
                (Mode::Cross, Some(c)) => {
                    let (expr, system) = flake::read_platform(&c.value, &self.call.scopes);
                    match expr {
                        PlatformExpr::Str(lit) => {
                            let v = if target.needs_config() {
                                target.config.clone()
                            } else {
                                target.system.clone()
                            };
                            self.replace_literal(&lit, &v)?
                        }
                        PlatformExpr::Keyed { literal, key, .. } if !target.example_has_extras => {
                            let v = if key == "config" || target.needs_config() {
                                target_config(target, &target.system)
                            } else {
                                target.system.clone()
                            };
                            self.replace_literal(&literal, &v)?
                        }
                        PlatformExpr::Example { name, .. }
                            if target.example.as_deref() == Some(name.as_str()) => {}
                        _ if system.as_deref() == Some(target.system.as_str())
                            && !target.example_has_extras => {}
                        _ => self.replace_generated(&c.value, &host_value(target, &lib, true)),
                    }
                }
                (Mode::Cross, None) => {
                    let e = module::insert_binding(
                        self.src,
                        &self.style,
                        args,
                        "crossSystem",
                        &host_value(target, &lib, true),
                        Position::Last,
                    );
                    // Put it right after localSystem when that exists.
                    let e = match &inst.local {
                        Some(l) => {
                            TextEdit::insert(syntax::after_trailing_comment(self.src, l.range.1), {
                                let base = syntax::indent_at(self.src, l.range.0).to_string();
                                let text = syntax::reindent(
                                    &format!("crossSystem = {};", host_value(target, &lib, true)),
                                    &base,
                                    &self.style.unit,
                                    self.style.nl,
                                );
                                if syntax::starts_line(self.src, l.range.0) {
                                    format!("{}{base}{text}", self.style.nl)
                                } else {
                                    format!(" {}", compact(&text))
                                }
                            })
                        }
                        None => e,
                    };
                    self.push(e);
                }
                (Mode::Emulate, Some(c)) => {
                    self.push(module::remove_entry(self.src, args, c.range));
                }
                (Mode::Emulate, None) => {}
            }
        }
        Ok(())
    }
}

fn target_config(target: &Target, fallback: &str) -> String {
    if target.config.is_empty() {
        fallback.to_string()
    } else {
        target.config.clone()
    }
}
