//! Meaning: every `fixtures/apply` case that edits is evaluated by real Nix
//! before and after, with the module model of `crates/testkit/nix/nixos.nix`
//! (platforms as NixOS decides them, overlays, scoped package sets,
//! emulated systems). After `apply`, each configuration the spec names
//! must be built on and for what the spec says, in the style it says,
//! without mixing styles, with at least as many global overlays as the
//! spec lists and each scoped set on the configuration's platforms; the
//! build host must emulate what the spec lists; every configuration the
//! spec does not name must mean what it meant before.

use std::path::{Path, PathBuf};

use nixcross::spec::{Document, HostMachine};
use nixcross::vocab::Mode;
use serde_json::Value;

type Configs = serde_json::Map<String, Value>;

/// The module model, with the catalogue's pkgsCross examples.
fn model() -> PathBuf {
    nixcross_testkit::model_dir(|| {
        let examples: serde_json::Map<String, Value> = nixcross::platform::catalogue()
            .examples
            .iter()
            .map(|e| (e.name.clone(), e.config.clone().into()))
            .collect();
        Value::Object(examples).to_string()
    })
}

/// Every configuration of the flake in `dir`.
fn flake(nix: &nixcross_testkit::Nix, dir: &Path) -> Result<Configs, String> {
    nix.eval_flake(&model(), dir)
}

/// A NixOS module file, evaluated alone.
fn module(nix: &nixcross_testkit::Nix, file: &Path) -> Result<Value, String> {
    let m = model();
    let expr = format!(
        "(import {m}/nixos.nix {{ examples = builtins.fromJSON (builtins.readFile {m}/examples.json); }}).lib.nixosSystem {{ modules = [ {} ]; }}",
        file.display(),
        m = m.display(),
    );
    let json = nix.eval_json(file.parent().unwrap(), &expr)?;
    serde_json::from_str(&json).map_err(|e| e.to_string())
}

fn double(v: &Value) -> Option<String> {
    nixcross::platform::resolve(v.as_str()?)
        .ok()
        .map(|t| t.system)
}

/// The spec's path in a case: `input/nixcross.yaml`, or the one `args` names.
fn spec_path(case: &Path) -> PathBuf {
    let args = std::fs::read_to_string(case.join("args")).unwrap();
    match args.split_whitespace().nth(1) {
        Some(p) if !p.starts_with('-') => PathBuf::from(p),
        _ => PathBuf::from("nixcross.yaml"),
    }
}

/// What the spec asks of configuration `name`, checked against `after`
/// (and `before`, for a build machine the spec leaves to the flake).
fn check_config(
    name: &str,
    c: &nixcross::spec::ConfigSpec,
    before: Option<&Value>,
    after: &Value,
) -> Result<(), String> {
    if after.get("error").is_some() {
        return Err(format!("`{name}` does not evaluate: {after}"));
    }
    if after["mixed"] == Value::Bool(true) {
        return Err(format!("`{name}` mixes the option styles"));
    }
    let target = nixcross::platform::resolve(&c.target).unwrap().system;
    let build = match c.mode {
        Mode::Emulate | Mode::Native => target.clone(),
        Mode::Cross => match &c.build {
            Some(b) => nixcross::platform::resolve(b).unwrap().system,
            None => match before.map(|b| (double(&b["build"]), double(&b["host"]))) {
                Some((Some(b), Some(h))) if b != h => b,
                _ => nixcross::platform::current_system().unwrap(),
            },
        },
    };
    let (host_now, build_now) = (double(&after["host"]), double(&after["build"]));
    if host_now.as_deref() != Some(target.as_str()) || build_now.as_deref() != Some(build.as_str())
    {
        return Err(format!(
            "`{name}` is built on {build_now:?} for {host_now:?}, not on {build} for {target}"
        ));
    }
    if let Some(style) = c.style {
        if after["style"] != style.as_str() {
            return Err(format!(
                "`{name}` is written {}, not {style}",
                after["style"]
            ));
        }
    }
    let global = c.overlays.iter().filter(|o| !o.scoped).count() as u64;
    if after["overlays"].as_u64().unwrap_or(0) < global {
        return Err(format!(
            "`{name}` has {} global overlays, the spec lists {global}",
            after["overlays"]
        ));
    }
    for o in c.overlays.iter().filter(|o| o.scoped) {
        let instance = o.instance.clone().unwrap_or_else(|| {
            let pkg = o.packages.values().next().unwrap();
            format!("pkgs-{}", pkg.rsplit('.').next().unwrap())
        });
        let Some(set) = after["scoped"].get(&instance) else {
            return Err(format!("`{name}` receives no `{instance}`"));
        };
        let local = double(&set["local"]);
        let cross = double(&set["cross"]).or(local.clone());
        if local != build_now || cross != host_now {
            return Err(format!(
                "`{instance}` of `{name}` is on {local:?} for {cross:?}, the configuration on {build_now:?} for {host_now:?}"
            ));
        }
    }
    Ok(())
}

fn check_emulation(what: &str, h: &nixcross::spec::BuildHostSpec, v: &Value) -> Result<(), String> {
    let have: Vec<String> = v["emulatedSystems"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| s.as_str().map(str::to_string))
        .collect();
    for s in &h.emulate {
        let s = nixcross::ops::emulate::emulated_system(s).unwrap();
        if !have.contains(&s) {
            return Err(format!("{what} emulates {have:?}, not {s}"));
        }
    }
    if let Some(st) = h.static_emulators {
        if v["preferStaticEmulators"] != Value::Bool(st) {
            return Err(format!(
                "{what}: preferStaticEmulators is {}, not {st}",
                v["preferStaticEmulators"]
            ));
        }
    }
    Ok(())
}

/// Every builder of the spec is in `nix.buildMachines`, for its systems,
/// and distributed builds are on.
fn check_builders(what: &str, h: &nixcross::spec::BuildHostSpec, v: &Value) -> Result<(), String> {
    if h.builders.is_empty() {
        return Ok(());
    }
    let machines = v["buildMachines"].as_array().cloned().unwrap_or_default();
    for b in &h.builders {
        let host = b.uri.split("://").nth(1).unwrap_or_default();
        let host = host.rsplit('@').next().unwrap_or_default();
        let m = machines
            .iter()
            .find(|m| m["hostName"] == host)
            .ok_or_else(|| format!("{what} does not list the builder {host}: {machines:?}"))?;
        let systems: Vec<&str> = m["systems"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        for s in &b.systems {
            let s = nixcross::ops::add_builder::builder_system(s).unwrap();
            if !systems.contains(&s.as_str()) {
                return Err(format!(
                    "{what}: builder {host} builds {systems:?}, not {s}"
                ));
            }
        }
    }
    if v["distributedBuilds"] != Value::Bool(true) {
        return Err(format!("{what}: nix.distributedBuilds is not true"));
    }
    Ok(())
}

fn check_case(nix: &nixcross_testkit::Nix, case: &Path) -> Result<(), String> {
    let rel = spec_path(case);
    let text = std::fs::read_to_string(case.join("input").join(&rel)).map_err(|e| e.to_string())?;
    let doc = Document::parse(&text).map_err(|e| e.message)?;
    let spec_dir = rel.parent().map(Path::to_path_buf).unwrap_or_default();
    let flake_rel = spec_dir.join(doc.spec.flake.as_deref().unwrap_or("flake.nix"));
    let flake_dir = |side: &str| -> PathBuf {
        let p = case.join(side).join(&flake_rel);
        std::path::absolute(p.parent().unwrap()).unwrap()
    };
    let before = flake(nix, &flake_dir("input")).map_err(|e| format!("before: {e}"))?;
    let after = flake(nix, &flake_dir("expected")).map_err(|e| format!("after: {e}"))?;
    for (name, c) in &doc.spec.configurations {
        let a = after
            .get(name)
            .ok_or_else(|| format!("no configuration `{name}` after apply"))?;
        check_config(name, c, before.get(name), a)?;
    }
    for (name, b) in &before {
        if doc.spec.configurations.contains_key(name) {
            continue;
        }
        let host = doc.spec.build_host.as_ref().map(|h| h.machine());
        let a = after.get(name).ok_or(format!("`{name}` is gone"))?;
        // The build host's module may be one of the flake's modules too:
        // what it emulates may change, nothing else.
        let without = |v: &Value| {
            let mut v = v.clone();
            if let Some(o) = v.as_object_mut() {
                for key in [
                    "emulatedSystems",
                    "preferStaticEmulators",
                    "buildMachines",
                    "distributedBuilds",
                    "buildersUseSubstitutes",
                ] {
                    o.remove(key);
                }
            }
            v
        };
        if matches!(host, Some(HostMachine::File(_))) {
            if without(a) != without(b) {
                return Err(format!(
                    "`{name}`, which the spec does not name, changed: {b} -> {a}"
                ));
            }
        } else if host == Some(HostMachine::Config(name)) {
            for key in ["build", "host", "style"] {
                if a[key] != b[key] {
                    return Err(format!("the build host `{name}`'s {key} changed"));
                }
            }
        } else if a != b {
            return Err(format!(
                "`{name}`, which the spec does not name, changed: {b} -> {a}"
            ));
        }
    }
    if let Some(h) = &doc.spec.build_host {
        match h.machine() {
            HostMachine::Config(name) => {
                let a = after.get(name).ok_or(format!("no build host `{name}`"))?;
                check_emulation(&format!("`{name}`"), h, a)?;
                check_builders(&format!("`{name}`"), h, a)?;
            }
            HostMachine::File(f) => {
                let file =
                    std::path::absolute(case.join("expected").join(&spec_dir).join(f)).unwrap();
                let v = module(nix, &file)?;
                check_emulation(f, h, &v)?;
                check_builders(f, h, &v)?;
            }
        }
    }
    Ok(())
}

/// The cases of `fixtures/<op>` with an input and a result.
fn edit_cases(op: &str) -> Vec<PathBuf> {
    let root = nixcross_testkit::repo_root().join("fixtures").join(op);
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&root)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.join("input").is_dir() && p.join("expected").is_dir())
        .collect();
    dirs.sort();
    dirs
}

#[test]
fn an_applied_spec_means_what_it_says() {
    let Some(nix) = nixcross_testkit::nix("an_applied_spec_means_what_it_says") else {
        return;
    };
    let dirs = edit_cases("apply");
    let mut failures = Vec::new();
    for dir in &dirs {
        if let Err(e) = check_case(&nix, dir) {
            failures.push(format!(
                "{}: {e}",
                dir.file_name().unwrap().to_string_lossy()
            ));
        }
    }
    assert!(
        dirs.len() >= 10,
        "only {} apply cases with a result",
        dirs.len()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    eprintln!("apply: {} cases mean what their spec says", dirs.len());
}

fn flag<'a>(args: &'a [&str], name: &str) -> Option<&'a str> {
    args.iter()
        .position(|a| *a == name)
        .and_then(|i| args.get(i + 1))
        .copied()
}

#[test]
fn an_added_configuration_means_what_was_asked() {
    let Some(nix) = nixcross_testkit::nix("an_added_configuration_means_what_was_asked") else {
        return;
    };
    let dirs = edit_cases("add-config");
    let mut failures = Vec::new();
    for dir in &dirs {
        let line = std::fs::read_to_string(dir.join("args")).unwrap();
        let args: Vec<&str> = line.split_whitespace().collect();
        let name = args[1];
        let c = nixcross::spec::ConfigSpec {
            target: flag(&args, "--target").unwrap().to_string(),
            mode: flag(&args, "--mode").unwrap().parse().unwrap(),
            build: flag(&args, "--host")
                .filter(|_| flag(&args, "--mode") == Some("cross"))
                .map(str::to_string),
            style: flag(&args, "--style").map(|s| s.parse().unwrap()),
            overlays: Vec::new(),
        };
        let result = (|| -> Result<(), String> {
            let before = flake(&nix, &std::path::absolute(dir.join("input")).unwrap())?;
            let after = flake(&nix, &std::path::absolute(dir.join("expected")).unwrap())?;
            let a = after
                .get(name)
                .ok_or(format!("no `{name}` after add-config"))?;
            check_config(name, &c, None, a)?;
            for (other, b) in &before {
                if after.get(other) != Some(b) {
                    return Err(format!("`{other}` changed"));
                }
            }
            Ok(())
        })();
        if let Err(e) = result {
            failures.push(format!(
                "{}: {e}",
                dir.file_name().unwrap().to_string_lossy()
            ));
        }
    }
    assert!(
        dirs.len() >= 8,
        "only {} add-config cases with a result",
        dirs.len()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
