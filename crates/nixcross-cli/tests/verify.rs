//! `--verify`: the user's own `nix` is asked about an edit before it is
//! written. Each editing command writes a true edit when a stand-in nixpkgs
//! flake that evaluates honestly agrees (`NixpkgsFlake::honest`), and
//! refuses it (exit 1, nothing written, both answers shown) when a
//! dishonest one does not (`NixpkgsFlake::dishonest`). Without `nix`, and
//! for a lone module file, `--verify` exits 2 and writes nothing.
//!
//! The tests that run `nix` skip without it (printing SKIP), unless
//! `NIXCROSS_REQUIRE_NIX=1` (CI), and take turns: Nix's store database is
//! shared.

use std::path::Path;
use std::sync::Mutex;

use assert_cmd::Command;
use nixcross_testkit::{flake_nix, FlakeNix, NixpkgsFlake};
use predicates::prelude::*;

/// One `nix` at a time.
static NIX: Mutex<()> = Mutex::new(());

/// The edit most cases verify: `board` retargeted to aarch64-linux by emulation.
const RETARGET_VERIFIED: [&str; 5] = [
    "set-target",
    "aarch64-linux",
    "--mode",
    "emulate",
    "--verify",
];

fn nixcross(dir: &Path) -> Command {
    let mut cmd = Command::cargo_bin("nixcross").unwrap();
    cmd.env("NO_COLOR", "1")
        .env_remove("NIXCROSS_NIX")
        .current_dir(dir);
    cmd
}

/// `nixcross` that runs `nix` as the tests found it.
fn with_nix(dir: &Path, nix: &FlakeNix) -> Command {
    let mut cmd = nixcross(dir);
    cmd.env("NIXCROSS_NIX", &nix.bin);
    for (k, v) in &nix.env {
        cmd.env(k, v);
    }
    cmd
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap()
}

/// A flake whose nixpkgs is `nixpkgs`, with `configs` as its
/// nixosConfigurations (Nix text of the attribute set's body).
fn flake(nixpkgs: &NixpkgsFlake, lets: &str, configs: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let text = format!(
        r#"{{
  inputs.nixpkgs.url = "{}";

  outputs = {{ self, nixpkgs, ... }}:
    let
      lib = nixpkgs.lib;
{lets}    in
    {{
      nixosConfigurations = {{
{configs}      }};
    }};
}}
"#,
        nixpkgs.url()
    );
    std::fs::write(dir.path().join("flake.nix"), text).unwrap();
    dir
}

/// A configuration built on x86_64-linux for riscv64-linux (legacy style),
/// with a module of its own.
const BOARD: &str = r#"        board = lib.nixosSystem {
          system = "x86_64-linux";
          modules = [
            {
              nixpkgs.crossSystem = {
                system = "riscv64-linux";
              };
            }
            ./board.nix
          ];
        };
"#;

/// A build host, natively x86_64-linux, with a module of its own.
const BUILDER: &str = r#"        builder = lib.nixosSystem {
          system = "x86_64-linux";
          modules = [
            {
              networking.hostName = "builder";
            }
          ];
        };
"#;

/// Run `args` with `--verify` against the honest and the dishonest
/// stand-in (a fresh flake from `make` each): the honest one writes and
/// says nix agrees; the dishonest one exits 1, writes nothing, and shows
/// both answers, each containing `dishonest_says`.
fn agrees_and_refuses(
    test: &str,
    make: impl Fn(&NixpkgsFlake) -> tempfile::TempDir,
    args: &[&str],
    dishonest_says: &str,
) {
    let Some(nix) = flake_nix(test) else { return };
    let _turn = NIX.lock().unwrap_or_else(|e| e.into_inner());
    let honest = NixpkgsFlake::honest();
    let dir = make(&honest);
    let before = nixcross_testkit::read_tree(dir.path());
    let out = with_nix(dir.path(), nix)
        .args(args)
        .arg("--verify")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{test}: honest:\n{stderr}");
    assert!(stderr.contains("verify: nix agrees: "), "{test}:\n{stderr}");
    assert_ne!(
        nixcross_testkit::read_tree(dir.path()),
        before,
        "{test}: the edit was not written"
    );

    let dishonest = NixpkgsFlake::dishonest();
    let dir = make(&dishonest);
    let before = nixcross_testkit::read_tree(dir.path());
    let out = with_nix(dir.path(), nix)
        .args(args)
        .arg("--verify")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{test}: dishonest:\n{stderr}");
    assert!(
        stderr.contains(
            "nix does not agree with what nixcross says the edit does; nothing was written"
        ),
        "{test}:\n{stderr}"
    );
    assert!(stderr.contains("\n  nixcross says: "), "{test}:\n{stderr}");
    assert!(
        stderr.contains(&format!("\n  nix says:      {dishonest_says}")),
        "{test}: expected nix to say {dishonest_says:?}:\n{stderr}"
    );
    assert_eq!(
        nixcross_testkit::read_tree(dir.path()),
        before,
        "{test}: something was written"
    );
}

fn board(nixpkgs: &NixpkgsFlake) -> tempfile::TempDir {
    let dir = flake(nixpkgs, "", BOARD);
    std::fs::write(
        dir.path().join("board.nix"),
        "{ ... }:\n{\n  networking.hostName = \"board\";\n}\n",
    )
    .unwrap();
    dir
}

#[test]
fn set_target_cross() {
    agrees_and_refuses(
        "set_target_cross",
        board,
        &[
            "set-target",
            "aarch64-linux",
            "--mode",
            "cross",
            "--host",
            "x86_64-linux",
        ],
        r#"config.nixpkgs.buildPlatform.system is "x86_64-linux", config.nixpkgs.hostPlatform.system is "x86_64-linux""#,
    );
}

#[test]
fn set_target_emulate() {
    agrees_and_refuses(
        "set_target_emulate",
        board,
        &["set-target", "aarch64-linux", "--mode", "emulate"],
        r#"config.nixpkgs.buildPlatform.system is "x86_64-linux""#,
    );
}

#[test]
fn add_overlay_global() {
    agrees_and_refuses(
        "add_overlay_global",
        board,
        &["add-overlay", "gcc=gcc12"],
        r#"in pkgs, gcc is "gcc11" and gcc12 is "gcc12""#,
    );
}

#[test]
fn add_overlay_scoped() {
    agrees_and_refuses(
        "add_overlay_scoped",
        board,
        &["add-overlay", "gcc=gcc12", "--scoped", "--use", "hello"],
        r#"in pkgs-gcc12 (from config._module.specialArgs or config._module.args), gcc is "gcc11" and gcc12 is "gcc12""#,
    );
}

#[test]
fn add_overlay_remove() {
    // Taking an overlay out: the attribute is the package nixpkgs has
    // without overlays again. Both stand-ins agree (the dishonest one
    // ignores overlays anyway).
    let Some(nix) = flake_nix("add_overlay_remove") else {
        return;
    };
    let _turn = NIX.lock().unwrap_or_else(|e| e.into_inner());
    let honest = NixpkgsFlake::honest();
    let dir = board(&honest);
    with_nix(dir.path(), nix)
        .args(["add-overlay", "gcc=gcc12"])
        .assert()
        .success();
    with_nix(dir.path(), nix)
        .args(["add-overlay", "--remove", "gcc", "--verify"])
        .assert()
        .success()
        .stderr(predicate::str::contains(
            "verify: nix agrees: no overlay replaces gcc in the package set of `board`",
        ));
    assert!(!read(&dir.path().join("flake.nix")).contains("gcc12"));
}

#[test]
fn emulate_config() {
    agrees_and_refuses(
        "emulate_config",
        |n| flake(n, "", BUILDER),
        &["emulate", "aarch64-linux", "--config", "builder"],
        "config.boot.binfmt.emulatedSystems is []",
    );
}

#[test]
fn add_builder_config() {
    agrees_and_refuses(
        "add_builder_config",
        |n| flake(n, "", BUILDER),
        &[
            "add-builder",
            "ssh-ng://nix@pi5",
            "--system",
            "aarch64-linux",
            "--max-jobs",
            "4",
            "--config",
            "builder",
        ],
        "config.nix.buildMachines has no entry for ssh-ng://pi5 (0 entries)",
    );
}

#[test]
fn add_config_is_verified_too() {
    let Some(nix) = flake_nix("add_config_is_verified_too") else {
        return;
    };
    let _turn = NIX.lock().unwrap_or_else(|e| e.into_inner());
    let honest = NixpkgsFlake::honest();
    let dir = flake(&honest, "", BUILDER);
    with_nix(dir.path(), nix)
        .args(["add-config", "lp4a", "--target", "riscv64-linux"])
        .args(["--mode", "cross", "--host", "x86_64-linux", "--verify"])
        .assert()
        .success()
        .stderr(predicate::str::contains(
            "verify: nix agrees: `lp4a` is built on x86_64-linux for riscv64-linux",
        ));
    assert!(read(&dir.path().join("flake.nix")).contains("lp4a"));
}

/// `board` plus the spec that retargets it to aarch64-linux, emulated.
fn board_with_spec(nixpkgs: &NixpkgsFlake) -> tempfile::TempDir {
    let dir = board(nixpkgs);
    std::fs::write(
        dir.path().join("nixcross.yaml"),
        "configurations:\n  board:\n    target: aarch64-linux\n    mode: emulate\n",
    )
    .unwrap();
    dir
}

#[test]
fn apply() {
    agrees_and_refuses(
        "apply",
        board_with_spec,
        &["apply"],
        r#"config.nixpkgs.buildPlatform.system is "x86_64-linux", config.nixpkgs.hostPlatform.system is "x86_64-linux""#,
    );
}

#[test]
fn apply_with_a_build_host_module_cannot_be_verified() {
    let honest = NixpkgsFlake::honest();
    let dir = board_with_spec(&honest);
    let spec = dir.path().join("nixcross.yaml");
    let mut text = read(&spec);
    text.push_str("buildHost:\n  file: builder.nix\n  emulate: [ aarch64-linux ]\n");
    std::fs::write(&spec, text).unwrap();
    std::fs::write(
        dir.path().join("builder.nix"),
        "{ ... }:\n{\n  networking.hostName = \"builder\";\n}\n",
    )
    .unwrap();
    let before = nixcross_testkit::read_tree(dir.path());
    nixcross(dir.path())
        .args(["apply", "--verify"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "builder.nix is a module file on its own",
        ));
    assert_eq!(nixcross_testkit::read_tree(dir.path()), before);
}

#[test]
fn dry_run_and_check_verify_and_write_nothing() {
    let Some(nix) = flake_nix("dry_run_and_check_verify_and_write_nothing") else {
        return;
    };
    let _turn = NIX.lock().unwrap_or_else(|e| e.into_inner());
    let honest = NixpkgsFlake::honest();
    let dir = board(&honest);
    let before = read(&dir.path().join("flake.nix"));
    let args = [
        "set-target",
        "aarch64-linux",
        "--mode",
        "emulate",
        "--verify",
    ];
    with_nix(dir.path(), nix)
        .args(args)
        .arg("--dry-run")
        .assert()
        .code(0)
        .stdout(predicate::str::contains("+++ b/flake.nix"))
        .stderr(predicate::str::contains("verify: nix agrees: "));
    with_nix(dir.path(), nix)
        .args(args)
        .arg("--check")
        .assert()
        .code(1)
        .stderr(predicate::str::contains("verify: nix agrees: "))
        .stderr(predicate::str::contains("would change"));
    assert_eq!(read(&dir.path().join("flake.nix")), before);

    let dishonest = NixpkgsFlake::dishonest();
    let dir = board(&dishonest);
    let before = read(&dir.path().join("flake.nix"));
    with_nix(dir.path(), nix)
        .args(args)
        .arg("--dry-run")
        .assert()
        .code(1)
        .stdout(predicate::str::contains("+++ b/flake.nix"))
        .stderr(predicate::str::contains("nix does not agree"));
    assert_eq!(read(&dir.path().join("flake.nix")), before);
}

#[test]
fn a_flake_that_does_not_evaluate_without_the_edit_either_is_exit_2() {
    let Some(nix) = flake_nix("a_flake_that_does_not_evaluate_without_the_edit_either_is_exit_2")
    else {
        return;
    };
    let _turn = NIX.lock().unwrap_or_else(|e| e.into_inner());
    let honest = NixpkgsFlake::honest();
    let dir = board(&honest);
    // Its nixpkgs cannot be fetched, whatever nixcross does.
    let flake_nix = dir.path().join("flake.nix");
    let gone = dir.path().join("gone");
    let text = read(&flake_nix).replace(&honest.url(), &format!("path:{}", gone.display()));
    std::fs::write(&flake_nix, &text).unwrap();
    with_nix(dir.path(), nix)
        .args(RETARGET_VERIFIED)
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "nix cannot evaluate `board` of flake.nix, with or without the edit",
        ))
        .stderr(predicate::str::contains("nix says:\n    error:"));
    assert_eq!(read(&flake_nix), text);
}

#[test]
fn an_edit_that_breaks_evaluation_is_refused() {
    // A nix that fails on the edited copy only (no real nix needed): the
    // failure is the edit's, so exit 1, with nix's error.
    let honest = NixpkgsFlake::honest();
    let dir = board(&honest);
    let fake = dir.path().join("fake-nix");
    std::fs::write(
        &fake,
        r#"#!/bin/sh
for a in "$@"; do
  case "$a" in path:*) dir="${a#path:}"; dir="${dir%%#*}" ;; esac
done
if grep -q aarch64 "$dir/flake.nix"; then
  echo "warning: ignore me" >&2
  echo "error: the edit broke it" >&2
  exit 1
fi
echo '{}'
"#,
    )
    .unwrap();
    std::fs::set_permissions(&fake, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let before = read(&dir.path().join("flake.nix"));
    nixcross(dir.path())
        .env("NIXCROSS_NIX", &fake)
        .args(["set-target", "aarch64-linux", "--mode", "emulate", "--verify"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "  nixcross says: `board` is built natively for aarch64-linux\n  nix says:      the edited flake does not evaluate (it does without the edit):\n    error: the edit broke it",
        ))
        .stderr(predicate::str::contains("ignore me").not());
    assert_eq!(read(&dir.path().join("flake.nix")), before);
}

#[test]
fn the_copy_keeps_links_that_stay_inside() {
    let Some(nix) = flake_nix("the_copy_keeps_links_that_stay_inside") else {
        return;
    };
    let _turn = NIX.lock().unwrap_or_else(|e| e.into_inner());
    let honest = NixpkgsFlake::honest();
    let dir = board(&honest);
    let d = dir.path();
    // board.nix becomes a link to hosts/board.nix (absolute, inside: the
    // copy makes it relative, or the configuration would not evaluate), a
    // link to outside sits next to it, as `result` links do, and a `.git`.
    std::fs::create_dir(d.join("hosts")).unwrap();
    std::fs::rename(d.join("board.nix"), d.join("hosts/board.nix")).unwrap();
    std::os::unix::fs::symlink(d.join("hosts/board.nix"), d.join("board.nix")).unwrap();
    std::os::unix::fs::symlink("/nix/store", d.join("result")).unwrap();
    std::fs::create_dir(d.join(".git")).unwrap();
    std::fs::write(d.join(".git/HEAD"), "ref: refs/heads/main\n").unwrap();
    with_nix(d, nix)
        .args(RETARGET_VERIFIED)
        .assert()
        .success()
        .stderr(predicate::str::contains("verify: nix agrees: "));
}

#[test]
fn without_nix_nothing_is_written() {
    let honest = NixpkgsFlake::honest();
    let dir = board(&honest);
    let before = read(&dir.path().join("flake.nix"));
    // NIXCROSS_NIX names a nix that is not there.
    nixcross(dir.path())
        .env("NIXCROSS_NIX", dir.path().join("no-such-nix"))
        .args(RETARGET_VERIFIED)
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "--verify runs nix, and there is no",
        ))
        .stderr(predicate::str::contains("nothing was written"));
    // No nix on PATH.
    let empty = tempfile::tempdir().unwrap();
    nixcross(dir.path())
        .env("PATH", empty.path())
        .args(["add-overlay", "gcc=gcc12", "--verify"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("there is no `nix`"));
    assert_eq!(read(&dir.path().join("flake.nix")), before);
}

#[test]
fn a_module_file_cannot_be_verified() {
    let dir = tempfile::tempdir().unwrap();
    let module = dir.path().join("builder.nix");
    let text = "{ ... }:\n{\n  networking.hostName = \"builder\";\n}\n";
    std::fs::write(&module, text).unwrap();
    for args in [
        &["emulate", "aarch64-linux", "-f", "builder.nix"][..],
        &[
            "add-builder",
            "ssh-ng://nix@pi5",
            "--system",
            "aarch64-linux",
            "-f",
            "builder.nix",
        ],
    ] {
        nixcross(dir.path())
            .args(args)
            .arg("--verify")
            .assert()
            .code(2)
            .stderr(predicate::str::contains(
                "builder.nix is a module file on its own, which nix cannot evaluate as a configuration",
            ));
        assert_eq!(read(&module), text);
    }
}

#[test]
fn a_package_retarget_is_not_verified() {
    let dir = tempfile::tempdir().unwrap();
    nixcross(dir.path())
        .args(["set-target", "riscv64-linux", "--mode", "cross"])
        .args(["--package", "hello", "--verify"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("cannot be used with"));
}

#[test]
fn help_documents_the_flag() {
    for cmd in [
        "set-target",
        "add-overlay",
        "emulate",
        "add-builder",
        "add-config",
        "apply",
    ] {
        nixcross(Path::new("."))
            .args([cmd, "--help"])
            .assert()
            .success()
            .stdout(predicate::str::contains("--verify"))
            .stdout(predicate::str::contains("NIXCROSS_NIX"));
    }
}
