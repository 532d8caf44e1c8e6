# A worst case for the evaluator's budget (benches/limits.rs): nixcross
# must answer quickly, in bounded memory, with the reason it stopped.
{
  outputs = { self, nixpkgs }: {
    nixosConfigurations.a = nixpkgs.lib.nixosSystem {
      system = let d = s: s + s; in builtins.substring 0 0 (d (d (d (d (d (d (d (d (d (d (d (d (d (d (d (d (d (d (d (d (d (d (d (d (d (d (d (d (d (d "xx")))))))))))))))))))))))))))))) + "x86_64-linux";
      modules = [ ];
    };
  };
}
