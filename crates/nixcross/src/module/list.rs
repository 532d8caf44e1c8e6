//! An option whose value is a list, as one module defines it: the list
//! shapes nixcross edits, read once ([`ListOption::read`]), and the edits
//! that add items to it or take them out, with one rendering of new items.
//! emulate (`boot.binfmt.emulatedSystems`), add-builder
//! (`nix.buildMachines`) and add-overlay (`nixpkgs.overlays`) all edit their
//! lists through it, so a shape behaves the same in every command. A new
//! list shape is a new [`ListShape`] variant here.
//!
//! The shapes ([`ListShape`]):
//! - a literal list ([`list_of`]): `[ ... ]`, inside a priority or order
//!   (`lib.mkForce [ ... ]`), the literal side of `[ ... ] ++ other`, or the
//!   list of no condition that nixcross merged with a conditional one
//!   (`lib.mkMerge [ (lib.mkIf c [ ... ]) [ ... ] ]`): items are appended
//!   in the list's layout and taken out with their comments;
//! - a list under a condition (`lib.mkIf c [ ... ]`): items come out of it;
//!   new ones hold whatever `c` is, so they go into a list of their own,
//!   merged with it (`lib.mkMerge`), when `lib` is in scope;
//! - a computed list (`lib.optionals ...`, `map f xs`): new items go on a
//!   `++ [ ... ]` side, which goes again with its last item;
//! - anything else (a variable, `//`, an unknown call) is opaque: nixcross
//!   cannot tell it is a list, and refuses to add to it.

use super::places::called;
use crate::edit::TextEdit;
use crate::syntax::{self, Layout, ListView, Node};

/// How one definition writes a list option's value.
#[derive(Debug, Clone)]
pub enum ListShape {
    /// A literal list where new items go ([`list_of`]); `conditional` is
    /// the list under a condition it is merged with (`around` is then
    /// [`Around::Merge`]).
    Literal {
        /// The list.
        list: ListView,
        /// What is around it; `None` for a plain list.
        around: Option<Around>,
        /// The conditional list of a merge.
        conditional: Option<ListView>,
    },
    /// `lib.mkIf c [ ... ]`: its list; `lib` says whether `lib` is in scope
    /// there (a new list is merged with `lib.mkMerge`).
    Conditional {
        /// The list under the condition.
        list: ListView,
        /// Whether `lib` is bound where the value is.
        lib: bool,
    },
    /// A list by its shape that nixcross cannot see into ([`is_list_expr`]).
    Computed,
    /// Not known to be a list.
    Opaque,
}

/// One definition of a list option: the binding, its value and its shape.
#[derive(Debug, Clone)]
pub struct ListOption {
    /// The binding (`nix.buildMachines = ...;`).
    pub entry: Node,
    /// Its value.
    pub value: Node,
    /// How the value is written.
    pub shape: ListShape,
}

/// How [`ListOption::add`] placed the new items.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Added {
    /// Appended to the literal list.
    Appended,
    /// On a `++ [ ... ]` side of a computed list.
    Concatenated,
    /// In a list of their own, merged with a list under a condition.
    Merged,
}

/// What [`ListOption::remove`] takes out.
#[derive(Debug, Clone)]
pub enum Removal {
    /// The whole definition: its list is left empty, with no comment of
    /// its own (the caller removes the binding with its other removals, so
    /// that emptied husks go too).
    Definition,
    /// These edits (items, the `++` side, or the merge).
    Edits(Vec<TextEdit>),
}

impl ListOption {
    /// Read the definition `entry` whose value is `value`.
    pub fn read(entry: Node, value: Node) -> ListOption {
        let shape = if let Some((list, around)) = list_of(&value) {
            let conditional = match around {
                Some(Around::Merge) => merged_conditional(&list),
                _ => None,
            };
            ListShape::Literal {
                list,
                around,
                conditional,
            }
        } else if let Some(list) = conditional_list(&value) {
            ListShape::Conditional {
                list,
                lib: value.param_binder("lib").is_some(),
            }
        } else if is_list_expr(&value) {
            ListShape::Computed
        } else {
            ListShape::Opaque
        };
        ListOption {
            entry,
            value,
            shape,
        }
    }

    /// The list items can be taken out of, with what is around it: the
    /// literal list, or the list under a condition.
    pub fn editable(&self) -> Option<(&ListView, Option<Around>)> {
        match &self.shape {
            ListShape::Literal { list, around, .. } => Some((list, *around)),
            ListShape::Conditional { list, .. } => Some((list, Some(Around::Condition))),
            _ => None,
        }
    }

    /// The edits that add `items` (rendered texts; an item may span lines)
    /// and how they are placed; `None` when nixcross cannot add to this
    /// shape (opaque, or a condition with no `lib` in scope).
    pub fn add(
        &self,
        src: &str,
        layout: &Layout,
        items: &[String],
    ) -> Option<(Vec<TextEdit>, Added)> {
        match &self.shape {
            ListShape::Literal { list, .. } => {
                Some((vec![append(src, layout, list, items)], Added::Appended))
            }
            ListShape::Conditional { lib: true, .. } => Some((
                vec![merge_with(
                    &self.value,
                    "lib",
                    &self.beside(src, layout, items),
                )],
                Added::Merged,
            )),
            ListShape::Computed => Some((
                append_concat(&self.value, &self.beside(src, layout, items)),
                Added::Concatenated,
            )),
            ListShape::Conditional { lib: false, .. } | ListShape::Opaque => None,
        }
    }

    /// A new list of `items`, written next to the value (after a computed
    /// list's `++`, or merged with a conditional list): items of one line
    /// go on one line; an item of several lines opens the list up, in the
    /// binding's indentation, when the value or the binding has lines of
    /// its own.
    fn beside(&self, src: &str, layout: &Layout, items: &[String]) -> String {
        if !items.iter().any(|i| i.contains('\n')) {
            return format!("[ {} ]", items.join(" "));
        }
        let inner = items.join("\n").replace('\n', "\n  ");
        let list = format!("[\n  {inner}\n]");
        let v = &self.value;
        if src[v.start()..v.end()].contains('\n') || syntax::starts_line(src, self.entry.start()) {
            let base = syntax::indent_at(src, self.entry.start()).to_string();
            syntax::reindent(&list, &base, &layout.unit, layout.nl)
        } else {
            syntax::compact(&list)
        }
    }

    /// The edits that take `found` (items of [`ListOption::editable`]'s
    /// list) out. When that empties a plain list with no comment of its
    /// own, the definition goes; the `++ [ ... ]` side goes with its last
    /// item, and a merge nixcross wrote gives back the conditional list as
    /// it was written. A list under a priority or a condition is kept:
    /// forcing an empty list is a statement.
    pub fn remove(&self, src: &str, found: &[Node]) -> Removal {
        let Some((list, around)) = self.editable() else {
            return Removal::Edits(Vec::new());
        };
        let items = remove_items(src, list, found);
        let all = found.len() == list.items.len();
        let ranges: Vec<(usize, usize)> = items.iter().map(|e| e.range.into()).collect();
        if all && around.is_none() && !super::comment_outside(src, self.entry.range(), &ranges) {
            return Removal::Definition;
        }
        let side = match around {
            Some(Around::Concat) if all => remove_concat_side(list),
            Some(Around::Merge) if all => unmerge(list),
            _ => None,
        };
        Removal::Edits(match side {
            Some(edit) => vec![edit],
            None => items,
        })
    }
}

/// Append `items` (rendered texts) to a literal list, in its layout. Items
/// of one line go on the list's line when it is written on one line (an
/// empty `[ ]` too), else each on a line of its own after the last item;
/// an item of several lines opens an empty list up, and is indented as the
/// items before it.
pub fn append(src: &str, layout: &Layout, list: &ListView, items: &[String]) -> TextEdit {
    if !items.iter().any(|i| i.contains('\n')) {
        return super::append_items(src, layout, list, items);
    }
    let text = items.join("\n");
    let nl = layout.nl;
    let single = !src[list.open..list.close].contains('\n');
    if single && !list.items.is_empty() {
        return TextEdit::insert(
            list.items.last().expect("items").end(),
            format!(" {}", syntax::compact(&text)),
        );
    }
    let list_indent = syntax::indent_at(src, list.open).to_string();
    if list.items.is_empty() {
        let base = format!("{list_indent}{}", layout.unit);
        let body = syntax::reindent(&text, &base, &layout.unit, nl);
        if single {
            return super::fill_empty(
                src,
                list.open,
                list.close,
                format!("{nl}{base}{body}{nl}{list_indent}"),
            );
        }
        let at = syntax::after_trailing_comment(src, list.open + 1);
        return TextEdit::insert(at, format!("{nl}{base}{body}"));
    }
    let last = list.items.last().expect("items");
    if !syntax::starts_line(src, last.start()) {
        return TextEdit::insert(last.end(), format!(" {}", syntax::compact(&text)));
    }
    let base = syntax::indent_at(src, last.start()).to_string();
    let at = syntax::after_trailing_comment(src, last.end());
    let body = syntax::reindent(&text, &base, &layout.unit, nl);
    TextEdit::insert(at, format!("{nl}{base}{body}"))
}

/// The literal list of a value, where new items go: `[ ... ]`; one inside
/// a priority or order wrapper (`lib.mkForce [ ... ]`, `mkDefault`,
/// `mkBefore`, `mkAfter`, `mkOverride n`, `mkOrder n`); or the literal side of
/// `[ ... ] ++ other` / `other ++ [ ... ]`. The second value names what is
/// around the list, `None` for a plain list.
pub fn list_of(value: &Node) -> Option<(syntax::ListView, Option<Around>)> {
    let v = value.unparen();
    if let Some(l) = v.list() {
        return Some((l, None));
    }
    if v.kind() == syntax::Kind::Concat {
        let (l, r) = v.binop()?;
        // Items are added on the literal side; the last literal wins.
        if let Some((list, _)) = list_of(&r) {
            return Some((list, Some(Around::Concat)));
        }
        if let Some((list, _)) = list_of(&l) {
            return Some((list, Some(Around::Concat)));
        }
        return None;
    }
    let (f, args) = called(&v)?;
    if f == "mkMerge" && args.len() == 1 {
        // `lib.mkMerge [ (lib.mkIf c [ ... ]) [ ... ] ]`: the last part, a
        // literal list, holds the definitions of no condition.
        let parts = args[0].unparen().list()?;
        let [_, last] = &parts.items[..] else {
            return None;
        };
        return Some((last.unparen().list()?, Some(Around::Merge)));
    }
    let (arity, around) = match f.as_str() {
        "mkForce" | "mkDefault" | "mkOptionDefault" => (1, Around::Priority),
        "mkOverride" => (2, Around::Priority),
        "mkBefore" | "mkAfter" => (1, Around::Order),
        "mkOrder" => (2, Around::Order),
        _ => return None,
    };
    if args.len() != arity {
        return None;
    }
    let l = args[arity - 1].unparen().list()?;
    Some((l, Some(around)))
}

/// What is around the literal list of a value ([`list_of`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Around {
    /// `[ ... ] ++ other` or `other ++ [ ... ]`.
    Concat,
    /// A priority: `mkForce`, `mkDefault`, `mkOptionDefault`, `mkOverride n`.
    Priority,
    /// An order: `mkBefore`, `mkAfter`, `mkOrder n`.
    Order,
    /// The second part of `mkMerge [ <conditional list> [ ... ] ]`.
    Merge,
    /// The list of `mkIf cond [ ... ]` ([`conditional_list`]): items can be
    /// taken out of it, not added (they would hold only under the
    /// condition). [`list_of`] never gives it.
    Condition,
}

/// A list under a condition, `lib.mkIf cond [ ... ]`: its literal list.
pub fn conditional_list(value: &Node) -> Option<syntax::ListView> {
    let (f, args) = called(&value.unparen())?;
    if f != "mkIf" || args.len() != 2 {
        return None;
    }
    args[1].unparen().list()
}

/// `value` (a conditional list) merged with a list of no condition:
/// `<lib>.mkMerge [ (value) <list> ]`.
pub fn merge_with(value: &Node, lib: &str, list: &str) -> TextEdit {
    TextEdit::replace(
        value.range(),
        format!("{lib}.mkMerge [ ({}) {list} ]", value.text()),
    )
}

/// Undo [`merge_with`] once its list of no condition is empty: the value is
/// the conditional list again, as it was written.
pub fn unmerge(list: &syntax::ListView) -> Option<TextEdit> {
    let parts = list.node.parent()?;
    let merge = parts.parent()?;
    let first = parts.list()?.items.first()?.clone();
    let inner = if first.kind() == syntax::Kind::Paren {
        first.unparen()
    } else {
        first
    };
    Some(TextEdit::replace(merge.range(), inner.text()))
}

/// The list under a condition that the list of no condition `list` is
/// merged with ([`merge_with`]'s first part), when it is one.
pub fn merged_conditional(list: &syntax::ListView) -> Option<syntax::ListView> {
    let parts = list.node.parent()?.list()?;
    conditional_list(parts.items.first()?)
}

/// Whether `value ++ [ ... ]` needs `value` in parentheses to keep its
/// meaning: only application, selection, a list, a `++` and parentheses
/// bind at least as tightly as `++` among what is kept bare (`let`, `if`,
/// `with`, `assert` and functions extend as far as they can).
pub fn wrap_for_concat(value: &Node) -> bool {
    !matches!(
        value.kind(),
        syntax::Kind::Apply
            | syntax::Kind::Select
            | syntax::Kind::Ident
            | syntax::Kind::List
            | syntax::Kind::Concat
            | syntax::Kind::Paren
    )
}

/// Functions of nixpkgs' `lib` and `builtins` that always return a list.
const LIST_FUNCTIONS: &[&str] = &[
    "optional",
    "optionals",
    "map",
    "filter",
    "concatMap",
    "concatLists",
    "flatten",
    "unique",
    "attrNames",
    "attrValues",
    "mapAttrsToList",
    "genList",
    "toList",
    "singleton",
    "catAttrs",
    "subtractLists",
    "intersectLists",
    "remove",
    "reverseList",
    "sort",
    "imap0",
    "imap1",
    "forEach",
];

/// Whether `value` is a list by its shape, so that `value ++ [ ... ]` is
/// one too: a list, a `++`, a call of a function that returns lists
/// (`lib.optionals c [ ... ]`, `map f xs`), or an `if`/`let`/parentheses
/// around those. A variable, or a module property (`lib.mkIf c [ ... ]`,
/// which `++` cannot extend), is not: nixcross cannot see what it is.
pub fn is_list_expr(value: &Node) -> bool {
    use syntax::Expr;
    match value.expr() {
        Expr::Paren(inner) => is_list_expr(&inner),
        Expr::List(_) | Expr::BinOp(syntax::BinOp::Concat, _, _) => true,
        Expr::IfElse(_, then, other) => is_list_expr(&then) && is_list_expr(&other),
        Expr::LetIn(l) => is_list_expr(&l.body),
        Expr::Apply(..) => called(value).is_some_and(|(f, _)| LIST_FUNCTIONS.contains(&f.as_str())),
        _ => false,
    }
}

/// The edits that make `value` into `value ++ list` (`list` is the text of
/// a list), with parentheses around `value` where `++` would bind into it.
pub fn append_concat(value: &Node, list: &str) -> Vec<TextEdit> {
    if wrap_for_concat(value) {
        vec![
            TextEdit::insert(value.start(), "("),
            TextEdit::insert(value.end(), format!(") ++ {list}")),
        ]
    } else {
        vec![TextEdit::insert(value.end(), format!(" ++ {list}"))]
    }
}

/// Take the emptied literal side of `other ++ [ ]` (or `[ ] ++ other`) out
/// again, with the parentheses nixcross put around `other`.
pub fn remove_concat_side(list: &syntax::ListView) -> Option<TextEdit> {
    let concat = list.node.parent()?;
    let (l, r) = concat.binop()?;
    if r == list.node {
        if l.kind() == syntax::Kind::Paren && wrap_for_concat(&l.unparen()) {
            return Some(TextEdit::replace(concat.range(), l.unparen().text()));
        }
        return Some(TextEdit::delete((l.end(), r.end())));
    }
    if l == list.node {
        return Some(TextEdit::delete((l.start(), r.start())));
    }
    None
}

/// Delete several items of one list: one edit per run of neighbours (the
/// run removed as one span, with the whitespace rules of one item), so that
/// removals of adjacent items never overlap or leave a double space.
pub fn remove_items(src: &str, list: &syntax::ListView, items: &[Node]) -> Vec<TextEdit> {
    let mut edits = Vec::new();
    let mut i = 0;
    while i < list.items.len() {
        if !items.contains(&list.items[i]) {
            i += 1;
            continue;
        }
        let first = i;
        while i + 1 < list.items.len() && items.contains(&list.items[i + 1]) {
            i += 1;
        }
        edits.push(super::remove_items_span(
            src,
            list,
            &list.items[first],
            &list.items[i],
        ));
        i += 1;
    }
    edits
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::edit::apply;

    fn expr(src: &str) -> Node {
        syntax::parse(src).unwrap().expr().unwrap()
    }

    #[test]
    fn lists_behind_wrappers_and_concatenation() {
        for (src, around) in [
            ("[ 1 ]", None),
            ("lib.mkForce [ 1 ]", Some(Around::Priority)),
            ("lib.mkOverride 10 [ 1 ]", Some(Around::Priority)),
            ("lib.mkAfter [ 1 ]", Some(Around::Order)),
            ("[ 1 ] ++ other", Some(Around::Concat)),
            ("other ++ [ 1 ]", Some(Around::Concat)),
            (
                "lib.mkMerge [ (lib.mkIf c [ 2 ]) [ 1 ] ]",
                Some(Around::Merge),
            ),
        ] {
            let (l, a) = list_of(&expr(src)).unwrap();
            assert_eq!(l.items.len(), 1, "{src}");
            assert_eq!(a, around, "{src}");
        }
        assert!(list_of(&expr("lib.optionals x [ 1 ]")).is_none());
    }

    #[test]
    fn a_conditional_list_merges_and_unmerges_to_its_bytes() {
        let src = "lib.mkIf (x == 1) [\n  \"a\"\n]";
        let value = expr(src);
        assert!(conditional_list(&value).is_some());
        let merged = apply(src, &[merge_with(&value, "lib", "[ \"b\" ]")]).unwrap();
        assert_eq!(merged, format!("lib.mkMerge [ ({src}) [ \"b\" ] ]"));
        let (list, around) = list_of(&expr(&merged)).unwrap();
        assert_eq!(around, Some(Around::Merge));
        let emptied = apply(&merged, &remove_items(&merged, &list, &list.items)).unwrap();
        let (list, _) = list_of(&expr(&emptied)).unwrap();
        assert!(list.items.is_empty());
        let back = apply(&emptied, &[unmerge(&list).unwrap()]).unwrap();
        assert_eq!(back, src);
    }

    #[test]
    fn neighbouring_removals_on_one_line_leave_one_space() {
        let src = "[ \"a\" \"b\" \"c\" ]";
        let l = expr(src).list().unwrap();
        let edits = remove_items(src, &l, &l.items[1..3]);
        assert_eq!(crate::edit::apply(src, &edits).unwrap(), "[ \"a\" ]");
        let edits = remove_items(src, &l, &[l.items[0].clone(), l.items[2].clone()]);
        assert_eq!(crate::edit::apply(src, &edits).unwrap(), "[ \"b\" ]");
    }

    #[test]
    fn neighbouring_removals_become_one_edit() {
        let src = "[\n  \"a\"\n  \"b\"\n  \"c\"\n]";
        let l = expr(src).list().unwrap();
        let edits = remove_items(src, &l, &l.items[0..2]);
        assert_eq!(crate::edit::apply(src, &edits).unwrap(), "[\n  \"c\"\n]");
    }

    /// `x = <value>;` read as one list definition.
    fn option(src: &str) -> ListOption {
        let set = expr(src).attrset().unwrap();
        let syntax::Entry::Binding(b) = &set.entries[0] else {
            panic!("a binding")
        };
        ListOption::read(b.node.clone(), b.value.clone())
    }

    #[test]
    fn every_shape_is_added_to_in_one_way() {
        let items = ["\"b\"".to_string()];
        for (src, want, how) in [
            (
                "{ x = [ \"a\" ]; }",
                "{ x = [ \"a\" \"b\" ]; }",
                Some(Added::Appended),
            ),
            ("{ x = [ ]; }", "{ x = [ \"b\" ]; }", Some(Added::Appended)),
            (
                "{ x = lib.mkForce [ \"a\" ]; }",
                "{ x = lib.mkForce [ \"a\" \"b\" ]; }",
                Some(Added::Appended),
            ),
            (
                "{ x = f y ++ [ \"a\" ]; }",
                "{ x = f y ++ [ \"a\" \"b\" ]; }",
                Some(Added::Appended),
            ),
            (
                "{ x = lib.optionals c [ \"a\" ]; }",
                "{ x = lib.optionals c [ \"a\" ] ++ [ \"b\" ]; }",
                Some(Added::Concatenated),
            ),
            (
                "{ x = if c then [ ] else [ \"a\" ]; }",
                "{ x = (if c then [ ] else [ \"a\" ]) ++ [ \"b\" ]; }",
                Some(Added::Concatenated),
            ),
            (
                "{ lib, ... }: { x = lib.mkIf c [ \"a\" ]; }",
                "{ lib, ... }: { x = lib.mkMerge [ (lib.mkIf c [ \"a\" ]) [ \"b\" ] ]; }",
                Some(Added::Merged),
            ),
            ("{ x = lib.mkIf c [ \"a\" ]; }", "", None),
            ("{ x = y; }", "", None),
            ("{ x = a // b; }", "", None),
        ] {
            let root = expr(src);
            let set = match root.lambda() {
                Some(l) => l.body.attrset().unwrap(),
                None => root.attrset().unwrap(),
            };
            let syntax::Entry::Binding(b) = &set.entries[0] else {
                panic!("a binding")
            };
            let def = ListOption::read(b.node.clone(), b.value.clone());
            let got = def.add(src, &Layout::of(src), &items);
            assert_eq!(got.as_ref().map(|(_, h)| *h), how, "{src}");
            if let Some((edits, _)) = got {
                assert_eq!(apply(src, &edits).unwrap(), want, "{src}");
            }
        }
    }

    #[test]
    fn an_item_of_several_lines_opens_an_empty_list_up() {
        let src = "{\n  x = [ ];\n}";
        let def = option(src);
        let (edits, _) = def
            .add(src, &Layout::of(src), &["{\n  a = 1;\n}".to_string()])
            .unwrap();
        assert_eq!(
            apply(src, &edits).unwrap(),
            "{\n  x = [\n    {\n      a = 1;\n    }\n  ];\n}"
        );
    }

    #[test]
    fn removal_gives_back_what_was_there() {
        // A plain list left empty: the definition goes.
        let src = "{ x = [ \"a\" ]; }";
        let def = option(src);
        let (l, _) = def.editable().unwrap();
        assert!(matches!(def.remove(src, &l.items), Removal::Definition));
        // One with a comment of its own, or under a priority, stays (empty).
        for (src, want) in [
            ("{ x = [ \"a\" /* keep */ ]; }", "{ x = [ /* keep */ ]; }"),
            ("{ x = lib.mkForce [ \"a\" ]; }", "{ x = lib.mkForce [ ]; }"),
            ("{ x = f y ++ [ \"a\" ]; }", "{ x = f y; }"),
            ("{ x = (a // b) ++ [ \"a\" ]; }", "{ x = a // b; }"),
        ] {
            let def = option(src);
            let (l, _) = def.editable().unwrap();
            let Removal::Edits(edits) = def.remove(src, &l.items) else {
                panic!("{src}: kept")
            };
            assert_eq!(apply(src, &edits).unwrap(), want, "{src}");
        }
    }
}
