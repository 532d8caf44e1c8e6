//! Registration lines for `/proc/sys/fs/binfmt_misc/register`, systemd
//! `binfmt.d` files, and the nix.conf lines a host needs next to them.

use std::fmt;

use super::escape::decode_escaped;
use crate::error::{Error, Result};
use crate::platform::catalogue;

/// The kernel's limit on the whole registration line (`MAX_REGISTER_LENGTH`).
pub const MAX_LINE_LEN: usize = 1920;
/// The documented limit on the interpreter path.
pub const MAX_INTERPRETER_LEN: usize = 127;
/// offset + magic length must stay under this (binfmt-misc.rst: "less than 128").
pub const MAX_MAGIC_END: usize = 128;

/// binfmt_misc flags. The kernel accepts exactly `P`, `O`, `C` and `F`.
///
/// `C` (use the binary's credentials) makes the kernel open the binary too,
/// so it implies `O`: [`Flags::parse`] sets `open` when `credentials` is
/// given, and [`fmt::Display`] writes the canonical order `POCF`, which is
/// also how `/proc/sys/fs/binfmt_misc/<name>` shows them (`flags: OCF`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Flags {
    /// `P`: preserve `argv[0]`.
    pub preserve_argv0: bool,
    /// `O`: pass the binary as an open file descriptor.
    pub open: bool,
    /// `C`: credentials of the binary, not the interpreter (implies `O`).
    pub credentials: bool,
    /// `F`: open the interpreter at registration (kernel 4.8+); works across
    /// mount namespaces, chroots and the Nix sandbox.
    pub fix_binary: bool,
}

impl Flags {
    /// Parse flag letters strictly: anything but `P`, `O`, `C`, `F` is an error
    /// (the kernel rejects the registration otherwise).
    pub fn parse(letters: &str) -> Result<Flags> {
        let mut f = Flags::default();
        for c in letters.chars() {
            match c {
                'P' => f.preserve_argv0 = true,
                'O' => f.open = true,
                'C' => {
                    f.credentials = true;
                    f.open = true;
                }
                'F' => f.fix_binary = true,
                other => {
                    return Err(Error::invalid(format!(
                        "unknown binfmt_misc flag `{other}` in `{letters}`"
                    ))
                    .hint("the kernel accepts P (preserve argv[0]), O (open binary), C (credentials, implies O) and F (fix binary)"))
                }
            }
        }
        Ok(f)
    }

    /// Parse the letters `/proc` shows, ignoring ones this version does not know.
    pub fn parse_lenient(letters: &str) -> Flags {
        let mut f = Flags::default();
        for c in letters.chars() {
            match c {
                'P' => f.preserve_argv0 = true,
                'O' => f.open = true,
                'C' => {
                    f.credentials = true;
                    f.open = true;
                }
                'F' => f.fix_binary = true,
                _ => {}
            }
        }
        f
    }
}

impl fmt::Display for Flags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (on, c) in [
            (self.preserve_argv0, 'P'),
            (self.open, 'O'),
            (self.credentials, 'C'),
            (self.fix_binary, 'F'),
        ] {
            if on {
                write!(f, "{c}")?;
            }
        }
        Ok(())
    }
}

/// One binfmt_misc registration, type `M` (magic).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Registration {
    /// The entry's name under `/proc/sys/fs/binfmt_misc/`.
    pub name: String,
    /// `None` writes an empty offset field (the kernel reads 0), as NixOS does.
    pub offset: Option<usize>,
    /// Magic in `\xHH` text, written verbatim.
    pub magic: String,
    /// Mask in `\xHH` text; `None` writes an empty field (compare every bit).
    pub mask: Option<String>,
    /// The interpreter's path ([`Registration::validate`] requires an
    /// absolute one).
    pub interpreter: String,
    /// The flags written after the interpreter.
    pub flags: Flags,
    /// The NixOS system this registration is for, when made by [`Registration::for_system`].
    pub system: Option<String>,
}

/// The `qemu-<arch>` name nixpkgs (`lib.systems.elaborate`'s `qemuArch`)
/// uses for a system NixOS can emulate, or `None` when the emulator is not
/// QEMU (wasm: wasmtime, Windows: wine).
pub fn qemu_arch(system: &str) -> Option<&'static str> {
    Some(match system {
        "aarch64-linux" => "aarch64",
        "aarch64_be-linux" => "aarch64_be",
        "armv6l-linux" | "armv7l-linux" | "armv5tel-linux" => "arm",
        "i386-linux" | "i486-linux" | "i586-linux" | "i686-linux" => "i386",
        "x86_64-linux" => "x86_64",
        "alpha-linux" => "alpha",
        "sparc64-linux" => "sparc64",
        "sparc-linux" => "sparc",
        "powerpc-linux" => "ppc",
        "powerpc64-linux" => "ppc64",
        "powerpc64le-linux" => "ppc64le",
        "mips-linux" => "mips",
        "mipsel-linux" => "mipsel",
        "mips64-linux" => "mips64",
        "mips64el-linux" => "mips64el",
        "mips64-linuxabin32" => "mipsn32",
        "mips64el-linuxabin32" => "mipsn32el",
        "riscv32-linux" => "riscv32",
        "riscv64-linux" => "riscv64",
        "loongarch64-linux" => "loongarch64",
        "s390x-linux" => "s390x",
        _ => return None,
    })
}

impl Registration {
    /// The registration NixOS writes for `system` (`boot.binfmt.emulatedSystems`):
    /// name = system, empty offset, the magic and mask of
    /// `nixos/lib/binfmt-magics.nix`, interpreter `/run/binfmt/<system>`, and
    /// flags `P` when the emulator is QEMU (NixOS wraps it to honour `P`), none
    /// for wasm and Windows (wasmtime and wine are wrapped in a shell script).
    pub fn for_system(system: &str) -> Result<Registration> {
        let cat = catalogue();
        let Some(m) = cat.magic(system) else {
            let mut err = if cat.system(system).is_some() {
                Error::invalid(format!(
                    "NixOS cannot emulate `{system}`: it has no binfmt magic in nixos/lib/binfmt-magics.nix"
                ))
                .hint("cross-compile instead, or use a remote builder of that system")
            } else {
                Error::invalid(format!("unknown system `{system}`"))
            };
            let near: Vec<String> = crate::platform::suggest(system, 6)
                .into_iter()
                .filter(|s| cat.can_emulate(s))
                .take(3)
                .collect();
            if !near.is_empty() {
                err = err.hint(format!("did you mean {}?", near.join(", ")));
            }
            return Err(err);
        };
        Ok(Registration {
            name: system.to_string(),
            offset: None,
            magic: m.magic.clone(),
            mask: m.mask.clone(),
            interpreter: format!("/run/binfmt/{system}"),
            flags: Flags {
                preserve_argv0: qemu_arch(system).is_some(),
                ..Flags::default()
            },
            system: Some(system.to_string()),
        })
    }

    /// Check every rule the kernel applies when the line is written to
    /// `register`, plus the ones that would make the line ambiguous.
    pub fn validate(&self) -> Result<()> {
        let bad_char = |field: &str, value: &str| -> Result<()> {
            if let Some(c) = value.chars().find(|c| *c == ':' || c.is_control()) {
                return Err(Error::invalid(format!(
                    "the {field} `{}` contains {}, which would break the registration line",
                    value.escape_debug(),
                    if c == ':' {
                        "`:` (the field separator)".to_string()
                    } else {
                        format!("the control character {:?}", c)
                    }
                ))
                .hint(if field == "magic" || field == "mask" {
                    "write such bytes as \\xHH escapes, e.g. `:` as \\x3a"
                } else {
                    "choose a value without `:`"
                }));
            }
            Ok(())
        };
        if self.name.is_empty() || self.name == "." || self.name == ".." {
            return Err(Error::invalid(format!(
                "invalid registration name `{}`",
                self.name
            )));
        }
        if self.name.contains('/') {
            return Err(Error::invalid(format!(
                "the registration name `{}` contains `/`; it becomes a file in /proc/sys/fs/binfmt_misc",
                self.name
            )));
        }
        bad_char("name", &self.name)?;
        bad_char("interpreter", &self.interpreter)?;
        bad_char("magic", &self.magic)?;
        if let Some(mask) = &self.mask {
            bad_char("mask", mask)?;
        }
        if self.interpreter.is_empty() {
            return Err(Error::invalid("the interpreter path is empty"));
        }
        if !self.interpreter.starts_with('/') {
            return Err(Error::invalid(format!(
                "the interpreter `{}` is not an absolute path; the kernel would resolve it against each program's working directory",
                self.interpreter
            )));
        }
        if self.interpreter.len() > MAX_INTERPRETER_LEN {
            return Err(Error::invalid(format!(
                "the interpreter path is {} bytes; binfmt_misc allows at most {MAX_INTERPRETER_LEN}",
                self.interpreter.len()
            ))
            .hint("point a short symlink at it, as NixOS does with /run/binfmt/<system>"));
        }
        let magic = decode_escaped(&self.magic)?;
        if magic.is_empty() {
            return Err(Error::invalid("the magic is empty"));
        }
        let end = self.offset.unwrap_or(0).saturating_add(magic.len());
        if end >= MAX_MAGIC_END {
            return Err(Error::invalid(format!(
                "offset + magic length is {end}; binfmt_misc needs it under {MAX_MAGIC_END}"
            )));
        }
        if let Some(mask) = &self.mask {
            let mask = decode_escaped(mask)?;
            if mask.len() != magic.len() {
                return Err(Error::invalid(format!(
                    "the mask is {} bytes but the magic is {}; they must be the same length",
                    mask.len(),
                    magic.len()
                )));
            }
        }
        let line = self.render_unchecked();
        if line.len() > MAX_LINE_LEN {
            return Err(Error::invalid(format!(
                "the registration line is {} bytes; binfmt_misc accepts at most {MAX_LINE_LEN}",
                line.len()
            )));
        }
        Ok(())
    }

    fn render_unchecked(&self) -> String {
        format!(
            ":{}:M:{}:{}:{}:{}:{}",
            self.name,
            self.offset.map(|o| o.to_string()).unwrap_or_default(),
            self.magic,
            self.mask.as_deref().unwrap_or(""),
            self.interpreter,
            self.flags
        )
    }

    /// The line for `/proc/sys/fs/binfmt_misc/register`, validated.
    pub fn line(&self) -> Result<String> {
        self.validate()?;
        Ok(self.render_unchecked())
    }

    /// A systemd `binfmt.d` file (`/etc/binfmt.d/nixcross-<name>.conf`):
    /// a comment header and the line. systemd-binfmt reads `#` and `;` comments.
    pub fn binfmt_d(&self) -> Result<String> {
        let line = self.line()?;
        let mut out = String::new();
        out.push_str(&format!("# {}\n", self.binfmt_d_path()));
        out.push_str(
            "# Written by nixcross. Load it with: sudo systemctl restart systemd-binfmt\n",
        );
        out.push_str(&format!(
            "# Runs {} binaries with {}.\n",
            self.system.as_deref().unwrap_or(&self.name),
            self.interpreter
        ));
        if self.flags.fix_binary {
            out.push_str("# F: the kernel opens the interpreter now, so it must be a static binary (e.g. qemu-user-static).\n");
        }
        out.push_str(&line);
        out.push('\n');
        Ok(out)
    }

    /// Where [`Registration::binfmt_d`] belongs.
    pub fn binfmt_d_path(&self) -> String {
        format!("/etc/binfmt.d/nixcross-{}.conf", self.name)
    }

    /// The nix.conf lines a non-NixOS host needs besides the registration,
    /// with comments saying why.
    ///
    /// - `extra-platforms = <system>`: Nix only builds derivations whose
    ///   `system` is the host's or listed there.
    /// - `extra-sandbox-paths = <interpreter>` unless the registration has
    ///   `F`: without `F` the kernel opens the interpreter by path at exec
    ///   time, inside the build's mount namespace, where only the sandbox
    ///   paths exist. With `F` the kernel already holds the interpreter open,
    ///   which is enough for a static interpreter. A dynamically linked one
    ///   still needs its loader and libraries inside the sandbox, so `F`
    ///   only removes the line together with a static emulator (this is
    ///   what NixOS's `preferStaticEmulators` does).
    pub fn nix_conf(&self) -> String {
        let system = self.system.as_deref().unwrap_or(&self.name);
        let mut out = String::new();
        out.push_str("# /etc/nix/nix.conf (restart nix-daemon afterwards)\n");
        out.push_str(&format!(
            "# Let Nix build {system} derivations on this host; this line replaces an earlier\n# extra-platforms line, so merge the systems into one.\n"
        ));
        out.push_str(&format!("extra-platforms = {system}\n"));
        if self.flags.fix_binary {
            out.push_str(&format!(
                "# No extra-sandbox-paths: F makes the kernel keep {} open, which works inside\n# the sandbox when the interpreter is static. A dynamic one also needs\n# extra-sandbox-paths for itself and its libraries.\n",
                self.interpreter
            ));
        } else {
            out.push_str(
                "# Without F the kernel opens the interpreter inside the build sandbox, so it\n# must be visible there (a dynamic one needs its libraries too; a static one is simpler).\n",
            );
            out.push_str(&format!("extra-sandbox-paths = {}\n", self.interpreter));
        }
        out
    }

    /// Parse a registration line (the inverse of [`Registration::line`]).
    /// Only type `M` is supported; the first character is the delimiter.
    pub fn parse_line(line: &str) -> Result<Registration> {
        let line = line.trim_end_matches(['\n', '\r']);
        let mut chars = line.chars();
        let Some(delim) = chars.next() else {
            return Err(Error::invalid("empty registration line"));
        };
        let fields: Vec<&str> = chars.as_str().split(delim).collect();
        if fields.len() != 7 {
            return Err(Error::invalid(format!(
                "a registration line has 7 fields after the delimiter, found {}",
                fields.len()
            )));
        }
        if fields[1] != "M" {
            return Err(Error::invalid(format!(
                "only magic (M) registrations are supported, found type `{}`",
                fields[1]
            )));
        }
        let offset = if fields[2].is_empty() {
            None
        } else {
            Some(fields[2].parse::<usize>().map_err(|_| {
                Error::invalid(format!("the offset `{}` is not a number", fields[2]))
            })?)
        };
        let reg = Registration {
            name: fields[0].to_string(),
            offset,
            magic: fields[3].to_string(),
            mask: (!fields[4].is_empty()).then(|| fields[4].to_string()),
            interpreter: fields[5].to_string(),
            flags: Flags::parse(fields[6])?,
            system: catalogue().magic(fields[0]).map(|m| m.system.clone()),
        };
        reg.validate()?;
        Ok(reg)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_canonical_and_c_implies_o() {
        assert_eq!(Flags::parse("FP").unwrap().to_string(), "PF");
        assert_eq!(Flags::parse("CF").unwrap().to_string(), "OCF");
        assert_eq!(Flags::parse("").unwrap().to_string(), "");
        assert!(Flags::parse("PX").is_err());
        assert!(Flags::parse("p").is_err());
        assert_eq!(Flags::parse_lenient("OCFZ").to_string(), "OCF");
    }

    #[test]
    fn qemu_arch_names() {
        assert_eq!(qemu_arch("armv7l-linux"), Some("arm"));
        assert_eq!(qemu_arch("mips64el-linuxabin32"), Some("mipsn32el"));
        assert_eq!(qemu_arch("wasm32-wasi"), None);
        // Every QEMU-emulated NixOS system has a name.
        for s in catalogue().emulatable() {
            if s.ends_with("-linux") || s.ends_with("-linuxabin32") {
                assert!(qemu_arch(s).is_some(), "{s}");
            }
        }
    }
}
