//! The words every operation shares: what a flake builds ([`Kind`]), how a
//! target is built ([`Mode`]) and which NixOS options name its platforms
//! ([`Style`]). One type each, used by
//! the library and by the command line (whose own clap values turn into
//! them). How a file is laid out (indentation, line ending) is
//! the crate's internal `syntax::Layout`.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// How the target's packages are built. `Emulate` and `Native` write the
/// same flake (the target built natively, no cross toolchain); they differ
/// in the machine that builds it: one of another system, under QEMU, or
/// one of the target's own system.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Cross-compile on the build machine: fast, almost nothing comes from the binary cache
    Cross,
    /// Build natively for the target, under QEMU on a machine of another system: slow, but cached
    Emulate,
    /// Build on a machine of the target's own system: no emulation, no cross toolchain
    Native,
}

/// Which NixOS options say where a system is built and where it runs.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Style {
    /// `system` plus `nixpkgs.crossSystem`, as most guides write it
    #[default]
    Legacy,
    /// `nixpkgs.hostPlatform`, plus `nixpkgs.buildPlatform` for a cross build
    Modern,
}

/// What a flake written by `nixcross init` builds for the target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// A NixOS system (`nixosConfigurations`)
    #[default]
    Nixos,
    /// A package for the target (`packages`), cross-compiled or emulated
    Package,
    /// A development shell with the target's cross compiler (`devShells`)
    Shell,
}

impl Kind {
    /// The word used on the command line and in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Nixos => "nixos",
            Kind::Package => "package",
            Kind::Shell => "shell",
        }
    }
}

impl FromStr for Kind {
    type Err = Error;
    fn from_str(s: &str) -> Result<Kind> {
        match s {
            "nixos" => Ok(Kind::Nixos),
            "package" => Ok(Kind::Package),
            "shell" => Ok(Kind::Shell),
            _ => Err(Error::invalid(format!(
                "unknown kind `{s}`: expected nixos, package or shell"
            ))),
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Mode {
    /// The word used on the command line and in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Cross => "cross",
            Mode::Emulate => "emulate",
            Mode::Native => "native",
        }
    }

    /// Whether a cross toolchain builds the target (build and host
    /// platforms differ); `Emulate` and `Native` build it natively.
    pub fn is_cross(self) -> bool {
        self == Mode::Cross
    }

    /// Refuse a native build of `host` by a machine of another system,
    /// `build` (both system doubles): that is an emulated build.
    pub fn check_builder(self, host: &str, build: &str) -> Result<()> {
        if self == Mode::Native && host != build {
            return Err(Error::invalid(format!(
                "a native build of {host} is built by a machine of that system, not {build}"
            ))
            .hint(
                "use --mode emulate to build it under QEMU on another system, or leave out --host",
            ));
        }
        Ok(())
    }
}

impl Style {
    /// The word used on the command line and in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Style::Legacy => "legacy",
            Style::Modern => "modern",
        }
    }
}

impl FromStr for Mode {
    type Err = Error;
    fn from_str(s: &str) -> Result<Mode> {
        match s {
            "cross" => Ok(Mode::Cross),
            "emulate" => Ok(Mode::Emulate),
            "native" => Ok(Mode::Native),
            _ => Err(Error::invalid(format!(
                "unknown mode `{s}`: expected cross, emulate or native"
            ))),
        }
    }
}

impl FromStr for Style {
    type Err = Error;
    fn from_str(s: &str) -> Result<Style> {
        match s {
            "legacy" => Ok(Style::Legacy),
            "modern" => Ok(Style::Modern),
            _ => Err(Error::invalid(format!(
                "unknown style `{s}`: expected legacy or modern"
            ))),
        }
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Display for Style {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Module priorities (`lib/modules.nix`; the lowest number wins).
/// `lib.mkForce`.
pub(crate) const MK_FORCE: u32 = 50;
/// The priority of a plain definition.
pub(crate) const PLAIN: u32 = 100;
/// `lib.mkDefault`.
pub(crate) const MK_DEFAULT: u32 = 1000;
/// `lib.mkOptionDefault`, and an option's own default.
pub(crate) const MK_OPTION_DEFAULT: u32 = 1500;

/// A boolean option of the build host that nixcross writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum Toggle {
    /// `nix.distributedBuilds`.
    DistributedBuilds,
    /// `nix.settings.builders-use-substitutes`.
    BuildersUseSubstitutes,
    /// `boot.binfmt.preferStaticEmulators`.
    PreferStaticEmulators,
}

impl Toggle {
    /// Every toggle.
    pub const ALL: [Toggle; 3] = [
        Toggle::DistributedBuilds,
        Toggle::BuildersUseSubstitutes,
        Toggle::PreferStaticEmulators,
    ];

    /// The option's path.
    pub fn path(self) -> &'static [&'static str] {
        match self {
            Toggle::DistributedBuilds => &["nix", "distributedBuilds"],
            Toggle::BuildersUseSubstitutes => &["nix", "settings", "builders-use-substitutes"],
            Toggle::PreferStaticEmulators => &["boot", "binfmt", "preferStaticEmulators"],
        }
    }

    /// The option's name, dotted.
    pub fn dotted(self) -> String {
        self.path().join(".")
    }
}

impl fmt::Display for Toggle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.dotted())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_round_trip() {
        for m in [Mode::Cross, Mode::Emulate, Mode::Native] {
            assert_eq!(m.as_str().parse::<Mode>().unwrap(), m);
        }
        for s in [Style::Legacy, Style::Modern] {
            assert_eq!(s.as_str().parse::<Style>().unwrap(), s);
        }
        for k in [Kind::Nixos, Kind::Package, Kind::Shell] {
            assert_eq!(k.as_str().parse::<Kind>().unwrap(), k);
        }
        assert!("emulated".parse::<Mode>().is_err());
        assert!("flake".parse::<Kind>().is_err());
    }
}
