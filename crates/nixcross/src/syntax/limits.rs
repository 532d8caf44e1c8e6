//! Limits checked before rnix sees a file.
//!
//! rnix parses recursively: lists, unary operators and right-associative
//! operators (`++`, `//`, `->`) nest without the depth counter its
//! `parse_expr` has, so 50,000 nested lists overflow the stack. Its tree
//! builder (rowan) rehashes deep chains of small nodes recursively and in
//! quadratic time (a 40,000-argument application took 17 s), and its lexer
//! rescans a run of `a.b.c`-style characters from every token in it
//! (quadratic in the run's length). nixcross's own walks recurse over the
//! tree too.
//!
//! So [`check`] scans the text once, without recursion, with a small model of
//! Nix's lexer (comments, both string kinds with `${ }`, paths), and refuses
//! with a clear message and a location:
//!
//! - text larger than [`MAX_FILE_BYTES`];
//! - nesting deeper than [`MAX_DEPTH`] levels. A level is a bracket (`(`,
//!   `[`, `{`, `${`), a string, the body of `let ... in`, `with ...;`,
//!   `assert ...;`, `if`/`then`/`else` and of a function (`x:`), a prefix
//!   operator (`-`, `!`), and each operator or argument of a chain
//!   (`f a b`, `a + b + c`, `a ++ b`) that is not cut by `;`, `,` or a
//!   bracket. This counts at least the depth of the tree rnix builds.
//!   Nix 2.8 itself refuses a file when its parser stack passes 10,000
//!   entries (about 5,000 nested lists, 10,000 parentheses, 2,500 nested
//!   sets; chains of left-associative operators and applications are free
//!   for it): every level costs Nix's parser at most 5 entries, so
//!   everything Nix refuses for depth, nixcross refuses too; and rnix
//!   refuses 512 nested expressions (parentheses, sets, `let`) by itself.
//! - more than [`MAX_RUN_TOKENS`] tokens run together without a space
//!   (`a.a.a...` with 20,000 parts, `------1`).

use crate::error::{Error, Result};
use crate::files::MAX_FILE_BYTES;

/// The deepest nesting nixcross reads (see the module documentation for
/// what a level is). rnix's own limit for nested expressions is 512 too.
pub const MAX_DEPTH: usize = 512;

/// The most `.`, `+` or `-` tokens one run of characters without spaces may
/// hold (`a.b.c` holds 2).
pub const MAX_RUN_TOKENS: usize = 64;

/// The most arguments one function application may take in a row
/// (`f a b c` takes 3). rowan rehashes such chains in time that grows with
/// their length; real code applies a function to a handful.
pub const MAX_APPLY_ARGS: usize = 64;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FrameKind {
    /// The whole file.
    Top,
    Paren,
    List,
    /// `{ ... }`: a set or a pattern.
    Brace,
    /// `${ ... }` (in a string, a path or an attribute name).
    Interp,
    /// Between `let` and `in`.
    LetBinds,
    /// Between `with`/`assert` and `;`.
    Head,
    /// Between `if` and `then`.
    IfCond,
    /// Between `then` and `else`.
    IfThen,
    /// Inside `"..."` or `''...''` (not code).
    Str {
        indented: bool,
    },
}

#[derive(Debug)]
struct Frame {
    kind: FrameKind,
    /// Operators and applications since the last `;`/`,`/`=` (left and right
    /// chains both count: the tree is that deep either way).
    chain: usize,
    /// Open prefix constructs: `-`/`!`, bodies of `let`/`with`/`assert`/
    /// `else`/`x:`.
    prefix: usize,
    /// Inside `inherit ... ;`: names side by side are not an application.
    inherit: bool,
    /// Arguments of the current application chain.
    args: usize,
}

impl Frame {
    fn new(kind: FrameKind) -> Frame {
        Frame {
            kind,
            chain: 0,
            prefix: 0,
            inherit: false,
            args: 0,
        }
    }
    fn levels(&self) -> usize {
        1 + self.chain + self.prefix
    }
    fn reset(&mut self) {
        self.chain = 0;
        self.prefix = 0;
        self.args = 0;
    }
}

struct Scan<'a> {
    src: &'a [u8],
    stack: Vec<Frame>,
    depth: usize,
    /// The previous significant token ended an operand (`x`, `1`, `)`, a
    /// string): a following operand is an argument, a `-` is binary.
    after_operand: bool,
}

fn too_deep(at: usize) -> Error {
    Error::parse(
        format!(
            "the expression is nested too deeply: nixcross reads at most {MAX_DEPTH} levels \
             (brackets, strings, let/with/if bodies, functions, and operators or arguments \
             chained without parentheses)"
        ),
        (at, at + 1),
    )
    .hint("split the expression with `let` bindings, or parenthesize long chains")
}

impl Scan<'_> {
    fn top(&mut self) -> &mut Frame {
        self.stack
            .last_mut()
            .expect("the top frame is never popped")
    }

    fn check_depth(&self, at: usize) -> Result<()> {
        if self.depth > MAX_DEPTH {
            return Err(too_deep(at));
        }
        Ok(())
    }

    fn push(&mut self, kind: FrameKind, at: usize) -> Result<()> {
        let f = Frame::new(kind);
        self.depth += f.levels();
        self.stack.push(f);
        self.check_depth(at)
    }

    /// Pop the top frame if it is `kind` (a stray closer is left to rnix).
    fn pop(&mut self, kind: impl Fn(FrameKind) -> bool) -> bool {
        if self.stack.len() > 1 && kind(self.stack.last().expect("non-empty").kind) {
            let f = self.stack.pop().expect("non-empty");
            self.depth -= f.levels();
            true
        } else {
            false
        }
    }

    fn add_chain(&mut self, at: usize) -> Result<()> {
        let top = self.top();
        if top.kind == FrameKind::List {
            return Ok(());
        }
        top.args = 0;
        top.chain += 1;
        self.depth += 1;
        self.check_depth(at)
    }

    fn add_prefix(&mut self, at: usize) -> Result<()> {
        self.top().prefix += 1;
        self.depth += 1;
        self.check_depth(at)
    }

    fn reset(&mut self) {
        let top = self.stack.last_mut().expect("non-empty");
        self.depth -= top.chain + top.prefix;
        top.reset();
    }

    /// An operand starts at `at`: an argument when one just ended.
    fn operand(&mut self, at: usize) -> Result<()> {
        if self.after_operand && !self.top().inherit && self.top().kind != FrameKind::List {
            let args = self.top().args + 1;
            self.add_chain(at)?;
            self.top().args = args;
            if args > MAX_APPLY_ARGS {
                return Err(Error::parse(
                    format!(
                        "a function is applied to more than {MAX_APPLY_ARGS} arguments in a row; \
                         nixcross reads at most {MAX_APPLY_ARGS}"
                    ),
                    (at, at + 1),
                )
                .hint("pass the arguments as a list or an attribute set"));
            }
        }
        Ok(())
    }
}

fn is_run_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'+' | b'-' | b'\'')
}

fn is_ident_start(c: u8) -> bool {
    c.is_ascii_alphabetic() || c == b'_'
}

/// Check `src` against the limits before parsing it.
pub fn check(src: &str) -> Result<()> {
    if src.len() as u64 > MAX_FILE_BYTES {
        return Err(Error::parse(
            format!(
                "the file is {} bytes; nixcross reads at most {MAX_FILE_BYTES}",
                src.len()
            ),
            (0, 0),
        ));
    }
    let b = src.as_bytes();
    // A lone CR (a classic Mac line ending) ends a `#` comment for Nix but
    // not for rnix, which would read the next lines as comment.
    let lone_cr = || (0..b.len()).find(|&i| b[i] == b'\r' && b.get(i + 1) != Some(&b'\n'));
    if let Some(at) = src.contains('\r').then(lone_cr).flatten() {
        return Err(Error::parse(
            "a carriage return (CR) that is not followed by a line feed: nixcross reads LF and CRLF line endings only",
            (at, at + 1),
        )
        .hint("convert the line endings, e.g. `sed -i 's/\\r/\\n/g' FILE` for a file that uses CR alone"));
    }
    let mut s = Scan {
        src: b,
        stack: vec![Frame::new(FrameKind::Top)],
        depth: 1,
        after_operand: false,
    };
    let mut i = 0;
    while i < b.len() {
        if let Some(FrameKind::Str { indented }) = s.stack.last().map(|f| f.kind) {
            i = string_body(&mut s, i, indented)?;
            continue;
        }
        let c = b[i];
        match c {
            b' ' | b'\t' | b'\r' | b'\n' => i += 1,
            b'#' => {
                while i < b.len() && b[i] != b'\n' && b[i] != b'\r' {
                    i += 1;
                }
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                i = src[i + 2..].find("*/").map_or(b.len(), |j| i + 2 + j + 2);
            }
            b'"' => {
                s.operand(i)?;
                s.push(FrameKind::Str { indented: false }, i)?;
                i += 1;
            }
            b'\'' if b.get(i + 1) == Some(&b'\'') => {
                s.operand(i)?;
                s.push(FrameKind::Str { indented: true }, i)?;
                i += 2;
            }
            b'(' | b'[' | b'{' => {
                s.operand(i)?;
                let kind = match c {
                    b'(' => FrameKind::Paren,
                    b'[' => FrameKind::List,
                    _ => FrameKind::Brace,
                };
                s.push(kind, i)?;
                s.after_operand = false;
                i += 1;
            }
            b'$' if b.get(i + 1) == Some(&b'{') => {
                // `${` in code: a dynamic attribute name or path part.
                s.push(FrameKind::Interp, i)?;
                s.after_operand = false;
                i += 2;
            }
            b')' | b']' | b'}' => {
                let closed = s.pop(|k| match c {
                    b')' => k == FrameKind::Paren,
                    b']' => k == FrameKind::List,
                    _ => matches!(k, FrameKind::Brace | FrameKind::Interp),
                });
                // `}` of an interpolation goes back into its string.
                s.after_operand = closed;
                i += 1;
            }
            b';' => {
                // Ends a `with`/`assert` head, else a binding.
                if !s.pop(|k| k == FrameKind::Head) {
                    s.reset();
                    s.top().inherit = false;
                } else {
                    s.add_prefix(i)?;
                }
                s.after_operand = false;
                i += 1;
            }
            b',' | b'=' => {
                s.reset();
                s.after_operand = false;
                i += 1;
            }
            b':' => {
                // A function body (URIs never get here: they are runs).
                s.add_prefix(i)?;
                s.after_operand = false;
                i += 1;
            }
            b'!' if b.get(i + 1) != Some(&b'=') => {
                s.add_prefix(i)?;
                s.after_operand = false;
                i += 1;
            }
            b'<' if b.get(i + 1).is_some_and(|&n| is_run_char(n) || n == b'/') => {
                // A search path `<nixpkgs/lib>`, or a comparison `a <b`.
                let end = b[i + 1..]
                    .iter()
                    .position(|&n| !(is_run_char(n) || n == b'/'))
                    .map_or(b.len(), |j| i + 1 + j);
                if b.get(end) == Some(&b'>') {
                    s.operand(i)?;
                    s.after_operand = true;
                    i = end + 1;
                } else {
                    s.add_chain(i)?;
                    s.after_operand = false;
                    i += 1;
                }
            }
            c if is_run_char(c) || c == b'/' || c == b'~' => {
                i = run(&mut s, i)?;
            }
            _ => {
                // Any other operator character: part of a binary operator
                // (`==`, `&&`, `//`, `->`, `?`, `*`, `@`...).
                let two = &b[i..b.len().min(i + 2)];
                let len = if matches!(
                    two,
                    b"==" | b"!=" | b"<=" | b">=" | b"&&" | b"||" | b"->" | b"//" | b"|>" | b"<|"
                ) {
                    2
                } else {
                    1
                };
                if c != b'@' {
                    s.add_chain(i)?;
                }
                s.after_operand = false;
                i += len;
            }
        }
    }
    Ok(())
}

/// A run of identifier, number, path and operator characters (`a.b-c`,
/// `./x/y.nix`, `https://x`, `-1`, `x++y`): split into tokens as Nix's lexer
/// would, counted, and checked against [`MAX_RUN_TOKENS`].
fn run(s: &mut Scan, start: usize) -> Result<usize> {
    let b = s.src;
    let mut i = start;
    let mut separators = 0usize;
    while i < b.len() {
        let c = b[i];
        if is_ident_start(c) {
            let from = i;
            while i < b.len()
                && (b[i].is_ascii_alphanumeric() || matches!(b[i], b'_' | b'\'' | b'-'))
            {
                i += 1;
            }
            // A URI (`https://...`, `github:x/y`) or a path (`a/b`): one token.
            if b.get(i) == Some(&b':')
                && b.get(i + 1)
                    .is_some_and(|&n| n != b' ' && n != b'\n' && n != b'\t')
                && b.get(i + 1) != Some(&b';')
            {
                i = skip_uri(b, i);
            } else if b.get(i) == Some(&b'/')
                && b.get(i + 1).is_some_and(|&n| is_run_char(n) || n == b'$')
            {
                i = skip_path(s, i)?;
            }
            let word = &b[from..i];
            s.operand(from)?;
            match word {
                b"let" => {
                    if !next_is(b, i, b'{') {
                        s.push(FrameKind::LetBinds, from)?;
                    }
                    s.after_operand = false;
                    continue;
                }
                b"in" => {
                    if s.pop(|k| k == FrameKind::LetBinds) {
                        s.add_prefix(from)?;
                    }
                    s.after_operand = false;
                    continue;
                }
                b"with" | b"assert" => {
                    s.push(FrameKind::Head, from)?;
                    s.after_operand = false;
                    continue;
                }
                b"if" => {
                    s.push(FrameKind::IfCond, from)?;
                    s.after_operand = false;
                    continue;
                }
                b"then" => {
                    s.pop(|k| k == FrameKind::IfCond);
                    s.push(FrameKind::IfThen, from)?;
                    s.after_operand = false;
                    continue;
                }
                b"else" => {
                    s.pop(|k| k == FrameKind::IfThen);
                    s.add_prefix(from)?;
                    s.after_operand = false;
                    continue;
                }
                b"or" if s.after_operand => {
                    s.add_chain(from)?;
                    s.after_operand = false;
                    continue;
                }
                b"inherit" => {
                    s.top().inherit = true;
                    s.after_operand = false;
                    continue;
                }
                b"rec" => {
                    s.after_operand = false;
                    continue;
                }
                _ => {}
            }
            s.after_operand = true;
        } else if c.is_ascii_digit() {
            s.operand(i)?;
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'.') {
                i += 1;
            }
            s.after_operand = true;
        } else if (c == b'.' || c == b'~') && b.get(i + 1) == Some(&b'/') || c == b'/' && i == start
        {
            // `./x`, `../x`, `~/x`, `/x`: one path token.
            let from = i;
            if c == b'/' && !b.get(i + 1).is_some_and(|&n| is_run_char(n) || n == b'$') {
                // Not a path: the operator `/` or `//`, which ends an
                // application (`{ } // { }` is no argument of `{ }`).
                let len = if b.get(i + 1) == Some(&b'/') { 2 } else { 1 };
                s.add_chain(i)?;
                s.after_operand = false;
                return Ok(i + len);
            }
            s.operand(from)?;
            i = skip_path(s, i)?;
            s.after_operand = true;
        } else if c == b'.' && b.get(i + 1) == Some(&b'.') && b.get(i + 2) == Some(&b'.') {
            i += 3; // `...` in a pattern
        } else if c == b'.' && b.get(i + 1) == Some(&b'.') && b.get(i + 2) == Some(&b'/') {
            s.operand(i)?;
            i = skip_path(s, i)?;
            s.after_operand = true;
        } else if matches!(c, b'.' | b'+' | b'-') {
            separators += 1;
            if separators > MAX_RUN_TOKENS {
                return Err(Error::parse(
                    format!(
                        "more than {MAX_RUN_TOKENS} `.`, `+` or `-` without a space between them; \
                         nixcross reads at most {MAX_RUN_TOKENS}"
                    ),
                    (start, i + 1),
                ));
            }
            match c {
                b'.' => {} // a selection: the same node, no deeper
                b'+' if b.get(i + 1) == Some(&b'+') => {
                    i += 1;
                    s.add_chain(i)?;
                }
                b'-' if !s.after_operand => s.add_prefix(i)?,
                b'-' if b.get(i + 1) == Some(&b'>') => {
                    i += 1;
                    s.add_chain(i)?;
                }
                _ => s.add_chain(i)?,
            }
            // After `.` comes an attribute name, not an argument.
            s.after_operand = false;
            i += 1;
        } else {
            break;
        }
    }
    Ok(i.max(start + 1))
}

fn next_is(b: &[u8], mut i: usize, want: u8) -> bool {
    while i < b.len() && b[i].is_ascii_whitespace() {
        i += 1;
    }
    b.get(i) == Some(&want)
}

fn skip_uri(b: &[u8], mut i: usize) -> usize {
    while i < b.len()
        && (is_run_char(b[i])
            || matches!(
                b[i],
                b'/' | b'%' | b'?' | b':' | b'@' | b'&' | b'=' | b'$' | b',' | b'!' | b'~' | b'*'
            ))
    {
        i += 1;
    }
    i
}

/// A path literal from `i`: path characters and `/`, with `${ }` parts
/// (whose insides are code: pushed as an interpolation frame and scanned
/// by the caller's loop is not possible mid-run, so they are scanned here
/// for their nesting only through the bracket count).
fn skip_path(s: &mut Scan, mut i: usize) -> Result<usize> {
    let b = s.src;
    while i < b.len() {
        let c = b[i];
        if is_run_char(c) || c == b'/' || c == b'~' {
            i += 1;
        } else if c == b'$' && b.get(i + 1) == Some(&b'{') {
            // The interpolation is code: leave it to the main loop, which
            // pushes a frame for `${` and pops it at the matching `}`.
            return Ok(i);
        } else {
            break;
        }
    }
    Ok(i)
}

/// The body of a string from `i` up to and including its end or the next
/// `${`.
fn string_body(s: &mut Scan, mut i: usize, indented: bool) -> Result<usize> {
    let b = s.src;
    while i < b.len() {
        let c = b[i];
        if indented {
            if c == b'\'' && b.get(i + 1) == Some(&b'\'') {
                match b.get(i + 2) {
                    // `'''`, `''$`, `''\x`: escapes.
                    Some(b'\'') | Some(b'$') => i += 3,
                    Some(b'\\') => i += 4,
                    _ => {
                        s.pop(|k| k == FrameKind::Str { indented: true });
                        s.after_operand = true;
                        return Ok(i + 2);
                    }
                }
                continue;
            }
        } else if c == b'\\' {
            i += 2;
            continue;
        } else if c == b'"' {
            s.pop(|k| k == FrameKind::Str { indented: false });
            s.after_operand = true;
            return Ok(i + 1);
        }
        if c == b'$' && b.get(i + 1) == Some(&b'$') {
            i += 2;
            continue;
        }
        if c == b'$' && b.get(i + 1) == Some(&b'{') {
            s.push(FrameKind::Interp, i)?;
            s.after_operand = false;
            return Ok(i + 2);
        }
        i += 1;
    }
    Ok(i)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deep_ok(src: &str) -> bool {
        check(src).is_ok()
    }

    #[test]
    fn ordinary_files_pass() {
        for src in [
            "{ a = 1; }",
            "{ inputs, ... }@args: let x = [ 1 2 3 ]; in { inherit x; y = \"${x} ''\"; }",
            "{ url = \"github:nixos/nixpkgs\"; u = https://example.org/a?b=c; p = ./a/${x}/b.nix; s = <nixpkgs/lib>; }",
            "''\n  a ''${x} '''\n  ${toString 1}\n''",
            "x: y: if x then y else -x + (-1) ++ [ ] // { }",
            "{ a.b.c = lib.mkIf (x.y or z) 1; f = a: b: a b; }",
        ] {
            check(src).unwrap_or_else(|e| panic!("{src}: {e}"));
        }
        let flake =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../flake.nix"))
                .unwrap();
        check(&flake).unwrap();
    }

    #[test]
    fn deep_nesting_is_refused() {
        let n = MAX_DEPTH + 1;
        let lists = format!("{}{}", "[".repeat(n), "]".repeat(n));
        assert!(!deep_ok(&lists));
        assert!(deep_ok(&format!(
            "{}{}",
            "[".repeat(n - 2),
            "]".repeat(n - 2)
        )));
        assert!(!deep_ok(&format!("{}1", "- ".repeat(n))));
        assert!(!deep_ok(&format!("{}1", "! ".repeat(n))));
        assert!(!deep_ok(&format!("f{}", " a".repeat(MAX_APPLY_ARGS + 1))));
        assert!(deep_ok(&format!("f{}", " a".repeat(MAX_APPLY_ARGS))));
        assert!(deep_ok(&format!("[{}]", " (f a b)".repeat(10 * n))));
        assert!(!deep_ok(&format!("[]{}", " ++ []".repeat(n))));
        assert!(!deep_ok(&format!("{}1", "x: ".repeat(n))));
        assert!(!deep_ok(&format!("{}1", "let a = 1; in ".repeat(n))));
        assert!(!deep_ok(&format!(
            "{}1{}",
            "\"${".repeat(n),
            "}\"".repeat(n)
        )));
        // A long list or set is wide, not deep.
        assert!(deep_ok(&format!("[{}]", " a".repeat(10 * n))));
        assert!(deep_ok(&format!("{{{}}}", " a = f x y;".repeat(10 * n))));
        assert!(deep_ok(&format!("{{ inherit{}; }}", " a".repeat(10 * n))));
    }

    #[test]
    fn update_and_division_chains_are_operators_not_arguments() {
        // `{ } // { }` is no application: a chain of them was refused as "a
        // function is applied to more than 64 arguments".
        let updates = format!("{{ }}{}", " // { }".repeat(300));
        assert!(deep_ok(&updates));
        assert!(deep_ok(&format!(
            "{{ a = 1; }}{}",
            "//{ a = 1; }".repeat(300)
        )));
        assert!(deep_ok(&format!("x{}", " / 2".repeat(300))));
        // Deeper than nixcross reads, it says so.
        let err = check(&format!("{{ }}{}", " // { }".repeat(MAX_DEPTH + 1))).unwrap_err();
        assert!(err.message.contains("nested too deeply"), "{}", err.message);
        // A path still starts with `/`.
        assert!(deep_ok(&format!("f{}", " /a".repeat(MAX_APPLY_ARGS))));
        assert!(!deep_ok(&format!("f{}", " /a".repeat(MAX_APPLY_ARGS + 1))));
    }

    #[test]
    fn long_runs_are_refused() {
        let parts = vec!["a"; MAX_RUN_TOKENS + 2].join(".");
        assert!(!deep_ok(&format!("{{ {parts} = 1; }}")));
        assert!(!deep_ok(&format!("{}1", "-".repeat(100_000))));
        let spaced = vec!["a"; 20_000].join(" . ");
        assert!(deep_ok(&format!("{{ {spaced} = 1; }}")));
        let ok = vec!["a"; 50].join(".");
        assert!(deep_ok(&format!("{{ {ok} = 1; }}")));
        assert!(deep_ok(&format!("{{ a = {}; }}", "x".repeat(100_000))));
    }
}
