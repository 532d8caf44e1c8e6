//! Operations: one module per command that computes something. Each takes an
//! options struct and returns text, planned edits or a model; none touches a
//! file.

pub mod init;
