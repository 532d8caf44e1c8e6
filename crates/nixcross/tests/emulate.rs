//! `ops::emulate` against two oracles:
//! - real Nix: the edited module, imported with stand-in arguments, has
//!   exactly the systems it had plus the requested ones (or minus them);
//! - the input itself: adding systems and removing them again gives back
//!   the original bytes, for every successful fixture input.

use nixcross::ops::emulate::{emulate, EmulateOptions};
use proptest::prelude::*;

/// A successful `fixtures/emulate` case: its name, input, and the
/// configuration its `args` name with `--config` (the input is then a flake).
struct Case {
    name: String,
    input: String,
    config: Option<String>,
}

/// Inputs of the `fixtures/emulate` cases that succeed.
fn fixture_inputs() -> Vec<Case> {
    let root = nixcross_testkit::repo_root().join("fixtures/emulate");
    let mut out = Vec::new();
    for case in std::fs::read_dir(&root)
        .expect("fixtures/emulate exists")
        .flatten()
    {
        let dir = case.path();
        if !dir.join("expected.nix").is_file() {
            continue;
        }
        if let Ok(input) = std::fs::read_to_string(dir.join("input.nix")) {
            let name = dir.file_name().unwrap().to_string_lossy().into_owned();
            let args = std::fs::read_to_string(dir.join("args")).unwrap();
            let words: Vec<&str> = args.split_whitespace().collect();
            let config = words
                .iter()
                .position(|w| *w == "--config")
                .map(|i| words[i + 1].to_string());
            out.push(Case {
                name,
                input,
                config,
            });
        }
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    assert!(
        out.len() >= 20,
        "expected the emulate fixtures, found {}",
        out.len()
    );
    out
}

fn opts(case: &Case, systems: &[&str], remove: bool, static_emulators: bool) -> EmulateOptions {
    EmulateOptions {
        systems: systems.iter().map(|s| s.to_string()).collect(),
        remove,
        static_emulators,
        config: case.config.clone(),
        ..Default::default()
    }
}

/// What Nix sees in a module, or in the inline modules of a flake
/// configuration (merged as NixOS merges lists): `boot.binfmt.emulatedSystems`
/// and `boot.binfmt.preferStaticEmulators`, null when unset.
fn nix_view(
    nix: &nixcross_testkit::Nix,
    case: &Case,
    text: &str,
) -> (Option<Vec<String>>, Option<bool>) {
    let stand_ins = nixcross_testkit::StandIns::new([]);
    let modules = match &case.config {
        None => {
            stand_ins.write("configuration.nix", text);
            "[ (import ./configuration.nix) ]".to_string()
        }
        Some(name) => {
            stand_ins.write("flake.nix", text);
            format!(
                "let
                   out = (import ./flake.nix).outputs {{ inherit nixpkgs; self = {{ }}; }};
                 in builtins.filter (m: !builtins.isPath m)
                      out.nixosConfigurations.{name}.modules"
            )
        }
    };
    let expr = format!(
        r#"
      let
        nixpkgs = import ./nixpkgs.nix;
        inherit (nixpkgs) lib;
        modules = {modules};
        defs = map (m:
          let
            r = if builtins.isFunction m then m {{ config = {{ }}; pkgs = {{ }}; inherit lib; }} else m;
          in if r ? config then r.config else r) modules;
        lists = builtins.filter (x: x != null) (map (c: c.boot.binfmt.emulatedSystems or null) defs);
        statics = builtins.filter (x: x != null) (map (c: c.boot.binfmt.preferStaticEmulators or null) defs);
      in {{
        emulated = if lists == [ ] then null else builtins.concatLists lists;
        static = if statics == [ ] then null else builtins.head statics;
      }}"#
    );
    let expr = expr.as_str();
    let json = stand_ins
        .eval_json(nix, expr)
        .unwrap_or_else(|e| panic!("{}: nix eval failed: {e}\n--- text ---\n{text}", case.name));
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    let emulated = v["emulated"].as_array().map(|a| {
        a.iter()
            .map(|s| s.as_str().expect("systems are strings").to_string())
            .collect()
    });
    (emulated, v["static"].as_bool())
}

#[test]
fn nix_sees_exactly_the_requested_systems() {
    let Some(nix) = nixcross_testkit::nix("nix_sees_exactly_the_requested_systems") else {
        return;
    };
    let requests: &[&[&str]] = &[
        &["aarch64-linux"],
        &["riscv64-linux", "armv7l-linux"],
        &["s390x-linux", "aarch64-linux", "riscv64-linux"],
    ];
    let mut checked = 0;
    for case in fixture_inputs() {
        let (name, input) = (&case.name, &case.input);
        let (before, before_static) = nix_view(&nix, &case, input);
        let before = before.unwrap_or_default();
        for req in requests {
            // Add: the old list, then the requested systems it lacked.
            let out = match emulate(input, &opts(&case, req, false, true)) {
                Ok(out) => out,
                // The module states its platform, and it is one of these.
                Err(e) if e.message.contains("own system") && input.contains("hostPlatform") => {
                    continue
                }
                Err(e) => panic!("{name}: {e}"),
            };
            let mut want = before.clone();
            for s in *req {
                if !want.iter().any(|w| w == s) {
                    want.push(s.to_string());
                }
            }
            let (after, after_static) = nix_view(&nix, &case, &out.text);
            assert_eq!(
                after.as_ref(),
                Some(&want),
                "{name} + {req:?}:\n{}",
                out.text
            );
            assert_eq!(after_static, Some(true), "{name}: --static");
            assert_eq!(out.changed, want != before || before_static != Some(true));

            // Remove from the result: the old list without the requested systems.
            let back = emulate(&out.text, &opts(&case, req, true, false)).unwrap();
            let want: Vec<String> = before
                .iter()
                .filter(|s| !req.contains(&s.as_str()))
                .cloned()
                .collect();
            let (left, _) = nix_view(&nix, &case, &back.text);
            let left = left.unwrap_or_default();
            assert_eq!(left, want, "{name} - {req:?}:\n{}", back.text);
            checked += 1;
        }
    }
    assert!(checked > 0);
}

/// Systems a fixture input does not mention, so adding then removing them
/// is a round trip.
fn absent<'a>(input: &str, from: &[&'a str]) -> Vec<&'a str> {
    from.iter()
        .copied()
        .filter(|s| !input.contains(&format!("\"{s}\"")))
        .collect()
}

#[test]
fn add_then_remove_gives_back_the_original_bytes() {
    for case in fixture_inputs() {
        let (name, input) = (&case.name, &case.input);
        let systems = absent(input, &["s390x-linux", "mips64el-linux", "riscv32-linux"]);
        let with_static = !input.contains("preferStaticEmulators");
        for n in 1..=systems.len() {
            let s = &systems[..n];
            let added = emulate(input, &opts(&case, s, false, with_static)).unwrap();
            assert!(added.changed, "{name}: adding {s:?} changed nothing");
            let back = emulate(&added.text, &opts(&case, s, true, with_static)).unwrap();
            assert_eq!(
                &back.text, input,
                "{name}: add/remove {s:?} is not a round trip; after adding:\n{}",
                added.text
            );
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn any_subset_round_trips(
        case in any::<prop::sample::Index>(),
        picks in prop::collection::vec(any::<prop::sample::Index>(), 1..5),
        with_static in any::<bool>(),
        one_by_one in any::<bool>(),
    ) {
        let inputs = fixture_inputs();
        let c = &inputs[case.index(inputs.len())];
        let (name, input) = (&c.name, &c.input);
        let all: Vec<&str> = nixcross::platform::catalogue().emulatable().collect();
        let pool = absent(input, &all);
        let mut systems: Vec<&str> = picks.iter().map(|i| pool[i.index(pool.len())]).collect();
        systems.dedup();
        let with_static = with_static && !input.contains("preferStaticEmulators");
        // The module's own declared platform cannot be emulated.
        let added = match emulate(input, &opts(c, &systems, false, with_static)) {
            Ok(a) => a,
            Err(e) => {
                prop_assert!(e.message.contains("own system"), "{name}: {e}");
                return Ok(());
            }
        };
        prop_assert!(added.changed);
        let mut text = added.text.clone();
        if one_by_one {
            for s in systems.iter().rev() {
                text = emulate(&text, &opts(c, &[s], true, false)).unwrap().text;
            }
            if with_static {
                text = emulate(&text, &opts(c, &[], true, true)).unwrap().text;
            }
        } else {
            text = emulate(&text, &opts(c, &systems, true, with_static)).unwrap().text;
        }
        prop_assert_eq!(&text, input, "{}: {:?}; after adding:\n{}", name, systems, added.text);
    }
}
