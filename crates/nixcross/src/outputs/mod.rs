//! Flake outputs that are not NixOS systems: `packages` and `devShells`
//! built for another platform, by a cross toolchain or natively (under
//! emulation).
//!
//! - `pkgset`: which nixpkgs package set builds for a target, and how a
//!   flake names it (shared by `init --kind package|shell` and the retarget
//!   planner).
//! - `eval`: a small evaluator of the shapes flakes build packages with,
//!   tracking package sets and where they are written.
//! - `read`: [`read_outputs`], every package and dev shell with its build
//!   and host platform, or the reason nixcross cannot follow it.
//! - `retarget`: [`plan_retarget`], `set-target --package/--shell`.
//!
//! This module depends only on `syntax`, `module`, `edit`, `platform` and
//! `vocab`, not on the NixOS view in `flake`.

mod eval;
pub(crate) mod pkgset;
mod read;
mod retarget;

pub(crate) use pkgset::{package_set, PkgSet, PlatformSpec};
pub use read::{read_outputs, OutputReport};
pub use retarget::{plan_retarget, retarget, RetargetOptions};
