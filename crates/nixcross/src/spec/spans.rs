//! Where things are in a YAML text: a tree of the document's nodes with
//! their byte ranges, read with saphyr-parser's events (serde_yaml gives a
//! position only for its own errors). The checks that serde cannot make
//! (an unknown target, `file` and `config` both given) point into the text
//! through it, and it finds keys given twice, which serde_yaml accepts
//! silently in a map (the last one wins).

use saphyr_parser::{Event, Parser, Span};

use crate::error::{Error, Result};

/// One step of a path into the document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seg<'a> {
    /// A key of a mapping.
    Key(&'a str),
    /// An item of a sequence.
    Index(usize),
}

/// A node of the document, with its byte range.
#[derive(Debug, Clone)]
pub enum Node {
    /// A scalar (or an alias, which points nowhere else here).
    Scalar {
        /// Its byte range.
        range: (usize, usize),
    },
    /// A mapping: its entries, with each key's range.
    Map {
        /// Its byte range (the start; the end when known).
        range: (usize, usize),
        /// `(key, key range, value)`.
        entries: Vec<(String, (usize, usize), Node)>,
    },
    /// A sequence.
    Seq {
        /// Its byte range.
        range: (usize, usize),
        /// Its items.
        items: Vec<Node>,
    },
}

impl Node {
    /// The node's byte range.
    pub fn range(&self) -> (usize, usize) {
        match self {
            Node::Scalar { range } | Node::Map { range, .. } | Node::Seq { range, .. } => *range,
        }
    }

    /// The node at `path` below this one.
    pub fn get(&self, path: &[Seg]) -> Option<&Node> {
        let Some((first, rest)) = path.split_first() else {
            return Some(self);
        };
        match (self, first) {
            (Node::Map { entries, .. }, Seg::Key(k)) => entries
                .iter()
                .find(|(key, _, _)| key == k)
                .and_then(|(_, _, v)| v.get(rest)),
            (Node::Seq { items, .. }, Seg::Index(i)) => items.get(*i)?.get(rest),
            _ => None,
        }
    }

    /// The range of the key `path` ends with (the last step must be a key).
    pub fn key_range(&self, path: &[Seg]) -> Option<(usize, usize)> {
        let (last, parent) = path.split_last()?;
        let Seg::Key(k) = last else { return None };
        match self.get(parent)? {
            Node::Map { entries, .. } => entries
                .iter()
                .find(|(key, _, _)| key == k)
                .map(|(_, r, _)| *r),
            _ => None,
        }
    }
}

/// The document's byte offsets, from saphyr's character indices.
struct Offsets {
    /// Byte offset of each character, and of the end.
    bytes: Vec<usize>,
}

impl Offsets {
    fn new(text: &str) -> Offsets {
        let mut bytes: Vec<usize> = text.char_indices().map(|(i, _)| i).collect();
        bytes.push(text.len());
        Offsets { bytes }
    }

    fn at(&self, char_index: usize) -> usize {
        self.bytes
            .get(char_index)
            .copied()
            .unwrap_or_else(|| *self.bytes.last().expect("the end is there"))
    }

    fn span(&self, s: &Span) -> (usize, usize) {
        (self.at(s.start.index()), self.at(s.end.index()))
    }
}

/// Read `text` into its tree of nodes. An empty document is `None`. A
/// syntax error, or a key given twice in one mapping, is an error at its
/// place.
pub fn read(text: &str) -> Result<Option<Node>> {
    let offsets = Offsets::new(text);
    let mut parser = Parser::new_from_str(text);
    // A stack of nodes being built; a mapping also keeps the key waiting
    // for its value.
    enum Open {
        Map {
            start: usize,
            entries: Vec<(String, (usize, usize), Node)>,
            key: Option<(String, (usize, usize))>,
        },
        Seq {
            start: usize,
            items: Vec<Node>,
        },
    }
    let mut stack: Vec<Open> = Vec::new();
    let mut root: Option<Node> = None;
    let mut documents = 0;
    // Attach a finished node (or, in a mapping waiting for a key, the key).
    fn push(
        text: &str,
        stack: &mut [Open],
        root: &mut Option<Node>,
        node: Node,
        key_text: Option<String>,
    ) -> Result<()> {
        match stack.last_mut() {
            None => *root = Some(node),
            Some(Open::Seq { items, .. }) => items.push(node),
            Some(Open::Map { entries, key, .. }) => match key.take() {
                Some((k, kr)) => entries.push((k, kr, node)),
                None => {
                    let range = node.range();
                    let Some(k) = key_text else {
                        return Err(Error::invalid(
                            "a key must be a plain value, not a mapping or a list",
                        )
                        .at(range));
                    };
                    if let Some((_, first, _)) = entries.iter().find(|(e, _, _)| *e == k) {
                        return Err(Error::invalid(format!("`{k}` is given twice"))
                            .at(range)
                            .hint(format!(
                                "the first is on line {}",
                                crate::error::line_col(text, first.0).0
                            )));
                    }
                    *key = Some((k, range));
                }
            },
        }
        Ok(())
    }
    while let Some(ev) = parser.next_event() {
        let (ev, span) = ev.map_err(|e| {
            let m = e.marker();
            let at = offsets.at(m.index());
            Error::invalid(e.info().to_string()).at((at, at))
        })?;
        let (start, end) = offsets.span(&span);
        match ev {
            Event::DocumentStart(_) => {
                documents += 1;
                if documents > 1 {
                    return Err(Error::invalid(
                        "the file holds more than one YAML document; nixcross reads one",
                    )
                    .at((start, end)));
                }
            }
            Event::Scalar(value, ..) => {
                let node = Node::Scalar {
                    range: (start, end),
                };
                push(text, &mut stack, &mut root, node, Some(value.into_owned()))?;
            }
            Event::Alias(_) => {
                let node = Node::Scalar {
                    range: (start, end),
                };
                push(text, &mut stack, &mut root, node, None)?;
            }
            Event::MappingStart(..) => stack.push(Open::Map {
                start,
                entries: Vec::new(),
                key: None,
            }),
            Event::SequenceStart(..) => stack.push(Open::Seq {
                start,
                items: Vec::new(),
            }),
            Event::MappingEnd | Event::SequenceEnd => {
                let node = match stack.pop() {
                    Some(Open::Map {
                        start: s, entries, ..
                    }) => Node::Map {
                        range: (s, end.max(s)),
                        entries,
                    },
                    Some(Open::Seq { start: s, items }) => Node::Seq {
                        range: (s, end.max(s)),
                        items,
                    },
                    None => return Err(Error::internal("unbalanced YAML events")),
                };
                push(text, &mut stack, &mut root, node, None)?;
            }
            Event::StreamEnd => break,
            Event::Nothing | Event::StreamStart | Event::DocumentEnd => {}
        }
    }
    Ok(root)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_find_keys_and_values() {
        let text = "configurations:\n  lp4a:\n    target: riscv64-linux\n    overlays:\n      - packages: { gcc: gcc12 }\n";
        let root = read(text).unwrap().unwrap();
        let target = root
            .get(&[
                Seg::Key("configurations"),
                Seg::Key("lp4a"),
                Seg::Key("target"),
            ])
            .unwrap();
        let r = target.range();
        assert_eq!(&text[r.0..r.1], "riscv64-linux");
        let k = root
            .key_range(&[
                Seg::Key("configurations"),
                Seg::Key("lp4a"),
                Seg::Key("target"),
            ])
            .unwrap();
        assert_eq!(&text[k.0..k.1], "target");
        let gcc = root
            .get(&[
                Seg::Key("configurations"),
                Seg::Key("lp4a"),
                Seg::Key("overlays"),
                Seg::Index(0),
                Seg::Key("packages"),
                Seg::Key("gcc"),
            ])
            .unwrap()
            .range();
        assert_eq!(&text[gcc.0..gcc.1], "gcc12");
    }

    #[test]
    fn offsets_are_bytes() {
        let text = "# é\nflake: \"ü.nix\"\n";
        let root = read(text).unwrap().unwrap();
        let r = root.get(&[Seg::Key("flake")]).unwrap().range();
        assert_eq!(&text[r.0..r.1], "\"ü.nix\"");
    }

    #[test]
    fn keys_given_twice_and_syntax_errors_are_located() {
        let text = "configurations:\n  a: {}\n  a: {}\n";
        let e = read(text).unwrap_err();
        assert!(e.message.contains("`a` is given twice"), "{e:?}");
        assert_eq!(e.range.map(|r| r.start), text.rfind("a:"));
        let e = read("a: [1, 2\n").unwrap_err();
        assert!(e.range.is_some(), "{e:?}");
        assert!(read("").unwrap().is_none());
        assert!(read("a: 1\n---\nb: 2\n").is_err());
    }
}
