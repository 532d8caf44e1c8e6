use super::*;

/// `line:col: message` and hints, as the CLI prints them.
fn error(text: &str) -> String {
    let e = Document::parse(text).unwrap_err();
    let (l, c) = line_col(text, e.range.expect("errors point into the spec").start);
    let mut s = format!("{l}:{c}: {}", e.message);
    for h in &e.hints {
        s.push_str(&format!("\n  hint: {h}"));
    }
    s
}

const FULL: &str = "\
# yaml-language-server: $schema=./nixcross.schema.json
flake: nix/flake.nix
configurations:
  lp4a:
    target: riscv64-linux
    mode: cross
    build: x86_64-linux
    style: legacy
    overlays:
      - packages: { gcc: gcc12 }
        scoped: true
        instance: pkgs-gcc12
        use: [ hello ]
      - packages:
          binutils: binutils_2_40
  pi:
    target: raspberryPi
    mode: emulate
buildHost:
  file: /etc/nixos/configuration.nix
  emulate: [ aarch64-linux, riscv64-linux ]
  staticEmulators: false
  builders:
    - uri: ssh-ng://nix@pi5
      systems: [ aarch64-linux ]
      maxJobs: 4
      features: [ big-parallel ]
";

#[test]
fn every_field_reads() {
    let doc = Document::parse(FULL).unwrap();
    let s = &doc.spec;
    assert_eq!(s.flake.as_deref(), Some("nix/flake.nix"));
    let lp4a = &s.configurations["lp4a"];
    assert_eq!(lp4a.target, "riscv64-linux");
    assert_eq!(lp4a.mode, Mode::Cross);
    assert_eq!(lp4a.build.as_deref(), Some("x86_64-linux"));
    assert_eq!(lp4a.style, Some(Style::Legacy));
    assert_eq!(lp4a.overlays.len(), 2);
    let o = &lp4a.overlays[0];
    assert_eq!(o.packages["gcc"], "gcc12");
    assert!(o.scoped);
    assert_eq!(o.instance.as_deref(), Some("pkgs-gcc12"));
    assert_eq!(o.uses, ["hello"]);
    assert!(!lp4a.overlays[1].scoped);
    let pi = &s.configurations["pi"];
    assert_eq!(
        (pi.mode, pi.build.as_ref(), pi.style),
        (Mode::Emulate, None, None)
    );
    let native =
        Document::parse("configurations:\n  box:\n    target: x86_64-linux\n    mode: native\n")
            .unwrap();
    assert_eq!(native.spec.configurations["box"].mode, Mode::Native);
    let h = s.build_host.as_ref().unwrap();
    assert_eq!(
        h.machine(),
        HostMachine::File("/etc/nixos/configuration.nix")
    );
    assert_eq!(h.emulate, ["aarch64-linux", "riscv64-linux"]);
    assert_eq!(h.static_emulators, Some(false));
    let b = &h.builders[0];
    assert_eq!(b.uri, "ssh-ng://nix@pi5");
    assert_eq!(b.max_jobs, Some(4));
    assert_eq!(b.features, ["big-parallel"]);
    // Where things are.
    let r = doc.config_range("pi").unwrap();
    assert_eq!(&FULL[r.0..r.1], "pi");
    // What it serializes to reads back the same.
    let again = Document::parse(&to_yaml(s, &["header".into()], &["note".into()])).unwrap();
    assert_eq!(&again.spec, s);
}

#[test]
fn type_errors_point_into_the_yaml() {
    let head = "configurations:\n  lp4a:\n";
    let cases: &[(&str, &str)] = &[
        (
            "    tagret: riscv64-linux\n    mode: cross\n",
            "3:5: unknown field `tagret`\n  hint: did you mean `target`?",
        ),
        (
            "    target: riscv64-linux\n    mode: crosss\n",
            "4:11: unknown value `crosss`: expected `cross`, `emulate` or `native`\n  hint: did you mean `cross`?",
        ),
        (
            "    target: riscv64-linux\n    mode: cross\n    overlays:\n      - packages: { gcc: gcc12 }\n        scoped: yes\n",
            "7:17: invalid type: string \"yes\", expected a boolean",
        ),
        (
            "    target: riscv64-linux\n",
            "3:5: missing field `mode`",
        ),
        (
            "    target: riscv64-linux\n    mode: cross\n    overlays: { gcc: gcc12 }\n",
            "5:15: invalid type: map, expected a sequence",
        ),
        (
            "    target: riscv64-linux\n    mode: cross\n    bogus: 1\n",
            "5:5: unknown field `bogus`\n  hint: expected one of `target`, `mode`, `build`, `style`, `overlays`",
        ),
    ];
    for (body, want) in cases {
        assert_eq!(error(&format!("{head}{body}")), *want, "{body}");
    }
    assert_eq!(
        error("configurations:\n  a: {}\n  a: {}\n"),
        "3:3: `a` is given twice\n  hint: the first is on line 2"
    );
    assert_eq!(
        error("flaek: x\n"),
        "1:1: unknown field `flaek`\n  hint: did you mean `flake`?"
    );
    assert!(error("configurations: [\n").starts_with("2:1: "));
    assert_eq!(
        error("# nothing\n"),
        "1:1: the spec is empty: it needs `configurations` or `buildHost`"
    );
}

#[test]
fn meaning_errors_point_into_the_yaml() {
    let cfg = |body: &str| format!("configurations:\n  lp4a:\n{body}");
    assert_eq!(
        error(&cfg("    target: riscv64-linx\n    mode: cross\n")),
        "3:13: unknown target `riscv64-linx`\n  hint: did you mean riscv64-linux, riscv32-linux, riscv64?\n  hint: `nixcross targets` lists every system, pkgsCross name and triple"
    );
    assert_eq!(
        error(&cfg("    target: x86_64-darwin\n    mode: cross\n")),
        "3:13: `x86_64-darwin` is a x86_64-darwin platform; NixOS runs on Linux only"
    );
    assert_eq!(
        error(&cfg("    target: aarch64-linux\n    mode: emulate\n    build: x86_64-linux\n")),
        "5:5: `build` names the build machine of a cross build; with `mode: emulate` the target is built natively\n  hint: remove `build`, or use `mode: cross`"
    );
    assert_eq!(
        error(&cfg("    target: aarch64-linux\n    mode: native\n    build: x86_64-linux\n")),
        "5:5: `build` names the build machine of a cross build; with `mode: native` the target is built natively\n  hint: remove `build`, or use `mode: cross`"
    );
    assert_eq!(
        error(&cfg("    target: aarch64-linux\n    mode: cross\n    build: aarch64-linux\n")),
        "5:12: cross-compiling from aarch64-linux to aarch64-linux is a native build\n  hint: use `mode: emulate`, or another build machine"
    );
    assert_eq!(
        error(&cfg(
            "    target: aarch64-linux\n    mode: cross\n    build: x86_64-lnux\n"
        ))
        .lines()
        .next(),
        Some("5:12: unknown target `x86_64-lnux`")
    );
    assert_eq!(
        error(&cfg("    target: aarch64-linux\n    mode: cross\n    overlays:\n      - packages: { gcc: \"gcc12; x\" }\n")),
        "6:21: `gcc=gcc12; x`: the package `gcc12; x` is not an attribute path of identifiers\n  hint: write ATTR=PACKAGE with names such as gcc=gcc12 or clang=llvmPackages_15.clang"
    );
    assert_eq!(
        error(&cfg("    target: aarch64-linux\n    mode: cross\n    overlays:\n      - packages: { gcc: gcc12 }\n        use: [ hello ]\n")),
        "7:9: `use` is for a scoped package set; this overlay is global\n  hint: add `scoped: true`, or remove it"
    );
    assert_eq!(
        error(&cfg(
            "    target: aarch64-linux\n    mode: cross\n    overlays:\n      - packages: {}\n"
        )),
        "6:19: an overlay needs at least one `attr: package` pair"
    );
    assert_eq!(
        error("buildHost:\n  file: a.nix\n  config: b\n"),
        "3:3: the build host is given twice: by `file` (line 2) and by `config`\n  hint: give either `file` (a NixOS module) or `config` (a configuration of this flake)"
    );
    assert_eq!(
        error("buildHost:\n  emulate: [ aarch64-linux ]\n"),
        "1:1: the build host needs `file` (a NixOS module) or `config` (a configuration of this flake)"
    );
    assert_eq!(
        error("buildHost:\n  config: b\n  emulate: [ aarch64-linux, m68k-linux ]\n")
            .lines()
            .next(),
        Some("3:29: `m68k-linux` is not a system NixOS can emulate")
    );
    assert_eq!(
        error("buildHost:\n  config: b\n  builders:\n    - uri: pi5\n      systems: [ aarch64-linux ]\n"),
        "4:12: `pi5` is not a builder URI: ssh://[user@]host or ssh-ng://[user@]host"
    );
}

#[test]
fn the_schema_comes_from_the_types() {
    let s = schema();
    let props = &s["properties"];
    for k in ["flake", "configurations", "buildHost"] {
        assert!(props.get(k).is_some(), "{k}");
    }
    assert_eq!(s["additionalProperties"], false);
    let config = &s["$defs"]["ConfigSpec"];
    assert_eq!(config["additionalProperties"], false);
    assert_eq!(config["required"], serde_json::json!(["target", "mode"]));
    let targets = config["properties"]["target"]["enum"].as_array().unwrap();
    assert!(targets.iter().any(|t| t == "riscv64-linux"));
    assert!(targets.iter().any(|t| t == "raspberryPi"));
    assert!(!targets.iter().any(|t| t == "x86_64-darwin"));
    assert_eq!(
        config["properties"]["mode"]["$ref"], "#/$defs/Mode",
        "{config}"
    );
    // Each mode is a value of the schema, with its description.
    let modes = serde_json::to_string(&s["$defs"]["Mode"]).unwrap();
    for m in [
        "\"cross\"",
        "\"emulate\"",
        "\"native\"",
        "target's own system",
    ] {
        assert!(modes.contains(m), "{m}: {modes}");
    }
    let host = &s["$defs"]["BuildHostSpec"];
    assert_eq!(host["oneOf"].as_array().unwrap().len(), 2);
    assert!(host["properties"].get("staticEmulators").is_some());
    let overlay = &s["$defs"]["OverlaySpec"];
    assert!(overlay["properties"].get("use").is_some());
}

/// A name with a bidirectional mark (or any control character) is written
/// double-quoted with the mark escaped, keys, values and list items alike,
/// and reads back as the same value; a comment shows it escaped.
#[test]
fn unsafe_characters_are_escaped_in_the_yaml() {
    use std::collections::BTreeMap;
    let odd = [
        "ev\u{202e}il",
        "a\u{2066}b: c",
        "it's \u{202a}\"q\"",
        "\u{9b}31m\u{202e}",
        "x\u{1b}[2J\u{7f}",
    ];
    let mut m: BTreeMap<String, BTreeMap<String, Vec<String>>> = BTreeMap::new();
    for (i, o) in odd.iter().enumerate() {
        let mut inner = BTreeMap::new();
        inner.insert(format!("k{i}"), vec![o.to_string(), "plain".into()]);
        inner.insert(o.to_string(), vec![format!("- {o}")]);
        m.insert(o.to_string(), inner);
    }
    let yaml = serde_yaml::to_string(&m).unwrap();
    let safe = escape_scalars(&yaml);
    assert!(!safe.chars().any(is_unsafe_inline), "{safe}");
    let back: BTreeMap<String, BTreeMap<String, Vec<String>>> =
        serde_yaml::from_str(&safe).unwrap();
    assert_eq!(back, m, "{safe}");
    // Nothing to escape: the same text.
    let plain = "configurations:\n  a:\n    target: riscv64-linux\n";
    assert_eq!(escape_scalars(plain), plain);
    assert_eq!(
        comment_line("ev\u{202e}il \u{1b}[2J"),
        "# ev\\u{202e}il \\x1b[2J\n"
    );
}
