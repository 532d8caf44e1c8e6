//! `nixcross init` and `nixcross targets` as a user runs them: exit codes,
//! files written or left alone, and the JSON shape of `targets --json`.

use assert_cmd::Command;
use predicates::prelude::*;

fn nixcross() -> Command {
    let mut cmd = Command::cargo_bin("nixcross").unwrap();
    cmd.env("NO_COLOR", "1");
    cmd
}

const CROSS: &[&str] = &[
    "init",
    "--target",
    "riscv64-linux",
    "--mode",
    "cross",
    "--host",
    "x86_64-linux",
];

#[test]
fn unknown_target_exits_2_with_a_suggestion() {
    nixcross()
        .args(["init", "--target", "aarch64-linx", "--mode", "cross"])
        .args(["--host", "x86_64-linux", "--stdout"])
        .assert()
        .code(2)
        .stdout("")
        .stderr(
            predicate::str::contains("did you mean").and(predicate::str::contains("aarch64-linux")),
        );
}

#[test]
fn cross_to_the_build_machine_itself_exits_2() {
    nixcross()
        .args(["init", "--target", "aarch64-linux", "--mode", "cross"])
        .args(["--host", "aarch64-linux", "--stdout"])
        .assert()
        .code(2)
        .stdout("")
        .stderr(predicate::str::contains("nothing to cross-compile"));
}

#[test]
fn writes_dir_flake_nix_and_never_overwrites_without_force() {
    let dir = tempfile::tempdir().unwrap();
    let flake = dir.path().join("flake.nix");
    nixcross()
        .args(CROSS)
        .arg("--dir")
        .arg(dir.path())
        .assert()
        .success()
        .stdout("");
    let written = std::fs::read_to_string(&flake).unwrap();
    assert!(written.contains("nixpkgs.crossSystem"), "{written}");
    nixcross_testkit::assert_nix_parses("init_cli", "written flake.nix", &written);

    std::fs::write(&flake, "# mine\n").unwrap();
    nixcross()
        .args(CROSS)
        .arg("--dir")
        .arg(dir.path())
        .assert()
        .code(2)
        .stderr(
            predicate::str::contains("already exists").and(predicate::str::contains("--force")),
        );
    assert_eq!(std::fs::read_to_string(&flake).unwrap(), "# mine\n");

    nixcross()
        .args(CROSS)
        .arg("--dir")
        .arg(dir.path())
        .arg("--force")
        .assert()
        .success();
    assert_eq!(std::fs::read_to_string(&flake).unwrap(), written);
    // Only flake.nix: no temporary file left behind.
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, vec![std::ffi::OsString::from("flake.nix")]);
}

#[test]
fn stdout_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let out = nixcross()
        .args(CROSS)
        .arg("--stdout")
        .current_dir(dir.path())
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    assert!(String::from_utf8(out).unwrap().starts_with("{\n"));
    assert!(!dir.path().join("flake.nix").exists());
}

#[test]
fn a_missing_dir_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    nixcross()
        .args(CROSS)
        .arg("--dir")
        .arg(dir.path().join("nope"))
        .assert()
        .code(2)
        .stderr(predicate::str::contains("no such directory"));
}

#[test]
fn emulate_prints_what_the_build_host_needs() {
    nixcross()
        .args(["init", "--target", "riscv64-linux", "--mode", "emulate"])
        .args(["--host", "x86_64-linux", "--stdout"])
        .assert()
        .success()
        .stdout(predicate::str::contains("system = \"riscv64-linux\";"))
        .stderr(
            predicate::str::contains("boot.binfmt.emulatedSystems = [ \"riscv64-linux\" ];")
                .and(predicate::str::contains("extra-platforms = riscv64-linux")),
        );
}

#[test]
fn the_default_host_is_this_machine() {
    let Some(host) = nixcross::platform::current_system() else {
        eprintln!("SKIP the_default_host_is_this_machine: no double for this machine");
        return;
    };
    let target = if host == "riscv64-linux" {
        "aarch64-linux"
    } else {
        "riscv64-linux"
    };
    nixcross()
        .args(["init", "--target", target, "--mode", "cross", "--stdout"])
        .assert()
        .success()
        .stdout(predicate::str::contains(format!("system = \"{host}\";")));
}

#[test]
fn targets_json_has_the_documented_shape() {
    let out = nixcross()
        .args(["targets", "--json"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
    let obj = v.as_object().unwrap();
    assert_eq!(
        obj.keys().collect::<Vec<_>>(),
        vec!["pkgsCross", "systems"],
        "top-level keys"
    );
    let cat = nixcross::platform::catalogue();
    let systems = obj["systems"].as_array().unwrap();
    assert_eq!(systems.len(), cat.systems.len());
    for s in systems {
        let keys: Vec<_> = s.as_object().unwrap().keys().cloned().collect();
        assert_eq!(keys, ["binaryCache", "config", "emulation", "system"]);
        let system = s["system"].as_str().unwrap();
        assert_eq!(
            s["config"].as_str().unwrap(),
            cat.system(system).unwrap().config
        );
        assert_eq!(s["emulation"].as_bool().unwrap(), cat.can_emulate(system));
        assert_eq!(
            s["binaryCache"].as_bool().unwrap(),
            cat.binary_cache(system)
        );
    }
    let find = |d: &str| systems.iter().find(|s| s["system"] == d).unwrap();
    assert_eq!(find("riscv64-linux")["emulation"], true);
    assert_eq!(find("riscv64-linux")["binaryCache"], false);
    assert_eq!(find("aarch64-linux")["binaryCache"], true);
    assert_eq!(find("m68k-linux")["emulation"], false);
    let examples = obj["pkgsCross"].as_array().unwrap();
    assert_eq!(examples.len(), cat.examples.len());
    for e in examples {
        let keys: Vec<_> = e.as_object().unwrap().keys().cloned().collect();
        assert_eq!(keys, ["config", "name", "system"]);
    }
    let pi = examples
        .iter()
        .find(|e| e["name"] == "raspberryPi")
        .unwrap();
    assert_eq!(pi["config"], "armv6l-unknown-linux-gnueabihf");
    assert_eq!(pi["system"], "armv6l-linux");
}

#[test]
fn targets_table_is_aligned() {
    let out = nixcross()
        .arg("targets")
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let text = String::from_utf8(out).unwrap();
    let header = text.lines().find(|l| l.starts_with("SYSTEM")).unwrap();
    let col = header.find("CONFIG").unwrap();
    let row = text
        .lines()
        .find(|l| l.starts_with("riscv64-linux "))
        .unwrap();
    assert_eq!(row.find("riscv64-unknown-linux-gnu"), Some(col), "{row}");
    assert!(text.lines().any(|l| l.starts_with("raspberryPi ")));
}
