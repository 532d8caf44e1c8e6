//! The golden-fixture harness. Every folder `fixtures/<op>/<case>/` is one
//! test, named `<op>/<case>` (`cargo test -p nixcross-cli --test fixtures --
//! set-target/tabs`). The harness fails when `fixtures/` cannot be read, when
//! it holds no case, and when a case folder has no `args`.
//!
//! A case folder holds:
//!
//! - `args`: the arguments after `nixcross`, split on whitespace (`'...'`
//!   quotes a word). nixcross runs in a fresh temporary work folder.
//! - at most one input:
//!   - `input.nix` (single-file case): copied into the work folder as
//!     `flake.nix` (as `configuration.nix` when `args` mentions
//!     `configuration.nix`; that word is then dropped), and `-f <that file>`
//!     is appended to the arguments;
//!   - `input/` (repository case): a directory tree (`input/flake.nix`,
//!     `input/hosts/a/default.nix`, ...) copied into the work folder; nothing
//!     is appended, so `args` says `-f flake.nix`, `-f hosts/x.nix`, or
//!     nothing;
//!   - neither: the work folder starts empty.
//! - what must come out:
//!   - `expected.err` (a refusal): exit code 2, stderr contains every line of
//!     this file, and the work folder is byte for byte as it was;
//!   - otherwise exit code 0, and any of:
//!     - `expected.nix`: the edited file (with `input.nix`), or stdout (with
//!       no input); stdout is then also parsed by Nix;
//!     - `expected/`: the whole work folder afterwards (with `input/` or no
//!       input): every file is compared, and a missing, extra or different
//!       file fails with a diff;
//!     - `expected.stdout`: stdout, exactly. Paths inside the work folder are
//!       printed relative to it (its absolute prefix is removed);
//!   - `expected.stderr` (optional, with either): lines stderr must contain.
//!
//! Without `expected.nix` or `expected/`, the command must leave the work
//! folder as it was (a read-only command such as `show --json`, which then
//! needs `expected.stdout`).
//!
//! An edit case (an input, and `expected.nix` or `expected/`) is also run
//! through the contract of the editing commands: every `.nix` file the run
//! created or changed parses with real Nix (one `nix-instantiate` for all of
//! them); a second run changes nothing and says `already up to date`;
//! `--check` then exits 0; and on the original input `--check` exits 1 (0
//! when the edit changes nothing), `--dry-run` prints a diff, `--check
//! --dry-run` does both, and none of them writes anything. After `set-target`,
//! `show --json` must report the new target.
//!
//! A case may also hold `undo`: the arguments of the inverse command
//! (`add-overlay gcc --remove --scoped`, `emulate aarch64-linux --remove
//! ...`), split like `args` and with the same `-f` appended. The harness
//! runs it on the edited folder, and the folder must come back to the input
//! byte for byte (the round trip), parsing with Nix on the way.
//!
//! `NIXCROSS_BLESS=1` rewrites `expected.nix`, `expected/` and
//! `expected.stdout` from the actual run, and prints what it blessed. For a
//! new case with no expectation yet it writes what the run wrote
//! (`expected.nix` for `input.nix`, `expected/` otherwise), else what it
//! printed (`expected.stdout`; `expected.nix` when there is no input). It
//! never touches `expected.err`: a refusal case that fails still fails, and
//! its file is edited by hand.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use assert_cmd::Command;
use libtest_mimic::{Arguments, Trial};

fn main() -> ExitCode {
    let arguments = Arguments::from_args();
    let bless = bless_from_env();
    let mut trials = self_tests();
    match case_folders(&nixcross_testkit::repo_root().join("fixtures")) {
        Ok(cases) => trials.extend(cases.into_iter().map(|(name, dir)| {
            Trial::test(name.clone(), move || {
                check_case(&name, &dir, bless).map_err(Into::into)
            })
        })),
        Err(e) => {
            eprintln!("fixtures: {e}");
            return ExitCode::FAILURE;
        }
    }
    libtest_mimic::run(&arguments, trials).exit_code()
}

/// Every `<op>/<case>` folder under `root`, as (`<op>/<case>`, path). An
/// error when `root` cannot be read, holds a file, or holds no case.
fn case_folders(root: &Path) -> Result<Vec<(String, PathBuf)>, String> {
    let read = |dir: &Path| -> Result<Vec<PathBuf>, String> {
        let mut out = Vec::new();
        for entry in std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))? {
            let path = entry.map_err(|e| format!("{}: {e}", dir.display()))?.path();
            if !path.is_dir() {
                return Err(format!(
                    "{}: only case folders belong here, not files",
                    path.display()
                ));
            }
            out.push(path);
        }
        out.sort();
        Ok(out)
    };
    let mut cases = Vec::new();
    for op in read(root)? {
        for case in read(&op)? {
            let name = format!("{}/{}", file_name(&op), file_name(&case));
            cases.push((name, case));
        }
    }
    if cases.is_empty() {
        return Err(format!("{}: no fixture cases", root.display()));
    }
    Ok(cases)
}

fn file_name(p: &Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

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

/// `NIXCROSS_BLESS=1`: rewrite expectations from the actual run.
fn bless_from_env() -> bool {
    std::env::var("NIXCROSS_BLESS").as_deref() == Ok("1")
}

/// Files under a folder: path relative to it → bytes.
type Tree = BTreeMap<PathBuf, Vec<u8>>;

fn read_tree(root: &Path) -> Result<Tree, String> {
    fn walk(root: &Path, dir: &Path, out: &mut Tree) -> Result<(), String> {
        let entries = std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        for entry in entries {
            let path = entry.map_err(|e| format!("{}: {e}", dir.display()))?.path();
            if path.is_dir() {
                walk(root, &path, out)?;
            } else {
                let bytes = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
                let rel = path.strip_prefix(root).expect("walked from root");
                out.insert(rel.to_path_buf(), bytes);
            }
        }
        Ok(())
    }
    let mut out = Tree::new();
    walk(root, root, &mut out)?;
    Ok(out)
}

fn write_tree(root: &Path, tree: &Tree) -> Result<(), String> {
    for (rel, bytes) in tree {
        let path = root.join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| format!("{}: {e}", parent.display()))?;
        }
        std::fs::write(&path, bytes).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    Ok(())
}

/// What differs between two trees: missing, extra and changed files, the
/// changed ones as unified diffs. `None` when they are the same.
fn tree_diff(expected: &Tree, actual: &Tree) -> Option<String> {
    let paths: BTreeSet<&PathBuf> = expected.keys().chain(actual.keys()).collect();
    let mut out = String::new();
    for p in paths {
        let shown = p.display();
        match (expected.get(p), actual.get(p)) {
            (Some(_), None) => out.push_str(&format!("missing: {shown}\n")),
            (None, Some(_)) => out.push_str(&format!("extra: {shown}\n")),
            (Some(e), Some(a)) if e != a => out.push_str(&text_diff(
                &String::from_utf8_lossy(e),
                &String::from_utf8_lossy(a),
                &format!("expected/{shown}"),
                &format!("actual/{shown}"),
            )),
            _ => {}
        }
    }
    (!out.is_empty()).then_some(out)
}

fn text_diff(expected: &str, actual: &str, old: &str, new: &str) -> String {
    similar::TextDiff::from_lines(expected, actual)
        .unified_diff()
        .header(old, new)
        .to_string()
}

/// The input a case starts from.
enum Input {
    /// The work folder starts empty.
    Empty,
    /// `input.nix`, copied to the work folder as `name` and passed with `-f`.
    File { name: &'static str, text: String },
    /// `input/`, copied whole.
    Tree(Tree),
}

impl Input {
    fn read(case: &Path, args_line: &str) -> Result<Input, String> {
        let file = case.join("input.nix");
        let tree = case.join("input");
        match (file.is_file(), tree.is_dir()) {
            (true, true) => Err("has both input.nix and input/".into()),
            (true, false) => Ok(Input::File {
                name: if args_line.contains("configuration.nix") {
                    "configuration.nix"
                } else {
                    "flake.nix"
                },
                text: std::fs::read_to_string(&file).map_err(|e| e.to_string())?,
            }),
            (false, true) => Ok(Input::Tree(read_tree(&tree)?)),
            (false, false) => Ok(Input::Empty),
        }
    }

    fn tree(&self) -> Tree {
        match self {
            Input::Empty => Tree::new(),
            Input::File { name, text } => Tree::from([(PathBuf::from(name), text.clone().into())]),
            Input::Tree(t) => t.clone(),
        }
    }
}

/// The temporary work folder nixcross runs in.
struct Work {
    _tmp: tempfile::TempDir,
    dir: PathBuf,
}

impl Work {
    fn new(input: &Input) -> Result<Work, String> {
        let tmp = tempfile::tempdir().map_err(|e| e.to_string())?;
        let dir = tmp.path().join("work");
        let work = Work { _tmp: tmp, dir };
        work.reset(input)?;
        Ok(work)
    }

    /// Empty the folder and lay the input out again.
    fn reset(&self, input: &Input) -> Result<(), String> {
        self.lay_out(&input.tree())
    }

    /// Empty the folder and lay `tree` out.
    fn lay_out(&self, tree: &Tree) -> Result<(), String> {
        if self.dir.exists() {
            std::fs::remove_dir_all(&self.dir).map_err(|e| e.to_string())?;
        }
        std::fs::create_dir_all(&self.dir).map_err(|e| e.to_string())?;
        write_tree(&self.dir, tree)
    }

    fn snapshot(&self) -> Result<Tree, String> {
        read_tree(&self.dir)
    }
}

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

/// Run nixcross in `work` with `args`. Paths inside the work folder are
/// shown relative to it.
fn run(work: &Work, args: &[String]) -> Run {
    let out = Command::cargo_bin("nixcross")
        .unwrap()
        .env("NO_COLOR", "1")
        .current_dir(&work.dir)
        .args(args)
        .output()
        .unwrap();
    let prefix = format!("{}/", work.dir.display());
    let text = |b: &[u8]| String::from_utf8_lossy(b).replace(&prefix, "");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: text(&out.stdout),
        stderr: text(&out.stderr),
    }
}

fn with(args: &[String], extra: &[&str]) -> Vec<String> {
    let mut v = args.to_vec();
    v.extend(extra.iter().map(|s| s.to_string()));
    v
}

fn read_opt(path: &Path) -> Result<Option<String>, String> {
    match std::fs::read_to_string(path) {
        Ok(s) => Ok(Some(s)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(format!("{}: {e}", path.display())),
    }
}

/// Compare `actual` with the file `path`, or rewrite it under
/// `NIXCROSS_BLESS=1`. `what` names the compared output in a failure.
fn expect_text(
    case: &Path,
    bless: bool,
    file: &str,
    what: &str,
    actual: &str,
) -> Result<(), String> {
    let path = case.join(file);
    let expected = read_opt(&path)?;
    if expected.as_deref() == Some(actual) {
        return Ok(());
    }
    if bless {
        std::fs::write(&path, actual).map_err(|e| format!("{}: {e}", path.display()))?;
        eprintln!("blessed {}", path.display());
        return Ok(());
    }
    let expected = expected.unwrap_or_default();
    Err(format!(
        "{what} differs from {file} (NIXCROSS_BLESS=1 rewrites it)\n{}",
        text_diff(&expected, actual, file, "actual")
    ))
}

/// Compare the work folder with `expected/`, or rewrite it under
/// `NIXCROSS_BLESS=1`.
fn expect_tree(case: &Path, bless: bool, actual: &Tree) -> Result<(), String> {
    let path = case.join("expected");
    let expected = if path.is_dir() {
        read_tree(&path)?
    } else {
        Tree::new()
    };
    let Some(diff) = tree_diff(&expected, actual) else {
        return Ok(());
    };
    if bless {
        if path.exists() {
            std::fs::remove_dir_all(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        }
        std::fs::create_dir_all(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        write_tree(&path, actual)?;
        eprintln!("blessed {}/\n{diff}", path.display());
        return Ok(());
    }
    Err(format!(
        "the files differ from expected/ (NIXCROSS_BLESS=1 rewrites it)\n{diff}"
    ))
}

fn stderr_has_lines(wanted: &str, r: &Run) -> Result<(), String> {
    for want in wanted.lines().filter(|l| !l.trim().is_empty()) {
        if !r.stderr.contains(want) {
            return Err(format!("stderr lacks `{want}`"));
        }
    }
    Ok(())
}

/// The files a run created or changed that end in `.nix`, in the work folder.
fn changed_nix_files(work: &Work, before: &Tree, after: &Tree) -> Vec<PathBuf> {
    after
        .iter()
        .filter(|(p, bytes)| {
            p.extension().is_some_and(|e| e == "nix") && before.get(*p) != Some(bytes)
        })
        .map(|(p, _)| work.dir.join(p))
        .collect()
}

fn nix_parses(files: &[PathBuf]) -> Result<(), String> {
    if files.is_empty() {
        return Ok(());
    }
    match nixcross_testkit::nix("fixtures") {
        Some(nix) => nix
            .parse_files(files)
            .map(|_| ())
            .map_err(|e| format!("nix-instantiate --parse fails:\n{e}")),
        None => Ok(()),
    }
}

fn check_case(name: &str, case: &Path, bless: bool) -> Result<(), String> {
    check_case_inner(case, bless).map_err(|e| format!("fixtures/{name}: {e}"))
}

fn check_case_inner(case: &Path, bless: bool) -> Result<(), String> {
    let line = read_opt(&case.join("args"))?
        .ok_or("no `args` file: every case folder needs one (see the top of fixtures.rs)")?;
    let input = Input::read(case, &line)?;
    let mut args = split_args(&line);
    let work = Work::new(&input)?;
    if let Input::File { name, .. } = &input {
        args.retain(|a| a != "configuration.nix");
        args.push("-f".into());
        args.push(work.dir.join(name).display().to_string());
    }
    let before = work.snapshot()?;
    let r = run(&work, &args);
    let context = |r: &Run| {
        format!(
            "\nargs: {args:?}\nexit: {}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            r.code, r.stdout, r.stderr
        )
    };

    if let Some(expected_err) = read_opt(&case.join("expected.err"))? {
        let refused = (|| {
            if r.code != 2 {
                return Err("expected exit code 2".to_string());
            }
            stderr_has_lines(&expected_err, &r)?;
            if let Some(diff) = tree_diff(&before, &work.snapshot()?) {
                return Err(format!("a refused command changed the files:\n{diff}"));
            }
            Ok(())
        })();
        return refused.map_err(|e| {
            let note = if bless {
                "\n(NIXCROSS_BLESS never rewrites expected.err: edit it by hand)"
            } else {
                ""
            };
            format!("{e}{note}{}", context(&r))
        });
    }

    if r.code != 0 {
        return Err(format!("expected exit code 0{}", context(&r)));
    }
    if let Some(wanted) = read_opt(&case.join("expected.stderr"))? {
        stderr_has_lines(&wanted, &r).map_err(|e| format!("{e}{}", context(&r)))?;
    }
    let after = work.snapshot()?;
    let mut has_stdout = case.join("expected.stdout").is_file();
    let mut has_nix = case.join("expected.nix").is_file();
    let mut has_tree = case.join("expected").is_dir();
    if !has_stdout && !has_nix && !has_tree {
        if !bless {
            return Err(
                "no expectation: add expected.nix, expected/, expected.stdout or expected.err \
                 (or run with NIXCROSS_BLESS=1)"
                    .into(),
            );
        }
        // A new case, blessed: what the run wrote, else what it printed.
        match (&input, before != after) {
            (Input::File { .. }, true) | (Input::Empty, false) => has_nix = true,
            (_, true) => has_tree = true,
            (_, false) => has_stdout = true,
        }
    }
    if has_stdout {
        expect_text(case, bless, "expected.stdout", "stdout", &r.stdout)?;
    }
    let edits_files = match &input {
        Input::File { name, .. } => {
            if has_tree {
                return Err("expected/ goes with input/ or no input, not input.nix".into());
            }
            if has_nix {
                let text = String::from_utf8_lossy(&after[Path::new(name)]).into_owned();
                expect_text(case, bless, "expected.nix", "the edited file", &text)?;
                true
            } else {
                false
            }
        }
        Input::Tree(_) => {
            if has_nix {
                return Err("expected.nix goes with input.nix or no input; use expected/".into());
            }
            if has_tree {
                expect_tree(case, bless, &after)?;
                true
            } else {
                false
            }
        }
        Input::Empty => {
            if has_nix {
                expect_text(case, bless, "expected.nix", "stdout", &r.stdout)?;
                let file = work._tmp.path().join("stdout.nix");
                std::fs::write(&file, &r.stdout).map_err(|e| e.to_string())?;
                nix_parses(&[file])?;
            }
            if has_tree {
                expect_tree(case, bless, &after)?;
            }
            has_tree
        }
    };
    if !edits_files {
        if let Some(diff) = tree_diff(&before, &after) {
            return Err(format!(
                "the command changed files, and the case has no expected.nix or expected/:\n{diff}"
            ));
        }
    }
    nix_parses(&changed_nix_files(&work, &before, &after))?;
    if edits_files && !matches!(input, Input::Empty) {
        check_edit_contract(&work, &input, &args, &before, &after)?;
    }
    if let Some(undo) = read_opt(&case.join("undo"))? {
        if !edits_files || matches!(input, Input::Empty) {
            return Err("`undo` goes with an edit case (an input and its expectation)".into());
        }
        check_round_trip(&work, &input, &undo, &before, &after)?;
    }
    Ok(())
}

/// The round trip: `undo` on the edited folder gives back the input.
fn check_round_trip(
    work: &Work,
    input: &Input,
    undo: &str,
    before: &Tree,
    after: &Tree,
) -> Result<(), String> {
    let mut args = split_args(undo);
    if let Input::File { name, .. } = input {
        args.retain(|a| a != "configuration.nix");
        args.push("-f".into());
        args.push(work.dir.join(name).display().to_string());
    }
    work.lay_out(after)?;
    let r = run(work, &args);
    if r.code != 0 {
        return Err(format!(
            "undo does not exit 0\nargs: {args:?}\nexit: {}\n--- stderr ---\n{}",
            r.code, r.stderr
        ));
    }
    let undone = work.snapshot()?;
    nix_parses(&changed_nix_files(work, after, &undone))?;
    match tree_diff(before, &undone) {
        None => Ok(()),
        Some(diff) => Err(format!(
            "undo ({args:?}) does not give back the input:\n{diff}"
        )),
    }
}

/// The `--check`/`--dry-run` contract and idempotence of an edit whose
/// result is `after`.
fn check_edit_contract(
    work: &Work,
    input: &Input,
    args: &[String],
    before: &Tree,
    after: &Tree,
) -> Result<(), String> {
    let fail = |what: &str, r: &Run| {
        format!(
            "{what}\nargs: {args:?}\nexit: {}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            r.code, r.stdout, r.stderr
        )
    };
    let unchanged = |what: &str, want: &Tree| -> Result<(), String> {
        match tree_diff(want, &work.snapshot()?) {
            None => Ok(()),
            Some(diff) => Err(format!("{what} changed the files:\n{diff}")),
        }
    };
    if args.first().map(String::as_str) == Some("set-target") {
        check_show_reports_target(work, args)?;
    }
    // Idempotence: the same command again changes nothing and says so.
    let again = run(work, args);
    if again.code != 0 || !again.stderr.contains("already up to date") {
        return Err(fail(
            "a second run does not exit 0 saying `already up to date`",
            &again,
        ));
    }
    unchanged("a second run", after)?;
    let c = run(work, &with(args, &["--check"]));
    if c.code != 0 {
        return Err(fail("--check after the edit does not exit 0", &c));
    }
    // On the original input, --check and --dry-run write nothing.
    work.reset(input)?;
    let changed = before != after;
    let want_code = if changed { 1 } else { 0 };
    let c = run(work, &with(args, &["--check"]));
    if c.code != want_code {
        return Err(fail(
            &format!("--check on the input does not exit {want_code}"),
            &c,
        ));
    }
    unchanged("--check", before)?;
    let d = run(work, &with(args, &["--dry-run"]));
    if d.code != 0 || (changed && !d.stdout.contains("@@")) {
        return Err(fail("--dry-run does not exit 0 with a diff", &d));
    }
    unchanged("--dry-run", before)?;
    let cd = run(work, &with(args, &["--check", "--dry-run"]));
    if cd.code != want_code || (changed && !cd.stdout.contains("@@")) {
        return Err(fail(
            &format!("--check --dry-run does not exit {want_code} with the diff"),
            &cd,
        ));
    }
    unchanged("--check --dry-run", before)?;
    Ok(())
}

fn flag<'a>(args: &'a [String], names: &[&str]) -> Option<&'a str> {
    args.iter()
        .position(|a| names.contains(&a.as_str()))
        .and_then(|i| args.get(i + 1))
        .map(String::as_str)
}

/// After `set-target T --mode M`, `show --json` reports host T and mode M
/// (`native` for `--mode native`, seen from a machine of T)
/// (for the file the edit named with `-f`, else the one nixcross finds).
fn check_show_reports_target(work: &Work, args: &[String]) -> Result<(), String> {
    // `set-target T` or `set-target --target T`.
    let named = flag(args, &["--target", "-t"]).unwrap_or(&args[1]);
    let target = nixcross::platform::resolve(named)
        .map_err(|e| e.to_string())?
        .system;
    let mode = flag(args, &["--mode"]).unwrap_or_default();
    let seen_from = if mode == "native" {
        target.as_str()
    } else {
        "x86_64-linux"
    };
    let mut show = with(&[], &["show", "--json", "--host", seen_from]);
    if let Some(file) = flag(args, &["-f", "--file"]) {
        show = with(&show, &["-f", file]);
    }
    let out = run(work, &show);
    let json: serde_json::Value = serde_json::from_str(&out.stdout)
        .map_err(|e| format!("show --json is not JSON: {e}\n{}", out.stderr))?;
    let configs = json["configurations"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let config = match flag(args, &["--config"]) {
        Some(c) => configs.iter().find(|x| x["name"] == c).cloned(),
        None => configs.first().cloned(),
    }
    .ok_or("show does not list the configuration")?;
    let host = config["host"].as_str().unwrap_or_default();
    let build = config["build"].as_str().unwrap_or_default();
    let ok = host == target
        && match mode {
            "cross" => config["mode"] == "cross" && build != target,
            "native" => build == target && config["mode"] == "native",
            _ => build == target && config["mode"] != "cross",
        };
    if !ok {
        return Err(format!(
            "after set-target {target} --mode {mode}, show reports {config}"
        ));
    }
    Ok(())
}

/// The harness's own tests: it must fail where a case is wrong, and bless
/// only what it may.
fn self_tests() -> Vec<Trial> {
    fn t(name: &str, f: fn() -> Result<(), String>) -> Trial {
        Trial::test(format!("harness/{name}"), move || f().map_err(Into::into))
    }
    vec![
        t("args_split_like_a_shell", args_split_like_a_shell),
        t("no_cases_is_an_error", no_cases_is_an_error),
        t("a_case_without_args_fails", a_case_without_args_fails),
        t(
            "tree_diff_names_every_difference",
            tree_diff_names_every_difference,
        ),
        t(
            "a_wrong_tree_fails_and_bless_fixes_it",
            a_wrong_tree_fails_and_bless_fixes_it,
        ),
        t(
            "bless_never_rewrites_expected_err",
            bless_never_rewrites_expected_err,
        ),
    ]
}

fn args_split_like_a_shell() -> Result<(), String> {
    for (line, want) in [
        ("a  'b c' d\n", vec!["a", "b c", "d"]),
        ("x ''", vec!["x", ""]),
    ] {
        let got = split_args(line);
        if got != want {
            return Err(format!("split_args({line:?}) = {got:?}, not {want:?}"));
        }
    }
    Ok(())
}

/// A scratch fixtures root with the given files (path → text).
fn scratch(files: &[(&str, &str)]) -> Result<tempfile::TempDir, String> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let tree: Tree = files
        .iter()
        .map(|(p, t)| (PathBuf::from(p), t.as_bytes().to_vec()))
        .collect();
    write_tree(dir.path(), &tree)?;
    Ok(dir)
}

fn no_cases_is_an_error() -> Result<(), String> {
    let empty = scratch(&[])?;
    if case_folders(empty.path()).is_ok() {
        return Err("an empty fixtures folder passed".into());
    }
    if case_folders(&empty.path().join("missing")).is_ok() {
        return Err("a missing fixtures folder passed".into());
    }
    let stray = scratch(&[("show/README", "a file where a case folder belongs")])?;
    if case_folders(stray.path()).is_ok() {
        return Err("a file among the case folders passed".into());
    }
    Ok(())
}

fn a_case_without_args_fails() -> Result<(), String> {
    let root = scratch(&[("show/x/input.nix", "{ }\n")])?;
    let cases = case_folders(root.path())?;
    if cases.len() != 1 {
        return Err(format!("found {cases:?}"));
    }
    match check_case(&cases[0].0, &cases[0].1, false) {
        Err(e) if e.contains("no `args`") => Ok(()),
        other => Err(format!("a case without args gave {other:?}")),
    }
}

fn tree_diff_names_every_difference() -> Result<(), String> {
    let tree = |files: &[(&str, &str)]| -> Tree {
        files
            .iter()
            .map(|(p, t)| (PathBuf::from(p), t.as_bytes().to_vec()))
            .collect()
    };
    let expected = tree(&[("a.nix", "1\n"), ("b/c.nix", "2\n"), ("gone.nix", "")]);
    let actual = tree(&[("a.nix", "1\n"), ("b/c.nix", "3\n"), ("new.nix", "")]);
    let diff = tree_diff(&expected, &actual).ok_or("no difference found")?;
    for want in ["missing: gone.nix", "extra: new.nix", "-2", "+3"] {
        if !diff.contains(want) {
            return Err(format!("the diff lacks `{want}`:\n{diff}"));
        }
    }
    if tree_diff(&expected, &expected).is_some() {
        return Err("a tree differs from itself".into());
    }
    Ok(())
}

/// A repository case whose expected/ is wrong fails; blessed, it passes, and
/// expected/ then holds the real result (the untouched module included).
fn a_wrong_tree_fails_and_bless_fixes_it() -> Result<(), String> {
    let flake = "{\n  outputs = { self, nixpkgs }: {\n    nixosConfigurations.b = nixpkgs.lib.nixosSystem {\n      system = \"x86_64-linux\";\n      modules = [ ./hosts/b.nix ];\n    };\n  };\n}\n";
    let module = "{ ... }: { }\n";
    let root = scratch(&[
        (
            "set-target/t/args",
            "set-target aarch64-linux --mode emulate -f flake.nix",
        ),
        ("set-target/t/input/flake.nix", flake),
        ("set-target/t/input/hosts/b.nix", module),
        ("set-target/t/expected/flake.nix", flake),
    ])?;
    let case = root.path().join("set-target/t");
    match check_case("set-target/t", &case, false) {
        Err(e)
            if e.contains("extra: hosts/b.nix")
                && e.contains("+      system = \"aarch64-linux\";") => {}
        other => return Err(format!("a wrong expected/ gave {other:?}")),
    }
    check_case("set-target/t", &case, true)?;
    check_case("set-target/t", &case, false)?;
    let blessed = read_tree(&case.join("expected"))?;
    if blessed.get(Path::new("hosts/b.nix")).map(Vec::as_slice) != Some(module.as_bytes()) {
        return Err(format!("blessed tree: {:?}", blessed.keys()));
    }
    Ok(())
}

fn bless_never_rewrites_expected_err() -> Result<(), String> {
    let err = "a message nixcross never prints\n";
    let root = scratch(&[
        (
            "init/e/args",
            "init --target riscv64-linx --mode cross --stdout",
        ),
        ("init/e/expected.err", err),
    ])?;
    let case = root.path().join("init/e");
    match check_case("init/e", &case, true) {
        Err(e) if e.contains("never rewrites expected.err") => {}
        other => return Err(format!("a wrong expected.err under bless gave {other:?}")),
    }
    let now = std::fs::read_to_string(case.join("expected.err")).map_err(|e| e.to_string())?;
    if now != err {
        return Err("bless rewrote expected.err".into());
    }
    Ok(())
}
