//! The command's modules depend on each other one way (ARCHITECTURE.md,
//! "crates/nixcross-cli", Layers). This reads the source and fails on a
//! `crate::` path from a module to one of the same or a higher layer, other
//! than the pairs named in `SIBLINGS`; tests (`#[cfg(test)]` items) and
//! comments may reach anywhere.

use std::path::Path;

#[path = "../../nixcross/tests/support/rust_code.rs"]
mod rust_code;
use rust_code::code;

/// The layers, lowest first. `cmd` is every command (`cmd/*.rs`), which may
/// use each other's helpers; `main` is the crate's root.
const LAYERS: &[&[&str]] = &[
    &["exit", "term", "vocab"],
    &["error"],
    &["fs"],
    &["write"],
    &["tree"],
    &["common"],
    &["verify", "complete"],
    &["editing"],
    &["cmd"],
    &["main"],
];

/// Modules of one layer that may use each other, in this direction.
const SIBLINGS: &[(&str, &str)] = &[("term", "exit"), ("cmd", "cmd")];

fn layer_of(module: &str) -> Option<usize> {
    LAYERS.iter().position(|l| l.contains(&module))
}

/// The modules a file's code (its comments and tests left out) names
/// after `crate::`.
fn uses(text: &str) -> Vec<String> {
    let code = code(text);
    let mut found = Vec::new();
    let mut rest = code.as_str();
    while let Some(at) = rest.find("crate::") {
        let before = rest[..at].chars().next_back();
        rest = &rest[at + "crate::".len()..];
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            continue;
        }
        let name: String = rest
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        assert!(!name.is_empty(), "a `crate::{{...}}` group: name each path");
        found.push(name);
    }
    found
}

#[test]
fn modules_use_only_lower_layers() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files: Vec<(String, std::path::PathBuf)> = Vec::new();
    for dir in [src.clone(), src.join("cmd")] {
        for entry in std::fs::read_dir(&dir).unwrap().flatten() {
            let path = entry.path();
            if path.extension().is_some_and(|x| x == "rs") {
                let stem = path.file_stem().unwrap().to_string_lossy().to_string();
                let module = if dir == src { stem } else { "cmd".to_string() };
                files.push((module, path));
            }
        }
    }
    assert!(files.len() > 20, "found only {} source files", files.len());
    let mut bad = Vec::new();
    for (from, path) in &files {
        let Some(from_layer) = layer_of(from) else {
            bad.push(format!("module `{from}` has no layer in LAYERS"));
            continue;
        };
        let text = std::fs::read_to_string(path).unwrap();
        for to in uses(&text) {
            let allowed = match layer_of(&to) {
                Some(l) => l < from_layer || SIBLINGS.contains(&(from.as_str(), to.as_str())),
                None => false,
            };
            if !allowed {
                let shown = path.strip_prefix(&src).unwrap().display().to_string();
                bad.push(format!("{shown}: `{from}` uses `crate::{to}`"));
            }
        }
    }
    bad.sort();
    bad.dedup();
    assert!(
        bad.is_empty(),
        "dependencies against the layers (ARCHITECTURE.md):\n{}",
        bad.join("\n")
    );
}
