//! What a configuration says about the machine it runs on as a *build
//! host*: the remote builders it hands builds to (`nix.buildMachines`) and
//! the switches around them (`nix.distributedBuilds`,
//! `nix.settings.builders-use-substitutes`,
//! `boot.binfmt.preferStaticEmulators`), read across its modules as NixOS
//! merges them. `add-builder` and `emulate` edit these; the self-check of
//! every edit (`crate::proof`) reads them before and after.

use std::collections::BTreeMap;

use crate::eval::{Evaluator, ThunkId, Value};
use crate::source::Src;
use crate::syntax::{Entry, Kind, Node};
pub(crate) use crate::vocab::Toggle;

/// One definition of a toggle.
#[derive(Debug, Clone)]
pub(crate) struct ToggleDef {
    pub toggle: Toggle,
    /// Its priority (lower wins).
    pub priority: u32,
    /// The value; `None` when it is not a boolean nixcross can read.
    pub value: Option<bool>,
}

/// One `nix.buildMachines` entry as NixOS reads it: each field's value in
/// one canonical text (a list's items joined with `,`; `system` and
/// `systems` together as `systems`; `protocol` defaulting to `ssh`).
pub(crate) type BuilderFields = BTreeMap<String, String>;

/// What a configuration's modules say about the build host.
#[derive(Debug, Clone, Default)]
pub(crate) struct HostSettings {
    /// Every `nix.buildMachines` entry, in module order.
    pub builders: Vec<BuilderFields>,
    /// Why the list of builders is not known, if it is not.
    pub builders_unknown: Option<String>,
    /// Every definition of the toggles.
    pub toggles: Vec<ToggleDef>,
    /// Why a toggle's definitions may be incomplete, if they may.
    pub toggles_unknown: Option<String>,
}

impl HostSettings {
    /// Forget what was read.
    pub fn clear(&mut self) {
        *self = HostSettings::default();
    }

    /// A module's definitions could not be read at all: nothing about the
    /// build host is known.
    pub fn hidden(&mut self, reason: &str) {
        self.builders_unknown.get_or_insert_with(|| reason.into());
        self.toggles_unknown.get_or_insert_with(|| reason.into());
    }

    /// The value of `toggle` as NixOS merges it, when the conditions around
    /// its definitions hold (as `emulated` and `builders` list what the
    /// modules set under conditions too): `Ok(None)` when nothing defines
    /// it, `Err` when nixcross cannot tell.
    pub fn toggle(&self, toggle: Toggle) -> Result<Option<bool>, String> {
        if let Some(why) = &self.toggles_unknown {
            return Err(why.clone());
        }
        let defs: Vec<&ToggleDef> = self.toggles.iter().filter(|d| d.toggle == toggle).collect();
        let Some(best) = defs.iter().map(|d| d.priority).min() else {
            return Ok(None);
        };
        let mut value = None;
        for d in defs.iter().filter(|d| d.priority == best) {
            let Some(v) = d.value else {
                return Err("its value is not a boolean nixcross can read".into());
            };
            if value.is_some_and(|w| w != v) {
                return Err("it is defined as both true and false".into());
            }
            value = Some(v);
        }
        Ok(value)
    }

    /// Read one `nix.buildMachines` list value (a definition's value).
    pub fn read_builders(&mut self, ev: &mut Evaluator, value: &Value) {
        match value {
            Value::List(items) => {
                for t in items.iter() {
                    match read_builder(ev, *t) {
                        Ok(b) => self.builders.push(b),
                        Err(why) => {
                            self.builders_unknown.get_or_insert(why);
                        }
                    }
                }
            }
            Value::Unknown(u) => {
                self.builders_unknown.get_or_insert(u.reason.clone());
            }
            other => {
                self.builders_unknown
                    .get_or_insert(format!("nix.buildMachines is {}", other.type_name()));
            }
        }
    }
}

/// A definition's list value the evaluator cannot compute as a whole
/// (`computed ++ [ ... ]`), read part by part: the literal lists `++` joins
/// in the definition at `site` (through parentheses and priority
/// wrappers), each as a value of its own, and whether another part is
/// left that nixcross cannot read. `None` when the value is no such join.
pub(crate) fn literal_sides(ev: &mut Evaluator, site: &Src) -> Option<(Vec<Value>, bool)> {
    let Some(Entry::Binding(b)) = site.node.as_entry() else {
        return None;
    };
    let value = b.value.unparen();
    let value = crate::flake::overlays::unwrap_priority(&value).unwrap_or(value);
    if value.kind() != Kind::Concat {
        return None;
    }
    let mut sides: Vec<Node> = Vec::new();
    let mut stack = vec![value];
    let mut rest = false;
    while let Some(n) = stack.pop() {
        let n = n.unparen();
        if n.kind() == Kind::Concat {
            if let Some((l, r)) = n.binop() {
                stack.push(r);
                stack.push(l);
            }
        } else if n.list().is_some() {
            sides.push(n);
        } else {
            rest = true;
        }
    }
    let values = sides
        .iter()
        .map(|n| {
            let t = ev.delay_top(n, site.file);
            ev.force(t)
        })
        .collect();
    Some((values, rest))
}

/// A boolean value, when it is one.
pub(crate) fn bool_of(v: &Value) -> Option<bool> {
    match v {
        Value::Bool(b) => Some(*b),
        _ => None,
    }
}

/// One entry of `nix.buildMachines`, or why it cannot be read.
fn read_builder(ev: &mut Evaluator, t: ThunkId) -> Result<BuilderFields, String> {
    let a = match ev.force(t) {
        Value::Attrs(a) => a,
        Value::Unknown(u) => return Err(format!("a builder cannot be read: {}", u.reason)),
        other => return Err(format!("a builder is {}", other.type_name())),
    };
    if let Some(u) = &a.open {
        return Err(format!(
            "a builder has names nixcross cannot compute: {}",
            u.reason
        ));
    }
    let mut fields = BuilderFields::new();
    let mut systems: Vec<String> = Vec::new();
    for (name, e) in a.entries.iter() {
        let v = ev.force(e.value);
        let text = match &v {
            Value::Null => continue,
            Value::List(items) => {
                let mut parts = Vec::new();
                for i in items.iter() {
                    match ev.force(*i) {
                        Value::Str(s) => parts.push(
                            s.as_text()
                                .ok_or_else(|| format!("`{name}` of a builder holds a path"))?,
                        ),
                        Value::Unknown(u) => {
                            return Err(format!("`{name}` of a builder: {}", u.reason))
                        }
                        other => {
                            return Err(format!(
                                "`{name}` of a builder holds {}",
                                other.type_name()
                            ))
                        }
                    }
                }
                if name == "systems" {
                    systems.extend(parts);
                    continue;
                }
                parts.join(",")
            }
            other => scalar(name, other)?,
        };
        if name == "system" {
            systems.insert(0, text);
            continue;
        }
        fields.insert(name.clone(), text);
    }
    if !systems.is_empty() {
        let mut seen = Vec::new();
        for s in systems {
            if !seen.contains(&s) {
                seen.push(s);
            }
        }
        fields.insert("systems".into(), seen.join(","));
    }
    fields
        .entry("protocol".into())
        .or_insert_with(|| "ssh".into());
    Ok(fields)
}

fn scalar(name: &str, v: &Value) -> Result<String, String> {
    Ok(match v {
        Value::Str(s) => s
            .as_text()
            .ok_or_else(|| format!("`{name}` of a builder holds a path"))?,
        Value::Int(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Unknown(u) => return Err(format!("`{name}` of a builder: {}", u.reason)),
        other => return Err(format!("`{name}` of a builder is {}", other.type_name())),
    })
}
