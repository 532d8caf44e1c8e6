//! Readers of platforms: the system a platform value means, the
//! configuration platform a binding takes, a package set's platforms, and
//! the scoped package sets among a configuration's module arguments.

use crate::eval::{Attrs, Evaluator, ImportArgs, Special, Value};
use crate::flake::overlays::{ConfigPlatform, OverlayDef, ScopedSet, ScopedVia, Tracking};
use crate::source::Src;

/// The system double a platform value means, the literal it comes from,
/// why it is unknown, and whether it is `null`.
pub(super) fn platform_of(
    ev: &mut Evaluator,
    v: &Value,
) -> (Option<String>, Option<Src>, Option<String>, bool) {
    let resolve = |s: &str| crate::platform::resolve(s).ok().map(|t| t.system);
    match v {
        Value::Null => (None, None, None, true),
        Value::Str(s) => match s.as_text() {
            Some(t) => match resolve(&t) {
                Some(d) => (Some(d), s.origin.clone(), None, false),
                None => (
                    None,
                    s.origin.clone(),
                    Some(format!("`{t}` is not a platform nixcross knows")),
                    false,
                ),
            },
            None => (None, None, Some("a string with a path in it".into()), false),
        },
        Value::Attrs(a) => {
            for key in ["system", "config"] {
                if let Some(e) = a.entries.get(key) {
                    let t = e.value;
                    let inner = ev.force(t);
                    return platform_of(ev, &inner);
                }
            }
            (
                None,
                None,
                Some("a platform set without `system` or `config`".into()),
                false,
            )
        }
        Value::Unknown(u) => (None, None, Some(u.reason.clone()), false),
        other => (
            None,
            None,
            Some(format!("the platform is {}", other.type_name())),
            false,
        ),
    }
}

/// Which of the configuration's platforms a `localSystem`/`system`/
/// `crossSystem` binding of a module's package set takes:
/// `config.nixpkgs.<buildPlatform|localSystem|hostPlatform|crossSystem>`
/// (`.system` or not), `pkgs.stdenv.<buildPlatform|hostPlatform>.system`,
/// `pkgs.system`, or the same through `inherit (pkgs) system;`. `pkgs` and
/// `config` must be the module's own arguments.
fn config_platform(site: &Src) -> Option<ConfigPlatform> {
    config_platform_of(site).map(|(p, _)| p)
}

/// The module argument (`pkgs` or `config`) a binding that
/// [`config_platform`] reads takes the platform from.
pub(crate) fn config_platform_base(site: &Src) -> Option<String> {
    config_platform_of(site).map(|(_, b)| b)
}

fn config_platform_of(site: &Src) -> Option<(ConfigPlatform, String)> {
    let (path, base) = match site.node.as_entry()? {
        crate::syntax::Entry::Binding(b) => {
            let v = b.value.unparen();
            let r = v.reference()?;
            let base = v.select().map_or(v.clone(), |s| s.base);
            (r, base)
        }
        crate::syntax::Entry::Inherit(i) => {
            let from = i.from.as_ref()?.unparen();
            let [(name, _)] = &i.names[..] else {
                return None;
            };
            let mut r = from.reference()?;
            r.push(name.clone());
            let base = from.select().map_or(from.clone(), |s| s.base);
            (r, base)
        }
    };
    let first = path.first()?;
    // The module's own `pkgs`/`config`: a parameter of a function.
    if base.ident().as_deref() != Some(first.as_str()) || base.param_binder(first).is_none() {
        return None;
    }
    let rest: Vec<&str> = path[1..].iter().map(String::as_str).collect();
    use ConfigPlatform::{Build, Host};
    let platform = match (first.as_str(), &rest[..]) {
        ("config", ["nixpkgs", "buildPlatform" | "localSystem"])
        | ("config", ["nixpkgs", "buildPlatform", "system"]) => Build,
        ("config", ["nixpkgs", "hostPlatform" | "crossSystem"])
        | ("config", ["nixpkgs", "hostPlatform", "system"]) => Host,
        ("pkgs", ["stdenv", "buildPlatform", "system"] | ["buildPlatform", "system"]) => Build,
        (
            "pkgs",
            ["system"]
            | ["stdenv", "system"]
            | ["stdenv", "hostPlatform", "system"]
            | ["hostPlatform", "system"],
        ) => Host,
        _ => return None,
    };
    Some((platform, first.clone()))
}

/// The platforms a package set is for: `legacyPackages.<system>`, or
/// `import nixpkgs { localSystem/system; crossSystem; }`.
pub(super) fn pkgs_platforms(
    ev: &mut Evaluator,
    p: &crate::eval::PkgsValue,
) -> (Option<String>, Option<String>) {
    if let Some(s) = p.system() {
        let d = crate::platform::resolve(s).ok().map(|t| t.system);
        return (d.clone(), d);
    }
    if let crate::eval::PkgsVia::Cross { of, example, .. } = &p.via {
        // Built where `of` builds, for the example.
        let build = pkgs_platforms(ev, of).0;
        let host = crate::platform::catalogue()
            .example(example)
            .map(|e| e.system.clone());
        return (build, host);
    }
    let Ok(args) = ImportArgs::of(ev, p) else {
        return (None, None);
    };
    let build = args.local.as_ref().and_then(|(_, e)| {
        let v = ev.force(e.value);
        platform_of(ev, &v).0
    });
    let host = match args.cross_value(ev) {
        Some(v) => platform_of(ev, &v).0,
        None => build.clone(),
    };
    (build, host)
}

/// The scoped package sets among `given` (`specialArgs`, or the
/// `_module.args` the modules define): entries whose value is
/// `import <nixpkgs> { ... }`.
pub(super) fn scoped_sets(ev: &mut Evaluator, given: &Attrs, via: ScopedVia) -> Vec<ScopedSet> {
    let mut out = Vec::new();
    for (name, e) in given.entries.iter() {
        let t = e.value;
        let Value::Special(s) = ev.force(t) else {
            continue;
        };
        let Special::Pkgs(p) = &*s else { continue };
        if p.import_args().is_none() {
            continue;
        }
        let mut set = ScopedSet {
            name: name.clone(),
            via,
            tracking: Tracking::Own,
            entry: e.def.clone(),
            import: p.import_call().cloned(),
            args: None,
            local: None,
            local_site: None,
            local_literal: None,
            cross: None,
            cross_site: None,
            cross_literal: None,
            overlays: Vec::new(),
            overlays_site: None,
        };
        // Arguments nixpkgs would refuse (localSystem next to system) leave
        // the platforms unknown.
        let read = ImportArgs::of(ev, p);
        if let Some(a) = read.as_ref().ok().map(|r| r.args.clone()) {
            set.args = a.src.clone();
        }
        if let Ok(read) = read {
            let a = read.args.clone();
            if let Some((_, le)) = &read.local {
                let v = ev.force(le.value);
                let (system, literal, _, _) = platform_of(ev, &v);
                set.local = system;
                set.local_literal = literal;
                set.local_site = le.def.clone();
            }
            if let Some(ce) = &read.cross {
                let v = ev.force(ce.value);
                let (system, literal, _, _) = platform_of(ev, &v);
                set.cross = system;
                set.cross_literal = literal;
                set.cross_site = ce.def.clone();
            }
            if let Some(oe) = a.entries.get("overlays") {
                if let Some(site) = oe.def.clone() {
                    set.overlays = OverlayDef::read(site.clone()).overlays;
                    set.overlays_site = Some(site);
                }
            }
            let platform = |site: &Option<Src>| site.as_ref().and_then(config_platform);
            set.tracking = match (
                via,
                platform(&set.local_site),
                &set.cross_site,
                platform(&set.cross_site),
            ) {
                // `config` and the module's `pkgs` exist in modules only.
                (
                    ScopedVia::ModuleArgs,
                    Some(ConfigPlatform::Build),
                    _,
                    Some(ConfigPlatform::Host),
                ) => Tracking::BuildAndHost,
                (ScopedVia::ModuleArgs, Some(ConfigPlatform::Host), None, _) => Tracking::Host,
                _ => Tracking::Own,
            };
        }
        out.push(set);
    }
    out
}
