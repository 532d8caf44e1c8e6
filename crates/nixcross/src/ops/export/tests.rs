use super::*;
use crate::files::MemFiles;

fn modes(local: Option<&str>) -> Vec<(String, Mode)> {
    let files = MemFiles::single(
        "flake.nix",
        r#"{
  outputs = { self, nixpkgs }: {
    nixosConfigurations.box = nixpkgs.lib.nixosSystem {
      system = "x86_64-linux";
      modules = [ ];
    };
    nixosConfigurations.pi = nixpkgs.lib.nixosSystem {
      system = "aarch64-linux";
      modules = [ ];
    };
    nixosConfigurations.lp4a = nixpkgs.lib.nixosSystem {
      system = "x86_64-linux";
      modules = [ { nixpkgs.crossSystem.system = "riscv64-linux"; } ];
    };
  };
}
"#,
    );
    let e = export(&files, &RelPath::new("flake.nix").unwrap(), None, local).unwrap();
    e.spec
        .configurations
        .iter()
        .map(|(n, c)| (n.clone(), c.mode))
        .collect()
}

#[test]
fn native_is_what_the_exporting_machine_builds_for_itself() {
    let m = |s: &str| s.to_string();
    assert_eq!(
        modes(Some("x86_64-linux")),
        [
            (m("box"), Mode::Native),
            (m("lp4a"), Mode::Cross),
            (m("pi"), Mode::Emulate)
        ]
    );
    assert_eq!(
        modes(Some("aarch64-linux")),
        [
            (m("box"), Mode::Emulate),
            (m("lp4a"), Mode::Cross),
            (m("pi"), Mode::Native)
        ]
    );
    // Not knowing the machine: emulate, which means the same flake.
    assert_eq!(modes(None)[0].1, Mode::Emulate);
}
