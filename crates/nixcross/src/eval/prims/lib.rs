//! The stand-in for nixpkgs' `lib`: the set (`lib_attrs`) and the functions
//! of it that are not also in `builtins`, the module system's properties
//! (`mkIf`, `mkMerge`, `mkOverride`, ...) and option modules among them.

use std::collections::BTreeMap;
use std::rc::Rc;

use super::builtins;
use super::{
    any_system, apply2, apply_attr, attrs_of, entry, force_attrs, force_bool, force_closed,
    force_list, force_text, list, listed, partial, path_arg, per_system, prim, prim_of, set_from,
    spent, str_thunk, text, too_deep, unknown_at, unlisted, Applied,
};
use crate::eval::cost;
use crate::eval::{
    AttrEntry, Attrs, Evaluator, MadeBy, PathValue, Prim, Property, Special, SystemsHelper,
    ThunkId, Unknown, Value,
};
use crate::platform;
use crate::source::Src;

/// nixpkgs' `lib`, as far as nixcross models it. `input` is the nixpkgs input
/// it belongs to (for `nixosSystem`).
pub(in crate::eval) fn lib_attrs(ev: &mut Evaluator, input: Option<&str>) -> ThunkId {
    use Prim::*;
    let input = input.unwrap_or("nixpkgs");
    let fns: Vec<(&str, Prim)> = vec![
        ("genAttrs", GenAttrs),
        ("mapAttrs", MapAttrs),
        ("mapAttrs'", MapAttrsPrime),
        ("mapAttrsToList", MapAttrsToList),
        ("filterAttrs", FilterAttrs),
        ("nameValuePair", NameValuePair),
        ("listToAttrs", ListToAttrs),
        ("attrNames", AttrNames),
        ("attrValues", AttrValues),
        ("hasAttr", HasAttr),
        ("getAttr", GetAttr),
        ("removeAttrs", RemoveAttrs),
        ("attrByPath", AttrByPath),
        ("foldl'", FoldlStrict),
        ("foldl", FoldlStrict),
        ("foldr", Foldr),
        ("map", Map),
        ("filter", Filter),
        ("concatMap", ConcatMap),
        ("concatLists", ConcatLists),
        ("flatten", Flatten),
        ("head", Head),
        ("tail", Tail),
        ("length", Length),
        ("elemAt", ElemAt),
        ("elem", Elem),
        ("unique", Unique),
        ("genList", GenList),
        ("optional", Optional),
        ("optionals", Optionals),
        ("optionalAttrs", OptionalAttrs),
        ("hasSuffix", HasSuffix),
        ("hasPrefix", HasPrefix),
        ("removeSuffix", RemoveSuffix),
        ("removePrefix", RemovePrefix),
        ("concatStringsSep", ConcatStringsSep),
        ("replaceStrings", ReplaceStrings),
        ("toString", ToString),
        ("id", Id),
        ("const", Const),
        ("isAttrs", IsAttrs),
        ("isList", IsList),
        ("isString", IsString),
        ("isFunction", IsFunction),
        ("zipAttrsWith", ZipAttrsWith),
        ("recursiveUpdate", RecursiveUpdate),
        ("extend", Extend),
        ("mkIf", MkIf),
        ("mkMerge", MkMerge),
        ("mkOverride", MkOverride),
        ("mkDefault", MkPriority(crate::vocab::MK_DEFAULT)),
        ("mkForce", MkPriority(crate::vocab::MK_FORCE)),
        ("mkOptionDefault", MkPriority(1500)),
        ("mkImageMediaOverride", MkPriority(60)),
        ("mkVMOverride", MkPriority(10)),
        ("mkBefore", MkOrdered),
        ("mkAfter", MkOrdered),
        ("mkOrder", MkOrder),
        ("mkRemovedOptionModule", RemovedOptionModule),
        ("mkRenamedOptionModule", RenamedOptionModule),
        ("mkAliasOptionModule", RenamedOptionModule),
        ("mkChangedOptionModule", ChangedOptionModule),
        ("mkMergedOptionModule", ChangedOptionModule),
        ("nixosSystem", NixosSystem),
        ("callPackageWith", CallPackageWith),
        ("makeOverridable", MakeOverridable),
        ("groupBy", GroupBy),
        ("flip", Flip),
        ("pipe", Pipe),
        ("mergeAttrsList", MergeAttrsList),
        ("concatMapAttrs", ConcatMapAttrs),
        ("optionalString", OptionalString),
        ("concatStrings", ConcatStrings),
        ("concatMapStrings", ConcatMapStrings),
        ("hasInfix", HasInfix),
        ("last", Last),
        ("init", Init),
        ("toList", ToList),
        ("singleton", ToList),
        ("forEach", ForEach),
        ("imap0", Imap0),
        ("imap1", Imap1),
        ("attrsToList", AttrsToList),
        ("catAttrs", CatAttrs),
        ("subtractLists", SubtractLists),
        ("intersectLists", IntersectLists),
        ("remove", Remove),
        ("reverseList", ReverseList),
        ("warn", Warn),
        ("warnIf", WarnIf),
        ("throwIf", ThrowIf),
        ("fix", Fix),
        ("range", Range),
        ("toLower", ToLower),
        ("toUpper", ToUpper),
        ("splitString", SplitString),
        ("stringLength", StringLength),
        ("substring", Substring),
    ];
    // `nixosSystem` is of the input `lib` is of.
    let fns = fns
        .into_iter()
        .map(|(name, p)| match p {
            NixosSystem => (name, prim_of(p, input)),
            _ => (name, prim(p)),
        })
        .collect();
    let mut lib = attrs_of(ev, fns);
    // Sub-libraries with the same functions (`lib.attrsets.mapAttrs`, ...).
    let flat: Vec<(String, ThunkId)> = lib
        .entries
        .iter()
        .map(|(k, e)| (k.clone(), e.value))
        .collect();
    let fix = ev.value(prim(Fix));
    let fixed_points = partial(
        [("fix", fix), ("makeExtensible", fix)],
        "nixcross models only `fix` and `makeExtensible` of `lib.fixedPoints`",
    );
    add(ev, &mut lib, "fixedPoints", fixed_points);
    lib.entries.insert("makeExtensible".into(), entry(fix));
    let lfr = ev.value(prim(ListFilesRecursive));
    let filesystem = partial(
        [("listFilesRecursive", lfr)],
        "nixcross models only `lib.filesystem.listFilesRecursive`",
    );
    add(ev, &mut lib, "filesystem", filesystem);
    let append = ev.value(prim(PathAppend));
    let path = partial(
        [("append", append)],
        "nixcross models only `lib.path.append`",
    );
    add(ev, &mut lib, "path", path);
    for sub in ["attrsets", "lists", "strings", "trivial", "modules"] {
        let s = partial(
            flat.iter().cloned(),
            format!("nixcross models only part of `lib.{sub}`"),
        );
        add(ev, &mut lib, sub, s);
    }
    let systems = lib_systems(ev);
    add(ev, &mut lib, "systems", systems);
    lib.open = Some(Rc::new(Unknown {
        reason: "nixcross models only part of nixpkgs' `lib`".into(),
        at: None,
    }));
    ev.value(Value::Attrs(Rc::new(lib)))
}

/// `set` as the attribute `name` of `lib`.
fn add(ev: &mut Evaluator, lib: &mut Attrs, name: &str, set: Attrs) {
    let t = ev.value(Value::Attrs(Rc::new(set)));
    lib.entries.insert(name.into(), entry(t));
}

/// `lib.systems`: `examples` (each with its `config`), `flakeExposed` and
/// `elaborate`.
fn lib_systems(ev: &mut Evaluator) -> Attrs {
    let cat = platform::catalogue();
    let mut examples = Attrs::default();
    for e in &cat.examples {
        let config = ev.value(Value::string(e.config.clone()));
        let mut ex = Attrs::default();
        ex.entries.insert("config".into(), entry(config));
        if !e.extra.is_empty() {
            ex.open = Some(Rc::new(Unknown {
                reason: format!("`lib.systems.examples.{}` sets more than `config`", e.name),
                at: None,
            }));
        }
        ex.made_by = Some(Rc::new(MadeBy::Example(e.name.clone())));
        let t = ev.value(Value::Attrs(Rc::new(ex)));
        examples.entries.insert(e.name.clone(), entry(t));
    }
    let exposed: Vec<ThunkId> = cat
        .flake_exposed
        .iter()
        .map(|s| ev.value(Value::string(s.clone())))
        .collect();
    let examples_t = ev.value(Value::Attrs(Rc::new(examples)));
    let exposed_t = ev.value(Value::List(Rc::new(exposed)));
    // `elaborate x` is read as `x`: what a platform's `system` and `config`
    // say does not change.
    let elaborate = ev.value(prim(Prim::Id));
    partial(
        [
            ("examples", examples_t),
            ("flakeExposed", exposed_t),
            ("elaborate", elaborate),
        ],
        "nixcross models only `lib.systems.examples`, `flakeExposed` and `elaborate`",
    )
}

/// Run a function of the `lib` stand-in with all its arguments.
pub(super) fn run(ev: &mut Evaluator, call: Applied) -> Value {
    use Prim::*;
    let Applied { p, args, input, at } = call;
    match p {
        MapAttrsPrime => map_attrs_prime(ev, args, at),
        MapAttrsToList => {
            let a = tri!(force_closed(ev, args[1]));
            let mut out = Vec::new();
            for (k, e) in a.entries.iter() {
                out.push(apply_attr(ev, args[0], k, e.value));
            }
            list(ev, out)
        }
        FilterAttrs => filter_attrs(ev, args),
        GenAttrs => gen_attrs(ev, SystemsHelper::GenAttrs, args),
        NameValuePair => name_value_pair(ev, args),
        AttrByPath => {
            let path = tri!(force_list(ev, args[0]));
            let mut cur = ev.force(args[2]);
            for p in path.iter() {
                let name = tri!(force_text(ev, *p));
                cur = ev.select(cur, &name, Some(args[1]), at.clone());
            }
            cur
        }
        Foldr => {
            let l = tri!(force_list(ev, args[2]));
            let mut acc = args[1];
            for i in l.iter().rev() {
                acc = apply2(ev, args[0], *i, acc);
            }
            ev.force(acc)
        }
        HasSuffix | HasPrefix | RemoveSuffix | RemovePrefix => {
            let affix = tri!(force_text(ev, args[0]));
            let s = tri!(force_text(ev, args[1]));
            match p {
                HasSuffix => Value::Bool(s.ends_with(&affix)),
                HasPrefix => Value::Bool(s.starts_with(&affix)),
                RemoveSuffix => text(ev, s.strip_suffix(&affix).unwrap_or(&s)),
                _ => text(ev, s.strip_prefix(&affix).unwrap_or(&s)),
            }
        }
        Optional | Optionals | OptionalAttrs => {
            let c = tri!(force_bool(ev, args[0]));
            match (p, c) {
                (Optional, true) => list(ev, vec![args[1]]),
                (Optional | Optionals, false) => list(ev, Vec::new()),
                (Optionals, true) => ev.force(args[1]),
                (_, true) => ev.force(args[1]),
                (_, false) => set_from(ev, BTreeMap::new(), None),
            }
        }
        Id => ev.force(args[0]),
        Const => ev.force(args[0]),
        Flatten => builtins::concat_lists(ev, Applied { p, args, input, at }),
        Unique => unique(ev, args, at),
        RecursiveUpdate => {
            let l = ev.force(args[0]);
            let r = ev.force(args[1]);
            recursive_update(ev, l, r, at)
        }
        Extend => {
            // `lib.extend overlay`: fix (final: lib // overlay final lib).
            let base = ev.lib();
            let fixed = ev.fix_extend(base, args[0]);
            ev.force(fixed)
        }
        Flip => {
            // `flip f a b` is `f b a`.
            let fb = ev.delay_apply(args[0], args[2]);
            let fba = ev.delay_apply(fb, args[1]);
            ev.force(fba)
        }
        ForEach => super::run(ev, Map, &[args[1], args[0]], input, at),
        // `callPackageWith auto fn args`: `fn` (a path is imported) called
        // with `auto // args`.
        CallPackageWith => {
            let f = match ev.force(args[1]) {
                Value::Path(p) => ev.import_path(&p, at.clone()),
                v => v,
            };
            let merged = ev.delay_update(args[0], args[2]);
            ev.apply(f, merged, at)
        }
        ListFilesRecursive => list_files_recursive(ev, args, at),
        // `makeOverridable f args`: `f args` (the `override` it adds is not
        // modelled).
        MakeOverridable => {
            let f = ev.force(args[0]);
            ev.apply(f, args[1], at)
        }
        Pipe => {
            let fs = tri!(force_list(ev, args[1]));
            let mut cur = args[0];
            for f in fs.iter() {
                cur = ev.delay_apply(*f, cur);
            }
            ev.force(cur)
        }
        MergeAttrsList => {
            let l = tri!(force_list(ev, args[0]));
            let mut acc = Value::Attrs(Rc::new(Attrs::default()));
            for i in l.iter() {
                let v = ev.force(*i);
                acc = ev.update(acc, v, at.clone());
            }
            acc
        }
        ConcatMapAttrs => concat_map_attrs(ev, args, at),
        OptionalString => match tri!(force_bool(ev, args[0])) {
            true => ev.force(args[1]),
            false => Value::string(""),
        },
        ConcatStrings | ConcatMapStrings => concat_strings(ev, p, args, at),
        HasInfix => {
            let needle = tri!(force_text(ev, args[0]));
            let s = tri!(force_text(ev, args[1]));
            Value::Bool(s.contains(&needle))
        }
        Last | Init => {
            let l = tri!(force_list(ev, args[0]));
            if l.is_empty() {
                return unknown_at("`last`/`init` of an empty list", &at);
            }
            if p == Last {
                ev.force(l[l.len() - 1])
            } else {
                list(ev, l[..l.len() - 1].to_vec())
            }
        }
        ToList => match ev.force(args[0]) {
            v @ Value::List(_) => v,
            _ => list(ev, vec![args[0]]),
        },
        Imap0 | Imap1 => {
            let l = tri!(force_list(ev, args[1]));
            let base = if p == Imap0 { 0 } else { 1 };
            let items = l
                .iter()
                .enumerate()
                .map(|(i, x)| {
                    let it = ev.value(Value::Int(i as i64 + base));
                    apply2(ev, args[0], it, *x)
                })
                .collect();
            list(ev, items)
        }
        AttrsToList => attrs_to_list(ev, args),
        SubtractLists | IntersectLists | Remove => subtract_lists(ev, p, args, at),
        ReverseList => {
            let l = tri!(force_list(ev, args[0]));
            list(ev, l.iter().rev().copied().collect())
        }
        Warn => ev.force(args[1]),
        WarnIf => ev.force(args[2]),
        ThrowIf => match tri!(force_bool(ev, args[0])) {
            true => {
                let msg = force_text(ev, args[1]).unwrap_or_default();
                unknown_at(format!("the expression throws: {msg}"), &at)
            }
            false => ev.force(args[2]),
        },
        Fix => {
            let me = ev.placeholder();
            let applied = ev.delay_apply(args[0], me);
            let empty = ev.value(Value::Attrs(Rc::new(Attrs::default())));
            ev.fill_update(me, applied, empty);
            ev.force(me)
        }
        PathAppend => {
            let base = ev.force(args[0]);
            let rest = tri!(force_text(ev, args[1]));
            match base {
                Value::Path(p) => Value::Path(Rc::new(p.append(&format!("/{rest}")))),
                u @ Value::Unknown(_) => u,
                _ => unknown_at("`lib.path.append` of a value that is not a path", &at),
            }
        }
        Range => match (ev.force(args[0]), ev.force(args[1])) {
            (Value::Int(a), Value::Int(b)) => {
                let n = (b as i128 - a as i128 + 1).clamp(0, u64::MAX as i128) as u64;
                let each = cost::THUNK + cost::LIST_ITEM;
                if let Err(u) = ev.room(n.saturating_mul(each), at.as_ref()) {
                    return u;
                }
                let items = (a..=b).map(|i| ev.value(Value::Int(i))).collect();
                list(ev, items)
            }
            _ => unknown_at("`range` nixcross does not follow", &at),
        },
        ToLower | ToUpper => {
            let s = tri!(force_text(ev, args[0]));
            text(
                ev,
                if p == ToLower {
                    s.to_lowercase()
                } else {
                    s.to_uppercase()
                },
            )
        }
        SplitString => {
            let sep = tri!(force_text(ev, args[0]));
            let s = tri!(force_text(ev, args[1]));
            if sep.is_empty() {
                return unknown_at("`splitString` with an empty separator", &at);
            }
            let items = s.split(sep.as_str()).map(|x| str_thunk(ev, x)).collect();
            list(ev, items)
        }
        MkIf => Value::Special(Rc::new(Special::Property(Property::If {
            cond: args[0],
            content: args[1],
        }))),
        MkMerge => Value::Special(Rc::new(Special::Property(Property::Merge(args[0])))),
        MkOverride => match ev.force(args[0]) {
            Value::Int(n) if n >= 0 => {
                Value::Special(Rc::new(Special::Property(Property::Override {
                    priority: n as u32,
                    content: args[1],
                })))
            }
            u @ Value::Unknown(_) => u,
            _ => unknown_at("`mkOverride` with a priority that is not a number", &at),
        },
        MkPriority(n) => Value::Special(Rc::new(Special::Property(Property::Override {
            priority: n,
            content: args[0],
        }))),
        MkOrdered => Value::Special(Rc::new(Special::Property(Property::Order(args[0])))),
        MkOrder => Value::Special(Rc::new(Special::Property(Property::Order(args[1])))),
        RemovedOptionModule => set_from(ev, BTreeMap::new(), None),
        RenamedOptionModule | ChangedOptionModule => option_module_into(ev, args[1], at),
        _ => unreachable!("{p:?} is not a function of the `lib` stand-in"),
    }
}

/// `lib.genAttrs names f`, and flake-utils' `eachSystemMap systems f`
/// (`how` says which): a per-system set over the names the file lists.
pub(super) fn gen_attrs(ev: &mut Evaluator, how: SystemsHelper, args: &[ThunkId]) -> Value {
    match listed(ev, args[0]) {
        Ok(items) => {
            let mut m = BTreeMap::new();
            for (name, i) in &items {
                let t = ev.delay_apply(args[1], *i);
                m.entry(name.clone()).or_insert(entry(t));
            }
            per_system(m, how, &items)
        }
        Err(u) if ev.rewritable() => {
            let any = any_system(ev);
            let each = ev.delay_apply(args[1], any);
            unlisted(how, each, u)
        }
        Err(u) => u,
    }
}

/// `lib.mapAttrs' f set`.
fn map_attrs_prime(ev: &mut Evaluator, args: &[ThunkId], at: Option<Src>) -> Value {
    let a = tri!(force_closed(ev, args[1]));
    let mut m = BTreeMap::new();
    for (k, e) in a.entries.iter() {
        let pair = apply_attr(ev, args[0], k, e.value);
        let pa = tri!(force_attrs(ev, pair));
        let (Some(n), Some(v)) = (pa.entries.get("name"), pa.entries.get("value")) else {
            return unknown_at("`mapAttrs'` gave an item without `name` and `value`", &at);
        };
        let (nt, vt) = (n.value, v.value);
        let name = tri!(force_text(ev, nt));
        m.insert(
            name,
            AttrEntry {
                value: vt,
                def: e.def.clone(),
            },
        );
    }
    set_from(ev, m, None)
}

/// `lib.filterAttrs f set`.
fn filter_attrs(ev: &mut Evaluator, args: &[ThunkId]) -> Value {
    let a = tri!(force_closed(ev, args[1]));
    let mut m = BTreeMap::new();
    for (k, e) in a.entries.iter() {
        let r = apply_attr(ev, args[0], k, e.value);
        if tri!(force_bool(ev, r)) {
            m.insert(k.clone(), e.clone());
        }
    }
    set_from(ev, m, None)
}

/// `lib.nameValuePair name value`.
fn name_value_pair(ev: &mut Evaluator, args: &[ThunkId]) -> Value {
    let mut m = BTreeMap::new();
    m.insert("name".into(), entry(args[0]));
    m.insert("value".into(), entry(args[1]));
    set_from(ev, m, None)
}

/// `lib.unique list`.
fn unique(ev: &mut Evaluator, args: &[ThunkId], at: Option<Src>) -> Value {
    let l = tri!(force_list(ev, args[0]));
    let mut out: Vec<ThunkId> = Vec::new();
    for i in l.iter() {
        let v = ev.force(*i);
        let mut dup = false;
        for o in &out {
            let w = ev.force(*o);
            match ev.equal(&v, &w) {
                Some(true) => dup = true,
                Some(false) => {}
                None => {
                    tri!(spent(ev));
                    return unknown_at("cannot tell whether list items are equal", &at);
                }
            }
        }
        if !dup {
            out.push(*i);
        }
    }
    list(ev, out)
}

/// `lib.filesystem.listFilesRecursive dir`: every regular file below.
fn list_files_recursive(ev: &mut Evaluator, args: &[ThunkId], at: Option<Src>) -> Value {
    let dir = tri!(path_arg(ev, args[0], "listFilesRecursive", false, &at));
    let PathValue::Tree(root) = dir else {
        return unknown_at("`listFilesRecursive` outside the flake's folder", &at);
    };
    let mut out = Vec::new();
    let mut stack = vec![root];
    while let Some(d) = stack.pop() {
        let Ok(entries) = ev.sources.files().list(&d) else {
            return unknown_at(format!("cannot list `./{d}`"), &at);
        };
        let mut dirs = Vec::new();
        for (name, kind) in entries {
            let Some(p) = d.join(&name) else { continue };
            match kind {
                crate::files::EntryKind::Directory => dirs.push(p),
                crate::files::EntryKind::Regular => {
                    out.push(ev.value(Value::Path(Rc::new(PathValue::Tree(p)))))
                }
                _ => {}
            }
        }
        stack.extend(dirs.into_iter().rev());
    }
    list(ev, out)
}

/// `lib.concatMapAttrs f set`.
fn concat_map_attrs(ev: &mut Evaluator, args: &[ThunkId], at: Option<Src>) -> Value {
    let a = tri!(force_closed(ev, args[1]));
    let mut acc = Value::Attrs(Rc::new(Attrs::default()));
    for (k, e) in a.entries.iter() {
        let r = apply_attr(ev, args[0], k, e.value);
        let v = ev.force(r);
        acc = ev.update(acc, v, at.clone());
    }
    acc
}

/// `lib.concatStrings list` and `lib.concatMapStrings f list`.
fn concat_strings(ev: &mut Evaluator, p: Prim, args: &[ThunkId], at: Option<Src>) -> Value {
    use Prim::*;
    let (f, list) = if p == ConcatStrings {
        (None, args[0])
    } else {
        (Some(args[0]), args[1])
    };
    let l = tri!(force_list(ev, list));
    let mut out = String::new();
    for i in l.iter() {
        let t = match f {
            Some(f) => ev.delay_apply(f, *i),
            None => *i,
        };
        let piece = tri!(force_text(ev, t));
        // The same long string many times: checked as it grows.
        if let Err(u) = ev.room((out.len() + piece.len()) as u64, at.as_ref()) {
            return u;
        }
        out.push_str(&piece);
    }
    text(ev, out)
}

/// `lib.attrsToList set`.
fn attrs_to_list(ev: &mut Evaluator, args: &[ThunkId]) -> Value {
    let a = tri!(force_closed(ev, args[0]));
    let mut out = Vec::new();
    for (k, e) in a.entries.iter() {
        let kt = str_thunk(ev, k);
        let mut m = BTreeMap::new();
        m.insert("name".to_string(), entry(kt));
        m.insert(
            "value".to_string(),
            AttrEntry {
                value: e.value,
                def: e.def.clone(),
            },
        );
        let v = set_from(ev, m, None);
        out.push(ev.value(v));
    }
    list(ev, out)
}

/// `lib.subtractLists e l`, `lib.intersectLists e l` and `lib.remove e l`.
fn subtract_lists(ev: &mut Evaluator, p: Prim, args: &[ThunkId], at: Option<Src>) -> Value {
    use Prim::*;
    // subtractLists e l; intersectLists e l; remove e l
    let l = tri!(force_list(ev, args[1]));
    let drop: Vec<Value> = if p == Remove {
        vec![ev.force(args[0])]
    } else {
        let e = tri!(force_list(ev, args[0]));
        e.iter().map(|t| ev.force(*t)).collect()
    };
    let mut out = Vec::new();
    for i in l.iter() {
        let v = ev.force(*i);
        let mut inside = false;
        for d in &drop {
            match ev.equal(&v, d) {
                Some(true) => inside = true,
                Some(false) => {}
                None => {
                    tri!(spent(ev));
                    return unknown_at("cannot compare list items", &at);
                }
            }
        }
        if inside == (p == IntersectLists) {
            out.push(*i);
        }
    }
    list(ev, out)
}

/// The module `mkRenamedOptionModule`-like functions make, as far as the
/// platforms go: it declares an option and forwards its definitions to
/// `to`. Forwarded into `nixpkgs.*`, it may define a platform option, which
/// nixcross does not follow; anywhere else it defines nothing nixcross
/// reads, so it is an empty module.
fn option_module_into(ev: &mut Evaluator, to: ThunkId, at: Option<Src>) -> Value {
    let path = tri!(force_list(ev, to));
    let first = match path.first() {
        Some(t) => tri!(force_text(ev, *t)),
        None => return unknown_at("an option module renamed into an empty path", &at),
    };
    if first == "nixpkgs" {
        return unknown_at(
            "an option module that forwards definitions into `nixpkgs.*`, which nixcross does not follow",
            &at,
        );
    }
    set_from(ev, BTreeMap::new(), None)
}

fn recursive_update(ev: &mut Evaluator, l: Value, r: Value, at: Option<Src>) -> Value {
    match (&l, &r) {
        (Value::Attrs(a), Value::Attrs(b)) => {
            let mut m = a.entries.clone();
            for (k, e) in b.entries.iter() {
                let merged = match m.get(k) {
                    Some(old) => {
                        let (ov, nv) = (ev.force(old.value), ev.force(e.value));
                        if matches!((&ov, &nv), (Value::Attrs(_), Value::Attrs(_))) {
                            let v = ev
                                .deeper(|ev| recursive_update(ev, ov, nv, at.clone()))
                                .unwrap_or_else(|| too_deep(&at));
                            AttrEntry {
                                value: ev.value(v),
                                def: e.def.clone(),
                            }
                        } else {
                            e.clone()
                        }
                    }
                    None => e.clone(),
                };
                m.insert(k.clone(), merged);
            }
            let open = b.open.clone().or(a.open.clone());
            set_from(ev, m, open)
        }
        _ => ev.update(l, r, at),
    }
}
