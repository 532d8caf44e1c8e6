//! `ops::add_builder` against two oracles, on every `fixtures/add-builder`
//! case that edits:
//! - real Nix with the module model of `crates/testkit/nix/nixos.nix`: the
//!   edited configuration has exactly the `nix.buildMachines` entries it had,
//!   with the requested builder added or updated in place (or removed), with
//!   the requested fields, as NixOS's `nix-remote-build.nix` reads them
//!   (its defaults applied, `system` winning over `systems`), and
//!   `distributedBuilds = true`;
//! - with `NIXCROSS_NIXPKGS_LIB` set, the same for module files with the
//!   real nixpkgs lib (`lib.evalModules`, the option types of
//!   nix-remote-build.nix in `crates/testkit/nix/remote-build.nix`);
//! - the input itself: adding a builder the input does not list and then
//!   removing it gives back the original bytes of every file.

#[path = "support/module.rs"]
mod module;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use nixcross::files::{MemFiles, RelPath};
use nixcross::ops::add_builder::{add_builder, builder_system, AddBuilderOptions};
use serde_json::{json, Value};

/// A successful fixture: its files before and after, and the options.
struct Case {
    name: String,
    before: BTreeMap<String, String>,
    after: BTreeMap<String, String>,
    opts: AddBuilderOptions,
    /// The file the command edits (or the flake).
    path: String,
}

fn options(args: &[String]) -> (AddBuilderOptions, Option<String>) {
    let mut o = AddBuilderOptions {
        uri: args[1].clone(),
        ..AddBuilderOptions::default()
    };
    let mut file = None;
    let mut i = 2;
    while i < args.len() {
        let v = args.get(i + 1).cloned().unwrap_or_default();
        match args[i].as_str() {
            "--system" => o.systems.push(v),
            "--max-jobs" => o.max_jobs = v.parse().ok(),
            "--speed-factor" => o.speed_factor = v.parse().ok(),
            "--feature" => o.features.push(v),
            "--mandatory-feature" => o.mandatory_features.push(v),
            "--ssh-key" => o.ssh_key = Some(v),
            "--host-key" => o.host_key = Some(v),
            "--config" => o.config = Some(v),
            "-f" => file = Some(v),
            "--remove" => {
                o.remove = true;
                i += 1;
                continue;
            }
            _ => {
                i += 1;
                continue;
            }
        }
        i += 2;
    }
    (o, file)
}

fn cases() -> Vec<Case> {
    let root = nixcross_testkit::repo_root().join("fixtures/add-builder");
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&root)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    dirs.sort();
    let mut out = Vec::new();
    for dir in dirs {
        let args: Vec<String> = std::fs::read_to_string(dir.join("args"))
            .unwrap()
            .split_whitespace()
            .map(str::to_string)
            .collect();
        let (opts, file) = options(&args);
        let (mut before, mut after) = (BTreeMap::new(), BTreeMap::new());
        let path;
        if dir.join("input.nix").is_file() && dir.join("expected.nix").is_file() {
            before.insert(
                "configuration.nix".into(),
                std::fs::read_to_string(dir.join("input.nix")).unwrap(),
            );
            after.insert(
                "configuration.nix".into(),
                std::fs::read_to_string(dir.join("expected.nix")).unwrap(),
            );
            path = "configuration.nix".to_string();
        } else if dir.join("input").is_dir() && dir.join("expected").is_dir() {
            before = nixcross_testkit::read_tree(&dir.join("input"));
            after = nixcross_testkit::read_tree(&dir.join("expected"));
            path = file.unwrap_or_else(|| "flake.nix".into());
        } else {
            continue;
        }
        out.push(Case {
            name: dir.file_name().unwrap().to_string_lossy().into_owned(),
            before,
            after,
            opts,
            path,
        });
    }
    assert!(
        out.len() >= 25,
        "expected the add-builder fixtures, found {}",
        out.len()
    );
    out
}

fn mem(tree: &BTreeMap<String, String>) -> MemFiles {
    let mut files = MemFiles::new();
    for (p, t) in tree {
        files.insert(p, t.clone());
    }
    files
}

/// Run the operation on `tree`; the tree afterwards.
fn run(
    tree: &BTreeMap<String, String>,
    path: &str,
    opts: &AddBuilderOptions,
) -> BTreeMap<String, String> {
    let out = add_builder(&mem(tree), &RelPath::new(path).unwrap(), opts)
        .unwrap_or_else(|e| panic!("{path}: {e:?}"));
    let mut after = tree.clone();
    for c in out.changes {
        after.insert(c.path.as_str().to_string(), c.after);
    }
    after
}

#[test]
fn the_library_gives_the_fixtures_and_add_then_remove_gives_back_the_bytes() {
    let mut round_trips = 0;
    for case in cases() {
        assert_eq!(
            run(&case.before, &case.path, &case.opts),
            case.after,
            "{}",
            case.name
        );
        let host = case.opts.uri.rsplit(['@', '/']).next().unwrap().to_string();
        let listed = case
            .before
            .values()
            .any(|t| t.contains(&format!("hostName = \"{host}\"")));
        if case.opts.remove || listed {
            continue;
        }
        let mut remove = case.opts.clone();
        remove.remove = true;
        remove.systems.clear();
        remove.max_jobs = None;
        remove.speed_factor = None;
        remove.features.clear();
        remove.mandatory_features.clear();
        remove.ssh_key = None;
        remove.host_key = None;
        let back = run(&case.after, &case.path, &remove);
        // A `false` nixcross turned into `true` stays true (it was not
        // nixcross's), and a list left empty goes with its binding.
        if matches!(case.name.as_str(), "distributed-false" | "empty-list") {
            continue;
        }
        // With other builders left, the settings nixcross added for them stay
        // (marked); everything else is as it was.
        let others = case.before.values().any(|t| t.contains("hostName"));
        let back = if others {
            back.into_iter()
                .map(|(p, t)| {
                    let kept: Vec<&str> = t
                        .split_inclusive('\n')
                        .filter(|l| !l.contains("# nixcross add-builder"))
                        .collect();
                    (p, kept.concat())
                })
                .collect()
        } else {
            back
        };
        assert_eq!(
            back, case.before,
            "{}: add then remove is not a round trip",
            case.name
        );
        round_trips += 1;
    }
    assert!(round_trips >= 15, "only {round_trips} round trips");
}

/// The configuration's builder settings as the module model evaluates them.
fn evaluate(
    nix: &nixcross_testkit::Nix,
    case: &Case,
    tree: &BTreeMap<String, String>,
) -> Result<Value, String> {
    let model = nixcross_testkit::model_dir(|| "{}".into());
    let dir = tempfile::tempdir().unwrap();
    for (p, t) in tree {
        let f = dir.path().join(p);
        std::fs::create_dir_all(f.parent().unwrap()).unwrap();
        std::fs::write(f, t).unwrap();
    }
    let expr = match &case.opts.config {
        None => format!(
            "(import {}/nixos.nix {{ }}).evalConfig {{ modules = [ {} ]; }}",
            model.display(),
            module::nixos_module_expr(
                &case.path,
                tree.get(&case.path).map_or("", String::as_str),
                &model
            )
        ),
        Some(name) => format!(
            "(import {}/flake-eval.nix {{ dir = {}; }}).{name}",
            model.display(),
            dir.path().display()
        ),
    };
    let json = nix.eval_json(dir.path(), &format!("let c = {expr}; in {{ inherit (c) buildMachines distributedBuilds buildersUseSubstitutes; }}"))?;
    serde_json::from_str(&json).map_err(|e| e.to_string())
}

/// An entry as NixOS reads it: nix-remote-build.nix's defaults applied and
/// `system` folded into `systems`.
fn normalize(entry: &Value) -> Value {
    let mut m = json!({
        "protocol": "ssh", "sshUser": null, "sshKey": null, "maxJobs": 1, "speedFactor": 1,
        "supportedFeatures": [], "mandatoryFeatures": [], "publicHostKey": null, "systems": []
    });
    for (k, v) in entry.as_object().unwrap() {
        m[k] = v.clone();
    }
    if let Some(s) = entry.get("system").filter(|s| !s.is_null()) {
        m["systems"] = json!([s]);
    }
    m.as_object_mut().unwrap().remove("system");
    m
}

/// The entries the request should leave: `before` with the builder updated
/// in place, appended, or removed.
fn expected_entries(case: &Case, before: &[Value]) -> Vec<Value> {
    let o = &case.opts;
    let (scheme, rest) = o.uri.split_once("://").unwrap();
    let (user, host) = match rest.rsplit_once('@') {
        Some((u, h)) => (Some(u), h),
        None => (None, rest),
    };
    let is_it = |e: &Value| e["hostName"] == host && e["protocol"] == scheme;
    if o.remove {
        return before.iter().filter(|e| !is_it(e)).cloned().collect();
    }
    let mut out: Vec<Value> = before.to_vec();
    let at = out.iter().position(is_it);
    let mut e = match at {
        Some(i) => out[i].clone(),
        None => normalize(&json!({ "hostName": host, "protocol": scheme })),
    };
    if let Some(u) = user {
        e["sshUser"] = json!(u);
    }
    let mut systems: Vec<String> = Vec::new();
    for s in &o.systems {
        let s = builder_system(s).unwrap();
        if !systems.contains(&s) {
            systems.push(s);
        }
    }
    e["systems"] = json!(systems);
    if let Some(n) = o.max_jobs {
        e["maxJobs"] = json!(n);
    }
    if let Some(n) = o.speed_factor {
        e["speedFactor"] = json!(n);
    }
    if !o.features.is_empty() {
        e["supportedFeatures"] = json!(o.features);
    }
    if !o.mandatory_features.is_empty() {
        e["mandatoryFeatures"] = json!(o.mandatory_features);
    }
    if let Some(k) = &o.ssh_key {
        e["sshKey"] = json!(k);
    }
    if let Some(k) = &o.host_key {
        e["publicHostKey"] = json!(k);
    }
    match at {
        Some(i) => out[i] = e,
        None => out.push(e),
    }
    out
}

/// Lists compare as sets where NixOS treats them as sets.
fn canonical(entries: &[Value]) -> Vec<Value> {
    entries
        .iter()
        .map(|e| {
            let mut e = e.clone();
            for k in ["systems", "supportedFeatures", "mandatoryFeatures"] {
                if let Some(a) = e[k].as_array_mut() {
                    a.sort_by_key(Value::to_string);
                }
            }
            e
        })
        .collect()
}

/// The same with the real nixpkgs lib (`lib.evalModules` and the option
/// types of nix-remote-build.nix, `crates/testkit/nix/remote-build.nix`),
/// for module files; opt-in: `NIXCROSS_NIXPKGS_LIB=/path/to/nixpkgs/lib`.
fn evaluate_real_lib(
    nix: &nixcross_testkit::Nix,
    lib: &Path,
    case: &Case,
    tree: &BTreeMap<String, String>,
) -> Result<Value, String> {
    let model = nixcross_testkit::model_dir(|| "{}".into());
    let dir = tempfile::tempdir().unwrap();
    for (p, t) in tree {
        let f = dir.path().join(p);
        std::fs::create_dir_all(f.parent().unwrap()).unwrap();
        std::fs::write(f, t).unwrap();
    }
    // The conditions of the fixtures' mkIf modules hold, and a fleet of one
    // machine is passed to the module that maps it. A flake-parts
    // module is evaluated through the NixOS module it declares, as the
    // model's evaluation does.
    let module = module::nixos_module_expr(
        &case.path,
        tree.get(&case.path).map_or("", String::as_str),
        &model,
    );
    let expr = format!(
        "let
           lib = import {lib};
           c = (lib.evalModules {{
             modules = [ {model}/remote-build.nix ({module}) {{ desk.builders = true; services.xserver.enable = true; }} ];
             specialArgs = {{ pkgs = {{ git = \"git\"; nixVersions.stable = \"nix\"; }}; modulesPath = \"/modulesPath\"; machines = [ {{ name = \"fleet-a\"; }} ]; }};
           }}).config;
         in {{
           buildMachines = c.nix.buildMachines;
           distributedBuilds = c.nix.distributedBuilds;
           buildersUseSubstitutes = c.nix.settings.builders-use-substitutes;
         }}",
        lib = lib.display(),
        model = model.display(),
    );
    let json = nix.eval_json(dir.path(), &expr)?;
    serde_json::from_str(&json).map_err(|e| e.to_string())
}

/// How a test evaluates a case's tree: its builder settings as JSON.
type Evaluate<'a> = dyn Fn(&Case, &BTreeMap<String, String>) -> Result<Value, String> + 'a;

/// Evaluate every case before and after with `eval`; the cases checked
/// and the ones skipped (their input does not evaluate), with why.
fn check_builders(eval: &Evaluate, skip: &dyn Fn(&Case) -> bool) -> (usize, Vec<String>) {
    let mut checked = 0;
    let mut skipped = Vec::new();
    for case in cases() {
        if skip(&case) {
            continue;
        }
        let before = match eval(&case, &case.before) {
            Ok(v) => v,
            Err(e) => {
                // Conditions on options the model does not have, imports of
                // files the fixture does not ship.
                skipped.push(format!(
                    "{}: {}",
                    case.name,
                    e.lines().find(|l| l.contains("error")).unwrap_or("")
                ));
                continue;
            }
        };
        let after = eval(&case, &case.after).unwrap_or_else(|e| {
            panic!(
                "{}: the edited configuration does not evaluate: {e}",
                case.name
            )
        });
        let list = |v: &Value| -> Vec<Value> {
            v["buildMachines"]
                .as_array()
                .unwrap()
                .iter()
                .map(normalize)
                .collect()
        };
        let want = expected_entries(&case, &list(&before));
        assert_eq!(
            canonical(&list(&after)),
            canonical(&want),
            "{}: nix.buildMachines",
            case.name
        );
        if !case.opts.remove {
            assert_eq!(after["distributedBuilds"], true, "{}", case.name);
            let b = &before["buildersUseSubstitutes"];
            let extra = case.before.values().any(|t| t.contains("extraOptions"));
            let want = if b.is_null() && !extra {
                json!(true)
            } else {
                b.clone()
            };
            assert_eq!(after["buildersUseSubstitutes"], want, "{}", case.name);
        }
        checked += 1;
    }
    (checked, skipped)
}

#[test]
#[ignore = "needs NIXCROSS_NIXPKGS_LIB, a nixpkgs lib/ folder (CI has none); run with -- --ignored"]
fn the_real_lib_sees_exactly_the_requested_builders() {
    let lib = std::env::var_os("NIXCROSS_NIXPKGS_LIB")
        .expect("set NIXCROSS_NIXPKGS_LIB to a nixpkgs lib/ folder");
    let Some(nix) = nixcross_testkit::nix("the_real_lib_sees_exactly_the_requested_builders")
    else {
        return;
    };
    let lib = PathBuf::from(lib);
    let (checked, skipped) = check_builders(&|c, t| evaluate_real_lib(&nix, &lib, c, t), &|c| {
        c.opts.config.is_some()
    });
    eprintln!(
        "real lib: checked {checked}; skipped {}: {skipped:#?}",
        skipped.len()
    );
    assert!(skipped.is_empty(), "{skipped:#?}");
    assert!(checked >= 25, "only {checked} module cases evaluated");
}

#[test]
fn nix_sees_exactly_the_requested_builders() {
    let Some(nix) = nixcross_testkit::nix("nix_sees_exactly_the_requested_builders") else {
        return;
    };
    let (checked, skipped) = check_builders(&|c, t| evaluate(&nix, c, t), &|_| false);
    eprintln!("checked {checked}; skipped {}: {skipped:#?}", skipped.len());
    assert!(
        checked >= 20,
        "only {checked} cases evaluated; skipped: {skipped:#?}"
    );
}
