//! `init --kind package|shell` checked by real Nix: for every double and
//! every pkgsCross example in the catalogue, the cross-compiled package, the
//! dev shell and (where QEMU can run the target, or it is the build machine's
//! own) the emulated package parse, are stable under nixpkgs-fmt, and,
//! evaluated against a recording stand-in for nixpkgs (`support`), sit
//! under the right system and name and are built on the build machine for
//! exactly the target.

mod support;

use nixcross::ops::init::{self, InitOptions};
use nixcross::platform::{self, Target};
use nixcross::vocab::{Kind, Mode};
use serde_json::Value;

/// What one case builds.
#[derive(Debug, Clone)]
enum What {
    Package(Vec<String>),
    Call(&'static str),
    Shell(Vec<Vec<String>>),
}

struct Case {
    opts: InitOptions,
    target: Target,
    build: String,
    what: What,
}

fn path(p: &str) -> Vec<String> {
    p.split('.').map(String::from).collect()
}

/// The build machine for a cross build: x86_64-linux, unless that is the
/// target's own platform.
fn cross_host(t: &Target) -> &'static str {
    if t.system == "x86_64-linux" && !t.needs_config() && !t.example_has_extras {
        "aarch64-linux"
    } else {
        "x86_64-linux"
    }
}

fn all_cases() -> Vec<Case> {
    let cat = platform::catalogue();
    let inputs: Vec<String> = cat
        .systems
        .iter()
        .map(|s| s.system.clone())
        .chain(cat.examples.iter().map(|e| e.name.clone()))
        .collect();
    let mut cases = Vec::new();
    for (i, input) in inputs.iter().enumerate() {
        let target = platform::resolve(input).unwrap();
        let what = match i % 3 {
            0 => What::Package(path("hello")),
            1 => What::Package(path("python3Packages.numpy")),
            _ => What::Call("./pkgs/hello.nix"),
        };
        let host = cross_host(&target);
        let mut runs = vec![
            (Kind::Package, Mode::Cross, host, what.clone()),
            (
                Kind::Shell,
                Mode::Cross,
                host,
                What::Shell(vec![path("zlib"), path("python3Packages.numpy")]),
            ),
        ];
        // A build machine nixpkgs has no legacyPackages for.
        if i % 10 == 0 && target.system != "mips64el-linux" {
            runs.push((Kind::Package, Mode::Cross, "mips64el-linux", what.clone()));
        }
        let emulate_host = if target.is_linux() && cat.can_emulate(&target.system) {
            Some("x86_64-linux")
        } else if target.system == "x86_64-darwin" {
            Some("x86_64-darwin")
        } else {
            None
        };
        if let Some(h) = emulate_host {
            runs.push((Kind::Package, Mode::Emulate, h, what.clone()));
        }
        for (kind, mode, build, what) in runs {
            let (packages, call) = match &what {
                What::Package(p) => (vec![p.join(".")], None),
                What::Call(c) => (Vec::new(), Some(c.to_string())),
                What::Shell(libs) => (libs.iter().map(|l| l.join(".")).collect(), None),
            };
            cases.push(Case {
                opts: InitOptions {
                    kind,
                    host: Some(build.to_string()),
                    packages,
                    call,
                    ..InitOptions::new(input.clone(), mode)
                },
                target: target.clone(),
                build: build.to_string(),
                what,
            });
        }
    }
    cases
}

fn render_all(cases: &[Case]) -> Vec<String> {
    cases
        .iter()
        .map(|c| {
            init::render(&c.opts)
                .unwrap_or_else(|e| panic!("{:?}: {e:?}", c.opts))
                .text
        })
        .collect()
}

/// Check one evaluated flake against what its case asked for.
fn check(c: &Case, r: &Value) -> Result<(), String> {
    let (key, other) = match c.opts.kind {
        Kind::Shell => ("devShells", "packages"),
        _ => ("packages", "devShells"),
    };
    if r["outputs"] != serde_json::json!([key]) || r[other] != serde_json::json!({}) {
        return Err(format!("outputs are {} ", r["outputs"]));
    }
    let out_system = match c.opts.mode {
        Mode::Cross => c.build.as_str(),
        Mode::Emulate | Mode::Native => c.target.system.as_str(),
    };
    let systems = r[key].as_object().unwrap();
    if systems.len() != 1 || !systems.contains_key(out_system) {
        return Err(format!(
            "{key} has systems {:?}, not {out_system}",
            systems.keys()
        ));
    }
    let names = systems[out_system].as_object().unwrap();
    let name = match &c.what {
        What::Package(p) => p.last().unwrap().as_str(),
        _ => "default",
    };
    if names.len() != 1 || !names.contains_key(name) {
        return Err(format!(
            "{key}.{out_system} has {:?}, not {name}",
            names.keys()
        ));
    }
    let o = &names[name];
    match &c.what {
        What::Package(p) => {
            if o["_type"] != "package" || o["name"] != serde_json::json!(p) {
                return Err(format!("not package {p:?}: {o}"));
            }
        }
        What::Call(file) => {
            if o["_type"] != "call" || o["path"] != *file {
                return Err(format!("not callPackage {file}: {o}"));
            }
        }
        What::Shell(libs) => {
            if o["_type"] != "shell" {
                return Err(format!("not a shell: {o}"));
            }
            let inputs = o["buildInputs"].as_array().unwrap();
            let names: Vec<Value> = inputs.iter().map(|i| i["name"].clone()).collect();
            let want: Vec<Value> = libs.iter().map(|l| serde_json::json!(l)).collect();
            if names != want {
                return Err(format!("buildInputs are {names:?}, not {libs:?}"));
            }
            for i in inputs {
                if i["platforms"] != o["platforms"] {
                    return Err(format!("a library is not from the shell's set: {i}"));
                }
            }
        }
    }
    let p = &o["platforms"];
    let build = support::recorded(&p["build"]);
    let host = support::recorded(&p["host"]);
    let build_target = platform::resolve(&c.build).unwrap();
    match c.opts.mode {
        Mode::Cross => {
            support::means(&build, &build_target).map_err(|e| format!("build platform: {e}"))?;
            if p["cross"] != true {
                return Err("a cross build without crossSystem".into());
            }
            support::means(&host, &c.target).map_err(|e| format!("host platform: {e}"))?;
        }
        Mode::Emulate | Mode::Native => {
            if p["cross"] != false {
                return Err("an emulated build with a crossSystem".into());
            }
            support::means(&host, &c.target).map_err(|e| format!("platform: {e}"))?;
        }
    }
    Ok(())
}

#[test]
fn every_platform_evaluates_to_the_requested_platforms() {
    let cases = all_cases();
    let texts = render_all(&cases);
    let Some(nix) = nixcross_testkit::nix("init_outputs") else {
        return;
    };
    let s = support::stand_ins(&[path("hello"), path("zlib"), path("python3Packages.numpy")]);
    let files = support::write_flakes(s.path(), &texts);
    let paths: Vec<_> = files.iter().map(|f| s.path().join(f)).collect();
    if let Err(e) = nix.parse_files(&paths) {
        panic!("init output does not parse:\n{e}");
    }
    let results = support::eval(&nix, &s, &files);
    assert_eq!(results.len(), cases.len());
    let mut failures = Vec::new();
    let (mut examples, mut examples_ok) = (std::collections::BTreeSet::new(), 0);
    for ((c, r), text) in cases.iter().zip(&results).zip(&texts) {
        let named_example = platform::catalogue().example(&c.opts.target).is_some();
        if let Err(e) = check(c, r) {
            failures.push(format!(
                "--kind {} --target {} --mode {} --host {}: {e}\n{text}",
                c.opts.kind, c.opts.target, c.opts.mode, c.build
            ));
        } else if named_example {
            examples_ok += 1;
        }
        if named_example {
            examples.insert(c.opts.target.clone());
        }
    }
    eprintln!(
        "{} flakes evaluated; {} pkgsCross examples, {examples_ok} of their flakes right; {} failures",
        cases.len(),
        examples.len(),
        failures.len()
    );
    assert_eq!(examples.len(), platform::catalogue().examples.len());
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// Formatting every case's flake with nixpkgs-fmt changes nothing
/// (`nixcross_testkit::assert_nixpkgs_fmt_stable`). Ignored unless asked
/// for (`-- --ignored`), as it needs nixpkgs-fmt; `.ci/run` runs it.
#[test]
#[ignore = "needs nixpkgs-fmt on PATH (cargo install nixpkgs-fmt); .ci/run installs it and runs it"]
fn output_is_stable_under_nixpkgs_fmt() {
    let mut texts = render_all(&all_cases());
    // Names and libraries that must be quoted, and a file that is no path literal.
    let odd = InitOptions {
        kind: Kind::Shell,
        host: Some("x86_64-linux".into()),
        name: Some("my shell".into()),
        packages: vec!["python3Packages.numpy".into(), "zlib".into()],
        description: Some("a \"quoted\" ${x}".into()),
        ..InitOptions::new("aarch64-linux", Mode::Cross)
    };
    texts.push(init::render(&odd).unwrap().text);
    let odd = InitOptions {
        kind: Kind::Package,
        host: Some("x86_64-linux".into()),
        call: Some("my pkgs/hello world.nix".into()),
        ..InitOptions::new("riscv64-linux", Mode::Emulate)
    };
    texts.push(init::render(&odd).unwrap().text);
    nixcross_testkit::assert_nixpkgs_fmt_stable("init_outputs", &texts);
}
