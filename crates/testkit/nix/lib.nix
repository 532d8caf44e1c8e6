# The parts of nixpkgs' `lib` that the tests' flakes and modules call.
let
  # pkgsCross name -> config triple, written by `StandIns::new`.
  examples = builtins.fromJSON (builtins.readFile ./examples.json);
in
{
  # Records its arguments: a configuration evaluates to what it was given
  # (`system`, `modules`, `specialArgs`).
  nixosSystem = args: args;
  # The example's name survives evaluation next to its triple.
  systems.examples = builtins.mapAttrs (name: config: { inherit config; example = name; }) examples;
  mkDefault = x: x;
  mkForce = x: x;
  mkOverride = _: x: x;
  mkIf = _: x: x;
  optionals = c: l: if c then l else [ ];
  mkEnableOption = _: { };
}
