# A recording stand-in for `import nixpkgs { ... }`: a tiny package set in
# which `hello` records the `gcc` it was built with, with the overlays
# applied as nixpkgs applies them (`final` is the fixed point, `prev` the set
# before the overlay). `importArgs` holds exactly the arguments given.
args@{ localSystem ? null, crossSystem ? null, system ? null, overlays ? [ ], config ? { }, ... }:
let
  base = final: {
    importArgs = args;
    gcc = "gcc11";
    gcc12 = "gcc12";
    binutils = "binutils-2.41";
    binutils_2_40 = "binutils-2.40";
    hello = "hello built with ${final.gcc}";
    platform = {
      localSystem = if localSystem != null then localSystem else system;
      inherit crossSystem;
    };
  };
  extend = f: overlay: final: let prev = f final; in prev // overlay final prev;
  fix = f: let x = f x; in x;
in
fix (builtins.foldl' extend base overlays)
