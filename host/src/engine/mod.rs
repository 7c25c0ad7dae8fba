//! Engines: where a run's tasks queue and its state lives. The orchestrator and the
//! workers talk to an [`Engine`] only, so the embedded engine (in-process, the default)
//! and the Redis engine are interchangeable behind it and one behavioural test suite
//! runs against both.
//!
//! An engine is also the [`StageHost`] that serves plugin imports: what an executor
//! enqueues goes straight into the engine's queue for its stage.

mod embedded;
mod redis;
mod state_error;

pub use embedded::EmbeddedEngine;
pub use redis::{redact_url, ConnectError, Keys, RedisEngine, RedisOptions, MAX_RETAIN};
pub use state_error::StateError;

use crate::api::{Execution, Outcome, Stage};
use crate::pipeline::Pipeline;
use crate::stage_host::StageHost;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::HashSet;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

/// One task on its way to an actor.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskEnvelope {
    pub run_id: Arc<str>,
    pub stage: Arc<str>,
    pub index: u64,
    pub actor: String,
    pub input: Value,
    pub key: Option<Value>,
    /// 1 for the first try.
    pub attempt: u32,
    /// Which queue delivery this is, when the engine's queue acknowledges deliveries.
    pub delivery: Option<Delivery>,
}

/// A delivery from a queue that must be acknowledged (a Redis stream entry).
#[derive(Debug, Clone, PartialEq)]
pub struct Delivery {
    /// The stream entry id.
    pub entry: String,
    /// When the worker took it (ms since the Unix epoch).
    pub taken_ms: u64,
}

/// Where a run stands, as the engine keeps it: what `troupe resume` and `troupe status`
/// read, so no orchestrator needs to remember anything.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    /// `{"name": ..., "stages": [...]}`, as validated when the run started.
    pub pipeline: Value,
    pub status: RunStatus,
    /// The index of the stage being run (or last run).
    pub stage: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "state", content = "reason")]
pub enum RunStatus {
    Running,
    Succeeded,
    Failed(String),
    /// Ended by [`Engine::cancel_run`] (`troupe cancel`, Ctrl-C on `troupe run`).
    Cancelled,
}

impl RunStatus {
    /// One word (or, for a failure, the word and its reason) for people.
    pub fn word(&self) -> String {
        match self {
            RunStatus::Running => "running".into(),
            RunStatus::Succeeded => "succeeded".into(),
            RunStatus::Failed(reason) => format!("failed: {reason}"),
            RunStatus::Cancelled => "cancelled".into(),
        }
    }
}

impl RunRecord {
    pub fn pipeline(&self) -> anyhow::Result<Pipeline> {
        Pipeline::from_value(self.pipeline.clone(), "pipeline").map_err(|e| anyhow::anyhow!("{e}"))
    }
}

/// What the workers need to know about a stage to run its tasks.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StageInfo {
    pub mode: String,
    pub stage: Arc<Stage>,
    pub before_task_hook: bool,
    pub after_task_hook: bool,
}

/// How a task ended, as recorded.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TaskResult {
    pub index: u64,
    pub actor: String,
    pub key: Option<Value>,
    pub outcome: Outcome,
    pub attempts: u32,
}

/// A stage's counters, as `troupe status` and the progress display show them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct StageCounts {
    /// Set once the executor has returned.
    pub expected: Option<u64>,
    pub enqueued: u64,
    pub succeeded: u64,
    pub failed: u64,
    /// Released to the queue (ready, delayed or running), not yet ended.
    pub in_flight: u64,
    /// Held back by `maxParallel`.
    pub waiting: u64,
    /// The most tasks this stage ever had in flight at once.
    pub max_in_flight: u64,
    /// Results that arrived after the next stage started early.
    pub stragglers: u64,
}

impl StageCounts {
    /// The barrier: every expected task ended.
    pub fn done(&self) -> bool {
        self.expected.is_some_and(|e| self.succeeded + self.failed >= e)
    }
}

/// What a finished task's report did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recorded {
    /// Counted toward the barrier.
    Counted,
    /// This task already had a result: ignored (a redelivery).
    Duplicate,
    /// Its stage was cut by an early start: kept as a straggler, never merged.
    Straggler,
    /// The run was cancelled (or its state is gone): nothing was recorded.
    Ended,
}

/// A queue and a run-state store.
pub trait Engine: StageHost + 'static {
    /// Create a run of `pipeline` whose context is `{"trigger": trigger}`.
    fn start_run(&self, run_id: &str, pipeline: &Pipeline, trigger: Value) -> anyhow::Result<()>;

    /// The run's definition, trigger and progress.
    fn run_record(&self, run_id: &str) -> anyhow::Result<RunRecord>;

    /// Note that the run has reached stage `stage` (an index into its stages).
    fn set_run_stage(&self, run_id: &str, stage: usize) -> anyhow::Result<()>;

    /// Record how the run ended; workers stop looking for its tasks.
    fn finish_run(&self, run_id: &str, status: &RunStatus) -> anyhow::Result<()>;

    /// How the run stands now (what its orchestrator watches while it drives it).
    fn run_status(&self, run_id: &str) -> anyhow::Result<RunStatus> {
        Ok(self.run_record(run_id)?.status)
    }

    /// End a running run as [`RunStatus::Cancelled`], from any process: its tasks not yet
    /// started are dropped (never run), results still arriving are not recorded, and its
    /// orchestrator stops when it sees the status. An error if it already ended.
    fn cancel_run(&self, run_id: &str) -> anyhow::Result<()>;

    /// Hold the run for `owner` for `ttl` (take it, or extend it if `owner` holds it);
    /// false while another orchestrator holds it.
    fn acquire_lease(&self, run_id: &str, owner: &str, ttl: Duration) -> anyhow::Result<bool>;

    /// What the stage's `execute` returned, once it was sealed.
    fn sealed(&self, run_id: &str, stage: &str) -> anyhow::Result<Option<Execution>>;

    /// Open a stage before its executor runs (tasks it enqueues land here). Opening an
    /// open stage changes nothing (a resumed run opens its current stage again).
    fn open_stage(&self, run_id: &str, info: StageInfo) -> anyhow::Result<()>;

    /// Record what `execute` returned; returns how many tasks the stage has enqueued.
    fn seal_stage(&self, run_id: &str, stage: &str, execution: &Execution) -> anyhow::Result<u64>;

    fn counts(&self, run_id: &str, stage: &str) -> anyhow::Result<StageCounts>;

    /// The stage's recorded results, in task-index order.
    fn results(&self, run_id: &str, stage: &str) -> anyhow::Result<Vec<TaskResult>>;

    /// Late results of a cut stage, in arrival order.
    fn stragglers(&self, run_id: &str, stage: &str) -> anyhow::Result<Vec<TaskResult>>;

    /// For each task, when each of its attempts was released to the workers (ms since the
    /// stage opened), in task-index order. Release, not start, because that is what the
    /// engine controls (rate limits and retry delays hold it back); when a worker starts a
    /// released task depends on how busy the workers are.
    fn task_history(&self, run_id: &str, stage: &str) -> anyhow::Result<Vec<(u64, Vec<u64>)>>;

    /// Stop counting the stage: tasks still running become stragglers.
    fn cut_stage(&self, run_id: &str, stage: &str) -> anyhow::Result<()>;

    /// Put the stage's output into the run's context as `$.<stage>`.
    fn set_output(&self, run_id: &str, stage: &str, output: Value) -> anyhow::Result<()>;

    /// The run's context.
    fn run_context(&self, run_id: &str) -> anyhow::Result<Arc<Value>>;

    /// Wait until something in the run changed, or `timeout` passed.
    fn wait_for_change(&self, run_id: &str, timeout: Duration) -> impl Future<Output = ()> + Send;

    /// The stage a task belongs to.
    fn stage_info(&self, run_id: &str, stage: &str) -> anyhow::Result<StageInfo>;

    /// The next task due, waiting as long as it takes.
    fn next_task(&self) -> impl Future<Output = TaskEnvelope> + Send;

    /// Record a task's outcome (exactly once per task).
    fn finish_task(&self, task: &TaskEnvelope, outcome: Outcome) -> anyhow::Result<Recorded>;

    /// Record a task's outcome without waiting to learn how it was recorded (what workers
    /// call: an engine may batch these). [`Engine::flush`] waits for them.
    fn report(&self, task: &TaskEnvelope, outcome: Outcome) -> anyhow::Result<()> {
        self.finish_task(task, outcome).map(|_| ())
    }

    /// Wait until every [`Engine::report`] made so far is recorded.
    fn flush(&self) {}

    /// Give up a task this worker cannot run, recording nothing: on Redis its delivery is
    /// no longer kept claimed, so another worker takes it over after the visibility
    /// timeout.
    fn abandon(&self, _task: &TaskEnvelope) {}

    /// Run the task again after `delay_ms`; `next_attempt` counts it as a retry.
    fn requeue(&self, task: TaskEnvelope, delay_ms: u64, next_attempt: bool) -> anyhow::Result<()>;

    /// Count one more deferral of `task` (its `before-task` said defer) and return how
    /// many it has had, this one included: what holds a hook that defers for ever to the
    /// executor's `task-deferrals`. Retries need no counter: the attempt number is one.
    fn count_deferral(&self, task: &TaskEnvelope) -> anyhow::Result<u64>;
}

/// The error an executor receives when a task names an actor the manifest lacks.
pub(crate) fn check_actors(tasks: &[crate::api::Task], actors: &HashSet<String>) -> Result<(), String> {
    match tasks.iter().find(|t| !actors.contains(&t.actor)) {
        Some(unknown) => Err(format!(
            "task {}: unknown actor `{}`; the manifest has no [actors.{}]",
            unknown.index, unknown.actor, unknown.actor
        )),
        None => Ok(()),
    }
}

/// Each task's attempt times, in task-index order, from an attempt log of
/// (index, ms since the stage opened) pairs.
pub(crate) fn group_history(mut log: Vec<(u64, u64)>) -> Vec<(u64, Vec<u64>)> {
    log.sort_unstable();
    let mut history: Vec<(u64, Vec<u64>)> = Vec::new();
    for (index, at) in log {
        match history.last_mut() {
            Some((last, times)) if *last == index => times.push(at),
            _ => history.push((index, vec![at])),
        }
    }
    history
}

/// A plugin's log line on stderr, when at `min` or above.
pub(crate) fn log_line(
    scope: &crate::stage_host::Scope,
    level: crate::api::LogLevel,
    min: crate::api::LogLevel,
    message: &str,
) {
    if level >= min {
        eprintln!(
            "[{level:?}] {} {} (run {}, stage {}): {message}",
            scope.role.as_str(),
            scope.name,
            scope.run_id,
            scope.stage
        );
    }
}
