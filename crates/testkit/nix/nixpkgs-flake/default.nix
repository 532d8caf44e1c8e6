# `import nixpkgs { ... }` of the stand-in nixpkgs flake (./flake.nix): the
# recording package set, which the dishonest variant gives no overlays.
args:
import ./pkgs (if import ./honest.nix then args else builtins.removeAttrs args [ "overlays" ])
