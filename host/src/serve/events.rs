//! What happens to runs, as the API streams it (server-sent events): each event is one
//! JSON object whose `type` is also the SSE event name.

use crate::engine::StageCounts;
use serde::Serialize;
use utoipa::ToSchema;

/// A stage's counters, as the API shows them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Counts {
    /// Tasks the executor enqueued in all; absent until its `execute` returned.
    pub expected: Option<u64>,
    pub succeeded: u64,
    pub failed: u64,
    pub skipped: u64,
    /// Released to the queue (ready, delayed or running), not yet ended.
    pub in_flight: u64,
    /// Held back by `maxParallel`.
    pub waiting: u64,
    /// The most tasks the stage had in flight at once.
    pub max_in_flight: u64,
    /// Results that arrived after the next stage started early.
    pub stragglers: u64,
}

impl From<&StageCounts> for Counts {
    fn from(c: &StageCounts) -> Counts {
        Counts {
            expected: c.expected,
            succeeded: c.succeeded,
            failed: c.failed,
            skipped: c.skipped,
            in_flight: c.in_flight,
            waiting: c.waiting,
            max_in_flight: c.max_in_flight,
            stragglers: c.stragglers,
        }
    }
}

/// One thing that happened to a run.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum Event {
    #[serde(rename_all = "camelCase")]
    RunStarted { run_id: String, pipeline: String },
    #[serde(rename_all = "camelCase")]
    StageStarted { run_id: String, stage: String, index: usize, mode: String },
    /// At most every 100 ms per stage while its tasks end.
    #[serde(rename_all = "camelCase")]
    StageProgress { run_id: String, stage: String, counts: Counts },
    #[serde(rename_all = "camelCase")]
    StageEnded { run_id: String, stage: String, counts: Counts, succeeded: bool },
    /// A task ended failed (after its retries): its error and how many tries it had.
    #[serde(rename_all = "camelCase")]
    TaskFailed { run_id: String, stage: String, index: u64, actor: String, error: String, attempts: u32 },
    /// A running stage was retuned through the API: its new `maxParallel` and rate (what
    /// was not changed is absent), the held tasks the limit released and the waiting
    /// first tries the rate re-timed.
    #[serde(rename_all = "camelCase")]
    StageRetuned {
        run_id: String,
        stage: String,
        max_parallel: Option<u32>,
        rate: Option<super::service::Rate>,
        released: u64,
        retimed: u64,
    },
    #[serde(rename_all = "camelCase")]
    RunEnded { run_id: String, status: super::service::RunState, error: Option<String> },
    /// The server loaded a changed manifest or plugins folder: runs submitted from now
    /// on use it, running runs keep theirs (all-runs stream only).
    #[serde(rename_all = "camelCase")]
    PluginsReloaded { at: String, changes: Vec<crate::reload::Change> },
    /// A changed manifest or plugins folder failed to load or check; the set that was
    /// serving keeps serving (all-runs stream only).
    #[serde(rename_all = "camelCase")]
    PluginsRefused { at: String, error: String },
}

impl Event {
    pub fn name(&self) -> &'static str {
        match self {
            Event::RunStarted { .. } => "run-started",
            Event::StageStarted { .. } => "stage-started",
            Event::StageProgress { .. } => "stage-progress",
            Event::StageEnded { .. } => "stage-ended",
            Event::TaskFailed { .. } => "task-failed",
            Event::StageRetuned { .. } => "stage-retuned",
            Event::RunEnded { .. } => "run-ended",
            Event::PluginsReloaded { .. } => "plugins-reloaded",
            Event::PluginsRefused { .. } => "plugins-refused",
        }
    }

    /// The run the event is about; empty for the server's own events.
    pub fn run_id(&self) -> &str {
        match self {
            Event::PluginsReloaded { .. } | Event::PluginsRefused { .. } => "",
            Event::RunStarted { run_id, .. }
            | Event::StageStarted { run_id, .. }
            | Event::StageProgress { run_id, .. }
            | Event::StageEnded { run_id, .. }
            | Event::TaskFailed { run_id, .. }
            | Event::StageRetuned { run_id, .. }
            | Event::RunEnded { run_id, .. } => run_id,
        }
    }
}

/// An event with its place in its run's sequence (the SSE `id`; 0 for the server's own
/// events, sent without one).
#[derive(Debug, Clone)]
pub struct Numbered {
    pub seq: u64,
    pub event: Event,
}
