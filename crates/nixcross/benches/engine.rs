//! The engine's cost against a bare rnix parse of the same flake
//! (`rnix_parse`): `show`, `set-target` and `emulate --config` on a small
//! flake (the seed's cross flake), and on flakes of 100 and 2,000
//! configurations with a module file each; `emulate` on a module file.
//! Quote figures as ratios to `rnix_parse` of the same group.

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use nixcross::files::{MemFiles, RelPath};
use nixcross::ops::emulate::{plan_emulate, EmulateOptions};
use nixcross::ops::set_target::{plan_set_target, SetTargetOptions};
use nixcross::ops::show::{show, ShowOptions};
use nixcross::test_support as syntax;
use nixcross::vocab::Mode;

const SMALL: &str = include_str!("../../../fixtures/set-target/seed-cross-to-emulate/input.nix");

/// A flake of `n` configurations, each with its own host module.
fn many(n: usize) -> MemFiles {
    let mut s = String::from("{\n  inputs.nixpkgs.url = \"github:nixos/nixpkgs/nixos-25.11\";\n\n  outputs = inputs@{ self, nixpkgs, ... }: {\n    nixosConfigurations = {\n");
    let mut files = MemFiles::new();
    for i in 0..n {
        s.push_str(&format!(
            "      # board {i}\n      board{i} = nixpkgs.lib.nixosSystem {{\n        # native platform\n        system = \"x86_64-linux\";\n        modules = [\n          {{\n            nixpkgs.crossSystem = {{\n              system = \"riscv64-linux\";\n            }};\n          }}\n          ./hosts/board{i}.nix\n        ];\n      }};\n"
        ));
        files.insert(
            &format!("hosts/board{i}.nix"),
            format!("{{ pkgs, ... }}:\n{{\n  networking.hostName = \"board{i}\";\n  environment.systemPackages = [ pkgs.htop ];\n}}\n"),
        );
    }
    s.push_str("    };\n  };\n}\n");
    files.insert("flake.nix", s);
    files
}

fn flake_text(files: &MemFiles) -> String {
    files
        .iter()
        .find(|(p, _)| p.as_str() == "flake.nix")
        .map(|(_, t)| t.to_string())
        .unwrap()
}

fn bench(c: &mut Criterion) {
    let flake = RelPath::new("flake.nix").unwrap();
    let small = MemFiles::single("flake.nix", SMALL);
    let (m100, m2000) = (many(100), many(2000));
    for (label, files, config) in [
        ("small", &small, None),
        ("100", &m100, Some("board57")),
        ("2000", &m2000, Some("board1057")),
    ] {
        let src = flake_text(files);
        let mut g = c.benchmark_group(label);
        g.sample_size(if label == "2000" { 10 } else { 50 });
        g.throughput(criterion::Throughput::Bytes(src.len() as u64));
        g.bench_function("rnix_parse", |b| {
            b.iter(|| syntax::parse_only(black_box(&src)))
        });
        g.bench_function("show", |b| {
            b.iter(|| show(black_box(files), &flake, &ShowOptions::default()).unwrap())
        });
        let st = SetTargetOptions {
            target: "aarch64-linux".into(),
            mode: Mode::Cross,
            config: config.map(String::from),
            host: None,
            local_system: Some("x86_64-linux".into()),
            style: None,
        };
        g.bench_function("set_target", |b| {
            b.iter(|| {
                let plan = plan_set_target(black_box(files), &flake, &st).unwrap();
                plan.apply(files).unwrap()
            })
        });
        let em = EmulateOptions {
            systems: vec!["aarch64-linux".into()],
            config: Some(config.unwrap_or("lp4a").into()),
            ..Default::default()
        };
        g.bench_function("emulate_config", |b| {
            b.iter(|| {
                let plan = plan_emulate(black_box(files), &flake, &em).unwrap();
                plan.apply(files).unwrap()
            })
        });
        g.finish();
    }
    // A module file.
    let module = "{ config, pkgs, ... }:\n{\n  imports = [ ./hardware-configuration.nix ];\n  boot.loader.systemd-boot.enable = true;\n  networking.hostName = \"builder\";\n  boot.binfmt.emulatedSystems = [ \"riscv64-linux\" ];\n}\n";
    let mut files = MemFiles::single("configuration.nix", module);
    files.insert(
        "hardware-configuration.nix",
        "{ lib, ... }: { nixpkgs.hostPlatform = lib.mkDefault \"x86_64-linux\"; }\n",
    );
    let path = RelPath::new("configuration.nix").unwrap();
    let em = EmulateOptions {
        systems: vec!["aarch64-linux".into()],
        ..Default::default()
    };
    let mut g = c.benchmark_group("module");
    g.bench_function("rnix_parse", |b| {
        b.iter(|| syntax::parse_only(black_box(module)))
    });
    g.bench_function("emulate", |b| {
        b.iter(|| {
            let plan = plan_emulate(black_box(&files), &path, &em).unwrap();
            plan.apply(&files).unwrap()
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
