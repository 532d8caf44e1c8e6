//! `add-overlay` checked by meaning: the edited flakes are evaluated with real
//! Nix against recording stand-ins for `nixpkgs.lib.nixosSystem` and
//! `import nixpkgs`, which apply the overlays they are given. Also: what
//! `show` reports about overlays and scoped package sets.

use nixcross::files::{MemFiles, RelPath};
use nixcross::ops::add_overlay::AddOverlayOptions;
use nixcross::ops::show::{ConfigReport, ShowOptions};
use serde_json::Value;

/// A fixture's input tree (`input.nix` as flake.nix, or `input/`).
fn fixture(case: &str) -> MemFiles {
    let dir = nixcross_testkit::repo_root()
        .join("fixtures/add-overlay")
        .join(case);
    let mut files = MemFiles::new();
    if dir.join("input.nix").is_file() {
        files.insert(
            "flake.nix",
            std::fs::read_to_string(dir.join("input.nix")).unwrap(),
        );
        return files;
    }
    fn walk(dir: &std::path::Path, prefix: &str, files: &mut MemFiles) {
        for e in std::fs::read_dir(dir).unwrap().flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let rel = if prefix.is_empty() {
                name
            } else {
                format!("{prefix}/{name}")
            };
            if e.path().is_dir() {
                walk(&e.path(), &rel, files);
            } else {
                files.insert(&rel, std::fs::read_to_string(e.path()).unwrap());
            }
        }
    }
    walk(&dir.join("input"), "", &mut files);
    files
}

/// What `add-overlay` did to a tree.
struct Out {
    files: MemFiles,
    /// flake.nix afterwards.
    text: String,
    changed: bool,
}

fn add(files: &MemFiles, o: &AddOverlayOptions) -> nixcross::Result<Out> {
    let out =
        nixcross::ops::add_overlay::add_overlay(files, &RelPath::new("flake.nix").unwrap(), o)?;
    let mut after = files.clone();
    for c in &out.changes {
        after.insert(c.path.as_str(), c.after.clone());
    }
    Ok(Out {
        text: flake_of(&after),
        files: after,
        changed: out.changed(),
    })
}

fn flake_of(files: &MemFiles) -> String {
    files
        .iter()
        .find(|(p, _)| p.as_str() == "flake.nix")
        .map(|(_, t)| t.to_string())
        .unwrap()
}

fn show(files: &MemFiles) -> Vec<ConfigReport> {
    nixcross::ops::show::show(
        files,
        &RelPath::new("flake.nix").unwrap(),
        &ShowOptions::default(),
    )
    .unwrap()
    .configurations
}

/// The seed's scoped example (its `pkgs-gcc12` flake), as the book writes it.
const SEED_SCOPED: &str = r#"{
  description = "NixOS running on LicheePi 4A";

  inputs = {
    nixpkgs.url = "github:nixos/nixpkgs/nixos-25.05-small";
  };

  outputs = { self, nixpkgs, ... }: let
    pkgs-gcc12 = import nixpkgs {
      localSystem = "x86_64-linux";
      crossSystem = {
        config = "riscv64-unknown-linux-gnu";
      };

      overlays = [
        (self: super: { gcc = self.gcc12; })
      ];
    };
  in {
    nixosConfigurations.lp4a = nixpkgs.lib.nixosSystem {
      system = "x86_64-linux";
      specialArgs = {
        inherit pkgs-gcc12;
      };
      modules = [
        {
          nixpkgs.crossSystem = {
            config = "riscv64-unknown-linux-gnu";
          };
        }

        ({pkgs-gcc12, ...}: {
          environment.systemPackages = [ pkgs-gcc12.hello ];
        })

        # other modules ......
      ];
    };
  };
}
"#;

/// Evaluate configuration `name` of ./flake.nix: its modules are called with
/// the specialArgs and a system package set built with the modules'
/// `nixpkgs.overlays`. Paths in `modules` are skipped (they are not there).
const HARNESS: &str = r#"name:
let
  nixpkgs = import ./nixpkgs.nix;
  inherit (nixpkgs) lib;
  flake = import ./flake.nix;
  outputs = flake.outputs { self = { }; inherit nixpkgs; };
  cfg = outputs.nixosConfigurations.${name};
  special = cfg.specialArgs or { };
  getOr = p: d: s:
    if p == [ ] then s
    else if builtins.isAttrs s && s ? ${builtins.head p} then getOr (builtins.tail p) d s.${builtins.head p}
    else d;
  args = special // { config = { }; options = { }; inherit lib pkgs; modulesPath = "/modules"; };
  mods = map (m: if builtins.isFunction m then m args else m)
    (builtins.filter (m: !(builtins.isPath m)) cfg.modules);
  overlays = builtins.concatLists (map (getOr [ "nixpkgs" "overlays" ] [ ]) mods);
  pkgs = import nixpkgs { system = cfg.system or null; inherit overlays; };
  instances = builtins.listToAttrs (builtins.concatMap
    (n: let v = special.${n}; in
      if builtins.isAttrs v && v ? importArgs
      then [ { name = n; value = { inherit (v) gcc hello platform; }; } ]
      else [ ])
    (builtins.attrNames special));
in {
  systemGcc = pkgs.gcc;
  systemHello = pkgs.hello;
  packages = builtins.concatLists (map (getOr [ "environment" "systemPackages" ] [ ]) mods);
  inherit instances;
}
"#;

/// Evaluate `src`'s configuration `name` with the stand-ins; `None` when Nix
/// is not installed (the testkit says why, or fails under CI).
fn evaluate(test: &str, src: &str, name: &str) -> Option<Value> {
    let nix = nixcross_testkit::nix(test)?;
    let stand_ins = nixcross_testkit::StandIns::new([]);
    stand_ins.write("harness.nix", HARNESS);
    stand_ins.write("flake.nix", src);
    let expr = format!("import ./harness.nix \"{name}\"");
    let json = stand_ins
        .eval_json(&nix, &expr)
        .unwrap_or_else(|e| panic!("{test}: evaluation failed:\n{e}\n--- flake ---\n{src}"));
    Some(serde_json::from_str(&json).unwrap())
}

fn opts(pairs: &[&str], config: Option<&str>) -> AddOverlayOptions {
    AddOverlayOptions {
        pairs: pairs.iter().map(|s| s.to_string()).collect(),
        config: config.map(str::to_string),
        ..Default::default()
    }
}

fn scoped(pairs: &[&str], config: Option<&str>, uses: &[&str]) -> AddOverlayOptions {
    AddOverlayOptions {
        scoped: true,
        uses: uses.iter().map(|s| s.to_string()).collect(),
        ..opts(pairs, config)
    }
}

/// (fixture input, configuration, build double, crossSystem triple).
const CASES: &[(&str, &str, &str, Option<&str>)] = &[
    (
        "scoped-seed-cross",
        "lp4a",
        "x86_64-linux",
        Some("riscv64-unknown-linux-gnu"),
    ),
    (
        "global-init-legacy-cross",
        "riscv64",
        "x86_64-linux",
        Some("riscv64-unknown-linux-gnu"),
    ),
    (
        "global-init-legacy-emulate",
        "aarch64",
        "aarch64-linux",
        None,
    ),
    (
        "global-init-modern-cross",
        "riscv64",
        "x86_64-linux",
        Some("riscv64-unknown-linux-gnu"),
    ),
    (
        "global-init-modern-emulate",
        "aarch64",
        "aarch64-linux",
        None,
    ),
    (
        "global-tabs-crlf",
        "riscv64",
        "x86_64-linux",
        Some("riscv64-unknown-linux-gnu"),
    ),
    (
        "global-real-world-nested-overlays",
        "board",
        "x86_64-linux",
        Some("aarch64-unknown-linux-gnu"),
    ),
    (
        "global-real-world-no-inline",
        "laptop",
        "x86_64-linux",
        None,
    ),
];

#[test]
fn global_overlay_changes_the_system_package_set() {
    for (case, name, _, _) in CASES {
        let src = fixture(case);
        let Some(before) = evaluate("global_overlay", &flake_of(&src), name) else {
            return;
        };
        assert_eq!(before["systemGcc"], "gcc11", "{case}: before");
        let out = add(&src, &opts(&["gcc=gcc12"], Some(name))).unwrap();
        assert!(out.changed, "{case}");
        let after = evaluate("global_overlay", &out.text, name).unwrap();
        assert_eq!(after["systemGcc"], "gcc12", "{case}\n{}", out.text);
        assert_eq!(after["systemHello"], "hello built with gcc12", "{case}");
        assert_eq!(after["instances"], serde_json::json!({}), "{case}");
        // Everything else the overlays did still holds.
        let again = add(&out.files, &opts(&["gcc=gcc12"], Some(name))).unwrap();
        assert!(!again.changed, "{case}: not idempotent");
    }
}

#[test]
fn global_overlay_with_several_pairs_is_one_overlay_that_all_apply() {
    let src = fixture("global-seed-cross");
    let out = add(&src, &opts(&["gcc=gcc12", "binutils=binutils_2_40"], None)).unwrap();
    assert_eq!(out.text.matches("final: prev:").count(), 1, "{}", out.text);
    let Some(v) = evaluate("several_pairs", &out.text, "lp4a") else {
        return;
    };
    assert_eq!(v["systemGcc"], "gcc12");
    // The stub's binutils is not in the report; check the overlay text instead.
    assert!(out.text.contains("binutils = final.binutils_2_40;"));
}

#[test]
fn scoped_overlay_changes_only_the_instance() {
    for (case, name, build, triple) in CASES {
        let src = fixture(case);
        let out = add(&src, &scoped(&["gcc=gcc12"], Some(name), &["hello"])).unwrap();
        assert!(out.changed, "{case}");
        let Some(v) = evaluate("scoped_overlay", &out.text, name) else {
            return;
        };
        let before = evaluate("scoped_overlay", &flake_of(&src), name).unwrap();
        // The system's own package set is what it was.
        assert_eq!(v["systemGcc"], before["systemGcc"], "{case}\n{}", out.text);
        let inst = &v["instances"]["pkgs-gcc12"];
        assert_eq!(inst["gcc"], "gcc12", "{case}\n{}", out.text);
        assert_eq!(inst["platform"]["localSystem"], *build, "{case}");
        match triple {
            Some(t) => assert_eq!(
                inst["platform"]["crossSystem"],
                serde_json::json!({ "config": t }),
                "{case}"
            ),
            None => assert_eq!(inst["platform"]["crossSystem"], Value::Null, "{case}"),
        }
        let packages = v["packages"].as_array().unwrap();
        assert!(
            packages.contains(&Value::from("hello built with gcc12")),
            "{case}: {packages:?}"
        );
        let again = add(&out.files, &scoped(&["gcc=gcc12"], Some(name), &["hello"])).unwrap();
        assert!(!again.changed, "{case}: not idempotent\n{}", again.text);
    }
}

#[test]
fn scoped_edit_of_the_seed_means_what_the_seed_example_means() {
    let seed_cross = fixture("scoped-seed-cross");
    let out = add(&seed_cross, &scoped(&["gcc=gcc12"], None, &["hello"])).unwrap();
    let Some(ours) = evaluate("seed_meaning", &out.text, "lp4a") else {
        return;
    };
    let seed = evaluate("seed_meaning", SEED_SCOPED, "lp4a").unwrap();
    assert_eq!(ours["instances"], seed["instances"], "{}", out.text);
    assert_eq!(ours["packages"], seed["packages"]);
    assert_eq!(ours["systemGcc"], seed["systemGcc"]);
    // And that meaning is the one asked for, not two empty results.
    assert_eq!(
        seed["instances"]["pkgs-gcc12"]["hello"],
        "hello built with gcc12"
    );
    assert_eq!(seed["systemGcc"], "gcc11");
    // nixcross recognises the seed's own example as already done.
    let same = add(
        &MemFiles::single("flake.nix", SEED_SCOPED),
        &scoped(&["gcc=gcc12"], None, &["hello"]),
    )
    .unwrap();
    assert!(!same.changed, "{}", same.text);
}

#[test]
fn refusals_leave_no_text_behind() {
    let src = fixture("scoped-seed-cross");
    for (o, want) in [
        (
            AddOverlayOptions {
                instance: Some("pkgs".into()),
                ..scoped(&["gcc=gcc12"], None, &[])
            },
            "must not be called `pkgs`",
        ),
        (
            scoped(&["gcc=gcc12; }; x = {"], None, &[]),
            "not an attribute path",
        ),
        (opts(&["gcc=gcc12", "gcc=gcc13"], None), "given twice"),
        (
            scoped(&["gcc=gcc12"], None, &["hello ]; x = ["]),
            "not an attribute path",
        ),
        (
            opts(&["${builtins.abort 1}=gcc12"], None),
            "not an attribute path",
        ),
        (
            AddOverlayOptions {
                uses: vec!["hello".into()],
                ..opts(&["gcc=gcc12"], None)
            },
            "need --scoped",
        ),
    ] {
        let err = add(&src, &o).err().expect("refused");
        assert!(err.message.contains(want), "{o:?}: {}", err.message);
    }
    // A different instance under the name the command would use.
    let other = add(&src, &scoped(&["gcc=gcc12"], None, &[])).unwrap();
    let err = add(&other.files, &scoped(&["gcc=gcc13"], None, &[]));
    assert!(err.is_ok(), "pkgs-gcc13 is a new name");
    let err = add(
        &other.files,
        &AddOverlayOptions {
            instance: Some("pkgs-gcc12".into()),
            ..scoped(&["gcc=gcc13"], None, &[])
        },
    )
    .err()
    .expect("refused");
    assert!(err.message.contains("already exists"), "{}", err.message);
    assert!(err.range.is_some());
}

#[test]
fn show_reports_overlays_and_scoped_sets() {
    let r = show(&MemFiles::single("flake.nix", SEED_SCOPED));
    let j = serde_json::to_value(&r[0]).unwrap();
    assert_eq!(j["overlays"], serde_json::json!({}));
    assert_eq!(
        j["scoped"],
        serde_json::json!([{
            "name": "pkgs-gcc12",
            "localSystem": "x86_64-linux",
            "crossSystem": "riscv64-linux",
            "overlays": { "gcc": "gcc12" },
            "uses": ["hello"],
        }])
    );
    // The existing fields are still there.
    assert_eq!(j["build"], "x86_64-linux");
    assert_eq!(j["host"], "riscv64-linux");

    let src = fixture("global-real-world-nested-overlays");
    let out = add(&src, &opts(&["gcc=gcc12"], Some("board"))).unwrap();
    let r = show(&out.files);
    let board = r.iter().find(|c| c.name == "board").unwrap();
    let j = serde_json::to_value(board).unwrap();
    assert_eq!(
        j["overlays"],
        serde_json::json!({ "binutils": "binutils_2_40", "gcc": "gcc12" })
    );
    assert_eq!(j["scoped"], serde_json::json!([]));
    let laptop = r.iter().find(|c| c.name == "laptop").unwrap();
    assert!(laptop.overlays.is_empty());
}
