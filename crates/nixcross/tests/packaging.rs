//! `cargo package -p nixcross` needs every file the library embeds to lie
//! inside the crate: an `include_str!` that climbs out of `crates/nixcross`
//! builds in the workspace and breaks in the published crate. The
//! templates are reached through `crates/nixcross/templates`, a symlink to
//! the repository's `templates/` that cargo packages as regular files.

use std::path::{Component, Path, PathBuf};

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// `base/rel` with `.` and `..` resolved on the text alone (no symlink is
/// followed, as cargo's packaged copy has none).
fn lexical(base: &Path, rel: &str) -> PathBuf {
    let mut out = PathBuf::new();
    for c in base.join(rel).components() {
        match c {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            c => out.push(c),
        }
    }
    out
}

#[test]
fn embedded_files_lie_inside_the_crate() {
    let krate = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    rust_files(&krate.join("src"), &mut files);
    let mut embedded = 0;
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        for mac in ["include_str!(\"", "include_bytes!(\""] {
            for (i, _) in text.match_indices(mac) {
                let rest = &text[i + mac.len()..];
                let rel = &rest[..rest.find('"').unwrap()];
                let target = lexical(file.parent().unwrap(), rel);
                assert!(
                    target.starts_with(krate),
                    "{}: {mac}{rel}\") reaches outside the crate ({})",
                    file.display(),
                    target.display()
                );
                assert!(target.is_file(), "{}: {rel} is missing", file.display());
                embedded += 1;
            }
        }
    }
    assert!(embedded >= 2, "found only {embedded} embedded files");
}
