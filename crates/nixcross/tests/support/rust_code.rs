//! The code of a Rust source file as the layering tests read it: without
//! comments and `#[cfg(test)]` items (tests may reach anywhere to build
//! their inputs). Shared by the library's and the command's `tidy` tests.

/// The code of a file, without comments and test modules (tests may reach
/// anywhere to build their inputs).
pub fn code(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while !rest.is_empty() {
        let (line, tail) = rest.split_at(rest.find('\n').map_or(rest.len(), |i| i + 1));
        rest = tail;
        let t = line.trim_start();
        if t.starts_with("#[cfg(test)]") {
            // Skip the item the attribute is on (`mod tests;`, or a block).
            rest = &rest[item_end(rest)..];
            continue;
        }
        if !t.starts_with("//") {
            out.push_str(line);
        }
    }
    out
}

/// Where the item at the start of `code` ends: after its first `;` outside
/// any brackets, or after the `}` that closes its first `{`. Strings,
/// characters and comments are skipped, so braces inside them do not count.
fn item_end(code: &str) -> usize {
    let b = code.as_bytes();
    let mut depth = 0usize;
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'/' if b.get(i + 1) == Some(&b'/') => {
                i = code[i..].find('\n').map_or(b.len(), |n| i + n);
            }
            b'r' if matches!(b.get(i + 1), Some(b'#' | b'"'))
                && (i == 0 || !b[i - 1].is_ascii_alphanumeric()) =>
            {
                let hashes = code[i + 1..].bytes().take_while(|c| *c == b'#').count();
                let close = format!("\"{}", "#".repeat(hashes));
                let open = i + 2 + hashes;
                i = code[open..]
                    .find(&close)
                    .map_or(b.len(), |n| open + n + close.len())
                    - 1;
            }
            b'"' => {
                i += 1;
                while i < b.len() && b[i] != b'"' {
                    i += if b[i] == b'\\' { 2 } else { 1 };
                }
            }
            b'\'' if b.get(i + 2) == Some(&b'\'') => i += 2,
            b'\'' if b.get(i + 1) == Some(&b'\\') => {
                i += code[i + 2..].find('\'').map_or(b.len(), |n| n + 2);
            }
            b'{' => depth += 1,
            b'}' => {
                depth -= 1;
                if depth == 0 {
                    return i + 1;
                }
            }
            b';' if depth == 0 => return i + 1,
            _ => {}
        }
        i += 1;
    }
    b.len()
}
