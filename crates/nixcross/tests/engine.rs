//! The edit engine against the seed document's flakes and random edits.

use nixcross::edit::{apply, TextEdit};
use nixcross::files::{MemFiles, RelPath};
use nixcross::ops::set_target::{set_target, SetTargetOptions};
use nixcross::ops::show::{show, ConfigReport, ShowOptions};
use nixcross::vocab::Mode;
use proptest::prelude::*;

fn flake() -> RelPath {
    RelPath::new("flake.nix").unwrap()
}

/// `set-target` on a flake given as text; the new text.
fn set_target_text(src: &str, opts: &SetTargetOptions) -> String {
    let files = MemFiles::single("flake.nix", src);
    let out = set_target(&files, &flake(), opts).unwrap();
    out.text_of("flake.nix").unwrap_or(src).to_string()
}

/// `show` on a flake given as text.
fn show_text(src: &str, opts: &ShowOptions) -> Vec<ConfigReport> {
    let files = MemFiles::single("flake.nix", src);
    show(&files, &flake(), opts).unwrap().configurations
}

/// The seed document's flakes, kept verbatim as fixture inputs (the seed
/// itself lives outside the repository): the cross-compiled flake, the
/// emulated one, the global overlay and the scoped package set.
const SEED_CASES: &[&str] = &[
    "seed-cross-to-emulate",
    "seed-emulate-to-cross",
    "seed-overlay-to-raspberrypi",
    "seed-scoped-follows",
];

fn seed(case: &str) -> String {
    let path = nixcross_testkit::repo_root()
        .join("fixtures/set-target")
        .join(case)
        .join("input.nix");
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn opts(target: &str, mode: Mode) -> SetTargetOptions {
    SetTargetOptions {
        target: target.into(),
        mode,
        config: None,
        host: Some("x86_64-linux".into()),
        local_system: Some("x86_64-linux".into()),
        style: None,
    }
}

/// Lines that are comments or blank, dropped for "apart from the comments
/// and the spacing" (the seed opens its modules list with a blank line,
/// which nixcross does not copy).
fn without_comment_lines(s: &str) -> String {
    s.lines()
        .filter(|l| !l.trim_start().starts_with('#') && !l.trim().is_empty())
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn seed_cross_and_emulate_convert_into_each_other() {
    let cross = &seed("seed-cross-to-emulate");
    let emulate = &seed("seed-emulate-to-cross");
    assert!(cross.contains("crossSystem") && !emulate.contains("crossSystem"));
    // cross -> emulate gives exactly the seed's emulated flake.
    let out = set_target_text(cross, &opts("riscv64-linux", Mode::Emulate));
    assert_eq!(&out, emulate);
    // emulate -> cross gives the seed's cross flake, apart from the
    // comments that belong to the added module and a blank line.
    let out = set_target_text(emulate, &opts("riscv64-linux", Mode::Cross));
    assert_ne!(&out, cross, "the module's comments differ from the seed's");
    assert_eq!(without_comment_lines(&out), without_comment_lines(cross));
    nixcross_testkit::assert_nix_parses("seed", "converted seed", &out);
}

#[test]
fn show_reads_every_seed_flake() {
    for case in SEED_CASES {
        let r = show_text(
            &seed(case),
            &ShowOptions {
                local_system: Some("x86_64-linux".into()),
            },
        );
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].host.as_deref(), Some("riscv64-linux"));
        assert!(r[0].editable);
    }
}

proptest! {
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
            model.replace_range(e.range.start..e.range.end, &e.insert);
        }
        // Reverse the plan order: apply sorts it back.
        let mut shuffled = edits.clone();
        shuffled.reverse();
        let same_point = edits.windows(2).any(|w| w[0].range.start == w[1].range.start);
        if !same_point {
            prop_assert_eq!(apply(&src, &shuffled).unwrap(), model.clone());
        }
        prop_assert_eq!(apply(&src, &edits).unwrap(), model);
    }
}

#[test]
fn the_projects_own_flake_parses_and_has_no_nixos_configuration() {
    let src = std::fs::read_to_string(nixcross_testkit::repo_root().join("flake.nix")).unwrap();
    assert!(show_text(&src, &ShowOptions::default()).is_empty());
    nixcross_testkit::assert_nix_parses("own_flake", "flake.nix", &src);
}

/// Every fixture tree with a flake (set-target, show, add-overlay, emulate):
/// its files.
fn fixture_flakes() -> Vec<(String, MemFiles)> {
    fn read(dir: &std::path::Path, prefix: &str, files: &mut MemFiles) {
        for e in std::fs::read_dir(dir).unwrap().flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let rel = if prefix.is_empty() {
                name
            } else {
                format!("{prefix}/{name}")
            };
            if e.path().is_dir() {
                read(&e.path(), &rel, files);
            } else if let Ok(t) = std::fs::read_to_string(e.path()) {
                files.insert(&rel, t);
            }
        }
    }
    let mut out = Vec::new();
    for op in ["set-target", "show", "add-overlay", "emulate"] {
        let root = nixcross_testkit::repo_root().join("fixtures").join(op);
        let mut cases: Vec<_> = std::fs::read_dir(&root).unwrap().flatten().collect();
        cases.sort_by_key(|e| e.file_name());
        for case in cases {
            let mut files = MemFiles::new();
            if case.path().join("input").is_dir() {
                read(&case.path().join("input"), "", &mut files);
            } else if let Ok(t) = std::fs::read_to_string(case.path().join("input.nix")) {
                files.insert("flake.nix", t);
            }
            if files
                .iter()
                .any(|(p, t)| p.as_str() == "flake.nix" && t.contains("outputs"))
            {
                out.push((
                    format!("{op}/{}", case.file_name().to_string_lossy()),
                    files,
                ));
            }
        }
    }
    assert!(out.len() > 50, "found {} fixture flakes", out.len());
    out
}

/// Whether show's reason and set-target's message say the same (one holds
/// the other, apart from a `file:line:col: ` prefix).
fn same_reason(show: &str, edit: &str) -> bool {
    let core = |s: &str| -> String {
        let mut parts = s.splitn(4, ':');
        match (parts.next(), parts.next(), parts.next(), parts.next()) {
            (Some(_), Some(l), Some(c), Some(rest))
                if l.trim().parse::<usize>().is_ok() && c.trim().parse::<usize>().is_ok() =>
            {
                rest.trim().to_string()
            }
            _ => s.to_string(),
        }
    };
    let (a, b) = (core(show), core(edit));
    show.contains(&b) || a.contains(&b) || b.contains(&a)
}

/// `show`'s `editable` agrees with `set-target` (to another target than the
/// one show tries): a configuration shown as not editable is refused for
/// the reason show gives; one shown as editable is edited in at least one
/// mode, and a mode that is refused is the one show names.
#[test]
fn show_editable_agrees_with_set_target() {
    let mut checked = 0;
    for (case, files) in fixture_flakes() {
        let Ok(report) = show(
            &files,
            &flake(),
            &ShowOptions {
                local_system: Some("x86_64-linux".into()),
            },
        ) else {
            continue;
        };
        for c in &report.configurations {
            // A target show's probe does not use.
            let target = if c.host.as_deref() == Some("armv7l-linux") {
                "powerpc64le-linux"
            } else {
                "armv7l-linux"
            };
            let run = |mode: Mode| {
                set_target(
                    &files,
                    &flake(),
                    &SetTargetOptions {
                        target: target.into(),
                        mode,
                        config: Some(c.name.clone()),
                        host: (mode == Mode::Cross).then(|| "x86_64-linux".to_string()),
                        local_system: Some("x86_64-linux".into()),
                        style: None,
                    },
                )
            };
            let (cross, emulate) = (run(Mode::Cross), run(Mode::Emulate));
            let reason = c.reason.clone().unwrap_or_default();
            if !c.editable {
                for (mode, r) in [("cross", &cross), ("emulate", &emulate)] {
                    let e = r.as_ref().err().unwrap_or_else(|| {
                        panic!("{case}: `{}` is shown not editable ({reason}), but set-target --mode {mode} edits it", c.name)
                    });
                    if mode == "cross" {
                        assert!(
                            same_reason(&reason, &e.message),
                            "{case}: `{}`: show says `{reason}`, set-target says `{}`",
                            c.name,
                            e.message
                        );
                    }
                }
            } else {
                assert!(
                    cross.is_ok() || emulate.is_ok(),
                    "{case}: `{}` is shown editable, but set-target refuses it: {:?}",
                    c.name,
                    cross.err()
                );
                for (mode, r) in [("cross", &cross), ("emulate", &emulate)] {
                    if let Err(e) = r {
                        assert!(
                            reason.contains(&format!("--mode {mode} is refused"))
                                && same_reason(&reason, &e.message),
                            "{case}: `{}`: set-target --mode {mode} refuses ({}), show says `{reason}`",
                            c.name,
                            e.message
                        );
                    }
                }
            }
            checked += 1;
        }
    }
    assert!(checked > 50, "checked {checked} configurations");
}
