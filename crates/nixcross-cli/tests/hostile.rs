//! Issue 11: the hostile inputs that broke a promise, one test each. Every
//! test reproduces the failure it guards against (it fails on the code before
//! the fix).

use std::path::{Path, PathBuf};
use std::process::Output;

use assert_cmd::Command;

fn nixcross() -> Command {
    Command::cargo_bin("nixcross").unwrap()
}

fn run(dir: &Path, args: &[&str]) -> Output {
    nixcross().current_dir(dir).args(args).output().unwrap()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    if let Some(parent) = p.parent() {
        std::fs::create_dir_all(parent).unwrap();
    }
    std::fs::write(&p, text).unwrap();
    p
}

const MODULE: &str = "{ config, ... }:\n{\n  networking.hostName = \"x\";\n}\n";

const FLAKE: &str = r#"{
  outputs = { self, nixpkgs }: {
    nixosConfigurations.board = nixpkgs.lib.nixosSystem {
      system = "x86_64-linux";
      modules = [ ./configuration.nix ];
    };
  };
}
"#;

// 7. Control characters from a file or an argument never reach the terminal raw.
#[test]
fn control_characters_are_escaped_for_humans() {
    let dir = tempfile::tempdir().unwrap();
    let flake = FLAKE.replace(
        "nixosConfigurations.board",
        "nixosConfigurations.\"evil\x1b[2J\x07\"",
    );
    write(dir.path(), "flake.nix", &flake);
    let out = run(dir.path(), &["show"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(!text.contains('\x1b') && !text.contains('\x07'), "{text:?}");
    assert!(text.contains("evil\\e[2J\\x07"), "{text}");
    // JSON escapes by itself and keeps the real name.
    let out = run(dir.path(), &["show", "--json"]);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["configurations"][0]["name"], "evil\x1b[2J\x07");
    // An argument echoed in an error.
    let out = run(
        dir.path(),
        &[
            "init",
            "--target",
            "evil\x1b]0;pwned\x07",
            "--mode",
            "cross",
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(!stderr(&out).contains('\x1b'), "{:?}", stderr(&out));

    // doctor: a binfmt entry whose name and interpreter carry escapes.
    let root = dir.path().join("root");
    write(&root, "proc/sys/fs/binfmt_misc/status", "enabled\n");
    write(
        &root,
        "proc/sys/fs/binfmt_misc/evil\x1b[31m",
        "enabled\ninterpreter /run/\x1b[2Jqemu\x07\nflags: P\noffset 0\nmagic 7f454c46\n",
    );
    let out = run(dir.path(), &["doctor", "--root", root.to_str().unwrap()]);
    let text = stdout(&out);
    assert!(!text.contains('\x1b') && !text.contains('\x07'), "{text:?}");
    assert!(text.contains("evil\\e[31m"), "{text}");
}

// 8. A write error on stdout other than a closed pipe is an error.
#[test]
fn stdout_write_errors_exit_2() {
    let Ok(full) = std::fs::OpenOptions::new().write(true).open("/dev/full") else {
        eprintln!("SKIP: no /dev/full");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    for args in [
        &["targets"][..],
        &[
            "init",
            "--target",
            "riscv64-linux",
            "--mode",
            "cross",
            "--stdout",
        ][..],
    ] {
        let out = std::process::Command::new(assert_cmd::cargo::cargo_bin("nixcross"))
            .current_dir(dir.path())
            .args(args)
            .stdout(full.try_clone().unwrap())
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert!(
            stderr(&out).contains("cannot write to standard output"),
            "{}",
            stderr(&out)
        );
    }
}
