//! Engines: where a run's tasks queue and its state lives, seen through small traits by
//! who calls them: [`RunStore`] (the orchestrator, `status`, `resume`, `cancel`),
//! [`TaskQueue`] (actor workers), [`HookQueue`] (hook hosts) and [`StageHost`] (plugin
//! imports). The embedded engine (in-process, the default) and the Redis engine are
//! interchangeable behind them; the engine conformance suite and the behavioural suites
//! run against both.

mod embedded;
pub mod live;
mod redis;
mod state_error;

pub use embedded::EmbeddedEngine;
pub use redis::{redact_url, ConnectError, Keys, RedisEngine, RedisOptions, MAX_RETAIN};
pub use state_error::StateError;

use crate::api::{Execution, Extension, Outcome, Stage};
use crate::payload::Payload;
use crate::pipeline::Pipeline;
use crate::stage_host::StageHost;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::HashSet;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

/// One task on its way to an actor (or to its stage's hooks).
#[derive(Debug, Clone, PartialEq)]
pub struct TaskEnvelope {
    pub run_id: Arc<str>,
    pub stage: Arc<str>,
    pub index: u64,
    pub actor: String,
    pub input: Payload,
    pub key: Option<Value>,
    /// 1 for the first try.
    pub attempt: u32,
    /// 0 for a task `execute` enqueued; one more than its parent's for a task an
    /// `after-task` review added (`extend`).
    pub generation: u32,
    /// How the engine acknowledges this delivery: opaque outside the engine that made it.
    pub receipt: Receipt,
}

/// An engine's acknowledgement token for one delivery (a Redis stream entry and the
/// stream it came from; nothing for the embedded engine). Opaque, so no caller depends
/// on how an engine acknowledges.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Receipt(pub(crate) Option<StreamReceipt>);

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct StreamReceipt {
    /// The stream key.
    pub stream: String,
    /// The entry id.
    pub entry: String,
    /// When this process took it (ms since the Unix epoch).
    pub taken_ms: u64,
}

impl Receipt {
    /// No acknowledgement needed (a task made in process, or by a test).
    pub fn none() -> Receipt {
        Receipt(None)
    }
}

/// Work for a stage's hooks, done by a hook host ([`crate::gatekeeper`]) holding the
/// executor plugin, never by an actor worker.
#[derive(Debug, Clone, PartialEq)]
pub struct HookWork {
    pub task: TaskEnvelope,
    pub kind: HookKind,
}

#[derive(Debug, Clone, PartialEq)]
pub enum HookKind {
    /// The task was released: ask `before-task` whether it runs.
    Admit,
    /// An attempt ended so: ask `after-task` whether it is the task's outcome.
    Review(Outcome),
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
    /// Enqueued with `skip`: ended without running, not failures.
    pub skipped: u64,
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
        self.expected.is_some_and(|e| self.ended() >= e)
    }

    /// Tasks that ended: succeeded, failed or skipped.
    pub fn ended(&self) -> u64 {
        self.succeeded + self.failed + self.skipped
    }
}

/// Tasks of one actor that no worker has read for a while: what a run waiting in silence
/// is waiting for (`troupe run` and `troupe status` say it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Unread {
    /// The actor whose stream holds them (`hooks` for the run's hook work).
    pub actor: String,
    /// Released to the stream and not yet delivered to any worker.
    pub waiting: u64,
    /// How long the oldest of them has waited, in ms.
    pub oldest_ms: u64,
}

/// The worker processes that read one actor's tasks for a run, by their consumer names
/// (`troupe worker`'s `<host>-<pid>-...`, the Python package's `python-<host>-<pid>-...`):
/// who to look at when a run's results surprise.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ServedBy {
    pub actor: String,
    pub workers: Vec<String>,
}

/// How long released tasks may go unread, with no worker reading their stream, before a
/// run says so: longer than a live worker's longest pause between touching its group (a
/// worker whose slots are all busy only claims its running tasks, every third of the
/// visibility timeout: 20 s by default).
pub const UNREAD_AFTER: Duration = Duration::from_secs(30);

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

/// A boxed future, so the role traits can be used as `dyn` objects.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Runs and their stages: what the orchestrator drives a run through, and what
/// `troupe status`, `resume` and `cancel` read. Every rule that must hold across
/// processes (the lease, first result wins, maxParallel slots) is the engine's to keep
/// atomic; the conformance suite in `tests/` pins each one on every engine.
/// What to change in a running stage.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Retune {
    /// A new `maxParallel`: held tasks are released up to it at once; a lower one lets
    /// running tasks finish and holds later ones. It stays for the rest of the stage,
    /// whatever the executor's later enqueues ask.
    pub max_parallel: Option<u32>,
    /// A new rate, (per second, burst): the stage gets a bucket of its own (no longer
    /// shared with other stages), started afresh; its first tries waiting for their turn
    /// are re-timed from now at this rate, and every later first try is paced by it.
    /// Retries keep their backoff.
    pub rate: Option<(f64, u32)>,
}

/// What a retune did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Retuned {
    /// Held tasks released by a higher `maxParallel`.
    pub released: u64,
    /// Waiting first tries re-timed by a new rate.
    pub retimed: u64,
}

pub trait RunStore: StageHost {
    /// Create a run of `pipeline` whose context is `{"trigger": trigger}`.
    fn start_run(&self, run_id: &str, pipeline: &Pipeline, trigger: Value) -> anyhow::Result<()>;

    /// The run's definition, trigger and progress.
    fn run_record(&self, run_id: &str) -> anyhow::Result<RunRecord>;

    /// Whether the engine still has the run (a finished run may have passed its
    /// retention).
    fn run_exists(&self, run_id: &str) -> anyhow::Result<bool>;

    /// The latest runs started, oldest first, at most `limit`.
    fn recent_runs(&self, limit: usize) -> anyhow::Result<Vec<String>>;

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

    /// Each actor's waiting tasks and the age of its oldest ready one, for the metrics
    /// (`/metrics`); none when the engine cannot tell.
    fn queue_stats(&self) -> anyhow::Result<Vec<crate::telemetry::metrics::ActorQueue>> {
        Ok(Vec::new())
    }

    /// Change a running stage (`troupe serve`'s retuning); see [`Retune`] for what each
    /// change does. An error if the run is not running or the stage has not started.
    fn retune(&self, run_id: &str, stage: &str, retune: &Retune) -> anyhow::Result<Retuned> {
        let _ = (run_id, stage, retune);
        anyhow::bail!("this engine cannot retune a running stage")
    }

    /// A running stage's slots, waiting tasks and rate bucket now (the live-state view).
    fn stage_live(&self, run_id: &str, stage: &str) -> anyhow::Result<live::StageLive>;

    /// The live keys of plugin state `namespace` ([`crate::stage_host::Scope::state_namespace`])
    /// that start with `prefix`, with their values, at most `limit` of them (in key order).
    /// Read by the live-state view for the keys plugins write to be shown (`view:`).
    fn plugin_state(&self, namespace: &str, prefix: &str, limit: usize) -> anyhow::Result<Vec<live::StateEntry>>;

    /// Hold the run for `owner` for `ttl` (take it, or extend it if `owner` holds it);
    /// false while another orchestrator holds it.
    fn acquire_lease(&self, run_id: &str, owner: &str, ttl: Duration) -> anyhow::Result<bool>;

    /// Who holds the run's lease now (None: no orchestrator drives it; a run still
    /// running is then orphaned).
    fn lease_holder(&self, run_id: &str) -> anyhow::Result<Option<String>>;

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

    /// For each task, when each of its attempts was released (ms since the stage opened),
    /// in task-index order. Release, not start, because that is what the engine controls
    /// (rate limits and retry delays hold it back); when a worker starts a released task
    /// depends on how busy the workers are.
    fn task_history(&self, run_id: &str, stage: &str) -> anyhow::Result<Vec<(u64, Vec<u64>)>>;

    /// Stop counting the stage: tasks still running become stragglers.
    fn cut_stage(&self, run_id: &str, stage: &str) -> anyhow::Result<()>;

    /// Put the stage's output into the run's context as `$.<stage>`.
    fn set_output(&self, run_id: &str, stage: &str, output: Value) -> anyhow::Result<()>;

    /// The run's context.
    fn run_context(&self, run_id: &str) -> anyhow::Result<Arc<Value>>;

    /// Released tasks no worker has read for [`UNREAD_AFTER`] while no worker reads their
    /// stream. In-process engines have none: their workers live with the run.
    fn unread(&self, _run_id: &str) -> anyhow::Result<Vec<Unread>> {
        Ok(Vec::new())
    }

    /// The workers that read each actor's tasks for the run. In-process engines have
    /// none to name: their workers are the run's own process.
    fn served_by(&self, _run_id: &str) -> anyhow::Result<Vec<ServedBy>> {
        Ok(Vec::new())
    }

    /// Wait until something in the run changed, or `timeout` passed.
    fn wait_for_change<'a>(&'a self, run_id: &'a str, timeout: Duration) -> BoxFuture<'a, ()>;
}

/// The actor side: what workers take and report. A worker only runs actors; the hooks
/// of a task's stage are a hook host's ([`HookQueue`]), so a worker in any language that
/// follows the protocol gets the same semantics.
pub trait TaskQueue: Send + Sync {
    /// The next task due for an actor, waiting as long as it takes.
    fn next_task(&self) -> BoxFuture<'_, TaskEnvelope>;

    /// Report an attempt's outcome without waiting to learn how it was recorded (an
    /// engine may batch these; [`TaskQueue::flush`] waits for them). When the task's stage
    /// has an `after-task` hook, the outcome goes to review instead of being recorded.
    fn report(&self, task: &TaskEnvelope, outcome: Outcome) -> anyhow::Result<()>;

    /// Wait until every report made so far reached the engine.
    fn flush(&self);
}

/// The hook side: what a hook host ([`crate::gatekeeper`]) takes and decides. Tasks of a
/// stage with `before-task` come here when released, before any actor sees them;
/// outcomes of a stage with `after-task` come here before they are recorded.
pub trait HookQueue: Send + Sync {
    /// The next piece of hook work, waiting as long as it takes.
    fn next_hook_work(&self) -> BoxFuture<'_, HookWork>;

    /// The stage a task belongs to.
    fn stage_info(&self, run_id: &str, stage: &str) -> anyhow::Result<StageInfo>;

    /// `before-task` said run: hand the task to its actor.
    fn admit(&self, task: TaskEnvelope) -> anyhow::Result<()>;

    /// Record a task's outcome (exactly once per task), bypassing review. With an
    /// `extension` (what its `after-task` added), the extension's tasks join the stage
    /// in the same atomic step, only if this call is the one that records the outcome:
    /// numbered from the stage's task count, generation `task.generation + 1`, at most
    /// up to `extension.cap` tasks in the stage, the expected count raised by as many.
    /// Before the stage is sealed they wait, and are added when it is.
    fn record(&self, task: &TaskEnvelope, outcome: Outcome, extension: Option<&Extension>) -> anyhow::Result<Recorded>;

    /// Release the task again after `delay_ms` (a deferral, or with `next_attempt` a
    /// retry); before-task is asked again when it is released.
    fn requeue(&self, task: TaskEnvelope, delay_ms: u64, next_attempt: bool) -> anyhow::Result<()>;

    /// Count one more deferral of `task` and return how many it has had, this one
    /// included: what holds a hook that defers for ever to the executor's
    /// `task-deferrals`. Retries need no counter: the attempt number is one.
    fn count_deferral(&self, task: &TaskEnvelope) -> anyhow::Result<u64>;

    /// Give up hook work this host cannot do (its mode is not loaded here), recording
    /// nothing: another host takes it over.
    fn abandon_hook_work(&self, work: &HookWork);
}

/// An engine in all its roles. The orchestrator, workers and hook hosts each take only
/// the role they use; this is for whoever wires them together.
pub trait Engine: RunStore + TaskQueue + HookQueue + 'static {}

impl<T: RunStore + TaskQueue + HookQueue + 'static> Engine for T {}

/// The error an executor receives when a task names an actor the manifest lacks.
pub(crate) fn check_actors(tasks: &[crate::api::Task], actors: &HashSet<String>) -> Result<(), crate::api::HostError> {
    match tasks.iter().find(|t| !actors.contains(&t.actor)) {
        Some(unknown) => {
            // The name came from a plugin: one line, bounded.
            let actor = crate::text::one_line(&unknown.actor, 120);
            Err(crate::api::HostError::NotFound(format!(
                "task {}: unknown actor `{actor}`; the manifest has no [actors.{actor}] ({})",
                unknown.index,
                crate::manifest::ADD_ACTOR_HINT
            )))
        }
        None => Ok(()),
    }
}

/// Why a task of an external actor cannot run on the embedded engine.
pub fn external_refusal(actor: &str) -> String {
    format!(
        "actor `{actor}` is external (`external = true` in the manifest): a worker of your own serves it over Redis, \
         so the run needs --redis URL and that worker running (docs/redis-protocol.md); the embedded engine cannot run it"
    )
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

/// The warning for tasks an extension could not add: the stage reached its cap.
pub(crate) fn left_out(count: usize, cap: u64) -> String {
    format!(
        "after-task extended the stage past {cap} tasks (the smaller of max-stage-tasks and the mode's max-tasks): \
         {count} task(s) left out"
    )
}
