use super::*;
use crate::files::MemFiles;

fn opts(name: &str, target: &str, mode: Mode) -> AddConfigOptions {
    AddConfigOptions {
        name: name.into(),
        target: target.into(),
        mode,
        host: Some("x86_64-linux".into()),
        style: None,
        local_system: Some("x86_64-linux".into()),
    }
}

fn run(flake: &str, o: &AddConfigOptions) -> Result<String> {
    let files = MemFiles::single("flake.nix", flake);
    let out = add_config(&files, &RelPath::new("flake.nix").unwrap(), o)?;
    Ok(out
        .text_of("flake.nix")
        .map(str::to_string)
        .unwrap_or_else(|| flake.to_string()))
}

#[test]
fn goes_after_the_last_dotted_configuration() {
    let flake = "{\n  outputs = { nixpkgs, ... }: {\n    nixosConfigurations.a = nixpkgs.lib.nixosSystem {\n      system = \"x86_64-linux\";\n      modules = [ ];\n    };\n  };\n}\n";
    let out = run(flake, &opts("lp4a", "riscv64-linux", Mode::Cross)).unwrap();
    assert!(
        out.contains("    };\n    nixosConfigurations.lp4a = nixpkgs.lib.nixosSystem {\n      # The build platform"),
        "{out}"
    );
    assert!(out.contains("nixpkgs.crossSystem = {"), "{out}");
    // Again: the configuration is there, nothing changes.
    assert_eq!(
        run(&out, &opts("lp4a", "riscv64-linux", Mode::Cross)).unwrap(),
        out
    );
    // Another target under the same name is refused.
    let e = run(&out, &opts("lp4a", "aarch64-linux", Mode::Emulate)).unwrap_err();
    assert!(
        e.message.contains("already has a configuration `lp4a`"),
        "{e:?}"
    );
}

#[test]
fn follows_the_files_style_and_nesting() {
    let flake = "{\n\toutputs = inputs: {\n\t\tnixosConfigurations = {\n\t\t\ta = inputs.nixpkgs.lib.nixosSystem {\n\t\t\t\tmodules = [ { nixpkgs.hostPlatform = \"x86_64-linux\"; } ];\n\t\t\t};\n\t\t};\n\t};\n}\n";
    let out = run(flake, &opts("pi", "aarch64-linux", Mode::Emulate)).unwrap();
    assert!(
        out.contains("\t\t\t};\n\t\t\tpi = inputs.nixpkgs.lib.nixosSystem {\n"),
        "{out}"
    );
    assert!(
        out.contains("\t\t\t\t\tnixpkgs.hostPlatform = \"aarch64-linux\";"),
        "{out}"
    );
    assert!(!out.contains("system = \""), "{out}");
}

#[test]
fn an_empty_flake_gets_nixos_configurations() {
    let flake = "{\n  outputs = { self, nixpkgs }: {\n    packages = { };\n  };\n}\n";
    let out = run(flake, &opts("board", "aarch64-linux", Mode::Emulate)).unwrap();
    assert!(
        out.contains(
            "    packages = { };\n\n    nixosConfigurations.board = nixpkgs.lib.nixosSystem {"
        ),
        "{out}"
    );
}

#[test]
fn generated_configurations_are_refused() {
    let flake = "{\n  outputs = { nixpkgs, ... }: {\n    nixosConfigurations = nixpkgs.lib.genAttrs [ \"a\" ] (n: nixpkgs.lib.nixosSystem { system = \"x86_64-linux\"; modules = [ ]; });\n  };\n}\n";
    let e = run(flake, &opts("b", "aarch64-linux", Mode::Emulate)).unwrap_err();
    assert_eq!(e.kind, crate::ErrorKind::Refused, "{e:?}");
}

#[test]
fn a_helper_is_called_when_every_configuration_uses_it() {
    let flake = r#"{
  outputs = { nixpkgs, ... }:
    let
      mkHost = name: system: nixpkgs.lib.nixosSystem {
        inherit system;
        modules = [ { networking.hostName = name; } ];
      };
    in {
      nixosConfigurations = {
        a = mkHost "a" "x86_64-linux";
        b = mkHost "b" "x86_64-linux";
      };
    };
}
"#;
    let out = run(flake, &opts("c", "aarch64-linux", Mode::Emulate)).unwrap();
    assert!(
        out.contains("        b = mkHost \"b\" \"x86_64-linux\";\n        c = mkHost \"c\" \"aarch64-linux\";\n"),
        "{out}"
    );
    // A cross build needs a module of its own, which the helper does not
    // give: a plain call, with a warning.
    let files = MemFiles::single("flake.nix", flake);
    let out = add_config(
        &files,
        &RelPath::new("flake.nix").unwrap(),
        &opts("c", "riscv64-linux", Mode::Cross),
    )
    .unwrap();
    let text = out.text_of("flake.nix").unwrap();
    assert!(text.contains("c = nixpkgs.lib.nixosSystem {"), "{text}");
    assert!(
        out.warnings
            .iter()
            .any(|w| w.message.contains("built with `mkHost`")),
        "{:?}",
        out.warnings
    );
}
