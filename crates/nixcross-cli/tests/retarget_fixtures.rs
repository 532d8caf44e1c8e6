//! Golden cases for `set-target --package/--shell`, in
//! `crates/nixcross-cli/tests/retarget/<case>/` (the fixture format of
//! `fixtures.rs`: `args`, `input.nix`, `expected.nix` or `expected.err`,
//! optional `expected.stderr`). They are not under `fixtures/set-target`
//! because `fixtures.rs` checks every set-target case against the NixOS
//! `configurations` that `show` reports, and these retarget packages and
//! shells instead.
//!
//! For every successful case, besides the exact text: the result parses
//! with Nix; a second run changes nothing and says `already up to date`;
//! `--check` and `--dry-run` write nothing; `show --json` reports the
//! output on the requested platforms; and the result, evaluated with a
//! recording stand-in for nixpkgs (`support`), builds the output on the
//! build machine for exactly the target, keeps a shell's tools on the build
//! machine, and leaves every other output as the input had it.

#[path = "../../nixcross/tests/support/mod.rs"]
mod support;

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use nixcross::platform;
use serde_json::Value;

fn split_args(line: &str) -> Vec<String> {
    line.split_whitespace().map(String::from).collect()
}

fn cases() -> Vec<PathBuf> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/retarget");
    let mut out: Vec<PathBuf> = std::fs::read_dir(&root)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.join("args").is_file())
        .collect();
    out.sort();
    out
}

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

fn run(args: &[String]) -> Run {
    let out = Command::cargo_bin("nixcross")
        .unwrap()
        .env("NO_COLOR", "1")
        .args(args)
        .output()
        .unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn flag<'a>(args: &'a [String], name: &str) -> Option<&'a str> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .map(String::as_str)
}

/// What a successful case asked for.
struct Asked {
    /// `packages` or `devShells`.
    key: &'static str,
    /// The output's name, and the system it was qualified with.
    name: String,
    system: Option<String>,
    target: platform::Target,
    cross: bool,
}

fn asked(args: &[String]) -> Asked {
    let (key, full) = match (flag(args, "--package"), flag(args, "--shell")) {
        (Some(p), _) => ("packages", p.to_string()),
        (None, Some(s)) => ("devShells", s.to_string()),
        _ => panic!("neither --package nor --shell: {args:?}"),
    };
    let (system, name) = match full.split_once('.') {
        Some((s, n)) if platform::catalogue().system(s).is_some() => {
            (Some(s.to_string()), n.to_string())
        }
        _ => (None, full),
    };
    Asked {
        key,
        name,
        system,
        target: platform::resolve(&args[1]).unwrap(),
        cross: flag(args, "--mode") != Some("emulate"),
    }
}

/// Check the evaluated output: where it sits, its platforms, a shell's
/// libraries and tools.
fn check_meaning(a: &Asked, before: &Value, after: &Value) -> Result<(), String> {
    let outs = after[a.key].as_object().unwrap();
    let mut found = 0;
    for (system, names) in outs {
        if a.system.as_ref().is_some_and(|s| s != system) {
            continue;
        }
        let Some(o) = names.get(&a.name) else {
            continue;
        };
        found += 1;
        let p = &o["platforms"];
        let host = support::recorded(&p["host"]);
        support::means(&host, &a.target).map_err(|e| format!("{system}: host platform: {e}"))?;
        if p["cross"] != a.cross {
            return Err(format!(
                "{system}: cross is {}, asked {}",
                p["cross"], a.cross
            ));
        }
        let build = support::recorded(&p["build"]);
        if a.cross {
            let sys = platform::resolve(system).unwrap();
            support::means(&build, &sys).map_err(|e| format!("{system}: build platform: {e}"))?;
        } else if system != &a.target.system {
            return Err(format!("an emulated {} sits under {system}", a.name));
        }
        if o["_type"] == "shell" {
            for lib in o["buildInputs"].as_array().unwrap() {
                if lib["platforms"] != o["platforms"] {
                    return Err(format!("{system}: a library is not for the target: {lib}"));
                }
            }
            for tool in o["packages"]
                .as_array()
                .unwrap()
                .iter()
                .chain(o["nativeBuildInputs"].as_array().unwrap())
            {
                if tool["platforms"]["cross"] != false || tool["platforms"]["build"] != p["build"] {
                    return Err(format!(
                        "{system}: a tool does not run on the build machine: {tool}"
                    ));
                }
            }
        }
    }
    if found == 0 {
        return Err(format!(
            "no {}.<system>.{} after the edit: {after}",
            a.key, a.name
        ));
    }
    // Every other output is what it was.
    for key in ["packages", "devShells"] {
        for (system, names) in before[key].as_object().unwrap() {
            for (name, o) in names.as_object().unwrap() {
                let ours = key == a.key
                    && name == &a.name
                    && a.system.as_ref().is_none_or(|s| s == system);
                if !ours && after[key][system][name] != *o {
                    return Err(format!(
                        "{key}.{system}.{name} changed: {o} -> {}",
                        after[key][system][name]
                    ));
                }
            }
        }
    }
    Ok(())
}

/// `show --json` reports the output on the requested platforms.
fn check_show(a: &Asked, file: &Path) -> Result<(), String> {
    let out = Command::cargo_bin("nixcross")
        .unwrap()
        .args(["show", "--json", "--host", "x86_64-linux", "-f"])
        .arg(file)
        .output()
        .unwrap();
    let json: Value =
        serde_json::from_slice(&out.stdout).map_err(|e| format!("show --json: {e}"))?;
    let rows: Vec<&Value> = json[a.key]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| {
            r["name"] == a.name.as_str()
                && a.system.as_ref().is_none_or(|s| r["system"] == s.as_str())
        })
        .collect();
    if rows.is_empty() {
        return Err(format!("show does not list {}: {json}", a.name));
    }
    for r in rows {
        if r["host"] != a.target.system.as_str() || r["editable"] != true {
            return Err(format!("show reports {r}"));
        }
        if !a.cross && r["build"] != a.target.system.as_str() {
            return Err(format!("show reports {r} for an emulated build"));
        }
    }
    Ok(())
}

struct Done {
    asked: Asked,
    input: String,
    output: String,
}

fn check_case(case: &Path) -> Result<Option<Done>, String> {
    let name = case.file_name().unwrap().to_string_lossy().to_string();
    let mut args = split_args(&std::fs::read_to_string(case.join("args")).unwrap());
    let input = std::fs::read_to_string(case.join("input.nix")).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("flake.nix");
    std::fs::write(&file, &input).unwrap();
    args.push("-f".into());
    args.push(file.display().to_string());
    let fail = |what: &str, r: &Run| {
        format!(
            "{name}: {what}\nargs: {args:?}\nexit: {}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            r.code, r.stdout, r.stderr
        )
    };
    let r = run(&args);
    let now = std::fs::read_to_string(&file).unwrap();
    if let Ok(err) = std::fs::read_to_string(case.join("expected.err")) {
        if r.code != 2 {
            return Err(fail("expected exit code 2", &r));
        }
        for want in err.lines().filter(|l| !l.trim().is_empty()) {
            if !r.stderr.contains(want) {
                return Err(fail(&format!("stderr lacks `{want}`"), &r));
            }
        }
        if now != input {
            return Err(fail("a refused edit changed the file", &r));
        }
        return Ok(None);
    }
    let expected = std::fs::read_to_string(case.join("expected.nix"))
        .map_err(|e| format!("{name}: no expected.nix or expected.err: {e}"))?;
    if r.code != 0 {
        return Err(fail("expected exit code 0", &r));
    }
    if let Ok(want) = std::fs::read_to_string(case.join("expected.stderr")) {
        for w in want.lines().filter(|l| !l.trim().is_empty()) {
            if !r.stderr.contains(w) {
                return Err(fail(&format!("stderr lacks `{w}`"), &r));
            }
        }
    }
    if now != expected {
        let diff = similar::TextDiff::from_lines(&expected, &now)
            .unified_diff()
            .header("expected.nix", "actual")
            .to_string();
        return Err(format!(
            "{name}: output differs from expected.nix\n{diff}\n{}",
            r.stderr
        ));
    }
    nixcross_testkit::assert_nix_parses("retarget_fixtures", &name, &now);
    let again = run(&args);
    if again.code != 0
        || std::fs::read_to_string(&file).unwrap() != now
        || !again.stderr.contains("already up to date")
    {
        return Err(fail(
            "a second run is not a no-op that says `already up to date`",
            &again,
        ));
    }
    let mut check = args.clone();
    check.push("--check".into());
    if run(&check).code != 0 {
        return Err(format!("{name}: --check after the edit does not exit 0"));
    }
    std::fs::write(&file, &input).unwrap();
    let c = run(&check);
    if c.code != i32::from(now != input) {
        return Err(fail("--check on the input has the wrong exit code", &c));
    }
    let mut dry = args.clone();
    dry.push("--dry-run".into());
    let d = run(&dry);
    if d.code != 0 || !d.stdout.contains("@@") || std::fs::read_to_string(&file).unwrap() != input {
        return Err(fail("--dry-run does not print a diff, or writes", &d));
    }
    std::fs::write(&file, &now).unwrap();
    let a = asked(&args);
    check_show(&a, &file).map_err(|e| format!("{name}: {e}"))?;
    Ok(Some(Done {
        asked: a,
        input,
        output: now,
    }))
}

#[test]
fn retarget_golden_cases() {
    let cases = cases();
    assert!(cases.len() >= 30, "only {} cases", cases.len());
    let mut failures = Vec::new();
    let mut done = Vec::new();
    for case in &cases {
        match check_case(case) {
            Ok(Some(d)) => done.push((case.clone(), d)),
            Ok(None) => {}
            Err(e) => failures.push(e),
        }
    }
    if let Some(nix) = nixcross_testkit::nix("retarget_golden_cases") {
        let texts: Vec<String> = done
            .iter()
            .flat_map(|(_, d)| [d.input.clone(), d.output.clone()])
            .collect();
        let packages: Vec<Vec<String>> =
            ["hello", "jq", "zlib", "openssl", "cargo", "rustc", "cmake"]
                .iter()
                .map(|p| vec![p.to_string()])
                .collect();
        let s = support::stand_ins(&packages);
        let files = support::write_flakes(s.path(), &texts);
        let results = support::eval(&nix, &s, &files);
        for (i, (case, d)) in done.iter().enumerate() {
            if let Err(e) = check_meaning(&d.asked, &results[2 * i], &results[2 * i + 1]) {
                failures.push(format!("{}: {e}\n{}", case.display(), d.output));
            }
        }
    }
    eprintln!(
        "{} retarget cases ({} edits evaluated), {} failed",
        cases.len(),
        done.len(),
        failures.len()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n\n=====\n\n"));
}
