//! `nixcross add-builder`: point a build host at a native remote builder,
//! through Nix's own distributed builds.
//!
//! - On NixOS, one entry of `nix.buildMachines` (`hostName`, `sshUser`,
//!   `protocol`, `systems`, and the options given) plus
//!   `nix.distributedBuilds = true;` and, unless the file sets it already,
//!   `nix.settings.builders-use-substitutes = true;` (see
//!   [`plan_add_builder`]).
//! - Anywhere else, the line for `/etc/nix/machines` and the nix.conf lines
//!   that make Nix read it ([`machines_output`]); nothing is written.
//!
//! Every value is checked first (`builder_machine`): the URI is
//! `ssh://[user@]host` or `ssh-ng://[user@]host` and nothing else, systems
//! come from the catalogue (with suggestions), counts are positive, feature
//! names Nix does not know get a warning, the host key must be an SSH
//! public key line in base64, and no value may hold a character that could
//! leave a Nix string or a machines-file field.

use crate::edit::{Claim, Outcome, Plan, Subject, TextEdit};
use crate::error::{Diagnostic, Error, Result};
use crate::files::{Files, RelPath};
use crate::flake::modules::{lone_module, LoneModule};
use crate::flake::Flake;
use crate::machines::{advice_command, Machine, Protocol, SshUri, StoreUri};
use crate::module::list::{self, Added, ListOption, ListShape, Removal};
use crate::module::places::{self, Place};
use crate::module::{self, OptionHit, Position};
use crate::ops::editor::{Edits, Planner};
use crate::ops::modules::{
    add_to_list, define_in_home, describe, find_one, inline_list_item, insert_defs, module_places,
    modules_defining, note_condition, NewDef,
};
use crate::platform;
use crate::proof::ModuleProver;
use crate::source::{FileId, Src};
use crate::syntax::{self, AttrSetView, Entry, ListView, Node};
use crate::vocab::Toggle;

mod mark;
use mark::*;
mod entry;
use entry::*;
mod in_module;
use in_module::*;

/// What `nixcross add-builder` was asked to do.
#[derive(Debug, Clone, Default)]
pub struct AddBuilderOptions {
    /// `ssh://[user@]host` or `ssh-ng://[user@]host`.
    pub uri: String,
    /// Systems the builder builds for: doubles, pkgsCross names or triples.
    pub systems: Vec<String>,
    /// How many builds it runs at once (`maxJobs`).
    pub max_jobs: Option<u32>,
    /// Its speed relative to other builders (`speedFactor`).
    pub speed_factor: Option<u32>,
    /// Features it supports (`supportedFeatures`); empty: not given.
    pub features: Vec<String>,
    /// Features a derivation must ask for to go there (`mandatoryFeatures`);
    /// empty: not given.
    pub mandatory_features: Vec<String>,
    /// The SSH private key the root daemon logs in with (`sshKey`).
    pub ssh_key: Option<String>,
    /// The builder's SSH host key, base64 of its public key line (`publicHostKey`).
    pub host_key: Option<String>,
    /// Take the builder out instead.
    pub remove: bool,
    /// A configuration inside a flake (`--config NAME`).
    pub config: Option<String>,
}

/// One system the user typed, as the double a builder announces.
pub fn builder_system(input: &str) -> Result<String> {
    let s = input.trim();
    match platform::resolve(s) {
        Ok(t) => Ok(t.system),
        Err(e) => {
            let mut err = Error::invalid(format!("unknown system `{}`", s.escape_debug()));
            err.hints = e.hints;
            Err(err)
        }
    }
}

/// The machine `opts` describes, checked (see the module docs), and the
/// warnings about it. `--remove` needs only the URI.
pub(crate) fn builder_machine(opts: &AddBuilderOptions) -> Result<(Machine, Vec<String>)> {
    let uri = SshUri::parse(opts.uri.trim())?;
    let mut m = Machine::new(uri);
    if opts.remove {
        return Ok((m, Vec::new()));
    }
    for s in &opts.systems {
        let s = builder_system(s)?;
        if !m.systems.contains(&s) {
            m.systems.push(s);
        }
    }
    m.max_jobs = opts.max_jobs;
    m.speed_factor = opts.speed_factor;
    let dedup = |l: &[String]| {
        let mut out: Vec<String> = Vec::new();
        for f in l {
            if !out.contains(f) {
                out.push(f.clone());
            }
        }
        out
    };
    m.supported_features = dedup(&opts.features);
    m.mandatory_features = dedup(&opts.mandatory_features);
    m.ssh_key = opts.ssh_key.clone();
    m.public_host_key = opts.host_key.clone();
    let warnings = m.validate()?;
    Ok((m, warnings))
}

/// Why `builders-use-substitutes` is worth setting, for the output.
pub const SUBSTITUTES_WHY: &str = "builders-use-substitutes = true: the builder fetches what it needs from the binary cache itself, instead of receiving everything from this machine over SSH";

/// What `--format machines` prints: the machines-file line, and the
/// nix.conf lines that make Nix use it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct MachinesOutput {
    /// The builder.
    pub machine: Machine,
    /// Its line for `/etc/nix/machines`.
    pub line: String,
    /// Lines for `/etc/nix/nix.conf`.
    pub nix_conf: Vec<String>,
    /// What the user should know.
    pub warnings: Vec<Diagnostic>,
}

/// The machines-file form of `opts`, for a machine that does not run NixOS.
pub fn machines_output(opts: &AddBuilderOptions) -> Result<MachinesOutput> {
    if opts.remove {
        return Err(Error::invalid(
            "--format machines prints a line to add; to remove a builder, delete its line from /etc/nix/machines",
        ));
    }
    let (machine, warnings) = builder_machine(opts)?;
    Ok(MachinesOutput {
        line: machine.to_machines_line(),
        nix_conf: vec![
            "builders = @/etc/nix/machines".into(),
            "builders-use-substitutes = true".into(),
        ],
        machine,
        warnings: warnings.into_iter().map(Diagnostic::warning).collect(),
    })
}

/// The note that names the third strategy next to emulation: a machine of
/// that CPU builds natively.
pub fn remote_note(system: &str) -> String {
    format!(
        "or hand the builds to a machine whose CPU runs {system} natively (a remote builder, faster than emulation): on a NixOS build machine `{}`; elsewhere `{}` prints the /etc/nix/machines line",
        advice_command(system, true),
        advice_command(system, false)
    )
}

const MACHINES: [&str; 2] = ["nix", "buildMachines"];
const DISTRIBUTED: [&str; 2] = ["nix", "distributedBuilds"];
const SUBSTITUTES: [&str; 3] = ["nix", "settings", "builders-use-substitutes"];
const EXTRA_OPTIONS: [&str; 2] = ["nix", "extraOptions"];
/// The comment that marks a setting nixcross added for its builders, so
/// that `--remove` of the last builder takes it out again and nothing else.
const MARK: &str = "nixcross add-builder";

/// Plan and apply the edit of `path` in `files`: a NixOS module, or a
/// flake when `opts.config` names one of its configurations.
pub fn add_builder(files: &dyn Files, path: &RelPath, opts: &AddBuilderOptions) -> Result<Outcome> {
    plan_add_builder(files, path, opts)?.apply(files)
}

/// Plan the edit without applying it.
///
/// - The entry whose `hostName` and `protocol` (default `"ssh"`) match is
///   updated in place: its systems, and the jobs, speed and features given,
///   become the requested ones (a singular `system`, which NixOS prefers,
///   becomes `systems`); `sshUser`, `sshKey` and `publicHostKey` change
///   when given and are kept otherwise. Else a new entry is appended to
///   the list, in the list's layout, or `nix.buildMachines = [ ... ];`
///   goes into the module.
/// - `nix.distributedBuilds = true;` and `nix.settings.builders-use-substitutes
///   = true;` are added unless the module (or, in a flake, the
///   configuration) sets them; what nixcross adds carries a
///   `# nixcross add-builder` comment.
/// - `remove` takes the entry out; when no builder is left, the list goes
///   and so do the settings nixcross marked, so that adding and removing
///   gives back the original bytes. The same holds when the entry was the
///   last of a `++ [ ... ]` side appended to a computed list: only the
///   computed part, which nixcross never writes, is left.
/// - Shapes nixcross cannot see into (a list built by a function, a
///   builder entry that is not a literal set, `nix` behind `inherit` or
///   `//`) are refused with their location, as `emulate` refuses them.
pub fn plan_add_builder(
    files: &dyn Files,
    path: &RelPath,
    opts: &AddBuilderOptions,
) -> Result<Plan> {
    let (machine, warnings) = builder_machine(opts)?;
    let StoreUri::Ssh(uri) = machine.uri.clone() else {
        return Err(Error::internal("a checked builder has an SSH URI"));
    };
    let req = Request {
        uri,
        machine,
        remove: opts.remove,
    };
    let mut plan = match &opts.config {
        None => plan_module(files, path, &req)?,
        Some(name) => plan_config(files, path, name, &req)?,
    };
    plan.warnings
        .splice(0..0, warnings.into_iter().map(Diagnostic::warning));
    Ok(plan)
}

/// What to do, checked.
struct Request {
    uri: SshUri,
    machine: Machine,
    remove: bool,
}

/// `builders-use-substitutes` in a module.
enum Substitutes {
    /// Set in `nix.settings`.
    Set(OptionHit),
    /// Written in `nix.extraOptions` text.
    InExtraOptions,
    /// `nix.settings` is a shape nixcross cannot read.
    Unknown(String),
    Absent,
}

/// What one module says about builders.
struct BuilderModule {
    file: FileId,
    top: AttrSetView,
    places: Vec<Place>,
    machines: Option<(usize, OptionHit)>,
    distributed: Option<(usize, OptionHit)>,
    substitutes: Substitutes,
}

fn read_builder_module(e: &Edits, file: FileId, expr: &Node) -> Result<BuilderModule> {
    let (top, places) = module_places(
        e,
        file,
        expr,
        "nix.buildMachines belongs in the NixOS configuration of the machine that hands builds out",
    )?;
    let machines = find_one(e, file, &places, &MACHINES)?;
    let distributed = find_one(e, file, &places, &DISTRIBUTED)?;
    let (hits, opaque) = places::find_in(&places, &SUBSTITUTES);
    let substitutes = if let Some((_, h)) = hits.into_iter().next() {
        Substitutes::Set(h)
    } else if let Some(o) = opaque.first() {
        Substitutes::Unknown(o.reason.clone())
    } else {
        let (extra, _) = places::find_in(&places, &EXTRA_OPTIONS);
        if extra
            .iter()
            .any(|(_, h)| h.value.text().contains("builders-use-substitutes"))
        {
            Substitutes::InExtraOptions
        } else {
            Substitutes::Absent
        }
    };
    Ok(BuilderModule {
        file,
        top,
        places,
        machines,
        distributed,
        substitutes,
    })
}

/// One module file.
fn plan_module(files: &dyn Files, path: &RelPath, req: &Request) -> Result<Plan> {
    let LoneModule {
        ev,
        file,
        expr,
        nested,
        platforms: declared,
        sys,
    } = lone_module(files, path)?;
    let sources = ev.sources;
    let mut e = Edits::new(&sources, Subject::Module(path.clone()));
    e.proven_by(ModuleProver::of(path, &declared, &sys));
    let m = read_builder_module(&e, file, &expr)?;
    let mut summary = Vec::new();
    if req.remove {
        if !remove_in_module(&mut e, &m, req, &mut summary, None)? {
            e.warnings
                .push(format!("{} is not in nix.buildMachines; nothing to remove", req.uri).into());
        }
    } else {
        // What the modules this one imports set already is not written
        // again (it would then not be nixcross's to take out).
        let host = &sys.host_settings;
        let configured = (
            m.distributed.is_none() && host.toggle(Toggle::DistributedBuilds) == Ok(Some(true)),
            matches!(m.substitutes, Substitutes::Absent)
                && matches!(host.toggle(Toggle::BuildersUseSubstitutes), Ok(Some(_))),
        );
        add_in_module(&mut e, &m, req, configured, &mut summary)?;
    }
    claim_builder(&mut e, req);
    Ok(e.finish(summary_text(nested.as_deref(), summary)))
}

/// What an add-builder edit establishes about the builder itself: listed
/// with the requested fields, or not listed.
fn claim_builder(e: &mut Edits, req: &Request) {
    let m = &req.machine;
    let fields = (!req.remove).then(|| {
        let mut f = std::collections::BTreeMap::new();
        f.insert("hostName".to_string(), req.uri.host.clone());
        f.insert("protocol".into(), req.uri.protocol.as_str().to_string());
        if let Some(u) = &req.uri.user {
            f.insert("sshUser".into(), u.clone());
        }
        f.insert("systems".into(), m.systems.join(","));
        if let Some(k) = &m.ssh_key {
            f.insert("sshKey".into(), k.clone());
        }
        if let Some(n) = m.max_jobs {
            f.insert("maxJobs".into(), n.to_string());
        }
        if let Some(n) = m.speed_factor {
            f.insert("speedFactor".into(), n.to_string());
        }
        if !m.supported_features.is_empty() {
            f.insert("supportedFeatures".into(), m.supported_features.join(","));
        }
        if !m.mandatory_features.is_empty() {
            f.insert("mandatoryFeatures".into(), m.mandatory_features.join(","));
        }
        if let Some(k) = &m.public_host_key {
            f.insert("publicHostKey".into(), k.clone());
        }
        f
    });
    let subject = e.subject.clone();
    e.claim(Claim::Builder {
        subject,
        host: req.uri.host.clone(),
        protocol: req.uri.protocol.as_str().to_string(),
        fields,
    });
}

/// A build host's switch gets `value`.
fn claim_toggle(e: &mut Edits, option: Toggle, value: Option<bool>) {
    let subject = e.subject.clone();
    e.claim(Claim::Toggle {
        subject,
        option,
        value,
    });
}

fn summary_text(name: Option<&str>, summary: Vec<String>) -> String {
    match (summary.is_empty(), name) {
        (true, _) => "nothing to change".into(),
        (false, None) => summary.join("; "),
        (false, Some(n)) => format!("{n}: {}", summary.join("; ")),
    }
}

/// A configuration of a flake.
fn plan_config(files: &dyn Files, path: &RelPath, name: &str, req: &Request) -> Result<Plan> {
    let f = Flake::load(files, path)?;
    let config = f.select(Some(name))?;
    let mut p = Planner::new(&f, config)?;
    // The modules of the configuration that say something about builders.
    let mut found: Vec<(usize, BuilderModule)> = Vec::new();
    let (mut distributed, mut substitutes) = (false, false);
    for (i, expr) in modules_defining(&p, &[&MACHINES[..], &DISTRIBUTED[..], &SUBSTITUTES[..]]) {
        let m = read_builder_module(&p.core, expr.file, &expr.node)?;
        distributed |= m
            .distributed
            .as_ref()
            .is_some_and(|(_, h)| h.value.unparen().text() == "true");
        substitutes |= !matches!(m.substitutes, Substitutes::Absent);
        found.push((i, m));
    }
    let mut summary = Vec::new();
    if req.remove {
        let mut any = false;
        for (i, m) in &found {
            if m.machines.is_none() {
                continue;
            }
            let expr = p.sys.modules[*i].expr.clone().expect("has an expression");
            let inline_item = inline_list_item(&p, *i);
            let hook_fn = |e: &mut Edits| -> Result<()> {
                let (list, item) = inline_item.clone().expect("checked below");
                let lv = list.node.list().expect("a list");
                let edit = module::remove_item(e.text(list.file), &lv, &item);
                e.push(list.file, edit, "remove the module left empty");
                Ok(())
            };
            let hook: Option<RemoveModule> = inline_item.as_ref().map(|_| &hook_fn as _);
            if remove_in_module(&mut p.core, m, req, &mut summary, hook)? {
                // Only now is it known that this module changes: guard it.
                p.guard(expr.file, expr.range(), "the module that lists the builder")?;
                any = true;
            }
        }
        if !any {
            p.core.warnings.push(
                format!(
                    "{} is not in nix.buildMachines of `{name}`; nothing to remove",
                    req.uri
                )
                .into(),
            );
        }
    } else {
        // Where the builder already is, or the module with the list, if
        // only this configuration loads it.
        let listed = found.iter().position(|(_, m)| {
            m.machines.as_ref().is_some_and(|(_, h)| {
                list::list_of(&h.value)
                    .is_some_and(|(l, _)| l.items.iter().any(|i| read_item(i).is(&req.uri)))
            })
        });
        let own = |k: usize| {
            let expr = p.sys.modules[found[k].0]
                .expr
                .clone()
                .expect("has an expression");
            p.private(expr.file, expr.range())
        };
        let target = match listed {
            Some(k) => {
                let expr = p.sys.modules[found[k].0]
                    .expr
                    .clone()
                    .expect("has an expression");
                p.guard(expr.file, expr.range(), "the module that lists the builder")?;
                Some(k)
            }
            None => (0..found.len()).find(|&k| found[k].1.machines.is_some() && own(k)),
        };
        match target {
            Some(k) => {
                let m = &found[k].1;
                // Settings in this very module are handled there.
                let elsewhere_d = distributed
                    && m.distributed
                        .as_ref()
                        .is_none_or(|(_, h)| h.value.unparen().text() != "true");
                let elsewhere_s = substitutes && matches!(m.substitutes, Substitutes::Absent);
                add_in_module(
                    &mut p.core,
                    m,
                    req,
                    (elsewhere_d, elsewhere_s),
                    &mut summary,
                )?;
            }
            None => add_in_home(&mut p, req, distributed, substitutes, &mut summary)?,
        }
    }
    claim_builder(&mut p.core, req);
    Ok(p.finish(summary_text(Some(name), summary)))
}

/// New definitions in the configuration's own module.
fn add_in_home(
    p: &mut Planner,
    req: &Request,
    distributed: bool,
    substitutes: bool,
    summary: &mut Vec<String>,
) -> Result<()> {
    let uri = &req.uri;
    let what = format!(
        "added builder {uri} ({}) to nix.buildMachines",
        req.machine.systems.join(", ")
    );
    let mark = Mark::new(&uri.host, &[]).text();
    let mut defs = vec![NewDef::new(&MACHINES, list_text(uri, &req.machine), what)];
    if !distributed {
        defs.push(
            NewDef::new(&DISTRIBUTED, "true", "set nix.distributedBuilds = true")
                .marked(mark.clone()),
        );
        claim_toggle(&mut p.core, Toggle::DistributedBuilds, Some(true));
    }
    if !substitutes {
        defs.push(
            NewDef::new(
                &SUBSTITUTES,
                "true",
                format!("set nix.settings.{SUBSTITUTES_WHY}"),
            )
            .marked(mark),
        );
        claim_toggle(&mut p.core, Toggle::BuildersUseSubstitutes, Some(true));
    }
    summary.extend(define_in_home(
        p,
        &defs,
        "Remote builders (nixcross add-builder)",
    )?);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marks_read_back_as_written() {
        for m in [
            Mark::new("pi5", &[]),
            Mark::new("pi5", &[Some("tower".into()), None, Some("pi5".into())]),
            Mark::new("pi5", &[None, None]),
            Mark {
                hosts: vec!["a".into(), "b".into()],
                was_false: true,
                ..Mark::default()
            },
            Mark::default(),
        ] {
            let text = m.text();
            let rest = text.strip_prefix(MARK).unwrap();
            assert_eq!(Mark::parse(rest), m, "{text}");
        }
        assert_eq!(
            Mark::new("pi5", &[Some("tower".into()), None]).text(),
            "nixcross add-builder: pi5 (with tower and 1 more)"
        );
    }

    fn opts(uri: &str, systems: &[&str]) -> AddBuilderOptions {
        AddBuilderOptions {
            uri: uri.into(),
            systems: systems.iter().map(|s| s.to_string()).collect(),
            ..AddBuilderOptions::default()
        }
    }

    #[test]
    fn systems_come_from_the_catalogue() {
        let (m, w) = builder_machine(&opts(
            "ssh-ng://nix@pi5",
            &["aarch64-linux", "raspberryPi", "aarch64-unknown-linux-gnu"],
        ))
        .unwrap();
        assert_eq!(m.systems, ["aarch64-linux", "armv6l-linux"]);
        assert!(w.is_empty());
        let e = builder_machine(&opts("ssh://pi", &["aarch64-linx"])).unwrap_err();
        assert!(
            e.message.contains("unknown system `aarch64-linx`"),
            "{}",
            e.message
        );
        assert!(
            e.hints.iter().any(|h| h.contains("aarch64-linux")),
            "{:?}",
            e.hints
        );
        assert!(builder_machine(&opts("ssh://pi", &[])).is_err());
    }

    #[test]
    fn the_machines_line_and_nix_conf() {
        let mut o = opts("ssh-ng://nix@pi5", &["aarch64-linux"]);
        o.max_jobs = Some(4);
        o.features = vec!["big-parallel".into(), "big-parallel".into()];
        let out = machines_output(&o).unwrap();
        assert_eq!(
            out.line,
            "ssh-ng://nix@pi5 aarch64-linux - 4 - big-parallel - -"
        );
        assert_eq!(Machine::parse(&out.line).unwrap(), out.machine);
        assert_eq!(
            out.nix_conf,
            [
                "builders = @/etc/nix/machines",
                "builders-use-substitutes = true"
            ]
        );
    }
}
