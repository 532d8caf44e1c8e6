# A recording stand-in for the nixpkgs flake input's package sets, for tests
# that evaluate flakes' `packages` and `devShells` (crates/nixcross/tests/
# support). Every set remembers the platforms it was made with:
# `legacyPackages.<system>` ({ system }), `import nixpkgs { localSystem;
# crossSystem; system; }` (nixpkgs' assertion against both localSystem and
# system is kept), `pkgsCross.<name>` (crossSystem = the example, tagged with
# its name) and `buildPackages`. Packages, `mkShell` and `callPackage`
# results carry their set's platforms. Also flake-utils (two default
# systems) and flake-parts (perSystem, with pkgs or _module.args.pkgs).
# examples.json: pkgsCross name -> triple; packages.json: { flakeExposed;
# packages } (the attribute tree every set has, leaves `true`).
let
  examples = builtins.fromJSON (builtins.readFile ./examples.json);
  inherit (builtins.fromJSON (builtins.readFile ./packages.json)) flakeExposed packages;
  lib = {
    systems.examples = builtins.mapAttrs (name: config: { inherit config; example = name; }) examples;
    genAttrs = names: f: builtins.listToAttrs (map (n: { name = n; value = f n; }) names);
  };
  instance = args:
    assert !(args ? localSystem && args ? system);
    let
      build = args.localSystem or args.system;
      # nixpkgs reads a null crossSystem, or one equal to localSystem, as a
      # native build.
      crossSystem = let c = args.crossSystem or null; in if c == build then null else c;
      platforms = { inherit build; host = if crossSystem == null then build else crossSystem; cross = crossSystem != null; };
      tree = prefix: t: builtins.mapAttrs
        (n: v: if v == true then { _type = "package"; name = prefix ++ [ n ]; inherit platforms; } else tree (prefix ++ [ n ]) v)
        t;
    in
    tree [ ] packages // {
      _platforms = platforms;
      pkgsCross = builtins.mapAttrs (n: e: instance { localSystem = build; crossSystem = e; }) lib.systems.examples;
      buildPackages = instance { localSystem = build; };
      mkShell = attrs: {
        _type = "shell";
        inherit platforms;
        buildInputs = attrs.buildInputs or [ ];
        nativeBuildInputs = attrs.nativeBuildInputs or [ ];
        packages = attrs.packages or [ ];
      };
      callPackage = fn: fnArgs: { _type = "call"; path = toString fn; inherit platforms; };
    };
  nixpkgs = {
    outPath = ./packages;
    inherit lib;
    legacyPackages = lib.genAttrs flakeExposed (s: instance { system = s; });
  };
  # flake-utils, with two default systems.
  flake-utils.lib = rec {
    eachSystem = systems: f: builtins.foldl'
      (acc: s: acc // builtins.mapAttrs (k: v: (acc.${k} or { }) // { ${s} = v; }) (f s))
      { }
      systems;
    eachDefaultSystem = eachSystem [ "x86_64-linux" "aarch64-linux" ];
    eachSystemMap = lib.genAttrs;
    eachDefaultSystemMap = eachSystemMap [ "x86_64-linux" "aarch64-linux" ];
  };
  # flake-parts: perSystem with pkgs, or with _module.args.pkgs.
  flake-parts.lib.mkFlake = args: module:
    let
      m = if builtins.isFunction module then module { inherit (args) inputs; self = { }; } else module;
      per = system:
        let
          base = { inherit system; pkgs = nixpkgs.legacyPackages.${system}; inherit lib; inputs' = { }; self' = { }; config = { }; };
          first = m.perSystem base;
          custom = first._module.args.pkgs or null;
        in
        if custom == null then first else m.perSystem (base // { pkgs = custom; });
      gather = key: lib.genAttrs m.systems (s: (per s).${key} or { });
    in
    (m.flake or { }) // { packages = gather "packages"; devShells = gather "devShells"; };
in
{ inherit nixpkgs instance flake-utils flake-parts; }
