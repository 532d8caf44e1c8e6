//! `export` then `apply` changes nothing: over every flake among the
//! fixtures (the inputs and the results of every operation's golden
//! cases), the spec `export` writes reads back, and applying it plans no
//! change in any file.

use std::path::{Path, PathBuf};

use nixcross::files::{MemFiles, RelPath};
use nixcross::ops::apply::{apply, ApplyOptions};
use nixcross::ops::export::{export, to_text};
use nixcross::spec::Document;

/// Every file below `dir`, as a tree in memory.
fn load(dir: &Path, into: &mut MemFiles, prefix: &str) {
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let p = entry.path();
        let name = format!("{prefix}{}", entry.file_name().to_string_lossy());
        if p.is_dir() {
            load(&p, into, &format!("{name}/"));
        } else if let Ok(text) = std::fs::read_to_string(&p) {
            into.insert(&name, text);
        }
    }
}

/// The flakes of the fixtures: `(name, tree)` with `flake.nix` at its root.
fn flakes() -> Vec<(String, MemFiles)> {
    let root = nixcross_testkit::repo_root().join("fixtures");
    let mut out = Vec::new();
    let mut ops: Vec<PathBuf> = std::fs::read_dir(&root)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    ops.sort();
    for op in ops {
        let mut cases: Vec<PathBuf> = std::fs::read_dir(&op)
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .collect();
        cases.sort();
        for case in cases {
            let args = std::fs::read_to_string(case.join("args")).unwrap_or_default();
            let name = format!(
                "{}/{}",
                op.file_name().unwrap().to_string_lossy(),
                case.file_name().unwrap().to_string_lossy()
            );
            for side in ["input", "expected"] {
                let dir = case.join(side);
                if dir.join("flake.nix").is_file() {
                    let mut files = MemFiles::new();
                    load(&dir, &mut files, "");
                    out.push((format!("{name} ({side}/)"), files));
                }
                let file = case.join(format!("{side}.nix"));
                // A single-file case is a flake unless it edits a module.
                if file.is_file() && !args.contains("configuration.nix") {
                    let text = std::fs::read_to_string(&file).unwrap();
                    if text.contains("outputs") {
                        out.push((
                            format!("{name} ({side}.nix)"),
                            MemFiles::single("flake.nix", text),
                        ));
                    }
                }
            }
        }
    }
    out
}

/// Export, read back, apply: `Ok(configurations described)` when nothing
/// would change.
fn round_trip(files: &MemFiles) -> Result<usize, String> {
    let flake = RelPath::new("flake.nix").unwrap();
    let exported = match export(files, &flake, None, Some("x86_64-linux")) {
        Ok(e) => e,
        // A flake nixcross cannot read at all (a parse error case) has no
        // spec to round-trip.
        Err(e) => return Err(format!("export: {}", e.message)),
    };
    let text = to_text(&exported, "flake.nix");
    let doc = Document::parse(&text)
        .map_err(|e| format!("the export does not read back: {}\n{text}", e.message))?;
    let opts = ApplyOptions {
        local_system: Some("x86_64-linux".into()),
        host_file: None,
    };
    let out = apply(&doc, files, &flake, &opts)
        .map_err(|e| format!("apply: {}\n{text}", e.error.message))?;
    if out.changed() {
        let reasons: Vec<String> = out
            .flake
            .changes
            .iter()
            .map(|c| format!("{}: {}", c.path, c.reasons.join("; ")))
            .collect();
        return Err(format!(
            "apply would change: {}\n{text}",
            reasons.join("\n")
        ));
    }
    Ok(doc.spec.configurations.len())
}

#[test]
fn export_then_apply_changes_nothing_on_every_fixture_flake() {
    let all = flakes();
    let mut failures = Vec::new();
    let mut unreadable = Vec::new();
    let mut described = 0;
    for (name, files) in &all {
        match round_trip(files) {
            Ok(n) => described += n,
            Err(e) if e.starts_with("export: ") => unreadable.push(name.clone()),
            Err(e) => failures.push(format!("{name}: {e}")),
        }
    }
    eprintln!(
        "round trip: {}/{} fixture flakes ({} configurations described); {} do not parse",
        all.len() - failures.len() - unreadable.len(),
        all.len() - unreadable.len(),
        described,
        unreadable.len()
    );
    assert!(all.len() > 100, "only {} fixture flakes", all.len());
    assert!(described > 100, "only {described} configurations described");
    // Only the cases that are about files that do not parse may fail to export.
    for name in &unreadable {
        assert!(name.contains("parse"), "{name} cannot be exported");
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
