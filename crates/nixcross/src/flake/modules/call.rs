//! Where reading a configuration starts: its `nixosSystem` call and the
//! arguments it gives (the modules list, `specialArgs`, what every module
//! is given), or a lone module file read as the only module of one.

use std::rc::Rc;

use super::graph::collect_modules;
use super::sets::scoped_sets;
use super::{definitions::definition, Opaque};
use crate::eval::{AttrEntry, Attrs, Evaluator, PathValue, Special, ThunkId, Unknown, Value};
use crate::flake::overlays::{ScopedVia, Tracking};
use crate::flake::platforms::{self, PlatformOption, MK_DEFAULT};
use crate::flake::{Config, Status, SystemCall};
use crate::source::{FileId, Src};

/// Follow the configuration `name`, whose value is `entry`.
pub(in crate::flake) fn read_config(
    ev: &mut Evaluator,
    name: &str,
    entry: &AttrEntry,
    nc_at: Option<Src>,
) -> Config {
    let at = entry.def.clone().or(nc_at);
    let not = |reason: String, where_: Option<Src>, at: Option<Src>| Config {
        name: name.to_string(),
        at: at.clone(),
        status: Status::NotFollowed { at: where_.or(at) },
        platforms: platforms::Platforms {
            unknown: Some(reason),
            ..Default::default()
        },
    };
    let t = entry.value;
    let v = ev.force(t);
    let (args_t, input, call) = match &v {
        Value::Special(s) => match &**s {
            Special::NixosSystem { args, input, call } => (*args, input.clone(), call.clone()),
            _ => {
                return not(
                    format!(
                        "the configuration is {}, not a nixosSystem call",
                        v.type_name()
                    ),
                    None,
                    at,
                )
            }
        },
        Value::Unknown(u) => return not(u.reason.clone(), u.at.clone(), at),
        other => {
            return not(
                format!(
                    "the configuration is {}, not a nixosSystem call",
                    other.type_name()
                ),
                None,
                at,
            )
        }
    };
    let args = match ev.force(args_t) {
        Value::Attrs(a) => a,
        Value::Unknown(u) => {
            return not(
                format!("nixosSystem's argument cannot be followed: {}", u.reason),
                u.at.clone(),
                at,
            )
        }
        other => {
            return not(
                format!("nixosSystem's argument is {}", other.type_name()),
                call.clone(),
                at,
            )
        }
    };
    let mut sys = SystemCall {
        input,
        call: call.clone(),
        args: args.src.clone(),
        modules_binding: args.entries.get("modules").and_then(|e| e.def.clone()),
        special_args_binding: args.entries.get("specialArgs").and_then(|e| e.def.clone()),
        ..SystemCall::default()
    };
    sys.modules_list = sys
        .modules_binding
        .as_ref()
        .and_then(literal_list_of_binding);
    // Read before the modules are forced: the scope of their expression.
    if let Some(e) = args.entries.get("modules") {
        sys.appended_lists = appended_lists(ev, e.value);
    }
    if let Some(a) = &args.open {
        sys.opaque.push(Opaque {
            reason: format!("nixosSystem's arguments may hold more: {}", a.reason),
            at: a.at.clone(),
        });
    }
    // `system = "..."`: nixpkgs.system = mkDefault.
    if let Some(e) = args.entries.get("system") {
        let e = e.clone();
        let v = ev.force(e.value);
        if !matches!(v, Value::Null) {
            let d = definition(
                ev,
                PlatformOption::System,
                &v,
                MK_DEFAULT,
                None,
                None,
                e.def.clone(),
            );
            sys.definitions.push(d);
        }
    }
    if let Some(e) = args.entries.get("pkgs") {
        sys.pkgs_arg = e.def.clone().or(call.clone());
    }
    // specialArgs
    let mut special = Attrs::default();
    if let Some(e) = args.entries.get("specialArgs") {
        let t = e.value;
        match ev.force(t) {
            Value::Attrs(a) => {
                if a.entries.contains_key("pkgs") {
                    sys.pkgs_arg = a.entries["pkgs"].def.clone().or(e.def.clone());
                }
                special = (*a).clone();
                sys.scoped = scoped_sets(ev, &a, ScopedVia::SpecialArgs);
                sys.special_args = Some(a);
            }
            Value::Unknown(u) => {
                special.open = Some(u);
            }
            _ => {}
        }
    }
    let lib = args.entries.get("lib").map(|e| e.value);
    let margs_t = module_args(ev, &special, lib, &sys.input);

    // The modules list.
    let mut queue: Vec<(ThunkId, Option<usize>)> = Vec::new();
    if let Some(e) = args.entries.get("modules") {
        let t = e.value;
        match ev.force(t) {
            Value::List(l) => queue.extend(l.iter().map(|t| (*t, None))),
            Value::Unknown(u) => sys.opaque.push(Opaque {
                reason: format!("the modules list cannot be followed: {}", u.reason),
                at: u.at.clone().or(e.def.clone()),
            }),
            other => sys.opaque.push(Opaque {
                reason: format!("`modules` is {}", other.type_name()),
                at: e.def.clone(),
            }),
        }
    }
    collect_modules(ev, &mut sys, queue.clone(), margs_t);
    // Arguments other modules give through `_module.args`: read again
    // with them (module arguments are decided before the modules are).
    if !sys.module_args.is_empty() {
        let mut with_args = Attrs::default();
        for m in &sys.module_args {
            with_args.entries.insert(
                m.name.clone(),
                AttrEntry {
                    value: m.value,
                    def: m.def.clone(),
                },
            );
        }
        for (k, e) in special.entries.iter() {
            with_args.entries.insert(k.clone(), e.clone());
        }
        with_args.open = special.open.clone();
        let margs_t = module_args(ev, &with_args, lib, &sys.input);
        sys.reset_modules();
        collect_modules(ev, &mut sys, queue, margs_t);
    }
    // Package sets given through `_module.args` (NixOS's own `pkgs` aside).
    let mut given = Attrs::default();
    for m in &sys.module_args {
        if m.name != "pkgs" {
            given.entries.insert(
                m.name.clone(),
                AttrEntry {
                    value: m.value,
                    def: m.def.clone(),
                },
            );
        }
    }
    let more = scoped_sets(ev, &given, ScopedVia::ModuleArgs);
    sys.scoped.extend(more);
    let opaque = sys.opaque.first().map(|o| match &o.at {
        Some(at) => format!("{} ({})", o.reason, ev.sources.describe(at)),
        None => o.reason.clone(),
    });
    let mut platforms = platforms::effective(&sys.definitions, opaque.as_deref());
    if let Some(po) = &sys.pkgs_option {
        let at = po
            .site
            .as_ref()
            .map(|s| ev.sources.describe(s))
            .unwrap_or_default();
        platforms = if po.several {
            platforms::Platforms {
                unknown: Some(format!(
                    "the configuration sets nixpkgs.pkgs more than once or under a condition ({at}); nixcross does not tell which one NixOS uses"
                )),
                ..Default::default()
            }
        } else {
            platforms::Platforms {
                unknown: (po.build.is_none() || po.host.is_none()).then(|| {
                    format!("the configuration sets nixpkgs.pkgs ({at}) to a package set nixcross cannot read")
                }),
                build: po.build.clone(),
                host: po.host.clone(),
                style: None,
            }
        };
    }
    if let Some(p) = &sys.pkgs_arg {
        platforms = platforms::Platforms {
            unknown: Some(format!(
                "the configuration is given a package set (`pkgs`, {}), whose platforms decide; nixcross does not read it",
                ev.sources.describe(p)
            )),
            ..Default::default()
        };
    }
    for set in sys.scoped.iter_mut() {
        match set.tracking {
            Tracking::BuildAndHost => {
                set.local = platforms.build.clone();
                set.cross = match (&platforms.build, &platforms.host) {
                    (Some(b), Some(h)) if b != h => Some(h.clone()),
                    _ => None,
                };
            }
            Tracking::Host => set.local = platforms.host.clone(),
            Tracking::Own => {}
        }
    }
    Config {
        name: name.to_string(),
        at,
        status: Status::Followed(Box::new(sys)),
        platforms,
    }
}

/// The arguments NixOS gives every module: `{ config, lib, pkgs,
/// modulesPath, specialArgs, ... }` plus `specialArgs`' entries; `config`
/// and `options` are only known when NixOS evaluates; `pkgs` is a package
/// set of the nixpkgs `input` (its contents unknown, its `lib` and `path`
/// known).
fn module_args(ev: &mut Evaluator, special: &Attrs, lib: Option<ThunkId>, input: &str) -> ThunkId {
    let lib = match lib {
        Some(l) => l,
        None => ev.lib(),
    };
    let mut margs = Attrs::default();
    let pkgs = ev.value(Value::Special(Rc::new(Special::Pkgs(Rc::new(
        crate::eval::PkgsValue {
            input: input.to_string(),
            via: crate::eval::PkgsVia::Module,
        },
    )))));
    margs.entries.insert(
        "pkgs".into(),
        AttrEntry {
            value: pkgs,
            def: None,
        },
    );
    for what in ["config", "options"] {
        let t = ev.value(Value::unknown(
            format!("`{what}` is only known when NixOS evaluates"),
            None,
        ));
        margs.entries.insert(
            what.into(),
            AttrEntry {
                value: t,
                def: None,
            },
        );
    }
    margs.entries.insert(
        "lib".into(),
        AttrEntry {
            value: lib,
            def: None,
        },
    );
    // The module class (`lib.evalModules { class = "nixos"; }`).
    let class = ev.value(Value::string("nixos"));
    margs.entries.insert(
        "_class".into(),
        AttrEntry {
            value: class,
            def: None,
        },
    );
    let mp = ev.value(Value::Path(Rc::new(PathValue::Elsewhere {
        base: "modulesPath".into(),
        rest: String::new(),
    })));
    margs.entries.insert(
        "modulesPath".into(),
        AttrEntry {
            value: mp,
            def: None,
        },
    );
    let sa = ev.value(Value::Attrs(Rc::new(special.clone())));
    margs.entries.insert(
        "specialArgs".into(),
        AttrEntry {
            value: sa,
            def: None,
        },
    );
    for (k, e) in special.entries.iter() {
        margs.entries.insert(k.clone(), e.clone());
    }
    margs.open = Some(Rc::new(Unknown {
        reason: "module arguments may also come from `_module.args`".into(),
        at: None,
    }));
    ev.value(Value::Attrs(Rc::new(margs)))
}

/// The platforms a lone module file (and what it imports) sets, as if it
/// were the only module of a configuration: for `emulate -f`, which must
/// not emulate the machine's own system.
fn module_platforms(
    ev: &mut Evaluator,
    path: &crate::files::RelPath,
) -> (platforms::Platforms, SystemCall) {
    let t = ev.value(Value::Path(Rc::new(PathValue::Tree(path.clone()))));
    thunk_platforms(ev, t)
}

/// A lone module file (a build host's, for `emulate -f` and `add-builder
/// -f`), read as the only module of a configuration.
pub(crate) struct LoneModule<'f> {
    /// The evaluator, with the files it read.
    pub ev: Evaluator<'f>,
    /// The file.
    pub file: FileId,
    /// The NixOS module: the file's expression, or the one NixOS module a
    /// flake-parts module defines.
    pub expr: crate::syntax::Node,
    /// That flake-parts module's name for it, if it is one.
    pub nested: Option<String>,
    /// The platforms the module (and what it imports) sets.
    pub platforms: platforms::Platforms,
    /// What its definitions say.
    pub sys: SystemCall,
}

/// Read the module file at `path` (see [`LoneModule`]).
pub(crate) fn lone_module<'f>(
    files: &'f dyn crate::files::Files,
    path: &crate::files::RelPath,
) -> crate::error::Result<LoneModule<'f>> {
    let mut sources = crate::source::SourceMap::new(files);
    let (file, expr) = crate::module::load_module(&mut sources, path)?;
    let (expr, nested) = crate::module::nixos_module_in(&sources, file, expr)?;
    let mut ev = Evaluator::new(sources);
    let (platforms, sys) = match nested {
        Some(_) => nested_module_platforms(&mut ev, file, &expr),
        None => module_platforms(&mut ev, path),
    };
    Ok(LoneModule {
        ev,
        file,
        expr,
        nested,
        platforms,
        sys,
    })
}

/// [`module_platforms`] of a module expression inside a file (a NixOS
/// module a flake-parts module defines).
fn nested_module_platforms(
    ev: &mut Evaluator,
    file: FileId,
    node: &crate::syntax::Node,
) -> (platforms::Platforms, SystemCall) {
    let t = ev.delay_top(node, file);
    thunk_platforms(ev, t)
}

fn thunk_platforms(ev: &mut Evaluator, t: ThunkId) -> (platforms::Platforms, SystemCall) {
    let mut sys = SystemCall {
        input: "nixpkgs".into(),
        ..SystemCall::default()
    };
    let margs = module_args(ev, &Attrs::default(), None, "nixpkgs");
    collect_modules(ev, &mut sys, vec![(t, None)], margs);
    let opaque = sys.opaque.first().map(|o| o.reason.clone());
    (
        platforms::effective(&sys.definitions, opaque.as_deref()),
        sys,
    )
}

/// The literal lists the `modules` expression (thunk `modules`, not forced
/// yet) selects from attribute sets and concatenates: each side of `++`
/// (or the whole) that is `x.a.b` or `x.a.b or default` whose attribute is
/// bound to a literal list.
fn appended_lists(ev: &mut Evaluator, modules: ThunkId) -> Vec<Src> {
    let Some((expr, env)) = ev.pending_scope(modules) else {
        return Vec::new();
    };
    let mut sides = Vec::new();
    let mut work = vec![expr.node.unparen()];
    while let Some(n) = work.pop() {
        match n.binop() {
            Some((l, r)) if n.kind() == crate::syntax::Kind::Concat => {
                work.push(r.unparen());
                work.push(l.unparen());
            }
            _ => sides.push(n),
        }
    }
    let mut out = Vec::new();
    for side in sides {
        let crate::syntax::Expr::Select { base, path, .. } = side.expr() else {
            continue;
        };
        let mut names = Vec::with_capacity(path.len());
        for k in &path {
            match k {
                crate::syntax::Key::Static(s) => names.push(s.clone()),
                crate::syntax::Key::Dynamic(_) => break,
            }
        }
        if names.len() != path.len() {
            continue;
        }
        let t = ev.delay(&base, expr.file, env);
        let mut value = ev.force(t);
        let mut def = None;
        for (i, name) in names.iter().enumerate() {
            let Value::Attrs(a) = &value else { break };
            let Some(entry) = a.entries.get(name).cloned() else {
                break;
            };
            if i + 1 == names.len() {
                def = entry.def;
            } else {
                value = ev.force(entry.value);
            }
        }
        let Some(def) = def else { continue };
        if let Some(crate::syntax::Entry::Binding(b)) = def.node.as_entry() {
            let list = b.value.unparen();
            if list.list().is_some() {
                out.push(Src::new(def.file, list));
            }
        }
    }
    out
}

/// The literal list of a `modules = ...;` binding: the list, or the literal
/// side of `[ ... ] ++ other`.
fn literal_list_of_binding(binding: &Src) -> Option<Src> {
    let crate::syntax::Entry::Binding(b) = binding.node.as_entry()? else {
        return None;
    };
    let v = b.value.unparen();
    if v.list().is_some() {
        return Some(Src::new(binding.file, v));
    }
    if v.kind() == crate::syntax::Kind::Concat {
        let (l, r) = v.binop()?;
        let (l, r) = (l.unparen(), r.unparen());
        if l.list().is_some() {
            return Some(Src::new(binding.file, l));
        }
        if r.list().is_some() {
            return Some(Src::new(binding.file, r));
        }
    }
    None
}
