use super::*;
use crate::files::MemFiles;

const FLAKE: &str = r#"{
  outputs = { self, nixpkgs, ... }: {
    nixosConfigurations.board = nixpkgs.lib.nixosSystem {
      system = "x86_64-linux";
      modules = [ ./board.nix ];
    };
  };
}
"#;

fn tree() -> MemFiles {
    let mut f = MemFiles::new();
    f.insert("flake.nix", FLAKE).insert(
        "board.nix",
        "{ ... }:\n{\n  networking.hostName = \"board\";\n}\n",
    );
    f
}

fn opts() -> ApplyOptions<'static> {
    ApplyOptions {
        local_system: Some("x86_64-linux".into()),
        host_file: None,
    }
}

fn run(files: &MemFiles, spec: &str) -> std::result::Result<Applied, ApplyError> {
    let doc = Document::parse(spec).unwrap();
    apply(&doc, files, &RelPath::new("flake.nix").unwrap(), &opts())
}

/// The tree after `out`.
fn after(files: &MemFiles, out: &Outcome) -> MemFiles {
    let mut f = files.clone();
    for c in &out.changes {
        f.insert(c.path.as_str(), c.after.clone());
    }
    f
}

const SPEC: &str = "\
configurations:
  board:
    target: riscv64-linux
    mode: cross
    overlays:
      - packages: { gcc: gcc12 }
        scoped: true
        use: [ hello ]
  pi:
    target: aarch64-linux
    mode: emulate
    style: modern
buildHost:
  config: builder
  emulate: [ aarch64-linux ]
";

#[test]
fn one_transaction_then_nothing_to_do() {
    let mut files = tree();
    files.insert(
        "flake.nix",
        FLAKE.replace(
            "  };\n}\n",
            "    nixosConfigurations.builder = nixpkgs.lib.nixosSystem {\n      system = \"x86_64-linux\";\n      modules = [ ];\n    };\n  };\n}\n",
        ),
    );
    let out = run(&files, SPEC).unwrap();
    assert!(out.host.is_none());
    let text = out.flake.text_of("flake.nix").unwrap();
    // Every step's change, in one text.
    assert!(text.contains("nixpkgs.crossSystem"), "{text}");
    assert!(text.contains("pkgs-gcc12 = import nixpkgs"), "{text}");
    assert!(text.contains("pkgs-gcc12.hello"), "{text}");
    assert!(
        text.contains("nixosConfigurations.pi = nixpkgs.lib.nixosSystem"),
        "{text}"
    );
    assert!(
        text.contains("nixpkgs.hostPlatform = \"aarch64-linux\";"),
        "{text}"
    );
    assert!(
        text.contains("boot.binfmt.emulatedSystems = [ \"aarch64-linux\" ];"),
        "{text}"
    );
    assert_eq!(out.flake.changes.len(), 1, "board.nix is not touched");
    let c = &out.flake.changes[0];
    assert_eq!(
        c.before,
        files.read(&RelPath::new("flake.nix").unwrap()).unwrap()
    );
    // The flake now says what the spec says: a second run changes nothing.
    let again = run(&after(&files, &out.flake), SPEC).unwrap();
    assert!(!again.changed(), "{:?}", again.flake.changes);
}

#[test]
fn a_failing_step_means_no_outcome_and_points_at_the_spec() {
    // The builder configuration does not exist: emulate fails after the
    // configurations were planned; nothing comes out.
    let e = run(&tree(), SPEC).unwrap_err();
    assert_eq!(e.origin, Origin::Spec, "{e:?}");
    assert!(
        e.error.message == "the build host: the flake has no configuration `builder`",
        "{e:?}"
    );
    let at = e.error.range.unwrap().start;
    assert!(SPEC[at..].starts_with("builder\n"), "{}", &SPEC[at..]);
}

#[test]
fn refusals_in_the_flake_stay_there_with_the_specs_place() {
    let mut files = tree();
    files.insert(
        "flake.nix",
        r#"{
  outputs = { self, nixpkgs, ... }: {
    nixosConfigurations.board = nixpkgs.lib.nixosSystem {
      system = "x86_64-linux";
      modules = [ { nixpkgs.crossSystem.system = "riscv64-linux"; nixpkgs.hostPlatform = "x86_64-linux"; } ];
    };
  };
}
"#,
    );
    let e = run(
        &files,
        "configurations:\n  board:\n    target: aarch64-linux\n    mode: emulate\n",
    )
    .unwrap_err();
    assert_eq!(e.origin, Origin::Flake, "{e:?}");
    assert!(e.error.message.contains("cannot edit `board`"), "{e:?}");
    assert!(
        e.error
            .hints
            .iter()
            .any(|h| h == "while applying configuration `board` (line 2 of the spec)"),
        "{e:?}"
    );
}

#[test]
fn a_build_host_module_in_another_tree_is_its_own_outcome() {
    let mut host = MemFiles::new();
    host.insert(
        "configuration.nix",
        "{ ... }:\n{\n  boot.loader.grub.enable = true;\n}\n",
    );
    let doc = Document::parse(
        "buildHost:\n  file: /etc/nixos/configuration.nix\n  emulate: [ riscv64-linux ]\n  staticEmulators: true\n",
    )
    .unwrap();
    let o = ApplyOptions {
        local_system: Some("x86_64-linux".into()),
        host_file: Some(HostFile::Other {
            files: &host,
            path: RelPath::new("configuration.nix").unwrap(),
        }),
    };
    let out = apply(&doc, &tree(), &RelPath::new("flake.nix").unwrap(), &o).unwrap();
    assert!(!out.flake.changed());
    let h = out.host.unwrap();
    let text = h.text_of("configuration.nix").unwrap();
    assert!(
        text.contains("boot.binfmt.emulatedSystems = [ \"riscv64-linux\" ];"),
        "{text}"
    );
    assert!(
        text.contains("boot.binfmt.preferStaticEmulators = true;"),
        "{text}"
    );
    // staticEmulators: false takes it out again.
    let mut host2 = host.clone();
    host2.insert("configuration.nix", text.to_string());
    let doc = Document::parse(
        "buildHost:\n  file: /etc/nixos/configuration.nix\n  staticEmulators: false\n",
    )
    .unwrap();
    let o = ApplyOptions {
        local_system: Some("x86_64-linux".into()),
        host_file: Some(HostFile::Other {
            files: &host2,
            path: RelPath::new("configuration.nix").unwrap(),
        }),
    };
    let out = apply(&doc, &tree(), &RelPath::new("flake.nix").unwrap(), &o).unwrap();
    let text = out
        .host
        .unwrap()
        .text_of("configuration.nix")
        .unwrap()
        .to_string();
    assert!(!text.contains("preferStaticEmulators"), "{text}");
    assert!(text.contains("riscv64-linux"), "{text}");
}

#[test]
fn builders_are_written_into_the_host_module() {
    let mut files = tree();
    files.insert("builder.nix", "{ ... }:\n{\n}\n");
    let doc = Document::parse(
        "buildHost:\n  file: builder.nix\n  builders:\n    - uri: ssh-ng://nix@pi5\n      systems: [ aarch64-linux ]\n    - uri: ssh://root@rv\n      systems: [ riscv64-linux ]\n",
    )
    .unwrap();
    let o = ApplyOptions {
        local_system: Some("x86_64-linux".into()),
        host_file: Some(HostFile::InFlakeTree(RelPath::new("builder.nix").unwrap())),
    };
    let out = apply(&doc, &files, &RelPath::new("flake.nix").unwrap(), &o).unwrap();
    let text = out.flake.text_of("builder.nix").unwrap().to_string();
    for want in [
        "hostName = \"pi5\"",
        "hostName = \"rv\"",
        "\"riscv64-linux\"",
        "distributedBuilds = true",
    ] {
        assert!(text.contains(want), "{want}: {text}");
    }
    // A hostile builder is refused, pointing into the spec, and nothing is
    // planned.
    let doc = Document::parse(
        "buildHost:\n  file: builder.nix\n  builders:\n    - uri: ssh-ng://-oProxyCommand=x\n      systems: [ aarch64-linux ]\n",
    )
    .unwrap();
    let e = apply(&doc, &files, &RelPath::new("flake.nix").unwrap(), &o).unwrap_err();
    assert_eq!(e.origin, Origin::Spec, "{e:?}");
}

#[test]
fn advice_the_build_host_follows_is_not_repeated() {
    let warned = |spec: &str| -> Vec<String> {
        let mut files = tree();
        files.insert("builder.nix", "{ ... }:\n{\n}\n");
        let doc = Document::parse(spec).unwrap();
        let o = ApplyOptions {
            local_system: Some("x86_64-linux".into()),
            host_file: Some(HostFile::InFlakeTree(RelPath::new("builder.nix").unwrap())),
        };
        let out = apply(&doc, &files, &RelPath::new("flake.nix").unwrap(), &o).unwrap();
        out.flake.warnings.into_iter().map(|w| w.message).collect()
    };
    let board = "configurations:\n  board:\n    target: riscv64-linux\n    mode: emulate\n";
    let alone = warned(board);
    assert!(
        alone.contains(&emulation_warning("riscv64-linux")),
        "{alone:?}"
    );
    for host in [
        "buildHost:\n  file: builder.nix\n  emulate: [ riscv64-linux ]\n",
        // A triple names the same system.
        "buildHost:\n  file: builder.nix\n  emulate: [ riscv64-unknown-linux-gnu ]\n",
        "buildHost:\n  file: builder.nix\n  builders:\n    - uri: ssh://root@rv\n      systems: [ riscv64-linux ]\n",
    ] {
        let w = warned(&format!("{board}{host}"));
        assert!(!w.contains(&emulation_warning("riscv64-linux")), "{host}: {w:?}");
    }
    // Another system's emulation is no answer.
    let w = warned(&format!(
        "{board}buildHost:\n  file: builder.nix\n  emulate: [ aarch64-linux ]\n"
    ));
    assert!(w.contains(&emulation_warning("riscv64-linux")), "{w:?}");
}

#[test]
fn native_is_the_flake_of_emulate() {
    let spec = |mode: &str| {
        format!("configurations:\n  board:\n    target: aarch64-linux\n    mode: {mode}\n")
    };
    let native = run(&tree(), &spec("native")).unwrap();
    let emulate = run(&tree(), &spec("emulate")).unwrap();
    assert_eq!(
        native.flake.text_of("flake.nix"),
        emulate.flake.text_of("flake.nix")
    );
    // A native build is built on a machine of that system: no advice.
    assert!(
        native.flake.warnings.is_empty(),
        "{:?}",
        native.flake.warnings
    );
    assert!(!emulate.flake.warnings.is_empty());
    // Either way, the other mode then changes nothing.
    let done = after(&tree(), &native.flake);
    assert!(!run(&done, &spec("emulate")).unwrap().changed());
    assert!(!run(&done, &spec("native")).unwrap().changed());
}
