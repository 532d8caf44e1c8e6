//! The operators: `&&`, `||`, `->`, `//`, `++`, `==`, `+`, arithmetic and
//! comparison, with the structural equality `==` decides by.

use std::collections::BTreeMap;
use std::rc::Rc;

use super::budget::cost;
use super::strings::{push_text, text_bytes};
use super::{
    AttrEntry, Attrs, EnvId, Evaluator, Piece, Special, StrValue, ThunkId, Unknown, Value,
};
use crate::source::{FileId, Src};
use crate::syntax::{BinOp, Node};

impl Evaluator<'_> {
    pub(super) fn binop(
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
}

/// How a value looks after forcing the parts that decide truth.
pub(super) fn truth(v: &Value) -> Option<bool> {
    match v {
        Value::Bool(b) => Some(*b),
        _ => None,
    }
}

fn unknown_or(v: Value, reason: &str, at: Option<Src>) -> Value {
    match v {
        u @ Value::Unknown(_) => u,
        _ => Value::unknown(reason, at),
    }
}
