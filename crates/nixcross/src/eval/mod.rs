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

mod budget;
mod prims;
mod trace;
mod value;

use std::cell::OnceCell;
use std::collections::{BTreeMap, HashMap};
use std::rc::Rc;

#[cfg(test)]
use budget::Limits;
pub use budget::MAX_BYTES;
use budget::{cost, Budget};

pub use value::{
    AttrEntry, Attrs, Closure, EnvId, ImportArgs, MadeBy, PathValue, PerSystem, Piece, PkgsSite,
    PkgsValue, PkgsVia, Prim, PrimApp, Property, Special, StrValue, SystemsHelper, ThunkId,
    Unknown, Value, Written,
};

use crate::files::{EntryKind, RelPath};
use crate::source::{FileId, SourceMap, Src};
use crate::syntax::{BinOp, Entry, Expr, Key, KeyAt, Node, Param, Part, PathKind};

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

#[derive(Debug, Default)]
struct Scope {
    vars: Vars,
    parent: Option<EnvId>,
    /// `with ns;`: a namespace searched after every lexical scope.
    with: Option<ThunkId>,
}

/// A scope's names: a few (a function's parameter, a short `let`) in a
/// list searched in order, which needs no hashing; more in a map.
#[derive(Debug)]
enum Vars {
    Few(Vec<(String, ThunkId)>),
    Many(HashMap<String, ThunkId>),
}

/// How many names a scope keeps in a list.
const FEW_VARS: usize = 8;

impl Default for Vars {
    fn default() -> Vars {
        Vars::Few(Vec::new())
    }
}

impl Vars {
    #[inline]
    fn get(&self, name: &str) -> Option<ThunkId> {
        match self {
            Vars::Few(v) => v.iter().find(|(k, _)| k == name).map(|(_, t)| *t),
            Vars::Many(m) => m.get(name).copied(),
        }
    }

    fn insert(&mut self, name: &str, t: ThunkId) {
        match self {
            Vars::Few(v) => {
                if let Some(e) = v.iter_mut().find(|(k, _)| k == name) {
                    e.1 = t;
                } else if v.len() < FEW_VARS {
                    if v.is_empty() {
                        // Most scopes are a function's one parameter.
                        v.reserve_exact(1);
                    }
                    v.push((name.to_string(), t));
                } else {
                    let mut m: HashMap<String, ThunkId> = v.drain(..).collect();
                    m.insert(name.to_string(), t);
                    *self = Vars::Many(m);
                }
            }
            Vars::Many(m) => {
                m.insert(name.to_string(), t);
            }
        }
    }

    fn into_map(self) -> HashMap<String, ThunkId> {
        match self {
            Vars::Few(v) => v.into_iter().collect(),
            Vars::Many(m) => m,
        }
    }
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

/// What every evaluator can reach: the built-ins (the base scope) and
/// nixpkgs' `lib`, a few hundred values made once per thread, the first time
/// an evaluator of that thread needs one, and shared by every evaluator of
/// that thread (they hold no syntax and never change). Their thunks are the
/// ids below [`PRELUDE_IDS`] of every arena; an evaluator's own thunks
/// start there.
struct Prelude {
    /// The values of thunks `0..values.len()`.
    values: Vec<Value>,
    /// The base scope's names.
    base: HashMap<String, ThunkId>,
    /// `lib` of the input called `nixpkgs`.
    lib: ThunkId,
}

/// How many decoded syntax nodes an evaluator keeps.
const DECODED_MAX: usize = 1 << 15;
/// The words of the bit set of nodes seen once (64 KiB).
const SEEN_WORDS: usize = 1 << 13;

/// The first id of an evaluator's own thunks: the prelude's are below it
/// (a few hundred of them).
const PRELUDE_IDS: u32 = 1 << 16;

impl Prelude {
    fn empty() -> Prelude {
        Prelude {
            values: Vec::new(),
            base: HashMap::new(),
            lib: ThunkId(0),
        }
    }

    fn build() -> Prelude {
        let files = crate::files::MemFiles::new();
        let empty = OnceCell::from(Rc::new(Prelude::empty()));
        // Its thunks get the ids from 0 on, which every other evaluator
        // leaves to the prelude.
        let mut ev = Evaluator::over(SourceMap::new(&files), empty, 0);
        prims::install(&mut ev);
        let lib = prims::lib_attrs(&mut ev, None);
        let values: Vec<Value> = ev
            .thunks
            .drain(..)
            .map(|t| match t {
                Thunk::Value(v) => v,
                _ => unreachable!("the built-ins and `lib` are values"),
            })
            .collect();
        assert!(
            values.len() < PRELUDE_IDS as usize,
            "the prelude fits below PRELUDE_IDS"
        );
        Prelude {
            values,
            base: std::mem::take(&mut ev.envs[0].vars).into_map(),
            lib,
        }
    }

    /// This thread's prelude, built on the first call.
    fn get() -> Rc<Prelude> {
        thread_local! {
            static PRELUDE: Kept = Kept(Rc::new(Prelude::build()));
        }
        PRELUDE.with(|p| Rc::clone(&p.0))
    }
}

/// A thread's prelude, left to the OS when the thread ends while it holds a
/// [`crate::syntax::KeepTreesUntilExit`].
struct Kept(Rc<Prelude>);

impl Drop for Kept {
    fn drop(&mut self) {
        if crate::syntax::trees_kept() {
            std::mem::forget(std::mem::replace(&mut self.0, Rc::new(Prelude::empty())));
        }
    }
}

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

/// A call of a function written in a file ([`Evaluator::calls_of`]).
#[derive(Debug, Clone)]
struct Call {
    /// Its argument.
    arg: ThunkId,
    /// The argument's expression, when it was not evaluated before the call.
    arg_expr: Option<Src>,
}

impl std::fmt::Debug for Evaluator<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Evaluator")
            .field("thunks", &self.thunks.len())
            .finish_non_exhaustive()
    }
}

/// How a value looks after forcing the parts that decide truth.
fn truth(v: &Value) -> Option<bool> {
    match v {
        Value::Bool(b) => Some(*b),
        _ => None,
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

    /// The arguments `lambda` was called with so far, in order, with their
    /// expressions when they were not evaluated before the call.
    pub fn calls_of<'s>(
        &'s self,
        lambda: &'s Src,
    ) -> impl Iterator<Item = (ThunkId, Option<&'s Src>)> + 's {
        self.calls
            .get(&(lambda.file, lambda.node.clone()))
            .into_iter()
            .flatten()
            .map(|c| (c.arg, c.arg_expr.as_ref()))
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

    fn new_env(&mut self, parent: Option<EnvId>) -> EnvId {
        self.charge(cost::SCOPE);
        let id = EnvId(self.envs.len() as u32);
        self.envs.push(Scope {
            vars: Vars::default(),
            parent,
            with: None,
        });
        id
    }

    /// The base scope (builtins only).
    pub fn base_env(&self) -> EnvId {
        self.base
    }

    fn bind(&mut self, env: EnvId, name: &str, t: ThunkId) {
        self.charge(cost::BINDING + name.len() as u64);
        self.envs[env.0 as usize].vars.insert(name, t);
    }

    /// The built-ins and `lib`, built the first time they are needed.
    fn prelude(&self) -> &Prelude {
        self.prelude.get_or_init(Prelude::get)
    }

    /// The nixpkgs `lib` stand-in (a thunk of the prelude's, which is built
    /// when that thunk is forced).
    pub fn lib(&mut self) -> ThunkId {
        match self.lib {
            Some(l) => l,
            None => {
                let l = self.alloc(Thunk::Lib);
                self.lib = Some(l);
                l
            }
        }
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

    /// A key's name; the error is unknown, or [`Special::AnySystem`].
    fn key_name(&mut self, key: &Key, file: FileId, env: EnvId) -> Result<String, Value> {
        match key {
            Key::Static(s) => Ok(s.clone()),
            Key::Dynamic(n) => {
                let v = self.eval(n, file, env);
                match self.coerce_text(&v) {
                    Some(s) => Ok(s),
                    None => Err(match v {
                        u @ Value::Unknown(_) => u,
                        Value::Special(s) if matches!(*s, Special::AnySystem) => Value::Special(s),
                        _ => Value::unknown(
                            format!("the attribute name `{}` is not a string", short(&n.text())),
                            Some(Src::new(file, n.clone())),
                        ),
                    }),
                }
            }
        }
    }

    /// Look `name` up in `env`: lexical scopes first, then `with` namespaces
    /// from the innermost out, then the built-ins.
    fn lookup(&mut self, name: &str, env: EnvId, at: Option<&Src>) -> Value {
        let mut cur = Some(env);
        let mut withs = Vec::new();
        while let Some(e) = cur {
            // Each scope searched is a step: a name looked up under
            // hundreds of nested scopes costs as much.
            self.budget.steps += 1;
            let scope = &self.envs[e.0 as usize];
            if let Some(t) = scope.vars.get(name) {
                return self.force(t);
            }
            if e == self.base {
                if let Some(t) = self.prelude().base.get(name) {
                    let t = *t;
                    return self.force(t);
                }
            }
            if let Some(w) = scope.with {
                withs.push(w);
            }
            cur = scope.parent;
        }
        // Not bound lexically: the innermost `with` that has it. A namespace
        // nixcross cannot list may have it; it is then the one only when no
        // outer `with` can have it either (Nix fails on a name no scope has).
        let mut unlisted: Option<Value> = None;
        for w in withs {
            let ns = self.force(w);
            let listed = match &ns {
                Value::Attrs(a) => {
                    if let Some(e) = a.entries.get(name) {
                        if unlisted.is_some() {
                            return self.ambiguous_with(name, at);
                        }
                        let t = e.value;
                        return self.force(t);
                    }
                    a.open.is_none()
                }
                _ => false,
            };
            if !listed {
                if unlisted.is_some() {
                    return self.ambiguous_with(name, at);
                }
                unlisted = Some(ns);
            }
        }
        match unlisted {
            Some(ns) => self.select(ns, name, None, at.cloned()),
            None => Value::unknown(format!("`{name}` is not defined"), at.cloned()),
        }
    }

    fn ambiguous_with(&self, name: &str, at: Option<&Src>) -> Value {
        Value::unknown(
            format!("`{name}` may come from a `with` namespace nixcross cannot list"),
            at.cloned(),
        )
    }

    /// Build the attributes of a set or `let` from its entries. Values are
    /// evaluated in `env`; `inherit x;` looks `x` up in `outer`.
    fn build_attrs(
        &mut self,
        entries: &[Entry],
        file: FileId,
        env: EnvId,
        outer: EnvId,
        src: Option<Src>,
    ) -> Attrs {
        let mut defs: Vec<Def> = Vec::new();
        let mut open = None;
        for e in entries {
            match e {
                Entry::Binding(b) => {
                    let mut keys = Vec::with_capacity(b.keys.len());
                    let mut hidden = None;
                    for k in &b.keys {
                        match self.key_name(k, file, env) {
                            Ok(n) => keys.push(n),
                            Err(v) => {
                                hidden = Some(match v {
                                    Value::Unknown(u) => u,
                                    _ => Rc::new(Unknown {
                                        reason: "a computed attribute name".into(),
                                        at: Some(Src::new(file, b.node.clone())),
                                    }),
                                });
                                break;
                            }
                        }
                    }
                    match (hidden, keys.is_empty()) {
                        // `${x} = ...;`: this set may hold more names.
                        (Some(u), true) => open = Some(u),
                        // `a.${x}.b = ...;`: only the set at `a` may.
                        (Some(u), false) => defs.push(Def {
                            keys,
                            value: DefValue::Open(u),
                            src: Src::new(file, b.node.clone()),
                        }),
                        (None, false) => defs.push(Def {
                            keys,
                            value: DefValue::Expr(b.value.clone()),
                            src: Src::new(file, b.node.clone()),
                        }),
                        (None, true) => {}
                    }
                }
                Entry::Inherit(i) => {
                    // `inherit (x) a;` evaluates `x` in the set's own scope
                    // (recursive in `let` and `rec`); `inherit a;` looks
                    // `a` up outside.
                    let from = i.from.as_ref().map(|f| self.delay(f, file, env));
                    for (name, _) in &i.names {
                        defs.push(Def {
                            keys: vec![name.clone()],
                            value: DefValue::Inherit { from },
                            src: Src::new(file, i.node.clone()),
                        });
                    }
                }
            }
        }
        self.charge(defs.len() as u64 * cost::ENTRY);
        let mut attrs = self.nest(defs, file, env, outer, 0);
        attrs.src = src;
        if attrs.open.is_none() {
            attrs.open = open;
        }
        attrs
    }

    /// Group definitions by their first key, as Nix's parser does: `a.b = 1;`
    /// and `a = { c = 2; };` make one set `a`.
    fn nest(
        &mut self,
        defs: Vec<Def>,
        file: FileId,
        env: EnvId,
        outer: EnvId,
        depth: usize,
    ) -> Attrs {
        let mut groups: BTreeMap<String, Vec<Def>> = BTreeMap::new();
        let mut order: Vec<String> = Vec::new();
        for d in defs {
            let k = d.keys[0].clone();
            if !groups.contains_key(&k) {
                order.push(k.clone());
            }
            groups.entry(k).or_default().push(d);
        }
        let mut attrs = Attrs::default();
        for k in order {
            let mut group = groups.remove(&k).unwrap_or_default();
            if group.len() == 1
                && group[0].keys.len() == 1
                && !matches!(group[0].value, DefValue::Open(_))
            {
                let d = group.pop().expect("one definition");
                let t = match d.value {
                    DefValue::Expr(n) => self.delay(&n, file, env),
                    DefValue::Inherit { from: None } => self.alloc(Thunk::Var {
                        name: k.clone(),
                        env: outer,
                        at: Some(d.src.clone()),
                    }),
                    DefValue::Inherit { from: Some(f) } => self.alloc(Thunk::Select {
                        set: f,
                        name: k.clone(),
                        default: None,
                    }),
                    DefValue::Open(_) => unreachable!("checked above"),
                };
                attrs.entries.insert(
                    k,
                    AttrEntry {
                        value: t,
                        def: Some(d.src),
                    },
                );
                continue;
            }
            // Several definitions, or a longer key: a nested set.
            let first_src = Some(group[0].src.clone());
            let mut inner: Vec<Def> = Vec::new();
            let mut conflict = None;
            let mut inner_open = None;
            for d in group {
                if let DefValue::Open(u) = &d.value {
                    if d.keys.len() == 1 {
                        inner_open = Some(u.clone());
                        continue;
                    }
                }
                if d.keys.len() > 1 {
                    inner.push(Def {
                        keys: d.keys[1..].to_vec(),
                        value: d.value,
                        src: d.src,
                    });
                    continue;
                }
                match d.value {
                    DefValue::Expr(n) => {
                        let v = n.unparen();
                        match v.attrset() {
                            Some(set) if !set.rec => {
                                for e in &set.entries {
                                    match e {
                                        Entry::Binding(b) => {
                                            let mut keys = Vec::new();
                                            let mut ok = true;
                                            for key in &b.keys {
                                                match self.key_name(key, file, env) {
                                                    Ok(n) => keys.push(n),
                                                    Err(_) => ok = false,
                                                }
                                            }
                                            if ok && !keys.is_empty() {
                                                inner.push(Def {
                                                    keys,
                                                    value: DefValue::Expr(b.value.clone()),
                                                    src: Src::new(file, b.node.clone()),
                                                });
                                            }
                                        }
                                        Entry::Inherit(i) => {
                                            let from =
                                                i.from.as_ref().map(|f| self.delay(f, file, env));
                                            for (name, _) in &i.names {
                                                inner.push(Def {
                                                    keys: vec![name.clone()],
                                                    value: DefValue::Inherit { from },
                                                    src: Src::new(file, i.node.clone()),
                                                });
                                            }
                                        }
                                    }
                                }
                            }
                            _ => conflict = Some(n.clone()),
                        }
                    }
                    DefValue::Inherit { .. } => conflict = Some(d.src.node.clone()),
                    DefValue::Open(_) => {}
                }
            }
            let t = if let Some(n) = conflict {
                self.value(Value::unknown(
                    format!("`{k}` is defined more than once"),
                    Some(Src::new(file, n)),
                ))
            } else if depth > 200 {
                self.value(Value::unknown(
                    "the attribute path is too long to follow",
                    None,
                ))
            } else {
                let mut nested = self.nest(inner, file, env, outer, depth + 1);
                if nested.open.is_none() {
                    nested.open = inner_open;
                }
                self.value(Value::Attrs(Rc::new(nested)))
            };
            attrs.entries.insert(
                k,
                AttrEntry {
                    value: t,
                    def: first_src,
                },
            );
        }
        attrs
    }

    fn eval_string(&mut self, node: &Node, parts: &[Part], file: FileId, env: EnvId) -> Value {
        let mut pieces: Vec<Piece> = Vec::new();
        let mut literal = true;
        for p in parts {
            match p {
                Part::Text(t) => {
                    self.charge(t.len() as u64);
                    push_text(&mut pieces, t)
                }
                Part::Interpolation(e) => {
                    literal = false;
                    let v = self.eval(e, file, env);
                    if parts.len() == 1
                        && matches!(&v, Value::Special(s) if matches!(**s, Special::AnySystem))
                    {
                        // `"${system}"` of a helper whose systems are not listed.
                        return v;
                    }
                    match self.coerce_pieces(&v) {
                        Some(ps) => {
                            // The copy is charged; so is what it is copied into.
                            if let Err(u) =
                                self.reserve(text_bytes(&ps), Some(&Src::new(file, e.clone())))
                            {
                                return u;
                            }
                            for p in ps {
                                match p {
                                    Piece::Text(t) => push_text(&mut pieces, &t),
                                    path => pieces.push(path),
                                }
                            }
                        }
                        None => {
                            return match v {
                                u @ Value::Unknown(_) => u,
                                other => Value::unknown(
                                    format!(
                                        "cannot interpolate {} into a string",
                                        other.type_name()
                                    ),
                                    Some(Src::new(file, e.clone())),
                                ),
                            }
                        }
                    }
                }
            }
        }
        if pieces.is_empty() {
            pieces.push(Piece::Text(String::new()));
        }
        Value::Str(Rc::new(StrValue {
            pieces,
            origin: literal.then(|| Src::new(file, node.clone())),
        }))
    }

    fn eval_path(
        &mut self,
        node: &Node,
        kind: PathKind,
        parts: &[Part],
        file: FileId,
        env: EnvId,
    ) -> Value {
        let mut text = String::new();
        for p in parts {
            match p {
                Part::Text(t) => text.push_str(t),
                Part::Interpolation(e) => {
                    let v = self.eval(e, file, env);
                    match self.coerce_text(&v) {
                        Some(s) => text.push_str(&s),
                        None => {
                            return match v {
                                u @ Value::Unknown(_) => u,
                                _ => Value::unknown(
                                    "cannot interpolate this value into a path",
                                    self.here(node, file),
                                ),
                            }
                        }
                    }
                }
            }
        }
        let pv = match kind {
            PathKind::Relative => {
                let source = self.sources.get(file);
                if source.ambiguous_base {
                    return Value::unknown(
                        format!(
                            "`{text}` is relative, and `{}` is reached through links from more than one folder",
                            source.path
                        ),
                        self.here(node, file),
                    );
                }
                let here = source.loaded_as.clone();
                let lit = if text.starts_with("./") || text.starts_with("../") || text == "." {
                    text.clone()
                } else {
                    format!("./{text}")
                };
                match here.join_nix(&lit) {
                    Some(p) => PathValue::Tree(p),
                    None => PathValue::Outside(text),
                }
            }
            PathKind::Absolute | PathKind::Home => PathValue::Outside(text),
            PathKind::Search => PathValue::Outside(format!("<{text}>")),
        };
        Value::Path(Rc::new(pv))
    }

    /// A value as string pieces, the way `"${...}"` coerces it.
    pub fn coerce_pieces(&mut self, v: &Value) -> Option<Vec<Piece>> {
        match v {
            Value::Str(s) => {
                self.charge(text_bytes(&s.pieces));
                Some(s.pieces.clone())
            }
            Value::Path(p) => Some(vec![Piece::Path((**p).clone())]),
            Value::Int(i) => Some(vec![Piece::Text(i.to_string())]),
            Value::Attrs(a) => {
                let t = a.entries.get("outPath")?.value;
                let inner = self.force(t);
                self.deeper(|ev| ev.coerce_pieces(&inner)).flatten()
            }
            Value::Special(s) => match &**s {
                Special::Input { name, path, .. } if path.is_empty() || path == &["outPath"] => {
                    Some(vec![Piece::Path(PathValue::Elsewhere {
                        base: name.clone(),
                        rest: String::new(),
                    })])
                }
                _ => None,
            },
            _ => None,
        }
    }

    /// A value as plain text (no paths).
    pub fn coerce_text(&mut self, v: &Value) -> Option<String> {
        let pieces = self.coerce_pieces(v)?;
        let mut out = String::new();
        for p in pieces {
            match p {
                Piece::Text(t) => out.push_str(&t),
                Piece::Path(PathValue::Tree(p)) => {
                    out.push_str(&format!("/nixcross-flake/{}", p.as_str()))
                }
                Piece::Path(_) => return None,
            }
        }
        Some(out)
    }

    fn binop(
        &mut self,
        node: &Node,
        op: BinOp,
        l: &Node,
        r: &Node,
        file: FileId,
        env: EnvId,
    ) -> Value {
        let at = self.here(node, file);
        match op {
            BinOp::And | BinOp::Or | BinOp::Implication => {
                let lv = self.eval(l, file, env);
                let short_circuit = match (op, truth(&lv)) {
                    (BinOp::And, Some(false)) => Some(false),
                    (BinOp::Or, Some(true)) => Some(true),
                    (BinOp::Implication, Some(false)) => Some(true),
                    (_, None) => return unknown_or(lv, "a condition is not known", at),
                    _ => None,
                };
                if let Some(b) = short_circuit {
                    return Value::Bool(b);
                }
                let rv = self.eval(r, file, env);
                match truth(&rv) {
                    Some(b) => Value::Bool(b),
                    None => unknown_or(rv, "a condition is not known", at),
                }
            }
            BinOp::Update => {
                let lt = self.delay(l, file, env);
                let rt = self.delay(r, file, env);
                let lv = self.force(lt);
                let rv = self.force(rt);
                self.update(lv, rv, at)
            }
            BinOp::Concat => {
                let lv = self.eval(l, file, env);
                let rv = self.eval(r, file, env);
                match (lv, rv) {
                    (Value::List(a), Value::List(b)) => {
                        // `l ++ l` doubles: charged before it is built.
                        let items = (a.len() + b.len()) as u64;
                        if let Err(u) = self.reserve(items * cost::LIST_ITEM, at.as_ref()) {
                            return u;
                        }
                        let mut v: Vec<ThunkId> = (*a).clone();
                        v.extend(b.iter().copied());
                        Value::List(Rc::new(v))
                    }
                    (u @ Value::Unknown(_), _) | (_, u @ Value::Unknown(_)) => u,
                    _ => Value::unknown("`++` of values that are not lists", at),
                }
            }
            BinOp::Equal | BinOp::NotEqual => {
                let lv = self.eval(l, file, env);
                let rv = self.eval(r, file, env);
                match (self.equal(&lv, &rv), lv, rv) {
                    (Some(b), _, _) => Value::Bool(if op == BinOp::Equal { b } else { !b }),
                    (None, u @ Value::Unknown(_), _) | (None, _, u @ Value::Unknown(_)) => u,
                    (None, ..) if self.budget.over() => self.spent_at(at.as_ref()),
                    (None, ..) => Value::unknown("cannot tell whether the two sides are equal", at),
                }
            }
            BinOp::Add => {
                let lv = self.eval(l, file, env);
                let rv = self.eval(r, file, env);
                self.add(lv, rv, at)
            }
            BinOp::Sub | BinOp::Mul | BinOp::Div => {
                let lv = self.eval(l, file, env);
                let rv = self.eval(r, file, env);
                match (lv, rv) {
                    (Value::Int(a), Value::Int(b)) => match op {
                        BinOp::Sub => Value::Int(a.wrapping_sub(b)),
                        BinOp::Mul => Value::Int(a.wrapping_mul(b)),
                        _ if b != 0 => Value::Int(a / b),
                        _ => Value::unknown("division by zero", at),
                    },
                    (u @ Value::Unknown(_), _) | (_, u @ Value::Unknown(_)) => u,
                    _ => Value::unknown("arithmetic nixcross does not follow", at),
                }
            }
            BinOp::Less | BinOp::LessOrEq | BinOp::More | BinOp::MoreOrEq => {
                let lv = self.eval(l, file, env);
                let rv = self.eval(r, file, env);
                let ord = match (&lv, &rv) {
                    (Value::Int(a), Value::Int(b)) => Some(a.cmp(b)),
                    (Value::Str(_), Value::Str(_)) => {
                        lv.as_text().zip(rv.as_text()).map(|(a, b)| a.cmp(&b))
                    }
                    _ => None,
                };
                match ord {
                    Some(o) => Value::Bool(match op {
                        BinOp::Less => o.is_lt(),
                        BinOp::LessOrEq => o.is_le(),
                        BinOp::More => o.is_gt(),
                        _ => o.is_ge(),
                    }),
                    None => Value::unknown("a comparison nixcross does not follow", at),
                }
            }
            BinOp::Pipe => Value::unknown("the pipe operators are not Nix 2.8", at),
        }
    }

    fn add(&mut self, lv: Value, rv: Value, at: Option<Src>) -> Value {
        match (&lv, &rv) {
            (Value::Int(a), Value::Int(b)) => Value::Int(a.wrapping_add(*b)),
            (Value::Path(p), _) => match self.coerce_text(&rv) {
                Some(s) => Value::Path(Rc::new(p.append(&s))),
                None => unknown_or(rv, "cannot append this value to a path", at),
            },
            (Value::Str(a), _) => match self.coerce_pieces(&rv) {
                Some(ps) => {
                    // `s + s` doubles: charged before it is built.
                    if let Err(u) =
                        self.reserve(text_bytes(&a.pieces) + text_bytes(&ps), at.as_ref())
                    {
                        return u;
                    }
                    let mut pieces = a.pieces.clone();
                    for p in ps {
                        match p {
                            Piece::Text(t) => push_text(&mut pieces, &t),
                            path => pieces.push(path),
                        }
                    }
                    Value::Str(Rc::new(StrValue {
                        pieces,
                        origin: None,
                    }))
                }
                None => unknown_or(rv, "cannot append this value to a string", at),
            },
            (Value::Unknown(_), _) => lv,
            (_, Value::Unknown(_)) => rv,
            (Value::Special(_), _) => match self.coerce_pieces(&lv) {
                Some(mut ps) => {
                    let Some(rs) = self.coerce_pieces(&rv) else {
                        return Value::unknown("cannot append this value", at);
                    };
                    ps.extend(rs);
                    Value::Str(Rc::new(StrValue {
                        pieces: ps,
                        origin: None,
                    }))
                }
                None => Value::unknown("`+` on a value nixcross does not follow", at),
            },
            _ => Value::unknown("`+` on values nixcross does not follow", at),
        }
    }

    /// `a // b`.
    pub fn update(&mut self, lv: Value, rv: Value, at: Option<Src>) -> Value {
        let as_set = |v: &Value| -> Option<Attrs> {
            match v {
                Value::Attrs(a) => Some((**a).clone()),
                Value::Unknown(u) => Some(Attrs {
                    entries: BTreeMap::new(),
                    open: Some(u.clone()),
                    src: None,
                    made_by: None,
                }),
                // Another flake's attributes (`lib // home-manager.lib`)
                // are not read; nixcross assumes they do not replace the
                // names the other side defines (as the stand-ins for
                // inputs in an evaluation do).
                Value::Special(s) if matches!(**s, Special::Input { .. }) => Some(Attrs::default()),
                _ => None,
            }
        };
        let is_system = |v: &Value| matches!(v, Value::Special(s) if matches!(**s, Special::NixosSystem { .. }));
        if is_system(&lv) || is_system(&rv) {
            return Value::unknown(
                "the configuration is built with `//`, so nixcross cannot tell which side decides it",
                at,
            );
        }
        // The copy of the left side, then the right side's entries.
        let entries = |v: &Value| match v {
            Value::Attrs(a) => a.entries.len() as u64,
            _ => 0,
        };
        if let Err(u) = self.reserve((entries(&lv) + entries(&rv)) * cost::ENTRY, at.as_ref()) {
            return u;
        }
        let (Some(mut l), Some(r)) = (as_set(&lv), as_set(&rv)) else {
            return Value::unknown("`//` of values that are not attribute sets", at);
        };
        // Right wins; but a name the right side may hide is unknown.
        if let Some(u) = &r.open {
            let keys: Vec<String> = l.entries.keys().cloned().collect();
            for k in keys {
                if !r.entries.contains_key(&k) {
                    let t = self.value(Value::Unknown(Rc::new(Unknown {
                        reason: format!(
                            "`{k}` may be replaced by the right side of `//`: {}",
                            u.reason
                        ),
                        at: u.at.clone(),
                    })));
                    l.entries.insert(
                        k,
                        AttrEntry {
                            value: t,
                            def: None,
                        },
                    );
                }
            }
            l.open = Some(u.clone());
        }
        for (k, e) in r.entries {
            l.entries.insert(k, e);
        }
        l.src = None;
        l.made_by = None;
        Value::Attrs(Rc::new(l))
    }

    /// Structural equality, when it can be decided.
    pub fn equal(&mut self, a: &Value, b: &Value) -> Option<bool> {
        // A comparison is a step: `unique` and `elem` compare in loops.
        if self.tick() {
            return None;
        }
        match (a, b) {
            (Value::Null, Value::Null) => Some(true),
            (Value::Bool(x), Value::Bool(y)) => Some(x == y),
            (Value::Int(x), Value::Int(y)) => Some(x == y),
            (Value::Float(x), Value::Float(y)) => Some(x == y),
            (Value::Str(x), Value::Str(y)) => Some(x.pieces == y.pieces),
            (Value::Path(x), Value::Path(y)) => Some(x == y),
            (Value::List(x), Value::List(y)) => {
                if x.len() != y.len() {
                    return Some(false);
                }
                for (p, q) in x.iter().zip(y.iter()) {
                    let (p, q) = (self.force(*p), self.force(*q));
                    if !self.deeper(|ev| ev.equal(&p, &q)).flatten()? {
                        return Some(false);
                    }
                }
                Some(true)
            }
            (Value::Attrs(x), Value::Attrs(y)) => {
                if x.open.is_some() || y.open.is_some() {
                    return None;
                }
                if x.entries.len() != y.entries.len() {
                    return Some(false);
                }
                for (k, e) in &x.entries {
                    let Some(f) = y.entries.get(k) else {
                        return Some(false);
                    };
                    let (p, q) = (self.force(e.value), self.force(f.value));
                    if !self.deeper(|ev| ev.equal(&p, &q)).flatten()? {
                        return Some(false);
                    }
                }
                Some(true)
            }
            (Value::Unknown(_), _) | (_, Value::Unknown(_)) => None,
            (Value::Lambda(_) | Value::Prim(_) | Value::Special(_), _)
            | (_, Value::Lambda(_) | Value::Prim(_) | Value::Special(_)) => None,
            _ => Some(false),
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

    /// Apply a function value to an argument.
    pub fn apply(&mut self, f: Value, arg: ThunkId, at: Option<Src>) -> Value {
        if self.tick() {
            return self.spent_at(at.as_ref());
        }
        match f {
            Value::Lambda(c) => self.call_closure(&c, arg),
            Value::Prim(p) => {
                let mut args = p.args.clone();
                args.push(arg);
                if args.len() < prims::arity(p.prim) {
                    return Value::Prim(Rc::new(PrimApp {
                        prim: p.prim,
                        args,
                        input: p.input.clone(),
                    }));
                }
                if self.depth >= MAX_DEPTH {
                    return Value::unknown("the expression is nested too deeply to follow", at);
                }
                self.depth += 1;
                let outer = std::mem::replace(&mut self.in_prim, at.clone());
                let v = prims::run(self, p.prim, &args, p.input.as_deref(), at);
                self.in_prim = outer;
                self.depth -= 1;
                v
            }
            Value::Attrs(a) => match a.entries.get("__functor") {
                Some(e) => {
                    let ft = e.value;
                    let fv = self.force(ft);
                    let me = self.value(Value::Attrs(a.clone()));
                    let g = self.apply(fv, me, at.clone());
                    self.apply(g, arg, at)
                }
                None => Value::unknown("an attribute set is called as a function", at),
            },
            Value::Special(s) => prims::apply_special(self, &s, arg, at),
            u @ Value::Unknown(_) => u,
            other => Value::unknown(format!("{} is called as a function", other.type_name()), at),
        }
    }

    fn call_closure(&mut self, c: &Closure, arg: ThunkId) -> Value {
        let file = c.src.file;
        let arg_expr = self.pending_expr(arg);
        self.charge(cost::CALL);
        self.calls
            .entry((file, c.src.node.clone()))
            .or_default()
            .push(Call { arg, arg_expr });
        let env = self.new_env(Some(c.env));
        match &c.lambda.param {
            Param::Ident { name } => self.bind(env, name, arg),
            Param::Pattern { formals, bind, .. } => {
                let av = self.force(arg);
                let set = match &av {
                    Value::Attrs(a) => Some(a.clone()),
                    _ => None,
                };
                for f in formals {
                    let given = set
                        .as_ref()
                        .and_then(|s| s.entries.get(&f.name))
                        .map(|e| e.value);
                    let t = match (given, &f.default) {
                        (Some(t), _) => t,
                        (None, Some(d)) if set.as_ref().is_none_or(|s| s.open.is_none()) => {
                            self.delay(d, file, env)
                        }
                        (None, _) => {
                            let reason = match (&av, &set) {
                                (Value::Unknown(u), _) => u.reason.clone(),
                                (_, Some(s)) if s.open.is_some() => {
                                    format!("`{}` may or may not be given to this function", f.name)
                                }
                                _ => format!("the function's argument `{}` is not given", f.name),
                            };
                            self.value(Value::unknown(reason, Some(c.src.clone())))
                        }
                    };
                    self.bind(env, &f.name, t);
                }
                if let Some(b) = bind {
                    self.bind(env, b, arg);
                }
            }
        }
        let body = c.lambda.body.clone();
        self.eval(&body, file, env)
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

/// What a string's pieces cost: their text and the pieces themselves.
fn text_bytes(pieces: &[Piece]) -> u64 {
    pieces
        .iter()
        .map(|p| match p {
            Piece::Text(t) => t.len() as u64 + cost::PIECE,
            Piece::Path(_) => cost::PIECE,
        })
        .sum()
}

fn push_text(pieces: &mut Vec<Piece>, t: &str) {
    if let Some(Piece::Text(last)) = pieces.last_mut() {
        last.push_str(t);
    } else {
        pieces.push(Piece::Text(t.to_string()));
    }
}

fn unknown_or(v: Value, reason: &str, at: Option<Src>) -> Value {
    match v {
        u @ Value::Unknown(_) => u,
        _ => Value::unknown(reason, at),
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

/// One definition of a set or `let` before nesting: `a.b = v;` is keys
/// `[a, b]`; `src` is the entry that writes it.
struct Def {
    keys: Vec<String>,
    value: DefValue,
    src: Src,
}

enum DefValue {
    Expr(Node),
    Inherit {
        from: Option<ThunkId>,
    },
    /// Names computed from something unknown go into the set at these keys.
    Open(Rc<Unknown>),
}

#[cfg(test)]
mod tests;
