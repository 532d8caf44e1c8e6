//! Issue 11: the hostile inputs that broke a promise, one test each. Every
//! test reproduces the failure it guards against (it fails on the code before
//! the fix).

use std::path::{Path, PathBuf};
use std::process::Output;

use assert_cmd::Command;

fn nixcross() -> Command {
    Command::cargo_bin("nixcross").unwrap()
}

fn run(dir: &Path, args: &[&str]) -> Output {
    nixcross().current_dir(dir).args(args).output().unwrap()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    if let Some(parent) = p.parent() {
        std::fs::create_dir_all(parent).unwrap();
    }
    std::fs::write(&p, text).unwrap();
    p
}

const MODULE: &str = "{ config, ... }:\n{\n  networking.hostName = \"x\";\n}\n";

const FLAKE: &str = r#"{
  outputs = { self, nixpkgs }: {
    nixosConfigurations.board = nixpkgs.lib.nixosSystem {
      system = "x86_64-linux";
      modules = [ ./configuration.nix ];
    };
  };
}
"#;

// 7. Control characters from a file or an argument never reach the terminal raw.
#[test]
fn control_characters_are_escaped_for_humans() {
    let dir = tempfile::tempdir().unwrap();
    let flake = FLAKE.replace(
        "nixosConfigurations.board",
        "nixosConfigurations.\"evil\x1b[2J\x07\"",
    );
    write(dir.path(), "flake.nix", &flake);
    let out = run(dir.path(), &["show"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(!text.contains('\x1b') && !text.contains('\x07'), "{text:?}");
    assert!(text.contains("evil\\x1b[2J\\x07"), "{text}");
    // JSON escapes by itself and keeps the real name.
    let out = run(dir.path(), &["show", "--json"]);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["configurations"][0]["name"], "evil\x1b[2J\x07");
    // An argument echoed in an error.
    let out = run(
        dir.path(),
        &[
            "init",
            "--target",
            "evil\x1b]0;pwned\x07",
            "--mode",
            "cross",
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(!stderr(&out).contains('\x1b'), "{:?}", stderr(&out));

    // doctor: a binfmt entry whose name and interpreter carry escapes.
    let root = dir.path().join("root");
    write(&root, "proc/sys/fs/binfmt_misc/status", "enabled\n");
    write(
        &root,
        "proc/sys/fs/binfmt_misc/evil\x1b[31m",
        "enabled\ninterpreter /run/\x1b[2Jqemu\x07\nflags: P\noffset 0\nmagic 7f454c46\n",
    );
    let out = run(dir.path(), &["doctor", "--root", root.to_str().unwrap()]);
    let text = stdout(&out);
    assert!(!text.contains('\x1b') && !text.contains('\x07'), "{text:?}");
    assert!(text.contains("evil\\x1b[31m"), "{text}");
}

// 8. A write error on stdout other than a closed pipe is an error.
#[test]
fn stdout_write_errors_exit_2() {
    let Ok(full) = std::fs::OpenOptions::new().write(true).open("/dev/full") else {
        eprintln!("SKIP: no /dev/full");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    for args in [
        &["targets"][..],
        &[
            "init",
            "--target",
            "riscv64-linux",
            "--mode",
            "cross",
            "--stdout",
        ][..],
    ] {
        let out = std::process::Command::new(assert_cmd::cargo::cargo_bin("nixcross"))
            .current_dir(dir.path())
            .args(args)
            .stdout(full.try_clone().unwrap())
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert!(
            stderr(&out).contains("cannot write to standard output"),
            "{}",
            stderr(&out)
        );
    }
}

const SYSTEMS: [&str; 19] = [
    "aarch64-linux",
    "riscv64-linux",
    "armv7l-linux",
    "armv6l-linux",
    "powerpc64le-linux",
    "powerpc64-linux",
    "powerpc-linux",
    "s390x-linux",
    "mips64el-linux",
    "mips64-linux",
    "mipsel-linux",
    "mips-linux",
    "riscv32-linux",
    "i686-linux",
    "loongarch64-linux",
    "sparc64-linux",
    "alpha-linux",
    "aarch64_be-linux",
    "wasm32-wasi",
];

// 1. Parallel edits of one file all land (the lock is held from read to rename).
#[test]
fn parallel_edits_all_land() {
    let dir = tempfile::tempdir().unwrap();
    let m = write(dir.path(), "m.nix", MODULE);
    let children: Vec<_> = SYSTEMS
        .iter()
        .map(|s| {
            std::process::Command::new(assert_cmd::cargo::cargo_bin("nixcross"))
                .current_dir(dir.path())
                .args(["emulate", s, "-f", "m.nix", "--host", "x86_64-linux"])
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
    }
    let text = std::fs::read_to_string(&m).unwrap();
    for s in SYSTEMS {
        assert!(text.contains(&format!("\"{s}\"")), "{s} was lost:\n{text}");
    }
    nixcross_testkit::assert_nix_parses("parallel_edits_all_land", "m.nix", &text);
    // No temporary file is left behind.
    let left: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(left, vec![std::ffi::OsString::from("m.nix")]);
}

fn meta(p: &Path) -> std::fs::Metadata {
    std::fs::symlink_metadata(p).unwrap()
}

// 2. Links, owner, group and mode are kept; non-regular files are refused.
#[test]
fn links_ownership_and_modes_are_kept() {
    use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
    let dir = tempfile::tempdir().unwrap();
    let real = write(dir.path(), "store/configuration.nix", MODULE);
    let link = dir.path().join("configuration.nix");
    std::os::unix::fs::symlink("store/configuration.nix", &link).unwrap();
    let out = run(
        dir.path(),
        &[
            "emulate",
            "aarch64-linux",
            "-f",
            "configuration.nix",
            "--host",
            "x86_64-linux",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        meta(&link).file_type().is_symlink(),
        "the symlink was replaced"
    );
    assert!(std::fs::read_to_string(&real)
        .unwrap()
        .contains("aarch64-linux"));

    // A hard link: both names see the edit, the inode stays.
    let twin = dir.path().join("twin.nix");
    std::fs::hard_link(&real, &twin).unwrap();
    let ino = meta(&real).ino();
    let out = run(
        dir.path(),
        &[
            "emulate",
            "riscv64-linux",
            "-f",
            "configuration.nix",
            "--host",
            "x86_64-linux",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(meta(&real).ino(), ino);
    assert!(std::fs::read_to_string(&twin)
        .unwrap()
        .contains("riscv64-linux"));
    std::fs::remove_file(&twin).unwrap();

    // Owner, group, mode with setgid (root can give a file away; others
    // check only what they can set).
    let is_root = rustix::process::geteuid().is_root();
    std::fs::set_permissions(&real, std::fs::Permissions::from_mode(0o2640)).unwrap();
    if is_root {
        std::os::unix::fs::chown(&real, Some(0), Some(4242)).unwrap();
        std::fs::set_permissions(&real, std::fs::Permissions::from_mode(0o2640)).unwrap();
    }
    let before = meta(&real);
    let out = run(
        dir.path(),
        &[
            "emulate",
            "armv7l-linux",
            "-f",
            "configuration.nix",
            "--host",
            "x86_64-linux",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let after = meta(&real);
    assert_ne!(
        after.ino(),
        before.ino(),
        "a single-link file is replaced atomically"
    );
    assert_eq!(
        (after.uid(), after.gid(), after.mode() & 0o7777),
        (before.uid(), before.gid(), 0o2640)
    );

    // A FIFO is refused at once (no blocking, no regular file in its place).
    let fifo = dir.path().join("fifo.nix");
    rustix::fs::mknodat(
        rustix::fs::CWD,
        &fifo,
        rustix::fs::FileType::Fifo,
        rustix::fs::Mode::from_raw_mode(0o600),
        0,
    )
    .unwrap();
    let out = run(dir.path(), &["emulate", "aarch64-linux", "-f", "fifo.nix"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("not a regular file"),
        "{}",
        stderr(&out)
    );
    assert!(meta(&fifo).file_type().is_fifo());
    let out = run(dir.path(), &["show", "-f", "/dev/zero"]);
    assert_eq!(out.status.code(), Some(2));

    // init does not replace a dangling flake.nix symlink.
    let d2 = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink("nowhere.nix", d2.path().join("flake.nix")).unwrap();
    let out = run(
        d2.path(),
        &["init", "--target", "riscv64-linux", "--mode", "cross"],
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("already exists"), "{}", stderr(&out));
    assert!(meta(&d2.path().join("flake.nix")).file_type().is_symlink());
    assert!(!d2.path().join("nowhere.nix").exists());
}

fn editing_commands(file: &str) -> Vec<Vec<String>> {
    let v = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    vec![
        v(&["show", "-f", file]),
        v(&["show", "--json", "-f", file]),
        v(&[
            "set-target",
            "aarch64-linux",
            "--mode",
            "emulate",
            "-f",
            file,
        ]),
        v(&["add-overlay", "gcc=gcc12", "-f", file]),
        v(&["add-overlay", "gcc=gcc12", "--scoped", "-f", file]),
        v(&[
            "emulate",
            "aarch64-linux",
            "--host",
            "x86_64-linux",
            "-f",
            file,
        ]),
        v(&[
            "emulate",
            "aarch64-linux",
            "--host",
            "x86_64-linux",
            "--dry-run",
            "-f",
            file,
        ]),
        v(&[
            "emulate",
            "aarch64-linux",
            "--remove",
            "--host",
            "x86_64-linux",
            "-f",
            file,
        ]),
    ]
}

// 3. Deep and long input: refused with a message (exit 2) or handled; never
// an abort, never minutes.
#[test]
fn deep_input_is_refused_or_handled_quickly() {
    let dir = tempfile::tempdir().unwrap();
    let n = 50_000;
    let cases = [
        (
            "parts.nix",
            format!("{{ {} = 1; }}\n", vec!["a"; 20_000].join(".")),
            false,
        ),
        (
            "lists.nix",
            format!("{{ x = {}{}; }}\n", "[".repeat(n), "]".repeat(n)),
            false,
        ),
        (
            "minus.nix",
            format!("{{ x = {}1; }}\n", "-".repeat(100_000)),
            false,
        ),
        (
            "apply.nix",
            format!("{{ x = f{}; }}\n", " a".repeat(40_000)),
            false,
        ),
        (
            "lists5k.nix",
            format!("{{ x = {}{}; }}\n", "[".repeat(5_000), "]".repeat(5_000)),
            false,
        ),
        // Valid and accepted: a long spaced attribute path, wide sets.
        (
            "spaced.nix",
            format!("{{ {} = 1; }}\n", vec!["a"; 20_000].join(" . ")),
            true,
        ),
        (
            "lists400.nix",
            format!("{{ x = {}{}; }}\n", "[".repeat(400), "]".repeat(400)),
            true,
        ),
    ];
    for (name, text, accepted) in cases {
        write(dir.path(), name, &text);
        for args in editing_commands(name) {
            let start = std::time::Instant::now();
            let out = nixcross()
                .current_dir(dir.path())
                .args(&args)
                .output()
                .unwrap();
            let took = start.elapsed();
            let code = out.status.code();
            assert!(code.is_some(), "{name} {args:?}: killed by a signal");
            assert!(took.as_secs() < 20, "{name} {args:?}: took {took:?}");
            if !accepted {
                assert_eq!(code, Some(2), "{name} {args:?}: {}", stderr(&out));
                let err = stderr(&out);
                assert!(
                    err.contains("nested too deeply")
                        || err.contains("without a space")
                        || err.contains("arguments in a row"),
                    "{name} {args:?}: {err}"
                );
            } else {
                assert!(
                    matches!(code, Some(0) | Some(2)),
                    "{name} {args:?}: {}",
                    stderr(&out)
                );
                assert!(!stderr(&out).contains("overflow"), "{}", stderr(&out));
            }
        }
    }
}

// 3b. The room for deep input does not depend on the caller's stack limit:
// nixcross raises a low soft limit (its main thread then grows), or runs on a
// thread of its own when the hard limit is low too. 400 nested lists need
// more than 256 KiB of stack in an unoptimized build.
#[test]
fn deep_input_survives_a_small_stack_limit() {
    let dir = tempfile::tempdir().unwrap();
    let text = format!("{{ x = {}{}; }}\n", "[".repeat(400), "]".repeat(400));
    let bin = assert_cmd::cargo::cargo_bin("nixcross");
    for limits in ["ulimit -S -s 256", "ulimit -S -s 256 && ulimit -H -s 256"] {
        for args in [
            &["show", "-f", "c.nix"][..],
            &["emulate", "aarch64-linux", "-f", "c.nix"],
        ] {
            write(dir.path(), "c.nix", &text);
            let out = std::process::Command::new("sh")
                .current_dir(dir.path())
                .arg("-c")
                .arg(format!("{limits} && exec \"$0\" \"$@\""))
                .arg(&bin)
                .args(args)
                .output()
                .unwrap();
            assert_eq!(
                out.status.code(),
                Some(0),
                "{limits}: {args:?}: {}",
                stderr(&out)
            );
        }
    }
}

// 4. Reads are bounded: /dev/zero and friends are refused at once.
#[test]
fn reads_are_bounded() {
    let dir = tempfile::tempdir().unwrap();
    for args in [
        &["show", "-f", "/dev/zero"][..],
        &["emulate", "aarch64-linux", "-f", "/dev/zero"][..],
        &["binfmt", "detect", "/dev/zero"][..],
    ] {
        let out = run(dir.path(), args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert!(
            stderr(&out).contains("not a regular file"),
            "{args:?}: {}",
            stderr(&out)
        );
    }
    // A regular file over the limit.
    let big = dir.path().join("big.nix");
    let f = std::fs::File::create(&big).unwrap();
    f.set_len(nixcross::files::MAX_FILE_BYTES + 1).unwrap();
    let out = run(dir.path(), &["show", "-f", "big.nix"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("larger than"), "{}", stderr(&out));
    // binfmt detect reads only the head of a huge sparse ELF file.
    let elf = dir.path().join("huge-elf");
    let mut head = vec![0u8; 64];
    head[..4].copy_from_slice(b"\x7fELF");
    head[4] = 2; // 64-bit
    head[5] = 1; // little endian
    head[6] = 1;
    head[16] = 2; // executable
    head[18] = 0xb7; // aarch64
    std::fs::write(&elf, &head).unwrap();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&elf)
        .unwrap()
        .set_len(64 << 30)
        .unwrap();
    let out = run(dir.path(), &["binfmt", "detect", "--json", "huge-elf"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("aarch64-linux"), "{}", stdout(&out));
}

// 6. A scoped instance may not shadow a Nix builtin.
#[test]
fn instance_names_are_not_builtins() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "flake.nix", FLAKE);
    write(dir.path(), "configuration.nix", "{ ... }: { }\n");
    for name in [
        "import",
        "builtins",
        "map",
        "toString",
        "throw",
        "derivation",
        "scopedImport",
        "true",
    ] {
        let out = run(
            dir.path(),
            &["add-overlay", "gcc=gcc12", "--scoped", "--instance", name],
        );
        assert_eq!(out.status.code(), Some(2), "{name}: {}", stderr(&out));
        assert_eq!(
            std::fs::read_to_string(dir.path().join("flake.nix")).unwrap(),
            FLAKE
        );
    }
    let out = run(
        dir.path(),
        &[
            "add-overlay",
            "gcc=gcc12",
            "--scoped",
            "--instance",
            "pkgs-old",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
}

// 5. doctor --root reads nothing outside the root, reports unreadable
// files, and exits 2 for a root it cannot read.
#[test]
fn doctor_stays_inside_its_root() {
    let top = tempfile::tempdir().unwrap();
    write(
        top.path(),
        "outside.conf",
        "extra-platforms = leaked-outside-conf\n",
    );
    write(
        top.path(),
        "elsewhere",
        "ssh://leaked-machine aarch64-linux - 4 1\n",
    );
    let root = top.path().join("a/b/root");
    write(
        &root,
        "etc/nix/nix.conf",
        "experimental-features = nix-command flakes\ninclude ../../../../outside.conf\n",
    );
    std::os::unix::fs::symlink(top.path().join("elsewhere"), root.join("etc/nix/machines"))
        .unwrap();
    let out = run(
        top.path(),
        &[
            "doctor",
            "--json",
            "--root",
            root.to_str().unwrap(),
            "--target",
            "aarch64-linux",
        ],
    );
    let text = stdout(&out);
    assert!(!text.contains("leaked"), "{text}");
    assert!(
        matches!(out.status.code(), Some(0) | Some(1)),
        "{}",
        stderr(&out)
    );

    // An unreadable file is a problem, not silence (root reads anything,
    // so this part needs an ordinary user).
    if !rustix::process::geteuid().is_root() {
        use std::os::unix::fs::PermissionsExt;
        let conf = root.join("etc/nix/nix.conf");
        std::fs::set_permissions(&conf, std::fs::Permissions::from_mode(0o000)).unwrap();
        let out = run(top.path(), &["doctor", "--root", root.to_str().unwrap()]);
        assert!(
            stdout(&out).contains("cannot read /etc/nix/nix.conf"),
            "{}",
            stdout(&out)
        );
    }
    // A FIFO where nix.conf should be is reported, and does not block.
    std::fs::remove_file(root.join("etc/nix/nix.conf")).unwrap();
    rustix::fs::mknodat(
        rustix::fs::CWD,
        root.join("etc/nix/nix.conf"),
        rustix::fs::FileType::Fifo,
        rustix::fs::Mode::from_raw_mode(0o600),
        0,
    )
    .unwrap();
    let out = run(top.path(), &["doctor", "--root", root.to_str().unwrap()]);
    assert!(
        stdout(&out).contains("cannot read /etc/nix/nix.conf"),
        "{}",
        stdout(&out)
    );

    // A root that is not a readable folder: exit 2.
    let out = run(top.path(), &["doctor", "--root", "outside.conf"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let out = run(top.path(), &["doctor", "--root", "no-such-dir"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
}

// A host folder that is a symbolic link to another host's (found in the
// corpus: `nixos/crawler -> dagger`): the module is one file, shared by two
// configurations, and an edit for one must not change the other.
#[test]
fn a_module_reached_through_a_link_is_shared() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "flake.nix",
        r#"{
  outputs = { self, nixpkgs }: {
    nixosConfigurations = nixpkgs.lib.genAttrs [ "crawler" "dagger" ] (h:
      nixpkgs.lib.nixosSystem {
        system = "x86_64-linux";
        modules = [ ./hosts/${h} ];
      });
  };
}
"#,
    );
    let module = "{ ... }:\n{\n  boot.initrd.availableKernelModules = [ \"virtio_pci\" ];\n}\n";
    write(dir.path(), "hosts/dagger/default.nix", module);
    std::os::unix::fs::symlink("dagger", dir.path().join("hosts/crawler")).unwrap();
    let out = run(
        dir.path(),
        &[
            "set-target",
            "riscv64-linux",
            "--mode",
            "cross",
            "--host",
            "x86_64-linux",
            "--config",
            "crawler",
        ],
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("shared"), "{}", stderr(&out));
    assert_eq!(
        std::fs::read_to_string(dir.path().join("hosts/dagger/default.nix")).unwrap(),
        module
    );
    // emulate --config edits that file too, so it refuses the same way.
    let out = run(
        dir.path(),
        &["emulate", "aarch64-linux", "--config", "crawler"],
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("shared"), "{}", stderr(&out));
    // Without the link (a copy), the edit lands in crawler's own file.
    std::fs::remove_file(dir.path().join("hosts/crawler")).unwrap();
    write(dir.path(), "hosts/crawler/default.nix", module);
    let out = run(
        dir.path(),
        &[
            "set-target",
            "riscv64-linux",
            "--mode",
            "cross",
            "--host",
            "x86_64-linux",
            "--config",
            "crawler",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        std::fs::read_to_string(dir.path().join("hosts/dagger/default.nix")).unwrap(),
        module
    );
    assert!(
        std::fs::read_to_string(dir.path().join("hosts/crawler/default.nix"))
            .unwrap()
            .contains("riscv64-linux")
    );
}
