//! Views over syntax nodes: the entries of an attribute set or a `let`
//! (bindings and `inherit`s, with the ranges an edit needs), and the
//! attribute set, `let`, function, list and selection views [`Node`]'s
//! methods give.

use rnix::ast::{self, HasEntry};
use rowan::ast::AstNode;

use super::{expr, node, range_of, Key, Node};

/// What a default value is the default of ([`Node::default_of`]).
#[derive(Debug, Clone)]
pub enum DefaultOf {
    /// `{ name ? <default> }: ...`: the formal `name` of `lambda`.
    Formal { name: String, lambda: Node },
    /// `base.keys or <default>`.
    Select { base: Node, keys: Vec<String> },
}

pub(super) fn static_attr(attr: &ast::Attr) -> Option<String> {
    match attr {
        ast::Attr::Ident(i) => Some(match i.ident_token() {
            Some(t) => t.text().to_string(),
            None => i.syntax().text().to_string(),
        }),
        ast::Attr::Str(s) => node(s).string_literal(),
        ast::Attr::Dynamic(d) => {
            // `${"x"}` is static too.
            d.expr().and_then(|e| node(&e).string_literal())
        }
    }
}

pub(super) fn key_at(attr: &ast::Attr) -> KeyAt {
    KeyAt {
        key: expr::key_of(attr),
        range: range_of(attr.syntax()),
    }
}

pub(super) fn entries_of<T: HasEntry>(set: &T) -> Vec<Entry> {
    let mut out = Vec::new();
    for entry in set.entries() {
        match entry {
            ast::Entry::AttrpathValue(av) => {
                let Some(path) = av.attrpath() else { continue };
                let Some(value) = av.value() else { continue };
                let statics: Vec<Option<String>> = path.attrs().map(|a| static_attr(&a)).collect();
                let static_prefix = statics.iter().map_while(Clone::clone).collect();
                let keys: Option<Vec<String>> = statics.into_iter().collect();
                out.push(Entry::Binding(Binding {
                    node: Node(av.syntax().clone()),
                    keys: path.attrs().map(|a| expr::key_of(&a)).collect(),
                    key_ranges: path.attrs().map(|a| range_of(a.syntax())).collect(),
                    path: keys,
                    static_prefix,
                    key_range: range_of(path.syntax()),
                    value: node(&value),
                    range: range_of(av.syntax()),
                }));
            }
            ast::Entry::Inherit(inh) => {
                let from = inh.from().and_then(|f| f.expr()).map(|e| node(&e));
                let names = inh
                    .attrs()
                    .filter_map(|a| {
                        let r = range_of(a.syntax());
                        static_attr(&a).map(|n| (n, r))
                    })
                    .collect();
                out.push(Entry::Inherit(Inherit {
                    node: Node(inh.syntax().clone()),
                    from,
                    names,
                    range: range_of(inh.syntax()),
                }));
            }
        }
    }
    out
}

/// `a.b.c = value;`
#[derive(Debug, Clone)]
pub struct Binding {
    /// The whole entry.
    pub node: Node,
    /// The key's parts, static or computed.
    pub keys: Vec<Key>,
    /// Where each of `keys` is written (`${...}` and quotes included).
    pub key_ranges: Vec<(usize, usize)>,
    /// The key's names; `None` when a part is dynamic (`${x}`).
    pub path: Option<Vec<String>>,
    /// The static names before the first dynamic part (all of them when
    /// `path` is `Some`): `users.${u}.x` gives `["users"]`.
    pub static_prefix: Vec<String>,
    pub key_range: (usize, usize),
    pub value: Node,
    /// The whole entry, from the key to the `;` inclusive.
    pub range: (usize, usize),
}

/// A part of an attribute path with where it is written (`${...}` and
/// quotes included), for edits that replace one part.
#[derive(Debug, Clone)]
pub struct KeyAt {
    pub key: Key,
    pub range: (usize, usize),
}

impl KeyAt {
    /// The name, when static.
    pub fn name(&self) -> Option<&str> {
        match &self.key {
            Key::Static(name) => Some(name),
            Key::Dynamic(_) => None,
        }
    }
}

/// `base.a.${b}.c`: an attribute selection, without `or`.
#[derive(Debug, Clone)]
pub struct SelectView {
    pub base: Node,
    pub keys: Vec<KeyAt>,
}

/// `inherit (from) a b;`
#[derive(Debug, Clone)]
pub struct Inherit {
    /// The whole entry.
    pub node: Node,
    pub from: Option<Node>,
    pub names: Vec<(String, (usize, usize))>,
    pub range: (usize, usize),
}

/// One entry of an attribute set or a `let`.
#[derive(Debug, Clone)]
pub enum Entry {
    /// `path = value;`
    Binding(Binding),
    /// `inherit (from) a b;`
    Inherit(Inherit),
}

impl Entry {
    /// The whole entry's byte range.
    pub fn range(&self) -> (usize, usize) {
        match self {
            Entry::Binding(b) => b.range,
            Entry::Inherit(i) => i.range,
        }
    }
    /// The first name this entry defines, if static.
    pub fn first_name(&self) -> Option<&str> {
        match self {
            Entry::Binding(b) => b.path.as_ref().and_then(|p| p.first()).map(String::as_str),
            Entry::Inherit(i) => i.names.first().map(|(n, _)| n.as_str()),
        }
    }
    /// Whether this entry defines `name` at its top level.
    pub fn defines(&self, name: &str) -> bool {
        match self {
            Entry::Binding(b) => b.path.as_ref().is_some_and(|p| p[0] == name),
            Entry::Inherit(i) => i.names.iter().any(|(n, _)| n == name),
        }
    }
    /// Whether it is a binding whose path has a dynamic part (`${...}`).
    pub fn is_dynamic(&self) -> bool {
        matches!(self, Entry::Binding(b) if b.path.is_none())
    }
}

/// `{ ... }` or `rec { ... }`.
#[derive(Debug, Clone)]
pub struct AttrSetView {
    pub node: Node,
    pub rec: bool,
    pub entries: Vec<Entry>,
    /// Offset of `{`.
    pub open: usize,
    /// Offset of `}`.
    pub close: usize,
}

/// `let ...; in body`.
#[derive(Debug, Clone)]
pub struct LetView {
    pub node: Node,
    pub entries: Vec<Entry>,
    /// Offset of `let`.
    pub let_kw: usize,
    /// Offset of `in`.
    pub in_kw: usize,
    pub body: Node,
}

/// A formal argument `name ? default`.
#[derive(Debug, Clone)]
pub struct Formal {
    pub name: String,
    pub range: (usize, usize),
    pub default: Option<Node>,
}

/// A function's parameter.
#[derive(Debug, Clone)]
pub enum Param {
    /// `x: ...`
    Ident {
        /// The parameter's name.
        name: String,
    },
    /// `{ a, b ? 1, ... }@args: ...`
    Pattern {
        /// The formals, in order.
        formals: Vec<Formal>,
        /// The `@` name, when there is one.
        bind: Option<String>,
        /// Offset of the closing `...`, when there is one.
        ellipsis: Option<usize>,
        /// Offset of `{`.
        open: usize,
        /// Offset of `}`.
        close: usize,
    },
}

impl Param {
    /// Every name the parameter binds.
    pub fn names(&self) -> Vec<&str> {
        match self {
            Param::Ident { name } => vec![name.as_str()],
            Param::Pattern { formals, bind, .. } => formals
                .iter()
                .map(|f| f.name.as_str())
                .chain(bind.as_deref())
                .collect(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct LambdaView {
    pub param: Param,
    pub body: Node,
}

/// `[ ... ]`.
#[derive(Debug, Clone)]
pub struct ListView {
    pub node: Node,
    pub items: Vec<Node>,
    /// Offset of `[`.
    pub open: usize,
    /// Offset of `]`.
    pub close: usize,
}
