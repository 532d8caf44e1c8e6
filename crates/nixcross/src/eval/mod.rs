//! A small static evaluator for the shapes NixOS configurations are built
//! from, so that nixcross can follow a configuration the way Nix does:
//! `let` and `rec` scopes, functions and helpers, `//` and `++`, paths,
//! `import`, `builtins.readDir`, `lib.genAttrs`/`mapAttrs`/`listToAttrs`,
//! `nixosSystem`, module properties (`mkIf`, `mkMerge`, `mkDefault`, ...).
//!
//! It is not a Nix interpreter. It is lazy (values are thunks in an arena),
//! it evaluates only what is asked for, and anything it does not model (a
//! package set's contents, `config`, an impure builtin, an unlisted `lib`
//! function) becomes [`Value::Unknown`] with a reason, never a guess. Strings
//! remember the literal they were written as ([`StrValue::origin`]), and
//! attribute sets the binding of each attribute ([`AttrEntry::def`]), so a
//! value can be traced back to the text that decides it.
//!
//! Two readings share it ([`Reading`]): the NixOS view follows everything
//! it can, across files; the packages and dev shells view
//! ([`crate::outputs`]) follows only what the flake file itself writes,
//! models package sets (`pkgsCross`, `buildPackages`, `mkShell`, what is
//! taken from a set), and records where each forced value reaches a package
//! set ([`PkgsSite`]), so that it can rewrite that text.
//!
//! Limits: a forcing depth of [`MAX_DEPTH`], and a budget of steps and of
//! allocated bytes per evaluator ([`budget`]); past them values are unknown,
//! with the reason.
//!
//! This file holds the evaluator: its arena of thunks, forcing, the budget's
//! checks and the evaluation of each expression. Scopes (`scope.rs`), the
//! bindings of a set (`bindings.rs`), strings and paths (`strings.rs`),
//! operators (`ops.rs`), calls (`calls.rs`), the prelude (`prelude.rs`) and
//! the built-ins (`prims/`) have files of their own.

mod bindings;
mod budget;
mod calls;
mod ops;
mod prelude;
mod prims;
mod scope;
mod strings;
mod trace;
mod value;

use std::cell::OnceCell;
use std::collections::HashMap;
use std::rc::Rc;

#[cfg(test)]
use budget::Limits;
pub use budget::MAX_BYTES;
use budget::{cost, Budget};
pub use prims::Prim;

use calls::Call;
use ops::truth;
use prelude::{Prelude, PRELUDE_IDS};
use scope::Scope;

pub use value::{
    AttrEntry, Attrs, Closure, EnvId, ImportArgs, MadeBy, PathValue, PerSystem, Piece, PkgsSite,
    PkgsValue, PkgsVia, PrimApp, Property, Special, StrValue, SystemsHelper, ThunkId, Unknown,
    Value, Written,
};

use crate::files::{EntryKind, RelPath};
use crate::source::{FileId, SourceMap, Src};
use crate::syntax::{Expr, KeyAt, Node};

/// How deep forcing may nest before values become unknown.
pub const MAX_DEPTH: usize = 400;

/// A suspended computation.
#[derive(Debug, Clone)]
enum Thunk {
    /// An expression in a scope.
    Expr {
        node: Node,
        file: FileId,
        env: EnvId,
    },
    /// A variable looked up in a scope (for `inherit x;`).
    Var {
        name: String,
        env: EnvId,
        at: Option<Src>,
    },
    /// `f x`.
    Apply { f: ThunkId, arg: ThunkId },
    /// `set.name`, or `default` when it is missing.
    Select {
        set: ThunkId,
        name: String,
        default: Option<ThunkId>,
    },
    /// `a // b`.
    Update(ThunkId, ThunkId),
    /// Being forced (a loop means infinite recursion).
    Forcing,
    /// The prelude's `lib`, which is built on first use.
    Lib,
    /// Done.
    Value(Value),
}

/// A hasher for keys that are not text (a file and a syntax node's place),
/// cheaper than the default's SipHash.
#[derive(Default)]
struct NodeHasher(u64);

impl std::hash::Hasher for NodeHasher {
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.add(u64::from(*b));
        }
    }
    fn write_u32(&mut self, i: u32) {
        self.add(u64::from(i));
    }
    fn write_u64(&mut self, i: u64) {
        self.add(i);
    }
    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }
    fn finish(&self) -> u64 {
        // The high bits of a product are the well-mixed ones.
        self.0.rotate_left(26)
    }
}

impl NodeHasher {
    #[inline]
    fn add(&mut self, i: u64) {
        self.0 = (self.0.rotate_left(5) ^ i).wrapping_mul(0x517c_c1b7_2722_0a95);
    }
}

type NodeMap<V> = HashMap<(FileId, Node), V, std::hash::BuildHasherDefault<NodeHasher>>;

/// What an evaluation follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Reading {
    /// Everything it can: other files, conditions, `with` namespaces (the
    /// NixOS view). What is taken from a package set is unknown.
    #[default]
    Everything,
    /// Only text the flake file itself writes, where an edit can change it
    /// (the packages and dev shells view): `import` of another file, a
    /// conditional and a `with` are unknown; package sets are modelled
    /// (`pkgsCross.<example>`, `buildPackages`, `mkShell`, a package of a
    /// set), flake-utils' default systems are not listed, and the evaluator
    /// records where each forced value reaches a package set
    /// ([`Evaluator::sites_begin`]).
    Rewritable,
}

/// Where a selection is written: the key being selected, for the package
/// sets it names.
#[derive(Debug, Clone)]
struct KeyPos {
    file: FileId,
    /// The start of the whole selection.
    start: usize,
    /// The key.
    key: KeyAt,
    /// The text before the previous key (`inputs.nixpkgs` of
    /// `inputs.nixpkgs.legacyPackages.<key>`), when that key is in the
    /// same selection.
    before_previous: Option<String>,
    env: EnvId,
}

/// How many decoded syntax nodes an evaluator keeps.
const DECODED_MAX: usize = 1 << 15;
/// The words of the bit set of nodes seen once (64 KiB).
const SEEN_WORDS: usize = 1 << 13;

/// The evaluator: an arena of thunks and scopes over a [`SourceMap`].
pub struct Evaluator<'f> {
    /// The files read so far.
    pub sources: SourceMap<'f>,
    /// The shared first thunks and base scope, once needed.
    prelude: OnceCell<Rc<Prelude>>,
    /// The id of `thunks[0]`: [`PRELUDE_IDS`], or 0 in the evaluator that
    /// builds the prelude.
    first: u32,
    /// Thunks from `first` on.
    thunks: Vec<Thunk>,
    envs: Vec<Scope>,
    /// The scope with `builtins`, `import`, `map`, `true`, ...
    base: EnvId,
    /// Files imported so far, with their values.
    imports: HashMap<RelPath, ThunkId>,
    depth: usize,
    /// What it has spent of its steps and bytes.
    budget: Budget,
    /// The call of the built-in that runs, when it is written in a file:
    /// where a budget spent inside it ran out.
    in_prim: Option<Src>,
    /// The shapes of syntax nodes evaluated more than once, decoded once
    /// (a function's body is evaluated at every call). At most
    /// [`DECODED_MAX`] of them.
    decoded: NodeMap<Rc<Expr>>,
    /// Nodes seen once, by a hash of the node (a bit each): the second
    /// sight of a node decodes it into `decoded`.
    seen: Vec<u64>,
    /// The nixpkgs `lib` stand-in.
    lib: Option<ThunkId>,
    reading: Reading,
    /// The package-set sites met (rewritable reading only).
    trace: Option<Box<trace::Trace>>,
    /// Every call of a function written in a file, by function, in the
    /// order made.
    calls: NodeMap<Vec<Call>>,
}

impl std::fmt::Debug for Evaluator<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Evaluator")
            .field("thunks", &self.thunks.len())
            .finish_non_exhaustive()
    }
}

impl<'f> Evaluator<'f> {
    /// A new evaluator reading through `sources`.
    pub fn new(sources: SourceMap<'f>) -> Evaluator<'f> {
        Evaluator::over(sources, OnceCell::new(), PRELUDE_IDS)
    }

    fn over(sources: SourceMap<'f>, prelude: OnceCell<Rc<Prelude>>, first: u32) -> Evaluator<'f> {
        Evaluator {
            sources,
            prelude,
            first,
            thunks: Vec::new(),
            envs: vec![Scope::default()],
            base: EnvId(0),
            imports: HashMap::new(),
            depth: 0,
            budget: Budget::default(),
            in_prim: None,
            decoded: NodeMap::default(),
            seen: Vec::new(),
            lib: None,
            reading: Reading::Everything,
            trace: None,
            calls: NodeMap::default(),
        }
    }

    /// The same evaluator, for `reading`.
    pub fn with_reading(mut self, reading: Reading) -> Evaluator<'f> {
        self.reading = reading;
        self.trace = match reading {
            Reading::Everything => None,
            Reading::Rewritable => Some(Box::default()),
        };
        self
    }

    /// The same evaluator, with other limits on what it spends.
    #[cfg(test)]
    pub fn with_limits(mut self, limits: Limits) -> Evaluator<'f> {
        self.budget.limits = limits;
        self
    }

    /// The steps and bytes spent so far.
    pub fn spent(&self) -> (u64, u64) {
        (self.budget.steps, self.budget.bytes)
    }

    fn rewritable(&self) -> bool {
        self.reading == Reading::Rewritable
    }

    // ----- package-set sites (rewritable reading) -----

    /// Start collecting the package-set sites of what is forced from now
    /// on. Pairs with [`Evaluator::sites_end`]; they nest.
    pub fn sites_begin(&mut self) {
        if let Some(t) = &mut self.trace {
            t.begin();
        }
    }

    /// The sites met since the matching [`Evaluator::sites_begin`], each
    /// once (a value forced before replays the sites it met then).
    pub fn sites_end(&mut self) -> Vec<PkgsSite> {
        match &mut self.trace {
            Some(t) => t.end(),
            None => Vec::new(),
        }
    }

    fn site(&mut self, site: PkgsSite) {
        if let Some(t) = &mut self.trace {
            t.record(site);
        }
    }

    /// Force `id` and, when it is a list, its items, recursively (as
    /// `mkShell` reads its inputs); once per thunk, its sites replayed
    /// after.
    fn force_deep(&mut self, id: ThunkId) {
        if self.trace.as_mut().is_some_and(|t| t.replay_deep(id)) {
            return;
        }
        self.sites_begin();
        if self.depth < MAX_DEPTH {
            self.depth += 1;
            if let Value::List(items) = self.force(id) {
                for i in items.iter() {
                    self.force_deep(*i);
                }
            }
            self.depth -= 1;
        }
        if let Some(t) = &mut self.trace {
            t.end_deep(id);
        }
    }

    /// The expression `id` will evaluate, while it is not forced yet.
    pub fn pending_expr(&self, id: ThunkId) -> Option<Src> {
        self.pending_scope(id).map(|(src, _)| src)
    }

    /// The expression `id` will evaluate and the scope it evaluates in,
    /// while it is not forced yet.
    pub fn pending_scope(&self, id: ThunkId) -> Option<(Src, EnvId)> {
        let i = id.0.checked_sub(self.first)? as usize;
        match self.thunks.get(i)? {
            Thunk::Expr { node, file, env } => Some((Src::new(*file, node.clone()), *env)),
            _ => None,
        }
    }

    /// The value of `id`, when it is forced.
    fn peek(&self, id: ThunkId) -> Option<&Value> {
        if id.0 < self.first {
            return self.prelude().values.get(id.0 as usize);
        }
        match self.thunks.get((id.0 - self.first) as usize)? {
            Thunk::Value(v) => Some(v),
            _ => None,
        }
    }

    /// The literal `{ ... }` that `id` is (forced or not), when it is one.
    pub fn literal_set(&self, id: ThunkId) -> Option<Src> {
        match self.peek(id) {
            Some(Value::Attrs(a)) => a.src.clone().filter(|s| s.node.attrset().is_some()),
            Some(_) => None,
            None => {
                let e = self.pending_expr(id)?;
                let n = e.node.unparen();
                n.attrset().map(|_| Src::new(e.file, n))
            }
        }
    }

    /// Whether the attribute set `id` has `name`, when that is known without
    /// forcing anything: a forced set that is not open, or a literal whose
    /// names are all written out.
    pub fn has_attr(&self, id: ThunkId, name: &str) -> Option<bool> {
        match self.peek(id) {
            Some(Value::Attrs(a)) if a.open.is_none() => Some(a.entries.contains_key(name)),
            Some(_) => None,
            None => {
                let set = self.pending_expr(id)?.node.unparen().attrset()?;
                if set.entries.iter().any(|e| e.is_dynamic()) {
                    return None;
                }
                Some(set.entries.iter().any(|e| e.defines(name)))
            }
        }
    }

    // ----- arena -----

    fn alloc(&mut self, t: Thunk) -> ThunkId {
        self.charge(cost::THUNK);
        let id = ThunkId(self.first + self.thunks.len() as u32);
        self.thunks.push(t);
        id
    }

    /// The slot of a thunk that is not the prelude's.
    fn slot(&mut self, id: ThunkId) -> &mut Thunk {
        let i = (id.0 - self.first) as usize;
        &mut self.thunks[i]
    }

    /// A thunk that is already a value.
    pub fn value(&mut self, v: Value) -> ThunkId {
        self.alloc(Thunk::Value(v))
    }

    /// A thunk for `node` (in `file`) in scope `env`.
    pub fn delay(&mut self, node: &Node, file: FileId, env: EnvId) -> ThunkId {
        // Literals need no suspension.
        self.alloc(Thunk::Expr {
            node: node.clone(),
            file,
            env,
        })
    }

    /// A thunk for `node` (in `file`) in the top scope: for an expression
    /// taken out of its file (a NixOS module nested in a flake-parts
    /// module), whose outer names are then not known.
    pub fn delay_top(&mut self, node: &Node, file: FileId) -> ThunkId {
        let env = self.base;
        self.delay(node, file, env)
    }

    /// A thunk for `f arg`.
    pub fn delay_apply(&mut self, f: ThunkId, arg: ThunkId) -> ThunkId {
        self.alloc(Thunk::Apply { f, arg })
    }

    /// A thunk for `a // b`.
    pub fn delay_update(&mut self, a: ThunkId, b: ThunkId) -> ThunkId {
        self.alloc(Thunk::Update(a, b))
    }

    /// A thunk for `set.name`.
    pub fn delay_select(&mut self, set: ThunkId, name: &str) -> ThunkId {
        self.alloc(Thunk::Select {
            set,
            name: name.to_string(),
            default: None,
        })
    }

    /// A thunk for `set.name or default`.
    fn delay_select_or(&mut self, set: ThunkId, name: &str, default: ThunkId) -> ThunkId {
        self.alloc(Thunk::Select {
            set,
            name: name.to_string(),
            default: Some(default),
        })
    }

    /// Make the placeholder `id` mean `set.name or default`.
    fn fill_select_or(&mut self, id: ThunkId, set: ThunkId, name: &str, default: ThunkId) {
        *self.slot(id) = Thunk::Select {
            set,
            name: name.to_string(),
            default: Some(default),
        };
    }

    /// A thunk to be filled later (for values that refer to themselves).
    pub fn placeholder(&mut self) -> ThunkId {
        self.alloc(Thunk::Forcing)
    }

    /// Make the placeholder `id` mean `a // b`.
    pub fn fill_update(&mut self, id: ThunkId, a: ThunkId, b: ThunkId) {
        *self.slot(id) = Thunk::Update(a, b);
    }

    /// `fix (final: base // overlay final base)`, as `lib.extend` builds it.
    pub fn fix_extend(&mut self, base: ThunkId, overlay: ThunkId) -> ThunkId {
        let fixed = self.alloc(Thunk::Forcing);
        let partial = self.delay_apply(overlay, fixed);
        let applied = self.delay_apply(partial, base);
        *self.slot(fixed) = Thunk::Update(base, applied);
        fixed
    }

    // ----- forcing -----

    /// Force a thunk to weak head normal form.
    pub fn force(&mut self, id: ThunkId) -> Value {
        if id.0 < self.first {
            return self.prelude().values[id.0 as usize].clone();
        }
        let slot = self.slot(id);
        if let Thunk::Value(v) = slot {
            let v = v.clone();
            if let Some(t) = &mut self.trace {
                t.replay(id);
            }
            return v;
        }
        let t = std::mem::replace(slot, Thunk::Forcing);
        if let Thunk::Forcing = t {
            return Value::unknown("infinite recursion", None);
        }
        if let Some(t) = &mut self.trace {
            t.begin();
        }
        let v = match t {
            Thunk::Value(_) | Thunk::Forcing => unreachable!("returned above"),
            Thunk::Expr { node, file, env } => self.eval(&node, file, env),
            Thunk::Var { name, env, at } => self.lookup(&name, env, at.as_ref()),
            Thunk::Lib => {
                let lib = self.prelude().lib;
                self.force(lib)
            }
            Thunk::Apply { f, arg } => {
                let fv = self.force(f);
                self.apply(fv, arg, None)
            }
            Thunk::Select { set, name, default } => {
                let sv = self.force(set);
                self.select(sv, &name, default, None)
            }
            Thunk::Update(a, b) => {
                let av = self.force(a);
                let bv = self.force(b);
                self.update(av, bv, None)
            }
        };
        if let Some(t) = &mut self.trace {
            t.end_forced(id);
        }
        *self.slot(id) = Thunk::Value(v.clone());
        v
    }

    // ----- the budget -----

    /// Count one step; whether the budget is spent (then everything is
    /// unknown).
    #[inline]
    fn tick(&mut self) -> bool {
        self.budget.steps += 1;
        self.budget.over()
    }

    /// Count `bytes` allocated.
    #[inline]
    fn charge(&mut self, bytes: u64) {
        self.budget.bytes = self.budget.bytes.saturating_add(bytes);
    }

    /// The unknown value of a spent budget, which says where it ran out
    /// (`at`, when the caller knows it, the first time).
    fn spent_at(&mut self, at: Option<&Src>) -> Value {
        let here = at
            .or(self.in_prim.as_ref())
            .map(|s| self.sources.describe(s));
        self.budget.spend(here)
    }

    /// Whether `bytes` more can be allocated (charged by whatever allocates
    /// them): the unknown value of a spent budget when they cannot, and then
    /// nothing should be allocated.
    fn room(&mut self, bytes: u64, at: Option<&Src>) -> Result<(), Value> {
        if self.budget.would_pass(bytes) || self.budget.over() {
            self.charge(bytes);
            return Err(self.spent_at(at));
        }
        Ok(())
    }

    /// Charge `bytes` about to be allocated for a value: the unknown value
    /// of a spent budget when they pass it, and then nothing should be
    /// allocated.
    fn reserve(&mut self, bytes: u64, at: Option<&Src>) -> Result<(), Value> {
        if self.budget.would_pass(bytes) || self.budget.over() {
            self.charge(bytes);
            return Err(self.spent_at(at));
        }
        self.charge(bytes);
        Ok(())
    }

    /// `f` one level deeper, or `None` past [`MAX_DEPTH`]: for the
    /// built-ins and comparisons that recurse into values (`flatten`,
    /// `recursiveUpdate`, `==`, a set's `outPath`) without evaluating an
    /// expression at each level.
    fn deeper<T>(&mut self, f: impl FnOnce(&mut Self) -> T) -> Option<T> {
        if self.depth >= MAX_DEPTH {
            return None;
        }
        self.depth += 1;
        let v = f(self);
        self.depth -= 1;
        Some(v)
    }

    /// The shape of `node`, decoded from the syntax tree; a node evaluated
    /// again is decoded once.
    fn decode(&mut self, node: &Node, file: FileId) -> Rc<Expr> {
        use std::hash::BuildHasher;
        let key = (file, node.clone());
        if let Some(e) = self.decoded.get(&key) {
            return e.clone();
        }
        let e = Rc::new(node.expr());
        if self.decoded.len() < DECODED_MAX {
            let h = self.decoded.hasher().hash_one(&key);
            if self.seen.is_empty() {
                self.seen = vec![0; SEEN_WORDS];
            }
            let bit = (h as usize) % (SEEN_WORDS * 64);
            let (word, mask) = (bit / 64, 1u64 << (bit % 64));
            if self.seen[word] & mask != 0 {
                self.charge(cost::DECODED);
                self.decoded.insert(key, e.clone());
            } else {
                self.seen[word] |= mask;
            }
        }
        e
    }

    /// Evaluate `node` of `file` in `env`.
    pub fn eval(&mut self, node: &Node, file: FileId, env: EnvId) -> Value {
        if self.tick() {
            return self.spent_at(Some(&Src::new(file, node.clone())));
        }
        if self.depth >= MAX_DEPTH {
            return Value::unknown(
                "the expression is nested too deeply to follow",
                Some(Src::new(file, node.clone())),
            );
        }
        self.depth += 1;
        let v = self.eval_inner(node, file, env);
        self.depth -= 1;
        v
    }

    fn here(&self, node: &Node, file: FileId) -> Option<Src> {
        Some(Src::new(file, node.clone()))
    }

    fn eval_inner(&mut self, node: &Node, file: FileId, env: EnvId) -> Value {
        let expr = self.decode(node, file);
        match &*expr {
            Expr::Paren(e) => self.eval(e, file, env),
            Expr::Int(i) => Value::Int(*i),
            Expr::Float(f) => Value::Float(*f),
            Expr::Uri(u) => Value::string(u),
            Expr::Str(parts) => self.eval_string(node, parts, file, env),
            Expr::Path(kind, parts) => self.eval_path(node, kind.clone(), parts, file, env),
            Expr::Ident(name) => {
                let at = Src::new(file, node.clone());
                let v = self.lookup(name, env, Some(&at));
                if let (Value::Special(s), true) = (&v, self.trace.is_some()) {
                    if let Special::Pkgs(set) = &**s {
                        self.site(PkgsSite::Used {
                            at,
                            set: set.clone(),
                            env,
                        });
                    }
                }
                v
            }
            Expr::AttrSet(set) => {
                let src = Src::new(file, node.clone());
                if set.rec {
                    let inner = self.new_env(Some(env));
                    let attrs = self.build_attrs(&set.entries, file, inner, env, Some(src));
                    for (k, e) in &attrs.entries {
                        self.bind(inner, k, e.value);
                    }
                    Value::Attrs(Rc::new(attrs))
                } else {
                    Value::Attrs(Rc::new(self.build_attrs(
                        &set.entries,
                        file,
                        env,
                        env,
                        Some(src),
                    )))
                }
            }
            Expr::LetIn(l) => {
                let inner = self.new_env(Some(env));
                let attrs = self.build_attrs(&l.entries, file, inner, env, None);
                for (k, e) in &attrs.entries {
                    self.bind(inner, k, e.value);
                }
                self.eval(&l.body, file, inner)
            }
            Expr::Lambda(lambda) => Value::Lambda(Rc::new(Closure {
                lambda: lambda.clone(),
                src: Src::new(file, node.clone()),
                env,
            })),
            Expr::Apply(f, a) => {
                let fv = self.eval(f, file, env);
                let arg = self.delay(a, file, env);
                self.apply(fv, arg, self.here(node, file))
            }
            Expr::Select {
                base,
                path,
                default,
            } => {
                let mut cur = self.eval(base, file, env);
                let default = default.as_ref().map(|d| self.delay(d, file, env));
                // Where the keys are written, for the package sets they
                // name (rewritable reading).
                let mut view = None;
                for (i, key) in path.iter().enumerate() {
                    let pos = match (&cur, self.rewritable()) {
                        (Value::Special(_), true) => {
                            let view = view.get_or_insert_with(|| node.select());
                            view.as_ref().and_then(|v| key_pos(node, v, i, file, env))
                        }
                        _ => None,
                    };
                    let name = match self.key_name(key, file, env) {
                        Ok(n) => n,
                        Err(Value::Special(s)) if matches!(*s, Special::AnySystem) => {
                            cur = prims::select_any_system(self, cur, pos, self.here(node, file));
                            continue;
                        }
                        Err(u) => return u,
                    };
                    let last = i + 1 == path.len();
                    let d = if default.is_some() { default } else { None };
                    cur = self.select_in(cur, &name, d, self.here(node, file), pos);
                    if !last {
                        if let (Some(d), Value::Unknown(u)) = (default, &cur) {
                            if u.reason.starts_with("attribute `") {
                                return self.force(d);
                            }
                        }
                    }
                }
                cur
            }
            Expr::HasAttr(base, path) => {
                let mut cur = self.eval(base, file, env);
                for key in path {
                    let name = match self.key_name(key, file, env) {
                        Ok(n) => n,
                        Err(u @ Value::Unknown(_)) => return u,
                        Err(_) => {
                            return Value::unknown(
                                "cannot tell which attribute is asked for",
                                self.here(node, file),
                            )
                        }
                    };
                    match &cur {
                        Value::Attrs(a) => match a.entries.get(&name) {
                            Some(e) => {
                                let t = e.value;
                                cur = self.force(t);
                            }
                            None if a.open.is_some() => {
                                return Value::unknown(
                                    format!("cannot tell whether `{name}` is there"),
                                    self.here(node, file),
                                )
                            }
                            None => return Value::Bool(false),
                        },
                        Value::Unknown(_) => return cur,
                        Value::Special(s) if matches!(**s, Special::Input { .. }) => {
                            return Value::unknown(
                                "cannot tell what another flake input has",
                                self.here(node, file),
                            )
                        }
                        _ => return Value::Bool(false),
                    }
                }
                Value::Bool(true)
            }
            Expr::List(l) => {
                self.charge(l.items.len() as u64 * cost::LIST_ITEM);
                let items = l.items.iter().map(|i| self.delay(i, file, env)).collect();
                Value::List(Rc::new(items))
            }
            Expr::With(..) if self.rewritable() => {
                Value::unknown("`with` hides where names come from", self.here(node, file))
            }
            Expr::With(ns, body) => {
                let nst = self.delay(ns, file, env);
                let inner = self.new_env(Some(env));
                self.envs[inner.0 as usize].with = Some(nst);
                self.eval(body, file, inner)
            }
            Expr::IfElse(..) if self.rewritable() => Value::unknown(
                format!("`{}` is a conditional", short(&node.text())),
                self.here(node, file),
            ),
            Expr::IfElse(c, t, e) => {
                let cv = self.eval(c, file, env);
                match (truth(&cv), cv) {
                    (Some(true), _) => self.eval(t, file, env),
                    (Some(false), _) => self.eval(e, file, env),
                    (None, cv @ Value::Unknown(_)) if self.budget.over() => cv,
                    (None, Value::Unknown(u)) => Value::unknown(
                        format!(
                            "the condition `{}` is not known: {}",
                            short(&c.text()),
                            u.reason
                        ),
                        self.here(c, file),
                    ),
                    (None, _) => Value::unknown(
                        format!("the condition `{}` is not known", short(&c.text())),
                        self.here(c, file),
                    ),
                }
            }
            Expr::Assert(_, body) => self.eval(body, file, env),
            Expr::Not(e) => match self.eval(e, file, env) {
                Value::Bool(b) => Value::Bool(!b),
                u @ Value::Unknown(_) => u,
                _ => Value::unknown(
                    "`!` of a value that is not a Boolean",
                    self.here(node, file),
                ),
            },
            Expr::Negate(e) => match self.eval(e, file, env) {
                Value::Int(i) => Value::Int(i.wrapping_neg()),
                Value::Float(f) => Value::Float(-f),
                u @ Value::Unknown(_) => u,
                _ => Value::unknown("`-` of a value that is not a number", self.here(node, file)),
            },
            Expr::BinOp(op, l, r) => self.binop(node, *op, l, r, file, env),
            Expr::CurPos => {
                let path = self.sources.get(file).path.clone();
                let (line, col) =
                    crate::error::line_col(&self.sources.get(file).text, node.start());
                let file_v = Value::Str(Rc::new(StrValue {
                    pieces: vec![Piece::Path(PathValue::Tree(path))],
                    origin: None,
                }));
                let mut a = Attrs::default();
                for (k, v) in [
                    ("file", file_v),
                    ("line", Value::Int(line as i64)),
                    ("column", Value::Int(col as i64)),
                ] {
                    let t = self.value(v);
                    a.entries.insert(
                        k.into(),
                        AttrEntry {
                            value: t,
                            def: None,
                        },
                    );
                }
                Value::Attrs(Rc::new(a))
            }
            Expr::Other => Value::unknown(
                format!(
                    "`{}` is not an expression nixcross follows",
                    short(&node.text())
                ),
                self.here(node, file),
            ),
        }
    }

    /// `set.name`, with an optional default.
    pub fn select(
        &mut self,
        set: Value,
        name: &str,
        default: Option<ThunkId>,
        at: Option<Src>,
    ) -> Value {
        self.select_in(set, name, default, at, None)
    }

    /// `set.name`; `pos` is where the key is written, when it is.
    fn select_in(
        &mut self,
        set: Value,
        name: &str,
        default: Option<ThunkId>,
        at: Option<Src>,
        pos: Option<KeyPos>,
    ) -> Value {
        match set {
            Value::Attrs(a) => match a.entries.get(name) {
                Some(e) => {
                    let t = e.value;
                    self.force(t)
                }
                None => match (default, &a.open) {
                    (_, Some(u)) => Value::Unknown(Rc::new(Unknown {
                        reason: format!("cannot tell whether `{name}` is there: {}", u.reason),
                        at: u.at.clone().or(at),
                    })),
                    (Some(d), None) => self.force(d),
                    (None, None) => Value::unknown(format!("attribute `{name}` is missing"), at),
                },
            },
            Value::Special(s) => prims::select_special(self, &s, name, at, pos),
            u @ Value::Unknown(_) => u,
            other => match default {
                Some(d) => self.force(d),
                None => Value::unknown(
                    format!("cannot select `{name}` from {}", other.type_name()),
                    at,
                ),
            },
        }
    }

    /// The file `import` reads for `p`: `p/default.nix` when `p` is a folder.
    pub fn module_file(&self, p: &RelPath) -> RelPath {
        if matches!(self.sources.files().kind(p), Ok(EntryKind::Directory)) {
            p.join("default.nix").expect("a child of a tree path")
        } else {
            p.clone()
        }
    }

    /// Import the file at `path` (a folder means its `default.nix`), once.
    pub fn import_path(&mut self, path: &PathValue, at: Option<Src>) -> Value {
        if self.rewritable() {
            // An edit of this file cannot change another.
            let what = at
                .as_ref()
                .map_or_else(|| path.describe(), |a| a.node.text());
            return Value::unknown(format!("`{}` imports another file", short(&what)), at);
        }
        let PathValue::Tree(p) = path else {
            return Value::unknown(
                format!("`{}` is outside the flake's folder", path.describe()),
                at,
            );
        };
        let p = self.module_file(p);
        if let Some(t) = self.imports.get(&p) {
            let t = *t;
            return self.force(t);
        }
        let id = match self.sources.load(&p) {
            Ok(id) => id,
            Err(e) => {
                return Value::unknown(format!("cannot read `./{p}`: {}", e.error), at);
            }
        };
        let root = match self.sources.get(id).root() {
            Ok(r) => r,
            Err(e) => {
                let (l, c) = match &e.range {
                    Some(r) => crate::error::line_col(&self.sources.get(id).text, r.start),
                    None => (1, 1),
                };
                return Value::unknown(format!("./{p}:{l}:{c}: {}", e.message), at);
            }
        };
        let base = self.base;
        let t = self.delay(&root, id, base);
        self.imports.insert(p, t);
        self.force(t)
    }
}

/// One line of an expression's text, shortened for messages.
pub fn short(s: &str) -> String {
    let one: String = s.split_whitespace().collect::<Vec<_>>().join(" ");
    if one.chars().count() > 40 {
        format!("{}...", one.chars().take(37).collect::<String>())
    } else {
        one
    }
}

/// Where key `i` of the selection `node` (whose keys are `view`) is
/// written, with the text before the key before it.
fn key_pos(
    node: &Node,
    view: &crate::syntax::SelectView,
    i: usize,
    file: FileId,
    env: EnvId,
) -> Option<KeyPos> {
    let key = view.keys.get(i)?.clone();
    let start = node.start();
    let before_previous = match i {
        0 => None,
        1 => Some(view.base.text()),
        _ => node
            .text()
            .get(..view.keys[i - 2].range.1 - start)
            .map(String::from),
    };
    Some(KeyPos {
        file,
        start,
        key,
        before_previous,
        env,
    })
}

#[cfg(test)]
mod tests;
