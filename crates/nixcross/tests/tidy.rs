//! Dependencies run one way. This reads the library's source (as
//! rust-analyzer's tidy tests do) and fails on a `crate::` path from one
//! module to another that ARCHITECTURE.md does not allow: a module may use
//! the modules of lower layers and of its own layer's list, never a higher
//! one; and a command in `ops/` never uses another command, except the
//! commands that are compositions of others (`apply`, `export`, `show`,
//! `add_config`), and every command may use the shared planning code
//! (`editor`, `params`, `comments`, `modules`).

#[path = "support/rust_code.rs"]
mod rust_code;
use rust_code::code;

use std::collections::BTreeSet;
use std::path::Path;

/// The layers, lowest first. A module uses only modules of lower layers,
/// or of its own layer when they are named together in `SIBLINGS`.
const LAYERS: &[&[&str]] = &[
    &["error", "files", "vocab"],
    &["syntax", "source"],
    &["edit", "platform", "machines", "render"],
    &["binfmt", "eval", "module"],
    &["flake"],
    &["proof", "outputs", "spec"],
    &["ops", "doctor"],
    &["lib"],
];

/// Modules of one layer that may use each other, in this direction.
const SIBLINGS: &[(&str, &str)] = &[
    ("files", "error"),
    ("error", "files"),
    ("vocab", "error"),
    ("source", "syntax"),
    ("binfmt", "eval"),
    ("eval", "module"),
    ("proof", "outputs"),
    ("spec", "outputs"),
];

/// Commands that are made of other commands.
const COMPOSITIONS: &[&str] = &["apply", "export", "show", "add_config"];

/// The shared planning code of `ops/`, which every command may use.
const SHARED: &[&str] = &["editor", "params", "comments", "modules"];

fn layer(m: &str) -> Option<usize> {
    LAYERS.iter().position(|l| l.contains(&m))
}

/// The top module and, for `ops`, the command a file belongs to.
fn owner(rel: &Path) -> (String, Option<String>) {
    let parts: Vec<String> = rel
        .iter()
        .map(|p| p.to_string_lossy().trim_end_matches(".rs").to_string())
        .collect();
    let top = parts[0].clone();
    let command = (top == "ops" && parts.len() > 1 && parts[1] != "mod").then(|| parts[1].clone());
    (top, command)
}

/// Every `crate::a::b` path in the code, as `(a, b)`, including the items
/// of `use crate::{a::x, b::y}` groups.
fn paths(code: &str) -> BTreeSet<(String, Option<String>)> {
    let mut out = BTreeSet::new();
    let bytes = code.as_bytes();
    let ident = |s: &str| -> String {
        s.chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect()
    };
    for (i, _) in code.match_indices("crate::") {
        if i > 0 && (bytes[i - 1].is_ascii_alphanumeric() || bytes[i - 1] == b'_') {
            continue;
        }
        let rest = &code[i + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let end = group.find('}').unwrap_or(group.len());
            for item in group[..end].split(',') {
                let item = item.trim();
                let a = ident(item);
                let b = item
                    .strip_prefix(&a)
                    .and_then(|r| r.strip_prefix("::"))
                    .map(ident);
                if !a.is_empty() {
                    out.insert((a, b));
                }
            }
            continue;
        }
        let a = ident(rest);
        let b = rest[a.len()..].strip_prefix("::").map(ident);
        out.insert((a, b));
    }
    out
}

#[test]
fn dependencies_run_one_way() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    let mut stack = vec![src.clone()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "rs") {
                files.push(p);
            }
        }
    }
    files.sort();
    assert!(files.len() > 50, "found only {} source files", files.len());
    let mut bad = Vec::new();
    for f in &files {
        let rel = f.strip_prefix(&src).unwrap();
        // A module's tests (`#[cfg(test)] mod tests;`) may reach anywhere.
        if rel.file_name().is_some_and(|n| n == "tests.rs") {
            continue;
        }
        let (from, command) = owner(rel);
        let Some(from_layer) = layer(&from) else {
            bad.push(format!(
                "{}: module `{from}` has no layer in LAYERS",
                rel.display()
            ));
            continue;
        };
        let text = std::fs::read_to_string(f).unwrap();
        for (to, sub) in paths(&code(&text)) {
            if to == from {
                // Within ops: a command uses no other command.
                if let (Some(c), Some(sub)) = (&command, &sub) {
                    let other_command = sub != c
                        && !SHARED.contains(&sub.as_str())
                        && std::path::Path::new(&src)
                            .join("ops")
                            .join(format!("{sub}.rs"))
                            .exists();
                    if other_command && !COMPOSITIONS.contains(&c.as_str()) {
                        bad.push(format!(
                            "{}: the command `{c}` uses the command `{sub}`",
                            rel.display()
                        ));
                    }
                }
                continue;
            }
            let Some(to_layer) = layer(&to) else {
                continue; // an item of the crate root (`crate::Error`)
            };
            let ok = to_layer < from_layer
                || (to_layer == from_layer && SIBLINGS.contains(&(from.as_str(), to.as_str())));
            if !ok {
                bad.push(format!("{}: `{from}` uses `crate::{to}`", rel.display()));
            }
        }
    }
    assert!(
        bad.is_empty(),
        "dependencies that run the wrong way (see ARCHITECTURE.md, \"Dependencies\"):\n{}",
        bad.join("\n")
    );
}

#[test]
fn code_after_a_test_item_is_read() {
    let text = "use crate::a;\n#[cfg(test)]\nmod tests;\nuse crate::b;\n#[cfg(test)]\nmod t {\n    use crate::c;\n    const S: &str = r#\"\n}\n\"#;\n    const C: char = '}';\n    const Q: &str = \"}\\\"\";\n}\nfn f() { crate::d::x(); }\n";
    let seen: Vec<String> = paths(&code(text)).into_iter().map(|(a, _)| a).collect();
    assert_eq!(seen, ["a", "b", "d"]);
}
