//! set-target
