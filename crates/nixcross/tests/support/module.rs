//! The NixOS module a module file holds, as the tests evaluate it.

use std::path::Path;

/// A Nix expression for the NixOS module in `path` (relative to the
/// evaluation's folder) whose text is `text`: the file itself, or, for a
/// flake-parts module that defines one NixOS module, that module, taken from
/// the file called with the model's `lib` (`model` is the folder of
/// `crates/testkit/nix`) and stand-in inputs.
pub fn nixos_module_expr(path: &str, text: &str, model: &Path) -> String {
    let nested = nixcross::test_support::parse(text)
        .ok()
        .and_then(|d| d.expr())
        .map(|e| nixcross::test_support::nested_nixos_modules(&e))
        .unwrap_or_default();
    match nested.as_slice() {
        [(attr, _)] => format!(
            "((import ./{path}) {{ lib = (import {}/nixos.nix {{ }}).lib; inputs = {{ disko.nixosModules.disko = {{ }}; }}; }}).{attr}",
            model.display()
        ),
        _ => format!("./{path}"),
    }
}
