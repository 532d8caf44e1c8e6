//! The caller's choice to leave the trees a thread drops to the process's
//! exit instead of freeing them ([`KeepTreesUntilExit`]), held by the
//! thread while a guard lives.

use std::cell::Cell;
use std::marker::PhantomData;

thread_local! {
    /// How many [`KeepTreesUntilExit`] guards this thread holds.
    static GUARDS: Cell<usize> = const { Cell::new(0) };
}

/// While a value of this type lives, the library leaves what this thread
/// would free one node at a time to the process's exit: a dropped
/// [`Flake`](crate::flake::Flake) (its files, syntax trees and evaluator;
/// not one that spent more than a quarter of the evaluation's byte budget,
/// so that the loads of one command do not add up), the trees of re-parsed
/// results, the parses the thread's cache of recent parses lets go, and
/// the thread's prelude of built-ins if the thread ends while it lives.
///
/// For a program that runs one operation and exits (the `nixcross`
/// binary), where freeing is a tenth of the work. Memory then grows with
/// each operation, so a long-running program should not hold one. What
/// the library computes is the same with or without it.
///
/// ```
/// let _keep = nixcross::flake::KeepTreesUntilExit::new();
/// // Load, plan, apply: trees are left to the process's exit.
/// ```
///
/// It belongs to the thread that made it (it is not `Send`); guards nest.
#[derive(Debug)]
#[must_use = "trees are left to the process's exit only while the guard lives"]
pub struct KeepTreesUntilExit {
    /// Not `Send`: it counts in its thread's `GUARDS`.
    _thread: PhantomData<*const ()>,
}

impl KeepTreesUntilExit {
    /// Leave this thread's trees to the process's exit until the guard is
    /// dropped.
    pub fn new() -> KeepTreesUntilExit {
        GUARDS.with(|g| g.set(g.get() + 1));
        KeepTreesUntilExit {
            _thread: PhantomData,
        }
    }
}

impl Default for KeepTreesUntilExit {
    fn default() -> KeepTreesUntilExit {
        KeepTreesUntilExit::new()
    }
}

impl Drop for KeepTreesUntilExit {
    fn drop(&mut self) {
        GUARDS.with(|g| g.set(g.get() - 1));
    }
}

/// Whether this thread leaves its trees to the process's exit: it holds a
/// [`KeepTreesUntilExit`].
pub(crate) fn trees_kept() -> bool {
    GUARDS.with(|g| g.get() > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_guard_keeps_trees_on_its_thread_while_it_lives() {
        assert!(!trees_kept());
        let outer = KeepTreesUntilExit::new();
        assert!(trees_kept());
        {
            let _inner = KeepTreesUntilExit::default();
            assert!(trees_kept());
            // Another thread has not chosen.
            assert!(!std::thread::spawn(trees_kept).join().unwrap());
        }
        assert!(trees_kept());
        drop(outer);
        assert!(!trees_kept());
    }
}
