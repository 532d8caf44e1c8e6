# A stand-in for the nixpkgs flake, for the tests of `--verify`, which asks
# the user's `nix` about a configuration (`nix eval path:...#nixosConfigurations.NAME`).
# The testkit lays it out in a folder (`NixpkgsFlake`) next to ./nixos.nix,
# ./pkgs and ./examples.json; test flakes take it as
# `inputs.nixpkgs.url = "path:<folder>"`.
#
# `lib.nixosSystem` is the module model's `evalNixos` (./nixos.nix): it
# returns `config` and `pkgs` as NixOS does. `import nixpkgs { ... }` is
# ./default.nix. ./honest.nix says which variant this is: `true` evaluates
# what the configuration says; `false` lies (every configuration built
# natively for x86_64-linux, overlays ignored, nothing emulated, no
# builders), so a true edit must be refused.
{
  outputs = { self }:
    let
      nixos = import ./nixos.nix {
        examples = builtins.fromJSON (builtins.readFile ./examples.json);
        honest = import ./honest.nix;
      };
    in
    {
      lib = nixos.lib // { nixosSystem = nixos.evalNixos; };
    };
}
