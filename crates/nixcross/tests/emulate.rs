//! `ops::emulate` against two oracles:
//! - real Nix: the edited tree, evaluated with the module model in
//!   `crates/testkit/nix/nixos.nix`, emulates exactly the systems it did plus
//!   the requested ones (or minus them);
//! - the input itself: adding systems and removing them again gives back
//!   the original bytes, for every successful fixture input.

#[path = "support/inputs.rs"]
mod inputs;
#[path = "support/module.rs"]
mod module;

use nixcross::files::{MemFiles, RelPath};
use nixcross::ops::emulate::{emulate, EmulateOptions};
use proptest::prelude::*;

/// A successful `fixtures/emulate` case: its name, its files, the file
/// edited, and the configuration its `args` name with `--config` (the file
/// is then a flake).
struct Case {
    name: String,
    files: MemFiles,
    main: String,
    config: Option<String>,
}

/// The `fixtures/emulate` cases that succeed.
fn fixture_inputs() -> Vec<Case> {
    let out: Vec<Case> = inputs::inputs("emulate", inputs::Removals::Keep)
        .into_iter()
        .map(|c| {
            let mut files = MemFiles::new();
            for (p, t) in &c.files {
                files.insert(p, t.clone());
            }
            Case {
                name: c.name,
                files,
                main: c.main,
                config: c.config,
            }
        })
        .collect();
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

/// Run `emulate` on a tree of the case; the tree afterwards, and whether
/// any file changed.
fn run(case: &Case, files: &MemFiles, o: &EmulateOptions) -> nixcross::Result<(MemFiles, bool)> {
    let out = emulate(files, &RelPath::new(&case.main).unwrap(), o)?;
    let mut after = files.clone();
    for c in &out.changes {
        after.insert(c.path.as_str(), c.after.clone());
    }
    Ok((after, out.changed()))
}

/// A tree as text, for messages.
fn show(files: &MemFiles) -> String {
    files
        .iter()
        .map(|(p, t)| format!("--- {p}\n{t}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// What NixOS sees (through the module model): the emulated systems and
/// preferStaticEmulators of the module, or of the flake's configuration.
fn nix_view(nix: &nixcross_testkit::Nix, case: &Case, files: &MemFiles) -> (Vec<String>, bool) {
    let model = nixcross_testkit::model_dir(|| "{}".into());
    let dir = tempfile::tempdir().unwrap();
    for (p, t) in files.iter() {
        let path = dir.path().join(p.as_str());
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, t).unwrap();
    }
    let main = files
        .iter()
        .find(|(p, _)| p.as_str() == case.main)
        .map(|(_, t)| t)
        .unwrap_or_default();
    let module = module::nixos_module_expr(&case.main, main, &model);
    let expr = match &case.config {
        None => format!(
            "((import {}/nixos.nix {{ }}).evalConfig {{ modules = [ {module} ]; }})",
            model.display(),
        ),
        Some(name) => format!(
            "(import {}/flake-eval.nix {{ dir = ./.; }}).{name}",
            model.display()
        ),
    };
    let json = nix
        .eval_json(
            dir.path(),
            &format!("let c = {expr}; in {{ inherit (c) emulatedSystems preferStaticEmulators; }}"),
        )
        .unwrap_or_else(|e| panic!("{}: nix eval failed: {e}\n{}", case.name, show(files)));
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    let emulated = v["emulatedSystems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().expect("systems are strings").to_string())
        .collect();
    (
        emulated,
        v["preferStaticEmulators"] == serde_json::Value::Bool(true),
    )
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
        let input = case.files.clone();
        let name = &case.name;
        let (before, before_static) = nix_view(&nix, &case, &input);
        for req in requests {
            // Add: the old list, then the requested systems it lacked.
            let (tree, changed) = match run(&case, &input, &opts(&case, req, false, true)) {
                Ok(out) => out,
                // The module or configuration runs on one of these.
                Err(e) if e.message.contains("own system") => continue,
                Err(e) => panic!("{name}: {e}"),
            };
            let mut want = before.clone();
            for s in *req {
                if !want.iter().any(|w| w == s) {
                    want.push(s.to_string());
                }
            }
            let (after, after_static) = nix_view(&nix, &case, &tree);
            let mut sorted_after = after.clone();
            sorted_after.sort();
            let mut sorted_want = want.clone();
            sorted_want.sort();
            assert_eq!(
                sorted_after,
                sorted_want,
                "{name} + {req:?}:\n{}",
                show(&tree)
            );
            assert!(after_static, "{name}: --static");
            assert_eq!(changed, after != before || !before_static);

            // Remove from the result: the old list without the requested systems.
            let back = match run(&case, &tree, &opts(&case, req, true, false)) {
                Ok((back, _)) => back,
                // A system another part of the option supplies cannot be
                // removed from the literal list; refusing is right.
                Err(e) if e.message.contains("comes from") => {
                    assert!(
                        req.iter().any(|s| before.contains(&s.to_string())),
                        "{name}: {e}"
                    );
                    checked += 1;
                    continue;
                }
                Err(e) => panic!("{name}: {e}"),
            };
            let want: Vec<String> = before
                .iter()
                .filter(|s| !req.contains(&s.as_str()))
                .cloned()
                .collect();
            let (left, _) = nix_view(&nix, &case, &back);
            assert_eq!(left, want, "{name} - {req:?}:\n{}", show(&back));
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
        let text = show(&case.files);
        let systems = absent(&text, &["s390x-linux", "mips64el-linux", "riscv32-linux"]);
        let with_static = !text.contains("preferStaticEmulators");
        for n in 1..=systems.len() {
            let s = &systems[..n];
            let (added, changed) =
                run(&case, &case.files, &opts(&case, s, false, with_static)).unwrap();
            assert!(changed, "{}: adding {s:?} changed nothing", case.name);
            let (back, _) = run(&case, &added, &opts(&case, s, true, with_static)).unwrap();
            assert_eq!(
                back,
                case.files,
                "{}: add/remove {s:?} is not a round trip; after adding:\n{}",
                case.name,
                show(&added)
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
        let input = show(&c.files);
        let all: Vec<&str> = nixcross::platform::catalogue().emulatable().collect();
        let pool = absent(&input, &all);
        let mut systems: Vec<&str> = picks.iter().map(|i| pool[i.index(pool.len())]).collect();
        systems.dedup();
        let with_static = with_static && !input.contains("preferStaticEmulators");
        // The module's own declared platform cannot be emulated.
        let (added, changed) = match run(c, &c.files, &opts(c, &systems, false, with_static)) {
            Ok(a) => a,
            Err(e) => {
                prop_assert!(e.message.contains("own system"), "{}: {e}", c.name);
                return Ok(());
            }
        };
        prop_assert!(changed);
        let mut text = added.clone();
        if one_by_one {
            for s in systems.iter().rev() {
                text = run(c, &text, &opts(c, &[s], true, false)).unwrap().0;
            }
            if with_static {
                text = run(c, &text, &opts(c, &[], true, true)).unwrap().0;
            }
        } else {
            text = run(c, &text, &opts(c, &systems, true, with_static)).unwrap().0;
        }
        prop_assert_eq!(&text, &c.files, "{}: {:?}; after adding:\n{}", c.name, systems, show(&added));
    }
}
