//! Meaning, across files: every edit fixture of `set-target`, `add-overlay`
//! and `emulate --config` is evaluated by real Nix before and after, with
//! the module model in `crates/testkit/nix/nixos.nix` (platforms as NixOS
//! decides them, emulated systems, scoped package sets). The edited
//! configuration must mean what the fixture's arguments asked for, without
//! mixing option styles; every other configuration must mean what it meant
//! before.

use std::path::{Path, PathBuf};

use serde_json::Value;

/// A fixture's input and output trees, as folders with a flake.nix.
struct Case {
    name: String,
    args: Vec<String>,
    before: tempfile::TempDir,
    after: tempfile::TempDir,
}

/// The edit cases of `op` whose trees hold a flake.
fn cases(op: &str) -> Vec<Case> {
    let root = nixcross_testkit::repo_root().join("fixtures").join(op);
    let mut out = Vec::new();
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&root)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    dirs.sort();
    for dir in dirs {
        let args: Vec<String> = std::fs::read_to_string(dir.join("args"))
            .unwrap()
            .split_whitespace()
            .map(str::to_string)
            .collect();
        let (before, after) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        if dir.join("input").is_dir() && dir.join("expected").is_dir() {
            nixcross_testkit::copy_tree(&dir.join("input"), before.path());
            nixcross_testkit::copy_tree(&dir.join("expected"), after.path());
        } else if dir.join("input.nix").is_file() && dir.join("expected.nix").is_file() {
            if args.iter().any(|a| a == "configuration.nix") {
                continue; // a module file, not a flake
            }
            std::fs::copy(dir.join("input.nix"), before.path().join("flake.nix")).unwrap();
            std::fs::copy(dir.join("expected.nix"), after.path().join("flake.nix")).unwrap();
        } else {
            continue; // a refusal or a read-only case
        }
        if !before.path().join("flake.nix").is_file() {
            continue;
        }
        out.push(Case {
            name: format!("{op}/{}", dir.file_name().unwrap().to_string_lossy()),
            args,
            before,
            after,
        });
    }
    out
}

/// Every file of a tree, by path, with its text.
fn texts(dir: &Path) -> Vec<(PathBuf, String)> {
    let mut out = Vec::new();
    let mut work = vec![dir.to_path_buf()];
    while let Some(d) = work.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                work.push(p);
            } else {
                out.push((
                    p.strip_prefix(dir).unwrap().to_path_buf(),
                    std::fs::read_to_string(&p).unwrap(),
                ));
            }
        }
    }
    out.sort();
    out
}

/// Evaluate every configuration of the flake in `dir`.
fn evaluate(
    nix: &nixcross_testkit::Nix,
    dir: &Path,
) -> Result<serde_json::Map<String, Value>, String> {
    let model = nixcross_testkit::model_dir(|| {
        let examples: serde_json::Map<String, Value> = nixcross::platform::catalogue()
            .examples
            .iter()
            .map(|e| (e.name.clone(), e.config.clone().into()))
            .collect();
        Value::Object(examples).to_string()
    });
    nix.eval_flake(&model, dir)
}

fn double(v: &Value) -> Option<String> {
    nixcross::platform::resolve(v.as_str()?)
        .ok()
        .map(|t| t.system)
}

fn flag<'a>(args: &'a [String], name: &str) -> Option<&'a str> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .map(String::as_str)
}

/// The configuration a case edits: `--config`, or the only one.
fn edited(case: &Case, before: &serde_json::Map<String, Value>) -> String {
    match flag(&case.args, "--config") {
        Some(c) => c.to_string(),
        None => before.keys().next().cloned().expect("a configuration"),
    }
}

/// Every other configuration means what it meant.
fn others_unchanged(
    case: &Case,
    edited: &str,
    before: &serde_json::Map<String, Value>,
    after: &serde_json::Map<String, Value>,
) -> Result<(), String> {
    for (name, b) in before {
        if name == edited {
            continue;
        }
        if after.get(name) != Some(b) {
            return Err(format!(
                "{}: `{name}` changed: before {b}, after {}",
                case.name,
                after.get(name).map_or("missing".into(), Value::to_string)
            ));
        }
    }
    Ok(())
}

fn run(op: &str, check: impl Fn(&Case, &str, &Value, &Value) -> Result<(), String>) {
    let Some(nix) = nixcross_testkit::nix(op) else {
        return;
    };
    let mut failures = Vec::new();
    let mut checked = 0;
    for case in cases(op) {
        let (before, after) = match (
            evaluate(&nix, case.before.path()),
            evaluate(&nix, case.after.path()),
        ) {
            (Ok(b), Ok(a)) => (b, a),
            (Err(e), _) | (_, Err(e)) => {
                failures.push(format!("{}: does not evaluate:\n{e}", case.name));
                continue;
            }
        };
        let name = edited(&case, &before);
        let (Some(b), Some(a)) = (before.get(&name), after.get(&name)) else {
            failures.push(format!("{}: no configuration `{name}`", case.name));
            continue;
        };
        if let Some(e) = a.get("error") {
            failures.push(format!(
                "{}: `{name}` does not evaluate after the edit: {e}",
                case.name
            ));
            continue;
        }
        if a["mixed"] == Value::Bool(true) {
            failures.push(format!(
                "{}: `{name}` mixes crossSystem/localSystem with hostPlatform",
                case.name
            ));
        }
        if let Err(e) =
            check(&case, &name, b, a).and_then(|_| others_unchanged(&case, &name, &before, &after))
        {
            failures.push(e);
        }
        checked += 1;
    }
    assert!(checked > 0, "no {op} case was checked");
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    eprintln!("{op}: {checked} cases mean what they ask for");
}

#[test]
fn set_target_means_the_requested_platforms() {
    run("set-target", |case, name, before, after| {
        // `set-target T` or `set-target --target T`.
        let named = flag(&case.args, "--target").unwrap_or(&case.args[1]);
        let target = nixcross::platform::resolve(named).unwrap().system;
        let mode = flag(&case.args, "--mode").unwrap();
        let host = double(&after["host"]);
        let build = double(&after["build"]);
        let want_build = match mode {
            "emulate" | "native" => target.clone(),
            _ => match flag(&case.args, "--host") {
                Some(h) => nixcross::platform::resolve(h).unwrap().system,
                None => match (double(&before["build"]), double(&before["host"])) {
                    (Some(b), Some(h)) if b != h => b,
                    _ => nixcross::platform::current_system().unwrap(),
                },
            },
        };
        if host.as_deref() != Some(target.as_str()) || build.as_deref() != Some(want_build.as_str())
        {
            return Err(format!(
                "{}: `{name}` is built on {build:?} for {host:?}, not on {want_build} for {target}",
                case.name
            ));
        }
        // Scoped package sets follow an edit (a case whose expected tree is
        // its input, "already up to date", leaves a set as its author wrote
        // it).
        let edited = texts(case.before.path()) != texts(case.after.path());
        if let Some(sets) = after["scoped"].as_object().filter(|_| edited) {
            for (set, v) in sets {
                let local = double(&v["local"]);
                let cross = double(&v["cross"]).or(local.clone());
                if local.as_deref() != Some(want_build.as_str())
                    || cross.as_deref() != Some(target.as_str())
                {
                    return Err(format!(
                        "{}: the scoped set `{set}` is on {local:?} for {cross:?}, not on {want_build} for {target}",
                        case.name
                    ));
                }
            }
        }
        Ok(())
    });
}

#[test]
fn add_overlay_keeps_the_platforms_and_scopes_the_set() {
    run("add-overlay", |case, name, before, after| {
        for key in ["build", "host", "style"] {
            if before[key] != after[key] {
                return Err(format!("{}: `{name}`'s {key} changed", case.name));
            }
        }
        let scoped = case.args.iter().any(|a| a == "--scoped");
        if scoped && case.args.iter().any(|a| a == "--remove") {
            // A set left without overlays goes; none comes.
            let count = |v: &Value| v.as_object().map_or(0, |m| m.len());
            if count(&after["scoped"]) > count(&before["scoped"]) {
                return Err(format!("{}: `{name}` got a scoped set", case.name));
            }
            return Ok(());
        }
        if !scoped {
            let (b, a) = (before["overlays"].as_u64(), after["overlays"].as_u64());
            if a < b || a == Some(0) {
                return Err(format!(
                    "{}: `{name}` has {a:?} overlays, before {b:?}",
                    case.name
                ));
            }
            return Ok(());
        }
        let instance = flag(&case.args, "--instance")
            .map(str::to_string)
            .unwrap_or_else(|| {
                let pkg = case.args[1].split('=').nth(1).unwrap();
                format!("pkgs-{}", pkg.rsplit('.').next().unwrap())
            });
        let Some(set) = after["scoped"].get(&instance) else {
            return Err(format!("{}: `{name}` receives no `{instance}`", case.name));
        };
        let local = double(&set["local"]);
        let cross = double(&set["cross"]).or(local.clone());
        if local != double(&after["build"]) || cross != double(&after["host"]) {
            return Err(format!(
                "{}: `{instance}` is on {local:?} for {cross:?}; the configuration on {} for {}",
                case.name, after["build"], after["host"]
            ));
        }
        Ok(())
    });
}

#[test]
fn emulate_in_a_configuration_means_those_systems() {
    run("emulate", |case, name, before, after| {
        let systems: Vec<String> = case.args[1..]
            .iter()
            .take_while(|a| !a.starts_with('-'))
            .map(|s| nixcross::ops::emulate::emulated_system(s).unwrap())
            .collect();
        let have: Vec<String> = after["emulatedSystems"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect();
        let remove = case.args.iter().any(|a| a == "--remove");
        for s in &systems {
            if have.contains(s) == remove {
                return Err(format!("{}: `{name}` emulates {have:?}", case.name));
            }
        }
        for key in ["build", "host"] {
            if before[key] != after[key] {
                return Err(format!("{}: `{name}`'s {key} changed", case.name));
            }
        }
        Ok(())
    });
}
