//! What an expression can reach, read from its text alone: the names it uses
//! that are bound outside it, and the relative path literals in it. A
//! flake's view uses it to skip configurations that cannot share text with
//! the one being edited (see `flake::reach`); anything this reading cannot
//! vouch for is reported as a reason, never guessed.

use rnix::ast::{self, HasEntry};
use rnix::{SyntaxKind, SyntaxNode};
use rowan::ast::AstNode;

use super::Node;

/// Where a name used in an expression is bound.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Binder {
    /// By a `let` or `rec { }` outside the expression: the values it may
    /// take (each binding whose first key is the name, or the set an
    /// `inherit (set) name;` takes it from).
    Values(Vec<Node>),
    /// By a parameter (or the `@` name) of a function outside the expression.
    Param {
        /// The function.
        lambda: Node,
        /// The name.
        name: String,
    },
    /// Nowhere in the file: a built-in, or an error.
    Builtin,
}

/// The text of an expression, as far as it reaches out of it.
#[derive(Debug, Clone, Default)]
pub struct Footprint {
    /// The binders of the names it uses that are bound outside it.
    pub binders: Vec<Binder>,
    /// Its relative path literals (`./x.nix`), as written.
    pub paths: Vec<String>,
    /// Why the text alone cannot tell what it reaches, when it cannot: a
    /// `with` around it (names then come from a value), `+` or an
    /// interpolation (which can make paths the text does not show).
    pub unknown: Option<&'static str>,
}

/// The footprint of `expr`.
pub fn footprint(expr: &Node) -> Footprint {
    let root = &expr.0;
    let mut fp = Footprint::default();
    for n in root.descendants() {
        match n.kind() {
            SyntaxKind::NODE_INTERPOL => fp.unknown = Some("an interpolation"),
            SyntaxKind::NODE_LEGACY_LET => fp.unknown = Some("a `let { }`"),
            SyntaxKind::NODE_BIN_OP
                if ast::BinOp::cast(n.clone()).and_then(|b| b.operator())
                    == Some(ast::BinOpKind::Add) =>
            {
                fp.unknown = Some("`+`, which can build paths");
            }
            SyntaxKind::NODE_PATH_REL => fp.paths.push(n.text().to_string()),
            SyntaxKind::NODE_IDENT if is_reference(&n) => {
                let name = n.text().to_string();
                match resolve(&n, &name, root) {
                    Some(Resolved::Inside) => {}
                    Some(Resolved::Outside(b)) => {
                        if !fp.binders.contains(&b) {
                            fp.binders.push(b);
                        }
                    }
                    None => fp.unknown = Some("a `with` scope"),
                }
            }
            _ => {}
        }
        if fp.unknown.is_some() {
            break;
        }
    }
    fp
}

/// Whether an identifier node is a use of a name (not a key, a parameter or
/// an attribute `inherit (set)` takes).
fn is_reference(n: &SyntaxNode) -> bool {
    match n.parent().map(|p| (p.kind(), p)) {
        Some((
            SyntaxKind::NODE_ATTRPATH
            | SyntaxKind::NODE_PAT_ENTRY
            | SyntaxKind::NODE_PAT_BIND
            | SyntaxKind::NODE_IDENT_PARAM,
            _,
        )) => false,
        Some((SyntaxKind::NODE_INHERIT, p)) => {
            ast::Inherit::cast(p).is_some_and(|i| i.from().is_none())
        }
        _ => true,
    }
}

enum Resolved {
    /// Bound inside the walked expression.
    Inside,
    Outside(Binder),
}

/// The binder of the use `ident` of `name`, walking out of `root`'s text;
/// `None` when a `with` scope lies in the way.
fn resolve(ident: &SyntaxNode, name: &str, root: &SyntaxNode) -> Option<Resolved> {
    let mut inside = ident != root;
    // `inherit name;` binds name to the name outside its own scope.
    let mut skip_scope_of_inherit = ident
        .parent()
        .filter(|p| p.kind() == SyntaxKind::NODE_INHERIT)
        .and_then(|p| p.parent());
    for anc in ident.ancestors().skip(1) {
        let here = |b: Binder| {
            Some(if inside {
                Resolved::Inside
            } else {
                Resolved::Outside(b)
            })
        };
        if skip_scope_of_inherit.as_ref() == Some(&anc) {
            skip_scope_of_inherit = None;
        } else {
            match anc.kind() {
                SyntaxKind::NODE_LAMBDA => {
                    if let Some(l) = ast::Lambda::cast(anc.clone()) {
                        if lambda_binds(&l, name) {
                            return here(Binder::Param {
                                lambda: Node(anc.clone()),
                                name: name.to_string(),
                            });
                        }
                    }
                }
                SyntaxKind::NODE_LET_IN => {
                    if let Some(l) = ast::LetIn::cast(anc.clone()) {
                        if let Some(values) = scope_binds(&l, name) {
                            return here(Binder::Values(values));
                        }
                    }
                }
                SyntaxKind::NODE_ATTR_SET => {
                    if let Some(s) = ast::AttrSet::cast(anc.clone()) {
                        if is_rec(&anc) {
                            if let Some(values) = scope_binds(&s, name) {
                                return here(Binder::Values(values));
                            }
                        }
                    }
                }
                // A `with` inside: its namespace is walked too, and a name
                // no `let` or parameter binds comes from it or is a
                // built-in. One outside gives names the text cannot see.
                SyntaxKind::NODE_WITH if !inside => return None,
                _ => {}
            }
        }
        if &anc == root {
            inside = false;
        }
    }
    Some(Resolved::Outside(Binder::Builtin))
}

/// Whether a set is `rec { }`: its first token (`rec_token` looks through
/// every child, which is slow for a set of thousands of entries).
fn is_rec(set: &SyntaxNode) -> bool {
    set.children_with_tokens()
        .filter_map(|c| c.into_token())
        .find(|t| !t.kind().is_trivia())
        .is_some_and(|t| t.kind() == SyntaxKind::TOKEN_REC)
}

fn lambda_binds(l: &ast::Lambda, name: &str) -> bool {
    match l.param() {
        Some(ast::Param::IdentParam(p)) => p.ident().is_some_and(|i| i.syntax().text() == name),
        Some(ast::Param::Pattern(p)) => {
            p.pat_bind()
                .and_then(|b| b.ident())
                .is_some_and(|i| i.syntax().text() == name)
                || p.pat_entries()
                    .any(|e| e.ident().is_some_and(|i| i.syntax().text() == name))
        }
        None => false,
    }
}

/// The values a `let` or `rec { }` binds `name` to, or `None` when it does
/// not bind it (an `inherit name;` binds it to the name outside: `None`).
fn scope_binds<T: HasEntry>(scope: &T, name: &str) -> Option<Vec<Node>> {
    let mut values = Vec::new();
    for entry in scope.entries() {
        match entry {
            ast::Entry::AttrpathValue(av) => {
                let first = av.attrpath().and_then(|p| p.attrs().next());
                let binds = match first {
                    Some(ast::Attr::Ident(i)) => i.syntax().text() == name,
                    Some(other) => super::static_attr(&other).is_none_or(|k| k == name),
                    None => false,
                };
                if binds {
                    if let Some(v) = av.value() {
                        values.push(Node(v.syntax().clone()));
                    }
                }
            }
            ast::Entry::Inherit(inh) => {
                let named = inh
                    .attrs()
                    .any(|a| super::static_attr(&a).as_deref() == Some(name));
                if named {
                    if let Some(from) = inh.from().and_then(|f| f.expr()) {
                        values.push(Node(from.syntax().clone()));
                    }
                }
            }
        }
    }
    (!values.is_empty()).then_some(values)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(src: &str, what: &str) -> Node {
        let doc = super::super::parse(src).unwrap();
        let start = src.find(what).unwrap();
        let range =
            rowan::TextRange::new((start as u32).into(), ((start + what.len()) as u32).into());
        match doc.root.covering_element(range) {
            rowan::NodeOrToken::Node(n) => Node(n),
            rowan::NodeOrToken::Token(t) => Node(t.parent().unwrap()),
        }
    }

    fn texts(b: &Binder) -> Vec<String> {
        match b {
            Binder::Values(v) => v.iter().map(|n| n.0.text().to_string()).collect(),
            Binder::Param { name, .. } => vec![format!("param {name}")],
            Binder::Builtin => vec!["builtin".into()],
        }
    }

    #[test]
    fn names_bound_outside_and_paths() {
        let src = "{ nixpkgs, self, ... }: let sys = \"x\"; mk = n: n; in rec { shared = 1; a = nixpkgs.lib.nixosSystem { system = sys; modules = [ ./hosts/a.nix (x: x) shared ]; y = map mk [ ]; }; }";
        let fp = footprint(&at(src, "nixpkgs.lib.nixosSystem { system = sys; modules = [ ./hosts/a.nix (x: x) shared ]; y = map mk [ ]; }"));
        assert_eq!(fp.unknown, None);
        assert_eq!(fp.paths, ["./hosts/a.nix"]);
        let all: Vec<Vec<String>> = fp.binders.iter().map(texts).collect();
        assert_eq!(
            all,
            [
                vec!["param nixpkgs".to_string()],
                vec!["\"x\"".into()],
                vec!["1".into()],
                vec!["builtin".into()],
                vec!["n: n".into()],
            ]
        );
    }

    #[test]
    fn what_the_text_cannot_tell() {
        for (src, what) in [
            ("x: with x; { a = b; }", "{ a = b; }"),
            ("let a = 1; in with a; { a = b; }", "{ a = b; }"),
            ("x: { a = ./. + \"/b\"; }", "./. + \"/b\""),
            ("x: { a = ./${x}.nix; }", "./${x}.nix"),
            ("x: { a = \"${x}\"; }", "\"${x}\""),
        ] {
            assert!(footprint(&at(src, what)).unknown.is_some(), "{src}");
        }
    }

    #[test]
    fn a_with_inside_is_walked() {
        let fp = footprint(&at("x: { a = with x; b; }", "with x; b"));
        assert_eq!(fp.unknown, None);
        let all: Vec<Vec<String>> = fp.binders.iter().map(texts).collect();
        assert_eq!(all, [vec!["param x".to_string()], vec!["builtin".into()]]);
    }

    #[test]
    fn inherit_takes_the_name_outside() {
        let src = "let a = 1; in let inherit a; b = { inherit a; }; in b";
        let fp = footprint(&at(src, "{ inherit a; }"));
        let all: Vec<Vec<String>> = fp.binders.iter().map(texts).collect();
        // `a` of the inner let is the outer `a`.
        assert_eq!(all, [vec!["1".to_string()]]);
    }
}
