//! The host's own types for everything that crosses the executor interface. Callers use
//! these, never the generated bindings, so a WIT change touches only `plugin::convert`.

use crate::payload::Payload;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The stage an executor is asked about.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Stage {
    pub run_id: String,
    pub name: String,
    /// The definition as the pipeline gives it.
    pub definition: Value,
    /// The manifest's default config with the stage's `executorConfig` laid over it.
    pub config: Value,
}

/// One problem `validate` found, naming its field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    pub field: String,
    pub message: String,
}

/// A typed failure an executor returned (not a trap).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[serde(tag = "kind", content = "message", rename_all = "kebab-case")]
pub enum ExecutorError {
    #[error("retryable error: {0}")]
    Retryable(String),
    #[error("{0}")]
    Fatal(String),
}

/// Why a host call a plugin made failed: the WIT `host-error` (0.2), so a guest knows
/// whether to retry without reading the message. 0.1 guests receive the message alone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[serde(tag = "kind", content = "message", rename_all = "kebab-case")]
pub enum HostError {
    /// The arguments are wrong and stay wrong (bad path, not JSON, a call not allowed here).
    #[error("{0}")]
    Invalid(String),
    /// What the call names does not exist (an actor the manifest lacks).
    #[error("{0}")]
    NotFound(String),
    /// Transient: the same call may succeed later (the state store unreachable).
    #[error("{0}")]
    Unavailable(String),
    /// A limit of the plugin's manifest entry was reached.
    #[error("{0}")]
    LimitExceeded(String),
}

impl HostError {
    /// The message, whatever the kind (what a 0.1 guest receives).
    pub fn message(&self) -> &str {
        match self {
            HostError::Invalid(m)
            | HostError::NotFound(m)
            | HostError::Unavailable(m)
            | HostError::LimitExceeded(m) => m,
        }
    }
}

/// How the host assembles a stage's output from its tasks' results.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OutputShape {
    Single,
    List,
    ByKey,
    KeyedList,
    Metadata,
}

/// What `execute` returned.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Execution {
    pub expected_tasks: u64,
    pub metadata: Option<Value>,
    pub output: OutputShape,
    pub detached: bool,
}

/// What `plan` returned.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct StagePlan {
    pub early_start: Option<EarlyStart>,
    /// Call `before-task` before each task of the stage reaches its actor.
    pub before_task_hook: bool,
    /// Call `after-task` when each task of the stage ends.
    pub after_task_hook: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct EarlyStart {
    pub after_ms: u64,
    pub min_results: u64,
}

/// One actor invocation an executor enqueued.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Task {
    pub index: u64,
    pub actor: String,
    pub input: Payload,
    pub key: Option<Value>,
}

/// How the host releases a batch of tasks.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct EnqueueOptions {
    pub delay_ms: u64,
    pub max_parallel: Option<u32>,
    pub rate_limit: Option<RateLimit>,
    /// Record the tasks as skipped with this reason instead of running them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub skip: Option<String>,
}

/// A task `extend` adds to a growing stage; the engine numbers it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewTask {
    pub actor: String,
    pub input: Payload,
    pub key: Option<Value>,
}

/// What one `after-task` call asked to add to its stage, applied by the engine with the
/// reviewed outcome (exactly once) when the verdict is accept.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Extension {
    pub tasks: Vec<NewTask>,
    pub options: EnqueueOptions,
    /// The stage holds at most this many tasks after the extension: the smaller of the
    /// plugin's `max-stage-tasks` and its manifest `max-tasks`. Tasks past it are left out.
    pub cap: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RateLimit {
    pub bucket: String,
    pub per_second: f64,
    pub burst: u32,
}

/// A task as the per-task hooks see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TaskRef {
    pub index: u64,
    pub actor: String,
    pub attempt: u32,
    /// 0 for tasks `execute` enqueued; an extension's tasks are one more than the task
    /// whose review added them.
    pub generation: u32,
}

/// `before-task`'s decision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Admission {
    Run,
    Reject(String),
    Defer(u64),
}

/// How a task ended.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    Succeeded(Payload),
    Failed(String),
    /// Never run: its executor enqueued it with `skip` (the reason). Counted by the
    /// barrier, not a failure; no hook sees it.
    Skipped(String),
}

/// `after-task`'s decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    Accept,
    Retry(u64),
}

/// Severity of a plugin's log message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum LogLevel {
    Trace,
    Debug,
    Info,
    Warn,
    Error,
}
