//! The self-check every edit passes before anything is written: the edited
//! tree is read again with the reader `show` uses ([`Flake::load_for`], or
//! for a lone module file the same module reader), and compared with what
//! the operation read before it planned.
//!
//! What is compared is a configuration's *meaning* ([`Meaning`]): its build
//! and host platforms and style, the overlays of its package set, its
//! scoped package sets (platforms, overlays, the packages modules take from
//! them), the systems it emulates, its remote builders and the build host's
//! switches. An edit passes when every [`Claim`] it makes holds afterwards
//! and every other part of every configuration (the edited one included)
//! reads as before. A part that was unknown before may stay unknown, or
//! become known; a part that was known may not become unknown.
//!
//! The operations make the provers ([`FlakeProver::of`],
//! [`ModuleProver::of`]) from what they read when they planned, so the
//! baseline costs nothing more; the proof is one more read of the tree.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use crate::edit::{Claim, Prover, Subject};
use crate::error::{Error, Result};
use crate::files::{Files, RelPath};
use crate::flake::host::BuilderFields;
use crate::flake::overlays::{effective, used_packages};
use crate::flake::{Config, Flake, Platforms, SeenStyle, SystemCall};
use crate::source::Src;
use crate::vocab::Toggle;

/// A value nixcross knows, or why it does not.
type Known<T> = std::result::Result<T, String>;

/// A scoped package set, as far as an edit can change it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct ScopedMeaning {
    /// The double it is built on.
    local: Option<String>,
    /// The double it is built for, when that differs.
    cross: Option<String>,
    /// `attr -> package` of its overlays.
    overlays: BTreeMap<String, String>,
    /// Packages the modules take from it.
    uses: BTreeSet<String>,
}

/// What one configuration (or lone module) means, as far as nixcross edits
/// it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Meaning {
    /// `(build, host)`.
    platforms: Known<(Option<String>, Option<String>)>,
    /// The options that decide the platforms.
    style: Option<SeenStyle>,
    /// `attr -> package` of `nixpkgs.overlays`.
    overlays: BTreeMap<String, String>,
    /// Scoped package sets by name.
    scoped: BTreeMap<String, ScopedMeaning>,
    /// The systems `boot.binfmt.emulatedSystems` lists that nixcross reads.
    emulated: BTreeSet<String>,
    /// Why more may be listed, if it may.
    emulated_unknown: Option<String>,
    /// The build host's switches.
    toggles: BTreeMap<Toggle, Known<Option<bool>>>,
    /// `nix.buildMachines` entries by `(hostName, protocol)`.
    builders: BTreeMap<(String, String), BuilderFields>,
    /// Why more builders may be listed, if they may.
    builders_unknown: Option<String>,
}

impl Meaning {
    /// The meaning of a followed configuration (its platforms and its
    /// modules' definitions).
    pub(crate) fn of(platforms: &Platforms, sys: &SystemCall) -> Meaning {
        let platforms_known = match &platforms.unknown {
            Some(why) => Err(why.clone()),
            None => Ok((platforms.build.clone(), platforms.host.clone())),
        };
        let all: Vec<_> = sys
            .overlays
            .iter()
            .flat_map(|o| o.overlays.clone())
            .collect();
        let lists: Vec<Src> = sys.package_lists.iter().map(|(_, s)| s.clone()).collect();
        let scoped = sys
            .scoped
            .iter()
            .map(|s| {
                let cross = s.cross.clone().filter(|c| Some(c) != s.local.as_ref());
                (
                    s.name.clone(),
                    ScopedMeaning {
                        local: s.local.clone(),
                        cross,
                        overlays: effective(&s.overlays),
                        uses: used_packages(&lists, &s.name).into_iter().collect(),
                    },
                )
            })
            .collect();
        let host = &sys.host_settings;
        let toggles = Toggle::ALL.iter().map(|t| (*t, host.toggle(*t))).collect();
        let mut builders = BTreeMap::new();
        let mut builders_unknown = host.builders_unknown.clone();
        for b in &host.builders {
            let key = (
                b.get("hostName").cloned().unwrap_or_default(),
                b.get("protocol").cloned().unwrap_or_default(),
            );
            if builders.insert(key.clone(), b.clone()).is_some() {
                builders_unknown.get_or_insert_with(|| {
                    format!("the builder {}://{} is listed twice", key.1, key.0)
                });
            }
        }
        Meaning {
            platforms: platforms_known,
            style: platforms.style,
            overlays: effective(&all),
            scoped,
            emulated: sys.emulated.iter().cloned().collect(),
            emulated_unknown: sys.emulated_unknown.clone(),
            toggles,
            builders,
            builders_unknown,
        }
    }

    fn of_config(c: &Config) -> Known<Meaning> {
        match c.system() {
            Some(sys) => Ok(Meaning::of(&c.platforms, sys)),
            None => Err(c
                .platforms
                .unknown
                .clone()
                .unwrap_or_else(|| "nixcross cannot follow it".into())),
        }
    }
}

/// Every configuration of a flake nixcross read, by name: its meaning, or
/// why it has none; `None` for one [`Flake::load_for`] did not read.
#[derive(Debug, Clone)]
struct Reading {
    configs: BTreeMap<String, Option<Known<Meaning>>>,
    incomplete: Option<String>,
}

impl Reading {
    fn of(f: &Flake) -> Reading {
        let mut configs: BTreeMap<String, Option<Known<Meaning>>> = f
            .configs
            .iter()
            .map(|c| (c.name.clone(), Some(Meaning::of_config(c))))
            .collect();
        for n in f.unread() {
            configs.insert(n.clone(), None);
        }
        Reading {
            configs,
            incomplete: f.incomplete.as_ref().map(|(why, _)| why.clone()),
        }
    }
}

/// Proves an edit of a flake: reads the edited flake as the operation read
/// it before.
#[derive(Debug)]
pub(crate) struct FlakeProver {
    entry: RelPath,
    only: Option<String>,
    before: Reading,
}

impl FlakeProver {
    /// A prover whose baseline is the flake `f` as the operation loaded it.
    pub(crate) fn of(f: &Flake) -> Arc<dyn Prover> {
        Arc::new(FlakeProver {
            entry: f.entry().clone(),
            only: f.loaded_for.clone(),
            before: Reading::of(f),
        })
    }
}

impl Prover for FlakeProver {
    fn prove(&self, after: &dyn Files, claims: &[Claim]) -> Result<()> {
        let f = Flake::load_for(after, &self.entry, self.only.as_deref())?;
        let now = Reading::of(&f);
        if let (None, Some(why)) = (&self.before.incomplete, &now.incomplete) {
            return Err(Error::refused(format!(
                "after the edit, nixcross can no longer list the configurations ({why})"
            )));
        }
        let claimed_new: BTreeSet<&str> = claims
            .iter()
            .filter_map(|c| match c {
                Claim::Configuration { config, .. } => Some(config.as_str()),
                _ => None,
            })
            .collect();
        for (name, before) in &self.before.configs {
            let Some(now_c) = now.configs.get(name) else {
                return Err(Error::refused(format!(
                    "after the edit, the flake no longer has the configuration `{name}`"
                )));
            };
            let (Some(before), Some(now_c)) = (before, now_c) else {
                continue;
            };
            let subject = Subject::Config(name.clone());
            let mine: Vec<&Claim> = claims.iter().filter(|c| c.subject() == subject).collect();
            compare(&subject, before, now_c, &mine)?;
        }
        for (name, now_c) in &now.configs {
            if self.before.configs.contains_key(name) {
                continue;
            }
            if !claimed_new.contains(name.as_str()) {
                return Err(Error::refused(format!(
                    "after the edit, the flake has a configuration `{name}` it did not have"
                )));
            }
            let subject = Subject::Config(name.clone());
            let mine: Vec<&Claim> = claims.iter().filter(|c| c.subject() == subject).collect();
            match now_c {
                Some(Ok(m)) => check_claims(&subject, None, m, &mine)?,
                Some(Err(why)) => {
                    return Err(Error::refused(format!(
                        "after the edit, nixcross cannot read the new configuration `{name}`: {why}"
                    )))
                }
                None => {}
            }
        }
        Ok(())
    }
}

/// Proves an edit of a lone NixOS module file (a build host's).
#[derive(Debug)]
pub(crate) struct ModuleProver {
    path: RelPath,
    before: Meaning,
}

impl ModuleProver {
    /// A prover whose baseline is what the module at `path` meant when the
    /// operation read it.
    pub(crate) fn of(path: &RelPath, platforms: &Platforms, sys: &SystemCall) -> Arc<dyn Prover> {
        Arc::new(ModuleProver {
            path: path.clone(),
            before: Meaning::of(platforms, sys),
        })
    }
}

impl Prover for ModuleProver {
    fn prove(&self, after: &dyn Files, claims: &[Claim]) -> Result<()> {
        let m = crate::flake::modules::lone_module(after, &self.path)?;
        let now = Meaning::of(&m.platforms, &m.sys);
        let subject = Subject::Module(self.path.clone());
        let mine: Vec<&Claim> = claims.iter().filter(|c| c.subject() == subject).collect();
        compare(&subject, &Ok(self.before.clone()), &Ok(now), &mine)
    }
}

/// Compare one subject's meaning before and after, given the claims about it.
fn compare(
    subject: &Subject,
    before: &Known<Meaning>,
    now: &Known<Meaning>,
    claims: &[&Claim],
) -> Result<()> {
    let (before, now) = match (before, now) {
        (Err(_), Err(_)) if claims.is_empty() => return Ok(()),
        (Err(_), Ok(now)) if claims.is_empty() => {
            let _ = now;
            return Ok(());
        }
        (_, Err(why)) => {
            return Err(Error::refused(format!(
                "after the edit, nixcross cannot read {subject} any more: {why}"
            )))
        }
        (Err(_), Ok(now)) => return check_claims(subject, None, now, claims),
        (Ok(b), Ok(n)) => (b, n),
    };
    check_claims(subject, Some(before), now, claims)
}

fn refuse(subject: &Subject, what: &str, before: &str, now: &str) -> Error {
    Error::refused(format!(
        "the edit would change {what} of {subject} too (before: {before}; after: {now})"
    ))
}

fn show_pair(p: &Known<(Option<String>, Option<String>)>) -> String {
    match p {
        Ok((Some(b), Some(h))) if b == h => format!("native {h}"),
        Ok((Some(b), Some(h))) => format!("{h} built on {b}"),
        Ok((b, h)) => format!(
            "build {}, host {}",
            b.as_deref().unwrap_or("unset"),
            h.as_deref().unwrap_or("unset")
        ),
        Err(why) => format!("unknown: {why}"),
    }
}

/// Check `now` against `before` (`None` for a new configuration), given
/// the claims about this subject.
fn check_claims(
    subject: &Subject,
    before: Option<&Meaning>,
    now: &Meaning,
    claims: &[&Claim],
) -> Result<()> {
    let check = Check {
        subject,
        before,
        now,
        claims,
    };
    let claimed = check.platforms()?;
    check.sets(claimed)?;
    check.emulated()?;
    check.toggles()?;
    check.builders()
}

/// One subject's meaning after an edit, to check against its meaning
/// before (`None` for a new configuration) and the claims about it.
#[derive(Clone, Copy)]
struct Check<'a, 'c> {
    subject: &'a Subject,
    before: Option<&'a Meaning>,
    now: &'a Meaning,
    claims: &'a [&'c Claim],
}

/// A claim that the edited files, read again, do not show: they read
/// `reads`.
fn not_in_effect(claim: &Claim, reads: String) -> Error {
    Error::refused(format!(
        "read again, the edited files do not show what the edit claims: {claim} (they read: {reads})"
    ))
}

impl<'c> Check<'_, 'c> {
    /// Platforms and style: as claimed (and not mixed), or as before. Gives
    /// the claimed `(build, host)`, if any.
    fn platforms(self) -> Result<Option<(&'c String, &'c String)>> {
        let platform_claim = self.claims.iter().find_map(|c| match c {
            Claim::Platforms { build, host, .. } | Claim::Configuration { build, host, .. } => {
                Some((*c, build, host))
            }
            _ => None,
        });
        match platform_claim {
            Some((c, build, host)) => {
                if self.now.platforms != Ok((Some(build.clone()), Some(host.clone()))) {
                    return Err(not_in_effect(c, show_pair(&self.now.platforms)));
                }
                if self.now.style == Some(SeenStyle::Mixed) {
                    return Err(Error::refused(format!(
                    "after the edit, {} would define both the legacy and the modern platform options, which NixOS rejects",
                    self.subject
                )));
                }
            }
            None => {
                if let Some(b) = self.before {
                    if b.platforms.is_ok() && b.platforms != self.now.platforms {
                        return Err(refuse(
                            self.subject,
                            "the platforms",
                            &show_pair(&b.platforms),
                            &show_pair(&self.now.platforms),
                        ));
                    }
                    if b.platforms.is_ok() && b.style != self.now.style {
                        let s = |x: Option<SeenStyle>| x.map_or("none", |s| s.as_str()).to_string();
                        return Err(refuse(
                            self.subject,
                            "the option style",
                            &s(b.style),
                            &s(self.now.style),
                        ));
                    }
                }
            }
        }
        Ok(platform_claim.map(|(_, build, host)| (build, host)))
    }

    /// Overlays of the package set, and scoped sets: as claimed, else as
    /// before; `claimed` is the claimed `(build, host)`, which a retarget
    /// takes the configuration's own scoped sets along to.
    fn sets(self, claimed: Option<(&String, &String)>) -> Result<()> {
        let mut overlays = self.before.map(|b| b.overlays.clone()).unwrap_or_default();
        let mut scoped = self.before.map(|b| b.scoped.clone()).unwrap_or_default();
        let mut new_sets: BTreeSet<String> = BTreeSet::new();
        for c in self.claims {
            match c {
                Claim::Overlay {
                    set: None,
                    attr,
                    package,
                    ..
                } => match package {
                    Some(p) => {
                        if self.now.overlays.get(attr) != Some(p) {
                            return Err(not_in_effect(c, describe_map(&self.now.overlays)));
                        }
                        overlays.insert(attr.clone(), p.clone());
                    }
                    None => {
                        if self.now.overlays.contains_key(attr) {
                            return Err(not_in_effect(c, describe_map(&self.now.overlays)));
                        }
                        overlays.remove(attr);
                    }
                },
                Claim::Overlay {
                    set: Some(name),
                    attr,
                    package,
                    ..
                } => {
                    let got = self.now.scoped.get(name);
                    match package {
                        Some(p) => {
                            let Some(set) = got.filter(|s| s.overlays.get(attr) == Some(p)) else {
                                return Err(not_in_effect(
                                    c,
                                    got.map_or("no such package set".into(), |s| {
                                        describe_map(&s.overlays)
                                    }),
                                ));
                            };
                            let entry = scoped.entry(name.clone()).or_insert_with(|| {
                                new_sets.insert(name.clone());
                                ScopedMeaning {
                                    overlays: BTreeMap::new(),
                                    ..set.clone()
                                }
                            });
                            entry.overlays.insert(attr.clone(), p.clone());
                        }
                        None => {
                            if got.is_some_and(|s| s.overlays.contains_key(attr)) {
                                return Err(not_in_effect(
                                    c,
                                    describe_map(&got.expect("checked").overlays),
                                ));
                            }
                            if let Some(s) = scoped.get_mut(name) {
                                s.overlays.remove(attr);
                                if got.is_none() && s.overlays.is_empty() {
                                    // The set went with its last overlay.
                                    scoped.remove(name);
                                }
                            }
                        }
                    }
                }
                Claim::Uses { set, package, .. } => {
                    if !self
                        .now
                        .scoped
                        .get(set)
                        .is_some_and(|s| s.uses.contains(package))
                    {
                        return Err(not_in_effect(c, "the package is not installed".into()));
                    }
                    if let Some(s) = scoped.get_mut(set) {
                        s.uses.insert(package.clone());
                    }
                }
                _ => {}
            }
        }
        if (self.before.is_some() || !overlays.is_empty()) && self.now.overlays != overlays {
            return Err(refuse(
                self.subject,
                "the overlays",
                &describe_map(&overlays),
                &describe_map(&self.now.overlays),
            ));
        }
        // A retarget takes the scoped sets along (set-target rewrites the
        // platforms of the sets that are the configuration's own).
        if let Some((build, host)) = claimed {
            let cross = (build != host).then(|| host.clone());
            for (name, s) in scoped.iter_mut() {
                if let Some(n) = self.now.scoped.get(name) {
                    if n.local.as_ref() == Some(build) && n.cross == cross {
                        s.local = n.local.clone();
                        s.cross = n.cross.clone();
                    }
                }
            }
        }
        // A new scoped set follows the configuration's platforms.
        if let Ok((Some(build), Some(host))) = &self.now.platforms {
            for name in &new_sets {
                let s = &self.now.scoped[name];
                let cross = (build != host).then_some(host);
                if s.local.as_ref() != Some(build) || s.cross.as_ref() != cross {
                    return Err(Error::refused(format!(
                    "read again, the new package set {name} is not built on {build} for {host}, as {} is",
                    self.subject
                )));
                }
            }
        }
        if self.now.scoped != scoped {
            let names = |m: &BTreeMap<String, ScopedMeaning>| {
                let v: Vec<&str> = m.keys().map(String::as_str).collect();
                if v.is_empty() {
                    "none".to_string()
                } else {
                    v.join(", ")
                }
            };
            let changed = scoped
                .iter()
                .find(|(n, s)| self.now.scoped.get(*n) != Some(s))
                .map(|(n, _)| n.clone())
                .or_else(|| {
                    self.now
                        .scoped
                        .keys()
                        .find(|n| !scoped.contains_key(*n))
                        .cloned()
                })
                .unwrap_or_default();
            return Err(refuse(
                self.subject,
                &format!("the scoped package set {changed}"),
                &names(&scoped),
                &names(&self.now.scoped),
            ));
        }
        Ok(())
    }

    /// Emulated systems: as claimed, else as before.
    fn emulated(self) -> Result<()> {
        let mut emulated = self.before.map(|b| b.emulated.clone()).unwrap_or_default();
        for c in self.claims {
            if let Claim::Emulated { system, listed, .. } = c {
                let has = self.now.emulated.contains(system);
                // Not listed: not among the systems nixcross reads (a computed
                // part it cannot read may still list it).
                if *listed != has {
                    return Err(not_in_effect(
                        c,
                        describe_set(&self.now.emulated, &self.now.emulated_unknown),
                    ));
                }
                if *listed {
                    emulated.insert(system.clone());
                } else {
                    emulated.remove(system);
                }
            }
        }
        if let Some(b) = self.before {
            if b.emulated_unknown.is_none() && self.now.emulated_unknown.is_some()
                || emulated != self.now.emulated
            {
                return Err(refuse(
                    self.subject,
                    "boot.binfmt.emulatedSystems",
                    &describe_set(&emulated, &b.emulated_unknown),
                    &describe_set(&self.now.emulated, &self.now.emulated_unknown),
                ));
            }
        }
        Ok(())
    }

    /// The build host's switches: as claimed, else as before.
    fn toggles(self) -> Result<()> {
        for t in Toggle::ALL {
            let claim = self.claims.iter().find_map(|c| match c {
                Claim::Toggle { option, value, .. } if *option == t => Some((*c, value)),
                _ => None,
            });
            let got = self.now.toggles.get(&t).cloned().unwrap_or(Ok(None));
            match claim {
                Some((c, want)) => {
                    if got != Ok(*want) {
                        return Err(not_in_effect(c, describe_toggle(&got)));
                    }
                }
                None => {
                    if let Some(b) = self.before {
                        let was = b.toggles.get(&t).cloned().unwrap_or(Ok(None));
                        if was.is_ok() && was != got {
                            return Err(refuse(
                                self.subject,
                                &t.dotted(),
                                &describe_toggle(&was),
                                &describe_toggle(&got),
                            ));
                        }
                    }
                }
            }
        }
        Ok(())
    }

    /// Remote builders: as claimed, else as before.
    fn builders(self) -> Result<()> {
        let mut builders = self.before.map(|b| b.builders.clone()).unwrap_or_default();
        for c in self.claims {
            let Claim::Builder {
                host,
                protocol,
                fields,
                ..
            } = c
            else {
                continue;
            };
            let key = (host.clone(), protocol.clone());
            let got = self.now.builders.get(&key);
            match fields {
                Some(want) => {
                    let Some(got) = got.filter(|g| want.iter().all(|(k, v)| g.get(k) == Some(v)))
                    else {
                        return Err(not_in_effect(
                            c,
                            got.map_or("no such builder".into(), describe_map),
                        ));
                    };
                    builders.insert(key, got.clone());
                }
                None => {
                    if got.is_some() {
                        return Err(not_in_effect(c, "it is still listed".into()));
                    }
                    builders.remove(&key);
                }
            }
        }
        if let Some(b) = self.before {
            if b.builders_unknown.is_none() && self.now.builders_unknown.is_some()
                || builders != self.now.builders
            {
                let keys = |m: &BTreeMap<(String, String), BuilderFields>| {
                    let v: Vec<String> = m.keys().map(|(h, p)| format!("{p}://{h}")).collect();
                    if v.is_empty() {
                        "none".to_string()
                    } else {
                        v.join(", ")
                    }
                };
                return Err(refuse(
                    self.subject,
                    "nix.buildMachines",
                    &keys(&builders),
                    &keys(&self.now.builders),
                ));
            }
        }
        Ok(())
    }
}

fn describe_map(m: &BTreeMap<String, String>) -> String {
    if m.is_empty() {
        return "none".into();
    }
    m.iter()
        .map(|(k, v)| format!("{k} = {v}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn describe_set(s: &BTreeSet<String>, unknown: &Option<String>) -> String {
    let mut out = if s.is_empty() {
        "none".to_string()
    } else {
        s.iter().cloned().collect::<Vec<_>>().join(", ")
    };
    if let Some(why) = unknown {
        out.push_str(&format!(", and more nixcross cannot read ({why})"));
    }
    out
}

fn describe_toggle(t: &Known<Option<bool>>) -> String {
    match t {
        Ok(Some(v)) => v.to_string(),
        Ok(None) => "unset".into(),
        Err(why) => format!("unknown: {why}"),
    }
}

#[cfg(test)]
mod tests {
    //! The prover against plans that lie: each is an edit a planner bug
    //! could make, and each must be refused, with nothing returned.
    use super::*;
    use crate::edit::{FileEdits, Plan, TextEdit};
    use crate::files::MemFiles;
    use crate::ErrorKind;

    const FLAKE: &str = r#"{
  outputs = { self, nixpkgs }: {
    nixosConfigurations.a = nixpkgs.lib.nixosSystem {
      system = "x86_64-linux";
      modules = [ ./shared.nix { nixpkgs.crossSystem.system = "aarch64-linux"; } ];
    };
    nixosConfigurations.b = nixpkgs.lib.nixosSystem {
      system = "x86_64-linux";
      modules = [ ./shared.nix ];
    };
  };
}
"#;

    fn files() -> MemFiles {
        let mut f = MemFiles::new();
        f.insert("flake.nix", FLAKE).insert(
            "shared.nix",
            "{\n  boot.binfmt.emulatedSystems = [ \"riscv64-linux\" ];\n}\n",
        );
        f
    }

    /// A plan replacing `find` with `with` in `path`, claiming `claims`,
    /// proven against the flake as loaded for `a`.
    fn plan(files: &MemFiles, path: &str, find: &str, with: &str, claims: Vec<Claim>) -> Plan {
        let f = Flake::load_for(files, &RelPath::new("flake.nix").unwrap(), Some("a")).unwrap();
        let text = files.read(&RelPath::new(path).unwrap()).unwrap();
        let at = text.find(find).unwrap();
        Plan {
            files: vec![FileEdits {
                path: RelPath::new(path).unwrap(),
                edits: vec![TextEdit::replace((at, at + find.len()), with)],
                reasons: vec!["test".into()],
                revision: None,
            }],
            summary: "test".into(),
            claims,
            prover: Some(FlakeProver::of(&f)),
            ..Plan::default()
        }
    }

    fn platforms(build: &str, host: &str) -> Claim {
        Claim::Platforms {
            config: "a".into(),
            build: build.into(),
            host: host.into(),
        }
    }

    fn refused(p: &Plan, files: &MemFiles) -> String {
        let e = p.apply(files).expect_err("the plan must be refused");
        assert_eq!(e.kind, ErrorKind::Unsafe, "{}", e.message);
        e.message
    }

    #[test]
    fn a_true_plan_passes() {
        let f = files();
        let p = plan(
            &f,
            "flake.nix",
            "\"aarch64-linux\"",
            "\"riscv64-linux\"",
            vec![platforms("x86_64-linux", "riscv64-linux")],
        );
        assert!(p.apply(&f).unwrap().changed());
    }

    #[test]
    fn a_claim_not_in_effect_is_refused() {
        let f = files();
        // Says riscv64, writes riscv32.
        let p = plan(
            &f,
            "flake.nix",
            "\"aarch64-linux\"",
            "\"riscv32-linux\"",
            vec![platforms("x86_64-linux", "riscv64-linux")],
        );
        assert!(refused(&p, &f).contains("do not show what the edit claims"));
        // An edit that claims an emulated system it does not add.
        let p = plan(
            &f,
            "shared.nix",
            "\"riscv64-linux\"",
            "\"riscv64-linux\" ",
            vec![emulated_by_a("aarch64-linux")],
        );
        assert!(refused(&p, &f).contains("emulates aarch64-linux"));
    }

    /// `a` claims to list `system` in its emulated systems.
    fn emulated_by_a(system: &str) -> Claim {
        Claim::Emulated {
            subject: Subject::Config("a".into()),
            system: system.into(),
            listed: true,
        }
    }

    #[test]
    fn a_change_to_another_configuration_is_refused() {
        let f = files();
        // The shared module changes `b` too.
        let p = plan(
            &f,
            "shared.nix",
            "[ \"riscv64-linux\" ]",
            "[ \"riscv64-linux\" \"aarch64-linux\" ]",
            vec![emulated_by_a("aarch64-linux")],
        );
        let m = refused(&p, &f);
        assert!(m.contains("of `b`"), "{m}");
        assert!(m.contains("boot.binfmt.emulatedSystems"), "{m}");
    }

    #[test]
    fn a_change_the_claims_do_not_name_is_refused() {
        let f = files();
        // Retargets `a` but says it only adds an emulated system.
        let p = plan(
            &f,
            "flake.nix",
            "\"aarch64-linux\"",
            "\"riscv64-linux\"",
            vec![emulated_by_a("riscv64-linux")],
        );
        let m = refused(&p, &f);
        assert!(m.contains("the platforms of `a`"), "{m}");
        // Removes a configuration.
        let p = plan(&f, "flake.nix", "nixosConfigurations.b", "other.b", vec![]);
        assert!(refused(&p, &f).contains("no longer has the configuration `b`"));
    }

    #[test]
    fn a_stale_plan_is_not_applied() {
        let mut f = files();
        let p = crate::ops::set_target::plan_set_target(
            &f,
            &RelPath::new("flake.nix").unwrap(),
            &crate::ops::set_target::SetTargetOptions {
                target: "riscv64-linux".into(),
                mode: crate::vocab::Mode::Cross,
                config: Some("a".into()),
                host: None,
                local_system: Some("x86_64-linux".into()),
                style: None,
            },
        )
        .unwrap();
        // The file changes between the plan and its application.
        f.insert(
            "flake.nix",
            FLAKE.replace("usb", "usb_storage").replacen("{", "{ ", 1),
        );
        let e = p.apply(&f).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Changed, "{}", e.message);
    }
}
