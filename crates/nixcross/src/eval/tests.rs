use super::*;
use crate::files::MemFiles;

/// Evaluate `expr` (in `flake.nix` of a tree with `files`), forcing deeply
/// enough to print it.
fn show(files: &MemFiles, path: &str) -> String {
    let sources = SourceMap::new(files);
    let mut ev = Evaluator::new(sources);
    let v = ev.import_path(&PathValue::Tree(RelPath::new(path).unwrap()), None);
    render(&mut ev, v, 0)
}

fn render(ev: &mut Evaluator, v: Value, depth: usize) -> String {
    if depth > 6 {
        return "…".into();
    }
    match v {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Int(i) => i.to_string(),
        Value::Float(f) => f.to_string(),
        Value::Str(s) => match s.as_text() {
            Some(t) => format!("{t:?}"),
            None => format!("{:?}", s.pieces),
        },
        Value::Path(p) => p.describe(),
        Value::List(l) => {
            let items: Vec<String> = l
                .iter()
                .map(|t| {
                    let v = ev.force(*t);
                    render(ev, v, depth + 1)
                })
                .collect();
            format!("[ {} ]", items.join(" "))
        }
        Value::Attrs(a) => {
            let mut out = Vec::new();
            for (k, e) in a.entries.iter() {
                let v = ev.force(e.value);
                out.push(format!("{k} = {};", render(ev, v, depth + 1)));
            }
            if a.open.is_some() {
                out.push("…".into());
            }
            format!("{{ {} }}", out.join(" "))
        }
        Value::Lambda(_) | Value::Prim(_) => "<fn>".into(),
        Value::Special(s) => match &*s {
            Special::NixosSystem { input, .. } => format!("<nixosSystem {input}>"),
            Special::Input { name, path, .. } => format!("<input {name} {}>", path.join(".")),
            Special::Property(_) => "<property>".into(),
            Special::Pkgs(p) => format!("<pkgs {}>", p.input),
            Special::PkgsCross(p) => format!("<pkgsCross {}>", p.input),
            Special::Package(p) => format!("<package {}>", p.input),
            Special::AnySystem => "<system>".into(),
        },
        Value::Unknown(u) => format!("<unknown: {}>", u.reason),
    }
}

fn one(src: &str) -> String {
    show(&MemFiles::single("x.nix", src), "x.nix")
}

#[test]
fn scopes_functions_and_operators() {
    assert_eq!(one("let a = 1; b = a + 1; in b"), "2");
    assert_eq!(one("rec { a = 1; b = a; }"), "{ a = 1; b = 1; }");
    assert_eq!(one("let f = { x, y ? x }: y; in f { x = 3; }"), "3");
    assert_eq!(
        one("let s = { a.b = 1; a.c = 2; }; in s.a"),
        "{ b = 1; c = 2; }"
    );
    assert_eq!(
        one("{ a = { b = 1; }; a.c = 2; }"),
        "{ a = { b = 1; c = 2; }; }"
    );
    assert_eq!(
        one("let x = 1; in { inherit x; y = { x = 2; }.x; }"),
        "{ x = 1; y = 2; }"
    );
    assert_eq!(one("{ a = 1; } // { b = 2; }"), "{ a = 1; b = 2; }");
    assert_eq!(one("[ 1 ] ++ [ 2 ]"), "[ 1 2 ]");
    assert_eq!(
        one("let n = \"b\"; in { \"a${n}\" = 1; ${n} = 2; }"),
        "{ ab = 1; b = 2; }"
    );
    assert_eq!(one("with { a = 1; }; let b = 2; in a + b"), "3");
    assert_eq!(one("if \"a\" == \"a\" then 1 else 2"), "1");
    assert_eq!(one("{ a = 1; }.b or 5"), "5");
    assert_eq!(one("({ a = 1; }) ? a"), "true");
    assert!(one("builtins.currentSystem").starts_with("<unknown"));
    assert!(one("let a = a; in a").contains("infinite recursion"));
    assert!(one("undefined").contains("not defined"));
}

#[test]
fn builtins_and_lib_shapes() {
    assert_eq!(
        one("builtins.listToAttrs (map (n: { name = n; value = n + \"!\"; }) [ \"a\" \"b\" ])"),
        "{ a = \"a!\"; b = \"b!\"; }"
    );
    assert_eq!(
        one("builtins.mapAttrs (n: v: v + 1) { a = 1; b = 2; }"),
        "{ a = 2; b = 3; }"
    );
    assert_eq!(one("builtins.filter (x: x != 2) [ 1 2 3 ]"), "[ 1 3 ]");
    assert_eq!(one("builtins.foldl' (acc: x: acc + x) 0 [ 1 2 3 ]"), "6");
    assert_eq!(
        one("builtins.attrNames { b = 1; a = 2; }"),
        "[ \"a\" \"b\" ]"
    );
}

#[test]
fn paths_imports_and_read_dir() {
    let mut f = MemFiles::new();
    f.insert(
        "flake.nix",
        r#"let
  hosts = builtins.readDir ./hosts;
  dirs = builtins.filter (n: hosts.${n} == "directory") (builtins.attrNames hosts);
in {
  names = dirs;
  values = map (n: import ./hosts/${n}) dirs;
  viaString = import "${./hosts}/a";
  plus = import (./hosts + "/b/default.nix");
  outside = import ../x.nix;
}"#,
    )
    .insert("hosts/a/default.nix", "{ name = \"a\"; }")
    .insert("hosts/b/default.nix", "{ name = \"b\"; }")
    .insert("hosts/readme.md", "x");
    let out = show(&f, "flake.nix");
    assert!(out.contains("names = [ \"a\" \"b\" ];"), "{out}");
    assert!(
        out.contains("values = [ { name = \"a\"; } { name = \"b\"; } ];"),
        "{out}"
    );
    assert!(out.contains("viaString = { name = \"a\"; };"), "{out}");
    assert!(out.contains("plus = { name = \"b\"; };"), "{out}");
    assert!(out.contains("outside = <unknown"), "{out}");
}

#[test]
fn a_file_that_does_not_parse_is_unknown_with_its_location() {
    let mut f = MemFiles::new();
    f.insert("flake.nix", "import ./bad.nix")
        .insert("bad.nix", "{ a = 1 }");
    let out = show(&f, "flake.nix");
    assert!(out.starts_with("<unknown: ./bad.nix:1:9:"), "{out}");
}

#[test]
fn string_literals_remember_where_they_are() {
    let files = MemFiles::single(
        "x.nix",
        "let s = \"riscv64-linux\"; in { a = s; b = \"x${s}\"; }",
    );
    let sources = SourceMap::new(&files);
    let mut ev = Evaluator::new(sources);
    let v = ev.import_path(&PathValue::Tree(RelPath::new("x.nix").unwrap()), None);
    let Value::Attrs(a) = v else { panic!() };
    let av = ev.force(a.entries["a"].value);
    let Value::Str(s) = av else { panic!() };
    let origin = s.origin.clone().expect("a literal");
    assert_eq!(origin.node.text(), "\"riscv64-linux\"");
    let bv = ev.force(a.entries["b"].value);
    let Value::Str(s) = bv else { panic!() };
    assert!(
        s.origin.is_none(),
        "an interpolated string is not a literal"
    );
    // The binding that defines `a`.
    let def = a.entries["a"].def.clone().unwrap();
    assert_eq!(def.node.text(), "a = s;");
}

#[test]
fn nixos_system_and_properties_are_recorded() {
    let files = MemFiles::single(
        "x.nix",
        "lib: { a = lib.nixosSystem { modules = [ ]; }; b = lib.mkDefault 1; c = lib.genAttrs [ \"x\" ] (n: n); }",
    );
    let sources = SourceMap::new(&files);
    let mut ev = Evaluator::new(sources);
    let f = ev.import_path(&PathValue::Tree(RelPath::new("x.nix").unwrap()), None);
    let lib = ev.lib();
    let v = ev.apply(f, lib, None);
    let out = render(&mut ev, v, 0);
    assert_eq!(
        out,
        "{ a = <nixosSystem nixpkgs>; b = <property>; c = { x = \"x\"; }; }"
    );
}

/// A binding used twice by one used twice, sixty levels deep: every thunk
/// is forced once, so this takes linear steps, not 2^60.
#[test]
fn shared_bindings_are_forced_once() {
    let mut src = String::from("let\n  b0 = { a = 1; };\n");
    for i in 1..=60 {
        src.push_str(&format!(
            "  b{i} = {{ a = b{p}.a + b{p}.a; }};\n",
            p = i - 1
        ));
    }
    src.push_str("in b60.a\n");
    let files = MemFiles::single("x.nix", src);
    let mut ev = Evaluator::new(SourceMap::new(&files));
    let v = ev.import_path(&PathValue::Tree(RelPath::new("x.nix").unwrap()), None);
    assert_eq!(render(&mut ev, v, 0), (1i64 << 60).to_string());
    assert!(ev.steps < 10_000, "{} steps", ev.steps);
}

/// Per-system helpers say which systems they made, in the file's order;
/// in the rewritable reading, flake-utils' default systems are not listed
/// and its function is read once, for any system.
#[test]
fn per_system_helpers_are_recorded() {
    let src = "lib: { g = lib.genAttrs [ \"x86_64-linux\" \"aarch64-darwin\" ] (s: s); }";
    let files = MemFiles::single("x.nix", src);
    let mut ev = Evaluator::new(SourceMap::new(&files));
    let f = ev.import_path(&PathValue::Tree(RelPath::new("x.nix").unwrap()), None);
    let lib = ev.lib();
    let Value::Attrs(a) = ev.apply(f, lib, None) else {
        panic!()
    };
    let Value::Attrs(g) = ev.force(a.entries["g"].value) else {
        panic!()
    };
    let Some(MadeBy::PerSystem(ps)) = g.made_by.as_deref() else {
        panic!("{:?}", g.made_by)
    };
    assert_eq!(ps.how, crate::eval::SystemsHelper::GenAttrs);
    assert_eq!(ps.systems, ["x86_64-linux", "aarch64-darwin"]);

    let files = MemFiles::single(
        "x.nix",
        "utils: utils.lib.eachDefaultSystem (system: { packages.x = system; })",
    );
    for (reading, want) in [
        (
            Reading::Everything,
            "{ packages = { aarch64-darwin = { x = \"aarch64-darwin\"; }; aarch64-linux = { x = \"aarch64-linux\"; }; x86_64-darwin = { x = \"x86_64-darwin\"; }; x86_64-linux = { x = \"x86_64-linux\"; }; }; }",
        ),
        (Reading::Rewritable, "{ packages = { … }; }"),
    ] {
        // The rewritable reading imports no file: the file is loaded here.
        let mut sources = SourceMap::new(&files);
        let file = sources.load(&RelPath::new("x.nix").unwrap()).unwrap();
        let root = sources.get(file).root().unwrap();
        let mut ev = Evaluator::new(sources).with_reading(reading);
        let base = ev.base_env();
        let f = ev.eval(&root, file, base);
        let utils = ev.value(Value::Special(Rc::new(Special::Input {
            name: "flake-utils".into(),
            nixpkgs: false,
            path: Vec::new(),
        })));
        let v = ev.apply(f, utils, None);
        assert_eq!(render(&mut ev, v, 0), want);
    }
}

#[test]
fn with_namespaces_in_nix_order() {
    // A lexical binding wins over every `with`.
    assert_eq!(
        one("let nixpkgs = 3; in with builtins.currentSystem; nixpkgs"),
        "3"
    );
    // The innermost namespace that has it.
    assert_eq!(one("with { a = 1; }; with { a = 2; }; a"), "2");
    assert_eq!(one("with { a = 1; }; with { b = 2; }; a"), "1");
    // One namespace nixcross cannot list and nothing else: it comes from
    // there (an unknown of that namespace, not an ambiguity).
    let one_ns = one("with builtins.currentSystem; a");
    assert!(!one_ns.contains("may come from"), "{one_ns}");
    // Two namespaces that may both have it: unknown.
    let two = one("with builtins.currentSystem; with builtins.currentTime; a");
    assert!(two.contains("may come from a `with` namespace"), "{two}");
    // A listed outer namespace that has it, under one that cannot be listed.
    let both = one("with { a = 1; }; with builtins.currentSystem; a");
    assert!(both.contains("may come from a `with` namespace"), "{both}");
}
