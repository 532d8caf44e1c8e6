# A worst case for the evaluator's budget (benches/limits.rs): nixcross
# must answer quickly, in bounded memory, with the reason it stopped.
{
  outputs = { self, nixpkgs }: {
    nixosConfigurations.a = nixpkgs.lib.nixosSystem {
      system = builtins.substring 0 0 (builtins.toString (builtins.length (builtins.attrNames (builtins.foldl' (acc: x: acc // { ${toString x} = x; }) { } (builtins.genList (x: x) 100000))))) + "x86_64-linux";
      modules = [ ];
    };
  };
}
