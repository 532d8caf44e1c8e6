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

#[test]
fn quiet_keeps_errors_and_answers_only() {
    let dir = with_flake();
    let args = ["set-target", "riscv64-linux", "--mode", "emulate"];
    let loud = run(dir.path(), &[&args[..], &["--dry-run"]].concat());
    assert!(loud.stderr.contains("warning:"), "{}", loud.stderr);
    assert!(loud.stderr.contains("note:"), "{}", loud.stderr);
    // -q anywhere on the line: the diff stays on stdout, stderr is empty.
    for q in [&["-q"][..], &["--quiet"]] {
        let quiet = run(dir.path(), &[q, &args[..], &["--dry-run"]].concat());
        assert_eq!(quiet.code, 0, "{}", quiet.stderr);
        assert_eq!(quiet.stdout, loud.stdout);
        assert_eq!(quiet.stderr, "", "{q:?}");
    }
    let written = run(dir.path(), &[&args[..], &["-q"]].concat());
    assert_eq!((written.code, written.stderr.as_str()), (0, ""));
    assert!(flake(dir.path()).contains("\"riscv64-linux\""));
    // Errors stay.
    let bad = run(
        dir.path(),
        &["-q", "set-target", "nowhere-linux", "--mode", "cross"],
    );
    assert_eq!(bad.code, 2);
    assert!(
        bad.stderr.starts_with("nixcross: error: "),
        "{}",
        bad.stderr
    );
}

#[test]
fn check_says_only_what_would_change() {
    let dir = with_flake();
    let args = [
        "set-target",
        "riscv64-linux",
        "--mode",
        "emulate",
        "--check",
    ];
    for quiet in [false, true] {
        let mut a = args.to_vec();
        if quiet {
            a.push("-q");
        }
        let out = run(dir.path(), &a);
        assert_eq!(out.code, 1, "{}", out.stderr);
        assert_eq!(out.stdout, "");
        let lines: Vec<&str> = out.stderr.lines().collect();
        assert_eq!(lines.len(), 1, "{}", out.stderr);
        assert!(
            lines[0].starts_with("flake.nix: would change: "),
            "{}",
            out.stderr
        );
    }
    assert_eq!(flake(dir.path()), FLAKE);
}

#[test]
fn apply_does_not_advise_what_the_build_host_does() {
    let dir = with_flake();
    std::fs::write(
        dir.path().join("builder.nix"),
        "{ ... }:\n{\n  boot.binfmt.emulatedSystems = [ \"riscv64-linux\" ];\n}\n",
    )
    .unwrap();
    let spec = "configurations:\n  board:\n    target: riscv64-linux\n    mode: emulate\n";
    let advice = "needs the building machine to emulate riscv64-linux";
    std::fs::write(dir.path().join("nixcross.yaml"), spec).unwrap();
    let alone = run(dir.path(), &["apply", "--dry-run"]);
    assert_eq!(alone.code, 0, "{}", alone.stderr);
    assert!(alone.stderr.contains(advice), "{}", alone.stderr);
    std::fs::write(
        dir.path().join("nixcross.yaml"),
        format!("{spec}buildHost:\n  file: builder.nix\n  emulate: [ riscv64-linux ]\n"),
    )
    .unwrap();
    for args in [
        &["apply", "--dry-run"][..],
        &["apply", "--check"],
        &["apply"],
    ] {
        let out = run(dir.path(), args);
        assert!(!out.stderr.contains(advice), "{args:?}: {}", out.stderr);
        assert!(!out.stderr.contains("warning"), "{args:?}: {}", out.stderr);
    }
    assert!(flake(dir.path()).contains("system = \"riscv64-linux\""));
}

fn json(out: &Out) -> serde_json::Value {
    serde_json::from_str(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}\n{}", out.stdout, out.stderr))
}

/// The keys every `--json` report has (and `error` when it is one).
const KEYS: [&str; 9] = [
    "command", "status", "exit", "written", "files", "summary", "warnings", "notes", "claims",
];

fn check_shape(v: &serde_json::Value, command: &str) {
    let mut keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    keys.retain(|k| *k != "error" || v["status"] == "error");
    let mut want = KEYS.to_vec();
    if v["status"] == "error" {
        want.push("error");
    }
    keys.sort_unstable();
    want.sort_unstable();
    assert_eq!(keys, want, "{v}");
    assert_eq!(v["command"], command, "{v}");
    for f in v["files"].as_array().unwrap() {
        assert!(f["path"].is_string() && f["reasons"].is_array(), "{f}");
        assert!(f["diff"].as_str().unwrap().contains("\n@@ "), "{f}");
    }
}

#[test]
fn every_editing_command_reports_in_json() {
    let dir = with_flake();
    std::fs::write(dir.path().join("builder.nix"), "{ ... }:\n{\n}\n").unwrap();
    let cases: &[(&str, &[&str])] = &[
        (
            "set-target",
            &["set-target", "riscv64-linux", "--mode", "emulate"],
        ),
        ("add-overlay", &["add-overlay", "gcc=gcc12"]),
        (
            "add-config",
            &[
                "add-config",
                "pi",
                "--target",
                "aarch64-linux",
                "--mode",
                "emulate",
            ],
        ),
        (
            "emulate",
            &["emulate", "aarch64-linux", "-f", "builder.nix"],
        ),
        (
            "add-builder",
            &[
                "add-builder",
                "ssh://nix@pi5",
                "--system",
                "aarch64-linux",
                "-f",
                "builder.nix",
            ],
        ),
    ];
    for (command, args) in cases {
        let before =
            std::fs::read_to_string(dir.path().join("builder.nix")).unwrap() + &flake(dir.path());
        // --dry-run: what would change, exit 0, nothing written.
        let out = run(dir.path(), &[args, &["--json", "--dry-run"][..]].concat());
        assert_eq!(out.code, 0, "{command}: {}", out.stderr);
        assert_eq!(out.stderr, "", "{command}");
        let v = json(&out);
        check_shape(&v, command);
        assert_eq!(
            (&v["status"], &v["exit"], &v["written"]),
            (&"would-change".into(), &0.into(), &false.into()),
            "{command}: {v}"
        );
        assert_eq!(v["files"].as_array().unwrap().len(), 1, "{command}: {v}");
        assert!(
            !v["claims"].as_array().unwrap().is_empty(),
            "{command}: {v}"
        );
        assert!(
            !v["summary"].as_array().unwrap().is_empty(),
            "{command}: {v}"
        );
        // --check: the same, exit 1.
        let out = run(dir.path(), &[args, &["--json", "--check"][..]].concat());
        assert_eq!(out.code, 1, "{command}: {}", out.stderr);
        let v = json(&out);
        assert_eq!(
            (&v["status"], &v["exit"]),
            (&"would-change".into(), &1.into())
        );
        let after =
            std::fs::read_to_string(dir.path().join("builder.nix")).unwrap() + &flake(dir.path());
        assert_eq!(
            before, after,
            "{command}: --dry-run and --check write nothing"
        );
        // Written.
        let out = run(dir.path(), &[args, &["--json"][..]].concat());
        assert_eq!(out.code, 0, "{command}: {}", out.stderr);
        let v = json(&out);
        check_shape(&v, command);
        assert_eq!(
            (&v["status"], &v["written"]),
            (&"written".into(), &true.into())
        );
        // Again: up to date.
        let v = json(&run(dir.path(), &[args, &["--json"][..]].concat()));
        assert_eq!(v["status"], "up-to-date", "{command}: {v}");
        assert_eq!(v["files"], serde_json::json!([]));
    }
    // A refusal is a report too (and stderr still says it).
    let out = run(
        dir.path(),
        &[
            "set-target",
            "nowhere-linux",
            "--mode",
            "cross",
            "--config",
            "board",
            "--json",
        ],
    );
    assert_eq!(out.code, 2);
    let v = json(&out);
    check_shape(&v, "set-target");
    assert_eq!((&v["status"], &v["exit"]), (&"error".into(), &2.into()));
    assert!(
        v["error"].as_str().unwrap().contains("unknown target"),
        "{v}"
    );
    assert!(
        out.stderr.starts_with("nixcross: error: "),
        "{}",
        out.stderr
    );
}

#[test]
fn apply_reports_in_json() {
    let dir = with_flake();
    std::fs::write(
        dir.path().join("nixcross.yaml"),
        "configurations:\n  board:\n    target: riscv64-linux\n    mode: cross\n",
    )
    .unwrap();
    let out = run(dir.path(), &["apply", "--json", "--check"]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    let v = json(&out);
    check_shape(&v, "apply");
    assert_eq!(v["status"], "would-change");
    assert_eq!(v["files"][0]["path"], "flake.nix");
    assert_eq!(v["claims"][0]["claim"], "platforms", "{v}");
    let v = json(&run(dir.path(), &["apply", "--json"]));
    assert_eq!((&v["status"], &v["exit"]), (&"written".into(), &0.into()));
    let v = json(&run(dir.path(), &["apply", "--json", "--check"]));
    assert_eq!(
        (&v["status"], &v["exit"]),
        (&"up-to-date".into(), &0.into())
    );
}

#[test]
fn man_pages_have_examples_and_exit_status() {
    let dir = tempfile::tempdir().unwrap();
    let page = |args: &[&str]| {
        let out = run(dir.path(), &[&["man"][..], args].concat());
        assert_eq!(out.code, 0, "{}", out.stderr);
        out.stdout
    };
    for (args, example) in [
        (&[][..], "nixcross targets"),
        (
            &["set-target"],
            "nixcross set\\-target riscv64\\-linux \\-\\-mode cross",
        ),
        (&["emulate"], "nixcross emulate raspberryPi \\-\\-static"),
        (&["binfmt-line"], ""),
    ] {
        let text = page(args);
        assert!(!text.contains(".SH EXTRA"), "{args:?}: {text}");
        let exit = text.find(".SH \"EXIT STATUS\"").expect("EXIT STATUS");
        for code in ["0", "1", "2"] {
            assert!(
                text[exit..].contains(&format!(".TP\n\\fB{code}\\fR\n")),
                "{args:?} {code}: {text}"
            );
        }
        if !example.is_empty() {
            let ex = text.find(".SH EXAMPLES").expect("EXAMPLES");
            assert!(ex > exit, "{args:?}");
            assert!(text[ex..].contains(example), "{args:?}: {text}");
        }
    }
    // The prose of a command's help goes on in DESCRIPTION, before OPTIONS.
    let text = page(&["set-target"]);
    let style = text.find("The file keeps its style").expect("prose");
    assert!(style < text.find(".SH OPTIONS").unwrap(), "{text}");
    // The root page's "Exit codes:" paragraph is EXIT STATUS now.
    assert!(!page(&[]).contains("Exit codes:"));
    // doctor's codes are its own.
    assert!(page(&["doctor"]).contains("cannot be built here"));
}

#[test]
fn targets_takes_a_pattern_and_linux() {
    let dir = tempfile::tempdir().unwrap();
    let listed = |args: &[&str]| -> (Vec<String>, Vec<String>) {
        let out = run(dir.path(), &[&["targets", "--json"][..], args].concat());
        assert_eq!(out.code, 0, "{args:?}: {}", out.stderr);
        let v = json(&out);
        let names = |k: &str, f: &str| -> Vec<String> {
            v[k].as_array()
                .unwrap()
                .iter()
                .map(|e| e[f].as_str().unwrap().to_string())
                .collect()
        };
        (names("systems", "system"), names("pkgsCross", "name"))
    };
    let (systems, examples) = listed(&["riscv64"]);
    assert!(
        systems.iter().all(|s| s.starts_with("riscv64")),
        "{systems:?}"
    );
    assert!(systems.contains(&"riscv64-linux".to_string()));
    assert!(
        examples.contains(&"riscv64-musl".to_string()),
        "{examples:?}"
    );
    // The triple counts, and case does not.
    let (_, examples) = listed(&["GNUEABIHF"]);
    assert!(
        examples.contains(&"raspberryPi".to_string()),
        "{examples:?}"
    );
    // A glob matches a whole word.
    let (systems, examples) = listed(&["aarch64-*-musl"]);
    assert!(systems.is_empty(), "{systems:?}");
    assert_eq!(examples, ["aarch64-multiplatform-musl"]);
    let (systems, examples) = listed(&["--linux"]);
    assert!(systems.iter().all(|s| s.ends_with("-linux")), "{systems:?}");
    assert!(!examples.contains(&"mingwW64".to_string()));
    let (all, _) = listed(&[]);
    assert!(all.len() > systems.len());
    let (systems, _) = listed(&["riscv64", "--linux"]);
    assert_eq!(systems, ["riscv64-linux"]);
    // The table too; and nothing matching is an error that says why.
    let out = run(dir.path(), &["targets", "raspberry"]);
    assert!(out.stdout.contains("raspberryPi"), "{}", out.stdout);
    assert!(!out.stdout.contains("riscv64-linux"), "{}", out.stdout);
    let out = run(dir.path(), &["targets", "rpi5"]);
    assert_eq!(out.code, 2);
    assert!(
        out.stderr.contains("no platform matches `rpi5`"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("aarch64-linux"), "{}", out.stderr);
}

#[test]
fn messages_say_what_is_wrong_in_one_voice() {
    let dir = with_flake();
    let module = "{ config, pkgs, ... }:\n{\n  boot.loader.grub.enable = true;\n}\n";
    std::fs::write(dir.path().join("configuration.nix"), module).unwrap();
    // A module where a flake belongs.
    for args in [
        &["set-target", "riscv64-linux", "--mode", "cross"][..],
        &["add-overlay", "gcc=gcc12"],
        &[
            "add-config",
            "pi",
            "--target",
            "aarch64-linux",
            "--mode",
            "emulate",
        ],
    ] {
        let out = run(
            dir.path(),
            &[args, &["-f", "configuration.nix"][..]].concat(),
        );
        assert_eq!(out.code, 2, "{args:?}");
        assert!(
            out.stderr
                .contains("configuration.nix: this file is a NixOS module, not a flake"),
            "{args:?}: {}",
            out.stderr
        );
        assert!(
            out.stderr.contains("emulate and add-builder"),
            "{}",
            out.stderr
        );
    }
    // clap's errors and nixcross's own start alike.
    for args in [
        &["set-target", "--bogus"][..],
        &["set-target", "riscv64-linux"],
        &["set-target", "nowhere-linux", "--mode", "cross"],
        &[
            "add-builder",
            "ssh://nix@pi5",
            "--system",
            "aarch64-linux",
            "--max-jobs",
            "0",
            "-f",
            "configuration.nix",
        ],
    ] {
        let out = run(dir.path(), args);
        assert_eq!(out.code, 2, "{args:?}");
        assert!(
            out.stderr.starts_with("nixcross: error: "),
            "{args:?}: {}",
            out.stderr
        );
    }
    let out = run(
        dir.path(),
        &[
            "add-builder",
            "ssh://nix@pi5",
            "--system",
            "aarch64-linux",
            "--speed-factor",
            "0",
            "-f",
            "configuration.nix",
        ],
    );
    assert!(out.stderr.contains("must be at least 1"), "{}", out.stderr);
    assert!(!out.stderr.contains("4294967295"), "{}", out.stderr);
    // add-config says what it did, without an empty line.
    let out = run(
        dir.path(),
        &[
            "add-config",
            "pi",
            "--target",
            "aarch64-linux",
            "--mode",
            "native",
        ],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stderr.lines().all(|l| !l.trim().is_empty()),
        "{:?}",
        out.stderr
    );
    assert!(out.stderr.contains("pi: built natively"), "{}", out.stderr);
}

#[test]
fn a_folder_named_flake_nix_is_said_to_be_one() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("flake.nix")).unwrap();
    for args in [
        &["set-target", "riscv64-linux", "--mode", "cross"][..],
        &[
            "set-target",
            "riscv64-linux",
            "--mode",
            "cross",
            "-f",
            "flake.nix",
        ],
        &["set-target", "riscv64-linux", "--mode", "cross", "-f", "."],
        &["show"],
    ] {
        let out = run(dir.path(), args);
        assert_eq!(out.code, 2, "{args:?}");
        assert!(
            out.stderr.contains("flake.nix: is a folder, not a file"),
            "{args:?}: {}",
            out.stderr
        );
    }
    let out = run(dir.path(), &["show", "-f", "nowhere"]);
    assert!(
        out.stderr.contains("nowhere: no such file"),
        "{}",
        out.stderr
    );
}

#[test]
fn the_file_flag_of_emulate_and_add_builder_names_a_module() {
    let dir = tempfile::tempdir().unwrap();
    for command in ["emulate", "add-builder"] {
        let help = run(dir.path(), &[command, "--help"]).stdout;
        let file = &help[help.find("-f, --file").unwrap()..];
        let file = &file[..file.find("\n\n").unwrap()];
        assert!(
            file.contains("The NixOS module to edit"),
            "{command}: {file}"
        );
        assert!(
            file.contains("[default with --config:"),
            "{command}: {file}"
        );
    }
}
