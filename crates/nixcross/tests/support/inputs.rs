//! The inputs of the edit fixtures (`fixtures/<op>/<case>/`), for tests
//! that run the library on them in other ways than the fixtures do.

#![allow(dead_code)] // each test binary uses part of it

use std::collections::BTreeMap;

/// Whether cases whose command removes (`--remove`) are read too.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Removals {
    Keep,
    Skip,
}

/// One input: its files, the file edited, and the configuration when the
/// file is a flake.
pub struct Case {
    pub name: String,
    pub files: BTreeMap<String, String>,
    pub main: String,
    pub config: Option<String>,
}

/// The inputs of `fixtures/<op>` cases that edit (they have an expected
/// result), with the edited file and `--config`.
pub fn inputs(op: &str, removals: Removals) -> Vec<Case> {
    let root = nixcross_testkit::repo_root().join("fixtures").join(op);
    let mut out = Vec::new();
    for dir in std::fs::read_dir(&root)
        .unwrap()
        .flatten()
        .map(|e| e.path())
    {
        let name = dir.file_name().unwrap().to_string_lossy().into_owned();
        let args = std::fs::read_to_string(dir.join("args")).unwrap_or_default();
        let words: Vec<&str> = args.split_whitespace().collect();
        let removal = words.contains(&"--remove");
        if words.contains(&"--format") || (removal && removals == Removals::Skip) {
            continue;
        }
        let config = words
            .iter()
            .position(|w| *w == "--config")
            .map(|i| words[i + 1].to_string());
        let mut files = BTreeMap::new();
        let main = if dir.join("input").is_dir() && dir.join("expected").is_dir() {
            for (rel, text) in nixcross_testkit::read_tree(&dir.join("input")) {
                files.insert(rel, text);
            }
            match words.iter().position(|w| *w == "-f") {
                Some(i) => words[i + 1].to_string(),
                None => "flake.nix".to_string(),
            }
        } else if dir.join("input.nix").is_file() && dir.join("expected.nix").is_file() {
            // A module file, unless the command edits a flake.
            let main = if config.is_some() || op == "set-target" {
                "flake.nix"
            } else {
                "configuration.nix"
            };
            files.insert(
                main.to_string(),
                std::fs::read_to_string(dir.join("input.nix")).unwrap(),
            );
            main.to_string()
        } else {
            continue;
        };
        out.push(Case {
            name,
            files,
            main,
            config,
        });
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}
