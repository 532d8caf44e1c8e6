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
use crate::error::{Error, Result};
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
    pub warnings: Vec<String>,
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
        warnings,
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
    plan.warnings.splice(0..0, warnings);
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

/// nixcross's mark on a setting it wrote for builders, in a comment of the
/// binding (`# nixcross add-builder: pi5`): the builders it was written for,
/// the ones listed already then (`(with tower)`), and whether it replaced a
/// `false` (`(was false)`). When the last of its builders goes, so does the
/// setting (or the `false` comes back), unless a builder listed since needs
/// it: add, then remove, gives back the original bytes. A mark without
/// builders (`# nixcross add-builder`, as nixcross wrote it before) goes
/// with the last builder nixcross can see.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Mark {
    hosts: Vec<String>,
    with: Vec<String>,
    /// Entries listed then that nixcross cannot read (`(with tower and 2 more)`).
    with_unread: usize,
    was_false: bool,
}

impl Mark {
    /// The mark of a setting written for `host`, next to the builders
    /// `listed` already.
    fn new(host: &str, listed: &[Option<String>]) -> Mark {
        Mark {
            hosts: vec![host.to_string()],
            with: listed
                .iter()
                .flatten()
                .filter(|h| *h != host)
                .cloned()
                .collect(),
            with_unread: listed.iter().filter(|h| h.is_none()).count(),
            was_false: false,
        }
    }

    /// The comment's text (without `#` or `/* */`).
    fn text(&self) -> String {
        let mut t = MARK.to_string();
        if !self.hosts.is_empty() {
            t.push_str(&format!(": {}", self.hosts.join(" ")));
        }
        let mut with = self.with.join(" ");
        if self.with_unread > 0 {
            if !with.is_empty() {
                with.push_str(" and ");
            }
            with.push_str(&format!("{} more", self.with_unread));
        }
        if !with.is_empty() {
            t.push_str(&format!(" (with {with})"));
        }
        if self.was_false {
            t.push_str(" (was false)");
        }
        t
    }

    /// Read a comment's text after `nixcross add-builder`.
    fn parse(rest: &str) -> Mark {
        let mut m = Mark::default();
        let rest = rest.trim();
        let (names, notes) = match rest.find('(') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, ""),
        };
        m.hosts = names
            .trim_start_matches(':')
            .split_whitespace()
            .map(str::to_string)
            .collect();
        for note in notes.split('(').map(|n| n.trim().trim_end_matches(')')) {
            if note == "was false" {
                m.was_false = true;
            } else if let Some(w) = note.strip_prefix("with ") {
                let (names, more) = match w.rsplit_once(" more") {
                    Some((head, "")) => match head.rsplit_once(' ') {
                        Some((names, n)) => (names.trim_end_matches(" and"), n),
                        None => ("", head),
                    },
                    _ => (w, "0"),
                };
                m.with = names.split_whitespace().map(str::to_string).collect();
                m.with_unread = more.parse().unwrap_or(0);
            }
        }
        m
    }
}

/// The mark on the setting at `hit` (in the binding, or its same-line
/// trailing comment), with the range of the comment that carries it and
/// whether that is a `#` comment.
fn read_mark(src: &str, hit: &OptionHit) -> Option<(Mark, (usize, usize), bool)> {
    let node = hit.entry_node();
    let (start, end) = (
        node.start(),
        syntax::after_trailing_comment(src, node.end()),
    );
    let at = start + src[start..end].find(MARK)?;
    let before = src[start..at].trim_end();
    if let Some(open) = before.strip_suffix("/*") {
        let from = start + open.len();
        let close = at + src[at..end].find("*/")?;
        let m = Mark::parse(&src[at + MARK.len()..close]);
        return Some((m, (from, close + 2), false));
    }
    let hash = before.strip_suffix('#')?;
    let from = start + hash.len();
    let to = end - usize::from(src[..end].ends_with('\r'));
    let m = Mark::parse(&src[at + MARK.len()..to]);
    Some((m, (from, to), true))
}

/// The builders a module's literal `nix.buildMachines` list names
/// (`None` for an entry nixcross cannot read).
fn listed_hosts(m: &BuilderModule) -> Vec<Option<String>> {
    let Some((_, hit)) = &m.machines else {
        return Vec::new();
    };
    ListOption::read(hit.entry_node(), hit.value.clone())
        .editable()
        .map(|(l, _)| l.items.iter().map(|i| read_item(i).host).collect())
        .unwrap_or_default()
}

/// The comment that carries `mark`, `#` or `/* */` as the old one was.
fn mark_comment(mark: &Mark, line: bool) -> String {
    if line {
        format!("# {}", mark.text())
    } else {
        format!("/* {} */", mark.text())
    }
}

/// A list item of `nix.buildMachines`, as nixcross reads it.
struct Item {
    node: Node,
    /// The set, when the item is a literal set with a literal `hostName`
    /// and a `protocol` nixcross can read.
    set: Option<AttrSetView>,
    host: Option<String>,
    protocol: Option<Protocol>,
}

/// The binding `name = ...;` of an item set (plain key only).
fn field(set: &AttrSetView, name: &str) -> Option<syntax::Binding> {
    set.entries.iter().find_map(|e| match e {
        Entry::Binding(b)
            if b.path
                .as_deref()
                .is_some_and(|p| p.len() == 1 && p[0] == name) =>
        {
            Some(b.clone())
        }
        _ => None,
    })
}

fn read_item(node: &Node) -> Item {
    let unknown = Item {
        node: node.clone(),
        set: None,
        host: None,
        protocol: None,
    };
    let Some(set) = node.unparen().attrset().filter(|s| !s.rec) else {
        return unknown;
    };
    // A dotted or inherited key could hide the fields.
    if set.entries.iter().any(|e| match e {
        Entry::Inherit(_) => true,
        Entry::Binding(b) => b.path.as_ref().is_none_or(|p| p.len() != 1),
    }) {
        return unknown;
    }
    let host = field(&set, "hostName").and_then(|b| b.value.unparen().string_literal());
    let protocol = match field(&set, "protocol") {
        None => Some(Protocol::Ssh),
        Some(b) => b
            .value
            .unparen()
            .string_literal()
            .and_then(|p| Protocol::from_scheme(&p)),
    };
    if host.is_none() || protocol.is_none() {
        return unknown;
    }
    Item {
        node: node.clone(),
        set: Some(set),
        host,
        protocol,
    }
}

impl Item {
    fn is(&self, uri: &SshUri) -> bool {
        self.host.as_deref() == Some(uri.host.as_str()) && self.protocol == Some(uri.protocol)
    }
}

/// `[ "a" "b" ]`.
/// The fields of a new `nix.buildMachines` entry, in NixOS's order.
fn entry_fields(uri: &SshUri, m: &Machine) -> Vec<(&'static str, String)> {
    let mut f: Vec<(&'static str, String)> = vec![("hostName", syntax::quote(&uri.host))];
    if let Some(u) = &uri.user {
        f.push(("sshUser", syntax::quote(u)));
    }
    f.push(("protocol", syntax::quote(uri.protocol.as_str())));
    f.push(("systems", syntax::string_list(&m.systems)));
    if let Some(k) = &m.ssh_key {
        f.push(("sshKey", syntax::quote(k)));
    }
    if let Some(n) = m.max_jobs {
        f.push(("maxJobs", n.to_string()));
    }
    if let Some(n) = m.speed_factor {
        f.push(("speedFactor", n.to_string()));
    }
    if !m.supported_features.is_empty() {
        f.push((
            "supportedFeatures",
            syntax::string_list(&m.supported_features),
        ));
    }
    if !m.mandatory_features.is_empty() {
        f.push((
            "mandatoryFeatures",
            syntax::string_list(&m.mandatory_features),
        ));
    }
    if let Some(k) = &m.public_host_key {
        f.push(("publicHostKey", syntax::quote(k)));
    }
    f
}

/// A new entry as generated text (column 0, two-space steps).
fn entry_text(uri: &SshUri, m: &Machine) -> String {
    let body: Vec<String> = entry_fields(uri, m)
        .into_iter()
        .map(|(k, v)| format!("  {k} = {v};"))
        .collect();
    format!("{{\n{}\n}}", body.join("\n"))
}

/// The whole `nix.buildMachines` value for a new binding.
fn list_text(uri: &SshUri, m: &Machine) -> String {
    format!("[\n  {}\n]", entry_text(uri, m).replace('\n', "\n  "))
}

/// The string items of a literal list value, or `None` when the value is
/// not a plain list of string literals.
fn string_items(value: &Node) -> Option<(ListView, Vec<String>)> {
    let list = value.unparen().list()?;
    let items: Option<Vec<String>> = list
        .items
        .iter()
        .map(|i| i.unparen().string_literal())
        .collect();
    Some((list.clone(), items?))
}

/// How a field of an existing entry should end up.
enum Want<'a> {
    /// Leave it as it is.
    Keep,
    Str(&'a str),
    Int(u32),
    List(&'a [String]),
}

/// Plan the update of one field of an entry set; returns whether it changes.
fn update_field(
    e: &mut Edits,
    file: FileId,
    set: &AttrSetView,
    name: &str,
    want: Want,
    reason: &str,
) -> bool {
    let src = e.text(file);
    let layout = e.layout(file).clone();
    let value = match want {
        Want::Keep => return false,
        Want::Str(s) => syntax::quote(s),
        Want::Int(n) => n.to_string(),
        Want::List(l) => syntax::string_list(l),
    };
    let Some(b) = field(set, name) else {
        let edit = module::insert_entry(
            src,
            &layout,
            set,
            &format!("{name} = {value};"),
            Position::Last,
        );
        e.push(file, edit, reason);
        return true;
    };
    let v = b.value.unparen();
    let same = match want {
        Want::Keep => true,
        Want::Str(s) => v.string_literal().as_deref() == Some(s),
        Want::Int(n) => v.text().trim() == n.to_string(),
        Want::List(l) => string_items(&v).is_some_and(|(_, have)| {
            let mut a = have.clone();
            let mut b = l.to_vec();
            a.sort();
            a.dedup();
            b.sort();
            b.dedup();
            a == b
        }),
    };
    if same {
        return false;
    }
    // A list that only lacks items keeps its layout: append them.
    if let (Want::List(l), Some((list, have))) = (&want, string_items(&v)) {
        if have.iter().all(|h| l.contains(h)) && !have.is_empty() {
            let add: Vec<String> = l
                .iter()
                .filter(|x| !have.contains(x))
                .map(|x| syntax::quote(x))
                .collect();
            e.push(file, list::append(src, &layout, &list, &add), reason);
            return true;
        }
    }
    e.push(file, TextEdit::replace(b.value.range(), value), reason);
    true
}

/// Update the entry `set` to the request; returns the names of the fields changed.
fn update_entry(
    e: &mut Edits,
    file: FileId,
    set: &AttrSetView,
    req: &Request,
    reason: &str,
) -> Vec<&'static str> {
    let m = &req.machine;
    let mut changed = Vec::new();
    // `system` wins over `systems` in NixOS: it goes, replaced by `systems`.
    if let Some(single) = field(set, "system") {
        let src = e.text(file);
        if field(set, "systems").is_some() {
            let edit = module::remove_entry(src, set, single.range);
            e.push(file, edit, reason);
        } else {
            e.push(
                file,
                TextEdit::replace(
                    single.range,
                    format!("systems = {};", syntax::string_list(&m.systems)),
                ),
                reason,
            );
            changed.push("systems");
        }
    }
    fn list(l: &[String]) -> Want<'_> {
        if l.is_empty() {
            Want::Keep
        } else {
            Want::List(l)
        }
    }
    let fields: Vec<(&'static str, Want)> = vec![
        (
            "sshUser",
            req.uri.user.as_deref().map_or(Want::Keep, Want::Str),
        ),
        (
            "systems",
            if changed.contains(&"systems") {
                Want::Keep
            } else {
                Want::List(&m.systems)
            },
        ),
        ("sshKey", m.ssh_key.as_deref().map_or(Want::Keep, Want::Str)),
        ("maxJobs", m.max_jobs.map_or(Want::Keep, Want::Int)),
        ("speedFactor", m.speed_factor.map_or(Want::Keep, Want::Int)),
        ("supportedFeatures", list(&m.supported_features)),
        ("mandatoryFeatures", list(&m.mandatory_features)),
        (
            "publicHostKey",
            m.public_host_key.as_deref().map_or(Want::Keep, Want::Str),
        ),
    ];
    for (name, want) in fields {
        if update_field(e, file, set, name, want, reason) {
            changed.push(name);
        }
    }
    changed
}

/// Add or update the builder in one module, with the settings it needs.
/// `configured` says what other modules of the configuration already set
/// (distributedBuilds, builders-use-substitutes).
fn add_in_module(
    e: &mut Edits,
    m: &BuilderModule,
    req: &Request,
    configured: (bool, bool),
    summary: &mut Vec<String>,
) -> Result<()> {
    let file = m.file;
    let uri = &req.uri;
    let what = format!("builder {uri} ({})", req.machine.systems.join(", "));
    let mut defs: Vec<NewDef> = Vec::new();
    match &m.machines {
        Some((place, hit)) => {
            note_condition(e, &m.places[*place]);
            let def = ListOption::read(hit.entry_node(), hit.value.clone());
            // A builder listed already is updated where it is: in the
            // literal list, or under its condition (`lib.mkIf c [ ... ]`,
            // alone or merged with a list of no condition).
            let listed = match &def.shape {
                ListShape::Literal {
                    list, conditional, ..
                } => {
                    (match conditional {
                        Some(c) => update_under_condition(e, file, c, req, summary)?,
                        None => false,
                    }) || update_listed(e, file, list, req, summary)?
                }
                ListShape::Conditional { list, lib: true } => {
                    update_under_condition(e, file, list, req, summary)?
                }
                ListShape::Computed => false,
                ListShape::Conditional { lib: false, .. } | ListShape::Opaque => {
                    return Err(e.error_at(
                        Error::refused(format!(
                            "nix.buildMachines is {}, which nixcross cannot tell is a list, so it cannot add to it safely",
                            describe(&hit.value)
                        ))
                        .hint("add the builder by hand, or give nix.buildMachines a literal list (`[ ... ] ++ other` is fine)"),
                        &Src::new(file, hit.value.clone()),
                    ));
                }
            };
            if !listed {
                let s = format!("added {what} to nix.buildMachines");
                let entry = [entry_text(uri, &req.machine)];
                match add_to_list(e, file, &def, &entry, &s).expect("a shape nixcross adds to") {
                    Added::Appended => {}
                    Added::Concatenated => e.warnings.push(format!(
                        "nix.buildMachines is {}; nixcross added the builder with `++ [ ... ]`: check that the computed part does not list {uri} too",
                        describe(&hit.value)
                    )),
                    Added::Merged => e.warnings.push(format!(
                        "nix.buildMachines is a list under a condition; nixcross merged {uri} with it (`lib.mkMerge`), so it is used whatever the condition says"
                    )),
                }
                summary.push(s);
            }
        }
        None => defs.push(NewDef::new(
            &MACHINES,
            list_text(uri, &req.machine),
            format!("added {what} to nix.buildMachines"),
        )),
    }
    finish_settings(e, m, req, configured, defs, summary)
}

/// Update the builder where the literal `list` has it already (refusing a
/// list that has it twice); whether it was there. Warns about entries
/// nixcross cannot read.
fn update_listed(
    e: &mut Edits,
    file: FileId,
    list: &ListView,
    req: &Request,
    summary: &mut Vec<String>,
) -> Result<bool> {
    let uri = &req.uri;
    let items: Vec<Item> = list.items.iter().map(read_item).collect();
    let same: Vec<&Item> = items.iter().filter(|i| i.is(uri)).collect();
    if same.len() > 1 {
        return Err(e.error_at(
            Error::refused(format!(
                "{uri} is listed more than once in nix.buildMachines"
            )),
            &Src::new(file, same[1].node.clone()),
        ));
    }
    unknown_items_warning(e, &items, uri);
    let Some(item) = same.first() else {
        return Ok(false);
    };
    let set = item.set.clone().expect("a matched item is a literal set");
    let what = format!("builder {uri} ({})", req.machine.systems.join(", "));
    let changed = update_entry(
        e,
        file,
        &set,
        req,
        &format!("update {what} in nix.buildMachines"),
    );
    if !changed.is_empty() {
        summary.push(format!(
            "updated {uri} in nix.buildMachines ({})",
            changed.join(", ")
        ));
    }
    Ok(true)
}

/// Update the builder where the list under a condition `listed` has it
/// already; whether it was there. It stays under the condition, as the
/// module's author chose (listing it again, unconditionally, would list it
/// twice), and nixcross says so.
fn update_under_condition(
    e: &mut Edits,
    file: FileId,
    listed: &ListView,
    req: &Request,
    summary: &mut Vec<String>,
) -> Result<bool> {
    if !update_listed(e, file, listed, req, summary)? {
        return Ok(false);
    }
    e.warnings.push(format!(
        "{} is in nix.buildMachines already, under its condition; nixcross leaves it there, so it is used when the condition holds",
        req.uri
    ));
    Ok(true)
}

/// `distributedBuilds` and `builders-use-substitutes`, then every new
/// definition at once.
fn finish_settings(
    e: &mut Edits,
    m: &BuilderModule,
    req: &Request,
    configured: (bool, bool),
    mut defs: Vec<NewDef>,
    summary: &mut Vec<String>,
) -> Result<()> {
    let file = m.file;
    let src = e.text(file);
    let host = req.uri.host.as_str();
    let mark = Mark::new(host, &listed_hosts(m));
    // A setting nixcross marked for other builders is now for this one too.
    let also_for = |e: &mut Edits, hit: &OptionHit| {
        if let Some((mut old, range, line)) = read_mark(src, hit) {
            if !old.hosts.is_empty() && !old.hosts.iter().any(|h| h == host) {
                old.hosts.push(host.to_string());
                e.push(
                    file,
                    TextEdit::replace(range, mark_comment(&old, line)),
                    &format!("nixcross's settings serve {host} too"),
                );
            }
        }
    };
    match &m.distributed {
        _ if configured.0 => {}
        None => {
            defs.push(
                NewDef::new(&DISTRIBUTED, "true", "set nix.distributedBuilds = true")
                    .marked(mark.text()),
            );
            claim_toggle(e, Toggle::DistributedBuilds, Some(true));
        }
        Some((_, hit)) => match hit.value.unparen().text().as_str() {
            "true" => also_for(e, hit),
            "false" => {
                claim_toggle(e, Toggle::DistributedBuilds, Some(true));
                let s = "set nix.distributedBuilds = true (it was false, which leaves every builder unused)".to_string();
                let flipped = Mark {
                    was_false: true,
                    ..mark.clone()
                };
                e.push(
                    file,
                    TextEdit::replace(
                        hit.value.unparen().range(),
                        format!("true {}", mark_comment(&flipped, false)),
                    ),
                    &s,
                );
                summary.push(s);
            }
            other => e.warnings.push(format!(
                "nix.distributedBuilds is `{}`; NixOS uses the builders only when it is true",
                syntax::compact(other)
            )),
        },
    }
    match &m.substitutes {
        _ if configured.1 => {}
        Substitutes::Absent => {
            defs.push(
                NewDef::new(
                    &SUBSTITUTES,
                    "true",
                    format!("set nix.settings.{SUBSTITUTES_WHY}"),
                )
                .marked(mark.text()),
            );
            claim_toggle(e, Toggle::BuildersUseSubstitutes, Some(true));
        }
        Substitutes::Set(hit) => also_for(e, hit),
        Substitutes::InExtraOptions => {}
        Substitutes::Unknown(why) => e.warnings.push(format!(
            "nixcross cannot tell whether nix.settings sets builders-use-substitutes ({why}); consider setting it to true"
        )),
    }
    insert_defs(e, file, &m.places, &defs)?;
    summary.extend(defs.into_iter().map(|d| d.reason));
    Ok(())
}

fn unknown_items_warning(e: &mut Edits, items: &[Item], uri: &SshUri) {
    let unknown: Vec<String> = items
        .iter()
        .filter(|i| i.set.is_none())
        .map(|i| syntax::compact(&i.node.text()).chars().take(40).collect())
        .collect();
    if !unknown.is_empty() {
        e.warnings.push(format!(
            "nix.buildMachines has entries nixcross cannot read ({}); check that none of them is {uri} too",
            unknown.join("; ")
        ));
    }
}

/// Takes a module left empty out of the configuration's modules list.
type RemoveModule<'a> = &'a dyn Fn(&mut Edits) -> Result<()>;

/// Remove the builder from one module. `remove_module` takes the module
/// itself out when nothing is left in it (an inline module of a flake).
fn remove_in_module(
    e: &mut Edits,
    m: &BuilderModule,
    req: &Request,
    summary: &mut Vec<String>,
    remove_module: Option<RemoveModule>,
) -> Result<bool> {
    let file = m.file;
    let src = e.text(file);
    let uri = &req.uri;
    let Some((_, hit)) = &m.machines else {
        return Ok(false);
    };
    // A builder under a condition (`lib.mkIf c [ ... ]`) can be taken out.
    let def = ListOption::read(hit.entry_node(), hit.value.clone());
    let Some((list, around)) = def.editable() else {
        e.warnings.push(format!(
            "nix.buildMachines is {}, which nixcross cannot read; if it lists {uri}, take it out by hand",
            describe(&hit.value)
        ));
        return Ok(false);
    };
    let items: Vec<Item> = list.items.iter().map(read_item).collect();
    let found: Vec<Node> = items
        .iter()
        .filter(|i| i.is(uri))
        .map(|i| i.node.clone())
        .collect();
    if found.is_empty() {
        if items.iter().any(|i| i.set.is_none()) {
            unknown_items_warning(e, &items, uri);
        }
        return Ok(false);
    }
    let s = format!("removed builder {uri} from nix.buildMachines");
    let mut removals: Vec<Node> = Vec::new();
    // No builder nixcross can see is left: the literal list goes empty, or
    // the `++ [ ... ]` side goes and only the expression it extended (which
    // nixcross does not write) is left.
    let none_left = found.len() == list.items.len()
        && matches!(
            around,
            None | Some(list::Around::Priority | list::Around::Concat | list::Around::Condition)
        );
    match def.remove(src, &found) {
        Removal::Definition => removals.push(def.entry.clone()),
        Removal::Edits(edits) => {
            for edit in edits {
                e.push(file, edit, &s);
            }
        }
    }
    summary.push(s.clone());
    // The settings nixcross wrote for this builder go with it (see `Mark`).
    let left: Vec<Option<String>> = items
        .iter()
        .filter(|i| !i.is(uri))
        .map(|i| i.host.clone())
        .collect();
    let settings = [
        (
            Toggle::DistributedBuilds,
            m.distributed.as_ref().map(|(_, h)| h),
        ),
        (
            Toggle::BuildersUseSubstitutes,
            match &m.substitutes {
                Substitutes::Set(h) => Some(h),
                _ => None,
            },
        ),
    ];
    for (toggle, hit) in settings {
        let Some(hit) = hit else { continue };
        let Some((mark, range, line)) = read_mark(src, hit) else {
            continue;
        };
        let dotted = toggle.dotted();
        let gone = if mark.hosts.is_empty() {
            // An old mark: it goes with the last builder nixcross can see.
            none_left
        } else if !mark.hosts.iter().any(|h| h == &uri.host) {
            false
        } else {
            let rest: Vec<String> = mark
                .hosts
                .iter()
                .filter(|h| *h != &uri.host)
                .cloned()
                .collect();
            // Listed by hand since: it needs the setting, which stays,
            // marked as the old marks were.
            let needed = left
                .iter()
                .flatten()
                .any(|h| !mark.with.contains(h) && !rest.contains(h))
                || left.iter().filter(|h| h.is_none()).count() > mark.with_unread;
            if !rest.is_empty() || needed {
                let kept = Mark {
                    hosts: rest,
                    ..mark.clone()
                };
                let kept = if kept.hosts.is_empty() {
                    Mark::default()
                } else {
                    kept
                };
                e.push(
                    file,
                    TextEdit::replace(range, mark_comment(&kept, line)),
                    &s,
                );
                false
            } else {
                true
            }
        };
        if !gone {
            continue;
        }
        if mark.was_false {
            // `true /* ... (was false) */` becomes `false` again.
            claim_toggle(e, toggle, Some(false));
            e.push(
                file,
                TextEdit::replace((hit.value.unparen().start(), range.1), "false"),
                &s,
            );
            summary.push(format!(
                "set {dotted} = false again (as it was before nixcross)"
            ));
        } else {
            claim_toggle(e, toggle, None);
            removals.push(hit.entry_node());
            summary.push(format!(
                "removed {dotted} (nixcross added it for the builders it added)"
            ));
        }
    }
    if removals.is_empty() {
        return Ok(true);
    }
    let (edits, top_empty) = places::remove_bindings(src, &m.top, &removals);
    match (top_empty, remove_module) {
        (true, Some(hook)) => hook(e)?,
        // A module body left empty is `{ }`, whatever lines it had (but
        // the comments it has).
        (true, None)
            if !module::comment_outside(
                src,
                (m.top.open + 1, m.top.close),
                &edits.iter().map(|e| e.range).collect::<Vec<_>>(),
            ) =>
        {
            e.push(
                file,
                TextEdit::replace((m.top.open + 1, m.top.close), " "),
                &s,
            )
        }
        _ => {
            for edit in edits {
                e.push(file, edit, &s);
            }
        }
    }
    Ok(true)
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
            e.warnings.push(format!(
                "{} is not in nix.buildMachines; nothing to remove",
                req.uri
            ));
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
        let m = read_builder_module(&p, expr.file, &expr.node)?;
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
            p.warnings.push(format!(
                "{} is not in nix.buildMachines of `{name}`; nothing to remove",
                req.uri
            ));
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
