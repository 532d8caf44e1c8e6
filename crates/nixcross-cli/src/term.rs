//! Terminal safety: text that came from a file or an argument (a
//! configuration name, a binfmt entry, an interpreter path, an error that
//! quotes the input) is escaped before it reaches a human-readable line, so a
//! name such as `evil\e[2J` cannot clear the screen, retitle the window or
//! hide text. JSON output escapes on its own and does not go through here.
//!
//! Also here: what happens when stdout cannot be written.

use std::borrow::Cow;
use std::fmt::Write as _;

/// True for characters that a terminal may interpret instead of showing:
/// C0 controls and DEL, C1 controls (`\u{9b}` is a one-byte CSI on some
/// terminals), and the bidirectional overrides and isolates that reorder
/// what is displayed ("Trojan Source").
fn is_unsafe(c: char) -> bool {
    c.is_control() || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

fn push_escaped(out: &mut String, c: char) {
    match c {
        '\x1b' => out.push_str("\\e"),
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        c if (c as u32) < 0x80 => {
            let _ = write!(out, "\\x{:02x}", c as u32);
        }
        c => {
            let _ = write!(out, "\\u{{{:x}}}", c as u32);
        }
    }
}

/// `s` with every control character written as a visible escape (`\e`,
/// `\x07`, `\n`, `\u{9b}`), for one field of a line: a name, a path.
pub fn escape(s: &str) -> Cow<'_, str> {
    escape_keeping(s, |_| false)
}

/// Like [`escape`], but line breaks stay: for a message of several lines
/// (an error followed by hints).
pub fn escape_lines(s: &str) -> Cow<'_, str> {
    escape_keeping(s, |c| c == '\n')
}

/// Like [`escape_lines`], but tabs and the CR of a CRLF line ending stay too:
/// for the lines of a file shown as a diff.
pub fn escape_file_lines(s: &str) -> Cow<'_, str> {
    if !s.chars().any(is_unsafe) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        let keep = c == '\n' || c == '\t' || (c == '\r' && chars.peek() == Some(&'\n'));
        if is_unsafe(c) && !keep {
            push_escaped(&mut out, c);
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// An argument or file name as it may be shown: UTF-8 as [`escape`] shows
/// it, other bytes as `\xHH`.
pub fn escape_os(s: &std::ffi::OsStr) -> String {
    use std::os::unix::ffi::OsStrExt;
    let mut out = String::new();
    for chunk in s.as_bytes().utf8_chunks() {
        out.push_str(&escape(chunk.valid()));
        for b in chunk.invalid() {
            let _ = write!(out, "\\x{b:02x}");
        }
    }
    out
}

fn escape_keeping(s: &str, keep: impl Fn(char) -> bool) -> Cow<'_, str> {
    if !s.chars().any(|c| is_unsafe(c) && !keep(c)) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if is_unsafe(c) && !keep(c) {
            push_escaped(&mut out, c);
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// stdout could not be written. A closed pipe (`nixcross targets | head`)
/// ends the process quietly with exit 0, as ripgrep does; anything else (a
/// full disk, `> /dev/full`) is an error: exit 2 with the reason on stderr.
pub fn stdout_failed(err: &std::io::Error) -> ! {
    if err.kind() == std::io::ErrorKind::BrokenPipe {
        std::process::exit(0);
    }
    eprintln!("nixcross: error: cannot write to standard output: {err}");
    std::process::exit(2);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controls_become_visible() {
        assert_eq!(escape("evil\x1b[2J\x07"), "evil\\e[2J\\x07");
        assert_eq!(escape("a\nb\tc\rd"), "a\\nb\\tc\\rd");
        assert_eq!(escape("x\u{9b}31m\u{7f}"), "x\\u{9b}31m\\x7f");
        assert_eq!(escape("abc\u{202e}cba"), "abc\\u{202e}cba");
        assert!(matches!(escape("lp4a x86_64-linux ✓"), Cow::Borrowed(_)));
    }

    #[test]
    fn other_bytes_are_shown_as_hex() {
        use std::os::unix::ffi::OsStrExt;
        let arg = std::ffi::OsStr::from_bytes(b"a\xff\x1bb\xc3");
        assert_eq!(escape_os(arg), "a\\xff\\eb\\xc3");
    }

    #[test]
    fn line_breaks_can_stay() {
        assert_eq!(
            escape_lines("e\x1b]0;t\x07\n  hint: x"),
            "e\\e]0;t\\x07\n  hint: x"
        );
        assert_eq!(escape_file_lines("a\r\n\tb\rc\x1b\n"), "a\r\n\tb\\rc\\e\n");
    }
}
