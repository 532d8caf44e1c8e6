//! The edit engine against the seed document and random input.

use nixcross::edit::{apply, TextEdit};
use nixcross::ops::set_target::{set_target, SetTargetOptions};
use nixcross::ops::show::{show, ShowOptions};
use nixcross::syntax;
use nixcross::vocab::Mode;
use proptest::prelude::*;

fn seed_flakes() -> Vec<String> {
    let root = nixcross_testkit::repo_root();
    let seed = root.parent().unwrap().join("shared/seed");
    let text: String = std::fs::read_dir(&seed)
        .map(|d| {
            d.flatten()
                .map(|e| std::fs::read_to_string(e.path()).unwrap_or_default())
                .collect()
        })
        .unwrap_or_default();
    if text.is_empty() {
        // The seed ships beside the repository; the fixtures keep copies.
        return [
            "fixtures/set-target/seed-cross-to-emulate/input.nix",
            "fixtures/set-target/seed-emulate-to-cross/input.nix",
        ]
        .iter()
        .map(|p| std::fs::read_to_string(root.join(p)).unwrap())
        .collect();
    }
    let mut out = Vec::new();
    let mut rest = text.as_str();
    while let Some(i) = rest.find("```nix") {
        let body = &rest[i..];
        let start = body.find('\n').unwrap() + 1;
        let end = body[start..].find("```").unwrap();
        out.push(body[start..start + end].to_string());
        rest = &body[start + end..];
    }
    out
}

fn opts(target: &str, mode: Mode) -> SetTargetOptions {
    SetTargetOptions {
        target: target.into(),
        mode,
        config: None,
        host: Some("x86_64-linux".into()),
        local_system: Some("x86_64-linux".into()),
    }
}

/// Lines that are comments, dropped for "apart from the comments".
fn without_comment_lines(s: &str) -> String {
    s.lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn seed_cross_and_emulate_convert_into_each_other() {
    let seeds = seed_flakes();
    let flakes: Vec<&String> = seeds.iter().filter(|s| s.contains("nixosSystem")).collect();
    let cross = flakes[0];
    let emulate = flakes
        .iter()
        .find(|s| !s.contains("crossSystem"))
        .expect("the seed has an emulated flake");
    assert!(cross.contains("crossSystem") && !emulate.contains("crossSystem"));
    // cross -> emulate gives exactly the seed's emulated flake.
    let out = set_target(cross, &opts("riscv64-linux", Mode::Emulate)).unwrap();
    assert_eq!(&out.text, *emulate);
    // emulate -> cross gives the seed's cross flake, apart from the
    // comments that belong to the added module.
    let out = set_target(emulate, &opts("riscv64-linux", Mode::Cross)).unwrap();
    assert_ne!(
        &out.text, cross,
        "the module's comments differ from the seed's"
    );
    assert_eq!(
        without_comment_lines(&out.text),
        without_comment_lines(cross)
    );
    nixcross_testkit::assert_nix_parses("seed", "converted seed", &out.text);
}

#[test]
fn show_reads_every_seed_flake() {
    let seeds = seed_flakes();
    for s in &seeds {
        if !s.contains("nixosSystem") {
            continue;
        }
        let r = show(
            s,
            &ShowOptions {
                local_system: Some("x86_64-linux".into()),
            },
        )
        .unwrap();
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].host.as_deref(), Some("riscv64-linux"));
        assert!(r[0].editable);
    }
}

#[test]
fn every_fixture_reprints_and_an_empty_plan_is_identity() {
    let root = nixcross_testkit::repo_root().join("fixtures");
    let mut n = 0;
    for op in std::fs::read_dir(&root).unwrap().flatten() {
        for case in std::fs::read_dir(op.path()).into_iter().flatten().flatten() {
            for f in ["input.nix", "expected.nix"] {
                let Ok(src) = std::fs::read_to_string(case.path().join(f)) else {
                    continue;
                };
                assert_eq!(syntax::reprint(&src), src);
                assert_eq!(apply(&src, &[]).unwrap(), src);
                n += 1;
            }
        }
    }
    assert!(n > 40, "only {n} fixture files");
}

proptest! {
    #[test]
    fn parse_and_print_is_lossless(s in "\\PC{0,200}") {
        prop_assert_eq!(syntax::reprint(&s), s);
    }

    /// `apply` agrees with applying the edits one by one from the end.
    #[test]
    fn apply_matches_a_naive_model(
        src in "[a-z{}; \n]{0,60}",
        cuts in proptest::collection::vec((0usize..60, 0usize..4, "[xy]{0,3}"), 0..6),
    ) {
        let mut edits: Vec<TextEdit> = Vec::new();
        let mut last_end = 0usize;
        let mut sorted = cuts.clone();
        sorted.sort();
        for (start, len, text) in sorted {
            let start = start.min(src.len()).max(last_end);
            let end = (start + len).min(src.len());
            edits.push(TextEdit::replace((start, end), text));
            last_end = end;
        }
        let mut model = src.clone();
        for e in edits.iter().rev() {
            model.replace_range(e.range.0..e.range.1, &e.insert);
        }
        // Reverse the plan order: apply sorts it back.
        let mut shuffled = edits.clone();
        shuffled.reverse();
        let same_point = edits.windows(2).any(|w| w[0].range.0 == w[1].range.0);
        if !same_point {
            prop_assert_eq!(apply(&src, &shuffled).unwrap(), model.clone());
        }
        prop_assert_eq!(apply(&src, &edits).unwrap(), model);
    }
}

#[test]
fn the_projects_own_flake_parses_and_has_no_nixos_configuration() {
    let src = std::fs::read_to_string(nixcross_testkit::repo_root().join("flake.nix")).unwrap();
    assert!(show(&src, &ShowOptions::default()).unwrap().is_empty());
    nixcross_testkit::assert_nix_parses("own_flake", "flake.nix", &src);
}
