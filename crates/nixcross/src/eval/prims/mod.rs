//! The built-ins the evaluator knows, by family: part of `builtins`
//! (`builtins.rs`), part of nixpkgs' `lib` (`lib.rs`), and stand-ins for
//! what lives outside the files: nixpkgs and other flake inputs
//! (`nixpkgs.rs`: `import nixpkgs`, package sets, `nixosSystem`),
//! flake-utils (`flake_utils.rs`) and flake-parts (`flake_parts.rs`). This
//! file holds the primitives, their arities, the dispatch to their family,
//! and what the families share.

use std::collections::BTreeMap;
use std::rc::Rc;

use super::cost;
use super::{
    AttrEntry, Attrs, Evaluator, MadeBy, PathValue, PerSystem, PrimApp, Special, SystemsHelper,
    ThunkId, Unknown, Value,
};
use crate::files::RelPath;
use crate::source::Src;

// `tri!(r)`: what `r` holds, or return its unknown value. Defined before
// the families' modules, which use it.
macro_rules! tri {
    ($e:expr) => {
        match $e {
            Ok(v) => v,
            Err(u) => return u,
        }
    };
}

mod builtins;
mod flake_parts;
mod flake_utils;
mod lib;
mod nixpkgs;

pub(super) use builtins::install;
pub(super) use lib::lib_attrs;
pub(super) use nixpkgs::{apply_special, select_any_system, select_special};

/// A built-in function, from `builtins`, nixpkgs' `lib`, or a stand-in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Prim {
    Import,
    ReadDir,
    ReadFile,
    PathExists,
    FromJson,
    AttrNames,
    AttrValues,
    ListToAttrs,
    Map,
    Filter,
    MapAttrs,
    MapAttrsPrime,
    MapAttrsToList,
    FilterAttrs,
    GenAttrs,
    NameValuePair,
    HasAttr,
    GetAttr,
    RemoveAttrs,
    Head,
    Tail,
    Length,
    ElemAt,
    Elem,
    ConcatLists,
    ConcatMap,
    FoldlStrict,
    Foldr,
    ToString,
    BaseNameOf,
    DirOf,
    HasSuffix,
    HasPrefix,
    RemoveSuffix,
    RemovePrefix,
    Optional,
    Optionals,
    OptionalAttrs,
    Flatten,
    Id,
    Const,
    IsAttrs,
    IsList,
    IsString,
    IsFunction,
    IsPath,
    TypeOf,
    Throw,
    Trace,
    Seq,
    ConcatStringsSep,
    ReplaceStrings,
    Unique,
    GenList,
    ZipAttrsWith,
    RecursiveUpdate,
    AttrByPath,
    Extend,
    /// `lib.mkIf cond content`
    MkIf,
    /// `lib.mkMerge [ ... ]`
    MkMerge,
    /// `lib.mkOverride n x`; `mkDefault`/`mkForce`/... carry their number.
    MkOverride,
    /// `mkDefault` (1000), `mkForce` (50), `mkOptionDefault` (1500), ...
    MkPriority(u32),
    /// `mkBefore x`, `mkAfter x`: ordering only.
    MkOrdered,
    /// `mkOrder n x`: ordering only.
    MkOrder,
    /// `mkRemovedOptionModule path message`: a module that only declares
    /// an option (that throws when defined); it defines nothing.
    RemovedOptionModule,
    /// `mkRenamedOptionModule from to` (and `mkAliasOptionModule`): a
    /// module that forwards definitions of `from` to `to`.
    RenamedOptionModule,
    /// `mkChangedOptionModule from to f` (and `mkMergedOptionModule froms
    /// to f`): forwards definitions to `to` through `f`.
    ChangedOptionModule,
    GroupBy,
    FromToml,
    Flip,
    ForEach,
    CallPackageWith,
    MakeOverridable,
    Match,
    ListFilesRecursive,
    Pipe,
    MergeAttrsList,
    ConcatMapAttrs,
    OptionalString,
    ConcatStrings,
    ConcatMapStrings,
    HasInfix,
    Last,
    Init,
    ToList,
    Imap0,
    Imap1,
    AttrsToList,
    CatAttrs,
    SubtractLists,
    IntersectLists,
    Remove,
    ReverseList,
    Warn,
    WarnIf,
    ThrowIf,
    Fix,
    PathAppend,
    Range,
    ToLower,
    ToUpper,
    SplitString,
    StringLength,
    Substring,
    /// flake-utils' `eachSystem systems f`.
    EachSystem,
    /// flake-utils' `eachDefaultSystem f`.
    EachDefaultSystem,
    /// flake-parts' `evalFlakeModule { inherit inputs; } module`.
    EvalFlakeModule,
    /// `lib.nixosSystem { ... }` of the named nixpkgs input.
    NixosSystem,
    /// `import nixpkgs { ... }` of the named input.
    ImportNixpkgs,
    /// `flake-parts.lib.mkFlake { inherit inputs; } module`.
    MkFlake,
    /// flake-utils' `eachSystemMap systems f`: `genAttrs` by another name.
    EachSystemMap,
    /// flake-utils' `eachDefaultSystemMap f`.
    EachDefaultSystemMap,
    /// `<set>.mkShell { ... }` (the set is the first argument): in the
    /// rewritable reading, its inputs are forced for the sites they reach.
    MkShell,
}

/// How many arguments a built-in takes before it runs.
pub(super) fn arity(p: Prim) -> usize {
    use Prim::*;
    match p {
        Import | ReadDir | ReadFile | PathExists | FromJson | AttrNames | AttrValues
        | ListToAttrs | Head | Tail | Length | ConcatLists | ToString | BaseNameOf | DirOf
        | Flatten | Id | IsAttrs | IsList | IsString | IsFunction | IsPath | TypeOf | Throw
        | Unique | MkMerge | NixosSystem | ImportNixpkgs => 1,
        FromToml | MergeAttrsList | ConcatStrings | Last | Init | ToList | AttrsToList
        | ReverseList | Fix | ToLower | ToUpper | StringLength | EachDefaultSystem => 1,
        GroupBy | Pipe | ConcatMapAttrs | OptionalString | ConcatMapStrings | HasInfix | Imap0
        | Imap1 | CatAttrs | SubtractLists | IntersectLists | Remove | Warn | PathAppend
        | Range | SplitString | EachSystem | EvalFlakeModule | ForEach => 2,
        Flip | WarnIf | ThrowIf | Substring | CallPackageWith => 3,
        MakeOverridable | Match => 2,
        RemovedOptionModule | RenamedOptionModule => 2,
        ChangedOptionModule => 3,
        ListFilesRecursive => 1,
        MkPriority(_) | MkOrdered | Extend => 1,
        Map | Filter | MapAttrs | MapAttrsPrime | MapAttrsToList | FilterAttrs | GenAttrs
        | NameValuePair | HasAttr | GetAttr | RemoveAttrs | ElemAt | Elem | ConcatMap
        | HasSuffix | HasPrefix | RemoveSuffix | RemovePrefix | Optional | Optionals
        | OptionalAttrs | Const | Trace | Seq | ConcatStringsSep | GenList | ZipAttrsWith
        | RecursiveUpdate | MkIf | MkOverride | MkOrder | MkFlake | EachSystemMap | MkShell => 2,
        EachDefaultSystemMap => 1,
        FoldlStrict | Foldr | ReplaceStrings | AttrByPath => 3,
    }
}

/// A built-in with all its arguments, as its family runs it.
struct Applied<'a> {
    p: Prim,
    args: &'a [ThunkId],
    /// The input a stand-in belongs to (`nixosSystem` of `nixpkgs-unstable`).
    input: Option<&'a str>,
    /// Where it is called, when that is written in a file.
    at: Option<Src>,
}

/// Run a built-in with all its arguments: the built-in's family runs it.
pub(super) fn run(
    ev: &mut Evaluator,
    p: Prim,
    args: &[ThunkId],
    input: Option<&str>,
    at: Option<Src>,
) -> Value {
    use Prim::*;
    let call = Applied { p, args, input, at };
    match p {
        Import | ReadDir | ReadFile | PathExists | FromJson | FromToml | AttrNames | AttrValues
        | ListToAttrs | Map | ConcatMap | Filter | MapAttrs | HasAttr | GetAttr | RemoveAttrs
        | CatAttrs | Head | Tail | Length | ElemAt | Elem | ConcatLists | FoldlStrict | GenList
        | ZipAttrsWith | GroupBy | ToString | BaseNameOf | DirOf | IsAttrs | IsList | IsString
        | IsFunction | IsPath | TypeOf | Throw | Trace | Seq | ConcatStringsSep
        | ReplaceStrings | Match | StringLength | Substring => builtins::run(ev, call),
        MapAttrsPrime | MapAttrsToList | FilterAttrs | GenAttrs | NameValuePair | Foldr
        | HasSuffix | HasPrefix | RemoveSuffix | RemovePrefix | Optional | Optionals
        | OptionalAttrs | Flatten | Id | Const | Unique | RecursiveUpdate | AttrByPath | Extend
        | MkIf | MkMerge | MkOverride | MkPriority(_) | MkOrdered | MkOrder
        | RemovedOptionModule | RenamedOptionModule | ChangedOptionModule | Flip | ForEach
        | CallPackageWith | MakeOverridable | ListFilesRecursive | Pipe | MergeAttrsList
        | ConcatMapAttrs | OptionalString | ConcatStrings | ConcatMapStrings | HasInfix | Last
        | Init | ToList | Imap0 | Imap1 | AttrsToList | SubtractLists | IntersectLists | Remove
        | ReverseList | Warn | WarnIf | ThrowIf | Fix | PathAppend | Range | ToLower | ToUpper
        | SplitString => lib::run(ev, call),
        ImportNixpkgs | MkShell | NixosSystem => nixpkgs::run(ev, call),
        EachSystem | EachDefaultSystem | EachSystemMap | EachDefaultSystemMap => {
            flake_utils::run(ev, call)
        }
        MkFlake | EvalFlakeModule => flake_parts::run(ev, call),
    }
}

fn prim(p: Prim) -> Value {
    Value::Prim(Rc::new(PrimApp {
        prim: p,
        args: Vec::new(),
        input: None,
    }))
}

fn prim_of(p: Prim, input: &str) -> Value {
    Value::Prim(Rc::new(PrimApp {
        prim: p,
        args: Vec::new(),
        input: Some(input.to_string()),
    }))
}

fn attrs_of(ev: &mut Evaluator, items: Vec<(&str, Value)>) -> Attrs {
    let mut a = Attrs::default();
    for (k, v) in items {
        let t = ev.value(v);
        a.entries.insert(k.to_string(), entry(t));
    }
    a
}

/// An attribute that no binding defines.
fn entry(value: ThunkId) -> AttrEntry {
    AttrEntry { value, def: None }
}

/// The set of `items`, which no binding defines, with the names nixcross
/// does not model (`reason`) unknown.
fn partial<K: Into<String>>(
    items: impl IntoIterator<Item = (K, ThunkId)>,
    reason: impl Into<String>,
) -> Attrs {
    let mut a = Attrs::default();
    for (k, t) in items {
        a.entries.insert(k.into(), entry(t));
    }
    a.open = Some(Rc::new(Unknown {
        reason: reason.into(),
        at: None,
    }));
    a
}

fn unknown_at(reason: impl Into<String>, at: &Option<Src>) -> Value {
    Value::unknown(reason, at.clone())
}

/// The unknown value of a spent budget, once it is spent: checked where a
/// built-in loops over values it forces (which may be forced already, and
/// then take no step).
fn spent(ev: &mut Evaluator) -> Result<(), Value> {
    if ev.budget.over() {
        return Err(ev.spent_at(None));
    }
    Ok(())
}

/// Past the depth nixcross follows.
fn too_deep(at: &Option<Src>) -> Value {
    unknown_at("the value is nested too deeply to follow", at)
}

/// A string value, charged to the budget.
fn text(ev: &mut Evaluator, s: impl Into<String>) -> Value {
    let s = s.into();
    ev.charge(s.len() as u64 + cost::PIECE);
    Value::string(s)
}

/// Why an argument is not what a built-in takes (`expected`): the
/// argument itself when it is unknown.
fn not_a(expected: &str, v: Value) -> Value {
    match v {
        u @ Value::Unknown(_) => u,
        other => Value::unknown(
            format!("expected {expected}, got {}", other.type_name()),
            None,
        ),
    }
}

fn force_list(ev: &mut Evaluator, t: ThunkId) -> Result<Rc<Vec<ThunkId>>, Value> {
    spent(ev)?;
    match ev.force(t) {
        Value::List(l) => Ok(l),
        other => Err(not_a("a list", other)),
    }
}

fn force_attrs(ev: &mut Evaluator, t: ThunkId) -> Result<Rc<Attrs>, Value> {
    spent(ev)?;
    match ev.force(t) {
        Value::Attrs(a) => Ok(a),
        other => Err(not_a("an attribute set", other)),
    }
}

/// The attribute set `t`, when every name it has is known.
fn force_closed(ev: &mut Evaluator, t: ThunkId) -> Result<Rc<Attrs>, Value> {
    let a = force_attrs(ev, t)?;
    match &a.open {
        Some(u) => Err(Value::Unknown(u.clone())),
        None => Ok(a),
    }
}

fn force_text(ev: &mut Evaluator, t: ThunkId) -> Result<String, Value> {
    let v = ev.force(t);
    match ev.coerce_text(&v) {
        Some(s) => {
            // The copy is charged by `coerce_text`.
            spent(ev)?;
            Ok(s)
        }
        None => Err(not_a("a string", v)),
    }
}

fn force_bool(ev: &mut Evaluator, t: ThunkId) -> Result<bool, Value> {
    match ev.force(t) {
        Value::Bool(b) => Ok(b),
        other => Err(not_a("a Boolean", other)),
    }
}

/// The path a built-in (`what`) is given in `t`: a path, or a string that
/// is one. A string that is not one is refused as a string when `strings`
/// says so, else as any value that is not a path.
fn path_arg(
    ev: &mut Evaluator,
    t: ThunkId,
    what: &str,
    strings: bool,
    at: &Option<Src>,
) -> Result<PathValue, Value> {
    let v = ev.force(t);
    match &v {
        Value::Path(p) => Ok((**p).clone()),
        Value::Str(s) if strings || s.as_path().is_some() => s
            .as_path()
            .ok_or_else(|| unknown_at(format!("`{what}` of a string"), at)),
        Value::Unknown(_) => Err(v),
        _ => Err(unknown_at(
            format!("`{what}` of a value that is not a path"),
            at,
        )),
    }
}

/// `path` in the flake's folder, for the built-in `what`; otherwise why it
/// is unknown: it is outside.
fn in_tree<'p>(path: &'p PathValue, what: &str, at: &Option<Src>) -> Result<&'p RelPath, Value> {
    match path {
        PathValue::Tree(p) => Ok(p),
        _ => Err(unknown_at(
            format!("`{what} {}` is outside the flake's folder", path.describe()),
            at,
        )),
    }
}

fn str_thunk(ev: &mut Evaluator, s: &str) -> ThunkId {
    let v = text(ev, s);
    ev.value(v)
}

fn list(ev: &mut Evaluator, items: Vec<ThunkId>) -> Value {
    ev.charge(items.len() as u64 * cost::LIST_ITEM);
    Value::List(Rc::new(items))
}

fn set_from(
    ev: &mut Evaluator,
    entries: BTreeMap<String, AttrEntry>,
    open: Option<Rc<Unknown>>,
) -> Value {
    ev.charge(entries.len() as u64 * cost::ENTRY);
    Value::Attrs(Rc::new(Attrs {
        entries,
        open,
        src: None,
        made_by: None,
    }))
}

fn apply2(ev: &mut Evaluator, f: ThunkId, a: ThunkId, b: ThunkId) -> ThunkId {
    let fa = ev.delay_apply(f, a);
    ev.delay_apply(fa, b)
}

/// `f name value` for the attribute `name` (`value`), delayed.
fn apply_attr(ev: &mut Evaluator, f: ThunkId, name: &str, value: ThunkId) -> ThunkId {
    let nt = str_thunk(ev, name);
    apply2(ev, f, nt, value)
}

// ----- the sets per-system helpers make (`genAttrs`, flake-utils,
// flake-parts' `perSystem`) -----

fn any_system(ev: &mut Evaluator) -> ThunkId {
    ev.value(Value::Special(Rc::new(Special::AnySystem)))
}

/// The list `t` as names, each with its item: the systems of a per-system
/// helper. `Err` is an unknown value: why they are not known.
fn listed(ev: &mut Evaluator, t: ThunkId) -> Result<Vec<(String, ThunkId)>, Value> {
    let l = force_list(ev, t)?;
    let mut out = Vec::with_capacity(l.len());
    for i in l.iter() {
        out.push((force_text(ev, *i)?, *i));
    }
    Ok(out)
}

/// The set `entries` made by a per-system helper over `items`.
fn per_system(
    entries: BTreeMap<String, AttrEntry>,
    how: SystemsHelper,
    items: &[(String, ThunkId)],
) -> Value {
    let mut systems: Vec<String> = Vec::new();
    for (name, _) in items {
        if !systems.contains(name) {
            systems.push(name.clone());
        }
    }
    Value::Attrs(Rc::new(Attrs {
        entries,
        open: None,
        src: None,
        made_by: Some(Rc::new(MadeBy::PerSystem(PerSystem {
            how,
            systems,
            each: None,
        }))),
    }))
}

/// A per-system set whose systems the file does not list (`why`): `each`
/// is the value for any of them.
fn unlisted(how: SystemsHelper, each: ThunkId, why: Value) -> Value {
    let why = match why {
        Value::Unknown(u) => u,
        _ => Rc::new(Unknown {
            reason: "the systems are not known".into(),
            at: None,
        }),
    };
    Value::Attrs(Rc::new(Attrs {
        entries: BTreeMap::new(),
        open: Some(why),
        src: None,
        made_by: Some(Rc::new(MadeBy::PerSystem(PerSystem {
            how,
            systems: Vec::new(),
            each: Some(each),
        }))),
    }))
}
