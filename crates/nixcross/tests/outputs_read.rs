//! `read_outputs`: the shapes `show` reads for packages and dev shells, one
//! flake per case, with what it must report; and shapes it must refuse
//! (listed, not editable, with the reason) rather than guess.

use nixcross::outputs::{read_outputs, OutputReport};
use nixcross::vocab::Kind;

/// `(kind, system, name, build, host, editable)` of every output, in order.
type Row = (
    Kind,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    bool,
);

fn rows(src: &str) -> Vec<Row> {
    nixcross_testkit::assert_nix_parses("outputs_read", "a test flake", src);
    read_outputs(src)
        .unwrap_or_else(|e| panic!("{e}\n{src}"))
        .into_iter()
        .map(|r: OutputReport| (r.kind, r.system, r.name, r.build, r.host, r.editable))
        .collect()
}

fn s(x: &str) -> Option<String> {
    Some(x.to_string())
}

fn pkg(system: &str, name: &str, build: &str, host: &str) -> Row {
    (Kind::Package, s(system), s(name), s(build), s(host), true)
}

fn shell(system: &str, name: &str, build: &str, host: &str) -> Row {
    (Kind::Shell, s(system), s(name), s(build), s(host), true)
}

/// The reason the only output of `src` is not editable.
fn refusal(src: &str) -> String {
    nixcross_testkit::assert_nix_parses("outputs_read", "a test flake", src);
    let r = read_outputs(src).unwrap();
    assert_eq!(r.len(), 1, "{r:?}");
    assert!(!r[0].editable, "{r:?}");
    r[0].reason.clone().unwrap()
}

#[test]
fn what_init_writes() {
    let opts = |kind, target: &str, mode, packages: &[&str]| nixcross::ops::init::InitOptions {
        kind,
        host: Some("x86_64-linux".into()),
        packages: packages.iter().map(|p| p.to_string()).collect(),
        ..nixcross::ops::init::InitOptions::new(target, mode)
    };
    use nixcross::vocab::Mode::{Cross, Emulate};
    let cases = [
        (
            opts(Kind::Package, "aarch64-multiplatform", Cross, &["hello"]),
            pkg("x86_64-linux", "hello", "x86_64-linux", "aarch64-linux"),
        ),
        (
            opts(Kind::Package, "x86_64-windows", Cross, &["hello"]),
            pkg("x86_64-linux", "hello", "x86_64-linux", "x86_64-windows"),
        ),
        (
            opts(Kind::Package, "riscv64-linux", Emulate, &["hello"]),
            pkg("riscv64-linux", "hello", "riscv64-linux", "riscv64-linux"),
        ),
        (
            opts(Kind::Package, "raspberryPi", Emulate, &["hello"]),
            pkg("armv6l-linux", "hello", "armv6l-linux", "armv6l-linux"),
        ),
        (
            opts(Kind::Shell, "wasi32", Cross, &["zlib"]),
            shell("x86_64-linux", "default", "x86_64-linux", "wasm32-wasi"),
        ),
        (
            opts(Kind::Shell, "avr", Cross, &[]),
            shell("x86_64-linux", "default", "x86_64-linux", "avr-none"),
        ),
    ];
    for (o, want) in cases {
        let text = nixcross::ops::init::render(&o).unwrap().text;
        assert_eq!(rows(&text), vec![want], "{text}");
    }
}

#[test]
fn hand_written_shapes() {
    // pkgs.pkgsCross.<x>.<pkg>, with pkgs from legacyPackages and the
    // system from a let; an import with crossSystem; a dotted crossSystem.
    let src = r#"{
  inputs.nixpkgs.url = "github:NixOS/nixpkgs/nixos-unstable";
  outputs = { self, nixpkgs }:
    let
      system = "x86_64-linux";
      pkgs = nixpkgs.legacyPackages.${system};
      rv = import nixpkgs { inherit system; crossSystem.config = "riscv64-unknown-linux-gnu"; };
    in
    {
      packages.${system} = {
        arm = pkgs.pkgsCross.aarch64-multiplatform.hello;
        rv = rv.callPackage ./pkg.nix { };
        native = pkgs.hello;
        "quoted name" = pkgs.pkgsCross.mingwW64.hello.overrideAttrs (old: { });
      };
      devShells.${system}.default = pkgs.pkgsCross.raspberryPi.mkShell {
        buildInputs = [ pkgs.pkgsCross.raspberryPi.zlib ];
      };
    };
}"#;
    assert_eq!(
        rows(src),
        vec![
            pkg("x86_64-linux", "arm", "x86_64-linux", "aarch64-linux"),
            pkg("x86_64-linux", "rv", "x86_64-linux", "riscv64-linux"),
            pkg("x86_64-linux", "native", "x86_64-linux", "x86_64-linux"),
            pkg(
                "x86_64-linux",
                "quoted name",
                "x86_64-linux",
                "x86_64-windows"
            ),
            shell("x86_64-linux", "default", "x86_64-linux", "armv6l-linux"),
        ]
    );
    // inputs@, nested sets, `//`, inputs.nixpkgs, a renamed nixpkgs input.
    let src = r#"{
  inputs = { pinned.url = "github:NixOS/nixpkgs/nixos-25.11"; };
  outputs = inputs@{ self, ... }: {
    packages = {
      aarch64-linux = {
        hello = inputs.pinned.legacyPackages.aarch64-linux.pkgsCross.riscv64.hello;
      };
    };
  } // {
    devShells.x86_64-darwin.win = (import inputs.pinned { localSystem = "x86_64-darwin"; crossSystem = inputs.pinned.lib.systems.examples.mingwW64; }).mkShell { };
  };
}"#;
    assert_eq!(
        rows(src),
        vec![
            pkg("aarch64-linux", "hello", "aarch64-linux", "riscv64-linux"),
            shell("x86_64-darwin", "win", "x86_64-darwin", "x86_64-windows"),
        ]
    );
}

#[test]
fn per_system_helpers() {
    // forAllSystems = genAttrs over a listed set of systems: one row each.
    let src = r#"{
  outputs = { self, nixpkgs }:
    let
      systems = [ "x86_64-linux" "aarch64-linux" ];
      forAllSystems = f: nixpkgs.lib.genAttrs systems (system: f nixpkgs.legacyPackages.${system});
    in
    {
      devShells = forAllSystems (pkgs: {
        default = pkgs.pkgsCross.riscv64.mkShell { };
      });
      packages = nixpkgs.lib.genAttrs systems (system: {
        default = (import nixpkgs { localSystem = system; crossSystem = { config = "aarch64-unknown-linux-musl"; }; }).hello;
      });
    };
}"#;
    assert_eq!(
        rows(src),
        vec![
            shell("x86_64-linux", "default", "x86_64-linux", "riscv64-linux"),
            shell("aarch64-linux", "default", "aarch64-linux", "riscv64-linux"),
            pkg("x86_64-linux", "default", "x86_64-linux", "aarch64-linux"),
            pkg("aarch64-linux", "default", "aarch64-linux", "aarch64-linux"),
        ]
    );
    // flake-utils: eachSystem lists them; eachDefaultSystem takes them from
    // its locked `systems` input, so the system is not known.
    let src = r#"{
  inputs.nixpkgs.url = "github:NixOS/nixpkgs/nixos-unstable";
  inputs.flake-utils.url = "github:numtide/flake-utils";
  outputs = { self, nixpkgs, flake-utils }:
    flake-utils.lib.eachSystem [ "x86_64-linux" ] (system:
      let pkgs = import nixpkgs { inherit system; };
      in { packages.hello = pkgs.pkgsCross.mingwW64.hello; })
    // flake-utils.lib.eachDefaultSystem (system: {
      devShells.default = nixpkgs.legacyPackages.${system}.pkgsCross.aarch64-multiplatform.mkShell { };
    });
}"#;
    assert_eq!(
        rows(src),
        vec![
            pkg("x86_64-linux", "hello", "x86_64-linux", "x86_64-windows"),
            (
                Kind::Shell,
                None,
                s("default"),
                None,
                s("aarch64-linux"),
                true
            ),
        ]
    );
    // flake-parts: perSystem's pkgs, replaced by _module.args.pkgs.
    let src = r#"{
  inputs.flake-parts.url = "github:hercules-ci/flake-parts";
  inputs.nixpkgs.url = "github:NixOS/nixpkgs/nixos-unstable";
  outputs = inputs@{ flake-parts, ... }:
    flake-parts.lib.mkFlake { inherit inputs; } {
      systems = [ "x86_64-linux" ];
      perSystem = { pkgs, system, ... }: {
        _module.args.pkgs = import inputs.nixpkgs { inherit system; crossSystem = { config = "riscv64-unknown-linux-gnu"; }; };
        packages.default = pkgs.hello;
        devShells.native = inputs.nixpkgs.legacyPackages.${system}.mkShell { };
      };
    };
}"#;
    assert_eq!(
        rows(src),
        vec![
            pkg("x86_64-linux", "default", "x86_64-linux", "riscv64-linux"),
            shell("x86_64-linux", "native", "x86_64-linux", "x86_64-linux"),
        ]
    );
}

#[test]
fn what_cannot_be_followed_is_listed_with_a_reason() {
    let wrap = |body: &str| {
        format!("{{\n  outputs = {{ self, nixpkgs }}:\n    let pkgs = nixpkgs.legacyPackages.x86_64-linux; in\n    {{\n      {body}\n    }};\n}}\n")
    };
    let cases = [
        ("packages.x86_64-linux.a = with pkgs; hello;", "with"),
        (
            "packages.x86_64-linux.a = pkgs.pkgsStatic.hello;",
            "pkgsStatic",
        ),
        (
            "packages.x86_64-linux.a = self.packages.x86_64-linux.b;",
            "self",
        ),
        (
            "packages.x86_64-linux.a = (import nixpkgs { }).hello;",
            "currentSystem",
        ),
        (
            "packages.x86_64-linux.a = (import ./pkgs.nix { }).hello;",
            "imports another file",
        ),
        (
            "packages.x86_64-linux.a = if true then pkgs.hello else pkgs.hello;",
            "conditional",
        ),
        (
            "packages.x86_64-linux.a = pkgs.pkgsCross.notAnExample.hello;",
            "not a nixpkgs example",
        ),
        (
            "packages.x86_64-linux.a = pkgs.buildPackages.hello;",
            "buildPackages",
        ),
        (
            "packages = import ./packages.nix { inherit nixpkgs; };",
            "imports another file",
        ),
        (
            "packages = nixpkgs.lib.mapAttrsRecursive (n: v: v) { };",
            "nixcross models only part of nixpkgs' `lib`",
        ),
        (
            "packages.${builtins.currentSystem}.a = pkgs.hello;",
            "builtins",
        ),
    ];
    for (body, why) in cases {
        let src = wrap(body);
        let reason = refusal(&src);
        assert!(reason.contains(why), "{body}: {reason}");
    }
}

/// `lib` functions are evaluated as Nix evaluates them: `mapAttrs` over
/// nothing makes no packages, over systems a package for each.
#[test]
fn lib_functions_are_evaluated() {
    let src = r#"{
  outputs = { self, nixpkgs }: {
    devShells = nixpkgs.lib.mapAttrs (n: v: v) { };
    packages = nixpkgs.lib.mapAttrs (system: pkgs: { hello = pkgs.pkgsCross.riscv64.hello; }) {
      x86_64-linux = nixpkgs.legacyPackages.x86_64-linux;
    };
  };
}"#;
    assert_eq!(
        rows(src),
        vec![pkg(
            "x86_64-linux",
            "hello",
            "x86_64-linux",
            "riscv64-linux"
        )]
    );
}

/// A binding used twice by one used twice, thirty levels deep: read once
/// each (a naive evaluator takes 2^30 steps).
#[test]
fn shared_bindings_are_evaluated_once() {
    const N: usize = 30;
    let mut lets = String::from("b0 = [ pkgs.hello ];\n");
    for i in 1..=N {
        lets.push_str(&format!("      b{i} = [ b{} b{} ];\n", i - 1, i - 1));
    }
    let src = format!(
        "{{\n  outputs = {{ self, nixpkgs }}:\n    let\n      pkgs = nixpkgs.legacyPackages.x86_64-linux.pkgsCross.riscv64;\n      {lets}    in\n    {{\n      devShells.x86_64-linux.default = pkgs.mkShell {{ buildInputs = b{N}; }};\n    }};\n}}\n"
    );
    let start = std::time::Instant::now();
    assert_eq!(
        rows(&src),
        vec![shell(
            "x86_64-linux",
            "default",
            "x86_64-linux",
            "riscv64-linux"
        )]
    );
    assert!(start.elapsed().as_secs() < 5, "took {:?}", start.elapsed());
}
