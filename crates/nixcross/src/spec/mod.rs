//! `nixcross.yaml`: a declarative spec of what each machine is and how it is
//! built, kept in the repository next to the flake. `nixcross apply` makes
//! the flake (and the build host's configuration) say what it says
//! ([`crate::ops::apply`]), `nixcross export` writes one from a flake
//! ([`crate::ops::export`]), and `nixcross schema` prints its JSON Schema
//! ([`schema`]), derived from the same types serde reads.
//!
//! Reading ([`Document::parse`]) has three layers, each pointing into the
//! text with a byte range:
//! 1. the YAML itself (`spans::read`, saphyr-parser): syntax errors, keys
//!    given twice, and where every node is;
//! 2. the types (serde_yaml, `deny_unknown_fields`): unknown fields (with
//!    "did you mean"), wrong types, missing fields, unknown modes;
//! 3. the meaning (`validate`): targets and systems nixcross knows,
//!    `build` only for cross builds, overlay pairs that are attribute
//!    paths, a build host given once (`file` or `config`).
//!
//! A spec that fails any of them is never applied.

pub(crate) mod spans;

use std::collections::BTreeMap;

use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde::{Deserialize, Serialize};

use crate::error::{line_col, Error, Result};
use crate::flake::overlays::{parse_package, parse_pair};
use crate::platform;
use crate::platform::emulated_system;
use crate::vocab::{Mode, Style};
use spans::Seg;

/// The spec's default file name.
pub const FILE_NAME: &str = "nixcross.yaml";

/// `nixcross.yaml`: what each NixOS configuration of a flake is and how it
/// is built, and what the machine that builds needs. Configurations the
/// spec does not name are left alone; nixcross never removes what the spec
/// does not mention.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schemars(title = "nixcross.yaml")]
pub struct Spec {
    /// The flake (a flake.nix, or the folder that holds it), relative to
    /// this file and inside its folder (default: flake.nix next to it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flake: Option<String>,
    /// The NixOS configurations (`nixosConfigurations.<name>`), by name. A
    /// configuration the flake lacks is added.
    #[serde(default)]
    pub configurations: BTreeMap<String, ConfigSpec>,
    /// The machine that builds: what it emulates and which remote builders
    /// it uses.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub build_host: Option<BuildHostSpec>,
}

/// One NixOS configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ConfigSpec {
    /// Where the system runs: a system double (riscv64-linux), a pkgsCross
    /// name (raspberryPi) or a config triple (aarch64-unknown-linux-musl).
    #[schemars(schema_with = "target_schema")]
    pub target: String,
    /// cross: a cross toolchain on the build machine compiles everything;
    /// emulate: the target's packages are built natively, under QEMU on a
    /// machine of another CPU; native: built on a machine of the target's
    /// own system (the same flake as emulate).
    pub mode: Mode,
    /// For `mode: cross`, the build machine's system. Default: the
    /// configuration's current build machine when it is cross-compiled
    /// already, else the machine nixcross runs on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "system_schema")]
    pub build: Option<String>,
    /// Which NixOS options name the platforms: legacy (system +
    /// nixpkgs.crossSystem) or modern (nixpkgs.hostPlatform +
    /// nixpkgs.buildPlatform). Default: the one the configuration uses.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub style: Option<Style>,
    /// Overlays that must be in effect (others are left alone).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub overlays: Vec<OverlaySpec>,
}

/// An overlay that replaces packages: `attr: package` pairs, globally in
/// nixpkgs.overlays or in a scoped package set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct OverlaySpec {
    /// What to replace: `gcc: gcc12` writes `gcc = final.gcc12;`.
    #[schemars(extend("minProperties" = 1))]
    pub packages: BTreeMap<String, String>,
    /// In a scoped package set passed to the modules (`pkgs-gcc12`), not in
    /// nixpkgs.overlays. Default: false (global).
    #[serde(default, skip_serializing_if = "is_false")]
    pub scoped: bool,
    /// The scoped set's name (default: `pkgs-<package>`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance: Option<String>,
    /// Packages of the scoped set to add to environment.systemPackages.
    #[serde(default, rename = "use", skip_serializing_if = "Vec::is_empty")]
    pub uses: Vec<String>,
}

fn is_false(b: &bool) -> bool {
    !b
}

/// The machine that builds: a NixOS module (`file`) or a configuration of
/// this flake (`config`), exactly one of them.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schemars(extend("oneOf" = [{"required": ["file"]}, {"required": ["config"]}]))]
pub struct BuildHostSpec {
    /// Its NixOS module, relative to this file and inside its folder
    /// (`nixcross apply --allow-outside PATH` lets it be elsewhere, e.g.
    /// /etc/nixos/configuration.nix).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    /// A configuration of this flake.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<String>,
    /// Systems it runs under QEMU (boot.binfmt.emulatedSystems).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(schema_with = "emulated_list_schema")]
    pub emulate: Vec<String>,
    /// boot.binfmt.preferStaticEmulators: true sets it, false removes it,
    /// absent leaves it alone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub static_emulators: Option<bool>,
    /// Remote builders it uses (nix.buildMachines).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub builders: Vec<BuilderSpec>,
}

/// Where the build host's configuration is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HostMachine<'s> {
    /// A NixOS module file, as written in the spec.
    File(&'s str),
    /// A configuration of the spec's flake.
    Config(&'s str),
}

impl BuildHostSpec {
    /// Where its configuration is. [`Document::parse`] guarantees exactly
    /// one of `file` and `config`.
    pub fn machine(&self) -> HostMachine<'_> {
        match (&self.file, &self.config) {
            (Some(f), _) => HostMachine::File(f),
            (None, Some(c)) => HostMachine::Config(c),
            (None, None) => HostMachine::File(""),
        }
    }
}

/// A remote builder (one entry of nix.buildMachines).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct BuilderSpec {
    /// `ssh://[user@]host` or `ssh-ng://[user@]host`.
    #[schemars(regex(pattern = r"^ssh(-ng)?://"))]
    pub uri: String,
    /// Systems it builds for.
    #[schemars(schema_with = "system_list_schema")]
    pub systems: Vec<String>,
    /// How many builds it runs at once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub max_jobs: Option<u32>,
    /// Its speed relative to other builders.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub speed_factor: Option<u32>,
    /// Features it supports (big-parallel, kvm, nixos-test, benchmark).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub features: Vec<String>,
    /// Features a derivation must ask for to be built there.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mandatory_features: Vec<String>,
    /// The SSH private key the Nix daemon logs in with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ssh_key: Option<String>,
    /// The builder's SSH host key (base64 of its public key line).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host_key: Option<String>,
}

fn string_enum(names: Vec<String>, description: &str) -> Schema {
    schemars::json_schema!({
        "type": "string",
        "enum": names,
        "description": description,
    })
}

fn catalogue_names(linux_only: bool) -> Vec<String> {
    let cat = platform::catalogue();
    let mut names: Vec<String> = Vec::new();
    let mut add = |n: &str| {
        if !names.iter().any(|x| x == n) {
            names.push(n.to_string());
        }
    };
    for s in &cat.systems {
        if !linux_only || s.system.contains("-linux") {
            add(&s.system);
        }
    }
    for e in &cat.examples {
        if !linux_only || e.system.contains("-linux") {
            add(&e.name);
        }
    }
    for s in &cat.systems {
        if (!linux_only || s.system.contains("-linux")) && !s.config.is_empty() {
            add(&s.config);
        }
    }
    // Triples only an example has (`aarch64-unknown-linux-musl`).
    for e in &cat.examples {
        if (!linux_only || e.system.contains("-linux")) && e.extra.is_empty() {
            add(&e.config);
        }
    }
    for s in cat.emulatable() {
        add(s);
    }
    names
}

fn target_schema(_: &mut SchemaGenerator) -> Schema {
    string_enum(
        catalogue_names(true),
        "A Linux system double, pkgsCross name or config triple (`nixcross targets` lists them).",
    )
}

fn system_schema(_: &mut SchemaGenerator) -> Schema {
    string_enum(
        catalogue_names(false),
        "A system double, pkgsCross name or config triple (`nixcross targets` lists them).",
    )
}

fn emulated_schema(_: &mut SchemaGenerator) -> Schema {
    let cat = platform::catalogue();
    let mut names: Vec<String> = cat.emulatable().map(str::to_string).collect();
    for e in &cat.examples {
        if cat.can_emulate(&e.system) && !names.contains(&e.name) {
            names.push(e.name.clone());
        }
    }
    string_enum(
        names,
        "A system NixOS can emulate (boot.binfmt.emulatedSystems), or a pkgsCross name of one.",
    )
}

fn list_of(items: Schema) -> Schema {
    schemars::json_schema!({
        "type": "array",
        "items": items,
    })
}

fn emulated_list_schema(g: &mut SchemaGenerator) -> Schema {
    list_of(emulated_schema(g))
}

fn system_list_schema(g: &mut SchemaGenerator) -> Schema {
    list_of(system_schema(g))
}

/// The JSON Schema of the spec format, for editors (yaml-language-server's
/// `# yaml-language-server: $schema=...` modeline).
pub fn schema() -> serde_json::Value {
    serde_json::to_value(schemars::schema_for!(Spec)).expect("a schema serializes")
}

/// A file path a spec names ([`Document::paths`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpecPath<'d> {
    /// Its key, as a message names it: `flake`, `buildHost.file`.
    pub key: &'static str,
    /// The path as written.
    pub value: &'d str,
    /// Where the value is written in the spec's text (byte offsets).
    pub range: (usize, usize),
}

/// A spec as read from its text, with where each part is written.
#[derive(Debug, Clone)]
pub struct Document {
    /// What it says.
    pub spec: Spec,
    /// Its text.
    pub text: String,
    root: Option<spans::Node>,
}

impl Document {
    /// Read and check a spec. Every error carries a byte range into `text`.
    pub fn parse(text: &str) -> Result<Document> {
        let root = spans::read(text)?;
        if root.is_none() {
            return Err(Error::invalid(
                "the spec is empty: it needs `configurations` or `buildHost`",
            )
            .at((0, 0)));
        }
        let spec: Spec = serde_yaml::from_str(text).map_err(|e| yaml_error(text, &e))?;
        let doc = Document {
            spec,
            text: text.to_string(),
            root,
        };
        validate(&doc)?;
        Ok(doc)
    }

    /// The file paths the spec names (the flake, the build host's module),
    /// each with its key and where its value is written: what a program
    /// that reads the files checks before it opens them.
    pub fn paths(&self) -> Vec<SpecPath<'_>> {
        let mut out = Vec::new();
        if let Some(f) = &self.spec.flake {
            out.push(SpecPath {
                key: "flake",
                value: f,
                range: self.range(&[Seg::Key("flake")]).unwrap_or((0, 0)),
            });
        }
        if let Some(f) = self.spec.build_host.as_ref().and_then(|h| h.file.as_ref()) {
            out.push(SpecPath {
                key: "buildHost.file",
                value: f,
                range: self
                    .range(&[Seg::Key("buildHost"), Seg::Key("file")])
                    .unwrap_or((0, 0)),
            });
        }
        out
    }

    /// The byte range of the value at `path`.
    pub(crate) fn range(&self, path: &[Seg]) -> Option<(usize, usize)> {
        Some(self.root.as_ref()?.get(path)?.range())
    }

    /// The byte range of the key `path` ends with.
    pub(crate) fn key_range(&self, path: &[Seg]) -> Option<(usize, usize)> {
        self.root.as_ref()?.key_range(path)
    }

    /// Where configuration `name` is written (its key).
    #[cfg(test)]
    pub(crate) fn config_range(&self, name: &str) -> Option<(usize, usize)> {
        self.key_range(&[Seg::Key("configurations"), Seg::Key(name)])
    }

    /// An error about the value at `path` (or its key, or the document's
    /// start when neither is written).
    fn at(&self, err: Error, path: &[Seg]) -> Error {
        let r = self
            .range(path)
            .or_else(|| self.key_range(path))
            .unwrap_or((0, 0));
        err.at(r)
    }

    /// An error about the key `path` ends with.
    fn at_key(&self, err: Error, path: &[Seg]) -> Error {
        let r = self
            .key_range(path)
            .or_else(|| self.range(path))
            .unwrap_or((0, 0));
        err.at(r)
    }
}

/// The byte offset of a 1-based line and column (in characters).
fn offset(text: &str, line: usize, col: usize) -> usize {
    let mut start = 0;
    for _ in 1..line {
        match text[start..].find('\n') {
            Some(i) => start += i + 1,
            None => return text.len(),
        }
    }
    text[start..]
        .char_indices()
        .nth(col.saturating_sub(1))
        .map_or(text.len(), |(i, _)| start + i)
}

/// What serde says starts with one of these; anything before it is the
/// path serde_yaml prefixes (`configurations.lp4a: `).
const SERDE_PHRASES: &[&str] = &[
    "unknown field",
    "missing field",
    "duplicate field",
    "invalid type",
    "invalid value",
    "invalid length",
    "unknown variant",
];

/// The backquoted words of serde's "expected one of `a`, `b`".
fn quoted_words(s: &str) -> Vec<String> {
    s.split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_string)
        .collect()
}

/// The closest of `candidates` to `word`, when close enough to be a typo.
fn did_you_mean(word: &str, candidates: &[String]) -> Option<String> {
    candidates
        .iter()
        .map(|c| (strsim::jaro_winkler(word, c), c))
        .filter(|(s, _)| *s > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c.clone())
}

/// A serde_yaml error as nixcross says it, at its place in `text`.
fn yaml_error(text: &str, e: &serde_yaml::Error) -> Error {
    let mut msg = e.to_string();
    let mut range = None;
    if let Some(l) = e.location() {
        let suffix = format!(" at line {} column {}", l.line(), l.column());
        if let Some(m) = msg.strip_suffix(&suffix) {
            msg = m.to_string();
        }
        let at = offset(text, l.line(), l.column());
        range = Some((at, at));
    }
    if let Some(i) = SERDE_PHRASES
        .iter()
        .filter_map(|p| msg.find(&format!(": {p}")))
        .min()
    {
        msg = msg[i + 2..].to_string();
    }
    let mut hints = Vec::new();
    if let Some(rest) = msg.strip_prefix("unknown field ") {
        let words = quoted_words(rest);
        if let Some((field, expected)) = words.split_first() {
            msg = format!("unknown field `{field}`");
            match did_you_mean(field, expected) {
                Some(best) => hints.push(format!("did you mean `{best}`?")),
                None if expected.is_empty() => {}
                None => hints.push(format!(
                    "expected one of {}",
                    expected
                        .iter()
                        .map(|w| format!("`{w}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                )),
            }
        }
    } else if let Some(rest) = msg.strip_prefix("unknown variant ") {
        let words = quoted_words(rest);
        if let Some((value, expected)) = words.split_first() {
            let quoted: Vec<String> = expected.iter().map(|w| format!("`{w}`")).collect();
            let list = match quoted.split_last() {
                Some((last, rest)) if !rest.is_empty() => format!("{} or {last}", rest.join(", ")),
                _ => quoted.join(""),
            };
            msg = format!("unknown value `{value}`: expected {list}");
            if let Some(best) = did_you_mean(value, expected) {
                hints.push(format!("did you mean `{best}`?"));
            }
        }
    }
    let mut err = Error::invalid(msg);
    if let Some(r) = range {
        err = err.at(r);
    }
    for h in hints {
        err = err.hint(h);
    }
    err
}

/// A target or system the spec names, resolved; errors keep the
/// catalogue's suggestions.
fn resolve(doc: &Document, value: &str, path: &[Seg]) -> Result<platform::Target> {
    platform::resolve(value).map_err(|e| doc.at(e, path))
}

/// The checks serde cannot make (see the module docs).
fn validate(doc: &Document) -> Result<()> {
    let spec = &doc.spec;
    if doc.key_range(&[Seg::Key("configurations")]).is_none() && spec.build_host.is_none() {
        return Err(doc.at(
            Error::invalid("the spec says nothing: it needs `configurations` or `buildHost`"),
            &[],
        ));
    }
    if let Some(f) = &spec.flake {
        if f.trim().is_empty() || f.chars().any(char::is_control) {
            return Err(doc.at(
                Error::invalid("`flake` must be a path"),
                &[Seg::Key("flake")],
            ));
        }
    }
    for (name, c) in &spec.configurations {
        let here = |k: &'static str| -> [Seg<'_>; 3] {
            [Seg::Key("configurations"), Seg::Key(name), Seg::Key(k)]
        };
        if name.trim().is_empty() || name.chars().any(char::is_control) {
            return Err(doc.at_key(
                Error::invalid("a configuration name must not be empty or hold control characters"),
                &[Seg::Key("configurations"), Seg::Key(name)],
            ));
        }
        let target = resolve(doc, &c.target, &here("target"))?;
        if !target.is_linux() {
            return Err(doc.at(
                Error::invalid(format!(
                    "`{}` is a {} platform; NixOS runs on Linux only",
                    c.target, target.system
                )),
                &here("target"),
            ));
        }
        match (c.mode, &c.build) {
            (mode @ (Mode::Emulate | Mode::Native), Some(_)) => {
                return Err(doc.at_key(
                    Error::invalid(format!(
                        "`build` names the build machine of a cross build; with `mode: {mode}` the target is built natively",
                    ))
                    .hint("remove `build`, or use `mode: cross`"),
                    &here("build"),
                ));
            }
            (Mode::Cross, Some(b)) => {
                let build = resolve(doc, b, &here("build"))?;
                if build.system == target.system && !target.needs_config() {
                    return Err(doc.at(
                        Error::invalid(format!(
                            "cross-compiling from {} to {} is a native build",
                            build.system, target.system
                        ))
                        .hint("use `mode: emulate`, or another build machine"),
                        &here("build"),
                    ));
                }
            }
            (_, None) => {}
        }
        for (i, o) in c.overlays.iter().enumerate() {
            let path = |k: &'static str| -> Vec<Seg<'_>> {
                vec![
                    Seg::Key("configurations"),
                    Seg::Key(name),
                    Seg::Key("overlays"),
                    Seg::Index(i),
                    Seg::Key(k),
                ]
            };
            if o.packages.is_empty() {
                return Err(doc.at(
                    Error::invalid("an overlay needs at least one `attr: package` pair"),
                    &path("packages"),
                ));
            }
            for (attr, package) in &o.packages {
                if let Err(e) = parse_pair(&format!("{attr}={package}")) {
                    let mut p = path("packages");
                    p.push(Seg::Key(attr));
                    return Err(doc.at_key(e, &p));
                }
            }
            if !o.scoped {
                for k in ["instance", "use"] {
                    if doc.key_range(&path(k)).is_some() {
                        return Err(doc.at_key(
                            Error::invalid(format!(
                                "`{k}` is for a scoped package set; this overlay is global"
                            ))
                            .hint("add `scoped: true`, or remove it"),
                            &path(k),
                        ));
                    }
                }
            }
            for (j, u) in o.uses.iter().enumerate() {
                if let Err(e) = parse_package(u) {
                    let mut p = path("use");
                    p.push(Seg::Index(j));
                    return Err(doc.at(e, &p));
                }
            }
        }
    }
    if let Some(h) = &spec.build_host {
        let here = |k: &'static str| -> [Seg<'_>; 2] { [Seg::Key("buildHost"), Seg::Key(k)] };
        match (&h.file, &h.config) {
            (Some(_), Some(_)) => {
                let file = doc.key_range(&here("file")).unwrap_or((0, 0));
                let config = doc.key_range(&here("config")).unwrap_or((0, 0));
                let (second, first) = if config.0 > file.0 {
                    (("config", config), ("file", file))
                } else {
                    (("file", file), ("config", config))
                };
                return Err(Error::invalid(format!(
                    "the build host is given twice: by `{}` (line {}) and by `{}`",
                    first.0,
                    doc_line(doc, first.1),
                    second.0,
                ))
                .at(second.1)
                .hint("give either `file` (a NixOS module) or `config` (a configuration of this flake)"));
            }
            (None, None) => {
                return Err(doc.at_key(
                    Error::invalid("the build host needs `file` (a NixOS module) or `config` (a configuration of this flake)"),
                    &[Seg::Key("buildHost")],
                ));
            }
            (Some(f), None) if f.trim().is_empty() || f.chars().any(char::is_control) => {
                return Err(doc.at(Error::invalid("`file` must be a path"), &here("file")));
            }
            _ => {}
        }
        for (i, s) in h.emulate.iter().enumerate() {
            emulated_system(s).map_err(|e| {
                doc.at(
                    e,
                    &[Seg::Key("buildHost"), Seg::Key("emulate"), Seg::Index(i)],
                )
            })?;
        }
        for (i, b) in h.builders.iter().enumerate() {
            let p = |k: &'static str| -> Vec<Seg<'_>> {
                vec![
                    Seg::Key("buildHost"),
                    Seg::Key("builders"),
                    Seg::Index(i),
                    Seg::Key(k),
                ]
            };
            let uri = b.uri.trim();
            let ok = ["ssh://", "ssh-ng://"]
                .iter()
                .any(|s| uri.strip_prefix(s).is_some_and(|rest| !rest.is_empty()))
                && !uri.chars().any(|c| c.is_whitespace() || c.is_control());
            if !ok {
                return Err(doc.at(
                    Error::invalid(format!(
                        "`{}` is not a builder URI: ssh://[user@]host or ssh-ng://[user@]host",
                        b.uri.escape_debug()
                    )),
                    &p("uri"),
                ));
            }
            if b.systems.is_empty() {
                return Err(doc.at_key(
                    Error::invalid("a builder needs the systems it builds for"),
                    &p("systems"),
                ));
            }
            for (j, s) in b.systems.iter().enumerate() {
                let mut path = p("systems");
                path.push(Seg::Index(j));
                resolve(doc, s, &path)?;
            }
        }
    }
    Ok(())
}

fn doc_line(doc: &Document, range: (usize, usize)) -> usize {
    line_col(&doc.text, range.0).0
}

/// The text of a spec, as `nixcross export` writes it: a header, the YAML
/// of `spec`, and `notes` as comment lines at the end.
pub(crate) fn to_yaml(spec: &Spec, header: &[String], notes: &[String]) -> String {
    let mut out = String::new();
    for h in header {
        out.push_str(&comment_line(h));
    }
    let body = serde_yaml::to_string(spec).expect("a spec serializes");
    out.push_str(&escape_scalars(&body));
    if !notes.is_empty() {
        out.push('\n');
        for n in notes {
            out.push_str(&comment_line(n));
        }
    }
    out
}

/// Whether a terminal may interpret `c` instead of showing it: C0 and C1
/// controls, DEL, the bidirectional overrides and isolates.
fn is_unsafe(c: char) -> bool {
    c.is_control() || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// `# text` (or `#` for an empty line), control characters shown as
/// escapes (`\x1b`, `\u{202e}`).
fn comment_line(text: &str) -> String {
    let mut clean = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            c if !is_unsafe(c) => clean.push(c),
            c if (c as u32) < 0x80 => clean.push_str(&format!("\\x{:02x}", c as u32)),
            c => clean.push_str(&format!("\\u{{{:x}}}", c as u32)),
        }
    }
    if clean.trim().is_empty() {
        "#\n".into()
    } else {
        format!("# {}\n", clean.trim_end())
    }
}

/// serde_yaml's output with every scalar that holds a character a terminal
/// may interpret written double-quoted, with that character as a `\u`
/// escape: the same value, shown safely. (libyaml escapes C0 and C1
/// controls and DEL by itself, but writes the bidirectional marks as they
/// are, unquoted when nothing else needs quotes.) The spec's YAML is block
/// mappings and sequences of single-line scalars, which is all this reads.
fn escape_scalars(yaml: &str) -> String {
    if !yaml.chars().any(is_unsafe_inline) {
        return yaml.to_string();
    }
    let mut out = String::with_capacity(yaml.len() + 16);
    for line in yaml.split_inclusive('\n') {
        let (body, end) = match line.strip_suffix('\n') {
            Some(b) => (b, "\n"),
            None => (line, ""),
        };
        if body.chars().any(is_unsafe_inline) {
            out.push_str(&escape_line(body));
        } else {
            out.push_str(body);
        }
        out.push_str(end);
    }
    out
}

/// [`is_unsafe`], apart from the line breaks that lay YAML out.
fn is_unsafe_inline(c: char) -> bool {
    c != '\n' && is_unsafe(c)
}

/// One line of block YAML (`key: value`, `- value`, `- key: value`,
/// `key:`), its scalars that hold unsafe characters double-quoted.
fn escape_line(line: &str) -> String {
    let indent = line.len() - line.trim_start_matches(' ').len();
    let mut out = line[..indent].to_string();
    let mut rest = &line[indent..];
    while let Some(r) = rest.strip_prefix("- ") {
        out.push_str("- ");
        rest = r;
    }
    // A key, then `:` and maybe a value; or a value alone.
    let (first, after) = scalar(rest);
    out.push_str(&quoted_if_unsafe(first));
    match after.strip_prefix(':') {
        Some(value) if value.is_empty() || value.starts_with(' ') => {
            out.push(':');
            let value = value.trim_start_matches(' ');
            if !value.is_empty() {
                out.push(' ');
                let (v, tail) = scalar(value);
                out.push_str(&quoted_if_unsafe(v));
                out.push_str(tail);
            }
        }
        _ => out.push_str(after),
    }
    out
}

/// The scalar at the start of `s` (double-quoted, single-quoted, or plain up
/// to `: ` or the end) and what follows it.
fn scalar(s: &str) -> (&str, &str) {
    let mut chars = s.char_indices();
    match chars.next() {
        Some((_, '"')) => {
            let mut escaped = false;
            for (i, c) in chars {
                match c {
                    '\\' if !escaped => escaped = true,
                    '"' if !escaped => return s.split_at(i + 1),
                    _ => escaped = false,
                }
            }
            (s, "")
        }
        Some((_, '\'')) => {
            let b = s.as_bytes();
            let mut i = 1;
            while i < b.len() {
                if b[i] == b'\'' {
                    if b.get(i + 1) == Some(&b'\'') {
                        i += 2;
                        continue;
                    }
                    return s.split_at(i + 1);
                }
                i += 1;
            }
            (s, "")
        }
        _ => {
            let end = s
                .find(": ")
                .or_else(|| s.strip_suffix(':').map(|k| k.len()))
                .unwrap_or(s.len());
            s.split_at(end)
        }
    }
}

/// A scalar token as written, or, when it holds an unsafe character, the
/// same value double-quoted with that character escaped.
fn quoted_if_unsafe(token: &str) -> String {
    if !token.chars().any(is_unsafe_inline) {
        return token.to_string();
    }
    let value: String =
        if let Some(inner) = token.strip_prefix('"').and_then(|t| t.strip_suffix('"')) {
            // Escapes stay as written; only raw unsafe characters change.
            let mut out = String::from("\"");
            for c in inner.chars() {
                if is_unsafe_inline(c) {
                    out.push_str(&format!("\\u{:04X}", c as u32));
                } else {
                    out.push(c);
                }
            }
            out.push('"');
            return out;
        } else if let Some(inner) = token.strip_prefix('\'').and_then(|t| t.strip_suffix('\'')) {
            inner.replace("''", "'")
        } else {
            token.to_string()
        };
    let mut out = String::from("\"");
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if is_unsafe_inline(c) => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests;
