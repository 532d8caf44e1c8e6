//! What Nix's own lexer and parser reject although rnix parses it: nixcross
//! refuses to read such a file (Nix could not evaluate it) and never writes
//! one.
//!
//! - whitespace other than space, tab, CR and LF between tokens (a vertical
//!   tab, a form feed, NBSP, U+0085 and the other Unicode spaces rnix
//!   skips);
//! - an attribute defined twice (`super::conflicts`, a model of `addAttr`);
//! - a function argument listed twice in one pattern;
//! - a computed name (`${...}`) in `let` or `inherit`;
//! - an integer literal beyond 64 bits;
//! - the pipe operators `|>` and `<|` (experimental in Nix, unknown to 2.8).

use rnix::SyntaxKind;

use super::{range_of, Doc};
use crate::error::{Error, Result};

/// Check the parsed `doc` of `src` against Nix's rules.
pub fn check(doc: &Doc, src: &str) -> Result<()> {
    let odd_space = src
        .chars()
        .any(|c| c.is_whitespace() && !matches!(c, ' ' | '\t' | '\r' | '\n'));
    let tokens = odd_space || src.contains("|>") || src.contains("<|") || has_long_digits(src);
    if tokens {
        for t in doc
            .root
            .descendants_with_tokens()
            .filter_map(|e| e.into_token())
        {
            let r = t.text_range();
            let at: usize = r.start().into();
            match t.kind() {
                SyntaxKind::TOKEN_WHITESPACE => {
                    if let Some((i, c)) = t
                        .text()
                        .char_indices()
                        .find(|(_, c)| !matches!(c, ' ' | '\t' | '\r' | '\n'))
                    {
                        return Err(Error::parse(
                            format!(
                                "syntax error: {} between tokens; Nix reads only spaces, tabs and line breaks there",
                                describe_space(c)
                            ),
                            (at + i, at + i + c.len_utf8()),
                        ));
                    }
                }
                SyntaxKind::TOKEN_PIPE_LEFT | SyntaxKind::TOKEN_PIPE_RIGHT => {
                    return Err(Error::parse(
                        format!(
                            "syntax error: `{}` is an experimental operator that Nix 2.8 does not know, and nixcross does not read",
                            t.text()
                        ),
                        (at, r.end().into()),
                    ));
                }
                SyntaxKind::TOKEN_INTEGER if t.text().parse::<i64>().is_err() => {
                    return Err(Error::parse(
                        format!(
                            "syntax error: the integer {} is too large for Nix (at most {})",
                            t.text(),
                            i64::MAX
                        ),
                        (at, r.end().into()),
                    ));
                }
                _ => {}
            }
        }
    }
    for n in doc.root.descendants() {
        match n.kind() {
            SyntaxKind::NODE_PATTERN => {
                let mut seen: Vec<String> = Vec::new();
                for e in n
                    .children()
                    .filter(|c| c.kind() == SyntaxKind::NODE_PAT_ENTRY)
                {
                    let Some(name) = e
                        .children_with_tokens()
                        .filter_map(|x| x.into_node())
                        .find(|x| x.kind() == SyntaxKind::NODE_IDENT)
                    else {
                        continue;
                    };
                    let name = name.text().to_string();
                    if seen.contains(&name) {
                        return Err(Error::parse(
                            format!(
                                "syntax error: the function's argument `{name}` is listed twice"
                            ),
                            range_of(&e),
                        ));
                    }
                    seen.push(name);
                }
            }
            SyntaxKind::NODE_INHERIT => {
                if let Some(d) = n.children().find(is_dynamic_name) {
                    return Err(Error::parse(
                        "syntax error: `inherit` cannot take a computed name (`${...}` or a string with one)",
                        range_of(&d),
                    ));
                }
            }
            SyntaxKind::NODE_LET_IN => {
                for b in n
                    .children()
                    .filter(|c| c.kind() == SyntaxKind::NODE_ATTRPATH_VALUE)
                {
                    let Some(path) = b.children().find(|c| c.kind() == SyntaxKind::NODE_ATTRPATH)
                    else {
                        continue;
                    };
                    if let Some(d) = path.children().find(is_dynamic_name) {
                        return Err(Error::parse(
                            "syntax error: a `let` cannot bind a computed name (`${...}`)",
                            range_of(&d),
                        ));
                    }
                }
            }
            _ => {}
        }
    }
    if let Some(c) = super::attr_conflicts(doc).first() {
        return Err(Error::parse(
            format!(
                "attribute `{}` is defined twice, which Nix rejects (\"attribute '{}' already defined\")",
                c.name, c.name
            ),
            c.range,
        ));
    }
    Ok(())
}

/// A name part Nix computes: `${x}`, or a string with an interpolation.
fn is_dynamic_name(n: &rnix::SyntaxNode) -> bool {
    let interpolates =
        |s: &rnix::SyntaxNode| s.children().any(|c| c.kind() == SyntaxKind::NODE_INTERPOL);
    match n.kind() {
        // `${"x"}` is the static name `x`.
        SyntaxKind::NODE_DYNAMIC => !n
            .children()
            .any(|c| c.kind() == SyntaxKind::NODE_STRING && !interpolates(&c)),
        SyntaxKind::NODE_STRING => interpolates(n),
        _ => false,
    }
}

/// Whether a run of 19 or more digits appears (an integer that may not fit).
fn has_long_digits(src: &str) -> bool {
    let mut run = 0;
    for b in src.bytes() {
        if b.is_ascii_digit() {
            run += 1;
            if run >= 19 {
                return true;
            }
        } else {
            run = 0;
        }
    }
    false
}

fn describe_space(c: char) -> String {
    let name = match c {
        '\u{0b}' => "a vertical tab",
        '\u{0c}' => "a form feed",
        '\u{85}' => "a next-line character",
        '\u{a0}' => "a no-break space",
        '\u{2028}' => "a line separator",
        '\u{2029}' => "a paragraph separator",
        _ => "a Unicode space",
    };
    format!("{name} (U+{:04X})", c as u32)
}

#[cfg(test)]
mod tests {
    use crate::syntax::parse;

    fn refused(src: &str) -> String {
        match parse(src) {
            Ok(_) => panic!("accepted: {src:?}"),
            Err(e) => e.message,
        }
    }

    #[test]
    fn what_nix_rejects_is_refused() {
        assert!(refused("{\n\u{0b} a = 1;\n}").contains("vertical tab (U+000B)"));
        assert!(refused("{ a = 1;\u{85}}").contains("U+0085"));
        assert!(refused("{\u{a0}a = 1; }").contains("no-break space"));
        assert!(refused("{\u{0c}a = 1; }").contains("form feed"));
        assert!(refused("{ a = 1; a = 2; }").contains("`a` is defined twice"));
        assert!(refused("{ a.b = 1; a = 2; }").contains("defined twice"));
        assert!(refused("{ a, a }: a").contains("`a` is listed twice"));
        assert!(refused("x: let ${x} = 1; in 1").contains("`let`"));
        assert!(refused("x: let \"${x}\" = 1; in 1").contains("`let`"));
        assert!(refused("x: { inherit \"${x}\"; }").contains("`inherit`"));
        assert!(refused("99999999999999999999").contains("too large"));
        assert!(refused("1 |> f").contains("experimental"));
    }

    #[test]
    fn what_nix_accepts_is_read() {
        for src in [
            "{ a = \"\u{0b}\u{a0}\"; }",
            "# \u{85} in a comment\n{ }",
            "{ a = { b = 1; }; a = { c = 2; }; }",
            "{ a, b ? a }: a",
            "x: { \"${x}\" = 1; }",
            "let ${\"x\"} = 1; in x",
            "9223372036854775807",
            "{ a = \"|>\"; }",
            "{\r\n\ta = 1;\r\n}",
        ] {
            assert!(parse(src).is_ok(), "{src:?}");
        }
    }
}
