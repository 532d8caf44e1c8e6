# The options NixOS declares for remote builders (nix.buildMachines with the
# submodule of nixos/modules/config/nix-remote-build.nix, nix.distributedBuilds,
# nix.settings.builders-use-substitutes), for evaluating modules with the REAL
# nixpkgs lib (`lib.evalModules`) in opt-in tests. Everything else a module
# sets, at the top level or under `nix`, is accepted free-form.
{ lib, ... }:
let
  inherit (lib) mkOption types;
  freeform = types.attrsOf types.anything;
  machine = types.submodule {
    options = {
      hostName = mkOption { type = types.str; };
      protocol = mkOption { type = types.enum [ null "ssh" "ssh-ng" ]; default = "ssh"; };
      system = mkOption { type = types.nullOr types.str; default = null; };
      systems = mkOption { type = types.listOf types.str; default = [ ]; };
      sshUser = mkOption { type = types.nullOr types.str; default = null; };
      sshKey = mkOption { type = types.nullOr types.str; default = null; };
      maxJobs = mkOption { type = types.int; default = 1; };
      speedFactor = mkOption { type = types.numbers.positive; default = 1; };
      mandatoryFeatures = mkOption { type = types.listOf types.str; default = [ ]; };
      supportedFeatures = mkOption { type = types.listOf types.str; default = [ ]; };
      publicHostKey = mkOption { type = types.nullOr types.str; default = null; };
    };
  };
in
{
  config._module.freeformType = freeform;
  options.nix = mkOption {
    default = { };
    type = types.submodule {
      freeformType = freeform;
      options = {
        buildMachines = mkOption { type = types.listOf machine; default = [ ]; };
        distributedBuilds = mkOption { type = types.bool; default = false; };
        settings = mkOption {
          default = { };
          type = types.submodule {
            freeformType = freeform;
            options.builders-use-substitutes = mkOption { type = types.nullOr types.bool; default = null; };
          };
        };
      };
    };
  };
}
