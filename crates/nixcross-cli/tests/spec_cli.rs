//! `nixcross export`, `apply` and `schema` as a team uses them: the spec in
//! the repository, `apply --check` in CI failing exactly when the flake or
//! the build host drifted, and the schema for editors.

use std::path::Path;

use assert_cmd::Command;
use predicates::prelude::*;

fn nixcross(dir: &Path) -> Command {
    let mut cmd = Command::cargo_bin("nixcross").unwrap();
    cmd.env("NO_COLOR", "1").current_dir(dir);
    cmd
}

/// `init` a legacy cross flake for riscv64-linux in `d`.
fn init(d: &Path) {
    nixcross(d)
        .args(["init", "--target", "riscv64-linux", "--mode", "cross"])
        .args(["--host", "x86_64-linux"])
        .assert()
        .success();
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap()
}

#[test]
fn check_fails_exactly_when_the_flake_or_the_build_host_drifts() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    init(d);
    std::fs::write(
        d.join("builder.nix"),
        "{ ... }:\n{\n  boot.binfmt.emulatedSystems = [ \"riscv64-linux\" ];\n}\n",
    )
    .unwrap();
    nixcross(d)
        .args(["export", "-o", "nixcross.yaml"])
        .assert()
        .success();
    let mut spec = read(&d.join("nixcross.yaml"));
    spec.push_str("buildHost:\n  file: builder.nix\n  emulate: [ riscv64-linux ]\n");
    std::fs::write(d.join("nixcross.yaml"), &spec).unwrap();
    // In step: CI passes, and nothing is written.
    let export = |d: &Path| nixcross(d).arg("export").output().unwrap().stdout;
    let described = export(d);
    nixcross(d)
        .args(["apply", "--check"])
        .assert()
        .code(0)
        .stderr(predicate::str::contains(
            "nixcross.yaml: already up to date",
        ));
    // The flake drifts: someone retargets by hand (here, with set-target).
    nixcross(d)
        .args(["set-target", "aarch64-linux", "--mode", "emulate"])
        .assert()
        .success();
    nixcross(d)
        .args(["apply", "--check"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("flake.nix: would change"));
    assert_ne!(export(d), described);
    nixcross(d).arg("apply").assert().success();
    assert_eq!(
        export(d),
        described,
        "apply makes the flake say the spec again"
    );
    nixcross(d).args(["apply", "--check"]).assert().code(0);
    // The build host drifts: its emulated systems lose one.
    std::fs::write(d.join("builder.nix"), "{ ... }:\n{\n}\n").unwrap();
    nixcross(d)
        .args(["apply", "--check"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("builder.nix: would change"));
    nixcross(d).arg("apply").assert().success();
    assert!(read(&d.join("builder.nix")).contains("\"riscv64-linux\""));
    nixcross(d).args(["apply", "--check"]).assert().code(0);
}

#[test]
fn a_spec_error_writes_nothing_and_points_into_the_yaml() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    init(d);
    let flake = read(&d.join("flake.nix"));
    std::fs::write(
        d.join("nixcross.yaml"),
        "configurations:\n  riscv64:\n    target: aarch64-linux\n    mode: emulate\n  other:\n    tagret: x\n",
    )
    .unwrap();
    nixcross(d)
        .arg("apply")
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "nixcross.yaml:6:5: unknown field `tagret`\n  hint: did you mean `target`?",
        ));
    assert_eq!(read(&d.join("flake.nix")), flake);
}

#[test]
fn an_exported_spec_applies_from_where_it_was_written() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::create_dir(d.join("nix")).unwrap();
    nixcross(d)
        .args([
            "init",
            "--target",
            "raspberryPi",
            "--mode",
            "emulate",
            "--dir",
            "nix",
        ])
        .assert()
        .success();
    // Printed from the repository's root, saved there.
    let out = nixcross(d).args(["export", "-f", "nix"]).output().unwrap();
    assert!(out.status.success());
    let spec = String::from_utf8(out.stdout).unwrap();
    assert!(spec.contains("flake: nix/flake.nix\n"), "{spec}");
    assert!(spec.contains("target: raspberryPi\n"), "{spec}");
    std::fs::write(d.join("nixcross.yaml"), &spec).unwrap();
    nixcross(d).args(["apply", "--check"]).assert().code(0);
    // From another folder, naming the spec.
    nixcross(&d.join("nix"))
        .args(["apply", "--check", "../nixcross.yaml"])
        .assert()
        .code(0);
    // export -o again: the spec is current.
    nixcross(d)
        .args(["export", "-f", "nix", "-o", "nixcross.yaml", "--check"])
        .assert()
        .code(0)
        .stderr(predicate::str::contains("already up to date"));
}

#[test]
fn schema_is_the_librarys_and_names_every_field() {
    let dir = tempfile::tempdir().unwrap();
    let out = nixcross(dir.path()).arg("schema").output().unwrap();
    assert!(out.status.success());
    let printed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(printed, nixcross::spec::schema());
    let text = String::from_utf8(out.stdout).unwrap();
    for field in [
        "\"flake\"",
        "\"configurations\"",
        "\"target\"",
        "\"mode\"",
        "\"build\"",
        "\"style\"",
        "\"overlays\"",
        "\"packages\"",
        "\"scoped\"",
        "\"instance\"",
        "\"use\"",
        "\"buildHost\"",
        "\"file\"",
        "\"config\"",
        "\"emulate\"",
        "\"staticEmulators\"",
        "\"builders\"",
        "\"uri\"",
        "\"systems\"",
        "\"maxJobs\"",
        "\"features\"",
    ] {
        assert!(text.contains(field), "the schema lacks {field}");
    }
}

/// Every flake of the golden fixtures (inputs and expected outputs, as
/// trees or single files): `export` then `apply --check` changes nothing.
#[test]
fn every_fixture_flake_exports_and_applies_with_no_change() {
    let root = nixcross_testkit::repo_root().join("fixtures");
    let mut trees: Vec<std::path::PathBuf> = Vec::new();
    for op in std::fs::read_dir(&root).unwrap().flatten() {
        for case in std::fs::read_dir(op.path()).unwrap().flatten() {
            for side in ["input", "expected"] {
                let t = case.path().join(side);
                if t.join("flake.nix").is_file() {
                    trees.push(t);
                }
            }
            for file in ["input.nix", "expected.nix"] {
                let f = case.path().join(file);
                let text = std::fs::read_to_string(&f).unwrap_or_default();
                if text.contains("nixosConfigurations") {
                    trees.push(f);
                }
            }
        }
    }
    trees.sort();
    assert!(trees.len() > 50, "only {} fixture flakes", trees.len());
    let mut failures = Vec::new();
    let mut checked = 0;
    for t in &trees {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        if t.is_dir() {
            nixcross_testkit::copy_tree(t, d);
        } else {
            std::fs::copy(t, d.join("flake.nix")).unwrap();
        }
        let export = nixcross(d)
            .args(["export", "-o", "nixcross.yaml"])
            .output()
            .unwrap();
        if !export.status.success() {
            // Only a flake that does not parse may be refused.
            let name = t.strip_prefix(&root).unwrap().display().to_string();
            if !name.contains("parse-error") {
                failures.push(format!(
                    "{name}: export exits {:?}\n{}",
                    export.status.code(),
                    String::from_utf8_lossy(&export.stderr)
                ));
            }
            continue;
        }
        checked += 1;
        let apply = nixcross(d).args(["apply", "--check"]).output().unwrap();
        if apply.status.code() != Some(0) {
            failures.push(format!(
                "{}: apply --check exits {:?}\n{}{}",
                t.strip_prefix(&root).unwrap().display(),
                apply.status.code(),
                String::from_utf8_lossy(&apply.stdout),
                String::from_utf8_lossy(&apply.stderr)
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    let parse_errors = trees
        .iter()
        .filter(|t| t.to_string_lossy().contains("parse-error"))
        .count();
    assert_eq!(
        checked,
        trees.len() - parse_errors,
        "every fixture flake but the parse-error cases exports"
    );
    eprintln!("{checked} fixture flakes export and apply with no change");
}
