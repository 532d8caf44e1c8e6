//! `nixcross export`: the spec ([`crate::spec`]) that describes a flake as
//! it is, so that `nixcross apply` on it changes nothing.
//!
//! For every configuration nixcross can edit it writes:
//! - `target`: the name the file uses for the platform it runs on — the
//!   pkgsCross example of `lib.systems.examples.<name>`, else the string
//!   literal the winning definition comes from (a double or a triple), else
//!   the double NixOS decides;
//! - `mode`: `cross` when the build and host platforms differ, else
//!   `native` when the host is the system of the machine that exports
//!   (`local_system`), else `emulate` (built natively, under QEMU on a
//!   machine of another CPU); `native` and `emulate` are the same flake;
//! - `build`: for a cross build, the build platform's double;
//! - `style`: legacy or modern, as the configuration is written;
//! - `overlays`: each global overlay nixcross reads (`attr = final.pkg;`,
//!   `prev.pkg` or `inherit (final) pkg`), and each scoped package set
//!   passed through `specialArgs` or `_module.args` with its overlays and
//!   the packages the modules take from it.
//!
//! What it cannot describe is said in comments at the end: configurations
//! nixcross cannot edit (with the reason), overlays it cannot read, and
//! platforms that say more than the spec can (a crossSystem with gcc flags
//! of its own). The build host is not exported: a flake does not say which
//! machine builds it.

use std::collections::BTreeMap;

use crate::error::Result;
use crate::files::{Files, RelPath};
use crate::flake::overlays::{used_packages, OverlayView};
use crate::flake::{Config, Definition, Flake, PlatformOption, SeenStyle};
use crate::ops::add_overlay::instance_name;
use crate::ops::editor::{edit_blocker, winners, PkgsOptionUse};
use crate::ops::set_target::{example_name, site_value, unwrap_priority};
use crate::ops::show::mode_of;
use crate::platform;
use crate::source::Src;
use crate::spec::{self, ConfigSpec, OverlaySpec, Spec};
use crate::syntax::Entry;
use crate::vocab::{Mode, Style};

/// A flake described as a spec.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Exported {
    /// The spec.
    pub spec: Spec,
    /// What the spec leaves out, one sentence each.
    pub notes: Vec<String>,
}

/// Describe the flake `flake` of `files`. `flake_ref` is what the spec's
/// `flake` says (where the flake is, relative to the spec), when not the
/// default `flake.nix` next to it; `local_system` is the system of the
/// machine that builds (a configuration built natively for it is
/// `mode: native`, for another system `mode: emulate`).
pub fn export(
    files: &dyn Files,
    flake: &RelPath,
    flake_ref: Option<String>,
    local_system: Option<&str>,
) -> Result<Exported> {
    let f = Flake::load(files, flake)?;
    let mut spec = Spec {
        flake: flake_ref,
        ..Spec::default()
    };
    let mut notes = Vec::new();
    for c in &f.configs {
        match describe(&f, c, local_system, &mut notes) {
            Ok(cs) => {
                spec.configurations.insert(c.name.clone(), cs);
            }
            Err(why) => notes.push(format!("{}: {why}", c.name)),
        }
    }
    if let Some((why, at)) = &f.incomplete {
        notes.push(match at {
            Some(at) => format!(
                "nixosConfigurations may hold more: {why} ({})",
                f.describe(at)
            ),
            None => format!("nixosConfigurations may hold more: {why}"),
        });
    }
    Ok(Exported { spec, notes })
}

/// The spec's text: a header saying what it is, the YAML, and the notes.
pub fn to_text(e: &Exported, flake: &str) -> String {
    let header = vec![
        format!("nixcross.yaml: how the NixOS configurations of {flake} are built (written by `nixcross export`)."),
        "`nixcross apply` makes the flake say this; `nixcross apply --check` exits 1 when it does not.".to_string(),
    ];
    let notes: Vec<String> = if e.notes.is_empty() {
        Vec::new()
    } else {
        std::iter::once("Not described here (apply leaves them alone):".to_string())
            .chain(e.notes.iter().map(|n| format!("  {n}")))
            .collect()
    };
    spec::to_yaml(&e.spec, &header, &notes)
}

/// One configuration, or why not.
fn describe(
    f: &Flake,
    c: &Config,
    local_system: Option<&str>,
    notes: &mut Vec<String>,
) -> std::result::Result<ConfigSpec, String> {
    if let Some(why) = edit_blocker(f, c, PkgsOptionUse::Refuse) {
        return Err(why);
    }
    let sys = c.system().ok_or("nixcross cannot follow it")?;
    let p = &c.platforms;
    let (Some(build), Some(host)) = (&p.build, &p.host) else {
        return Err(p
            .unknown
            .clone()
            .unwrap_or_else(|| "no platform is set".into()));
    };
    let style = match p.style {
        Some(SeenStyle::One(s)) => s,
        _ => return Err("it sets no platform option nixcross knows".into()),
    };
    let mode = mode_of(Some(build), Some(host), local_system).unwrap_or(Mode::Emulate);
    // The definition that names the host platform.
    let option = match style {
        Style::Modern => PlatformOption::HostPlatform,
        Style::Legacy if has(sys, PlatformOption::CrossSystem) => PlatformOption::CrossSystem,
        Style::Legacy if has(sys, PlatformOption::LocalSystem) => PlatformOption::LocalSystem,
        Style::Legacy => PlatformOption::System,
    };
    let defs = sys.definitions.iter().filter(|d| d.option == option);
    let target = winners(defs)
        .first()
        .and_then(|d| target_name(f, c, d, notes))
        .filter(|t| platform::resolve(t).is_ok_and(|r| &r.system == host))
        .unwrap_or_else(|| host.clone());
    let mut overlays = Vec::new();
    global_overlays(f, c, &mut overlays, notes);
    scoped_overlays(c, &mut overlays, notes);
    Ok(ConfigSpec {
        target,
        mode,
        build: (mode == Mode::Cross).then(|| build.clone()),
        style: Some(style),
        overlays,
    })
}

/// Whether the configuration defines `option` with a value (a
/// `crossSystem = null` does not count).
fn has(sys: &crate::flake::SystemCall, option: PlatformOption) -> bool {
    winners(sys.definitions.iter().filter(|d| d.option == option))
        .iter()
        .any(|d| !d.is_null)
}

/// The name the file uses for the platform of definition `d`.
fn target_name(f: &Flake, c: &Config, d: &Definition, notes: &mut Vec<String>) -> Option<String> {
    if let Some(v) = d
        .site
        .as_ref()
        .and_then(site_value)
        .map(|v| unwrap_priority(&v))
    {
        if let Some(name) = example_name(&v) {
            return Some(name);
        }
        if let Some(set) = v.attrset() {
            let extra: Vec<String> = set
                .entries
                .iter()
                .filter_map(|e| match e {
                    Entry::Binding(b) => b.path.as_ref().map(|p| p.join(".")),
                    Entry::Inherit(i) => Some(
                        i.names
                            .iter()
                            .map(|(n, _)| n.clone())
                            .collect::<Vec<_>>()
                            .join(", "),
                    ),
                })
                .filter(|k| k != "system" && k != "config")
                .collect();
            if !extra.is_empty() {
                let at = d
                    .site
                    .as_ref()
                    .map(|s| format!(" ({})", f.describe(s)))
                    .unwrap_or_default();
                notes.push(format!(
                    "{}: nixpkgs.{} also sets {}{at}, which the spec does not say; apply keeps it",
                    c.name,
                    d.option.name(),
                    extra.join(", ")
                ));
            }
        }
    }
    if let Some(lit) = &d.literal {
        if let Some(s) = lit.node.string_literal() {
            return Some(s);
        }
    }
    d.system.clone()
}

/// `(attr, package)` pairs of an overlay nixcross reads, and whether it
/// read all of it.
fn recognised(o: &OverlayView) -> (Vec<(String, String)>, bool) {
    let Some((a, b)) = &o.args else {
        return (Vec::new(), false);
    };
    let Some(set) = o
        .node
        .unparen()
        .lambda()
        .and_then(|l| l.body.unparen().lambda())
        .and_then(|l| l.body.unparen().attrset())
    else {
        return (Vec::new(), false);
    };
    let mut pairs = Vec::new();
    let mut all = !set.rec;
    for e in &set.entries {
        match e {
            Entry::Binding(bind) => {
                let attr = match bind.path.as_deref() {
                    Some([k]) => k.clone(),
                    _ => {
                        all = false;
                        continue;
                    }
                };
                match bind.value.reference() {
                    Some(r) if r.len() > 1 && (&r[0] == a || &r[0] == b) => {
                        pairs.push((attr, r[1..].join(".")))
                    }
                    _ => all = false,
                }
            }
            Entry::Inherit(inh) => match inh.from.as_ref().and_then(|f| f.reference()) {
                Some(r) if r.len() == 1 && (&r[0] == a || &r[0] == b) => {
                    pairs.extend(inh.names.iter().map(|(n, _)| (n.clone(), n.clone())))
                }
                _ => all = false,
            },
        }
    }
    (pairs, all)
}

fn located(f: &Flake, src: &Src) -> String {
    f.describe(src)
}

fn global_overlays(f: &Flake, c: &Config, out: &mut Vec<OverlaySpec>, notes: &mut Vec<String>) {
    let Some(sys) = c.system() else { return };
    for def in &sys.overlays {
        if def.list.is_none() {
            notes.push(format!(
                "{}: nixpkgs.overlays at {} is not a list nixcross reads",
                c.name,
                located(f, &def.site)
            ));
            continue;
        }
        for o in &def.overlays {
            let (pairs, all) = recognised(o);
            if !all {
                notes.push(format!(
                    "{}: an overlay nixcross does not read{} ({})",
                    c.name,
                    if pairs.is_empty() { "" } else { " all of" },
                    located(f, &Src::new(def.site.file, o.node.clone()))
                ));
            }
            if pairs.is_empty() {
                continue;
            }
            out.push(OverlaySpec {
                packages: pairs.into_iter().collect::<BTreeMap<_, _>>(),
                scoped: false,
                instance: None,
                uses: Vec::new(),
            });
        }
    }
}

fn scoped_overlays(c: &Config, out: &mut Vec<OverlaySpec>, notes: &mut Vec<String>) {
    let Some(sys) = c.system() else { return };
    let lists: Vec<Src> = sys.package_lists.iter().map(|(_, s)| s.clone()).collect();
    for s in &sys.scoped {
        if s.overlays.is_empty() {
            continue;
        }
        let mut packages = BTreeMap::new();
        let mut all = true;
        for o in &s.overlays {
            let (pairs, whole) = recognised(o);
            all &= whole;
            packages.extend(pairs);
        }
        if !all {
            notes.push(format!(
                "{}: the scoped package set `{}` has an overlay nixcross does not read",
                c.name, s.name
            ));
        }
        let Some(first) = packages.values().next().cloned() else {
            continue;
        };
        if instance_name(Some(&s.name), &first).is_err() {
            notes.push(format!(
                "{}: the scoped package set `{}` has a name nixcross does not write",
                c.name, s.name
            ));
            continue;
        }
        out.push(OverlaySpec {
            packages,
            scoped: true,
            instance: Some(s.name.clone()),
            uses: used_packages(&lists, &s.name),
        });
    }
}

#[cfg(test)]
mod tests;
