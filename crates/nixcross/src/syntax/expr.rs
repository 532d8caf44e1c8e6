//! Every expression as one closed enum, [`Expr`], for code that walks any
//! expression (the static evaluator) without importing rnix.

use rnix::ast::{self, BinOpKind, InterpolPart, UnaryOpKind};
use rnix::SyntaxKind;
use rowan::ast::AstNode;

use super::{node, AttrSetView, LambdaView, LetView, ListView, Node};

/// A binary operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinOp {
    /// `++`
    Concat,
    /// `//`
    Update,
    /// `+`
    Add,
    /// `-`
    Sub,
    /// `*`
    Mul,
    /// `/`
    Div,
    /// `&&`
    And,
    /// `||`
    Or,
    /// `->`
    Implication,
    /// `==`
    Equal,
    /// `!=`
    NotEqual,
    /// `<`
    Less,
    /// `<=`
    LessOrEq,
    /// `>`
    More,
    /// `>=`
    MoreOrEq,
    /// `|>` or `<|`, which Nix 2.8 does not know.
    Pipe,
}

/// A part of a string or path with interpolations.
#[derive(Debug, Clone)]
pub enum Part {
    /// Literal text, unescaped (and, in `''` strings, with the indentation stripped).
    Text(String),
    /// `${expr}`
    Interpolation(Node),
}

/// A component of an attribute path in a selection, `has` test or key.
#[derive(Debug, Clone)]
pub enum Key {
    /// `a` or `"a"` or `${"a"}`.
    Static(String),
    /// `${expr}` or `"a${b}"`: computed.
    Dynamic(Node),
}

/// How a path literal starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathKind {
    /// `./x`, `../x`, `x/y`
    Relative,
    /// `/x`
    Absolute,
    /// `~/x`
    Home,
    /// `<nixpkgs>`
    Search,
}

/// An expression, by shape.
#[derive(Debug, Clone)]
pub enum Expr {
    /// `{ ... }` or `rec { ... }`
    AttrSet(AttrSetView),
    /// `let ...; in body`
    LetIn(LetView),
    /// `x: body`, `{ a, ... }: body`
    Lambda(LambdaView),
    /// `f x`
    Apply(Node, Node),
    /// `e.a.b or d`
    Select {
        /// The expression selected from.
        base: Node,
        /// The keys.
        path: Vec<Key>,
        /// The `or` default.
        default: Option<Node>,
    },
    /// `e ? a.b`
    HasAttr(Node, Vec<Key>),
    /// A variable.
    Ident(String),
    /// `"..."` or `''...''`
    Str(Vec<Part>),
    /// A path literal, with its parts (`./hosts/${name}`).
    Path(PathKind, Vec<Part>),
    /// An integer.
    Int(i64),
    /// A float.
    Float(f64),
    /// A bare URI such as `https://x` (a string).
    Uri(String),
    /// `[ ... ]`
    List(ListView),
    /// `with ns; body`
    With(Node, Node),
    /// `a op b`
    BinOp(BinOp, Node, Node),
    /// `!x`
    Not(Node),
    /// `-x`
    Negate(Node),
    /// `if c then a else b`
    IfElse(Node, Node, Node),
    /// `assert c; body`
    Assert(Node, Node),
    /// `( e )`
    Paren(Node),
    /// `__curPos`: where it is written.
    CurPos,
    /// Anything else: legacy `let { }`, a syntax error node.
    Other,
}

fn parts_of<T>(parts: Vec<InterpolPart<T>>, text: impl Fn(&T) -> String) -> Vec<Part> {
    parts
        .into_iter()
        .filter_map(|p| match p {
            InterpolPart::Literal(t) => Some(Part::Text(text(&t))),
            InterpolPart::Interpolation(i) => i.expr().map(|e| Part::Interpolation(node(&e))),
        })
        .collect()
}

pub(super) fn key_of(attr: &ast::Attr) -> Key {
    if let Some(s) = super::static_attr(attr) {
        return Key::Static(s);
    }
    match attr {
        // `${e}`: the expression inside.
        ast::Attr::Dynamic(d) => match d.expr() {
            Some(e) => Key::Dynamic(node(&e)),
            None => Key::Dynamic(Node(attr.syntax().clone())),
        },
        // `"a${b}"`: the string itself.
        _ => Key::Dynamic(Node(attr.syntax().clone())),
    }
}

fn keys(path: Option<ast::Attrpath>) -> Vec<Key> {
    path.map(|p| p.attrs().map(|a| key_of(&a)).collect())
        .unwrap_or_default()
}

impl Node {
    /// This expression, by shape.
    pub fn expr(&self) -> Expr {
        let n = &self.0;
        match n.kind() {
            SyntaxKind::NODE_ATTR_SET => self.attrset().map_or(Expr::Other, Expr::AttrSet),
            SyntaxKind::NODE_LET_IN => self.let_in().map_or(Expr::Other, Expr::LetIn),
            SyntaxKind::NODE_LAMBDA => self.lambda().map_or(Expr::Other, Expr::Lambda),
            SyntaxKind::NODE_APPLY => self.apply().map_or(Expr::Other, |(f, a)| Expr::Apply(f, a)),
            SyntaxKind::NODE_SELECT => {
                let Some(s) = ast::Select::cast(n.clone()) else {
                    return Expr::Other;
                };
                let Some(base) = s.expr() else {
                    return Expr::Other;
                };
                Expr::Select {
                    base: node(&base),
                    path: keys(s.attrpath()),
                    default: s.default_expr().map(|d| node(&d)),
                }
            }
            SyntaxKind::NODE_HAS_ATTR => {
                let Some(h) = ast::HasAttr::cast(n.clone()) else {
                    return Expr::Other;
                };
                match h.expr() {
                    Some(e) => Expr::HasAttr(node(&e), keys(h.attrpath())),
                    None => Expr::Other,
                }
            }
            SyntaxKind::NODE_IDENT => self.ident().map_or(Expr::Other, Expr::Ident),
            SyntaxKind::NODE_STRING => {
                let Some(s) = ast::Str::cast(n.clone()) else {
                    return Expr::Other;
                };
                Expr::Str(
                    s.normalized_parts()
                        .into_iter()
                        .filter_map(|p| match p {
                            InterpolPart::Literal(t) => Some(Part::Text(t)),
                            InterpolPart::Interpolation(i) => {
                                i.expr().map(|e| Part::Interpolation(node(&e)))
                            }
                        })
                        .collect(),
                )
            }
            SyntaxKind::NODE_PATH_REL
            | SyntaxKind::NODE_PATH_ABS
            | SyntaxKind::NODE_PATH_HOME
            | SyntaxKind::NODE_PATH_SEARCH => {
                let Some(p) = ast::Path::cast(n.clone()) else {
                    return Expr::Other;
                };
                let kind = match n.kind() {
                    SyntaxKind::NODE_PATH_REL => PathKind::Relative,
                    SyntaxKind::NODE_PATH_ABS => PathKind::Absolute,
                    SyntaxKind::NODE_PATH_HOME => PathKind::Home,
                    _ => PathKind::Search,
                };
                Expr::Path(
                    kind,
                    parts_of(p.parts(), |t| ast::AstToken::syntax(t).text().to_string()),
                )
            }
            SyntaxKind::NODE_LITERAL => {
                let Some(l) = ast::Literal::cast(n.clone()) else {
                    return Expr::Other;
                };
                match l.kind() {
                    ast::LiteralKind::Integer(i) => i.value().map_or(Expr::Other, Expr::Int),
                    ast::LiteralKind::Float(f) => f.value().map_or(Expr::Other, Expr::Float),
                    ast::LiteralKind::Uri(u) => {
                        Expr::Uri(ast::AstToken::syntax(&u).text().to_string())
                    }
                }
            }
            SyntaxKind::NODE_LIST => self.list().map_or(Expr::Other, Expr::List),
            SyntaxKind::NODE_WITH => {
                let Some(w) = ast::With::cast(n.clone()) else {
                    return Expr::Other;
                };
                match (w.namespace(), w.body()) {
                    (Some(ns), Some(b)) => Expr::With(node(&ns), node(&b)),
                    _ => Expr::Other,
                }
            }
            SyntaxKind::NODE_BIN_OP => {
                let Some(b) = ast::BinOp::cast(n.clone()) else {
                    return Expr::Other;
                };
                let (Some(l), Some(r), Some(op)) = (b.lhs(), b.rhs(), b.operator()) else {
                    return Expr::Other;
                };
                let op = match op {
                    BinOpKind::Concat => BinOp::Concat,
                    BinOpKind::Update => BinOp::Update,
                    BinOpKind::Add => BinOp::Add,
                    BinOpKind::Sub => BinOp::Sub,
                    BinOpKind::Mul => BinOp::Mul,
                    BinOpKind::Div => BinOp::Div,
                    BinOpKind::And => BinOp::And,
                    BinOpKind::Or => BinOp::Or,
                    BinOpKind::Implication => BinOp::Implication,
                    BinOpKind::Equal => BinOp::Equal,
                    BinOpKind::NotEqual => BinOp::NotEqual,
                    BinOpKind::Less => BinOp::Less,
                    BinOpKind::LessOrEq => BinOp::LessOrEq,
                    BinOpKind::More => BinOp::More,
                    BinOpKind::MoreOrEq => BinOp::MoreOrEq,
                    BinOpKind::PipeRight | BinOpKind::PipeLeft => BinOp::Pipe,
                };
                Expr::BinOp(op, node(&l), node(&r))
            }
            SyntaxKind::NODE_UNARY_OP => {
                let Some(u) = ast::UnaryOp::cast(n.clone()) else {
                    return Expr::Other;
                };
                match (u.operator(), u.expr()) {
                    (Some(UnaryOpKind::Invert), Some(e)) => Expr::Not(node(&e)),
                    (Some(UnaryOpKind::Negate), Some(e)) => Expr::Negate(node(&e)),
                    _ => Expr::Other,
                }
            }
            SyntaxKind::NODE_IF_ELSE => {
                let Some(i) = ast::IfElse::cast(n.clone()) else {
                    return Expr::Other;
                };
                match (i.condition(), i.body(), i.else_body()) {
                    (Some(c), Some(t), Some(e)) => Expr::IfElse(node(&c), node(&t), node(&e)),
                    _ => Expr::Other,
                }
            }
            SyntaxKind::NODE_ASSERT => {
                let Some(a) = ast::Assert::cast(n.clone()) else {
                    return Expr::Other;
                };
                match (a.condition(), a.body()) {
                    (Some(c), Some(b)) => Expr::Assert(node(&c), node(&b)),
                    _ => Expr::Other,
                }
            }
            SyntaxKind::NODE_CUR_POS => Expr::CurPos,
            SyntaxKind::NODE_PAREN => ast::Paren::cast(n.clone())
                .and_then(|p| p.expr())
                .map_or(Expr::Other, |e| Expr::Paren(node(&e))),
            _ => Expr::Other,
        }
    }
}
