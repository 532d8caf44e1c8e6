//! Real Nix is the oracle. Tests call [`nix`] to get a handle on
//! `nix-instantiate`; where it is missing the test prints why it skips, unless
//! `NIXCROSS_REQUIRE_NIX=1` (set by `.ci/run`), which turns the skip into a
//! failure. To check what a flake means, not only that it parses, tests
//! evaluate it next to the recording stand-ins of [`StandIns`]. Tests of
//! `--verify` run the `nix` command itself ([`flake_nix`]) on flakes whose
//! nixpkgs is a stand-in flake ([`NixpkgsFlake`]).

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

impl Nix {
    /// Every `nixosConfigurations` entry of the flake in `dir`, evaluated
    /// with the module model in `model` ([`model_dir`]) by its
    /// `flake-eval.nix`: name -> `{ build; host; style; mixed; ... }`, or
    /// `{ error; }`. Tried with every input passed, then with only those
    /// `outputs` names (for outputs without `...`).
    pub fn eval_flake(
        &self,
        model: &Path,
        dir: &Path,
    ) -> Result<serde_json::Map<String, serde_json::Value>, String> {
        let mut last = String::new();
        for ellipsis in ["true", "false"] {
            let expr = format!(
                "import {m}/flake-eval.nix {{ dir = {}; examples = builtins.fromJSON (builtins.readFile {m}/examples.json); ellipsis = {ellipsis}; }}",
                dir.display(),
                m = model.display(),
            );
            match self.eval_json(dir, &expr) {
                Ok(json) => {
                    let v: serde_json::Value =
                        serde_json::from_str(&json).map_err(|e| e.to_string())?;
                    return Ok(v.as_object().cloned().unwrap_or_default());
                }
                Err(e) => last = e,
            }
        }
        Err(last)
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

/// Write each text to `<dir>/c<i>/flake.nix` (a folder per flake, so that
/// its relative paths stay its own); returns the paths relative to `dir`,
/// as Nix path literals (`./c0/flake.nix`).
pub fn write_flakes(dir: &Path, texts: &[String]) -> Vec<String> {
    texts
        .iter()
        .enumerate()
        .map(|(i, text)| {
            let sub = dir.join(format!("c{i}"));
            std::fs::create_dir_all(&sub).expect("create a flake folder");
            std::fs::write(sub.join("flake.nix"), text).expect("write a flake");
            format!("./c{i}/flake.nix")
        })
        .collect()
}

/// Assert that nixpkgs-fmt would change none of `texts`; a failure when
/// `nixpkgs-fmt` is not on PATH (the tests that call this are ignored
/// unless asked for, `cargo test -- --ignored`).
pub fn assert_nixpkgs_fmt_stable(test: &str, texts: &[String]) {
    // nixpkgs-fmt 1.3 exits 1 after printing --version, so only ask whether it runs.
    let found = Command::new("nixpkgs-fmt")
        .arg("--version")
        .output()
        .is_ok();
    assert!(
        found,
        "{test}: nixpkgs-fmt is not on PATH (cargo install nixpkgs-fmt)"
    );
    let dir = tempfile::tempdir().expect("a temporary folder");
    write_flakes(dir.path(), texts);
    let out = Command::new("nixpkgs-fmt")
        .arg("--check")
        .arg(dir.path())
        .output()
        .expect("run nixpkgs-fmt");
    assert!(
        out.status.success(),
        "{test}: nixpkgs-fmt would reformat:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Copy the folder `from` into the existing folder `to`, recursively (test
/// trees: no links, no special files).
pub fn copy_tree(from: &Path, to: &Path) {
    for entry in std::fs::read_dir(from).unwrap().flatten() {
        let p = entry.path();
        let dest = to.join(entry.file_name());
        if p.is_dir() {
            std::fs::create_dir_all(&dest).unwrap();
            copy_tree(&p, &dest);
        } else {
            std::fs::copy(&p, &dest).unwrap();
        }
    }
}

/// Every file under `dir`, by its path relative to `dir` (`/`-separated),
/// with its text.
pub fn read_tree(dir: &Path) -> std::collections::BTreeMap<String, String> {
    fn walk(dir: &Path, prefix: &str, out: &mut std::collections::BTreeMap<String, String>) {
        for e in std::fs::read_dir(dir).unwrap().flatten() {
            let name = format!("{prefix}{}", e.file_name().to_string_lossy());
            if e.path().is_dir() {
                walk(&e.path(), &format!("{name}/"), out);
            } else {
                out.insert(name, std::fs::read_to_string(e.path()).unwrap());
            }
        }
    }
    let mut out = std::collections::BTreeMap::new();
    walk(dir, "", &mut out);
    out
}

/// The repository root (two levels above this crate).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .and_then(Path::parent)
        .expect("crates/testkit sits two levels below the root")
        .to_path_buf()
}

/// A temporary folder laid out for evaluating flakes and modules against
/// recording stand-ins of nixpkgs (Nix files in `crates/testkit/nix/`):
///
/// - `./nixpkgs.nix`: the `nixpkgs` flake input. Its `lib.nixosSystem`
///   returns its arguments, so a configuration evaluates to its `system`,
///   `modules` and `specialArgs`; `lib.systems.examples.<name>` is
///   `{ config = <triple>; example = <name>; }`; `lib.mkDefault`, `mkForce`,
///   `mkOverride`, `mkIf`, `optionals` and `mkEnableOption` are identities or
///   near enough for reading definitions.
/// - `import nixpkgs { ... }` (through its `outPath`): a tiny package set
///   (`gcc`, `gcc12`, `binutils`, `binutils_2_40`, `hello`, which records the
///   `gcc` it was built with) with the overlays applied as nixpkgs applies
///   them, `platform.{localSystem,crossSystem}`, and `importArgs`, exactly
///   the arguments it was given.
///
/// - `./packages.nix`, `./outputs-eval.nix`: package sets that record their
///   platforms (`legacyPackages`, `pkgsCross`, `import nixpkgs`, `mkShell`,
///   `callPackage`, flake-utils, flake-parts), for flakes' `packages` and
///   `devShells`; the test writes `packages.json` (`{ flakeExposed;
///   packages }`) next to them.
///
/// The test writes its flake and its evaluation expression next to them and
/// evaluates with [`StandIns::eval_json`]; `import ./nixpkgs.nix` in the
/// expression is the stand-in input.
#[derive(Debug)]
pub struct StandIns {
    dir: tempfile::TempDir,
}

const STAND_INS: &[(&str, &str)] = &[
    ("nixpkgs.nix", include_str!("../nix/nixpkgs.nix")),
    ("lib.nix", include_str!("../nix/lib.nix")),
    ("pkgs/default.nix", include_str!("../nix/pkgs/default.nix")),
    ("nixos.nix", include_str!("../nix/nixos.nix")),
    ("flake-eval.nix", include_str!("../nix/flake-eval.nix")),
    ("remote-build.nix", include_str!("../nix/remote-build.nix")),
    ("packages.nix", include_str!("../nix/packages.nix")),
    (
        "packages/default.nix",
        include_str!("../nix/packages/default.nix"),
    ),
    ("outputs-eval.nix", include_str!("../nix/outputs-eval.nix")),
];

/// A folder (one per test process) with the stand-ins and the module model
/// of `nix/nixos.nix` (a small model of NixOS's module system that decides
/// platforms, emulated systems and builders) and `nix/flake-eval.nix`
/// (every configuration of a flake, evaluated with it). `examples` are the
/// pkgsCross names and triples the model's `lib.systems.examples` knows; the
/// first call decides them.
pub fn model_dir(examples: impl FnOnce() -> String) -> PathBuf {
    static DIR: OnceLock<StandIns> = OnceLock::new();
    let s = DIR.get_or_init(|| {
        let s = StandIns::new([]);
        s.write("examples.json", &examples());
        s
    });
    s.path().to_path_buf()
}

impl StandIns {
    /// A fresh folder with the stand-ins. `examples` are the pkgsCross names
    /// `lib.systems.examples` knows, with their config triples.
    pub fn new<'a>(examples: impl IntoIterator<Item = (&'a str, &'a str)>) -> StandIns {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let stand_ins = StandIns { dir };
        for (rel, text) in STAND_INS {
            stand_ins.write(rel, text);
        }
        let examples: serde_json::Map<String, serde_json::Value> = examples
            .into_iter()
            .map(|(name, config)| (name.to_string(), config.into()))
            .collect();
        stand_ins.write(
            "examples.json",
            &serde_json::Value::Object(examples).to_string(),
        );
        stand_ins
    }

    /// The folder.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Write `text` to `rel` in the folder, creating its parents; returns the
    /// full path.
    pub fn write(&self, rel: &str, text: &str) -> PathBuf {
        let path = self.dir.path().join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("create a folder in the stand-ins");
        }
        std::fs::write(&path, text).expect("write a file in the stand-ins");
        path
    }

    /// Evaluate `expr` in the folder ([`Nix::eval_json`]).
    pub fn eval_json(&self, nix: &Nix, expr: &str) -> Result<String, String> {
        nix.eval_json(self.path(), expr)
    }
}

/// A working `nix` command with flakes (Nix 2.8's `nix eval path:...`), as
/// `--verify` runs it: `NIXCROSS_NIX`, else `nix` on PATH. `env` is what a
/// command that runs it needs besides: nothing when the default store takes
/// the copies `path:` flakes make (root, or a daemon), else a store of the
/// test process's own (`NIX_REMOTE=local?root=<folder>`, and a cache
/// folder there), which works without privileges.
#[derive(Debug)]
pub struct FlakeNix {
    /// The `nix` binary.
    pub bin: PathBuf,
    /// Environment variables to set for it.
    pub env: Vec<(String, String)>,
    _store: Option<tempfile::TempDir>,
}

impl FlakeNix {
    /// Set [`FlakeNix::env`] on `cmd`.
    pub fn apply(&self, cmd: &mut Command) {
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
    }
}

fn find_flake_nix() -> Option<FlakeNix> {
    let bin = std::env::var_os("NIXCROSS_NIX")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("nix"));
    let probe = tempfile::tempdir().ok()?;
    std::fs::write(
        probe.path().join("flake.nix"),
        "{ outputs = { self }: { probe = \"ok\"; }; }\n",
    )
    .ok()?;
    let runs = |env: &[(String, String)]| {
        let mut cmd = Command::new(&bin);
        cmd.args([
            "--extra-experimental-features",
            "nix-command flakes",
            "eval",
            "--raw",
            "--no-write-lock-file",
        ])
        .arg(format!("path:{}#probe", probe.path().display()))
        .stdin(Stdio::null())
        .stderr(Stdio::null());
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd.output()
            .is_ok_and(|o| o.status.success() && o.stdout == b"ok")
    };
    if runs(&[]) {
        return Some(FlakeNix {
            bin,
            env: Vec::new(),
            _store: None,
        });
    }
    let store = tempfile::tempdir().ok()?;
    let env = vec![
        (
            "NIX_REMOTE".to_string(),
            format!("local?root={}", store.path().display()),
        ),
        (
            "XDG_CACHE_HOME".to_string(),
            store.path().join("cache").display().to_string(),
        ),
    ];
    runs(&env).then_some(FlakeNix {
        bin,
        env,
        _store: Some(store),
    })
}

/// `Some` when `nix` (the flakes command, not `nix-instantiate`) evaluates a
/// `path:` flake. `None` (after printing SKIP) when it does not; panics
/// instead when `NIXCROSS_REQUIRE_NIX=1`.
pub fn flake_nix(test: &str) -> Option<&'static FlakeNix> {
    static NIX: OnceLock<Option<FlakeNix>> = OnceLock::new();
    let found = NIX.get_or_init(find_flake_nix).as_ref();
    if found.is_none() {
        if std::env::var("NIXCROSS_REQUIRE_NIX").as_deref() == Ok("1") {
            panic!("{test}: `nix` cannot evaluate a path: flake, and NIXCROSS_REQUIRE_NIX=1 forbids skipping");
        }
        eprintln!("SKIP {test}: `nix` cannot evaluate a path: flake (apt-get install nix-bin)");
    }
    found
}

/// A stand-in for the nixpkgs flake (`nix/nixpkgs-flake/`), laid out in a
/// temporary folder, for tests that run `nix` on a flake: test flakes take
/// it as `inputs.nixpkgs.url = "<url>"`. Its `lib.nixosSystem` is the
/// module model's `evalNixos` (`nix/nixos.nix`), which returns `config` and
/// `pkgs` as NixOS does; `import nixpkgs { ... }` is the recording package
/// set (`nix/pkgs`). The dishonest variant builds every configuration
/// natively for x86_64-linux, ignores overlays (also of `import nixpkgs`),
/// and neither emulates nor lists builders, so an edit it is asked about
/// must not be believed.
#[derive(Debug)]
pub struct NixpkgsFlake {
    dir: tempfile::TempDir,
}

impl NixpkgsFlake {
    /// The stand-in that evaluates what a configuration says.
    pub fn honest() -> NixpkgsFlake {
        NixpkgsFlake::new(true)
    }

    /// The stand-in that lies (see [`NixpkgsFlake`]).
    pub fn dishonest() -> NixpkgsFlake {
        NixpkgsFlake::new(false)
    }

    fn new(honest: bool) -> NixpkgsFlake {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let files: &[(&str, &str)] = &[
            ("flake.nix", include_str!("../nix/nixpkgs-flake/flake.nix")),
            (
                "default.nix",
                include_str!("../nix/nixpkgs-flake/default.nix"),
            ),
            ("nixos.nix", include_str!("../nix/nixos.nix")),
            ("pkgs/default.nix", include_str!("../nix/pkgs/default.nix")),
            ("examples.json", "{}"),
            ("honest.nix", if honest { "true\n" } else { "false\n" }),
        ];
        for (rel, text) in files {
            let path = dir.path().join(rel);
            std::fs::create_dir_all(path.parent().expect("a parent folder"))
                .expect("create a folder for the stand-in flake");
            std::fs::write(&path, text).expect("write the stand-in flake");
        }
        NixpkgsFlake { dir }
    }

    /// The folder.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Its flake reference, `path:<folder>`.
    pub fn url(&self) -> String {
        format!("path:{}", self.dir.path().display())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The stand-ins do what their documentation says; the tests that use
    /// them rely on it.
    #[test]
    fn stand_ins_record_and_apply_overlays() {
        let Some(nix) = nix("stand_ins_record_and_apply_overlays") else {
            return;
        };
        let s = StandIns::new([("raspberryPi", "armv6l-unknown-linux-gnueabihf")]);
        let expr = r#"
          let
            nixpkgs = import ./nixpkgs.nix;
            cfg = nixpkgs.lib.nixosSystem { system = "x86_64-linux"; modules = [ ]; };
            pkgs = import nixpkgs {
              localSystem = "x86_64-linux";
              overlays = [ (final: prev: { gcc = final.gcc12; }) ];
            };
          in {
            inherit cfg;
            pi = nixpkgs.lib.systems.examples.raspberryPi;
            hello = pkgs.hello;
            args = builtins.attrNames pkgs.importArgs;
            platform = pkgs.platform;
            default = nixpkgs.lib.mkDefault 1;
          }"#;
        let json = s.eval_json(&nix, expr).unwrap();
        assert_eq!(
            json,
            r#"{"args":["localSystem","overlays"],"cfg":{"modules":[],"system":"x86_64-linux"},"default":1,"hello":"hello built with gcc12","pi":{"config":"armv6l-unknown-linux-gnueabihf","example":"raspberryPi"},"platform":{"crossSystem":null,"localSystem":"x86_64-linux"}}"#
        );
    }
}
