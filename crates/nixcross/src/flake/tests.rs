use super::*;
use crate::files::MemFiles;
use crate::vocab::Style;

fn load(files: &MemFiles) -> Flake<'_> {
    Flake::load(files, &RelPath::new("flake.nix").unwrap()).unwrap()
}

fn summary(f: &Flake) -> Vec<String> {
    f.configs
        .iter()
        .map(|c| {
            let p = &c.platforms;
            format!(
                "{}: {} -> {} {}",
                c.name,
                p.build.as_deref().unwrap_or("?"),
                p.host.as_deref().unwrap_or("?"),
                p.style.map_or("-", |s| s.as_str())
            )
        })
        .collect()
}

const SEED_CROSS: &str = r#"{
  inputs.nixpkgs.url = "github:nixos/nixpkgs/nixos-25.05";
  outputs = inputs@{ self, nixpkgs, ... }: {
    nixosConfigurations.lp4a = nixpkgs.lib.nixosSystem {
      system = "x86_64-linux";
      modules = [
        { nixpkgs.crossSystem = { system = "riscv64-linux"; }; }
      ];
    };
  };
}"#;

#[test]
fn the_seed_cross_flake() {
    let files = MemFiles::single("flake.nix", SEED_CROSS);
    let f = load(&files);
    assert_eq!(summary(&f), ["lp4a: x86_64-linux -> riscv64-linux legacy"]);
}

#[test]
fn hardware_configuration_makes_it_modern() {
    let mut files = MemFiles::new();
    files
        .insert(
            "flake.nix",
            r#"{
  outputs = { nixpkgs, ... }: {
    nixosConfigurations.box = nixpkgs.lib.nixosSystem {
      system = "x86_64-linux";
      modules = [ ./hosts/box/configuration.nix ];
    };
  };
}"#,
        )
        .insert(
            "hosts/box/configuration.nix",
            "{ config, pkgs, ... }: { imports = [ ./hardware-configuration.nix ]; networking.hostName = \"box\"; }",
        )
        .insert(
            "hosts/box/hardware-configuration.nix",
            "{ lib, modulesPath, ... }: { imports = [ (modulesPath + \"/installer/scan/not-detected.nix\") ]; nixpkgs.hostPlatform = lib.mkDefault \"aarch64-linux\"; }",
        );
    let f = load(&files);
    assert_eq!(summary(&f), ["box: aarch64-linux -> aarch64-linux modern"]);
    let sys = f.configs[0].system().unwrap();
    let d = sys
        .definitions
        .iter()
        .find(|d| d.option == PlatformOption::HostPlatform)
        .unwrap();
    assert_eq!(d.priority, platforms::MK_DEFAULT);
    assert_eq!(
        f.describe(d.site.as_ref().unwrap()),
        "hosts/box/hardware-configuration.nix:1:96"
    );
    assert_eq!(d.literal.as_ref().unwrap().node.text(), "\"aarch64-linux\"");
    assert_eq!(sys.modules.len(), 3, "{:?}", sys.modules);
}

#[test]
fn generated_hosts_from_read_dir() {
    let mut files = MemFiles::new();
    files
        .insert(
            "flake.nix",
            r#"{
  inputs = {
    nixpkgs.url = "github:NixOS/nixpkgs/nixos-unstable";
    home-manager.url = "github:nix-community/home-manager";
  };
  outputs = inputs@{ self, nixpkgs, home-manager, ... }:
    let
      lib = nixpkgs.lib;
      mkHost = name: lib.nixosSystem {
        specialArgs = { inherit inputs; hostname = name; };
        modules = [
          ./hosts/${name}
          home-manager.nixosModules.home-manager
          self.nixosModules.common
        ];
      };
      hosts = lib.filterAttrs (n: t: t == "directory") (builtins.readDir ./hosts);
    in {
      nixosModules.common = import ./modules/common.nix;
      nixosConfigurations = builtins.mapAttrs (name: _: mkHost name) hosts;
    };
}"#,
        )
        .insert(
            "hosts/pi/default.nix",
            "{ hostname, ... }: { nixpkgs.hostPlatform = \"aarch64-linux\"; networking.hostName = hostname; }",
        )
        .insert(
            "hosts/desk/default.nix",
            "{ lib, ... }: { nixpkgs.hostPlatform = lib.mkDefault \"x86_64-linux\"; }",
        )
        .insert("hosts/README.md", "not a host")
        .insert(
            "modules/common.nix",
            "{ lib, config, ... }: { config = lib.mkIf config.services.x.enable { boot.binfmt.emulatedSystems = [ ]; }; }",
        );
    let f = load(&files);
    assert_eq!(
        summary(&f),
        [
            "desk: x86_64-linux -> x86_64-linux modern",
            "pi: aarch64-linux -> aarch64-linux modern"
        ]
    );
    // The helper's call is shared: an edit in it changes both.
    let pi = f.config("pi").unwrap().system().unwrap();
    let args = pi.args.clone().unwrap();
    assert_eq!(f.users_of(args.file, args.range(), "pi"), ["desk"]);
    // The host's own file is private.
    let host =
        f.ev.sources
            .id(&RelPath::new("hosts/pi/default.nix").unwrap())
            .unwrap();
    assert!(f.users_of(host, (0, 1), "pi").is_empty());
    let common =
        f.ev.sources
            .id(&RelPath::new("modules/common.nix").unwrap())
            .unwrap();
    assert_eq!(f.users_of(common, (0, 1), "pi"), ["desk"]);
}

#[test]
fn conditions_priorities_and_mixes() {
    let mut files = MemFiles::new();
    files
        .insert(
            "flake.nix",
            r#"{
  outputs = { nixpkgs, ... }: let lib = nixpkgs.lib; in {
    nixosConfigurations = lib.genAttrs [ "a" "b" "c" "d" ] (name: lib.nixosSystem {
      modules = [ ./common.nix ./${name}.nix ];
    });
  };
}"#,
        )
        .insert(
            "common.nix",
            "{ lib, ... }: { nixpkgs.hostPlatform = lib.mkDefault \"x86_64-linux\"; }",
        )
        .insert("a.nix", "{ nixpkgs.hostPlatform = \"riscv64-linux\"; nixpkgs.buildPlatform = \"x86_64-linux\"; }")
        .insert("b.nix", "{ lib, ... }: { nixpkgs = lib.mkIf true { crossSystem.system = \"aarch64-linux\"; }; }")
        .insert("c.nix", "{ lib, config, ... }: { config = lib.mkIf config.x { nixpkgs.hostPlatform = \"aarch64-linux\"; }; }")
        .insert("d.nix", "{ lib, ... }: { imports = [ (lib.mkForce 1) ]; nixpkgs.hostPlatform = lib.mkForce \"armv7l-linux\"; }");
    let f = load(&files);
    let s = summary(&f);
    assert_eq!(s[0], "a: x86_64-linux -> riscv64-linux modern");
    assert_eq!(s[1], "b: x86_64-linux -> x86_64-linux mixed");
    assert_eq!(s[2], "c: ? -> ? modern", "{s:?}");
    assert!(f.configs[2]
        .platforms
        .unknown
        .as_ref()
        .unwrap()
        .contains("condition"));
    assert_eq!(
        s[3], "d: ? -> ? modern",
        "an import that is not a module: unknown"
    );
}

#[test]
fn what_cannot_be_followed_says_why() {
    let files = MemFiles::single(
        "flake.nix",
        r#"{
  outputs = { nixpkgs, other, ... }: {
    nixosConfigurations = {
      a = other.lib.mkSystem { };
      b = nixpkgs.lib.nixosSystem { modules = [ ./missing.nix ]; };
      c = nixpkgs.lib.nixosSystem { modules = builtins.currentSystem; };
    };
  };
}"#,
    );
    let f = load(&files);
    let reasons: Vec<String> = f
        .configs
        .iter()
        .map(|c| c.platforms.unknown.clone().unwrap_or_default())
        .collect();
    assert!(
        reasons[0].contains("`other.lib.mkSystem` comes from the flake input `other`"),
        "{reasons:?}"
    );
    assert!(reasons[1].contains("missing.nix"), "{reasons:?}");
    assert!(reasons[2].contains("currentSystem"), "{reasons:?}");
    let _ = Style::Legacy;
}

#[test]
fn flake_parts_configurations() {
    let mut files = MemFiles::new();
    files
        .insert(
            "flake.nix",
            r#"{
  inputs.flake-parts.url = "github:hercules-ci/flake-parts";
  outputs = inputs@{ flake-parts, ... }:
    flake-parts.lib.mkFlake { inherit inputs; } {
      systems = [ "x86_64-linux" ];
      imports = [ ./hosts ];
    };
}"#,
        )
        .insert(
            "hosts/default.nix",
            r#"{ inputs, ... }: {
  flake.nixosConfigurations.box = inputs.nixpkgs.lib.nixosSystem {
    system = "aarch64-linux";
    modules = [ ];
  };
}"#,
        );
    let f = load(&files);
    assert_eq!(summary(&f), ["box: aarch64-linux -> aarch64-linux legacy"]);
}

/// The configurations `load_for(name)` reads.
fn read_for(files: &MemFiles, name: &str) -> Vec<String> {
    let f = Flake::load_for(files, &RelPath::new("flake.nix").unwrap(), Some(name)).unwrap();
    f.configs.iter().map(|c| c.name.clone()).collect()
}

#[test]
fn an_edit_reads_only_the_configurations_that_may_share_its_text() {
    let mut files = MemFiles::single(
        "flake.nix",
        r#"{
  outputs = { self, nixpkgs, ... }: let
    sys = "x86_64-linux";
    mk = name: nixpkgs.lib.nixosSystem { system = sys; modules = [ ]; };
  in {
    nixosConfigurations = {
      a = nixpkgs.lib.nixosSystem { system = "x86_64-linux"; modules = [ ./a.nix ]; };
      b = nixpkgs.lib.nixosSystem { system = "x86_64-linux"; modules = [ ./b.nix ]; };
      c = nixpkgs.lib.nixosSystem { system = sys; modules = [ ./common.nix ]; };
      d = nixpkgs.lib.nixosSystem { system = sys; modules = [ ./common.nix ]; };
      e = mk "e";
      f = self.nixosConfigurations.a;
      g = nixpkgs.lib.nixosSystem { system = "x86_64-linux"; modules = [ ./g.nix ]; };
    };
  };
}"#,
    );
    files.insert("a.nix", "{ networking.hostName = \"a\"; }");
    files.insert("b.nix", "{ networking.hostName = \"b\"; }");
    files.insert("common.nix", "{ }");
    // g.nix could name another file.
    files.insert("g.nix", "{ imports = [ ./a.nix ]; }");
    // `f` reaches `self`, `g` a file that names files: both read for any.
    assert_eq!(read_for(&files, "a"), ["a", "f", "g"]);
    assert_eq!(read_for(&files, "b"), ["b", "f", "g"]);
    // `sys` and common.nix are shared; `mk` uses `sys` too.
    assert_eq!(read_for(&files, "c"), ["c", "d", "e", "f", "g"]);
    // Its own reach unknown: everything.
    assert_eq!(read_for(&files, "f").len(), 7);
    // What the edit sees of the shared text is what a full read sees.
    let full = load(&files);
    let lazy = Flake::load_for(&files, &RelPath::new("flake.nix").unwrap(), Some("c")).unwrap();
    let c = lazy.config("c").unwrap();
    let sys = c.system().unwrap();
    for d in &sys.definitions {
        let lit = d.literal.as_ref().unwrap();
        assert_eq!(
            lazy.users_of(lit.file, lit.range(), "c"),
            full.users_of(lit.file, lit.range(), "c")
        );
    }
    // Unread names still count for the choice and the messages.
    let err = lazy.select(Some("zz")).unwrap_err();
    assert!(
        err.hints.iter().any(|h| h.contains("a, b, c, d, e, f, g")),
        "{err:?}"
    );
    assert!(lazy.select(None).is_err());
}

/// A flake with one configuration whose host module is `host`.
fn with_host(host: &str) -> MemFiles {
    let mut files = MemFiles::new();
    files
        .insert(
            "flake.nix",
            r#"{
  inputs.stylix.url = "github:danth/stylix";
  outputs = { nixpkgs, ... }@inputs: {
    nixosConfigurations.box = nixpkgs.lib.nixosSystem {
      system = "x86_64-linux";
      specialArgs = { inherit inputs; };
      modules = [ ./host.nix { nixpkgs.buildPlatform = "x86_64-linux"; } ];
    };
  };
}"#,
        )
        .insert("host.nix", host);
    files
}

#[test]
fn a_module_named_through_an_inputs_with_is_that_inputs_module() {
    // Nothing lexical is called `stylix`: it can only be the input's module.
    let files = with_host(
        r#"{ inputs, lib, ... }:
{
  imports = with inputs.stylix.nixosModules; [ stylix ];
  nixpkgs.hostPlatform = lib.mkDefault "aarch64-linux";
}"#,
    );
    let f = load(&files);
    assert_eq!(summary(&f), ["box: x86_64-linux -> aarch64-linux modern"]);
    assert_eq!(f.configs[0].platforms.unknown, None);
    // With a second namespace that may have it too, nixcross cannot tell.
    let files = with_host(
        r#"{ inputs, pkgs, lib, ... }:
{
  imports = with inputs.stylix.nixosModules; with pkgs; [ stylix ];
  nixpkgs.hostPlatform = lib.mkDefault "aarch64-linux";
}"#,
    );
    let f = load(&files);
    let unknown = f.configs[0].platforms.unknown.clone().unwrap_or_default();
    assert!(
        unknown.contains("may come from a `with` namespace"),
        "{unknown}"
    );
}

#[test]
fn option_modules_of_lib_define_no_platform() {
    let files = with_host(
        r#"{ lib, ... }:
with lib;
{
  imports = [
    (mkRemovedOptionModule [ "sdImage" "bootSize" ] "moved")
    (mkRenamedOptionModule [ "a" "old" ] [ "a" "new" ])
  ];
  nixpkgs.hostPlatform = "riscv64-linux";
}"#,
    );
    let f = load(&files);
    assert_eq!(summary(&f), ["box: x86_64-linux -> riscv64-linux modern"]);
    assert_eq!(f.configs[0].platforms.unknown, None);
    // Forwarded into nixpkgs.*, it may define a platform option.
    let files = with_host(
        r#"{ lib, ... }:
{
  imports = [ (lib.mkRenamedOptionModule [ "board" "arch" ] [ "nixpkgs" "hostPlatform" ]) ];
  nixpkgs.hostPlatform = "riscv64-linux";
}"#,
    );
    let f = load(&files);
    let unknown = f.configs[0].platforms.unknown.clone().unwrap_or_default();
    assert!(unknown.contains("into `nixpkgs.*`"), "{unknown}");
}

#[test]
fn a_package_set_is_read_by_nixpkgs_rules_in_both_views() {
    // localSystem next to system: nixpkgs refuses it, so the platforms are
    // unknown for the NixOS view and for the outputs view alike.
    let flake = r#"{
  outputs = { self, nixpkgs }: let
    both = import nixpkgs { localSystem = "x86_64-linux"; system = "aarch64-linux"; };
    same = import nixpkgs { localSystem = "x86_64-linux"; crossSystem = "x86_64-linux"; };
  in {
    nixosConfigurations.m = nixpkgs.lib.nixosSystem {
      system = "x86_64-linux";
      specialArgs = { inherit both same; };
      modules = [ ];
    };
    packages.x86_64-linux.both = both.hello;
    packages.x86_64-linux.same = same.hello;
  };
}"#;
    let files = MemFiles::single("flake.nix", flake);
    let f = load(&files);
    let sys = f.config("m").unwrap().system().unwrap();
    let set = |n: &str| sys.scoped.iter().find(|s| s.name == n).unwrap();
    assert_eq!(set("both").local, None);
    assert_eq!(set("same").local.as_deref(), Some("x86_64-linux"));
    // A crossSystem equal to the local one is a native build.
    let m = crate::proof::Meaning::of(&f.config("m").unwrap().platforms, sys);
    assert!(format!("{m:?}").contains("cross: None"), "{m:?}");
    let outputs = crate::outputs::read_outputs(flake).unwrap();
    let row = |n: &str| {
        outputs
            .iter()
            .find(|o| o.name.as_deref() == Some(n))
            .unwrap_or_else(|| panic!("no output {n}: {outputs:?}"))
            .clone()
    };
    assert_eq!(row("both").build, None, "{:?}", row("both"));
    assert!(
        row("both")
            .reason
            .as_deref()
            .unwrap_or("")
            .contains("both localSystem and system"),
        "{:?}",
        row("both")
    );
    assert_eq!(row("same").build.as_deref(), Some("x86_64-linux"));
    assert_eq!(row("same").host.as_deref(), Some("x86_64-linux"));
}
