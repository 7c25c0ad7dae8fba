//! What the API sends and takes: runs, stages, tasks, plugins and pipelines as the
//! routes show them, and the bodies of requests. Plain data with serde and OpenAPI
//! derives; the service fills them in.

use super::events::Counts;
use super::problem::FieldError;
use crate::reload::Reload;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

/// Where a run stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum RunState {
    Running,
    Succeeded,
    Failed,
    Cancelled,
}

impl RunState {
    pub fn parse(text: &str) -> Option<RunState> {
        match text {
            "running" => Some(RunState::Running),
            "succeeded" => Some(RunState::Succeeded),
            "failed" => Some(RunState::Failed),
            "cancelled" => Some(RunState::Cancelled),
            _ => None,
        }
    }
}

/// Where a stage stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum StageState {
    Pending,
    Running,
    Succeeded,
    Failed,
}

/// A run as the list and the events show it.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RunView {
    pub id: String,
    /// The pipeline's name (a named pipeline's, or an inline definition's `name`).
    pub pipeline: String,
    pub status: RunState,
    /// RFC 3339, UTC.
    pub submitted_at: String,
    pub ended_at: Option<String>,
    pub duration_ms: Option<u64>,
    /// Why it failed or was cancelled.
    pub error: Option<String>,
    pub stages: Vec<StageView>,
    pub idempotency_key: Option<String>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct StageView {
    pub name: String,
    pub mode: String,
    pub status: StageState,
    pub counts: Counts,
    /// When it started, in ms after the run was submitted (the dashboard's timeline).
    pub started_ms: Option<u64>,
    pub duration_ms: Option<u64>,
}

/// A run in full: its view, its input and outputs, its failed tasks and stragglers, and
/// the plugins it used.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RunDetail {
    #[serde(flatten)]
    pub run: RunView,
    #[schema(value_type = Object)]
    pub input: Value,
    /// Each ended stage's output, by stage name.
    #[schema(value_type = Object)]
    pub outputs: Value,
    pub failed_tasks: Vec<TaskView>,
    pub stragglers: Vec<TaskView>,
    pub plugins: Vec<PluginUse>,
}

/// One task, as the run detail lists failed ones and stragglers.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TaskView {
    pub stage: String,
    pub index: u64,
    pub actor: String,
    pub attempts: u32,
    /// The error, for a failed task.
    pub error: Option<String>,
}

/// A plugin a run used, with the sha256 of the component it ran.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PluginUse {
    /// `mode` or `actor`.
    pub role: String,
    pub name: String,
    /// Absent for a builtin or external actor.
    pub sha256: Option<String>,
}

/// `POST /v1/runs`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SubmitRun {
    /// A named pipeline (`GET /v1/pipelines`), or a definition: `{ "name"?, "stages": [...] }`.
    #[schema(value_type = Object)]
    pub pipeline: Value,
    /// The run's input, `$.trigger` (default `{}`).
    #[serde(default)]
    #[schema(value_type = Object)]
    pub input: Option<Value>,
    /// The same key with the same request returns the same run (also the
    /// `Idempotency-Key` header).
    #[serde(default)]
    pub idempotency_key: Option<String>,
}

/// `PATCH /v1/runs/{id}/stages/{stage}`: what to change in a running stage.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TuneStage {
    /// The most tasks of the stage enqueued-or-running at once, from now on (1 to
    /// 1,000,000): held tasks are released up to it at once; lowering it lets running
    /// tasks finish.
    pub max_parallel: Option<u32>,
    /// A rate of the stage's own from now on: its first tries waiting for their turn are
    /// re-timed from now at this rate, and later ones follow it (retries keep their
    /// backoff). The stage no longer shares a bucket with other stages.
    pub rate: Option<Rate>,
}

/// A rate limit: at most `perSecond` tasks a second, `burst` at once.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Rate {
    /// Tasks per second (0.001 to 1,000,000).
    pub per_second: f64,
    /// Tasks at once after an idle spell (1 to 10,000; default 1).
    #[serde(default = "one")]
    pub burst: u32,
}

fn one() -> u32 {
    1
}

/// `POST /v1/validate`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ValidateRequest {
    /// A named pipeline or a definition, as in `POST /v1/runs`.
    #[schema(value_type = Object)]
    pub pipeline: Value,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Validation {
    pub valid: bool,
    pub problems: Vec<FieldError>,
}

/// How a submission went.
pub struct Submitted {
    pub run: RunView,
    /// False when an idempotency key gave back an earlier run.
    pub created: bool,
}

/// A page of runs, newest first.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RunPage {
    pub runs: Vec<RunView>,
    /// Pass as `after` for the next page; absent on the last.
    pub next: Option<String>,
}

/// Which runs to list.
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct RunFilter {
    /// `running`, `succeeded`, `failed` or `cancelled`.
    pub status: Option<String>,
    /// A pipeline name.
    pub pipeline: Option<String>,
    /// Runs per page (default 50, at most 500).
    pub limit: Option<usize>,
    /// The `next` of the previous page.
    pub after: Option<String>,
}

/// A plugin the server has loaded.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PluginView {
    pub role: String,
    pub name: String,
    /// `component`, `builtin` or `external`.
    pub kind: String,
    pub wit_version: Option<String>,
    /// The language it was written in, when the component says (`Rust`, `Python`,
    /// `JavaScript`, ...); `Rust` for a builtin actor; absent for an external one.
    pub language: Option<String>,
    pub sha256: Option<String>,
    pub size: Option<u64>,
    pub allow_http: Vec<String>,
    /// For a mode: the only actors it may enqueue for, if its entry limits them.
    pub actors: Option<Vec<String>>,
    /// When this version was loaded (the server's start, or the reload that brought it).
    pub loaded_at: String,
}

/// `GET /v1/plugins`: what new runs get, and how hot reload went.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PluginList {
    pub plugins: Vec<PluginView>,
    /// When the set serving new runs was loaded.
    pub loaded_at: String,
    /// Whether the server watches its manifest and plugins folder (hot reload).
    pub watching: bool,
    /// Older sets still loaded because running runs started on them.
    pub older_sets_in_use: usize,
    /// The latest reloads and refusals, oldest first (at most 50).
    pub reloads: Vec<Reload>,
    /// The newest refusal, while the files on disk are not what serves.
    pub error: Option<Reload>,
}

/// A pipeline the server was given (`--pipelines DIR`).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PipelineView {
    pub name: String,
    pub stages: Vec<String>,
    pub modes: Vec<String>,
}
