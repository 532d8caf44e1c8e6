//! Following one configuration: its `nixosSystem` call, the modules NixOS
//! loads for it (the `modules` list, `imports` recursively, function
//! modules, files, `self.nixosModules.*`), and the definitions of the
//! platform options in them, through `mkIf`, `mkMerge` and the priority
//! wrappers.

use std::collections::HashSet;
use std::rc::Rc;

use super::host::{bool_of, literal_sides, Toggle, ToggleDef};
use super::overlays::{ConfigPlatform, OverlayDef, ScopedSet, ScopedVia, Tracking};
use super::platforms::{self, Definition, PlatformOption, MK_DEFAULT, PLAIN};
use super::{Config, ModuleArg, Status, System};
use crate::eval::{
    short, AttrEntry, Attrs, Evaluator, ImportArgs, PathValue, Property, Special, ThunkId, Unknown,
    Value,
};
use crate::source::{FileId, Src};

/// Where a module comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModuleOrigin {
    /// A file whose whole expression is the module (a path in `modules` or
    /// `imports`).
    File(FileId),
    /// A module expression written in a file: an inline `{ ... }` in the
    /// modules list, a `let`-bound module, what `import ./x.nix { }`
    /// returns.
    Inline(Src),
    /// A module nixcross does not read: from another flake input or from
    /// nixpkgs (`modulesPath`). Assumed not to set platform options.
    External(String),
}

/// One module of a configuration.
#[derive(Debug, Clone)]
pub struct ModuleInstance {
    /// Where it comes from.
    pub origin: ModuleOrigin,
    /// The module expression (the file's root, or the inline node).
    pub expr: Option<Src>,
    /// The module that imports it; `None` for an item of the `modules` list.
    pub imported_from: Option<usize>,
    /// Whether it writes its definitions under `config = { ... }`.
    pub full: bool,
}

/// Something that could define a platform option but that nixcross cannot
/// read.
#[derive(Debug, Clone)]
pub struct Opaque {
    /// Why.
    pub reason: String,
    /// Where, when known.
    pub at: Option<Src>,
}

const SPECIAL_KEYS: &[&str] = &[
    "imports",
    "_file",
    "key",
    "disabledModules",
    "meta",
    "freeformType",
    "_class",
];

/// Follow the configuration `name`, whose value is `entry`.
pub(super) fn read_config(
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
    let mut sys = System {
        input,
        call: call.clone(),
        args: args.src.clone(),
        modules_binding: args.entries.get("modules").and_then(|e| e.def.clone()),
        modules_list: None,
        appended_lists: Vec::new(),
        modules: Vec::new(),
        opaque: Vec::new(),
        definitions: Vec::new(),
        special_args: None,
        special_args_binding: args.entries.get("specialArgs").and_then(|e| e.def.clone()),
        pkgs_arg: None,
        overlays: Vec::new(),
        scoped: Vec::new(),
        package_lists: Vec::new(),
        emulated: Vec::new(),
        emulated_unknown: None,
        host_settings: Default::default(),
        module_args: Vec::new(),
        pkgs_option: None,
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
pub(crate) fn module_platforms(
    ev: &mut Evaluator,
    path: &crate::files::RelPath,
) -> (platforms::Platforms, System) {
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
    pub sys: System,
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
pub(crate) fn nested_module_platforms(
    ev: &mut Evaluator,
    file: FileId,
    node: &crate::syntax::Node,
) -> (platforms::Platforms, System) {
    let t = ev.delay_top(node, file);
    thunk_platforms(ev, t)
}

fn thunk_platforms(ev: &mut Evaluator, t: ThunkId) -> (platforms::Platforms, System) {
    let mut sys = System {
        input: "nixpkgs".into(),
        call: None,
        args: None,
        modules_binding: None,
        modules_list: None,
        appended_lists: Vec::new(),
        modules: Vec::new(),
        opaque: Vec::new(),
        definitions: Vec::new(),
        special_args: None,
        special_args_binding: None,
        pkgs_arg: None,
        overlays: Vec::new(),
        scoped: Vec::new(),
        package_lists: Vec::new(),
        emulated: Vec::new(),
        emulated_unknown: None,
        host_settings: Default::default(),
        module_args: Vec::new(),
        pkgs_option: None,
    };
    let margs = module_args(ev, &Attrs::default(), None, "nixpkgs");
    collect_modules(ev, &mut sys, vec![(t, None)], margs);
    let opaque = sys.opaque.first().map(|o| o.reason.clone());
    (
        platforms::effective(&sys.definitions, opaque.as_deref()),
        sys,
    )
}

/// The literal list of a `modules = ...;` binding: the list, or the literal
/// side of `[ ... ] ++ other`.
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

/// The most modules one configuration may load.
const MAX_MODULES: usize = 5000;

fn collect_modules(
    ev: &mut Evaluator,
    sys: &mut System,
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
    sys: &mut System,
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

/// A value found at a path, with the properties around it.
struct Leaf {
    value: Value,
    priority: u32,
    condition: Option<String>,
    site: Option<Src>,
}

/// Collect the platform definitions of a module's config value.
fn walk_config(
    ev: &mut Evaluator,
    sys: &mut System,
    index: usize,
    config: ThunkId,
    at: Option<Src>,
) {
    let mut packages = Vec::new();
    let mut ignored = Vec::new();
    walk(
        ev,
        config,
        &["environment", "systemPackages"],
        0,
        None,
        None,
        at.clone(),
        &mut packages,
        &mut ignored,
    );
    for leaf in packages {
        if let Some(site) = leaf.site {
            sys.package_lists.push((index, site));
        }
    }
    let mut emulated = Vec::new();
    let mut hidden = Vec::new();
    walk(
        ev,
        config,
        &["boot", "binfmt", "emulatedSystems"],
        0,
        None,
        None,
        at.clone(),
        &mut emulated,
        &mut hidden,
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
    let mut given = Vec::new();
    let mut hidden = Vec::new();
    walk(
        ev,
        config,
        &["_module", "args"],
        0,
        None,
        None,
        at.clone(),
        &mut given,
        &mut hidden,
    );
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
    let mut leaves = Vec::new();
    let mut opaque = Vec::new();
    walk(
        ev,
        config,
        &["nixpkgs"],
        0,
        None,
        None,
        at,
        &mut leaves,
        &mut opaque,
    );
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
            let mut values = Vec::new();
            let mut op = Vec::new();
            walk(
                ev,
                e.value,
                &[],
                0,
                leaf.condition.clone(),
                e.def.clone(),
                e.def.clone(),
                &mut values,
                &mut op,
            );
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
                sys.pkgs_option = Some(super::PkgsOption {
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
            let mut values = Vec::new();
            let mut op = Vec::new();
            walk(
                ev,
                e.value,
                &[],
                0,
                leaf.condition.clone(),
                e.def.clone(),
                e.def.clone(),
                &mut values,
                &mut op,
            );
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
fn read_emulated(ev: &mut Evaluator, sys: &mut System, value: &Value) {
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
/// (`super::host`).
fn read_host_settings(ev: &mut Evaluator, sys: &mut System, config: ThunkId, at: Option<Src>) {
    let mut machines = Vec::new();
    let mut hidden = Vec::new();
    walk(
        ev,
        config,
        &["nix", "buildMachines"],
        0,
        None,
        None,
        at.clone(),
        &mut machines,
        &mut hidden,
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
        let mut defs = Vec::new();
        let mut hidden = Vec::new();
        walk(
            ev,
            config,
            toggle.path(),
            0,
            None,
            None,
            at.clone(),
            &mut defs,
            &mut hidden,
        );
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
fn definition(
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

/// The system double a platform value means, the literal it comes from,
/// why it is unknown, and whether it is `null`.
pub(crate) fn platform_of(
    ev: &mut Evaluator,
    v: &Value,
) -> (Option<String>, Option<Src>, Option<String>, bool) {
    let resolve = |s: &str| crate::platform::resolve(s).ok().map(|t| t.system);
    match v {
        Value::Null => (None, None, None, true),
        Value::Str(s) => match s.as_text() {
            Some(t) => match resolve(&t) {
                Some(d) => (Some(d), s.origin.clone(), None, false),
                None => (
                    None,
                    s.origin.clone(),
                    Some(format!("`{t}` is not a platform nixcross knows")),
                    false,
                ),
            },
            None => (None, None, Some("a string with a path in it".into()), false),
        },
        Value::Attrs(a) => {
            for key in ["system", "config"] {
                if let Some(e) = a.entries.get(key) {
                    let t = e.value;
                    let inner = ev.force(t);
                    return platform_of(ev, &inner);
                }
            }
            (
                None,
                None,
                Some("a platform set without `system` or `config`".into()),
                false,
            )
        }
        Value::Unknown(u) => (None, None, Some(u.reason.clone()), false),
        other => (
            None,
            None,
            Some(format!("the platform is {}", other.type_name())),
            false,
        ),
    }
}

/// What an edit in `file` would change in `sys`: `whole` files (its module
/// files) and `regions` (its inline modules, its call and arguments, the
/// literals its platforms and scoped sets come from).
pub(super) fn used_text(sys: &System, mut whole: impl FnMut(FileId), mut region: impl FnMut(&Src)) {
    for m in &sys.modules {
        match &m.origin {
            ModuleOrigin::File(f) => whole(*f),
            ModuleOrigin::Inline(src) => region(src),
            ModuleOrigin::External(_) => {}
        }
    }
    // The call and what of its arguments is written in a file: when the
    // arguments reach the call computed (`removeAttrs args [ ... ]`),
    // `sys.args` is not known, but the bindings and lists still are.
    for s in [
        &sys.args,
        &sys.call,
        &sys.modules_binding,
        &sys.modules_list,
        &sys.special_args_binding,
        &sys.pkgs_arg,
    ]
    .into_iter()
    .flatten()
    {
        region(s);
    }
    for l in &sys.appended_lists {
        region(l);
    }
    // A definition's binding (the `system` argument's too) and its literal.
    for d in &sys.definitions {
        for s in [&d.site, &d.literal].into_iter().flatten() {
            region(s);
        }
    }
    for s in &sys.scoped {
        for n in [&s.args, &s.local_literal, &s.cross_literal]
            .into_iter()
            .flatten()
        {
            region(n);
        }
    }
}

/// Which of the configuration's platforms a `localSystem`/`system`/
/// `crossSystem` binding of a module's package set takes:
/// `config.nixpkgs.<buildPlatform|localSystem|hostPlatform|crossSystem>`
/// (`.system` or not), `pkgs.stdenv.<buildPlatform|hostPlatform>.system`,
/// `pkgs.system`, or the same through `inherit (pkgs) system;`. `pkgs` and
/// `config` must be the module's own arguments.
pub(crate) fn config_platform(site: &Src) -> Option<ConfigPlatform> {
    config_platform_of(site).map(|(p, _)| p)
}

/// The module argument (`pkgs` or `config`) a binding that
/// [`config_platform`] reads takes the platform from.
pub(crate) fn config_platform_base(site: &Src) -> Option<String> {
    config_platform_of(site).map(|(_, b)| b)
}

fn config_platform_of(site: &Src) -> Option<(ConfigPlatform, String)> {
    let (path, base) = match site.node.as_entry()? {
        crate::syntax::Entry::Binding(b) => {
            let v = b.value.unparen();
            let r = v.reference()?;
            let base = v.select().map_or(v.clone(), |s| s.base);
            (r, base)
        }
        crate::syntax::Entry::Inherit(i) => {
            let from = i.from.as_ref()?.unparen();
            let [(name, _)] = &i.names[..] else {
                return None;
            };
            let mut r = from.reference()?;
            r.push(name.clone());
            let base = from.select().map_or(from.clone(), |s| s.base);
            (r, base)
        }
    };
    let first = path.first()?;
    // The module's own `pkgs`/`config`: a parameter of a function.
    if base.ident().as_deref() != Some(first.as_str()) || base.param_binder(first).is_none() {
        return None;
    }
    let rest: Vec<&str> = path[1..].iter().map(String::as_str).collect();
    use ConfigPlatform::{Build, Host};
    let platform = match (first.as_str(), &rest[..]) {
        ("config", ["nixpkgs", "buildPlatform" | "localSystem"])
        | ("config", ["nixpkgs", "buildPlatform", "system"]) => Build,
        ("config", ["nixpkgs", "hostPlatform" | "crossSystem"])
        | ("config", ["nixpkgs", "hostPlatform", "system"]) => Host,
        ("pkgs", ["stdenv", "buildPlatform", "system"] | ["buildPlatform", "system"]) => Build,
        (
            "pkgs",
            ["system"]
            | ["stdenv", "system"]
            | ["stdenv", "hostPlatform", "system"]
            | ["hostPlatform", "system"],
        ) => Host,
        _ => return None,
    };
    Some((platform, first.clone()))
}

/// The platforms a package set is for: `legacyPackages.<system>`, or
/// `import nixpkgs { localSystem/system; crossSystem; }`.
fn pkgs_platforms(
    ev: &mut Evaluator,
    p: &crate::eval::PkgsValue,
) -> (Option<String>, Option<String>) {
    if let Some(s) = p.system() {
        let d = crate::platform::resolve(s).ok().map(|t| t.system);
        return (d.clone(), d);
    }
    if let crate::eval::PkgsVia::Cross { of, example, .. } = &p.via {
        // Built where `of` builds, for the example.
        let build = pkgs_platforms(ev, of).0;
        let host = crate::platform::catalogue()
            .example(example)
            .map(|e| e.system.clone());
        return (build, host);
    }
    let Ok(args) = ImportArgs::of(ev, p) else {
        return (None, None);
    };
    let build = args.local.as_ref().and_then(|(_, e)| {
        let v = ev.force(e.value);
        platform_of(ev, &v).0
    });
    let host = match args.cross_value(ev) {
        Some(v) => platform_of(ev, &v).0,
        None => build.clone(),
    };
    (build, host)
}

/// The scoped package sets among `given` (`specialArgs`, or the
/// `_module.args` the modules define): entries whose value is
/// `import <nixpkgs> { ... }`.
fn scoped_sets(ev: &mut Evaluator, given: &Attrs, via: ScopedVia) -> Vec<ScopedSet> {
    let mut out = Vec::new();
    for (name, e) in given.entries.iter() {
        let t = e.value;
        let Value::Special(s) = ev.force(t) else {
            continue;
        };
        let Special::Pkgs(p) = &*s else { continue };
        if p.import_args().is_none() {
            continue;
        }
        let mut set = ScopedSet {
            name: name.clone(),
            via,
            tracking: Tracking::Own,
            entry: e.def.clone(),
            import: p.import_call().cloned(),
            args: None,
            local: None,
            local_site: None,
            local_literal: None,
            cross: None,
            cross_site: None,
            cross_literal: None,
            overlays: Vec::new(),
            overlays_site: None,
        };
        // Arguments nixpkgs would refuse (localSystem next to system) leave
        // the platforms unknown.
        let read = ImportArgs::of(ev, p);
        if let Some(a) = read.as_ref().ok().map(|r| r.args.clone()) {
            set.args = a.src.clone();
        }
        if let Ok(read) = read {
            let a = read.args.clone();
            if let Some((_, le)) = &read.local {
                let v = ev.force(le.value);
                let (system, literal, _, _) = platform_of(ev, &v);
                set.local = system;
                set.local_literal = literal;
                set.local_site = le.def.clone();
            }
            if let Some(ce) = &read.cross {
                let v = ev.force(ce.value);
                let (system, literal, _, _) = platform_of(ev, &v);
                set.cross = system;
                set.cross_literal = literal;
                set.cross_site = ce.def.clone();
            }
            if let Some(oe) = a.entries.get("overlays") {
                if let Some(site) = oe.def.clone() {
                    set.overlays = OverlayDef::read(site.clone()).overlays;
                    set.overlays_site = Some(site);
                }
            }
            let platform = |site: &Option<Src>| site.as_ref().and_then(config_platform);
            set.tracking = match (
                via,
                platform(&set.local_site),
                &set.cross_site,
                platform(&set.cross_site),
            ) {
                // `config` and the module's `pkgs` exist in modules only.
                (
                    ScopedVia::ModuleArgs,
                    Some(ConfigPlatform::Build),
                    _,
                    Some(ConfigPlatform::Host),
                ) => Tracking::BuildAndHost,
                (ScopedVia::ModuleArgs, Some(ConfigPlatform::Host), None, _) => Tracking::Host,
                _ => Tracking::Own,
            };
        }
        out.push(set);
    }
    out
}
