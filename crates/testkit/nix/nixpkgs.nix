# A recording stand-in for the `nixpkgs` flake input, for tests that evaluate
# flakes nixcross writes or edits (crates/testkit/src/lib.rs, `StandIns`).
# `import nixpkgs { ... }` reaches pkgs/default.nix through `outPath`.
{
  outPath = ./pkgs;
  lib = import ./lib.nix;
}
