//! The read model: every `packages.<system>.<name>` and
//! `devShells.<system>.<name>` of a flake, with the package set it comes
//! from (its build and host platforms) and where that set is written.
//!
//! Shapes it follows:
//! - `packages.<system>.<name>` dotted or nested, quoted, or with the system
//!   from a variable (`packages.${system}.hello`), inside `let` and `//`;
//! - values from `nixpkgs.legacyPackages.<system>` (directly, or bound in a
//!   `let` as `pkgs`), `<set>.pkgsCross.<example>`, `import nixpkgs {
//!   localSystem; crossSystem; system; }`, `<set>.mkShell { ... }`,
//!   `<set>.callPackage <file> { }` and anything taken from a set;
//! - helpers defined in the file, `lib.genAttrs <systems>` (`forAllSystems`),
//!   flake-utils' `eachSystem`/`eachDefaultSystem`/`eachSystemMap`, and
//!   flake-parts' `perSystem` (with `pkgs`, or `_module.args.pkgs`).
//!
//! An output it cannot follow is listed with the reason (`editable: false`).

use std::collections::HashMap;
use std::rc::Rc;

use serde::Serialize;

use crate::error::{LineIndex, Result};
use crate::outputs::eval::{
    first_name, scope_of_vals, Def, Derived, Env, Evaluator, InputKind, Origin, PlatVal, SetVal,
    Site, Systems, Thunk, Val,
};
use crate::syntax::{self, Doc, Entry, Key, KeyAt, Param};
use crate::vocab::Kind;

/// One package or dev shell, as `show --json` prints it under `packages` or
/// `devShells`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct OutputReport {
    /// `Kind::Package` (under `packages`) or `Kind::Shell` (`devShells`).
    #[serde(skip)]
    pub kind: Kind,
    /// The system it is listed under (`packages.<system>`). `None` when the
    /// file does not say (flake-utils' `eachDefaultSystem`: one entry for
    /// every system of its locked `systems` input).
    pub system: Option<String>,
    /// Its name under `packages.<system>` or `devShells.<system>`; `None`
    /// when nixcross could not tell.
    pub name: Option<String>,
    /// The platform that builds it, as a system double; `None` when unknown
    /// or when it is every system of a helper.
    pub build: Option<String>,
    /// The platform it runs on (the package set's host platform).
    pub host: Option<String>,
    /// Whether `set-target --package/--shell` can retarget it.
    pub editable: bool,
    /// Why not, when it cannot.
    pub reason: Option<String>,
    /// 1-based line of its name (or of what could not be followed).
    pub line: usize,
}

/// How an output's system is given.
#[derive(Debug, Clone)]
pub(crate) enum SystemOf {
    /// A key written in the file: `packages.x86_64-linux.hello`.
    Key {
        system: String,
        range: (usize, usize),
    },
    /// A key computed from a variable: `packages.${system}.hello`.
    Var {
        system: String,
    },
    /// One of the systems a helper generates (`None`: systems the file
    /// does not list).
    Generated {
        system: Option<String>,
        how: String,
    },
    Unknown(String),
}

impl SystemOf {
    pub fn system(&self) -> Option<&str> {
        match self {
            SystemOf::Key { system, .. } | SystemOf::Var { system } => Some(system),
            SystemOf::Generated { system, .. } => system.as_deref(),
            SystemOf::Unknown(_) => None,
        }
    }
}

/// What an output is made of.
#[derive(Debug, Clone)]
pub(crate) struct Made {
    /// The package set of the package, or of the shell's `mkShell`.
    pub set: Rc<SetVal>,
    /// Where the output's expression reached package sets.
    pub sites: Vec<Site>,
}

/// One output, with what nixcross found out about it.
#[derive(Debug, Clone)]
pub(crate) struct Output {
    pub kind: Kind,
    pub system: SystemOf,
    pub name: Option<String>,
    /// Where the name is written (or the unfollowable expression).
    pub at: (usize, usize),
    /// The value's range (`None` for `inherit`).
    pub value: Option<(usize, usize)>,
    pub made: std::result::Result<Made, String>,
}

impl Output {
    /// Why it cannot be retargeted, if it cannot.
    pub fn blocker(&self) -> Option<String> {
        if let SystemOf::Unknown(why) = &self.system {
            return Some(why.clone());
        }
        let made = match &self.made {
            Ok(m) => m,
            Err(why) => return Some(why.clone()),
        };
        if self.value.is_none() {
            return Some(
                "it is written with `inherit`; write it as `<name> = ...;` for nixcross to retarget it"
                    .into(),
            );
        }
        if let PlatVal::Unknown(why) = &made.set.host {
            return Some(why.clone());
        }
        if let PlatVal::Unknown(why) = &made.set.build {
            return Some(why.clone());
        }
        match &made.set.origin {
            Origin::Derived(what @ Derived::BuildPackages) => Some(format!(
                "its package set is {what}, which nixcross does not rewrite"
            )),
            Origin::Import { args: None, .. } => Some(
                "the arguments of `import nixpkgs` are not written as an attribute set here".into(),
            ),
            _ => None,
        }
    }
}

/// The kind of each input declared in the flake's `inputs`.
fn input_kinds(root: &syntax::AttrSetView) -> HashMap<String, InputKind> {
    let mut urls: HashMap<String, Option<String>> = HashMap::new();
    let mut add = |name: &str, url: Option<String>| {
        let e = urls.entry(name.to_string()).or_insert(None);
        if url.is_some() {
            *e = url;
        }
    };
    for e in &root.entries {
        let Entry::Binding(b) = e else { continue };
        let Some(path) = &b.path else { continue };
        if path.first().map(String::as_str) != Some("inputs") {
            continue;
        }
        match &path[1..] {
            [name, url] if url == "url" => add(name, b.value.string_literal()),
            [name] => {
                let url = b.value.attrset().and_then(|s| {
                    s.entries.iter().find_map(|e| match e {
                        Entry::Binding(x)
                            if x.path.as_deref() == Some(&["url".to_string()][..]) =>
                        {
                            x.value.string_literal()
                        }
                        _ => None,
                    })
                });
                add(name, url);
            }
            [] => {
                if let Some(set) = b.value.attrset() {
                    for e in &set.entries {
                        let Entry::Binding(x) = e else { continue };
                        match x.path.as_deref() {
                            Some([name, url]) if url == "url" => {
                                add(name, x.value.string_literal())
                            }
                            Some([name]) => {
                                let url = x.value.attrset().and_then(|s| {
                                    s.entries.iter().find_map(|e| match e {
                                        Entry::Binding(y)
                                            if y.path.as_deref()
                                                == Some(&["url".to_string()][..]) =>
                                        {
                                            y.value.string_literal()
                                        }
                                        _ => None,
                                    })
                                });
                                add(name, url);
                            }
                            Some([name, ..]) => add(name, None),
                            _ => {}
                        }
                    }
                }
            }
            [name, ..] => add(name, None),
        }
    }
    urls.into_iter()
        .map(|(name, url)| {
            let kind = crate::outputs::eval::input_kind(&name, url.as_deref());
            (name, kind)
        })
        .collect()
}

struct Walker<'a> {
    ev: Evaluator<'a>,
    out: Vec<Output>,
}

/// An attribute set of known values (a function's arguments), written at `at`.
fn attrs_of<const N: usize>(vals: [(&str, Val); N], at: (usize, usize)) -> Val {
    Val::Attrs(Rc::new(
        vals.into_iter()
            .map(|(n, v)| Def {
                keys: vec![KeyAt {
                    key: Key::Static(n.into()),
                    range: at,
                }],
                value: Thunk::Val(v),
            })
            .collect(),
    ))
}

/// The range a thunk's expression is written at, if it is one.
fn thunk_range(t: &Thunk) -> Option<(usize, usize)> {
    match t {
        Thunk::Expr(n, _) => Some(n.range()),
        _ => None,
    }
}

impl Walker<'_> {
    fn unfollowed(&mut self, kind: Kind, system: SystemOf, at: (usize, usize), why: String) {
        self.out.push(Output {
            kind,
            system,
            name: None,
            at,
            value: None,
            made: Err(why),
        });
    }

    fn system_of_key(&self, key: &KeyAt, env: Option<&Env>) -> SystemOf {
        match &key.key {
            Key::Static(name) => SystemOf::Key {
                system: name.clone(),
                range: key.range,
            },
            Key::Dynamic(expr) => match env.map(|e| self.ev.eval(expr, e, 0)) {
                Some(Val::Str(s)) => SystemOf::Var { system: s },
                Some(Val::System) => SystemOf::Generated {
                    system: None,
                    how: "the current system".into(),
                },
                Some(Val::Opaque(why)) => SystemOf::Unknown(why),
                _ => SystemOf::Unknown(format!(
                    "the system `{}` is not a string nixcross can read",
                    expr.text()
                )),
            },
        }
    }

    /// The outputs set (or a per-system part of it, when `sys` is given).
    fn top(&mut self, v: Val, sys: Option<&SystemOf>, at: (usize, usize)) {
        match v {
            Val::Attrs(defs) => {
                for d in defs.iter() {
                    let kind = match first_name(d) {
                        Some("packages") => Kind::Package,
                        Some("devShells") => Kind::Shell,
                        _ => continue,
                    };
                    self.kind(kind, &d.keys[1..], &d.value, sys, d.keys[0].range);
                }
            }
            Val::Merge(parts) => {
                for p in parts.iter().cloned() {
                    self.top(p, sys, at);
                }
            }
            Val::EachSystem { systems, f } => {
                self.each(*f, systems, "flake-utils", at, |w, r, s, at| {
                    w.top(r, Some(s), at)
                })
            }
            Val::FlakeParts(module) => self.flake_parts(*module, at),
            _ => {}
        }
    }

    /// Apply a per-system function to each of `systems` (or once to the
    /// current system, when the file does not list them).
    fn each(
        &mut self,
        f: Val,
        systems: Systems,
        how: &str,
        at: (usize, usize),
        mut then: impl FnMut(&mut Self, Val, &SystemOf, (usize, usize)),
    ) {
        match systems {
            Systems::Listed(list) => {
                for s in list {
                    let r = self
                        .ev
                        .apply_val(f.clone(), Thunk::Val(Val::Str(s.clone())), 0);
                    let sys = SystemOf::Generated {
                        system: Some(s),
                        how: how.to_string(),
                    };
                    then(self, r, &sys, at);
                }
            }
            Systems::Unlisted => {
                let r = self.ev.apply_val(f, Thunk::Val(Val::System), 0);
                let sys = SystemOf::Generated {
                    system: None,
                    how: how.to_string(),
                };
                then(self, r, &sys, at);
            }
        }
    }

    /// `packages...` with `keys` after `packages`; `sys` when the system is
    /// already known (inside a per-system helper).
    fn kind(
        &mut self,
        kind: Kind,
        keys: &[KeyAt],
        value: &Thunk,
        sys: Option<&SystemOf>,
        at: (usize, usize),
    ) {
        let env = match value {
            Thunk::Expr(_, env) => env.clone(),
            _ => None,
        };
        match sys {
            Some(sys) => self.names_keys(kind, sys.clone(), keys, value, at),
            None => match keys {
                [] => {
                    let v = self.force(value);
                    self.systems(kind, v, at);
                }
                [sys_key, rest @ ..] => {
                    let sys = self.system_of_key(sys_key, env.as_ref());
                    self.names_keys(kind, sys, rest, value, sys_key.range);
                }
            },
        }
    }

    fn force(&self, t: &Thunk) -> Val {
        self.ev.force_def(
            &Def {
                keys: Vec::new(),
                value: t.clone(),
            },
            0,
        )
    }

    /// Under a known system: `keys` are `[name]`, or empty (a set of names).
    fn names_keys(
        &mut self,
        kind: Kind,
        sys: SystemOf,
        keys: &[KeyAt],
        value: &Thunk,
        at: (usize, usize),
    ) {
        match keys {
            [] => {
                let v = self.force(value);
                self.names(kind, sys, v, thunk_range(value).unwrap_or(at));
            }
            [name] => self.leaf(kind, sys, name, value),
            [name, ..] => self.unfollowed(
                kind,
                sys,
                name.range,
                "a nested attribute set is not a package or a shell".into(),
            ),
        }
    }

    /// The value of `packages` as a whole: `{ <system> = { ... }; }`.
    fn systems(&mut self, kind: Kind, v: Val, at: (usize, usize)) {
        match v {
            Val::Attrs(defs) => {
                for d in defs.iter() {
                    self.kind(kind, &d.keys, &d.value, None, at);
                }
            }
            Val::Merge(parts) => {
                for p in parts.iter().cloned() {
                    self.systems(kind, p, at);
                }
            }
            Val::Generated { systems, f } => {
                self.each(*f, systems, "lib.genAttrs", at, |w, r, s, at| {
                    w.names(kind, s.clone(), r, at)
                })
            }
            Val::Opaque(why) => self.unfollowed(kind, SystemOf::Unknown(why.clone()), at, why),
            other => {
                let why = format!(
                    "{} is not a set of systems",
                    crate::outputs::eval::describe(&other)
                );
                self.unfollowed(kind, SystemOf::Unknown(why.clone()), at, why)
            }
        }
    }

    /// A set of names under one system.
    fn names(&mut self, kind: Kind, sys: SystemOf, v: Val, at: (usize, usize)) {
        match v {
            Val::Attrs(defs) => {
                for d in defs.iter() {
                    self.names_keys(kind, sys.clone(), &d.keys, &d.value, at);
                }
            }
            Val::Merge(parts) => {
                for p in parts.iter().cloned() {
                    self.names(kind, sys.clone(), p, at);
                }
            }
            Val::Opaque(why) => self.unfollowed(kind, sys, at, why),
            other => {
                let why = format!(
                    "{} is not a set of outputs",
                    crate::outputs::eval::describe(&other)
                );
                self.unfollowed(kind, sys, at, why)
            }
        }
    }

    fn leaf(&mut self, kind: Kind, sys: SystemOf, name: &KeyAt, value: &Thunk) {
        let env = match value {
            Thunk::Expr(_, env) => env.clone(),
            _ => None,
        };
        let name_str = match &name.key {
            Key::Static(name) => Some(name.clone()),
            Key::Dynamic(expr) => match env.as_ref().map(|e| self.ev.eval(expr, e, 0)) {
                Some(Val::Str(s)) => Some(s),
                _ => None,
            },
        };
        self.ev.take_sites();
        let v = self.force(value);
        let sites = self.ev.take_sites();
        let made = match (kind, v) {
            (_, Val::Pkg(set) | Val::Shell(set) | Val::Set(set)) => Ok(Made { set, sites }),
            (_, Val::Opaque(why)) => Err(why),
            (_, other) => Err(format!(
                "{} is not a package or a shell",
                crate::outputs::eval::describe(&other)
            )),
        };
        let made = match (name_str.is_some(), made) {
            (false, Ok(_)) => Err("its name is computed".to_string()),
            (_, m) => m,
        };
        self.out.push(Output {
            kind,
            system: sys,
            name: name_str,
            at: name.range,
            value: thunk_range(value),
            made,
        });
    }

    /// flake-parts: `mkFlake { inherit inputs; } { systems; perSystem; flake; }`.
    fn flake_parts(&mut self, module: Val, at: (usize, usize)) {
        let args = attrs_of(
            [
                ("inputs", Val::Inputs),
                (
                    "self",
                    Val::Opaque("`self` refers to this flake's own outputs".into()),
                ),
            ],
            at,
        );
        let module = match module {
            f @ Val::Lambda(_) => self.ev.apply_val(f, Thunk::Val(args), 0),
            m => m,
        };
        let Val::Attrs(defs) = module else {
            return;
        };
        if defs.iter().any(|d| first_name(d) == Some("flake")) {
            let flake = self.ev.select_defs(&defs, "flake", 0);
            self.top(flake, None, at);
        }
        if !defs.iter().any(|d| first_name(d) == Some("perSystem")) {
            return;
        }
        let systems = match self.ev.select_defs(&defs, "systems", 0) {
            Val::List(items) => {
                let list: Option<Vec<String>> = items
                    .iter()
                    .map(|i| match i {
                        Val::Str(s) => Some(s.clone()),
                        _ => None,
                    })
                    .collect();
                match list {
                    Some(l) => Systems::Listed(l),
                    None => Systems::Unlisted,
                }
            }
            _ => Systems::Unlisted,
        };
        let per_system = self.ev.select_defs(&defs, "perSystem", 0);
        let run = |w: &mut Self, system: Val, sys: SystemOf| {
            let plat = match &system {
                Val::Str(s) => crate::outputs::eval::plat_of_string(s),
                _ => PlatVal::Each,
            };
            let pkgs = |origin_pkgs: Option<Val>| -> Val {
                origin_pkgs.unwrap_or_else(|| {
                    Val::Set(Rc::new(SetVal {
                        build: plat.clone(),
                        host: plat.clone(),
                        cross: false,
                        origin: Origin::Derived(Derived::FlakePartsPkgs),
                    }))
                })
            };
            let make_args = |pkgs: Val| {
                attrs_of(
                    [
                        ("system", system.clone()),
                        ("pkgs", pkgs),
                        ("inputs'", Val::Opaque("inputs' is not followed".into())),
                        (
                            "self'",
                            Val::Opaque("`self'` refers to this flake's own outputs".into()),
                        ),
                        ("config", Val::Opaque("config is not followed".into())),
                        ("lib", Val::Lib(crate::outputs::eval::LibKind::Nixpkgs)),
                    ],
                    at,
                )
            };
            let first =
                w.ev.apply_val(per_system.clone(), Thunk::Val(make_args(pkgs(None))), 0);
            // `_module.args.pkgs = import inputs.nixpkgs { ... };` replaces pkgs.
            let custom = match &first {
                Val::Attrs(defs) => {
                    let m = w.ev.select_defs(defs, "_module", 0);
                    let a = w.ev.select_name(m, "args", None, 0);
                    match w.ev.select_name(a, "pkgs", None, 0) {
                        Val::Opaque(_) => None,
                        p => Some(p),
                    }
                }
                _ => None,
            };
            let result = match custom {
                Some(p) => {
                    w.ev.apply_val(per_system.clone(), Thunk::Val(make_args(pkgs(Some(p)))), 0)
                }
                None => first,
            };
            w.top(result, Some(&sys), at);
        };
        match systems {
            Systems::Listed(list) => {
                for s in list {
                    let sys = SystemOf::Generated {
                        system: Some(s.clone()),
                        how: "flake-parts' perSystem".into(),
                    };
                    run(self, Val::Str(s), sys);
                }
            }
            Systems::Unlisted => run(
                self,
                Val::System,
                SystemOf::Generated {
                    system: None,
                    how: "flake-parts' perSystem".into(),
                },
            ),
        }
    }
}

/// A flake read: its syntax, the evaluator (to check expressions in the
/// scopes it met) and its outputs.
pub(crate) struct Read<'a> {
    pub doc: Doc,
    pub ev: Evaluator<'a>,
    pub outputs: Vec<Output>,
}

/// Read every package and dev shell of the flake `src`.
pub(crate) fn read(src: &str) -> Result<Read<'_>> {
    let doc: Doc = syntax::parse(src)?;
    let empty = |doc: Doc| Read {
        doc,
        ev: Evaluator::new(src, HashMap::new()),
        outputs: Vec::new(),
    };
    let Some(root) = doc.expr() else {
        return Ok(empty(doc));
    };
    // Not a flake (a NixOS module, say): no packages or dev shells.
    let Some(set) = root.unparen().attrset() else {
        return Ok(empty(doc));
    };
    let inputs = input_kinds(&set);
    let Some(outputs) = set.entries.iter().find_map(|e| match e {
        Entry::Binding(b) if b.path.as_deref() == Some(&["outputs".to_string()][..]) => {
            Some(b.value.clone())
        }
        _ => None,
    }) else {
        return Ok(empty(doc));
    };
    let ev = Evaluator::new(src, inputs);
    let Some(lambda) = outputs.unparen().lambda() else {
        return Ok(empty(doc));
    };
    let mut vars = Vec::new();
    match &lambda.param {
        Param::Ident { name } => vars.push((name.clone(), Val::Inputs)),
        Param::Pattern { formals, bind, .. } => {
            for f in formals {
                let v = match f.name.as_str() {
                    "self" => Val::Opaque("`self` refers to this flake's own outputs".into()),
                    name => Val::Input {
                        kind: ev.input_kind(name),
                        text: name.to_string(),
                    },
                };
                vars.push((f.name.clone(), v));
            }
            if let Some(b) = bind {
                vars.push((b.clone(), Val::Inputs));
            }
        }
    }
    let env = scope_of_vals(vars, None);
    let body = ev.eval(&lambda.body, &env, 0);
    let mut w = Walker {
        ev,
        out: Vec::new(),
    };
    w.top(body, None, lambda.body.range());
    Ok(Read {
        doc,
        ev: w.ev,
        outputs: w.out,
    })
}

/// The system an output's package set builds on or runs on, as a double;
/// for a per-system output whose platform is "each system", its system.
fn double(p: &PlatVal, sys: &SystemOf) -> Option<String> {
    match p {
        PlatVal::Known(k) => Some(k.system.clone()),
        PlatVal::Each => sys.system().map(String::from),
        PlatVal::Unknown(_) => None,
    }
}

/// Every package (`packages`) and dev shell (`devShells`) of the flake
/// `src`, with the platforms it is built on and for. Outputs nixcross
/// cannot follow are listed with `editable: false` and the reason.
pub fn read_outputs(src: &str) -> Result<Vec<OutputReport>> {
    let lines = LineIndex::new(src);
    Ok(read(src)?
        .outputs
        .into_iter()
        .map(|o| {
            let blocker = o.blocker();
            let (build, host) = match &o.made {
                Ok(m) => (
                    double(&m.set.build, &o.system),
                    double(&m.set.host, &o.system),
                ),
                Err(_) => (None, None),
            };
            OutputReport {
                kind: o.kind,
                system: o.system.system().map(String::from),
                name: o.name.clone(),
                build,
                host,
                editable: blocker.is_none(),
                reason: blocker,
                line: lines.line(o.at.0),
            }
        })
        .collect())
}
