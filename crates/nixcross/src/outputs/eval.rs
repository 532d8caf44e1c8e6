//! A small evaluator for the expressions flakes build packages and shells
//! with: `let` scopes, functions defined in the file (`forAllSystems`),
//! nixpkgs' `legacyPackages.<system>`, `pkgsCross.<example>`,
//! `import nixpkgs { localSystem; crossSystem; }`, `mkShell`, `callPackage`,
//! `lib.genAttrs`, flake-utils' `eachSystem`/`eachDefaultSystem` and
//! flake-parts' `perSystem`.
//!
//! It computes no Nix values: it tracks which package set an expression
//! comes from (its build and host platforms) and where that set is written
//! in the file ([`Origin`]), so that the set can be rewritten. Anything else
//! is [`Val::Opaque`] with the reason, never a guess.

use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt;
use std::rc::Rc;

use crate::platform;
use crate::syntax::{AttrSetView, Binding, Entry, Key, KeyAt, Kind, LambdaView, Node, Param};

/// Evaluation stops following names after this many nested steps.
const MAX_DEPTH: u32 = 96;

/// Why evaluation stopped at [`MAX_DEPTH`].
const TOO_DEEP: &str = "too many indirections to follow";

/// A lexical scope. A binding whose environment is `None` lives in this
/// scope itself (`let` and `rec` bindings see each other).
pub(crate) struct Scope {
    vars: HashMap<String, Thunk>,
    parent: Option<Env>,
    /// Variables already forced, with the package-set sites their
    /// evaluation met (replayed on each use, so every output that reaches a
    /// binding sees its sites). Without it, a binding used twice by another
    /// used twice ... is evaluated exponentially often.
    memo: RefCell<HashMap<String, (Val, Vec<Site>)>>,
}

impl Scope {
    fn new(vars: HashMap<String, Thunk>, parent: Option<Env>) -> Env {
        Rc::new(Scope {
            vars,
            parent,
            memo: RefCell::new(HashMap::new()),
        })
    }
}

pub(crate) type Env = Rc<Scope>;

impl fmt::Debug for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Scope").finish_non_exhaustive()
    }
}

/// Something not evaluated yet.
#[derive(Clone, Debug)]
pub(crate) enum Thunk {
    /// An expression in an environment (`None`: the scope holding it).
    Expr(Node, Option<Env>),
    /// `inherit name;` from the enclosing scope.
    Inherit(String, Env),
    /// `inherit (from) name;`
    InheritFrom(Node, Env, String),
    /// A value already known.
    Val(Val),
}

/// One definition in an attribute set: the keys still to select and the
/// value. `{ a.b = 1; }` is one definition with keys `a`, `b`.
#[derive(Clone, Debug)]
pub(crate) struct Def {
    pub keys: Vec<KeyAt>,
    pub value: Thunk,
}

/// A platform, as far as the file says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Plat {
    /// The system double.
    pub system: String,
    /// The config triple (empty for a system the catalogue has none for).
    pub config: String,
    /// `lib.systems.examples.<name>`, when written as one.
    pub example: Option<String>,
    /// Set with attributes besides `system`/`config` (`gcc.arch`, ...).
    pub extra: bool,
}

/// A platform value: known, the current system of a per-system helper whose
/// systems the file does not list, or unknown.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum PlatVal {
    Known(Plat),
    Each,
    Unknown(String),
}

/// Where a package set is written, which says how to rewrite it.
#[derive(Clone, Debug)]
pub(crate) enum Origin {
    /// `<nixpkgs>.legacyPackages.<key>`, the text `start..end`, written in
    /// the scope `env`.
    Legacy {
        nixpkgs: String,
        key: KeyAt,
        start: usize,
        end: usize,
        env: Env,
    },
    /// `<inner>.pkgsCross.<key>`, the text `start..end`, written in `env`.
    Cross {
        inner: Rc<SetVal>,
        key: KeyAt,
        start: usize,
        end: usize,
        env: Env,
    },
    /// `import <nixpkgs> { ... }`.
    Import {
        nixpkgs: String,
        call: Node,
        args: Option<AttrSetView>,
    },
    /// A set not written as such in the file.
    Derived(Derived),
}

/// Package sets nixcross reads without seeing them written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Derived {
    /// `<set>.buildPackages`: the build machine's packages of a set.
    BuildPackages,
    /// flake-parts' `perSystem` argument `pkgs`: nixpkgs for the system.
    FlakePartsPkgs,
}

impl fmt::Display for Derived {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Derived::BuildPackages => "buildPackages",
            Derived::FlakePartsPkgs => "flake-parts' pkgs",
        })
    }
}

/// Where an output's expression reaches a package set.
#[derive(Clone, Debug)]
pub(crate) enum Site {
    /// The set is written here.
    Origin(Rc<SetVal>),
    /// A variable holding the set is used here (in scope `env`).
    Use {
        range: (usize, usize),
        set: Rc<SetVal>,
        env: Env,
    },
}

/// A package set.
#[derive(Clone, Debug)]
pub(crate) struct SetVal {
    /// The platform that builds (nixpkgs' `localSystem`).
    pub build: PlatVal,
    /// The platform the packages run on (`crossSystem`, else `build`).
    pub host: PlatVal,
    /// Built with a `crossSystem` (a cross toolchain).
    pub cross: bool,
    pub origin: Origin,
}

impl SetVal {
    /// The text range the set is written at, when it is rewritable.
    pub fn range(&self) -> Option<(usize, usize)> {
        match &self.origin {
            Origin::Legacy { start, end, .. } | Origin::Cross { start, end, .. } => {
                Some((*start, *end))
            }
            Origin::Import { call, .. } => Some(call.range()),
            Origin::Derived(_) => None,
        }
    }
}

/// Functions the evaluator knows, with the arguments given so far.
#[derive(Clone, Debug)]
pub(crate) enum Builtin {
    Import,
    GenAttrs,
    Elaborate,
    EachSystem,
    EachDefaultSystem,
    EachSystemMap,
    EachDefaultSystemMap,
    MkFlake,
    MkShell(Rc<SetVal>),
    CallPackage(Rc<SetVal>),
}

impl Builtin {
    fn arity(&self) -> usize {
        match self {
            Builtin::Import
            | Builtin::Elaborate
            | Builtin::EachDefaultSystem
            | Builtin::EachDefaultSystemMap
            | Builtin::MkShell(_) => 1,
            Builtin::GenAttrs
            | Builtin::EachSystem
            | Builtin::EachSystemMap
            | Builtin::MkFlake
            | Builtin::CallPackage(_) => 2,
        }
    }
}

/// Which `lib` a value is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum LibKind {
    Nixpkgs,
    Systems,
    Examples,
    FlakeUtils,
    FlakeUtilsSystem,
    FlakeParts,
}

/// What kind of flake input a name is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum InputKind {
    Nixpkgs,
    FlakeUtils,
    FlakeParts,
    Other,
}

/// Which systems a per-system helper builds for.
#[derive(Clone, Debug)]
pub(crate) enum Systems {
    /// Listed in the file.
    Listed(Vec<String>),
    /// Not knowable from the file: flake-utils' default systems come from
    /// its `systems` input, pinned by flake.lock.
    Unlisted,
}

/// What an expression is, as far as nixcross follows it.
#[derive(Clone, Debug)]
pub(crate) enum Val {
    /// The `inputs` argument (`inputs@{ ... }` or `inputs:`).
    Inputs,
    /// A flake input; `text` is how it is written where it was reached.
    Input {
        kind: InputKind,
        text: String,
    },
    /// `<nixpkgs>.legacyPackages`.
    LegacyPackages {
        nixpkgs: String,
    },
    Lib(LibKind),
    Str(String),
    /// The current system inside a per-system helper whose systems the file
    /// does not list.
    System,
    Null,
    List(Rc<Vec<Val>>),
    Attrs(Rc<Vec<Def>>),
    /// `a // b`: the right side wins.
    Merge(Rc<Vec<Val>>),
    Lambda(Rc<(LambdaView, Env)>),
    Builtin(Builtin, Vec<Thunk>),
    Platform(PlatVal),
    /// A package set.
    Set(Rc<SetVal>),
    /// `<set>.pkgsCross`.
    PkgsCross(Rc<SetVal>),
    /// Something taken from a package set: a package, or a function that
    /// makes one (`stdenv.mkDerivation`).
    Pkg(Rc<SetVal>),
    /// `<set>.mkShell { ... }`.
    Shell(Rc<SetVal>),
    /// `lib.genAttrs systems f` or `eachSystemMap`: `{ <system> = f <system>; }`.
    Generated {
        systems: Systems,
        f: Box<Val>,
    },
    /// flake-utils' `eachSystem systems f`: `f`'s outputs, each under every system.
    EachSystem {
        systems: Systems,
        f: Box<Val>,
    },
    /// flake-parts' `mkFlake`: its module.
    FlakeParts(Box<Val>),
    Opaque(String),
}

impl Val {
    fn opaque(why: impl Into<String>) -> Val {
        Val::Opaque(why.into())
    }
}

/// The evaluator: the source text (for spelling rewrites), the flake's
/// inputs, and the package sets it met on the way (rewrite sites).
pub(crate) struct Evaluator<'a> {
    pub src: &'a str,
    inputs: HashMap<String, InputKind>,
    sites: RefCell<Vec<Site>>,
}

fn short(s: &str) -> String {
    let one: String = s.split_whitespace().collect::<Vec<_>>().join(" ");
    if one.chars().count() > 40 {
        format!("{}...", one.chars().take(37).collect::<String>())
    } else {
        one
    }
}

/// A binding's keys, with where each is written.
pub(crate) fn keys_at(b: &Binding) -> Vec<KeyAt> {
    b.keys
        .iter()
        .zip(&b.key_ranges)
        .map(|(key, range)| KeyAt {
            key: key.clone(),
            range: *range,
        })
        .collect()
}

/// The first key's name of a definition, when static.
pub(crate) fn first_name(d: &Def) -> Option<&str> {
    d.keys.first().and_then(KeyAt::name)
}

/// A scope for `entries` of a `let` or `rec { }`.
pub(crate) fn scope_of_entries(entries: &[Entry], parent: &Env) -> Env {
    let mut vars = HashMap::new();
    for e in entries {
        match e {
            Entry::Binding(b) => match b.path.as_deref() {
                Some([name]) => {
                    vars.insert(name.clone(), Thunk::Expr(b.value.clone(), None));
                }
                Some([name, ..]) => {
                    // `a.b = 1;` in a let: a set built from several entries.
                    let defs: Vec<Def> = entries
                        .iter()
                        .filter_map(|e| match e {
                            Entry::Binding(x) if x.path.as_ref().is_some_and(|p| &p[0] == name) => {
                                Some(Def {
                                    keys: keys_at(x)[1..].to_vec(),
                                    value: Thunk::Expr(x.value.clone(), Some(parent.clone())),
                                })
                            }
                            _ => None,
                        })
                        .collect();
                    vars.insert(name.clone(), Thunk::Val(Val::Attrs(Rc::new(defs))));
                }
                _ => {}
            },
            Entry::Inherit(i) => {
                for (n, _) in &i.names {
                    let t = match &i.from {
                        Some(from) => Thunk::InheritFrom(from.clone(), parent.clone(), n.clone()),
                        None => Thunk::Inherit(n.clone(), parent.clone()),
                    };
                    vars.insert(n.clone(), t);
                }
            }
        }
    }
    Scope::new(vars, Some(parent.clone()))
}

/// A scope binding `vars` to known values.
pub(crate) fn scope_of_vals(vars: Vec<(String, Val)>, parent: Option<&Env>) -> Env {
    Scope::new(
        vars.into_iter().map(|(n, v)| (n, Thunk::Val(v))).collect(),
        parent.cloned(),
    )
}

/// The definitions of an attribute set written in the file.
pub(crate) fn defs_of(set: &AttrSetView, env: &Env) -> Vec<Def> {
    let inner = if set.rec {
        scope_of_entries(&set.entries, env)
    } else {
        env.clone()
    };
    set.entries
        .iter()
        .flat_map(|e| match e {
            Entry::Binding(b) => vec![Def {
                keys: keys_at(b),
                value: Thunk::Expr(b.value.clone(), Some(inner.clone())),
            }],
            Entry::Inherit(i) => i
                .names
                .iter()
                .map(|(n, r)| Def {
                    keys: vec![KeyAt {
                        key: Key::Static(n.clone()),
                        range: *r,
                    }],
                    value: match &i.from {
                        Some(from) => Thunk::InheritFrom(from.clone(), env.clone(), n.clone()),
                        None => Thunk::Inherit(n.clone(), env.clone()),
                    },
                })
                .collect(),
        })
        .collect()
}

impl<'a> Evaluator<'a> {
    pub fn new(src: &'a str, inputs: HashMap<String, InputKind>) -> Self {
        Evaluator {
            src,
            inputs,
            sites: RefCell::new(Vec::new()),
        }
    }

    /// The package sets met since the last call, and forget them.
    pub fn take_sites(&self) -> Vec<Site> {
        std::mem::take(&mut self.sites.borrow_mut())
    }

    fn site(&self, set: SetVal) -> Rc<SetVal> {
        let rc = Rc::new(set);
        self.sites.borrow_mut().push(Site::Origin(rc.clone()));
        rc
    }

    /// Whether the expression `text` means the nixpkgs input in `env`.
    pub fn is_nixpkgs(&self, text: &str, env: &Env) -> bool {
        matches!(
            self.eval_text(text, env),
            Some(Val::Input {
                kind: InputKind::Nixpkgs,
                ..
            })
        )
    }

    /// Evaluate the expression `text` (not from this file) in `env`.
    pub fn eval_text(&self, text: &str, env: &Env) -> Option<Val> {
        let doc = crate::syntax::parse(text).ok()?;
        let node = doc.expr()?;
        let ev = Evaluator::new(text, self.inputs.clone());
        Some(ev.eval(&node, env, 0))
    }

    /// The kind of the input named `name`.
    pub fn input_kind(&self, name: &str) -> InputKind {
        // An input the flake does not declare comes from the registry by name.
        self.inputs
            .get(name)
            .copied()
            .unwrap_or_else(|| input_kind(name, None))
    }

    /// Look `name` up in `env`.
    fn lookup(&self, env: &Env, name: &str, depth: u32) -> Option<Val> {
        let mut cur = Some(env.clone());
        while let Some(scope) = cur {
            if let Some(t) = scope.vars.get(name) {
                if let Some((v, sites)) = scope.memo.borrow().get(name) {
                    self.sites.borrow_mut().extend(sites.iter().cloned());
                    return Some(v.clone());
                }
                let before = self.sites.borrow().len();
                let v = self.force(t, &scope, depth);
                let sites = distinct(&self.sites.borrow()[before..]);
                // A value cut short by the depth limit is not final.
                if !matches!(&v, Val::Opaque(why) if why == TOO_DEEP) {
                    scope
                        .memo
                        .borrow_mut()
                        .insert(name.to_string(), (v.clone(), sites));
                }
                return Some(v);
            }
            cur = scope.parent.clone();
        }
        None
    }

    /// Evaluate a thunk found in `home` (the scope holding it).
    pub fn force(&self, t: &Thunk, home: &Env, depth: u32) -> Val {
        match t {
            Thunk::Expr(node, env) => self.eval(node, env.as_ref().unwrap_or(home), depth + 1),
            Thunk::Inherit(name, env) => self
                .lookup(env, name, depth + 1)
                .unwrap_or_else(|| Val::opaque(format!("`{name}` is not defined in this file"))),
            Thunk::InheritFrom(from, env, name) => {
                let base = self.eval(from, env, depth + 1);
                self.select_name(base, name, None, depth + 1)
            }
            Thunk::Val(v) => v.clone(),
        }
    }

    /// Evaluate `node` in `env`.
    pub fn eval(&self, node: &Node, env: &Env, depth: u32) -> Val {
        if depth > MAX_DEPTH {
            return Val::opaque(TOO_DEEP);
        }
        let node = node.unparen();
        match node.kind() {
            Kind::Str => {
                if let Some(s) = node.string_literal() {
                    return Val::Str(s);
                }
                match node.sole_interpolation() {
                    Some(inner) => match self.eval(&inner, env, depth + 1) {
                        v @ (Val::Str(_) | Val::System) => v,
                        _ => Val::opaque(format!(
                            "`{}` is not a string nixcross can read",
                            short(&node.text())
                        )),
                    },
                    None => Val::opaque(format!(
                        "`{}` is not a string nixcross can read",
                        short(&node.text())
                    )),
                }
            }
            Kind::Ident => {
                let name = node.ident().unwrap_or_default();
                if let Some(v) = self.lookup(env, &name, depth) {
                    if let Val::Set(set) = &v {
                        self.sites.borrow_mut().push(Site::Use {
                            range: node.range(),
                            set: set.clone(),
                            env: env.clone(),
                        });
                    }
                    return v;
                }
                match name.as_str() {
                    "null" => Val::Null,
                    "import" => Val::Builtin(Builtin::Import, Vec::new()),
                    "builtins" => {
                        Val::opaque("`builtins` values are known only when Nix evaluates the flake")
                    }
                    _ => Val::opaque(format!("`{name}` is not defined in this file")),
                }
            }
            Kind::Select => self.eval_select(&node, env, depth),
            Kind::Apply => self.eval_apply(&node, env, depth),
            Kind::LetIn => {
                let Some(l) = node.let_in() else {
                    return Val::opaque("a `let` nixcross cannot read");
                };
                let inner = scope_of_entries(&l.entries, env);
                self.eval(&l.body, &inner, depth + 1)
            }
            Kind::AttrSet | Kind::RecAttrSet => match node.attrset() {
                Some(set) => Val::Attrs(Rc::new(defs_of(&set, env))),
                None => Val::opaque("an attribute set nixcross cannot read"),
            },
            Kind::List => match node.list() {
                Some(l) => Val::List(Rc::new(
                    l.items
                        .iter()
                        .map(|i| self.eval(i, env, depth + 1))
                        .collect(),
                )),
                None => Val::opaque("a list nixcross cannot read"),
            },
            Kind::Update => match node.binop() {
                Some((a, b)) => Val::Merge(Rc::new(vec![
                    self.eval(&a, env, depth + 1),
                    self.eval(&b, env, depth + 1),
                ])),
                None => Val::opaque("a `//` nixcross cannot read"),
            },
            Kind::Lambda => match node.lambda() {
                Some(l) => Val::Lambda(Rc::new((l, env.clone()))),
                None => Val::opaque("a function nixcross cannot read"),
            },
            Kind::With => Val::opaque("`with` hides where names come from"),
            Kind::IfElse => Val::opaque(format!("`{}` is a conditional", short(&node.text()))),
            _ => Val::opaque(format!(
                "`{}` is not something nixcross follows",
                short(&node.text())
            )),
        }
    }

    fn eval_select(&self, node: &Node, env: &Env, depth: u32) -> Val {
        let Some(sel) = node.select() else {
            return Val::opaque(format!("`{}` has an `or` default", short(&node.text())));
        };
        let start = node.start();
        let mut cur = self.eval(&sel.base, env, depth + 1);
        for key in &sel.keys {
            let name = match &key.key {
                Key::Static(name) => name.clone(),
                Key::Dynamic(expr) => match self.eval(expr, env, depth + 1) {
                    Val::Str(s) => s,
                    Val::System => {
                        cur = self.select_system(cur, key, start, env);
                        continue;
                    }
                    Val::Opaque(why) => return Val::Opaque(why),
                    _ => {
                        return Val::opaque(format!(
                            "`{}` is not a name nixcross can read",
                            short(&expr.text())
                        ))
                    }
                },
            };
            cur = self.select_name(cur, &name, Some((key, start, env)), depth + 1);
            if let Val::Opaque(_) = cur {
                return cur;
            }
        }
        cur
    }

    /// `<nixpkgs>.legacyPackages.<key>`, the native set of `plat`.
    fn legacy(&self, nixpkgs: String, plat: PlatVal, key: &KeyAt, start: usize, env: &Env) -> Val {
        Val::Set(self.site(SetVal {
            build: plat.clone(),
            host: plat,
            cross: false,
            origin: Origin::Legacy {
                nixpkgs,
                key: key.clone(),
                start,
                end: key.range.1,
                env: env.clone(),
            },
        }))
    }

    /// `<legacyPackages>.${system}` where `system` is the per-system
    /// variable of a helper whose systems are not listed.
    fn select_system(&self, base: Val, key: &KeyAt, start: usize, env: &Env) -> Val {
        match base {
            Val::LegacyPackages { nixpkgs } => self.legacy(nixpkgs, PlatVal::Each, key, start, env),
            Val::Opaque(why) => Val::Opaque(why),
            _ => Val::opaque("a selection by the current system that nixcross does not follow"),
        }
    }

    /// `base.name`. `at` is the key, the start of the whole selection and
    /// its scope, when it is written in the file (for rewrite sites and
    /// input texts).
    pub fn select_name(
        &self,
        base: Val,
        name: &str,
        at: Option<(&KeyAt, usize, &Env)>,
        depth: u32,
    ) -> Val {
        let text_to_key = || at.map(|(k, start, _)| self.src[start..k.range.1].to_string());
        match base {
            Val::Inputs => match name {
                "self" => Val::opaque("`self` refers to this flake's own outputs"),
                _ => Val::Input {
                    kind: self.input_kind(name),
                    text: text_to_key().unwrap_or_else(|| format!("inputs.{name}")),
                },
            },
            Val::Input { kind, text } => match (kind, name) {
                (InputKind::Nixpkgs, "legacyPackages") => Val::LegacyPackages { nixpkgs: text },
                (InputKind::Nixpkgs, "lib") => Val::Lib(LibKind::Nixpkgs),
                (InputKind::FlakeUtils, "lib") => Val::Lib(LibKind::FlakeUtils),
                (InputKind::FlakeParts, "lib") => Val::Lib(LibKind::FlakeParts),
                _ => Val::opaque(format!("`{text}.{name}` is not something nixcross follows")),
            },
            Val::LegacyPackages { nixpkgs } => {
                let Some((key, start, env)) = at else {
                    return Val::opaque("legacyPackages selected indirectly");
                };
                self.legacy(nixpkgs, plat_of_string(name), key, start, env)
            }
            Val::Lib(lib) => select_lib(lib, name),
            Val::Set(set) => self.select_set(set, name),
            Val::PkgsCross(inner) => {
                let Some((key, start, env)) = at else {
                    return Val::opaque("pkgsCross selected indirectly");
                };
                let host = match platform::catalogue().example(name) {
                    Some(e) => PlatVal::Known(Plat {
                        system: e.system.clone(),
                        config: e.config.clone(),
                        example: Some(e.name.clone()),
                        extra: false,
                    }),
                    None => PlatVal::Unknown(format!("pkgsCross.{name} is not a nixpkgs example")),
                };
                Val::Set(self.site(SetVal {
                    build: inner.build.clone(),
                    host,
                    cross: true,
                    origin: Origin::Cross {
                        inner,
                        key: key.clone(),
                        start,
                        end: key.range.1,
                        env: env.clone(),
                    },
                }))
            }
            Val::Pkg(set) => Val::Pkg(set),
            Val::Attrs(defs) => self.select_defs(&defs, name, depth),
            Val::Merge(parts) => {
                for part in parts.iter().rev() {
                    match part {
                        Val::Attrs(defs) if !defs.iter().any(|d| first_name(d) == Some(name)) => {
                            continue
                        }
                        _ => return self.select_name(part.clone(), name, at, depth),
                    }
                }
                Val::opaque(format!("no `{name}` here"))
            }
            Val::Generated {
                systems: Systems::Listed(list),
                f,
            } if list.iter().any(|s| s == name) => {
                self.apply_val(*f, Thunk::Val(Val::Str(name.to_string())), depth + 1)
            }
            Val::Opaque(why) => Val::Opaque(why),
            other => Val::opaque(format!(
                "`.{name}` of {} is not something nixcross follows",
                describe(&other)
            )),
        }
    }

    fn select_set(&self, set: Rc<SetVal>, name: &str) -> Val {
        match name {
            "pkgsCross" => Val::PkgsCross(set),
            "buildPackages" => Val::Set(Rc::new(SetVal {
                build: set.build.clone(),
                host: set.build.clone(),
                cross: false,
                origin: Origin::Derived(Derived::BuildPackages),
            })),
            "lib" => Val::Lib(LibKind::Nixpkgs),
            "mkShell" | "mkShellNoCC" => Val::Builtin(Builtin::MkShell(set), Vec::new()),
            "callPackage" => Val::Builtin(Builtin::CallPackage(set), Vec::new()),
            n if n.starts_with("pkgs") && n.len() > 4 => Val::opaque(format!(
                "`{n}` is another package set (another libc, static linking, ...), which nixcross does not follow"
            )),
            "extend" | "appendOverlays" | "applyPatches" => {
                Val::opaque(format!("`{name}` makes another package set, which nixcross does not follow"))
            }
            _ => Val::Pkg(set),
        }
    }

    /// `name` from the definitions of an attribute set.
    pub fn select_defs(&self, defs: &[Def], name: &str, depth: u32) -> Val {
        let matching: Vec<&Def> = defs
            .iter()
            .filter(|d| first_name(d) == Some(name))
            .collect();
        match matching.as_slice() {
            [] => Val::opaque(format!("no `{name}` here")),
            [d] if d.keys.len() == 1 => self.force_def(d, depth),
            _ => {
                let mut parts = Vec::new();
                for d in matching {
                    if d.keys.len() == 1 {
                        parts.push(self.force_def(d, depth));
                    } else {
                        parts.push(Val::Attrs(Rc::new(vec![Def {
                            keys: d.keys[1..].to_vec(),
                            value: d.value.clone(),
                        }])));
                    }
                }
                merge_attrs(parts)
            }
        }
    }

    /// The value of a definition (in the scope it was written in).
    pub fn force_def(&self, d: &Def, depth: u32) -> Val {
        let home = match &d.value {
            Thunk::Expr(_, Some(env)) | Thunk::Inherit(_, env) | Thunk::InheritFrom(_, env, _) => {
                env.clone()
            }
            _ => scope_of_vals(Vec::new(), None),
        };
        self.force(&d.value, &home, depth + 1)
    }

    fn eval_apply(&self, node: &Node, env: &Env, depth: u32) -> Val {
        let Some((f, args)) = node.call() else {
            return Val::opaque("a call nixcross cannot read");
        };
        let fval = self.eval(&f, env, depth + 1);
        // `import nixpkgs { ... }`: a package set written in the file.
        if let (Val::Builtin(Builtin::Import, done), [what, rest @ ..]) = (&fval, args.as_slice()) {
            if done.is_empty() {
                return match self.eval(what, env, depth + 1) {
                    Val::Input {
                        kind: InputKind::Nixpkgs,
                        ..
                    } => match rest {
                        [set_args] => self.import_nixpkgs(node, what, set_args, env, depth),
                        [] => Val::opaque("`import nixpkgs` without arguments"),
                        _ => Val::opaque("`import nixpkgs` with extra arguments"),
                    },
                    _ => Val::opaque(format!("`{}` imports another file", short(&node.text()))),
                };
            }
        }
        let mut cur = fval;
        for a in &args {
            cur = self.apply_val(cur, Thunk::Expr(a.clone(), Some(env.clone())), depth + 1);
            if let Val::Opaque(_) = cur {
                return cur;
            }
        }
        cur
    }

    fn import_nixpkgs(&self, call: &Node, what: &Node, args: &Node, env: &Env, depth: u32) -> Val {
        let argv = self.eval(args, env, depth + 1);
        let Val::Attrs(defs) = &argv else {
            return Val::opaque(format!(
                "`import nixpkgs` with `{}`, which is not an attribute set nixcross can read",
                short(&args.text())
            ));
        };
        let has = |k: &str| defs.iter().any(|d| first_name(d) == Some(k));
        let build = match (has("localSystem"), has("system")) {
            (true, true) => PlatVal::Unknown("nixpkgs refuses both localSystem and system".into()),
            (true, false) => self.plat_of(self.select_defs(defs, "localSystem", depth + 1)),
            (false, true) => self.plat_of(self.select_defs(defs, "system", depth + 1)),
            (false, false) => PlatVal::Unknown(
                "`import nixpkgs` without localSystem or system builds for builtins.currentSystem"
                    .into(),
            ),
        };
        let cross = if has("crossSystem") {
            match self.select_defs(defs, "crossSystem", depth + 1) {
                Val::Null => None,
                v => Some(self.plat_of(v)),
            }
        } else {
            None
        };
        let is_cross = cross.as_ref().is_some_and(|c| c != &build);
        Val::Set(self.site(SetVal {
            host: cross.unwrap_or_else(|| build.clone()),
            build,
            cross: is_cross,
            origin: Origin::Import {
                nixpkgs: what.text(),
                call: call.clone(),
                args: args.unparen().attrset(),
            },
        }))
    }

    /// A platform value: a string, `{ system }`, `{ config }`, an example.
    pub fn plat_of(&self, v: Val) -> PlatVal {
        match v {
            Val::Str(s) => plat_of_string(&s),
            Val::System => PlatVal::Each,
            Val::Platform(p) => p,
            Val::Attrs(defs) => {
                let names: Vec<&str> = defs.iter().filter_map(|d| first_name(d)).collect();
                let extra = names.iter().any(|n| *n != "system" && *n != "config");
                let mut p = if names.contains(&"config") {
                    match self.select_defs(&defs, "config", 1) {
                        Val::Str(c) => plat_of_config(&c),
                        Val::Opaque(why) => PlatVal::Unknown(why),
                        _ => PlatVal::Unknown("a config that is not a string".into()),
                    }
                } else if names.contains(&"system") {
                    self.plat_of(self.select_defs(&defs, "system", 1))
                } else {
                    PlatVal::Unknown("a platform without system or config".into())
                };
                if let PlatVal::Known(k) = &mut p {
                    k.extra = extra;
                }
                p
            }
            Val::Opaque(why) => PlatVal::Unknown(why),
            other => PlatVal::Unknown(format!("{} is not a platform", describe(&other))),
        }
    }

    /// Apply a function value to an argument.
    pub fn apply_val(&self, f: Val, arg: Thunk, depth: u32) -> Val {
        if depth > MAX_DEPTH {
            return Val::opaque(TOO_DEEP);
        }
        match f {
            Val::Lambda(l) => {
                let (view, env) = &*l;
                let scope = match &view.param {
                    Param::Ident { name } => {
                        Scope::new(HashMap::from([(name.clone(), arg)]), Some(env.clone()))
                    }
                    Param::Pattern { formals, bind, .. } => {
                        let argv = self.force(&arg, env, depth + 1);
                        let mut vars = HashMap::new();
                        for formal in formals {
                            let v = match &argv {
                                Val::Attrs(defs)
                                    if !defs
                                        .iter()
                                        .any(|d| first_name(d) == Some(&formal.name)) =>
                                {
                                    match &formal.default {
                                        Some(d) => Thunk::Expr(d.clone(), None),
                                        None => Thunk::Val(Val::opaque(format!(
                                            "no `{}` argument",
                                            formal.name
                                        ))),
                                    }
                                }
                                _ => Thunk::Val(self.select_name(
                                    argv.clone(),
                                    &formal.name,
                                    None,
                                    depth + 1,
                                )),
                            };
                            vars.insert(formal.name.clone(), v);
                        }
                        if let Some(b) = bind {
                            vars.insert(b.clone(), Thunk::Val(argv.clone()));
                        }
                        Scope::new(vars, Some(env.clone()))
                    }
                };
                self.eval(&view.body, &scope, depth + 1)
            }
            Val::Builtin(b, mut done) => {
                done.push(arg);
                if done.len() < b.arity() {
                    return Val::Builtin(b, done);
                }
                let home = scope_of_vals(Vec::new(), None);
                let mut forced: Vec<Val> = done
                    .iter()
                    .map(|t| self.force(t, &home, depth + 1))
                    .collect();
                self.call_builtin(b, &mut forced, depth)
            }
            Val::Pkg(set) => Val::Pkg(set),
            Val::Opaque(why) => Val::Opaque(why),
            other => Val::opaque(format!(
                "{} is not a function nixcross follows",
                describe(&other)
            )),
        }
    }

    fn call_builtin(&self, b: Builtin, args: &mut [Val], depth: u32) -> Val {
        let take = |i: usize, args: &mut [Val]| std::mem::replace(&mut args[i], Val::Null);
        match b {
            Builtin::Import => Val::opaque("`import` of something other than nixpkgs"),
            Builtin::Elaborate => Val::Platform(self.plat_of(take(0, args))),
            Builtin::GenAttrs | Builtin::EachSystemMap => Val::Generated {
                systems: systems_of(take(0, args)),
                f: Box::new(take(1, args)),
            },
            Builtin::EachDefaultSystemMap => Val::Generated {
                systems: default_systems(),
                f: Box::new(take(0, args)),
            },
            Builtin::EachSystem => Val::EachSystem {
                systems: systems_of(take(0, args)),
                f: Box::new(take(1, args)),
            },
            Builtin::EachDefaultSystem => Val::EachSystem {
                systems: default_systems(),
                f: Box::new(take(0, args)),
            },
            Builtin::MkFlake => Val::FlakeParts(Box::new(take(1, args))),
            Builtin::MkShell(set) => {
                // Evaluate the inputs, so that the sets they come from are
                // rewrite sites of the shell.
                if let Val::Attrs(defs) = take(0, args) {
                    for key in [
                        "buildInputs",
                        "nativeBuildInputs",
                        "packages",
                        "inputsFrom",
                        "depsBuildBuild",
                    ] {
                        let _ = self.select_defs(&defs, key, depth + 1);
                    }
                }
                Val::Shell(set)
            }
            Builtin::CallPackage(set) => Val::Pkg(set),
        }
    }
}

/// `sites` without repeats (the same place reached twice), in order.
fn distinct(sites: &[Site]) -> Vec<Site> {
    let mut seen = std::collections::HashSet::new();
    sites
        .iter()
        .filter(|s| {
            let key = match s {
                Site::Origin(set) => (0, set.range()),
                Site::Use { range, .. } => (1, Some(*range)),
            };
            key.1.is_none() || seen.insert(key)
        })
        .cloned()
        .collect()
}

/// `a // b` of attribute sets: definitions of both, the right side winning
/// (nixcross reads them all).
fn merge_attrs(parts: Vec<Val>) -> Val {
    if parts.iter().all(|p| matches!(p, Val::Attrs(_))) {
        let mut defs = Vec::new();
        for p in parts {
            if let Val::Attrs(d) = p {
                defs.extend(d.iter().cloned());
            }
        }
        return Val::Attrs(Rc::new(defs));
    }
    Val::Merge(Rc::new(parts))
}

fn select_lib(lib: LibKind, name: &str) -> Val {
    match (lib, name) {
        (LibKind::Nixpkgs, "genAttrs") => Val::Builtin(Builtin::GenAttrs, Vec::new()),
        (LibKind::Nixpkgs, "systems") => Val::Lib(LibKind::Systems),
        (LibKind::Systems, "examples") => Val::Lib(LibKind::Examples),
        (LibKind::Systems, "elaborate") => Val::Builtin(Builtin::Elaborate, Vec::new()),
        (LibKind::Systems, "flakeExposed") => Val::List(Rc::new(
            platform::catalogue()
                .flake_exposed
                .iter()
                .map(|s| Val::Str(s.clone()))
                .collect(),
        )),
        (LibKind::Examples, name) => match platform::catalogue().example(name) {
            Some(e) => Val::Platform(PlatVal::Known(Plat {
                system: e.system.clone(),
                config: e.config.clone(),
                example: Some(e.name.clone()),
                extra: false,
            })),
            None => Val::opaque(format!(
                "lib.systems.examples.{name} is not a nixpkgs example"
            )),
        },
        (LibKind::FlakeUtils, "eachSystem") => Val::Builtin(Builtin::EachSystem, Vec::new()),
        (LibKind::FlakeUtils, "eachDefaultSystem") => {
            Val::Builtin(Builtin::EachDefaultSystem, Vec::new())
        }
        (LibKind::FlakeUtils, "eachSystemMap") => Val::Builtin(Builtin::EachSystemMap, Vec::new()),
        (LibKind::FlakeUtils, "eachDefaultSystemMap") => {
            Val::Builtin(Builtin::EachDefaultSystemMap, Vec::new())
        }
        (LibKind::FlakeUtils, "system") => Val::Lib(LibKind::FlakeUtilsSystem),
        (LibKind::FlakeUtilsSystem, s) => Val::Str(s.to_string()),
        (LibKind::FlakeUtils, "defaultSystems" | "systems" | "allSystems") => {
            Val::opaque("flake-utils' systems come from its locked `systems` input")
        }
        (LibKind::FlakeParts, "mkFlake") => Val::Builtin(Builtin::MkFlake, Vec::new()),
        (_, name) => Val::opaque(format!("lib.{name} is not something nixcross follows")),
    }
}

/// The systems flake-utils' `eachDefaultSystem` runs over: its `systems`
/// input (nix-systems/default), pinned by flake.lock, so not in the file.
fn default_systems() -> Systems {
    Systems::Unlisted
}

fn systems_of(v: Val) -> Systems {
    match v {
        Val::List(items) => {
            let mut out = Vec::new();
            for i in items.iter() {
                match i {
                    Val::Str(s) => out.push(s.clone()),
                    _ => return Systems::Unlisted,
                }
            }
            Systems::Listed(out)
        }
        _ => Systems::Unlisted,
    }
}

/// A system string: a double or a config triple.
pub(crate) fn plat_of_string(s: &str) -> PlatVal {
    let cat = platform::catalogue();
    if let Some(sys) = cat.system(s) {
        return PlatVal::Known(Plat {
            system: sys.system.clone(),
            config: sys.config.clone(),
            example: None,
            extra: false,
        });
    }
    if cat.can_emulate(s) {
        return PlatVal::Known(Plat {
            system: s.to_string(),
            config: String::new(),
            example: None,
            extra: false,
        });
    }
    plat_of_config(s)
}

fn plat_of_config(c: &str) -> PlatVal {
    let cat = platform::catalogue();
    let system = cat
        .systems
        .iter()
        .find(|s| s.config == c)
        .map(|s| s.system.clone())
        .or_else(|| {
            cat.examples
                .iter()
                .find(|e| e.config == c)
                .map(|e| e.system.clone())
        });
    match system {
        Some(system) => PlatVal::Known(Plat {
            system,
            config: c.to_string(),
            example: None,
            extra: false,
        }),
        None => PlatVal::Unknown(format!("`{c}` is not a platform nixcross knows")),
    }
}

/// What an input is, from its name and URL.
pub(crate) fn input_kind(name: &str, url: Option<&str>) -> InputKind {
    let url = url.unwrap_or_default().to_ascii_lowercase();
    if url.contains("flake-utils") || (url.is_empty() && name == "flake-utils") {
        InputKind::FlakeUtils
    } else if url.contains("flake-parts") || (url.is_empty() && name == "flake-parts") {
        InputKind::FlakeParts
    } else if url.contains("nixpkgs.lib") || url.contains("nixpkgs-lib") {
        InputKind::Other
    } else if url.contains("nixpkgs") || (url.is_empty() && name == "nixpkgs") {
        InputKind::Nixpkgs
    } else {
        InputKind::Other
    }
}

/// A few words for a value, in messages.
pub(crate) fn describe(v: &Val) -> String {
    match v {
        Val::Inputs => "the flake's inputs".into(),
        Val::Input { text, .. } => format!("`{text}`"),
        Val::LegacyPackages { .. } => "legacyPackages".into(),
        Val::Lib(_) => "a library".into(),
        Val::Str(s) => format!("the string {s:?}"),
        Val::System => "the current system".into(),
        Val::Null => "null".into(),
        Val::List(_) => "a list".into(),
        Val::Attrs(_) | Val::Merge(_) => "an attribute set".into(),
        Val::Lambda(_) | Val::Builtin(..) => "a function".into(),
        Val::Platform(_) => "a platform".into(),
        Val::Set(_) => "a package set".into(),
        Val::PkgsCross(_) => "pkgsCross".into(),
        Val::Pkg(_) => "a package".into(),
        Val::Shell(_) => "a shell".into(),
        Val::Generated { .. } | Val::EachSystem { .. } => "a per-system set".into(),
        Val::FlakeParts(_) => "flake-parts' mkFlake".into(),
        Val::Opaque(why) => why.clone(),
    }
}
