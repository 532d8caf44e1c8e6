//! The words every operation shares: how a target is built ([`Mode`]) and
//! which NixOS options name its platforms ([`Style`]). One type each, used by
//! the library and, through clap's `ValueEnum` (the `clap` feature), by the
//! command line. How a file is laid out (indentation, line ending) is
//! [`crate::syntax::Layout`].

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// How the target's packages are built.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
pub enum Mode {
    /// Cross-compile on the build machine: fast, almost nothing comes from the binary cache
    Cross,
    /// Build natively for the target, under QEMU on another machine: slow, but cached
    Emulate,
}

/// Which NixOS options say where a system is built and where it runs.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
pub enum Style {
    /// `system` plus `nixpkgs.crossSystem`, as most guides write it
    #[default]
    Legacy,
    /// `nixpkgs.hostPlatform`, plus `nixpkgs.buildPlatform` for a cross build
    Modern,
}

impl Mode {
    /// The word used on the command line and in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Cross => "cross",
            Mode::Emulate => "emulate",
        }
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
            _ => Err(Error::invalid(format!(
                "unknown mode `{s}`: expected cross or emulate"
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_round_trip() {
        for m in [Mode::Cross, Mode::Emulate] {
            assert_eq!(m.as_str().parse::<Mode>().unwrap(), m);
        }
        for s in [Style::Legacy, Style::Modern] {
            assert_eq!(s.as_str().parse::<Style>().unwrap(), s);
        }
        assert!("native".parse::<Mode>().is_err());
    }
}
