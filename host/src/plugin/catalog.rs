//! [`Catalog`]: which plugins each run runs on. A one-shot command has one set for
//! everything (`Arc<Plugins>` is a catalog); a long-lived host replaces its set while runs
//! go on ([`Pinned`]), and each run finishes on the set it started with, so a pattern
//! swapped mid-run never sees half a run.

use super::Plugins;
use std::collections::HashMap;
use std::sync::{Arc, RwLock};

/// Where the orchestrator, the hook host and workers find a run's plugins.
pub trait Catalog: Send + Sync + 'static {
    /// The plugins `run_id`'s stages and tasks run on.
    fn plugins_for(&self, run_id: &str) -> Arc<Plugins>;
    /// The plugins a run started now gets (what a pipeline is validated against).
    fn current(&self) -> Arc<Plugins>;
}

impl Catalog for Arc<Plugins> {
    fn plugins_for(&self, _run_id: &str) -> Arc<Plugins> {
        self.clone()
    }

    fn current(&self) -> Arc<Plugins> {
        self.clone()
    }
}

/// A catalog whose current set can be replaced: each run is pinned to the set that was
/// current when it was pinned, and an old set is freed when its last run is unpinned
/// (the `Arc`s are the reference count).
pub struct Pinned {
    state: RwLock<State>,
    /// Pin a run the first time it is asked about (a `troupe worker` on Redis does not
    /// see runs start: its first task of a run is as early as it can tell).
    pin_on_sight: bool,
}

struct State {
    current: Arc<Plugins>,
    runs: HashMap<String, Arc<Plugins>>,
}

impl Pinned {
    /// Runs are pinned explicitly ([`Pinned::pin`]); an unpinned run gets the current set.
    pub fn new(plugins: Arc<Plugins>) -> Pinned {
        Pinned { state: RwLock::new(State { current: plugins, runs: HashMap::new() }), pin_on_sight: false }
    }

    /// Runs are pinned the first time a task or stage of theirs asks.
    pub fn pinning_on_sight(plugins: Arc<Plugins>) -> Pinned {
        Pinned { pin_on_sight: true, ..Pinned::new(plugins) }
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, State> {
        self.state.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, State> {
        self.state.write().unwrap_or_else(|p| p.into_inner())
    }

    /// Pin `run_id` to the current set (a run already pinned keeps its set); the set.
    pub fn pin(&self, run_id: &str) -> Arc<Plugins> {
        let mut state = self.write();
        let current = state.current.clone();
        state.runs.entry(run_id.to_string()).or_insert(current).clone()
    }

    /// The run has ended: its set may go when no other run holds it.
    pub fn unpin(&self, run_id: &str) {
        self.write().runs.remove(run_id);
    }

    /// Runs started from now on get `plugins`; pinned runs keep theirs.
    pub fn replace(&self, plugins: Arc<Plugins>) {
        self.write().current = plugins;
    }

    /// The runs pinned now.
    pub fn pinned_runs(&self) -> Vec<String> {
        self.read().runs.keys().cloned().collect()
    }

    /// How many distinct sets are loaded for pinned runs besides the current one.
    pub fn older_sets(&self) -> usize {
        let state = self.read();
        let mut sets: Vec<*const Plugins> =
            state.runs.values().map(Arc::as_ptr).filter(|p| !std::ptr::eq(*p, Arc::as_ptr(&state.current))).collect();
        sets.sort();
        sets.dedup();
        sets.len()
    }
}

impl Catalog for Pinned {
    fn plugins_for(&self, run_id: &str) -> Arc<Plugins> {
        {
            let state = self.read();
            if let Some(set) = state.runs.get(run_id) {
                return set.clone();
            }
            if !self.pin_on_sight {
                return state.current.clone();
            }
        }
        self.pin(run_id)
    }

    fn current(&self) -> Arc<Plugins> {
        self.read().current.clone()
    }
}

impl<C: Catalog + ?Sized> Catalog for Arc<C> {
    fn plugins_for(&self, run_id: &str) -> Arc<Plugins> {
        C::plugins_for(self, run_id)
    }

    fn current(&self) -> Arc<Plugins> {
        C::current(self)
    }
}
