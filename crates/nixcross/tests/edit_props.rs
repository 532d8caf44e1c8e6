//! Property: parse → plan → apply never panics on mutated real inputs, and
//! every edited file parses with real Nix whenever its input did.
//!
//! Inputs are the golden fixtures' inputs (an `input.nix`, or an `input/`
//! tree), one file of each mutated by proptest (a slice deleted, duplicated,
//! or text from a hostile alphabet inserted). Every editing operation runs
//! on each; every file an edit changes is parsed with `nix-instantiate` in
//! one batch, whenever every input file parsed. Cases: `NIXCROSS_PROPTEST_CASES`
//! (default 48, kept small for CI's two cores). A crash proptest finds is
//! kept under `fixtures/` as a regression case.

use std::cell::RefCell;

use nixcross::files::{Files, MemFiles, RelPath};
use nixcross::ops::add_overlay::{add_overlay, AddOverlayOptions};
use nixcross::ops::emulate::{emulate, EmulateOptions};
use nixcross::ops::set_target::{set_target, SetTargetOptions};
use nixcross::vocab::Mode;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

/// One fixture's input: its files (path, text), the entry first.
type Seed = Vec<(String, String)>;

fn seeds() -> Vec<Seed> {
    let root = nixcross_testkit::repo_root().join("fixtures");
    let mut out = Vec::new();
    for op in std::fs::read_dir(&root).unwrap().flatten() {
        let Ok(cases) = std::fs::read_dir(op.path()) else {
            continue;
        };
        for case in cases.flatten() {
            if let Ok(text) = std::fs::read_to_string(case.path().join("input.nix")) {
                out.push(vec![("flake.nix".to_string(), text)]);
                continue;
            }
            let dir = case.path().join("input");
            let mut files = Vec::new();
            collect(&dir, &dir, &mut files);
            if files.is_empty() {
                continue;
            }
            files.sort();
            // The flake first: it is the entry of every operation.
            if let Some(i) = files.iter().position(|(p, _)| p == "flake.nix") {
                let flake = files.remove(i);
                files.insert(0, flake);
            }
            out.push(files);
        }
    }
    out.sort();
    out
}

fn collect(root: &std::path::Path, dir: &std::path::Path, out: &mut Vec<(String, String)>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let path = e.path();
        if path.is_dir() {
            collect(root, &path, out);
        } else if let Ok(text) = std::fs::read_to_string(&path) {
            let rel = path
                .strip_prefix(root)
                .unwrap()
                .to_string_lossy()
                .into_owned();
            out.push((rel, text));
        }
    }
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

/// Every editing operation, on one tree; the texts of the files that changed.
fn edits(seed: &Seed) -> Vec<String> {
    let mut files = MemFiles::new();
    for (p, t) in seed {
        files.insert(p, t.clone());
    }
    let files: &dyn Files = &files;
    let entry = RelPath::new(&seed[0].0).unwrap();
    let local = Some("x86_64-linux".to_string());
    let mut out = Vec::new();
    let mut keep = |r: nixcross::Result<nixcross::edit::Outcome>| {
        if let Ok(o) = r {
            out.extend(o.changes.into_iter().map(|c| c.after));
        }
    };
    for (target, mode) in [
        ("aarch64-linux", Mode::Emulate),
        ("riscv64-linux", Mode::Cross),
    ] {
        keep(set_target(
            files,
            &entry,
            &SetTargetOptions {
                target: target.into(),
                mode,
                config: None,
                host: None,
                local_system: local.clone(),
                style: None,
            },
        ));
    }
    for remove in [false, true] {
        keep(emulate(
            files,
            &entry,
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
            files,
            &entry,
            &AddOverlayOptions {
                pairs: vec!["gcc=gcc12".into()],
                config: None,
                scoped,
                instance: None,
                uses: if scoped { vec!["hello".into()] } else { vec![] },
                remove: false,
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
    let pairs: RefCell<Vec<(Seed, Vec<String>)>> = RefCell::new(Vec::new());
    let mut runner = TestRunner::new(Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    });
    let strategy = (
        0..seeds.len(),
        any::<usize>(),
        proptest::collection::vec(mutation(), 1..4),
    );
    runner
        .run(&strategy, |(i, which, muts)| {
            let mut input = seeds[i].clone();
            let k = which % input.len();
            input[k].1 = mutate(&input[k].1, &muts);
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
        if outs.is_empty() || input.iter().any(|(_, t)| nix.parse(t).is_err()) {
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
            let shown: String = input
                .iter()
                .map(|(p, t)| format!("--- input {p} ---\n{t}\n"))
                .collect();
            panic!(
                "an edit of files Nix parses does not parse:\n{err}\n{shown}--- output ---\n{bad}"
            );
        }
        checked += outs.len();
    }
    assert!(checked > 0, "no edit was checked");
}
