//! The bindings of a set or `let`: keys grouped and nested as Nix's parser
//! nests them (`a.b = 1;` and `a = { c = 2; };` make one set `a`),
//! `inherit`, and names computed from something unknown.

use std::collections::BTreeMap;
use std::rc::Rc;

use super::budget::cost;
use super::{short, AttrEntry, Attrs, EnvId, Evaluator, Special, Thunk, ThunkId, Unknown, Value};
use crate::source::{FileId, Src};
use crate::syntax::{Entry, Key, Node};

impl Evaluator<'_> {
    /// A key's name; the error is unknown, or [`Special::AnySystem`].
    pub(super) fn key_name(
        &mut self,
        key: &Key,
        file: FileId,
        env: EnvId,
    ) -> Result<String, Value> {
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

    /// Build the attributes of a set or `let` from its entries. Values are
    /// evaluated in `env`; `inherit x;` looks `x` up in `outer`.
    pub(super) fn build_attrs(
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
