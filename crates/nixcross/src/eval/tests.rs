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
    assert!(ev.budget.steps < 10_000, "{} steps", ev.budget.steps);
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

/// Evaluate `src` (the file `x.nix`) with `limits`: its rendering, the steps
/// and bytes spent, and the time it took.
fn bounded(src: &str, limits: Limits) -> (String, (u64, u64), std::time::Duration) {
    let files = MemFiles::single("x.nix", src);
    let mut ev = Evaluator::new(SourceMap::new(&files)).with_limits(limits);
    let start = std::time::Instant::now();
    let v = ev.import_path(&PathValue::Tree(RelPath::new("x.nix").unwrap()), None);
    let out = render(&mut ev, v, 0);
    (out, ev.spent(), start.elapsed())
}

/// `d (d (... "xx"))`, `n` times.
fn doubled(d: &str, n: usize, seed: &str) -> String {
    let mut e = seed.to_string();
    for _ in 0..n {
        e = format!("(d {e})");
    }
    format!("let d = {d}; in builtins.substring 0 0 {e}")
}

/// Values that grow without end are stopped by the byte budget before they
/// are built (the evaluator used to grow to gigabytes and abort), with the
/// place where the budget ran out; every later evaluation says the same.
#[test]
fn growing_values_are_stopped_by_the_byte_budget() {
    let cases = [
        (doubled("s: s + s", 30, "\"xx\""), "x.nix:1:12"),
        (doubled("s: \"${s}${s}\"", 30, "\"xx\""), "x.nix:1:19"),
        (
            format!(
                "builtins.length ({})",
                doubled("l: l ++ l", 30, "[ 1 ]").replace("builtins.substring 0 0 ", "")
            ),
            "x.nix:1:29",
        ),
        (
            "let s = builtins.concatStringsSep \"\" (builtins.genList (x: \"xxxxxxxxxxxxxxxx\") 1000); in builtins.concatStringsSep s (builtins.genList (x: \"\") 10000)".to_string(),
            "x.nix:1:90",
        ),
        (
            "builtins.length (builtins.genList (x: x) 1000000000)".to_string(),
            "x.nix:1:18",
        ),
        (
            "builtins.length (builtins.attrNames (builtins.foldl' (acc: x: acc // { ${toString x} = x; }) { } (builtins.genList (x: x) 100000)))".to_string(),
            "x.nix:1:63",
        ),
        (
            "builtins.length (builtins.foldl' (acc: x: acc ++ [ x ]) [ ] (builtins.genList (x: x) 100000))".to_string(),
            "x.nix:1:43",
        ),
    ];
    for (src, at) in cases {
        let (out, (_, bytes), took) = bounded(&src, Limits::default());
        assert!(
            out.contains(&format!(
                "the evaluation budget is spent at {at} (more than 32 MiB"
            )),
            "{src}: {out}"
        );
        // What was allocated stays near the budget (a refused reservation
        // is counted too, and may be far larger).
        assert!(bytes >= MAX_BYTES, "{src}: {bytes}");
        assert!(took.as_secs() < 20, "{src}: {took:?}");
    }
}

/// Recursion that branches is stopped by the step budget, and deep recursion
/// by the depth limit, each with its reason; a comparison is a step.
#[test]
fn recursion_is_stopped_by_the_step_budget_or_the_depth() {
    on_a_big_stack(recursion_is_stopped);
}

fn recursion_is_stopped() {
    let small = Limits {
        steps: 200_000,
        bytes: MAX_BYTES,
    };
    let fib = "let f = n: if n < 2 then n else f (n - 1) + f (n - 2); in f 35";
    let (out, (steps, _), _) = bounded(fib, small);
    assert!(
        out.contains("the evaluation budget is spent at x.nix:1:")
            && out.contains("more than 200000 evaluation steps"),
        "{out}"
    );
    assert!(steps < 200_100, "{steps}");
    // A small one is followed.
    assert_eq!(bounded(&fib.replace("f 35", "f 15"), small).0, "610");
    let (out, _, _) = bounded(
        "let lib = { }; in builtins.length (builtins.filter (x: builtins.elem x (builtins.genList (y: y) 3000)) (builtins.genList (y: -y) 3000))",
        small,
    );
    assert!(out.contains("evaluation steps"), "{out}");
    let deep = "let f = n: if n == 0 then 0 else 1 + f (n - 1); in f 1000000";
    let (out, _, _) = bounded(deep, Limits::default());
    assert!(out.contains("nested too deeply"), "{out}");
}

/// Built-ins and comparisons that recurse into values stop at the depth
/// limit instead of overflowing the stack (each of these crashed).
#[test]
fn recursion_into_values_stops_at_the_depth_limit() {
    on_a_big_stack(recursion_into_values);
}

/// `f` on a thread with the stack the `nixcross` binary runs on (deep
/// evaluation in a debug build needs more than a test thread's 2 MiB).
fn on_a_big_stack(f: fn()) {
    std::thread::Builder::new()
        .stack_size(64 << 20)
        .spawn(f)
        .unwrap()
        .join()
        .unwrap();
}

fn recursion_into_values() {
    let nested = "n = k: if k == 0 then [ ] else [ (n (k - 1)) ];";
    let set = "m = k: if k == 0 then { } else { a = m (k - 1); };";
    for (src, want) in [
        (
            "lib: let a = { outPath = a; }; in \"${a}\"".to_string(),
            "<unknown: cannot interpolate",
        ),
        (
            format!("lib: let {nested} in n 100000 == n 100000"),
            "<unknown: cannot tell whether the two sides are equal",
        ),
        (
            format!("lib: let {nested} in lib.flatten (n 100000)"),
            "<unknown: the condition `k == 0` is not known: the expression is nested too deeply",
        ),
        (
            format!("lib: let {set} in builtins.attrNames (lib.recursiveUpdate (m 100000) (m 100000)).a.a"),
            "[ \"a\" ]",
        ),
    ] {
        let files = MemFiles::single("x.nix", src.clone());
        let mut ev = Evaluator::new(SourceMap::new(&files));
        let f = ev.import_path(&PathValue::Tree(RelPath::new("x.nix").unwrap()), None);
        let lib = ev.lib();
        let v = ev.apply(f, lib, None);
        let out = render(&mut ev, v, 0);
        assert!(out.starts_with(want), "{src}: {out}");
    }
}
