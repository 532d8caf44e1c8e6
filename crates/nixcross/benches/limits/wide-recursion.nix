# A worst case for the evaluator's budget (benches/limits.rs): nixcross
# must answer quickly, in bounded memory, with the reason it stopped.
{
  outputs = { self, nixpkgs }: {
    nixosConfigurations.a = nixpkgs.lib.nixosSystem {
      system = let f = n: if n == 0 then 1 else f (n - 1) + f (n - 1) + f (n - 1); in builtins.substring 0 0 (builtins.toString (f 30)) + "x86_64-linux";
      modules = [ ];
    };
  };
}
