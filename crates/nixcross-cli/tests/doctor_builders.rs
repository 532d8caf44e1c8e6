//! `nixcross doctor` and remote builders: the listing (nix.conf `builders`,
//! machines files, `--builders`), which targets a builder covers, and
//! `--probe` against a stand-in `nix` on PATH that answers as a reachable,
//! untrusted, unknown, refusing, Nix-less or silent builder would.

use std::path::PathBuf;

use assert_cmd::Command;
use serde_json::Value;

/// The stand-in: records its arguments and `NIX_SSHOPTS`, then answers for
/// the host named in `--store`.
const STAND_IN: &str = r#"#!/bin/sh
if [ "$1" = "--version" ]; then echo "nix (Nix) $STANDIN_VERSION"; exit 0; fi
echo "$* | $NIX_SSHOPTS" >> "$STANDIN_LOG"
store=""
while [ $# -gt 0 ]; do
  if [ "$1" = "--store" ]; then store="$2"; fi
  shift
done
case "$store" in
  *@ok*|*//ok*) printf 'Store URL: %s\nVersion: 2.24.9\nTrusted: 1\n' "$store" ;;
  *untrusted*) printf 'Store URL: %s\nVersion: 2.24.9\nTrusted: 0\n' "$store" ;;
  *nohost*) echo "ssh: Could not resolve hostname nohost: Name or service not known" >&2
            echo "error: failed to start SSH connection to 'nohost'" >&2; exit 1 ;;
  *denied*) echo "nix@denied: Permission denied (publickey)." >&2
            echo "error: cannot connect to 'nix@denied'" >&2; exit 1 ;;
  *nonix*) echo "bash: line 1: nix-store: command not found" >&2; exit 1 ;;
  *slow*) exec sleep 30 ;;
  *) echo "error: unexpected store $store" >&2; exit 1 ;;
esac
"#;

struct Env {
    dir: tempfile::TempDir,
}

impl Env {
    fn new(version: &str) -> Env {
        let dir = tempfile::tempdir().unwrap();
        let bin = dir.path().join("bin");
        std::fs::create_dir_all(&bin).unwrap();
        let nix = bin.join("nix");
        std::fs::write(&nix, STAND_IN).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&nix, std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::create_dir_all(dir.path().join("root/etc/nix")).unwrap();
        std::fs::write(dir.path().join("version"), version).unwrap();
        Env { dir }
    }
    fn root(&self) -> PathBuf {
        self.dir.path().join("root")
    }
    fn write(&self, rel: &str, text: &str) {
        let p = self.root().join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }
    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("log")).unwrap_or_default()
    }
    fn doctor(&self, args: &[&str]) -> (Value, i32, String) {
        let path = format!(
            "{}:{}",
            self.dir.path().join("bin").display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let version = std::fs::read_to_string(self.dir.path().join("version")).unwrap();
        let out = Command::cargo_bin("nixcross")
            .unwrap()
            .arg("doctor")
            .arg("--json")
            .arg("--root")
            .arg(self.root())
            .args(args)
            .env("PATH", path)
            .env("STANDIN_LOG", self.dir.path().join("log"))
            .env("STANDIN_VERSION", version)
            .env_remove("NIX_SSHOPTS")
            .output()
            .unwrap();
        let json: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "not JSON ({e}): {}\n{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            )
        });
        (
            json,
            out.status.code().unwrap(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }
}

fn builder<'a>(json: &'a Value, uri: &str) -> &'a Value {
    json["nix"]["builders"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["uri"] == uri)
        .unwrap_or_else(|| panic!("no builder {uri} in {:#}", json["nix"]["builders"]))
}

fn target<'a>(json: &'a Value, system: &str) -> &'a Value {
    json["targets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["system"] == system)
        .unwrap_or_else(|| panic!("no target {system}"))
}

#[test]
fn builders_come_from_nix_conf_files_and_the_command_line() {
    let env = Env::new("2.24.9");
    env.write(
        "etc/nix/nix.conf",
        "experimental-features = nix-command flakes\nbuilders = ssh://x86 x86_64-linux ; @/etc/nix/machines ; @/etc/nix/more\n",
    );
    env.write(
        "etc/nix/machines",
        "# the board\nssh-ng://nix@pi5 aarch64-linux,armv7l-linux /etc/nix/builder_ed25519 4 2 big-parallel,kvm - -\n",
    );
    env.write(
        "etc/nix/more",
        "ssh://riscv riscv64-linux - - - - - -\nssh://bad aarch64-linux - many\n",
    );
    let (json, code, _) = env.doctor(&[
        "--target",
        "aarch64-linux",
        "--target",
        "riscv64-linux",
        "--target",
        "s390x-linux",
    ]);
    let pi = builder(&json, "ssh-ng://nix@pi5");
    assert_eq!(
        pi["systems"],
        serde_json::json!(["aarch64-linux", "armv7l-linux"])
    );
    assert_eq!(pi["max_jobs"], 4);
    assert_eq!(pi["speed_factor"], 2);
    assert_eq!(pi["ssh_key"], "/etc/nix/builder_ed25519");
    assert_eq!(
        pi["supported_features"],
        serde_json::json!(["big-parallel", "kvm"])
    );
    assert_eq!(pi["source"], "/etc/nix/machines");
    assert_eq!(builder(&json, "ssh://x86")["source"], "nix.conf builders");
    assert_eq!(builder(&json, "ssh://riscv")["source"], "/etc/nix/more");
    // The bad line is a problem, with its file and line, and is not listed.
    let problems: Vec<String> = serde_json::from_value(json["nix"]["problems"].clone()).unwrap();
    assert!(
        problems
            .iter()
            .any(|p| p.starts_with("/etc/nix/more:2:") && p.contains("many")),
        "{problems:?}"
    );
    assert_eq!(json["nix"]["builders"].as_array().unwrap().len(), 3);
    // Which target each builder covers.
    assert_eq!(target(&json, "aarch64-linux")["remote"]["ready"], true);
    assert_eq!(
        target(&json, "aarch64-linux")["remote_builders"],
        serde_json::json!(["ssh-ng://nix@pi5"])
    );
    assert_eq!(target(&json, "riscv64-linux")["remote"]["ready"], true);
    let s390 = &target(&json, "s390x-linux")["remote"];
    assert_eq!(s390["ready"], false);
    assert!(s390["fixes"][0]["line"]
        .as_str()
        .unwrap()
        .contains("nixcross add-builder ssh-ng://<user>@<builder> --system s390x-linux"));
    assert_eq!(code, 1, "s390x-linux can only be cross-compiled");

    // --builders replaces the setting: only its machine is listed.
    let (json, code, _) = env.doctor(&[
        "--builders",
        "ssh://alone s390x-linux",
        "--target",
        "s390x-linux",
    ]);
    assert_eq!(json["nix"]["builders"].as_array().unwrap().len(), 1);
    assert_eq!(builder(&json, "ssh://alone")["source"], "--builders");
    assert_eq!(target(&json, "s390x-linux")["remote"]["ready"], true);
    assert_eq!(code, 0);
    assert!(env.log().is_empty(), "nothing is probed without --probe");
}

#[test]
fn probes_say_what_works_and_why_not() {
    let env = Env::new("2.24.9");
    env.write(
        "etc/nix/nix.conf",
        "experimental-features = nix-command flakes\n",
    );
    env.write(
        "etc/nix/machines",
        "ssh-ng://nix@ok aarch64-linux /root/.ssh/id_builder 4 1 - - -\n\
         ssh-ng://nix@untrusted riscv64-linux\n\
         ssh://nohost armv7l-linux\n\
         ssh://nix@denied powerpc64le-linux\n\
         ssh://nix@nonix s390x-linux\n\
         ssh://slow mips64el-linux\n",
    );
    let started = std::time::Instant::now();
    let (json, code, _) = env.doctor(&[
        "--probe",
        "--probe-timeout",
        "2",
        "--target",
        "aarch64-linux",
        "--target",
        "riscv64-linux",
    ]);
    assert!(
        started.elapsed().as_secs() < 20,
        "the slow builder is cut off"
    );
    let ok = builder(&json, "ssh-ng://nix@ok");
    assert_eq!(ok["probe"]["status"], "reachable");
    assert_eq!(ok["probe"]["trusted"], true);
    assert_eq!(ok["probe"]["version"], "2.24.9");
    let untrusted = builder(&json, "ssh-ng://nix@untrusted");
    assert_eq!(untrusted["probe"]["trusted"], false);
    assert!(
        untrusted["fixes"].to_string().contains("trusted-users"),
        "{untrusted:#}"
    );
    assert_eq!(
        builder(&json, "ssh://nohost")["probe"]["status"],
        "unreachable"
    );
    let denied = builder(&json, "ssh://nix@denied");
    assert_eq!(denied["probe"]["status"], "authentication");
    assert!(
        denied["fixes"].to_string().contains("sudo ssh nix@denied"),
        "{denied:#}"
    );
    assert_eq!(
        builder(&json, "ssh://nix@nonix")["probe"]["status"],
        "no-remote-nix"
    );
    let slow = builder(&json, "ssh://slow");
    assert_eq!(slow["probe"]["status"], "unreachable");
    assert!(slow["probe"]["reason"].as_str().unwrap().contains("2 s"));
    // A reachable trusted builder makes its target ready; an untrusted one does not.
    assert_eq!(target(&json, "aarch64-linux")["remote"]["ready"], true);
    let r = &target(&json, "riscv64-linux")["remote"];
    assert_eq!(r["ready"], false);
    assert!(
        r["problems"][0]
            .as_str()
            .unwrap()
            .contains("not a trusted user"),
        "{r:#}"
    );
    assert_eq!(code, 1);
    // Nix 2.24 is probed with `nix store info`, the key and batch-mode ssh.
    let log = env.log();
    assert!(
        log.contains("store info --store ssh-ng://nix@ok?ssh-key=/root/.ssh/id_builder | -o BatchMode=yes -o ConnectTimeout=2"),
        "{log}"
    );
    assert_eq!(log.lines().count(), 6, "one probe per builder: {log}");
}

#[test]
fn old_nix_is_probed_with_store_ping_and_the_human_report_lists_builders() {
    let env = Env::new("2.8.0");
    let out = Command::cargo_bin("nixcross")
        .unwrap()
        .args([
            "doctor",
            "--probe",
            "--builders",
            "ssh://nix@ok aarch64-linux - 2",
            "--root",
        ])
        .arg(env.root())
        .env(
            "PATH",
            format!(
                "{}:{}",
                env.dir.path().join("bin").display(),
                std::env::var("PATH").unwrap_or_default()
            ),
        )
        .env("STANDIN_LOG", env.dir.path().join("log"))
        .env("STANDIN_VERSION", "2.8.0")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("builders  1 (builders-use-substitutes off)\n  ok ssh://nix@ok -> aarch64-linux (2 jobs) [--builders]: reachable, Nix 2.24.9, trusted\n"),
        "{text}"
    );
    assert!(
        env.log().contains("store ping --store ssh://nix@ok"),
        "{}",
        env.log()
    );
}

/// The line `add-builder --format machines` prints is read back by doctor
/// as the same machine.
#[test]
fn machines_lines_round_trip_through_doctor() {
    let env = Env::new("2.24.9");
    let key = "c3NoLWVkMjU1MTkgQUFBQUMzTnphQzFsWkRJMU5URTVBQUFBSUdEbmd2VzFJZ1VTVzRMbmE3dE9vREJzQzJzRytJbHBEZllDZTF3QlZNcDIgcm9vdEBwaTU=";
    let out = Command::cargo_bin("nixcross")
        .unwrap()
        .args([
            "add-builder",
            "ssh-ng://nix@pi5.local",
            "--system",
            "aarch64-linux",
            "--system",
            "armv7l-linux",
            "--max-jobs",
            "4",
            "--speed-factor",
            "3",
            "--feature",
            "big-parallel",
            "--feature",
            "kvm",
            "--mandatory-feature",
            "benchmark",
            "--ssh-key",
            "/root/.ssh/id_builder",
            "--host-key",
            key,
            "--format",
            "machines",
        ])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout
        .lines()
        .find(|l| l.starts_with("ssh-ng://"))
        .expect("a machines line");
    assert_eq!(
        line,
        format!("ssh-ng://nix@pi5.local aarch64-linux,armv7l-linux /root/.ssh/id_builder 4 3 big-parallel,kvm benchmark {key}")
    );
    env.write("etc/nix/machines", &format!("{line}\n"));
    let (json, _, _) = env.doctor(&[]);
    let b = builder(&json, "ssh-ng://nix@pi5.local");
    assert_eq!(
        b["systems"],
        serde_json::json!(["aarch64-linux", "armv7l-linux"])
    );
    assert_eq!(b["ssh_key"], "/root/.ssh/id_builder");
    assert_eq!(
        (b["max_jobs"].as_u64(), b["speed_factor"].as_u64()),
        (Some(4), Some(3))
    );
    assert_eq!(
        b["supported_features"],
        serde_json::json!(["big-parallel", "kvm"])
    );
    assert_eq!(b["mandatory_features"], serde_json::json!(["benchmark"]));
    assert_eq!(b["public_host_key"], key);
    assert!(stdout.contains("builders = @/etc/nix/machines\n"));
    assert!(stdout.contains("builders-use-substitutes = true\n"));
}
