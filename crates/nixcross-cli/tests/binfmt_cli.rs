//! `nixcross binfmt line` and `nixcross binfmt detect` as a user runs them.

use assert_cmd::Command;
use serde_json::Value;

fn nixcross() -> Command {
    let mut c = Command::cargo_bin("nixcross").unwrap();
    c.env("NO_COLOR", "1");
    c
}

#[test]
fn line_is_the_nixos_line() {
    let out = nixcross()
        .args(["binfmt", "line", "riscv64-linux"])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        ":riscv64-linux:M::\\x7fELF\\x02\\x01\\x01\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x02\\x00\\xf3\\x00:\\xff\\xff\\xff\\xff\\xff\\xff\\xff\\x00\\xff\\xff\\xff\\xff\\xff\\xff\\xff\\xff\\xfe\\xff\\xff\\xff:/run/binfmt/riscv64-linux:P\n"
    );
}

#[test]
fn line_options() {
    let out = nixcross()
        .args([
            "binfmt",
            "line",
            "aarch64-linux",
            "--interpreter",
            "/usr/bin/qemu-aarch64-static",
            "--flags",
            "FP",
            "--format",
            "binfmt.d",
            "--nix-conf",
        ])
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.starts_with("# /etc/binfmt.d/nixcross-aarch64-linux.conf\n"),
        "{text}"
    );
    assert!(
        text.contains(":/usr/bin/qemu-aarch64-static:PF\n"),
        "{text}"
    );
    assert!(
        text.contains("\nextra-platforms = aarch64-linux\n"),
        "{text}"
    );
    assert!(!text.contains("\nextra-sandbox-paths"), "{text}");
}

#[test]
fn line_errors_exit_2() {
    for (args, needle) in [
        (&["binfmt", "line", "riscv64-linx"][..], "riscv64-linux"),
        (&["binfmt", "line", "x86_64-darwin"], "cannot emulate"),
        (&["binfmt", "line", "aarch64-linux", "--flags", "PX"], "`X`"),
        (
            &[
                "binfmt",
                "line",
                "aarch64-linux",
                "--interpreter",
                "relative/qemu",
            ],
            "absolute",
        ),
    ] {
        let out = nixcross().args(args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(needle), "{args:?}: {err}");
    }
}

const REAL: &[(&str, &str)] = &[
    ("/usr/aarch64-linux-gnu/lib/libc.so.6", "aarch64-linux"),
    ("/usr/riscv64-linux-gnu/lib/libc.so.6", "riscv64-linux"),
    (
        "/usr/mips64el-linux-gnuabin32/lib/libc.so.6",
        "mips64el-linuxabin32",
    ),
];

#[test]
fn detect_json_on_real_binaries() {
    let present: Vec<&(&str, &str)> = REAL
        .iter()
        .filter(|(p, _)| {
            let ok = std::path::Path::new(p).exists();
            if !ok {
                assert!(
                    std::env::var("NIXCROSS_REQUIRE_NIX").as_deref() != Ok("1"),
                    "{p} missing (see .ci/cross-packages)"
                );
                eprintln!("SKIP {p}: missing (see .ci/cross-packages)");
            }
            ok
        })
        .collect();
    if present.is_empty() {
        return;
    }
    let out = nixcross()
        .args(["binfmt", "detect", "--json"])
        .args(present.iter().map(|(p, _)| p))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    let arr = json.as_array().unwrap();
    assert_eq!(arr.len(), present.len());
    for (item, (path, system)) in arr.iter().zip(&present) {
        assert_eq!(item["file"], *path);
        assert_eq!(item["systems"][0], *system, "{item:#}");
        assert_eq!(item["format"], "elf");
        assert!(item["magics"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m == system));
    }
}

#[test]
fn detect_reports_bad_files_and_continues() {
    let dir = tempfile::tempdir().unwrap();
    let text = dir.path().join("notes.txt");
    std::fs::write(&text, "hello").unwrap();
    let short = dir.path().join("short");
    std::fs::write(&short, b"\x7fELF\x02\x01\x01\x00").unwrap();
    let wasm = dir.path().join("app.wasm");
    std::fs::write(&wasm, b"\0asm\x01\0\0\0").unwrap();
    let missing = dir.path().join("missing");
    let out = nixcross()
        .args(["binfmt", "detect", "--json"])
        .args([&text, &short, &wasm, &missing])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("notes.txt: not an ELF"), "{err}");
    assert!(err.contains("short: truncated"), "{err}");
    assert!(err.contains("missing:"), "{err}");
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json.as_array().unwrap().len(), 1);
    assert_eq!(
        json[0]["systems"],
        serde_json::json!(["wasm32-wasi", "wasm64-wasi"])
    );

    // Human output names the systems.
    let out = nixcross()
        .args(["binfmt", "detect"])
        .arg(&wasm)
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("system: wasm32-wasi, wasm64-wasi"), "{text}");
}

/// An ELF header (and nothing else) for `machine`, 32- or 64-bit,
/// little- or big-endian, with `flags` (the ABI bits).
fn elf_header(class64: bool, little: bool, machine: u16, flags: u32) -> Vec<u8> {
    let u16b = |v: u16| {
        if little {
            v.to_le_bytes()
        } else {
            v.to_be_bytes()
        }
    };
    let u32b = |v: u32| {
        if little {
            v.to_le_bytes()
        } else {
            v.to_be_bytes()
        }
    };
    let mut h = vec![0x7f, b'E', b'L', b'F'];
    h.push(if class64 { 2 } else { 1 });
    h.push(if little { 1 } else { 2 });
    h.push(1); // EV_CURRENT
    h.resize(16, 0);
    h.extend(u16b(2)); // ET_EXEC
    h.extend(u16b(machine));
    h.extend(u32b(1));
    let addr = if class64 { 8 } else { 4 };
    h.resize(h.len() + 3 * addr, 0); // entry, phoff, shoff
    h.extend(u32b(flags));
    let size = if class64 { 64 } else { 52 };
    h.extend(u16b(size));
    h.resize(size as usize, 0);
    h
}

/// `binfmt detect --json` on headers of the usual targets, reviewed as an
/// insta snapshot (tests/snapshots/).
#[test]
fn detect_json_on_elf_headers() {
    let dir = tempfile::tempdir().unwrap();
    let files = [
        ("aarch64", elf_header(true, true, 183, 0)),
        ("riscv64-lp64d", elf_header(true, true, 243, 0x5)),
        ("armv7-hardfloat", elf_header(false, true, 40, 0x0500_0400)),
        ("powerpc64-elfv1", elf_header(true, false, 21, 1)),
        ("x86_64", elf_header(true, true, 62, 0)),
    ];
    for (name, bytes) in &files {
        std::fs::write(dir.path().join(name), bytes).unwrap();
    }
    let out = nixcross()
        .current_dir(dir.path())
        .args(["binfmt", "detect", "--json"])
        .args(files.iter().map(|(n, _)| n))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    insta::assert_snapshot!(String::from_utf8(out.stdout).unwrap());
}
