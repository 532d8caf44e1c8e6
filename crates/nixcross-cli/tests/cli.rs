//! What the command offers around its work: colour (`--color`,
//! `NO_COLOR`), man pages, and dynamic shell completion.

use std::path::Path;

use assert_cmd::Command;

const FLAKE: &str = r#"{
  outputs = { self, nixpkgs }: {
    nixosConfigurations.board = nixpkgs.lib.nixosSystem {
      system = "aarch64-linux";
      modules = [ ];
    };
    nixosConfigurations.builder = nixpkgs.lib.nixosSystem {
      system = "x86_64-linux";
      modules = [ ];
    };
  };
}
"#;

/// nixcross in `dir`, with no colour variables from the environment.
fn nixcross(dir: &Path) -> Command {
    let mut c = Command::cargo_bin("nixcross").unwrap();
    c.current_dir(dir)
        .env_remove("NO_COLOR")
        .env_remove("CLICOLOR")
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

fn run(cmd: &mut Command) -> Out {
    let out = cmd.output().unwrap();
    Out {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8(out.stdout).unwrap(),
        stderr: String::from_utf8(out.stderr).unwrap(),
    }
}

const DRY_RUN: [&str; 6] = [
    "set-target",
    "riscv64-linux",
    "--mode",
    "emulate",
    "--config",
    "board",
];

#[test]
fn color_always_styles_the_diff_and_errors_even_through_a_pipe() {
    let dir = with_flake();
    let out = run(nixcross(dir.path())
        .args(DRY_RUN)
        .args(["--dry-run", "--color", "always"]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stdout
            .contains("\x1b[32m+      system = \"riscv64-linux\";\x1b[0m\n"),
        "{:?}",
        out.stdout
    );
    assert!(out.stdout.contains("\x1b[31m-"), "{:?}", out.stdout);
    // Explicit --color always wins over NO_COLOR, as in cargo.
    let out = run(nixcross(dir.path()).env("NO_COLOR", "1").args([
        "--color=always",
        "set-target",
        "nowhere-linux",
        "--mode",
        "cross",
    ]));
    assert_eq!(out.code, 2);
    assert!(
        out.stderr
            .starts_with("nixcross: \x1b[1m\x1b[31merror\x1b[0m: "),
        "{:?}",
        out.stderr
    );
}

#[test]
fn no_color_through_a_pipe_with_never_or_with_no_color() {
    let dir = with_flake();
    for (env, flag) in [(None, None), (None, Some("never")), (Some("1"), None)] {
        let mut cmd = nixcross(dir.path());
        cmd.args(DRY_RUN).arg("--dry-run");
        if let Some(v) = env {
            cmd.env("NO_COLOR", v);
        }
        if let Some(f) = flag {
            cmd.args(["--color", f]);
        }
        let out = run(&mut cmd);
        assert_eq!(out.code, 0, "{}", out.stderr);
        assert!(out.stdout.contains("+      system = \"riscv64-linux\";\n"));
        assert!(
            !out.stdout.contains('\x1b'),
            "{env:?} {flag:?}: {:?}",
            out.stdout
        );
    }
    let out = run(nixcross(dir.path()).args(["--color", "sometimes", "targets"]));
    assert_eq!(out.code, 2, "an unknown --color value is a usage error");
}

#[test]
fn check_with_dry_run_prints_the_diff_and_exits_1() {
    let dir = with_flake();
    let out = run(nixcross(dir.path())
        .args(DRY_RUN)
        .args(["--check", "--dry-run"]));
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(out.stdout.contains("@@"), "{}", out.stdout);
    assert!(out.stderr.contains("would change"), "{}", out.stderr);
    let now = std::fs::read_to_string(dir.path().join("flake.nix")).unwrap();
    assert_eq!(now, FLAKE);
}

#[test]
fn a_written_edit_says_what_changed_once() {
    let dir = tempfile::tempdir().unwrap();
    let module = "{ ... }:\n{\n  networking.hostName = \"builder\";\n}\n";
    std::fs::write(dir.path().join("configuration.nix"), module).unwrap();
    let out =
        run(nixcross(dir.path()).args(["emulate", "aarch64-linux", "-f", "configuration.nix"]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    let said = "added aarch64-linux to boot.binfmt.emulatedSystems";
    assert_eq!(out.stderr.matches(said).count(), 1, "{}", out.stderr);
    assert!(
        out.stderr
            .starts_with(&format!("configuration.nix: {said}\n")),
        "{}",
        out.stderr
    );
    // The second run changes nothing and says so.
    let again =
        run(nixcross(dir.path()).args(["emulate", "aarch64-linux", "-f", "configuration.nix"]));
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert_eq!(again.stderr, "configuration.nix: already up to date\n");
}

#[test]
fn each_command_help_starts_with_its_own_summary() {
    // The summary `nixcross --help` lists for a command is the first line of
    // that command's --help (its arguments are added later, and must not
    // bring an `about` of their own).
    let dir = tempfile::tempdir().unwrap();
    let words = |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ");
    let root = run(nixcross(dir.path()).arg("--help"));
    assert_eq!(root.code, 0, "{}", root.stderr);
    let listed = words(&root.stdout);
    let commands: Vec<String> = root
        .stdout
        .lines()
        .skip_while(|l| *l != "Commands:")
        .skip(1)
        .take_while(|l| !l.is_empty())
        .filter(|l| l.starts_with("  ") && !l.starts_with("   "))
        .filter_map(|l| l.split_whitespace().next().map(str::to_string))
        .filter(|c| c != "help")
        .collect();
    assert!(commands.len() > 10, "{commands:?}");
    for c in commands {
        let out = run(nixcross(dir.path()).args([c.as_str(), "--help"]));
        assert_eq!(out.code, 0, "{c}: {}", out.stderr);
        let first = out.stdout.lines().next().unwrap_or_default();
        let summary = format!("{c} {}", words(first));
        assert!(listed.contains(&summary), "{c}: {first}");
    }
}

#[test]
fn man_prints_roff_for_nixcross_and_each_command() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(nixcross(dir.path()).arg("man"));
    assert_eq!(out.code, 0);
    assert!(out.stdout.contains(".TH nixcross 1"), "{}", out.stdout);
    assert!(out.stdout.contains("set\\-target"), "lists the commands");
    let out = run(nixcross(dir.path()).args(["man", "set-target"]));
    assert!(out.stdout.contains(".TH nixcross-set-target 1"));
    assert!(out.stdout.contains("\\-\\-dry\\-run"));
    let out = run(nixcross(dir.path()).args(["man", "no-such-command"]));
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("set-target"), "{}", out.stderr);
}

#[test]
fn man_dir_writes_a_page_per_command() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(nixcross(dir.path()).args(["man", "--dir", "."]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    let mut pages: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    pages.sort();
    for want in [
        "nixcross.1",
        "nixcross-init.1",
        "nixcross-set-target.1",
        "nixcross-binfmt-line.1",
        "nixcross-man.1",
    ] {
        assert!(pages.iter().any(|p| p == want), "{want} not in {pages:?}");
    }
}

/// The candidates nixcross offers a shell for `words`, the last one being
/// completed (clap_complete's protocol, as the registered scripts call it).
fn complete(dir: &Path, words: &[&str]) -> Vec<String> {
    let out = run(nixcross(dir)
        .env("COMPLETE", "bash")
        .env("_CLAP_COMPLETE_INDEX", (words.len() - 1).to_string())
        .env("_CLAP_IFS", "\n")
        .arg("--")
        .args(words));
    assert_eq!(out.code, 0, "{}", out.stderr);
    out.stdout.lines().map(str::to_string).collect()
}

#[test]
fn completion_offers_targets_and_configurations_not_file_names() {
    let dir = with_flake();
    std::fs::write(dir.path().join("riscv64-notes.txt"), "").unwrap();
    let c = complete(dir.path(), &["nixcross", "init", "--target", "riscv64"]);
    assert!(c.contains(&"riscv64-linux".to_string()), "{c:?}");
    assert!(c.contains(&"riscv64-musl".to_string()), "{c:?}");
    assert!(!c.iter().any(|x| x.contains("notes")), "{c:?}");
    let c = complete(dir.path(), &["nixcross", "set-target", "raspberry"]);
    assert_eq!(c, ["raspberryPi"]);
    let c = complete(
        dir.path(),
        &["nixcross", "set-target", "aarch64-linux", "--config", ""],
    );
    assert_eq!(c, ["board", "builder"]);
    let c = complete(dir.path(), &["nixcross", "emulate", "--config", "bu"]);
    assert_eq!(c, ["builder"]);
    // No flake here: no configuration to offer, and no error.
    let empty = tempfile::tempdir().unwrap();
    let c = complete(empty.path(), &["nixcross", "add-overlay", "--config", ""]);
    assert!(c.is_empty(), "{c:?}");
}

#[test]
fn registration_scripts_call_nixcross_back() {
    let dir = tempfile::tempdir().unwrap();
    for (shell, marker) in [
        (
            "bash",
            "complete -o nospace -o bashdefault -o nosort -F _clap_complete_nixcross nixcross",
        ),
        ("zsh", "compdef _clap_dynamic_completer_nixcross nixcross"),
        (
            "fish",
            "complete --keep-order --exclusive --command nixcross",
        ),
        ("elvish", "edit:completion:arg-completer[nixcross]"),
        ("powershell", "Register-ArgumentCompleter"),
    ] {
        let out = run(nixcross(dir.path()).args(["completions", shell]));
        assert_eq!(out.code, 0);
        assert!(out.stdout.contains(marker), "{shell}: {}", out.stdout);
        // The shell calls back this very binary, by its absolute path.
        let bin = assert_cmd::cargo::cargo_bin("nixcross");
        assert!(
            out.stdout.contains(bin.to_str().unwrap()),
            "{shell}: {}",
            out.stdout
        );
        // The same script as the environment protocol prints.
        let env = run(nixcross(dir.path()).env("COMPLETE", shell));
        assert!(
            out.stdout.starts_with(env.stdout.trim_end()),
            "{shell}: `completions` and COMPLETE= differ"
        );
    }
    // From $fpath, zsh autoloads the file as _nixcross: it must complete on
    // the first Tab, not only define the completer.
    let zsh = run(nixcross(dir.path()).args(["completions", "zsh"])).stdout;
    assert!(zsh.trim_end().ends_with(
        "if [ \"$funcstack[1]\" = \"_nixcross\" ]; then\n    _clap_dynamic_completer_nixcross \"$@\"\nfi"
    ));
}

/// Whether `shell` runs here; says SKIP for `test` when not.
fn installed(shell: &str, test: &str) -> bool {
    let ok = std::process::Command::new(shell)
        .arg("--version")
        .output()
        .is_ok();
    if !ok {
        eprintln!("SKIP {test}: no {shell}");
    }
    ok
}

/// Real bash: source the script and ask its completion function, as
/// pressing Tab does.
#[test]
fn bash_completes_configurations_through_the_script() {
    if !installed("bash", "bash_completes_configurations_through_the_script") {
        return;
    }
    let dir = with_flake();
    let bin = assert_cmd::cargo::cargo_bin("nixcross");
    let script = r#"
        source <("$NIXCROSS" completions bash)
        COMP_WORDS=(nixcross set-target aarch64-linux --config "")
        COMP_CWORD=4
        COMP_TYPE=9
        _clap_complete_nixcross nixcross "" --config
        printf '%s\n' "${COMPREPLY[@]}"
    "#;
    let out = std::process::Command::new("bash")
        .arg("-c")
        .arg(script)
        .current_dir(dir.path())
        .env("NIXCROSS", &bin)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        stdout.lines().collect::<Vec<_>>(),
        ["board", "builder"],
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Real fish: source the script and ask `complete -C`. CI has no fish.
#[test]
#[ignore = "needs fish on PATH (CI has none); run with -- --ignored"]
fn fish_completes_configurations_through_the_script() {
    assert!(
        installed("fish", "fish_completes_configurations_through_the_script"),
        "fish is not on PATH"
    );
    let dir = with_flake();
    let bin = assert_cmd::cargo::cargo_bin("nixcross");
    let out = std::process::Command::new("fish")
        .arg("-c")
        .arg("$NIXCROSS completions fish | source; complete -C 'nixcross set-target aarch64-linux --config '")
        .current_dir(dir.path())
        .env("NIXCROSS", &bin)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let names: Vec<&str> = stdout
        .lines()
        .map(|l| l.split('\t').next().unwrap_or_default())
        .collect();
    assert_eq!(
        names,
        ["board", "builder"],
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
