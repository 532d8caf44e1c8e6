//! The only module that imports rnix and rowan.
//!
//! It parses Nix text into an immutable tree and offers small, stable views
//! over it ([`Node`], [`AttrSetView`], [`LetView`], ...) that the rest of the
//! library uses to find things and to compute byte ranges. Nothing here
//! mutates a tree: edits are planned as text (see [`crate::edit`]).
//!
//! Also here: the text conventions of a file (indentation unit, line ending,
//! comments around an entry) and Nix quoting and escaping.

use rnix::ast;
use rnix::{SyntaxKind, SyntaxNode};
use rowan::ast::AstNode;

use crate::error::{Error, Result};

mod conflicts;
mod expr;
mod keep;
pub mod limits;
mod nix_rules;
pub mod reach;
pub mod text;
mod views;

pub use conflicts::attr_conflicts;
pub use expr::{BinOp, Expr, Key, Part, PathKind};
pub(crate) use keep::trees_kept;
pub use keep::KeepTreesUntilExit;
pub use text::*;
pub use views::*;
use views::{entries_of, key_at, static_attr};

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
    let doc = Doc { root };
    nix_rules::check(&doc, src)?;
    // rnix accepts search paths Nix 2.8's lexer does not (`</nixos>`,
    // `<a//b>`): `<` PATH_CHAR+ (`/` PATH_CHAR+)* `>` only. (A text without
    // `<` has no search path: no walk over its tokens.)
    if !src.contains('<') {
        return Ok(doc);
    }
    for t in doc
        .root
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
    Ok(doc)
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
#[cfg(test)]
pub fn reprint(src: &str) -> String {
    rnix::Root::parse(src).syntax().to_string()
}

/// [`parse`], or the parse of the same text made last on this thread: the
/// self-check of an edit reads the edited tree again, and every file it did
/// not change (and the one `edit::apply_checked` parsed) is the same text.
/// The parses kept are bounded (a few dozen files, a few MiB of text) and
/// dropped oldest first.
pub fn parse_shared(src: &str) -> Result<Doc> {
    use std::cell::RefCell;
    use std::collections::VecDeque;
    const MAX_FILES: usize = 64;
    const MAX_BYTES: usize = 8 << 20;
    thread_local! {
        static RECENT: RefCell<VecDeque<(String, Result<Doc>)>> = const { RefCell::new(VecDeque::new()) };
    }
    if let Some(hit) = RECENT.with(|r| {
        r.borrow()
            .iter()
            .find(|(text, _)| text.len() == src.len() && text == src)
            .map(|(_, doc)| doc.clone())
    }) {
        return hit;
    }
    let doc = parse(src);
    if src.len() <= MAX_BYTES / 4 {
        RECENT.with(|r| {
            let mut r = r.borrow_mut();
            r.push_back((src.to_string(), doc.clone()));
            let mut bytes: usize = r.iter().map(|(t, _)| t.len()).sum();
            while r.len() > MAX_FILES || bytes > MAX_BYTES {
                match r.pop_front() {
                    Some((t, d)) => {
                        bytes -= t.len();
                        if trees_kept() {
                            std::mem::forget(d);
                        }
                    }
                    None => break,
                }
            }
        });
    }
    doc
}

/// rnix's tree of `src`, without nixcross's limits or Nix's rules: for
/// tests of those rules.
#[cfg(test)]
pub(crate) fn parse_rnix(src: &str) -> Doc {
    Doc {
        root: rnix::Root::parse(src).syntax(),
    }
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
        self.reference_ranges(name).len()
    }

    /// The single-name bindings of `let ... in` and `rec { }` whose value
    /// contains `range`, innermost first: the variables an edit at `range`
    /// is reached through.
    pub fn enclosing_bindings(&self, range: (usize, usize)) -> Vec<Enclosing> {
        self.enclosing_entries(range)
            .into_iter()
            .filter(|e| e.scoped)
            .collect()
    }

    /// Every `name... = value;` entry (of any set or `let`) whose value
    /// contains `range`, innermost first, named by its first key.
    pub fn enclosing_entries(&self, range: (usize, usize)) -> Vec<Enclosing> {
        let text_range = rowan::TextRange::new((range.0 as u32).into(), (range.1 as u32).into());
        if range.1 > usize::from(self.root.text_range().end()) {
            return Vec::new();
        }
        let start = match self.root.covering_element(text_range) {
            rowan::NodeOrToken::Node(n) => n,
            rowan::NodeOrToken::Token(t) => match t.parent() {
                Some(p) => p,
                None => return Vec::new(),
            },
        };
        let mut out = Vec::new();
        for anc in start.ancestors() {
            let Some(av) = ast::AttrpathValue::cast(anc.clone()) else {
                continue;
            };
            let scoped = anc.parent().is_some_and(|p| {
                p.kind() == SyntaxKind::NODE_LET_IN
                    || ast::AttrSet::cast(p).is_some_and(|s| s.rec_token().is_some())
            });
            let (Some(path), Some(value)) = (av.attrpath(), av.value()) else {
                continue;
            };
            let names: Vec<ast::Attr> = path.attrs().collect();
            let value_range = range_of(value.syntax());
            if names.is_empty() || value_range.0 > range.0 || value_range.1 < range.1 {
                continue;
            }
            if let Some(name) = static_attr(&names[0]) {
                out.push(Enclosing {
                    name,
                    value: value_range,
                    // A variable only when it is a single name.
                    scoped: scoped && names.len() == 1,
                });
            }
        }
        out
    }

    /// Where `name` is used as a variable (not where it is bound), in order.
    /// Scoping is ignored: a use of another binding of the same name counts.
    pub fn reference_ranges(&self, name: &str) -> Vec<(usize, usize)> {
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
            .map(|n| range_of(&n))
            .collect()
    }
}

/// A `name = value;` binding of a `let` or `rec { }` (see
/// [`Doc::enclosing_bindings`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Enclosing {
    /// The first key.
    pub name: String,
    /// The value's range.
    pub value: (usize, usize),
    /// A variable: a single name bound by `let` or `rec { }`.
    pub scoped: bool,
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
    /// Every plain string literal (no interpolation) written anywhere
    /// inside the expression, in order.
    pub fn string_literals_within(&self) -> Vec<String> {
        self.0
            .descendants()
            .filter(|n| n.kind() == SyntaxKind::NODE_STRING)
            .filter_map(|n| Node(n).string_literal())
            .collect()
    }

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

    /// `base.a.${b}.c` as its base and keys; `None` for anything else,
    /// including a selection with an `or` default.
    pub fn select(&self) -> Option<SelectView> {
        let sel = ast::Select::cast(self.0.clone())?;
        if sel.default_expr().is_some() {
            return None;
        }
        Some(SelectView {
            base: node(&sel.expr()?),
            keys: sel.attrpath()?.attrs().map(|a| key_at(&a)).collect(),
        })
    }

    /// The expression of a string that is exactly one interpolation,
    /// `"${x}"`.
    pub fn sole_interpolation(&self) -> Option<Node> {
        let s = ast::Str::cast(self.0.clone())?;
        let mut parts = s.normalized_parts().into_iter();
        match (parts.next(), parts.next()) {
            (Some(ast::InterpolPart::Interpolation(i)), None) => i.expr().map(|e| node(&e)),
            _ => None,
        }
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

    /// The `let ... in` layers around an expression, outermost first, and
    /// the expression inside them (parentheses taken off at each step).
    pub fn let_layers(&self) -> (Vec<LetView>, Node) {
        let mut lets = Vec::new();
        let mut cur = self.unparen();
        while let Some(l) = cur.let_in() {
            cur = l.body.unparen();
            lets.push(l);
        }
        (lets, cur)
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
                    ellipsis: p
                        .ellipsis_token()
                        .map(|t| usize::from(t.text_range().start())),
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

impl Node {
    /// The entry this node is, when it is a binding (`a.b = v;`) or an
    /// `inherit`.
    pub fn as_entry(&self) -> Option<Entry> {
        let parent = self.0.parent()?;
        let entries = if let Some(set) = ast::AttrSet::cast(parent.clone()) {
            entries_of(&set)
        } else if let Some(l) = ast::LetIn::cast(parent) {
            entries_of(&l)
        } else {
            return None;
        };
        entries.into_iter().find(|e| match e {
            Entry::Binding(b) => b.node == *self,
            Entry::Inherit(i) => i.node == *self,
        })
    }

    /// The set (or `let`, read as a set) whose entry this node is.
    pub fn parent_set(&self) -> Option<AttrSetView> {
        let parent = Node(self.0.parent()?);
        if let Some(set) = parent.attrset() {
            return Some(set);
        }
        let l = parent.let_in()?;
        Some(AttrSetView {
            node: l.node.clone(),
            rec: true,
            entries: l.entries.clone(),
            open: l.let_kw + 2,
            close: l.in_kw,
        })
    }

    /// The nearest enclosing expression node (not this one).
    pub fn parent(&self) -> Option<Node> {
        let mut p = self.0.parent()?;
        loop {
            if ast::Expr::can_cast(p.kind()) {
                return Some(Node(p));
            }
            p = p.parent()?;
        }
    }

    /// The binding (`key = <this>;`) whose value this expression is, looking
    /// through parentheses.
    pub fn holding_entry(&self) -> Option<Node> {
        let mut cur = self.0.clone();
        loop {
            let p = cur.parent()?;
            match p.kind() {
                SyntaxKind::NODE_PAREN => cur = p,
                SyntaxKind::NODE_ATTRPATH_VALUE => return Some(Node(p)),
                _ => return None,
            }
        }
    }

    /// The smallest node within this one that covers `range`.
    pub fn find_covering(&self, range: (usize, usize)) -> Option<Node> {
        let r = rowan::TextRange::new((range.0 as u32).into(), (range.1 as u32).into());
        let e = self.0.covering_element(r);
        let n = match e {
            rowan::NodeOrToken::Node(n) => n,
            rowan::NodeOrToken::Token(t) => t.parent()?,
        };
        Some(Node(n))
    }

    /// Whether `other` lies within this node.
    pub fn contains(&self, other: &Node) -> bool {
        let (s, e) = self.range();
        let (a, b) = other.range();
        s <= a && b <= e
    }

    /// What this expression is the default value of, when it is one: a
    /// formal's (`{ name ? <this> }: ...`) or a selection's (`v.a or <this>`).
    pub fn default_of(&self) -> Option<DefaultOf> {
        let p = self.0.parent()?;
        if let Some(e) = ast::PatEntry::cast(p.clone()) {
            if e.default()?.syntax() != &self.0 {
                return None;
            }
            let name = e.ident()?.syntax().text().to_string();
            let lambda = p.parent()?.parent()?;
            ast::Lambda::cast(lambda.clone())?;
            return Some(DefaultOf::Formal {
                name,
                lambda: Node(lambda),
            });
        }
        let sel = ast::Select::cast(p)?;
        if sel.default_expr()?.syntax() != &self.0 {
            return None;
        }
        let keys = sel
            .attrpath()?
            .attrs()
            .map(|a| static_attr(&a))
            .collect::<Option<Vec<_>>>()?;
        Some(DefaultOf::Select {
            base: node(&sel.expr()?),
            keys,
        })
    }

    /// The function whose parameter the variable `name`, used here, is
    /// (`name: ...`, a formal, or `@name`); `None` when a `let` or
    /// `rec { }` binds it first, or nothing does.
    pub fn param_binder(&self, name: &str) -> Option<Node> {
        self.binder(name).filter(|n| n.lambda().is_some())
    }

    /// What binds the variable `name` used here: the nearest function
    /// (parameter, formal or `@name`), `let ... in` or `rec { }` around
    /// this node that binds it (`None`: a `with` or the built-ins).
    pub fn binder(&self, name: &str) -> Option<Node> {
        for anc in self.0.ancestors().skip(1) {
            let n = Node(anc);
            let binds = if let Some(l) = n.lambda() {
                match &l.param {
                    Param::Ident { name: p } => p == name,
                    Param::Pattern { formals, bind, .. } => {
                        formals.iter().any(|f| f.name == name) || bind.as_deref() == Some(name)
                    }
                }
            } else if let Some(l) = n.let_in() {
                l.entries.iter().any(|e| e.defines(name))
            } else if let Some(s) = n.attrset() {
                s.rec && s.entries.iter().any(|e| e.defines(name))
            } else {
                false
            };
            if binds {
                return Some(n);
            }
        }
        None
    }

    /// The uses of the variable `name` within this node that refer to the
    /// parameter of the function `binder` (see [`Node::param_binder`]).
    pub fn param_uses(&self, name: &str, binder: &Node) -> Vec<Node> {
        self.references(name)
            .into_iter()
            .filter(|n| n.param_binder(name).as_ref() == Some(binder))
            .collect()
    }

    /// The uses of the variable `name` within this node, whatever binds
    /// them (not where it is bound).
    pub fn references(&self, name: &str) -> Vec<Node> {
        self.0
            .descendants()
            .filter(|n| n.kind() == SyntaxKind::NODE_IDENT && n.text() == name)
            .filter(|n| {
                !matches!(
                    n.parent().map(|p| p.kind()),
                    Some(SyntaxKind::NODE_ATTRPATH)
                        | Some(SyntaxKind::NODE_PAT_ENTRY)
                        | Some(SyntaxKind::NODE_PAT_BIND)
                        | Some(SyntaxKind::NODE_IDENT_PARAM)
                )
            })
            .map(Node)
            .collect()
    }

    /// Whether this expression is the base of a selection with static keys
    /// (`<this>.a.b`, with or without `or`).
    pub fn is_selected_from(&self) -> bool {
        let Some(sel) = self.0.parent().and_then(ast::Select::cast) else {
            return false;
        };
        sel.expr().is_some_and(|e| e.syntax() == &self.0)
            && sel
                .attrpath()
                .is_some_and(|p| p.attrs().all(|a| static_attr(&a).is_some()))
    }

    /// The functions around this node, innermost first.
    pub fn enclosing_lambdas(&self) -> impl Iterator<Item = Node> {
        self.0
            .ancestors()
            .skip(1)
            .filter(|a| a.kind() == SyntaxKind::NODE_LAMBDA)
            .map(Node)
    }
}

/// The byte ranges of `doc` whose text Nix does not read as code: every
/// comment, and every piece of a string's text (not its interpolations).
/// An edit whose text crosses the edge of one has landed inside it.
pub fn text_spans(doc: &Doc) -> Vec<(usize, usize)> {
    doc.root
        .descendants_with_tokens()
        .filter_map(|e| e.into_token())
        .filter(|t| {
            matches!(
                t.kind(),
                SyntaxKind::TOKEN_COMMENT | SyntaxKind::TOKEN_STRING_CONTENT
            )
        })
        .map(|t| {
            // rnix ends a `#` comment after the CR of a CRLF line break.
            let (a, b) = range_of_token(&t);
            (a, b - usize::from(t.text().ends_with('\r')))
        })
        .collect()
}

/// Whether `insert`, put at `offset` of `doc`, would be read as part of a
/// comment or a string (which one: `"a comment"`, `"a string"`): the offset
/// lies inside one, or at the end of a `#` comment's line while the text
/// does not begin a new line. (The cheap half of what `edit::apply_checked`
/// checks on the result, for plans that are never applied.)
pub fn inside_text(doc: &Doc, offset: usize, insert: &str) -> Option<&'static str> {
    let at = u32::try_from(offset).ok()?;
    let tokens: Vec<rnix::SyntaxToken> = match doc.root.token_at_offset(at.into()) {
        rowan::TokenAtOffset::None => return None,
        rowan::TokenAtOffset::Single(t) => vec![t],
        rowan::TokenAtOffset::Between(l, r) => vec![l, r],
    };
    tokens.iter().find_map(|t| {
        let (s, e) = range_of_token(t);
        let inside = match t.kind() {
            SyntaxKind::TOKEN_COMMENT if t.text().starts_with('#') => {
                let content_end = e - usize::from(t.text().ends_with('\r'));
                (s < offset && offset < content_end)
                    || (offset == content_end && !insert.starts_with(['\r', '\n']))
            }
            SyntaxKind::TOKEN_COMMENT | SyntaxKind::TOKEN_STRING_CONTENT => {
                s < offset && offset < e
            }
            _ => false,
        };
        match (inside, t.kind()) {
            (false, _) => None,
            (true, SyntaxKind::TOKEN_COMMENT) => Some("a comment"),
            (true, _) => Some("a string"),
        }
    })
}

/// Every offset of `src` between two tokens where a comment could be put
/// without changing what the file means: token edges outside strings and
/// paths (for tests that move comments through a file).
pub fn comment_points(src: &str) -> Vec<usize> {
    let root = rnix::Root::parse(src).syntax();
    let mut out: Vec<usize> = Vec::new();
    for t in root
        .descendants_with_tokens()
        .filter_map(|e| e.into_token())
    {
        let in_literal = t.parent_ancestors().any(|a| {
            matches!(
                a.kind(),
                SyntaxKind::NODE_STRING
                    | SyntaxKind::NODE_PATH_ABS
                    | SyntaxKind::NODE_PATH_REL
                    | SyntaxKind::NODE_PATH_HOME
                    | SyntaxKind::NODE_PATH_SEARCH
            )
        });
        if in_literal {
            continue;
        }
        let (a, b) = range_of_token(&t);
        for p in [a, b] {
            if out.last() != Some(&p) {
                out.push(p);
            }
        }
    }
    out.dedup();
    out
}

/// `a`, `a and b`, `a, b and c`.
pub(crate) fn list_names(names: &[String]) -> String {
    let quoted: Vec<String> = names.iter().map(|n| format!("`{n}`")).collect();
    match quoted.len() {
        0 => String::new(),
        1 => quoted[0].clone(),
        n => format!("{} and {}", quoted[..n - 1].join(", "), quoted[n - 1]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expr(src: &str) -> Node {
        parse(src).unwrap().expr().unwrap()
    }

    #[test]
    fn defaults_and_binders() {
        let src = "let h = 1; mk = { name, system ? \"x86\" }: host: [ system (host.arch or \"y\") h ]; in mk";
        let root = expr(src);
        let find = |text: &str| {
            let at = src.find(text).unwrap();
            root.find_covering((at, at + text.len())).unwrap()
        };
        match find("\"x86\"").default_of() {
            Some(DefaultOf::Formal { name, lambda }) => {
                assert_eq!(name, "system");
                assert!(lambda.text().starts_with("{ name"));
            }
            other => panic!("{other:?}"),
        }
        match find("\"y\"").default_of() {
            Some(DefaultOf::Select { base, keys }) => {
                assert_eq!(base.text(), "host");
                assert_eq!(keys, ["arch"]);
                let binder = base.param_binder("host").unwrap();
                assert!(binder.text().starts_with("host:"));
                assert_eq!(binder.param_uses("host", &binder).len(), 1);
                assert!(base.is_selected_from());
            }
            other => panic!("{other:?}"),
        }
        // `h` is the let's, not a parameter.
        let h = root.references("h").pop().unwrap();
        assert!(h.param_binder("h").is_none());
        assert!(h.binder("h").unwrap().let_in().is_some());
        assert!(find("\"x86\"").parent().unwrap().default_of().is_none());
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
    fn keys_and_selections_keep_dynamic_parts() {
        let src = r#"{ packages.${system}."a b" = x; }"#;
        let set = expr(src).attrset().unwrap();
        let Entry::Binding(b) = &set.entries[0] else {
            panic!()
        };
        assert_eq!(b.keys.len(), 3);
        let r = b.key_ranges[1];
        assert_eq!(&src[r.0..r.1], "${system}");
        let r = b.key_ranges[2];
        assert_eq!(&src[r.0..r.1], "\"a b\"");
        let e = expr("nixpkgs.legacyPackages.${system}.pkgsCross.riscv64");
        let sel = e.select().unwrap();
        assert_eq!(sel.base.ident().as_deref(), Some("nixpkgs"));
        assert_eq!(sel.keys.len(), 4);
        assert_eq!(sel.keys[0].name(), Some("legacyPackages"));
        match &sel.keys[1].key {
            Key::Dynamic(e) => assert_eq!(e.ident().as_deref(), Some("system")),
            k => panic!("{k:?}"),
        }
        assert!(expr("a.b or c").select().is_none());
        let i = expr(r#""${system}""#).sole_interpolation().unwrap();
        assert_eq!(i.ident().as_deref(), Some("system"));
        assert!(expr(r#""x${system}""#).sole_interpolation().is_none());
        let doc = parse("let a = 1; in a + { a = a; }.a").unwrap();
        assert_eq!(doc.reference_ranges("a"), vec![(14, 15), (24, 25)]);
        let src = "let p = let q = x.y; in q; r = rec { s = z; }; in { t = 1; }";
        let doc = parse(src).unwrap();
        let at = |needle: &str| {
            let i = src.find(needle).unwrap();
            doc.enclosing_bindings((i, i + needle.len()))
                .into_iter()
                .map(|e| e.name)
                .collect::<Vec<_>>()
        };
        assert_eq!(at("x.y"), ["q", "p"]);
        assert_eq!(at("z"), ["s", "r"]);
        assert!(at("1").is_empty());
        let i = src.find('1').unwrap();
        let all: Vec<String> = doc
            .enclosing_entries((i, i + 1))
            .into_iter()
            .map(|e| e.name)
            .collect();
        assert_eq!(all, ["t"]);
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
                assert!(ellipsis.is_some());
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
