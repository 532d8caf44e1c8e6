//! Flake outputs that are not NixOS systems: `packages` and `devShells`
//! built for another platform, by a cross toolchain or natively (under
//! emulation).
//!
//! - [`pkgset`]: which nixpkgs package set builds for a target, and how a
//!   flake names it (shared by `init --kind package|shell` and the retarget
//!   planner).
//!
//! This module depends only on `syntax`, `module`, `edit`, `platform` and
//! `vocab`, not on the NixOS view in `flake`.

pub mod pkgset;

pub use pkgset::{exact_example, package_set, PkgSet, PlatformSpec};
