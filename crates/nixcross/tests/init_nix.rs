//! `init` output checked by real Nix (`nixcross_testkit`): every Linux
//! platform in the catalogue, in every mode and style that applies, parses;
//! evaluated against a recording stand-in for `nixpkgs.lib.nixosSystem`, each
//! flake builds on the right platform for the right one and never mixes the
//! legacy and modern options; and no name, description or flake reference
//! can inject Nix code.

use nixcross::ops::init::{self, InitOptions};
use nixcross::platform::{self, Target};
use nixcross::vocab::{Mode, Style};
use nixcross_testkit::StandIns;
use serde_json::{json, Value};

/// One flake to check: the options and the target they resolve to.
struct Case {
    opts: InitOptions,
    target: Target,
    host: String,
}

/// Every Linux double and Linux pkgsCross example, cross-compiled from
/// x86_64-linux (from aarch64-linux when the target is x86_64-linux itself)
/// and emulated where NixOS has an emulator, in both styles.
fn all_linux_cases() -> Vec<Case> {
    let cat = platform::catalogue();
    let inputs = cat
        .systems
        .iter()
        .filter(|s| s.system.ends_with("-linux"))
        .map(|s| s.system.clone())
        .chain(
            cat.examples
                .iter()
                .filter(|e| e.system.ends_with("-linux"))
                .map(|e| e.name.clone()),
        );
    let mut cases = Vec::new();
    for input in inputs {
        let target = platform::resolve(&input).unwrap();
        let same = |host: &str| {
            target.system == host && !target.needs_config() && !target.example_has_extras
        };
        let cross_host = if same("x86_64-linux") {
            "aarch64-linux"
        } else {
            "x86_64-linux"
        };
        let mut runs = vec![(Mode::Cross, cross_host)];
        if cat.can_emulate(&target.system) {
            runs.push((Mode::Emulate, "x86_64-linux"));
        }
        for (mode, host) in runs {
            for style in [Style::Legacy, Style::Modern] {
                cases.push(Case {
                    opts: InitOptions {
                        host: Some(host.to_string()),
                        style,
                        ..InitOptions::new(input.clone(), mode)
                    },
                    target: target.clone(),
                    host: host.to_string(),
                });
            }
        }
    }
    cases
}

/// Evaluates flakes with a recording `nixosSystem` (it returns its
/// arguments) and collects, from the inline modules, every definition of the
/// platform options.
const HARNESS: &str = r#"
files:
let
  nixpkgs = import ./nixpkgs.nix;
  moduleArgs = { config = { }; options = { }; lib = nixpkgs.lib; pkgs = { }; modulesPath = "/modules"; };
  defs = mods: key: builtins.concatMap
    (m: if m ? nixpkgs && m.nixpkgs ? ${key} then [ m.nixpkgs.${key} ] else [ ])
    mods;
  one = file:
    let
      flake = import file;
      out = flake.outputs { self = { }; inherit nixpkgs; };
      names = builtins.attrNames out.nixosConfigurations;
      cfg = out.nixosConfigurations.${builtins.head names};
      mods = map (m: if builtins.isFunction m then m moduleArgs else m) cfg.modules;
    in
    {
      inherit names;
      description = flake.description;
      inputs = builtins.attrNames flake.inputs;
      url = flake.inputs.nixpkgs.url;
      outputs = builtins.attrNames out;
      args = builtins.attrNames cfg;
      system = cfg.system or null;
      crossSystem = defs mods "crossSystem";
      localSystem = defs mods "localSystem";
      hostPlatform = defs mods "hostPlatform";
      buildPlatform = defs mods "buildPlatform";
      modules = builtins.length mods;
    };
in
map one files
"#;

/// The stand-ins, with every pkgsCross example of the catalogue.
fn stand_ins() -> StandIns {
    StandIns::new(
        platform::catalogue()
            .examples
            .iter()
            .map(|e| (e.name.as_str(), e.config.as_str())),
    )
}

fn eval_all(nix: &nixcross_testkit::Nix, stand_ins: &StandIns, files: &[String]) -> Vec<Value> {
    stand_ins.write("harness.nix", HARNESS);
    let expr = format!("import ./harness.nix [ {} ]", files.join(" "));
    let out = stand_ins
        .eval_json(nix, &expr)
        .unwrap_or_else(|e| panic!("evaluation failed:\n{e}"));
    serde_json::from_str::<Vec<Value>>(&out).unwrap()
}

/// A platform as the options hold it, as an attrset: a string means `{ system }`.
fn as_attrs(v: &Value) -> Value {
    match v {
        Value::String(s) => json!({ "system": s }),
        other => other.clone(),
    }
}

/// The only definition of an option, if any; more than one is a failure.
fn single<'a>(what: &str, r: &'a Value, key: &str) -> Option<&'a Value> {
    let defs = r[key].as_array().unwrap();
    assert!(
        defs.len() <= 1,
        "{what}: {key} defined {} times",
        defs.len()
    );
    defs.first()
}

/// What the target platform must be, worked out from the catalogue: the
/// example itself when it carries extras, the triple when the double does
/// not elaborate to it, else the double.
fn expected_target(t: &Target) -> Value {
    let cat = platform::catalogue();
    if t.example_has_extras {
        let name = t.example.as_ref().unwrap();
        json!({ "config": cat.example(name).unwrap().config, "example": name })
    } else if cat.system(&t.system).map(|s| &s.config) != Some(&t.config) {
        json!({ "config": t.config })
    } else {
        json!({ "system": t.system })
    }
}

#[test]
fn every_linux_platform_parses_and_evaluates_to_the_right_platforms() {
    let cases = all_linux_cases();
    assert!(cases.len() > 150, "only {} cases", cases.len());
    let texts: Vec<String> = cases
        .iter()
        .map(|c| {
            init::render(&c.opts)
                .unwrap_or_else(|e| panic!("{:?}: {e:?}", c.opts))
                .text
        })
        .collect();
    let Some(nix) = nixcross_testkit::nix("every_linux_platform_parses") else {
        return;
    };
    let stand_ins = stand_ins();
    let files = nixcross_testkit::write_flakes(stand_ins.path(), &texts);
    let paths: Vec<_> = files.iter().map(|f| stand_ins.path().join(f)).collect();
    if let Err(e) = nix.parse_files(&paths) {
        let culprit = paths
            .iter()
            .position(|p| e.contains(&p.display().to_string()))
            .map(|i| format!("{:?}\n{}", cases[i].opts, texts[i]))
            .unwrap_or_default();
        panic!("init output does not parse:\n{e}\n{culprit}");
    }
    let results = eval_all(&nix, &stand_ins, &files);
    assert_eq!(results.len(), cases.len());
    let (mut legacy, mut modern) = (0, 0);
    for (c, r) in cases.iter().zip(&results) {
        let what = format!(
            "{} --mode {} --style {} --host {}",
            c.opts.target, c.opts.mode, c.opts.style, c.host
        );
        assert_eq!(r["names"].as_array().unwrap().len(), 1, "{what}");
        assert_eq!(r["outputs"], json!(["nixosConfigurations"]), "{what}");
        assert_eq!(r["inputs"], json!(["nixpkgs"]), "{what}");
        assert_eq!(r["url"], init::DEFAULT_NIXPKGS, "{what}");

        let cross = single(&what, r, "crossSystem");
        let local = single(&what, r, "localSystem");
        let host_opt = single(&what, r, "hostPlatform");
        let build_opt = single(&what, r, "buildPlatform");
        let uses_modern = host_opt.is_some() || build_opt.is_some();
        let uses_legacy = cross.is_some() || local.is_some() || !r["system"].is_null();
        assert!(
            uses_modern != uses_legacy,
            "{what}: the legacy and modern options are mixed (or neither is set): {r}"
        );
        let (build, host) = match c.opts.style {
            Style::Legacy => {
                legacy += 1;
                assert!(uses_legacy, "{what}: legacy style without legacy options");
                assert!(r["system"].is_string(), "{what}: no system argument");
                let build = local
                    .map(as_attrs)
                    .unwrap_or_else(|| json!({ "system": r["system"] }));
                let host = cross.map(as_attrs).unwrap_or_else(|| build.clone());
                (build, host)
            }
            Style::Modern => {
                modern += 1;
                assert!(uses_modern, "{what}: modern style without hostPlatform");
                assert!(!r["args"].as_array().unwrap().contains(&json!("system")));
                let host = as_attrs(host_opt.expect("hostPlatform is set"));
                let build = build_opt.map(as_attrs).unwrap_or_else(|| host.clone());
                (build, host)
            }
        };
        let target = expected_target(&c.target);
        assert_eq!(host, target, "{what}: the platform the system runs on");
        match c.opts.mode {
            Mode::Cross => {
                assert_eq!(build, json!({ "system": c.host }), "{what}: build platform");
                assert_ne!(build, host, "{what}: a cross build that is not cross");
            }
            Mode::Emulate | Mode::Native => {
                assert_eq!(build, host, "{what}: an emulated build is native")
            }
        }
    }
    assert!(
        legacy > 50 && modern > 50,
        "{legacy} legacy, {modern} modern"
    );
}

/// Hostile strings for every user-supplied field. Control characters are
/// refused, so they are left out here and tested for refusal instead.
fn hostile() -> Vec<String> {
    let mut out: Vec<String> = [
        r#"x"; evil = true; y = ""#,
        "${builtins.abort \"pwned\"}",
        r"\${x}",
        r"\\${x}",
        "$${x}",
        "$",
        "${",
        "\\",
        "''",
        "'' ${x} ''",
        "# comment",
        "/* c */",
        "a.b",
        "if",
        "inherit",
        "1x",
        "x y",
        "é ü 日本",
        "}",
        "\"",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    // A deterministic spray of short strings over the dangerous characters.
    let alphabet: Vec<char> = "\\\"${}'#/*;= a.".chars().collect();
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    for _ in 0..60 {
        let mut s = String::new();
        for _ in 0..(seed % 9 + 1) {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            s.push(alphabet[(seed % alphabet.len() as u64) as usize]);
        }
        if !s.trim().is_empty() && !out.contains(&s) {
            out.push(s);
        }
    }
    out
}

fn url_for(s: &str) -> String {
    format!("github:o/r?x={}", s.replace(char::is_whitespace, "_"))
}

#[test]
fn no_input_can_inject_nix_code() {
    let inputs = hostile();
    let mut texts = Vec::new();
    for s in &inputs {
        let opts = InitOptions {
            host: Some("x86_64-linux".into()),
            name: Some(s.clone()),
            description: Some(s.clone()),
            nixpkgs: Some(url_for(s)),
            ..InitOptions::new("riscv64-linux", Mode::Cross)
        };
        texts.push(init::render(&opts).unwrap().text);
    }
    for bad in ["a\nb", "a\rb", "a\tb", "\u{0}", "", "   "] {
        let opts = InitOptions {
            host: Some("x86_64-linux".into()),
            name: Some(bad.into()),
            ..InitOptions::new("riscv64-linux", Mode::Cross)
        };
        assert!(init::render(&opts).is_err(), "name {bad:?} accepted");
        let opts = InitOptions {
            host: Some("x86_64-linux".into()),
            description: Some(bad.into()),
            ..InitOptions::new("riscv64-linux", Mode::Cross)
        };
        assert!(init::render(&opts).is_err(), "description {bad:?} accepted");
        let opts = InitOptions {
            host: Some("x86_64-linux".into()),
            nixpkgs: Some(bad.into()),
            ..InitOptions::new("riscv64-linux", Mode::Cross)
        };
        assert!(init::render(&opts).is_err(), "nixpkgs {bad:?} accepted");
    }
    let Some(nix) = nixcross_testkit::nix("no_input_can_inject_nix_code") else {
        return;
    };
    let stand_ins = stand_ins();
    let files = nixcross_testkit::write_flakes(stand_ins.path(), &texts);
    let results = eval_all(&nix, &stand_ins, &files);
    for (s, r) in inputs.iter().zip(&results) {
        // The values come back exactly as typed, and the structure around
        // them is the one the template wrote: nothing was added or cut.
        assert_eq!(r["description"], json!(s), "description {s:?}");
        assert_eq!(r["names"], json!([s]), "name {s:?}");
        assert_eq!(r["url"], json!(url_for(s)), "url {s:?}");
        assert_eq!(r["inputs"], json!(["nixpkgs"]), "{s:?}");
        assert_eq!(r["outputs"], json!(["nixosConfigurations"]), "{s:?}");
        assert_eq!(r["args"], json!(["modules", "system"]), "{s:?}");
        assert_eq!(r["modules"], json!(1), "{s:?}");
        assert_eq!(
            r["crossSystem"],
            json!([{ "system": "riscv64-linux" }]),
            "{s:?}"
        );
    }
}

/// Formatting the output of every case (and of the hostile inputs) with
/// nixpkgs-fmt changes nothing. Ignored unless asked for (`-- --ignored`),
/// as it needs nixpkgs-fmt; `.ci/run` installs it and runs it.
#[test]
#[ignore = "needs nixpkgs-fmt on PATH (cargo install nixpkgs-fmt); .ci/run installs it and runs it"]
fn output_is_stable_under_nixpkgs_fmt() {
    let mut texts: Vec<String> = all_linux_cases()
        .iter()
        .map(|c| init::render(&c.opts).unwrap().text)
        .collect();
    for s in hostile() {
        let opts = InitOptions {
            host: Some("x86_64-linux".into()),
            name: Some(s.clone()),
            description: Some(s.clone()),
            ..InitOptions::new("raspberryPi", Mode::Emulate)
        };
        texts.push(init::render(&opts).unwrap().text);
    }
    nixcross_testkit::assert_nixpkgs_fmt_stable("output_is_stable_under_nixpkgs_fmt", &texts);
}
