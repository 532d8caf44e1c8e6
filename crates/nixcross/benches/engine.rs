//! Parse, show and set-target on a small flake (the seed's cross flake) and on
//! one 100 times larger (100 configurations). Compare each figure with the
//! bare rnix parse of the same input (`parse_only`).

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use nixcross::ops::set_target::{set_target, SetTargetOptions};
use nixcross::ops::show::{show, ShowOptions};
use nixcross::syntax;
use nixcross::vocab::Mode;

const SMALL: &str = include_str!("../../../fixtures/set-target/seed-cross-to-emulate/input.nix");

fn large() -> String {
    let mut s = String::from("{\n  inputs.nixpkgs.url = \"github:nixos/nixpkgs/nixos-25.11\";\n\n  outputs = inputs@{ self, nixpkgs, ... }: {\n    nixosConfigurations = {\n");
    for i in 0..100 {
        s.push_str(&format!(
            "      # board {i}\n      board{i} = nixpkgs.lib.nixosSystem {{\n        # native platform\n        system = \"x86_64-linux\";\n        modules = [\n          {{\n            nixpkgs.crossSystem = {{\n              system = \"riscv64-linux\";\n            }};\n          }}\n          ./hosts/board{i}.nix\n        ];\n      }};\n"
        ));
    }
    s.push_str("    };\n  };\n}\n");
    s
}

fn opts(config: Option<&str>) -> SetTargetOptions {
    SetTargetOptions {
        target: "aarch64-linux".into(),
        mode: Mode::Cross,
        config: config.map(String::from),
        host: None,
        local_system: Some("x86_64-linux".into()),
        style: None,
    }
}

fn bench(c: &mut Criterion) {
    let large = large();
    for (label, src, config) in [
        ("small", SMALL, None),
        ("large", large.as_str(), Some("board57")),
    ] {
        let mut g = c.benchmark_group(label);
        g.throughput(criterion::Throughput::Bytes(src.len() as u64));
        g.bench_function("rnix_parse", |b| {
            b.iter(|| syntax::parse_only(black_box(src)))
        });
        g.bench_function("show", |b| {
            b.iter(|| show(black_box(src), &ShowOptions::default()).unwrap())
        });
        let o = opts(config);
        g.bench_function("set_target", |b| {
            b.iter(|| set_target(black_box(src), &o).unwrap())
        });
        g.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
