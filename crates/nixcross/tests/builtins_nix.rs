//! `syntax::NIX_BUILTINS` is what Nix says `builtins` holds.

use nixcross::test_support::{is_builtin_name, NIX_BUILTINS};

#[test]
fn builtins_match_nix() {
    let Some(nix) = nixcross_testkit::nix("builtins_match_nix") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let json = nix
        .eval_json(dir.path(), "builtins.attrNames builtins")
        .unwrap();
    let mut names: Vec<String> = serde_json::from_str(&json).unwrap();
    names.sort();
    let ours: Vec<String> = NIX_BUILTINS.iter().map(|s| s.to_string()).collect();
    assert_eq!(ours, names, "regenerate NIX_BUILTINS from this Nix");
    // The ones the issue saw shadowed are in scope without `builtins.`.
    for name in [
        "import",
        "map",
        "toString",
        "throw",
        "derivation",
        "scopedImport",
    ] {
        let expr = format!("builtins.isFunction {name} || builtins.isAttrs {name}");
        assert_eq!(
            nix.eval_json(dir.path(), &expr).unwrap().trim(),
            "true",
            "{name}"
        );
    }
    assert!(names.iter().all(|n| is_builtin_name(n)));
}
