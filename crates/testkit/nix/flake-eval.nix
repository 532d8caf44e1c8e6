# Evaluate every nixosConfigurations entry of the flake in `dir` with the
# module model of ./nixos.nix, and stand-ins for the inputs:
# - every input named nixpkgs* (and `nixos-unstable`) is a nixpkgs whose
#   `lib.nixosSystem` is the model and whose `import` is ./pkgs (recording);
# - flake-parts' `lib.mkFlake` evaluates its modules' `flake` outputs
#   (`imports` followed);
# - any other input is a flake with empty modules under `nixosModules`.
# Returns { <name> = { build; host; mixed; style; ... } or { error = ...; }; }.
# `ellipsis`: whether `outputs` takes `...` (or a plain `inputs:`), so that
# every input can be passed; otherwise only the ones it names.
{ dir, examples ? { }, ellipsis ? true }:
let
  nixos = import ./nixos.nix { inherit examples; };
  inherit (nixos) lib;
  flake = import (dir + "/flake.nix");
  nixpkgs = {
    outPath = ./pkgs;
    inherit lib;
    legacyPackages = builtins.mapAttrs (system: _: import ./pkgs { localSystem = system; })
      { x86_64-linux = 1; aarch64-linux = 1; riscv64-linux = 1; };
  };
  stub = name: {
    outPath = "/inputs/${name}";
    nixosModules = builtins.listToAttrs (map (n: { name = n; value = { }; })
      [ "default" "home-manager" "sops" "disko" "impermanence" "raspberry-pi-4" name ]);
    inputs = { };
  };
  mkFlake = args: module:
    let
      call = m:
        let v = if builtins.isPath m then import m else m;
        in if builtins.isFunction v
           then v (builtins.intersectAttrs (builtins.functionArgs v) { inherit (args) inputs; inherit lib self; config = { }; withSystem = _: f: f { }; })
           else v;
      walk = ms: builtins.concatMap (m: let v = call m; in [ v ] ++ walk (v.imports or [ ])) ms;
      flakes = map (v: v.flake or { }) (walk [ module ]);
    in { nixosConfigurations = builtins.foldl' (a: f: a // (f.nixosConfigurations or { })) { } flakes; };
  names = builtins.attrNames (builtins.functionArgs flake.outputs) ++ builtins.attrNames (flake.inputs or { });
  isNixpkgs = n: lib.hasPrefix "nixpkgs" n || n == "nixos-unstable" || n == "nixos";
  inputs = builtins.listToAttrs (map (n: {
      name = n;
      value = if isNixpkgs n then nixpkgs
              else if n == "flake-parts" then { lib.mkFlake = mkFlake; }
              else stub n;
    }) (names ++ [ "nixpkgs" ])) // { inherit self; };
  given = if ellipsis || builtins.functionArgs flake.outputs == { } then inputs
          else builtins.intersectAttrs (builtins.functionArgs flake.outputs) inputs;
  self = flake.outputs given // { outPath = dir; inherit inputs; };
  configs = self.nixosConfigurations or { };
  try = v: let r = builtins.tryEval (builtins.deepSeq v v); in if r.success then r.value else { error = "does not evaluate"; };
in
builtins.mapAttrs (n: c: try c) configs
