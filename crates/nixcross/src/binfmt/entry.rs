//! `/proc/sys/fs/binfmt_misc/<name>` entry files, and the kernel's match rule.

use super::escape::{decode_hex, encode_hex};
use super::line::Flags;
use crate::error::Result;

/// How an entry recognises binaries.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum Matcher {
    /// Type `M`: bytes at an offset, with an optional mask.
    Magic {
        /// Where the magic starts in the file.
        offset: usize,
        /// The bytes to compare.
        #[serde(serialize_with = "hex")]
        magic: Vec<u8>,
        /// Which bits of each byte count; `None`: all of them.
        #[serde(serialize_with = "hex_opt")]
        mask: Option<Vec<u8>>,
    },
    /// Type `E`: a file name extension (without the dot).
    Extension {
        /// The extension.
        extension: String,
    },
    /// The file said neither (a kernel format this parser does not know).
    Unknown,
}

fn hex<S: serde::Serializer>(bytes: &[u8], s: S) -> std::result::Result<S::Ok, S::Error> {
    s.serialize_str(&encode_hex(bytes))
}

fn hex_opt<S: serde::Serializer>(
    bytes: &Option<Vec<u8>>,
    s: S,
) -> std::result::Result<S::Ok, S::Error> {
    match bytes {
        Some(b) => s.serialize_str(&encode_hex(b)),
        None => s.serialize_none(),
    }
}

/// A parsed entry file.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Entry {
    /// The file name in `/proc/sys/fs/binfmt_misc/`.
    pub name: String,
    /// Whether the entry is enabled (its first line says `enabled`).
    pub enabled: bool,
    /// The interpreter's path, when the file shows one.
    pub interpreter: Option<String>,
    /// The flag letters exactly as shown (unknown letters kept).
    pub flags: String,
    /// How it recognises binaries.
    pub matcher: Matcher,
}

/// The kernel's comparison (`fs/binfmt_misc.c`, `check_file`): every byte of
/// `magic` must equal the header byte at `offset + i` in the bits where
/// `mask` is set; without a mask every bit counts. The kernel compares
/// against a zero-filled buffer, so bytes past the end of `header` read as 0.
pub fn magic_matches(offset: usize, magic: &[u8], mask: Option<&[u8]>, header: &[u8]) -> bool {
    if magic.is_empty() {
        return false;
    }
    magic.iter().enumerate().all(|(i, m)| {
        let b = offset
            .checked_add(i)
            .and_then(|at| header.get(at))
            .copied()
            .unwrap_or(0);
        let k = mask.map_or(0xff, |mask| mask.get(i).copied().unwrap_or(0xff));
        (b ^ m) & k == 0
    })
}

impl Entry {
    /// Parse entry text. Lines the parser does not know are skipped, flag
    /// letters are kept verbatim, and a file without a magic or extension
    /// line gets [`Matcher::Unknown`]. Only undecodable hex is an error.
    pub fn parse(name: &str, text: &str) -> Result<Entry> {
        let mut enabled = false;
        let mut interpreter = None;
        let mut flags = String::new();
        let mut offset = 0usize;
        let mut magic = None;
        let mut mask = None;
        let mut extension = None;
        for raw in text.lines() {
            let line = raw.trim();
            let (key, value) = match line.split_once(char::is_whitespace) {
                Some((k, v)) => (k, v.trim()),
                None => (line, ""),
            };
            match key {
                "enabled" => enabled = true,
                "disabled" => enabled = false,
                "interpreter" => interpreter = Some(value.to_string()),
                "flags:" => flags = value.to_string(),
                "offset" => offset = value.parse().unwrap_or(0),
                "magic" => magic = Some(decode_hex(value)?),
                "mask" => mask = Some(decode_hex(value)?),
                "extension" => {
                    extension = Some(value.strip_prefix('.').unwrap_or(value).to_string())
                }
                _ => {}
            }
        }
        let matcher = match (magic, extension) {
            (Some(magic), _) => Matcher::Magic {
                offset,
                magic,
                mask,
            },
            (None, Some(extension)) => Matcher::Extension { extension },
            (None, None) => Matcher::Unknown,
        };
        Ok(Entry {
            name: name.to_string(),
            enabled,
            interpreter,
            flags,
            matcher,
        })
    }

    /// The known flags (unknown letters ignored).
    pub fn known_flags(&self) -> Flags {
        Flags::parse_lenient(&self.flags)
    }

    /// Whether the flag letters include `letter`.
    pub fn has_flag(&self, letter: char) -> bool {
        self.flags.contains(letter)
    }

    /// Whether this entry (enabled or not) recognises a file with this header.
    pub fn matches(&self, header: &[u8]) -> bool {
        match &self.matcher {
            Matcher::Magic {
                offset,
                magic,
                mask,
            } => magic_matches(*offset, magic, mask.as_deref(), header),
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TONISTIIGI_AARCH64: &str = "enabled\ninterpreter /usr/bin/qemu-aarch64\nflags: OCF\noffset 0\nmagic 7f454c460201010000000000000000000200b700\nmask ffffffffffffff00fffffffffffffffffeffffff\n";

    #[test]
    fn parses_a_tonistiigi_entry() {
        let e = Entry::parse("qemu-aarch64", TONISTIIGI_AARCH64).unwrap();
        assert!(e.enabled);
        assert_eq!(e.interpreter.as_deref(), Some("/usr/bin/qemu-aarch64"));
        assert_eq!(e.flags, "OCF");
        assert!(e.known_flags().fix_binary && e.known_flags().credentials);
        let Matcher::Magic {
            offset,
            magic,
            mask,
        } = &e.matcher
        else {
            panic!("magic entry expected: {:?}", e.matcher)
        };
        assert_eq!(*offset, 0);
        assert_eq!(magic.len(), 20);
        assert_eq!(mask.as_ref().unwrap()[14], 0xff);
        assert_eq!(&magic[..4], b"\x7fELF");
    }

    #[test]
    fn tolerates_unknown_lines_and_flags() {
        let text = "disabled\nfrobnicate yes\ninterpreter /x\nflags: PZF\n\noffset 2\nmagic 4d5a\n";
        let e = Entry::parse("x", text).unwrap();
        assert!(!e.enabled);
        assert_eq!(e.flags, "PZF");
        assert_eq!(e.known_flags().to_string(), "PF");
        assert!(e.matches(b"..MZ"));
        assert!(!e.matches(b"MZ.."));
    }

    #[test]
    fn extension_entries() {
        let e = Entry::parse(
            "exe",
            "enabled\ninterpreter /usr/bin/wine\nflags: \nextension .exe\n",
        )
        .unwrap();
        assert_eq!(
            e.matcher,
            Matcher::Extension {
                extension: "exe".into()
            }
        );
        assert!(!e.matches(b"MZ"));
        assert_eq!(e.flags, "");
    }

    #[test]
    fn kernel_match_rule() {
        // Masked bits are ignored, unmasked must be equal.
        assert!(magic_matches(0, b"\x02", Some(b"\xfe"), b"\x03"));
        assert!(!magic_matches(0, b"\x02", Some(b"\xfe"), b"\x04"));
        assert!(!magic_matches(0, b"\x02", None, b"\x03"));
        // Past the end reads as zero, like the kernel's zeroed buffer.
        assert!(magic_matches(1, b"\x00\x00", None, b"A"));
        assert!(!magic_matches(1, b"\x01", None, b"A"));
        assert!(!magic_matches(0, b"", None, b"A"));
        assert!(!magic_matches(usize::MAX, b"\x01", None, b"A"));
    }

    #[test]
    fn bad_hex_is_an_error_not_a_panic() {
        assert!(Entry::parse("x", "magic 7g\n").is_err());
        assert!(Entry::parse("x", "").unwrap().matcher == Matcher::Unknown);
    }
}
