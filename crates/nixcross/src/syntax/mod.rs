//! The only module that imports rnix and rowan.
//!
//! It parses Nix text into an immutable tree and offers small, stable views
//! over it ([`Node`], [`AttrSetView`], [`LetView`], ...) that the rest of the
//! library uses to find things and to compute byte ranges. Nothing here
//! mutates a tree: edits are planned as text (see [`crate::edit`]).
//!
//! Also here: the text conventions of a file (indentation unit, line ending,
//! comments around an entry) and Nix quoting and escaping.

use rnix::ast::{self, HasEntry};
use rnix::{SyntaxKind, SyntaxNode};
use rowan::ast::AstNode;

use crate::error::{Error, Result};

mod conflicts;
pub mod limits;
pub mod text;

pub use conflicts::{attr_conflicts, Conflict};
pub use text::*;

/// A parsed file that has no syntax errors.
#[derive(Clone)]
pub struct Doc {
    root: SyntaxNode,
}

impl std::fmt::Debug for Doc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Doc").finish_non_exhaustive()
    }
}

fn parse_error_range(err: &rnix::ParseError, len: usize) -> (usize, usize) {
    use rnix::ParseError as P;
    let r = match err {
        P::Unexpected(r)
        | P::UnexpectedExtra(r)
        | P::UnexpectedWanted(_, r, _)
        | P::UnexpectedDoubleBind(r)
        | P::DuplicatedArgs(r, _) => Some(*r),
        _ => None,
    };
    r.map_or((len, len), |r| (r.start().into(), r.end().into()))
}

fn parse_error_message(err: &rnix::ParseError) -> String {
    use rnix::ParseError as P;
    match err {
        P::Unexpected(_) => "syntax error: unexpected input".into(),
        P::UnexpectedExtra(_) => "syntax error: unexpected text after the expression".into(),
        P::UnexpectedWanted(got, _, want) => {
            let want: Vec<String> = want.iter().map(|k| token_name(*k)).collect();
            format!(
                "syntax error: found {}, expected {}",
                token_name(*got),
                want.join(" or ")
            )
        }
        P::UnexpectedDoubleBind(_) => "syntax error: a pattern is bound twice".into(),
        P::UnexpectedEOF => "syntax error: unexpected end of file".into(),
        P::UnexpectedEOFWanted(want) => {
            let want: Vec<String> = want.iter().map(|k| token_name(*k)).collect();
            format!(
                "syntax error: unexpected end of file, expected {}",
                want.join(" or ")
            )
        }
        P::DuplicatedArgs(_, name) => format!("duplicated function argument `{name}`"),
        P::RecursionLimitExceeded => "the expression is nested too deeply".into(),
        other => format!("syntax error: {other}"),
    }
}

fn token_name(kind: SyntaxKind) -> String {
    use SyntaxKind::*;
    let s = match kind {
        TOKEN_SEMICOLON => "`;`",
        TOKEN_R_BRACE => "`}`",
        TOKEN_L_BRACE => "`{`",
        TOKEN_R_BRACK => "`]`",
        TOKEN_L_BRACK => "`[`",
        TOKEN_R_PAREN => "`)`",
        TOKEN_L_PAREN => "`(`",
        TOKEN_ASSIGN => "`=`",
        TOKEN_COLON => "`:`",
        TOKEN_COMMA => "`,`",
        TOKEN_IN => "`in`",
        TOKEN_IDENT => "an identifier",
        TOKEN_STRING_END => "the end of a string",
        _ => return format!("{kind:?}").to_lowercase().replace('_', " "),
    };
    s.to_string()
}

/// Parse `src`. A file with any syntax error is refused with the location of
/// the first one.
pub fn parse(src: &str) -> Result<Doc> {
    // Size, depth and token runs first: rnix recurses and takes quadratic
    // time on what these refuse (see `limits`).
    limits::check(src)?;
    let parsed = rnix::Root::parse(src);
    if let Some(err) = parsed.errors().first() {
        return Err(Error::parse(
            parse_error_message(err),
            parse_error_range(err, src.len()),
        ));
    }
    let root = parsed.syntax();
    // rnix accepts search paths Nix 2.8's lexer does not (`</nixos>`,
    // `<a//b>`): `<` PATH_CHAR+ (`/` PATH_CHAR+)* `>` only.
    for t in root
        .descendants_with_tokens()
        .filter_map(|e| e.into_token())
    {
        if t.kind() == SyntaxKind::TOKEN_PATH_SEARCH && !is_nix_search_path(t.text()) {
            return Err(Error::parse(
                format!(
                    "syntax error: `{}` is not a search path Nix accepts (`<name>` or `<name/sub/path>`)",
                    t.text()
                ),
                range_of_token(&t),
            ));
        }
    }
    Ok(Doc { root })
}

fn range_of_token(t: &rnix::SyntaxToken) -> (usize, usize) {
    let r = t.text_range();
    (r.start().into(), r.end().into())
}

/// Nix 2.8's `SPATH`: `<` then parts of `[A-Za-z0-9._+-]` joined by `/`, then `>`.
fn is_nix_search_path(text: &str) -> bool {
    let Some(inner) = text.strip_prefix('<').and_then(|t| t.strip_suffix('>')) else {
        return false;
    };
    inner.split('/').all(|part| {
        !part.is_empty()
            && part
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '+'))
    })
}

/// Parse and print: the text a tree reproduces (always the input, for rnix).
pub fn reprint(src: &str) -> String {
    rnix::Root::parse(src).syntax().to_string()
}

/// Parse and throw the tree away; only rnix's parse time (benchmarks use it).
pub fn parse_only(src: &str) -> usize {
    rnix::Root::parse(src).errors().len()
}

impl Doc {
    /// The top-level expression.
    pub fn expr(&self) -> Option<Node> {
        ast::Root::cast(self.root.clone())
            .and_then(|r| r.expr())
            .map(|e| Node(e.syntax().clone()))
    }

    /// Every identifier use named `name` in the file (references, not binders).
    pub fn count_references(&self, name: &str) -> usize {
        self.root
            .descendants()
            .filter(|n| n.kind() == SyntaxKind::NODE_IDENT && n.text() == name)
            .filter(|n| {
                // Not a binder: attrpath keys, pattern names, inherit names are binders.
                let parent = n.parent().map(|p| p.kind());
                !matches!(
                    parent,
                    Some(SyntaxKind::NODE_ATTRPATH)
                        | Some(SyntaxKind::NODE_PAT_ENTRY)
                        | Some(SyntaxKind::NODE_PAT_BIND)
                        | Some(SyntaxKind::NODE_IDENT_PARAM)
                )
            })
            .count()
    }
}

/// The shape of an expression, coarsely.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    AttrSet,
    RecAttrSet,
    LetIn,
    Lambda,
    Apply,
    Select,
    Ident,
    Str,
    List,
    With,
    BinOp,
    Update,
    Concat,
    Paren,
    Path,
    Literal,
    IfElse,
    Assert,
    Other,
}

/// An expression node. Cheap to clone.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Node(SyntaxNode);

impl std::fmt::Debug for Node {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Node({:?} {:?})", self.kind(), self.range())
    }
}

fn range_of(n: &SyntaxNode) -> (usize, usize) {
    let r = n.text_range();
    (r.start().into(), r.end().into())
}

fn node<N: AstNode<Language = rnix::NixLanguage>>(n: &N) -> Node {
    Node(n.syntax().clone())
}

impl Node {
    /// Byte range of the expression (without surrounding comments).
    pub fn range(&self) -> (usize, usize) {
        range_of(&self.0)
    }
    pub fn start(&self) -> usize {
        self.range().0
    }
    pub fn end(&self) -> usize {
        self.range().1
    }
    pub fn text(&self) -> String {
        self.0.to_string()
    }

    pub fn kind(&self) -> Kind {
        use SyntaxKind::*;
        match self.0.kind() {
            NODE_ATTR_SET => {
                if ast::AttrSet::cast(self.0.clone()).is_some_and(|s| s.rec_token().is_some()) {
                    Kind::RecAttrSet
                } else {
                    Kind::AttrSet
                }
            }
            NODE_LET_IN => Kind::LetIn,
            NODE_LAMBDA => Kind::Lambda,
            NODE_APPLY => Kind::Apply,
            NODE_SELECT => Kind::Select,
            NODE_IDENT => Kind::Ident,
            NODE_STRING => Kind::Str,
            NODE_LIST => Kind::List,
            NODE_WITH => Kind::With,
            NODE_BIN_OP => match ast::BinOp::cast(self.0.clone()).and_then(|b| b.operator()) {
                Some(ast::BinOpKind::Update) => Kind::Update,
                Some(ast::BinOpKind::Concat) => Kind::Concat,
                _ => Kind::BinOp,
            },
            NODE_PAREN => Kind::Paren,
            NODE_PATH_ABS | NODE_PATH_REL | NODE_PATH_HOME | NODE_PATH_SEARCH => Kind::Path,
            NODE_LITERAL => Kind::Literal,
            NODE_IF_ELSE => Kind::IfElse,
            NODE_ASSERT => Kind::Assert,
            _ => Kind::Other,
        }
    }

    /// The expression inside any number of parentheses.
    pub fn unparen(&self) -> Node {
        let mut cur = self.clone();
        while let Some(p) = ast::Paren::cast(cur.0.clone()) {
            match p.expr() {
                Some(e) => cur = node(&e),
                None => break,
            }
        }
        cur
    }

    /// The name of an identifier expression.
    pub fn ident(&self) -> Option<String> {
        ast::Ident::cast(self.0.clone()).map(|i| i.syntax().text().to_string())
    }

    /// The value of a string literal without interpolation (`"x"` or `''x''`).
    pub fn string_literal(&self) -> Option<String> {
        let s = ast::Str::cast(self.0.clone())?;
        let mut out = String::new();
        for part in s.normalized_parts() {
            match part {
                ast::InterpolPart::Literal(l) => out.push_str(&l),
                ast::InterpolPart::Interpolation(_) => return None,
            }
        }
        Some(out)
    }

    /// True for a `"..."` string (not `''...''`).
    pub fn is_double_quoted(&self) -> bool {
        ast::Str::cast(self.0.clone())
            .is_some_and(|s| s.syntax().text().to_string().starts_with('"'))
    }

    /// A reference such as `nixpkgs.lib.nixosSystem` as its names: an
    /// identifier followed by static selections, without `or`.
    pub fn reference(&self) -> Option<Vec<String>> {
        let n = self.unparen();
        if let Some(name) = n.ident() {
            return Some(vec![name]);
        }
        let sel = ast::Select::cast(n.0.clone())?;
        if sel.default_expr().is_some() {
            return None;
        }
        let mut out = node(&sel.expr()?).reference()?;
        for attr in sel.attrpath()?.attrs() {
            out.push(static_attr(&attr)?);
        }
        Some(out)
    }

    /// `f x` as `(f, x)`.
    pub fn apply(&self) -> Option<(Node, Node)> {
        let a = ast::Apply::cast(self.0.clone())?;
        Some((node(&a.lambda()?), node(&a.argument()?)))
    }

    /// A function application flattened: `f a b` as `(f, [a, b])`.
    pub fn call(&self) -> Option<(Node, Vec<Node>)> {
        let (mut f, arg) = self.apply()?;
        let mut args = vec![arg];
        while let Some((g, a)) = f.unparen().apply() {
            args.push(a);
            f = g;
        }
        args.reverse();
        Some((f, args))
    }

    pub fn attrset(&self) -> Option<AttrSetView> {
        let s = ast::AttrSet::cast(self.0.clone())?;
        Some(AttrSetView {
            node: self.clone(),
            rec: s.rec_token().is_some(),
            entries: entries_of(&s),
            open: s
                .l_curly_token()
                .map(|t| usize::from(t.text_range().start()))?,
            close: s
                .r_curly_token()
                .map(|t| usize::from(t.text_range().start()))?,
        })
    }

    pub fn let_in(&self) -> Option<LetView> {
        let l = ast::LetIn::cast(self.0.clone())?;
        Some(LetView {
            node: self.clone(),
            entries: entries_of(&l),
            let_kw: l.let_token().map(|t| usize::from(t.text_range().start()))?,
            in_kw: l.in_token().map(|t| usize::from(t.text_range().start()))?,
            body: node(&l.body()?),
        })
    }

    pub fn lambda(&self) -> Option<LambdaView> {
        let l = ast::Lambda::cast(self.0.clone())?;
        let param = match l.param()? {
            ast::Param::IdentParam(i) => Param::Ident {
                name: i.ident()?.syntax().text().to_string(),
            },
            ast::Param::Pattern(p) => {
                let mut names = Vec::new();
                for e in p.pat_entries() {
                    let id = e.ident()?;
                    names.push(Formal {
                        name: id.syntax().text().to_string(),
                        range: range_of(e.syntax()),
                        default: e.default().map(|d| node(&d)),
                    });
                }
                let text_start = usize::from(p.syntax().text_range().start());
                let open = p
                    .syntax()
                    .children_with_tokens()
                    .find(|c| c.kind() == SyntaxKind::TOKEN_L_BRACE)
                    .map_or(text_start, |t| t.text_range().start().into());
                let close = p
                    .syntax()
                    .children_with_tokens()
                    .find(|c| c.kind() == SyntaxKind::TOKEN_R_BRACE)
                    .map(|t| usize::from(t.text_range().start()))?;
                Param::Pattern {
                    formals: names,
                    bind: p
                        .pat_bind()
                        .and_then(|b| b.ident())
                        .map(|i| i.syntax().text().to_string()),
                    ellipsis: p.ellipsis_token().is_some(),
                    open,
                    close,
                }
            }
        };
        Some(LambdaView {
            param,
            body: node(&l.body()?),
        })
    }

    pub fn list(&self) -> Option<ListView> {
        let l = ast::List::cast(self.0.clone())?;
        Some(ListView {
            node: self.clone(),
            items: l.items().map(|i| node(&i)).collect(),
            open: l
                .l_brack_token()
                .map(|t| usize::from(t.text_range().start()))?,
            close: l
                .r_brack_token()
                .map(|t| usize::from(t.text_range().start()))?,
        })
    }

    /// Both sides of a binary operator (`a // b`, `a ++ b`, ...).
    pub fn binop(&self) -> Option<(Node, Node)> {
        let b = ast::BinOp::cast(self.0.clone())?;
        Some((node(&b.lhs()?), node(&b.rhs()?)))
    }

    /// The body of `with x; body`.
    pub fn with_body(&self) -> Option<Node> {
        ast::With::cast(self.0.clone())
            .and_then(|w| w.body())
            .map(|b| node(&b))
    }
}

fn static_attr(attr: &ast::Attr) -> Option<String> {
    match attr {
        ast::Attr::Ident(i) => Some(i.syntax().text().to_string()),
        ast::Attr::Str(s) => node(s).string_literal(),
        ast::Attr::Dynamic(d) => {
            // `${"x"}` is static too.
            d.expr().and_then(|e| node(&e).string_literal())
        }
    }
}

fn entries_of<T: HasEntry>(set: &T) -> Vec<Entry> {
    let mut out = Vec::new();
    for entry in set.entries() {
        match entry {
            ast::Entry::AttrpathValue(av) => {
                let Some(path) = av.attrpath() else { continue };
                let Some(value) = av.value() else { continue };
                let keys: Option<Vec<String>> = path.attrs().map(|a| static_attr(&a)).collect();
                let static_prefix = path.attrs().map_while(|a| static_attr(&a)).collect();
                out.push(Entry::Binding(Binding {
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

/// `inherit (from) a b;`
#[derive(Debug, Clone)]
pub struct Inherit {
    pub from: Option<Node>,
    pub names: Vec<(String, (usize, usize))>,
    pub range: (usize, usize),
}

#[derive(Debug, Clone)]
pub enum Entry {
    Binding(Binding),
    Inherit(Inherit),
}

impl Entry {
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

#[derive(Debug, Clone)]
pub enum Param {
    /// `x: ...`
    Ident { name: String },
    /// `{ a, b ? 1, ... }@args: ...`
    Pattern {
        formals: Vec<Formal>,
        bind: Option<String>,
        ellipsis: bool,
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

#[cfg(test)]
mod tests {
    use super::*;

    fn expr(src: &str) -> Node {
        parse(src).unwrap().expr().unwrap()
    }

    #[test]
    fn parse_errors_have_locations() {
        let err = parse("{ a = 1 }").unwrap_err();
        assert_eq!(err.kind, crate::ErrorKind::Parse);
        assert!(err.message.contains("`;`"), "{}", err.message);
        assert_eq!(err.line_col("{ a = 1 }"), Some((1, 9)));
        let err = parse("{ a = ").unwrap_err();
        assert!(err.message.contains("end of file"), "{}", err.message);
    }

    #[test]
    fn references_and_literals() {
        let e = expr("inputs.nixpkgs.lib.nixosSystem");
        assert_eq!(
            e.reference().unwrap(),
            vec!["inputs", "nixpkgs", "lib", "nixosSystem"]
        );
        assert_eq!(expr(r#""a\"b""#).string_literal().as_deref(), Some("a\"b"));
        assert_eq!(expr(r#""a${b}""#).string_literal(), None);
        assert_eq!(expr("(x)").unparen().ident().as_deref(), Some("x"));
        assert!(expr("a.b or c").reference().is_none());
    }

    #[test]
    fn attrset_entries_keep_paths_and_ranges() {
        let src = r#"{ a.b = 1; "c d" = 2; inherit (x) y z; ${e} = 3; }"#;
        let set = expr(src).attrset().unwrap();
        assert_eq!(set.entries.len(), 4);
        match &set.entries[0] {
            Entry::Binding(b) => {
                assert_eq!(b.path.as_deref().unwrap(), ["a", "b"]);
                assert_eq!(&src[b.range.0..b.range.1], "a.b = 1;");
            }
            _ => panic!(),
        }
        assert!(set.entries[1].defines("c d"));
        assert!(set.entries[2].defines("z"));
        assert!(set.entries[3].is_dynamic());
        let dynamic = expr("{ users.${u}.x = 1; }").attrset().unwrap();
        match &dynamic.entries[0] {
            Entry::Binding(b) => {
                assert!(b.path.is_none());
                assert_eq!(b.static_prefix, ["users"]);
            }
            _ => panic!(),
        }
        assert_eq!(&src[set.open..set.open + 1], "{");
        assert_eq!(&src[set.close..set.close + 1], "}");
    }

    #[test]
    fn lambda_patterns() {
        let e = expr("inputs@{ self, nixpkgs ? 1, ... }: x");
        let l = e.lambda().unwrap();
        match &l.param {
            Param::Pattern {
                formals,
                bind,
                ellipsis,
                ..
            } => {
                assert_eq!(formals.len(), 2);
                assert_eq!(bind.as_deref(), Some("inputs"));
                assert!(*ellipsis);
                assert!(formals[1].default.is_some());
            }
            _ => panic!(),
        }
        assert_eq!(l.param.names(), ["self", "nixpkgs", "inputs"]);
    }

    #[test]
    fn calls_flatten() {
        let (f, args) = expr("mkHost \"a\" { }").call().unwrap();
        assert_eq!(f.ident().as_deref(), Some("mkHost"));
        assert_eq!(args.len(), 2);
    }

    #[test]
    fn reprint_is_identity() {
        for s in ["{ a = 1; }\r\n", "# c\n\t{ }", "let in", "{ a = "] {
            assert_eq!(reprint(s), s);
        }
    }
}
