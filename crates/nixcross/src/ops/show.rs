//! `nixcross show`: each NixOS configuration of a flake, with its effective
//! build and host platforms as NixOS decides them across the files it
//! loads, and where each platform setting comes from.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::error::Result;
use crate::files::{Files, RelPath};
use crate::flake::overlays::{effective, used_packages};
use crate::flake::{Config, Flake, PlatformOption, SeenStyle};
use crate::ops::set_target::{plan_in, SetTargetOptions};
use crate::source::Src;
use crate::vocab::Mode;

/// Options for [`show`].
#[derive(Debug, Clone, Default)]
pub struct ShowOptions {
    /// The system of the machine that will build (this machine, by default
    /// in the CLI). A configuration whose host differs from it and that is
    /// not cross-compiled is reported as `emulate`; an equal one as `native`.
    pub local_system: Option<String>,
}

/// Where one platform setting comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct SourceReport {
    /// The file, relative to the flake's folder.
    pub file: String,
    /// 1-based line.
    pub line: usize,
    /// `nixpkgs.hostPlatform`, `nixpkgs.system`, ...
    pub option: String,
    /// The value as written.
    pub value: String,
    /// Its priority (lower wins: mkForce 50, plain 100, mkDefault 1000).
    pub priority: u32,
    /// Set when it is under a condition nixcross cannot decide.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub condition: Option<String>,
}

/// A scoped package set as `show` reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct ScopedReport {
    /// Its name.
    pub name: String,
    /// The building system, as a double.
    pub local_system: Option<String>,
    /// The host system, as a double; `None` when the set is not cross.
    pub cross_system: Option<String>,
    /// `attr -> package` of its overlays.
    pub overlays: BTreeMap<String, String>,
    /// Packages of the set that modules add to `environment.systemPackages`.
    pub uses: Vec<String>,
}

/// One configuration, as `show --json` prints it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct ConfigReport {
    /// Its name under `nixosConfigurations`.
    pub name: String,
    /// The platform that builds, as a system double.
    pub build: Option<String>,
    /// The platform the system runs on, as a system double.
    pub host: Option<String>,
    /// How it is built relative to the building machine: `cross` (build
    /// and host differ), `native` (the host is the building machine's
    /// system) or `emulate` (natively, under QEMU).
    pub mode: Option<Mode>,
    /// `legacy`, `modern`, `mixed` (NixOS rejects it) or `None` (nothing set).
    pub style: Option<SeenStyle>,
    /// Whether nixcross can edit it.
    pub editable: bool,
    /// Why not, or why a platform is unknown.
    pub reason: Option<String>,
    /// The file that defines it, relative to the flake's folder.
    pub file: Option<String>,
    /// 1-based line of its definition.
    pub line: Option<usize>,
    /// Every platform setting, with where it is.
    pub sources: Vec<SourceReport>,
    /// What `nixpkgs.overlays` replace: `attr -> package` (later overlays win).
    pub overlays: BTreeMap<String, String>,
    /// Scoped package sets passed through `specialArgs`.
    pub scoped: Vec<ScopedReport>,
}

/// `show`'s whole answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct ShowReport {
    /// The configurations.
    pub configurations: Vec<ConfigReport>,
    /// Why `nixosConfigurations` may hold configurations not listed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub incomplete: Option<String>,
}

/// How a build of `host` on `build` is made, seen from the machine of
/// `local`: `None` when build and host are equal and `local` is unknown.
pub(crate) fn mode_of(
    build: Option<&str>,
    host: Option<&str>,
    local: Option<&str>,
) -> Option<Mode> {
    let (build, host) = (build?, host?);
    if build != host {
        return Some(Mode::Cross);
    }
    match local {
        Some(l) if l == host => Some(Mode::Native),
        Some(_) => Some(Mode::Emulate),
        None => None,
    }
}

/// Report every configuration of the flake at `flake` in `files`.
///
/// # Examples
///
/// ```
/// use nixcross::files::{MemFiles, RelPath};
/// use nixcross::ops::show::{show, ShowOptions};
/// use nixcross::vocab::Mode;
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
/// let opts = ShowOptions {
///     local_system: Some("x86_64-linux".into()),
/// };
/// let report = show(&files, &RelPath::new("flake.nix").unwrap(), &opts)?;
/// let board = &report.configurations[0];
/// assert_eq!(board.name, "board");
/// assert_eq!(board.mode, Some(Mode::Cross));
/// assert!(board.editable);
/// # Ok::<(), nixcross::Error>(())
/// ```
pub fn show(files: &dyn Files, flake: &RelPath, opts: &ShowOptions) -> Result<ShowReport> {
    let f = Flake::load(files, flake)?;
    Ok(report(&f, opts))
}

/// Report every configuration of a loaded flake.
pub fn report(f: &Flake, opts: &ShowOptions) -> ShowReport {
    let configurations = f
        .configs
        .iter()
        .map(|c| report_config(f, c, opts))
        .collect();
    ShowReport {
        configurations,
        incomplete: f.incomplete.as_ref().map(|(why, at)| match at {
            Some(at) => format!("{why} ({})", f.describe(at)),
            None => why.clone(),
        }),
    }
}

fn file_line(f: &Flake, src: &Src) -> (String, usize) {
    let s = f.ev.sources.get(src.file);
    (s.path.to_string(), s.line_col(src.node.start()).0)
}

fn report_config(f: &Flake, c: &Config, opts: &ShowOptions) -> ConfigReport {
    let p = &c.platforms;
    // `editable` is what set-target does, which retargets `nixpkgs.pkgs`.
    let blocker =
        crate::ops::editor::edit_blocker(f, c, crate::ops::editor::PkgsOptionUse::Retarget);
    let (file, line) = match &c.at {
        Some(at) => {
            let (file, line) = file_line(f, at);
            (Some(file), Some(line))
        }
        None => (None, None),
    };
    let mut sources = Vec::new();
    let mut overlays = BTreeMap::new();
    let mut scoped = Vec::new();
    if let Some(sys) = c.system() {
        for d in &sys.definitions {
            let Some(site) = &d.site else { continue };
            let (file, line) = file_line(f, site);
            let option = match (d.option, d.module) {
                (PlatformOption::System, None) => "system (nixosSystem argument)".to_string(),
                (o, _) => format!("nixpkgs.{}", o.name()),
            };
            sources.push(SourceReport {
                file,
                line,
                option,
                value: d.text.clone(),
                priority: d.priority,
                condition: d.condition.clone(),
            });
        }
        let all: Vec<_> = sys
            .overlays
            .iter()
            .flat_map(|o| o.overlays.clone())
            .collect();
        overlays = effective(&all);
        let lists: Vec<Src> = sys.package_lists.iter().map(|(_, s)| s.clone()).collect();
        scoped = sys
            .scoped
            .iter()
            .map(|s| ScopedReport {
                name: s.name.clone(),
                local_system: s.local.clone(),
                cross_system: s.cross.clone(),
                overlays: effective(&s.overlays),
                uses: used_packages(&lists, &s.name),
            })
            .collect();
    }
    // `editable` is what set-target does: a dry plan in each mode.
    let (editable, reason) = match blocker {
        Some(why) => (false, Some(why)),
        None => match probe(f, c, opts) {
            (Err(cross), Err(_)) => (false, Some(cross)),
            (Ok(()), Err(why)) => (
                true,
                p.unknown
                    .clone()
                    .or(Some(format!("set-target --mode emulate is refused: {why}"))),
            ),
            (Err(why), Ok(())) => (
                true,
                p.unknown
                    .clone()
                    .or(Some(format!("set-target --mode cross is refused: {why}"))),
            ),
            (Ok(()), Ok(())) => (true, p.unknown.clone()),
        },
    };
    ConfigReport {
        name: c.name.clone(),
        mode: mode_of(
            p.build.as_deref(),
            p.host.as_deref(),
            opts.local_system.as_deref(),
        ),
        build: p.build.clone(),
        host: p.host.clone(),
        style: p.style,
        editable,
        reason,
        file,
        line,
        sources,
        overlays,
        scoped,
    }
}

/// Whether `set-target` plans an edit of `c` to another Linux system, cross
/// and emulated (nothing is applied): the reason when it refuses, with
/// where.
fn probe(f: &Flake, c: &Config, opts: &ShowOptions) -> (Result<(), String>, Result<(), String>) {
    let p = &c.platforms;
    let build = opts
        .local_system
        .clone()
        .or_else(|| p.build.clone())
        .unwrap_or_else(|| "x86_64-linux".into());
    let target = ["aarch64-linux", "riscv64-linux", "x86_64-linux"]
        .into_iter()
        .find(|t| Some(*t) != p.host.as_deref() && *t != build)
        .unwrap_or("riscv64-linux");
    let plan = |mode: Mode| -> Result<(), String> {
        let o = SetTargetOptions {
            target: target.to_string(),
            mode,
            config: Some(c.name.clone()),
            host: (mode == Mode::Cross).then(|| build.clone()),
            local_system: Some(build.clone()),
            style: None,
        };
        let plan = plan_in(f, &o, false).map_err(|e| match &e.location {
            Some(l) => format!("{}:{}:{}: {}", l.file, l.line, l.col, e.message),
            None => e.message,
        })?;
        match lands_in_text(f, &plan) {
            Some((at, what)) => Err(format!(
                "{at}: nixcross could not place this edit safely: {}",
                crate::edit::runs_into(what)
            )),
            None => Ok(()),
        }
    };
    (plan(Mode::Cross), plan(Mode::Emulate))
}

/// Where a plan's new text would go inside a comment or a string of the
/// file it edits (what applying it would refuse), as `path:line:col`, and
/// which.
fn lands_in_text(f: &Flake, plan: &crate::edit::Plan) -> Option<(String, &'static str)> {
    for fe in &plan.files {
        let Some(id) = f.ev.sources.id(&fe.path) else {
            continue;
        };
        let src = f.ev.sources.get(id);
        let Ok(doc) = &src.doc else { continue };
        for e in fe.edits.iter().filter(|e| !e.insert.is_empty()) {
            if let Some(what) = crate::syntax::inside_text(doc, e.range.start, &e.insert) {
                let (line, col) = src.line_col(e.range.start);
                return Some((format!("{}:{line}:{col}", fe.path), what));
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::files::MemFiles;

    #[test]
    fn modes() {
        assert_eq!(mode_of(Some("a"), Some("b"), None), Some(Mode::Cross));
        assert_eq!(mode_of(Some("a"), Some("a"), Some("a")), Some(Mode::Native));
        assert_eq!(
            mode_of(Some("a"), Some("a"), Some("b")),
            Some(Mode::Emulate)
        );
        assert_eq!(mode_of(None, Some("a"), Some("b")), None);
    }

    #[test]
    fn mixed_styles_are_not_editable_and_sources_say_where() {
        let mut files = MemFiles::new();
        files
            .insert(
                "flake.nix",
                r#"{ outputs = { nixpkgs, ... }: {
  nixosConfigurations.m = nixpkgs.lib.nixosSystem {
    system = "x86_64-linux";
    modules = [ { nixpkgs.crossSystem.system = "riscv64-linux"; } ./hw.nix ];
  };
}; }"#,
            )
            .insert(
                "hw.nix",
                "{ lib, ... }:\n{\n  nixpkgs.hostPlatform = lib.mkDefault \"x86_64-linux\";\n}\n",
            );
        let r = show(
            &files,
            &RelPath::new("flake.nix").unwrap(),
            &ShowOptions::default(),
        )
        .unwrap();
        let m = &r.configurations[0];
        assert_eq!(m.style, Some(SeenStyle::Mixed));
        assert!(!m.editable);
        assert!(
            m.reason.as_deref().unwrap().contains("assertion"),
            "{:?}",
            m.reason
        );
        assert_eq!(m.line, Some(2));
        let s: Vec<(String, usize, String, u32)> = m
            .sources
            .iter()
            .map(|s| (s.file.clone(), s.line, s.option.clone(), s.priority))
            .collect();
        assert_eq!(
            s,
            [
                (
                    "flake.nix".to_string(),
                    3,
                    "system (nixosSystem argument)".to_string(),
                    1000
                ),
                (
                    "flake.nix".to_string(),
                    4,
                    "nixpkgs.crossSystem".to_string(),
                    100
                ),
                (
                    "hw.nix".to_string(),
                    3,
                    "nixpkgs.hostPlatform".to_string(),
                    1000
                ),
            ]
        );
    }
}
