//! `\xHH` escapes (registration lines) and plain hex (`/proc` entry files).

use crate::error::{Error, Result};

/// Decode the kernel's escape syntax for magic and mask fields: `\xHH`
/// (one or two hex digits, as the kernel's `string_unescape(UNESCAPE_HEX)`)
/// becomes one byte; every other character, a lone backslash included,
/// stands for its own UTF-8 bytes.
pub fn decode_escaped(text: &str) -> Result<Vec<u8>> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\' && bytes.get(i + 1) == Some(&b'x') {
            let digits: Vec<u8> = bytes[i + 2..]
                .iter()
                .take(2)
                .take_while(|b| b.is_ascii_hexdigit())
                .copied()
                .collect();
            if digits.is_empty() {
                return Err(Error::invalid(format!(
                    "`\\x` without hex digits at byte {i} of `{text}`"
                )));
            }
            let s = std::str::from_utf8(&digits).expect("hex digits are ASCII");
            out.push(u8::from_str_radix(s, 16).expect("checked hex digits"));
            i += 2 + digits.len();
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    Ok(out)
}

/// Decode plain hex (`7f454c46...`), as `/proc/sys/fs/binfmt_misc/<name>`
/// shows magic and mask. Whitespace is ignored.
pub fn decode_hex(text: &str) -> Result<Vec<u8>> {
    let digits: Vec<u8> = text.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    if !digits.len().is_multiple_of(2) {
        return Err(Error::format(format!(
            "odd number of hex digits in `{}`",
            text.trim()
        )));
    }
    digits
        .chunks(2)
        .map(|pair| {
            let s = std::str::from_utf8(pair).ok();
            s.and_then(|s| u8::from_str_radix(s, 16).ok())
                .ok_or_else(|| Error::format(format!("not hex: `{}`", text.trim())))
        })
        .collect()
}

/// Lower-case hex, no separators.
pub fn encode_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes() {
        assert_eq!(decode_escaped(r"\x7fELF\x02").unwrap(), b"\x7fELF\x02");
        assert_eq!(decode_escaped(r"\x7").unwrap(), [7]);
        assert_eq!(decode_escaped(r"MZ").unwrap(), b"MZ");
        assert_eq!(decode_escaped(r"a\b").unwrap(), b"a\\b");
        assert_eq!(
            decode_escaped(r"\xzz").unwrap_err().kind,
            crate::ErrorKind::InvalidInput
        );
        assert_eq!(
            decode_escaped(r"\x").unwrap_err().kind,
            crate::ErrorKind::InvalidInput
        );
    }

    #[test]
    fn hex() {
        assert_eq!(decode_hex("7f454c46").unwrap(), b"\x7fELF");
        assert_eq!(decode_hex("7F 45\n").unwrap(), b"\x7fE");
        assert!(decode_hex("7f4").is_err());
        assert!(decode_hex("zz").is_err());
        assert!(decode_hex("é1").is_err());
        assert_eq!(encode_hex(b"\x00\xff"), "00ff");
    }
}
