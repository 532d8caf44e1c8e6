//! The definition walk: a module's definitions of the options nixcross
//! reads, through `mkIf`, `mkMerge` and the priority wrappers.

use super::sets::{pkgs_platforms, platform_of};
use super::Opaque;
use crate::eval::{short, AttrEntry, Evaluator, Property, Special, ThunkId, Value};
use crate::flake::host::{bool_of, literal_sides, Toggle, ToggleDef};
use crate::flake::overlays::OverlayDef;
use crate::flake::platforms::{Definition, PlatformOption, PLAIN};
use crate::flake::{ModuleArg, PkgsOption, SystemCall};
use crate::source::Src;

/// A value found at a path, with the properties around it.
struct Leaf {
    value: Value,
    priority: u32,
    condition: Option<String>,
    site: Option<Src>,
}

/// Collect the platform definitions of a module's config value.
pub(super) fn walk_config(
    ev: &mut Evaluator,
    sys: &mut SystemCall,
    index: usize,
    config: ThunkId,
    at: Option<Src>,
) {
    let (packages, _) = walk_collect(
        ev,
        config,
        &["environment", "systemPackages"],
        None,
        None,
        at.clone(),
    );
    for leaf in packages {
        if let Some(site) = leaf.site {
            sys.package_lists.push((index, site));
        }
    }
    let (emulated, hidden) = walk_collect(
        ev,
        config,
        &["boot", "binfmt", "emulatedSystems"],
        None,
        None,
        at.clone(),
    );
    if let Some(o) = hidden.first() {
        sys.emulated_unknown.get_or_insert(o.reason.clone());
    }
    for leaf in emulated {
        // `computed ++ [ ... ]`: what the literal parts list is known.
        let parts = match (&leaf.value, &leaf.site) {
            (Value::Unknown(u), Some(site)) => {
                literal_sides(ev, site).map(|(v, _)| (v, u.reason.clone()))
            }
            _ => None,
        };
        let values = match parts {
            Some((values, why)) => {
                sys.emulated_unknown.get_or_insert(why);
                values
            }
            None => vec![leaf.value.clone()],
        };
        for value in values {
            read_emulated(ev, sys, &value);
        }
    }
    read_host_settings(ev, sys, config, at.clone());
    let (given, _) = walk_collect(ev, config, &["_module", "args"], None, None, at.clone());
    for leaf in given {
        let Value::Attrs(a) = &leaf.value else {
            continue;
        };
        for (name, e) in a.entries.iter() {
            if !sys.module_args.iter().any(|m| &m.name == name) {
                sys.module_args.push(ModuleArg {
                    name: name.clone(),
                    value: e.value,
                    def: e.def.clone(),
                });
            }
        }
    }
    let (leaves, opaque) = walk_collect(ev, config, &["nixpkgs"], None, None, at);
    sys.opaque.extend(opaque);
    for leaf in leaves {
        // `leaf.value` is the `nixpkgs` set: its platform options.
        let Value::Attrs(a) = &leaf.value else {
            continue;
        };
        if let Some(site) = a.entries.get("overlays").and_then(|e| e.def.clone()) {
            sys.overlays.push(OverlayDef::read(site));
        }
        if let Some(e) = a.entries.get("pkgs") {
            let e = e.clone();
            let (values, _) = walk_entry(ev, &e, leaf.condition.clone());
            for v in values {
                let platforms = match &v.value {
                    Value::Special(s) => match &**s {
                        Special::Pkgs(p) => Some(pkgs_platforms(ev, p)),
                        _ => None,
                    },
                    _ => None,
                };
                let (build, host) = platforms.unwrap_or_default();
                let several = sys.pkgs_option.is_some() || v.condition.is_some();
                sys.pkgs_option = Some(PkgsOption {
                    site: v.site.or(e.def.clone()),
                    build,
                    host,
                    several,
                });
            }
        }
        for option in PlatformOption::ALL {
            let Some(e) = a.entries.get(option.name()) else {
                continue;
            };
            let e = e.clone();
            let (values, op) = walk_entry(ev, &e, leaf.condition.clone());
            sys.opaque.extend(op);
            for v in values {
                let priority = if v.priority == 0 {
                    leaf.priority
                } else {
                    v.priority
                };
                let d = definition(
                    ev,
                    option,
                    &v.value,
                    if priority == 0 { PLAIN } else { priority },
                    v.condition.clone(),
                    Some(index),
                    v.site.clone(),
                );
                sys.definitions.push(d);
            }
        }
        if a.open.is_some()
            && !PlatformOption::ALL
                .iter()
                .all(|o| a.entries.contains_key(o.name()))
        {
            sys.opaque.push(Opaque {
                reason: "`nixpkgs` has attribute names nixcross cannot compute".into(),
                at: a.open.as_ref().and_then(|u| u.at.clone()),
            });
        }
    }
}

/// The systems one `boot.binfmt.emulatedSystems` list value lists.
fn read_emulated(ev: &mut Evaluator, sys: &mut SystemCall, value: &Value) {
    match value {
        Value::List(items) => {
            for t in items.iter() {
                match ev.force(*t) {
                    Value::Str(s) => match s.as_text() {
                        Some(t) => {
                            if !sys.emulated.contains(&t) {
                                sys.emulated.push(t);
                            }
                        }
                        None => {
                            sys.emulated_unknown
                                .get_or_insert("an item is not a plain string".into());
                        }
                    },
                    Value::Unknown(u) => {
                        sys.emulated_unknown.get_or_insert(u.reason.clone());
                    }
                    _ => {}
                }
            }
        }
        Value::Unknown(u) => {
            sys.emulated_unknown.get_or_insert(u.reason.clone());
        }
        _ => {}
    }
}

/// Collect a module's remote builders and build-host switches
/// (`flake::host`).
fn read_host_settings(ev: &mut Evaluator, sys: &mut SystemCall, config: ThunkId, at: Option<Src>) {
    let (machines, hidden) = walk_collect(
        ev,
        config,
        &["nix", "buildMachines"],
        None,
        None,
        at.clone(),
    );
    if let Some(o) = hidden.first() {
        sys.host_settings
            .builders_unknown
            .get_or_insert(o.reason.clone());
    }
    for leaf in machines {
        // `computed ++ [ ... ]`: the builders of the literal parts are known.
        let parts = match (&leaf.value, &leaf.site) {
            (Value::Unknown(u), Some(site)) => {
                literal_sides(ev, site).map(|(v, _)| (v, u.reason.clone()))
            }
            _ => None,
        };
        match parts {
            Some((values, why)) => {
                sys.host_settings.builders_unknown.get_or_insert(why);
                for v in values {
                    sys.host_settings.read_builders(ev, &v);
                }
            }
            None => sys.host_settings.read_builders(ev, &leaf.value),
        }
    }
    for toggle in Toggle::ALL {
        let (defs, hidden) = walk_collect(ev, config, toggle.path(), None, None, at.clone());
        if let Some(o) = hidden.first() {
            sys.host_settings
                .toggles_unknown
                .get_or_insert(o.reason.clone());
        }
        for leaf in defs {
            sys.host_settings.toggles.push(ToggleDef {
                toggle,
                priority: if leaf.priority == 0 {
                    PLAIN
                } else {
                    leaf.priority
                },
                value: bool_of(&leaf.value),
            });
        }
    }
}

/// [`walk`] from `t` down `path`, with no priority around it yet: the
/// values found, and what could not be read.
fn walk_collect(
    ev: &mut Evaluator,
    t: ThunkId,
    path: &[&str],
    condition: Option<String>,
    site: Option<Src>,
    at: Option<Src>,
) -> (Vec<Leaf>, Vec<Opaque>) {
    let mut leaves = Vec::new();
    let mut opaque = Vec::new();
    walk(
        ev,
        t,
        path,
        0,
        condition,
        site,
        at,
        &mut leaves,
        &mut opaque,
    );
    (leaves, opaque)
}

/// [`walk_collect`] of the value of a binding `e` of the `nixpkgs` set,
/// under that set's `condition`.
fn walk_entry(
    ev: &mut Evaluator,
    e: &AttrEntry,
    condition: Option<String>,
) -> (Vec<Leaf>, Vec<Opaque>) {
    walk_collect(ev, e.value, &[], condition, e.def.clone(), e.def.clone())
}

/// Walk `t` down `path`, through `mkIf`/`mkMerge`/priority properties,
/// collecting the values at the end. `priority` 0 means "not set yet".
#[allow(clippy::too_many_arguments)]
fn walk(
    ev: &mut Evaluator,
    t: ThunkId,
    path: &[&str],
    priority: u32,
    condition: Option<String>,
    site: Option<Src>,
    at: Option<Src>,
    leaves: &mut Vec<Leaf>,
    opaque: &mut Vec<Opaque>,
) {
    let v = ev.force(t);
    match v {
        Value::Special(ref s) => match &**s {
            Special::Property(Property::If { cond, content }) => {
                let c = ev.force(*cond);
                match c {
                    Value::Bool(true) => walk(
                        ev, *content, path, priority, condition, site, at, leaves, opaque,
                    ),
                    Value::Bool(false) => {}
                    other => {
                        let why = match &other {
                            Value::Unknown(u) => u.reason.clone(),
                            o => format!("the condition is {}", o.type_name()),
                        };
                        let cond_text = condition.or(Some(why));
                        walk(
                            ev, *content, path, priority, cond_text, site, at, leaves, opaque,
                        )
                    }
                }
            }
            Special::Property(Property::Merge(list)) => match ev.force(*list) {
                Value::List(items) => {
                    for item in items.iter() {
                        walk(
                            ev,
                            *item,
                            path,
                            priority,
                            condition.clone(),
                            site.clone(),
                            at.clone(),
                            leaves,
                            opaque,
                        );
                    }
                }
                Value::Unknown(u) => opaque.push(Opaque {
                    reason: format!("a `mkMerge` list cannot be followed: {}", u.reason),
                    at: u.at.clone().or(at),
                }),
                _ => {}
            },
            Special::Property(Property::Override {
                priority: p,
                content,
            }) => walk(ev, *content, path, *p, condition, site, at, leaves, opaque),
            Special::Property(Property::Order(content)) => walk(
                ev, *content, path, priority, condition, site, at, leaves, opaque,
            ),
            _ if path.is_empty() => leaves.push(Leaf {
                value: v.clone(),
                priority,
                condition,
                site,
            }),
            _ => {}
        },
        _ if path.is_empty() => leaves.push(Leaf {
            value: v,
            priority,
            condition,
            site,
        }),
        Value::Attrs(a) => match a.entries.get(path[0]) {
            Some(e) => {
                let (t, def) = (e.value, e.def.clone());
                walk(
                    ev,
                    t,
                    &path[1..],
                    priority,
                    condition,
                    def.or(site),
                    at,
                    leaves,
                    opaque,
                )
            }
            None => {
                if let Some(u) = &a.open {
                    opaque.push(Opaque {
                        reason: format!(
                            "a module may define `{}` through names nixcross cannot compute: {}",
                            path[0], u.reason
                        ),
                        at: u.at.clone().or(at),
                    });
                }
            }
        },
        Value::Unknown(u) => opaque.push(Opaque {
            reason: format!("part of a module cannot be read: {}", u.reason),
            at: u.at.clone().or(at),
        }),
        _ => {}
    }
}

/// A definition of `option` with value `v`.
pub(super) fn definition(
    ev: &mut Evaluator,
    option: PlatformOption,
    v: &Value,
    priority: u32,
    condition: Option<String>,
    module: Option<usize>,
    site: Option<Src>,
) -> Definition {
    let text = site
        .as_ref()
        .and_then(|s| match s.node.as_entry() {
            Some(crate::syntax::Entry::Binding(b)) => Some(short(&b.value.text())),
            Some(crate::syntax::Entry::Inherit(i)) => Some(short(&i.node.text())),
            None => None,
        })
        .unwrap_or_else(|| short(&describe_value(v)));
    let (system, literal, unknown, is_null) = platform_of(ev, v);
    Definition {
        option,
        priority,
        condition,
        module,
        site,
        literal,
        system,
        unknown,
        is_null,
        text,
    }
}

fn describe_value(v: &Value) -> String {
    match v {
        Value::Str(s) => format!("{:?}", s.as_text().unwrap_or_default()),
        other => other.type_name().to_string(),
    }
}
