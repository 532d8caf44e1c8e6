//! A recording stand-in for nixpkgs, for evaluating `packages` and
//! `devShells` outputs with real Nix (`nixcross_testkit`).
//!
//! Every package set remembers the platforms it was made with: the
//! `legacyPackages.<system>` instances (`{ system }`), `import nixpkgs
//! { localSystem; crossSystem; system; }` (nixpkgs' own assertion that
//! `localSystem` and `system` are not both given is kept), `pkgsCross.<name>`
//! (`crossSystem` = the example, tagged with its name) and `buildPackages`.
//! Packages, `mkShell` and `callPackage` results carry their set's platforms,
//! so a test can tell for each output where it is built and for which
//! platform.

#![allow(dead_code)] // each test binary uses part of it

use std::path::Path;

use nixcross::platform::{self, Target};
use serde_json::{json, Value};

/// The stand-in. `data.json` holds `{ examples, flakeExposed, packages }`.
const STANDIN: &str = r#"
{ examples, flakeExposed, packages }:
let
  lib = {
    systems.examples = builtins.mapAttrs (name: config: { inherit config; example = name; }) examples;
    genAttrs = names: f: builtins.listToAttrs (map (n: { name = n; value = f n; }) names);
  };
  instance = args:
    assert !(args ? localSystem && args ? system);
    let
      build = args.localSystem or args.system;
      platforms = { inherit build; host = args.crossSystem or build; cross = args ? crossSystem; };
      tree = prefix: t: builtins.mapAttrs
        (n: v: if v == true then { _type = "package"; name = prefix ++ [ n ]; inherit platforms; } else tree (prefix ++ [ n ]) v)
        t;
    in
    tree [ ] packages // {
      _platforms = platforms;
      pkgsCross = builtins.mapAttrs (n: e: instance { localSystem = build; crossSystem = e; }) lib.systems.examples;
      buildPackages = instance { localSystem = build; };
      mkShell = attrs: {
        _type = "shell";
        inherit platforms;
        buildInputs = attrs.buildInputs or [ ];
        nativeBuildInputs = attrs.nativeBuildInputs or [ ];
        packages = attrs.packages or [ ];
      };
      callPackage = fn: fnArgs: { _type = "call"; path = toString fn; inherit platforms; };
    };
  nixpkgs = {
    outPath = ./.;
    inherit lib;
    legacyPackages = lib.genAttrs flakeExposed (s: instance { system = s; });
  };
  # flake-utils, with two default systems.
  flake-utils.lib = rec {
    eachSystem = systems: f: builtins.foldl'
      (acc: s: acc // builtins.mapAttrs (k: v: (acc.${k} or { }) // { ${s} = v; }) (f s))
      { }
      systems;
    eachDefaultSystem = eachSystem [ "x86_64-linux" "aarch64-linux" ];
    eachSystemMap = lib.genAttrs;
    eachDefaultSystemMap = eachSystemMap [ "x86_64-linux" "aarch64-linux" ];
  };
  # flake-parts: perSystem with pkgs, or with _module.args.pkgs.
  flake-parts.lib.mkFlake = args: module:
    let
      m = if builtins.isFunction module then module { inherit (args) inputs; self = { }; } else module;
      per = system:
        let
          base = { inherit system; pkgs = nixpkgs.legacyPackages.${system}; inherit lib; inputs' = { }; self' = { }; config = { }; };
          first = m.perSystem base;
          custom = first._module.args.pkgs or null;
        in
        if custom == null then first else m.perSystem (base // { pkgs = custom; });
      gather = key: lib.genAttrs m.systems (s: (per s).${key} or { });
    in
    (m.flake or { }) // { packages = gather "packages"; devShells = gather "devShells"; };
in
{ inherit nixpkgs instance flake-utils flake-parts; }
"#;

/// Evaluates every flake's `packages` and `devShells` with the stand-in
/// (and flake-utils and flake-parts stand-ins). A `callPackage` path inside
/// the flake's folder is printed relative to it (`./pkgs/hello.nix`).
const EVAL: &str = r#"
{ files }:
let
  standin = import ./standin.nix (builtins.fromJSON (builtins.readFile ./data.json));
  inputs = { self = { }; inherit (standin) nixpkgs flake-utils flake-parts; };
  # A pattern without `...` takes only the inputs it names.
  call = all: f: f (if all then inputs else builtins.intersectAttrs (builtins.functionArgs f) inputs);
  strip = d: p: let s = toString p; n = builtins.stringLength d; in
    if s == d then "./." else if builtins.substring 0 (n + 1) s == d + "/" then "." + builtins.substring n (builtins.stringLength s) s else s;
  one = { file, all }:
    let
      show = v: if v ? _type && v._type == "call" then v // { path = strip (toString (dirOf file)) v.path; } else v;
      outs = out: key: builtins.mapAttrs (system: builtins.mapAttrs (name: show)) (out.${key} or { });
      flake = import file;
      out = call all flake.outputs;
    in
    {
      outputs = builtins.attrNames out;
      packages = outs out "packages";
      devShells = outs out "devShells";
    };
in
map one files
"#;

/// Write the stand-in into `dir`: `standin.nix`, `default.nix` (what
/// `import nixpkgs { ... }` runs), `data.json` and `eval.nix`. `packages`
/// are the attribute paths the sets must have (`["python3Packages",
/// "numpy"]`).
pub fn write_standin(dir: &Path, packages: &[Vec<String>]) {
    let cat = platform::catalogue();
    let examples: serde_json::Map<String, Value> = cat
        .examples
        .iter()
        .map(|e| (e.name.clone(), json!(e.config)))
        .collect();
    let mut tree = json!({});
    for path in packages {
        let mut cur = &mut tree;
        for (i, part) in path.iter().enumerate() {
            let obj = cur.as_object_mut().expect("a package is not also a set");
            let last = i + 1 == path.len();
            cur =
                obj.entry(part.clone())
                    .or_insert_with(|| if last { json!(true) } else { json!({}) });
        }
    }
    let data = json!({
        "examples": examples,
        "flakeExposed": cat.flake_exposed,
        "packages": tree,
    });
    std::fs::write(dir.join("standin.nix"), STANDIN).unwrap();
    std::fs::write(
        dir.join("default.nix"),
        "args: (import ./standin.nix (builtins.fromJSON (builtins.readFile ./data.json))).instance args\n",
    )
    .unwrap();
    std::fs::write(dir.join("data.json"), data.to_string()).unwrap();
    std::fs::write(dir.join("eval.nix"), EVAL).unwrap();
}

/// Write each text to `<dir>/c<i>/flake.nix`; return the paths relative to `dir`.
pub fn write_flakes(dir: &Path, texts: &[String]) -> Vec<String> {
    texts
        .iter()
        .enumerate()
        .map(|(i, text)| {
            let sub = dir.join(format!("c{i}"));
            std::fs::create_dir_all(&sub).unwrap();
            std::fs::write(sub.join("flake.nix"), text).unwrap();
            format!("./c{i}/flake.nix")
        })
        .collect()
}

/// Whether a flake's `outputs` function takes every input (`inputs:`, or a
/// pattern with `...`), rather than exactly the ones it names.
fn takes_all_inputs(text: &str) -> bool {
    let Ok(doc) = nixcross::syntax::parse(text) else {
        return true;
    };
    let outputs = doc.expr().and_then(|e| e.attrset()).and_then(|set| {
        set.entries.into_iter().find_map(|e| match e {
            nixcross::syntax::Entry::Binding(b)
                if b.path.as_deref() == Some(&["outputs".to_string()][..]) =>
            {
                Some(b.value)
            }
            _ => None,
        })
    });
    match outputs.and_then(|o| o.lambda()).map(|l| l.param) {
        Some(nixcross::syntax::Param::Pattern { ellipsis, .. }) => ellipsis,
        _ => true,
    }
}

/// Evaluate the flakes (paths from [`write_flakes`]) in `dir`, where
/// [`write_standin`] wrote the stand-in. One result per flake:
/// `{ outputs, packages, devShells }`.
pub fn eval(nix: &nixcross_testkit::Nix, dir: &Path, files: &[String]) -> Vec<Value> {
    let items: Vec<String> = files
        .iter()
        .map(|f| {
            let text = std::fs::read_to_string(dir.join(f)).unwrap_or_default();
            format!("{{ file = {f}; all = {}; }}", takes_all_inputs(&text))
        })
        .collect();
    let expr = format!("import ./eval.nix {{ files = [ {} ]; }}", items.join(" "));
    let out = nix
        .eval_json(dir, &expr)
        .unwrap_or_else(|e| panic!("evaluation failed:\n{e}"));
    serde_json::from_str(&out).unwrap()
}

/// A platform a set was made with, as the test compares it: its triple
/// (empty for a system the catalogue has no triple for), its double, and
/// the example it came from, if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recorded {
    pub config: String,
    pub system: String,
    pub example: Option<String>,
}

/// Read a recorded platform: `"x86_64-linux"`, `{ system }`, `{ config }`
/// or an example (`{ config; example }`).
pub fn recorded(v: &Value) -> Recorded {
    let cat = platform::catalogue();
    let by_system = |s: &str| Recorded {
        config: cat.system(s).map(|x| x.config.clone()).unwrap_or_default(),
        system: s.to_string(),
        example: None,
    };
    match v {
        Value::String(s) => by_system(s),
        Value::Object(o) => {
            if let Some(s) = o.get("system").and_then(Value::as_str) {
                return by_system(s);
            }
            let config = o["config"].as_str().expect("a platform with a config");
            let example = o.get("example").and_then(Value::as_str).map(String::from);
            let system = match &example {
                Some(e) => cat.example(e).unwrap().system.clone(),
                None => platform::resolve(config).unwrap().system,
            };
            Recorded {
                config: config.to_string(),
                system,
                example,
            }
        }
        other => panic!("not a platform: {other}"),
    }
}

/// Whether a recorded platform is exactly `target`: the same triple (or
/// double, without one); an example that sets more than the triple only
/// when the target is that example.
pub fn means(r: &Recorded, target: &Target) -> Result<(), String> {
    let cat = platform::catalogue();
    if target.config.is_empty() {
        if r.system != target.system || r.example.is_some() {
            return Err(format!("{r:?} is not {}", target.system));
        }
    } else if r.config != target.config {
        return Err(format!("{r:?} is not {}", target.config));
    }
    if target.example_has_extras && r.example != target.example {
        return Err(format!(
            "{r:?} lost pkgsCross.{}'s settings",
            target.example.as_deref().unwrap()
        ));
    }
    if let Some(e) = &r.example {
        let exact = cat.example(e).is_some_and(|x| x.exact);
        if Some(e) != target.example.as_ref() && !exact {
            return Err(format!(
                "{r:?}: pkgsCross.{e} sets more than {}",
                target.config
            ));
        }
    }
    Ok(())
}
