//! binfmt_misc: registration lines, entry files, ELF/PE/wasm detection.
//!
//! Everything here is pure: the caller reads `/proc/sys/fs/binfmt_misc/*`
//! or a binary and passes the text or bytes in.
//!
//! - [`Registration`] renders and validates the line written to
//!   `/proc/sys/fs/binfmt_misc/register` (kernel
//!   `Documentation/admin-guide/binfmt-misc.rst`), NixOS-style by default:
//!   `:<system>:M::<magic>:<mask>:/run/binfmt/<system>:P`.
//! - [`Entry`] parses what the kernel shows in `/proc/sys/fs/binfmt_misc/<name>`.
//! - [`detect()`] decodes an ELF, PE or wasm header into nixpkgs system doubles
//!   and the NixOS magics that match it.
//!
//! All magic comparisons use the kernel's rule, [`magic_matches`]:
//! `(byte ^ magic) & mask == 0` at `offset`, over a zero-padded header.

mod detect;
mod entry;
mod escape;
mod line;

pub use detect::{detect, Detection, Endian, Format};
pub use entry::{magic_matches, Entry, Matcher};
pub use escape::{decode_escaped, decode_hex, encode_hex};
pub use line::{qemu_arch, Flags, Registration, MAX_INTERPRETER_LEN, MAX_LINE_LEN, MAX_MAGIC_END};

use crate::platform::{catalogue, Magic};

/// A catalogue magic decoded to bytes: `(system, magic, mask)`.
pub fn decoded_magic(m: &Magic) -> (Vec<u8>, Option<Vec<u8>>) {
    // The catalogue is derived from nixpkgs and checked by tests, so the
    // escapes always decode; fall back to the raw bytes rather than panic.
    let magic = decode_escaped(&m.magic).unwrap_or_else(|_| m.magic.as_bytes().to_vec());
    let mask = m
        .mask
        .as_ref()
        .map(|k| decode_escaped(k).unwrap_or_else(|_| k.as_bytes().to_vec()));
    (magic, mask)
}

/// The NixOS systems (keys of `nixos/lib/binfmt-magics.nix`) whose magic
/// matches `header`, compared as the kernel does (offset 0, zero-padded).
pub fn matching_magics(header: &[u8]) -> Vec<String> {
    catalogue()
        .binfmt
        .iter()
        .filter(|m| {
            let (magic, mask) = decoded_magic(m);
            magic_matches(0, &magic, mask.as_deref(), header)
        })
        .map(|m| m.system.clone())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_catalogue_magic_decodes_with_a_mask_of_the_same_length() {
        for m in &catalogue().binfmt {
            let magic = decode_escaped(&m.magic).unwrap();
            if let Some(mask) = &m.mask {
                assert_eq!(
                    decode_escaped(mask).unwrap().len(),
                    magic.len(),
                    "{}",
                    m.system
                );
            }
            assert!(magic.len() < MAX_MAGIC_END, "{}", m.system);
        }
        assert_eq!(
            decoded_magic(catalogue().magic("mips-linux").unwrap())
                .0
                .len(),
            40
        );
    }

    #[test]
    fn every_magic_matches_its_own_bytes() {
        // The magic itself, seen as a file header, is matched by its own entry.
        for m in &catalogue().binfmt {
            let (magic, _) = decoded_magic(m);
            assert!(
                matching_magics(&magic).contains(&m.system),
                "{} does not match itself",
                m.system
            );
        }
    }
}
