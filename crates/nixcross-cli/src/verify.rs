//! `--verify`: before an edit is written, ask the user's own Nix whether the
//! edited flake means what nixcross claims.
//!
//! Every edit carries claims ([`nixcross::edit::Claim`]) that the library
//! has already proven with its own reader. With `--verify`, the flake's
//! folder is copied into a temporary folder (without `.git`; symlinks that
//! stay inside are kept, the others left out), the planned changes are
//! written there, and `nix eval --json 'path:<copy>#nixosConfigurations."NAME"'
//! --apply '<function>'` runs once per edited configuration. The function
//! ([`function`]) returns exactly what that configuration's claims need
//! (its platforms, emulated systems, build-host switches, builders, the
//! names of overlaid packages), with `builtins.tryEval` and `or` so that a
//! missing or failing value is an answer, not a crash. The edit is written
//! only when every answer agrees ([`compare`]); otherwise both are shown
//! side by side and the command exits 1. When Nix cannot answer (not
//! installed, or the flake does not evaluate without the edit either) it
//! exits 2; both write nothing.

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsString;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use nixcross::edit::{Claim, Outcome, Subject};
use nixcross::files::RelPath;
use serde_json::Value;

use crate::common::status;
use crate::error::CliError;
use crate::exit::Exit;
use crate::tree::Located;

/// The environment variable that names the `nix` to run.
pub const NIX_ENV: &str = "NIXCROSS_NIX";

// The flag of every command that changes a flake's configuration. (Not a
// doc comment: clap would make it the `about` of the commands that flatten
// it; see `EditFlags`.)
#[derive(clap::Args, Debug, Clone, Default)]
pub struct VerifyFlag {
    /// Before writing, ask your own nix whether the edited flake means what
    /// nixcross says
    ///
    /// The flake's folder (without .git) is copied to a temporary folder,
    /// the edit applied there, and `nix eval 'path:<copy>#nixosConfigurations."NAME"'`
    /// runs once per edited configuration; a `path:` flake is copied to the
    /// Nix store, and each evaluation reads the configuration's nixpkgs, so
    /// this takes seconds to minutes. nixcross writes only when nix agrees
    /// with every claim of the edit; otherwise it shows both answers and
    /// exits 1. Without nix, or when the flake does not evaluate without the
    /// edit either, it exits 2. The nix it runs is $NIXCROSS_NIX, else `nix`
    /// on PATH (Nix 2.8 or newer; flakes are enabled for the call). A lone
    /// module file (-f without --config) cannot be verified.
    #[arg(long)]
    pub verify: bool,
}

/// Refuse `--verify` for edits Nix cannot be asked about through a flake:
/// a claim about a lone module file, an edit of a file that is not a
/// flake's `flake.nix`, and a change that claims nothing about a NixOS
/// configuration (a package or dev shell). Runs before anything else is
/// said, also when nothing would change.
pub fn refuse_unverifiable(parts: &[(&Located, Outcome)]) -> Result<(), CliError> {
    for (tree, out) in parts {
        if let Some(path) = out.claims.iter().find_map(|c| match c.subject() {
            Subject::Module(p) => Some(p),
            _ => None,
        }) {
            return Err(CliError::usage(format!(
                "--verify asks nix about a flake's nixosConfigurations, and {} is a module file on its own, \
                 which nix cannot evaluate as a configuration; run without --verify, or edit the \
                 configuration of a flake with --config NAME; nothing was written",
                tree.display(&path).display()
            )));
        }
        let claims_config = out
            .claims
            .iter()
            .any(|c| matches!(c.subject(), Subject::Config(_)));
        if !claims_config {
            if out.changed() {
                return Err(CliError::usage(
                    "--verify checks what an edit claims about NixOS configurations, and this edit \
                     claims nothing about one (a package or dev shell is not verified); run without \
                     --verify; nothing was written",
                ));
            }
            continue;
        }
        if tree.rel.as_str() != "flake.nix" {
            return Err(CliError::usage(format!(
                "--verify evaluates a flake, and {} is not a flake.nix; nothing was written",
                tree.display(&tree.rel).display()
            )));
        }
        if let Some(name) = out.claims.iter().find_map(|c| match c.subject() {
            Subject::Config(n) if n.contains('"') => Some(n),
            _ => None,
        }) {
            return Err(CliError::usage(format!(
                "--verify cannot name the configuration {name:?} to nix (a `\"` in an attribute path); nothing was written"
            )));
        }
    }
    Ok(())
}

/// Ask nix about every claim of every changed part; `Ok` when it agrees
/// with all of them (and says so on stderr).
pub fn verify(parts: &[(&Located, Outcome)]) -> Result<(), CliError> {
    let nix = Nix::from_env();
    let mut disagreements: Vec<(String, String)> = Vec::new();
    let mut agreed: Vec<String> = Vec::new();
    for (tree, out) in parts {
        if !out.changed() {
            continue;
        }
        let mut by_config: BTreeMap<String, Vec<&Claim>> = BTreeMap::new();
        for c in &out.claims {
            if let Subject::Config(name) = c.subject() {
                by_config.entry(name).or_default().push(c);
            }
        }
        if by_config.is_empty() {
            continue;
        }
        let root = tree.path(&RelPath::root());
        // A file the edit creates has no text before it (nothing to write).
        let texts = |after: bool| -> Vec<(&RelPath, &str)> {
            out.changes
                .iter()
                .map(|c| (&c.path, if after { &c.after } else { &c.before }.as_str()))
                .filter(|(_, t)| after || !t.is_empty())
                .collect()
        };
        let edited = Copy::make(&root, &texts(true))?;
        let mut original: Option<Copy> = None;
        for (name, claims) in &by_config {
            status(&format!(
                "verify: asking nix about `{name}` (nix eval of a copy of the flake's folder) ..."
            ));
            let apply = function(claims);
            match nix.eval(&edited.dir, Some(name), &apply) {
                Ok(answer) => {
                    for (c, r) in claims.iter().zip(compare_all(claims, &answer)) {
                        match r {
                            Ok(()) => agreed.push(c.to_string()),
                            Err(said) => disagreements.push((c.to_string(), said)),
                        }
                    }
                }
                Err(EvalError::Failed(edited_error)) => {
                    // Whether the edit broke it: the same question about the
                    // flake as it was read (the texts the edit was planned on).
                    if original.is_none() {
                        original = Some(Copy::make(&root, &texts(false))?);
                    }
                    let orig = original.as_ref().expect("made above");
                    let new_config = claims
                        .iter()
                        .any(|c| matches!(c, Claim::Configuration { .. }));
                    let before = if new_config {
                        nix.eval(&orig.dir, None, "builtins.attrNames")
                    } else {
                        nix.eval(&orig.dir, Some(name), &apply)
                    };
                    match before {
                        Ok(_) => {
                            let said: Vec<String> = claims.iter().map(|c| c.to_string()).collect();
                            disagreements.push((
                                said.join("; "),
                                format!(
                                    "the edited flake does not evaluate (it does without the edit):\n{}",
                                    indent(&edited_error)
                                ),
                            ));
                        }
                        Err(EvalError::Failed(e)) => {
                            return Err(CliError::usage(format!(
                                "--verify: nix cannot evaluate `{name}` of {}, with or without the edit, so it cannot check the edit; nothing was written{}\n  nix says:\n{}",
                                tree.display(&tree.rel).display(),
                                edited.skipped_note(),
                                indent(&e)
                            )));
                        }
                        Err(e) => return Err(e.into_cli(&nix)),
                    }
                }
                Err(e) => return Err(e.into_cli(&nix)),
            }
        }
    }
    if !disagreements.is_empty() {
        let mut message = String::from(
            "nix does not agree with what nixcross says the edit does; nothing was written",
        );
        for (said, nix_said) in &disagreements {
            let _ = write!(
                message,
                "\n  nixcross says: {said}\n  nix says:      {nix_said}"
            );
        }
        return Err(CliError {
            message,
            exit: Exit::CheckFailed,
        });
    }
    for a in agreed {
        status(&format!("verify: nix agrees: {a}"));
    }
    Ok(())
}

/// Lines of `s`, indented for a message.
fn indent(s: &str) -> String {
    s.lines()
        .map(|l| format!("    {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// A Nix string literal.
fn nix_str(s: &str) -> String {
    let mut out = String::from("\"");
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '$' if chars.peek() == Some(&'{') => out.push_str("\\$"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A Nix list of strings.
fn nix_list<'a>(items: impl IntoIterator<Item = &'a str>) -> String {
    let items: Vec<String> = items.into_iter().map(nix_str).collect();
    format!("[ {} ]", items.join(" "))
}

/// An attribute path (`python3Packages.numpy`) as a Nix list of names.
fn attr_path(dotted: &str) -> String {
    nix_list(dotted.split('.'))
}

/// What every question shares: `get` follows a path and gives null for a
/// missing attribute; `try` turns a failing value into `{ __failed = true; }`;
/// `name` is a package's name (a stand-in package may be a plain string);
/// `setOf` finds the package set, global (`c.pkgs`) or scoped (from
/// `_module.specialArgs` or `_module.args`, as lib/modules.nix keeps them);
/// `fresh` is the same nixpkgs with the same platforms and no overlays.
const PRELUDE: &str = r#"c:
let
  get = path: x: builtins.foldl' (v: n: if builtins.isAttrs v && v ? ${n} then v.${n} else null) x path;
  try = v: let r = builtins.tryEval (builtins.deepSeq v v); in if r.success then r.value else { __failed = true; };
  name = x: if builtins.isAttrs x then (x.name or null) else if builtins.isString x then x else null;
  config = c.config;
  list = v: if builtins.isList v then v else [ ];
  setOf = s:
    if s == null then (if c ? pkgs then c.pkgs else get [ "_module" "args" "pkgs" ] config)
    else
      let sa = get [ "_module" "specialArgs" ] config; ma = get [ "_module" "args" ] config;
      in if builtins.isAttrs sa && sa ? ${s} then sa.${s}
         else if builtins.isAttrs ma && ma ? ${s} then ma.${s}
         else null;
  fresh = p:
    let b = p.stdenv.buildPlatform; h = p.stdenv.hostPlatform;
    in import p.path ({ localSystem = b; }
      // (if (b.config or b.system) == (h.config or h.system) then { } else { crossSystem = h; }));
  overlay = s: attr: pkg:
    let r = builtins.tryEval (setOf s); p = if r.success then r.value else null;
    in {
      set = if r.success then p != null else { __failed = true; };
      attr = if p == null then null else try (name (get attr p));
      package = if p == null || pkg == null then null else try (name (get pkg p));
      plain = if p == null || pkg != null then null else try (name (get attr (fresh p)));
    };
  uses = s: pkg:
    let r = builtins.tryEval (setOf s); p = if r.success then r.value else null;
        want = if p == null then null else try (name (get pkg p));
        named = x: let n = builtins.tryEval (name x); in n.success && n.value == want;
    in {
      set = if r.success then p != null else { __failed = true; };
      package = want;
      installed = if builtins.isString want
        then try (builtins.any named (list (get [ "environment" "systemPackages" ] config)))
        else false;
    };
  machine = e: {
    hostName = e.hostName or null;
    protocol = e.protocol or "ssh";
    sshUser = e.sshUser or null;
    systems = (if (e.system or null) != null then [ e.system ] else [ ]) ++ (e.systems or [ ]);
    maxJobs = e.maxJobs or 1;
    speedFactor = e.speedFactor or 1;
    supportedFeatures = e.supportedFeatures or [ ];
    mandatoryFeatures = e.mandatoryFeatures or [ ];
    sshKey = e.sshKey or null;
    publicHostKey = e.publicHostKey or null;
  };
in
"#;

/// The `--apply` function for one configuration: a JSON object with what
/// its claims need, and nothing else (so that nothing else is evaluated).
pub fn function(claims: &[&Claim]) -> String {
    let mut fields: BTreeMap<&str, String> = BTreeMap::new();
    let mut overlays = Vec::new();
    let mut uses = Vec::new();
    let mut toggles = BTreeMap::new();
    for c in claims {
        match c {
            Claim::Platforms { .. } | Claim::Configuration { .. } => {
                fields.insert(
                    "build",
                    r#"try (get [ "nixpkgs" "buildPlatform" "system" ] config)"#.into(),
                );
                fields.insert(
                    "host",
                    r#"try (get [ "nixpkgs" "hostPlatform" "system" ] config)"#.into(),
                );
            }
            Claim::Emulated { .. } => {
                fields.insert(
                    "emulated",
                    r#"try (get [ "boot" "binfmt" "emulatedSystems" ] config)"#.into(),
                );
            }
            Claim::Toggle { option, .. } => {
                toggles.insert(
                    option.dotted(),
                    format!(
                        "try (get {} config)",
                        nix_list(option.path().iter().copied())
                    ),
                );
            }
            Claim::Builder { .. } => {
                fields.insert(
                    "builders",
                    r#"try (map machine (list (get [ "nix" "buildMachines" ] config)))"#.into(),
                );
            }
            Claim::Overlay {
                set, attr, package, ..
            } => overlays.push(format!(
                "(overlay {} {} {})",
                set.as_deref().map_or("null".into(), nix_str),
                attr_path(attr),
                package.as_deref().map_or("null".into(), attr_path)
            )),
            Claim::Uses { set, package, .. } => {
                uses.push(format!("(uses {} {})", nix_str(set), attr_path(package)))
            }
            _ => {}
        }
    }
    if !overlays.is_empty() {
        fields.insert("overlays", format!("[ {} ]", overlays.join(" ")));
    }
    if !uses.is_empty() {
        fields.insert("uses", format!("[ {} ]", uses.join(" ")));
    }
    if !toggles.is_empty() {
        let body: Vec<String> = toggles
            .iter()
            .map(|(k, v)| format!("{} = {v};", nix_str(k)))
            .collect();
        fields.insert("toggles", format!("{{ {} }}", body.join(" ")));
    }
    let body: Vec<String> = fields
        .iter()
        .map(|(k, v)| format!("  {k} = {v};"))
        .collect();
    format!("{PRELUDE}{{\n{}\n}}", body.join("\n"))
}

/// Whether a value of the answer failed to evaluate.
fn failed(v: &Value) -> bool {
    v.get("__failed").is_some()
}

/// A value of the answer, for a message.
fn show(v: &Value) -> String {
    if failed(v) {
        "an error (it does not evaluate)".into()
    } else if v.is_null() {
        "not set".into()
    } else {
        v.to_string()
    }
}

/// The system double of a platform as nix reported it (NixOS gives the
/// double; a stand-in may give what was written, such as a triple).
fn double(v: &Value) -> Option<String> {
    let s = v.as_str()?;
    Some(
        nixcross::platform::resolve(s)
            .map(|t| t.system)
            .unwrap_or_else(|_| s.to_string()),
    )
}

/// Whether nix's `answer` agrees with each of `claims` (the claims of one
/// configuration, in the order [`function`] listed them): `Err` says what
/// nix says.
fn compare_all(claims: &[&Claim], answer: &Value) -> Vec<Result<(), String>> {
    let mut n = Counters::default();
    claims.iter().map(|c| compare(c, answer, &mut n)).collect()
}

/// Positions in the answer's `overlays` and `uses` lists.
#[derive(Default)]
struct Counters {
    overlay: usize,
    uses: usize,
}

fn compare(claim: &Claim, answer: &Value, n: &mut Counters) -> Result<(), String> {
    match claim {
        Claim::Platforms { build, host, .. } | Claim::Configuration { build, host, .. } => {
            let (b, h) = (&answer["build"], &answer["host"]);
            if double(b).as_ref() == Some(build) && double(h).as_ref() == Some(host) {
                Ok(())
            } else {
                Err(format!(
                    "config.nixpkgs.buildPlatform.system is {}, config.nixpkgs.hostPlatform.system is {}",
                    show(b),
                    show(h)
                ))
            }
        }
        Claim::Emulated { system, listed, .. } => {
            let v = &answer["emulated"];
            let said = || format!("config.boot.binfmt.emulatedSystems is {}", show(v));
            let Some(list) = v.as_array() else {
                return Err(said());
            };
            let there = list.iter().any(|s| s.as_str() == Some(system));
            if there == *listed {
                Ok(())
            } else {
                Err(said())
            }
        }
        Claim::Toggle { option, value, .. } => {
            let v = &answer["toggles"][option.dotted()];
            let ok = match value {
                Some(b) => v.as_bool() == Some(*b),
                // Unset: the option's default (false), or absent.
                None => v.is_null() || v.as_bool() == Some(false),
            };
            if ok {
                Ok(())
            } else {
                Err(format!("config.{option} is {}", show(v)))
            }
        }
        Claim::Builder {
            host,
            protocol,
            fields,
            ..
        } => {
            let v = &answer["builders"];
            let Some(entries) = v.as_array() else {
                return Err(format!("config.nix.buildMachines is {}", show(v)));
            };
            let same: Vec<&Value> = entries
                .iter()
                .filter(|e| {
                    e["hostName"].as_str() == Some(host) && e["protocol"].as_str() == Some(protocol)
                })
                .collect();
            match fields {
                None if same.is_empty() => Ok(()),
                None => Err(format!(
                    "config.nix.buildMachines still has {}",
                    show(same[0])
                )),
                Some(want) => {
                    if same.iter().any(|e| builder_matches(e, want)) {
                        return Ok(());
                    }
                    match same.first() {
                        None => Err(format!(
                            "config.nix.buildMachines has no entry for {protocol}://{host} ({} entries)",
                            entries.len()
                        )),
                        Some(e) => Err(format!(
                            "config.nix.buildMachines has {}, which differs in {}",
                            show(e),
                            want.iter()
                                .filter(|(k, w)| !field_matches(&e[k.as_str()], w))
                                .map(|(k, _)| k.as_str())
                                .collect::<Vec<_>>()
                                .join(", ")
                        )),
                    }
                }
            }
        }
        Claim::Overlay {
            set, attr, package, ..
        } => {
            let i = n.overlay;
            n.overlay += 1;
            let v = &answer["overlays"][i];
            let where_ = match set {
                Some(s) => format!("{s} (from config._module.specialArgs or config._module.args)"),
                None => "pkgs".into(),
            };
            if failed(&v["set"]) {
                return Err(format!("{where_} is an error (it does not evaluate)"));
            }
            let present = v["set"].as_bool() == Some(true);
            match package {
                Some(p) => {
                    if !present {
                        return Err(format!("there is no package set {where_}"));
                    }
                    let (a, b) = (&v["attr"], &v["package"]);
                    if a.is_string() && a == b {
                        Ok(())
                    } else {
                        Err(format!(
                            "in {where_}, {attr} is {} and {p} is {}",
                            package_name(a),
                            package_name(b)
                        ))
                    }
                }
                None => {
                    if !present {
                        // The scoped set went with its last overlay.
                        return Ok(());
                    }
                    let (a, plain) = (&v["attr"], &v["plain"]);
                    if !failed(a) && a == plain {
                        Ok(())
                    } else {
                        Err(format!(
                            "in {where_}, {attr} is {}, but {} without overlays",
                            package_name(a),
                            package_name(plain)
                        ))
                    }
                }
            }
        }
        Claim::Uses { set, package, .. } => {
            let i = n.uses;
            n.uses += 1;
            let v = &answer["uses"][i];
            if v["installed"].as_bool() == Some(true) {
                Ok(())
            } else if v["set"].as_bool() != Some(true) {
                Err(format!(
                    "there is no package set {set} in config._module.specialArgs or config._module.args"
                ))
            } else {
                Err(format!(
                    "config.environment.systemPackages has no package named {} ({set}.{package})",
                    package_name(&v["package"])
                ))
            }
        }
        _ => Ok(()),
    }
}

/// A package's name from the answer, for a message.
fn package_name(v: &Value) -> String {
    if failed(v) {
        "an error (it does not evaluate)".into()
    } else if v.is_null() {
        "missing".into()
    } else {
        v.to_string()
    }
}

/// Whether a `nix.buildMachines` entry (as [`PRELUDE`]'s `machine` gives it)
/// has every field nixcross claims.
fn builder_matches(entry: &Value, want: &BTreeMap<String, String>) -> bool {
    want.iter()
        .all(|(k, w)| field_matches(&entry[k.as_str()], w))
}

/// One field of a builder: lists as sets of their items (the claim joins
/// them with `,`), numbers and strings as text.
fn field_matches(got: &Value, want: &str) -> bool {
    match got {
        Value::String(s) => s == want,
        Value::Number(n) => n.to_string() == want,
        Value::Array(items) => {
            let got: BTreeSet<&str> = items.iter().filter_map(Value::as_str).collect();
            let want: BTreeSet<&str> = want.split(',').filter(|s| !s.is_empty()).collect();
            got.len() == items.len() && got == want
        }
        Value::Bool(b) => want == if *b { "true" } else { "false" },
        Value::Null | Value::Object(_) => false,
    }
}

/// The `nix` to run.
struct Nix {
    bin: OsString,
}

/// Why nix gave no answer.
enum EvalError {
    /// There is no such program.
    Missing,
    /// It could not be started.
    Spawn(std::io::Error),
    /// It ran and failed: its error.
    Failed(String),
    /// It printed something that is not JSON.
    Garbled(String),
}

impl EvalError {
    fn into_cli(self, nix: &Nix) -> CliError {
        let bin = Path::new(&nix.bin).display().to_string();
        CliError::usage(match self {
            EvalError::Missing => format!(
                "--verify runs nix, and there is no `{bin}` ({NIX_ENV} names another; install Nix, or run without --verify); nothing was written"
            ),
            EvalError::Spawn(e) => {
                format!("--verify could not run `{bin}`: {e}; nothing was written")
            }
            EvalError::Failed(e) => {
                format!("--verify: nix failed; nothing was written\n  nix says:\n{}", indent(&e))
            }
            EvalError::Garbled(out) => format!(
                "--verify: `{bin}` did not answer with JSON; nothing was written\n  it said: {out}"
            ),
        })
    }
}

impl Nix {
    fn from_env() -> Nix {
        Nix {
            bin: std::env::var_os(NIX_ENV)
                .filter(|v| !v.is_empty())
                .unwrap_or_else(|| "nix".into()),
        }
    }

    /// `nix eval --json` of `nixosConfigurations."<name>"` (or of
    /// `nixosConfigurations` itself) of the flake in `dir`, through `apply`.
    fn eval(&self, dir: &Path, name: Option<&str>, apply: &str) -> Result<Value, EvalError> {
        let attr = match name {
            Some(n) => format!("nixosConfigurations.\"{n}\""),
            None => "nixosConfigurations".into(),
        };
        let out = Command::new(&self.bin)
            .args([
                "--extra-experimental-features",
                "nix-command flakes",
                "eval",
                "--json",
                "--no-write-lock-file",
            ])
            .arg(format!("path:{}#{attr}", dir.display()))
            .arg("--apply")
            .arg(apply)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .output()
            .map_err(|e| match e.kind() {
                std::io::ErrorKind::NotFound => EvalError::Missing,
                _ => EvalError::Spawn(e),
            })?;
        if !out.status.success() {
            return Err(EvalError::Failed(nix_error(&String::from_utf8_lossy(
                &out.stderr,
            ))));
        }
        let text = String::from_utf8_lossy(&out.stdout);
        serde_json::from_str(text.trim()).map_err(|_| {
            let mut shown: String = text.chars().take(400).collect();
            if shown.len() < text.len() {
                shown.push_str("...");
            }
            EvalError::Garbled(shown)
        })
    }
}

/// The error part of nix's stderr: from its first `error:` line (warnings
/// and notes about the lock file before it left out), at most 30 lines.
fn nix_error(stderr: &str) -> String {
    let lines: Vec<&str> = stderr.lines().collect();
    let start = lines
        .iter()
        .position(|l| l.starts_with("error:"))
        .unwrap_or(0);
    let mut kept: Vec<&str> = lines[start..].iter().copied().take(30).collect();
    while kept.last().is_some_and(|l| l.trim().is_empty()) {
        kept.pop();
    }
    if lines.len() - start > 30 {
        kept.push("...");
    }
    if kept.is_empty() {
        "(nix failed without a message)".into()
    } else {
        kept.join("\n")
    }
}

/// A copy of a flake's folder in a temporary folder, with the texts of the
/// files an edit changes (as it read them, or as it writes them) written
/// into it.
struct Copy {
    _tmp: tempfile::TempDir,
    dir: PathBuf,
    /// Symlinks and special files left out, by path in the folder.
    skipped: Vec<String>,
}

impl Copy {
    fn make(root: &Path, texts: &[(&RelPath, &str)]) -> Result<Copy, CliError> {
        let fail = |what: &str, e: std::io::Error| {
            CliError::usage(format!(
                "--verify could not {what}: {e}; nothing was written"
            ))
        };
        let tmp = tempfile::Builder::new()
            .prefix("nixcross-verify.")
            .tempdir()
            .map_err(|e| fail("make a temporary folder", e))?;
        let dir = tmp.path().to_path_buf();
        let plain = dir
            .to_str()
            .is_some_and(|s| !s.contains(|c: char| c.is_whitespace() || "#?%\"'".contains(c)));
        if !plain {
            return Err(CliError::usage(format!(
                "--verify: the temporary folder {} cannot be named in a path: flake reference; set TMPDIR to a plain path; nothing was written",
                dir.display()
            )));
        }
        let root = std::fs::canonicalize(root)
            .map_err(|e| fail(&format!("read {}", root.display()), e))?;
        let mut skipped = Vec::new();
        copy_dir(&root, &root, &dir, "", &mut skipped)
            .map_err(|e| fail("copy the flake's folder", e))?;
        for (path, text) in texts {
            let dest = dir.join(path.as_str());
            if let Some(parent) = dest.parent() {
                std::fs::create_dir_all(parent).map_err(|e| fail("write the edit", e))?;
            }
            std::fs::write(&dest, text).map_err(|e| fail("write the edit", e))?;
        }
        Ok(Copy {
            _tmp: tmp,
            dir,
            skipped,
        })
    }

    /// A note on what the copy left out, for a failed evaluation.
    fn skipped_note(&self) -> String {
        if self.skipped.is_empty() {
            return String::new();
        }
        let mut names = self.skipped.clone();
        let more = names.len().saturating_sub(5);
        names.truncate(5);
        let mut s = format!(
            " (the copy leaves out what points outside the folder: {}",
            names.join(", ")
        );
        if more > 0 {
            let _ = write!(s, " and {more} more");
        }
        s.push(')');
        s
    }
}

/// Copy the folder `from` (at `rel` in the flake's folder `root`, both
/// real paths) into `to`: files with their permissions, folders, and
/// symlinks whose target is inside `root` (as relative links); `.git`, and
/// links that lead outside or nowhere, are left out.
fn copy_dir(
    root: &Path,
    from: &Path,
    to: &Path,
    rel: &str,
    skipped: &mut Vec<String>,
) -> std::io::Result<()> {
    let mut entries: Vec<_> = std::fs::read_dir(from)?.collect::<Result<_, _>>()?;
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let name = entry.file_name();
        if name == ".git" {
            continue;
        }
        let shown = format!("{rel}{}", name.to_string_lossy());
        let src = entry.path();
        let dest = to.join(&name);
        let kind = entry.file_type()?;
        if kind.is_dir() {
            std::fs::create_dir(&dest)?;
            copy_dir(root, &src, &dest, &format!("{shown}/"), skipped)?;
        } else if kind.is_file() {
            std::fs::copy(&src, &dest)?;
        } else if kind.is_symlink() {
            match std::fs::canonicalize(&src) {
                Ok(real) if real.starts_with(root) => {
                    std::os::unix::fs::symlink(relative(from, &real), &dest)?;
                }
                _ => skipped.push(shown),
            }
        } else {
            skipped.push(shown);
        }
    }
    Ok(())
}

/// `to` relative to the folder `from` (both absolute, real paths).
fn relative(from: &Path, to: &Path) -> PathBuf {
    let from: Vec<_> = from.components().collect();
    let to_c: Vec<_> = to.components().collect();
    let common = from.iter().zip(&to_c).take_while(|(a, b)| a == b).count();
    let mut out = PathBuf::new();
    for _ in common..from.len() {
        out.push("..");
    }
    for c in &to_c[common..] {
        out.push(c);
    }
    if out.as_os_str().is_empty() {
        out.push(".");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn nix_strings_are_escaped() {
        assert_eq!(nix_str(r#"a"b\c${d}$e"#), r#""a\"b\\c\${d}$e""#);
        assert_eq!(
            attr_path("python3Packages.numpy"),
            r#"[ "python3Packages" "numpy" ]"#
        );
    }

    #[test]
    fn relative_paths_climb_to_the_common_folder() {
        assert_eq!(
            relative(Path::new("/r/a/b"), Path::new("/r/c/d.nix")),
            PathBuf::from("../../c/d.nix")
        );
        assert_eq!(
            relative(Path::new("/r"), Path::new("/r/x.nix")),
            PathBuf::from("x.nix")
        );
    }

    #[test]
    fn the_error_starts_at_nix_s_error_line() {
        let stderr = "warning: not writing modified lock file\n• Added input 'nixpkgs':\nerror: attribute 'x' missing\n\n       at foo\n";
        assert_eq!(
            nix_error(stderr),
            "error: attribute 'x' missing\n\n       at foo"
        );
    }

    #[test]
    fn answers_are_compared_claim_by_claim() {
        let platforms = Claim::Platforms {
            config: "b".into(),
            build: "x86_64-linux".into(),
            host: "riscv64-linux".into(),
        };
        let overlay = Claim::Overlay {
            config: "b".into(),
            set: None,
            attr: "gcc".into(),
            package: Some("gcc12".into()),
        };
        let removed = Claim::Overlay {
            config: "b".into(),
            set: Some("pkgs-gcc12".into()),
            attr: "gcc".into(),
            package: None,
        };
        let claims = [&platforms, &overlay, &removed];
        let f = function(&claims);
        assert!(f.contains(r#"(overlay null [ "gcc" ] [ "gcc12" ])"#), "{f}");
        assert!(
            f.contains(r#"(overlay "pkgs-gcc12" [ "gcc" ] null)"#),
            "{f}"
        );
        let good = json!({
            "build": "x86_64-linux", "host": "riscv64-unknown-linux-gnu",
            "overlays": [
                { "set": true, "attr": "gcc12", "package": "gcc12", "plain": null },
                { "set": false, "attr": null, "package": null, "plain": null }
            ]
        });
        assert!(compare_all(&claims, &good).iter().all(Result::is_ok));
        let bad = json!({
            "build": "riscv64-linux", "host": "riscv64-linux",
            "overlays": [
                { "set": true, "attr": "gcc11", "package": "gcc12", "plain": null },
                { "set": true, "attr": "gcc12", "package": null, "plain": "gcc11" }
            ]
        });
        let r = compare_all(&claims, &bad);
        assert!(r.iter().all(Result::is_err), "{r:?}");
        assert_eq!(
            r[1].as_ref().unwrap_err(),
            r#"in pkgs, gcc is "gcc11" and gcc12 is "gcc12""#
        );
    }

    #[test]
    fn builder_fields_compare_as_nixos_reads_them() {
        let want: BTreeMap<String, String> = [
            ("hostName", "pi5"),
            ("protocol", "ssh-ng"),
            ("systems", "aarch64-linux,armv7l-linux"),
            ("maxJobs", "4"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let entry = json!({ "hostName": "pi5", "protocol": "ssh-ng",
            "systems": ["armv7l-linux", "aarch64-linux"], "maxJobs": 4 });
        assert!(builder_matches(&entry, &want));
        let entry = json!({ "hostName": "pi5", "protocol": "ssh-ng",
            "systems": ["aarch64-linux"], "maxJobs": 4 });
        assert!(!builder_matches(&entry, &want));
    }
}
