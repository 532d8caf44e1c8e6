//! Hardening, second round: each test reproduces a failure of the binary
//! before its fix (an abort, a panic, a silent error, a write or read where
//! none belongs) and checks the promise now holds.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::{Duration, Instant};

use assert_cmd::Command;

fn nixcross() -> Command {
    Command::cargo_bin("nixcross").unwrap()
}

fn run(dir: &Path, args: &[&str]) -> Output {
    nixcross().current_dir(dir).args(args).output().unwrap()
}

fn bin() -> PathBuf {
    assert_cmd::cargo::cargo_bin("nixcross")
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

/// A flake whose one configuration's `system` is `expr`.
fn flake_with_system(expr: &str) -> String {
    format!(
        "{{\n  outputs = {{ self, nixpkgs }}: {{\n    nixosConfigurations.a = nixpkgs.lib.nixosSystem {{\n      system = {expr};\n      modules = [ ];\n    }};\n  }};\n}}\n"
    )
}

/// `d (d (... seed))`, `n` times.
fn doubled(n: usize, seed: &str) -> String {
    let mut e = seed.to_string();
    for _ in 0..n {
        e = format!("(d {e})");
    }
    e
}

/// nixcross `args` in `dir` with its address space limited to `mib` (the
/// shell's `ulimit -v`), and how long it took.
fn run_limited(dir: &Path, mib: u64, args: &[&str]) -> (Output, Duration) {
    let script = format!("ulimit -v {} && exec \"$0\" \"$@\"", mib * 1024);
    let start = Instant::now();
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg(script)
        .arg(bin())
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    (out, start.elapsed())
}

// 1. The evaluator has a memory bound: values that grow without end, and
// recursion that branches, end as an unknown value with the place where the
// budget ran out, never an abort (string doubling grew `show` to 8 GB).
#[test]
fn growing_values_end_in_a_spent_budget_not_an_abort() {
    let d = |f: &str, seed: &str, wrap: &str| {
        format!(
            "let d = {f}; in builtins.substring 0 0 ({}) + \"x86_64-linux\"",
            wrap.replace("X", &doubled(30, seed))
        )
    };
    let cases = [
        (d("s: s + s", "\"xx\"", "X"), "flake.nix:4:"),
        (d("s: \"${s}${s}\"", "\"xx\"", "X"), "flake.nix:4:"),
        (
            d("l: l ++ l", "[ 1 ]", "builtins.toString (builtins.length X)"),
            "flake.nix:4:",
        ),
        (
            d("s: builtins.concatStringsSep s [ s s ]", "\"xx\"", "X"),
            "flake.nix:4:",
        ),
        (
            "let f = n: if n < 2 then n else f (n - 1) + f (n - 2); in builtins.substring 0 0 (builtins.toString (f 35)) + \"x86_64-linux\"".to_string(),
            "flake.nix:4:",
        ),
        (
            "builtins.substring 0 0 (builtins.toString (builtins.length (builtins.genList (x: x) 1000000000))) + \"x86_64-linux\"".to_string(),
            "flake.nix:4:",
        ),
    ];
    for (expr, at) in cases {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "flake.nix", &flake_with_system(&expr));
        for args in [&["show"][..], &["show", "--json"]] {
            let (out, took) = run_limited(dir.path(), 1024, args);
            assert_eq!(out.status.code(), Some(0), "{expr}: {}", stderr(&out));
            let text = stdout(&out);
            assert!(
                text.contains(&format!("the evaluation budget is spent at {at}")),
                "{expr}: {text}"
            );
            // A debug build on a shared machine: generous, but far below
            // what the unbounded evaluator took.
            assert!(took < Duration::from_secs(30), "{expr}: {took:?}");
        }
        let (out, _) = run_limited(
            dir.path(),
            1024,
            &["set-target", "aarch64-linux", "--mode", "emulate"],
        );
        assert_eq!(out.status.code(), Some(2), "{expr}: {}", stderr(&out));
        assert!(
            stderr(&out).contains("the evaluation budget is spent at flake.nix:4:"),
            "{}",
            stderr(&out)
        );
    }
}

// 2. Arguments that are not UTF-8: a path may be any bytes, text must be
// UTF-8 and says which argument is not; nothing panics (std::env::args
// panicked, exit 101).
#[test]
fn arguments_that_are_not_utf8_are_refused_or_used_as_paths() {
    let dir = tempfile::tempdir().unwrap();
    let odd = OsStr::from_bytes(b"u\xff");
    let folder = dir.path().join(odd);
    write(&folder, "flake.nix", &flake_with_system("\"x86_64-linux\""));
    // A path: read as it is.
    let out = nixcross()
        .current_dir(dir.path())
        .arg("show")
        .arg("-f")
        .arg(odd)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stdout(&out).contains("x86_64-linux"), "{}", stdout(&out));
    let out = nixcross()
        .current_dir(&folder)
        .args([
            "set-target",
            "aarch64-linux",
            "--mode",
            "emulate",
            "--dry-run",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    // A missing one: an error about it, not a panic.
    let out = nixcross()
        .current_dir(dir.path())
        .arg("show")
        .arg("-f")
        .arg(OsStr::from_bytes(b"\xff"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    // Text: refused with the argument named.
    let bad = OsStr::from_bytes(b"aarch64\xff\x1b");
    for args in [
        vec![
            OsStr::new("set-target"),
            bad,
            OsStr::new("--mode"),
            OsStr::new("cross"),
        ],
        vec![
            OsStr::new("emulate"),
            bad,
            OsStr::new("-f"),
            OsStr::new("x.nix"),
        ],
        vec![
            OsStr::new("init"),
            OsStr::new("--target"),
            OsStr::new("riscv64-linux"),
            OsStr::new("--mode"),
            OsStr::new("cross"),
            OsStr::new("--name"),
            bad,
            OsStr::new("--stdout"),
        ],
        vec![OsStr::new("--color"), bad, OsStr::new("show")],
        vec![OsStr::new("show"), OsStr::new("--color"), bad],
    ] {
        let out = nixcross()
            .current_dir(&folder)
            .args(&args)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        let err = stderr(&out);
        assert!(!err.contains("panicked") && !err.contains('\x1b'), "{err}");
        if args[0] != "--color" && args[1] != "--color" {
            assert!(err.contains("`aarch64\\xff\\x1b` is not UTF-8"), "{err}");
        }
    }
}

// 3. Help and version are printed by the writer everything else uses: a
// full stdout is an error (exit 2), a closed pipe is not (they exited 0
// into /dev/full, as clap ignores the write error).
#[test]
fn help_and_version_into_a_full_stdout_exit_2() {
    // Linux has /dev/full; without it the test would prove nothing.
    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .expect("/dev/full");
    let dir = tempfile::tempdir().unwrap();
    for args in [
        &["--help"][..],
        &["-h"],
        &["--version"],
        &["-V"],
        &["help"],
        &["help", "emulate"],
        &["emulate", "--help"],
        &["binfmt", "line", "-h"],
        &["man"],
        &["completions", "bash"],
        &["schema"],
    ] {
        let out = std::process::Command::new(bin())
            .current_dir(dir.path())
            .args(args)
            .stdout(full.try_clone().unwrap())
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert!(
            stderr(&out).contains("cannot write to standard output"),
            "{args:?}: {}",
            stderr(&out)
        );
        // To a pipe nobody reads: exit 0.
        let mut child = std::process::Command::new(bin())
            .current_dir(dir.path())
            .args(args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        drop(child.stdout.take());
        let out = child.wait_with_output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", stderr(&out));
    }
    // Usage errors still go to stderr, as nixcross's errors, exit 2.
    let out = run(dir.path(), &["--colr", "x"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).starts_with("nixcross: error: unexpected argument '--colr'"),
        "{}",
        stderr(&out)
    );
}

// 4. An SSH key in the Nix store is refused however its path is spelled
// (only `/nix/store/x` was).
#[test]
fn ssh_keys_in_the_store_are_refused_in_any_spelling() {
    let dir = tempfile::tempdir().unwrap();
    let module = "{ config, ... }:\n{\n  networking.hostName = \"x\";\n}\n";
    write(dir.path(), "configuration.nix", module);
    for key in [
        "/nix/store/x",
        "//nix/store/x",
        "/nix//store/x",
        "/nix/./store/x",
        "/a/../nix/store/x",
    ] {
        let out = run(
            dir.path(),
            &[
                "add-builder",
                "ssh-ng://nix@pi5",
                "--system",
                "aarch64-linux",
                "--ssh-key",
                key,
                "-f",
                "configuration.nix",
            ],
        );
        assert_eq!(out.status.code(), Some(2), "{key}: {}", stderr(&out));
        assert!(
            stderr(&out).contains("is in the Nix store"),
            "{key}: {}",
            stderr(&out)
        );
        assert_eq!(
            std::fs::read_to_string(dir.path().join("configuration.nix")).unwrap(),
            module
        );
    }
}

/// A command that runs nixcross `args` in `dir` as a user who is not root:
/// this user, or, as root, `nobody` (65534) through setpriv, with `dir` and
/// everything in it given to nobody. `None` when neither is possible.
fn as_a_user(dir: &Path, args: &[&str]) -> Option<std::process::Command> {
    if !rustix::process::geteuid().is_root() {
        let mut c = std::process::Command::new(bin());
        c.current_dir(dir).args(args);
        return Some(c);
    }
    let setpriv = ["/usr/bin/setpriv", "/bin/setpriv"]
        .into_iter()
        .find(|p| Path::new(p).exists())?;
    fn give(p: &Path) {
        std::os::unix::fs::lchown(p, Some(65534), Some(65534)).unwrap();
        if p.is_dir() && !p.is_symlink() {
            for e in std::fs::read_dir(p).unwrap() {
                give(&e.unwrap().path());
            }
        }
    }
    give(dir);
    let mut c = std::process::Command::new(setpriv);
    c.current_dir(dir)
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(bin())
        .args(args);
    Some(c)
}

// 5. A file its permissions protect is not replaced (a 0444 flake.nix in a
// writable folder was edited through a temporary file and a rename), unless
// --force; root may write it.
#[test]
fn read_only_files_are_refused_without_force() {
    use std::os::unix::fs::PermissionsExt;
    let flake = flake_with_system("\"x86_64-linux\"");
    let module = "{ config, ... }:\n{\n  networking.hostName = \"x\";\n}\n";
    let edits: [(&str, &str, Vec<&str>); 3] = [
        (
            "flake.nix",
            &flake,
            vec!["set-target", "aarch64-linux", "--mode", "emulate"],
        ),
        (
            "configuration.nix",
            module,
            vec![
                "emulate",
                "aarch64-linux",
                "--host",
                "x86_64-linux",
                "-f",
                "configuration.nix",
            ],
        ),
        (
            "configuration.nix",
            module,
            vec![
                "add-builder",
                "ssh-ng://nix@pi5",
                "--system",
                "aarch64-linux",
                "-f",
                "configuration.nix",
            ],
        ),
    ];
    for (name, text, args) in edits {
        let dir = tempfile::tempdir().unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let file = write(dir.path(), name, text);
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o444)).unwrap();
        // Running as root, the test needs util-linux's setpriv to drop to
        // a user; without it the test would prove nothing, so it fails.
        let mut cmd = as_a_user(dir.path(), &args)
            .expect("running as root needs setpriv (util-linux) to run nixcross as a user");
        let out = cmd.output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert!(
            stderr(&out).contains("its permissions do not let you write it (mode 0444")
                && stderr(&out).contains("--force"),
            "{}",
            stderr(&out)
        );
        assert_eq!(std::fs::read_to_string(&file).unwrap(), text);
        // --force replaces it, and keeps its mode.
        let mut forced = args.clone();
        forced.push("--force");
        let out = as_a_user(dir.path(), &forced).unwrap().output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{forced:?}: {}", stderr(&out));
        assert_ne!(std::fs::read_to_string(&file).unwrap(), text);
        let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o7777;
        assert_eq!(mode, 0o444);
    }
    // Root may write a read-only file, as with other tools.
    if rustix::process::geteuid().is_root() {
        let dir = tempfile::tempdir().unwrap();
        let file = write(dir.path(), "flake.nix", &flake);
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o444)).unwrap();
        let out = run(
            dir.path(),
            &["set-target", "aarch64-linux", "--mode", "emulate"],
        );
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    }
}

// 6. A program that appends to a file without taking nixcross's lock while
// nixcross edits it loses nothing: the file is compared with what the plan
// read after the new text is written and synced, immediately before the
// rename, and the replaced file is looked at once more after it (the
// comparison came before the temporary file was written, against the text
// read when the lock was taken, so an append during the edit was lost).
#[test]
fn appends_by_another_program_during_edits_are_kept() {
    use std::io::Write as _;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    let dir = tempfile::tempdir().unwrap();
    let module = "{ config, ... }:\n{\n  networking.hostName = \"x\";\n}\n";
    let file = write(dir.path(), "configuration.nix", module);
    const LINES: usize = 400;
    let done = Arc::new(AtomicBool::new(false));
    let appender = {
        let (file, done) = (file.clone(), done.clone());
        std::thread::spawn(move || {
            for i in 0..LINES {
                let mut f = std::fs::OpenOptions::new()
                    .append(true)
                    .open(&file)
                    .unwrap();
                writeln!(f, "# appended {i}").unwrap();
                drop(f);
                std::thread::sleep(Duration::from_millis(3));
            }
            done.store(true, Ordering::SeqCst);
        })
    };
    let mut runs = 0;
    let mut edited = 0;
    while !done.load(Ordering::SeqCst) && runs < 400 {
        let remove = runs % 2 == 1;
        let mut args = vec!["emulate", "aarch64-linux", "--host", "x86_64-linux"];
        if remove {
            args.push("--remove");
        }
        args.extend(["-f", "configuration.nix"]);
        let out = run(dir.path(), &args);
        // Done, or refused after planning again a few times.
        match out.status.code() {
            Some(0) => edited += 1,
            Some(2) if stderr(&out).contains("kept changing") => {}
            _ => panic!("{args:?}: {}", stderr(&out)),
        }
        runs += 1;
    }
    appender.join().unwrap();
    let text = std::fs::read_to_string(&file).unwrap();
    for i in 0..LINES {
        assert_eq!(
            text.matches(&format!("# appended {i}\n")).count(),
            1,
            "line {i} after {runs} runs ({edited} edits):\n{text}"
        );
    }
    assert!(edited > 0, "no edit landed in {runs} runs");
}

/// Whether a terminal may interpret `c` instead of showing it.
fn is_unsafe(c: char) -> bool {
    (c.is_control() && c != '\n') || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

// 7. Characters a terminal may interpret, from a file, never reach the
// output raw: a --dry-run diff shows them escaped, also through a pipe
// (where the writer used to drop escape sequences, so the diff did not show
// what the file held, and printed C1 and bidirectional marks raw); JSON
// writes them as \u escapes (serde_json left U+009B and U+202E raw); export
// double-quotes and escapes them; an argument's line break echoed in an
// error is escaped.
#[test]
fn control_and_bidirectional_characters_are_escaped_everywhere() {
    let dir = tempfile::tempdir().unwrap();
    let name = "ev\u{202e}il\u{9b}";
    let flake = format!(
        "{{\n  # reversed \u{202e} csi \u{9b}31m esc \u{1b}[2J bell \u{7} isolate \u{2066}\n  outputs = {{ self, nixpkgs }}: {{\n    nixosConfigurations.\"{name}\" = nixpkgs.lib.nixosSystem {{\n      system = \"x86_64-linux\";\n      modules = [ {{ networking.hostName = \"h\u{1b}[31mx\u{7f}\"; }} ];\n    }};\n  }};\n}}\n"
    );
    write(dir.path(), "flake.nix", &flake);
    let out = run(
        dir.path(),
        &[
            "set-target",
            "aarch64-linux",
            "--mode",
            "emulate",
            "--dry-run",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let diff = stdout(&out);
    assert!(!diff.chars().any(is_unsafe), "{diff:?}");
    for shown in [
        "# reversed \\u{202e} csi \\u{9b}31m esc \\x1b[2J bell \\x07 isolate \\u{2066}",
        "nixosConfigurations.\"ev\\u{202e}il\\u{9b}\"",
        "networking.hostName = \"h\\x1b[31mx\\x7f\";",
    ] {
        assert!(diff.contains(shown), "{shown}: {diff}");
    }
    // JSON: escaped, and the same value read back.
    let out = run(dir.path(), &["show", "--json"]);
    let text = stdout(&out);
    assert!(!text.chars().any(is_unsafe), "{text:?}");
    assert!(text.contains(r#""name": "ev\u202eil\u009b""#), "{text}");
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(json["configurations"][0]["name"], name);
    // doctor --json: a binfmt entry and a nix.conf value from the root.
    let root = dir.path().join("root");
    write(
        &root,
        "etc/nix/nix.conf",
        "extra-platforms = aarch64-linux\u{202e} x\u{9b}\n",
    );
    write(
        &root,
        "proc/sys/fs/binfmt_misc/q\u{202e}",
        "enabled\ninterpreter /run/\u{9b}qemu\nflags: P\noffset 0\nmagic 7f454c46\n",
    );
    let root_arg = root.to_str().unwrap();
    for args in [
        &["doctor", "--root", root_arg, "--json"][..],
        &["doctor", "--root", root_arg],
    ] {
        let out = run(dir.path(), args);
        let text = stdout(&out);
        assert!(!text.chars().any(is_unsafe), "{args:?}: {text:?}");
    }
    // export: double-quoted and escaped (the spec's unit tests read such
    // YAML back).
    let out = run(dir.path(), &["export"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let yaml = stdout(&out);
    assert!(!yaml.chars().any(is_unsafe), "{yaml:?}");
    assert!(yaml.contains("\"ev\\u202Eil\\x9B\":"), "{yaml}");
    // An argument's line break, echoed in an error, stays on its line.
    let out = run(
        dir.path(),
        &["set-target", "riscv\n  hint: run this", "--mode", "cross"],
    );
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains("`riscv\\n  hint: run this`"), "{err}");
    assert!(
        !err.lines().any(|l| l.starts_with("  hint: run this")),
        "{err}"
    );
}

// 8. The spec stays in its folder: a path in nixcross.yaml that leads
// outside it (`flake: /etc/passwd`, `../../x`, a build host's module
// elsewhere, a symbolic link out) is refused naming the key, before anything
// is read, unless --allow-outside names it; a file that is not Nix is never
// parsed, so its contents are never quoted (apply used to parse
// /etc/passwd and quote it, and to write a build host module outside the
// project).
#[test]
fn spec_paths_stay_inside_the_spec_folder() {
    let top = tempfile::tempdir().unwrap();
    let project = top.path().join("project");
    write(
        &project,
        "flake.nix",
        &flake_with_system("\"x86_64-linux\""),
    );
    let other = "{ config, ... }:\n{\n  networking.hostName = \"builder\";\n}\n";
    write(top.path(), "other.nix", other);
    write(&project, "notes.txt", "SECRET-CONTENT\n");
    write(
        &top.path().join("elsewhere"),
        "flake.nix",
        &flake_with_system("\"x86_64-linux\""),
    );
    std::os::unix::fs::symlink(top.path(), project.join("up")).unwrap();
    let spec = |head: &str| {
        format!("{head}configurations:\n  a:\n    target: x86_64-linux\n    mode: emulate\n")
    };
    for (yaml, key) in [
        (
            spec("flake: /etc/passwd\n"),
            "`flake` names /etc/passwd, which is outside",
        ),
        (
            spec("flake: ../../x\n"),
            "`flake` names ../../x, which is outside",
        ),
        (
            spec("flake: up/elsewhere/flake.nix\n"),
            "`flake` names up/elsewhere/flake.nix, which is outside",
        ),
        (
            spec("buildHost:\n  file: ../other.nix\n  emulate: [ riscv64-linux ]\n"),
            "`buildHost.file` names ../other.nix, which is outside",
        ),
        (
            spec("buildHost:\n  file: up/other.nix\n  emulate: [ riscv64-linux ]\n"),
            "`buildHost.file` names up/other.nix, which is outside",
        ),
        (
            spec("flake: notes.txt\n"),
            "`flake` names notes.txt, which is not a .nix file",
        ),
    ] {
        write(&project, "nixcross.yaml", &yaml);
        let out = run(&project, &["apply"]);
        assert_eq!(out.status.code(), Some(2), "{yaml}: {}", stderr(&out));
        let err = stderr(&out);
        assert!(err.contains(key), "{yaml}: {err}");
        assert!(err.contains("nixcross.yaml:"), "{err}");
        assert!(!err.contains("root:") && !err.contains("SECRET"), "{err}");
    }
    assert_eq!(
        std::fs::read_to_string(top.path().join("other.nix")).unwrap(),
        other
    );
    // Named on the command line, the module elsewhere is edited.
    write(
        &project,
        "nixcross.yaml",
        &spec("buildHost:\n  file: ../other.nix\n  emulate: [ riscv64-linux ]\n"),
    );
    let allowed = top.path().join("other.nix");
    let out = run(
        &project,
        &["apply", "--allow-outside", allowed.to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(std::fs::read_to_string(&allowed)
        .unwrap()
        .contains("riscv64-linux"));
    // export does not write a spec that apply would refuse.
    let out = run(
        top.path(),
        &["export", "-f", "project", "-o", "project/sub/nixcross.yaml"],
    );
    std::fs::create_dir_all(project.join("sub")).unwrap();
    let out2 = run(
        top.path(),
        &["export", "-f", "project", "-o", "project/sub/nixcross.yaml"],
    );
    for o in [out, out2] {
        assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    }
    assert!(!project.join("sub/nixcross.yaml").exists());
}

// 9. Reads stay beneath their root while folders are swapped for links to
// elsewhere: `doctor --root` read an outside nix.conf, and `show` a module
// outside the flake, when a folder on the way became a symlink between the
// check and the open (only the last component was opened O_NOFOLLOW; flake
// reads not even that). Every read is now resolved beneath its root at once.
#[test]
fn folders_swapped_for_links_do_not_lead_reads_outside() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    let top = tempfile::tempdir().unwrap();
    let top = std::fs::canonicalize(top.path()).unwrap();
    let outside = top.join("outside");
    write(
        &outside,
        "etc/nix/nix.conf",
        "builders = ssh://OUTSIDE aarch64-linux\n",
    );
    write(
        &outside,
        "hosts/a.nix",
        "{ nixpkgs.hostPlatform = \"riscv64-linux\"; }\n",
    );
    // doctor's root, whose etc/ is swapped with a link to outside/etc.
    let root = top.join("root");
    write(
        &root,
        "etc/nix/nix.conf",
        "builders = ssh://inside aarch64-linux\n",
    );
    std::os::unix::fs::symlink(outside.join("etc"), root.join("etc-swap")).unwrap();
    // A flake whose hosts/ is swapped with a link to outside/hosts.
    let flake = top.join("flake");
    write(
        &flake,
        "flake.nix",
        "{\n  outputs = { self, nixpkgs }: {\n    nixosConfigurations.a = nixpkgs.lib.nixosSystem {\n      modules = [ ./hosts/a.nix ];\n    };\n  };\n}\n",
    );
    write(
        &flake,
        "hosts/a.nix",
        "{ nixpkgs.hostPlatform = \"aarch64-linux\"; }\n",
    );
    std::os::unix::fs::symlink(outside.join("hosts"), flake.join("hosts-swap")).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let swapper = {
        let (stop, root, flake) = (stop.clone(), root.clone(), flake.clone());
        std::thread::spawn(move || {
            let mut swaps = 0u64;
            while !stop.load(Ordering::SeqCst) && swaps < 2_000_000 {
                for (dir, a, b) in [(&root, "etc", "etc-swap"), (&flake, "hosts", "hosts-swap")] {
                    rustix::fs::renameat_with(
                        rustix::fs::CWD,
                        dir.join(a),
                        rustix::fs::CWD,
                        dir.join(b),
                        rustix::fs::RenameFlags::EXCHANGE,
                    )
                    .unwrap();
                }
                swaps += 1;
            }
        })
    };
    let root_arg = root.to_str().unwrap();
    let mut seen_inside = (0, 0);
    for _ in 0..40 {
        let out = run(&top, &["doctor", "--root", root_arg, "--json"]);
        let text = stdout(&out);
        assert!(
            !text.contains("OUTSIDE"),
            "doctor read outside its root: {text}"
        );
        seen_inside.0 += usize::from(text.contains("ssh://inside"));
        let out = run(&flake, &["show", "--json"]);
        let text = stdout(&out);
        assert!(
            !text.contains("riscv64-linux"),
            "show read outside the flake: {text}"
        );
        seen_inside.1 += usize::from(text.contains("aarch64-linux"));
    }
    stop.store(true, Ordering::SeqCst);
    swapper.join().unwrap();
    // Not only refusals: the files inside were read too.
    assert!(seen_inside.0 > 0 && seen_inside.1 > 0, "{seen_inside:?}");
}

// 10. Errors say what is wrong and where (each of these said something
// wrong, or nothing).
#[test]
fn errors_say_what_is_wrong_and_where() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // A machines file over the size limit: not "builders none".
    let root = d.join("root");
    let line = "ssh://b aarch64-linux\n";
    write(
        &root,
        "etc/nix/big",
        &line.repeat(4 * 1024 * 1024 / line.len() + 10),
    );
    write(&root, "etc/nix/small", line);
    let root_arg = root.to_str().unwrap();
    let out = run(
        d,
        &["doctor", "--root", root_arg, "--builders", "@/etc/nix/big"],
    );
    let text = stdout(&out);
    assert!(
        text.contains(
            "the builders file `@/etc/nix/big` is not read: it cannot be read: it is larger than"
        ) && text.contains("builders  none read: @/etc/nix/big not read"),
        "{text}"
    );
    // A relative one: not silently ignored.
    let out = run(
        d,
        &[
            "doctor",
            "--root",
            root_arg,
            "--builders",
            "@small",
            "--json",
        ],
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let problems = json["nix"]["problems"].to_string();
    assert!(
        problems.contains("`@small` is not read: it is a relative path"),
        "{problems}"
    );
    // An include chain deeper than nixcross follows: not cut without a word.
    let mut conf = String::from("include c1.conf\n");
    write(&root, "etc/nix/nix.conf", &conf);
    for n in 1..=20 {
        conf = format!("include c{}.conf\n", n + 1);
        write(&root, &format!("etc/nix/c{n}.conf"), &conf);
    }
    let out = run(d, &["doctor", "--root", root_arg]);
    assert!(
        stdout(&out).contains("includes nest more than 16 files deep"),
        "{}",
        stdout(&out)
    );
    // A symbolic link that leads to itself: not "no such file".
    std::os::unix::fs::symlink("loop-b.nix", d.join("loop-a.nix")).unwrap();
    std::os::unix::fs::symlink("loop-a.nix", d.join("loop-b.nix")).unwrap();
    let out = run(d, &["emulate", "aarch64-linux", "-f", "loop-a.nix"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("loop-a.nix: it is a symbolic link that leads back to itself"),
        "{}",
        stderr(&out)
    );
    // An edit that pushes a file over the size limit: not a parse error
    // "that is a bug".
    let flake = flake_with_system("\"x86_64-linux\"");
    let pad = 4 * 1024 * 1024 - flake.len() - 16;
    let comment: String = "# padding padding padding padding padding padding padding\n"
        .repeat(pad / 58 + 1)[..pad - 1]
        .to_string();
    let big = d.join("big");
    write(&big, "flake.nix", &format!("{comment}\n{flake}"));
    let out = run(
        &big,
        &[
            "set-target",
            "riscv64-linux",
            "--mode",
            "cross",
            "--host",
            "x86_64-linux",
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains("flake.nix:")
            && err.contains("the edit would make the file")
            && err.contains("more than the 4194304 (4 MiB) nixcross reads"),
        "{err}"
    );
    assert!(
        !err.contains("bug") && !err.contains("not be valid Nix"),
        "{err}"
    );
    // `{ } // { } // ...`: updates, not arguments.
    let updates = d.join("updates");
    write(
        &updates,
        "flake.nix",
        &format!(
            "{{\n  outputs = {{ self, nixpkgs }}: {{ }}{} // {{\n    nixosConfigurations.a = nixpkgs.lib.nixosSystem {{\n      system = \"x86_64-linux\";\n      modules = [ ];\n    }};\n  }};\n}}\n",
            " // { }".repeat(100)
        ),
    );
    let out = run(&updates, &["show"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stdout(&out).contains("x86_64-linux"), "{}", stdout(&out));
    // -f on a link to a module elsewhere: followed, as README says; the
    // link stays, and the module's imports are read beside the link.
    let etc = d.join("etc-nixos");
    let repo = d.join("repo");
    write(
        &repo,
        "configuration.nix",
        "{ config, ... }:\n{\n  imports = [ ./hardware.nix ];\n}\n",
    );
    write(
        &etc,
        "hardware.nix",
        "{ nixpkgs.hostPlatform = \"x86_64-linux\"; }\n",
    );
    std::os::unix::fs::symlink(
        repo.join("configuration.nix"),
        etc.join("configuration.nix"),
    )
    .unwrap();
    let out = run(
        &etc,
        &["emulate", "aarch64-linux", "-f", "configuration.nix"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(std::fs::symlink_metadata(etc.join("configuration.nix"))
        .unwrap()
        .file_type()
        .is_symlink());
    assert!(std::fs::read_to_string(repo.join("configuration.nix"))
        .unwrap()
        .contains("aarch64-linux"));
    // Its own system, from the import beside the link, is refused.
    let out = run(
        &etc,
        &["emulate", "x86_64-linux", "-f", "configuration.nix"],
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
}
