//! Evaluating `packages` and `devShells` outputs with real Nix and the
//! recording package-set stand-ins of `crates/testkit/nix/packages.nix`
//! (every set remembers the platforms it was made with; packages, `mkShell`
//! and `callPackage` results carry them), and reading what they recorded as
//! the catalogue's platforms.

#![allow(dead_code)] // each test binary uses part of it

use nixcross::platform::{self, Target};
use nixcross_testkit::StandIns;
use serde_json::{json, Value};

/// The stand-ins (`crates/testkit/nix/packages.nix`, `outputs-eval.nix`),
/// with the catalogue's pkgsCross examples and flake-exposed systems, and
/// `packages` (attribute paths such as `["python3Packages", "numpy"]`) in
/// every package set.
pub fn stand_ins(packages: &[Vec<String>]) -> StandIns {
    let cat = platform::catalogue();
    let s = StandIns::new(
        cat.examples
            .iter()
            .map(|e| (e.name.as_str(), e.config.as_str())),
    );
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
    let data = json!({ "flakeExposed": cat.flake_exposed, "packages": tree });
    s.write("packages.json", &data.to_string());
    s
}

pub use nixcross_testkit::write_flakes;

/// Whether a flake's `outputs` function takes every input (`inputs:`, or a
/// pattern with `...`), rather than exactly the ones it names.
fn takes_all_inputs(text: &str) -> bool {
    let Ok(doc) = nixcross::test_support::parse(text) else {
        return true;
    };
    let outputs = doc.expr().and_then(|e| e.attrset()).and_then(|set| {
        set.entries.into_iter().find_map(|e| match e {
            nixcross::test_support::Entry::Binding(b)
                if b.path.as_deref() == Some(&["outputs".to_string()][..]) =>
            {
                Some(b.value)
            }
            _ => None,
        })
    });
    match outputs.and_then(|o| o.lambda()).map(|l| l.param) {
        Some(nixcross::test_support::Param::Pattern { ellipsis, .. }) => ellipsis.is_some(),
        _ => true,
    }
}

/// Evaluate the flakes (paths from [`write_flakes`] into the stand-ins'
/// folder). One result per flake: `{ outputs, packages, devShells }`.
pub fn eval(nix: &nixcross_testkit::Nix, s: &StandIns, files: &[String]) -> Vec<Value> {
    let dir = s.path();
    let items: Vec<String> = files
        .iter()
        .map(|f| {
            let text = std::fs::read_to_string(dir.join(f)).unwrap_or_default();
            format!("{{ file = {f}; all = {}; }}", takes_all_inputs(&text))
        })
        .collect();
    let expr = format!(
        "import ./outputs-eval.nix {{ files = [ {} ]; }}",
        items.join(" ")
    );
    let out = s
        .eval_json(nix, &expr)
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
