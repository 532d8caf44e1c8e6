//! Operations: one module per command that computes something. Each takes an
//! options struct and returns text, a model, or planned edits
//! ([`crate::edit::Plan`], made with the shared planner in `editor`); none
//! touches a file.

pub mod add_builder;
pub mod add_config;
pub mod add_overlay;
pub mod apply;
pub(crate) mod comments;
pub(crate) mod editor;
pub mod emulate;
pub mod export;
pub mod init;
pub(crate) mod modules;
pub(crate) mod params;
pub mod set_target;
pub mod show;
