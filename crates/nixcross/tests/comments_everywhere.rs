//! Comments at every token boundary: each `fixtures/emulate`,
//! `fixtures/add-builder` and `fixtures/set-target` input that the command
//! edits is tried again with
//! a comment (`/* c */`, or `# c` and a line break) put at every point
//! between two tokens (outside strings and paths). For each variant the
//! edit is either refused with a reason (never a bug), or:
//! - real Nix, evaluating the result with the module model
//!   (`crates/testkit/nix/nixos.nix`), sees exactly what it saw in the
//!   variant plus what the edit added (the edit is in effect, nothing else
//!   changed), and
//! - the inverse command gives back the variant's bytes (set-target: every
//!   other configuration is as it was, and the edited one is built for the
//!   target, unmixed; every other point, as the flakes are long).
//!
//! The variants are evaluated in one Nix process per fixture.

#[path = "support/inputs.rs"]
mod inputs;
#[path = "support/module.rs"]
mod module;

use std::collections::BTreeMap;

use inputs::{inputs, Case, Removals};
use std::path::Path;

use nixcross::files::{MemFiles, RelPath};
use nixcross::ops::add_builder::{add_builder, AddBuilderOptions};
use nixcross::ops::emulate::{emulate, EmulateOptions};
use nixcross::ErrorKind;

fn mem(files: &BTreeMap<String, String>) -> MemFiles {
    let mut m = MemFiles::new();
    for (p, t) in files {
        m.insert(p, t.clone());
    }
    m
}

/// The variants of `text`: a comment at each point between tokens.
fn variants(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let line = if text.contains("\r\n") {
        " # c\r\n"
    } else {
        " # c\n"
    };
    for p in nixcross::test_support::comment_points(text) {
        for c in [" /* c */ ", line] {
            let v = format!("{}{c}{}", &text[..p], &text[p..]);
            if nixcross::test_support::parse(&v).is_ok() {
                out.push(v);
            }
        }
    }
    out
}

/// An operation under test: apply (`remove` false) or undo.
type Op<'a> = &'a dyn Fn(&MemFiles, &str, bool) -> nixcross::Result<nixcross::edit::Outcome>;

/// What the edits of one fixture's variants gave.
#[derive(Default)]
struct Tally {
    edited: usize,
    refused: usize,
    /// Undos that did not give back the bytes: the variant and the result.
    bad_undo: Vec<(String, String, String)>,
}

impl Tally {
    /// Fail with the undos that went wrong (the first few shown).
    fn check(&self, op: &str) {
        eprintln!(
            "{op}: {} variants edited, {} refused, {} undos wrong",
            self.edited,
            self.refused,
            self.bad_undo.len()
        );
        if let Ok(path) = std::env::var("NIXCROSS_DUMP_UNDOS") {
            let text: Vec<String> = self
                .bad_undo
                .iter()
                .map(|(n, v, b)| format!("=== {n}\n--- variant\n{v}\n--- back\n{b}\n"))
                .collect();
            std::fs::write(format!("{path}.{op}"), text.join("\n")).unwrap();
        }
        if let Some((name, v, back)) = self.bad_undo.first() {
            panic!(
                "{op}: {} of {} undos do not give back the bytes; the first, {name}:
--- variant
{v}
--- after add and remove
{back}",
                self.bad_undo.len(),
                self.edited
            );
        }
    }
}

/// The trees, written into folders `t0`, `t1`, ... of `dir`.
fn write_trees(dir: &Path, trees: &[BTreeMap<String, String>]) {
    for (i, t) in trees.iter().enumerate() {
        for (p, text) in t {
            let path = dir.join(format!("t{i}")).join(p);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        }
    }
}

/// What the module model says of each tree (the module, or the flake's
/// configuration), as JSON values `{ emulatedSystems, buildMachines, ... }`.
fn model_views(
    nix: &nixcross_testkit::Nix,
    case: &Case,
    trees: &[BTreeMap<String, String>],
) -> Result<Vec<serde_json::Value>, String> {
    let model = nixcross_testkit::model_dir(|| "{}".into());
    let dir = tempfile::tempdir().unwrap();
    write_trees(dir.path(), trees);
    let one = |i: usize| -> String {
        match &case.config {
            Some(name) => format!(
                "(import {}/flake-eval.nix {{ dir = ./t{i}; }}).{name}",
                model.display()
            ),
            None => {
                let m = module::nixos_module_expr(
                    &format!("t{i}/{}", case.main),
                    &trees[i][&case.main],
                    &model,
                );
                // The arguments the fixtures' modules ask for.
                format!(
                    "((import {}/nixos.nix {{ }}).evalConfig {{ modules = [ {m} ]; \
                     specialArgs = {{ machines = [ {{ name = \"fleet-a\"; }} ]; }}; }})",
                    model.display()
                )
            }
        }
    };
    let list: Vec<String> = (0..trees.len())
        .map(|i| {
            format!(
                "(let c = {}; in {{ inherit (c) emulatedSystems buildMachines distributedBuilds; }})",
                one(i)
            )
        })
        .collect();
    // One file: the list is longer than a command line may be.
    std::fs::write(
        dir.path().join("all.nix"),
        format!("[ {} ]", list.join("\n")),
    )
    .unwrap();
    let json = nix.eval_json(dir.path(), "import ./all.nix")?;
    serde_json::from_str::<Vec<serde_json::Value>>(&json).map_err(|e| e.to_string())
}

/// The model's views of the trees, or `None` when the model cannot
/// evaluate the fixture's own input (it models no options, for example).
fn views_if_modelled(
    nix: &nixcross_testkit::Nix,
    case: &Case,
    trees: &[BTreeMap<String, String>],
) -> Option<Vec<serde_json::Value>> {
    if model_views(nix, case, std::slice::from_ref(&case.files)).is_err() {
        eprintln!(
            "{}: the module model cannot evaluate it; undo checked only",
            case.name
        );
        return None;
    }
    Some(
        model_views(nix, case, trees)
            .unwrap_or_else(|e| panic!("{}: nix eval failed: {e}", case.name)),
    )
}

/// The model's views of each pair's variant and result, in turn (`None`
/// when there is nothing to evaluate or the model cannot).
#[allow(clippy::type_complexity)]
fn views_of_pairs(
    nix: &nixcross_testkit::Nix,
    case: &Case,
    pairs: &[(BTreeMap<String, String>, BTreeMap<String, String>)],
) -> Option<Vec<serde_json::Value>> {
    if pairs.is_empty() {
        return None;
    }
    let trees: Vec<BTreeMap<String, String>> = pairs
        .iter()
        .flat_map(|(b, a)| [b.clone(), a.clone()])
        .collect();
    views_if_modelled(nix, case, &trees)
}

/// Run `op` on every variant of `case`; check each edit's undo; return the
/// (variant, result) trees of the edits.
#[allow(clippy::type_complexity)]
fn try_variants(
    case: &Case,
    op: Op,
    tally: &mut Tally,
) -> Vec<(BTreeMap<String, String>, BTreeMap<String, String>)> {
    try_some_variants(case, op, true, 1, tally)
}

/// [`try_variants`] on every `stride`-th variant, with the undo checked
/// when `undo` is set.
#[allow(clippy::type_complexity)]
fn try_some_variants(
    case: &Case,
    op: Op,
    undo: bool,
    stride: usize,
    tally: &mut Tally,
) -> Vec<(BTreeMap<String, String>, BTreeMap<String, String>)> {
    let mut out = Vec::new();
    for v in variants(&case.files[&case.main])
        .into_iter()
        .step_by(stride)
    {
        let mut before = case.files.clone();
        before.insert(case.main.clone(), v.clone());
        let res = op(&mem(&before), &case.main, false);
        let outcome = match res {
            Ok(o) => o,
            Err(e) => {
                assert_ne!(
                    e.kind,
                    ErrorKind::Internal,
                    "{}: a bug on\n{v}\n{}",
                    case.name,
                    e.message
                );
                eprintln!("refused {}: {}", case.name, e.message);
                tally.refused += 1;
                continue;
            }
        };
        if !outcome.changed() {
            continue;
        }
        let mut after = before.clone();
        for c in &outcome.changes {
            after.insert(c.path.as_str().to_string(), c.after.clone());
        }
        if !undo {
            tally.edited += 1;
            out.push((before, after));
            continue;
        }
        // Undo gives back the bytes.
        let back = op(&mem(&after), &case.main, true)
            .unwrap_or_else(|e| panic!("{}: undo refused: {}\n{v}", case.name, e.message));
        let mut undone = after.clone();
        for c in &back.changes {
            undone.insert(c.path.as_str().to_string(), c.after.clone());
        }
        // A literal list the edit added to and the undo emptied again goes
        // with its binding (README, Limitations): the same meaning.
        let emptied_list = v.contains("= [ ];") && !undone[&case.main].contains("= [ ];");
        if undone[&case.main] != v && !emptied_list {
            tally
                .bad_undo
                .push((case.name.clone(), v.clone(), undone[&case.main].clone()));
        }
        tally.edited += 1;
        out.push((before, after));
    }
    out
}

#[test]
fn emulate_with_comments_everywhere() {
    let Some(nix) = nixcross_testkit::nix("emulate_with_comments_everywhere") else {
        return;
    };
    let mut tally = Tally::default();
    for case in inputs("emulate", Removals::Skip) {
        let system = ["riscv64-linux", "s390x-linux", "mips64el-linux"]
            .into_iter()
            .find(|s| case.files.values().all(|t| !t.contains(s)))
            .unwrap();
        let op = |files: &MemFiles, main: &str, remove: bool| {
            let o = EmulateOptions {
                systems: vec![system.to_string()],
                remove,
                config: case.config.clone(),
                ..Default::default()
            };
            emulate(files, &RelPath::new(main).unwrap(), &o)
        };
        let pairs = try_variants(&case, &op, &mut tally);
        let Some(views) = views_of_pairs(&nix, &case, &pairs) else {
            continue;
        };
        for (k, (b, a)) in pairs.iter().enumerate() {
            let set = |v: &serde_json::Value| -> std::collections::BTreeSet<String> {
                v["emulatedSystems"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|s| s.as_str().unwrap().to_string())
                    .collect()
            };
            let mut want = set(&views[2 * k]);
            want.insert(system.to_string());
            assert_eq!(
                set(&views[2 * k + 1]),
                want,
                "{}: the edit is not in effect, or changed more:\n--- before\n{}\n--- after\n{}",
                case.name,
                b[&case.main],
                a[&case.main]
            );
        }
    }
    tally.check("emulate");
    assert!(tally.edited > 1000, "edited only {}", tally.edited);
}

#[test]
fn add_builder_with_comments_everywhere() {
    let Some(nix) = nixcross_testkit::nix("add_builder_with_comments_everywhere") else {
        return;
    };
    let mut tally = Tally::default();
    for case in inputs("add-builder", Removals::Skip) {
        let host = "cmt9";
        let op = |files: &MemFiles, main: &str, remove: bool| {
            let o = AddBuilderOptions {
                uri: format!("ssh://nix@{host}"),
                systems: if remove {
                    Vec::new()
                } else {
                    vec!["aarch64-linux".into()]
                },
                remove,
                config: case.config.clone(),
                ..Default::default()
            };
            add_builder(files, &RelPath::new(main).unwrap(), &o)
        };
        let pairs = try_variants(&case, &op, &mut tally);
        let Some(views) = views_of_pairs(&nix, &case, &pairs) else {
            continue;
        };
        for (k, (b, a)) in pairs.iter().enumerate() {
            let hosts = |v: &serde_json::Value| -> Vec<String> {
                v["buildMachines"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .filter_map(|m| m["hostName"].as_str().map(str::to_string))
                    .collect()
            };
            let mut want = hosts(&views[2 * k]);
            want.push(host.to_string());
            want.sort();
            let mut got = hosts(&views[2 * k + 1]);
            got.sort();
            assert_eq!(
                got, want,
                "{}: the builder is not in effect, or more changed:\n--- before\n{}\n--- after\n{}",
                case.name, b[&case.main], a[&case.main]
            );
            assert_eq!(
                views[2 * k + 1]["distributedBuilds"],
                serde_json::Value::Bool(true),
                "{}: distributedBuilds\n{}",
                case.name,
                a[&case.main]
            );
        }
    }
    tally.check("add-builder");
    assert!(tally.edited > 500, "edited only {}", tally.edited);
}

#[test]
fn set_target_with_comments_everywhere() {
    let Some(nix) = nixcross_testkit::nix("set_target_with_comments_everywhere") else {
        return;
    };
    let model = nixcross_testkit::model_dir(|| "{}".into());
    let mut tally = Tally::default();
    let root = nixcross_testkit::repo_root().join("fixtures/set-target");
    for case in inputs("set-target", Removals::Skip) {
        let args = std::fs::read_to_string(root.join(&case.name).join("args")).unwrap();
        let words: Vec<&str> = args.split_whitespace().collect();
        let flag = |f: &str| {
            words
                .iter()
                .position(|w| *w == f)
                .map(|i| words[i + 1].to_string())
        };
        if words
            .iter()
            .any(|w| matches!(*w, "--package" | "--shell" | "--style"))
        {
            continue;
        }
        let (Some(mode), Some(target)) = (flag("--mode"), words.get(1)) else {
            continue;
        };
        let mode: nixcross::vocab::Mode = mode.parse().unwrap();
        let opts = nixcross::ops::set_target::SetTargetOptions {
            target: target.to_string(),
            mode,
            config: flag("--config"),
            host: flag("--host"),
            local_system: Some("x86_64-linux".into()),
            style: None,
        };
        let op = |files: &MemFiles, main: &str, _remove: bool| {
            nixcross::ops::set_target::set_target(files, &RelPath::new(main).unwrap(), &opts)
        };
        // Every other point between tokens: the flakes are long.
        let pairs = try_some_variants(&case, &op, false, 2, &mut tally);
        if pairs.is_empty() {
            continue;
        }
        let trees: Vec<BTreeMap<String, String>> = pairs
            .iter()
            .flat_map(|(b, a)| [b.clone(), a.clone()])
            .collect();
        let dir = tempfile::tempdir().unwrap();
        write_trees(dir.path(), &trees);
        let list: Vec<String> = (0..trees.len())
            .map(|i| {
                format!(
                    "(builtins.mapAttrs (n: c: {{ build = c.build or null; host = c.host or null; mixed = c.mixed or null; }}) (import {}/flake-eval.nix {{ dir = ./t{i}; }}))",
                    model.display()
                )
            })
            .collect();
        std::fs::write(
            dir.path().join("all.nix"),
            format!("[ {} ]", list.join("\n")),
        )
        .unwrap();
        let Ok(json) = nix.eval_json(dir.path(), "import ./all.nix") else {
            eprintln!(
                "{}: the module model cannot evaluate it; skipped",
                case.name
            );
            continue;
        };
        let views: Vec<serde_json::Value> = serde_json::from_str(&json).unwrap();
        let resolved = nixcross::platform::resolve(target).unwrap().system;
        for (k, (b, a)) in pairs.iter().enumerate() {
            let (before, after) = (&views[2 * k], &views[2 * k + 1]);
            let names: Vec<&String> = before.as_object().unwrap().keys().collect();
            let edited = opts.config.clone().unwrap_or_else(|| names[0].clone());
            for n in names {
                let (was, now) = (&before[n], &after[n]);
                if *n != edited {
                    assert_eq!(
                        now, was,
                        "{}: `{n}` changed:\n--- before\n{}\n--- after\n{}",
                        case.name, b[&case.main], a[&case.main]
                    );
                    continue;
                }
                let host = now["host"]
                    .as_str()
                    .and_then(|h| nixcross::platform::resolve(h).ok())
                    .map(|t| t.system);
                assert_eq!(
                    host.as_deref(),
                    Some(resolved.as_str()),
                    "{}: not in effect:\n--- before\n{}\n--- after\n{}",
                    case.name,
                    b[&case.main],
                    a[&case.main]
                );
                assert_ne!(
                    now["mixed"],
                    serde_json::Value::Bool(true),
                    "{}: mixed",
                    case.name
                );
            }
        }
    }
    tally.check("set-target");
    assert!(tally.edited > 500, "edited only {}", tally.edited);
}
