//! `nixcross emulate`: set `boot.binfmt.emulatedSystems` (and optionally
//! `boot.binfmt.preferStaticEmulators`) in a build host's NixOS module, or
//! in a flake configuration (`opts.config`). One parse, one plan, one apply.
//!
//! The option belongs in the configuration of the machine that *builds*: it
//! registers QEMU through binfmt_misc, and NixOS then adds the systems to
//! `nix.settings.extra-platforms` and the interpreters to the sandbox paths.
//!
//! Rules:
//! - Every value must be a key of NixOS's binfmt magics table
//!   ([`platform::Catalogue::can_emulate`]). pkgsCross names and config
//!   triples are accepted and mapped to their system double first.
//! - The machine's own system cannot be emulated (NixOS fails an assertion).
//!   The host is `opts.host` when given, else what the module (and the files
//!   it imports) or the configuration says, as NixOS decides it. When none
//!   says, a request for `opts.local_system` (the machine nixcross runs on)
//!   only warns: the module may well be for another machine.
//! - A file that is not a NixOS module (a flake, a flake-parts or
//!   home-manager module, a package) is refused, with what it is.
//! - The module's definitions are read where it writes them: its body, or
//!   `config = { ... }`, through `lib.mkIf` and `lib.mkMerge` (see
//!   `module::places`). An existing literal list is extended in its own
//!   layout, also inside `lib.mkForce [ ... ]` and the like and on the
//!   literal side of `[ ... ] ++ other`, and never gets a duplicate.
//!   Anything else (`lib.optionals`, a variable, `boot` behind `inherit`,
//!   `//`, `with`, `rec`) is refused with its location.
//! - A new binding goes after the entry whose key shares the most with it
//!   (`boot.binfmt.*`, then `boot.*`), in the place that already has such
//!   entries, else the first unconditional one (`module::insert_at_path`).
//! - `remove` takes the systems out. When that empties a plain list, the
//!   whole binding goes, with any `boot = { }` husk it leaves, so adding and
//!   then removing gives back the original bytes. A wrapped list
//!   (`lib.mkForce [ ]`) is kept: forcing an empty list is a statement.
//! - In a flake configuration, the definitions go where the configuration
//!   already has them (in a module only it loads), else into its own module
//!   (an inline module, or a new `{ boot.binfmt... = ...; }` at the head of
//!   `modules`, removed again when it is left empty). A list in a module
//!   another configuration also loads is not extended; NixOS merges list
//!   definitions, so the configuration's own module gets its own.
//! - `static_emulators` sets `boot.binfmt.preferStaticEmulators = true;`;
//!   with `remove`, it removes that setting instead.

use std::collections::HashSet;

use crate::edit::{Claim, Outcome, Plan, Subject, TextEdit};
use crate::error::{Diagnostic, Error, Result};
use crate::files::{Files, RelPath};
use crate::flake::modules::{lone_module, LoneModule};
use crate::flake::{Flake, ModuleOrigin};
use crate::module::list::{self, Added, ListOption, ListShape, Removal};
use crate::module::places::{self, Place};
use crate::module::{self, OptionHit};
use crate::ops::editor::{Edits, Planner};
use crate::ops::modules::{
    add_to_list, define_in_home, describe, find_one, inline_list_item, insert_defs, module_places,
    modules_defining, InlineItem, NewDef,
};
use crate::platform;
use crate::proof::ModuleProver;
use crate::source::{FileId, SourceMap, Src};
use crate::syntax::{self, Node};
use crate::vocab::Toggle;

/// One system the user typed, as a key of the binfmt magics table (see
/// [`crate::platform::emulated_system`]).
pub use crate::platform::emulated_system;

/// What `nixcross emulate` was asked to do.
#[derive(Debug, Clone, Default)]
pub struct EmulateOptions {
    /// Systems as the user typed them: doubles, pkgsCross names or triples.
    pub systems: Vec<String>,
    /// Take the systems out instead of adding them.
    pub remove: bool,
    /// Also set `boot.binfmt.preferStaticEmulators = true` (or remove it with `remove`).
    pub static_emulators: bool,
    /// The build host's own system, when the user states it (`--host`).
    pub host: Option<String>,
    /// A configuration inside a flake (`--config NAME`); the path is then the flake.
    pub config: Option<String>,
    /// The system nixcross runs on; only used for a warning.
    pub local_system: Option<String>,
}

const EMULATED: [&str; 3] = ["boot", "binfmt", "emulatedSystems"];
const STATIC: [&str; 3] = ["boot", "binfmt", "preferStaticEmulators"];

/// Plan and apply the edit of `path` in `files` (a NixOS module, or a flake
/// when `opts.config` names one of its configurations).
///
/// # Examples
///
/// ```
/// use nixcross::files::{MemFiles, RelPath};
/// use nixcross::ops::emulate::{emulate, EmulateOptions};
///
/// let files = MemFiles::single(
///     "builder.nix",
///     r#"{ pkgs, ... }: {
///   networking.hostName = "builder";
/// }
/// "#,
/// );
/// let opts = EmulateOptions {
///     systems: vec!["aarch64-linux".into()],
///     ..Default::default()
/// };
/// let out = emulate(&files, &RelPath::new("builder.nix").unwrap(), &opts)?;
/// assert_eq!(
///     out.text_of("builder.nix"),
///     Some(
///         r#"{ pkgs, ... }: {
///   networking.hostName = "builder";
///   boot.binfmt.emulatedSystems = [ "aarch64-linux" ];
/// }
/// "#
///     )
/// );
/// # Ok::<(), nixcross::Error>(())
/// ```
pub fn emulate(files: &dyn Files, path: &RelPath, opts: &EmulateOptions) -> Result<Outcome> {
    plan_emulate(files, path, opts)?.apply(files)
}

/// Plan the edit without applying it.
pub fn plan_emulate(files: &dyn Files, path: &RelPath, opts: &EmulateOptions) -> Result<Plan> {
    let systems = requested_systems(&opts.systems)?;
    if systems.is_empty() && !opts.static_emulators {
        return Err(Error::invalid("name at least one system to emulate"));
    }
    match &opts.config {
        None => plan_module(files, path, &systems, opts),
        Some(name) => plan_config(files, path, name, &systems, opts),
    }
}

/// Turn what the user typed into the systems NixOS can emulate, in order,
/// without duplicates.
fn requested_systems(inputs: &[String]) -> Result<Vec<String>> {
    let mut out: Vec<String> = Vec::new();
    for input in inputs {
        let s = emulated_system(input)?;
        if !out.contains(&s) {
            out.push(s);
        }
    }
    Ok(out)
}

/// The string literals of a list.
fn string_items(list: &syntax::ListView) -> HashSet<String> {
    list.items
        .iter()
        .filter_map(|i| i.unparen().string_literal())
        .collect()
}

/// Say which systems asked for a list under a condition (`listed`) has
/// already: they are emulated when the condition holds, as the module's
/// author chose, and nixcross leaves them there (listing them again,
/// unconditionally, would list them twice).
fn note_conditional(e: &mut Edits, dotted: &str, systems: &[String], listed: &HashSet<String>) {
    for s in systems.iter().filter(|s| listed.contains(*s)) {
        e.warnings.push(format!(
            "`{s}` is in {dotted} already, under its condition; nixcross leaves it there, so it is emulated when the condition holds"
        ).into());
    }
}

/// Why nixcross cannot edit a definition that is not a list it can read.
fn not_a_list(e: &Edits, file: FileId, hit: &OptionHit, dotted: &str) -> Error {
    e.error_at(
        Error::refused(format!(
            "`{dotted}` is {}, not a literal list, so nixcross cannot edit it safely",
            describe(&hit.value)
        ))
        .hint("write the systems as a literal list, e.g. [ \"aarch64-linux\" ], or edit this line by hand"),
        &Src::new(file, hit.value.clone()),
    )
}

/// What one module says: its places and the definitions of the two options.
struct ModuleEdit {
    file: FileId,
    /// The module's body set (for removing emptied husks).
    top: syntax::AttrSetView,
    places: Vec<Place>,
    emulated: Option<(usize, OptionHit)>,
    prefer_static: Option<(usize, OptionHit)>,
}

fn read_module(e: &Edits, file: FileId, expr: &Node) -> Result<ModuleEdit> {
    let (top, places) = module_places(
        e,
        file,
        expr,
        "emulatedSystems belongs in the NixOS configuration of the machine that builds",
    )?;
    let emulated = find_one(e, file, &places, &EMULATED)?;
    let prefer_static = find_one(e, file, &places, &STATIC)?;
    Ok(ModuleEdit {
        file,
        top,
        places,
        emulated,
        prefer_static,
    })
}

/// One module file.
fn plan_module(
    files: &dyn Files,
    path: &RelPath,
    systems: &[String],
    opts: &EmulateOptions,
) -> Result<Plan> {
    // What the module itself (and what it imports) says it runs on.
    let LoneModule {
        ev,
        file,
        expr,
        nested,
        platforms: declared,
        sys,
    } = lone_module(files, path)?;
    let defs = &sys.definitions;
    let sources = ev.sources;
    let mut e = Edits::new(&sources, Subject::Module(path.clone()));
    e.proven_by(ModuleProver::of(path, &declared, &sys));
    let m = read_module(&e, file, &expr)?;
    // Where the host platform is set, for the error's location.
    let site = defs
        .iter()
        .filter(|d| d.system.is_some() && d.system == declared.host)
        .find_map(|d| d.literal.clone().or(d.site.clone()).map(|s| (s, d.option)));
    let host = declared.host.clone().map(|h| {
        let why = match &site {
            Some((_, o)) => format!("its nixpkgs.{} says so", o.name()),
            None => "the module says so".to_string(),
        };
        (h, why)
    });
    if !opts.remove {
        let at = site.map(|(s, _)| s);
        check_host(
            host,
            systems,
            opts,
            &mut e.warnings,
            at.as_ref().map(|a| (a.clone(), &sources)),
        )?;
    }
    let mut summary = Vec::new();
    let seen = Seen {
        systems: sys.emulated.clone(),
        unknown: sys.emulated_unknown.clone(),
    };
    let mut left = Vec::new();
    edit_module(
        &mut e,
        &m,
        systems,
        opts,
        &seen,
        &mut summary,
        None,
        &mut left,
    )?;
    claim_systems(&mut e, systems, opts, &left);
    let summary = if summary.is_empty() {
        "nothing to change".into()
    } else {
        summary.join("; ")
    };
    Ok(e.finish(match nested {
        Some(name) => format!("{name}: {summary}"),
        None => summary,
    }))
}

/// What an emulate edit establishes: each system listed (or not, with
/// `remove`), but those `left` to a computed list that writes them.
fn claim_systems(e: &mut Edits, systems: &[String], opts: &EmulateOptions, left: &[String]) {
    for s in systems.iter().filter(|s| !left.contains(s)) {
        let subject = e.subject.clone();
        e.claim(Claim::Emulated {
            subject,
            system: s.clone(),
            listed: !opts.remove,
        });
    }
}

/// A system a computed list writes itself: nixcross leaves it there rather
/// than list it twice.
fn left_to_expression(system: &str, dotted: &str, inside: &str) -> String {
    format!(
        "`{system}` is written in {dotted} already, inside {inside}; nixcross leaves it there (whether the expression keeps it is up to it)"
    )
}

/// `boot.binfmt.preferStaticEmulators` gets `value`.
fn claim_static(e: &mut Edits, value: Option<bool>) {
    let subject = e.subject.clone();
    e.claim(Claim::Toggle {
        subject,
        option: Toggle::PreferStaticEmulators,
        value,
    });
}

/// What the whole configuration (or module) emulates as NixOS sees it:
/// every definition of `boot.binfmt.emulatedSystems`, not only the literal
/// list nixcross edits.
struct Seen {
    systems: Vec<String>,
    unknown: Option<String>,
}

/// Add or remove in one module. Systems that a computed list writes
/// itself, which nixcross leaves to it, go into `left`.
#[allow(clippy::too_many_arguments)]
fn edit_module(
    e: &mut Edits,
    m: &ModuleEdit,
    systems: &[String],
    opts: &EmulateOptions,
    seen: &Seen,
    summary: &mut Vec<String>,
    inline_item: Option<&InlineItem>,
    left: &mut Vec<String>,
) -> Result<()> {
    let mut removals: Vec<Node> = Vec::new();
    let mut new_defs: Vec<NewDef> = Vec::new();
    if !systems.is_empty() {
        if opts.remove {
            remove_systems(e, m, systems, seen, summary, &mut removals)?;
        } else {
            add_systems(e, m, systems, seen, summary, &mut new_defs, left)?;
        }
    }
    finish_static(
        e,
        m,
        opts,
        summary,
        &mut removals,
        &mut new_defs,
        inline_item,
    )
}

/// Take `systems` out of the module's list; a definition left empty goes
/// into `removals`.
fn remove_systems(
    e: &mut Edits,
    m: &ModuleEdit,
    systems: &[String],
    seen: &Seen,
    summary: &mut Vec<String>,
    removals: &mut Vec<Node>,
) -> Result<()> {
    let file = m.file;
    let dotted = EMULATED.join(".");
    let Some((_, hit)) = &m.emulated else {
        for s in systems {
            if seen.systems.contains(s) {
                return Err(Error::refused(format!(
                    "`{s}` is set in {dotted} by another module this one imports; remove it there"
                )));
            }
            e.warnings
                .push(format!("`{s}` is not in {dotted}; nothing to remove").into());
        }
        return Ok(());
    };
    let def = ListOption::read(hit.entry_node(), hit.value.clone());
    let computed = match def.shape {
        ListShape::Computed => true,
        ListShape::Opaque => seen.unknown.is_none(),
        _ => false,
    };
    if computed {
        // A computed list with no `++ [ ... ]` side (a list by its shape,
        // or one whose systems nixcross sees all of): nothing nixcross can
        // take a system out of.
        let written = hit.value.string_literals_within();
        for s in systems {
            if seen.systems.contains(s) || written.contains(s) {
                return Err(e.error_at(
                    Error::refused(format!(
                        "`{s}` comes from {}, which nixcross cannot edit",
                        describe(&hit.value)
                    ))
                    .hint("remove it there by hand"),
                    &Src::new(file, hit.value.clone()),
                ));
            }
            e.warnings.push(format!(
                "`{s}` is not in a part of {dotted} that nixcross can edit (the rest is {}); nothing to remove",
                describe(&hit.value)
            ).into());
        }
        return Ok(());
    }
    let Some((list, around)) = def.editable() else {
        return Err(not_a_list(e, file, hit, &dotted));
    };
    let found: Vec<Node> = list
        .items
        .iter()
        .filter(|i| {
            i.unparen()
                .string_literal()
                .is_some_and(|s| systems.contains(&s))
        })
        .cloned()
        .collect();
    // What the computed part beside the literal list writes itself.
    let written = match around {
        Some(list::Around::Concat) => hit.value.string_literals_within(),
        _ => Vec::new(),
    };
    for s in systems {
        if found
            .iter()
            .any(|i| i.unparen().string_literal().as_deref() == Some(s.as_str()))
        {
            continue;
        }
        if seen.systems.contains(s) || written.contains(s) {
            // NixOS gets it from another part of the option.
            return Err(e.error_at(
                Error::refused(format!(
                    "`{s}` comes from another part of {dotted} than this literal list, so removing it here would not remove it"
                ))
                .hint("remove it where it is listed, by hand"),
                &Src::new(file, hit.value.clone()),
            ));
        }
        e.warnings
            .push(format!("`{s}` is not in {dotted}; nothing to remove").into());
    }
    if found.is_empty() {
        return Ok(());
    }
    let names: Vec<String> = found
        .iter()
        .filter_map(|i| i.unparen().string_literal())
        .collect();
    let mut s = format!("removed {} from {dotted}", dedup(&names).join(", "));
    match def.remove(e.text(file), &found) {
        Removal::Definition => {
            removals.push(def.entry.clone());
            s.push_str(" (the list is empty now, so the option is gone)");
        }
        Removal::Edits(edits) => {
            for edit in edits {
                e.push(file, edit, &s);
            }
        }
    }
    summary.push(s);
    Ok(())
}

/// Add `systems` to the module's list (or as a new definition in
/// `new_defs`), in whatever shape the list is written.
fn add_systems<'d>(
    e: &mut Edits,
    m: &ModuleEdit,
    systems: &[String],
    seen: &Seen,
    summary: &mut Vec<String>,
    new_defs: &mut Vec<NewDef<'d>>,
    left: &mut Vec<String>,
) -> Result<()> {
    let file = m.file;
    let dotted = EMULATED.join(".");
    let Some((_, hit)) = &m.emulated else {
        let added: Vec<String> = systems
            .iter()
            .filter(|s| !seen.systems.contains(s))
            .cloned()
            .collect();
        if !added.is_empty() {
            let s = format!("added {} to {dotted}", added.join(", "));
            new_defs.push(NewDef::new(&EMULATED, syntax::string_list(&added), &s));
            summary.push(s);
        }
        return Ok(());
    };
    let def = ListOption::read(hit.entry_node(), hit.value.clone());
    // What is listed already, where the new systems do not go again.
    let mut have: HashSet<String> = seen.systems.iter().cloned().collect();
    match &def.shape {
        ListShape::Computed => {
            // The systems go on a `++ [ ... ]` side. One the expression
            // writes itself (`lib.filter f [ "aarch64-linux" ]`) is left to
            // it, not listed twice.
            let written = hit.value.string_literals_within();
            for s in systems.iter().filter(|s| written.contains(*s)) {
                if have.insert(s.clone()) {
                    left.push(s.clone());
                    e.warnings
                        .push(left_to_expression(s, &dotted, &describe(&hit.value)).into());
                }
            }
        }
        ListShape::Conditional { list, lib: true } => {
            // The new systems hold whatever the condition is, so they go
            // into a list of their own, merged with it; what the list under
            // the condition has already stays there.
            let listed = string_items(list);
            note_conditional(e, &dotted, systems, &listed);
            have = listed;
        }
        ListShape::Literal {
            list,
            around,
            conditional,
        } => {
            if let Some(c) = conditional {
                note_conditional(e, &dotted, systems, &string_items(c));
            }
            have.extend(string_items(list));
            // A computed part that writes a system itself
            // (`lib.filter f [ ... ] ++ [ ... ]`) keeps it.
            if *around == Some(list::Around::Concat) {
                for s in hit.value.string_literals_within() {
                    if systems.contains(&s) && !have.contains(&s) {
                        e.warnings.push(
                            left_to_expression(&s, &dotted, "the part nixcross cannot evaluate")
                                .into(),
                        );
                        left.push(s.clone());
                        have.insert(s);
                    }
                }
            }
            if let Some(why) = &seen.unknown {
                e.warnings.push(format!(
                    "nixcross cannot see all of `{dotted}` ({why}); check that it does not list a system twice"
                ).into());
            }
            let opaque: Vec<String> = list
                .items
                .iter()
                .filter(|i| i.unparen().string_literal().is_none())
                .map(Node::text)
                .collect();
            if !opaque.is_empty() {
                e.warnings.push(format!(
                    "`{dotted}` has items nixcross cannot read ({}); check that they do not repeat a system",
                    opaque.join(", ")
                ).into());
            }
        }
        ListShape::Conditional { lib: false, .. } | ListShape::Opaque => {
            return Err(not_a_list(e, file, hit, &dotted));
        }
    }
    let added: Vec<String> = systems
        .iter()
        .filter(|s| !have.contains(*s))
        .cloned()
        .collect();
    if added.is_empty() {
        return Ok(());
    }
    let items: Vec<String> = added.iter().map(|s| syntax::quote(s)).collect();
    let s = format!("added {} to {dotted}", added.join(", "));
    match add_to_list(e, file, &def, &items, &s).expect("a shape nixcross adds to") {
        Added::Appended => {}
        Added::Concatenated => e.warnings.push(format!(
            "`{dotted}` is {}; nixcross added {} with `++ [ ... ]`{}",
            describe(&hit.value),
            added.join(", "),
            match &seen.unknown {
                Some(_) => ": check that the computed part does not list them too",
                None => "",
            }
        ).into()),
        Added::Merged => e.warnings.push(format!(
            "`{dotted}` is a list under a condition; nixcross merged {} with it (`lib.mkMerge`), so {} hold{} whatever the condition says",
            added.join(", "),
            if added.len() == 1 { "it" } else { "they" },
            if added.len() == 1 { "s" } else { "" },
        ).into()),
    }
    summary.push(s);
    Ok(())
}

/// `preferStaticEmulators`, then the new definitions as one insertion and
/// the planned removals as one batch.
fn finish_static(
    e: &mut Edits,
    m: &ModuleEdit,
    opts: &EmulateOptions,
    summary: &mut Vec<String>,
    removals: &mut Vec<Node>,
    new_defs: &mut Vec<NewDef>,
    inline_item: Option<&InlineItem>,
) -> Result<()> {
    let file = m.file;
    let dotted = STATIC.join(".");
    if opts.static_emulators {
        match (&m.prefer_static, opts.remove) {
            (None, false) => {
                let s = format!("set {dotted} = true");
                new_defs.push(NewDef::new(&STATIC, "true", &s));
                summary.push(s);
                claim_static(e, Some(true));
            }
            (None, true) => {}
            (Some((_, hit)), remove) => {
                let v = hit.value.unparen();
                match (v.text().as_str(), remove) {
                    ("true", false) | ("false", true) => {}
                    ("false", false) => {
                        let s = format!("set {dotted} = true");
                        e.push(file, TextEdit::replace(v.range(), "true"), &s);
                        summary.push(s);
                        claim_static(e, Some(true));
                    }
                    ("true", true) => {
                        removals.push(hit.entry_node());
                        summary.push(format!("removed {dotted}"));
                        claim_static(e, None);
                    }
                    _ => {
                        return Err(e.error_at(
                            Error::refused(format!(
                            "`{dotted}` is {}, not `true` or `false`, so nixcross leaves it alone",
                            describe(&v)
                        )),
                            &Src::new(file, hit.value.clone()),
                        ))
                    }
                }
            }
        }
    }
    if !new_defs.is_empty() {
        insert_defs(e, m.file, &m.places, new_defs)?;
    }
    if removals.is_empty() {
        return Ok(());
    }
    let src = e.text(file);
    let (edits, top_empty) = places::remove_bindings(src, &m.top, removals);
    let reason = summary.last().cloned().unwrap_or_else(|| "remove".into());
    match (top_empty, inline_item) {
        // The inline module is left empty: it goes from the modules list.
        (true, Some((list, item))) => {
            let lv = list.node.list().expect("a list");
            let edit = module::remove_item(e.text(list.file), &lv, item);
            e.push(list.file, edit, "remove the module left empty");
            Ok(())
        }
        _ => {
            for edit in edits {
                e.push(file, edit, &reason);
            }
            Ok(())
        }
    }
}

fn dedup(v: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for s in v {
        if !out.contains(s) {
            out.push(s.clone());
        }
    }
    out
}

/// A configuration of a flake.
fn plan_config(
    files: &dyn Files,
    path: &RelPath,
    name: &str,
    systems: &[String],
    opts: &EmulateOptions,
) -> Result<Plan> {
    let f = Flake::load_for(files, path, Some(name))?;
    let config = f.select(Some(name))?;
    let mut p = Planner::new(&f, config)?;
    if !opts.remove {
        let host = config
            .platforms
            .host
            .clone()
            .map(|h| (h.clone(), format!("the configuration `{name}` is for {h}")));
        let at = config.at.clone();
        check_host(
            host,
            systems,
            opts,
            &mut p.core.warnings,
            at.map(|a| (a, &f.ev.sources)),
        )?;
    }
    // The modules of this configuration that define the options.
    let mut found: Vec<(usize, ModuleEdit)> = Vec::new();
    for (i, expr) in modules_defining(&p, &[&EMULATED[..], &STATIC[..]]) {
        found.push((i, read_module(&p.core, expr.file, &expr.node)?));
    }
    let mut summary = Vec::new();
    let mut left = Vec::new();
    let own: Vec<usize> = (0..found.len())
        .filter(|&k| {
            let m = &found[k].1;
            let expr = p.sys.modules[found[k].0]
                .expr
                .clone()
                .expect("has an expression");
            let _ = m;
            p.private(expr.file, expr.range())
        })
        .collect();
    if opts.remove {
        // Remove where the definitions are; one in a shared module is refused.
        for (i, m) in &found {
            let expr = p.sys.modules[*i].expr.clone().expect("has an expression");
            p.guard(expr.file, expr.range(), "the module that sets boot.binfmt")?;
            let inline_item = inline_list_item(&p, *i);
            let seen = Seen {
                systems: Vec::new(),
                unknown: None,
            };
            edit_module(
                &mut p.core,
                m,
                systems,
                opts,
                &seen,
                &mut summary,
                inline_item.as_ref(),
                &mut left,
            )?;
        }
        if found.is_empty() {
            for s in systems {
                p.core.warnings.push(
                    format!("`{s}` is not in boot.binfmt.emulatedSystems; nothing to remove")
                        .into(),
                );
            }
        }
    } else if let Some(&k) = own.first() {
        let (_, m) = &found[k];
        let seen = Seen {
            systems: p.sys.emulated.clone(),
            unknown: p.sys.emulated_unknown.clone(),
        };
        edit_module(
            &mut p.core,
            m,
            systems,
            opts,
            &seen,
            &mut summary,
            None,
            &mut left,
        )?;
    } else {
        // Already there, in a shared module?
        let mut have: HashSet<String> = HashSet::new();
        for (_, m) in &found {
            if let Some((_, hit)) = &m.emulated {
                if let Some((list, _)) = list::list_of(&hit.value) {
                    have.extend(
                        list.items
                            .iter()
                            .filter_map(|i| i.unparen().string_literal()),
                    );
                }
            }
        }
        let systems: Vec<String> = systems
            .iter()
            .filter(|s| !have.contains(*s))
            .cloned()
            .collect();
        let need_static =
            opts.static_emulators && !found.iter().any(|(_, m)| m.prefer_static.is_some());
        if !systems.is_empty() || need_static {
            add_in_home(&mut p, &systems, need_static, &mut summary)?;
        }
    }
    claim_systems(&mut p.core, systems, opts, &left);
    if !opts.remove {
        let others = p
            .sys
            .modules
            .iter()
            .filter(|m| matches!(m.origin, ModuleOrigin::External(_)))
            .count();
        if others > 0 && !summary.is_empty() {
            p.core.warnings.push(
                format!(
                "`{name}` also has modules nixcross does not read (from other inputs or nixpkgs); \
                 if they set boot.binfmt.emulatedSystems too, NixOS merges the lists"
            )
                .into(),
            );
        }
    }
    let summary = if summary.is_empty() {
        "nothing to change".into()
    } else {
        format!("{name}: {}", summary.join("; "))
    };
    Ok(p.finish(summary))
}

/// New definitions in the configuration's own module.
fn add_in_home(
    p: &mut Planner,
    systems: &[String],
    prefer_static: bool,
    summary: &mut Vec<String>,
) -> Result<()> {
    let mut defs = Vec::new();
    if !systems.is_empty() {
        defs.push(NewDef::new(
            &EMULATED,
            syntax::string_list(systems),
            format!("added {} to {}", systems.join(", "), EMULATED.join(".")),
        ));
    }
    if prefer_static {
        defs.push(NewDef::new(
            &STATIC,
            "true",
            format!("set {} = true", STATIC.join(".")),
        ));
        claim_static(&mut p.core, Some(true));
    }
    summary.extend(define_in_home(
        p,
        &defs,
        "Emulated systems for building other platforms (nixcross emulate)",
    )?);
    Ok(())
}

fn check_host(
    declared: Option<(String, String)>,
    systems: &[String],
    opts: &EmulateOptions,
    warnings: &mut Vec<Diagnostic>,
    at: Option<(Src, &SourceMap)>,
) -> Result<()> {
    let hint =
        "boot.binfmt.emulatedSystems lists the *other* systems this machine should build for; \
                NixOS fails an assertion when it lists the machine's own system";
    if let Some(host) = &opts.host {
        let host = platform::resolve(host)
            .map_err(|e| {
                let mut err = Error::invalid(format!("--host: {}", e.message));
                err.hints = e.hints;
                err
            })?
            .system;
        if let Some((d, why)) = &declared {
            if *d != host {
                warnings.push(
                    format!(
                    "--host {host} disagrees with the file ({d}: {why}); checking against --host"
                )
                    .into(),
                );
            }
        }
        if systems.contains(&host) {
            return Err(Error::invalid(format!(
                "`{host}` is the build host's own system (--host {host}), so it cannot be emulated"
            ))
            .hint(hint));
        }
        return Ok(());
    }
    if let Some((d, why)) = declared {
        if systems.contains(&d) {
            let mut e = Error::invalid(format!(
                "`{d}` is this machine's own system ({why}), so it cannot be emulated"
            ))
            .hint(hint);
            if let Some((at, sources)) = at {
                let s = sources.get(at.file);
                e = e.at(at.range()).in_file(&s.path, &s.text);
            }
            return Err(e);
        }
        return Ok(());
    }
    if let Some(local) = &opts.local_system {
        if systems.contains(local) {
            warnings.push(
                format!(
                "`{local}` is the system nixcross runs on; if this module is for this machine, \
                 NixOS will refuse to emulate its own system (pass --host to check)"
            )
                .into(),
            );
        }
    }
    Ok(())
}

impl OptionHit {
    /// The binding node that defines the hit.
    pub fn entry_node(&self) -> Node {
        match self.entry() {
            syntax::Entry::Binding(b) => b.node.clone(),
            syntax::Entry::Inherit(i) => i.node.clone(),
        }
    }
}

#[cfg(test)]
mod tests;
