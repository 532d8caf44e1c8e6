//! Real Nix is the oracle. Tests call [`nix`] to get a handle on
//! `nix-instantiate`; where it is missing the test prints why it skips, unless
//! `NIXCROSS_REQUIRE_NIX=1` (set by `.ci/run`), which turns the skip into a
//! failure.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

/// A working `nix-instantiate`.
#[derive(Debug, Clone)]
pub struct Nix {
    bin: PathBuf,
}

fn find_nix() -> Option<Nix> {
    let bin = std::env::var_os("NIXCROSS_NIX_INSTANTIATE")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("nix-instantiate"));
    let nix = Nix { bin };
    // The first evaluation on a fresh machine creates Nix's state folders;
    // tests running in parallel would race to do that. Do it once, here,
    // behind the OnceLock, so later calls only read it.
    let mut cmd = nix.command();
    cmd.args(["--eval", "--expr", "1"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let ok = cmd.status().is_ok_and(|s| s.success());
    ok.then_some(nix)
}

/// `Some(nix)` when `nix-instantiate` runs. `None` (after printing the reason)
/// when it does not; panics instead when `NIXCROSS_REQUIRE_NIX=1`.
pub fn nix(test: &str) -> Option<Nix> {
    static NIX: OnceLock<Option<Nix>> = OnceLock::new();
    let found = NIX.get_or_init(find_nix).clone();
    if found.is_none() {
        if std::env::var("NIXCROSS_REQUIRE_NIX").as_deref() == Ok("1") {
            panic!("{test}: nix-instantiate is not on PATH, and NIXCROSS_REQUIRE_NIX=1 forbids skipping");
        }
        eprintln!("SKIP {test}: nix-instantiate is not on PATH (apt-get install nix-bin)");
    }
    found
}

impl Nix {
    fn command(&self) -> Command {
        let mut cmd = Command::new(&self.bin);
        // No daemon, no store writes: parse and eval only need a readable store dir.
        cmd.env("NIX_REMOTE", "")
            .env("NIX_CONFIG", "experimental-features = nix-command flakes")
            .env_remove("NIX_PATH")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        cmd
    }

    fn run(&self, mut cmd: Command, stdin: Option<&str>) -> Result<String, String> {
        let mut child = cmd
            .spawn()
            .map_err(|e| format!("spawn nix-instantiate: {e}"))?;
        {
            let mut pipe = child.stdin.take().expect("piped stdin");
            if let Some(text) = stdin {
                pipe.write_all(text.as_bytes())
                    .map_err(|e| format!("write to nix-instantiate: {e}"))?;
            }
        }
        let out = child
            .wait_with_output()
            .map_err(|e| format!("wait for nix-instantiate: {e}"))?;
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).into_owned())
        } else {
            Err(String::from_utf8_lossy(&out.stderr).into_owned())
        }
    }

    /// `nix-instantiate --parse` of `text`, read from a file named `name` in a
    /// temporary folder (so relative paths in the text resolve harmlessly).
    pub fn parse(&self, text: &str) -> Result<(), String> {
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let file = dir.path().join("input.nix");
        std::fs::write(&file, text).map_err(|e| e.to_string())?;
        self.parse_file(&file).map(|_| ())
    }

    /// `nix-instantiate --parse FILE`.
    pub fn parse_file(&self, file: &Path) -> Result<String, String> {
        let mut cmd = self.command();
        cmd.arg("--parse").arg(file);
        self.run(cmd, None)
    }

    /// `nix-instantiate --parse FILE...`: one process for many files (about
    /// 5 ms each instead of 30). A failure names the first file that does not
    /// parse.
    pub fn parse_files(&self, files: &[PathBuf]) -> Result<String, String> {
        let mut cmd = self.command();
        cmd.arg("--parse").args(files);
        self.run(cmd, None)
    }

    /// `nix-instantiate --eval --strict --json --expr EXPR`, evaluated in
    /// `dir` (so `./flake.nix` in the expression means `dir/flake.nix`).
    /// Returns the JSON text.
    pub fn eval_json(&self, dir: &Path, expr: &str) -> Result<String, String> {
        let mut cmd = self.command();
        cmd.current_dir(dir)
            .args(["--eval", "--strict", "--json", "--expr"])
            .arg(expr);
        self.run(cmd, None)
    }
}

/// Assert that `text` parses with real Nix, when Nix is there. `what` names
/// the input in the failure message.
pub fn assert_nix_parses(test: &str, what: &str, text: &str) {
    if let Some(nix) = nix(test) {
        if let Err(err) = nix.parse(text) {
            panic!("{what} does not parse with nix-instantiate:\n{err}\n--- text ---\n{text}");
        }
    }
}

/// The repository root (two levels above this crate).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .and_then(Path::parent)
        .expect("crates/testkit sits two levels below the root")
        .to_path_buf()
}
