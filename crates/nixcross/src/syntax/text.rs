//! Text conventions of a Nix file (line endings, indentation, comments next
//! to an entry) and Nix quoting. Pure string functions over byte offsets.

/// A file's layout conventions: its line ending and indentation unit, read
/// once per edit and copied by every insertion.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    /// `"\n"` or `"\r\n"`.
    pub nl: &'static str,
    /// One level of indentation: spaces or a tab.
    pub unit: String,
}

impl Layout {
    /// The conventions of `src`.
    pub fn of(src: &str) -> Layout {
        Layout {
            nl: newline(src),
            unit: indent_unit(src),
        }
    }
}

/// The file's line ending: `"\r\n"` when CRLF lines are the majority.
pub fn newline(src: &str) -> &'static str {
    let crlf = if src.contains('\r') {
        src.matches("\r\n").count()
    } else {
        0
    };
    let lf = src.matches('\n').count();
    if crlf * 2 > lf {
        "\r\n"
    } else {
        "\n"
    }
}

/// Offset of the start of the line containing `offset`.
pub fn line_start(src: &str, offset: usize) -> usize {
    src[..offset].rfind('\n').map_or(0, |i| i + 1)
}

/// Offset just past the line ending of the line containing `offset` (or the
/// end of the file).
pub fn next_line_start(src: &str, offset: usize) -> usize {
    src[offset..]
        .find('\n')
        .map_or(src.len(), |i| offset + i + 1)
}

/// Offset of the line ending (`\r\n` or `\n`) of the line containing `offset`.
pub fn line_end(src: &str, offset: usize) -> usize {
    let end = src[offset..].find('\n').map_or(src.len(), |i| offset + i);
    if end > offset && src.as_bytes().get(end.wrapping_sub(1)) == Some(&b'\r') {
        end - 1
    } else {
        end
    }
}

/// The whitespace that starts the line containing `offset`.
pub fn indent_at(src: &str, offset: usize) -> &str {
    let start = line_start(src, offset);
    let rest = &src[start..];
    let n = rest.len() - rest.trim_start_matches([' ', '\t']).len();
    &rest[..n]
}

/// True when only whitespace stands between the start of the line and `offset`.
pub fn starts_line(src: &str, offset: usize) -> bool {
    src[line_start(src, offset)..offset]
        .chars()
        .all(|c| c == ' ' || c == '\t')
}

/// True when only whitespace (and optionally a `#` comment) follows `offset`
/// on its line.
pub fn ends_line(src: &str, offset: usize) -> bool {
    let rest = &src[offset..line_end(src, offset)];
    let t = rest.trim_start_matches([' ', '\t']);
    t.is_empty() || t.starts_with('#')
}

/// The file's indentation unit: a tab when tab-led lines dominate, otherwise
/// the most common positive step between consecutive indents, and two spaces
/// when there is no signal.
pub fn indent_unit(src: &str) -> String {
    let mut tabs = 0usize;
    let mut spaces = 0usize;
    let mut steps = std::collections::BTreeMap::<usize, usize>::new();
    let mut prev = 0usize;
    let mut in_multiline_string = false;
    for line in src.lines() {
        // Indented strings strip spaces; their lines say nothing about the file.
        let quotes = if line.contains('\'') {
            line.matches("''").count()
        } else {
            0
        };
        if in_multiline_string {
            if quotes % 2 == 1 {
                in_multiline_string = false;
            }
            continue;
        }
        if quotes % 2 == 1 {
            in_multiline_string = true;
        }
        if line.trim().is_empty() {
            continue;
        }
        if line.starts_with('\t') {
            tabs += 1;
            continue;
        }
        let n = line.len() - line.trim_start_matches(' ').len();
        if n > 0 {
            spaces += 1;
        }
        if n > prev {
            *steps.entry(n - prev).or_default() += 1;
        }
        prev = n;
    }
    if tabs > spaces {
        return "\t".into();
    }
    let best = steps
        .iter()
        .filter(|(step, _)| **step <= 8)
        .max_by_key(|(step, count)| (**count, std::cmp::Reverse(**step)))
        .map(|(step, _)| *step);
    " ".repeat(best.unwrap_or(2))
}

/// Offset just after what follows `offset` on its line when that is only
/// whitespace and comments (`# ...`, or `/* ... */` that ends the line):
/// the line's end (before the line break); `offset` itself when code
/// follows.
pub fn after_trailing_comment(src: &str, offset: usize) -> usize {
    let end = line_end(src, offset);
    let mut at = offset;
    loop {
        let rest = &src[at..end];
        let t = rest.trim_start_matches([' ', '\t']);
        // Only space left, or a `#` comment: the rest of the line stays
        // with it (new text goes on after its trailing whitespace).
        if t.is_empty() || t.starts_with('#') {
            return end;
        }
        // A `/* ... */` that closes on this line, and only space or another
        // comment after it: the entry's own comment too.
        let Some(body) = t.strip_prefix("/*") else {
            return at;
        };
        let Some(close) = body.find("*/") else {
            return at;
        };
        let after = at + (rest.len() - t.len()) + 2 + close + 2;
        let tail = src[after..end].trim_start_matches([' ', '\t']);
        if tail.is_empty() {
            return end;
        }
        if !(tail.starts_with('#') || tail.starts_with("/*")) {
            return at;
        }
        at = after;
    }
}

/// The start of the block of `#` comment lines directly above the line of
/// `offset` (no blank line in between), or the start of `offset`'s line.
/// Only counts when `offset` starts its line.
pub fn leading_comments_start(src: &str, offset: usize) -> usize {
    let mut start = line_start(src, offset);
    if !starts_line(src, offset) {
        return offset;
    }
    while start > 0 {
        let prev = line_start(src, start - 1);
        let line = src[prev..start].trim();
        if line.starts_with('#') {
            start = prev;
        } else {
            break;
        }
    }
    start
}

/// True when the line starting at `start` is blank.
pub fn is_blank_line(src: &str, start: usize) -> bool {
    start < src.len() && src[start..line_end(src, start)].trim().is_empty()
}

/// One line of (generated) text: comment lines dropped, lines trimmed and
/// joined with single spaces.
pub fn compact(text: &str) -> String {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect::<Vec<_>>()
        .join(" ")
}

/// A Nix list of string literals, `[ "a" "b" ]` (`[ ]` when empty).
pub fn string_list(items: &[String]) -> String {
    if items.is_empty() {
        return "[ ]".into();
    }
    let q: Vec<String> = items.iter().map(|s| quote(s)).collect();
    format!("[ {} ]", q.join(" "))
}

/// A Nix `"..."` string literal for `value`, escaped so that no value can
/// end the string or interpolate.
pub fn quote(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    let mut chars = value.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '$' if chars.peek() == Some(&'{') => out.push_str("\\$"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

const KEYWORDS: &[&str] = &[
    "if", "then", "else", "assert", "with", "let", "in", "rec", "inherit",
];

/// `builtins.attrNames builtins` in Nix 2.8 with flakes enabled, sorted. Some are in scope
/// everywhere without `builtins.` (`import`, `map`, `toString`, `throw`,
/// `derivation`, `true`...), all are as `__name`; a `let` binding or a
/// formal of that name shadows them for the whole expression below it.
/// `crates/nixcross/tests/builtins_nix.rs` re-derives the list from Nix.
pub const NIX_BUILTINS: &[&str] = &[
    "abort",
    "add",
    "addErrorContext",
    "all",
    "any",
    "appendContext",
    "attrNames",
    "attrValues",
    "baseNameOf",
    "bitAnd",
    "bitOr",
    "bitXor",
    "builtins",
    "catAttrs",
    "ceil",
    "compareVersions",
    "concatLists",
    "concatMap",
    "concatStringsSep",
    "currentSystem",
    "currentTime",
    "deepSeq",
    "derivation",
    "derivationStrict",
    "dirOf",
    "div",
    "elem",
    "elemAt",
    "false",
    "fetchGit",
    "fetchMercurial",
    "fetchTarball",
    "fetchTree",
    "fetchurl",
    "filter",
    "filterSource",
    "findFile",
    "floor",
    "foldl'",
    "fromJSON",
    "fromTOML",
    "functionArgs",
    "genList",
    "genericClosure",
    "getAttr",
    "getContext",
    "getEnv",
    "getFlake",
    "groupBy",
    "hasAttr",
    "hasContext",
    "hashFile",
    "hashString",
    "head",
    "import",
    "intersectAttrs",
    "isAttrs",
    "isBool",
    "isFloat",
    "isFunction",
    "isInt",
    "isList",
    "isNull",
    "isPath",
    "isString",
    "langVersion",
    "length",
    "lessThan",
    "listToAttrs",
    "map",
    "mapAttrs",
    "match",
    "mul",
    "nixPath",
    "nixVersion",
    "null",
    "parseDrvName",
    "partition",
    "path",
    "pathExists",
    "placeholder",
    "readDir",
    "readFile",
    "removeAttrs",
    "replaceStrings",
    "scopedImport",
    "seq",
    "sort",
    "split",
    "splitVersion",
    "storeDir",
    "storePath",
    "stringLength",
    "sub",
    "substring",
    "tail",
    "throw",
    "toFile",
    "toJSON",
    "toPath",
    "toString",
    "toXML",
    "trace",
    "true",
    "tryEval",
    "typeOf",
    "unsafeDiscardOutputDependency",
    "unsafeDiscardStringContext",
    "unsafeGetAttrPos",
    "zipAttrsWith",
];

/// Whether binding `name` would shadow a Nix builtin: one of
/// [`NIX_BUILTINS`], or any `__`-prefixed name (Nix's spelling of builtins
/// in scope, `__add`, `__curPos`...).
pub fn is_builtin_name(name: &str) -> bool {
    name.starts_with("__") || NIX_BUILTINS.binary_search(&name).is_ok()
}

/// Whether `name` can be written bare as an attribute name.
pub fn is_bare_attr(name: &str) -> bool {
    let mut chars = name.chars();
    let Some(first) = chars.next() else {
        return false;
    };
    (first.is_ascii_alphabetic() || first == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '\'' | '-'))
        && !KEYWORDS.contains(&name)
}

/// An attribute name as Nix source: bare when possible, quoted otherwise.
pub fn attr_name(name: &str) -> String {
    if is_bare_attr(name) {
        name.to_string()
    } else {
        quote(name)
    }
}

/// Whether `name` can be a variable (a `let` binding or a formal).
pub fn is_identifier(name: &str) -> bool {
    is_bare_attr(name) && !matches!(name, "or" | "true" | "false" | "null")
}

/// Re-indent generated `text` (written with `\n` and two-space steps, starting
/// at column 0) to start at `base` and use `unit` per level and `nl` between
/// lines. The first line is not indented (it goes where the cursor is).
pub fn reindent(text: &str, base: &str, unit: &str, nl: &str) -> String {
    let mut out = String::with_capacity(text.len() * 2);
    for (i, line) in text.split('\n').enumerate() {
        if i > 0 {
            out.push_str(nl);
            if line.trim().is_empty() {
                continue;
            }
            out.push_str(base);
            let spaces = line.len() - line.trim_start_matches(' ').len();
            for _ in 0..spaces / 2 {
                out.push_str(unit);
            }
            out.push_str(&line[spaces - spaces % 2..]);
        } else {
            out.push_str(line);
        }
    }
    out
}

/// Whether a file says a tool writes it: a comment before its first line of
/// code that says so (nixos-generate-config's "Do not modify this file!
/// It was generated by ‘nixos-generate-config’", or an `@generated` or
/// `DO NOT EDIT` marker). nixcross never edits such a file: the next run of
/// the tool would undo the edit.
pub fn is_generated(src: &str) -> bool {
    for line in src.lines() {
        let t = line.trim();
        if t.is_empty() {
            continue;
        }
        if !(t.starts_with('#') || t.starts_with("/*") || t.starts_with('*')) {
            return false;
        }
        let l = t.to_ascii_lowercase();
        if l.contains("do not modify this file")
            || l.contains("nixos-generate-config")
            || l.contains("@generated")
            || l.contains("do not edit")
        {
            return true;
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn newline_detection() {
        assert_eq!(newline("a\r\nb\r\n"), "\r\n");
        assert_eq!(newline("a\nb\n"), "\n");
        assert_eq!(newline("a"), "\n");
    }

    #[test]
    fn indent_unit_detection() {
        assert_eq!(indent_unit("{\n  a = {\n    b = 1;\n  };\n}\n"), "  ");
        assert_eq!(
            indent_unit("{\n    a = {\n        b = 1;\n    };\n}\n"),
            "    "
        );
        assert_eq!(indent_unit("{\n\ta = {\n\t\tb = 1;\n\t};\n}\n"), "\t");
        assert_eq!(indent_unit("{ }"), "  ");
    }

    #[test]
    fn quoting_blocks_injection() {
        assert_eq!(quote("a"), "\"a\"");
        assert_eq!(quote("a\"; x = 1; \""), "\"a\\\"; x = 1; \\\"\"");
        assert_eq!(quote("${x}"), "\"\\${x}\"");
        assert_eq!(quote("$x"), "\"$x\"");
        assert_eq!(quote("a\\"), "\"a\\\\\"");
        assert_eq!(quote("l1\nl2"), "\"l1\\nl2\"");
    }

    #[test]
    fn attribute_names() {
        assert_eq!(attr_name("lp4a"), "lp4a");
        assert_eq!(attr_name("x86_64-linux"), "x86_64-linux");
        assert_eq!(attr_name("1x"), "\"1x\"");
        assert_eq!(attr_name("let"), "\"let\"");
        assert_eq!(attr_name("a b"), "\"a b\"");
        assert!(is_identifier("pkgs-gcc12"));
        assert!(is_builtin_name("import") && is_builtin_name("builtins"));
        assert!(is_builtin_name("scopedImport") && is_builtin_name("__curPos"));
        assert!(!is_builtin_name("pkgs-gcc12"));
        assert!(NIX_BUILTINS.windows(2).all(|w| w[0] < w[1]), "sorted");
        assert!(!is_identifier("true"));
    }

    #[test]
    fn comments_around_entries() {
        let src = "  a = 1; # one\n  # above\n  b = 2;\n";
        assert_eq!(after_trailing_comment(src, 8), 14);
        let b = src.find("b =").unwrap();
        assert_eq!(leading_comments_start(src, b), 15);
        assert_eq!(indent_at(src, b), "  ");
    }

    #[test]
    fn reindent_generated_text() {
        assert_eq!(
            reindent("{\n  a = 1;\n}", "\t", "\t", "\r\n"),
            "{\r\n\t\ta = 1;\r\n\t}"
        );
    }
}
