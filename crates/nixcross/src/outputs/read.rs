//! The read model: every `packages.<system>.<name>` and
//! `devShells.<system>.<name>` of a flake, with the package set it comes
//! from (its build and host platforms) and where that set is written.
//!
//! Shapes it follows:
//! - `packages.<system>.<name>` dotted or nested, quoted, or with the system
//!   from a variable (`packages.${system}.hello`), inside `let` and `//`;
//! - values from `nixpkgs.legacyPackages.<system>` (directly, or bound in a
//!   `let` as `pkgs`), `<set>.pkgsCross.<example>`, `import nixpkgs {
//!   localSystem; crossSystem; system; }`, `<set>.mkShell { ... }`,
//!   `<set>.callPackage <file> { }` and anything taken from a set;
//! - helpers defined in the file, `lib.genAttrs <systems>` (`forAllSystems`),
//!   flake-utils' `eachSystem`/`eachDefaultSystem`/`eachSystemMap`, and
//!   flake-parts' `perSystem` (with `pkgs`, or `_module.args.pkgs`).
//!
//! An output it cannot follow is listed with the reason (`editable: false`).
//!
//! It evaluates with [`crate::eval`] in the rewritable reading
//! ([`Reading::Rewritable`]): only what the flake file itself writes is
//! followed (an `import` of another file, a conditional, a `with` are
//! not), and every output reports where its value reached package sets.

use std::rc::Rc;

use serde::Serialize;

use crate::error::{Error, LineIndex, Result};
use crate::eval::{AttrEntry, Evaluator, MadeBy, Reading, Special, SystemsHelper, Unknown, Value};
use crate::files::{Files, MemFiles, RelPath};
use crate::flake::{input_values, Head};
use crate::outputs::sets::{self, Derived, PlatVal, SetOrigin, SetVal, Site};
use crate::source::{FileId, SourceMap, Src};
use crate::syntax::{Doc, Entry, Key};
use crate::vocab::Kind;

/// One package or dev shell, as `show --json` prints it under `packages` or
/// `devShells`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct OutputReport {
    /// `Kind::Package` (under `packages`) or `Kind::Shell` (`devShells`).
    #[serde(skip)]
    pub kind: Kind,
    /// The system it is listed under (`packages.<system>`). `None` when the
    /// file does not say (flake-utils' `eachDefaultSystem`: one entry for
    /// every system of its locked `systems` input).
    pub system: Option<String>,
    /// Its name under `packages.<system>` or `devShells.<system>`; `None`
    /// when nixcross could not tell.
    pub name: Option<String>,
    /// The platform that builds it, as a system double; `None` when unknown
    /// or when it is every system of a helper.
    pub build: Option<String>,
    /// The platform it runs on (the package set's host platform).
    pub host: Option<String>,
    /// Whether `set-target --package/--shell` can retarget it.
    pub editable: bool,
    /// Why not, when it cannot.
    pub reason: Option<String>,
    /// 1-based line of its name (or of what could not be followed).
    pub line: usize,
}

/// How an output's system is given.
#[derive(Debug, Clone)]
pub(crate) enum SystemOf {
    /// A key written in the file: `packages.x86_64-linux.hello`.
    Key {
        system: String,
        range: (usize, usize),
    },
    /// A key computed from a variable: `packages.${system}.hello`.
    Var {
        system: String,
    },
    /// One of the systems a helper generates (`None`: systems the file
    /// does not list).
    Generated {
        system: Option<String>,
        how: SystemsHelper,
    },
    Unknown(String),
}

impl SystemOf {
    pub fn system(&self) -> Option<&str> {
        match self {
            SystemOf::Key { system, .. } | SystemOf::Var { system } => Some(system),
            SystemOf::Generated { system, .. } => system.as_deref(),
            SystemOf::Unknown(_) => None,
        }
    }
}

/// What an output is made of.
#[derive(Debug, Clone)]
pub(crate) struct Made {
    /// The package set of the package, or of the shell's `mkShell`.
    pub set: Rc<SetVal>,
    /// Where the output's expression reached package sets.
    pub sites: Vec<Site>,
}

/// One output, with what nixcross found out about it.
#[derive(Debug, Clone)]
pub(crate) struct Output {
    pub kind: Kind,
    pub system: SystemOf,
    pub name: Option<String>,
    /// Where the name is written (or the unfollowable expression).
    pub at: (usize, usize),
    /// The value's range (`None` for `inherit`, or a value nixcross does
    /// not see written as the output's).
    pub value: Option<(usize, usize)>,
    /// Written with `inherit`.
    pub inherited: bool,
    pub made: std::result::Result<Made, String>,
}

impl Output {
    /// Why it cannot be retargeted, if it cannot.
    pub fn blocker(&self) -> Option<String> {
        if let SystemOf::Unknown(why) = &self.system {
            return Some(why.clone());
        }
        let made = match &self.made {
            Ok(m) => m,
            Err(why) => return Some(why.clone()),
        };
        if self.value.is_none() {
            return Some(if self.inherited {
                "it is written with `inherit`; write it as `<name> = ...;` for nixcross to retarget it"
                    .into()
            } else {
                "its value is not written as `<name> = ...;` where nixcross can retarget it".into()
            });
        }
        if let PlatVal::Unknown(why) = &made.set.host {
            return Some(why.clone());
        }
        if let PlatVal::Unknown(why) = &made.set.build {
            return Some(why.clone());
        }
        match &made.set.origin {
            SetOrigin::Derived(what @ Derived::BuildPackages) => Some(format!(
                "its package set is {what}, which nixcross does not rewrite"
            )),
            SetOrigin::Import { args: None, .. } => Some(
                "the arguments of `import nixpkgs` are not written as an attribute set here".into(),
            ),
            SetOrigin::Unwritten(why) => Some(why.clone()),
            _ => None,
        }
    }
}

/// Which system a set of names is under, while walking.
#[derive(Debug, Clone)]
enum Sys {
    /// A key of `packages`: its name and the definition of that key.
    Named { system: String, def: Option<Src> },
    /// One of the systems a helper generates (`None`: not listed).
    Generated {
        system: Option<String>,
        how: SystemsHelper,
    },
}

struct Walker<'r, 'f> {
    ev: &'r mut Evaluator<'f>,
    file: FileId,
    out: Vec<Output>,
}

/// Whether `key` can be the attribute `name` (a computed key is).
fn names(key: &Key, name: &str) -> bool {
    match key {
        Key::Static(k) => k == name,
        Key::Dynamic(_) => true,
    }
}

impl Walker<'_, '_> {
    /// The entry (binding or `inherit`) `def` is, when it is in the flake.
    fn entry(&self, def: Option<&Src>) -> Option<Entry> {
        def.filter(|d| d.file == self.file)
            .and_then(|d| d.node.as_entry())
    }

    /// Where `def` writes the attribute `name`: the first key naming it,
    /// or its name in an `inherit`.
    fn key_range(&self, def: Option<&Src>, name: &str) -> Option<(usize, usize)> {
        match self.entry(def)? {
            Entry::Binding(b) => b
                .keys
                .iter()
                .zip(&b.key_ranges)
                .find(|(k, _)| matches!(k, Key::Static(n) if n == name))
                .map(|(_, r)| *r)
                .or(Some(b.key_range)),
            Entry::Inherit(i) => i.names.iter().find(|(n, _)| n == name).map(|(_, r)| *r),
        }
    }

    /// Where an unknown value comes from, when in the flake.
    fn at_of(&self, u: &Unknown, or: (usize, usize)) -> (usize, usize) {
        u.at.as_ref()
            .filter(|s| s.file == self.file)
            .map_or(or, Src::range)
    }

    fn unfollowed(&mut self, kind: Kind, system: SystemOf, at: (usize, usize), why: String) {
        self.out.push(Output {
            kind,
            system,
            name: None,
            at,
            value: None,
            inherited: false,
            made: Err(why),
        });
    }

    /// The system of an output under `sys`, defined by `leaf`: a key the
    /// file writes (the leaf's own `<system>.<name> = ...;`, or the
    /// system's `<system> = { ... };`), or a computed one.
    fn system_of(&self, sys: &Sys, leaf: Option<&Src>) -> SystemOf {
        let (system, def) = match sys {
            Sys::Generated { system, how } => {
                return SystemOf::Generated {
                    system: system.clone(),
                    how: *how,
                }
            }
            Sys::Named { system, def } => (system, def),
        };
        let own = match self.entry(leaf) {
            Some(Entry::Binding(b)) if b.keys.len() >= 2 => {
                let i = b.keys.len() - 2;
                Some((b.keys[i].clone(), b.key_ranges[i])).filter(|(k, _)| names(k, system))
            }
            _ => None,
        };
        let key = own.or_else(|| match self.entry(def.as_ref())? {
            Entry::Binding(b) => b
                .keys
                .iter()
                .zip(&b.key_ranges)
                .rev()
                .find(|(k, _)| names(k, system))
                .map(|(k, r)| (k.clone(), *r)),
            Entry::Inherit(_) => None,
        });
        match key {
            Some((Key::Static(_), range)) => SystemOf::Key {
                system: system.clone(),
                range,
            },
            _ => SystemOf::Var {
                system: system.clone(),
            },
        }
    }

    /// The outputs set.
    fn top(&mut self, v: Value, at: (usize, usize)) {
        let Value::Attrs(a) = v else { return };
        for (name, e) in a.entries.iter() {
            let kind = match name.as_str() {
                "packages" => Kind::Package,
                "devShells" => Kind::Shell,
                _ => continue,
            };
            let at = self.key_range(e.def.as_ref(), name).unwrap_or(at);
            self.systems(kind, e, at);
        }
    }

    /// The value of `packages`: `{ <system> = { ... }; }`.
    fn systems(&mut self, kind: Kind, e: &AttrEntry, at: (usize, usize)) {
        match self.ev.force(e.value) {
            Value::Attrs(a) => {
                let per_system = match a.made_by.as_deref() {
                    Some(MadeBy::PerSystem(ps)) => Some(ps),
                    _ => None,
                };
                // A helper's systems, in its order.
                let generated = per_system.map_or(&[][..], |ps| &ps.systems[..]);
                for s in generated {
                    if let Some(se) = a.entries.get(s) {
                        let sys = Sys::Generated {
                            system: Some(s.clone()),
                            how: per_system.expect("a helper's").how,
                        };
                        self.names(kind, &sys, se, at);
                    }
                }
                // Systems the file names.
                for (system, se) in a.entries.iter() {
                    if generated.contains(system) {
                        continue;
                    }
                    let sys = Sys::Named {
                        system: system.clone(),
                        def: se.def.clone(),
                    };
                    let at = self.key_range(se.def.as_ref(), system).unwrap_or(at);
                    self.names(kind, &sys, se, at);
                }
                if let Some(ps) = per_system {
                    if let Some(each) = ps.each {
                        let sys = Sys::Generated {
                            system: None,
                            how: ps.how,
                        };
                        let se = AttrEntry {
                            value: each,
                            def: None,
                        };
                        self.names(kind, &sys, &se, at);
                        // Open for the systems it does not list.
                        return;
                    }
                }
                if let Some(u) = &a.open {
                    let at = self.at_of(u, at);
                    self.unfollowed(
                        kind,
                        SystemOf::Unknown(u.reason.clone()),
                        at,
                        u.reason.clone(),
                    );
                }
            }
            Value::Unknown(u) => {
                let at = self.at_of(&u, at);
                self.unfollowed(
                    kind,
                    SystemOf::Unknown(u.reason.clone()),
                    at,
                    u.reason.clone(),
                )
            }
            other => {
                let why = format!("{} is not a set of systems", other.type_name());
                self.unfollowed(kind, SystemOf::Unknown(why.clone()), at, why)
            }
        }
    }

    /// A set of names under one system.
    fn names(&mut self, kind: Kind, sys: &Sys, e: &AttrEntry, at: (usize, usize)) {
        match self.ev.force(e.value) {
            Value::Attrs(a) => {
                // What each value will evaluate, before any is forced (one
                // may use another).
                let leaves: Vec<(String, AttrEntry, Option<Src>)> = a
                    .entries
                    .iter()
                    .map(|(n, le)| (n.clone(), le.clone(), self.ev.pending_expr(le.value)))
                    .collect();
                for (name, le, pending) in leaves {
                    self.leaf(kind, sys, name, &le, pending, at);
                }
                if let Some(u) = &a.open {
                    let system = self.system_of(sys, None);
                    let at = self.at_of(u, at);
                    self.unfollowed(kind, system, at, u.reason.clone());
                }
            }
            Value::Unknown(u) => {
                let system = self.system_of(sys, None);
                let at = self.at_of(&u, at);
                self.unfollowed(kind, system, at, u.reason.clone())
            }
            other => {
                let system = self.system_of(sys, None);
                let why = format!("{} is not a set of outputs", other.type_name());
                self.unfollowed(kind, system, at, why)
            }
        }
    }

    /// One package or shell: `name = value;` under `sys`.
    fn leaf(
        &mut self,
        kind: Kind,
        sys: &Sys,
        name: String,
        e: &AttrEntry,
        pending: Option<Src>,
        at: (usize, usize),
    ) {
        let def = e.def.as_ref().filter(|d| d.file == self.file);
        let entry = self.entry(def);
        // The value is the text the definition writes.
        let value = match (&pending, def) {
            (Some(p), Some(d)) if d.contains(p.file, p.range()) => Some(p.range()),
            _ => None,
        };
        let at = match &entry {
            Some(Entry::Binding(b)) => b.key_ranges.last().copied().unwrap_or(b.key_range),
            Some(Entry::Inherit(i)) => i
                .names
                .iter()
                .find(|(n, _)| *n == name)
                .map_or(i.range, |(_, r)| *r),
            None => at,
        };
        self.ev.sites_begin();
        let v = self.ev.force(e.value);
        let set = match &v {
            Value::Special(s) => match &**s {
                Special::Package(p) | Special::Pkgs(p) => Ok(sets::set_val(self.ev, p)),
                _ => Err(format!("{} is not a package or a shell", v.type_name())),
            },
            Value::Unknown(u) => Err(u.reason.clone()),
            other => Err(format!("{} is not a package or a shell", other.type_name())),
        };
        let met = self.ev.sites_end();
        let made = set.map(|set| Made {
            set: Rc::new(set),
            sites: sets::sites(self.ev, met),
        });
        let system = self.system_of(sys, def);
        self.out.push(Output {
            kind,
            system,
            name: Some(name),
            at,
            value,
            inherited: matches!(entry, Some(Entry::Inherit(_))),
            made,
        });
    }
}

/// A flake read: the evaluator (with the flake's text and syntax, to check
/// expressions in the scopes it met) and its outputs.
pub(crate) struct Read<'f> {
    pub ev: Evaluator<'f>,
    pub file: FileId,
    pub outputs: Vec<Output>,
}

impl Read<'_> {
    /// The flake's text.
    pub fn src(&self) -> &str {
        &self.ev.sources.get(self.file).text
    }

    /// The flake's syntax.
    pub fn doc(&self) -> &Doc {
        self.ev
            .sources
            .get(self.file)
            .doc
            .as_ref()
            .expect("a flake that parsed")
    }
}

/// Read every package and dev shell of the flake `flake` in `files`.
pub(crate) fn read<'f>(files: &'f dyn Files, flake: &RelPath) -> Result<Read<'f>> {
    let mut sources = SourceMap::new(files);
    let file = sources
        .load(flake)
        .map_err(|e| Error::invalid(format!("cannot read {}: {}", e.path, e.error)))?;
    let root = match &sources.get(file).doc {
        Ok(doc) => doc.expr(),
        Err(e) => return Err(e.clone()),
    };
    // Not a flake (a NixOS module, say): no packages or dev shells.
    let is_flake = root.as_ref().and_then(|r| r.unparen().attrset()).is_some();
    let head = Head::read(root.as_ref());
    let mut read = Read {
        ev: Evaluator::new(sources).with_reading(Reading::Rewritable),
        file,
        outputs: Vec::new(),
    };
    let Some(lambda) = head
        .outputs
        .as_ref()
        .filter(|_| is_flake)
        .and_then(|o| o.unparen().lambda().map(|l| (o.clone(), l)))
    else {
        return Ok(read);
    };
    let (outputs, lambda) = lambda;
    let ev = &mut read.ev;
    let mut args = input_values(ev, &head.inputs);
    let self_t = ev.value(Value::unknown(
        "`self` refers to this flake's own outputs",
        None,
    ));
    args.entries.insert(
        "self".into(),
        AttrEntry {
            value: self_t,
            def: None,
        },
    );
    let args_t = ev.value(Value::Attrs(Rc::new(args)));
    let base = ev.base_env();
    let outputs_t = ev.delay(&outputs, file, base);
    let result = ev.delay_apply(outputs_t, args_t);
    let body = ev.force(result);
    let mut w = Walker {
        ev,
        file,
        out: Vec::new(),
    };
    w.top(body, lambda.body.range());
    let mut out = w.out;
    // In the order the file writes them (a helper's systems in its order).
    out.sort_by_key(|o| o.at.0);
    read.outputs = out;
    Ok(read)
}

/// The system an output's package set builds on or runs on, as a double;
/// for a per-system output whose platform is "each system", its system.
fn double(p: &PlatVal, sys: &SystemOf) -> Option<String> {
    match p {
        PlatVal::Known(k) => Some(k.system.clone()),
        PlatVal::Each => sys.system().map(String::from),
        PlatVal::Unknown(_) => None,
    }
}

/// Every package (`packages`) and dev shell (`devShells`) of the flake
/// `src`, with the platforms it is built on and for. Outputs nixcross
/// cannot follow are listed with `editable: false` and the reason.
pub fn read_outputs(src: &str) -> Result<Vec<OutputReport>> {
    let lines = LineIndex::new(src);
    let files = MemFiles::single("flake.nix", src);
    let flake = RelPath::new("flake.nix").expect("a relative path");
    Ok(read(&files, &flake)?
        .outputs
        .into_iter()
        .map(|o| {
            let blocker = o.blocker();
            let (build, host) = match &o.made {
                Ok(m) => (
                    double(&m.set.build, &o.system),
                    double(&m.set.host, &o.system),
                ),
                Err(_) => (None, None),
            };
            OutputReport {
                kind: o.kind,
                system: o.system.system().map(String::from),
                name: o.name.clone(),
                build,
                host,
                editable: blocker.is_none(),
                reason: blocker,
                line: lines.line(o.at.0),
            }
        })
        .collect())
}
