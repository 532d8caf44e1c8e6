//! The command line a user expects: the same flag names on every command,
//! `--mode native`, `-q`, `--json` on the editing commands, arguments
//! checked before anything is written, and one way of saying an error.

use std::path::Path;

use assert_cmd::Command;

const FLAKE: &str = r#"{
  outputs = { self, nixpkgs }: {
    nixosConfigurations.board = nixpkgs.lib.nixosSystem {
      system = "x86_64-linux";
      modules = [ ];
    };
  };
}
"#;

/// nixcross in `dir`, without colour.
fn nixcross(dir: &Path) -> Command {
    let mut c = Command::cargo_bin("nixcross").unwrap();
    c.current_dir(dir)
        .env("NO_COLOR", "1")
        .env_remove("CLICOLOR_FORCE")
        .env_remove("COMPLETE");
    c
}

fn with_flake() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("flake.nix"), FLAKE).unwrap();
    dir
}

struct Out {
    code: i32,
    stdout: String,
    stderr: String,
}

fn run(dir: &Path, args: &[&str]) -> Out {
    let out = nixcross(dir).args(args).output().unwrap();
    Out {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8(out.stdout).unwrap(),
        stderr: String::from_utf8(out.stderr).unwrap(),
    }
}

fn flake(dir: &Path) -> String {
    std::fs::read_to_string(dir.join("flake.nix")).unwrap()
}

#[test]
fn set_target_takes_the_target_as_a_flag_or_positionally() {
    let dir = with_flake();
    let flag = run(
        dir.path(),
        &[
            "set-target",
            "--target",
            "riscv64-linux",
            "--mode",
            "cross",
            "--dry-run",
        ],
    );
    assert_eq!(flag.code, 0, "{}", flag.stderr);
    let short = run(
        dir.path(),
        &[
            "set-target",
            "-t",
            "riscv64-linux",
            "--mode",
            "cross",
            "--dry-run",
        ],
    );
    let positional = run(
        dir.path(),
        &[
            "set-target",
            "riscv64-linux",
            "--mode",
            "cross",
            "--dry-run",
        ],
    );
    assert_eq!(flag.stdout, positional.stdout);
    assert_eq!(short.stdout, positional.stdout);
    assert!(flag.stdout.contains("riscv64-linux"), "{}", flag.stdout);
    // Exactly one of them.
    let both = run(
        dir.path(),
        &[
            "set-target",
            "aarch64-linux",
            "--target",
            "riscv64-linux",
            "--mode",
            "cross",
        ],
    );
    assert_eq!(both.code, 2, "{}", both.stderr);
    assert!(
        both.stderr.contains("cannot be used with"),
        "{}",
        both.stderr
    );
    let none = run(dir.path(), &["set-target", "--mode", "cross"]);
    assert_eq!(none.code, 2, "{}", none.stderr);
    assert!(none.stderr.contains("--target <T>"), "{}", none.stderr);
    assert_eq!(flake(dir.path()), FLAKE);
}
