//! nixcross: cross-compiled and emulated NixOS flakes, written from templates
//! and edited in place without disturbing a byte outside the edit.
//!
//! The library is pure: text goes in, and text, planned edits or a model come
//! out. It never touches files, the terminal or the process; the `nixcross`
//! binary does that. See `ARCHITECTURE.md` at the repository root for the
//! code map and the invariants.

pub mod binfmt;
pub mod doctor;
pub mod edit;
pub mod error;
pub mod eval;
pub mod files;
pub mod flake;
pub mod machines;
pub mod module;
pub mod ops;
pub mod outputs;
pub mod platform;
pub mod render;
pub mod source;
pub mod spec;
pub mod syntax;
pub mod vocab;

pub use error::{Error, ErrorKind, Result};

/// The README's Rust examples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
