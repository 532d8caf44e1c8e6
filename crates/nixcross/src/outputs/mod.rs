//! Flake outputs that are not NixOS systems: `packages` and `devShells`
//! built for another platform, by a cross toolchain or natively (under
//! emulation).
//!
//! - `pkgset`: which nixpkgs package set builds for a target, and how a
//!   flake names it (shared by `init --kind package|shell` and the retarget
//!   planner).
//! - `read`: [`read_outputs`], every package and dev shell with its build
//!   and host platform, or the reason nixcross cannot follow it, evaluated
//!   by the crate's evaluator in its rewritable reading.
//! - `sets`: the package sets read there, with their platforms and where
//!   they are written.
//! - `retarget`: [`plan_retarget`], `set-target --package/--shell`.

pub(crate) mod pkgset;
mod read;
mod retarget;
mod sets;

pub(crate) use pkgset::{package_set, PkgSet, PlatformSpec};
pub use read::{read_outputs, OutputReport};
pub use retarget::{plan_retarget, retarget, RetargetOptions};
