//! `set-target --package ATTR` / `--shell NAME`: point one package or dev
//! shell at another target, or switch it between cross-compiling and
//! emulation, changing only the bytes that name its package set and its
//! system.
//!
//! - The package set is rewritten where it is written when no other output
//!   uses that text (a `let` binding only this output refers to, or the
//!   output's own expression): the `pkgsCross.<example>` name, the
//!   `legacyPackages.<system>` key, or the `localSystem`/`crossSystem`
//!   entries of `import nixpkgs { ... }`. A form that cannot say the new
//!   target (no pkgsCross example for it) becomes `import nixpkgs { ... }`.
//! - When the set's binding is shared, the output's own uses of it are
//!   rewritten instead (`pkgs.hello` becomes
//!   `pkgs.pkgsCross.aarch64-multiplatform.hello`).
//! - The output moves to the system that builds it (`packages.<build>` for
//!   a cross build, `packages.<target>` for an emulated one) by renaming its
//!   system key, when that key is its alone.
//! - An output a helper generates for several systems (`forAllSystems`,
//!   `eachDefaultSystem`) keeps its systems: only its cross target changes.

use std::collections::BTreeMap;

use crate::edit::{FileEdits, Outcome, Plan, TextEdit};
use crate::error::{Error, LineIndex, Result};
use crate::eval::{EnvId, Evaluator, Special, Value};
use crate::files::{Files, RelPath};
use crate::module::{self, Position};
use crate::outputs::pkgset::{self, CrossPart, PkgSet, PlatformSpec};
use crate::outputs::read::{self, Output, Read, SystemOf};
use crate::outputs::sets::{Plat, PlatVal, SetOrigin, SetVal, Site};
use crate::platform::{self, Target};
use crate::source::FileId;
use crate::syntax::{self, Entry, Key, KeyAt};
use crate::vocab::{Kind, Mode};

/// What `set-target --package/--shell` was asked for.
#[derive(Debug, Clone)]
pub struct RetargetOptions {
    /// `Kind::Package` (`packages`) or `Kind::Shell` (`devShells`).
    pub kind: Kind,
    /// The output's name, or `<system>.<name>` when the name is defined
    /// under several systems separately.
    pub name: String,
    /// A double, a pkgsCross name or a config triple.
    pub target: String,
    /// A shell is always cross.
    pub mode: Mode,
    /// The machine that builds, for a cross build (default: the one that
    /// builds it now when it is cross, else `local_system`).
    pub host: Option<String>,
    /// The machine nixcross runs on.
    pub local_system: Option<String>,
}

/// Plan and apply the retarget of an output of the flake `flake`. The
/// changed text has been re-parsed.
pub fn retarget(files: &dyn Files, flake: &RelPath, opts: &RetargetOptions) -> Result<Outcome> {
    plan_retarget(files, flake, opts)?.apply(files)
}

/// Plan the retarget of an output of the flake `flake`, without applying it.
pub fn plan_retarget(files: &dyn Files, flake: &RelPath, opts: &RetargetOptions) -> Result<Plan> {
    // The revision first: a file that changes while it is planned is then
    // refused when the plan is applied.
    let revision = files
        .read(flake)
        .ok()
        .map(|t| crate::edit::Revision::of(&t));
    let (edits, summary, warnings) = plan_edits(files, flake, opts)?;
    Ok(Plan {
        files: vec![FileEdits {
            path: flake.clone(),
            reasons: vec![summary.clone()],
            edits,
            revision,
        }],
        summary,
        warnings,
        ..Plan::default()
    })
}

/// The build machine asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Build {
    /// This system double.
    To(String),
    /// Whatever builds it now (each system of a per-system helper).
    Keep,
}

/// The request, resolved.
struct Want {
    target: Target,
    mode: Mode,
    build: Build,
}

impl Want {
    fn cross_part(&self) -> CrossPart {
        pkgset::cross_part(&self.target)
    }
}

fn what(kind: Kind) -> &'static str {
    match kind {
        Kind::Shell => "dev shell",
        _ => "package",
    }
}

/// Whether `p` is exactly the target's platform.
pub(crate) fn plat_is(p: &PlatVal, target: &Target) -> bool {
    let PlatVal::Known(p) = p else {
        return false;
    };
    if p.extra {
        return false;
    }
    let same = if target.config.is_empty() {
        p.system == target.system
    } else {
        p.config == target.config
    };
    if !same {
        return false;
    }
    if target.example_has_extras && p.example != target.example {
        return false;
    }
    match &p.example {
        Some(e) if Some(e) != target.example.as_ref() => {
            platform::catalogue().example(e).is_some_and(|x| x.exact)
        }
        _ => true,
    }
}

fn plat_system(p: &PlatVal) -> Option<&str> {
    match p {
        PlatVal::Known(Plat { system, .. }) => Some(system),
        _ => None,
    }
}

/// Whether `p` is the double `system`'s own platform, as a build machine is.
fn is_plain(p: &PlatVal, system: &str) -> bool {
    match p {
        PlatVal::Known(p) => {
            p.system == system
                && !p.extra
                && p.example.is_none()
                && platform::catalogue()
                    .system(system)
                    .is_none_or(|s| s.config == p.config)
        }
        _ => false,
    }
}

fn same_platforms(a: &SetVal, b: &SetVal) -> bool {
    a.build == b.build && a.host == b.host && a.cross == b.cross
}

/// Pick the outputs `opts` names: one definition (several outputs when a
/// helper generates it for several systems).
fn select<'o>(outputs: &'o [Output], opts: &RetargetOptions, src: &str) -> Result<Vec<&'o Output>> {
    let of_kind = |o: &&Output| o.kind == opts.kind;
    let mut found: Vec<&Output> = outputs
        .iter()
        .filter(of_kind)
        .filter(|o| o.name.as_deref() == Some(opts.name.as_str()))
        .collect();
    if found.is_empty() {
        if let Some((sys, name)) = opts.name.split_once('.') {
            found = outputs
                .iter()
                .filter(of_kind)
                .filter(|o| o.name.as_deref() == Some(name) && o.system.system() == Some(sys))
                .collect();
        }
    }
    if found.is_empty() {
        let mut names: Vec<&str> = outputs
            .iter()
            .filter(of_kind)
            .filter_map(|o| o.name.as_deref())
            .collect();
        names.sort();
        names.dedup();
        let key = match opts.kind {
            Kind::Shell => "devShells",
            _ => "packages",
        };
        let mut e = Error::invalid(format!(
            "no {} named `{}` in this flake",
            what(opts.kind),
            opts.name
        ));
        e = if names.is_empty() {
            e.hint(format!("the flake has no {key} that nixcross can see"))
        } else {
            e.hint(format!("{key}: {}", names.join(", ")))
        };
        return Err(e);
    }
    let mut groups: BTreeMap<Option<(usize, usize)>, Vec<&Output>> = BTreeMap::new();
    for o in found {
        groups.entry(o.value.or(Some(o.at))).or_default().push(o);
    }
    if groups.len() > 1 {
        let lines = LineIndex::new(src);
        let places: Vec<String> = groups
            .values()
            .map(|g| {
                format!(
                    "{} (line {})",
                    g[0].system.system().unwrap_or("?"),
                    lines.line(g[0].at.0)
                )
            })
            .collect();
        let at = groups.values().next().unwrap()[0].at;
        return Err(Error::refused(format!(
            "`{}` is defined {} times: {}",
            opts.name,
            groups.len(),
            places.join(", ")
        ))
        .at(at)
        .hint(format!(
            "name one as <system>.{}, e.g. {}.{}",
            opts.name,
            groups.values().next().unwrap()[0]
                .system
                .system()
                .unwrap_or("x86_64-linux"),
            opts.name
        )));
    }
    Ok(groups.into_values().next().unwrap())
}

/// The edits to the flake `flake`'s text, what they do, and warnings.
fn plan_edits(
    files: &dyn Files,
    flake: &RelPath,
    opts: &RetargetOptions,
) -> Result<(Vec<TextEdit>, String, Vec<crate::error::Diagnostic>)> {
    if !matches!(opts.kind, Kind::Package | Kind::Shell) {
        return Err(Error::invalid(
            "set-target retargets a package or a dev shell here",
        ));
    }
    if opts.kind == Kind::Shell && !opts.mode.is_cross() {
        return Err(Error::invalid(
            "a dev shell runs on the build machine with a cross compiler; it cannot be emulated",
        )
        .hint("use --mode cross"));
    }
    let read = read::read(files, flake)?;
    let src = read.src().to_string();
    let src = src.as_str();
    let doc = read.doc().clone();
    let Read {
        mut ev,
        file,
        outputs,
    } = read;
    let group = select(&outputs, opts, src)?;
    for o in &group {
        if let Some(why) = o.blocker() {
            return Err(Error::refused(format!(
                "cannot retarget {} `{}`: {why}",
                what(opts.kind),
                opts.name
            ))
            .at(o.at));
        }
    }
    let first = group[0];
    let made = first.made.as_ref().expect("editable outputs are made");
    let set = &made.set;
    let target = platform::resolve(&opts.target)?;
    let generated = match &first.system {
        SystemOf::Generated { how, .. } => Some(how.to_string()),
        _ if group.len() > 1 => Some("a helper".to_string()),
        _ => None,
    };
    let mut warnings = Vec::new();
    let build = if let Some(how) = generated {
        if opts.host.is_some() {
            return Err(Error::refused(format!(
                "`{}` is generated for each system it builds on (by {how}); --host cannot choose one",
                opts.name
            ))
            .at(first.at)
            .hint("drop --host: the cross target changes for every system"));
        }
        if !opts.mode.is_cross() {
            return Err(Error::refused(format!(
                "`{}` is generated for each system it builds on (by {how}), and an emulated build sits under the target's system instead",
                opts.name
            ))
            .at(first.at)
            .hint("write the emulated package for the target's system by hand, or use --mode cross"));
        }
        let systems: Vec<&str> = group.iter().filter_map(|o| o.system.system()).collect();
        for s in &systems {
            if pkgset::is_build_platform(&target, s) {
                warnings.push(format!(
                    "on {s}, `{}` is the build machine's own platform, so it is built natively there",
                    target.system
                ).into());
            }
        }
        Build::Keep
    } else {
        let b = match (&opts.host, opts.mode) {
            (Some(h), _) => {
                platform::resolve(h)
                    .map_err(|mut e| {
                        e.message = format!("unknown build host: {}", e.message);
                        e
                    })?
                    .system
            }
            (None, _) if set.cross => {
                plat_system(&set.build).map(String::from).ok_or_else(|| {
                    Error::invalid("cannot tell which system builds it; pass --host <SYSTEM>")
                })?
            }
            (None, Mode::Cross) => opts.local_system.clone().ok_or_else(|| {
                Error::invalid("cannot tell which system builds; pass --host <SYSTEM>")
            })?,
            // A native build is built by a machine of the target's system.
            (None, Mode::Native) => target.system.clone(),
            (None, Mode::Emulate) => opts
                .local_system
                .clone()
                .or_else(|| plat_system(&set.build).map(String::from))
                .unwrap_or_default(),
        };
        // The same refusals as init: a cross build to the build machine's
        // own platform, an emulated build QEMU cannot run.
        opts.mode.check_builder(&target.system, &b)?;
        pkgset::package_set(&target, &b, opts.mode)?;
        if opts.mode == Mode::Emulate && b != target.system {
            warnings.push(format!(
                "an emulated build needs the building machine to run {0} programs: on NixOS add `boot.binfmt.emulatedSystems = [ \"{0}\" ];` to its configuration (`nixcross emulate {0}`)",
                target.system
            ).into());
        }
        Build::To(b)
    };
    let want = Want {
        target,
        mode: opts.mode,
        build,
    };
    let mut p = OutputRetarget {
        src,
        doc: &doc,
        ev: &mut ev,
        file,
        outputs: &outputs,
        values: group.iter().filter_map(|o| o.value).collect(),
        edits: Vec::new(),
    };
    // Where the output sits: packages.<build> (cross) or packages.<target>.
    if let Build::To(b) = &want.build {
        let wanted_system = match want.mode {
            Mode::Cross => b.clone(),
            Mode::Emulate | Mode::Native => want.target.system.clone(),
        };
        p.move_to_system(first, &wanted_system)?;
    }
    if !set_is_wanted(set, &want) {
        p.rewrite_sets(set, &made.sites, &want)?;
    }
    let summary = match (want.mode, &want.build) {
        (Mode::Cross, Build::To(b)) => format!("cross-compile for {} on {b}", want.target.system),
        (Mode::Cross, Build::Keep) => {
            format!("cross-compile for {} on each system", want.target.system)
        }
        (Mode::Emulate | Mode::Native, Build::To(b)) if *b == want.target.system => {
            format!("build {} natively", want.target.system)
        }
        (Mode::Emulate | Mode::Native, Build::To(b)) if !b.is_empty() => {
            format!("build {} under emulation on {b}", want.target.system)
        }
        (Mode::Emulate | Mode::Native, _) => format!(
            "build {} natively (under emulation on other systems)",
            want.target.system
        ),
    };
    Ok((
        p.edits,
        format!("{} {}: {summary}", what(opts.kind), opts.name),
        warnings,
    ))
}

/// Whether the set already builds what is wanted.
fn set_is_wanted(set: &SetVal, want: &Want) -> bool {
    let build_ok = match &want.build {
        Build::Keep => true,
        Build::To(b) => is_plain(&set.build, b),
    };
    match want.mode {
        Mode::Cross => set.cross && build_ok && plat_is(&set.host, &want.target),
        Mode::Emulate | Mode::Native => !set.cross && plat_is(&set.host, &want.target),
    }
}

/// The retarget of the selected outputs, being planned: the flake file as
/// read, and the edits so far.
struct OutputRetarget<'r, 'f> {
    src: &'r str,
    doc: &'r syntax::Doc,
    /// The evaluator that read the flake, to check expressions in the
    /// scopes it met.
    ev: &'r mut Evaluator<'f>,
    file: FileId,
    outputs: &'r [Output],
    /// The value ranges of the selected outputs (the same text for each
    /// system a helper generates).
    values: Vec<(usize, usize)>,
    edits: Vec<TextEdit>,
}

impl OutputRetarget<'_, '_> {
    fn push(&mut self, e: TextEdit) {
        if !self.edits.contains(&e) {
            self.edits.push(e);
        }
    }

    /// Whether text at `range` is reached only by the selected outputs:
    /// inside their value, or in a `let` binding that only such text uses.
    fn private(&self, range: (usize, usize)) -> bool {
        self.private_at(range, 0)
    }

    fn private_at(&self, range: (usize, usize), depth: u32) -> bool {
        if self.values.iter().any(|v| v.0 <= range.0 && range.1 <= v.1) {
            return true;
        }
        if depth > 8 {
            return false;
        }
        let Some(b) = self.doc.enclosing_bindings(range).into_iter().next() else {
            return false;
        };
        let refs = self.doc.reference_ranges(&b.name);
        !refs.is_empty() && refs.iter().all(|r| self.private_at(*r, depth + 1))
    }

    /// Rename the output's system key so that it sits under `system`.
    fn move_to_system(&mut self, o: &Output, system: &str) -> Result<()> {
        match &o.system {
            SystemOf::Key { system: now, .. } if now == system => Ok(()),
            SystemOf::Var { system: now } if now == system => Ok(()),
            SystemOf::Key { range, .. } => {
                let shared = self
                    .outputs
                    .iter()
                    .filter(|x| matches!(&x.system, SystemOf::Key { range: r, .. } if r == range))
                    .count();
                if shared > 1 {
                    return Err(Error::refused(format!(
                        "`{}` must move to {system}, but its system key holds other outputs too",
                        o.name.as_deref().unwrap_or("?")
                    ))
                    .at(*range)
                    .hint("move it by hand, or write it as <kind>.<system>.<name> = ...;"));
                }
                // Keep the file's quoting of the key.
                let text = if self.src[range.0..range.1].starts_with('"') {
                    syntax::quote(system)
                } else {
                    syntax::attr_name(system)
                };
                self.push(TextEdit::replace(*range, text));
                Ok(())
            }
            SystemOf::Var { system: now } => Err(Error::refused(format!(
                "`{}` must move from {now} to {system}, but its system comes from a variable",
                o.name.as_deref().unwrap_or("?")
            ))
            .at(o.at)),
            SystemOf::Generated { how, .. } => Err(Error::refused(format!(
                "`{}` is generated for each system by {how}; nixcross cannot move it to {system}",
                o.name.as_deref().unwrap_or("?")
            ))
            .at(o.at)),
            SystemOf::Unknown(why) => Err(Error::refused(why.clone()).at(o.at)),
        }
    }

    /// Whether `range` is inside a list of tools (`nativeBuildInputs`,
    /// mkShell's `packages`, ...) of the selected output: things that run
    /// on the build machine.
    fn in_tool_list(&self, range: (usize, usize)) -> bool {
        self.doc
            .enclosing_entries(range)
            .iter()
            // Entries inside the output's value, not the output's own.
            .take_while(|e| {
                self.values
                    .iter()
                    .any(|v| v.0 <= e.value.0 && e.value.1 <= v.1 && e.value != *v)
            })
            .any(|e| TOOL_KEYS.contains(&e.name.as_str()))
    }

    /// Rewrite every place the output reaches its package set (`set`).
    fn rewrite_sets(&mut self, set: &SetVal, sites: &[Site], want: &Want) -> Result<()> {
        let mut origins: Vec<&SetVal> = Vec::new();
        let mut uses: Vec<((usize, usize), &SetVal, EnvId)> = Vec::new();
        for s in sites {
            match s {
                Site::Origin(o)
                    if same_platforms(o, set)
                        && !origins.iter().any(|x| x.range() == o.range()) =>
                {
                    origins.push(o);
                }
                Site::Use { range, set: s, env }
                    if same_platforms(s, set) && !uses.iter().any(|u| u.0 == *range) =>
                {
                    uses.push((*range, s, *env));
                }
                _ => {}
            }
        }
        // A native set made cross: its tools stay on the build machine.
        let keep_tools = !set.cross && want.mode == Mode::Cross;
        let tool = |p: &Self, r: (usize, usize)| keep_tools && p.in_tool_list(r);
        let inside =
            |p: &Self, r: (usize, usize)| p.values.iter().any(|v| v.0 <= r.0 && r.1 <= v.1);
        let mut done_any = false;
        for o in &origins {
            let Some(range) = o.range() else { continue };
            if tool(self, range) {
                continue;
            }
            let own_all: Vec<_> = uses
                .iter()
                .filter(|u| u.1.range() == Some(range) && inside(self, u.0))
                .cloned()
                .collect();
            let own: Vec<_> = own_all
                .iter()
                .filter(|u| !tool(self, u.0))
                .cloned()
                .collect();
            if self.private(range) && own.len() == own_all.len() {
                self.rewrite_origin(o, want)?;
                done_any = true;
                continue;
            }
            if own.is_empty() {
                let line = LineIndex::new(self.src).line(range.0);
                return Err(Error::refused(format!(
                    "the package set at line {line} (`{}`) is shared with other outputs, and this one does not name it itself",
                    short(&self.src[range.0..range.1])
                ))
                .at(range));
            }
            for (r, s, env) in own {
                self.rewrite_use(r, s, env, want)?;
            }
            done_any = true;
        }
        if !done_any {
            // Only uses of a set written nowhere (flake-parts' pkgs).
            let own: Vec<_> = uses
                .iter()
                .filter(|u| inside(self, u.0) && !tool(self, u.0))
                .cloned()
                .collect();
            if own.is_empty() {
                return Err(Error::refused(
                    "nixcross cannot see where this output's package set is written",
                ));
            }
            for (r, s, env) in own {
                self.rewrite_use(r, s, env, want)?;
            }
        }
        Ok(())
    }

    /// The value of the expression `text` in the scope `env`.
    fn eval_text(&mut self, text: &str, env: EnvId) -> Option<Value> {
        let doc = syntax::parse(text).ok()?;
        let node = doc.expr()?;
        Some(self.ev.eval(&node, self.file, env))
    }

    /// Whether the expression `text` means a nixpkgs input in `env`.
    fn is_nixpkgs(&mut self, text: &str, env: EnvId) -> bool {
        matches!(
            self.eval_text(text, env),
            Some(Value::Special(s)) if matches!(
                &*s,
                Special::Input { nixpkgs: true, path, .. } if path.is_empty()
            )
        )
    }

    /// An expression for the nixpkgs input a set was written with that
    /// means nixpkgs in `env` too: as the set writes it, by the input's
    /// name, else any nixpkgs input.
    fn nixpkgs_for(&mut self, set: &SetVal, env: EnvId) -> Option<String> {
        let spelling = set.spelling();
        let mut candidates: Vec<String> = Vec::new();
        if let Some(w) = spelling.written {
            candidates.push(w);
        }
        if matches!(set.origin, SetOrigin::Derived(_)) {
            // flake-parts modules reach it as inputs.nixpkgs.
            candidates.push(format!("inputs.{}", spelling.input));
        }
        candidates.push(spelling.input.clone());
        candidates.push(format!("inputs.{}", spelling.input));
        // flake-parts modules and `inputs@` flakes reach it as inputs.nixpkgs.
        candidates.extend(["nixpkgs".to_string(), "inputs.nixpkgs".to_string()]);
        let mut seen = Vec::new();
        for c in candidates {
            if seen.contains(&c) {
                continue;
            }
            if self.is_nixpkgs(&c, env) {
                return Some(c);
            }
            seen.push(c);
        }
        None
    }

    /// The text of the set `want` asks for, for the place `at` where
    /// `nixpkgs` names the input; `keep` spells the build machine when it
    /// is kept (a per-system variable). An `import` that is a binding's
    /// whole value is written over several lines, as `init` writes it.
    fn new_set_text(
        &self,
        want: &Want,
        nixpkgs: &str,
        at: (usize, usize),
        keep: Option<BuildSpelling>,
    ) -> Result<String> {
        let whole_value = is_binding_value(self.src, at);
        let (local, cross) = match (&want.build, keep) {
            (Build::To(b), _) => match pkgset::package_set(&want.target, b, want.mode)? {
                PkgSet::Import { local, cross } => {
                    (local.text(nixpkgs), cross.map(|c| c.text(nixpkgs)))
                }
                other => return Ok(other.text(nixpkgs, true)),
            },
            (Build::Keep, Some(build)) => match want.cross_part() {
                CrossPart::Example(e) => {
                    return Ok(format!(
                        "{nixpkgs}.legacyPackages.{}.pkgsCross.{}",
                        build.attr,
                        syntax::attr_name(&e)
                    ))
                }
                CrossPart::Spec(spec) => (
                    format!("{{ system = {}; }}", build.value),
                    Some(spec.text(nixpkgs)),
                ),
            },
            (Build::Keep, None) => {
                let t = &want.target;
                return Err(Error::refused(format!(
                    "no pkgsCross example is {}, and the system this output is built on is not in scope where its package set is written, so nixcross cannot write `import nixpkgs {{ localSystem = ...; crossSystem = ...; }}` there",
                    if t.config.is_empty() { &t.system } else { &t.config }
                ))
                .at(at)
                .hint("write the import by hand, or pick a pkgsCross example as the target (`nixcross targets`)"));
            }
        };
        let mut lines = vec![format!("localSystem = {local};")];
        if let Some(c) = cross {
            lines.push(format!("crossSystem = {c};"));
        }
        if whole_value {
            let style = syntax::Layout::of(self.src);
            let body: String = lines.iter().map(|l| format!("  {l}\n")).collect();
            let text = format!("import {nixpkgs} {{\n{body}}}");
            let indent = syntax::indent_at(self.src, at.0);
            Ok(syntax::reindent(&text, indent, &style.unit, style.nl))
        } else {
            Ok(format!("(import {nixpkgs} {{ {} }})", lines.join(" ")))
        }
    }

    /// How the build machine of a per-system set is spelled, checked in
    /// `env`: the expression inside `legacyPackages.${...}`.
    fn build_spelling(&mut self, set: &SetVal, env: EnvId) -> Option<BuildSpelling> {
        match &set.origin {
            SetOrigin::Legacy {
                key:
                    KeyAt {
                        key: Key::Dynamic(expr),
                        ..
                    },
                ..
            } => {
                let text = expr.text();
                let spelled = match self.eval_text(&text, env) {
                    Some(Value::Str(_)) => true,
                    Some(Value::Special(s)) => matches!(*s, Special::AnySystem),
                    _ => false,
                };
                match spelled {
                    true => Some(BuildSpelling {
                        attr: format!("${{{text}}}"),
                        value: text,
                    }),
                    _ => None,
                }
            }
            SetOrigin::Legacy {
                key:
                    KeyAt {
                        key: Key::Static(name),
                        ..
                    },
                ..
            } => Some(BuildSpelling {
                attr: syntax::attr_name(name),
                value: syntax::quote(name),
            }),
            SetOrigin::Cross { inner, .. } => self.build_spelling(inner, env),
            _ => None,
        }
    }

    fn replace_whole(
        &mut self,
        set: &SetVal,
        env: EnvId,
        want: &Want,
        range: (usize, usize),
    ) -> Result<()> {
        let np = self.nixpkgs_for(set, env).ok_or_else(|| {
            Error::refused(
                "nixcross cannot name the nixpkgs input where this package set is written",
            )
            .at(range)
        })?;
        let keep = match want.build {
            Build::Keep => self.build_spelling(set, env),
            Build::To(_) => None,
        };
        let text = self.new_set_text(want, &np, range, keep)?;
        self.push(TextEdit::replace(range, text));
        Ok(())
    }

    /// Rewrite a set where it is written (no other output reaches that text).
    fn rewrite_origin(&mut self, set: &SetVal, want: &Want) -> Result<()> {
        let part = want.cross_part();
        match &set.origin {
            SetOrigin::Legacy { key, end, env, .. } => {
                let now = plat_system(&set.build).map(String::from);
                match (want.mode, &part) {
                    (Mode::Cross, CrossPart::Example(e))
                        if match &want.build {
                            Build::Keep => true,
                            Build::To(b) => {
                                pkgset::flake_exposed(b)
                                    && (now.as_deref() == Some(b)
                                        || matches!(key.key, Key::Static(_)))
                            }
                        } =>
                    {
                        if let (Build::To(b), Some(n)) = (&want.build, &now) {
                            if b != n {
                                self.push(TextEdit::replace(key.range, syntax::attr_name(b)));
                            }
                        }
                        self.push(TextEdit::insert(
                            *end,
                            format!(".pkgsCross.{}", syntax::attr_name(e)),
                        ));
                        Ok(())
                    }
                    (Mode::Emulate | Mode::Native, _) => match (&want.build, key) {
                        (
                            Build::To(b),
                            KeyAt {
                                key: Key::Static(_),
                                ..
                            },
                        ) => match pkgset::package_set(&want.target, b, Mode::Emulate)? {
                            PkgSet::Legacy { system } => {
                                self.push(TextEdit::replace(key.range, syntax::attr_name(&system)));
                                Ok(())
                            }
                            _ => self.replace_whole(set, *env, want, set.range().unwrap()),
                        },
                        _ => self.replace_whole(set, *env, want, set.range().unwrap()),
                    },
                    _ => self.replace_whole(set, *env, want, set.range().unwrap()),
                }
            }
            SetOrigin::Cross {
                inner, key, env, ..
            } => match (want.mode, &part) {
                (Mode::Cross, CrossPart::Example(e)) => {
                    let inner_build = plat_system(&inner.build).map(String::from);
                    let rebuild = match &want.build {
                        Build::To(b) => inner_build.as_deref() != Some(b.as_str()),
                        Build::Keep => false,
                    };
                    if rebuild {
                        let Build::To(b) = &want.build else {
                            unreachable!()
                        };
                        match &inner.origin {
                            SetOrigin::Legacy {
                                key:
                                    k2 @ KeyAt {
                                        key: Key::Static(_),
                                        ..
                                    },
                                ..
                            } if inner.range().is_some_and(|r| self.private(r))
                                && pkgset::flake_exposed(b) =>
                            {
                                self.push(TextEdit::replace(k2.range, syntax::attr_name(b)));
                            }
                            _ => return self.replace_whole(set, *env, want, set.range().unwrap()),
                        }
                    }
                    let now = key.name().unwrap_or_default();
                    if now != e || !matches!(key.key, Key::Static(_)) {
                        self.push(TextEdit::replace(key.range, syntax::attr_name(e)));
                    }
                    Ok(())
                }
                _ => self.replace_whole(set, *env, want, set.range().unwrap()),
            },
            SetOrigin::Import {
                nixpkgs,
                args: Some(args),
                ..
            } => {
                // The import's own argument names nixpkgs where it is.
                let np = nixpkgs
                    .written
                    .clone()
                    .unwrap_or_else(|| nixpkgs.input.clone());
                self.rewrite_import(set, &np, args, want)
            }
            SetOrigin::Import { call, .. } => Err(Error::refused(
                "the arguments of `import nixpkgs` are not written as an attribute set here",
            )
            .at(call.range())),
            SetOrigin::Derived(what) => Err(Error::refused(format!(
                "its package set is {what}, which nixcross does not rewrite"
            ))),
            SetOrigin::Unwritten(why) => Err(Error::refused(why.clone())),
        }
    }

    /// Set `localSystem`/`system` and `crossSystem` of `import nixpkgs { ... }`.
    fn rewrite_import(
        &mut self,
        set: &SetVal,
        nixpkgs: &str,
        args: &syntax::AttrSetView,
        want: &Want,
    ) -> Result<()> {
        let entry = |name: &str| args.entries.iter().find(|e| e.defines(name)).cloned();
        let (local, cross): (Option<PlatformSpec>, Option<PlatformSpec>) = match want.mode {
            Mode::Cross => {
                let local = match &want.build {
                    Build::To(b) if !is_plain(&set.build, b) => {
                        Some(PlatformSpec::System(b.clone()))
                    }
                    _ => None,
                };
                (local, Some(want.cross_part().spec()))
            }
            Mode::Emulate | Mode::Native => {
                let native = pkgset::native_spec(&want.target);
                let local = if plat_is(&set.build, &want.target) {
                    None
                } else {
                    Some(native)
                };
                (local, None)
            }
        };
        if let Some(spec) = local {
            let found = entry("localSystem")
                .map(|e| ("localSystem", e))
                .or_else(|| entry("system").map(|e| ("system", e)));
            match found {
                Some((name, Entry::Binding(b))) => {
                    let text = match (&spec, name) {
                        (PlatformSpec::System(s), _) if b.value.unparen().string_literal().is_some() => syntax::quote(s),
                        (PlatformSpec::System(s), "system") => syntax::quote(s),
                        (_, "system") => {
                            self.push(TextEdit::replace(b.range, format!("localSystem = {};", spec.text(nixpkgs))));
                            String::new()
                        }
                        _ => spec.text(nixpkgs),
                    };
                    if !text.is_empty() {
                        self.push(TextEdit::replace(b.value.range(), text));
                    }
                }
                Some((name, Entry::Inherit(i))) if i.names.len() == 1 => {
                    let text = match (&spec, name) {
                        (PlatformSpec::System(s), "system") => format!("system = {};", syntax::quote(s)),
                        _ => format!("localSystem = {};", spec.text(nixpkgs)),
                    };
                    self.push(TextEdit::replace(i.range, text));
                }
                Some((_, e)) => {
                    return Err(Error::refused(
                        "the build platform is inherited together with other names; nixcross cannot change it alone",
                    )
                    .at(e.range()))
                }
                None => {
                    return Err(Error::refused("`import nixpkgs` names no build platform").at(args.node.range()))
                }
            }
        }
        match (cross, entry("crossSystem")) {
            (Some(spec), Some(Entry::Binding(b))) => {
                if !(set.cross && plat_is(&set.host, &want.target)) {
                    self.push(TextEdit::replace(b.value.range(), spec.text(nixpkgs)));
                }
            }
            (Some(spec), None) => {
                let style = syntax::Layout::of(self.src);
                self.push(module::insert_binding(
                    self.src,
                    &style,
                    args,
                    "crossSystem",
                    &spec.text(nixpkgs),
                    Position::Last,
                ));
            }
            (None, Some(e)) => {
                self.push(module::remove_entry(self.src, args, e.range()));
            }
            (Some(_), Some(e)) => {
                return Err(
                    Error::refused("crossSystem is inherited; nixcross cannot change it")
                        .at(e.range()),
                )
            }
            (None, None) => {}
        }
        Ok(())
    }

    /// Rewrite a use of a variable holding the set, inside the output.
    fn rewrite_use(
        &mut self,
        range: (usize, usize),
        set: &SetVal,
        env: EnvId,
        want: &Want,
    ) -> Result<()> {
        if let (Mode::Cross, CrossPart::Example(e), false) =
            (want.mode, want.cross_part(), set.cross)
        {
            let same_build = match &want.build {
                Build::Keep => true,
                Build::To(b) => is_plain(&set.build, b),
            };
            if same_build {
                self.push(TextEdit::insert(
                    range.1,
                    format!(".pkgsCross.{}", syntax::attr_name(&e)),
                ));
                return Ok(());
            }
        }
        self.replace_whole(set, env, want, range)
    }
}

/// Attributes whose packages run on the build machine.
const TOOL_KEYS: &[&str] = &[
    "nativeBuildInputs",
    "packages",
    "depsBuildBuild",
    "nativeCheckInputs",
    "nativeInstallCheckInputs",
    "propagatedNativeBuildInputs",
];

/// How a kept build machine is written: as an attribute
/// (`legacyPackages.<attr>`) and as a value (`system = <value>`).
struct BuildSpelling {
    attr: String,
    value: String,
}

/// Whether `range` is the whole value of a binding (`= <range>;`), where
/// an `import` needs no parentheses.
fn is_binding_value(src: &str, range: (usize, usize)) -> bool {
    let before = src[..range.0].trim_end();
    let after = src[range.1..].trim_start();
    before.ends_with('=') && !before.ends_with("==") && after.starts_with(';')
}

fn short(s: &str) -> String {
    let one: String = s.split_whitespace().collect::<Vec<_>>().join(" ");
    if one.chars().count() > 50 {
        format!("{}...", one.chars().take(47).collect::<String>())
    } else {
        one
    }
}
