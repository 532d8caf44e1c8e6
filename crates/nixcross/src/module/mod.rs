//! Views over NixOS modules and the edits that set, extend and remove their
//! options, in the file's own layout.
//!
//! A module is an attribute set, or a function returning one
//! (`{ config, pkgs, ... }: { ... }`, possibly through `let ... in`). An
//! option such as `nixpkgs.crossSystem` may be written dotted, nested
//! (`nixpkgs = { crossSystem = ...; };`) or mixed; [`find_option`] finds it
//! in any of those spellings.

pub mod list;
pub mod places;

use crate::edit::TextEdit;
use crate::error::{Error, Result};
use crate::files::RelPath;
use crate::source::{FileId, SourceMap};
use crate::syntax::{self, AttrSetView, Entry, Layout, ListView, Node, Param};
use places::FileKind;

/// Load and parse a module file: its id and its expression.
pub(crate) fn load_module(sources: &mut SourceMap, path: &RelPath) -> Result<(FileId, Node)> {
    let file = sources
        .load(path)
        .map_err(|e| Error::invalid(format!("cannot read {}: {}", e.path, e.error)))?;
    let s = sources.get(file);
    let expr = match &s.doc {
        Ok(doc) => doc.expr().ok_or_else(|| {
            Error::refused("the file has no expression; a NixOS module is `{ ... }` or `{ config, pkgs, ... }: { ... }`")
        })?,
        Err(err) => return Err(err.clone().in_file(&s.path, &s.text)),
    };
    Ok((file, expr))
}

/// The NixOS module a module file holds: the file itself, or the one NixOS
/// module a flake-parts module defines (`flake.nixosModules.<n>`,
/// `flake.modules.nixos.<n>`, `flake.aspects.<n>.nixos`), with its name.
/// A flake-parts module that defines several is refused.
pub(crate) fn nixos_module_in(
    sources: &SourceMap,
    file: FileId,
    expr: Node,
) -> Result<(Node, Option<String>)> {
    if places::file_kind(&expr) != FileKind::FlakePartsModule {
        return Ok((expr, None));
    }
    let found = places::nested_nixos_modules(&expr);
    match found.as_slice() {
        [(name, node)] => Ok((node.clone(), Some(name.clone()))),
        [] => Ok((expr, None)),
        many => {
            let names: Vec<String> = many.iter().map(|(n, _)| n.clone()).collect();
            let s = sources.get(file);
            Err(Error::refused(format!(
                "this flake-parts module defines several NixOS modules ({}); nixcross edits a file that defines one",
                syntax::list_names(&names)
            ))
            .at(many[0].1.range())
            .in_file(&s.path, &s.text)
            .hint("move the one to edit into a file of its own, or use --config NAME on the flake"))
        }
    }
}

/// The attribute set that holds a module's option definitions.
#[derive(Debug, Clone)]
pub struct ModuleBody {
    /// The module expression as written (a list item, maybe in parentheses).
    pub expr: Node,
    /// The set of definitions.
    pub set: AttrSetView,
    /// The function's formals, when it is a function with a pattern.
    pub formals: Option<syntax::Param>,
}

/// The definitions set of a module expression, or `None` when the module is
/// not written inline (a path, a variable, an `import`, ...).
pub fn module_body(expr: &Node) -> Option<ModuleBody> {
    // `let ... in { ... }` is a module too, not only under a function.
    let inner = expr.let_layers().1;
    if let Some(set) = inner.attrset() {
        if set.rec {
            return None;
        }
        return Some(ModuleBody {
            expr: expr.clone(),
            set,
            formals: None,
        });
    }
    let lambda = inner.lambda()?;
    let set = lambda.body.let_layers().1.attrset()?;
    if set.rec {
        return None;
    }
    Some(ModuleBody {
        expr: expr.clone(),
        set,
        formals: Some(lambda.param),
    })
}

/// Where an option is defined: the chain of sets from the module body down
/// to the entry, and the value.
#[derive(Debug, Clone)]
pub struct OptionHit {
    /// `(set, index of the entry in set.entries)`, outermost first.
    pub chain: Vec<(AttrSetView, usize)>,
    /// The value at the option path, or at a longer key (see `rest`).
    pub value: Node,
    /// Key parts beyond the option path (`nixpkgs.crossSystem.system = ...`
    /// searched as `nixpkgs.crossSystem` gives `["system"]`).
    pub rest: Vec<String>,
}

impl OptionHit {
    /// The entry that defines the value.
    pub fn entry(&self) -> &Entry {
        let (set, i) = self.chain.last().expect("a hit has a chain");
        &set.entries[*i]
    }
}

/// A shape under the option path that nixcross cannot read: a dynamic key,
/// an `inherit`, or a value that is not a plain attribute set.
#[derive(Debug, Clone)]
pub struct Opaque {
    pub range: (usize, usize),
    pub reason: String,
}

/// Every definition of `path` under `set`, in any spelling. Definitions
/// nixcross cannot see into (a `//` value, `with`, a dynamic key) are returned
/// as [`Opaque`].
pub fn find_option(set: &AttrSetView, path: &[&str]) -> (Vec<OptionHit>, Vec<Opaque>) {
    let mut hits = Vec::new();
    let mut opaque = Vec::new();
    walk(set, path, &mut Vec::new(), &mut hits, &mut opaque);
    (hits, opaque)
}

fn walk(
    set: &AttrSetView,
    path: &[&str],
    chain: &mut Vec<(AttrSetView, usize)>,
    hits: &mut Vec<OptionHit>,
    opaque: &mut Vec<Opaque>,
) {
    for (i, entry) in set.entries.iter().enumerate() {
        match entry {
            Entry::Inherit(inh) => {
                if let Some((_, r)) = inh.names.iter().find(|(n, _)| n == path[0]) {
                    opaque.push(Opaque {
                        range: *r,
                        reason: format!(
                            "`{}` is inherited, so nixcross cannot see its value",
                            path[0]
                        ),
                    });
                }
            }
            Entry::Binding(b) => {
                let Some(key) = &b.path else {
                    // `users.${u}.x` cannot define `boot.*`: only a key whose
                    // static names agree with the path so far is a suspect.
                    let p = &b.static_prefix;
                    if p.iter().zip(path).any(|(k, p)| k != p) {
                        continue;
                    }
                    opaque.push(Opaque {
                        range: b.key_range,
                        reason: "a dynamic attribute name (`${...}`) could define this option"
                            .into(),
                    });
                    continue;
                };
                let common = key.iter().zip(path).take_while(|(k, p)| k == *p).count();
                if common == 0 {
                    continue;
                }
                chain.push((set.clone(), i));
                if common == path.len() {
                    hits.push(OptionHit {
                        chain: chain.clone(),
                        value: b.value.clone(),
                        rest: key[common..].to_vec(),
                    });
                } else if common == key.len() {
                    // The key is a prefix of the path: look inside the value.
                    let v = b.value.unparen();
                    match v.attrset() {
                        Some(inner) if !inner.rec => {
                            walk(&inner, &path[common..], chain, hits, opaque)
                        }
                        _ => opaque.push(Opaque {
                            range: b.value.range(),
                            reason: format!(
                                "`{}` is not a plain attribute set, so nixcross cannot see into it",
                                key.join(".")
                            ),
                        }),
                    }
                }
                chain.pop();
            }
        }
    }
}

/// Where to put a new entry in a set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Position {
    First,
    Last,
}

/// True when the set's braces are on one line.
fn one_line(src: &str, open: usize, close: usize) -> bool {
    !src[open..close].contains('\n')
}

/// Add the formal `formal` (`name ? default`) to a function's `{ ... }`
/// pattern: last, before a closing `...`, in the pattern's own layout (one
/// line, or one formal per line with trailing or leading commas). `None`
/// for a function that takes a single name.
pub fn insert_formal(src: &str, style: &Layout, lambda: &Node, formal: &str) -> Option<TextEdit> {
    let Param::Pattern {
        formals,
        ellipsis,
        open,
        close,
        ..
    } = lambda.lambda()?.param
    else {
        return None;
    };
    let nl = style.nl;
    if one_line(src, open, close) {
        return Some(match (formals.last(), ellipsis) {
            (_, Some(dots)) => TextEdit::insert(dots, format!("{formal}, ")),
            (Some(last), None) => TextEdit::insert(last.range.1, format!(", {formal}")),
            (None, None) => TextEdit::replace((open + 1, close), format!(" {formal} ")),
        });
    }
    // One per line: a new line like the last one's (or the `...` line's).
    let (anchor, before) = match (ellipsis, formals.last()) {
        (Some(dots), _) => (dots, true),
        (None, Some(last)) => (last.range.0, false),
        (None, None) => {
            let indent = format!("{}{}", syntax::indent_at(src, open), style.unit);
            return Some(TextEdit::insert(open + 1, format!("{nl}{indent}{formal}")));
        }
    };
    let line = syntax::line_start(src, anchor);
    let indent = syntax::indent_at(src, anchor).to_string();
    let leading = src[line..anchor].trim_start().starts_with(',');
    if before {
        let text = if leading {
            format!("{indent}, {formal}{nl}")
        } else {
            format!("{indent}{formal},{nl}")
        };
        return Some(TextEdit::insert(line, text));
    }
    let last = formals.last()?;
    let after = &src[last.range.1..close];
    match after.find(',') {
        // `  b ? 1,` : a new `  formal,` line after it.
        Some(_) if !leading => {
            let end = syntax::next_line_start(src, last.range.1);
            Some(TextEdit::insert(end, format!("{indent}{formal},{nl}")))
        }
        _ if leading => {
            let end = syntax::next_line_start(src, last.range.1);
            Some(TextEdit::insert(end, format!("{indent}, {formal}{nl}")))
        }
        _ => Some(TextEdit::insert(
            last.range.1,
            format!(",{nl}{indent}{formal}"),
        )),
    }
}

/// Insert `key = value;` into `set`. `value` is generated text at column 0
/// with two-space steps; it is re-indented to the file's style.
pub fn insert_binding(
    src: &str,
    style: &Layout,
    set: &AttrSetView,
    key: &str,
    value: &str,
    pos: Position,
) -> TextEdit {
    insert_entry(src, style, set, &format!("{key} = {value};"), pos)
}

/// Whether `src[outer]` may hold a comment outside the `inner` ranges
/// (conservatively: a `#` or `/*`): a binding that does keeps its (empty)
/// value when its last item goes, so that the comment stays.
pub fn comment_outside(src: &str, outer: (usize, usize), inner: &[(usize, usize)]) -> bool {
    let mut cuts = inner.to_vec();
    cuts.sort_unstable();
    let mut at = outer.0;
    let mut rest = String::new();
    for (a, b) in cuts {
        if a >= at && b <= outer.1 {
            rest.push_str(&src[at..a]);
            at = b;
        }
    }
    rest.push_str(&src[at..outer.1]);
    rest.contains('#') || rest.contains("/*")
}

/// Fill the empty brackets at `open` and `close` with `new`, the text that
/// replaces what is between them when that is only whitespace. Comments
/// between them stay: the new text (without its closing whitespace) goes
/// after the last of them instead, on a line of its own after a `#`
/// comment.
pub fn fill_empty(src: &str, open: usize, close: usize, new: String) -> TextEdit {
    let inside = &src[open + 1..close];
    if inside.trim().is_empty() {
        return TextEdit::replace((open + 1, close), new);
    }
    let at = open + 1 + inside.trim_end().len();
    let mut text = new.trim_end_matches([' ', '\t', '\r', '\n']).to_string();
    let line = &src[syntax::line_start(src, at)..at];
    if line.contains('#') && !text.starts_with(['\r', '\n']) {
        let nl = if src.contains("\r\n") { "\r\n" } else { "\n" };
        let indent = &line[..line.len() - line.trim_start().len()];
        text = format!("{nl}{indent}{}", text.trim_start());
    }
    TextEdit::insert(at, text)
}

/// Insert a whole entry (`inherit x;` or `a = b;`, generated at column 0).
pub fn insert_entry(
    src: &str,
    style: &Layout,
    set: &AttrSetView,
    entry: &str,
    pos: Position,
) -> TextEdit {
    let nl = style.nl;
    let single = one_line(src, set.open, set.close);
    // On one line a `#` comment would swallow the rest of it: comment lines
    // are dropped there (an empty `{ }` is opened up instead, to keep them).
    let has_comment = entry.lines().any(|l| l.trim_start().starts_with('#'));
    let one_line_text = |entry: &str| syntax::compact(entry);
    if set.entries.is_empty() {
        if single && has_comment {
            // `{ }` opened up: `{\n  # comment\n  entry\n}`.
            let indent = syntax::indent_at(src, set.open).to_string();
            let base = format!("{indent}{}", style.unit);
            let text = syntax::reindent(entry, &base, &style.unit, nl);
            return fill_empty(
                src,
                set.open,
                set.close,
                format!("{nl}{base}{text}{nl}{indent}"),
            );
        }
        if single {
            // `{ }` or `{}`: `{ entry }`.
            let text = one_line_text(entry);
            return fill_empty(src, set.open, set.close, format!(" {} ", text.trim()));
        }
        let base = format!("{}{}", syntax::indent_at(src, set.close), style.unit);
        let at = syntax::after_trailing_comment(src, set.open + 1);
        let text = syntax::reindent(entry, &base, &style.unit, nl);
        return TextEdit::insert(at, format!("{nl}{base}{text}"));
    }
    match pos {
        Position::Last => {
            let last = set.entries.last().unwrap().range();
            if single || !syntax::starts_line(src, last.0) {
                let text = one_line_text(entry);
                return TextEdit::insert(last.1, format!(" {}", text.trim()));
            }
            let base = syntax::indent_at(src, last.0).to_string();
            let at = syntax::after_trailing_comment(src, last.1);
            let text = syntax::reindent(entry, &base, &style.unit, nl);
            TextEdit::insert(at, format!("{nl}{base}{text}"))
        }
        Position::First => {
            let first = set.entries[0].range();
            if single || !syntax::starts_line(src, first.0) {
                let text = one_line_text(entry);
                return TextEdit::insert(first.0, format!("{} ", text.trim()));
            }
            let base = syntax::indent_at(src, first.0).to_string();
            let at = syntax::leading_comments_start(src, first.0);
            let text = syntax::reindent(entry, &base, &style.unit, nl);
            TextEdit::insert(at, format!("{base}{text}{nl}"))
        }
    }
}

/// Where a new `path` binding goes: a set along `path` (the top one, or a
/// plain nested set such as `boot = { ... }` inside it), how many components
/// of `path` that set consumes, and the entry to insert after (`None`: at
/// the end). The entry chosen is the one whose key shares the longest prefix
/// with `path`; on a tie the deeper set wins, then the later entry. So
/// `boot.binfmt.x` goes next to a dotted `boot.binfmt.y` even when a
/// `boot = { ... }` set exists too: a `binfmt` inside that set would define
/// `binfmt` a second time, which Nix rejects.
fn best_place(
    set: &AttrSetView,
    path: &[&str],
    depth: usize,
) -> (AttrSetView, usize, Option<usize>, usize) {
    // (set, depth, after, score)
    let mut best = (set.clone(), depth, None, depth);
    let better = |c: &(AttrSetView, usize, Option<usize>, usize),
                  b: &(AttrSetView, usize, Option<usize>, usize)| {
        (c.3, c.1) > (b.3, b.1) || ((c.3, c.1) == (b.3, b.1) && c.0.node == b.0.node)
    };
    let rest = &path[depth..];
    for (i, entry) in set.entries.iter().enumerate() {
        let common = match entry {
            Entry::Binding(b) => b
                .static_prefix
                .iter()
                .zip(rest)
                .take_while(|(k, p)| k == p)
                .count(),
            Entry::Inherit(_) => usize::from(entry.defines(rest[0])),
        };
        if common == 0 {
            continue;
        }
        let here = (set.clone(), depth, Some(i), depth + common);
        if better(&here, &best) {
            best = here;
        }
        let Entry::Binding(b) = entry else { continue };
        let Some(key) = &b.path else { continue };
        if key.len() != common || key.len() >= rest.len() {
            continue;
        }
        let Some(inner) = b.value.unparen().attrset() else {
            continue;
        };
        if inner.rec {
            continue;
        }
        let deeper = best_place(&inner, path, depth + key.len());
        if better(&deeper, &best) {
            best = deeper;
        }
    }
    best
}

/// Insert `path = value;` into the best place of `set` (see [`best_place`]):
/// inside an existing nested set along the path, next to the sibling that
/// shares the most of the path, else at the end.
pub fn insert_at_path(
    src: &str,
    layout: &Layout,
    set: &AttrSetView,
    path: &[&str],
    value: &str,
) -> TextEdit {
    let (target, depth, after, _) = best_place(set, path, 0);
    let key: Vec<String> = path[depth..].iter().map(|k| syntax::attr_name(k)).collect();
    let mut at = target;
    if let Some(i) = after {
        at.entries.truncate(i + 1);
    }
    insert_binding(src, layout, &at, &key.join("."), value, Position::Last)
}

/// Insert a whole entry right after entry `index` of `set`.
pub fn insert_after(
    src: &str,
    layout: &Layout,
    set: &AttrSetView,
    index: usize,
    entry: &str,
) -> TextEdit {
    let mut at = set.clone();
    at.entries.truncate(index + 1);
    insert_entry(src, layout, &at, entry, Position::Last)
}

/// Delete the entry `range` from the set, with its own comments and line.
pub fn remove_entry(src: &str, set: &AttrSetView, range: (usize, usize)) -> TextEdit {
    remove_span(src, range, set.open, set.close)
}

/// Delete a list item, with its comments and line.
pub fn remove_item(src: &str, list: &ListView, item: &Node) -> TextEdit {
    remove_span(src, item.range(), list.open, list.close)
}

/// Delete the items from `first` to `last` (neighbours in `list`) as one
/// span, with their comments and lines.
pub fn remove_items_span(src: &str, list: &ListView, first: &Node, last: &Node) -> TextEdit {
    remove_span(src, (first.start(), last.end()), list.open, list.close)
}

/// Delete `range` (an entry or item between `open` and `close` brackets). A
/// span on lines of its own goes with its leading comments, its trailing
/// comment and its line; blank lines that separated it are collapsed so the
/// result reads as if it had never been there.
fn remove_span(src: &str, range: (usize, usize), open: usize, close: usize) -> TextEdit {
    let (start, end) = range;
    let end_c = syntax::after_trailing_comment(src, end);
    if syntax::starts_line(src, start) && syntax::ends_line(src, end) {
        let mut from = syntax::leading_comments_start(src, start);
        let mut to = syntax::next_line_start(src, end_c).min(close.max(end_c));
        if to < close && syntax::line_start(src, close) < to {
            to = syntax::line_start(src, close).max(end_c);
        }
        let before_blank =
            from > 0 && syntax::is_blank_line(src, syntax::line_start(src, from - 1));
        let after_blank = syntax::is_blank_line(src, to);
        // First thing after the opening bracket: drop the blank lines on
        // both sides. Otherwise keep one separator.
        let prev_content_is_open = {
            let mut p = from;
            while p > 0 && syntax::is_blank_line(src, syntax::line_start(src, p - 1)) {
                p = syntax::line_start(src, p - 1);
            }
            p > 0 && syntax::line_start(src, p - 1) <= open && open < p
        };
        if prev_content_is_open {
            while from > 0
                && syntax::line_start(src, from - 1) > open
                && syntax::is_blank_line(src, syntax::line_start(src, from - 1))
            {
                from = syntax::line_start(src, from - 1);
            }
            if before_blank || after_blank {
                while to < close && syntax::is_blank_line(src, to) {
                    to = syntax::next_line_start(src, to);
                }
            }
        } else if before_blank && after_blank {
            while to < close && syntax::is_blank_line(src, to) {
                to = syntax::next_line_start(src, to);
            }
        }
        // The last thing between the brackets: `{ }` (or `[ ]`), not `{` and
        // `}` on lines of their own around nothing.
        if src[open + 1..from].trim().is_empty() && src[to..close].trim().is_empty() {
            return TextEdit::replace((open + 1, close), " ");
        }
        return TextEdit::delete((from, to));
    }
    // First on its line, with more after it (`  item ];`): an insertion
    // wrote it as a line break and indentation after the content before
    // it, so that goes with it; unless that content is a `#` comment, which
    // would then swallow the rest of the line.
    let prev = src[..start].trim_end_matches([' ', '\t', '\r', '\n']).len();
    if syntax::starts_line(src, start)
        && prev > open
        && src[prev..start].matches('\n').count() == 1
        && !src[syntax::line_start(src, prev)..prev].contains('#')
    {
        return TextEdit::delete((prev, end));
    }
    // Inline: the separator an insertion wrote goes with it. After an
    // entry on the same line, that is the whitespace before the span (new
    // text goes in as ` entry` after its neighbour); first on its line or
    // after the opening bracket, the whitespace after it (`entry ` before
    // its neighbour), unless the closing bracket follows.
    let before = &src[..start];
    let ws_before = before.len() - before.trim_end_matches([' ', '\t']).len();
    // What comes before, past spaces and `/* */` comments on the line.
    let mut code = start - ws_before;
    while src[..code].ends_with("*/") {
        match src[..code - 2].rfind("/*") {
            Some(c) if c > open => {
                code = src[..c].trim_end_matches([' ', '\t']).len();
            }
            _ => break,
        }
    }
    let after_entry = code > open + 1 && !matches!(src.as_bytes()[code - 1], b'\n' | b'\r');
    let after = &src[end..];
    let ws_after = after.len() - after.trim_start_matches([' ', '\t']).len();
    if !after_entry && end + ws_after < close {
        TextEdit::delete((start, end + ws_after))
    } else {
        TextEdit::delete((start - ws_before.min(start - open - 1), end))
    }
}

/// A `[ ... ]` list value: append items, in the list's own layout.
pub fn append_items(src: &str, style: &Layout, list: &ListView, items: &[String]) -> TextEdit {
    if items.is_empty() {
        return TextEdit::insert(list.close, "");
    }
    let single = one_line(src, list.open, list.close);
    if list.items.is_empty() || single {
        if single {
            let joined = items.join(" ");
            if let Some(last) = list.items.last() {
                return TextEdit::insert(last.end(), format!(" {joined}"));
            }
            return fill_empty(src, list.open, list.close, format!(" {joined} "));
        }
        let base = format!("{}{}", syntax::indent_at(src, list.close), style.unit);
        let at = syntax::after_trailing_comment(src, list.open + 1);
        let text: String = items
            .iter()
            .map(|i| format!("{}{base}{i}", style.nl))
            .collect();
        return TextEdit::insert(at, text);
    }
    let last = list.items.last().unwrap();
    let base = syntax::indent_at(src, last.start()).to_string();
    if !syntax::starts_line(src, last.start()) {
        let joined = items.join(" ");
        return TextEdit::insert(last.end(), format!(" {joined}"));
    }
    let at = syntax::after_trailing_comment(src, last.end());
    let text: String = items
        .iter()
        .map(|i| format!("{}{base}{i}", style.nl))
        .collect();
    TextEdit::insert(at, text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::edit::apply;

    fn body(src: &str) -> ModuleBody {
        module_body(&syntax::parse(src).unwrap().expr().unwrap()).unwrap()
    }

    #[test]
    fn a_new_formal_follows_the_patterns_layout() {
        let cases = [
            ("{ a, b ? 1 }: a", "{ a, b ? 1, c ? null }: a"),
            ("{ a, ... }: a", "{ a, c ? null, ... }: a"),
            ("{ ... }: 1", "{ c ? null, ... }: 1"),
            ("{ }: 1", "{ c ? null }: 1"),
            (
                "{\n  a,\n  b ? 1, # note\n  ...\n}: a",
                "{\n  a,\n  b ? 1, # note\n  c ? null,\n  ...\n}: a",
            ),
            (
                "{\n  a,\n  b ? 1,\n}: a",
                "{\n  a,\n  b ? 1,\n  c ? null,\n}: a",
            ),
            (
                "{\n  a,\n  b ? 1\n}: a",
                "{\n  a,\n  b ? 1,\n  c ? null\n}: a",
            ),
            (
                "{ a\n, b ? 1\n, ...\n}: a",
                "{ a\n, b ? 1\n, c ? null\n, ...\n}: a",
            ),
            ("{ a\n, b ? 1\n}: a", "{ a\n, b ? 1\n, c ? null\n}: a"),
            (
                "{\r\n  a,\r\n  ...\r\n}: a",
                "{\r\n  a,\r\n  c ? null,\r\n  ...\r\n}: a",
            ),
        ];
        for (src, want) in cases {
            let lambda = syntax::parse(src).unwrap().expr().unwrap();
            let e = insert_formal(src, &Layout::of(src), &lambda, "c ? null").unwrap();
            let out = apply(src, &[e]).unwrap();
            assert_eq!(out, want, "{src:?}");
            syntax::parse(&out).unwrap();
        }
        let lambda = syntax::parse("x: x").unwrap().expr().unwrap();
        assert!(insert_formal("x: x", &Layout::of("x: x"), &lambda, "c ? null").is_none());
    }

    #[test]
    fn finds_options_in_every_spelling() {
        for src in [
            "{ nixpkgs.crossSystem = 1; }",
            "{ nixpkgs = { crossSystem = 1; }; }",
            "{ pkgs, ... }: { nixpkgs = { crossSystem = 1; }; }",
            "{ config, ... }: let x = 1; in { nixpkgs.crossSystem = 1; }",
            "let x = 1; in { nixpkgs.crossSystem = 1; }",
        ] {
            let b = body(src);
            let (hits, opaque) = find_option(&b.set, &["nixpkgs", "crossSystem"]);
            assert_eq!(hits.len(), 1, "{src}");
            assert!(opaque.is_empty());
            assert_eq!(hits[0].value.text(), "1");
        }
        let b = body("{ nixpkgs.crossSystem.system = \"x\"; }");
        let (hits, _) = find_option(&b.set, &["nixpkgs", "crossSystem"]);
        assert_eq!(hits[0].rest, ["system"]);
        let b = body("{ users.${u}.x = 1; nixpkgs.${n} = 2; }");
        let (hits, opaque) = find_option(&b.set, &["nixpkgs", "crossSystem"]);
        assert!(hits.is_empty());
        assert_eq!(
            opaque.len(),
            1,
            "only the `nixpkgs.${{n}}` key is a suspect"
        );
        let b = body("{ nixpkgs = import ./x.nix; }");
        let (hits, opaque) = find_option(&b.set, &["nixpkgs", "crossSystem"]);
        assert!(hits.is_empty());
        assert_eq!(opaque.len(), 1);
    }

    #[test]
    fn inserts_copy_the_sibling_layout() {
        let src = "{\n    a = 1; # one\n}\n";
        let b = body(src);
        let e = insert_binding(
            src,
            &Layout::of(src),
            &b.set,
            "b",
            "{\n  c = 2;\n}",
            Position::Last,
        );
        assert_eq!(
            apply(src, &[e]).unwrap(),
            "{\n    a = 1; # one\n    b = {\n        c = 2;\n    };\n}\n"
        );
        let src = "{ a = 1; }";
        let b = body(src);
        let e = insert_binding(src, &Layout::of(src), &b.set, "b", "2", Position::First);
        assert_eq!(apply(src, &[e]).unwrap(), "{ b = 2; a = 1; }");
        let src = "{ }";
        let b = body(src);
        let e = insert_binding(src, &Layout::of(src), &b.set, "b", "2", Position::Last);
        assert_eq!(apply(src, &[e]).unwrap(), "{ b = 2; }");
        let src = "{\r\n\tx = {\r\n\t};\r\n}";
        let inner = body(src).set.entries[0].clone();
        let Entry::Binding(bind) = inner else {
            panic!()
        };
        let set = bind.value.attrset().unwrap();
        let e = insert_binding(src, &Layout::of(src), &set, "b", "2", Position::Last);
        assert_eq!(
            apply(src, &[e]).unwrap(),
            "{\r\n\tx = {\r\n\t\tb = 2;\r\n\t};\r\n}"
        );
    }

    #[test]
    fn appends_to_lists_in_their_layout() {
        let src = "[ \"a\" ]";
        let l = syntax::parse(src).unwrap().expr().unwrap().list().unwrap();
        let e = append_items(src, &Layout::of(src), &l, &["\"b\"".into()]);
        assert_eq!(apply(src, &[e]).unwrap(), "[ \"a\" \"b\" ]");
        let src = "[\n  \"a\" # c\n]";
        let l = syntax::parse(src).unwrap().expr().unwrap().list().unwrap();
        let e = append_items(src, &Layout::of(src), &l, &["\"b\"".into()]);
        assert_eq!(apply(src, &[e]).unwrap(), "[\n  \"a\" # c\n  \"b\"\n]");
    }
}
