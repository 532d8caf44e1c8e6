//! `init --kind package|shell`: a flake whose `packages.<system>.<attr>` or
//! `devShells.<system>.<name>` comes from a package set for the target
//! ([`crate::outputs::pkgset`]), bound once as `targetPkgs` in a `let`.
//!
//! - `--kind package --mode cross`: `packages.<build>.<attr>` is the cross
//!   set's package (or `callPackage <file> { }`); it builds on the build
//!   machine, so it sits under the build machine's system.
//! - `--kind package --mode emulate`: `packages.<target>.<attr>` from the
//!   target's native set, built on the target's platform (QEMU elsewhere).
//! - `--kind shell`: `devShells.<build>.<name>` is the cross set's
//!   `mkShell { buildInputs = [ ... ]; }`: its stdenv is the cross one, so
//!   the target-prefixed compiler is on PATH.

use serde::Serialize;

use super::InitOutput;
use super::{
    build_machine, check_text, cross_notes, emulate_notes, given_or, nixpkgs_ref, InitOptions,
};
use crate::error::{Error, Result};
use crate::outputs::{package_set, PkgSet, PlatformSpec};
use crate::platform::{self, Target};
use crate::syntax;
use crate::vocab::{Kind, Mode};

/// What a package output builds.
enum Source {
    /// A nixpkgs attribute path, e.g. `["python3Packages", "numpy"]`.
    Package(Vec<String>),
    /// `callPackage <file> { }`, the file relative to the flake's folder.
    Call(String),
}

/// The name of the output when `--name` is not given:
/// - `--kind package --package P`: the last part of `P`'s attribute path
///   (`hello`; `python3Packages.numpy` gives `numpy`);
/// - `--kind package --call FILE`: `default`, so that `nix build` alone
///   builds the user's program;
/// - `--kind shell`: `default`, so that `nix develop` alone enters it.
pub fn output_name(kind: Kind, package: Option<&str>) -> String {
    match (kind, package) {
        (Kind::Package, Some(p)) => p.rsplit('.').next().unwrap_or(p).to_string(),
        _ => "default".to_string(),
    }
}

/// Split and check a nixpkgs attribute path such as `python3Packages.numpy`.
fn attr_path(what: &str, p: &str) -> Result<Vec<String>> {
    check_text(what, p)?;
    let parts: Vec<String> = p.split('.').map(str::to_string).collect();
    let why = match parts.iter().find(|s| !syntax::is_identifier(s)) {
        None => return Ok(parts),
        Some(s) if s.is_empty() => "it has an empty part".to_string(),
        Some(s) => format!("`{s}` is not a Nix identifier"),
    };
    Err(Error::invalid(format!(
        "{what}: `{p}` is not an attribute path of identifiers: {why}"
    ))
    .hint("write a nixpkgs attribute, e.g. hello or python3Packages.numpy"))
}

/// Check `--call`'s file: relative to the flake's folder and inside it
/// (a flake cannot read outside its own source). Returns it normalised:
/// `a/b.nix`, or `.` for the folder itself.
fn flake_file(p: &str) -> Result<String> {
    check_text("the file to call (--call)", p)?;
    if p.starts_with('/') || p.starts_with('~') || p.starts_with('<') {
        return Err(Error::invalid(format!(
            "`{p}` is not inside the flake: --call takes a path relative to the flake's folder"
        ))
        .hint("e.g. --call ./package.nix"));
    }
    let parts: Vec<&str> = p
        .split('/')
        .filter(|s| !s.is_empty() && *s != ".")
        .collect();
    if parts.contains(&"..") {
        return Err(Error::invalid(format!(
            "`{p}` leaves the flake's folder, and a flake can only read files inside it"
        )));
    }
    if parts.is_empty() {
        return Ok(".".to_string());
    }
    Ok(parts.join("/"))
}

/// A platform as the template writes it.
fn spec_fields(spec: Option<&PlatformSpec>) -> (&'static str, String) {
    match spec {
        None => ("none", String::new()),
        Some(PlatformSpec::System(s)) => ("system", s.clone()),
        Some(PlatformSpec::Config(c)) => ("config", c.clone()),
        Some(PlatformSpec::Example(e)) => ("example", e.clone()),
    }
}

#[derive(Serialize)]
struct Ctx<'a> {
    description: &'a str,
    nixpkgs: &'a str,
    nixpkgs_is_default: bool,
    kind: Kind,
    mode: Mode,
    build: &'a str,
    system: &'a str,
    out_system: &'a str,
    attr: &'a str,
    /// `legacy`, `pkgscross` or `import`.
    set: &'static str,
    set_system: String,
    example: String,
    extras: String,
    local_kind: &'static str,
    local: String,
    cross_kind: &'static str,
    cross: String,
    package: Vec<String>,
    call: String,
    libraries: Vec<Vec<String>>,
    native: bool,
    cached: bool,
}

/// Render a package or shell flake.
pub(super) fn render(opts: &InitOptions) -> Result<InitOutput> {
    let source = match (opts.kind, opts.packages.as_slice(), &opts.call) {
        (Kind::Shell, _, Some(_)) => {
            return Err(Error::invalid(
                "--call builds a package; a dev shell takes libraries with --package",
            ))
        }
        (Kind::Shell, _, None) => None,
        (_, [], None) => {
            return Err(Error::invalid("--kind package needs what to build")
                .hint("--package <nixpkgs attribute> (e.g. hello), or --call <file> (e.g. ./package.nix) for your own"))
        }
        (_, [p], None) => Some(Source::Package(attr_path("the package (--package)", p)?)),
        (_, [], Some(c)) => Some(Source::Call(flake_file(c)?)),
        (_, [_, ..], None) => {
            return Err(Error::invalid(
                "--kind package builds one package; pass --package once (a dev shell takes several)",
            ))
        }
        (_, [_, ..], Some(_)) => {
            return Err(Error::invalid(
                "--package and --call both say what to build; pass one of them",
            ))
        }
    };
    if opts.kind == Kind::Shell && !opts.mode.is_cross() {
        return Err(Error::invalid(
            "a dev shell runs on the build machine with a cross compiler; it cannot be emulated",
        )
        .hint(
            "drop --mode, or use --kind package --mode emulate to build for the target natively",
        ));
    }
    let libraries = match opts.kind {
        Kind::Shell => opts
            .packages
            .iter()
            .map(|p| attr_path("a library (--package)", p))
            .collect::<Result<Vec<_>>>()?,
        _ => Vec::new(),
    };

    let target = platform::resolve(&opts.target)?;
    let build = build_machine(&target, opts.mode, opts.host.as_deref())?;
    let set = package_set(&target, &build, opts.mode).map_err(|e| match opts.kind {
        Kind::Shell if e.hints.iter().any(|h| h.contains("--mode emulate")) => Error {
            hints: vec![
                "for a shell with this machine's own compiler, use nixpkgs' mkShell directly; or pass --host with the build machine's system".into(),
            ],
            ..e
        },
        _ => e,
    })?;
    let name = given_or("the output's name (--name)", &opts.name, || match &source {
        Some(Source::Package(p)) => output_name(opts.kind, p.last().map(String::as_str)),
        _ => output_name(opts.kind, None),
    })?;
    let nixpkgs = nixpkgs_ref(opts.nixpkgs.as_deref())?;
    let shown = target.example.as_deref().unwrap_or(&target.system);
    let description = given_or("the description", &opts.description, || {
        default_description(opts, &source, shown, &build)
    })?;
    let out_system = match opts.mode {
        Mode::Cross => build.as_str(),
        Mode::Emulate | Mode::Native => target.system.as_str(),
    };
    let cat = platform::catalogue();
    // What an example sets that its triple alone would not: nothing when
    // the example is exactly its triple (mingwW64's libc is mingw's default).
    let extras_of = |name: &str| {
        cat.example(name)
            .filter(|e| !e.exact)
            .map(|e| e.extra.join(", "))
            .unwrap_or_default()
    };
    let (set_kind, set_system, example, local, cross) = match &set {
        PkgSet::Legacy { system } => ("legacy", system.clone(), String::new(), None, None),
        PkgSet::PkgsCross { build, example } => {
            ("pkgscross", build.clone(), example.clone(), None, None)
        }
        PkgSet::Import { local, cross } => {
            let example = match (local, cross) {
                (_, Some(PlatformSpec::Example(e))) | (PlatformSpec::Example(e), None) => e.clone(),
                _ => String::new(),
            };
            (
                "import",
                String::new(),
                example,
                Some(local),
                cross.as_ref(),
            )
        }
    };
    let (local_kind, local) = spec_fields(local);
    let (cross_kind, cross) = spec_fields(cross);
    let native_platform = matches!(&set, PkgSet::Legacy { .. })
        || matches!(
            &set,
            PkgSet::Import {
                local: PlatformSpec::System(_),
                cross: None
            }
        );
    let ctx = Ctx {
        description: &description,
        nixpkgs,
        nixpkgs_is_default: opts.nixpkgs.is_none(),
        kind: opts.kind,
        mode: if opts.mode.is_cross() {
            Mode::Cross
        } else {
            Mode::Emulate
        },
        build: &build,
        system: &target.system,
        out_system,
        attr: &name,
        set: set_kind,
        set_system,
        extras: extras_of(&example),
        example,
        local_kind,
        local,
        cross_kind,
        cross,
        package: match &source {
            Some(Source::Package(p)) => p.clone(),
            _ => Vec::new(),
        },
        call: match &source {
            Some(Source::Call(c)) => c.clone(),
            _ => String::new(),
        },
        libraries,
        native: target.system == build,
        // The cache builds the double's default platform only.
        cached: cat.binary_cache(&target.system) && native_platform,
    };
    let text = crate::render::render("outputs.nix", &ctx)?;
    let notes = notes(opts, &source, &target, &build, &name, ctx.cached);
    Ok(InitOutput { text, notes })
}

fn default_description(
    opts: &InitOptions,
    source: &Option<Source>,
    shown: &str,
    build: &str,
) -> String {
    let what = match source {
        Some(Source::Package(p)) => p.join("."),
        Some(Source::Call(c)) => format!("The package in {}", display_path(c)),
        None => format!("A development shell on {build} with a cross compiler for {shown}"),
    };
    match (opts.kind, opts.mode) {
        (Kind::Shell, _) => what,
        (_, Mode::Cross) => format!("{what} for {shown}, cross-compiled on {build}"),
        (_, Mode::Emulate) => format!("{what} for {shown}, built natively or under emulation"),
        (_, Mode::Native) => format!("{what} for {shown}, built natively"),
    }
}

/// `a/b.nix` as the user would write it: `./a/b.nix`.
fn display_path(rel: &str) -> String {
    if rel == "." {
        "./.".to_string()
    } else {
        format!("./{rel}")
    }
}

fn notes(
    opts: &InitOptions,
    source: &Option<Source>,
    target: &Target,
    build: &str,
    name: &str,
    cached: bool,
) -> Vec<String> {
    let attr = syntax::attr_name(name);
    let mut notes = Vec::new();
    match opts.kind {
        Kind::Shell => {
            let prefix = if target.config.is_empty() {
                target.system.clone()
            } else {
                target.config.clone()
            };
            let enter = if name == "default" {
                "nix develop".to_string()
            } else {
                format!("nix develop .#{attr}")
            };
            notes.push(format!(
                "`{enter}` on {build} opens a shell whose compiler builds for {prefix}: `{prefix}-cc` (also in $CC), with the libraries from buildInputs built for the target"
            ));
            notes.push(format!(
                "cache.nixos.org has little of what pkgsCross builds, so the first `{enter}` compiles the cross toolchain"
            ));
        }
        Kind::Package => {
            let runs = if name == "default" {
                String::new()
            } else {
                format!(".#{attr}")
            };
            match opts.mode {
                Mode::Cross => {
                    notes.push(format!(
                        "`nix build{}` on {build} builds it for {}: the result runs on the target, not on the build machine",
                        if runs.is_empty() { String::new() } else { format!(" {runs}") },
                        if target.config.is_empty() { &target.system } else { &target.config }
                    ));
                    notes.extend(cross_notes(target, build));
                }
                Mode::Emulate | Mode::Native => {
                    let cmd = if target.system == build {
                        format!(
                            "nix build{}",
                            if runs.is_empty() {
                                String::new()
                            } else {
                                format!(" {runs}")
                            }
                        )
                    } else {
                        format!(
                            "nix build .#packages.{}.{attr}",
                            syntax::attr_name(&target.system)
                        )
                    };
                    notes.push(format!("`{cmd}` builds it natively for {}", target.system));
                    notes.extend(emulate_notes(target, build, cached));
                }
            }
            if let Some(Source::Call(c)) = source {
                notes.push(format!(
                    "callPackage reads {}: a function of its dependencies, such as `{{ stdenv, zlib }}: stdenv.mkDerivation {{ ... }}`. In a git repository, `git add` it: a flake sees only tracked files",
                    display_path(c)
                ));
            }
        }
        Kind::Nixos => {}
    }
    notes
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::init::render as init;

    fn opts(kind: Kind, target: &str, mode: Mode) -> InitOptions {
        InitOptions {
            kind,
            host: Some("x86_64-linux".into()),
            ..InitOptions::new(target, mode)
        }
    }

    #[test]
    fn names() {
        assert_eq!(output_name(Kind::Package, Some("hello")), "hello");
        assert_eq!(
            output_name(Kind::Package, Some("python3Packages.numpy")),
            "numpy"
        );
        assert_eq!(output_name(Kind::Package, None), "default");
        assert_eq!(output_name(Kind::Shell, None), "default");
    }

    #[test]
    fn files_stay_inside_the_flake() {
        assert_eq!(flake_file("./package.nix").unwrap(), "package.nix");
        assert_eq!(flake_file("nix//pkg.nix").unwrap(), "nix/pkg.nix");
        assert_eq!(flake_file("./").unwrap(), ".");
        for bad in [
            "/etc/x.nix",
            "../x.nix",
            "a/../../x",
            "~/x.nix",
            "<nixpkgs>",
            "",
            "a\nb",
        ] {
            assert!(flake_file(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_shell_has_the_cross_mkshell_and_its_libraries() {
        let o = InitOptions {
            packages: vec!["zlib".into(), "python3Packages.numpy".into()],
            ..opts(Kind::Shell, "aarch64-multiplatform", Mode::Cross)
        };
        let out = init(&o).unwrap();
        let t = &out.text;
        assert!(
            t.contains(
                "targetPkgs = nixpkgs.legacyPackages.x86_64-linux.pkgsCross.aarch64-multiplatform;"
            ),
            "{t}"
        );
        assert!(
            t.contains("devShells.x86_64-linux.default = targetPkgs.mkShell {"),
            "{t}"
        );
        assert!(t.contains("targetPkgs.python3Packages.numpy\n"), "{t}");
        let notes = out.notes.join("\n");
        assert!(notes.contains("aarch64-unknown-linux-gnu-cc"), "{notes}");
    }

    #[test]
    fn refusals() {
        let err = |o: InitOptions| init(&o).unwrap_err();
        let e = err(opts(Kind::Package, "riscv64-linux", Mode::Cross));
        assert!(e.message.contains("needs what to build"), "{e:?}");
        let e = err(InitOptions {
            packages: vec!["a".into(), "b".into()],
            ..opts(Kind::Package, "riscv64-linux", Mode::Cross)
        });
        assert!(e.message.contains("once"), "{e:?}");
        let e = err(InitOptions {
            packages: vec!["a".into()],
            call: Some("./x.nix".into()),
            ..opts(Kind::Package, "riscv64-linux", Mode::Cross)
        });
        assert!(e.message.contains("one of them"), "{e:?}");
        let e = err(InitOptions {
            call: Some("./x.nix".into()),
            ..opts(Kind::Shell, "riscv64-linux", Mode::Cross)
        });
        assert!(e.message.contains("--call builds a package"), "{e:?}");
        let e = err(opts(Kind::Shell, "riscv64-linux", Mode::Emulate));
        assert!(e.message.contains("cannot be emulated"), "{e:?}");
        let e = err(opts(Kind::Shell, "x86_64-linux", Mode::Cross));
        assert!(e.message.contains("own platform"), "{e:?}");
        assert!(e.hints[0].contains("mkShell"), "{e:?}");
        let e = err(InitOptions {
            packages: vec!["a..b".into()],
            ..opts(Kind::Package, "riscv64-linux", Mode::Cross)
        });
        assert!(e.message.contains("empty part"), "{e:?}");
        for bad in [
            "hello; rm",
            "python3Packages.a b",
            "if",
            "hello.${x}",
            "\"x\"",
        ] {
            let e = err(InitOptions {
                packages: vec![bad.into()],
                ..opts(Kind::Package, "riscv64-linux", Mode::Cross)
            });
            assert!(
                e.message.contains("not an attribute path of identifiers"),
                "{bad}: {e:?}"
            );
            let e = err(InitOptions {
                packages: vec!["zlib".into(), bad.into()],
                ..opts(Kind::Shell, "riscv64-linux", Mode::Cross)
            });
            assert!(e.message.contains("a library (--package)"), "{bad}: {e:?}");
        }
        let e = err(InitOptions {
            packages: vec!["hello".into()],
            ..opts(Kind::Package, "mingwW64", Mode::Emulate)
        });
        assert!(e.message.contains("under emulation"), "{e:?}");
        let e = err(InitOptions {
            packages: vec!["hello".into()],
            ..opts(Kind::Nixos, "riscv64-linux", Mode::Cross)
        });
        assert!(e.hints[0].contains("--kind package"), "{e:?}");
    }
}
