//! Nix's duplicate-attribute check, which rnix does not do.
//!
//! rnix accepts `{ a.b = 1; a = { b = 2; }; }`; Nix rejects it ("attribute
//! `b` already defined"). The edit engine counts these conflicts before and
//! after an edit and refuses an edit that adds one, so an insertion next to a
//! dotted sibling can never produce a file that Nix refuses to parse.
//!
//! The model follows `addAttr` in Nix's parser (`src/libexpr/parser.y`):
//! - an intermediate key component descends into an existing attribute set
//!   literal or creates a new one; any other existing value is a conflict;
//! - the last component may name an existing attribute only when both the
//!   existing value and the new one are attribute set literals; then the new
//!   set's attributes are added one level deep, and each one that already
//!   exists is a conflict (deeper merging does not happen);
//! - `inherit` of a name that exists is a conflict, and an inherited name is
//!   never a set that a later key can descend into;
//! - a dynamic component (`${x}`) goes into a set of its own that nothing
//!   else can reach.

use std::collections::hash_map::Entry::{Occupied, Vacant};
use std::collections::HashMap;

use rnix::ast::{self, HasEntry};
use rnix::SyntaxKind;
use rowan::ast::AstNode;

use super::{range_of, static_attr, Doc};

/// One definition that Nix would reject as a duplicate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conflict {
    /// The attribute defined twice.
    pub name: String,
    /// The entry with the second definition.
    pub range: (usize, usize),
}

#[derive(Default)]
struct Set {
    names: HashMap<String, Def>,
}

enum Def {
    Attrs(Set),
    Other,
}

impl Drop for Set {
    /// Without recursion: `a.a.a. ... = 1;` nests thousands of sets.
    fn drop(&mut self) {
        let mut stack: Vec<HashMap<String, Def>> = vec![std::mem::take(&mut self.names)];
        while let Some(mut names) = stack.pop() {
            for (_, def) in names.drain() {
                if let Def::Attrs(mut inner) = def {
                    stack.push(std::mem::take(&mut inner.names));
                }
            }
        }
    }
}

/// Every duplicate attribute definition in the file, in attribute sets
/// (`rec` too) and `let` blocks.
pub fn attr_conflicts(doc: &Doc) -> Vec<Conflict> {
    let mut out = Vec::new();
    for n in doc.root.descendants() {
        match n.kind() {
            SyntaxKind::NODE_ATTR_SET | SyntaxKind::NODE_LET_IN => {}
            _ => continue,
        }
        if is_merged_value(&n) {
            // Checked as part of the set that holds it.
            continue;
        }
        if let Some(s) = ast::AttrSet::cast(n.clone()) {
            build(&s, &mut out);
        } else if let Some(l) = ast::LetIn::cast(n) {
            build(&l, &mut out);
        }
    }
    out
}

/// Whether `n` is an attribute set literal that is the value of a binding in
/// another set or `let` (so `build` of that parent covers it).
fn is_merged_value(n: &rnix::SyntaxNode) -> bool {
    if n.kind() != SyntaxKind::NODE_ATTR_SET {
        return false;
    }
    let mut p = n.parent();
    while let Some(q) = &p {
        if q.kind() != SyntaxKind::NODE_PAREN {
            break;
        }
        p = q.parent();
    }
    let Some(av) = p.filter(|q| q.kind() == SyntaxKind::NODE_ATTRPATH_VALUE) else {
        return false;
    };
    matches!(
        av.parent().map(|g| g.kind()),
        Some(SyntaxKind::NODE_ATTR_SET | SyntaxKind::NODE_LET_IN)
    )
}

fn literal_set(value: &ast::Expr) -> Option<ast::AttrSet> {
    let mut v = value.clone();
    loop {
        match v {
            ast::Expr::Paren(p) => v = p.expr()?,
            ast::Expr::AttrSet(s) => return Some(s),
            _ => return None,
        }
    }
}

fn build<T: HasEntry>(set: &T, out: &mut Vec<Conflict>) -> Set {
    let mut model = Set::default();
    for entry in set.entries() {
        let range = range_of(entry.syntax());
        match entry {
            ast::Entry::AttrpathValue(av) => {
                let Some(path) = av.attrpath() else { continue };
                let keys: Vec<Option<String>> = path.attrs().map(|a| static_attr(&a)).collect();
                let def = match av.value().as_ref().and_then(literal_set) {
                    Some(inner) => Def::Attrs(build(&inner, out)),
                    None => Def::Other,
                };
                add(&mut model, &keys, def, range, out);
            }
            ast::Entry::Inherit(inh) => {
                for a in inh.attrs() {
                    let Some(name) = static_attr(&a) else {
                        continue;
                    };
                    match model.names.entry(name) {
                        Occupied(e) => out.push(Conflict {
                            name: e.key().clone(),
                            range,
                        }),
                        Vacant(e) => {
                            e.insert(Def::Other);
                        }
                    }
                }
            }
        }
    }
    model
}

fn add(
    set: &mut Set,
    keys: &[Option<String>],
    def: Def,
    range: (usize, usize),
    out: &mut Vec<Conflict>,
) {
    // A loop, not recursion: an attribute path may have thousands of parts.
    let Some((last, path)) = keys.split_last() else {
        return;
    };
    let mut set = set;
    for key in path {
        // A dynamic component: a fresh set nothing else reaches.
        let Some(name) = key else { return };
        let next = set
            .names
            .entry(name.clone())
            .or_insert_with(|| Def::Attrs(Set::default()));
        match next {
            Def::Attrs(inner) => set = inner,
            Def::Other => {
                out.push(Conflict {
                    name: name.clone(),
                    range,
                });
                return;
            }
        }
    }
    let Some(name) = last else { return };
    match (set.names.get_mut(name), def) {
        (None, def) => {
            set.names.insert(name.clone(), def);
        }
        (Some(Def::Attrs(existing)), Def::Attrs(mut new)) => {
            for (k, v) in std::mem::take(&mut new.names) {
                match existing.names.entry(k) {
                    Occupied(e) => out.push(Conflict {
                        name: e.key().clone(),
                        range,
                    }),
                    Vacant(e) => {
                        e.insert(v);
                    }
                }
            }
        }
        (Some(_), _) => out.push(Conflict {
            name: name.clone(),
            range,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(src: &str) -> Vec<String> {
        let doc = super::super::parse_rnix(src);
        attr_conflicts(&doc).into_iter().map(|c| c.name).collect()
    }

    #[test]
    fn what_nix_rejects() {
        for (src, want) in [
            ("{ a = 1; a = 2; }", "a"),
            ("{ a.b = 1; a = 2; }", "a"),
            ("{ a = 2; a.b = 1; }", "a"),
            ("{ inherit a; a = 1; }", "a"),
            ("{ a = 1; inherit a; }", "a"),
            ("{ inherit a; a.b = 1; }", "a"),
            ("{ a.b.c = 1; a = { b.d = 2; }; }", "b"),
            ("{ a = { b = 1; }; a = { b = 2; }; }", "b"),
            ("{ \"a\" = 1; a = 2; }", "a"),
            ("{ ${\"a\"} = 1; a = 2; }", "a"),
            ("let a = 1; a = 2; in a", "a"),
            ("rec { a = 1; a = 2; }", "a"),
            ("x: [ { a = 1; a = 1; } ]", "a"),
            ("{ a = { b = 1; b = 2; }; }", "b"),
            ("{ a = ({ b = 1; }); a = { b = 2; }; }", "b"),
            (
                "{ boot.binfmt.x = 1; boot = { binfmt.y = true; }; }",
                "binfmt",
            ),
        ] {
            assert_eq!(names(src), [want], "{src}");
        }
    }

    #[test]
    fn what_nix_accepts() {
        for src in [
            "{ a.b = 1; a.c = 2; }",
            "{ a = { b = 1; }; a = { c = 2; }; }",
            "{ a = { b = 1; }; a.c = 2; }",
            "{ a = { b.c = 1; }; a.b.d = 2; }",
            "{ boot = { binfmt.y = true; }; boot.binfmt.x = 1; }",
            "{ ${a} = 1; ${a} = 2; }",
            "{ x.${a}.b = 1; x.${a}.b = 2; }",
            "{ a = rec { b = 1; }; a.c = 2; }",
            "{ a = { }; b = { a = 1; }; }",
            "let a = { b = 1; }; in { a = a; inherit (a) b; }",
            "{ a = let b = 1; in b; b = { b = 1; }; }",
        ] {
            assert!(names(src).is_empty(), "{src}: {:?}", names(src));
        }
    }
}
