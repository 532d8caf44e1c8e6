//! The golden-fixture harness: every folder `fixtures/<op>/<case>/` is one case.
//!
//! - `args`: the arguments after `nixcross`, split on whitespace (`'...'`
//!   quotes a word). When `input.nix` exists, the harness copies it into a
//!   temporary folder as `flake.nix` (or `configuration.nix` when the case's
//!   `args` mention `configuration.nix`) and appends `-f <that file>`.
//! - `input.nix` (optional): the file to edit.
//! - `expected.nix`: the edited file, or the stdout of a command without input.
//! - `expected.err`: instead of `expected.nix`: exit code 2, stderr contains
//!   every line of this file, and the input is left byte for byte as it was.
//! - `expected.stderr` (optional): lines that stderr must contain on success.
//!
//! For every successful case the harness also asserts that the output parses
//! with real Nix, that a second run changes nothing and says so, that
//! `--check` then exits 0, and that `--check` and `--dry-run` on the input
//! write nothing.

use std::path::{Path, PathBuf};

use assert_cmd::Command;

fn split_args(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut any = false;
    for c in line.trim().chars() {
        match c {
            '\'' => {
                quoted = !quoted;
                any = true;
            }
            c if c.is_whitespace() && !quoted => {
                if any {
                    out.push(std::mem::take(&mut cur));
                    any = false;
                }
            }
            c => {
                cur.push(c);
                any = true;
            }
        }
    }
    if any {
        out.push(cur);
    }
    out
}

fn cases() -> Vec<PathBuf> {
    let root = nixcross_testkit::repo_root().join("fixtures");
    let mut out = Vec::new();
    let Ok(ops) = std::fs::read_dir(&root) else {
        return out;
    };
    for op in ops.flatten() {
        if !op.path().is_dir() {
            continue;
        }
        for case in std::fs::read_dir(op.path()).unwrap().flatten() {
            if case.path().join("args").is_file() {
                out.push(case.path());
            }
        }
    }
    out.sort();
    out
}

fn nixcross() -> Command {
    let mut cmd = Command::cargo_bin("nixcross").unwrap();
    cmd.env("NO_COLOR", "1");
    cmd
}

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

fn run(args: &[String]) -> Run {
    let out = nixcross().args(args).output().unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn check_case(case: &Path) -> Result<(), String> {
    let name = case
        .strip_prefix(nixcross_testkit::repo_root())
        .unwrap_or(case)
        .display()
        .to_string();
    let line = std::fs::read_to_string(case.join("args")).map_err(|e| e.to_string())?;
    let mut args = split_args(&line);
    let tmp = tempfile::tempdir().map_err(|e| e.to_string())?;
    let input_path = case.join("input.nix");
    let input = std::fs::read_to_string(&input_path).ok();
    let file = if line.contains("configuration.nix") {
        tmp.path().join("configuration.nix")
    } else {
        tmp.path().join("flake.nix")
    };
    args.retain(|a| a != "configuration.nix");
    if let Some(input) = &input {
        std::fs::write(&file, input).map_err(|e| e.to_string())?;
        args.push("-f".into());
        args.push(file.display().to_string());
    }
    let r = run(&args);
    let fail = |what: &str, r: &Run| {
        format!(
            "{name}: {what}\nargs: {args:?}\nexit: {}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            r.code, r.stdout, r.stderr
        )
    };
    if let Ok(expected_err) = std::fs::read_to_string(case.join("expected.err")) {
        if r.code != 2 {
            return Err(fail("expected exit code 2", &r));
        }
        for want in expected_err.lines().filter(|l| !l.trim().is_empty()) {
            if !r.stderr.contains(want) {
                return Err(fail(&format!("stderr lacks `{want}`"), &r));
            }
        }
        if let Some(input) = &input {
            let now = std::fs::read_to_string(&file).map_err(|e| e.to_string())?;
            if &now != input {
                return Err(fail("a refused edit changed the file", &r));
            }
        }
        return Ok(());
    }
    let expected = std::fs::read_to_string(case.join("expected.nix"))
        .map_err(|e| format!("{name}: no expected.nix or expected.err: {e}"))?;
    if r.code != 0 {
        return Err(fail("expected exit code 0", &r));
    }
    if let Ok(want_stderr) = std::fs::read_to_string(case.join("expected.stderr")) {
        for want in want_stderr.lines().filter(|l| !l.trim().is_empty()) {
            if !r.stderr.contains(want) {
                return Err(fail(&format!("stderr lacks `{want}`"), &r));
            }
        }
    }
    let actual = if input.is_some() {
        std::fs::read_to_string(&file).map_err(|e| e.to_string())?
    } else {
        r.stdout.clone()
    };
    if actual != expected {
        let diff = similar::TextDiff::from_lines(&expected, &actual)
            .unified_diff()
            .header("expected.nix", "actual")
            .to_string();
        return Err(format!(
            "{name}: output differs from expected.nix\n{diff}\n--- stderr ---\n{}",
            r.stderr
        ));
    }
    nixcross_testkit::assert_nix_parses("fixtures", &name, &actual);
    let Some(input) = &input else {
        return Ok(());
    };
    if args.first().map(String::as_str) == Some("set-target") {
        check_show_reports_target(&name, &args, &file)?;
    }
    // Idempotence: the same command again changes nothing and says so.
    let again = run(&args);
    let after_again = std::fs::read_to_string(&file).map_err(|e| e.to_string())?;
    if again.code != 0 || after_again != actual {
        return Err(fail("second run is not a no-op", &again));
    }
    if !again.stderr.contains("already up to date") {
        return Err(fail("second run does not say `already up to date`", &again));
    }
    let mut check = args.clone();
    check.push("--check".into());
    let c = run(&check);
    if c.code != 0 {
        return Err(fail("--check after the edit does not exit 0", &c));
    }
    // --check and --dry-run on the original input write nothing.
    std::fs::write(&file, input).map_err(|e| e.to_string())?;
    let c = run(&check);
    let changed = &actual != input;
    if c.code != if changed { 1 } else { 0 } {
        return Err(fail("--check on the input has the wrong exit code", &c));
    }
    let mut dry = args.clone();
    dry.push("--dry-run".into());
    let d = run(&dry);
    if d.code != 0 || (changed && !d.stdout.contains("@@")) {
        return Err(fail("--dry-run does not print a diff", &d));
    }
    let now = std::fs::read_to_string(&file).map_err(|e| e.to_string())?;
    if &now != input {
        return Err(format!("{name}: --check or --dry-run wrote the file"));
    }
    Ok(())
}

fn flag<'a>(args: &'a [String], name: &str) -> Option<&'a str> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .map(String::as_str)
}

/// After `set-target T --mode M`, `show --json` reports host T and mode M.
fn check_show_reports_target(name: &str, args: &[String], file: &Path) -> Result<(), String> {
    let target = nixcross::platform::resolve(&args[1])
        .map_err(|e| format!("{name}: {e}"))?
        .system;
    let mode = flag(args, "--mode").unwrap_or_default();
    let out = nixcross()
        .args(["show", "--json", "--host", "x86_64-linux", "-f"])
        .arg(file)
        .output()
        .unwrap();
    let json: serde_json::Value = serde_json::from_slice(&out.stdout)
        .map_err(|e| format!("{name}: show --json is not JSON: {e}"))?;
    let configs = json["configurations"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let config = match flag(args, "--config") {
        Some(c) => configs.iter().find(|x| x["name"] == c).cloned(),
        None => configs.first().cloned(),
    }
    .ok_or_else(|| format!("{name}: show does not list the configuration"))?;
    let host = config["host"].as_str().unwrap_or_default();
    let build = config["build"].as_str().unwrap_or_default();
    let ok = host == target
        && match mode {
            "cross" => config["mode"] == "cross" && build != target,
            _ => build == target && config["mode"] != "cross",
        };
    if !ok {
        return Err(format!(
            "{name}: after set-target {target} --mode {mode}, show reports {config}"
        ));
    }
    Ok(())
}

#[test]
fn golden_fixtures() {
    let cases = cases();
    let mut failures = Vec::new();
    for case in &cases {
        if let Err(e) = check_case(case) {
            failures.push(e);
        }
    }
    eprintln!("{} fixture cases, {} failed", cases.len(), failures.len());
    if !failures.is_empty() {
        panic!("{}", failures.join("\n\n=====\n\n"));
    }
}

#[test]
fn args_split_like_a_shell() {
    assert_eq!(split_args("a  'b c' d\n"), vec!["a", "b c", "d"]);
    assert_eq!(split_args("x ''"), vec!["x", ""]);
}
