//! Scopes: the names a `let`, a `rec` set or a function binds, each scope
//! over its parent, with the `with` namespaces searched after every
//! lexical scope; and the lookup of a name through them.

use std::collections::HashMap;

use super::budget::cost;
use super::{EnvId, Evaluator, Src, ThunkId, Value};

/// A scope: the names it binds, over its parent's.
#[derive(Debug, Default)]
pub(super) struct Scope {
    pub(super) vars: Vars,
    parent: Option<EnvId>,
    /// `with ns;`: a namespace searched after every lexical scope.
    pub(super) with: Option<ThunkId>,
}

/// A scope's names: a few (a function's parameter, a short `let`) in a
/// list searched in order, which needs no hashing; more in a map.
#[derive(Debug)]
pub(super) enum Vars {
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

    pub(super) fn into_map(self) -> HashMap<String, ThunkId> {
        match self {
            Vars::Few(v) => v.into_iter().collect(),
            Vars::Many(m) => m,
        }
    }
}

impl Evaluator<'_> {
    pub(super) fn new_env(&mut self, parent: Option<EnvId>) -> EnvId {
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

    pub(super) fn bind(&mut self, env: EnvId, name: &str, t: ThunkId) {
        self.charge(cost::BINDING + name.len() as u64);
        self.envs[env.0 as usize].vars.insert(name, t);
    }

    /// Look `name` up in `env`: lexical scopes first, then `with` namespaces
    /// from the innermost out, then the built-ins.
    pub(super) fn lookup(&mut self, name: &str, env: EnvId, at: Option<&Src>) -> Value {
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
}
