//! Views over a flake. (to be written)
