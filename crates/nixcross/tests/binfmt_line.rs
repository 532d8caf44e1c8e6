//! Registration lines against the exact format NixOS writes, and the kernel's
//! rejections.

use nixcross::binfmt::{Flags, Registration};
use nixcross::ErrorKind;

const RISCV64_MAGIC: &str =
    r"\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\xf3\x00";
const RISCV64_MASK: &str =
    r"\xff\xff\xff\xff\xff\xff\xff\x00\xff\xff\xff\xff\xff\xff\xff\xff\xfe\xff\xff\xff";

#[test]
fn nixos_format_for_riscv64() {
    let line = Registration::for_system("riscv64-linux")
        .unwrap()
        .line()
        .unwrap();
    assert_eq!(
        line,
        format!(":riscv64-linux:M::{RISCV64_MAGIC}:{RISCV64_MASK}:/run/binfmt/riscv64-linux:P")
    );
}

#[test]
fn static_qemu_gets_pf_and_custom_interpreter() {
    let mut reg = Registration::for_system("aarch64-linux").unwrap();
    reg.flags = Flags::parse("FP").unwrap();
    reg.interpreter = "/usr/bin/qemu-aarch64-static".into();
    let line = reg.line().unwrap();
    assert!(
        line.starts_with(":aarch64-linux:M::\\x7fELF\\x02\\x01\\x01"),
        "{line}"
    );
    assert!(line.ends_with(":/usr/bin/qemu-aarch64-static:PF"), "{line}");
}

#[test]
fn windows_has_no_mask_and_no_qemu_flags() {
    let line = Registration::for_system("x86_64-windows")
        .unwrap()
        .line()
        .unwrap();
    assert_eq!(line, ":x86_64-windows:M::MZ::/run/binfmt/x86_64-windows:");
    let line = Registration::for_system("wasm32-wasi")
        .unwrap()
        .line()
        .unwrap();
    assert_eq!(
        line,
        r":wasm32-wasi:M::\x00asm:\xff\xff\xff\xff:/run/binfmt/wasm32-wasi:"
    );
}

#[test]
fn every_emulatable_system_renders_and_round_trips() {
    for system in nixcross::platform::catalogue().emulatable() {
        let reg = Registration::for_system(system).unwrap();
        let line = reg.line().unwrap();
        assert!(line.starts_with(&format!(":{system}:M::")), "{line}");
        let back = Registration::parse_line(&line).unwrap();
        assert_eq!(back, reg, "{system}");
    }
}

#[test]
fn rejects_what_the_kernel_rejects() {
    let base = Registration::for_system("riscv64-linux").unwrap();
    let check = |reg: Registration, needle: &str| {
        let err = reg.line().unwrap_err();
        assert_eq!(err.kind, ErrorKind::InvalidInput);
        let all = format!("{} {}", err.message, err.hints.join(" "));
        assert!(all.contains(needle), "{needle}: {all}");
    };
    let mut r = base.clone();
    r.interpreter = format!("/{}", "x".repeat(127));
    check(r, "at most 127");
    let mut r = base.clone();
    r.interpreter = format!("/{}", "x".repeat(126));
    assert!(r.line().is_ok(), "127 bytes is allowed");
    let mut r = base.clone();
    r.interpreter = "/usr/bin/qemu:riscv64".into();
    check(r, "`:`");
    let mut r = base.clone();
    r.interpreter = "qemu-riscv64".into();
    check(r, "absolute");
    let mut r = base.clone();
    r.name = "a/b".into();
    check(r, "`/`");
    let mut r = base.clone();
    r.name = "a:b".into();
    check(r, "`:`");
    let mut r = base.clone();
    r.offset = Some(108);
    check(r, "under 128");
    let mut r = base.clone();
    r.offset = Some(107);
    assert!(r.line().is_ok(), "107 + 20 = 127 is allowed");
    let mut r = base.clone();
    r.mask = Some(r"\xff".into());
    check(r, "same length");
    let mut r = base.clone();
    r.magic = "ab:cd".into();
    check(r, "\\xHH");
    // A whole line over 1920 bytes: a long magic written with redundant
    // escapes stays under 128 bytes decoded but not as text.
    let mut r = base.clone();
    r.magic = r"\x00".repeat(20);
    r.mask = Some(r"\xff".repeat(20));
    r.name = "n".repeat(1900);
    check(r, "1920");

    let err = Flags::parse("PQ").unwrap_err();
    assert!(err.message.contains("`Q`"), "{}", err.message);
    assert_eq!(Flags::parse("C").unwrap().to_string(), "OC");
}

#[test]
fn unknown_and_non_emulatable_systems() {
    let err = Registration::for_system("riscv64-linx").unwrap_err();
    assert!(err.message.contains("unknown system"), "{}", err.message);
    assert!(
        err.hints.iter().any(|h| h.contains("riscv64-linux")),
        "{:?}",
        err.hints
    );
    let err = Registration::for_system("x86_64-darwin").unwrap_err();
    assert!(err.message.contains("cannot emulate"), "{}", err.message);
}

#[test]
fn binfmt_d_and_nix_conf() {
    let mut reg = Registration::for_system("riscv64-linux").unwrap();
    let file = reg.binfmt_d().unwrap();
    assert_eq!(
        reg.binfmt_d_path(),
        "/etc/binfmt.d/nixcross-riscv64-linux.conf"
    );
    let lines: Vec<&str> = file.lines().collect();
    assert!(lines[..lines.len() - 1].iter().all(|l| l.starts_with('#')));
    assert_eq!(*lines.last().unwrap(), reg.line().unwrap());
    let conf = reg.nix_conf();
    assert!(conf.lines().any(|l| l == "extra-platforms = riscv64-linux"));
    assert!(conf
        .lines()
        .any(|l| l == "extra-sandbox-paths = /run/binfmt/riscv64-linux"));
    reg.flags = Flags::parse("PF").unwrap();
    let conf = reg.nix_conf();
    assert!(
        !conf.lines().any(|l| l.starts_with("extra-sandbox-paths")),
        "{conf}"
    );
    assert!(conf.lines().any(|l| l == "extra-platforms = riscv64-linux"));
}
