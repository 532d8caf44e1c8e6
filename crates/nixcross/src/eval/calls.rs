//! Calling a function: a closure (every call of a function written in a
//! file is recorded, for [`Evaluator::calls_of`]), a built-in once it has
//! all its arguments, a set with `__functor`, or a stand-in.

use std::rc::Rc;

use super::budget::cost;
use super::{prims, Closure, Evaluator, PrimApp, ThunkId, Value, MAX_DEPTH};
use crate::source::Src;
use crate::syntax::Param;

/// A call of a function written in a file ([`Evaluator::calls_of`]).
#[derive(Debug, Clone)]
pub(super) struct Call {
    /// Its argument.
    arg: ThunkId,
    /// The argument's expression, when it was not evaluated before the call.
    arg_expr: Option<Src>,
}

impl Evaluator<'_> {
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
}
