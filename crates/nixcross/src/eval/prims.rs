//! The built-ins the evaluator knows: part of `builtins`, part of nixpkgs'
//! `lib`, and stand-ins for what lives outside the files (`nixosSystem`,
//! `import nixpkgs`, flake-parts' `mkFlake`, other flake inputs).

use std::collections::BTreeMap;
use std::rc::Rc;

use super::cost;
use super::{
    AttrEntry, Attrs, Evaluator, KeyPos, MadeBy, PathValue, PerSystem, Piece, PkgsSite, PkgsValue,
    PkgsVia, Prim, PrimApp, Property, Special, StrValue, SystemsHelper, ThunkId, Unknown, Value,
    Written,
};
use crate::platform;
use crate::source::Src;

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
        a.entries.insert(
            k.to_string(),
            AttrEntry {
                value: t,
                def: None,
            },
        );
    }
    a
}

fn unknown_at(reason: impl Into<String>, at: &Option<Src>) -> Value {
    Value::unknown(reason, at.clone())
}

/// The base scope: `builtins` and the names Nix puts in scope everywhere.
pub(super) fn install(ev: &mut Evaluator) {
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
        b.entries.insert(
            impure.to_string(),
            AttrEntry {
                value: t,
                def: None,
            },
        );
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

/// nixpkgs' `lib`, as far as nixcross models it. `input` is the nixpkgs input
/// it belongs to (for `nixosSystem`).
pub(super) fn lib_attrs(ev: &mut Evaluator, input: Option<&str>) -> ThunkId {
    use Prim::*;
    let input = input.unwrap_or("nixpkgs");
    let fns: Vec<(&str, Value)> = vec![
        ("genAttrs", prim(GenAttrs)),
        ("mapAttrs", prim(MapAttrs)),
        ("mapAttrs'", prim(MapAttrsPrime)),
        ("mapAttrsToList", prim(MapAttrsToList)),
        ("filterAttrs", prim(FilterAttrs)),
        ("nameValuePair", prim(NameValuePair)),
        ("listToAttrs", prim(ListToAttrs)),
        ("attrNames", prim(AttrNames)),
        ("attrValues", prim(AttrValues)),
        ("hasAttr", prim(HasAttr)),
        ("getAttr", prim(GetAttr)),
        ("removeAttrs", prim(RemoveAttrs)),
        ("attrByPath", prim(AttrByPath)),
        ("foldl'", prim(FoldlStrict)),
        ("foldl", prim(FoldlStrict)),
        ("foldr", prim(Foldr)),
        ("map", prim(Map)),
        ("filter", prim(Filter)),
        ("concatMap", prim(ConcatMap)),
        ("concatLists", prim(ConcatLists)),
        ("flatten", prim(Flatten)),
        ("head", prim(Head)),
        ("tail", prim(Tail)),
        ("length", prim(Length)),
        ("elemAt", prim(ElemAt)),
        ("elem", prim(Elem)),
        ("unique", prim(Unique)),
        ("genList", prim(GenList)),
        ("optional", prim(Optional)),
        ("optionals", prim(Optionals)),
        ("optionalAttrs", prim(OptionalAttrs)),
        ("hasSuffix", prim(HasSuffix)),
        ("hasPrefix", prim(HasPrefix)),
        ("removeSuffix", prim(RemoveSuffix)),
        ("removePrefix", prim(RemovePrefix)),
        ("concatStringsSep", prim(ConcatStringsSep)),
        ("replaceStrings", prim(ReplaceStrings)),
        ("toString", prim(ToString)),
        ("id", prim(Id)),
        ("const", prim(Const)),
        ("isAttrs", prim(IsAttrs)),
        ("isList", prim(IsList)),
        ("isString", prim(IsString)),
        ("isFunction", prim(IsFunction)),
        ("zipAttrsWith", prim(ZipAttrsWith)),
        ("recursiveUpdate", prim(RecursiveUpdate)),
        ("extend", prim(Extend)),
        ("mkIf", prim(MkIf)),
        ("mkMerge", prim(MkMerge)),
        ("mkOverride", prim(MkOverride)),
        ("mkDefault", prim(MkPriority(crate::vocab::MK_DEFAULT))),
        ("mkForce", prim(MkPriority(crate::vocab::MK_FORCE))),
        ("mkOptionDefault", prim(MkPriority(1500))),
        ("mkImageMediaOverride", prim(MkPriority(60))),
        ("mkVMOverride", prim(MkPriority(10))),
        ("mkBefore", prim(MkOrdered)),
        ("mkAfter", prim(MkOrdered)),
        ("mkOrder", prim(MkOrder)),
        ("mkRemovedOptionModule", prim(RemovedOptionModule)),
        ("mkRenamedOptionModule", prim(RenamedOptionModule)),
        ("mkAliasOptionModule", prim(RenamedOptionModule)),
        ("mkChangedOptionModule", prim(ChangedOptionModule)),
        ("mkMergedOptionModule", prim(ChangedOptionModule)),
        ("nixosSystem", prim_of(NixosSystem, input)),
        ("callPackageWith", prim(CallPackageWith)),
        ("makeOverridable", prim(MakeOverridable)),
        ("groupBy", prim(GroupBy)),
        ("flip", prim(Flip)),
        ("pipe", prim(Pipe)),
        ("mergeAttrsList", prim(MergeAttrsList)),
        ("concatMapAttrs", prim(ConcatMapAttrs)),
        ("optionalString", prim(OptionalString)),
        ("concatStrings", prim(ConcatStrings)),
        ("concatMapStrings", prim(ConcatMapStrings)),
        ("hasInfix", prim(HasInfix)),
        ("last", prim(Last)),
        ("init", prim(Init)),
        ("toList", prim(ToList)),
        ("singleton", prim(ToList)),
        ("forEach", prim(ForEach)),
        ("imap0", prim(Imap0)),
        ("imap1", prim(Imap1)),
        ("attrsToList", prim(AttrsToList)),
        ("catAttrs", prim(CatAttrs)),
        ("subtractLists", prim(SubtractLists)),
        ("intersectLists", prim(IntersectLists)),
        ("remove", prim(Remove)),
        ("reverseList", prim(ReverseList)),
        ("warn", prim(Warn)),
        ("warnIf", prim(WarnIf)),
        ("throwIf", prim(ThrowIf)),
        ("fix", prim(Fix)),
        ("range", prim(Range)),
        ("toLower", prim(ToLower)),
        ("toUpper", prim(ToUpper)),
        ("splitString", prim(SplitString)),
        ("stringLength", prim(StringLength)),
        ("substring", prim(Substring)),
    ];
    let mut lib = attrs_of(ev, fns);
    // Sub-libraries with the same functions (`lib.attrsets.mapAttrs`, ...).
    let flat: Vec<(String, ThunkId)> = lib
        .entries
        .iter()
        .map(|(k, e)| (k.clone(), e.value))
        .collect();
    let fix = ev.value(prim(Fix));
    let mut fixed_points = Attrs::default();
    for name in ["fix", "makeExtensible"] {
        fixed_points.entries.insert(
            name.into(),
            AttrEntry {
                value: fix,
                def: None,
            },
        );
    }
    fixed_points.open = Some(Rc::new(Unknown {
        reason: "nixcross models only `fix` and `makeExtensible` of `lib.fixedPoints`".into(),
        at: None,
    }));
    let fp = ev.value(Value::Attrs(Rc::new(fixed_points)));
    lib.entries.insert(
        "fixedPoints".into(),
        AttrEntry {
            value: fp,
            def: None,
        },
    );
    lib.entries.insert(
        "makeExtensible".into(),
        AttrEntry {
            value: fix,
            def: None,
        },
    );
    let lfr = ev.value(prim(ListFilesRecursive));
    let mut filesystem = Attrs::default();
    filesystem.entries.insert(
        "listFilesRecursive".into(),
        AttrEntry {
            value: lfr,
            def: None,
        },
    );
    filesystem.open = Some(Rc::new(Unknown {
        reason: "nixcross models only `lib.filesystem.listFilesRecursive`".into(),
        at: None,
    }));
    let fs_t = ev.value(Value::Attrs(Rc::new(filesystem)));
    lib.entries.insert(
        "filesystem".into(),
        AttrEntry {
            value: fs_t,
            def: None,
        },
    );
    let append = ev.value(prim(PathAppend));
    let mut path = Attrs::default();
    path.entries.insert(
        "append".into(),
        AttrEntry {
            value: append,
            def: None,
        },
    );
    path.open = Some(Rc::new(Unknown {
        reason: "nixcross models only `lib.path.append`".into(),
        at: None,
    }));
    let path_t = ev.value(Value::Attrs(Rc::new(path)));
    lib.entries.insert(
        "path".into(),
        AttrEntry {
            value: path_t,
            def: None,
        },
    );
    for sub in ["attrsets", "lists", "strings", "trivial", "modules"] {
        let mut s = Attrs::default();
        for (k, t) in &flat {
            s.entries.insert(
                k.clone(),
                AttrEntry {
                    value: *t,
                    def: None,
                },
            );
        }
        s.open = Some(Rc::new(Unknown {
            reason: format!("nixcross models only part of `lib.{sub}`"),
            at: None,
        }));
        let t = ev.value(Value::Attrs(Rc::new(s)));
        lib.entries.insert(
            sub.to_string(),
            AttrEntry {
                value: t,
                def: None,
            },
        );
    }
    // lib.systems.examples and flakeExposed.
    let cat = platform::catalogue();
    let mut examples = Attrs::default();
    for e in &cat.examples {
        let config = ev.value(Value::string(e.config.clone()));
        let mut ex = Attrs::default();
        ex.entries.insert(
            "config".into(),
            AttrEntry {
                value: config,
                def: None,
            },
        );
        if !e.extra.is_empty() {
            ex.open = Some(Rc::new(Unknown {
                reason: format!("`lib.systems.examples.{}` sets more than `config`", e.name),
                at: None,
            }));
        }
        ex.made_by = Some(Rc::new(MadeBy::Example(e.name.clone())));
        let t = ev.value(Value::Attrs(Rc::new(ex)));
        examples.entries.insert(
            e.name.clone(),
            AttrEntry {
                value: t,
                def: None,
            },
        );
    }
    let exposed: Vec<ThunkId> = cat
        .flake_exposed
        .iter()
        .map(|s| ev.value(Value::string(s.clone())))
        .collect();
    let examples_t = ev.value(Value::Attrs(Rc::new(examples)));
    let exposed_t = ev.value(Value::List(Rc::new(exposed)));
    let mut systems = Attrs::default();
    systems.entries.insert(
        "examples".into(),
        AttrEntry {
            value: examples_t,
            def: None,
        },
    );
    systems.entries.insert(
        "flakeExposed".into(),
        AttrEntry {
            value: exposed_t,
            def: None,
        },
    );
    // `elaborate x` is read as `x`: what a platform's `system` and `config`
    // say does not change.
    let elaborate = ev.value(prim(Id));
    systems.entries.insert(
        "elaborate".into(),
        AttrEntry {
            value: elaborate,
            def: None,
        },
    );
    systems.open = Some(Rc::new(Unknown {
        reason: "nixcross models only `lib.systems.examples`, `flakeExposed` and `elaborate`"
            .into(),
        at: None,
    }));
    let systems_t = ev.value(Value::Attrs(Rc::new(systems)));
    lib.entries.insert(
        "systems".into(),
        AttrEntry {
            value: systems_t,
            def: None,
        },
    );
    lib.open = Some(Rc::new(Unknown {
        reason: "nixcross models only part of nixpkgs' `lib`".into(),
        at: None,
    }));
    ev.value(Value::Attrs(Rc::new(lib)))
}

/// `<input>.legacyPackages.<system>` (`None`: the current system of a
/// helper whose systems are not listed), written at `pos`.
fn legacy(ev: &mut Evaluator, input: &str, system: Option<String>, pos: Option<KeyPos>) -> Value {
    let written = pos.map(|p| Written {
        file: p.file,
        range: (p.start, p.key.range.1),
        key: p.key,
        input_text: p.before_previous,
        env: p.env,
    });
    let set = Rc::new(PkgsValue {
        input: input.to_string(),
        via: PkgsVia::Legacy {
            system,
            written: written.clone(),
        },
    });
    if written.is_some() {
        ev.site(PkgsSite::Written(set.clone()));
    }
    Value::Special(Rc::new(Special::Pkgs(set)))
}

/// `x.${system}` where `system` is [`Special::AnySystem`].
pub(super) fn select_any_system(
    ev: &mut Evaluator,
    x: Value,
    pos: Option<KeyPos>,
    at: Option<Src>,
) -> Value {
    match &x {
        Value::Special(s) => match &**s {
            Special::Input {
                name,
                nixpkgs: true,
                path,
            } if path == &["legacyPackages"] => legacy(ev, name, None, pos),
            _ => unknown_at(
                "a selection by the current system that nixcross does not follow",
                &at,
            ),
        },
        Value::Unknown(_) => x,
        _ => unknown_at(
            "a selection by the current system that nixcross does not follow",
            &at,
        ),
    }
}

/// `set.name` in the rewritable reading, where package sets are modelled.
fn select_pkgs(ev: &mut Evaluator, set: &Rc<PkgsValue>, name: &str, at: Option<Src>) -> Value {
    let derived = |via| {
        Value::Special(Rc::new(Special::Pkgs(Rc::new(PkgsValue {
            input: set.input.clone(),
            via,
        }))))
    };
    match name {
        "buildPackages" => derived(PkgsVia::BuildPackages(set.clone())),
        "mkShell" | "mkShellNoCC" => {
            let s = ev.value(Value::Special(Rc::new(Special::Pkgs(set.clone()))));
            Value::Prim(Rc::new(PrimApp {
                prim: Prim::MkShell,
                args: vec![s],
                input: None,
            }))
        }
        n if n.starts_with("pkgs") && n.len() > 4 => unknown_at(
            format!("`{n}` is another package set (another libc, static linking, ...), which nixcross does not follow"),
            &at,
        ),
        "extend" | "appendOverlays" | "applyPatches" => unknown_at(
            format!("`{name}` makes another package set, which nixcross does not follow"),
            &at,
        ),
        // A package, `callPackage`, `stdenv`, ...: something of the set.
        _ => Value::Special(Rc::new(Special::Package(set.clone()))),
    }
}

/// `x.name` where `x` stands for something outside the files; `pos` is
/// where the key is written (rewritable reading).
pub(super) fn select_special(
    ev: &mut Evaluator,
    s: &Special,
    name: &str,
    at: Option<Src>,
    pos: Option<KeyPos>,
) -> Value {
    match s {
        Special::Input {
            name: input,
            nixpkgs,
            path,
        } => {
            if *nixpkgs && path.is_empty() {
                match name {
                    "lib" => {
                        let l = if input == "nixpkgs" {
                            ev.lib()
                        } else {
                            lib_attrs(ev, Some(input))
                        };
                        return ev.force(l);
                    }
                    "legacyPackages" => {
                        return Value::Special(Rc::new(Special::Input {
                            name: input.clone(),
                            nixpkgs: true,
                            path: vec!["legacyPackages".into()],
                        }))
                    }
                    "outPath" => {
                        return Value::Path(Rc::new(PathValue::Elsewhere {
                            base: input.clone(),
                            rest: String::new(),
                        }))
                    }
                    _ => {}
                }
            }
            if *nixpkgs && path.len() == 1 && path[0] == "legacyPackages" {
                return legacy(ev, input, Some(name.to_string()), pos);
            }
            // flake-utils' `lib.system.<name>` is the name.
            if !*nixpkgs && path == &["lib", "system"] {
                return Value::string(name);
            }
            if path.is_empty() && name == "outPath" {
                return Value::Path(Rc::new(PathValue::Elsewhere {
                    base: input.clone(),
                    rest: String::new(),
                }));
            }
            let mut p = path.clone();
            p.push(name.to_string());
            Value::Special(Rc::new(Special::Input {
                name: input.clone(),
                nixpkgs: *nixpkgs,
                path: p,
            }))
        }
        // `pkgs.lib` is nixpkgs' lib.
        Special::Pkgs(_) if name == "lib" => {
            let l = ev.lib();
            ev.force(l)
        }
        // `pkgs.path` is the nixpkgs source the set was imported from
        // (`import pkgs.path { ... }` makes another set).
        Special::Pkgs(p) if name == "path" => Value::Special(Rc::new(Special::Input {
            name: p.input.clone(),
            nixpkgs: true,
            path: Vec::new(),
        })),
        // `pkgs.pkgsCross.<example>`: nixpkgs again, with the same
        // localSystem, config and overlays, cross-compiling for the example.
        Special::Pkgs(p) if name == "pkgsCross" => {
            Value::Special(Rc::new(Special::PkgsCross(p.clone())))
        }
        Special::Pkgs(p) if ev.rewritable() => select_pkgs(ev, p, name, at),
        Special::Pkgs(_) => unknown_at(
            format!("`{name}` of a package set is only known when nixpkgs is evaluated"),
            &at,
        ),
        // `<set>.pkgsCross.<example>`: a cross set built by `of`.
        Special::PkgsCross(of) => {
            let written = pos.map(|p| Written {
                file: p.file,
                range: (p.start, p.key.range.1),
                key: p.key,
                input_text: None,
                env: p.env,
            });
            let set = Rc::new(PkgsValue {
                input: of.input.clone(),
                via: PkgsVia::Cross {
                    of: of.clone(),
                    example: name.to_string(),
                    at: written.clone(),
                },
            });
            if written.is_some() {
                ev.site(PkgsSite::Written(set.clone()));
            }
            Value::Special(Rc::new(Special::Pkgs(set)))
        }
        // Whatever is taken from a package is of its set.
        Special::Package(p) => Value::Special(Rc::new(Special::Package(p.clone()))),
        Special::AnySystem => unknown_at(
            format!("cannot select `{name}` from the current system"),
            &at,
        ),
        Special::NixosSystem { args, .. } => {
            // `nixosSystem { ... }.config` etc.: not modelled, except `_module`.
            let _ = args;
            unknown_at(
                format!("`{name}` of a NixOS configuration is only known when NixOS evaluates"),
                &at,
            )
        }
        Special::Property(_) => unknown_at(
            format!("cannot select `{name}` from a module property"),
            &at,
        ),
    }
}

/// Calling something that stands for the outside world.
pub(super) fn apply_special(
    ev: &mut Evaluator,
    s: &Special,
    arg: ThunkId,
    at: Option<Src>,
) -> Value {
    match s {
        Special::Input {
            name,
            nixpkgs,
            path,
        } => {
            let last = path.last().map(String::as_str);
            if !nixpkgs && path.len() == 2 && path[0] == "lib" {
                // flake-parts and flake-utils, by what they are called.
                let p = match last {
                    Some("mkFlake") => Some(Prim::MkFlake),
                    Some("evalFlakeModule") => Some(Prim::EvalFlakeModule),
                    Some("eachSystem") => Some(Prim::EachSystem),
                    Some("eachDefaultSystem") => Some(Prim::EachDefaultSystem),
                    Some("eachSystemMap") => Some(Prim::EachSystemMap),
                    Some("eachDefaultSystemMap") => Some(Prim::EachDefaultSystemMap),
                    _ => None,
                };
                if let Some(p) = p {
                    return ev.apply(prim(p), arg, at);
                }
            }
            unknown_at(
                format!(
                    "`{}` comes from the flake input `{name}`, which nixcross does not read",
                    std::iter::once(name.as_str())
                        .chain(path.iter().map(String::as_str))
                        .collect::<Vec<_>>()
                        .join(".")
                ),
                &at,
            )
        }
        // `callPackage`, `overrideAttrs`, ...: still something of the set.
        Special::Package(p) => Value::Special(Rc::new(Special::Package(p.clone()))),
        _ => unknown_at("this value is not a function", &at),
    }
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

fn force_list(ev: &mut Evaluator, t: ThunkId) -> Result<Rc<Vec<ThunkId>>, Value> {
    spent(ev)?;
    match ev.force(t) {
        Value::List(l) => Ok(l),
        u @ Value::Unknown(_) => Err(u),
        other => Err(Value::unknown(
            format!("expected a list, got {}", other.type_name()),
            None,
        )),
    }
}

fn force_attrs(ev: &mut Evaluator, t: ThunkId) -> Result<Rc<Attrs>, Value> {
    spent(ev)?;
    match ev.force(t) {
        Value::Attrs(a) => Ok(a),
        u @ Value::Unknown(_) => Err(u),
        other => Err(Value::unknown(
            format!("expected an attribute set, got {}", other.type_name()),
            None,
        )),
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
        None => Err(match v {
            u @ Value::Unknown(_) => u,
            other => Value::unknown(
                format!("expected a string, got {}", other.type_name()),
                None,
            ),
        }),
    }
}

fn force_bool(ev: &mut Evaluator, t: ThunkId) -> Result<bool, Value> {
    match ev.force(t) {
        Value::Bool(b) => Ok(b),
        u @ Value::Unknown(_) => Err(u),
        other => Err(Value::unknown(
            format!("expected a Boolean, got {}", other.type_name()),
            None,
        )),
    }
}

macro_rules! tri {
    ($e:expr) => {
        match $e {
            Ok(v) => v,
            Err(u) => return u,
        }
    };
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

/// Run a built-in with all its arguments.
pub(super) fn run(
    ev: &mut Evaluator,
    p: Prim,
    args: &[ThunkId],
    input: Option<&str>,
    at: Option<Src>,
) -> Value {
    use Prim::*;
    match p {
        Import => {
            let v = ev.force(args[0]);
            match &v {
                Value::Path(pv) => ev.import_path(pv, at),
                Value::Str(s) => match s.as_path() {
                    Some(pv) => ev.import_path(&pv, at),
                    None => unknown_at(
                        format!("`import` of the string `{}`", s.as_text().unwrap_or_default()),
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
                        format!("`import` of a file of the flake input `{name}`, which nixcross does not read"),
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
        ImportNixpkgs => {
            let written = at.is_some();
            let set = Rc::new(PkgsValue {
                input: input.unwrap_or("nixpkgs").to_string(),
                via: PkgsVia::Import {
                    args: args[0],
                    call: at,
                },
            });
            if written {
                ev.site(PkgsSite::Written(set.clone()));
            }
            Value::Special(Rc::new(Special::Pkgs(set)))
        }
        MkShell => {
            // Its inputs reach package sets too: rewriting the shell's set
            // rewrites theirs.
            let set = match ev.force(args[0]) {
                Value::Special(s) => match &*s {
                    Special::Pkgs(p) => p.clone(),
                    _ => {
                        return unknown_at("`mkShell` of something that is not a package set", &at)
                    }
                },
                _ => return unknown_at("`mkShell` of something that is not a package set", &at),
            };
            if let Value::Attrs(a) = ev.force(args[1]) {
                for key in [
                    "buildInputs",
                    "nativeBuildInputs",
                    "packages",
                    "inputsFrom",
                    "depsBuildBuild",
                ] {
                    if let Some(e) = a.entries.get(key) {
                        ev.force_deep(e.value);
                    }
                }
            }
            Value::Special(Rc::new(Special::Package(set)))
        }
        NixosSystem => Value::Special(Rc::new(Special::NixosSystem {
            args: args[0],
            input: input.unwrap_or("nixpkgs").to_string(),
            call: at,
        })),
        MkFlake => mk_flake(ev, args[0], args[1], at),
        ReadDir => {
            let v = ev.force(args[0]);
            let path = match &v {
                Value::Path(p) => (**p).clone(),
                Value::Str(s) => match s.as_path() {
                    Some(p) => p,
                    None => return unknown_at("`readDir` of a string", &at),
                },
                Value::Unknown(_) => return v,
                _ => return unknown_at("`readDir` of a value that is not a path", &at),
            };
            let PathValue::Tree(p) = &path else {
                return unknown_at(
                    format!(
                        "`readDir {}` is outside the flake's folder",
                        path.describe()
                    ),
                    &at,
                );
            };
            match ev.sources.files().list(p) {
                Ok(entries) => {
                    let mut m = BTreeMap::new();
                    for (name, kind) in entries {
                        let t = str_thunk(ev, kind.as_nix());
                        m.insert(
                            name,
                            AttrEntry {
                                value: t,
                                def: None,
                            },
                        );
                    }
                    set_from(ev, m, None)
                }
                Err(e) => unknown_at(format!("cannot list `./{p}`: {e}"), &at),
            }
        }
        ReadFile => {
            let v = ev.force(args[0]);
            let path = match &v {
                Value::Path(p) => (**p).clone(),
                Value::Str(s) if s.as_path().is_some() => s.as_path().expect("checked"),
                Value::Unknown(_) => return v,
                _ => return unknown_at("`readFile` of a value that is not a path", &at),
            };
            let PathValue::Tree(p) = &path else {
                return unknown_at(
                    format!(
                        "`readFile {}` is outside the flake's folder",
                        path.describe()
                    ),
                    &at,
                );
            };
            match ev.sources.files().read(p) {
                Ok(t) => text(ev, t),
                Err(e) => unknown_at(format!("cannot read `./{p}`: {e}"), &at),
            }
        }
        PathExists => {
            let v = ev.force(args[0]);
            let path = match &v {
                Value::Path(p) => (**p).clone(),
                Value::Str(s) => match s.as_path() {
                    Some(p) => p,
                    None => return unknown_at("`pathExists` of a string", &at),
                },
                Value::Unknown(_) => return v,
                _ => return unknown_at("`pathExists` of a value that is not a path", &at),
            };
            match &path {
                PathValue::Tree(p) => Value::Bool(ev.sources.files().kind(p).is_ok()),
                _ => unknown_at(
                    format!(
                        "`pathExists {}` is outside the flake's folder",
                        path.describe()
                    ),
                    &at,
                ),
            }
        }
        FromJson => {
            let s = tri!(force_text(ev, args[0]));
            match serde_json::from_str::<serde_json::Value>(&s) {
                Ok(j) => from_json(ev, &j),
                Err(e) => unknown_at(format!("`fromJSON`: {e}"), &at),
            }
        }
        AttrNames => {
            let a = tri!(force_attrs(ev, args[0]));
            if let Some(u) = &a.open {
                return Value::Unknown(u.clone());
            }
            let names: Vec<String> = a.entries.keys().cloned().collect();
            let items = names.iter().map(|n| str_thunk(ev, n)).collect();
            list(ev, items)
        }
        AttrValues => {
            let a = tri!(force_attrs(ev, args[0]));
            if let Some(u) = &a.open {
                return Value::Unknown(u.clone());
            }
            let items = a.entries.values().map(|e| e.value).collect();
            list(ev, items)
        }
        ListToAttrs => {
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
                m.entry(name).or_insert(AttrEntry {
                    value: vt,
                    def: None,
                });
            }
            set_from(ev, m, None)
        }
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
                let inner = tri!(force_list(ev, r));
                out.extend(inner.iter().copied());
            }
            list(ev, out)
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
        MapAttrs => {
            let a = tri!(force_attrs(ev, args[1]));
            let mut m = BTreeMap::new();
            for (k, e) in a.entries.iter() {
                let kt = str_thunk(ev, k);
                let t = apply2(ev, args[0], kt, e.value);
                m.insert(
                    k.clone(),
                    AttrEntry {
                        value: t,
                        def: e.def.clone(),
                    },
                );
            }
            set_from(ev, m, a.open.clone())
        }
        MapAttrsPrime => {
            let a = tri!(force_attrs(ev, args[1]));
            if let Some(u) = &a.open {
                return Value::Unknown(u.clone());
            }
            let mut m = BTreeMap::new();
            for (k, e) in a.entries.iter() {
                let kt = str_thunk(ev, k);
                let pair = apply2(ev, args[0], kt, e.value);
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
        MapAttrsToList => {
            let a = tri!(force_attrs(ev, args[1]));
            if let Some(u) = &a.open {
                return Value::Unknown(u.clone());
            }
            let mut out = Vec::new();
            for (k, e) in a.entries.iter() {
                let kt = str_thunk(ev, k);
                out.push(apply2(ev, args[0], kt, e.value));
            }
            list(ev, out)
        }
        FilterAttrs => {
            let a = tri!(force_attrs(ev, args[1]));
            if let Some(u) = &a.open {
                return Value::Unknown(u.clone());
            }
            let mut m = BTreeMap::new();
            for (k, e) in a.entries.iter() {
                let kt = str_thunk(ev, k);
                let r = apply2(ev, args[0], kt, e.value);
                if tri!(force_bool(ev, r)) {
                    m.insert(k.clone(), e.clone());
                }
            }
            set_from(ev, m, None)
        }
        GenAttrs | EachSystemMap => {
            let how = if p == GenAttrs {
                SystemsHelper::GenAttrs
            } else {
                SystemsHelper::FlakeUtils
            };
            match listed(ev, args[0]) {
                Ok(items) => {
                    let mut m = BTreeMap::new();
                    for (name, i) in &items {
                        let t = ev.delay_apply(args[1], *i);
                        m.entry(name.clone()).or_insert(AttrEntry {
                            value: t,
                            def: None,
                        });
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
            run(ev, EachSystemMap, &[t, args[0]], input, at)
        }
        NameValuePair => {
            let mut m = BTreeMap::new();
            m.insert(
                "name".into(),
                AttrEntry {
                    value: args[0],
                    def: None,
                },
            );
            m.insert(
                "value".into(),
                AttrEntry {
                    value: args[1],
                    def: None,
                },
            );
            set_from(ev, m, None)
        }
        HasAttr => {
            let name = tri!(force_text(ev, args[0]));
            let a = tri!(force_attrs(ev, args[1]));
            match (a.entries.contains_key(&name), &a.open) {
                (true, _) => Value::Bool(true),
                (false, Some(u)) => Value::Unknown(u.clone()),
                (false, None) => Value::Bool(false),
            }
        }
        GetAttr => {
            let name = tri!(force_text(ev, args[0]));
            let v = ev.force(args[1]);
            ev.select(v, &name, None, at)
        }
        AttrByPath => {
            let path = tri!(force_list(ev, args[0]));
            let mut cur = ev.force(args[2]);
            for p in path.iter() {
                let name = tri!(force_text(ev, *p));
                cur = ev.select(cur, &name, Some(args[1]), at.clone());
            }
            cur
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
        Elem => {
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
        ConcatLists | Flatten => {
            let l = tri!(force_list(ev, args[0]));
            let mut out = Vec::new();
            for i in l.iter() {
                match ev.force(*i) {
                    Value::List(inner) => {
                        if p == Flatten {
                            let t = ev.value(Value::List(inner.clone()));
                            let flat = ev
                                .deeper(|ev| run(ev, Flatten, &[t], input, at.clone()))
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
                    other => {
                        return unknown_at(format!("`concatLists` of {}", other.type_name()), &at)
                    }
                }
            }
            list(ev, out)
        }
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
        Foldr => {
            let l = tri!(force_list(ev, args[2]));
            let mut acc = args[1];
            for i in l.iter().rev() {
                acc = apply2(ev, args[0], *i, acc);
            }
            ev.force(acc)
        }
        ToString => {
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
        BaseNameOf => match ev.force(args[0]) {
            Value::Path(p) => match &*p {
                PathValue::Tree(t) => text(ev, t.file_name()),
                other => text(ev, other.describe().rsplit('/').next().unwrap_or_default()),
            },
            Value::Str(ps) if matches!(ps.as_path(), Some(PathValue::Tree(_))) => {
                match ps.as_path() {
                    Some(PathValue::Tree(t)) => text(ev, t.file_name()),
                    _ => unreachable!("checked"),
                }
            }
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
        },
        DirOf => match ev.force(args[0]) {
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
        },
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
        IsAttrs | IsList | IsString | IsFunction | IsPath => {
            let v = ev.force(args[0]);
            let b = match (&v, p) {
                (Value::Unknown(_), _) => return v,
                (Value::Attrs(_), IsAttrs) => true,
                (Value::List(_), IsList) => true,
                (Value::Str(_), IsString) => true,
                (Value::Path(_), IsPath) => true,
                (Value::Lambda(_) | Value::Prim(_), IsFunction) => true,
                (Value::Special(_), _) => {
                    return unknown_at("cannot tell the type of this value", &at)
                }
                _ => false,
            };
            Value::Bool(b)
        }
        TypeOf => {
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
        Throw => {
            let msg = force_text(ev, args[0]).unwrap_or_default();
            unknown_at(format!("the expression throws: {msg}"), &at)
        }
        Trace => ev.force(args[1]),
        Seq => ev.force(args[1]),
        ConcatStringsSep => {
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
        ReplaceStrings => {
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
        Unique => {
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
        GenList => match ev.force(args[1]) {
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
        },
        ZipAttrsWith => {
            let l = tri!(force_list(ev, args[1]));
            let mut by: BTreeMap<String, Vec<ThunkId>> = BTreeMap::new();
            for i in l.iter() {
                let a = tri!(force_attrs(ev, *i));
                if let Some(u) = &a.open {
                    return Value::Unknown(u.clone());
                }
                for (k, e) in a.entries.iter() {
                    by.entry(k.clone()).or_default().push(e.value);
                }
            }
            let mut m = BTreeMap::new();
            for (k, vs) in by {
                let kt = str_thunk(ev, &k);
                let lt = ev.value(Value::List(Rc::new(vs)));
                let t = apply2(ev, args[0], kt, lt);
                m.insert(
                    k,
                    AttrEntry {
                        value: t,
                        def: None,
                    },
                );
            }
            set_from(ev, m, None)
        }
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
        GroupBy => {
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
                m.insert(
                    k,
                    AttrEntry {
                        value: t,
                        def: None,
                    },
                );
            }
            set_from(ev, m, None)
        }
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
        Flip => {
            // `flip f a b` is `f b a`.
            let fb = ev.delay_apply(args[0], args[2]);
            let fba = ev.delay_apply(fb, args[1]);
            ev.force(fba)
        }
        ForEach => run(ev, Map, &[args[1], args[0]], input, at),
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
        // `builtins.match regex s`: the groups of a whole-string match, or null.
        Match => {
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
        // `lib.filesystem.listFilesRecursive dir`: every regular file below.
        ListFilesRecursive => {
            let v = ev.force(args[0]);
            let dir = match &v {
                Value::Path(p) => (**p).clone(),
                Value::Str(s) if s.as_path().is_some() => s.as_path().expect("checked"),
                Value::Unknown(_) => return v,
                _ => return unknown_at("`listFilesRecursive` of a value that is not a path", &at),
            };
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
        ConcatMapAttrs => {
            let a = tri!(force_attrs(ev, args[1]));
            if let Some(u) = &a.open {
                return Value::Unknown(u.clone());
            }
            let mut acc = Value::Attrs(Rc::new(Attrs::default()));
            for (k, e) in a.entries.iter() {
                let kt = str_thunk(ev, k);
                let r = apply2(ev, args[0], kt, e.value);
                let v = ev.force(r);
                acc = ev.update(acc, v, at.clone());
            }
            acc
        }
        OptionalString => match tri!(force_bool(ev, args[0])) {
            true => ev.force(args[1]),
            false => Value::string(""),
        },
        ConcatStrings | ConcatMapStrings => {
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
        AttrsToList => {
            let a = tri!(force_attrs(ev, args[0]));
            if let Some(u) = &a.open {
                return Value::Unknown(u.clone());
            }
            let mut out = Vec::new();
            for (k, e) in a.entries.iter() {
                let kt = str_thunk(ev, k);
                let mut m = BTreeMap::new();
                m.insert(
                    "name".to_string(),
                    AttrEntry {
                        value: kt,
                        def: None,
                    },
                );
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
        CatAttrs => {
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
        SubtractLists | IntersectLists | Remove => {
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
        StringLength => {
            let s = tri!(force_text(ev, args[0]));
            Value::Int(s.len() as i64)
        }
        Substring => {
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
        EvalFlakeModule => {
            let flake = mk_flake(ev, args[0], args[1], at.clone());
            let ft = ev.value(flake);
            let mut config = BTreeMap::new();
            config.insert(
                "flake".to_string(),
                AttrEntry {
                    value: ft,
                    def: None,
                },
            );
            let cv = set_from(ev, config, None);
            let ct = ev.value(cv);
            let mut out = BTreeMap::new();
            out.insert(
                "config".to_string(),
                AttrEntry {
                    value: ct,
                    def: None,
                },
            );
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
    }
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
                m.insert(
                    k.clone(),
                    AttrEntry {
                        value: t,
                        def: None,
                    },
                );
            }
            set_from(ev, m, None)
        }
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
                    per.entry(sys.clone()).or_insert(AttrEntry {
                        value: t,
                        def: None,
                    });
                }
                per_system(per, SystemsHelper::FlakeUtils, items)
            }
            Err(why) => {
                let each = ev.delay_select(*r0, &name);
                unlisted(SystemsHelper::FlakeUtils, each, Value::Unknown(why.clone()))
            }
        };
        let t = ev.value(per);
        out.insert(
            name,
            AttrEntry {
                value: t,
                def: None,
            },
        );
    }
    set_from(ev, out, None)
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
    let mut config = Attrs::default();
    config.entries.insert(
        "flake".into(),
        AttrEntry {
            value: result,
            def: None,
        },
    );
    config.open = Some(Rc::new(Unknown {
        reason: "flake-parts options other than `flake` are not modelled".into(),
        at: None,
    }));
    let config_t = ev.value(Value::Attrs(Rc::new(config)));
    let mut margs = Attrs::default();
    for (k, t) in [
        ("inputs", inputs),
        ("lib", lib),
        ("self", self_t),
        ("config", config_t),
    ] {
        margs.entries.insert(
            k.into(),
            AttrEntry {
                value: t,
                def: None,
            },
        );
    }
    margs.open = Some(Rc::new(Unknown {
        reason: "a flake-parts module argument nixcross does not model".into(),
        at: None,
    }));
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
        merged.insert(
            k,
            AttrEntry {
                value: acc,
                def: None,
            },
        );
    }
    for (k, t) in per_outputs {
        merged.insert(
            k,
            AttrEntry {
                value: t,
                def: None,
            },
        );
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
                        .or_insert(AttrEntry {
                            value: t,
                            def: None,
                        });
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
    let mut args = Attrs::default();
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
    for (k, t) in given {
        args.entries.insert(
            k.into(),
            AttrEntry {
                value: t,
                def: None,
            },
        );
    }
    args.open = Some(Rc::new(Unknown {
        reason: "a flake-parts perSystem argument nixcross does not model".into(),
        at: None,
    }));
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
