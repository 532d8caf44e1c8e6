//! Views over a NixOS module. (to be written)
