//! What one evaluator may spend: steps (an expression evaluated, a function
//! applied, two values compared) and bytes (what it allocates: the text of
//! strings, list items, attribute entries, thunks, scopes, calls). Past
//! either limit every further evaluation is [`Value::Unknown`] with one
//! reason, which says where the budget ran out; nothing aborts.
//!
//! The bytes are counted as they are allocated and never given back (the
//! arena keeps every thunk), so they bound the evaluator's peak memory, and
//! a value that grows without end (a string doubled in a loop, `l ++ l`, a
//! `//` chain over a growing set) is stopped before it is built: operations
//! whose result can be much larger than their inputs (`+`, `++`, `//`,
//! `concatStringsSep`, `replaceStrings`, `genList`) charge its size first.

use std::rc::Rc;

use super::{Unknown, Value};

/// How many steps one evaluator may take by default. A step is an
/// expression evaluated, a function applied, a scope searched for a name or
/// two values compared; a flake of a few MiB takes far fewer (the
/// 2,000-configuration benchmark flake, 600 KB with a module file per
/// configuration, about 32,000), and a release build spends about 0.05 µs
/// on each.
pub const MAX_STEPS: u64 = 4_000_000;

/// How many bytes one evaluator may allocate for values by default (the
/// 2,000-configuration flake takes 5 MiB). The process's peak is a small
/// multiple of it (allocator slack, the syntax trees, a second evaluator
/// that checks an edit): under 64 MiB for every case of `benches/limits`.
pub const MAX_BYTES: u64 = 32 << 20;

/// The costs of what the evaluator allocates, in bytes.
pub(super) mod cost {
    /// A thunk in the arena.
    pub const THUNK: u64 = 64;
    /// A scope.
    pub const SCOPE: u64 = 80;
    /// A name bound in a scope.
    pub const BINDING: u64 = 64;
    /// An item of a list (its thunk id).
    pub const LIST_ITEM: u64 = 4;
    /// An attribute of a set: its key, its entry, the tree's share.
    pub const ENTRY: u64 = 96;
    /// A piece of a string (its text is counted by length).
    pub const PIECE: u64 = 32;
    /// A call of a function written in a file, as recorded.
    pub const CALL: u64 = 48;
    /// A syntax node's shape, decoded once.
    pub const DECODED: u64 = 160;
}

/// Limits of one evaluator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Steps.
    pub steps: u64,
    /// Bytes.
    pub bytes: u64,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            steps: MAX_STEPS,
            bytes: MAX_BYTES,
        }
    }
}

/// What an evaluator has spent.
#[derive(Debug, Default)]
pub(super) struct Budget {
    pub(super) limits: Limits,
    pub(super) steps: u64,
    pub(super) bytes: u64,
    /// Once a limit is passed: the one unknown value every evaluation
    /// gives from then on.
    spent: Option<Rc<Unknown>>,
}

impl Budget {
    /// Whether a limit is passed.
    #[inline]
    pub(super) fn over(&self) -> bool {
        self.spent.is_some() || self.steps > self.limits.steps || self.bytes > self.limits.bytes
    }

    /// Whether `more` bytes would pass the limit.
    pub(super) fn would_pass(&self, more: u64) -> bool {
        self.bytes.saturating_add(more) > self.limits.bytes
    }

    /// The unknown value of a spent budget; the first call says where
    /// (`here`, "flake.nix:4:12", when the caller knows it) and which limit.
    pub(super) fn spend(&mut self, here: Option<String>) -> Value {
        if let Some(u) = &self.spent {
            return Value::Unknown(u.clone());
        }
        let what = if self.steps > self.limits.steps {
            format!(
                "more than {} evaluation steps: the flake is very large, or loops",
                self.limits.steps
            )
        } else {
            format!(
                "more than {} MiB of values: the flake is very large, or a value grows without end",
                self.limits.bytes >> 20
            )
        };
        // The reason says where; the value has no place of its own, since
        // every evaluation after this one gives it.
        let reason = match here {
            Some(place) => format!("the evaluation budget is spent at {place} ({what})"),
            None => format!("the evaluation budget is spent ({what})"),
        };
        let u = Rc::new(Unknown { reason, at: None });
        self.spent = Some(u.clone());
        Value::Unknown(u)
    }
}
