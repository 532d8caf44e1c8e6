//! `nixcross doctor --root tests/hosts/<case>/root --json`: ready flags,
//! problems and fixes for each kind of host. Each `tests/hosts/<case>/root`
//! is the part of a machine's file system that doctor reads.

use assert_cmd::Command;
use serde_json::Value;

fn root(case: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/hosts")
        .join(case)
        .join("root")
}

fn doctor(case: &str, targets: &[&str]) -> (Value, i32) {
    let mut cmd = Command::cargo_bin("nixcross").unwrap();
    cmd.arg("doctor")
        .arg("--json")
        .arg("--root")
        .arg(root(case));
    for t in targets {
        cmd.args(["--target", t]);
    }
    let out = cmd.output().unwrap();
    let json: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{case}: not JSON ({e}): {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (json, out.status.code().unwrap())
}

fn target<'a>(json: &'a Value, system: &str) -> &'a Value {
    json["targets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["system"] == system)
        .unwrap_or_else(|| panic!("no target {system} in {json:#}"))
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_string())
        .collect()
}

fn fixes(v: &Value) -> Vec<(String, String)> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["where"].as_str().unwrap().to_string(),
                f["line"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn has_problem(strategy: &Value, needle: &str) -> bool {
    strings(&strategy["problems"])
        .iter()
        .any(|p| p.contains(needle))
}

#[test]
fn no_binfmt_misc() {
    let (json, code) = doctor("no-binfmt", &["aarch64-linux"]);
    assert_eq!(
        code, 1,
        "a requested target that cannot be emulated exits 1"
    );
    assert_eq!(json["binfmt_misc"]["mounted"], false);
    assert_eq!(json["kernel"]["fix_binary"], true);
    let t = target(&json, "aarch64-linux");
    assert_eq!(t["cross"]["ready"], true);
    let emu = &t["emulation"];
    assert_eq!(emu["ready"], false);
    assert!(has_problem(emu, "not mounted"), "{emu:#}");
    assert!(has_problem(emu, "no binfmt_misc registration"), "{emu:#}");
    // extra-platforms already has it.
    assert!(!has_problem(emu, "extra-platforms"), "{emu:#}");
    let f = fixes(&emu["fixes"]);
    assert!(f.contains(&(
        "shell".into(),
        "sudo mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc".into()
    )));
    let reg = f
        .iter()
        .find(|(w, _)| w == "/etc/binfmt.d/nixcross-aarch64-linux.conf")
        .unwrap_or_else(|| panic!("{f:?}"));
    assert!(reg.1.starts_with(":aarch64-linux:M::\\x7fELF"), "{}", reg.1);
    assert!(
        reg.1.ends_with(":/usr/bin/qemu-aarch64-static:PF"),
        "{}",
        reg.1
    );
    // With F there is no sandbox-paths fix.
    assert!(
        !f.iter().any(|(_, l)| l.starts_with("extra-sandbox-paths")),
        "{f:?}"
    );
}

#[test]
fn entry_without_f_and_interpreter_outside_the_sandbox() {
    let (json, code) = doctor("no-f-flag", &["aarch64-linux"]);
    assert_eq!(code, 1);
    let t = target(&json, "aarch64-linux");
    assert_eq!(t["binfmt_entry"], "qemu-aarch64");
    let emu = &t["emulation"];
    assert_eq!(emu["ready"], false);
    assert!(has_problem(emu, "no F flag"), "{emu:#}");
    assert_eq!(strings(&emu["problems"]).len(), 1, "{emu:#}");
    let f = fixes(&emu["fixes"]);
    assert_eq!(
        f[0],
        (
            "/etc/nix/nix.conf".to_string(),
            "extra-sandbox-paths = /usr/bin/qemu-aarch64".to_string()
        )
    );
    assert!(f.contains(&("shell".into(), "sudo systemctl restart nix-daemon".into())));
    // The entry claims aarch64-linux (tonistiigi-style mask).
    let entry = &json["binfmt"][0];
    assert_eq!(entry["name"], "qemu-aarch64");
    assert_eq!(strings(&entry["systems"]), ["aarch64-linux"]);
}

#[test]
fn old_kernel_gets_no_f_fixes() {
    let (json, _) = doctor("old-kernel", &["aarch64-linux", "riscv64-linux"]);
    assert_eq!(json["kernel"]["fix_binary"], false);
    assert_eq!(json["kernel"]["version"], serde_json::json!([4, 4]));
    let a = &target(&json, "aarch64-linux")["emulation"];
    assert_eq!(a["ready"], false);
    assert!(
        strings(&a["notes"])
            .iter()
            .any(|n| n.contains("older than 4.8")),
        "{a:#}"
    );
    assert!(
        !strings(&a["notes"])
            .iter()
            .any(|n| n.contains("--flags PF")),
        "{a:#}"
    );
    let r = &target(&json, "riscv64-linux")["emulation"];
    let f = fixes(&r["fixes"]);
    let reg = f
        .iter()
        .find(|(w, _)| w.starts_with("/etc/binfmt.d/"))
        .unwrap();
    assert!(
        reg.1.ends_with(":/usr/bin/qemu-riscv64-static:P"),
        "no F on 4.4: {}",
        reg.1
    );
    assert!(f.contains(&(
        "/etc/nix/nix.conf".into(),
        "extra-sandbox-paths = /usr/bin/qemu-riscv64-static".into()
    )));
}

#[test]
fn missing_extra_platforms() {
    let (json, code) = doctor("no-extra-platforms", &["aarch64-linux"]);
    assert_eq!(code, 1);
    let emu = &target(&json, "aarch64-linux")["emulation"];
    assert_eq!(emu["ready"], false);
    assert_eq!(strings(&emu["problems"]).len(), 1, "{emu:#}");
    assert!(has_problem(emu, "not in extra-platforms"));
    // Setting extra-platforms replaces Nix's default i686-linux: keep it.
    assert_eq!(
        fixes(&emu["fixes"])[0],
        (
            "/etc/nix/nix.conf".to_string(),
            "extra-platforms = i686-linux aarch64-linux".to_string()
        )
    );
}

#[test]
fn healthy_host() {
    let (json, code) = doctor(
        "healthy",
        &["aarch64-linux", "riscv64-linux", "armv7l-linux"],
    );
    assert_eq!(code, 0, "{json:#}");
    for s in ["aarch64-linux", "riscv64-linux"] {
        let t = target(&json, s);
        assert_eq!(t["emulation"]["ready"], true, "{t:#}");
        assert!(strings(&t["emulation"]["problems"]).is_empty());
        assert_eq!(t["remote"]["ready"], false);
    }
    let arm = target(&json, "armv7l-linux");
    assert_eq!(arm["emulation"]["ready"], false);
    assert_eq!(arm["remote"]["ready"], true);
    assert_eq!(strings(&arm["remote_builders"]), ["ssh-ng://nix@pi4"]);
    assert_eq!(json["nix"]["flakes"], true);
    assert_eq!(json["nix"]["builders_use_substitutes"], true);
    assert_eq!(
        strings(&json["nix"]["config_files"]),
        ["/etc/nix/nix.conf", "/etc/nix/nix.custom.conf"]
    );
    assert!(
        strings(&json["nix"]["problems"]).is_empty(),
        "{:#}",
        json["nix"]
    );
    // The python entry parses but claims no NixOS system; unknown lines are ignored.
    let names: Vec<&str> = json["binfmt"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["python3.11", "qemu-aarch64", "qemu-riscv64"]);
}

#[test]
fn default_targets_are_what_the_host_claims() {
    let (json, code) = doctor("healthy", &[]);
    assert_eq!(code, 0);
    let systems: Vec<&str> = json["targets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["system"].as_str().unwrap())
        .collect();
    // Binfmt entries, extra-platforms (i686-linux) and the builder's systems,
    // in nixpkgs' order; the host itself is left out.
    assert_eq!(
        systems,
        [
            "aarch64-linux",
            "armv6l-linux",
            "armv7l-linux",
            "i686-linux",
            "riscv64-linux"
        ]
    );
    let (json, _) = doctor("no-binfmt", &[]);
    let systems: Vec<&str> = json["targets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["system"].as_str().unwrap())
        .collect();
    assert_eq!(systems, ["aarch64-linux"]);
}

#[test]
fn nixos_host_gets_module_fixes() {
    let (json, code) = doctor("nixos", &["aarch64-linux", "riscv64-linux"]);
    assert_eq!(code, 1);
    assert_eq!(json["nixos"], true);
    let a = &target(&json, "aarch64-linux")["emulation"];
    assert_eq!(a["ready"], true, "/run/binfmt is a sandbox path: {a:#}");
    let r = &target(&json, "riscv64-linux")["emulation"];
    assert_eq!(r["ready"], false);
    let f = fixes(&r["fixes"]);
    assert_eq!(
        f[0],
        (
            "configuration.nix".to_string(),
            "boot.binfmt.emulatedSystems = [ \"riscv64-linux\" ];".to_string()
        )
    );
    assert!(
        !f.iter().any(|(w, _)| w.starts_with("/etc/")),
        "NixOS fixes go in the module: {f:?}"
    );
}

#[test]
fn pkgs_cross_names_resolve_and_unknown_targets_exit_2() {
    let (json, _) = doctor("healthy", &["raspberryPi"]);
    let t = target(&json, "armv6l-linux");
    assert_eq!(t["input"], "raspberryPi");
    assert_eq!(t["remote"]["ready"], true);

    let out = Command::cargo_bin("nixcross")
        .unwrap()
        .args(["doctor", "--target", "riscv64-linx", "--root"])
        .arg(root("healthy"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("riscv64-linux"));

    let out = Command::cargo_bin("nixcross")
        .unwrap()
        .args(["doctor", "--root", "/nonexistent/root"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn human_report() {
    let out = Command::cargo_bin("nixcross")
        .unwrap()
        .env("NO_COLOR", "1")
        .args(["doctor", "--target", "aarch64-linux", "--root"])
        .arg(root("no-f-flag"))
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("\naarch64-linux\n"), "{text}");
    assert!(text.contains("  ok cross"), "{text}");
    assert!(
        text.contains("  no emulation  not ready (binfmt entry qemu-aarch64)"),
        "{text}"
    );
    assert!(
        text.contains("      fix /etc/nix/nix.conf: extra-sandbox-paths = /usr/bin/qemu-aarch64\n"),
        "{text}"
    );
}

/// The whole JSON report of every host, for the targets a newcomer checks
/// first. Reviewed snapshots (tests/snapshots/): `cargo insta review`, or
/// `INSTA_UPDATE=always cargo test -p nixcross-cli --test doctor`.
#[test]
fn json_reports() {
    for case in [
        "healthy",
        "nixos",
        "no-binfmt",
        "no-extra-platforms",
        "no-f-flag",
        "no-flakes",
        "old-kernel",
    ] {
        let (json, code) = doctor(case, &["aarch64-linux", "riscv64-linux"]);
        insta::assert_snapshot!(format!("json_{case}"), format!("exit {code}\n{json:#}"));
    }
}

#[test]
fn human_report_without_flakes() {
    let out = Command::cargo_bin("nixcross")
        .unwrap()
        .args([
            "--color",
            "never",
            "doctor",
            "--target",
            "aarch64-linux",
            "--root",
        ])
        .arg(root("no-flakes"))
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    // A problem is a sentence under a dash, never after the `no` mark.
    assert!(
        text.contains("\n      - flakes are not enabled (nixcross writes flake.nix files)\n"),
        "{text}"
    );
    assert!(!text.contains("no flakes"), "{text}");
    insta::assert_snapshot!(text);
}
