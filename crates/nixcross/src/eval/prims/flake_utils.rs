//! flake-utils' per-system helpers: `eachSystem`, `eachDefaultSystem`,
//! `eachSystemMap` and `eachDefaultSystemMap`.

use std::collections::BTreeMap;
use std::rc::Rc;

use super::{
    any_system, entry, lib, listed, per_system, set_from, str_thunk, unknown_at, unlisted, Applied,
};
use crate::eval::{Evaluator, Prim, SystemsHelper, ThunkId, Unknown, Value};
use crate::source::Src;

/// Run a helper of flake-utils with all its arguments.
pub(super) fn run(ev: &mut Evaluator, call: Applied) -> Value {
    use Prim::*;
    let Applied { p, args, at, .. } = call;
    match p {
        EachSystemMap => lib::gen_attrs(ev, SystemsHelper::FlakeUtils, args),
        EachDefaultSystemMap if ev.rewritable() => {
            let any = any_system(ev);
            let each = ev.delay_apply(args[0], any);
            unlisted(
                SystemsHelper::FlakeUtils,
                each,
                default_systems_unknown(&at),
            )
        }
        EachDefaultSystemMap => {
            let systems = default_systems(ev);
            let t = ev.value(Value::List(Rc::new(systems)));
            lib::gen_attrs(ev, SystemsHelper::FlakeUtils, &[t, args[0]])
        }
        EachSystem => match listed(ev, args[0]) {
            Ok(items) => each_system(ev, Ok(&items), args[1], at),
            Err(u) if ev.rewritable() => {
                let Value::Unknown(why) = u else {
                    unreachable!("listed gives unknown values")
                };
                each_system(ev, Err(why), args[1], at)
            }
            Err(u) => u,
        },
        EachDefaultSystem if ev.rewritable() => {
            let Value::Unknown(why) = default_systems_unknown(&at) else {
                unreachable!("an unknown value")
            };
            each_system(ev, Err(why), args[0], at)
        }
        EachDefaultSystem => {
            let systems = default_systems(ev);
            let t = ev.value(Value::List(Rc::new(systems)));
            let items = match listed(ev, t) {
                Ok(items) => items,
                Err(u) => return u,
            };
            each_system(ev, Ok(&items), args[0], at)
        }
        _ => unreachable!("{p:?} is not a helper of flake-utils"),
    }
}

/// The systems flake-utils' `eachDefaultSystem` runs over when every
/// value is followed: nix-systems/default's.
fn default_systems(ev: &mut Evaluator) -> Vec<ThunkId> {
    [
        "x86_64-linux",
        "aarch64-linux",
        "x86_64-darwin",
        "aarch64-darwin",
    ]
    .iter()
    .map(|s| str_thunk(ev, s))
    .collect()
}

/// Why flake-utils' default systems are not listed in the rewritable
/// reading.
fn default_systems_unknown(at: &Option<Src>) -> Value {
    unknown_at(
        "flake-utils' systems come from its locked `systems` input",
        at,
    )
}

/// flake-utils' `eachSystem systems f`: for every output name `f` gives,
/// `{ <system> = (f system).<name>; }`. The names are read from the first
/// system's result (flake-utils requires the same ones for every system).
/// Systems the file does not list (`Err`: why) give sets of any system.
fn each_system(
    ev: &mut Evaluator,
    systems: Result<&[(String, ThunkId)], Rc<Unknown>>,
    f: ThunkId,
    at: Option<Src>,
) -> Value {
    let results: Vec<(String, ThunkId)> = match systems {
        Ok(items) => items
            .iter()
            .map(|(name, s)| (name.clone(), ev.delay_apply(f, *s)))
            .collect(),
        Err(_) => {
            let any = any_system(ev);
            vec![(String::new(), ev.delay_apply(f, any))]
        }
    };
    let Some((_, r0)) = results.first() else {
        return set_from(ev, BTreeMap::new(), None);
    };
    let names = match ev.force(*r0) {
        Value::Attrs(a) => {
            if let Some(u) = &a.open {
                return Value::Unknown(u.clone());
            }
            a.entries.keys().cloned().collect::<Vec<_>>()
        }
        u @ Value::Unknown(_) => return u,
        other => return unknown_at(format!("`eachSystem` gave {}", other.type_name()), &at),
    };
    let mut out = BTreeMap::new();
    for name in names {
        let per = match &systems {
            Ok(items) => {
                let mut per = BTreeMap::new();
                for (sys, r) in &results {
                    let t = ev.delay_select(*r, &name);
                    per.entry(sys.clone()).or_insert(entry(t));
                }
                per_system(per, SystemsHelper::FlakeUtils, items)
            }
            Err(why) => {
                let each = ev.delay_select(*r0, &name);
                unlisted(SystemsHelper::FlakeUtils, each, Value::Unknown(why.clone()))
            }
        };
        let t = ev.value(per);
        out.insert(name, entry(t));
    }
    set_from(ev, out, None)
}
