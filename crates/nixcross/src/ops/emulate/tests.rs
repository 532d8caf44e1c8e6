use super::*;
use crate::files::MemFiles;

/// The edit of one file, as text.
#[derive(Debug)]
struct Out {
    text: String,
    changed: bool,
    warnings: Vec<String>,
}

/// `emulate` on `src` as a module file (or, with `config`, a flake whose
/// modules `./configuration.nix` and `./bare.nix` exist).
fn emulate(src: &str, o: &EmulateOptions) -> Result<Out> {
    let name = if o.config.is_some() {
        "flake.nix"
    } else {
        "configuration.nix"
    };
    let mut files = MemFiles::single(name, src);
    if o.config.is_some() {
        files
            .insert(
                "configuration.nix",
                "{ pkgs, ... }: { environment.systemPackages = [ pkgs.git ]; }",
            )
            .insert("bare.nix", "{ }");
    }
    let out = super::emulate(&files, &RelPath::new(name).unwrap(), o)?;
    Ok(Out {
        text: out
            .text_of(name)
            .map_or_else(|| src.to_string(), str::to_string),
        changed: out.changed(),
        warnings: out.warnings.iter().map(|w| w.message.clone()).collect(),
    })
}

fn opts(systems: &[&str]) -> EmulateOptions {
    EmulateOptions {
        systems: systems.iter().map(|s| s.to_string()).collect(),
        ..Default::default()
    }
}

fn add(src: &str, systems: &[&str]) -> String {
    emulate(src, &opts(systems)).unwrap().text
}

fn remove(src: &str, systems: &[&str]) -> String {
    let mut o = opts(systems);
    o.remove = true;
    emulate(src, &o).unwrap().text
}

fn err(src: &str, o: &EmulateOptions) -> Error {
    emulate(src, o).unwrap_err()
}

#[test]
fn adds_in_every_shape() {
    let cases: &[(&str, &str)] = &[
        ("{ }", "{ boot.binfmt.emulatedSystems = [ \"aarch64-linux\" ]; }"),
        (
            "{\n  a = 1;\n}\n",
            "{\n  a = 1;\n  boot.binfmt.emulatedSystems = [ \"aarch64-linux\" ];\n}\n",
        ),
        (
            "{ pkgs, ... }:\nlet x = 1; in\n{\n  a = x;\n}\n",
            "{ pkgs, ... }:\nlet x = 1; in\n{\n  a = x;\n  boot.binfmt.emulatedSystems = [ \"aarch64-linux\" ];\n}\n",
        ),
        (
            "{\n  boot = {\n    loader.grub.enable = true;\n  };\n  a = 1;\n}\n",
            "{\n  boot = {\n    loader.grub.enable = true;\n    binfmt.emulatedSystems = [ \"aarch64-linux\" ];\n  };\n  a = 1;\n}\n",
        ),
        (
            "{\n  boot.binfmt = {\n    registrations = { };\n  };\n}\n",
            "{\n  boot.binfmt = {\n    registrations = { };\n    emulatedSystems = [ \"aarch64-linux\" ];\n  };\n}\n",
        ),
        (
            "{\n  boot.loader.grub.enable = true;\n  networking.hostName = \"b\";\n}\n",
            "{\n  boot.loader.grub.enable = true;\n  boot.binfmt.emulatedSystems = [ \"aarch64-linux\" ];\n  networking.hostName = \"b\";\n}\n",
        ),
        (
            "{\n  boot.binfmt.emulatedSystems = [ \"riscv64-linux\" ];\n}\n",
            "{\n  boot.binfmt.emulatedSystems = [ \"riscv64-linux\" \"aarch64-linux\" ];\n}\n",
        ),
        (
            "{ lib, ... }:\n{\n  boot.binfmt.emulatedSystems = lib.mkForce [ ];\n}\n",
            "{ lib, ... }:\n{\n  boot.binfmt.emulatedSystems = lib.mkForce [ \"aarch64-linux\" ];\n}\n",
        ),
        (
            "{\n  options = { };\n  config = {\n    a = 1;\n  };\n}\n",
            "{\n  options = { };\n  config = {\n    a = 1;\n    boot.binfmt.emulatedSystems = [ \"aarch64-linux\" ];\n  };\n}\n",
        ),
    ];
    for (src, want) in cases {
        assert_eq!(&add(src, &["aarch64-linux"]), want, "{src}");
        assert_eq!(
            &remove(want, &["aarch64-linux"]),
            src,
            "round trip of {src}"
        );
    }
}

#[test]
fn never_duplicates_and_maps_names() {
    let src = "{ boot.binfmt.emulatedSystems = [ \"aarch64-linux\" ]; }";
    let out = emulate(src, &opts(&["aarch64-linux"])).unwrap();
    assert!(!out.changed);
    assert_eq!(out.text, src);
    // pkgsCross name and triple map to their double, once.
    let out = add(
        "{ }",
        &["riscv64", "riscv64-unknown-linux-gnu", "raspberryPi"],
    );
    assert_eq!(
        out,
        "{ boot.binfmt.emulatedSystems = [ \"riscv64-linux\" \"armv6l-linux\" ]; }"
    );
}

#[test]
fn removes_and_drops_the_empty_binding() {
    let src = "{\n  boot.binfmt.emulatedSystems = [\n    \"aarch64-linux\" # arm\n    \"riscv64-linux\"\n  ];\n  a = 1;\n}\n";
    assert_eq!(
        remove(src, &["aarch64-linux"]),
        "{\n  boot.binfmt.emulatedSystems = [\n    \"riscv64-linux\"\n  ];\n  a = 1;\n}\n"
    );
    assert_eq!(
        remove(src, &["aarch64-linux", "riscv64-linux"]),
        "{\n  a = 1;\n}\n"
    );
    let forced = "{ boot.binfmt.emulatedSystems = lib.mkForce [ \"aarch64-linux\" ]; }";
    assert_eq!(
        remove(forced, &["aarch64-linux"]),
        "{ boot.binfmt.emulatedSystems = lib.mkForce [ ]; }"
    );
    let mut o = opts(&["riscv64-linux"]);
    o.remove = true;
    let out = emulate(src, &o).unwrap();
    assert_eq!(out.warnings.len(), 0);
    let out = emulate("{ }", &o).unwrap();
    assert!(!out.changed);
    assert!(out.warnings[0].contains("nothing to remove"));
}

#[test]
fn static_emulators() {
    let mut o = opts(&["aarch64-linux"]);
    o.static_emulators = true;
    let src = "{\n  a = 1;\n}\n";
    let out = emulate(src, &o).unwrap();
    assert_eq!(
        out.text,
        "{\n  a = 1;\n  boot.binfmt.emulatedSystems = [ \"aarch64-linux\" ];\n  boot.binfmt.preferStaticEmulators = true;\n}\n"
    );
    o.remove = true;
    assert_eq!(emulate(&out.text, &o).unwrap().text, src);
    let o = EmulateOptions {
        static_emulators: true,
        ..Default::default()
    };
    assert_eq!(
        emulate("{ boot.binfmt.preferStaticEmulators = false; }", &o)
            .unwrap()
            .text,
        "{ boot.binfmt.preferStaticEmulators = true; }"
    );
    assert_eq!(
        err("{ boot.binfmt.preferStaticEmulators = x; }", &o).kind,
        crate::ErrorKind::Refused
    );
}

#[test]
fn appends_to_a_computed_list_and_takes_it_off_again() {
    for (src, want) in [
        (
            "{ boot.binfmt.emulatedSystems = lib.optionals x [ ]; }",
            "{ boot.binfmt.emulatedSystems = lib.optionals x [ ] ++ [ \"aarch64-linux\" ]; }",
        ),
        (
            "{ boot.binfmt.emulatedSystems = map (s: s) xs; }",
            "{ boot.binfmt.emulatedSystems = map (s: s) xs ++ [ \"aarch64-linux\" ]; }",
        ),
        (
            "{ boot.binfmt.emulatedSystems = if c then [ ] else lib.optional d \"x\"; }",
            "{ boot.binfmt.emulatedSystems = (if c then [ ] else lib.optional d \"x\") ++ [ \"aarch64-linux\" ]; }",
        ),
    ] {
        let out = emulate(src, &opts(&["aarch64-linux"])).unwrap();
        assert_eq!(out.text, want);
        assert!(
            out.warnings.iter().any(|w| w.contains("++ [ ... ]")),
            "{:?}",
            out.warnings
        );
        assert_eq!(add(want, &["aarch64-linux"]), want, "idempotent");
        assert_eq!(remove(want, &["aarch64-linux"]), src, "round trip");
    }
}

#[test]
fn a_computed_list_that_has_the_system_stays_as_it_is() {
    let src = "{ boot.binfmt.emulatedSystems = builtins.filter (s: true) [ \"aarch64-linux\" ]; }";
    let out = emulate(src, &opts(&["aarch64-linux"])).unwrap();
    assert_eq!(out.text, src);
    assert!(!out.changed);
}

#[test]
fn refuses_what_it_cannot_see() {
    let o = opts(&["aarch64-linux"]);
    for (src, needle) in [
        (
            "{ boot.binfmt.emulatedSystems = lib.mkIf x [ ]; }",
            "lib.mkIf",
        ),
        (
            "{ boot.binfmt.emulatedSystems = lib.mkForce xs; }",
            "lib.mkForce",
        ),
        // A variable may hold `lib.mkIf ...`, which `++` cannot extend.
        ("{ boot.binfmt.emulatedSystems = xs; }", "variable"),
        (
            "{ boot.binfmt.emulatedSystems = if c then xs else [ ]; }",
            "if",
        ),
        ("{ inherit boot; }", "inherited"),
        ("{ boot = { } // x; }", "not a plain"),
        ("{ boot = with x; { }; }", "not a plain"),
        ("{ boot = rec { }; }", "not a plain"),
        ("{ boot = lib.mkIf c { }; }", "not a plain"),
        ("rec { }", "rec"),
        ("{ outputs = _: { }; }", "flake"),
    ] {
        let e = err(src, &o);
        assert_eq!(e.kind, crate::ErrorKind::Refused, "{src}");
        assert!(e.message.contains(needle), "{src}: {}", e.message);
        assert!(e.range.is_some(), "{src}");
    }
    let e = err("{ a = ", &o);
    assert_eq!(e.kind, crate::ErrorKind::Parse);
}

#[test]
fn unknown_and_unemulatable_systems() {
    let e = err("{ }", &opts(&["aarch64-linx"]));
    assert_eq!(e.kind, crate::ErrorKind::InvalidInput);
    assert!(
        e.hints[0].contains("did you mean aarch64-linux"),
        "{:?}",
        e.hints
    );
    let e = err("{ }", &opts(&["x86_64-darwin"]));
    assert!(
        e.message.contains("not a system NixOS can emulate"),
        "{}",
        e.message
    );
}

#[test]
fn the_host_cannot_emulate_itself() {
    let mut o = opts(&["x86_64-linux"]);
    o.host = Some("x86_64-linux".into());
    assert_eq!(err("{ }", &o).kind, crate::ErrorKind::InvalidInput);
    for src in [
        "{ nixpkgs.hostPlatform = \"x86_64-linux\"; }",
        "{ lib, ... }: { nixpkgs.hostPlatform = lib.mkDefault \"x86_64-linux\"; }",
        "{ nixpkgs = { system = \"x86_64-linux\"; }; }",
        "{ nixpkgs.hostPlatform.system = \"x86_64-linux\"; }",
        "{ nixpkgs.hostPlatform = { config = \"x86_64-unknown-linux-gnu\"; }; }",
    ] {
        let e = err(src, &opts(&["x86_64-linux"]));
        assert!(e.message.contains("own system"), "{src}");
        assert!(e.range.is_some(), "{src}");
    }
    // Removing the own system is allowed (it repairs the module).
    let mut o = opts(&["x86_64-linux"]);
    o.remove = true;
    o.host = Some("x86_64-linux".into());
    assert!(emulate(
        "{ boot.binfmt.emulatedSystems = [ \"x86_64-linux\" ]; }",
        &o
    )
    .is_ok());
    // Without a stated host, the local system only warns.
    let mut o = opts(&["x86_64-linux"]);
    o.local_system = Some("x86_64-linux".into());
    let out = emulate("{ }", &o).unwrap();
    assert!(out.changed);
    assert!(out.warnings[0].contains("runs on"));
    // Another declared host is fine.
    let out = emulate(
        "{ nixpkgs.hostPlatform = \"aarch64-linux\"; }",
        &opts(&["x86_64-linux"]),
    )
    .unwrap();
    assert!(out.changed);
}

const FLAKE: &str = r#"{
  inputs.nixpkgs.url = "github:NixOS/nixpkgs/nixos-unstable";
  outputs = { nixpkgs, ... }: {
nixosConfigurations.builder = nixpkgs.lib.nixosSystem {
  system = "x86_64-linux";
  modules = [
    ./configuration.nix
    { networking.hostName = "builder"; }
  ];
};
nixosConfigurations.bare = nixpkgs.lib.nixosSystem {
  system = "x86_64-linux";
  modules = [ ./bare.nix ];
};
  };
}
"#;

fn in_config(name: &str, systems: &[&str], remove: bool) -> Result<Out> {
    let mut o = opts(systems);
    o.config = Some(name.into());
    o.remove = remove;
    emulate(FLAKE, &o).and_then(|out| {
        if remove {
            return Ok(out);
        }
        // Every addition here must also come out again.
        let mut back = opts(systems);
        back.config = Some(name.into());
        back.remove = true;
        let again = emulate(&out.text, &back)?;
        assert_eq!(again.text, FLAKE, "round trip in `{name}`");
        Ok(out)
    })
}

#[test]
fn flake_configurations() {
    let out = in_config("builder", &["aarch64-linux"], false).unwrap();
    assert!(out
        .text
        .contains("{ networking.hostName = \"builder\"; boot.binfmt.emulatedSystems = [ \"aarch64-linux\" ]; }"),
        "{}", out.text);

    let out = in_config("bare", &["riscv64-linux"], false).unwrap();
    assert!(
        out.text.contains(
            "modules = [ { boot.binfmt.emulatedSystems = [ \"riscv64-linux\" ]; } ./bare.nix ];"
        ),
        "{}",
        out.text
    );
    // The configuration's own system is refused, at its name.
    let e = in_config("builder", &["x86_64-linux"], false).unwrap_err();
    assert!(e.message.contains("own system"), "{}", e.message);
    assert!(e
        .range
        .is_some_and(|r| FLAKE[r.start..].starts_with("nixosConfigurations.builder")));
    let e = in_config("nope", &["aarch64-linux"], false).unwrap_err();
    assert!(e.message.contains("no configuration named"));
    let out = in_config("bare", &["aarch64-linux"], true).unwrap();
    assert!(!out.changed);
}

#[test]
fn sees_into_conditions_merges_and_concatenation() {
    let cases: &[(&str, &str)] = &[
        (
            "{ config, lib, ... }: {\n  options.x = lib.mkEnableOption \"x\";\n  config = lib.mkIf config.x {\n    a = 1;\n  };\n}\n",
            "{ config, lib, ... }: {\n  options.x = lib.mkEnableOption \"x\";\n  config = lib.mkIf config.x {\n    a = 1;\n    boot.binfmt.emulatedSystems = [ \"aarch64-linux\" ];\n  };\n}\n",
        ),
        (
            "{ lib, ... }: lib.mkIf true {\n  a = 1;\n}\n",
            "{ lib, ... }: lib.mkIf true {\n  a = 1;\n  boot.binfmt.emulatedSystems = [ \"aarch64-linux\" ];\n}\n",
        ),
        (
            "{ lib, ... }: {\n  config = lib.mkMerge [\n    { a = 1; }\n    { boot.loader.grub.enable = true; }\n  ];\n}\n",
            "{ lib, ... }: {\n  config = lib.mkMerge [\n    { a = 1; }\n    { boot.loader.grub.enable = true; boot.binfmt.emulatedSystems = [ \"aarch64-linux\" ]; }\n  ];\n}\n",
        ),
        (
            "{ boot.binfmt.emulatedSystems = [ \"riscv64-linux\" ] ++ other; }",
            "{ boot.binfmt.emulatedSystems = [ \"riscv64-linux\" \"aarch64-linux\" ] ++ other; }",
        ),
    ];
    for (src, want) in cases {
        assert_eq!(&add(src, &["aarch64-linux"]), want, "{src}");
    }
}

#[test]
fn edits_the_nixos_module_a_flake_parts_module_defines() {
    for (src, want) in [
        (
            "{ ... }: { flake.nixosModules.builder = { boot.loader.grub.enable = true; }; }",
            "{ ... }: { flake.nixosModules.builder = { boot.loader.grub.enable = true; boot.binfmt.emulatedSystems = [ \"aarch64-linux\" ]; }; }",
        ),
        (
            "{ ... }: {\n  flake.modules.nixos.builder = { pkgs, ... }: {\n    nix.settings.cores = 4;\n  };\n  perSystem = { ... }: { };\n}\n",
            "{ ... }: {\n  flake.modules.nixos.builder = { pkgs, ... }: {\n    nix.settings.cores = 4;\n    boot.binfmt.emulatedSystems = [ \"aarch64-linux\" ];\n  };\n  perSystem = { ... }: { };\n}\n",
        ),
        (
            "{\n  flake.aspects.boot = {\n    nixos = {\n      boot.binfmt.emulatedSystems = [ \"riscv64-linux\" ];\n    };\n  };\n}\n",
            "{\n  flake.aspects.boot = {\n    nixos = {\n      boot.binfmt.emulatedSystems = [ \"riscv64-linux\" \"aarch64-linux\" ];\n    };\n  };\n}\n",
        ),
    ] {
        assert_eq!(&add(src, &["aarch64-linux"]), want, "{src}");
    }
}

#[test]
fn refuses_files_that_are_not_nixos_modules() {
    let o = opts(&["aarch64-linux"]);
    for (src, needle) in [
        (
            "{ ... }: { perSystem = { pkgs, ... }: { }; }",
            "flake-parts module",
        ),
        (
            "{ ... }: { flake.nixosModules.a = { }; flake.nixosModules.b = { }; }",
            "several NixOS modules (`flake.nixosModules.a` and `flake.nixosModules.b`)",
        ),
        (
            "{ pkgs, ... }: { home.packages = [ ]; }",
            "home-manager module",
        ),
        ("{ stdenv, fetchurl }: stdenv.mkDerivation { }", "a package"),
    ] {
        let e = err(src, &o);
        assert!(e.message.contains(needle), "{src}: {}", e.message);
    }
}

#[test]
fn a_setting_under_a_condition_is_warned_about_where_it_goes() {
    let src = "{ config, lib, ... }:\n{\n  config = lib.mkIf config.services.x.enable {\n    boot.loader.grub.enable = false;\n  };\n}\n";
    let files = MemFiles::single("configuration.nix", src);
    let out = super::emulate(
        &files,
        &RelPath::new("configuration.nix").unwrap(),
        &opts(&["aarch64-linux"]),
    )
    .unwrap();
    let w = out
        .warnings
        .iter()
        .find(|w| {
            w.message
                .contains("hold only when `config.services.x.enable`")
        })
        .unwrap_or_else(|| panic!("{:?}", out.warnings));
    let at = w.location.as_ref().expect("a location");
    assert_eq!(
        (at.file.as_str(), at.line, at.col),
        ("configuration.nix", 3, 46)
    );
    assert!(
        w.to_string()
            .starts_with("configuration.nix:3:46: the new settings"),
        "{w}"
    );
}
