//! flake-parts: `mkFlake` and `evalFlakeModule`, with the `flake` outputs
//! its modules define and the outputs transposed from `perSystem`.

use std::collections::BTreeMap;
use std::rc::Rc;

use super::{
    any_system, entry, listed, partial, per_system, set_from, unknown_at, unlisted, Applied,
};
use crate::eval::{
    AttrEntry, Attrs, Evaluator, PathValue, PkgsValue, PkgsVia, Prim, Special, SystemsHelper,
    ThunkId, Unknown, Value,
};
use crate::source::Src;

/// Run a function of flake-parts with all its arguments.
pub(super) fn run(ev: &mut Evaluator, call: Applied) -> Value {
    use Prim::*;
    let Applied { p, args, at, .. } = call;
    match p {
        MkFlake => mk_flake(ev, args[0], args[1], at),
        EvalFlakeModule => {
            let flake = mk_flake(ev, args[0], args[1], at.clone());
            let ft = ev.value(flake);
            let mut config = BTreeMap::new();
            config.insert("flake".to_string(), entry(ft));
            let cv = set_from(ev, config, None);
            let ct = ev.value(cv);
            let mut out = BTreeMap::new();
            out.insert("config".to_string(), entry(ct));
            set_from(
                ev,
                out,
                Some(Rc::new(Unknown {
                    reason: "flake-parts' evalFlakeModule is modelled for `config.flake` only"
                        .into(),
                    at,
                })),
            )
        }
        _ => unreachable!("{p:?} is not a function of flake-parts"),
    }
}

/// flake-parts' `mkFlake { inherit inputs; } module`: the `flake` outputs
/// its modules define (`flake.nixosConfigurations.<name>`, `flake.lib`, ...),
/// merged one level deep across modules, as flake-parts merges them. The
/// values stay lazy, so an output may refer to another through `self`.
fn mk_flake(ev: &mut Evaluator, args: ThunkId, module: ThunkId, at: Option<Src>) -> Value {
    let inputs = ev.delay_select(args, "inputs");
    let result = ev.placeholder();
    let lib = ev.lib();
    let self_t = ev.delay_select(inputs, "self");
    // Module arguments: { inputs, self, lib, config.flake, ... }.
    let config = partial(
        [("flake", result)],
        "flake-parts options other than `flake` are not modelled",
    );
    let config_t = ev.value(Value::Attrs(Rc::new(config)));
    let margs = partial(
        [
            ("inputs", inputs),
            ("lib", lib),
            ("self", self_t),
            ("config", config_t),
        ],
        "a flake-parts module argument nixcross does not model",
    );
    let margs_t = ev.value(Value::Attrs(Rc::new(margs)));
    let mut pending = vec![module];
    let mut seen_paths: Vec<PathValue> = Vec::new();
    let mut outputs: BTreeMap<String, Vec<ThunkId>> = BTreeMap::new();
    let mut systems = None;
    let mut per_system_modules = Vec::new();
    let mut per_outputs: Vec<(String, ThunkId)> = Vec::new();
    let mut open: Option<Rc<Unknown>> = None;
    let mut steps = 0;
    while let Some(m) = pending.pop() {
        steps += 1;
        if steps > 500 {
            open = Some(Rc::new(Unknown {
                reason: "too many flake-parts modules".into(),
                at: at.clone(),
            }));
            break;
        }
        let mut v = ev.force(m);
        if let Value::Path(p) = &v {
            if seen_paths.contains(p) {
                continue;
            }
            seen_paths.push((**p).clone());
            let p = (**p).clone();
            v = ev.import_path(&p, at.clone());
        }
        if matches!(v, Value::Lambda(_) | Value::Prim(_)) {
            v = ev.apply(v, margs_t, at.clone());
        }
        let Value::Attrs(a) = v else {
            match v {
                Value::Unknown(u) => open = Some(u),
                // A module from another input (`inputs.x.flakeModule`).
                Value::Special(_) => {}
                _ => {
                    open = Some(Rc::new(Unknown {
                        reason: "a flake-parts module nixcross cannot read".into(),
                        at: at.clone(),
                    }))
                }
            }
            continue;
        };
        if let Some(imp) = a.entries.get("imports") {
            let t = imp.value;
            match ev.force(t) {
                Value::List(l) => pending.extend(l.iter().rev().copied()),
                Value::Unknown(u) => open = Some(u),
                _ => {}
            }
        }
        if let Some(s) = a.entries.get("systems") {
            systems.get_or_insert(s.value);
        }
        if let Some(p) = a.entries.get("perSystem") {
            per_system_modules.push(p.value);
        }
        for key in ["flake", "config"] {
            let Some(f) = a.entries.get(key) else {
                continue;
            };
            let t = f.value;
            let mut fv = ev.force(t);
            if key == "config" {
                let Value::Attrs(c) = &fv else { continue };
                let Some(inner) = c.entries.get("flake") else {
                    continue;
                };
                let it = inner.value;
                fv = ev.force(it);
            }
            match fv {
                Value::Attrs(fa) => {
                    for (k, e) in fa.entries.iter() {
                        outputs.entry(k.clone()).or_default().push(e.value);
                    }
                    if let Some(u) = &fa.open {
                        open = Some(u.clone());
                    }
                }
                Value::Unknown(u) => open = Some(u),
                _ => {}
            }
        }
    }
    if !per_system_modules.is_empty() {
        let margs = PerSystemArgs {
            modules: per_system_modules,
            inputs,
            self_t,
            lib,
        };
        match per_system_outputs(ev, &margs, systems, at.clone()) {
            Ok(per) => per_outputs = per,
            Err(u) => open = Some(u),
        }
    }
    let mut merged = BTreeMap::new();
    for (k, ts) in outputs {
        let mut acc = ts[0];
        for t in &ts[1..] {
            acc = ev.delay_update(acc, *t);
        }
        // `flake.packages.<system>.x` and perSystem's `packages.x` are one
        // option: their systems are merged.
        if let Some(i) = per_outputs.iter().position(|(n, _)| *n == k) {
            let (_, per) = per_outputs.remove(i);
            let v = merge_per_system(ev, acc, per);
            acc = ev.value(v);
        }
        merged.insert(k, entry(acc));
    }
    for (k, t) in per_outputs {
        merged.insert(k, entry(t));
    }
    let value = set_from(
        ev,
        merged,
        Some(open.unwrap_or_else(|| {
            Rc::new(Unknown {
                reason: "flake-parts options other than `flake` and `perSystem` are not modelled"
                    .into(),
                at,
            })
        })),
    );
    let empty = ev.value(Value::Attrs(Rc::new(Attrs::default())));
    let v = ev.value(value.clone());
    ev.fill_update(result, v, empty);
    value
}

/// `flake.<output>` (`flake`) and perSystem's `<output>` (`per`), merged by
/// system: a system both define has the names of both.
fn merge_per_system(ev: &mut Evaluator, flake: ThunkId, per: ThunkId) -> Value {
    let (fv, pv) = (ev.force(flake), ev.force(per));
    let (Value::Attrs(f), Value::Attrs(p)) = (&fv, &pv) else {
        return ev.update(fv, pv, None);
    };
    let mut out = (**p).clone();
    for (k, e) in f.entries.iter() {
        let entry = match p.entries.get(k) {
            Some(pe) => AttrEntry {
                value: ev.delay_update(e.value, pe.value),
                def: e.def.clone(),
            },
            None => e.clone(),
        };
        out.entries.insert(k.clone(), entry);
    }
    out.open = p.open.clone().or_else(|| f.open.clone());
    Value::Attrs(Rc::new(out))
}

/// What every flake-parts `perSystem` module is given, besides its system.
struct PerSystemArgs {
    /// The `perSystem` definitions of every module.
    modules: Vec<ThunkId>,
    inputs: ThunkId,
    self_t: ThunkId,
    lib: ThunkId,
}

/// The outputs flake-parts transposes from `perSystem`.
const PER_SYSTEM_OUTPUTS: [&str; 6] = [
    "packages",
    "devShells",
    "checks",
    "apps",
    "formatter",
    "legacyPackages",
];

/// flake-parts' `perSystem` over `systems`: `<output>.<system>` for every
/// output `perSystem` defines (read from the first system's). Systems the
/// file does not list give sets of any system, in the rewritable reading;
/// otherwise they are not known (`Err`).
fn per_system_outputs(
    ev: &mut Evaluator,
    margs: &PerSystemArgs,
    systems: Option<ThunkId>,
    at: Option<Src>,
) -> Result<Vec<(String, ThunkId)>, Rc<Unknown>> {
    let listed = match systems {
        Some(t) => listed(ev, t),
        None => Err(unknown_at("flake-parts' `systems` is not set", &at)),
    };
    let runs: Vec<(Option<String>, ThunkId)> = match &listed {
        Ok(items) => items.iter().map(|(n, t)| (Some(n.clone()), *t)).collect(),
        Err(_) if ev.rewritable() => vec![(None, any_system(ev))],
        Err(Value::Unknown(u)) => return Err(u.clone()),
        Err(_) => {
            return Err(Rc::new(Unknown {
                reason: "flake-parts' `systems` is not a list of systems".into(),
                at,
            }))
        }
    };
    let results: Vec<(Option<String>, ThunkId)> = runs
        .into_iter()
        .map(|(name, sys)| {
            let r = per_system_result(ev, margs, sys, name.clone());
            (name, r)
        })
        .collect();
    let Some((_, r0)) = results.first() else {
        return Ok(Vec::new());
    };
    let r0 = *r0;
    let first = match ev.force(r0) {
        Value::Attrs(a) => a,
        Value::Unknown(u) => return Err(u),
        other => {
            return Err(Rc::new(Unknown {
                reason: format!("flake-parts' perSystem gives {}", other.type_name()),
                at,
            }))
        }
    };
    let mut out = Vec::new();
    for key in PER_SYSTEM_OUTPUTS {
        if !first.entries.contains_key(key) {
            continue;
        }
        let per = match &listed {
            Ok(items) => {
                let mut per = BTreeMap::new();
                for (sys, r) in &results {
                    let t = ev.delay_select(*r, key);
                    per.entry(sys.clone().unwrap_or_default())
                        .or_insert(entry(t));
                }
                per_system(per, SystemsHelper::FlakePartsPerSystem, items)
            }
            Err(why) => {
                let each = ev.delay_select(r0, key);
                unlisted(SystemsHelper::FlakePartsPerSystem, each, why.clone())
            }
        };
        out.push((key.to_string(), ev.value(per)));
    }
    Ok(out)
}

/// What the `perSystem` modules define for the system `sys` (`name`, when
/// it is listed): their definitions merged, with the arguments flake-parts
/// gives (`pkgs` is nixpkgs for the system, unless a module sets
/// `_module.args.pkgs`).
fn per_system_result(
    ev: &mut Evaluator,
    margs: &PerSystemArgs,
    sys: ThunkId,
    name: Option<String>,
) -> ThunkId {
    let pkgs = ev.placeholder();
    let unknown = |ev: &mut Evaluator, why: &str| ev.value(Value::unknown(why, None));
    let given = [
        ("system", sys),
        ("pkgs", pkgs),
        ("inputs", margs.inputs),
        ("self", margs.self_t),
        ("lib", margs.lib),
        ("inputs'", unknown(ev, "inputs' is not followed")),
        (
            "self'",
            unknown(ev, "`self'` refers to this flake's own outputs"),
        ),
        ("config", unknown(ev, "config is not followed")),
    ];
    let args = partial(
        given,
        "a flake-parts perSystem argument nixcross does not model",
    );
    let args_t = ev.value(Value::Attrs(Rc::new(args)));
    let mut result: Option<ThunkId> = None;
    for m in &margs.modules {
        let r = match ev.force(*m) {
            Value::Lambda(_) | Value::Prim(_) => ev.delay_apply(*m, args_t),
            _ => *m,
        };
        result = Some(match result {
            Some(acc) => ev.delay_update(acc, r),
            None => r,
        });
    }
    let result = result.unwrap_or_else(|| ev.value(Value::Attrs(Rc::new(Attrs::default()))));
    // `_module.args.pkgs` or nixpkgs for the system.
    let default = ev.value(Value::Special(Rc::new(Special::Pkgs(Rc::new(PkgsValue {
        input: "nixpkgs".into(),
        via: PkgsVia::PerSystem { system: name },
    })))));
    let empty = ev.value(Value::Attrs(Rc::new(Attrs::default())));
    let module = ev.delay_select_or(result, "_module", empty);
    let module_args = ev.delay_select_or(module, "args", empty);
    ev.fill_select_or(pkgs, module_args, "pkgs", default);
    result
}
