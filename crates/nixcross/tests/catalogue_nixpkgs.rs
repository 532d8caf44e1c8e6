//! Opt-in: the embedded catalogue agrees with nixpkgs' own `lib.systems`.
//!
//! Set `NIXCROSS_NIXPKGS_LIB` to a nixpkgs `lib/` folder (for example a
//! checkout of `nix-community/nixpkgs.lib`, `.../lib`) and run it with
//! `cargo test -p nixcross --test catalogue_nixpkgs -- --ignored`. CI has no
//! network to fetch one, so there it is reported as ignored.

use std::collections::BTreeMap;

use nixcross::platform::catalogue;
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct FromNixpkgs {
    doubles: Vec<Pair>,
    flake_exposed: Vec<String>,
    examples: Vec<Example>,
}

#[derive(Deserialize, Debug, PartialEq, Eq)]
struct Pair {
    system: String,
    config: String,
}

#[derive(Deserialize, Debug, PartialEq, Eq)]
struct Example {
    name: String,
    config: String,
    system: String,
    extra: Vec<String>,
    exact: bool,
}

#[test]
#[ignore = "needs NIXCROSS_NIXPKGS_LIB, a nixpkgs lib/ folder (CI has none); run with -- --ignored"]
fn catalogue_matches_nixpkgs_lib() {
    let lib = std::env::var_os("NIXCROSS_NIXPKGS_LIB")
        .expect("set NIXCROSS_NIXPKGS_LIB to a nixpkgs lib/ folder");
    let Some(nix) = nixcross_testkit::nix("catalogue_matches_nixpkgs_lib") else {
        return;
    };
    let lib = std::path::PathBuf::from(lib);
    let expr = format!(
        r#"let lib = import {path}; in {{
          doubles = map (d: {{ system = d; config = (lib.systems.elaborate d).config; }}) lib.systems.doubles.all;
          flakeExposed = lib.systems.flakeExposed;
          examples = lib.mapAttrsToList (n: v: {{
            name = n;
            config = v.config;
            system = (lib.systems.elaborate v).system;
            extra = builtins.filter (k: k != "config") (builtins.attrNames v);
            exact = let base = lib.systems.elaborate {{ config = v.config; }}; in
              builtins.all (k: k == "config" || base ? ${{k}} && base.${{k}} == v.${{k}}) (builtins.attrNames v);
          }}) lib.systems.examples;
        }}"#,
        path = nixcross::test_support::nix_string(&lib.display().to_string())
    );
    let dir = tempfile::tempdir().unwrap();
    let out = nix
        .eval_json(dir.path(), &expr)
        .unwrap_or_else(|e| panic!("evaluating {}:\n{e}", lib.display()));
    let theirs: FromNixpkgs = serde_json::from_str(&out).unwrap();
    let cat = catalogue();

    let ours: Vec<Pair> = cat
        .systems
        .iter()
        .map(|s| Pair {
            system: s.system.clone(),
            config: s.config.clone(),
        })
        .collect();
    assert_eq!(ours, theirs.doubles, "lib.systems.doubles.all / elaborate");
    assert_eq!(cat.flake_exposed, theirs.flake_exposed, "flakeExposed");

    let ours: BTreeMap<&str, Example> = cat
        .examples
        .iter()
        .map(|e| {
            let mut extra = e.extra.clone();
            extra.sort();
            (
                e.name.as_str(),
                Example {
                    name: e.name.clone(),
                    config: e.config.clone(),
                    system: e.system.clone(),
                    extra,
                    exact: e.exact,
                },
            )
        })
        .collect();
    let theirs: BTreeMap<&str, &Example> = theirs
        .examples
        .iter()
        .map(|e| (e.name.as_str(), e))
        .collect();
    assert_eq!(
        ours.keys().collect::<Vec<_>>(),
        theirs.keys().collect::<Vec<_>>(),
        "lib.systems.examples names"
    );
    for (name, e) in &ours {
        assert_eq!(&e, &theirs[name], "lib.systems.examples.{name}");
    }
    eprintln!(
        "catalogue matches {}: {} doubles, {} examples",
        lib.display(),
        cat.systems.len(),
        theirs.len()
    );
}
