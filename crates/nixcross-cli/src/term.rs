//! Terminal safety: text that came from a file or an argument (a
//! configuration name, a binfmt entry, an interpreter path, an error that
//! quotes the input) is escaped before it reaches a human-readable line, so a
//! name such as `evil\e[2J` cannot clear the screen, retitle the window or
//! hide text. JSON output is escaped here too ([`json`]): serde_json escapes
//! C0 controls but writes DEL, C1 controls and the bidirectional marks as
//! they are. A command-line value with a line break, echoed in a message,
//! shows the break escaped ([`remember_args`]).
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

/// `s` with every control character written as a visible escape (`\x1b`,
/// `\x07`, `\n`, `\u{9b}`, `\u{202e}`), for one field of a line: a name,
/// a path.
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

/// JSON text (as serde_json writes it) with every character a terminal may
/// interpret written as a `\u` escape: DEL, C1 controls, the bidirectional
/// marks. Outside strings JSON has only ASCII, so the escape is always
/// inside a string, where it means the same character.
pub fn json(s: String) -> String {
    if !s.chars().any(is_unsafe) {
        return s;
    }
    let mut out = String::with_capacity(s.len() + 16);
    for c in s.chars() {
        // serde_json has escaped C0 already; a raw newline is its layout.
        if is_unsafe(c) && c != '\n' {
            let _ = write!(out, "\\u{:04x}", c as u32);
        } else {
            out.push(c);
        }
    }
    out
}

/// The command-line values that hold a line break (and their `=`- and
/// `,`-separated parts that do), as messages show them.
static BROKEN_ARGS: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();

/// Remember the command line, so that a value of it with a line break
/// shows the break escaped when a message echoes it (an argument could
/// otherwise start a line of its own, such as a fake `hint:`).
pub fn remember_args(args: impl IntoIterator<Item = std::ffi::OsString>) {
    let mut broken: Vec<String> = Vec::new();
    for a in args {
        let a = a.to_string_lossy().into_owned();
        if !a.contains(['\n', '\r']) {
            continue;
        }
        for part in a.split(['=', ',']).filter(|p| p.contains(['\n', '\r'])) {
            broken.push(part.to_string());
        }
        broken.push(a);
    }
    // The longest first, so that a part does not cut the whole.
    broken.sort_by_key(|b| std::cmp::Reverse(b.len()));
    broken.dedup();
    let _ = BROKEN_ARGS.set(broken);
}

/// A message for stderr: the command-line values it echoes with their line
/// breaks escaped, then every other control character escaped except the
/// message's own line breaks.
pub fn escape_message(s: &str) -> Cow<'_, str> {
    let mut s = Cow::Borrowed(s);
    for arg in BROKEN_ARGS.get().map(Vec::as_slice).unwrap_or_default() {
        if s.contains(arg.as_str()) {
            s = Cow::Owned(s.replace(arg.as_str(), &escape(arg)));
        }
    }
    match escape_lines(&s) {
        Cow::Borrowed(_) => s,
        Cow::Owned(o) => Cow::Owned(o),
    }
}

/// stdout could not be written. A closed pipe (`nixcross targets | head`)
/// ends the process quietly with exit 0, as ripgrep does; anything else (a
/// full disk, `> /dev/full`) is an error: exit 2 with the reason on stderr.
pub fn stdout_failed(err: &std::io::Error) -> ! {
    if err.kind() == std::io::ErrorKind::BrokenPipe {
        crate::exit::Exit::Success.now();
    }
    eprintln!("nixcross: error: cannot write to standard output: {err}");
    crate::exit::Exit::Error.now();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controls_become_visible() {
        assert_eq!(escape("evil\x1b[2J\x07"), "evil\\x1b[2J\\x07");
        assert_eq!(escape("a\nb\tc\rd"), "a\\nb\\tc\\rd");
        assert_eq!(escape("x\u{9b}31m\u{7f}"), "x\\u{9b}31m\\x7f");
        assert_eq!(escape("abc\u{202e}cba"), "abc\\u{202e}cba");
        assert!(matches!(escape("lp4a x86_64-linux ✓"), Cow::Borrowed(_)));
    }

    #[test]
    fn other_bytes_are_shown_as_hex() {
        use std::os::unix::ffi::OsStrExt;
        let arg = std::ffi::OsStr::from_bytes(b"a\xff\x1bb\xc3");
        assert_eq!(escape_os(arg), "a\\xff\\x1bb\\xc3");
    }

    #[test]
    fn line_breaks_can_stay() {
        assert_eq!(
            escape_lines("e\x1b]0;t\x07\n  hint: x"),
            "e\\x1b]0;t\\x07\n  hint: x"
        );
        assert_eq!(
            escape_file_lines("a\r\n\tb\rc\x1b\n"),
            "a\r\n\tb\\rc\\x1b\n"
        );
    }

    #[test]
    fn json_escapes_what_serde_json_leaves() {
        let j = serde_json::to_string_pretty(&serde_json::json!({
            "n": "a\u{9b}b\u{202e}c\u{7f}d\u{1b}e\u{2066}",
        }))
        .unwrap();
        let safe = json(j);
        assert!(
            !safe.chars().any(is_unsafe) || safe.contains('\n'),
            "{safe:?}"
        );
        assert!(
            safe.contains(r#""a\u009bb\u202ec\u007fd\u001be\u2066""#),
            "{safe}"
        );
        let back: serde_json::Value = serde_json::from_str(&safe).unwrap();
        assert_eq!(back["n"], "a\u{9b}b\u{202e}c\u{7f}d\u{1b}e\u{2066}");
    }
}
