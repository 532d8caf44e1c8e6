//! Package sets as the retarget planner sees them: the platforms a set
//! builds on and for ([`SetVal`]), and where it is written in the flake
//! ([`SetOrigin`]), read from the evaluator's package-set values
//! ([`crate::eval::PkgsValue`]) and the sites it recorded
//! ([`crate::eval::PkgsSite`]).

use std::fmt;
use std::rc::Rc;

use crate::eval::{
    EnvId, Evaluator, ImportArgs, MadeBy, PkgsSite, PkgsValue, PkgsVia, Special, Value,
};
use crate::platform;
use crate::syntax::{AttrSetView, KeyAt, Node};

/// A platform, as far as the file says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Plat {
    /// The system double.
    pub system: String,
    /// The config triple (empty for a system the catalogue has none for).
    pub config: String,
    /// `lib.systems.examples.<name>`, when written as one.
    pub example: Option<String>,
    /// Set with attributes besides `system`/`config` (`gcc.arch`, ...).
    pub extra: bool,
}

/// A platform value: known, the current system of a per-system helper whose
/// systems the file does not list, or unknown.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum PlatVal {
    Known(Plat),
    Each,
    Unknown(String),
}

/// Where a package set is written, which says how to rewrite it.
#[derive(Clone, Debug)]
pub(crate) enum SetOrigin {
    /// `<nixpkgs>.legacyPackages.<key>`, the text `start..end`, written in
    /// the scope `env`.
    Legacy {
        nixpkgs: Spelling,
        key: KeyAt,
        start: usize,
        end: usize,
        env: EnvId,
    },
    /// `<inner>.pkgsCross.<key>`, the text `start..end`, written in `env`.
    Cross {
        inner: Rc<SetVal>,
        key: KeyAt,
        start: usize,
        end: usize,
        env: EnvId,
    },
    /// `import <nixpkgs> { ... }`.
    Import {
        nixpkgs: Spelling,
        call: Node,
        args: Option<AttrSetView>,
    },
    /// A set not written as such in the file.
    Derived(Derived),
    /// A set written where nixcross cannot rewrite it, and why.
    Unwritten(String),
}

/// How a set names its nixpkgs input.
#[derive(Clone, Debug)]
pub(crate) struct Spelling {
    /// As the file writes it there (`inputs.nixpkgs`), when it does.
    pub written: Option<String>,
    /// The input's name.
    pub input: String,
}

/// Package sets nixcross reads without seeing them written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Derived {
    /// `<set>.buildPackages`: the build machine's packages of a set.
    BuildPackages,
    /// flake-parts' `perSystem` argument `pkgs`: nixpkgs for the system.
    FlakePartsPkgs,
}

impl fmt::Display for Derived {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Derived::BuildPackages => "buildPackages",
            Derived::FlakePartsPkgs => "flake-parts' pkgs",
        })
    }
}

/// Where an output's expression reaches a package set.
#[derive(Clone, Debug)]
pub(crate) enum Site {
    /// The set is written here.
    Origin(Rc<SetVal>),
    /// A variable holding the set is used here (in scope `env`).
    Use {
        range: (usize, usize),
        set: Rc<SetVal>,
        env: EnvId,
    },
}

/// A package set.
#[derive(Clone, Debug)]
pub(crate) struct SetVal {
    /// The platform that builds (nixpkgs' `localSystem`).
    pub build: PlatVal,
    /// The platform the packages run on (`crossSystem`, else `build`).
    pub host: PlatVal,
    /// Built with a `crossSystem` (a cross toolchain).
    pub cross: bool,
    pub origin: SetOrigin,
}

impl SetVal {
    /// The text range the set is written at, when it is rewritable.
    pub fn range(&self) -> Option<(usize, usize)> {
        match &self.origin {
            SetOrigin::Legacy { start, end, .. } | SetOrigin::Cross { start, end, .. } => {
                Some((*start, *end))
            }
            SetOrigin::Import { call, .. } => Some(call.range()),
            SetOrigin::Derived(_) | SetOrigin::Unwritten(_) => None,
        }
    }

    /// How the set names its nixpkgs input.
    pub fn spelling(&self) -> Spelling {
        match &self.origin {
            SetOrigin::Legacy { nixpkgs, .. } | SetOrigin::Import { nixpkgs, .. } => {
                nixpkgs.clone()
            }
            SetOrigin::Cross { inner, .. } => inner.spelling(),
            SetOrigin::Derived(_) | SetOrigin::Unwritten(_) => Spelling {
                written: None,
                input: "nixpkgs".into(),
            },
        }
    }
}

/// The package set `p`, with its platforms (which may force its arguments).
pub(crate) fn set_val(ev: &mut Evaluator, p: &PkgsValue) -> SetVal {
    let native = |plat: PlatVal, origin| SetVal {
        build: plat.clone(),
        host: plat,
        cross: false,
        origin,
    };
    let system = || match p.system() {
        Some(s) => plat_of_string(s),
        None => PlatVal::Each,
    };
    match &p.via {
        PkgsVia::Legacy { written: w, .. } => native(
            system(),
            match w {
                Some(w) => SetOrigin::Legacy {
                    nixpkgs: Spelling {
                        written: w.input_text.clone(),
                        input: p.input.clone(),
                    },
                    key: w.key.clone(),
                    start: w.range.0,
                    end: w.range.1,
                    env: w.env,
                },
                None => SetOrigin::Unwritten("legacyPackages is selected indirectly".into()),
            },
        ),
        PkgsVia::PerSystem { .. } => native(system(), SetOrigin::Derived(Derived::FlakePartsPkgs)),
        PkgsVia::Module => native(
            PlatVal::Unknown("NixOS's `pkgs` is only known when NixOS evaluates".into()),
            SetOrigin::Unwritten("NixOS's `pkgs` is not written in the file".into()),
        ),
        PkgsVia::BuildPackages(of) => {
            let of = set_val(ev, of);
            native(of.build, SetOrigin::Derived(Derived::BuildPackages))
        }
        PkgsVia::Cross { of, example, at } => {
            let inner = Rc::new(set_val(ev, of));
            let host = match platform::catalogue().example(example) {
                Some(e) => PlatVal::Known(Plat {
                    system: e.system.clone(),
                    config: e.config.clone(),
                    example: Some(e.name.clone()),
                    extra: false,
                }),
                None => PlatVal::Unknown(format!("pkgsCross.{example} is not a nixpkgs example")),
            };
            SetVal {
                build: inner.build.clone(),
                host,
                cross: true,
                origin: match at {
                    Some(w) => SetOrigin::Cross {
                        inner,
                        key: w.key.clone(),
                        start: w.range.0,
                        end: w.range.1,
                        env: w.env,
                    },
                    None => SetOrigin::Unwritten("pkgsCross is selected indirectly".into()),
                },
            }
        }
        PkgsVia::Import { .. } => import(ev, p),
    }
}

/// `import <nixpkgs> { localSystem; crossSystem; system; }`.
fn import(ev: &mut Evaluator, p: &PkgsValue) -> SetVal {
    // The call as written: `import <what> <args>`.
    let call = p.import_call().map(|s| s.node.clone());
    let parts = call.as_ref().and_then(|c| c.call());
    let (what, args_node) = match parts.as_ref().map(|(f, a)| (f.ident(), a.as_slice())) {
        Some((Some(f), [what, args])) if f == "import" => (Some(what.text()), Some(args.clone())),
        Some((_, [.., args])) => (None, Some(args.clone())),
        _ => (None, None),
    };
    let origin = match call {
        Some(call) => SetOrigin::Import {
            nixpkgs: Spelling {
                written: what,
                input: p.input.clone(),
            },
            call,
            args: args_node.as_ref().and_then(|a| a.unparen().attrset()),
        },
        None => SetOrigin::Unwritten("`import nixpkgs` is not written where nixcross reads".into()),
    };
    let unknown = |why: String| SetVal {
        build: PlatVal::Unknown(why.clone()),
        host: PlatVal::Unknown(why),
        cross: false,
        origin: origin.clone(),
    };
    let read = match ImportArgs::of(ev, p) {
        Ok(read) => read,
        Err(why) => return unknown(why),
    };
    let build = match &read.local {
        Some((_, e)) => {
            let v = ev.force(e.value);
            plat_of(ev, v)
        }
        None => PlatVal::Unknown(
            "`import nixpkgs` without localSystem or system builds for builtins.currentSystem"
                .into(),
        ),
    };
    let cross = read.cross_value(ev).map(|v| plat_of(ev, v));
    let is_cross = cross.as_ref().is_some_and(|c| c != &build);
    SetVal {
        host: cross.unwrap_or_else(|| build.clone()),
        build,
        cross: is_cross,
        origin,
    }
}

/// A platform value: a string, `{ system }`, `{ config }`, an example.
pub(crate) fn plat_of(ev: &mut Evaluator, v: Value) -> PlatVal {
    match v {
        Value::Str(s) => match s.as_text() {
            Some(t) => plat_of_string(&t),
            None => PlatVal::Unknown("a platform with a path in it".into()),
        },
        Value::Special(s) if matches!(*s, Special::AnySystem) => PlatVal::Each,
        Value::Attrs(a) => {
            if let Some(MadeBy::Example(name)) = a.made_by.as_deref() {
                if let Some(e) = platform::catalogue().example(name) {
                    return PlatVal::Known(Plat {
                        system: e.system.clone(),
                        config: e.config.clone(),
                        example: Some(e.name.clone()),
                        extra: false,
                    });
                }
            }
            let extra =
                a.open.is_some() || a.entries.keys().any(|n| n != "system" && n != "config");
            let mut p = if let Some(e) = a.entries.get("config") {
                match ev.force(e.value) {
                    v @ Value::Str(_) => match v.as_text() {
                        Some(c) => plat_of_config(&c),
                        None => PlatVal::Unknown("a config that is not a string".into()),
                    },
                    Value::Unknown(u) => PlatVal::Unknown(u.reason.clone()),
                    _ => PlatVal::Unknown("a config that is not a string".into()),
                }
            } else if let Some(e) = a.entries.get("system") {
                let v = ev.force(e.value);
                plat_of(ev, v)
            } else {
                PlatVal::Unknown("a platform without system or config".into())
            };
            if let PlatVal::Known(k) = &mut p {
                k.extra = extra;
            }
            p
        }
        Value::Unknown(u) => PlatVal::Unknown(u.reason.clone()),
        other => PlatVal::Unknown(format!("{} is not a platform", other.type_name())),
    }
}

/// A system string: a double or a config triple.
pub(crate) fn plat_of_string(s: &str) -> PlatVal {
    let cat = platform::catalogue();
    if let Some(sys) = cat.system(s) {
        return PlatVal::Known(Plat {
            system: sys.system.clone(),
            config: sys.config.clone(),
            example: None,
            extra: false,
        });
    }
    if cat.can_emulate(s) {
        return PlatVal::Known(Plat {
            system: s.to_string(),
            config: String::new(),
            example: None,
            extra: false,
        });
    }
    plat_of_config(s)
}

fn plat_of_config(c: &str) -> PlatVal {
    let cat = platform::catalogue();
    let system = cat
        .systems
        .iter()
        .find(|s| s.config == c)
        .map(|s| s.system.clone())
        .or_else(|| {
            cat.examples
                .iter()
                .find(|e| e.config == c)
                .map(|e| e.system.clone())
        });
    match system {
        Some(system) => PlatVal::Known(Plat {
            system,
            config: c.to_string(),
            example: None,
            extra: false,
        }),
        None => PlatVal::Unknown(format!("`{c}` is not a platform nixcross knows")),
    }
}

/// The evaluator's sites as the planner reads them.
pub(crate) fn sites(ev: &mut Evaluator, sites: Vec<PkgsSite>) -> Vec<Site> {
    sites
        .into_iter()
        .map(|s| match s {
            PkgsSite::Written(p) => Site::Origin(Rc::new(set_val(ev, &p))),
            PkgsSite::Used { at, set, env } => Site::Use {
                range: at.range(),
                set: Rc::new(set_val(ev, &set)),
                env,
            },
        })
        .collect()
}
