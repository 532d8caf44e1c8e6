//! Values of the static evaluator.

use std::collections::BTreeMap;
use std::rc::Rc;

use super::Prim;
use crate::files::RelPath;
use crate::source::{FileId, Src};
use crate::syntax::{KeyAt, LambdaView};

/// A suspended or finished computation, in the evaluator's arena.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ThunkId(pub(crate) u32);

/// A scope, in the evaluator's arena.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct EnvId(pub(crate) u32);

/// Why a value is not known, and where that came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unknown {
    /// A sentence: "`config` is only known when NixOS evaluates".
    pub reason: String,
    /// The expression that could not be evaluated, when there is one.
    pub at: Option<Src>,
}

/// A path value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathValue {
    /// A path inside the flake's folder.
    Tree(RelPath),
    /// A path nixcross does not follow: absolute, `~/...`, `<...>`, or one
    /// that climbs out of the flake's folder. The text is what was written.
    Outside(String),
    /// A path inside another flake input (`"${inputs.x}/a.nix"`,
    /// `nixpkgs + "/nixos/modules/..."`) or NixOS's `modulesPath`.
    Elsewhere {
        /// `nixpkgs`, `modulesPath`, an input's name.
        base: String,
        /// What follows, e.g. `/installer/scan/not-detected.nix`.
        rest: String,
    },
}

impl PathValue {
    /// The path with `suffix` (e.g. `/a.nix`) appended.
    pub fn append(&self, suffix: &str) -> PathValue {
        match self {
            PathValue::Tree(p) => {
                let joined = match suffix.strip_prefix('/') {
                    Some(rest) => p.join(rest),
                    // `./hosts + "x"` is `./hostsx`.
                    None => RelPath::new(&format!("{}{suffix}", p.as_str())),
                };
                match joined {
                    Some(p) => PathValue::Tree(p),
                    None => PathValue::Outside(format!("{p}{suffix}")),
                }
            }
            PathValue::Outside(s) => PathValue::Outside(format!("{s}{suffix}")),
            PathValue::Elsewhere { base, rest } => PathValue::Elsewhere {
                base: base.clone(),
                rest: format!("{rest}{suffix}"),
            },
        }
    }

    /// How the path reads in a message.
    pub fn describe(&self) -> String {
        match self {
            PathValue::Tree(p) => format!("./{p}"),
            PathValue::Outside(s) => s.clone(),
            PathValue::Elsewhere { base, rest } => format!("${{{base}}}{rest}"),
        }
    }
}

/// A piece of a string: text, or a path interpolated into it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece {
    /// Plain text.
    Text(String),
    /// `"${./x}"`: a path that becomes a store path in Nix.
    Path(PathValue),
}

/// A string, and the literal it was written as when it is one literal.
#[derive(Debug, Clone)]
pub struct StrValue {
    /// Its pieces.
    pub pieces: Vec<Piece>,
    /// The string literal node, when the value is exactly that literal.
    pub origin: Option<Src>,
}

impl StrValue {
    /// A plain string.
    pub fn text(s: impl Into<String>) -> StrValue {
        StrValue {
            pieces: vec![Piece::Text(s.into())],
            origin: None,
        }
    }

    /// The text, when no path is interpolated into it.
    pub fn as_text(&self) -> Option<String> {
        let mut out = String::new();
        for p in &self.pieces {
            match p {
                Piece::Text(t) => out.push_str(t),
                Piece::Path(_) => return None,
            }
        }
        Some(out)
    }

    /// A string that starts with an interpolated path, as that path with the
    /// rest appended (`"${./hosts}/a.nix"`).
    pub fn as_path(&self) -> Option<PathValue> {
        let (first, rest) = self.pieces.split_first()?;
        let Piece::Path(p) = first else { return None };
        let mut suffix = String::new();
        for piece in rest {
            match piece {
                Piece::Text(t) => suffix.push_str(t),
                Piece::Path(_) => return None,
            }
        }
        Some(p.append(&suffix))
    }
}

/// One attribute of a set: its value and the binding that defines it.
#[derive(Debug, Clone)]
pub struct AttrEntry {
    /// The value.
    pub value: ThunkId,
    /// The binding (`key = value;` or `inherit`) that defines it, when the
    /// set was written in a file.
    pub def: Option<Src>,
}

/// An attribute set.
#[derive(Debug, Clone, Default)]
pub struct Attrs {
    /// The attributes nixcross knows.
    pub entries: BTreeMap<String, AttrEntry>,
    /// Set when the set may hold more attributes than `entries` (a computed
    /// name that could not be evaluated, a merge with an unknown value).
    pub open: Option<Rc<Unknown>>,
    /// The `{ ... }` literal, when the set is one.
    pub src: Option<Src>,
    /// What made the set, when nixcross knows more about it than its
    /// attributes say. Lost when the set is merged or mapped.
    pub made_by: Option<Rc<MadeBy>>,
}

/// What made an attribute set, beyond its attributes.
#[derive(Debug, Clone)]
pub enum MadeBy {
    /// A per-system helper: `{ <system> = f <system>; }`.
    PerSystem(PerSystem),
    /// `lib.systems.examples.<name>`.
    Example(String),
}

/// A helper that makes a set with one attribute per system.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SystemsHelper {
    /// nixpkgs' `lib.genAttrs`.
    GenAttrs,
    /// flake-utils' `eachSystem`, `eachDefaultSystem`, `eachSystemMap`.
    FlakeUtils,
    /// flake-parts' `perSystem`.
    FlakePartsPerSystem,
}

impl std::fmt::Display for SystemsHelper {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            SystemsHelper::GenAttrs => "lib.genAttrs",
            SystemsHelper::FlakeUtils => "flake-utils",
            SystemsHelper::FlakePartsPerSystem => "flake-parts' perSystem",
        })
    }
}

/// How a per-system helper (`lib.genAttrs`, flake-utils' `eachSystem`,
/// flake-parts' `perSystem`) made a set of systems.
#[derive(Debug, Clone)]
pub struct PerSystem {
    /// The helper.
    pub how: SystemsHelper,
    /// The systems, in the order the file lists them.
    pub systems: Vec<String>,
    /// When the file does not list the systems (flake-utils'
    /// `eachDefaultSystem` takes them from its locked `systems` input): the
    /// value for each of them, computed for [`Special::AnySystem`]. The set
    /// has no entries then, and is open.
    pub each: Option<ThunkId>,
}

/// A function written in a file, with its scope.
#[derive(Debug, Clone)]
pub struct Closure {
    /// Its parameter and body.
    pub lambda: LambdaView,
    /// Where it is written.
    pub src: Src,
    /// The scope it closes over.
    pub env: EnvId,
}

/// A built-in applied to some of its arguments.
#[derive(Debug, Clone)]
pub struct PrimApp {
    /// The built-in.
    pub prim: Prim,
    /// The arguments given so far.
    pub args: Vec<ThunkId>,
    /// The input a stand-in belongs to (`nixosSystem` of `nixpkgs-unstable`).
    pub input: Option<String>,
}

/// A module-system property (`lib/modules.nix`): how a definition is merged.
#[derive(Debug, Clone)]
pub enum Property {
    /// `mkIf cond content`.
    If {
        /// The condition.
        cond: ThunkId,
        /// What is defined when it holds.
        content: ThunkId,
    },
    /// `mkMerge [ ... ]`.
    Merge(ThunkId),
    /// `mkOverride priority content` (and `mkDefault`, `mkForce`, ...).
    Override {
        /// Lower wins: mkForce 50, plain 100, mkDefault 1000, mkOptionDefault 1500.
        priority: u32,
        /// The value.
        content: ThunkId,
    },
    /// `mkBefore`/`mkAfter`/`mkOrder`: ordering only.
    Order(ThunkId),
}

/// `import nixpkgs { ... }` or `nixpkgs.legacyPackages.<system>`: a package
/// set with known arguments.
#[derive(Debug, Clone)]
pub struct PkgsValue {
    /// The nixpkgs input it comes from.
    pub input: String,
    /// How the set is made.
    pub via: PkgsVia,
}

impl PkgsValue {
    /// The system of `legacyPackages.<system>` and of flake-parts' `pkgs`
    /// (`None` for the current system of a helper whose systems the file
    /// does not list, and for other sets).
    pub fn system(&self) -> Option<&str> {
        match &self.via {
            PkgsVia::Legacy { system, .. } | PkgsVia::PerSystem { system } => system.as_deref(),
            _ => None,
        }
    }

    /// The argument set of `import nixpkgs { ... }`.
    pub fn import_args(&self) -> Option<ThunkId> {
        match &self.via {
            PkgsVia::Import { args, .. } => Some(*args),
            _ => None,
        }
    }

    /// The `import nixpkgs { ... }` call, when it is written in a file.
    pub fn import_call(&self) -> Option<&Src> {
        match &self.via {
            PkgsVia::Import { call, .. } => call.as_ref(),
            _ => None,
        }
    }
}

/// The platform arguments of `import nixpkgs { ... }`, read by nixpkgs'
/// own rules (`pkgs/top-level/impure.nix`): the set is built on
/// `localSystem`, or on the older `system` (both together are an error);
/// it is built for `crossSystem`, which is absent, `null`, or equal to
/// the local platform for a native build. The one reader of these
/// arguments: `flake` and `outputs` decide a set's platforms from it.
#[derive(Debug, Clone)]
pub struct ImportArgs {
    /// The argument set.
    pub args: Rc<Attrs>,
    /// `localSystem` or `system`, with its name; `None` when neither is
    /// given (nixpkgs then builds for `builtins.currentSystem`).
    pub local: Option<(&'static str, AttrEntry)>,
    /// `crossSystem`, when given (its value may be `null`).
    pub cross: Option<AttrEntry>,
}

impl ImportArgs {
    /// Read the arguments of `p`, an `import nixpkgs { ... }`; why not, when
    /// they are no set nixcross can read or nixpkgs would refuse them.
    pub fn of(ev: &mut super::Evaluator, p: &PkgsValue) -> Result<ImportArgs, String> {
        let t = p
            .import_args()
            .ok_or_else(|| "`import nixpkgs` without arguments".to_string())?;
        let args = match ev.force(t) {
            Value::Attrs(a) => a,
            Value::Unknown(u) => return Err(u.reason.clone()),
            other => {
                return Err(format!(
                    "`import nixpkgs` with {}, not an attribute set",
                    other.type_name()
                ))
            }
        };
        let local = match (args.entries.get("localSystem"), args.entries.get("system")) {
            (Some(_), Some(_)) => {
                return Err("nixpkgs refuses both localSystem and system".into());
            }
            (Some(e), None) => Some(("localSystem", e.clone())),
            (None, Some(e)) => Some(("system", e.clone())),
            (None, None) => None,
        };
        let cross = args.entries.get("crossSystem").cloned();
        Ok(ImportArgs { args, local, cross })
    }

    /// The `crossSystem` value when it names a platform (not absent, not
    /// `null`).
    pub fn cross_value(&self, ev: &mut super::Evaluator) -> Option<Value> {
        let e = self.cross.as_ref()?;
        match ev.force(e.value) {
            Value::Null => None,
            v => Some(v),
        }
    }
}

/// How a package set is made.
#[derive(Debug, Clone)]
pub enum PkgsVia {
    /// NixOS's `pkgs` module argument.
    Module,
    /// flake-parts' `pkgs` argument of `perSystem`: nixpkgs for `system`.
    PerSystem {
        /// The system (`None`: one of systems the file does not list).
        system: Option<String>,
    },
    /// `<input>.legacyPackages.<system>`.
    Legacy {
        /// The system (`None`: one of systems the file does not list).
        system: Option<String>,
        /// Where, when the selection is written in a file (rewritable
        /// reading only).
        written: Option<Written>,
    },
    /// `import <input> { ... }`.
    Import {
        /// The argument set.
        args: ThunkId,
        /// The call, when it is written in a file.
        call: Option<Src>,
    },
    /// `<of>.pkgsCross.<example>`.
    Cross {
        /// The set `pkgsCross` is taken from: it builds.
        of: Rc<PkgsValue>,
        /// The name selected from `pkgsCross`.
        example: String,
        /// Where, when the selection is written in a file.
        at: Option<Written>,
    },
    /// `<of>.buildPackages`: the packages of `of`'s build platform
    /// (rewritable reading only).
    BuildPackages(Rc<PkgsValue>),
}

/// Where a package set is named inside a selection:
/// `nixpkgs.legacyPackages.x86_64-linux` of
/// `nixpkgs.legacyPackages.x86_64-linux.hello`.
#[derive(Debug, Clone)]
pub struct Written {
    /// The file.
    pub file: FileId,
    /// From the start of the selection to the end of `key`.
    pub range: (usize, usize),
    /// The last key: the system of `legacyPackages`, the example of
    /// `pkgsCross`.
    pub key: KeyAt,
    /// How the selection names the nixpkgs input (`nixpkgs`,
    /// `inputs.nixpkgs`), when it does.
    pub input_text: Option<String>,
    /// The scope the selection is evaluated in.
    pub env: EnvId,
}

/// Where an expression reaches a package set, recorded in the rewritable
/// reading ([`crate::eval::Reading::Rewritable`]).
#[derive(Debug, Clone)]
pub enum PkgsSite {
    /// The set is written here (its [`PkgsVia`] says where).
    Written(Rc<PkgsValue>),
    /// A variable holding the set is used here, in the scope `env`.
    Used {
        /// The variable.
        at: Src,
        /// The set.
        set: Rc<PkgsValue>,
        /// The scope it is looked up in.
        env: EnvId,
    },
}

/// Values that stand for things outside the files.
#[derive(Debug, Clone)]
pub enum Special {
    /// The result of `nixosSystem { ... }`.
    NixosSystem {
        /// The argument set.
        args: ThunkId,
        /// The nixpkgs input whose `lib.nixosSystem` was called.
        input: String,
        /// The application node, when the call is written in a file.
        call: Option<Src>,
    },
    /// A flake input, or something inside one (`inputs.x.nixosModules.y`).
    Input {
        /// The input's name.
        name: String,
        /// Whether it is a nixpkgs.
        nixpkgs: bool,
        /// The attributes selected from it.
        path: Vec<String>,
    },
    /// A module-system property.
    Property(Property),
    /// A nixpkgs package set.
    Pkgs(Rc<PkgsValue>),
    /// `<set>.pkgsCross`, in both readings.
    PkgsCross(Rc<PkgsValue>),
    /// Something taken from a package set: a package, a shell, a function
    /// that makes one (rewritable reading only; otherwise it is unknown).
    Package(Rc<PkgsValue>),
    /// The system a per-system helper runs for, when the file does not list
    /// its systems (rewritable reading only).
    AnySystem,
}

/// A value in weak head normal form.
#[derive(Debug, Clone)]
pub enum Value {
    /// `null`
    Null,
    /// `true`, `false`
    Bool(bool),
    /// An integer.
    Int(i64),
    /// A float.
    Float(f64),
    /// A string.
    Str(Rc<StrValue>),
    /// A path.
    Path(Rc<PathValue>),
    /// A list of suspended items.
    List(Rc<Vec<ThunkId>>),
    /// An attribute set of suspended values.
    Attrs(Rc<Attrs>),
    /// A function from a file.
    Lambda(Rc<Closure>),
    /// A built-in, maybe partly applied.
    Prim(Rc<PrimApp>),
    /// Something that stands for the world outside the files.
    Special(Rc<Special>),
    /// What nixcross cannot know, and why.
    Unknown(Rc<Unknown>),
}

impl Value {
    /// An unknown value.
    pub fn unknown(reason: impl Into<String>, at: Option<Src>) -> Value {
        Value::Unknown(Rc::new(Unknown {
            reason: reason.into(),
            at,
        }))
    }

    /// A plain string.
    pub fn string(s: impl Into<String>) -> Value {
        Value::Str(Rc::new(StrValue::text(s)))
    }

    /// The string's text, when it is a plain string.
    pub fn as_text(&self) -> Option<String> {
        match self {
            Value::Str(s) => s.as_text(),
            _ => None,
        }
    }

    /// What kind of value this is, for messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "a Boolean",
            Value::Int(_) => "an integer",
            Value::Float(_) => "a float",
            Value::Str(_) => "a string",
            Value::Path(_) => "a path",
            Value::List(_) => "a list",
            Value::Attrs(_) => "an attribute set",
            Value::Lambda(_) | Value::Prim(_) => "a function",
            Value::Special(s) => match **s {
                Special::NixosSystem { .. } => "a NixOS configuration",
                Special::Input { .. } => "a flake input",
                Special::Property(_) => "a module property",
                Special::Pkgs(_) => "a package set",
                Special::PkgsCross(_) => "pkgsCross",
                Special::Package(_) => "a package",
                Special::AnySystem => "the current system",
            },
            Value::Unknown(_) => "an unknown value",
        }
    }
}
