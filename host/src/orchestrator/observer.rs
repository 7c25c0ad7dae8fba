//! Progress callbacks. The orchestrator reports; what to draw is the caller's business.

use crate::engine::{StageCounts, Unread};

pub trait Observer: Send + Sync {
    /// The run has an id (print it: `troupe status` and `troupe resume` take it).
    fn run_started(&self, _run_id: &str) {}
    fn stage_started(&self, _index: usize, _stage: &str, _mode: &str) {}
    /// Called as tasks end, at most every 100 ms per stage.
    fn stage_progress(&self, _stage: &str, _counts: &StageCounts) {}
    fn stage_finished(&self, _stage: &str, _counts: &StageCounts, _succeeded: bool) {}
    /// While the stage waits: tasks no worker has read for a while (what the run is
    /// waiting for, when it waits in silence). Called every few seconds, possibly empty.
    fn stage_unread(&self, _stage: &str, _unread: &[Unread]) {}
}

/// Reports nothing.
pub struct Silent;

impl Observer for Silent {}
