//! nixcross: cross-compiled and emulated NixOS flakes, written from templates
//! and edited in place without disturbing a byte outside the edit.
//!
//! The library is pure: text goes in, and text, planned edits or a model come
//! out. It never touches files, the terminal or the process; the `nixcross`
//! binary does that. See `ARCHITECTURE.md` at the repository root for the
//! code map and the invariants.
//!
//! - [`ops`]: the operations. Each takes an options struct and plans an edit
//!   ([`edit::Plan`]), applies one ([`edit::Outcome`]) or reports
//!   ([`ops::show::show`]).
//! - [`flake::Flake`]: a flake's NixOS configurations and their platforms,
//!   as NixOS decides them across files.
//! - [`outputs`]: a flake's packages and dev shells.
//! - [`files`]: the tree of files an operation reads ([`files::Files`],
//!   [`files::MemFiles`]); [`edit`]: plans, outcomes and transactions.
//! - [`platform`]: the catalogue of the platforms nixpkgs knows.
//! - [`spec`]: `nixcross.yaml`, the declarative spec.
//! - [`doctor`], [`binfmt`], [`machines`]: the build host, binfmt_misc and
//!   remote builders.
//! - [`vocab`]: the words the operations share; [`error`]: the one error
//!   type.

#![warn(missing_docs)]

pub mod binfmt;
pub mod doctor;
pub mod edit;
pub mod error;
pub(crate) mod eval;
pub mod files;
pub mod flake;
pub mod machines;
pub(crate) mod module;
pub mod ops;
pub mod outputs;
pub mod platform;
pub(crate) mod proof;
pub(crate) mod render;
pub(crate) mod source;
pub mod spec;
pub(crate) mod syntax;
pub mod vocab;

pub use error::{Diagnostic, Error, ErrorKind, Result, Severity, TextRange};

/// Internals that nixcross's own integration tests and benchmarks use. Not
/// part of the API: hidden from the documentation, and it may change in any
/// release.
#[doc(hidden)]
pub mod test_support {
    pub use crate::module::places::nested_nixos_modules;
    pub use crate::render::nix_string;
    pub use crate::syntax::{
        comment_points, is_builtin_name, parse, parse_only, Entry, Param, NIX_BUILTINS,
    };
}

/// The README's Rust examples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
