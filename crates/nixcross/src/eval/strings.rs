//! Strings and paths: string literals with their interpolations, path
//! literals, and the coercion of values to string pieces and to text.

use std::rc::Rc;

use super::budget::cost;
use super::{EnvId, Evaluator, PathValue, Piece, Special, StrValue, Value};
use crate::source::{FileId, Src};
use crate::syntax::{Node, Part, PathKind};

impl Evaluator<'_> {
    pub(super) fn eval_string(
        &mut self,
        node: &Node,
        parts: &[Part],
        file: FileId,
        env: EnvId,
    ) -> Value {
        let mut literal = true;
        let mut pieces: Vec<Piece> = Vec::new();
        for p in parts {
            match p {
                Part::Text(t) => {
                    self.charge(t.len() as u64);
                    push_text(&mut pieces, t)
                }
                Part::Interpolation(e) => {
                    literal = false;
                    let v = self.eval(e, file, env);
                    if parts.len() == 1
                        && matches!(&v, Value::Special(s) if matches!(**s, Special::AnySystem))
                    {
                        // `"${system}"` of a helper whose systems are not listed.
                        return v;
                    }
                    match self.coerce_pieces(&v) {
                        Some(ps) => {
                            // The copy is charged; so is what it is copied into.
                            if let Err(u) =
                                self.reserve(text_bytes(&ps), Some(&Src::new(file, e.clone())))
                            {
                                return u;
                            }
                            for p in ps {
                                match p {
                                    Piece::Text(t) => push_text(&mut pieces, &t),
                                    path => pieces.push(path),
                                }
                            }
                        }
                        None => {
                            return match v {
                                u @ Value::Unknown(_) => u,
                                other => Value::unknown(
                                    format!(
                                        "cannot interpolate {} into a string",
                                        other.type_name()
                                    ),
                                    Some(Src::new(file, e.clone())),
                                ),
                            }
                        }
                    }
                }
            }
        }
        if pieces.is_empty() {
            pieces.push(Piece::Text(String::new()));
        }
        Value::Str(Rc::new(StrValue {
            pieces,
            origin: literal.then(|| Src::new(file, node.clone())),
        }))
    }

    pub(super) fn eval_path(
        &mut self,
        node: &Node,
        kind: PathKind,
        parts: &[Part],
        file: FileId,
        env: EnvId,
    ) -> Value {
        let mut text = String::new();
        for p in parts {
            match p {
                Part::Text(t) => text.push_str(t),
                Part::Interpolation(e) => {
                    let v = self.eval(e, file, env);
                    match self.coerce_text(&v) {
                        Some(s) => text.push_str(&s),
                        None => {
                            return match v {
                                u @ Value::Unknown(_) => u,
                                _ => Value::unknown(
                                    "cannot interpolate this value into a path",
                                    self.here(node, file),
                                ),
                            }
                        }
                    }
                }
            }
        }
        let pv = match kind {
            PathKind::Relative => {
                let source = self.sources.get(file);
                if source.ambiguous_base {
                    return Value::unknown(
                        format!(
                            "`{text}` is relative, and `{}` is reached through links from more than one folder",
                            source.path
                        ),
                        self.here(node, file),
                    );
                }
                let here = source.loaded_as.clone();
                let lit = if text.starts_with("./") || text.starts_with("../") || text == "." {
                    text.clone()
                } else {
                    format!("./{text}")
                };
                match here.join_nix(&lit) {
                    Some(p) => PathValue::Tree(p),
                    None => PathValue::Outside(text),
                }
            }
            PathKind::Absolute | PathKind::Home => PathValue::Outside(text),
            PathKind::Search => PathValue::Outside(format!("<{text}>")),
        };
        Value::Path(Rc::new(pv))
    }

    /// A value as string pieces, the way `"${...}"` coerces it.
    pub fn coerce_pieces(&mut self, v: &Value) -> Option<Vec<Piece>> {
        match v {
            Value::Str(s) => {
                self.charge(text_bytes(&s.pieces));
                Some(s.pieces.clone())
            }
            Value::Path(p) => Some(vec![Piece::Path((**p).clone())]),
            Value::Int(i) => Some(vec![Piece::Text(i.to_string())]),
            Value::Attrs(a) => {
                let t = a.entries.get("outPath")?.value;
                let inner = self.force(t);
                self.deeper(|ev| ev.coerce_pieces(&inner)).flatten()
            }
            Value::Special(s) => match &**s {
                Special::Input { name, path, .. } if path.is_empty() || path == &["outPath"] => {
                    Some(vec![Piece::Path(PathValue::Elsewhere {
                        base: name.clone(),
                        rest: String::new(),
                    })])
                }
                _ => None,
            },
            _ => None,
        }
    }

    /// A value as plain text (no paths).
    pub fn coerce_text(&mut self, v: &Value) -> Option<String> {
        let pieces = self.coerce_pieces(v)?;
        let mut out = String::new();
        for p in pieces {
            match p {
                Piece::Text(t) => out.push_str(&t),
                Piece::Path(PathValue::Tree(p)) => {
                    out.push_str(&format!("/nixcross-flake/{}", p.as_str()))
                }
                Piece::Path(_) => return None,
            }
        }
        Some(out)
    }
}

/// What a string's pieces cost: their text and the pieces themselves.
pub(super) fn text_bytes(pieces: &[Piece]) -> u64 {
    pieces
        .iter()
        .map(|p| match p {
            Piece::Text(t) => t.len() as u64 + cost::PIECE,
            Piece::Path(_) => cost::PIECE,
        })
        .sum()
}

pub(super) fn push_text(pieces: &mut Vec<Piece>, t: &str) {
    if let Some(Piece::Text(last)) = pieces.last_mut() {
        last.push_str(t);
    } else {
        pieces.push(Piece::Text(t.to_string()));
    }
}
