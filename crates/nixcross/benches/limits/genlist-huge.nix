# A worst case for the evaluator's budget (benches/limits.rs): nixcross
# must answer quickly, in bounded memory, with the reason it stopped.
{
  outputs = { self, nixpkgs }: {
    nixosConfigurations.a = nixpkgs.lib.nixosSystem {
      system = builtins.substring 0 0 (builtins.toString (builtins.length (builtins.genList (x: x) 1000000000))) + "x86_64-linux";
      modules = [ ];
    };
  };
}
