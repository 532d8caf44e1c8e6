//! `binfmt::detect` on real binaries: the libc of Debian's `libc6-*-cross`
//! packages (listed in `.ci/cross-packages`, installed by `.ci/run`).
//! A missing file is a SKIP, or a failure when `NIXCROSS_REQUIRE_NIX=1`.

use nixcross::binfmt::{detect, Endian};

struct Case {
    package: &'static str,
    path: &'static str,
    class: u8,
    endian: Endian,
    /// Expected candidate doubles, in order.
    systems: &'static [&'static str],
    /// Expected NixOS magics that claim the file (kernel comparison).
    magics: &'static [&'static str],
    abi: Option<&'static str>,
}

use Endian::{Big as BE, Little as LE};

const CASES: &[Case] = &[
    Case {
        package: "libc6-arm64-cross",
        path: "/usr/aarch64-linux-gnu/lib/libc.so.6",
        class: 64,
        endian: LE,
        systems: &["aarch64-linux"],
        magics: &["aarch64-linux"],
        abi: None,
    },
    Case {
        package: "libc6-armhf-cross",
        path: "/usr/arm-linux-gnueabihf/lib/libc.so.6",
        class: 32,
        endian: LE,
        systems: &["armv7l-linux", "armv6l-linux", "armv7a-linux"],
        magics: &["armv6l-linux", "armv7l-linux"],
        abi: Some("hard-float, EABI5"),
    },
    Case {
        package: "libc6-armel-cross",
        path: "/usr/arm-linux-gnueabi/lib/libc.so.6",
        class: 32,
        endian: LE,
        systems: &["armv5tel-linux"],
        magics: &["armv6l-linux", "armv7l-linux"],
        abi: Some("soft-float, EABI5"),
    },
    Case {
        package: "libc6-riscv64-cross",
        path: "/usr/riscv64-linux-gnu/lib/libc.so.6",
        class: 64,
        endian: LE,
        systems: &["riscv64-linux"],
        magics: &["riscv64-linux"],
        abi: Some("lp64d"),
    },
    Case {
        package: "libc6-ppc64el-cross",
        path: "/usr/powerpc64le-linux-gnu/lib/libc.so.6",
        class: 64,
        endian: LE,
        systems: &["powerpc64le-linux"],
        magics: &["powerpc64le-linux"],
        abi: Some("elfv2"),
    },
    Case {
        package: "libc6-ppc64-cross",
        path: "/usr/powerpc64-linux-gnu/lib/libc.so.6",
        class: 64,
        endian: BE,
        systems: &["powerpc64-linux"],
        magics: &["powerpc64-linux"],
        abi: Some("elfv1"),
    },
    Case {
        package: "libc6-powerpc-cross",
        path: "/usr/powerpc-linux-gnu/lib/libc.so.6",
        class: 32,
        endian: BE,
        systems: &["powerpc-linux"],
        magics: &["powerpc-linux"],
        abi: None,
    },
    Case {
        package: "libc6-s390x-cross",
        path: "/usr/s390x-linux-gnu/lib/libc.so.6",
        class: 64,
        endian: BE,
        systems: &["s390x-linux"],
        magics: &["s390x-linux"],
        abi: None,
    },
    Case {
        package: "libc6-mips-cross",
        path: "/usr/mips-linux-gnu/lib/libc.so.6",
        class: 32,
        endian: BE,
        systems: &["mips-linux"],
        magics: &["mips-linux"],
        abi: Some("o32"),
    },
    Case {
        package: "libc6-mipsel-cross",
        path: "/usr/mipsel-linux-gnu/lib/libc.so.6",
        class: 32,
        endian: LE,
        systems: &["mipsel-linux"],
        magics: &["mipsel-linux"],
        abi: Some("o32"),
    },
    Case {
        package: "libc6-mips64-cross",
        path: "/usr/mips64-linux-gnuabi64/lib/libc.so.6",
        class: 64,
        endian: BE,
        systems: &["mips64-linux"],
        magics: &["mips64-linux"],
        abi: Some("n64"),
    },
    Case {
        package: "libc6-mips64el-cross",
        path: "/usr/mips64el-linux-gnuabi64/lib/libc.so.6",
        class: 64,
        endian: LE,
        systems: &["mips64el-linux"],
        magics: &["mips64el-linux"],
        abi: Some("n64"),
    },
    Case {
        package: "libc6-mipsn32-cross",
        path: "/usr/mips64-linux-gnuabin32/lib/libc.so.6",
        class: 32,
        endian: BE,
        systems: &["mips64-linuxabin32"],
        magics: &["mips64-linuxabin32"],
        abi: Some("n32"),
    },
    Case {
        package: "libc6-mipsn32el-cross",
        path: "/usr/mips64el-linux-gnuabin32/lib/libc.so.6",
        class: 32,
        endian: LE,
        systems: &["mips64el-linuxabin32"],
        magics: &["mips64el-linuxabin32"],
        abi: Some("n32"),
    },
    // NixOS's i386-linux magic has e_machine 3 (EM_386); its i486/i586/i686
    // magics have 6 (EM_IAMCU), which real i686 binaries do not carry.
    Case {
        package: "libc6-i386-cross",
        path: "/usr/i686-linux-gnu/lib/libc.so.6",
        class: 32,
        endian: LE,
        systems: &["i686-linux", "i586-linux", "i486-linux", "i386-linux"],
        magics: &["i386-linux"],
        abi: None,
    },
    Case {
        package: "libc6-amd64-cross",
        path: "/usr/x86_64-linux-gnu/lib/libc.so.6",
        class: 64,
        endian: LE,
        systems: &["x86_64-linux"],
        magics: &["x86_64-linux"],
        abi: None,
    },
    // x32 is ELFCLASS32 + EM_X86_64: no NixOS magic claims it.
    Case {
        package: "libc6-x32-cross",
        path: "/usr/x86_64-linux-gnux32/lib/libc.so.6",
        class: 32,
        endian: LE,
        systems: &["x86_64-linux"],
        magics: &[],
        abi: Some("x32"),
    },
    // NixOS's sparc64-linux magic is ELFCLASS32 + EM_SPARC, so real sparc64
    // (ELFCLASS64 + EM_SPARCV9) binaries match no NixOS magic.
    Case {
        package: "libc6-sparc64-cross",
        path: "/usr/sparc64-linux-gnu/lib/libc.so.6",
        class: 64,
        endian: BE,
        systems: &["sparc64-linux"],
        magics: &[],
        abi: None,
    },
    Case {
        package: "libc6-m68k-cross",
        path: "/usr/m68k-linux-gnu/lib/libc.so.6",
        class: 32,
        endian: BE,
        systems: &["m68k-linux"],
        magics: &[],
        abi: None,
    },
    Case {
        package: "libc6-sh4-cross",
        path: "/usr/sh4-linux-gnu/lib/libc.so.6",
        class: 32,
        endian: LE,
        systems: &["sh4-linux"],
        magics: &[],
        abi: None,
    },
    // nixpkgs has no hppa double.
    Case {
        package: "libc6-hppa-cross",
        path: "/usr/hppa-linux-gnu/lib/libc.so.6",
        class: 32,
        endian: BE,
        systems: &[],
        magics: &[],
        abi: None,
    },
];

fn require() -> bool {
    std::env::var("NIXCROSS_REQUIRE_NIX").as_deref() == Ok("1")
}

#[test]
fn real_cross_libcs() {
    let mut checked = 0;
    let mut failures = Vec::new();
    for case in CASES {
        let bytes = match std::fs::read(case.path) {
            Ok(b) => b,
            Err(e) => {
                let msg = format!("{}: {e} (apt-get install {})", case.path, case.package);
                if require() {
                    failures.push(msg);
                } else {
                    eprintln!("SKIP {msg}");
                }
                continue;
            }
        };
        let d = match detect(&bytes) {
            Ok(d) => d,
            Err(e) => {
                failures.push(format!("{}: {}", case.path, e));
                continue;
            }
        };
        let got = (
            d.class,
            d.endian,
            d.systems.iter().map(String::as_str).collect::<Vec<_>>(),
            d.magics.iter().map(String::as_str).collect::<Vec<_>>(),
            d.abi.as_deref(),
        );
        let want = (
            Some(case.class),
            Some(case.endian),
            case.systems.to_vec(),
            case.magics.to_vec(),
            case.abi,
        );
        if got != want {
            failures.push(format!("{}:\n  got  {got:?}\n  want {want:?}", case.path));
        }
        // Shared objects are ET_DYN; NixOS's 0xfe mask on e_type's low byte
        // makes them match like executables.
        if d.kind.as_deref() != Some("shared object") {
            failures.push(format!("{}: kind {:?}", case.path, d.kind));
        }
        // Cut to 30 bytes, the same file is a clean error (the MIPS magics
        // alone are 40 bytes long).
        if detect(&bytes[..30]).is_ok() {
            failures.push(format!("{}: a 30-byte prefix was accepted", case.path));
        }
        checked += 1;
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    eprintln!("checked {checked} real binaries");
}

#[test]
fn real_dynamic_loaders_too() {
    // ld.so is another ET_DYN file with the same header fields.
    for (pkg, path, system) in [
        (
            "libc6-arm64-cross",
            "/usr/aarch64-linux-gnu/lib/ld-linux-aarch64.so.1",
            "aarch64-linux",
        ),
        (
            "libc6-riscv64-cross",
            "/usr/riscv64-linux-gnu/lib/ld-linux-riscv64-lp64d.so.1",
            "riscv64-linux",
        ),
        (
            "libc6-armhf-cross",
            "/usr/arm-linux-gnueabihf/lib/ld-linux-armhf.so.3",
            "armv7l-linux",
        ),
    ] {
        let Ok(bytes) = std::fs::read(path) else {
            assert!(!require(), "{path} missing (apt-get install {pkg})");
            eprintln!("SKIP {path}: missing (apt-get install {pkg})");
            continue;
        };
        let d = detect(&bytes).unwrap();
        assert_eq!(
            d.systems.first().map(String::as_str),
            Some(system),
            "{path}"
        );
        assert!(
            d.magics.iter().any(|m| m == system),
            "{path}: {:?}",
            d.magics
        );
    }
}
