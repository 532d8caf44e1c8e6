//! A flake and its NixOS configurations, read the way Nix evaluates them,
//! across files.
//!
//! [`Flake::load`] reads `flake.nix` through a [`Files`] tree, evaluates its
//! `outputs` with the static evaluator (`crate::eval`) and stand-ins for
//! the inputs, and follows every `nixosConfigurations.<name>`, including
//! generated ones (`genAttrs`, `mapAttrs`, `listToAttrs`, `readDir`,
//! flake-parts). For each configuration it collects the modules NixOS would
//! load (`modules`: the `modules` list, `imports` recursively, function
//! modules, `self.nixosModules.*`), the definitions of the platform options
//! with their priorities, and the effective build and host platform
//! (`platforms`). What it cannot follow is reported with a reason.
//!
//! Assumption: modules from other flake inputs (`inputs.x.nixosModules.y`)
//! and from nixpkgs (`modulesPath + "/..."`) do not set `nixpkgs.*`
//! platform options.

pub(crate) mod host;
pub(crate) mod modules;
pub(crate) mod overlays;
pub(crate) mod platforms;
mod reach;

use std::rc::Rc;

use crate::error::{Error, Result};
use crate::eval::{AttrEntry, Attrs, Evaluator, PathValue, Special, Value};
use crate::files::{Files, RelPath};
use crate::source::{FileId, SourceMap, Src};
use crate::syntax::Node;

pub use crate::syntax::KeepTreesUntilExit;
pub(crate) use modules::{config_platform_base, ModuleInstance, ModuleOrigin, Opaque};
pub(crate) use overlays::{OverlayDef, ScopedSet, Tracking};
pub(crate) use platforms::{Definition, PlatformOption};
pub use platforms::{Platforms, SeenStyle};

/// A followed `nixosSystem { ... }` call.
#[derive(Debug, Clone, Default)]
pub(crate) struct SystemCall {
    /// The nixpkgs input whose `lib.nixosSystem` builds it.
    pub input: String,
    /// The application node `....nixosSystem { ... }`.
    pub call: Option<Src>,
    /// The argument set, when it is a literal in a file.
    pub args: Option<Src>,
    /// The `modules = ...;` binding, when written in a file.
    pub modules_binding: Option<Src>,
    /// The literal list new modules can go into (the list itself, or the
    /// literal side of `[ ... ] ++ other`).
    pub modules_list: Option<Src>,
    /// Literal lists that the `modules` expression selects from elsewhere
    /// and appends (`[ ... ] ++ (host.extraModules or [ ])` with
    /// `extraModules = [ ];` in the host's own attributes): a place for new
    /// modules when the list is this configuration's alone, empty or not.
    pub appended_lists: Vec<Src>,
    /// Every module NixOS loads for it, in order (the `modules` list first,
    /// then imports, depth first).
    pub modules: Vec<ModuleInstance>,
    /// What could define a platform option but cannot be read.
    pub opaque: Vec<Opaque>,
    /// Definitions of the platform options (the `system` argument included).
    pub definitions: Vec<Definition>,
    /// The `specialArgs` set, when there is one.
    pub special_args: Option<Rc<Attrs>>,
    /// The `specialArgs = ...;` binding, when written in a file.
    pub special_args_binding: Option<Src>,
    /// A `pkgs` argument, or `specialArgs.pkgs`: then NixOS ignores
    /// `nixpkgs.*` and the platforms are that package set's.
    pub pkgs_arg: Option<Src>,
    /// `nixpkgs.overlays` definitions.
    pub overlays: Vec<OverlayDef>,
    /// Scoped package sets passed through `specialArgs` or `_module.args`.
    pub scoped: Vec<ScopedSet>,
    /// `environment.systemPackages` bindings, with their module.
    pub package_lists: Vec<(usize, Src)>,
    /// The systems `boot.binfmt.emulatedSystems` lists, across every module
    /// (also under conditions: what it may list).
    pub emulated: Vec<String>,
    /// Why part of `boot.binfmt.emulatedSystems` is not known, if it is not.
    pub emulated_unknown: Option<String>,
    /// Remote builders and the build host's switches.
    pub host_settings: host::HostSettings,
    /// Module arguments the modules define through `_module.args`.
    pub module_args: Vec<ModuleArg>,
    /// `nixpkgs.pkgs = <package set>` (then NixOS ignores the other
    /// `nixpkgs.*` options).
    pub pkgs_option: Option<PkgsOption>,
}

impl SystemCall {
    /// Forget what the modules said, to read them again.
    fn reset_modules(&mut self) {
        self.modules.clear();
        self.opaque.clear();
        self.definitions.retain(|d| d.module.is_none());
        self.overlays.clear();
        self.package_lists.clear();
        self.emulated.clear();
        self.emulated_unknown = None;
        self.host_settings.clear();
        self.pkgs_option = None;
    }
}

/// One `_module.args.<name> = value;` definition.
#[derive(Debug, Clone)]
pub(crate) struct ModuleArg {
    /// The argument's name.
    pub name: String,
    /// Its value.
    pub value: crate::eval::ThunkId,
    /// The binding that defines it.
    pub def: Option<Src>,
}

/// `nixpkgs.pkgs = <package set>`: where, and the platforms of that set.
#[derive(Debug, Clone)]
pub(crate) struct PkgsOption {
    /// The definition.
    pub site: Option<Src>,
    /// The set's build platform, when known.
    pub build: Option<String>,
    /// The set's host platform, when known.
    pub host: Option<String>,
    /// Defined more than once or under a condition: which definition NixOS
    /// uses is not read (the platforms are then unknown).
    pub several: bool,
}

/// Whether nixcross could follow a configuration.
#[derive(Debug, Clone)]
pub(crate) enum Status {
    /// A `nixosSystem` call nixcross can read.
    Followed(Box<SystemCall>),
    /// Something else, or something nixcross cannot evaluate.
    NotFollowed {
        /// Where, when known.
        at: Option<Src>,
    },
}

/// One `nixosConfigurations.<name>`.
#[derive(Debug, Clone)]
pub struct Config {
    /// The name.
    pub name: String,
    /// Where the configuration is defined (the binding, or for a generated
    /// one the expression that generates it).
    pub(crate) at: Option<Src>,
    /// What nixcross found.
    pub(crate) status: Status,
    /// The effective platforms.
    pub platforms: Platforms,
}

impl Config {
    /// The followed call, if any.
    pub(crate) fn system(&self) -> Option<&SystemCall> {
        match &self.status {
            Status::Followed(s) => Some(s),
            Status::NotFollowed { .. } => None,
        }
    }
}

/// A flake: its files, its inputs and its NixOS configurations.
pub struct Flake<'f> {
    /// The evaluator (with the files it has read).
    pub(crate) ev: Evaluator<'f>,
    /// `flake.nix`.
    pub(crate) file: FileId,
    /// The configurations, in name order: all of them after
    /// [`Flake::load`]; after [`Flake::load_for`], the one asked for and
    /// those that may share text with it.
    pub configs: Vec<Config>,
    /// The names of the configurations not read ([`Flake::load_for`]).
    unread: Vec<String>,
    /// The configuration [`Flake::load_for`] was asked for.
    pub(crate) loaded_for: Option<String>,
    /// Why `nixosConfigurations` may hold more than `configs`, if it may.
    pub(crate) incomplete: Option<(String, Option<Src>)>,
    /// The `outputs` function's parameter names.
    pub(crate) outputs_formals: Vec<String>,
    /// The `@`-name or the plain parameter of `outputs` (`inputs`).
    pub(crate) outputs_bind: Option<String>,
    /// The outputs function's body (inside the lambda).
    pub(crate) outputs_body: Option<Src>,
    /// Which configurations use which text (built on first use).
    uses: std::cell::OnceCell<UsesIndex>,
}

impl std::fmt::Debug for Flake<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Flake")
            .field("configs", &self.configs)
            .finish_non_exhaustive()
    }
}

impl Drop for Flake<'_> {
    fn drop(&mut self) {
        // An evaluator that spent much (a flake whose values grow) is
        // freed, so that the loads of one command do not add up.
        if crate::syntax::trees_kept() && self.ev.spent().1 < crate::eval::MAX_BYTES / 4 {
            let files = self.ev.sources.files();
            let empty = Evaluator::new(SourceMap::new(files));
            std::mem::forget(std::mem::replace(&mut self.ev, empty));
            std::mem::forget(std::mem::take(&mut self.configs));
        }
    }
}

/// Whether an input's URL or name says it is nixpkgs.
fn is_nixpkgs_input(name: &str, url: Option<&str>) -> bool {
    if name == "nixpkgs" {
        return true;
    }
    if let Some(url) = url {
        let u = url.to_ascii_lowercase();
        // A fork (`github:someone/nixpkgs/branch`) is a nixpkgs too.
        let forge_repo = ["github:", "gitlab:", "sourcehut:"]
            .iter()
            .find_map(|p| u.strip_prefix(p))
            .and_then(|rest| rest.split('/').nth(1))
            .map(|repo| repo.split(['?', '#']).next().unwrap_or(repo));
        return forge_repo == Some("nixpkgs")
            || u.starts_with("github:nixos/nixpkgs")
            || u.starts_with("nixpkgs")
            || u.starts_with("flake:nixpkgs")
            || u.contains("github.com/nixos/nixpkgs")
            || u.contains("channels.nixos.org")
            || u.contains("nixos.org/channels")
            || u.contains("flakehub.com/f/nixos/nixpkgs")
            || u.starts_with("gitlab:nixos/nixpkgs");
    }
    name == "nixpkgs" || name.starts_with("nixpkgs-") || name.starts_with("nixpkgs_")
}

impl<'f> Flake<'f> {
    /// Read `flake` (usually `flake.nix`) from `files` and follow its
    /// configurations. Fails only when `flake.nix` itself cannot be read or
    /// parsed.
    ///
    /// # Examples
    ///
    /// ```
    /// use nixcross::files::{MemFiles, RelPath};
    /// use nixcross::flake::Flake;
    ///
    /// let files = MemFiles::single(
    ///     "flake.nix",
    ///     r#"{
    ///   outputs = { self, nixpkgs }: {
    ///     nixosConfigurations.board = nixpkgs.lib.nixosSystem {
    ///       system = "x86_64-linux";
    ///       modules = [ { nixpkgs.crossSystem.system = "aarch64-linux"; } ];
    ///     };
    ///   };
    /// }"#,
    /// );
    /// let flake = Flake::load(&files, &RelPath::new("flake.nix").unwrap())?;
    /// let board = flake.config("board").expect("the flake defines board");
    /// assert_eq!(board.platforms.build.as_deref(), Some("x86_64-linux"));
    /// assert_eq!(board.platforms.host.as_deref(), Some("aarch64-linux"));
    /// # Ok::<(), nixcross::Error>(())
    /// ```
    pub fn load(files: &'f dyn Files, flake: &RelPath) -> Result<Flake<'f>> {
        Flake::load_for(files, flake, None)
    }

    /// Read `flake` to edit the configuration `name`: follow that one, and
    /// of the others only those that may reach text it reaches (what the
    /// text of their bindings says they reach); which other configurations
    /// use a piece of that text is then answered as after a full load.
    /// Without a name, or with one the flake does not have, the same as
    /// [`Flake::load`].
    pub fn load_for(
        files: &'f dyn Files,
        flake: &RelPath,
        name: Option<&str>,
    ) -> Result<Flake<'f>> {
        let mut sources = SourceMap::new(files);
        let file = sources
            .load(flake)
            .map_err(|e| Error::invalid(format!("cannot read {}: {}", e.path, e.error)))?;
        let src = sources.get(file);
        let root = match &src.doc {
            Ok(doc) => doc.expr(),
            Err(e) => return Err(e.clone()),
        };
        let head = Head::read(root.as_ref());
        let Head {
            inputs,
            outputs: outputs_node,
            formals,
            bind,
            body,
        } = head;
        let body = body.map(|b| Src::new(file, b));
        let mut ev = Evaluator::new(sources);
        let configs_value = outputs_node
            .as_ref()
            .map(|o| evaluate_outputs(&mut ev, file, o, &inputs));
        let lambda = outputs_node
            .as_ref()
            .map(|o| o.unparen())
            .filter(|o| o.lambda().is_some());
        let mut flake = Flake {
            ev,
            file,
            configs: Vec::new(),
            unread: Vec::new(),
            loaded_for: name.map(str::to_string),
            incomplete: None,
            outputs_formals: formals,
            outputs_bind: bind,
            outputs_body: body,
            uses: std::cell::OnceCell::new(),
        };
        match configs_value {
            Some(v) => flake.read_configurations(v, name, lambda),
            None => flake.incomplete = Some(("the flake has no `outputs`".into(), None)),
        }
        Ok(flake)
    }

    fn read_configurations(
        &mut self,
        value: (Value, Option<Src>),
        only: Option<&str>,
        lambda: Option<Node>,
    ) {
        let (v, at) = value;
        let attrs = match v {
            Value::Attrs(a) => a,
            Value::Unknown(u) => {
                self.incomplete = Some((
                    format!("nixcross cannot list `nixosConfigurations`: {}", u.reason),
                    u.at.clone().or(at),
                ));
                return;
            }
            other => {
                self.incomplete = Some((
                    format!("`nixosConfigurations` is {}", other.type_name()),
                    at,
                ));
                return;
            }
        };
        if let Some(u) = &attrs.open {
            self.incomplete = Some((
                format!(
                    "`nixosConfigurations` may hold more configurations: {}",
                    u.reason
                ),
                u.at.clone(),
            ));
        }
        let entries: Vec<(String, AttrEntry)> = attrs
            .entries
            .iter()
            .map(|(k, e)| (k.clone(), e.clone()))
            .collect();
        let read = self.which_to_read(&entries, only, lambda);
        for ((name, entry), read) in entries.into_iter().zip(read) {
            if read {
                let config = modules::read_config(&mut self.ev, &name, &entry, at.clone());
                self.configs.push(config);
            } else {
                self.unread.push(name);
            }
        }
    }

    /// Which of `entries` to follow when the configuration `only` is
    /// edited: it, and every other one whose reach is unknown or meets its
    /// own. All of them without `only`, or when its reach is unknown.
    fn which_to_read(
        &self,
        entries: &[(String, AttrEntry)],
        only: Option<&str>,
        lambda: Option<Node>,
    ) -> Vec<bool> {
        let all = vec![true; entries.len()];
        let Some(target) = only.and_then(|n| entries.iter().position(|(k, _)| k == n)) else {
            return all;
        };
        let outputs = reach::Outputs {
            lambda,
            formals: &self.outputs_formals,
            bind: self.outputs_bind.as_deref(),
        };
        let reader = reach::Reader::new(&self.ev, self.file, outputs);
        let reach_of = |e: &AttrEntry| reader.reach_of(e.value);
        let Some(own) = reach_of(&entries[target].1) else {
            return all;
        };
        entries
            .iter()
            .enumerate()
            .map(|(i, (_, e))| i == target || reach_of(e).is_none_or(|r| r.meets(&own)))
            .collect()
    }

    /// The names of the configurations [`Flake::load_for`] did not read.
    pub(crate) fn unread(&self) -> &[String] {
        &self.unread
    }

    /// The flake file, relative to the tree's root.
    pub(crate) fn entry(&self) -> &RelPath {
        &self.ev.sources.get(self.file).path
    }

    /// The configuration called `name`.
    pub fn config(&self, name: &str) -> Option<&Config> {
        self.configs.iter().find(|c| c.name == name)
    }

    /// The refusal of a file that is no flake but a NixOS module, a
    /// package or a home-manager module (it has no `outputs`, nor a flake's
    /// `description`, `inputs` or `nixConfig`), to say what it is.
    pub(crate) fn not_a_flake(&self) -> Option<Error> {
        use crate::module::places::{file_kind, FileKind};
        if self.outputs_body.is_some() {
            return None;
        }
        let root = self.ev.sources.get(self.file).root().ok()?;
        if let Some(set) = root.unparen().attrset() {
            let flake_keys = ["description", "inputs", "outputs", "nixConfig"];
            if set
                .entries
                .iter()
                .filter_map(|e| e.first_name())
                .any(|k| flake_keys.contains(&k))
            {
                return None;
            }
        }
        let kind = file_kind(&root);
        let hint = match kind {
            FileKind::Flake | FileKind::FlakePartsModule => return None,
            FileKind::NixosModule => "emulate and add-builder edit a NixOS module; set-target, add-overlay and add-config edit a flake: give the flake (-f flake.nix, or its folder)",
            _ => "give the flake (-f flake.nix, or its folder)",
        };
        Some(Error::refused(format!("this file is {}, not a flake", kind.describe())).hint(hint))
    }

    /// Pick the configuration to edit: `name`, or the only one.
    pub fn select(&self, name: Option<&str>) -> Result<&Config> {
        let names = || {
            let mut all: Vec<&str> = self.configs.iter().map(|c| c.name.as_str()).collect();
            all.extend(self.unread.iter().map(String::as_str));
            all.sort_unstable();
            all.join(", ")
        };
        match name {
            Some(n) => self.config(n).ok_or_else(|| {
                let mut e = Error::invalid(format!("no configuration named `{n}`"));
                if !self.configs.is_empty() || !self.unread.is_empty() {
                    e = e.hint(format!("the flake has: {}", names()));
                }
                if let Some((why, _)) = &self.incomplete {
                    e = e.hint(why.clone());
                }
                e
            }),
            None => match self.configs.len() + self.unread.len() {
                0 if self.not_a_flake().is_some() => Err(self.not_a_flake().expect("checked")),
                0 => {
                    let mut e = Error::refused(
                        "found no nixosConfigurations (nixcross reads `outputs` -> `nixosConfigurations.<name> = ...nixosSystem { ... }`)",
                    );
                    if let Some((why, at)) = &self.incomplete {
                        e = e.hint(why.clone());
                        if let Some(at) = at {
                            e = e.at(at.range());
                        }
                    }
                    Err(e)
                }
                1 => Ok(&self.configs[0]),
                n => Err(Error::invalid(format!(
                    "the flake has {n} configurations; choose one with --config"
                ))
                .hint(format!("configurations: {}", names()))),
            },
        }
    }

    /// `path:line:col` of a node.
    pub(crate) fn describe(&self, src: &Src) -> String {
        self.ev.sources.describe(src)
    }

    /// The names of the other configurations whose modules, call or
    /// platform literals contain `range` of `file`: those an edit there
    /// would change too. After [`Flake::load_for`], exact for the ranges
    /// the configuration asked for reaches (the others cannot reach them).
    pub(crate) fn users_of(
        &self,
        file: FileId,
        range: (usize, usize),
        except: &str,
    ) -> Vec<String> {
        let index = self.uses.get_or_init(|| UsesIndex::new(&self.configs));
        index
            .users(file, range)
            .into_iter()
            .map(|i| &self.configs[i].name)
            .filter(|n| *n != except)
            .cloned()
            .collect()
    }
}

/// Which configurations use which text, for [`Flake::users_of`]: built once,
/// so that asking for every configuration (as `show` does) stays linear.
#[derive(Debug, Default)]
struct UsesIndex {
    /// Module files, and the configurations that load them whole.
    whole: std::collections::HashMap<FileId, Vec<usize>>,
    /// Per file: regions sorted by start, and the largest end up to each
    /// (to stop scanning back early).
    regions: std::collections::HashMap<FileId, (Vec<Region>, Vec<usize>)>,
}

/// `(start, end, config index)`.
type Region = (usize, usize, usize);

impl UsesIndex {
    fn new(configs: &[Config]) -> UsesIndex {
        let mut index = UsesIndex::default();
        for (i, c) in configs.iter().enumerate() {
            let Some(sys) = c.system() else { continue };
            let mut regions: Vec<(FileId, (usize, usize))> = Vec::new();
            modules::used_text(
                sys,
                |f| index.whole.entry(f).or_default().push(i),
                |src| regions.push((src.file, src.range())),
            );
            for (f, (a, b)) in regions {
                index.regions.entry(f).or_default().0.push((a, b, i));
            }
        }
        for (list, max_end) in index.regions.values_mut() {
            list.sort_unstable();
            let mut m = 0;
            *max_end = list
                .iter()
                .map(|(_, e, _)| {
                    m = m.max(*e);
                    m
                })
                .collect();
        }
        index
    }

    /// The configurations (indices, ascending) whose text contains `range`
    /// of `file`.
    fn users(&self, file: FileId, range: (usize, usize)) -> Vec<usize> {
        let mut out: Vec<usize> = self.whole.get(&file).cloned().unwrap_or_default();
        if let Some((list, max_end)) = self.regions.get(&file) {
            // Regions that start at or before `range.0` ...
            let n = list.partition_point(|(s, _, _)| *s <= range.0);
            // ... and end at or after `range.1`, scanning back while any
            // earlier region could still reach that far.
            for i in (0..n).rev() {
                if max_end[i] < range.1 {
                    break;
                }
                let (_, e, c) = list[i];
                if e >= range.1 {
                    out.push(c);
                }
            }
        }
        out.sort_unstable();
        out.dedup();
        out
    }
}

/// What `flake.nix` says at its top.
pub(crate) struct Head {
    /// The inputs, each with whether it is nixpkgs: those declared, the
    /// `outputs` function's formals (flakes pass every input), and
    /// `nixpkgs` (the registry provides it).
    pub inputs: Vec<(String, bool)>,
    /// The `outputs` expression.
    pub outputs: Option<Node>,
    /// The `outputs` function's parameter names.
    pub formals: Vec<String>,
    /// Its `@`-name or plain parameter.
    pub bind: Option<String>,
    /// Its body.
    pub body: Option<Node>,
}

impl Head {
    /// Read the top of a flake whose expression is `root`.
    pub(crate) fn read(root: Option<&Node>) -> Head {
        // Inputs: names and which are nixpkgs.
        let mut inputs: Vec<(String, bool)> = Vec::new();
        let mut outputs_node: Option<Node> = None;
        if let Some(set) = root.and_then(|r| r.unparen().attrset()) {
            for e in &set.entries {
                let crate::syntax::Entry::Binding(b) = e else {
                    continue;
                };
                let Some(path) = &b.path else { continue };
                match path.first().map(String::as_str) {
                    Some("outputs") if path.len() == 1 => outputs_node = Some(b.value.clone()),
                    Some("inputs") => {
                        let mut found = Vec::new();
                        if path.len() == 1 {
                            if let Some(s) = b.value.unparen().attrset() {
                                for ie in &s.entries {
                                    if let crate::syntax::Entry::Binding(ib) = ie {
                                        if let Some(p) = &ib.path {
                                            found.push((p.clone(), ib.value.clone()));
                                        }
                                    }
                                }
                            }
                        } else {
                            found.push((path[1..].to_vec(), b.value.clone()));
                        }
                        for (p, value) in found {
                            let name = p[0].clone();
                            let url = if p.len() == 2 && p[1] == "url" {
                                value.string_literal()
                            } else if p.len() == 1 {
                                value
                                    .unparen()
                                    .attrset()
                                    .and_then(|s| {
                                        s.entries.iter().find_map(|e| match e {
                                            crate::syntax::Entry::Binding(x)
                                                if x.path.as_deref()
                                                    == Some(&["url".to_string()][..]) =>
                                            {
                                                x.value.string_literal()
                                            }
                                            _ => None,
                                        })
                                    })
                                    .or_else(|| value.string_literal())
                            } else {
                                None
                            };
                            match inputs.iter_mut().find(|(n, _)| *n == name) {
                                Some(entry) => {
                                    if url.is_some() {
                                        entry.1 = is_nixpkgs_input(&name, url.as_deref());
                                    }
                                }
                                None => {
                                    let nix = is_nixpkgs_input(&name, url.as_deref());
                                    inputs.push((name, nix));
                                }
                            }
                        }
                    }
                    _ => {}
                }
            }
        }
        let mut formals = Vec::new();
        let mut bind = None;
        let mut body = None;
        if let Some(lam) = outputs_node.as_ref().and_then(|o| o.unparen().lambda()) {
            match &lam.param {
                crate::syntax::Param::Ident { name } => bind = Some(name.clone()),
                crate::syntax::Param::Pattern {
                    formals: fs,
                    bind: b,
                    ..
                } => {
                    formals = fs.iter().map(|f| f.name.clone()).collect();
                    bind = b.clone();
                }
            }
            body = Some(lam.body.clone());
        }
        // A formal that is not a declared input is an input too (flakes
        // pass every input; `self` is special).
        for f in &formals {
            if f != "self" && !inputs.iter().any(|(n, _)| n == f) {
                inputs.push((f.clone(), is_nixpkgs_input(f, None)));
            }
        }
        // `nixpkgs` is always an input of a NixOS flake, even undeclared
        // (the registry provides it).
        if !inputs.iter().any(|(n, _)| n == "nixpkgs") {
            inputs.push(("nixpkgs".into(), true));
        }
        Head {
            inputs,
            outputs: outputs_node,
            formals,
            bind,
            body,
        }
    }
}

/// The inputs as values: a flake input stands for itself
/// ([`Special::Input`]).
pub(crate) fn input_values(ev: &mut Evaluator, inputs: &[(String, bool)]) -> Attrs {
    let mut args = Attrs::default();
    for (name, nixpkgs) in inputs {
        let t = ev.value(Value::Special(Rc::new(Special::Input {
            name: name.clone(),
            nixpkgs: *nixpkgs,
            path: Vec::new(),
        })));
        args.entries.insert(
            name.clone(),
            AttrEntry {
                value: t,
                def: None,
            },
        );
    }
    args
}

/// Evaluate `outputs` with stand-in inputs and return its
/// `nixosConfigurations` and where that is written.
fn evaluate_outputs(
    ev: &mut Evaluator,
    file: FileId,
    outputs: &Node,
    inputs: &[(String, bool)],
) -> (Value, Option<Src>) {
    let base = ev.base_env();
    let outputs_t = ev.delay(outputs, file, base);
    // inputs = { self = <fix>; nixpkgs = <input>; ... }
    let self_t = ev.placeholder();
    let mut args = input_values(ev, inputs);
    args.entries.insert(
        "self".into(),
        AttrEntry {
            value: self_t,
            def: None,
        },
    );
    let args_t = ev.value(Value::Attrs(Rc::new(args.clone())));
    let result_t = ev.delay_apply(outputs_t, args_t);
    // self = outputs // { outPath = ./.; inputs = ...; }
    let root = ev.sources.get(file).path.parent().unwrap_or_default();
    let mut extra = Attrs::default();
    let out_path = ev.value(Value::Path(Rc::new(PathValue::Tree(root))));
    extra.entries.insert(
        "outPath".into(),
        AttrEntry {
            value: out_path,
            def: None,
        },
    );
    extra.entries.insert(
        "inputs".into(),
        AttrEntry {
            value: args_t,
            def: None,
        },
    );
    // `self.outputs` is the outputs themselves (Nix's call-flake.nix).
    extra.entries.insert(
        "outputs".into(),
        AttrEntry {
            value: result_t,
            def: None,
        },
    );
    let extra_t = ev.value(Value::Attrs(Rc::new(extra)));
    ev.fill_update(self_t, result_t, extra_t);
    let result = ev.force(result_t);
    match &result {
        Value::Attrs(a) => match a.entries.get("nixosConfigurations") {
            Some(e) => {
                let at = e.def.clone();
                let t = e.value;
                (ev.force(t), at)
            }
            None => match &a.open {
                Some(u) => (Value::Unknown(u.clone()), None),
                None => (Value::Attrs(Rc::new(Attrs::default())), None),
            },
        },
        Value::Unknown(_) => (result, None),
        other => (
            Value::unknown(
                format!(
                    "`outputs` gives {}, not an attribute set",
                    other.type_name()
                ),
                Some(Src::new(file, outputs.clone())),
            ),
            None,
        ),
    }
}

#[cfg(test)]
mod tests;
