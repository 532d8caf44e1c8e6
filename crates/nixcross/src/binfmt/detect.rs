//! What a binary is: ELF (class, byte order, machine, ABI flags, OS ABI),
//! PE (machine) or wasm, mapped to nixpkgs system doubles, plus the NixOS
//! binfmt magics that would claim it.

use crate::error::{Error, Result};
use crate::platform::catalogue;

/// The container format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum Format {
    /// An ELF object (Linux, the BSDs, embedded).
    Elf,
    /// A Windows PE image (`MZ` stub with a `PE\0\0` header).
    Pe,
    /// A DOS `MZ` executable without a PE header.
    Mz,
    /// A WebAssembly module (`\0asm`).
    Wasm,
}

/// Byte order of a header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Endian {
    /// Least significant byte first.
    Little,
    /// Most significant byte first.
    Big,
}

/// A decoded header.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct Detection {
    /// The container format.
    pub format: Format,
    /// 32 or 64 (ELF class, PE32 vs PE32+); `None` for wasm.
    pub class: Option<u8>,
    /// The byte order (ELF `EI_DATA`; PE is always little-endian); `None`
    /// for wasm.
    pub endian: Option<Endian>,
    /// A readable machine name: `aarch64`, `arm`, `mips`, `x86-64`, ...
    pub machine: String,
    /// The raw ELF `e_machine` or PE `Machine` field.
    pub machine_id: Option<u32>,
    /// ELF `e_type`: `relocatable`, `executable`, `shared object`, `core`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// ELF `EI_OSABI` by name (`sysv`, `linux`, `freebsd`, ...).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub osabi: Option<String>,
    /// ABI details from `e_flags`: `hard-float, EABI5`, `n32`, `elfv1`, `lp64d`, ...
    #[serde(skip_serializing_if = "Option::is_none")]
    pub abi: Option<String>,
    /// ELF `e_flags`, hex.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub flags: Option<String>,
    /// Candidate nixpkgs system doubles, most likely first. Empty when nixpkgs
    /// has no double for this machine. The MIPS n32 ABI is named by its
    /// `boot.binfmt.emulatedSystems` key (`mips64-linuxabin32`), since its
    /// nixpkgs double is the same as n64's.
    pub systems: Vec<String>,
    /// The NixOS binfmt magics (`nixos/lib/binfmt-magics.nix` keys) matching
    /// the header under the kernel's masked comparison.
    pub magics: Vec<String>,
}

/// How many header bytes the kernel hands binfmt_misc (`BINPRM_BUF_SIZE`).
const KERNEL_BUF: usize = 256;

fn u16_at(b: &[u8], at: usize, e: Endian) -> Option<u16> {
    let s: [u8; 2] = b.get(at..at + 2)?.try_into().ok()?;
    Some(match e {
        Endian::Little => u16::from_le_bytes(s),
        Endian::Big => u16::from_be_bytes(s),
    })
}

fn u32_at(b: &[u8], at: usize, e: Endian) -> Option<u32> {
    let s: [u8; 4] = b.get(at..at + 4)?.try_into().ok()?;
    Some(match e {
        Endian::Little => u32::from_le_bytes(s),
        Endian::Big => u32::from_be_bytes(s),
    })
}

/// Decode `bytes` (the start of a file is enough: 64 bytes for ELF, the
/// PE header for PE). Truncated or unknown input is an [`ErrorKind::Format`]
/// error, never a panic.
///
/// [`ErrorKind::Format`]: crate::ErrorKind::Format
pub fn detect(bytes: &[u8]) -> Result<Detection> {
    let mut d = if bytes.starts_with(b"\x7fELF") {
        elf(bytes)?
    } else if bytes.starts_with(b"MZ") {
        pe(bytes)?
    } else if bytes.starts_with(b"\0asm") {
        wasm(bytes)?
    } else if bytes.is_empty() {
        return Err(Error::format("empty file"));
    } else if bytes.starts_with(b"#!") {
        return Err(Error::format(
            "a script (#!), not a binary: binfmt_misc is not involved",
        ));
    } else if b"\x7fELF".starts_with(&bytes[..bytes.len().min(4)])
        || b"\0asm".starts_with(&bytes[..bytes.len().min(4)])
    {
        return Err(Error::format(format!(
            "truncated: only {} bytes",
            bytes.len()
        )));
    } else {
        let shown: String = bytes
            .iter()
            .take(4)
            .map(|b| format!("{b:02x}"))
            .collect::<Vec<_>>()
            .join(" ");
        return Err(Error::format(format!(
            "not an ELF, PE or wasm binary (starts with {shown})"
        )));
    };
    d.magics = super::matching_magics(&bytes[..bytes.len().min(KERNEL_BUF)]);
    Ok(d)
}

fn elf(b: &[u8]) -> Result<Detection> {
    if b.len() < 20 {
        return Err(Error::format(format!(
            "truncated ELF header: {} bytes, need at least 52",
            b.len()
        )));
    }
    let class = match b[4] {
        1 => 32u8,
        2 => 64,
        c => return Err(Error::format(format!("ELF with invalid class {c}"))),
    };
    let endian = match b[5] {
        1 => Endian::Little,
        2 => Endian::Big,
        e => return Err(Error::format(format!("ELF with invalid byte order {e}"))),
    };
    let need = if class == 32 { 52 } else { 64 };
    if b.len() < need {
        return Err(Error::format(format!(
            "truncated ELF{class} header: {} bytes, need {need}",
            b.len()
        )));
    }
    let e_type = u16_at(b, 16, endian).unwrap_or(0);
    let e_machine = u16_at(b, 18, endian).unwrap_or(0);
    let flags_at = if class == 32 { 36 } else { 48 };
    let e_flags = u32_at(b, flags_at, endian).unwrap_or(0);
    let osabi = b[7];
    let kind = match e_type {
        1 => "relocatable".to_string(),
        2 => "executable".to_string(),
        3 => "shared object".to_string(),
        4 => "core".to_string(),
        t => format!("type {t}"),
    };
    let (os, osabi_name): (&str, String) = match osabi {
        0 => ("linux", "sysv".into()),
        3 => ("linux", "linux".into()),
        2 => ("netbsd", "netbsd".into()),
        6 => ("solaris", "solaris".into()),
        9 => ("freebsd", "freebsd".into()),
        12 => ("openbsd", "openbsd".into()),
        n => ("", format!("{n}")),
    };
    let le = endian == Endian::Little;
    let is64 = class == 64;
    let mut abi: Option<String> = None;
    // (machine name, arch candidates); "@n32" marks the MIPS n32 names.
    let (machine, archs): (&str, Vec<&str>) = match e_machine {
        3 if !is64 => ("i386", vec!["i686", "i586", "i486", "i386"]),
        6 => ("iamcu", vec![]),
        62 if is64 => ("x86-64", vec!["x86_64"]),
        62 => {
            abi = Some("x32".into());
            ("x86-64", vec!["x86_64"])
        }
        183 if is64 => ("aarch64", vec![if le { "aarch64" } else { "aarch64_be" }]),
        183 => {
            abi = Some("ilp32".into());
            ("aarch64", vec![])
        }
        40 => {
            let eabi = e_flags >> 24;
            let hard = e_flags & 0x400 != 0;
            let soft = e_flags & 0x200 != 0;
            abi = Some(match (eabi, hard, soft) {
                (0, _, _) => "old ABI".to_string(),
                (v, true, _) => format!("hard-float, EABI{v}"),
                (v, _, true) => format!("soft-float, EABI{v}"),
                (v, _, _) => format!("EABI{v}"),
            });
            if !le {
                ("arm (big-endian)", vec![])
            } else if hard {
                ("arm", vec!["armv7l", "armv6l", "armv7a"])
            } else {
                ("arm", vec!["armv5tel"])
            }
        }
        20 => ("powerpc", vec![if le { "powerpcle" } else { "powerpc" }]),
        21 => {
            let v = e_flags & 3;
            abi = Some(
                match (le, v) {
                    (true, _) | (false, 2) => "elfv2",
                    _ => "elfv1",
                }
                .into(),
            );
            (
                "powerpc64",
                vec![if le { "powerpc64le" } else { "powerpc64" }],
            )
        }
        22 => ("s390", vec![if is64 { "s390x" } else { "s390" }]),
        8 | 10 => {
            let n32 = !is64 && e_flags & 0x20 != 0;
            let r6 = matches!(e_flags >> 28, 0x9 | 0xa);
            abi = Some(format!(
                "{}{}",
                if is64 {
                    "n64"
                } else if n32 {
                    "n32"
                } else {
                    "o32"
                },
                if r6 { ", r6" } else { "" }
            ));
            let arch = match (is64 || n32, le) {
                (true, false) => "mips64",
                (true, true) => "mips64el",
                (false, false) => "mips",
                (false, true) => "mipsel",
            };
            if n32 {
                (
                    "mips",
                    vec![if le {
                        "@mips64el-linuxabin32"
                    } else {
                        "@mips64-linuxabin32"
                    }],
                )
            } else {
                ("mips", vec![arch])
            }
        }
        2 => ("sparc", vec!["sparc"]),
        18 => ("sparc32plus", vec!["sparc"]),
        43 => ("sparcv9", vec!["sparc64"]),
        0x9026 => ("alpha", vec!["alpha"]),
        258 => {
            abi = Some(
                match e_flags & 7 {
                    1 => "lp64s",
                    2 => "lp64f",
                    3 => "lp64d",
                    _ => "unknown float ABI",
                }
                .into(),
            );
            (
                "loongarch",
                vec![if is64 { "loongarch64" } else { "loongarch32" }],
            )
        }
        243 => {
            let float = match e_flags & 6 {
                0 => "",
                2 => "f",
                4 => "d",
                _ => "q",
            };
            abi = Some(format!("{}{float}", if is64 { "lp64" } else { "ilp32" }));
            ("riscv", vec![if is64 { "riscv64" } else { "riscv32" }])
        }
        4 => ("m68k", vec!["m68k"]),
        42 => ("sh", if le { vec!["sh4"] } else { vec![] }),
        15 => ("hppa", vec!["hppa"]),
        189 => (
            "microblaze",
            vec![if le { "microblazeel" } else { "microblaze" }],
        ),
        93 | 195 => ("arc", vec!["arc"]),
        92 => ("or1k", vec!["or1k"]),
        83 => ("avr", vec!["avr"]),
        105 => ("msp430", vec!["msp430"]),
        173 => ("rx", vec!["rx"]),
        137 => ("vc4", vec!["vc4"]),
        _ => ("unknown", vec![]),
    };
    let systems = if os.is_empty() {
        Vec::new()
    } else {
        let mut s = known_doubles(&archs, os);
        // OSABI 0 (SYSV) is also what bare-metal toolchains write.
        if s.is_empty() && osabi == 0 {
            s = known_doubles(&archs, "none");
        }
        s
    };
    Ok(Detection {
        format: Format::Elf,
        class: Some(class),
        endian: Some(endian),
        machine: if machine == "unknown" {
            format!("unknown (e_machine {e_machine})")
        } else {
            machine.to_string()
        },
        machine_id: Some(u32::from(e_machine)),
        kind: Some(kind),
        osabi: Some(osabi_name),
        abi,
        flags: Some(format!("0x{e_flags:08x}")),
        systems,
        magics: Vec::new(),
    })
}

/// `arch-os` for each arch, kept only if nixpkgs (or NixOS binfmt) knows it.
fn known_doubles(archs: &[&str], os: &str) -> Vec<String> {
    let cat = catalogue();
    archs
        .iter()
        .map(|a| match a.strip_prefix('@') {
            Some(full) if os == "linux" => full.to_string(),
            Some(_) => String::new(),
            None => format!("{a}-{os}"),
        })
        .filter(|d| !d.is_empty() && (cat.system(d).is_some() || cat.can_emulate(d)))
        .collect()
}

fn pe(b: &[u8]) -> Result<Detection> {
    if b.len() < 0x40 {
        return Err(Error::format(format!(
            "truncated DOS header: {} bytes, need 64",
            b.len()
        )));
    }
    let lfanew = u32_at(b, 0x3c, Endian::Little).unwrap_or(0) as usize;
    let sig = lfanew.checked_add(4).and_then(|end| b.get(lfanew..end));
    if sig != Some(b"PE\0\0".as_slice()) {
        // A PE header pointer past the end of a short input: a cut-off PE
        // file rather than a DOS program.
        if lfanew >= 0x40 && lfanew.saturating_add(4) > b.len() && b.len() < 4096 {
            return Err(Error::format(format!(
                "truncated: the PE header at offset {lfanew} is past the end ({} bytes)",
                b.len()
            )));
        }
        return Ok(Detection {
            format: Format::Mz,
            class: None,
            endian: Some(Endian::Little),
            machine: "dos".into(),
            machine_id: None,
            kind: None,
            osabi: None,
            abi: None,
            flags: None,
            systems: Vec::new(),
            magics: Vec::new(),
        });
    }
    let coff = lfanew + 4;
    let (Some(machine), Some(opt_magic)) = (
        u16_at(b, coff, Endian::Little),
        u16_at(b, coff + 20, Endian::Little),
    ) else {
        return Err(Error::format("truncated PE header"));
    };
    let class = match opt_magic {
        0x10b => Some(32),
        0x20b => Some(64),
        _ => None,
    };
    let (name, systems): (&str, &[&str]) = match machine {
        0x14c => ("i386", &["i686-windows"]),
        0x8664 => ("x86-64", &["x86_64-windows"]),
        0xaa64 => ("aarch64", &["aarch64-windows"]),
        0x1c4 => ("armnt", &[]),
        0x200 => ("ia64", &[]),
        _ => ("unknown", &[]),
    };
    let characteristics = u16_at(b, coff + 18, Endian::Little).unwrap_or(0);
    Ok(Detection {
        format: Format::Pe,
        class,
        endian: Some(Endian::Little),
        machine: if name == "unknown" {
            format!("unknown (machine 0x{machine:04x})")
        } else {
            name.to_string()
        },
        machine_id: Some(u32::from(machine)),
        kind: Some(if characteristics & 0x2000 != 0 {
            "dll".into()
        } else {
            "executable".into()
        }),
        osabi: None,
        abi: None,
        flags: None,
        systems: systems.iter().map(|s| s.to_string()).collect(),
        magics: Vec::new(),
    })
}

fn wasm(b: &[u8]) -> Result<Detection> {
    let Some(version) = u32_at(b, 4, Endian::Little) else {
        return Err(Error::format(format!(
            "truncated wasm header: {} bytes, need 8",
            b.len()
        )));
    };
    let abi = match version {
        1 => None,
        v if v >> 16 == 1 => Some("component".to_string()),
        v => Some(format!("version {v}")),
    };
    Ok(Detection {
        format: Format::Wasm,
        class: None,
        endian: Some(Endian::Little),
        machine: "wasm".into(),
        machine_id: None,
        kind: None,
        osabi: None,
        abi,
        flags: None,
        // The header does not say 32 or 64 (that is in the memory section).
        systems: vec!["wasm32-wasi".into(), "wasm64-wasi".into()],
        magics: Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A minimal ELF header.
    fn elf_header(class: u8, data: u8, e_type: u16, machine: u16, flags: u32) -> Vec<u8> {
        let len = if class == 1 { 52 } else { 64 };
        let mut b = vec![0u8; len];
        b[..4].copy_from_slice(b"\x7fELF");
        b[4] = class;
        b[5] = data;
        b[6] = 1;
        let put16 = |v: u16| {
            if data == 1 {
                v.to_le_bytes()
            } else {
                v.to_be_bytes()
            }
        };
        let put32 = |v: u32| {
            if data == 1 {
                v.to_le_bytes()
            } else {
                v.to_be_bytes()
            }
        };
        b[16..18].copy_from_slice(&put16(e_type));
        b[18..20].copy_from_slice(&put16(machine));
        b[20..24].copy_from_slice(&put32(1));
        let at = if class == 1 { 36 } else { 48 };
        b[at..at + 4].copy_from_slice(&put32(flags));
        b
    }

    #[test]
    fn riscv64_executable() {
        let d = detect(&elf_header(2, 1, 2, 243, 5)).unwrap();
        assert_eq!(d.systems, ["riscv64-linux"]);
        assert_eq!(d.abi.as_deref(), Some("lp64d"));
        assert_eq!(d.magics, ["riscv64-linux"]);
        assert_eq!(d.kind.as_deref(), Some("executable"));
    }

    #[test]
    fn e_type_mask_accepts_exec_and_dyn_but_not_rel() {
        // Byte 16 (LE e_type low byte) is masked with 0xfe: 2 and 3 match.
        for (t, expect) in [(1u16, false), (2, true), (3, true), (4, false)] {
            let d = detect(&elf_header(2, 1, t, 183, 0)).unwrap();
            assert_eq!(
                d.magics.contains(&"aarch64-linux".to_string()),
                expect,
                "e_type {t}"
            );
        }
        // Big-endian: the low byte is 17.
        for (t, expect) in [(1u16, false), (2, true), (3, true)] {
            let d = detect(&elf_header(2, 2, t, 22, 0)).unwrap();
            assert_eq!(
                d.magics.contains(&"s390x-linux".to_string()),
                expect,
                "e_type {t}"
            );
        }
    }

    #[test]
    fn arm_float_abi() {
        let hf = detect(&elf_header(1, 1, 2, 40, 0x0500_0400)).unwrap();
        assert_eq!(hf.systems[..2], ["armv7l-linux", "armv6l-linux"]);
        assert_eq!(hf.abi.as_deref(), Some("hard-float, EABI5"));
        let sf = detect(&elf_header(1, 1, 2, 40, 0x0500_0200)).unwrap();
        assert_eq!(sf.systems, ["armv5tel-linux"]);
        // Both match the (shared) NixOS ARM magic: binfmt cannot tell them apart.
        assert!(sf.magics.contains(&"armv7l-linux".to_string()));
    }

    #[test]
    fn mips_n32_and_o32() {
        let n32 = detect(&elf_header(1, 2, 2, 8, 0x20)).unwrap();
        assert_eq!(n32.systems, ["mips64-linuxabin32"]);
        assert_eq!(n32.magics, ["mips64-linuxabin32"]);
        let o32 = detect(&elf_header(1, 2, 2, 8, 0x1000)).unwrap();
        assert_eq!(o32.systems, ["mips-linux"]);
        assert_eq!(o32.magics, ["mips-linux"]);
        let n32el = detect(&elf_header(1, 1, 2, 8, 0x20)).unwrap();
        assert_eq!(n32el.systems, ["mips64el-linuxabin32"]);
        assert_eq!(n32el.magics, ["mips64el-linuxabin32"]);
    }

    #[test]
    fn powerpc64_elf_versions() {
        let v1 = detect(&elf_header(2, 2, 2, 21, 1)).unwrap();
        assert_eq!(
            (v1.systems[0].as_str(), v1.abi.as_deref()),
            ("powerpc64-linux", Some("elfv1"))
        );
        let v2 = detect(&elf_header(2, 2, 2, 21, 2)).unwrap();
        assert_eq!(v2.abi.as_deref(), Some("elfv2"));
        let le = detect(&elf_header(2, 1, 2, 21, 2)).unwrap();
        assert_eq!(le.systems, ["powerpc64le-linux"]);
        assert_eq!(le.magics, ["powerpc64le-linux"]);
    }

    #[test]
    fn freebsd_osabi_and_bare_metal() {
        let mut h = elf_header(2, 1, 2, 62, 0);
        h[7] = 9;
        assert_eq!(detect(&h).unwrap().systems, ["x86_64-freebsd"]);
        // NixOS masks EI_OSABI (byte 7) out entirely, so binfmt_misc would
        // still hand a FreeBSD binary to qemu-x86_64.
        assert_eq!(detect(&h).unwrap().magics, ["x86_64-linux"]);
        let avr = detect(&elf_header(1, 1, 2, 83, 0)).unwrap();
        assert_eq!(avr.systems, ["avr-none"]);
    }

    #[test]
    fn pe_and_wasm() {
        let mut pe = vec![0u8; 0x100];
        pe[..2].copy_from_slice(b"MZ");
        pe[0x3c] = 0x80;
        pe[0x80..0x84].copy_from_slice(b"PE\0\0");
        pe[0x84..0x86].copy_from_slice(&0x8664u16.to_le_bytes());
        pe[0x98..0x9a].copy_from_slice(&0x20bu16.to_le_bytes());
        let d = detect(&pe).unwrap();
        assert_eq!(d.format, Format::Pe);
        assert_eq!(d.systems, ["x86_64-windows"]);
        assert_eq!(d.class, Some(64));
        assert_eq!(d.magics, ["x86_64-windows", "i686-windows"]);
        pe[0x84..0x86].copy_from_slice(&0xaa64u16.to_le_bytes());
        assert_eq!(detect(&pe).unwrap().systems, ["aarch64-windows"]);

        let w = detect(b"\0asm\x01\0\0\0").unwrap();
        assert_eq!(w.systems, ["wasm32-wasi", "wasm64-wasi"]);
        assert_eq!(w.magics, ["wasm32-wasi", "wasm64-wasi"]);
    }

    #[test]
    fn bad_input_is_an_error() {
        for (input, needle) in [
            (&b""[..], "empty"),
            (b"\x7fEL", "truncated"),
            (b"\x7fELF\x02\x01\x01", "truncated"),
            (b"\0as", "truncated"),
            (b"\0asm\x01", "truncated"),
            (b"MZ\x90\0", "truncated"),
            (b"#!/bin/sh\n", "script"),
            (b"hello world", "not an ELF"),
        ] {
            let err = detect(input).unwrap_err();
            assert_eq!(err.kind, crate::ErrorKind::Format);
            assert!(err.message.contains(needle), "{input:?}: {}", err.message);
        }
        // A 20-byte ELF prefix (shorter than a full header) is truncated.
        let h = elf_header(1, 2, 2, 8, 0);
        assert!(detect(&h[..40]).unwrap_err().message.contains("truncated"));
        let mut bad = elf_header(2, 1, 2, 62, 0);
        bad[4] = 7;
        assert!(detect(&bad).unwrap_err().message.contains("class"));
    }
}
