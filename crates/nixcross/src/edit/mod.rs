//! Planned text edits. (to be written)
