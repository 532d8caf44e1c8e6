//! `nixcross apply`: make a flake, and the build host's configuration, say
//! what a `nixcross.yaml` says ([`crate::spec`]), as one transaction.
//!
//! The spec is carried out with the operations themselves, one after
//! another in memory ([`Transaction`]): each is planned against the text
//! the ones before it left, so every guarantee they give holds (guards
//! against editing text other configurations share, the file's own style
//! and layout, re-parsing, refusals with a location). Per configuration
//! the spec names, in name order:
//! 1. a configuration the flake lacks is added ([`add_config`]); one it has
//!    gets [`set_target`] with the spec's target, mode, build machine and
//!    style, which changes nothing when they already hold;
//! 2. each overlay is [`add_overlay`], which leaves an overlay in effect
//!    alone.
//!
//! Then the build host ([`crate::spec::BuildHostSpec`]): `emulate` and
//! `staticEmulators: true` are [`emulate`]; `staticEmulators: false` is
//! `emulate --remove --static`; each of `builders` is `add-builder`.
//! Nothing the spec does not mention is removed.
//!
//! The result is one [`Outcome`] per tree (the flake's folder, and the
//! build host's folder when its module lies outside it), of each file's
//! original and final text; nothing is written here, and an error in any
//! step means no outcome at all.

use crate::edit::{Outcome, Transaction};
use crate::error::Error;
use crate::files::{Files, RelPath};
use crate::flake::Flake;
use crate::ops::add_builder::{add_builder, AddBuilderOptions};
use crate::ops::add_config::{add_config, AddConfigOptions};
use crate::ops::add_overlay::{add_overlay, AddOverlayOptions};
use crate::ops::emulate::{emulate, EmulateOptions};
use crate::ops::set_target::{emulation_warning, set_target, SetTargetOptions};
use crate::spec::spans::Seg;
use crate::spec::{BuildHostSpec, BuilderSpec, ConfigSpec, Document, HostMachine};

/// Where the build host's module is, as the caller found the spec's
/// `buildHost.file`.
pub enum HostFile<'a> {
    /// A file of the flake's tree.
    InFlakeTree(RelPath),
    /// A file of another tree (e.g. `/etc/nixos`).
    Other {
        /// That tree.
        files: &'a dyn Files,
        /// The module, in it.
        path: RelPath,
    },
}

/// Options for [`apply`].
pub struct ApplyOptions<'a> {
    /// The machine nixcross runs on: the default build machine.
    pub local_system: Option<String>,
    /// The build host's module, when the spec gives `buildHost.file`.
    pub host_file: Option<HostFile<'a>>,
}

/// Which text an error points into.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// The spec (the error's `range` is into its text).
    Spec,
    /// A file of the flake's tree (the error's `location`, when it has one).
    Flake,
    /// A file of the build host's tree.
    Host,
}

/// An error, and which text it is about.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ApplyError {
    /// What went wrong.
    pub error: Box<Error>,
    /// Where.
    pub origin: Origin,
}

/// What applying a spec changes.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Applied {
    /// The files of the flake's tree (the build host's module too, when it
    /// is in that tree or a configuration of the flake).
    pub flake: Outcome,
    /// The files of the build host's own tree, when its module is outside
    /// the flake's folder.
    pub host: Option<Outcome>,
}

impl Applied {
    /// Whether any file changes.
    pub fn changed(&self) -> bool {
        self.flake.changed() || self.host.as_ref().is_some_and(Outcome::changed)
    }
}

/// `add-builder`'s options for one builder of the spec.
fn builder_options(b: &BuilderSpec, config: Option<&str>) -> AddBuilderOptions {
    AddBuilderOptions {
        uri: b.uri.clone(),
        systems: b.systems.clone(),
        max_jobs: b.max_jobs,
        speed_factor: b.speed_factor,
        features: b.features.clone(),
        mandatory_features: b.mandatory_features.clone(),
        ssh_key: b.ssh_key.clone(),
        host_key: b.host_key.clone(),
        remove: false,
        config: config.map(str::to_string),
    }
}

/// Plan everything `doc` says over the flake `flake` of `files` (and the
/// build host's tree), as one transaction per tree.
pub fn apply(
    doc: &Document,
    files: &dyn Files,
    flake: &RelPath,
    opts: &ApplyOptions,
) -> std::result::Result<Applied, ApplyError> {
    let spec = &doc.spec;
    let in_flake = |error: Error| ApplyError {
        error: Box::new(error),
        origin: Origin::Flake,
    };
    // The flake must read at all.
    Flake::load(files, flake).map_err(in_flake)?;
    let mut t = Transaction::new(files);
    for (name, c) in &spec.configurations {
        configuration(&mut t, doc, flake, name, c, opts)?;
    }
    let mut host = None;
    if let Some(h) = &spec.build_host {
        match (h.machine(), &opts.host_file) {
            (HostMachine::Config(name), _) => {
                let f = Flake::load(t.files(), flake).map_err(in_flake)?;
                if f.config(name).is_none() {
                    let names: Vec<&str> = f.configs.iter().map(|c| c.name.as_str()).collect();
                    let mut error = Error::invalid(format!(
                        "the build host: the flake has no configuration `{name}`"
                    ))
                    .at(doc
                        .range(&[Seg::Key("buildHost"), Seg::Key("config")])
                        .unwrap_or((0, 0)));
                    if !names.is_empty() {
                        error = error.hint(format!("the flake has: {}", names.join(", ")));
                    }
                    return Err(ApplyError {
                        error: Box::new(error),
                        origin: Origin::Spec,
                    });
                }
                drop(f);
                build_host(&mut t, doc, flake, Some(name), h, opts, Origin::Flake)?
            }
            (HostMachine::File(_), Some(HostFile::InFlakeTree(path))) => {
                build_host(&mut t, doc, path, None, h, opts, Origin::Flake)?
            }
            (HostMachine::File(_), Some(HostFile::Other { files, path })) => {
                let mut ht = Transaction::new(*files);
                build_host(&mut ht, doc, path, None, h, opts, Origin::Host)?;
                host = Some(ht.finish().map_err(|e| ApplyError {
                    error: Box::new(e),
                    origin: Origin::Host,
                })?);
            }
            (HostMachine::File(f), None) => {
                return Err(ApplyError {
                    error: Box::new(
                        Error::invalid(format!(
                            "the build host's module `{f}` was not given to apply"
                        ))
                        .at(doc
                            .range(&[Seg::Key("buildHost"), Seg::Key("file")])
                            .unwrap_or((0, 0))),
                    ),
                    origin: Origin::Spec,
                })
            }
        }
    }
    let mut flake = t.finish().map_err(|e| ApplyError {
        error: Box::new(e),
        origin: Origin::Flake,
    })?;
    // Advice the spec's build host already follows is not repeated: an
    // emulated configuration's "the building machine must emulate X" when
    // `buildHost` emulates X, or has a builder of X.
    if let Some(h) = &spec.build_host {
        let provided: Vec<String> = h
            .emulate
            .iter()
            .chain(h.builders.iter().flat_map(|b| &b.systems))
            .filter_map(|s| crate::platform::resolve(s).ok())
            .map(|t| emulation_warning(&t.system))
            .collect();
        flake.warnings.retain(|w| !provided.contains(&w.message));
    }
    Ok(Applied { flake, host })
}

/// An operation's error, placed: one about a file stays there, with a hint
/// naming the spec's entry; one about a value (no file) points at the
/// spec's entry.
fn placed(doc: &Document, error: Error, path: &[Seg], tree: Origin, what: &str) -> ApplyError {
    let at = doc
        .key_range(path)
        .or_else(|| doc.range(path))
        .unwrap_or((0, 0));
    if error.location.is_some() || error.range.is_some() {
        let line = crate::error::line_col(&doc.text, at.0).0;
        return ApplyError {
            error: Box::new(error.hint(format!("while applying {what} (line {line} of the spec)"))),
            origin: tree,
        };
    }
    let mut e = error;
    e.message = format!("{what}: {}", e.message);
    // The operations' hints name their command-line flags; the spec has
    // fields.
    for h in &mut e.hints {
        *h = h
            .replace("--mode emulate", "`mode: emulate`")
            .replace("--mode cross", "`mode: cross`")
            .replace("pass --host with the system that builds", "set `build`")
            .replace("pass --host <SYSTEM>", "set `build`");
    }
    ApplyError {
        error: Box::new(e.at(at)),
        origin: Origin::Spec,
    }
}

fn configuration(
    t: &mut Transaction,
    doc: &Document,
    flake: &RelPath,
    name: &str,
    c: &ConfigSpec,
    opts: &ApplyOptions,
) -> std::result::Result<(), ApplyError> {
    let path = [Seg::Key("configurations"), Seg::Key(name)];
    let what = format!("configuration `{name}`");
    let fail = |e: Error| placed(doc, e, &path, Origin::Flake, &what);
    let exists = Flake::load(t.files(), flake)
        .map_err(fail)?
        .config(name)
        .is_some();
    if exists {
        let o = SetTargetOptions {
            target: c.target.clone(),
            mode: c.mode,
            config: Some(name.to_string()),
            host: c.build.clone(),
            local_system: opts.local_system.clone(),
            style: c.style,
        };
        t.step(|files| set_target(files, flake, &o)).map_err(fail)?;
    } else {
        let o = AddConfigOptions {
            name: name.to_string(),
            target: c.target.clone(),
            mode: c.mode,
            host: c.build.clone(),
            style: c.style,
            local_system: opts.local_system.clone(),
        };
        t.step(|files| add_config(files, flake, &o)).map_err(fail)?;
    }
    for (i, o) in c.overlays.iter().enumerate() {
        let path = [
            Seg::Key("configurations"),
            Seg::Key(name),
            Seg::Key("overlays"),
            Seg::Index(i),
        ];
        let what = format!("overlay {} of `{name}`", i + 1);
        let ao = AddOverlayOptions {
            pairs: o.packages.iter().map(|(a, p)| format!("{a}={p}")).collect(),
            config: Some(name.to_string()),
            scoped: o.scoped,
            instance: o.instance.clone(),
            uses: o.uses.clone(),
            remove: false,
        };
        t.step(|files| add_overlay(files, flake, &ao))
            .map_err(|e| placed(doc, e, &path, Origin::Flake, &what))?;
    }
    Ok(())
}

fn build_host(
    t: &mut Transaction,
    doc: &Document,
    path: &RelPath,
    config: Option<&str>,
    h: &BuildHostSpec,
    opts: &ApplyOptions,
    tree: Origin,
) -> std::result::Result<(), ApplyError> {
    let fail = |k: &'static str| {
        move |e: Error| {
            placed(
                doc,
                e,
                &[Seg::Key("buildHost"), Seg::Key(k)],
                tree,
                "the build host",
            )
        }
    };
    let base = EmulateOptions {
        systems: Vec::new(),
        remove: false,
        static_emulators: false,
        host: None,
        config: config.map(str::to_string),
        local_system: opts.local_system.clone(),
    };
    if !h.emulate.is_empty() || h.static_emulators == Some(true) {
        let o = EmulateOptions {
            systems: h.emulate.clone(),
            static_emulators: h.static_emulators == Some(true),
            ..base.clone()
        };
        let key = if h.emulate.is_empty() {
            "staticEmulators"
        } else {
            "emulate"
        };
        t.step(|files| emulate(files, path, &o))
            .map_err(fail(key))?;
    }
    if h.static_emulators == Some(false) {
        let o = EmulateOptions {
            remove: true,
            static_emulators: true,
            ..base.clone()
        };
        t.step(|files| emulate(files, path, &o))
            .map_err(fail("staticEmulators"))?;
    }
    for (i, b) in h.builders.iter().enumerate() {
        let o = builder_options(b, config);
        t.step(|files| add_builder(files, path, &o)).map_err(|e| {
            placed(
                doc,
                e,
                &[Seg::Key("buildHost"), Seg::Key("builders"), Seg::Index(i)],
                tree,
                "the build host",
            )
        })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests;
