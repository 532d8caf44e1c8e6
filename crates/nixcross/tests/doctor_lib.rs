//! The doctor library on hand-built inputs, and a small corpus of real-looking
//! `/proc/sys/fs/binfmt_misc` entries.

use nixcross::binfmt::{decode_escaped, Entry};
use nixcross::doctor::{diagnose, HostInput, NixConf};

/// What NixOS (`boot.binfmt.emulatedSystems`) and tonistiigi/binfmt produce.
const CORPUS: &[(&str, &str, &[&str])] = &[
    ("aarch64-linux", "enabled\ninterpreter /run/binfmt/aarch64-linux\nflags: P\noffset 0\nmagic 7f454c460201010000000000000000000200b700\nmask ffffffffffffff00ffffffffffff00fffeffffff\n", &["aarch64-linux"]),
    ("riscv64-linux", "enabled\ninterpreter /run/binfmt/riscv64-linux\nflags: PF\noffset 0\nmagic 7f454c460201010000000000000000000200f300\nmask ffffffffffffff00fffffffffffffffffeffffff\n", &["riscv64-linux"]),
    ("qemu-aarch64", "enabled\ninterpreter /usr/bin/qemu-aarch64\nflags: OCF\noffset 0\nmagic 7f454c460201010000000000000000000200b700\nmask ffffffffffffff00fffffffffffffffffeffffff\n", &["aarch64-linux"]),
    ("qemu-arm", "enabled\ninterpreter /usr/bin/qemu-arm\nflags: OCF\noffset 0\nmagic 7f454c4601010100000000000000000002002800\nmask ffffffffffffff00fffffffffffffffffeffffff\n", &["armv6l-linux", "armv7l-linux"]),
    ("qemu-mips64el", "disabled\ninterpreter /usr/bin/qemu-mips64el\nflags: OCF\noffset 0\nmagic 7f454c4602010100000000000000000002000800\nmask ffffffffffffff00fffffffffffffffffeffffff\n", &["mips64el-linux"]),
    ("WSLInterop", "enabled\ninterpreter /init\nflags: PF\noffset 0\nmagic 4d5a\n", &["x86_64-windows", "i686-windows"]),
    ("CLR", "enabled\ninterpreter /usr/bin/mono\nflags: \nextension .exe\n", &[]),
];

#[test]
fn corpus_entries_claim_the_right_systems() {
    let cat = nixcross::platform::catalogue();
    for (name, text, want) in CORPUS {
        let e = Entry::parse(name, text).unwrap();
        let got: Vec<&str> = cat
            .binfmt
            .iter()
            .filter(|m| e.matches(&decode_escaped(&m.magic).unwrap()))
            .map(|m| m.system.as_str())
            .collect();
        assert_eq!(&got, want, "{name}");
    }
    assert!(!Entry::parse("qemu-mips64el", CORPUS[4].1).unwrap().enabled);
}

fn host(entries: &[(&str, &str)], conf: &str) -> HostInput {
    HostInput {
        binfmt_mounted: true,
        binfmt_status: Some("enabled\n".into()),
        binfmt_entries: entries
            .iter()
            .map(|(n, t)| (n.to_string(), t.to_string()))
            .collect(),
        osrelease: Some("6.1.0\n".into()),
        kernel_arch: Some("x86_64\n".into()),
        nix_conf: Some(NixConf::parse(conf, "/etc/nix/nix.conf", &mut |_| None)),
        ..HostInput::default()
    }
}

#[test]
fn disabled_entry_and_disabled_status() {
    let mut input = host(
        &[("qemu-mips64el", CORPUS[4].1)],
        "experimental-features = nix-command flakes\nextra-platforms = mips64el-linux\n",
    );
    let r = diagnose(&input, &["mips64el-linux".into()]).unwrap();
    let emu = &r.targets[0].emulation;
    assert!(!emu.ready);
    assert!(
        emu.problems[0].contains("`qemu-mips64el`") && emu.problems[0].contains("disabled"),
        "{:?}",
        emu.problems
    );
    assert_eq!(
        emu.fixes[0].line,
        "echo 1 | sudo tee /proc/sys/fs/binfmt_misc/qemu-mips64el"
    );

    input.binfmt_status = Some("disabled\n".into());
    let r = diagnose(&input, &["mips64el-linux".into()]).unwrap();
    assert!(r.targets[0]
        .emulation
        .problems
        .iter()
        .any(|p| p.contains("status: disabled")));
    assert_eq!(r.binfmt_state.enabled, Some(false));
}

#[test]
fn sandbox_off_means_no_sandbox_problem() {
    let input = host(
        &[("aarch64-linux", CORPUS[0].1)],
        "experimental-features = nix-command flakes\nextra-platforms = aarch64-linux\nsandbox = false\n",
    );
    let r = diagnose(&input, &["aarch64-linux".into()]).unwrap();
    assert!(r.targets[0].emulation.ready, "{:?}", r.targets[0].emulation);
    // The same host with the sandbox on needs /run/binfmt visible.
    let input = host(
        &[("aarch64-linux", CORPUS[0].1)],
        "experimental-features = nix-command flakes\nextra-platforms = aarch64-linux\n",
    );
    let r = diagnose(&input, &["aarch64-linux".into()]).unwrap();
    let emu = &r.targets[0].emulation;
    assert!(!emu.ready);
    assert_eq!(
        emu.fixes[0].line,
        "extra-sandbox-paths = /run/binfmt/aarch64-linux"
    );
}

#[test]
fn non_emulatable_and_native_targets() {
    let input = host(&[], "experimental-features = nix-command flakes\n");
    let r = diagnose(
        &input,
        &[
            "x86_64-darwin".into(),
            "x86_64-linux".into(),
            "i686-linux".into(),
        ],
    )
    .unwrap();
    let darwin = &r.targets[0];
    assert!(!darwin.emulation.ready && !darwin.cross.ready);
    assert!(darwin.emulation.problems[0].contains("cannot be emulated"));
    assert!(r.targets[1].emulation.ready, "the host's own system");
    assert!(
        r.targets[2].emulation.ready,
        "i686 on x86_64 with Nix's default extra-platforms"
    );
    // Once extra-platforms is set without i686-linux, the default is gone.
    let input = host(&[], "extra-platforms = aarch64-linux\n");
    let r = diagnose(&input, &["i686-linux".into()]).unwrap();
    assert!(!r.targets[0].emulation.ready);
    assert_eq!(
        r.targets[0].emulation.fixes[0].line,
        "extra-platforms = aarch64-linux i686-linux"
    );
    assert!(r.nix.problems.iter().any(|p| p.contains("flakes")));
    assert_eq!(
        r.nix.fixes[0].line,
        "experimental-features = nix-command flakes"
    );
}

#[test]
fn nix_conf_system_overrides_the_kernel_arch() {
    let input = host(&[], "system = aarch64-linux\n");
    let r = diagnose(&input, &["aarch64-linux".into()]).unwrap();
    assert_eq!(r.nix.system.as_deref(), Some("aarch64-linux"));
    assert!(r.targets[0].emulation.ready);
}
