//! Meaning, not just syntax: every set-target fixture's result is evaluated
//! by real Nix with a recording stand-in for `nixosSystem` and for
//! `import nixpkgs`, and the platforms it ends up with must be the ones the
//! fixture's arguments asked for.

use std::path::Path;

use nixcross::flake_old::Flake;
use nixcross::syntax::Param;
use serde_json::Value;

const EVAL: &str = r#"
let
  flake = import ./flake.nix;
  nixpkgs = import ./nixpkgs.nix;
  inherit (nixpkgs) lib;
  pick = f: args: if builtins.functionArgs f == { } then args else builtins.intersectAttrs (builtins.functionArgs f) args;
  inputs = {
    self = { };
    inherit nixpkgs;
    nixos-unstable = nixpkgs;
    flake-parts.lib.mkFlake = _: m:
      let r = if builtins.isFunction m then m (pick m { inherit inputs lib; self = { }; config = { }; }) else m;
      in { nixosConfigurations = r.flake.nixosConfigurations or { }; };
  };
  outputs = flake.outputs (if ELLIPSIS then inputs else pick flake.outputs inputs);
  cfg = outputs.nixosConfigurations.${NAME};
  special = cfg.specialArgs or { };
  modArgs = { pkgs = { }; inherit lib; config = { }; options = { }; modulesPath = ""; } // special;
  evalModule = m:
    if builtins.isPath m || builtins.isString m then { }
    else if builtins.isFunction m then m (pick m modArgs)
    else m;
  keys = { crossSystem = 1; localSystem = 1; system = 1; hostPlatform = 1; buildPlatform = 1; };
in {
  system = cfg.system or null;
  settings = map (m: builtins.intersectAttrs keys ((evalModule m).nixpkgs or { })) (cfg.modules or [ ]);
  scoped = builtins.mapAttrs (n: v: builtins.intersectAttrs { localSystem = 1; crossSystem = 1; system = 1; } v.importArgs)
    (builtins.removeAttrs special (builtins.filter (n: !(builtins.isAttrs special.${n} && special.${n} ? importArgs)) (builtins.attrNames special)));
}
"#;

fn double(v: &Value) -> Option<String> {
    let s = match v {
        Value::String(s) => s.clone(),
        Value::Object(o) => o
            .get("system")
            .or_else(|| o.get("config"))
            .and_then(Value::as_str)?
            .to_string(),
        _ => return None,
    };
    nixcross::platform::resolve(&s).ok().map(|t| t.system)
}

fn flag<'a>(args: &'a [&'a str], name: &str) -> Option<&'a str> {
    args.iter()
        .position(|a| *a == name)
        .and_then(|i| args.get(i + 1))
        .copied()
}

fn check(case: &Path, nix: &nixcross_testkit::Nix) -> Result<(), String> {
    let name = case.file_name().unwrap().to_string_lossy().to_string();
    let line = std::fs::read_to_string(case.join("args")).unwrap();
    let args: Vec<&str> = line.split_whitespace().collect();
    let Ok(text) = std::fs::read_to_string(case.join("expected.nix")) else {
        return Ok(()); // a refusal case
    };
    let target = nixcross::platform::resolve(args[1]).unwrap().system;
    let mode = flag(&args, "--mode").unwrap();
    let flake = Flake::parse(&text).unwrap();
    let config = match flag(&args, "--config") {
        Some(c) => flake.config(c).unwrap(),
        None => &flake.configs[0],
    };
    let ellipsis = match &flake.outputs_param {
        Some(Param::Pattern { ellipsis, .. }) => *ellipsis,
        _ => true,
    };
    let stand_ins = nixcross_testkit::StandIns::new(
        nixcross::platform::catalogue()
            .examples
            .iter()
            .map(|e| (e.name.as_str(), e.config.as_str())),
    );
    stand_ins.write("flake.nix", &text);
    let expr = EVAL
        .replace("ELLIPSIS", if ellipsis { "true" } else { "false" })
        .replace("${NAME}", &nixcross::syntax::quote(&config.name));
    let out = stand_ins
        .eval_json(nix, &expr)
        .map_err(|e| format!("{name}: {e}"))?;
    let v: Value = serde_json::from_str(&out).unwrap();
    let mut cross = None;
    let mut host = None;
    let mut build = None;
    let mut local = None;
    let (mut legacy, mut modern) = (false, false);
    for s in v["settings"].as_array().unwrap() {
        let o = s.as_object().unwrap();
        for (k, val) in o {
            match k.as_str() {
                "crossSystem" => cross = double(val),
                "localSystem" | "system" => local = double(val),
                "hostPlatform" => host = double(val),
                "buildPlatform" => build = double(val),
                _ => {}
            }
            if matches!(k.as_str(), "crossSystem" | "localSystem" | "system") {
                legacy = true;
            } else {
                modern = true;
            }
        }
    }
    let fail = |what: &str| Err(format!("{name}: {what}; evaluated {v}"));
    if legacy && modern {
        return fail("mixes legacy and modern platform options");
    }
    let arg = double(&v["system"]);
    let (eff_build, eff_host) = if modern {
        (build.clone().or(host.clone()), host.clone())
    } else {
        let b = local.clone().or(arg.clone());
        (b.clone(), cross.clone().or(b))
    };
    if eff_host.as_deref() != Some(target.as_str()) {
        return fail(&format!("host is {eff_host:?}, not {target}"));
    }
    match mode {
        "cross" if eff_build.is_none() || eff_build == eff_host => {
            return fail("not a cross build")
        }
        "emulate" if eff_build != eff_host => return fail("not a native/emulated build"),
        _ => {}
    }
    if let Some(scoped) = v["scoped"].as_object() {
        for (n, inst) in scoped {
            let l = double(
                inst.get("localSystem")
                    .or(inst.get("system"))
                    .unwrap_or(&Value::Null),
            );
            let c = inst.get("crossSystem").and_then(double);
            let (want_l, want_c) = match mode {
                "cross" => (eff_build.clone(), Some(target.clone())),
                _ => (Some(target.clone()), None),
            };
            if l != want_l || c != want_c {
                return fail(&format!(
                    "scoped set {n} has localSystem {l:?}, crossSystem {c:?}"
                ));
            }
        }
    }
    Ok(())
}

#[test]
fn set_target_results_mean_what_was_asked() {
    let Some(nix) = nixcross_testkit::nix("set_target_results_mean_what_was_asked") else {
        return;
    };
    let root = nixcross_testkit::repo_root().join("fixtures/set-target");
    let mut failures = Vec::new();
    let mut n = 0;
    for case in std::fs::read_dir(&root).unwrap().flatten() {
        if case.path().join("expected.nix").exists() {
            n += 1;
        }
        if let Err(e) = check(&case.path(), &nix) {
            failures.push(e);
        }
    }
    assert!(n >= 20, "only {n} cases");
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
