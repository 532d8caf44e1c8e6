//! The module graph: the modules NixOS loads for a configuration, followed
//! across files (`imports`, function modules, paths, inputs' modules).

use std::collections::HashSet;
use std::rc::Rc;

use super::definitions::walk_config;
use super::{ModuleInstance, ModuleOrigin, Opaque};
use crate::eval::{Evaluator, PathValue, Property, Special, ThunkId, Value};
use crate::flake::SystemCall;
use crate::source::{FileId, Src};

const SPECIAL_KEYS: &[&str] = &[
    "imports",
    "_file",
    "key",
    "disabledModules",
    "meta",
    "freeformType",
    "_class",
];

/// The most modules one configuration may load.
const MAX_MODULES: usize = 5000;

pub(super) fn collect_modules(
    ev: &mut Evaluator,
    sys: &mut SystemCall,
    mut queue: Vec<(ThunkId, Option<usize>)>,
    margs: ThunkId,
) {
    queue.reverse();
    let mut seen_files: HashSet<FileId> = HashSet::new();
    while let Some((t, from)) = queue.pop() {
        if sys.modules.len() >= MAX_MODULES {
            sys.opaque.push(Opaque {
                reason: "the configuration loads too many modules to follow".into(),
                at: None,
            });
            return;
        }
        let v = ev.force(t);
        let (origin, expr, body) = match v {
            Value::Path(p) => match &*p {
                PathValue::Tree(rel) => {
                    let file_path = ev.module_file(rel);
                    let value = ev.import_path(&p, None);
                    let Some(id) = ev.sources.id(&file_path) else {
                        let reason = match &value {
                            Value::Unknown(u) => u.reason.clone(),
                            _ => format!("cannot read `./{file_path}`"),
                        };
                        sys.opaque.push(Opaque {
                            reason,
                            at: from.and_then(|i| sys.modules[i].expr.clone()),
                        });
                        continue;
                    };
                    if !seen_files.insert(id) {
                        continue;
                    }
                    let root = ev.sources.get(id).root().ok().map(|n| Src::new(id, n));
                    (ModuleOrigin::File(id), root, value)
                }
                // The user's own file, outside the folder nixcross reads:
                // what it defines is not known (unlike another input's
                // modules, which are assumed to set no platform).
                PathValue::Outside(text) => {
                    let reason = format!(
                        "the module `{text}` is outside the flake's folder, which nixcross does not read"
                    );
                    sys.host_settings.hidden(&reason);
                    sys.emulated_unknown.get_or_insert(reason.clone());
                    sys.opaque.push(Opaque {
                        reason,
                        at: from.and_then(|i| sys.modules[i].expr.clone()),
                    });
                    continue;
                }
                other => {
                    sys.modules.push(ModuleInstance {
                        origin: ModuleOrigin::External(other.describe()),
                        expr: None,
                        imported_from: from,
                        full: false,
                    });
                    continue;
                }
            },
            Value::Str(s) => match s.as_path() {
                Some(p) => {
                    let t = ev.value(Value::Path(Rc::new(p)));
                    queue.push((t, from));
                    continue;
                }
                None => {
                    sys.opaque.push(Opaque {
                        reason: "a module given as a string".into(),
                        at: s.origin.clone(),
                    });
                    continue;
                }
            },
            Value::Special(ref s) if matches!(**s, Special::Input { .. }) => {
                let Special::Input { name, path, .. } = &**s else {
                    unreachable!()
                };
                let mut d = vec![name.clone()];
                d.extend(path.iter().cloned());
                sys.modules.push(ModuleInstance {
                    origin: ModuleOrigin::External(d.join(".")),
                    expr: None,
                    imported_from: from,
                    full: false,
                });
                continue;
            }
            Value::Lambda(ref c) => {
                let src = c.src.clone();
                (ModuleOrigin::Inline(src.clone()), Some(src), v.clone())
            }
            Value::Attrs(ref a) => match &a.src {
                Some(src) => (
                    ModuleOrigin::Inline(src.clone()),
                    Some(src.clone()),
                    v.clone(),
                ),
                None => {
                    // A set built by `//` or a function: readable, but no
                    // single place to edit.
                    (
                        ModuleOrigin::External("a module built by an expression".into()),
                        None,
                        v.clone(),
                    )
                }
            },
            // `lib.mkIf c { ... }` (or `mkMerge`, a priority) as a whole
            // module: NixOS pushes the property down into its definitions,
            // and so does reading it (`read_module`); nixcross edits
            // nothing in it.
            Value::Special(ref s) if holds_sets(ev, s, 0) => (
                ModuleOrigin::External("a module under `lib.mkIf` or `lib.mkMerge`".into()),
                None,
                v.clone(),
            ),
            Value::Unknown(u) => {
                sys.opaque.push(Opaque {
                    reason: format!("a module cannot be followed: {}", u.reason),
                    at: u.at.clone(),
                });
                continue;
            }
            other => {
                // Where it is listed: the module that imports it (`None`
                // for the configuration's `modules` list).
                sys.opaque.push(Opaque {
                    reason: format!(
                        "a module in {} is {}, which nixcross does not follow",
                        match from {
                            Some(_) => "an `imports` list",
                            None => "the `modules` list",
                        },
                        other.type_name()
                    ),
                    at: from
                        .and_then(|i| sys.modules[i].expr.clone())
                        .or_else(|| sys.modules_binding.clone()),
                });
                continue;
            }
        };
        let index = sys.modules.len();
        sys.modules.push(ModuleInstance {
            origin,
            expr,
            imported_from: from,
            full: false,
        });
        read_module(ev, sys, index, body, margs, &mut queue);
    }
}

/// Whether a property used as a whole module (`lib.mkIf c { ... }`,
/// `lib.mkMerge [ { ... } ... ]`) wraps attribute sets of definitions all
/// the way down, as NixOS needs it to; anything else (`lib.mkForce 1`, a
/// function under `mkIf`) is not a module.
fn holds_sets(ev: &mut Evaluator, s: &Special, depth: usize) -> bool {
    let Special::Property(p) = s else {
        return false;
    };
    if depth > 32 {
        return false;
    }
    let inner: Vec<ThunkId> = match p {
        Property::If { content, .. } | Property::Override { content, .. } => vec![*content],
        Property::Order(content) => vec![*content],
        Property::Merge(list) => match ev.force(*list) {
            Value::List(items) => items.iter().copied().collect(),
            _ => return false,
        },
    };
    inner.into_iter().all(|t| match ev.force(t) {
        Value::Attrs(_) => true,
        Value::Special(ref s) => holds_sets(ev, s, depth + 1),
        _ => false,
    })
}

/// Read one module's value: apply it when it is a function, queue its
/// imports, and collect its platform definitions.
fn read_module(
    ev: &mut Evaluator,
    sys: &mut SystemCall,
    index: usize,
    value: Value,
    margs: ThunkId,
    queue: &mut Vec<(ThunkId, Option<usize>)>,
) {
    let at = sys.modules[index].expr.clone();
    let body = match value {
        Value::Lambda(_) | Value::Prim(_) => ev.apply(value, margs, at.clone()),
        other => other,
    };
    let attrs = match body {
        Value::Attrs(a) => a,
        Value::Special(ref s) if matches!(**s, Special::Property(_)) => {
            // A whole module under `mkIf`/`mkMerge`: its config.
            let t = ev.value(body.clone());
            walk_config(ev, sys, index, t, at);
            return;
        }
        Value::Unknown(u) => {
            sys.opaque.push(Opaque {
                reason: format!("a module cannot be read: {}", u.reason),
                at: u.at.clone().or(at),
            });
            return;
        }
        other => {
            sys.opaque.push(Opaque {
                reason: format!("a module is {}", other.type_name()),
                at,
            });
            return;
        }
    };
    if let Some(e) = attrs.entries.get("imports") {
        let t = e.value;
        match ev.force(t) {
            Value::List(l) => {
                // Imports come right after the module, in order.
                for item in l.iter().rev() {
                    queue.push((*item, Some(index)));
                }
            }
            Value::Unknown(u) => sys.opaque.push(Opaque {
                reason: format!("`imports` cannot be followed: {}", u.reason),
                at: u.at.clone().or(e.def.clone()),
            }),
            _ => {}
        }
    }
    let full = attrs.entries.contains_key("config") || attrs.entries.contains_key("options");
    sys.modules[index].full = full;
    if full {
        if let Some(e) = attrs.entries.get("config") {
            let t = e.value;
            walk_config(ev, sys, index, t, at);
        }
    } else {
        let mut config = (*attrs).clone();
        for k in SPECIAL_KEYS {
            config.entries.remove(*k);
        }
        if let Some(u) = &attrs.open {
            // A computed name might be `nix` or `boot`.
            if !(config.entries.contains_key("nix") && config.entries.contains_key("boot")) {
                sys.host_settings.hidden(&format!(
                    "a module has attribute names nixcross cannot compute: {}",
                    u.reason
                ));
                sys.emulated_unknown.get_or_insert_with(|| {
                    format!(
                        "a module has attribute names nixcross cannot compute: {}",
                        u.reason
                    )
                });
            }
            // A computed name might be `nixpkgs`.
            if !config.entries.contains_key("nixpkgs") {
                sys.opaque.push(Opaque {
                    reason: format!(
                        "a module has attribute names nixcross cannot compute: {}",
                        attrs
                            .open
                            .as_ref()
                            .map(|u| u.reason.as_str())
                            .unwrap_or_default()
                    ),
                    at: attrs.open.as_ref().and_then(|u| u.at.clone()).or(at),
                });
                return;
            }
        }
        let t = ev.value(Value::Attrs(Rc::new(config)));
        walk_config(ev, sys, index, t, at);
    }
}
