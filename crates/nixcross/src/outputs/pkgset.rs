//! Which nixpkgs package set builds a flake output for a target, and how a
//! flake names it. `init --kind package|shell` writes these, and
//! `set-target --package|--shell` rewrites an output to one of them.
//!
//! - A cross build whose target is, or elaborates to exactly, a
//!   `pkgsCross` example takes `nixpkgs.legacyPackages.<build>.pkgsCross.<example>`.
//! - Any other cross build spells the platforms out:
//!   `import nixpkgs { localSystem = ...; crossSystem = { config = ...; }; }`.
//! - An emulated (native) build of a double's own platform takes
//!   `nixpkgs.legacyPackages.<system>` when nixpkgs exposes it
//!   (`lib.systems.flakeExposed`), and `import nixpkgs { localSystem = ...; }`
//!   otherwise.

use crate::error::{Error, Result};
use crate::platform::{self, Example, Target};
use crate::syntax;
use crate::vocab::Mode;

/// How a flake names one platform to nixpkgs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PlatformSpec {
    /// `{ system = "<double>"; }`: the double's own platform.
    System(String),
    /// `{ config = "<triple>"; }`.
    Config(String),
    /// `<nixpkgs>.lib.systems.examples.<name>`: an example that sets more
    /// than a triple, used whole.
    Example(String),
}

/// The package set an output takes its packages (or `mkShell`, or
/// `callPackage`) from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PkgSet {
    /// `<nixpkgs>.legacyPackages.<system>`: native packages of a
    /// flake-exposed double.
    Legacy { system: String },
    /// `<nixpkgs>.legacyPackages.<build>.pkgsCross.<example>`.
    PkgsCross { build: String, example: String },
    /// `import <nixpkgs> { localSystem = ...; crossSystem = ...; }`
    /// (`crossSystem` only for a cross build).
    Import {
        local: PlatformSpec,
        cross: Option<PlatformSpec>,
    },
}

/// The `pkgsCross` example a target is, or elaborates to exactly: the one
/// the user named, else the first example (in nixpkgs' order) with the
/// target's triple that is exactly that triple (see
/// [`platform::Example::exact`]). Examples that set nothing but the triple
/// come first.
pub fn exact_example(target: &Target) -> Option<&'static Example> {
    let cat = platform::catalogue();
    if let Some(name) = &target.example {
        return cat.example(name);
    }
    if target.config.is_empty() {
        return None;
    }
    let mut exact = cat
        .examples
        .iter()
        .filter(|e| e.exact && e.config == target.config);
    let first = exact.next()?;
    Some(
        std::iter::once(first)
            .chain(exact)
            .find(|e| e.extra.is_empty())
            .unwrap_or(first),
    )
}

/// Whether the target is exactly the build machine's own platform: the
/// double's default triple, no example with extra settings.
pub fn is_build_platform(target: &Target, build: &str) -> bool {
    target.system == build && !target.needs_config() && !target.example_has_extras
}

/// How a cross build names its target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CrossPart {
    /// `pkgsCross.<example>`: the target is, or elaborates to exactly, it.
    Example(String),
    /// No example is exactly the target: `crossSystem = <spec>`.
    Spec(PlatformSpec),
}

/// How a cross build names `target`: its exact example, else the
/// platform spelled out.
pub fn cross_part(target: &Target) -> CrossPart {
    match exact_example(target) {
        Some(e) => CrossPart::Example(e.name.clone()),
        None => CrossPart::Spec(cross_spec(target)),
    }
}

impl CrossPart {
    /// As `crossSystem` of an `import nixpkgs`.
    pub fn spec(&self) -> PlatformSpec {
        match self {
            CrossPart::Example(e) => PlatformSpec::Example(e.clone()),
            CrossPart::Spec(s) => s.clone(),
        }
    }
}

/// The target as the host side of an `import nixpkgs`: the example when it
/// carries extras, else the triple (or the double, for a system the
/// catalogue has no triple for).
fn cross_spec(target: &Target) -> PlatformSpec {
    match &target.example {
        Some(name) if target.example_has_extras => PlatformSpec::Example(name.clone()),
        _ if !target.config.is_empty() => PlatformSpec::Config(target.config.clone()),
        _ => PlatformSpec::System(target.system.clone()),
    }
}

/// The target as the platform a native (emulated) build runs on.
pub fn native_spec(target: &Target) -> PlatformSpec {
    match &target.example {
        Some(name) if target.example_has_extras => PlatformSpec::Example(name.clone()),
        _ if target.needs_config() && !target.config.is_empty() => {
            PlatformSpec::Config(target.config.clone())
        }
        _ => PlatformSpec::System(target.system.clone()),
    }
}

/// Whether the nixpkgs flake has `legacyPackages.<system>`.
pub fn flake_exposed(system: &str) -> bool {
    platform::catalogue()
        .flake_exposed
        .iter()
        .any(|s| s == system)
}

/// Why an emulated build of `target` on `build` cannot work, if it cannot.
pub(crate) fn emulation_refusal(target: &Target, build: &str) -> Option<Error> {
    if target.system == build {
        return None;
    }
    if !target.is_linux() {
        return Some(
            Error::invalid(format!(
                "{} cannot be built under emulation: nixpkgs builds natively for it only on {0} itself, and QEMU runs Linux programs only",
                target.system
            ))
            .hint("use --mode cross"),
        );
    }
    if !platform::catalogue().can_emulate(&target.system) {
        return Some(
            Error::invalid(format!(
                "NixOS has no emulator for {}: boot.binfmt.emulatedSystems does not accept it",
                target.system
            ))
            .hint("use --mode cross"),
        );
    }
    None
}

/// The package set that builds for `target` on the machine `build` (a
/// system double) in `mode`. Refuses a cross build to the build machine's
/// own platform, and an emulated build of a platform QEMU cannot run.
pub fn package_set(target: &Target, build: &str, mode: Mode) -> Result<PkgSet> {
    match mode {
        Mode::Cross => {
            if is_build_platform(target, build) {
                return Err(Error::invalid(format!(
                    "{} is the build machine's own platform: there is nothing to cross-compile",
                    target.system
                ))
                .hint("use --mode emulate for a native build, or pass --host with the build machine's system"));
            }
            match cross_part(target) {
                CrossPart::Example(example) if flake_exposed(build) => Ok(PkgSet::PkgsCross {
                    build: build.to_string(),
                    example,
                }),
                part => Ok(PkgSet::Import {
                    local: PlatformSpec::System(build.to_string()),
                    cross: Some(part.spec()),
                }),
            }
        }
        Mode::Emulate | Mode::Native => {
            if let Some(e) = emulation_refusal(target, build) {
                return Err(e);
            }
            let spec = native_spec(target);
            match spec {
                PlatformSpec::System(system) if flake_exposed(&system) => {
                    Ok(PkgSet::Legacy { system })
                }
                spec => Ok(PkgSet::Import {
                    local: spec,
                    cross: None,
                }),
            }
        }
    }
}

impl PlatformSpec {
    /// The Nix text, on one line. `nixpkgs` is the expression that reaches
    /// the nixpkgs flake (for `<nixpkgs>.lib.systems.examples`).
    pub fn text(&self, nixpkgs: &str) -> String {
        match self {
            PlatformSpec::System(s) => format!("{{ system = {}; }}", syntax::quote(s)),
            PlatformSpec::Config(c) => format!("{{ config = {}; }}", syntax::quote(c)),
            PlatformSpec::Example(e) => {
                format!("{nixpkgs}.lib.systems.examples.{}", syntax::attr_name(e))
            }
        }
    }
}

impl PkgSet {
    /// The Nix text, on one line, with `nixpkgs` the expression that
    /// reaches the nixpkgs flake. An `import` is parenthesised when
    /// `primary` is set (it is followed by `.attr` or is a list item).
    pub fn text(&self, nixpkgs: &str, primary: bool) -> String {
        match self {
            PkgSet::Legacy { system } => {
                format!("{nixpkgs}.legacyPackages.{}", syntax::attr_name(system))
            }
            PkgSet::PkgsCross { build, example } => format!(
                "{nixpkgs}.legacyPackages.{}.pkgsCross.{}",
                syntax::attr_name(build),
                syntax::attr_name(example)
            ),
            PkgSet::Import { local, cross } => {
                let mut s = format!("import {nixpkgs} {{ localSystem = {};", local.text(nixpkgs));
                if let Some(c) = cross {
                    s.push_str(&format!(" crossSystem = {};", c.text(nixpkgs)));
                }
                s.push_str(" }");
                if primary {
                    format!("({s})")
                } else {
                    s
                }
            }
        }
    }

    /// True for a cross-compiling set.
    #[cfg(test)]
    pub fn is_cross(&self) -> bool {
        match self {
            PkgSet::Legacy { .. } => false,
            PkgSet::PkgsCross { .. } => true,
            PkgSet::Import { cross, .. } => cross.is_some(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(target: &str, build: &str, mode: Mode) -> Result<PkgSet> {
        package_set(&platform::resolve(target).unwrap(), build, mode)
    }

    #[test]
    fn examples_are_found_for_doubles_and_triples() {
        let name = |t: &str| exact_example(&platform::resolve(t).unwrap()).map(|e| &e.name[..]);
        assert_eq!(name("aarch64-linux"), Some("aarch64-multiplatform"));
        assert_eq!(name("aarch64-multiplatform"), Some("aarch64-multiplatform"));
        assert_eq!(
            name("aarch64-unknown-linux-musl"),
            Some("aarch64-multiplatform-musl")
        );
        assert_eq!(name("armv7l-linux"), Some("armv7l-hf-multiplatform"));
        assert_eq!(name("raspberryPi"), Some("raspberryPi"));
        // The double is msvc; no example is exactly that.
        assert_eq!(name("x86_64-windows"), None);
        // msvcrt is mingw's default libc; ucrt64 sets another one.
        assert_eq!(name("x86_64-w64-mingw32"), Some("mingw-msvcrt-x86_64"));
        // raspberryPi's gcc flags are what armv6l-linux elaborates to.
        assert_eq!(name("armv6l-linux"), Some("raspberryPi"));
        assert_eq!(name("x86_64-freebsd"), Some("x86_64-freebsd"));
        assert_eq!(name("arm-none-eabi"), Some("arm-embedded"));
        assert_eq!(name("arm-none"), None);
        assert_eq!(name("mips64el-linux"), None);
        assert_eq!(name("alpha-linux"), None);
    }

    #[test]
    fn cross_sets() {
        assert_eq!(
            set("aarch64-linux", "x86_64-linux", Mode::Cross).unwrap(),
            PkgSet::PkgsCross {
                build: "x86_64-linux".into(),
                example: "aarch64-multiplatform".into()
            }
        );
        assert_eq!(
            set("x86_64-windows", "x86_64-linux", Mode::Cross).unwrap(),
            PkgSet::Import {
                local: PlatformSpec::System("x86_64-linux".into()),
                cross: Some(PlatformSpec::Config("x86_64-pc-windows-msvc".into()))
            }
        );
        // A build machine nixpkgs does not expose: the example, imported.
        assert_eq!(
            set("riscv64", "mips64el-linux", Mode::Cross).unwrap(),
            PkgSet::Import {
                local: PlatformSpec::System("mips64el-linux".into()),
                cross: Some(PlatformSpec::Example("riscv64".into()))
            }
        );
        assert!(set("gnu64", "x86_64-linux", Mode::Cross).is_err());
        assert!(set("x86_64-linux", "x86_64-linux", Mode::Cross).is_err());
        assert!(set("musl64", "x86_64-linux", Mode::Cross).is_ok());
    }

    #[test]
    fn emulated_sets() {
        assert_eq!(
            set("riscv64-linux", "x86_64-linux", Mode::Emulate).unwrap(),
            PkgSet::Legacy {
                system: "riscv64-linux".into()
            }
        );
        assert_eq!(
            set("mips64el-linux", "x86_64-linux", Mode::Emulate).unwrap(),
            PkgSet::Import {
                local: PlatformSpec::System("mips64el-linux".into()),
                cross: None
            }
        );
        assert_eq!(
            set("aarch64-unknown-linux-musl", "x86_64-linux", Mode::Emulate).unwrap(),
            PkgSet::Import {
                local: PlatformSpec::Config("aarch64-unknown-linux-musl".into()),
                cross: None
            }
        );
        assert_eq!(
            set("raspberryPi", "x86_64-linux", Mode::Emulate).unwrap(),
            PkgSet::Import {
                local: PlatformSpec::Example("raspberryPi".into()),
                cross: None
            }
        );
        for refused in ["mingwW64", "wasi32", "avr", "m68k-linux", "x86_64-darwin"] {
            let e = set(refused, "x86_64-linux", Mode::Emulate).unwrap_err();
            assert!(e.hints.iter().any(|h| h.contains("--mode cross")), "{e:?}");
        }
        // Native: the build machine's own platform needs no emulator.
        assert!(set("x86_64-darwin", "x86_64-darwin", Mode::Emulate).is_ok());
    }

    #[test]
    fn texts() {
        let s = set("x86_64-windows", "x86_64-linux", Mode::Cross).unwrap();
        assert_eq!(
            s.text("nixpkgs", true),
            r#"(import nixpkgs { localSystem = { system = "x86_64-linux"; }; crossSystem = { config = "x86_64-pc-windows-msvc"; }; })"#
        );
        let s = set("aarch64-linux", "x86_64-linux", Mode::Cross).unwrap();
        assert_eq!(
            s.text("inputs.nixpkgs", true),
            "inputs.nixpkgs.legacyPackages.x86_64-linux.pkgsCross.aarch64-multiplatform"
        );
        assert!(s.is_cross());
    }
}
