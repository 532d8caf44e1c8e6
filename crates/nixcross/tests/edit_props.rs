//! Property: parse → plan → apply never panics on mutated real inputs, and
//! every edited file parses with real Nix whenever its input did.
//!
//! Inputs are the golden fixtures' `input.nix` files, mutated by proptest
//! (a slice deleted, duplicated, or text from a hostile alphabet inserted).
//! Every editing operation runs on each; the results are parsed with
//! `nix-instantiate` in one batch. Cases: `NIXCROSS_PROPTEST_CASES`
//! (default 48, kept small for CI's two cores). A crash proptest finds is
//! kept under `fixtures/` as a regression case.

use std::cell::RefCell;

use nixcross::ops::add_overlay::{add_overlay, AddOverlayOptions};
use nixcross::ops::emulate::{emulate, EmulateOptions};
use nixcross::ops::set_target::{set_target, SetTargetOptions};
use nixcross::vocab::Mode;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

fn seeds() -> Vec<String> {
    let root = nixcross_testkit::repo_root().join("fixtures");
    let mut out = Vec::new();
    for op in std::fs::read_dir(&root).unwrap().flatten() {
        let Ok(cases) = std::fs::read_dir(op.path()) else {
            continue;
        };
        for case in cases.flatten() {
            if let Ok(text) = std::fs::read_to_string(case.path().join("input.nix")) {
                out.push(text);
            }
        }
    }
    out.sort();
    out
}

/// Text that stresses the edit engine: brackets, strings, comments,
/// line endings, the options the operations edit.
const PIECES: &[&str] = &[
    "{",
    "}",
    "[",
    "]",
    "(",
    ")",
    ";",
    "=",
    " ",
    "\n",
    "\r\n",
    "\t",
    "# c\n",
    "/* c */",
    "\"",
    "\"${x}\"",
    "''",
    "let a = 1; in ",
    "with x; ",
    "rec ",
    "inherit a;",
    "a.b",
    "x:",
    "boot.binfmt.emulatedSystems = [ \"riscv64-linux\" ];",
    "nixpkgs.hostPlatform = \"aarch64-linux\";",
    "nixpkgs.crossSystem = { system = \"riscv64-linux\"; };",
    "system = \"x86_64-linux\";",
    "modules = [ ];",
    "nixpkgs.overlays = [ ];",
    "nixosConfigurations.x = nixpkgs.lib.nixosSystem { };",
    "//",
    "++",
    "-",
    "!",
];

#[derive(Debug, Clone)]
enum Mutation {
    Delete(usize, usize),
    Duplicate(usize, usize),
    Insert(usize, usize),
}

fn mutate(src: &str, muts: &[Mutation]) -> String {
    let mut s = src.to_string();
    for m in muts {
        let cut = |i: usize, s: &str| {
            let mut i = i % (s.len() + 1);
            while !s.is_char_boundary(i) {
                i -= 1;
            }
            i
        };
        match *m {
            Mutation::Delete(a, len) => {
                let a = cut(a, &s);
                let b = cut(a + len % 40, &s).max(a);
                s.replace_range(a..b, "");
            }
            Mutation::Duplicate(a, len) => {
                let a = cut(a, &s);
                let b = cut(a + len % 80, &s).max(a);
                let piece = s[a..b].to_string();
                s.insert_str(b, &piece);
            }
            Mutation::Insert(a, k) => {
                let a = cut(a, &s);
                s.insert_str(a, PIECES[k % PIECES.len()]);
            }
        }
    }
    s
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), any::<usize>()).prop_map(|(a, l)| Mutation::Delete(a, l)),
        (any::<usize>(), any::<usize>()).prop_map(|(a, l)| Mutation::Duplicate(a, l)),
        (any::<usize>(), any::<usize>()).prop_map(|(a, k)| Mutation::Insert(a, k)),
    ]
}

/// Every editing operation, on one input; the texts that changed.
fn edits(src: &str) -> Vec<String> {
    let local = Some("x86_64-linux".to_string());
    let mut out = Vec::new();
    let mut keep = |r: nixcross::Result<nixcross::ops::EditOutcome>| {
        if let Ok(o) = r {
            if o.changed {
                out.push(o.text);
            }
        }
    };
    for (target, mode) in [
        ("aarch64-linux", Mode::Emulate),
        ("riscv64-linux", Mode::Cross),
    ] {
        keep(set_target(
            src,
            &SetTargetOptions {
                target: target.into(),
                mode,
                config: None,
                host: None,
                local_system: local.clone(),
            },
        ));
    }
    for remove in [false, true] {
        keep(emulate(
            src,
            &EmulateOptions {
                systems: vec!["aarch64-linux".into(), "riscv64-linux".into()],
                remove,
                static_emulators: !remove,
                host: Some("x86_64-linux".into()),
                config: None,
                local_system: local.clone(),
            },
        ));
    }
    for scoped in [false, true] {
        keep(add_overlay(
            src,
            &AddOverlayOptions {
                pairs: vec!["gcc=gcc12".into()],
                config: None,
                scoped,
                instance: None,
                uses: if scoped { vec!["hello".into()] } else { vec![] },
            },
        ));
    }
    out
}

#[test]
fn edits_of_mutated_inputs_parse_with_nix() {
    let seeds = seeds();
    assert!(!seeds.is_empty());
    let cases: u32 = std::env::var("NIXCROSS_PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(48);
    let pairs: RefCell<Vec<(String, Vec<String>)>> = RefCell::new(Vec::new());
    let mut runner = TestRunner::new(Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    });
    let strategy = (0..seeds.len(), proptest::collection::vec(mutation(), 1..4));
    runner
        .run(&strategy, |(i, muts)| {
            let input = mutate(&seeds[i], &muts);
            // Must not panic; the outputs are checked with Nix below.
            let outs = edits(&input);
            pairs.borrow_mut().push((input, outs));
            Ok(())
        })
        .unwrap();
    // The unmutated seeds too.
    for s in &seeds {
        pairs.borrow_mut().push((s.clone(), edits(s)));
    }
    let Some(nix) = nixcross_testkit::nix("edits_of_mutated_inputs_parse_with_nix") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let pairs = pairs.into_inner();
    let mut checked = 0;
    for (n, (input, outs)) in pairs.iter().enumerate() {
        if outs.is_empty() || nix.parse(input).is_err() {
            continue;
        }
        let files: Vec<_> = outs
            .iter()
            .enumerate()
            .map(|(k, o)| {
                let p = dir.path().join(format!("{n}-{k}.nix"));
                std::fs::write(&p, o).unwrap();
                p
            })
            .collect();
        if let Err(err) = nix.parse_files(&files) {
            let bad = outs.iter().find(|o| nix.parse(o).is_err()).unwrap();
            panic!("an edit of a file Nix parses does not parse:\n{err}\n--- input ---\n{input}\n--- output ---\n{bad}");
        }
        checked += outs.len();
    }
    assert!(checked > 0, "no edit was checked");
}
