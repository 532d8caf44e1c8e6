# A recording stand-in for `import nixpkgs { ... }`: a tiny package set in
# which `hello` records the `gcc` it was built with, with the overlays
# applied as nixpkgs applies them (`final` is the fixed point, `prev` the set
# before the overlay). `importArgs` holds exactly the arguments given;
# `path` and `stdenv.{build,host}Platform.system` are there as in nixpkgs.
# `pkgsCross.<name>` is the same call with the example as crossSystem, as
# nixpkgs' stage.nix makes it (same localSystem, config and overlays).
args@{ localSystem ? null, crossSystem ? null, system ? null, overlays ? [ ], config ? { }, ... }:
let
  examples =
    if builtins.pathExists ../examples.json
    then builtins.fromJSON (builtins.readFile ../examples.json)
    else { };
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
    # As nixpkgs has them: its own source (for `import pkgs.path { ... }`)
    # and the platforms, by system (or triple, when only that was given).
    path = ./.;
    stdenv = {
      buildPlatform.system = systemOf final.platform.localSystem;
      hostPlatform.system = systemOf (if crossSystem != null then crossSystem else final.platform.localSystem);
    };
    pkgsCross = builtins.mapAttrs
      (name: config: import ./default.nix (args // { crossSystem = { inherit config; }; }))
      examples;
  };
  systemOf = v: if v == null || builtins.isString v then v else v.system or v.config or null;
  extend = f: overlay: final: let prev = f final; in prev // overlay final prev;
  fix = f: let x = f x; in x;
in
fix (builtins.foldl' extend base overlays)
