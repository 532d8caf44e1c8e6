//! Values one configuration gives a shared helper through its own call.
//!
//! A helper written once and called once per configuration is shared text:
//!
//! ```nix
//! mkHost = { name, system ? "x86_64-linux" }: nixpkgs.lib.nixosSystem {
//!   inherit system;
//!   specialArgs.unstable = import nixpkgs-unstable { inherit system; };
//!   ...
//! };
//! a = mkHost { name = "a"; };
//! ```
//!
//! Editing the default, or the `import` inside the helper, would change
//! every configuration. The call `mkHost { name = "a"; }` is `a`'s alone,
//! though, so a value for `a` goes there:
//! `a = mkHost { name = "a"; system = "aarch64-linux"; };`.
//!
//! Rules:
//! - the call is this configuration's own: a literal argument set written
//!   inside the configuration's own binding (`a = ...;`; a generated
//!   configuration has none), or a `let` variable that only that binding
//!   uses (a literal set, or dotted `host.modules = ...;` bindings);
//! - the argument set is not a `rec { }` (a new attribute there would be a
//!   new variable too);
//! - the helper reads the value as a formal's default (`system ? ...`) or as
//!   a selection's (`host.system or ...`), and uses its argument only
//!   through selections, so that one more attribute means nothing else;
//! - a value the helper does not take yet (a cross package set's
//!   `crossSystem`) is added with a default that means what the helper meant
//!   before: `crossSystem ? null`, or `host.crossSystem or null` (nixpkgs
//!   reads a null `crossSystem` as a native build), and only when no call of
//!   the helper passes that name already.

use crate::edit::TextEdit;
use crate::error::{Error, Result};
use crate::module;
use crate::ops::editor::Planner;
use crate::source::Src;
use crate::syntax::{self, DefaultOf, Entry, Node, Param};

/// An attribute this configuration can give a helper through its own call.
#[derive(Debug, Clone)]
pub(crate) struct ParamChannel {
    /// Where this configuration's argument is written.
    pub arg: ArgPlace,
    /// The attribute.
    pub name: String,
}

/// Where a configuration's own argument to a helper is written.
#[derive(Debug, Clone)]
pub(crate) enum ArgPlace {
    /// A literal set: `mkHost { ... }`, or `{ ... }` bound to a `let`
    /// variable that only this configuration uses.
    Set(Src),
    /// A `let` variable made of dotted bindings (`host.modules = [ ... ];`)
    /// that only this configuration uses: a new `host.<name> = ...;` goes
    /// after the last of them.
    Dotted {
        /// The last `<var>.<attr> = ...;` binding.
        last: Src,
        /// The variable.
        var: String,
    },
}

impl ArgPlace {
    /// The text it spans: the set, or the last dotted binding.
    fn src(&self) -> &Src {
        match self {
            ArgPlace::Set(s) => s,
            ArgPlace::Dotted { last, .. } => last,
        }
    }

    /// Whether it defines `name` already (or may, through a computed name).
    fn may_define(&self, name: &str) -> bool {
        let entries = match self {
            ArgPlace::Set(s) => s.node.attrset().map(|a| a.entries),
            ArgPlace::Dotted { last, var } => last
                .node
                .parent_set()
                .map(|a| a.entries.into_iter().filter(|e| e.defines(var)).collect()),
        };
        let Some(entries) = entries else { return true };
        entries.iter().any(|e| match (self, e) {
            (_, e) if e.is_dynamic() => true,
            (ArgPlace::Set(_), e) => e.defines(name),
            (ArgPlace::Dotted { .. }, Entry::Binding(b)) => b
                .path
                .as_ref()
                .is_some_and(|p| p.get(1).map(String::as_str) == Some(name)),
            (ArgPlace::Dotted { .. }, Entry::Inherit(_)) => true,
        })
    }
}

impl Planner<'_, '_> {
    /// This configuration's own call of the function `lambda`: its argument
    /// set, a literal inside the configuration's own binding.
    pub fn own_call(&self, lambda: &Src) -> Option<ArgPlace> {
        let at = self.config.at.as_ref()?;
        // `name = ...;`: a generated configuration's `at` is its generator,
        // which every configuration it makes shares.
        let Some(Entry::Binding(b)) = at.node.as_entry() else {
            return None;
        };
        if b.path.as_ref()?.last()? != &self.config.name {
            return None;
        }
        let mut found: Option<ArgPlace> = None;
        for (t, expr) in self.flake.ev.calls_of(lambda) {
            let place = match self.flake.ev.literal_set(t) {
                Some(set) if set.file == at.file && at.node.contains(&set.node) => {
                    Some(ArgPlace::Set(set))
                }
                // A variable: its `let` binding, when only this
                // configuration's binding uses it.
                _ => expr
                    .filter(|e| e.file == at.file && at.node.contains(&e.node))
                    .and_then(|e| self.own_variable(&e.node, &at.node)),
            };
            // A new attribute of a `rec { }` would be a new variable in it.
            let place = place.filter(|p| match p {
                ArgPlace::Set(s) => s.node.attrset().is_some_and(|a| !a.rec),
                ArgPlace::Dotted { .. } => true,
            });
            let Some(place) = place else { continue };
            match &found {
                Some(f) if f.src().range() != place.src().range() => return None,
                _ => found = Some(place),
            }
        }
        found
    }

    /// The `let` binding of the variable `expr`, as an argument place, when
    /// every use of that name in the file lies in `own` (the
    /// configuration's binding).
    fn own_variable(&self, expr: &Node, own: &Node) -> Option<ArgPlace> {
        let var = expr.unparen().ident()?;
        let file = self.config.at.as_ref()?.file;
        let root = self.flake.ev.sources.get(file).root().ok()?;
        let scope = expr.binder(&var)?;
        let l = scope.let_in()?;
        if !root
            .references(&var)
            .iter()
            .filter(|r| r.binder(&var).as_ref() == Some(&scope))
            .all(|r| own.contains(r))
        {
            return None;
        }
        let defs: Vec<&Entry> = l.entries.iter().filter(|e| e.defines(&var)).collect();
        let dotted = |e: &&Entry| matches!(e, Entry::Binding(b) if b.path.as_ref().is_some_and(|p| p.len() > 1));
        match &defs[..] {
            [Entry::Binding(b)] if b.path.as_ref().is_some_and(|p| p.len() == 1) => {
                let set = b.value.unparen();
                set.attrset()?;
                Some(ArgPlace::Set(Src::new(file, set)))
            }
            [.., Entry::Binding(last)] if defs.iter().all(dotted) => Some(ArgPlace::Dotted {
                last: Src::new(file, last.node.clone()),
                var,
            }),
            _ => None,
        }
    }

    /// Whether [`Planner::replace_literal`] can give `lit` a new value for
    /// this configuration alone: its text is this configuration's, or it
    /// is a helper's default that this configuration's own call can set.
    pub fn owns_literal(&self, lit: &Src) -> bool {
        self.private(lit.file, lit.range()) || self.param_channel(lit).is_some()
    }

    /// How this configuration's own call can replace the shared default
    /// `lit` of a helper's parameter, if it can.
    pub fn param_channel(&self, lit: &Src) -> Option<ParamChannel> {
        let (lambda, name) = match lit.node.default_of()? {
            DefaultOf::Formal { name, lambda } => (lambda, name),
            DefaultOf::Select { base, keys } => {
                let [key] = &keys[..] else { return None };
                let var = base.ident()?;
                let lambda = base.param_binder(&var)?;
                let takes = match lambda.lambda()?.param {
                    Param::Ident { name } => name == var,
                    Param::Pattern {
                        formals,
                        bind,
                        ellipsis,
                        ..
                    } => {
                        bind.as_deref() == Some(var.as_str())
                            && (ellipsis.is_some() || formals.iter().any(|f| &f.name == key))
                    }
                };
                if !takes {
                    return None;
                }
                (lambda, key.clone())
            }
        };
        if !takes_only_selections(&lambda) {
            return None;
        }
        let arg = self.own_call(&Src::new(lit.file, lambda))?;
        if arg.may_define(&name) {
            return None;
        }
        Some(ParamChannel { arg, name })
    }

    /// Give the attribute `ch.name` the value `value` (Nix text, generated
    /// at column 0) in this configuration's own call.
    pub fn set_call_arg(&mut self, ch: &ParamChannel, value: &str, reason: &str) -> Result<()> {
        let at = ch.arg.src();
        let key = (at.file, at.range(), ch.name.clone());
        match self.core.call_args.get(&key) {
            Some(v) if v == value => return Ok(()),
            Some(_) => {
                return Err(self.error_at(
                    Error::refused(format!(
                        "`{}` would be given two different values in this call",
                        ch.name
                    )),
                    at,
                ))
            }
            None => {}
        }
        self.core.call_args.insert(key, value.to_string());
        let reason = format!("{reason}, given in `{}`'s own call", self.config.name);
        let (file, text, layout) = (at.file, self.text(at.file), self.layout(at.file));
        let e = match &ch.arg {
            ArgPlace::Set(set) => {
                let set = set.node.attrset().expect("a literal set");
                module::insert_binding(
                    text,
                    layout,
                    &set,
                    &syntax::attr_name(&ch.name),
                    value,
                    module::Position::Last,
                )
            }
            ArgPlace::Dotted { last, var } => {
                let set = last.node.parent_set().expect("a let binding");
                let index = set
                    .entries
                    .iter()
                    .position(|e| matches!(e, Entry::Binding(b) if b.node == last.node))
                    .expect("a binding of its let");
                let key = format!("{}.{}", syntax::attr_name(var), syntax::attr_name(&ch.name));
                module::insert_after(text, layout, &set, index, &format!("{key} = {value};"))
            }
        };
        self.push(file, e, &reason);
        Ok(())
    }

    /// Give the package set `import ... <args>`, written in a helper that
    /// other configurations call too, a `crossSystem` for this
    /// configuration only: the helper takes it from its argument (null, a
    /// native build, by default), and this configuration's own call passes
    /// `value`. False when there is no such call, or the helper cannot take
    /// one more parameter safely.
    pub fn cross_through_call(&mut self, args: &Src, value: &str, reason: &str) -> Result<bool> {
        let Some(ch) = self.cross_channel(args) else {
            return Ok(false);
        };
        if ch.helper_edits.is_none() {
            // The call passes one already: its value changes.
            if let Some(b) = own_binding(&ch.arg, CROSS) {
                let Some(Entry::Binding(b)) = b.node.as_entry() else {
                    return Ok(false);
                };
                // On one line as it was, when it was.
                let text = if b.value.text().contains('\n') {
                    value.to_string()
                } else {
                    syntax::compact(value)
                };
                self.replace_node(&Src::new(ch.arg.src().file, b.value), &text, reason)?;
                return Ok(true);
            }
        }
        if ch.arg.may_define(CROSS) {
            return Ok(false);
        }
        if let Some((formal, entry)) = ch.helper_edits {
            let helper = format!(
                "{reason}: its helper takes `{CROSS}` (null, a native build, for the other configurations)"
            );
            if let Some(f) = formal {
                self.push(args.file, f, &helper);
            }
            self.push(args.file, entry, &helper);
        }
        let ch = ParamChannel {
            arg: ch.arg,
            name: CROSS.to_string(),
        };
        self.set_call_arg(&ch, value, reason)?;
        Ok(true)
    }

    /// Make the package set `import ... <args>` native again for this
    /// configuration when its helper takes `crossSystem` from the
    /// configuration's own call ([`Planner::cross_through_call`]): that
    /// call stops passing it. False when the helper does not.
    pub fn native_through_call(&mut self, args: &Src, reason: &str) -> Result<bool> {
        let Some(ch) = self.cross_channel(args) else {
            return Ok(false);
        };
        if ch.helper_edits.is_some() {
            return Ok(false);
        }
        if let Some(b) = own_binding(&ch.arg, CROSS) {
            self.remove_binding(&b, reason)?;
        }
        Ok(true)
    }

    /// How the helper around the package set's arguments `args` lets this
    /// configuration's own call give the set a `crossSystem`.
    fn cross_channel(&self, args: &Src) -> Option<CrossChannel> {
        let set = args.node.attrset()?;
        if set.entries.iter().any(Entry::is_dynamic) {
            return None;
        }
        let (lambda, arg) = args
            .node
            .enclosing_lambdas()
            .find_map(|l| Some((l.clone(), self.own_call(&Src::new(args.file, l))?)))?;
        if !takes_only_selections(&lambda) {
            return None;
        }
        let l = lambda.lambda()?;
        let given = set.entries.iter().find(|e| e.defines(CROSS));
        // Already through the call: `inherit crossSystem;` with the formal
        // `crossSystem ? null`, or `crossSystem = host.crossSystem or null;`.
        if let Some(e) = given {
            let taken = match (&l.param, e) {
                (Param::Pattern { formals, .. }, Entry::Inherit(i)) => {
                    i.from.is_none()
                        && args.node.binder(CROSS).as_ref() == Some(&lambda)
                        && formals.iter().any(|f| {
                            f.name == CROSS
                                && f.default.as_ref().is_some_and(|d| d.text() == "null")
                        })
                }
                (Param::Ident { name }, Entry::Binding(b)) => {
                    b.value.unparen().text() == format!("{name}.{CROSS} or null")
                        && args.node.param_binder(name).as_ref() == Some(&lambda)
                }
                _ => false,
            };
            return taken.then_some(CrossChannel {
                arg,
                helper_edits: None,
            });
        }
        // No call passes `crossSystem` already (it would start to count),
        // and nothing in the helper means another `crossSystem`.
        let lsrc = Src::new(args.file, lambda.clone());
        if self
            .flake
            .ev
            .calls_of(&lsrc)
            .any(|(t, _)| self.flake.ev.has_attr(t, CROSS) != Some(false))
            || !lambda.references(CROSS).is_empty()
        {
            return None;
        }
        let text = self.text(args.file);
        let layout = self.layout(args.file);
        let (formal, entry) = match &l.param {
            Param::Ident { name } => {
                if args.node.param_binder(name).as_ref() != Some(&lambda) {
                    return None;
                }
                (None, format!("{CROSS} = {name}.{CROSS} or null;"))
            }
            Param::Pattern { formals, .. } => {
                if formals.iter().any(|f| f.name == CROSS) {
                    return None;
                }
                let e = module::insert_formal(text, layout, &lambda, &format!("{CROSS} ? null"))?;
                (Some(e), format!("inherit {CROSS};"))
            }
        };
        // `inherit system;` already: one more name there.
        let plain_inherit = set.entries.iter().find_map(|e| match e {
            Entry::Inherit(i) if i.from.is_none() && !i.names.is_empty() => {
                i.names.last().map(|n| n.1 .1)
            }
            _ => None,
        });
        let entry = match (&formal, plain_inherit) {
            (Some(_), Some(end)) => TextEdit::insert(end, format!(" {CROSS}")),
            _ => module::insert_entry(text, layout, &set, &entry, module::Position::Last),
        };
        Some(CrossChannel {
            arg,
            helper_edits: Some((formal, entry)),
        })
    }
}

/// The binding of `name` in a configuration's own argument
/// (`name = ...;` in the set, or `<var>.name = ...;` in its `let`).
fn own_binding(arg: &ArgPlace, name: &str) -> Option<Src> {
    let (entries, path) = match arg {
        ArgPlace::Set(set) => (set.node.attrset()?.entries, vec![name.to_string()]),
        ArgPlace::Dotted { last, var } => (
            last.node.parent_set()?.entries,
            vec![var.clone(), name.to_string()],
        ),
    };
    entries.into_iter().find_map(|e| match e {
        Entry::Binding(b) if b.path.as_ref() == Some(&path) => {
            Some(Src::new(arg.src().file, b.node))
        }
        _ => None,
    })
}

/// The attribute nixpkgs takes the host platform from.
const CROSS: &str = "crossSystem";

/// How a helper lets one configuration's call give its package set a
/// `crossSystem` ([`Planner::cross_through_call`]).
struct CrossChannel {
    /// The configuration's own argument.
    arg: ArgPlace,
    /// The edits that make the helper take it (a new formal, and the
    /// package set's new entry); `None` when it already does.
    helper_edits: Option<(Option<TextEdit>, TextEdit)>,
}

/// Whether a helper uses its whole argument only through selections
/// (`host.system`, `args.name or ""`), so that an attribute more means
/// nothing to it but where it is selected.
fn takes_only_selections(lambda: &Node) -> bool {
    let Some(l) = lambda.lambda() else {
        return false;
    };
    let whole = match &l.param {
        Param::Ident { name } => Some(name.clone()),
        Param::Pattern { bind, .. } => bind.clone(),
    };
    whole.is_none_or(|w| {
        lambda
            .param_uses(&w, lambda)
            .iter()
            .all(Node::is_selected_from)
    })
}
