//! The prelude: the built-ins (the base scope) and nixpkgs' `lib`, made
//! once per thread, on first use, and shared by every evaluator of the
//! thread below a fixed thunk id.

use std::cell::OnceCell;
use std::collections::HashMap;
use std::rc::Rc;

use super::{prims, Evaluator, Thunk, ThunkId, Value};
use crate::source::SourceMap;

/// What every evaluator can reach: the built-ins (the base scope) and
/// nixpkgs' `lib`, a few hundred values made once per thread, the first time
/// an evaluator of that thread needs one, and shared by every evaluator of
/// that thread (they hold no syntax and never change). Their thunks are the
/// ids below [`PRELUDE_IDS`] of every arena; an evaluator's own thunks
/// start there.
pub(super) struct Prelude {
    /// The values of thunks `0..values.len()`.
    pub(super) values: Vec<Value>,
    /// The base scope's names.
    pub(super) base: HashMap<String, ThunkId>,
    /// `lib` of the input called `nixpkgs`.
    pub(super) lib: ThunkId,
}

/// The first id of an evaluator's own thunks: the prelude's are below it
/// (a few hundred of them).
pub(super) const PRELUDE_IDS: u32 = 1 << 16;

impl Prelude {
    fn empty() -> Prelude {
        Prelude {
            values: Vec::new(),
            base: HashMap::new(),
            lib: ThunkId(0),
        }
    }

    fn build() -> Prelude {
        let files = crate::files::MemFiles::new();
        let empty = OnceCell::from(Rc::new(Prelude::empty()));
        // Its thunks get the ids from 0 on, which every other evaluator
        // leaves to the prelude.
        let mut ev = Evaluator::over(SourceMap::new(&files), empty, 0);
        prims::install(&mut ev);
        let lib = prims::lib_attrs(&mut ev, None);
        let values: Vec<Value> = ev
            .thunks
            .drain(..)
            .map(|t| match t {
                Thunk::Value(v) => v,
                _ => unreachable!("the built-ins and `lib` are values"),
            })
            .collect();
        assert!(
            values.len() < PRELUDE_IDS as usize,
            "the prelude fits below PRELUDE_IDS"
        );
        Prelude {
            values,
            base: std::mem::take(&mut ev.envs[0].vars).into_map(),
            lib,
        }
    }

    /// This thread's prelude, built on the first call.
    fn get() -> Rc<Prelude> {
        thread_local! {
            static PRELUDE: Kept = Kept(Rc::new(Prelude::build()));
        }
        PRELUDE.with(|p| Rc::clone(&p.0))
    }
}

/// A thread's prelude, left to the OS when the thread ends while it holds a
/// [`crate::syntax::KeepTreesUntilExit`].
struct Kept(Rc<Prelude>);

impl Drop for Kept {
    fn drop(&mut self) {
        if crate::syntax::trees_kept() {
            std::mem::forget(std::mem::replace(&mut self.0, Rc::new(Prelude::empty())));
        }
    }
}

impl Evaluator<'_> {
    /// The built-ins and `lib`, built the first time they are needed.
    pub(super) fn prelude(&self) -> &Prelude {
        self.prelude.get_or_init(Prelude::get)
    }

    /// The nixpkgs `lib` stand-in (a thunk of the prelude's, which is built
    /// when that thunk is forced).
    pub fn lib(&mut self) -> ThunkId {
        match self.lib {
            Some(l) => l,
            None => {
                let l = self.alloc(Thunk::Lib);
                self.lib = Some(l);
                l
            }
        }
    }
}
