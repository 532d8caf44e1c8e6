//! The evaluator's worst cases (`benches/limits/*.nix`: values that double,
//! folds that copy, recursion that branches or goes deep, a huge `genList`):
//! `show` of each must end with the reason it stopped, in bounded time and
//! memory. Peak memory is the binary's (`benches/limits_memory.sh`).

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use nixcross::files::{MemFiles, RelPath};
use nixcross::ops::show::{show, ShowOptions};

fn cases() -> Vec<(String, String)> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/limits");
    let mut cases: Vec<(String, String)> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "nix"))
        .map(|p| {
            let name = p.file_stem().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read_to_string(&p).unwrap())
        })
        .collect();
    cases.sort();
    assert!(!cases.is_empty(), "no case in {}", dir.display());
    cases
}

fn bench(c: &mut Criterion) {
    let flake = RelPath::new("flake.nix").unwrap();
    let opts = ShowOptions {
        local_system: Some("x86_64-linux".into()),
    };
    let mut g = c.benchmark_group("limits");
    g.sample_size(10);
    for (name, text) in cases() {
        let files = MemFiles::single("flake.nix", text);
        // Each case stops, and says why.
        let report = show(&files, &flake, &opts).unwrap();
        let why = format!("{:?}", report.configurations[0].reason);
        assert!(
            why.contains("evaluation budget is spent") || why.contains("nested too deeply"),
            "{name}: {why}"
        );
        g.bench_function(&name, |b| {
            b.iter(|| show(black_box(&files), &flake, &opts).unwrap())
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
