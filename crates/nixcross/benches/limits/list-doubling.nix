# A worst case for the evaluator's budget (benches/limits.rs): nixcross
# must answer quickly, in bounded memory, with the reason it stopped.
{
  outputs = { self, nixpkgs }: {
    nixosConfigurations.a = nixpkgs.lib.nixosSystem {
      system = let d = l: l ++ l; in builtins.substring 0 0 (builtins.toString (builtins.length (d (d (d (d (d (d (d (d (d (d (d (d (d (d (d (d (d (d (d (d (d (d (d (d (d (d (d (d (d (d [ 1 ])))))))))))))))))))))))))))))))) + "x86_64-linux";
      modules = [ ];
    };
  };
}
