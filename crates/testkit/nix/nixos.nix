# A small model of NixOS's module system, for nixcross's tests: enough of
# lib/modules.nix and nixos/modules/misc/nixpkgs.nix to decide which
# platforms a configuration is built on and for, what it emulates and which
# builders it lists, evaluated by real Nix. CI has no nixpkgs, so this model
# is the oracle there; `eval_trees_real_lib` (opt-in) checks that it agrees
# with the real nixpkgs lib.
#
# What it models:
# - modules: attribute sets, functions of { config, lib, pkgs, modulesPath,
#   specialArgs..., ... }, paths (imported; each file once), `imports`
#   recursively, the full form { options; config; }, and
#   `modulesPath + "/..."` imports (empty modules);
# - properties: mkIf (the condition is evaluated), mkMerge, mkOverride and
#   its names (mkForce 50, plain 100, mkDefault 1000, mkOptionDefault 1500;
#   the outermost counts), mkBefore/mkAfter/mkOrder;
# - nixpkgs.nix: hostPlatform over the legacy options; buildPlatform
#   defaulting to the host; localSystem defaulting to { system = nixpkgs.system; };
#   nixosSystem's `system` as nixpkgs.system = mkDefault; the assertion
#   against mixing (hostPlatform, or buildPlatform below 1500, next to
#   localSystem or crossSystem below 1500);
# - nixpkgs.pkgs: when defined, its set's platforms decide and the mixing
#   assertion does not apply (NixOS did not construct the set);
# - `config.nixpkgs.*` is readable by modules (for _module.args sets);
# - nix.buildMachines (the list as written), nix.distributedBuilds and
#   nix.settings.builders-use-substitutes (null when unset).
#
# Values are returned as written (a string, or a set with system/config);
# the Rust side turns them into system doubles with nixcross's catalogue.
#
# `evalConfig` returns that report. `evalNixos` returns what NixOS's
# `nixosSystem` returns, for the stand-in nixpkgs flake that `--verify` asks
# (`nixpkgs-flake.nix`): `config` with nixpkgs.{host,build}Platform.system,
# nixpkgs.overlays, boot.binfmt.{emulatedSystems,preferStaticEmulators},
# nix.{buildMachines,distributedBuilds,settings}, environment.systemPackages
# and _module.{args,specialArgs}; and `pkgs`, the recording package set
# (./pkgs) with the configuration's platforms and overlays. With
# `honest = false` it lies the way a broken nixpkgs would: whatever the
# configuration says, it is built natively for x86_64-linux, overlays are
# ignored, nothing is emulated and no builder is listed.
{ examples ? { }, honest ? true }:
let
  inherit (builtins) isAttrs isFunction isPath isString isList
    attrNames concatMap foldl' elem head tail length filter;

  hasPrefix = p: s: builtins.substring 0 (builtins.stringLength p) s == p;
  hasSuffix = p: s:
    let ls = builtins.stringLength s; lp = builtins.stringLength p;
    in ls >= lp && builtins.substring (ls - lp) lp s == p;

  lib = rec {
    mkIf = condition: content: { _type = "if"; inherit condition content; };
    mkMerge = contents: { _type = "merge"; inherit contents; };
    mkOverride = priority: content: { _type = "override"; inherit priority content; };
    mkDefault = mkOverride 1000;
    mkForce = mkOverride 50;
    mkOptionDefault = mkOverride 1500;
    mkBefore = x: x;
    mkAfter = x: x;
    mkOrder = _: x: x;
    mkEnableOption = _: { };
    mkOption = x: x;
    optional = c: x: if c then [ x ] else [ ];
    optionals = c: l: if c then l else [ ];
    optionalAttrs = c: a: if c then a else { };
    genAttrs = names: f: builtins.listToAttrs (map (n: { name = n; value = f n; }) names);
    inherit (builtins) mapAttrs listToAttrs attrNames attrValues filter elem;
    filterAttrs = pred: set: builtins.listToAttrs (concatMap
      (n: if pred n set.${n} then [ { name = n; value = set.${n}; } ] else [ ])
      (attrNames set));
    nameValuePair = name: value: { inherit name value; };
    mapAttrs' = f: set: builtins.listToAttrs (map (n: f n set.${n}) (attrNames set));
    inherit hasPrefix hasSuffix;
    removeSuffix = s: x: if hasSuffix s x then builtins.substring 0 (builtins.stringLength x - builtins.stringLength s) x else x;
    systems.examples = builtins.mapAttrs (name: config: { inherit config; example = name; }) examples;
    nixosSystem = evalConfig;
  };

  # The value of a property-wrapped definition, pushed down to `path`.
  # Returns [ { value; priority; } ].
  defsAt = path: prio: v:
    if isAttrs v && v ? _type then
      if v._type == "if" then (if v.condition then defsAt path prio v.content else [ ])
      else if v._type == "merge" then concatMap (defsAt path prio) v.contents
      else if v._type == "override" then defsAt path (if prio == null then v.priority else prio) v.content
      else [ ]
    else if path == [ ] then [ { value = v; priority = if prio == null then 100 else prio; } ]
    else if isAttrs v && v ? ${head path} then defsAt (tail path) prio v.${head path}
    else [ ];

  # The winning definitions of an option: { defined; priority; value; }.
  winner = defs:
    if defs == [ ] then { defined = false; priority = 1500; value = null; }
    else
      let best = foldl' (m: d: if d.priority < m then d.priority else m) 100000 defs;
          top = filter (d: d.priority == best) defs;
      in { defined = true; priority = best; value = (head top).value; values = map (d: d.value) top; };

  evalFull = args@{ modules ? [ ], specialArgs ? { }, system ? null, ... }:
    let
      # `pkgs.path` is the recording nixpkgs (for `import pkgs.path { ... }`);
      # its platforms are the configuration's.
      pkgsArg = {
        path = ./pkgs;
        system = norm hostV;
        stdenv = {
          system = norm hostV;
          hostPlatform.system = norm hostV;
          buildPlatform.system = norm buildV;
        };
      };
      modArgs = { inherit lib config; options = { }; pkgs = pkgsArg; modulesPath = "/modulesPath"; inherit specialArgs; } // specialArgs;
      # As lib/modules.nix: each named argument from specialArgs (and the
      # fixed ones), else from `_module.args`, lazily.
      call = f:
        let fa = builtins.functionArgs f;
        in f (if fa == { } then modArgs
              else builtins.mapAttrs (n: _: if modArgs ? ${n} then modArgs.${n} else moduleArgs.${n}) fa);
      load = m:
        let
          v0 = if isPath m then import m
               else if isString m then (if hasPrefix "/modulesPath" m || hasPrefix "/inputs/" m then { } else import m)
               else m;
        in if isFunction v0 then call v0 else v0;
      walk = seen: ms: foldl' (acc: m:
          let key = if isPath m then toString m else null;
          in if key != null && elem key acc.seen then acc
             else
               let v = load m;
                   sub = walk (acc.seen ++ (if key == null then [ ] else [ key ])) (v.imports or [ ]);
               in { seen = sub.seen; mods = acc.mods ++ [ v ] ++ sub.mods; })
        { inherit seen; mods = [ ]; } ms;
      all = (walk [ ] modules).mods;
      special = [ "imports" "_file" "key" "disabledModules" "meta" "freeformType" "_class" ];
      cfgOf = v: if v ? config || v ? options then (v.config or { }) else builtins.removeAttrs v special;
      defs = path: concatMap (m: defsAt path null (cfgOf m)) all;
      opt = name: winner (defs [ "nixpkgs" name ]
        ++ (if name == "system" && system != null then [ { value = system; priority = 1000; } ] else [ ]));
      host = opt "hostPlatform";
      build = opt "buildPlatform";
      local = opt "localSystem";
      cross = opt "crossSystem";
      sys = opt "system";
      # nixpkgs.pkgs: its platforms decide, and NixOS checks no option mix.
      pkgsOpt = winner (defs [ "nixpkgs" "pkgs" ]);
      pkgsPlatform = if pkgsOpt.defined then pkgsOpt.value.platform else null;
      hasPlatform = host.defined || (build.defined && build.priority < 1500);
      legacy = (local.defined && local.priority < 1500) || (cross.defined && cross.priority < 1500);
      localV = if local.defined then local.value else if sys.defined then { system = sys.value; } else null;
      hostV = if host.defined then host.value
              else if cross.defined && cross.value != null then cross.value
              else localV;
      buildV = if host.defined then (if build.defined then build.value else host.value) else localV;
      config = {
        nixpkgs = {
          hostPlatform = hostV;
          buildPlatform = buildV;
          localSystem = localV;
          crossSystem = if cross.defined then cross.value else null;
          system = sys.value;
        };
      };
      norm = v: if v == null then null else if isString v then v else v.system or v.config or null;
      listOf = path: concatMap (d: if isList d.value then d.value else [ ]) (defs path);
      moduleArgs = foldl' (a: d: a // (if isAttrs d.value then d.value else { })) { } (defs [ "_module" "args" ]);
      # nixpkgs reads a crossSystem equal to localSystem as a native build.
      scopedFrom = set: builtins.mapAttrs (n: v:
          let local = norm (v.importArgs.localSystem or v.importArgs.system or null);
              cross = norm (v.importArgs.crossSystem or null);
          in { inherit local; cross = if cross == local then null else cross; })
        (lib.filterAttrs (n: v: isAttrs v && v ? importArgs) set);
      report = {
        build = if pkgsPlatform != null then norm pkgsPlatform.localSystem else norm buildV;
        host =
          if pkgsPlatform == null then norm hostV
          else if pkgsPlatform.crossSystem != null then norm pkgsPlatform.crossSystem
          else norm pkgsPlatform.localSystem;
        mixed = pkgsPlatform == null && hasPlatform && legacy;
        style = if pkgsPlatform != null then "pkgs"
                else if hasPlatform && legacy then "mixed" else if hasPlatform then "modern"
                else if local.defined || cross.defined || sys.defined then "legacy" else null;
        emulatedSystems = listOf [ "boot" "binfmt" "emulatedSystems" ];
        preferStaticEmulators = let w = winner (defs [ "boot" "binfmt" "preferStaticEmulators" ]); in if w.defined then w.value else false;
        distributedBuilds = let w = winner (defs [ "nix" "distributedBuilds" ]); in if w.defined then w.value else false;
        buildMachines = listOf [ "nix" "buildMachines" ];
        buildersUseSubstitutes = let w = winner (defs [ "nix" "settings" "builders-use-substitutes" ]); in if w.defined then w.value else null;
        overlays = length (listOf [ "nixpkgs" "overlays" ]);
        scoped = scopedFrom specialArgs // scopedFrom moduleArgs;
      };
      # What nixosSystem returns (see the header).
      hostSys = if honest then report.host else "x86_64-linux";
      buildSys = if honest then report.build else "x86_64-linux";
      overlays = listOf [ "nixpkgs" "overlays" ];
      pkgs =
        if pkgsOpt.defined then pkgsOpt.value
        else import ./pkgs ({ localSystem = buildSys; overlays = if honest then overlays else [ ]; }
          // (if hostSys != buildSys then { crossSystem = hostSys; } else { }));
      nixos = {
        _type = "configuration";
        inherit pkgs;
        options = { };
        config = {
          nixpkgs = {
            hostPlatform.system = hostSys;
            buildPlatform.system = buildSys;
            inherit overlays;
          };
          boot.binfmt = {
            emulatedSystems = if honest then report.emulatedSystems else [ ];
            inherit (report) preferStaticEmulators;
          };
          nix = {
            buildMachines = if honest then report.buildMachines else [ ];
            distributedBuilds = if honest then report.distributedBuilds else false;
            settings = if report.buildersUseSubstitutes == null then { }
              else { builders-use-substitutes = report.buildersUseSubstitutes; };
          };
          environment.systemPackages = listOf [ "environment" "systemPackages" ];
          _module = {
            args = moduleArgs // { inherit pkgs; };
            inherit specialArgs;
          };
        };
      };
    in { inherit report nixos; };
  evalConfig = args: (evalFull args).report;
  evalNixos = args: (evalFull args).nixos;
in
{
  inherit lib evalConfig evalNixos;
}
