# Evaluate the `packages` and `devShells` of each flake in `files` with the
# stand-ins of ./packages.nix: [ { file; all; } ], `all` when `outputs` takes
# every input (`...` or a plain `inputs:`). A callPackage path inside the
# flake's folder is shown relative to it (`./pkgs/hello.nix`).
{ files }:
let
  standin = import ./packages.nix;
  inputs = { self = { }; inherit (standin) nixpkgs flake-utils flake-parts; };
  # A pattern without `...` takes only the inputs it names.
  call = all: f: f (if all then inputs else builtins.intersectAttrs (builtins.functionArgs f) inputs);
  strip = d: p: let s = toString p; n = builtins.stringLength d; in
    if s == d then "./." else if builtins.substring 0 (n + 1) s == d + "/" then "." + builtins.substring n (builtins.stringLength s) s else s;
  one = { file, all }:
    let
      show = v: if v ? _type && v._type == "call" then v // { path = strip (toString (dirOf file)) v.path; } else v;
      outs = out: key: builtins.mapAttrs (system: builtins.mapAttrs (name: show)) (out.${key} or { });
      flake = import file;
      out = call all flake.outputs;
    in
    {
      outputs = builtins.attrNames out;
      packages = outs out "packages";
      devShells = outs out "devShells";
    };
in
map one files
