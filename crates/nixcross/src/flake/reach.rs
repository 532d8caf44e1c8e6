//! Which configurations an edit of one configuration must read, so that an
//! edit reads only those: the text each configuration can reach, from its
//! binding in `flake.nix` alone ([`crate::syntax::reach`]), without evaluating it.
//!
//! A configuration's reach is its binding's value, the `let` and `rec`
//! values the names in it are bound to (and so on), and the files its
//! relative path literals name. It is known only when nothing else can
//! bring text in: the names are bound by those scopes, by inputs of
//! `outputs` other than `self` (and not through `inputs@`), or are
//! built-ins; there is no `+` or interpolation (which build paths), no
//! `with` around it; and each file it names is a regular file with no `/`,
//! `+` or `${` in it (so it names no other file and builds no path).
//! Otherwise the reach is unknown and the configuration is read.
//!
//! Two configurations whose reaches are known and share no text and no file
//! cannot use each other's text: whatever an edit of one changes, the other
//! evaluates as before.

use std::cell::RefCell;
use std::collections::{HashMap, HashSet};

use crate::eval::{Evaluator, ThunkId};
use crate::files::RelPath;
use crate::source::{FileId, Src};
use crate::syntax::reach::{footprint, Binder};
use crate::syntax::Node;

/// The text a configuration can reach.
#[derive(Debug, Clone, Default)]
pub(super) struct Reach {
    /// Byte ranges of `flake.nix`.
    ranges: Vec<(usize, usize)>,
    /// Files other than `flake.nix` (real paths).
    files: Vec<RelPath>,
}

impl Reach {
    /// Whether the two share any text.
    pub(super) fn meets(&self, other: &Reach) -> bool {
        self.files.iter().any(|f| other.files.contains(f))
            || self.ranges.iter().any(|&(a, b)| {
                other
                    .ranges
                    .iter()
                    .any(|&(c, d)| a < d && c < b || (a, b) == (c, d))
            })
    }
}

/// What the `outputs` function binds.
pub(super) struct Outputs<'a> {
    /// The function.
    pub lambda: Option<Node>,
    /// Its parameter names.
    pub formals: &'a [String],
    /// Its `@` name or plain parameter.
    pub bind: Option<&'a str>,
}

/// Reads the reach of a flake's configurations.
pub(super) struct Reader<'a, 'f> {
    ev: &'a Evaluator<'f>,
    flake: FileId,
    outputs: Outputs<'a>,
    /// `flake.nix`'s real path; `None` when relative paths in it are
    /// ambiguous (reached through links from two folders).
    flake_real: Option<RelPath>,
    /// Files looked at: whether each names no other file.
    leaves: RefCell<HashMap<RelPath, bool>>,
}

impl<'a, 'f> Reader<'a, 'f> {
    pub(super) fn new(ev: &'a Evaluator<'f>, flake: FileId, outputs: Outputs<'a>) -> Self {
        let source = ev.sources.get(flake);
        let flake_real = (!source.ambiguous_base)
            .then(|| ev.sources.files().real_path(&source.path).ok())
            .flatten();
        Reader {
            ev,
            flake,
            outputs,
            flake_real,
            leaves: RefCell::new(HashMap::new()),
        }
    }

    /// The reach of the configuration whose value is thunk `t`, or `None`
    /// when it is not known (see the module's documentation).
    pub(super) fn reach_of(&self, t: ThunkId) -> Option<Reach> {
        let flake_real = self.flake_real.as_ref()?;
        let Src { file, node: expr } = self.ev.pending_expr(t)?;
        if file != self.flake {
            return None;
        }
        let source = self.ev.sources.get(self.flake);
        let mut reach = Reach::default();
        let mut seen: HashSet<(usize, usize)> = HashSet::new();
        let mut work = vec![expr];
        while let Some(node) = work.pop() {
            if !seen.insert(node.range()) {
                continue;
            }
            reach.ranges.push(node.range());
            let fp = footprint(&node);
            if fp.unknown.is_some() {
                return None;
            }
            for b in fp.binders {
                match b {
                    Binder::Values(values) => work.extend(values),
                    Binder::Builtin => {}
                    Binder::Param { lambda, name } => {
                        let o = &self.outputs;
                        let input = o.lambda.as_ref() == Some(&lambda)
                            && name != "self"
                            && o.bind != Some(name.as_str())
                            && o.formals.contains(&name);
                        if !input {
                            return None;
                        }
                    }
                }
            }
            for lit in fp.paths {
                // As the evaluator resolves a relative path.
                let lit = if lit.starts_with("./") || lit.starts_with("../") || lit == "." {
                    lit
                } else {
                    format!("./{lit}")
                };
                let path = source.loaded_as.join_nix(&lit)?;
                let real = self.ev.sources.files().real_path(&path).ok()?;
                if &real == flake_real || !self.leaf(&real) {
                    return None;
                }
                if !reach.files.contains(&real) {
                    reach.files.push(real);
                }
            }
        }
        Some(reach)
    }

    /// Whether `path` is a regular file that names no other file and builds
    /// no path: no `/`, `+` or `${` in it.
    fn leaf(&self, path: &RelPath) -> bool {
        if let Some(known) = self.leaves.borrow().get(path) {
            return *known;
        }
        let leaf = self
            .ev
            .sources
            .files()
            .read(path)
            .is_ok_and(|text| !text.contains(['/', '+']) && !text.contains("${"));
        self.leaves.borrow_mut().insert(path.clone(), leaf);
        leaf
    }
}
