//! `nixcross add-config`: a new NixOS configuration in an existing flake's
//! `nixosConfigurations`, rendered by the same template as `init`
//! (`templates/configuration.nix.j2`) and fitted into the file's layout.
//!
//! Where it goes (the rule):
//! - after the last configuration written as a literal binding in
//!   `flake.nix` (`nixosConfigurations.a = ...;` in the outputs, `a = ...;`
//!   inside `nixosConfigurations = { ... };`, flake-parts'
//!   `flake.nixosConfigurations.a`), with that binding's key prefix, its
//!   indentation and the file's unit and line ending, set off by a blank line
//!   when the configurations are;
//! - with no configuration yet, into an empty `nixosConfigurations = { };`,
//!   else as `nixosConfigurations.<name> = ...;` at the end of the outputs'
//!   attribute set;
//! - when every configuration is a call of one helper bound in the file
//!   (`mkHost "x86_64-linux" "a"`), as a call of that helper when its
//!   arguments are only the configuration's name and platform strings: the
//!   call is copied with the new name, and `set-target` then gives it the
//!   requested platforms in the same transaction. When that cannot be done
//!   (other arguments, a helper that builds module paths from the name that
//!   do not exist, platforms it cannot take), it is a plain `nixosSystem`
//!   call with a warning that it does not get what the helper adds.
//!
//! Refused: a `nixosConfigurations` nixcross cannot list (generated with
//! `mapAttrs`/`genAttrs`/`readDir`, `//`, from another file), a name that
//! is taken by a configuration that means something else, outputs that are
//! not a literal attribute set. Every result is read back: the new
//! configuration must be one nixcross follows, with the requested build and
//! host platforms and style, or nothing is written.

use crate::edit::{Claim, Outcome, Plan, Subject, TextEdit, Transaction};
use crate::error::{Error, Result};
use crate::files::{Files, RelPath};
use crate::flake::{Config, Flake, SeenStyle};
use crate::ops::editor::{edit_blocker, Edits, PkgsOptionUse};
use crate::ops::init::{self, check_text};
use crate::ops::set_target::{emulation_warning, set_target, SetTargetOptions};
use crate::platform;
use crate::source::FileId;
use crate::syntax::{self, AttrSetView, Entry, Node};
use crate::vocab::{Mode, Style};

/// What `nixcross add-config` was asked for.
#[derive(Debug, Clone)]
pub struct AddConfigOptions {
    /// The configuration's name under `nixosConfigurations`.
    pub name: String,
    /// A system double, a pkgsCross name or a config triple.
    pub target: String,
    /// Cross-compile, or build natively (under emulation, or on a machine
    /// of the target's system).
    pub mode: Mode,
    /// The build machine for a cross build (default: `local_system`).
    pub host: Option<String>,
    /// The option style (default: the one the flake's configurations use,
    /// else legacy).
    pub style: Option<Style>,
    /// The machine nixcross runs on.
    pub local_system: Option<String>,
}

/// What the new configuration must mean, checked.
struct Want {
    target: platform::Target,
    build: String,
    style: Style,
}

/// Add the configuration to the flake `flake` of `files`. A configuration
/// of that name that already means what is asked is left alone (no
/// change); one that means something else is refused.
pub fn add_config(files: &dyn Files, flake: &RelPath, opts: &AddConfigOptions) -> Result<Outcome> {
    check_text("the configuration name", &opts.name)?;
    let f = Flake::load(files, flake)?;
    let style = opts.style.unwrap_or_else(|| file_style(&f));
    let build = match opts.mode {
        Mode::Cross => match &opts.host {
            Some(h) => platform::resolve(h)?.system,
            None => opts.local_system.clone().ok_or_else(|| {
                Error::invalid("cannot tell which system builds; pass --host <SYSTEM>")
            })?,
        },
        Mode::Emulate | Mode::Native => platform::resolve(&opts.target)?.system,
    };
    // The template checks the combination (Linux, cross to itself, an
    // emulator for the target); its comments name the machine that builds
    // (for an emulated build: --host, else this machine).
    let builder = match opts.mode {
        Mode::Cross => Some(build.clone()),
        Mode::Emulate => opts.host.clone().or(opts.local_system.clone()),
        Mode::Native => opts.host.clone().or(Some(build.clone())),
    };
    let mut c = init::configuration(&opts.target, opts.mode, style, builder.as_deref())?;
    let want = Want {
        target: c.target.clone(),
        build,
        style,
    };
    if let Some(existing) = f.config(&opts.name) {
        return already(&f, existing, &want, opts);
    }
    let place = place(&f)?;
    let mut warnings: Vec<crate::error::Diagnostic> = Vec::new();
    if let Some(helper) = &place.helper {
        match with_helper(files, flake, &f, &place, helper, opts, &want) {
            Ok(out) => return Ok(out),
            Err(why) => warnings.push(format!(
                "the other configurations are built with `{}`, but {why}; `{}` is a plain nixosSystem call and does not get what `{}` adds",
                helper.name, opts.name, helper.name
            ).into()),
        }
    }
    let mut key = place.prefix.clone();
    key.push(opts.name.clone());
    c.ctx.key = key;
    c.ctx.lib = place.lib.clone();
    let text = crate::render::render("configuration.nix", &c.ctx)?;
    let mut t = Transaction::new(files);
    t.plan(|_| {
        insert(
            &f,
            &place,
            &NewEntry::Generated(at_column_zero(&text)),
            opts,
            &want,
        )
    })?;
    verify(t.files(), flake, &opts.name, &want)?;
    for w in warnings {
        t.warn(w);
    }
    if opts.mode == Mode::Emulate && builder.as_deref() != Some(want.target.system.as_str()) {
        t.warn(emulation_warning(&want.target.system));
    }
    t.finish()
}

fn summary(opts: &AddConfigOptions, want: &Want) -> String {
    match opts.mode {
        Mode::Cross => format!(
            "{}: cross-compiled for {} on {} ({} style)",
            opts.name, want.target.system, want.build, want.style
        ),
        Mode::Emulate | Mode::Native => format!(
            "{}: built natively for {} ({} style)",
            opts.name, want.target.system, want.style
        ),
    }
}

/// The style most of the flake's configurations use; legacy when none
/// says (as `init` and `set-target` default).
fn file_style(f: &Flake) -> Style {
    let count = |s: Style| {
        f.configs
            .iter()
            .filter(|c| c.platforms.style == Some(SeenStyle::One(s)))
            .count()
    };
    if count(Style::Modern) > count(Style::Legacy) {
        Style::Modern
    } else {
        Style::Legacy
    }
}

/// Whether `config` means `want` already.
fn means(config: &Config, want: &Want) -> bool {
    let p = &config.platforms;
    p.host.as_deref() == Some(want.target.system.as_str())
        && p.build.as_deref() == Some(want.build.as_str())
        && p.style == Some(SeenStyle::One(want.style))
}

/// A configuration of that name exists.
fn already(f: &Flake, c: &Config, want: &Want, opts: &AddConfigOptions) -> Result<Outcome> {
    if means(c, want) {
        return Ok(Outcome {
            changes: Vec::new(),
            summary: summary(opts, want),
            warnings: Vec::new(),
            claims: Vec::new(),
        });
    }
    let mut e = Error::invalid(format!(
        "the flake already has a configuration `{}` ({})",
        c.name,
        match (&c.platforms.build, &c.platforms.host) {
            (Some(b), Some(h)) if b == h => format!("built natively for {h}"),
            (Some(b), Some(h)) => format!("cross-compiled for {h} on {b}"),
            _ => "its platforms are not known".into(),
        }
    ))
    .hint(format!(
        "to change it, use `nixcross set-target {} --mode {} --config {}`",
        opts.target, opts.mode, c.name
    ));
    if let Some(at) = &c.at {
        let s = f.ev.sources.get(at.file);
        e = e.at(at.range()).in_file(&s.path, &s.text);
    }
    Err(e)
}

/// A helper every configuration is built with.
struct Helper {
    /// Its name.
    name: String,
    /// The call of the configuration the new one is modelled on.
    call: Node,
    /// That configuration's name.
    model: String,
}

/// Where the new binding goes.
struct Place {
    /// The file (flake.nix).
    file: FileId,
    /// The set it goes into.
    set: AttrSetView,
    /// The entry it goes after; `None`: at the end of the set.
    after: Option<usize>,
    /// The key before the name (`["nixosConfigurations"]`, or nothing
    /// inside a `nixosConfigurations` set).
    prefix: Vec<String>,
    /// The path to nixpkgs' `lib` where the binding goes.
    lib: Vec<String>,
    /// Set off by a blank line.
    spaced: bool,
    /// The helper, when every configuration is built with one.
    helper: Option<Helper>,
}

fn refuse(f: &Flake, why: impl Into<String>, at: Option<&crate::source::Src>) -> Error {
    let mut e = Error::refused(why.into());
    if let Some(at) = at {
        let s = f.ev.sources.get(at.file);
        e = e.at(at.range()).in_file(&s.path, &s.text);
    }
    e
}

/// A configuration's binding: the binding, the set it is in and its key.
type Binding = (Node, AttrSetView, Vec<String>);

/// The binding a configuration is written as, when it is a literal one in
/// flake.nix whose last key is its name.
fn literal_binding(f: &Flake, c: &Config) -> Option<Binding> {
    let at = c.at.as_ref().filter(|a| a.file == f.file)?;
    let Some(Entry::Binding(b)) = at.node.as_entry() else {
        return None;
    };
    let path = b.path.clone()?;
    if path.last() != Some(&c.name) {
        return None;
    }
    let set = at.node.parent_set().filter(|s| !s.rec)?;
    Some((at.node.clone(), set, path))
}

/// Where the new configuration goes (see the module docs).
fn place(f: &Flake) -> Result<Place> {
    if let Some(e) = f.not_a_flake() {
        return Err(e);
    }
    if let Some((why, at)) = &f.incomplete {
        return Err(refuse(
            f,
            format!("nixcross cannot add to `nixosConfigurations` here: {why}"),
            at.as_ref(),
        )
        .hint("add the configuration where the flake generates its configurations, by hand"));
    }
    let outputs_lib = outputs_lib(f);
    if f.configs.is_empty() {
        return empty_place(f, outputs_lib);
    }
    let mut bindings = Vec::new();
    for c in &f.configs {
        match literal_binding(f, c) {
            Some(b) => bindings.push((c, b)),
            None => {
                return Err(refuse(
                    f,
                    format!(
                        "`{}` is not a binding `nixosConfigurations.{0} = ...;` of flake.nix (it is generated, or defined in another file), so nixcross cannot tell where a new configuration goes",
                        c.name
                    ),
                    c.at.as_ref(),
                )
                .hint("add the configuration where the flake makes its configurations, by hand"))
            }
        }
    }
    // The last one in the file.
    bindings.sort_by_key(|(_, (node, _, _))| node.start());
    let (last_config, (node, set, path)) = bindings.last().expect("not empty");
    let index = set
        .entries
        .iter()
        .position(|e| e.range() == node.range())
        .ok_or_else(|| Error::internal("a configuration's binding is not in its set"))?;
    let src = &f.ev.sources.get(f.file).text;
    let spaced = bindings.len() > 1 && {
        let (prev, _, _) = &bindings[bindings.len() - 2].1;
        src[prev.end()..syntax::leading_comments_start(src, node.start())]
            .lines()
            .filter(|l| l.trim().is_empty())
            .count()
            > 1
    } || bindings.len() == 1 && {
        // One configuration: spaced when something precedes it in its set.
        index > 0 && {
            let start = syntax::line_start(src, syntax::leading_comments_start(src, node.start()));
            start > 0 && syntax::is_blank_line(src, syntax::line_start(src, start - 1))
        }
    };
    // The lib of the configurations' own calls, when written in their
    // bindings (the same scope); else the outputs' nixpkgs.
    let own_call = |c: &Config, binding: &Node| -> Option<Vec<String>> {
        let call = c.system()?.call.as_ref()?;
        if !binding.contains(&call.node) {
            return None;
        }
        let (func, _) = call.node.apply()?;
        let r = func.reference()?;
        (r.len() >= 2 && r[r.len() - 2] == "lib").then(|| r[..r.len() - 1].to_vec())
    };
    let lib = own_call(last_config, node)
        .or_else(|| bindings.iter().find_map(|(c, (n, _, _))| own_call(c, n)))
        .or(outputs_lib)
        .ok_or_else(|| {
            refuse(
                f,
                "nixcross cannot tell how to reach nixpkgs' lib where the new configuration goes",
                None,
            )
        })?;
    let helper = common_helper(f, &bindings);
    Ok(Place {
        file: f.file,
        set: set.clone(),
        after: Some(index),
        prefix: path[..path.len() - 1].to_vec(),
        lib,
        spaced,
        helper,
    })
}

/// `nixpkgs.lib` (or `inputs.nixpkgs.lib`) from the outputs' parameters.
fn outputs_lib(f: &Flake) -> Option<Vec<String>> {
    let nixpkgs = f
        .outputs_formals
        .iter()
        .find(|n| *n == "nixpkgs")
        .or_else(|| f.outputs_formals.iter().find(|n| n.starts_with("nixpkgs")));
    match (nixpkgs, &f.outputs_bind) {
        (Some(n), _) => Some(vec![n.clone(), "lib".into()]),
        (None, Some(bind)) => Some(vec![bind.clone(), "nixpkgs".into(), "lib".into()]),
        (None, None) => None,
    }
}

/// The outputs' attribute set, inside its `let` layers.
fn outputs_set(f: &Flake) -> Option<AttrSetView> {
    f.outputs_body.as_ref()?.node.let_layers().1.attrset()
}

/// No configuration yet: an empty `nixosConfigurations = { };`, else the
/// end of the outputs' set.
fn empty_place(f: &Flake, lib: Option<Vec<String>>) -> Result<Place> {
    let lib = lib.ok_or_else(|| {
        refuse(
            f,
            "`outputs` takes no nixpkgs input nixcross can name, so the new configuration could not reach nixpkgs' lib",
            f.outputs_body.as_ref(),
        )
    })?;
    let set = outputs_set(f).ok_or_else(|| {
        refuse(
            f,
            "`outputs` does not return a literal attribute set, so nixcross cannot tell where `nixosConfigurations` goes",
            f.outputs_body.as_ref(),
        )
    })?;
    for e in &set.entries {
        let Entry::Binding(b) = e else { continue };
        match b.path.as_deref() {
            Some([k]) if k == "nixosConfigurations" => {
                let inner = b
                    .value
                    .unparen()
                    .attrset()
                    .filter(|s| !s.rec)
                    .ok_or_else(|| {
                        refuse(
                            f,
                            "`nixosConfigurations` is not a literal attribute set",
                            Some(&crate::source::Src::new(f.file, b.node.clone())),
                        )
                    })?;
                return Ok(Place {
                    file: f.file,
                    set: inner,
                    after: None,
                    prefix: Vec::new(),
                    lib,
                    spaced: false,
                    helper: None,
                });
            }
            Some([k, ..]) if k == "flake" || k == "nixosConfigurations" => {
                return Err(refuse(
                    f,
                    "nixcross cannot tell where a new configuration goes in this flake",
                    Some(&crate::source::Src::new(f.file, b.node.clone())),
                ))
            }
            _ => {}
        }
    }
    let src = &f.ev.sources.get(f.file).text;
    let spaced = set
        .entries
        .last()
        .is_some_and(|e| src[e.range().1..set.close].contains('\n'));
    Ok(Place {
        file: f.file,
        after: None,
        set,
        prefix: vec!["nixosConfigurations".into()],
        lib,
        spaced,
        helper: None,
    })
}

/// The configuration text rendered by the template (four spaces in, as in
/// a new flake), as generated text at column 0.
fn at_column_zero(text: &str) -> String {
    text.trim_end()
        .lines()
        .map(|l| l.strip_prefix("    ").unwrap_or(l.trim_start()))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The text of a new binding.
enum NewEntry {
    /// Generated text at column 0 with two-space steps (the template's).
    Generated(String),
    /// Text copied from the file right after the binding it goes after,
    /// whose indentation it keeps.
    Verbatim(String),
}

/// The new binding in its place, as an outcome against the flake's text.
fn insert(
    f: &Flake,
    place: &Place,
    entry: &NewEntry,
    opts: &AddConfigOptions,
    want: &Want,
) -> Result<Plan> {
    let src = f.ev.sources.get(place.file);
    let (text, layout) = (&src.text, &src.layout);
    let single = !text[place.set.open..place.set.close].contains('\n');
    let mut set = place.set.clone();
    if let Some(i) = place.after {
        set.entries.truncate(i + 1);
    }
    let last = set.entries.last().map(|e| e.range());
    let edit = match (entry, last) {
        (NewEntry::Generated(t), _) if single => crate::module::insert_entry(
            text,
            layout,
            &set,
            &syntax::compact(t),
            crate::module::Position::Last,
        ),
        (NewEntry::Generated(t), _) => {
            let mut e =
                crate::module::insert_entry(text, layout, &set, t, crate::module::Position::Last);
            if place.spaced && last.is_some() {
                e.insert = format!("{}{}", layout.nl, e.insert);
            }
            e
        }
        (NewEntry::Verbatim(t), Some((start, end))) => {
            if single || !syntax::starts_line(text, start) {
                TextEdit::insert(end, format!(" {t}"))
            } else {
                let at = syntax::after_trailing_comment(text, end);
                let base = syntax::indent_at(text, start);
                let gap = if place.spaced { layout.nl } else { "" };
                TextEdit::insert(at, format!("{}{gap}{base}{t}", layout.nl))
            }
        }
        (NewEntry::Verbatim(_), None) => {
            return Err(Error::internal("a copied binding with nothing to follow"))
        }
    };
    let mut e = Edits::new(&f.ev.sources, Subject::Config(opts.name.clone()));
    e.push(
        place.file,
        edit,
        &format!("add the configuration `{}`", opts.name),
    );
    e.claim(Claim::Configuration {
        config: opts.name.clone(),
        build: want.build.clone(),
        host: want.target.system.clone(),
    });
    e.proven_by(crate::proof::FlakeProver::of(f));
    Ok(e.finish(summary(opts, want)))
}

/// Read the tree back: the configuration must be followed, editable, and
/// mean `want`.
fn verify(files: &dyn Files, flake: &RelPath, name: &str, want: &Want) -> Result<()> {
    let f = Flake::load(files, flake)?;
    let Some(c) = f.config(name) else {
        return Err(Error::internal(format!(
            "the new configuration `{name}` does not read back from the flake; nothing was written. This is a bug"
        )));
    };
    if let Some(why) = edit_blocker(&f, c, PkgsOptionUse::Refuse) {
        return Err(Error::refused(format!(
            "the new configuration `{name}` would not be one nixcross can follow ({why}); nothing was written"
        )));
    }
    if !means(c, want) {
        return Err(Error::internal(format!(
            "the new configuration `{name}` reads back as built on {} for {} ({}), not on {} for {} ({}); nothing was written. This is a bug",
            c.platforms.build.as_deref().unwrap_or("?"),
            c.platforms.host.as_deref().unwrap_or("?"),
            c.platforms.style.map_or("no", |s| s.as_str()),
            want.build,
            want.target.system,
            want.style
        )));
    }
    Ok(())
}

/// The helper every configuration is built with, when there is one: each
/// configuration's value is a call of the same variable, and the
/// nixosSystem call is in that helper's body, not in the binding.
fn common_helper(f: &Flake, bindings: &[(&Config, Binding)]) -> Option<Helper> {
    let mut name: Option<String> = None;
    let mut model = None;
    for (c, (node, _, _)) in bindings {
        let Some(Entry::Binding(b)) = node.as_entry() else {
            return None;
        };
        let value = b.value.unparen();
        let (func, _) = value.call()?;
        let r = func.reference()?;
        if r.len() != 1 {
            return None;
        }
        let call = c.system()?.call.clone()?;
        if node.contains(&call.node) && call.file == f.file {
            return None;
        }
        match &name {
            Some(n) if *n != r[0] => return None,
            Some(_) => {}
            None => name = Some(r[0].clone()),
        }
        model = Some((value, c.name.clone()));
    }
    let (call, model) = model?;
    Some(Helper {
        name: name?,
        call,
        model,
    })
}

/// The new configuration as a call of the helper: the model's call with
/// its name replaced, then set-target for the platforms, read back.
fn with_helper(
    files: &dyn Files,
    flake: &RelPath,
    f: &Flake,
    place: &Place,
    helper: &Helper,
    opts: &AddConfigOptions,
    want: &Want,
) -> std::result::Result<Outcome, String> {
    let model = f.config(&helper.model).ok_or("its model is gone")?;
    let sys = model.system().ok_or("its model is not followed")?;
    // Platform literals of the model that lie in its call's arguments.
    let literals: Vec<(usize, usize)> = sys
        .definitions
        .iter()
        .filter_map(|d| d.literal.as_ref())
        .filter(|l| l.file == f.file && helper.call.contains(&l.node))
        .map(|l| l.range())
        .collect();
    let (_, args) = helper.call.call().ok_or("its call is not a call")?;
    let src = &f.ev.sources.get(f.file).text;
    let mut edits: Vec<TextEdit> = Vec::new();
    let mut named = false;
    for a in &args {
        arg_edits(
            a,
            &helper.model,
            &opts.name,
            &literals,
            &mut edits,
            &mut named,
        )?;
    }
    if !named {
        return Err("its call does not pass the configuration's name".into());
    }
    let start = helper.call.start();
    let shifted: Vec<TextEdit> = edits
        .into_iter()
        .map(|e| TextEdit::replace((e.range.start - start, e.range.end - start), e.insert))
        .collect();
    let call_text =
        crate::edit::apply(&src[start..helper.call.end()], &shifted).map_err(|e| e.message)?;
    let mut key: Vec<String> = place.prefix.iter().map(|k| syntax::attr_name(k)).collect();
    key.push(syntax::attr_name(&opts.name));
    let entry = NewEntry::Verbatim(format!("{} = {call_text};", key.join(".")));
    let mut t = Transaction::new(files);
    t.plan(|_| insert(f, place, &entry, opts, want))
        .map_err(|e| e.message)?;
    t.step(|files| {
        set_target(
            files,
            flake,
            &SetTargetOptions {
                target: opts.target.clone(),
                mode: opts.mode,
                config: Some(opts.name.clone()),
                host: Some(want.build.clone()),
                local_system: opts.local_system.clone(),
                style: Some(want.style),
            },
        )
    })
    .map_err(|e| format!("nixcross cannot give it the platforms ({})", e.message))?;
    verify(t.files(), flake, &opts.name, want).map_err(|e| e.message)?;
    let mut out = t.finish().map_err(|e| e.message)?;
    out.summary = summary(opts, want);
    Ok(out)
}

/// Edits of one argument of the model's call: the model's name becomes the
/// new name; platform literals stay (set-target rewrites them); anything
/// else is refused.
fn arg_edits(
    a: &Node,
    model: &str,
    name: &str,
    literals: &[(usize, usize)],
    edits: &mut Vec<TextEdit>,
    named: &mut bool,
) -> std::result::Result<(), String> {
    let a = a.unparen();
    if let Some(s) = a.string_literal() {
        if s == model {
            edits.push(TextEdit::replace(a.range(), syntax::quote(name)));
            *named = true;
            return Ok(());
        }
        if literals.contains(&a.range()) {
            return Ok(());
        }
        return Err(format!(
            "its call passes `{}`, which nixcross cannot fill in for a new configuration",
            syntax::compact(&a.text())
        ));
    }
    if let Some(set) = a.attrset().filter(|s| !s.rec) {
        for e in &set.entries {
            match e {
                Entry::Binding(b) => arg_edits(&b.value, model, name, literals, edits, named)?,
                Entry::Inherit(_) => {
                    return Err("its call inherits values nixcross cannot fill in".into())
                }
            }
        }
        return Ok(());
    }
    Err(format!(
        "its call passes `{}`, which nixcross cannot fill in for a new configuration",
        syntax::compact(&a.text())
    ))
}

#[cfg(test)]
mod tests;
