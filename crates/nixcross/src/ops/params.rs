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
//!   configuration has none);
//! - the helper reads the value as a formal's default (`system ? ...`) or as
//!   a selection's (`host.system or ...`), and uses its argument only
//!   through selections, so that one more attribute means nothing else;
//! - a value the helper does not take yet (a cross package set's
//!   `crossSystem`) is added with a default that means what the helper meant
//!   before: `crossSystem ? null`, or `host.crossSystem or null` (nixpkgs
//!   reads a null `crossSystem` as a native build), and only when no call of
//!   the helper passes that name already.

use crate::error::{Error, Result};
use crate::module;
use crate::ops::editor::Planner;
use crate::source::Src;
use crate::syntax::{self, DefaultOf, Entry, Node, Param};

/// An attribute this configuration can give a helper through its own call.
#[derive(Debug, Clone)]
pub(crate) struct ParamChannel {
    /// This configuration's argument set (a literal).
    pub arg: Src,
    /// The attribute.
    pub name: String,
}

impl Planner<'_, '_> {
    /// This configuration's own call of the function `lambda`: its argument
    /// set, a literal inside the configuration's own binding.
    pub fn own_call(&self, lambda: &Src) -> Option<Src> {
        let at = self.config.at.as_ref()?;
        // `name = ...;`: a generated configuration's `at` is its generator,
        // which every configuration it makes shares.
        let Some(Entry::Binding(b)) = at.node.as_entry() else {
            return None;
        };
        if b.path.as_ref()?.last()? != &self.config.name {
            return None;
        }
        let mut found: Option<Src> = None;
        for t in self.flake.ev.calls_of(lambda) {
            let Some(set) = self.flake.ev.literal_set(t) else {
                continue;
            };
            if set.file != at.file || !at.node.contains(&set.node) {
                continue;
            }
            match &found {
                Some(f) if f.range() != set.range() => return None,
                _ => found = Some(set),
            }
        }
        found
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
        let set = arg.node.attrset()?;
        if set
            .entries
            .iter()
            .any(|e| e.defines(&name) || e.is_dynamic())
        {
            return None;
        }
        Some(ParamChannel { arg, name })
    }

    /// Give the attribute `ch.name` the value `value` (Nix text, generated
    /// at column 0) in this configuration's own call.
    pub fn set_call_arg(&mut self, ch: &ParamChannel, value: &str, reason: &str) -> Result<()> {
        let key = (ch.arg.file, ch.arg.range(), ch.name.clone());
        match self.core.call_args.get(&key) {
            Some(v) if v == value => return Ok(()),
            Some(_) => {
                return Err(self.error_at(
                    Error::refused(format!(
                        "`{}` would be given two different values in this call",
                        ch.name
                    )),
                    &ch.arg,
                ))
            }
            None => {}
        }
        self.core.call_args.insert(key, value.to_string());
        let reason = format!("{reason}, given in `{}`'s own call", self.config.name);
        let set = ch.arg.node.attrset().expect("a literal set");
        let e = module::insert_binding(
            self.text(ch.arg.file),
            self.layout(ch.arg.file),
            &set,
            &syntax::attr_name(&ch.name),
            value,
            module::Position::Last,
        );
        self.push(ch.arg.file, e, &reason);
        Ok(())
    }

    /// Give the package set `import ... <args>`, written in a helper that
    /// other configurations call too, a `crossSystem` for this
    /// configuration only: the helper takes it from its argument (null, a
    /// native build, by default), and this configuration's own call passes
    /// `value`. False when there is no such call, or the helper cannot take
    /// one more parameter safely.
    pub fn cross_through_call(&mut self, args: &Src, value: &str, reason: &str) -> Result<bool> {
        const NAME: &str = "crossSystem";
        let Some(set) = args.node.attrset() else {
            return Ok(false);
        };
        if set
            .entries
            .iter()
            .any(|e| e.defines(NAME) || e.is_dynamic())
        {
            return Ok(false);
        }
        let Some((lambda, arg)) = args
            .node
            .enclosing_lambdas()
            .find_map(|l| Some((l.clone(), self.own_call(&Src::new(args.file, l))?)))
        else {
            return Ok(false);
        };
        let lsrc = Src::new(args.file, lambda.clone());
        // No call passes `crossSystem` already (it would start to count),
        // and nothing in the helper means another `crossSystem`.
        let calls: Vec<_> = self.flake.ev.calls_of(&lsrc).collect();
        if calls
            .iter()
            .any(|t| self.flake.ev.has_attr(*t, NAME) != Some(false))
            || !lambda.references(NAME).is_empty()
            || !takes_only_selections(&lambda)
        {
            return Ok(false);
        }
        let Some(l) = lambda.lambda() else {
            return Ok(false);
        };
        let text = self.text(args.file);
        let layout = self.layout(args.file);
        let (formal, entry) = match &l.param {
            Param::Ident { name } => {
                if args.node.param_binder(name).as_ref() != Some(&lambda) {
                    return Ok(false);
                }
                (None, format!("{NAME} = {name}.{NAME} or null;"))
            }
            Param::Pattern { formals, .. } => {
                if formals.iter().any(|f| f.name == NAME) {
                    return Ok(false);
                }
                let Some(e) =
                    module::insert_formal(text, layout, &lambda, &format!("{NAME} ? null"))
                else {
                    return Ok(false);
                };
                (Some(e), format!("inherit {NAME};"))
            }
        };
        // `inherit system;` already: one more name there.
        let plain_inherit = set.entries.iter().find_map(|e| match e {
            Entry::Inherit(i) if i.from.is_none() && !i.names.is_empty() => {
                i.names.last().map(|n| n.1 .1)
            }
            _ => None,
        });
        let e = match (&formal, plain_inherit) {
            (Some(_), Some(end)) => crate::edit::TextEdit::insert(end, format!(" {NAME}")),
            _ => module::insert_entry(text, layout, &set, &entry, module::Position::Last),
        };
        if let Some(f) = formal {
            self.push(args.file, f, reason);
        }
        self.push(args.file, e, reason);
        let ch = ParamChannel {
            arg,
            name: NAME.to_string(),
        };
        self.set_call_arg(&ch, value, reason)?;
        Ok(true)
    }
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
