//! Package-set sites in the rewritable reading ([`super::Reading`]).
//!
//! Each forced thunk remembers the sites its forcing met, each once, and
//! replays them whenever it is used again. So a value reports every package
//! set it reaches however often it is shared, and is still forced once: a
//! binding used twice by one used twice is read once, not 2^n times.

use std::collections::{HashMap, HashSet};
use std::rc::Rc;

use super::{PkgsSite, PkgsVia, ThunkId};
use crate::source::FileId;

#[derive(Debug, Default)]
pub(super) struct Trace {
    /// What is being collected: one frame per thunk being forced, and one
    /// per [`super::Evaluator::sites_begin`].
    frames: Vec<Vec<PkgsSite>>,
    /// The sites each forced thunk met.
    forced: HashMap<ThunkId, Rc<[PkgsSite]>>,
    /// The sites each deeply forced thunk met (`mkShell`'s inputs).
    deep: HashMap<ThunkId, Rc<[PkgsSite]>>,
}

impl Trace {
    pub fn begin(&mut self) {
        self.frames.push(Vec::new());
    }

    pub fn record(&mut self, site: PkgsSite) {
        if let Some(f) = self.frames.last_mut() {
            f.push(site);
        }
    }

    fn replay_from(&mut self, sites: Option<Rc<[PkgsSite]>>) -> bool {
        let Some(sites) = sites else { return false };
        if let Some(f) = self.frames.last_mut() {
            f.extend(sites.iter().cloned());
        }
        true
    }

    /// The frame begun last, each site once; its sites also count for the
    /// frame around it.
    pub fn end(&mut self) -> Vec<PkgsSite> {
        let sites = distinct(self.frames.pop().unwrap_or_default());
        if let Some(outer) = self.frames.last_mut() {
            outer.extend(sites.iter().cloned());
        }
        sites
    }

    /// End the frame of forcing `id`.
    pub fn end_forced(&mut self, id: ThunkId) {
        let sites = self.end();
        if !sites.is_empty() {
            self.forced.insert(id, sites.into());
        }
    }

    /// `id` was forced before: its sites count again.
    pub fn replay(&mut self, id: ThunkId) {
        let sites = self.forced.get(&id).cloned();
        self.replay_from(sites);
    }

    /// Whether `id` was forced deeply before (then its sites count again).
    pub fn replay_deep(&mut self, id: ThunkId) -> bool {
        let sites = self.deep.get(&id).cloned();
        self.replay_from(sites)
    }

    /// End the frame of forcing `id` deeply.
    pub fn end_deep(&mut self, id: ThunkId) {
        let sites = self.end();
        self.deep.insert(id, sites.into());
    }
}

/// What makes two sites the same place.
fn key(site: &PkgsSite) -> Option<(u8, FileId, (usize, usize))> {
    match site {
        PkgsSite::Written(set) => match &set.via {
            PkgsVia::Legacy {
                written: Some(w), ..
            }
            | PkgsVia::Cross { at: Some(w), .. } => Some((0, w.file, w.range)),
            PkgsVia::Import { call, .. } => call.as_ref().map(|s| (0, s.file, s.range())),
            _ => None,
        },
        PkgsSite::Used { at, .. } => Some((1, at.file, at.range())),
    }
}

/// `sites` without repeats, in order.
fn distinct(sites: Vec<PkgsSite>) -> Vec<PkgsSite> {
    let mut seen = HashSet::new();
    sites
        .into_iter()
        .filter(|s| key(s).is_none_or(|k| seen.insert(k)))
        .collect()
}
