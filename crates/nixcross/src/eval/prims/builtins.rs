//! The built-ins of `builtins` nixcross models, and the base scope they
//! are in (`builtins`, and the names Nix puts in scope everywhere).

use std::collections::BTreeMap;
use std::rc::Rc;

use super::{
    apply2, apply_attr, attrs_of, entry, force_attrs, force_bool, force_closed, force_list,
    force_text, in_tree, list, path_arg, prim, prim_of, set_from, spent, str_thunk, text, too_deep,
    unknown_at, Applied,
};
use crate::eval::cost;
use crate::eval::{
    AttrEntry, Evaluator, PathValue, Piece, Prim, Special, StrValue, ThunkId, Unknown, Value,
};
use crate::source::Src;

/// The base scope: `builtins` and the names Nix puts in scope everywhere.
pub(in crate::eval) fn install(ev: &mut Evaluator) {
    use Prim::*;
    let builtins_list: Vec<(&str, Value)> = vec![
        ("import", prim(Import)),
        ("readDir", prim(ReadDir)),
        ("readFile", prim(ReadFile)),
        ("pathExists", prim(PathExists)),
        ("fromJSON", prim(FromJson)),
        ("attrNames", prim(AttrNames)),
        ("attrValues", prim(AttrValues)),
        ("listToAttrs", prim(ListToAttrs)),
        ("map", prim(Map)),
        ("filter", prim(Filter)),
        ("mapAttrs", prim(MapAttrs)),
        ("hasAttr", prim(HasAttr)),
        ("getAttr", prim(GetAttr)),
        ("removeAttrs", prim(RemoveAttrs)),
        ("head", prim(Head)),
        ("tail", prim(Tail)),
        ("length", prim(Length)),
        ("elemAt", prim(ElemAt)),
        ("elem", prim(Elem)),
        ("concatLists", prim(ConcatLists)),
        ("concatMap", prim(ConcatMap)),
        ("foldl'", prim(FoldlStrict)),
        ("toString", prim(ToString)),
        ("baseNameOf", prim(BaseNameOf)),
        ("dirOf", prim(DirOf)),
        ("isAttrs", prim(IsAttrs)),
        ("isList", prim(IsList)),
        ("isString", prim(IsString)),
        ("isFunction", prim(IsFunction)),
        ("isPath", prim(IsPath)),
        ("typeOf", prim(TypeOf)),
        ("throw", prim(Throw)),
        ("abort", prim(Throw)),
        ("trace", prim(Trace)),
        ("seq", prim(Seq)),
        ("deepSeq", prim(Seq)),
        ("concatStringsSep", prim(ConcatStringsSep)),
        ("replaceStrings", prim(ReplaceStrings)),
        ("genList", prim(GenList)),
        ("zipAttrsWith", prim(ZipAttrsWith)),
        ("groupBy", prim(GroupBy)),
        ("fromTOML", prim(FromToml)),
        ("match", prim(Match)),
        ("catAttrs", prim(CatAttrs)),
        ("stringLength", prim(StringLength)),
        ("substring", prim(Substring)),
        ("true", Value::Bool(true)),
        ("false", Value::Bool(false)),
        ("null", Value::Null),
    ];
    let mut b = attrs_of(ev, builtins_list);
    for impure in [
        "currentSystem",
        "currentTime",
        "getEnv",
        "nixPath",
        "storeDir",
        "nixVersion",
    ] {
        let t = ev.value(Value::unknown(
            format!("`builtins.{impure}` is only known when Nix evaluates, on the machine that evaluates"),
            None,
        ));
        b.entries.insert(impure.to_string(), entry(t));
    }
    b.open = Some(Rc::new(Unknown {
        reason: "nixcross models only part of `builtins`".into(),
        at: None,
    }));
    let top: Vec<&str> = vec![
        "import",
        "map",
        "toString",
        "baseNameOf",
        "dirOf",
        "removeAttrs",
        "throw",
        "abort",
        "true",
        "false",
        "null",
    ];
    let base = ev.base_env();
    for name in top {
        let t = b.entries[name].value;
        ev.bind(base, name, t);
    }
    // Every builtin is also in scope as `__<name>` (`__attrValues`).
    let all: Vec<(String, ThunkId)> = b
        .entries
        .iter()
        .map(|(k, e)| (k.clone(), e.value))
        .collect();
    for (name, t) in all {
        ev.bind(base, &format!("__{name}"), t);
    }
    let bt = ev.value(Value::Attrs(Rc::new(b)));
    ev.bind(base, "builtins", bt);
}

/// Run a built-in of `builtins` with all its arguments.
pub(super) fn run(ev: &mut Evaluator, call: Applied) -> Value {
    use Prim::*;
    let Applied { p, args, input, at } = call;
    match p {
        Import => import(ev, args, at),
        ReadDir => read_dir(ev, args, at),
        ReadFile => read_file(ev, args, at),
        PathExists => path_exists(ev, args, at),
        FromJson => {
            let s = tri!(force_text(ev, args[0]));
            match serde_json::from_str::<serde_json::Value>(&s) {
                Ok(j) => from_json(ev, &j),
                Err(e) => unknown_at(format!("`fromJSON`: {e}"), &at),
            }
        }
        AttrNames => {
            let a = tri!(force_closed(ev, args[0]));
            let names: Vec<String> = a.entries.keys().cloned().collect();
            let items = names.iter().map(|n| str_thunk(ev, n)).collect();
            list(ev, items)
        }
        AttrValues => {
            let a = tri!(force_closed(ev, args[0]));
            let items = a.entries.values().map(|e| e.value).collect();
            list(ev, items)
        }
        ListToAttrs => list_to_attrs(ev, args, at),
        Map => {
            let l = tri!(force_list(ev, args[1]));
            let items = l.iter().map(|i| ev.delay_apply(args[0], *i)).collect();
            list(ev, items)
        }
        ConcatMap => {
            let l = tri!(force_list(ev, args[1]));
            let mut out = Vec::new();
            for i in l.iter() {
                let r = ev.delay_apply(args[0], *i);
                out.extend(tri!(force_list(ev, r)).iter().copied());
            }
            list(ev, out)
        }
        MapAttrs => map_attrs(ev, args),
        HasAttr => {
            let name = tri!(force_text(ev, args[0]));
            let a = tri!(force_attrs(ev, args[1]));
            match (a.entries.contains_key(&name), &a.open) {
                (true, _) => Value::Bool(true),
                (false, Some(u)) => Value::Unknown(u.clone()),
                (false, None) => Value::Bool(false),
            }
        }
        Filter => {
            let l = tri!(force_list(ev, args[1]));
            let mut out = Vec::new();
            for i in l.iter() {
                let r = ev.delay_apply(args[0], *i);
                if tri!(force_bool(ev, r)) {
                    out.push(*i);
                }
            }
            list(ev, out)
        }
        GetAttr => {
            let name = tri!(force_text(ev, args[0]));
            let v = ev.force(args[1]);
            ev.select(v, &name, None, at)
        }
        RemoveAttrs => {
            let a = tri!(force_attrs(ev, args[0]));
            let names = tri!(force_list(ev, args[1]));
            let mut m = a.entries.clone();
            for n in names.iter() {
                let name = tri!(force_text(ev, *n));
                m.remove(&name);
            }
            set_from(ev, m, a.open.clone())
        }
        Head => {
            let l = tri!(force_list(ev, args[0]));
            match l.first() {
                Some(t) => ev.force(*t),
                None => unknown_at("`head` of an empty list", &at),
            }
        }
        Tail => {
            let l = tri!(force_list(ev, args[0]));
            if l.is_empty() {
                return unknown_at("`tail` of an empty list", &at);
            }
            list(ev, l[1..].to_vec())
        }
        Length => {
            let l = tri!(force_list(ev, args[0]));
            Value::Int(l.len() as i64)
        }
        ElemAt => {
            let l = tri!(force_list(ev, args[0]));
            match ev.force(args[1]) {
                Value::Int(i) if i >= 0 && (i as usize) < l.len() => ev.force(l[i as usize]),
                u @ Value::Unknown(_) => u,
                _ => unknown_at("`elemAt` out of range", &at),
            }
        }
        Elem => elem(ev, args, at),
        ConcatLists => concat_lists(ev, Applied { p, args, input, at }),
        FoldlStrict => {
            let l = tri!(force_list(ev, args[2]));
            let mut acc = args[1];
            for i in l.iter() {
                let r = apply2(ev, args[0], acc, *i);
                let v = ev.force(r);
                acc = ev.value(v);
            }
            ev.force(acc)
        }
        ToString => to_string(ev, args, at),
        BaseNameOf => base_name_of(ev, args),
        DirOf => dir_of(ev, args, at),
        IsAttrs | IsList | IsString | IsFunction | IsPath => is_type(ev, p, args, at),
        TypeOf => type_of(ev, args, at),
        Throw => {
            let msg = force_text(ev, args[0]).unwrap_or_default();
            unknown_at(format!("the expression throws: {msg}"), &at)
        }
        Trace => ev.force(args[1]),
        Seq => ev.force(args[1]),
        ConcatStringsSep => concat_strings_sep(ev, args, at),
        ReplaceStrings => replace_strings(ev, args, at),
        GenList => gen_list(ev, args, at),
        ZipAttrsWith => zip_attrs_with(ev, args),
        GroupBy => group_by(ev, args),
        FromToml => {
            let s = tri!(force_text(ev, args[0]));
            match s.parse::<toml::Table>() {
                Ok(t) => {
                    let j = serde_json::to_value(t).unwrap_or(serde_json::Value::Null);
                    from_json(ev, &j)
                }
                Err(e) => unknown_at(format!("`fromTOML`: {e}"), &at),
            }
        }
        Match => match_regex(ev, args, at),
        CatAttrs => cat_attrs(ev, args),
        StringLength => {
            let s = tri!(force_text(ev, args[0]));
            Value::Int(s.len() as i64)
        }
        Substring => substring(ev, args, at),
        _ => unreachable!("{p:?} is not one of `builtins`"),
    }
}

/// `import x`: a file of the flake, or nixpkgs of an input.
fn import(ev: &mut Evaluator, args: &[ThunkId], at: Option<Src>) -> Value {
    use Prim::*;
    let v = ev.force(args[0]);
    match &v {
        Value::Path(pv) => ev.import_path(pv, at),
        Value::Str(s) => match s.as_path() {
            Some(pv) => ev.import_path(&pv, at),
            None => unknown_at(
                format!(
                    "`import` of the string `{}`",
                    s.as_text().unwrap_or_default()
                ),
                &at,
            ),
        },
        Value::Special(s) => match &**s {
            Special::Input {
                name,
                nixpkgs: true,
                path,
            } if path.is_empty() || path == &["outPath"] => prim_of(ImportNixpkgs, name),
            Special::Input { name, .. } => unknown_at(
                format!(
                    "`import` of a file of the flake input `{name}`, which nixcross does not read"
                ),
                &at,
            ),
            _ => unknown_at("`import` of a value that is not a path", &at),
        },
        Value::Attrs(a) if a.entries.contains_key("outPath") => {
            let t = a.entries["outPath"].value;
            let inner = ev.force(t);
            match inner {
                Value::Path(pv) => ev.import_path(&pv, at),
                _ => unknown_at("`import` of a value nixcross cannot follow", &at),
            }
        }
        Value::Unknown(_) => v,
        other => unknown_at(format!("`import` of {}", other.type_name()), &at),
    }
}

/// `builtins.mapAttrs f set`.
fn map_attrs(ev: &mut Evaluator, args: &[ThunkId]) -> Value {
    let a = tri!(force_attrs(ev, args[1]));
    let mut m = BTreeMap::new();
    for (k, e) in a.entries.iter() {
        let value = apply_attr(ev, args[0], k, e.value);
        let def = e.def.clone();
        m.insert(k.clone(), AttrEntry { value, def });
    }
    set_from(ev, m, a.open.clone())
}

/// `builtins.readDir path`.
fn read_dir(ev: &mut Evaluator, args: &[ThunkId], at: Option<Src>) -> Value {
    let path = tri!(path_arg(ev, args[0], "readDir", true, &at));
    let p = tri!(in_tree(&path, "readDir", &at));
    match ev.sources.files().list(p) {
        Ok(entries) => {
            let mut m = BTreeMap::new();
            for (name, kind) in entries {
                let t = str_thunk(ev, kind.as_nix());
                m.insert(name, entry(t));
            }
            set_from(ev, m, None)
        }
        Err(e) => unknown_at(format!("cannot list `./{p}`: {e}"), &at),
    }
}

/// `builtins.readFile path`.
fn read_file(ev: &mut Evaluator, args: &[ThunkId], at: Option<Src>) -> Value {
    let path = tri!(path_arg(ev, args[0], "readFile", false, &at));
    let p = tri!(in_tree(&path, "readFile", &at));
    match ev.sources.files().read(p) {
        Ok(t) => text(ev, t),
        Err(e) => unknown_at(format!("cannot read `./{p}`: {e}"), &at),
    }
}

/// `builtins.pathExists path`.
fn path_exists(ev: &mut Evaluator, args: &[ThunkId], at: Option<Src>) -> Value {
    let path = tri!(path_arg(ev, args[0], "pathExists", true, &at));
    match in_tree(&path, "pathExists", &at) {
        Ok(p) => Value::Bool(ev.sources.files().kind(p).is_ok()),
        Err(u) => u,
    }
}

/// `builtins.listToAttrs [ { name, value } ... ]`.
fn list_to_attrs(ev: &mut Evaluator, args: &[ThunkId], at: Option<Src>) -> Value {
    let l = tri!(force_list(ev, args[0]));
    let mut m = BTreeMap::new();
    for item in l.iter() {
        let a = tri!(force_attrs(ev, *item));
        let (Some(n), Some(v)) = (a.entries.get("name"), a.entries.get("value")) else {
            return unknown_at("`listToAttrs` of an item without `name` and `value`", &at);
        };
        let (nt, vt) = (n.value, v.value);
        let name = tri!(force_text(ev, nt));
        // The first occurrence wins.
        m.entry(name).or_insert(entry(vt));
    }
    set_from(ev, m, None)
}

/// `builtins.elem x list`.
fn elem(ev: &mut Evaluator, args: &[ThunkId], at: Option<Src>) -> Value {
    let x = ev.force(args[0]);
    let l = tri!(force_list(ev, args[1]));
    let mut unsure = false;
    for i in l.iter() {
        let v = ev.force(*i);
        match ev.equal(&x, &v) {
            Some(true) => return Value::Bool(true),
            Some(false) => {}
            None => unsure = true,
        }
    }
    if unsure {
        tri!(spent(ev));
        unknown_at("cannot tell whether the list has the element", &at)
    } else {
        Value::Bool(false)
    }
}

/// `builtins.concatLists lists`, and `lib.flatten x` (the call says which).
pub(super) fn concat_lists(ev: &mut Evaluator, call: Applied) -> Value {
    use Prim::*;
    let Applied { p, args, input, at } = call;
    let l = tri!(force_list(ev, args[0]));
    let mut out = Vec::new();
    for i in l.iter() {
        match ev.force(*i) {
            Value::List(inner) => {
                if p == Flatten {
                    let t = ev.value(Value::List(inner.clone()));
                    let flat = ev
                        .deeper(|ev| super::run(ev, Flatten, &[t], input, at.clone()))
                        .unwrap_or_else(|| too_deep(&at));
                    match flat {
                        Value::List(f) => out.extend(f.iter().copied()),
                        u => return u,
                    }
                } else {
                    out.extend(inner.iter().copied());
                }
            }
            u @ Value::Unknown(_) => return u,
            _ if p == Flatten => out.push(*i),
            other => return unknown_at(format!("`concatLists` of {}", other.type_name()), &at),
        }
    }
    list(ev, out)
}

/// `toString x`.
fn to_string(ev: &mut Evaluator, args: &[ThunkId], at: Option<Src>) -> Value {
    let v = ev.force(args[0]);
    match &v {
        Value::Bool(b) => Value::string(if *b { "1" } else { "" }),
        Value::Null => Value::string(""),
        _ => match ev.coerce_pieces(&v) {
            Some(pieces) => Value::Str(Rc::new(StrValue {
                pieces,
                origin: None,
            })),
            None => match v {
                u @ Value::Unknown(_) => u,
                other => unknown_at(format!("`toString` of {}", other.type_name()), &at),
            },
        },
    }
}

/// `baseNameOf x`.
fn base_name_of(ev: &mut Evaluator, args: &[ThunkId]) -> Value {
    match ev.force(args[0]) {
        Value::Path(p) => match &*p {
            PathValue::Tree(t) => text(ev, t.file_name()),
            other => text(ev, other.describe().rsplit('/').next().unwrap_or_default()),
        },
        Value::Str(ps) if matches!(ps.as_path(), Some(PathValue::Tree(_))) => match ps.as_path() {
            Some(PathValue::Tree(t)) => text(ev, t.file_name()),
            _ => unreachable!("checked"),
        },
        v => {
            let t = ev.value(v);
            let s = tri!(force_text(ev, t));
            text(
                ev,
                s.trim_end_matches('/')
                    .rsplit('/')
                    .next()
                    .unwrap_or_default(),
            )
        }
    }
}

/// `dirOf x`.
fn dir_of(ev: &mut Evaluator, args: &[ThunkId], at: Option<Src>) -> Value {
    match ev.force(args[0]) {
        Value::Path(p) => match &*p {
            PathValue::Tree(t) => match t.parent() {
                Some(d) => Value::Path(Rc::new(PathValue::Tree(d))),
                None => Value::Path(Rc::new(PathValue::Outside("..".into()))),
            },
            _ => unknown_at("`dirOf` of a path outside the flake's folder", &at),
        },
        Value::Str(ps) if ps.as_path().is_some() => match ps.as_path() {
            Some(PathValue::Tree(t)) => match t.parent() {
                Some(d) => Value::Str(Rc::new(StrValue {
                    pieces: vec![Piece::Path(PathValue::Tree(d))],
                    origin: None,
                })),
                None => unknown_at("`dirOf` of the flake's folder", &at),
            },
            _ => unknown_at("`dirOf` of a path outside the flake's folder", &at),
        },
        u @ Value::Unknown(_) => u,
        _ => unknown_at("`dirOf` of a string", &at),
    }
}

/// `builtins.isAttrs x`, `isList`, `isString`, `isFunction`, `isPath`.
fn is_type(ev: &mut Evaluator, p: Prim, args: &[ThunkId], at: Option<Src>) -> Value {
    use Prim::*;
    let v = ev.force(args[0]);
    let b = match (&v, p) {
        (Value::Unknown(_), _) => return v,
        (Value::Attrs(_), IsAttrs) => true,
        (Value::List(_), IsList) => true,
        (Value::Str(_), IsString) => true,
        (Value::Path(_), IsPath) => true,
        (Value::Lambda(_) | Value::Prim(_), IsFunction) => true,
        (Value::Special(_), _) => return unknown_at("cannot tell the type of this value", &at),
        _ => false,
    };
    Value::Bool(b)
}

/// `builtins.typeOf x`.
fn type_of(ev: &mut Evaluator, args: &[ThunkId], at: Option<Src>) -> Value {
    let v = ev.force(args[0]);
    let t = match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Int(_) => "int",
        Value::Float(_) => "float",
        Value::Str(_) => "string",
        Value::Path(_) => "path",
        Value::List(_) => "list",
        Value::Attrs(_) => "set",
        Value::Lambda(_) | Value::Prim(_) => "lambda",
        u @ Value::Unknown(_) => return u,
        Value::Special(_) => return unknown_at("cannot tell the type of this value", &at),
    };
    Value::string(t)
}

/// `builtins.concatStringsSep sep list`.
fn concat_strings_sep(ev: &mut Evaluator, args: &[ThunkId], at: Option<Src>) -> Value {
    let sep = tri!(force_text(ev, args[0]));
    let l = tri!(force_list(ev, args[1]));
    let mut parts = Vec::new();
    for i in l.iter() {
        parts.push(tri!(force_text(ev, *i)));
    }
    // A long separator between many items: charged before it is
    // built.
    let len = parts.iter().map(|p| p.len() as u64).sum::<u64>()
        + (sep.len() as u64).saturating_mul(parts.len().saturating_sub(1) as u64);
    if let Err(u) = ev.reserve(len + cost::PIECE, at.as_ref()) {
        return u;
    }
    Value::string(parts.join(&sep))
}

/// `builtins.replaceStrings from to s`.
fn replace_strings(ev: &mut Evaluator, args: &[ThunkId], at: Option<Src>) -> Value {
    let from = tri!(force_list(ev, args[0]));
    let to = tri!(force_list(ev, args[1]));
    let s = tri!(force_text(ev, args[2]));
    let mut pairs = Vec::new();
    for (f, t) in from.iter().zip(to.iter()) {
        pairs.push((tri!(force_text(ev, *f)), tri!(force_text(ev, *t))));
    }
    let mut out = String::new();
    let mut i = 0;
    let b = s.as_bytes();
    'outer: while i <= b.len() {
        for (f, t) in &pairs {
            if s[i..].starts_with(f.as_str()) {
                // A long replacement of many matches: the result
                // is checked as it grows.
                if let Err(u) = ev.room((out.len() + t.len()) as u64, at.as_ref()) {
                    return u;
                }
                out.push_str(t);
                if f.is_empty() {
                    if let Some(c) = s[i..].chars().next() {
                        out.push(c);
                        i += c.len_utf8();
                        continue 'outer;
                    }
                    break 'outer;
                }
                i += f.len();
                continue 'outer;
            }
        }
        match s[i..].chars().next() {
            Some(c) => {
                out.push(c);
                i += c.len_utf8();
            }
            None => break,
        }
    }
    text(ev, out)
}

/// `builtins.genList f n`.
fn gen_list(ev: &mut Evaluator, args: &[ThunkId], at: Option<Src>) -> Value {
    match ev.force(args[1]) {
        Value::Int(n) if n >= 0 => {
            // A huge count is refused before anything is made: each item
            // is two thunks (its index and the call).
            let each = 2 * cost::THUNK + cost::LIST_ITEM;
            if let Err(u) = ev.room((n as u64).saturating_mul(each), at.as_ref()) {
                return u;
            }
            let items = (0..n)
                .map(|i| {
                    let it = ev.value(Value::Int(i));
                    ev.delay_apply(args[0], it)
                })
                .collect();
            list(ev, items)
        }
        u @ Value::Unknown(_) => u,
        _ => unknown_at("`genList` with a length nixcross does not follow", &at),
    }
}

/// `builtins.zipAttrsWith f sets`.
fn zip_attrs_with(ev: &mut Evaluator, args: &[ThunkId]) -> Value {
    let l = tri!(force_list(ev, args[1]));
    let mut by: BTreeMap<String, Vec<ThunkId>> = BTreeMap::new();
    for i in l.iter() {
        let a = tri!(force_closed(ev, *i));
        for (k, e) in a.entries.iter() {
            by.entry(k.clone()).or_default().push(e.value);
        }
    }
    let mut m = BTreeMap::new();
    for (k, vs) in by {
        let kt = str_thunk(ev, &k);
        let lt = ev.value(Value::List(Rc::new(vs)));
        let t = apply2(ev, args[0], kt, lt);
        m.insert(k, entry(t));
    }
    set_from(ev, m, None)
}

/// `builtins.groupBy f list`.
fn group_by(ev: &mut Evaluator, args: &[ThunkId]) -> Value {
    let l = tri!(force_list(ev, args[1]));
    let mut groups: BTreeMap<String, Vec<ThunkId>> = BTreeMap::new();
    for i in l.iter() {
        let k = ev.delay_apply(args[0], *i);
        let key = tri!(force_text(ev, k));
        groups.entry(key).or_default().push(*i);
    }
    let mut m = BTreeMap::new();
    for (k, items) in groups {
        let t = ev.value(Value::List(Rc::new(items)));
        m.insert(k, entry(t));
    }
    set_from(ev, m, None)
}

/// `builtins.match regex s`: the groups of a whole-string match, or null.
fn match_regex(ev: &mut Evaluator, args: &[ThunkId], at: Option<Src>) -> Value {
    let re = tri!(force_text(ev, args[0]));
    let s = tri!(force_text(ev, args[1]));
    let Ok(compiled) = regex::Regex::new(&format!("^(?:{re})$")) else {
        return unknown_at(
            format!("`match` with a regular expression nixcross cannot read: {re}"),
            &at,
        );
    };
    match compiled.captures(&s) {
        None => Value::Null,
        Some(c) => {
            let groups = (1..c.len())
                .map(|i| match c.get(i) {
                    Some(m) => str_thunk(ev, m.as_str()),
                    None => ev.value(Value::Null),
                })
                .collect();
            list(ev, groups)
        }
    }
}

/// `builtins.catAttrs name sets`.
fn cat_attrs(ev: &mut Evaluator, args: &[ThunkId]) -> Value {
    let name = tri!(force_text(ev, args[0]));
    let l = tri!(force_list(ev, args[1]));
    let mut out = Vec::new();
    for i in l.iter() {
        let a = tri!(force_attrs(ev, *i));
        if let Some(e) = a.entries.get(&name) {
            out.push(e.value);
        } else if let Some(u) = &a.open {
            return Value::Unknown(u.clone());
        }
    }
    list(ev, out)
}

/// `builtins.substring start len s`.
fn substring(ev: &mut Evaluator, args: &[ThunkId], at: Option<Src>) -> Value {
    let (start, len) = match (ev.force(args[0]), ev.force(args[1])) {
        (Value::Int(a), Value::Int(b)) if a >= 0 => (a as usize, b),
        _ => return unknown_at("`substring` with bounds nixcross does not follow", &at),
    };
    let s = tri!(force_text(ev, args[2]));
    let bytes = s.as_bytes();
    let start = start.min(bytes.len());
    let end = if len < 0 {
        bytes.len()
    } else {
        (start + len as usize).min(bytes.len())
    };
    text(ev, String::from_utf8_lossy(&bytes[start..end]).into_owned())
}

fn from_json(ev: &mut Evaluator, j: &serde_json::Value) -> Value {
    match j {
        serde_json::Value::Null => Value::Null,
        serde_json::Value::Bool(b) => Value::Bool(*b),
        serde_json::Value::Number(n) => match n.as_i64() {
            Some(i) => Value::Int(i),
            None => Value::Float(n.as_f64().unwrap_or_default()),
        },
        serde_json::Value::String(s) => text(ev, s.clone()),
        serde_json::Value::Array(a) => {
            let items = a
                .iter()
                .map(|x| {
                    let v = from_json(ev, x);
                    ev.value(v)
                })
                .collect();
            list(ev, items)
        }
        serde_json::Value::Object(o) => {
            let mut m = BTreeMap::new();
            for (k, x) in o {
                let v = from_json(ev, x);
                let t = ev.value(v);
                m.insert(k.clone(), entry(t));
            }
            set_from(ev, m, None)
        }
    }
}
