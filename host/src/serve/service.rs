//! The runs a server was given: submitting (with idempotency keys), watching (a registry
//! of views kept current by an [`crate::orchestrator::Observer`], and their events),
//! cancelling, and forgetting ended runs after the retention period so a long-lived host
//! stays bounded.
//!
//! Generic over the engine; the routes see it as `dyn` [`Runs`].

use super::events::{Counts, Event, Numbered};
use super::live::{self, LiveAll, RunLive};
use super::problem::{FieldError, Problem};
use crate::api::Outcome;
use crate::engine::Engine;
use crate::orchestrator::{new_run_id, Orchestrator, RunError};
use crate::pipeline::{Pipeline, StageProblem};
use crate::plugin::{Actor, Catalog, Pinned, Plugins};
use crate::reload::{self, Reloader};
use crate::stage_host::Role;
use axum::http::StatusCode;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet, VecDeque};
use std::hash::{Hash, Hasher};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::{Duration, Instant, SystemTime};
use tokio::sync::broadcast;

mod observer;
use observer::RunObserver;

/// Drops an ended run from the engine (the embedded engine's `forget_run`).
pub type Forget = Box<dyn Fn(&str) + Send + Sync>;

/// Events a slow subscriber of all runs may fall behind by before it misses some (it is
/// told how many).
const EVENT_BUFFER: usize = 4096;
/// The same for one run's subscribers. Each run's buffer is allocated whole while the run
/// lasts (a 4096-slot one made 10,000 kept runs cost 7.9 GB), and dropped when it ends.
const RUN_EVENT_BUFFER: usize = 256;
/// Most runs one list page holds.
pub const MAX_PAGE: usize = 500;

pub use super::views::{
    PipelineView, PluginList, PluginUse, PluginView, Rate, RunDetail, RunFilter, RunPage, RunState, RunView,
    StageState, StageView, SubmitRun, Submitted, TaskView, TuneStage, ValidateRequest, Validation,
};

/// What the routes need of a server's runs.
pub trait Runs: Send + Sync {
    fn submit(&self, request: SubmitRun, header_key: Option<String>) -> Result<Submitted, Problem>;
    fn list(&self, filter: &RunFilter) -> Result<RunPage, Problem>;
    fn get(&self, run_id: &str) -> Result<RunDetail, Problem>;
    fn cancel(&self, run_id: &str) -> Result<RunView, Problem>;
    fn validate(&self, pipeline: &Value) -> Validation;
    fn tune(&self, run_id: &str, stage: &str, tune: &TuneStage) -> Result<StageView, Problem>;
    fn plugins(&self) -> PluginList;
    /// A run's running stages and its modes' cards now (blocking: reads the engine).
    fn live(&self, run_id: &str) -> Result<RunLive, Problem>;
    /// Every running run's stages and every current plugin's cards (blocking).
    fn live_all(&self) -> LiveAll;
    /// Announce a reload or a refusal (hot reload) on the all-runs stream.
    fn reloaded(&self, outcome: &reload::Outcome);
    /// The Prometheus metrics, with the engine's queues read now (blocking).
    fn metrics(&self) -> String;
    fn pipelines(&self) -> Vec<PipelineView>;
    /// The run's view and its events from now on (subscribed before the view is taken,
    /// so nothing falls between).
    fn watch(&self, run_id: &str) -> Result<(RunView, broadcast::Receiver<Numbered>), Problem>;
    /// Every run's events from now on.
    fn watch_all(&self) -> broadcast::Receiver<Numbered>;
    /// Runs not ended yet.
    fn running(&self) -> Vec<String>;
    /// Cancel every running run, recording why (shutdown past its drain deadline).
    fn interrupt_all(&self, why: &str);
    /// Forget runs that ended more than the retention ago; how many.
    fn forget_ended(&self) -> usize;
}

/// One run the server knows.
struct Entry {
    view: RunView,
    input: Arc<Value>,
    /// Until the run ends.
    events: Option<broadcast::Sender<Numbered>>,
    seq: u64,
    fingerprint: u64,
    started: Instant,
    stage_started: HashMap<String, Instant>,
    ended: Option<Instant>,
    /// Cancelled through the API before the engine had the run: cancel it when it has.
    cancel_requested: bool,
    /// Failed task indices already announced, per stage.
    announced: HashMap<String, HashSet<u64>>,
    /// The version of every plugin in the set the run is pinned to.
    versions: Arc<Versions>,
}

/// A set's versions by (role, name) ([`reload::versions`]), shared by its runs.
type Versions = BTreeMap<(String, String), String>;

struct Registry {
    runs: HashMap<String, Entry>,
    /// Run ids, oldest first.
    order: VecDeque<String>,
    /// Idempotency key -> run id.
    keys: HashMap<String, String>,
}

pub struct Service<E: Engine> {
    engine: Arc<E>,
    /// Each run is pinned to the set current at its submission, until it ends.
    catalog: Arc<Pinned>,
    /// Present when the server watches for changed plugins.
    reloader: Option<Arc<Reloader>>,
    started_at: SystemTime,
    /// The versions of the set runs were last pinned to (computed once per set).
    versions: Mutex<(Weak<Plugins>, Arc<Versions>)>,
    orchestrator: Arc<Orchestrator<E>>,
    pipelines: BTreeMap<String, Pipeline>,
    registry: Mutex<Registry>,
    all: broadcast::Sender<Numbered>,
    retention: Duration,
    runtime: tokio::runtime::Handle,
    /// The engine forgets a run when the server does (embedded engine only).
    forget: Option<Forget>,
    me: std::sync::Weak<Service<E>>,
}

impl<E: Engine> Service<E> {
    pub fn new(
        engine: Arc<E>,
        catalog: Arc<Pinned>,
        reloader: Option<Arc<Reloader>>,
        pipelines: BTreeMap<String, Pipeline>,
        retention: Duration,
        forget: Option<Forget>,
    ) -> Arc<Service<E>> {
        let orchestrator = Arc::new(Orchestrator::new(engine.clone(), catalog.clone()));
        Arc::new_cyclic(|me| Service {
            engine,
            catalog,
            reloader,
            started_at: SystemTime::now(),
            versions: Mutex::new((Weak::new(), Arc::default())),
            orchestrator,
            pipelines,
            registry: Mutex::new(Registry { runs: HashMap::new(), order: VecDeque::new(), keys: HashMap::new() }),
            all: broadcast::channel(EVENT_BUFFER).0,
            retention,
            runtime: tokio::runtime::Handle::current(),
            forget,
            me: me.clone(),
        })
    }

    fn registry(&self) -> MutexGuard<'_, Registry> {
        self.registry.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The pipeline a request names or defines; a problem naming `pointer` otherwise.
    fn resolve(&self, pipeline: &Value, pointer: &str) -> Result<Pipeline, Problem> {
        match pipeline {
            Value::String(name) => self.pipelines.get(name).cloned().ok_or_else(|| {
                let known: Vec<&str> = self.pipelines.keys().map(String::as_str).collect();
                let has = if known.is_empty() {
                    "the server has no named pipelines (start it with --pipelines DIR)".to_string()
                } else {
                    format!("the server has: {}", known.join(", "))
                };
                let detail = format!("no pipeline named `{}`; {has}", crate::text::one_line(name, 200));
                Problem::new(StatusCode::NOT_FOUND, "unknown-pipeline", "No such pipeline", detail.clone())
                    .with_errors(vec![FieldError { pointer: pointer.into(), stage: None, message: detail }])
            }),
            Value::Object(_) | Value::Array(_) => Pipeline::from_value(pipeline.clone(), "inline")
                .map_err(|why| Problem::bad_request(format!("the pipeline definition is not one: {why}"), pointer)),
            _ => Err(Problem::bad_request(
                "`pipeline` must be a pipeline's name or its definition `{ \"stages\": [...] }`",
                pointer,
            )),
        }
    }

    /// Every problem of `pipeline` against `plugins` (a run's pinned set; validation
    /// alone uses the current one).
    fn problems(&self, pipeline: &Pipeline, plugins: &Plugins, pointer: &str) -> Vec<FieldError> {
        let problems = crate::pipeline::validate(pipeline, plugins, self.engine.clone());
        problems.iter().map(|p| field_error(pipeline, p, pointer)).collect()
    }

    /// The versions of `plugins`, computed once per set.
    fn versions_of(&self, plugins: &Arc<Plugins>) -> Arc<Versions> {
        let mut memo = self.versions.lock().unwrap_or_else(|p| p.into_inner());
        if !std::ptr::eq(memo.0.as_ptr(), Arc::as_ptr(plugins)) {
            *memo = (Arc::downgrade(plugins), Arc::new(reload::versions(plugins)));
        }
        memo.1.clone()
    }

    /// Publish `event` to its run's subscribers and everyone's, under the registry lock
    /// (so a watcher's snapshot and its first event agree).
    fn publish(registry: &mut Registry, all: &broadcast::Sender<Numbered>, event: Event) {
        let Some(entry) = registry.runs.get_mut(event.run_id()) else { return };
        entry.seq += 1;
        let ended = matches!(event, Event::RunEnded { .. });
        let numbered = Numbered { seq: entry.seq, event };
        if let Some(events) = &entry.events {
            let _ = events.send(numbered.clone());
        }
        if ended {
            // Its subscribers got `run-ended`; later ones get the snapshot alone.
            entry.events = None;
        }
        let _ = all.send(numbered);
    }

    fn start(self: &Arc<Self>, run_id: String, pipeline: Pipeline, input: Value) {
        let service = self.clone();
        self.runtime.spawn(async move {
            let observer = RunObserver { service: service.clone(), run_id: run_id.clone() };
            let outcome = service.orchestrator.run_as(&run_id, &pipeline, input, &observer).await;
            service.ended(&run_id, outcome.err());
        });
    }

    fn ended(&self, run_id: &str, error: Option<RunError>) {
        self.catalog.unpin(run_id);
        let mut registry = self.registry();
        let Some(entry) = registry.runs.get_mut(run_id) else { return };
        let (status, message) = match &error {
            None => (RunState::Succeeded, None),
            Some(RunError::Cancelled { .. }) => (RunState::Cancelled, entry.view.error.clone()),
            Some(e) => (RunState::Failed, Some(bounded(&e.to_string(), 64 * 1024))),
        };
        let now = Instant::now();
        entry.ended = Some(now);
        entry.view.status = status;
        entry.view.error = message.clone();
        entry.view.ended_at = Some(timestamp(SystemTime::now()));
        entry.view.duration_ms = Some(now.duration_since(entry.started).as_millis() as u64);
        for stage in &mut entry.view.stages {
            if stage.status == StageState::Running {
                stage.status = if status == RunState::Succeeded { StageState::Succeeded } else { StageState::Failed };
            }
        }
        let event = Event::RunEnded { run_id: run_id.to_string(), status, error: message };
        Self::publish(&mut registry, &self.all, event);
    }

    /// Announce failed tasks of `stage` not announced yet.
    fn announce_failures(&self, run_id: &str, stage: &str, failed: u64) {
        {
            let registry = self.registry();
            let known = registry.runs.get(run_id).and_then(|e| e.announced.get(stage)).map_or(0, HashSet::len);
            if failed as usize <= known {
                return;
            }
        }
        let Ok(results) = self.engine.results(run_id, stage) else { return };
        let mut registry = self.registry();
        let mut events = Vec::new();
        if let Some(entry) = registry.runs.get_mut(run_id) {
            let announced = entry.announced.entry(stage.to_string()).or_default();
            for r in results {
                if let Outcome::Failed(error) = &r.outcome {
                    if announced.insert(r.index) {
                        events.push(Event::TaskFailed {
                            run_id: run_id.to_string(),
                            stage: stage.to_string(),
                            index: r.index,
                            actor: r.actor.clone(),
                            error: crate::text::one_line(error, 4096),
                            attempts: r.attempts,
                        });
                    }
                }
            }
        }
        for event in events {
            Self::publish(&mut registry, &self.all, event);
        }
    }

    /// A run's running stages read from the engine now (no cards: the caller adds them).
    fn run_live(&self, view: RunView) -> RunLive {
        let stages = view
            .stages
            .iter()
            .filter(|s| s.status == StageState::Running)
            .map(|s| {
                let counts =
                    self.engine.counts(&view.id, &s.name).map_or_else(|_| s.counts.clone(), |c| Counts::from(&c));
                live::stage_view(&s.name, &s.mode, counts, self.engine.stage_live(&view.id, &s.name))
            })
            .collect();
        RunLive { run_id: view.id, pipeline: view.pipeline, status: view.status, stages, cards: Vec::new() }
    }

    fn update_stage(&self, run_id: &str, stage: &str, update: impl FnOnce(&mut StageView, &mut Entry)) {
        let mut registry = self.registry();
        let Some(entry) = registry.runs.get_mut(run_id) else { return };
        let Some(i) = entry.view.stages.iter().position(|s| s.name == stage) else { return };
        let mut view = entry.view.stages[i].clone();
        update(&mut view, entry);
        entry.view.stages[i] = view;
    }
}

/// A validation problem as a field error: the pointer into the request's pipeline.
fn field_error(pipeline: &Pipeline, p: &StageProblem, pointer: &str) -> FieldError {
    let index = pipeline.stages.iter().position(|s| s.get("name").and_then(Value::as_str) == Some(p.stage.as_str()));
    let index = index.or_else(|| p.stage.strip_prefix('#').and_then(|n| n.parse::<usize>().ok()).map(|n| n - 1));
    let mut at = pointer.to_string();
    if let Some(i) = index {
        at.push_str(&format!("/stages/{i}"));
    }
    let field = p.field.split(['.', '[']).next().unwrap_or_default();
    if !field.is_empty() {
        at.push('/');
        at.push_str(field);
    }
    FieldError {
        pointer: at,
        stage: (!p.stage.is_empty()).then(|| p.stage.clone()),
        message: if p.field.is_empty() { p.message.clone() } else { format!("{}: {}", p.field, p.message) },
    }
}

/// What identifies a submission, for idempotency: the pipeline and the input.
fn fingerprint(pipeline: &Value, input: &Value) -> u64 {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    pipeline.to_string().hash(&mut hasher);
    input.to_string().hash(&mut hasher);
    hasher.finish()
}

/// At most `budget` bytes of `text`, cut at a character boundary. A run's error keeps its
/// lines (the failed tasks, one a line); each part of it was made safe where it arose.
fn bounded(text: &str, budget: usize) -> String {
    if text.len() <= budget {
        return text.to_string();
    }
    let mut end = budget;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}... ({} bytes more)", &text[..end], text.len() - end)
}

pub fn timestamp(at: SystemTime) -> String {
    humantime::format_rfc3339_millis(at).to_string()
}

/// An idempotency key: what a client may send.
fn key_problem(key: &str) -> Option<String> {
    let ok =
        !key.is_empty() && key.len() <= 256 && key.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b));
    (!ok).then(|| "an idempotency key is 1 to 256 characters of A-Z, a-z, 0-9, `-`, `_`, `.` and `:`".to_string())
}

impl<E: Engine> Runs for Service<E> {
    fn submit(&self, request: SubmitRun, header_key: Option<String>) -> Result<Submitted, Problem> {
        let me = self.me.upgrade().ok_or_else(|| Problem::internal("the server is stopping"))?;
        let key = match (request.idempotency_key, header_key) {
            (Some(a), Some(b)) if a != b => {
                return Err(Problem::bad_request(
                    "`idempotencyKey` and the `Idempotency-Key` header differ; send one",
                    "/idempotencyKey",
                ))
            }
            (a, b) => a.or(b),
        };
        if let Some(why) = key.as_deref().and_then(key_problem) {
            return Err(Problem::bad_request(why, "/idempotencyKey"));
        }
        let input = request.input.unwrap_or_else(|| serde_json::json!({}));
        let fingerprint = fingerprint(&request.pipeline, &input);
        if let Some(key) = &key {
            let registry = self.registry();
            if let Some(entry) = registry.keys.get(key).and_then(|id| registry.runs.get(id)) {
                if entry.fingerprint != fingerprint {
                    return Err(Problem::conflict(
                        "idempotency-key-reused",
                        "The idempotency key was used for another request",
                        format!(
                            "idempotency key `{key}` started run {} with another pipeline or input; use a new key",
                            entry.view.id
                        ),
                    ));
                }
                return Ok(Submitted { run: entry.view.clone(), created: false });
            }
        }
        let pipeline = self.resolve(&request.pipeline, "/pipeline")?;
        let run_id = new_run_id();
        // Pinned first, so the run is validated against the set it will run on.
        let plugins = self.catalog.pin(&run_id);
        let problems = self.problems(&pipeline, &plugins, "/pipeline");
        if !problems.is_empty() {
            self.catalog.unpin(&run_id);
            let n = problems.len();
            return Err(Problem::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid-pipeline",
                "The pipeline is invalid",
                format!(
                    "the pipeline `{}` has {n} problem{}; nothing ran",
                    pipeline.name,
                    if n == 1 { "" } else { "s" }
                ),
            )
            .with_errors(problems));
        }
        let versions = self.versions_of(&plugins);
        drop(plugins);
        let stages = pipeline
            .stages
            .iter()
            .enumerate()
            .map(|(i, s)| StageView {
                name: s.get("name").and_then(Value::as_str).map_or_else(|| pipeline.stage_label(i), str::to_string),
                mode: s.get("mode").and_then(Value::as_str).unwrap_or_default().to_string(),
                status: StageState::Pending,
                counts: Counts::default(),
                started_ms: None,
                duration_ms: None,
            })
            .collect();
        let view = RunView {
            id: run_id.clone(),
            pipeline: pipeline.name.clone(),
            status: RunState::Running,
            submitted_at: timestamp(SystemTime::now()),
            ended_at: None,
            duration_ms: None,
            error: None,
            stages,
            idempotency_key: key.clone(),
        };
        {
            let mut registry = self.registry();
            // Two submissions with one key racing: the first to get here wins.
            if let Some(entry) = key.as_ref().and_then(|k| registry.keys.get(k)).and_then(|id| registry.runs.get(id)) {
                self.catalog.unpin(&run_id);
                return Ok(Submitted { run: entry.view.clone(), created: false });
            }
            registry.runs.insert(
                run_id.clone(),
                Entry {
                    view: view.clone(),
                    input: Arc::new(input.clone()),
                    events: Some(broadcast::channel(RUN_EVENT_BUFFER).0),
                    seq: 0,
                    fingerprint,
                    started: Instant::now(),
                    stage_started: HashMap::new(),
                    ended: None,
                    cancel_requested: false,
                    announced: HashMap::new(),
                    versions,
                },
            );
            registry.order.push_back(run_id.clone());
            if let Some(key) = key {
                registry.keys.insert(key, run_id.clone());
            }
        }
        me.start(run_id, pipeline, input);
        Ok(Submitted { run: view, created: true })
    }

    fn list(&self, filter: &RunFilter) -> Result<RunPage, Problem> {
        let status = match filter.status.as_deref() {
            None => None,
            Some(s) => Some(RunState::parse(s).ok_or_else(|| {
                Problem::bad_request(
                    format!("unknown status `{s}`: use running, succeeded, failed or cancelled"),
                    "?status",
                )
            })?),
        };
        let limit = filter.limit.unwrap_or(50);
        if limit == 0 || limit > MAX_PAGE {
            return Err(Problem::bad_request(format!("`limit` must be from 1 to {MAX_PAGE}"), "?limit"));
        }
        let registry = self.registry();
        let mut newest_first = registry.order.iter().rev();
        if let Some(after) = &filter.after {
            if !registry.runs.contains_key(after) {
                return Err(Problem::bad_request(
                    format!("`after` names no run this server knows: `{}`", crate::text::one_line(after, 200)),
                    "?after",
                ));
            }
            for id in newest_first.by_ref() {
                if id == after {
                    break;
                }
            }
        }
        let mut runs = Vec::new();
        let mut next = None;
        for id in newest_first {
            let Some(entry) = registry.runs.get(id) else { continue };
            if status.is_some_and(|s| s != entry.view.status)
                || filter.pipeline.as_ref().is_some_and(|p| *p != entry.view.pipeline)
            {
                continue;
            }
            if runs.len() == limit {
                next = runs.last().map(|r: &RunView| r.id.clone());
                break;
            }
            runs.push(entry.view.clone());
        }
        Ok(RunPage { runs, next })
    }

    fn get(&self, run_id: &str) -> Result<RunDetail, Problem> {
        let (view, input, versions) = {
            let registry = self.registry();
            let entry = registry.runs.get(run_id).ok_or_else(|| no_run(run_id))?;
            (entry.view.clone(), entry.input.clone(), entry.versions.clone())
        };
        // A run just submitted may not be in the engine yet: no outputs then.
        let context = match self.engine.run_context(run_id) {
            Ok(context) => context,
            Err(_) if view.stages.iter().all(|s| s.status == StageState::Pending) => Arc::new(Value::Null),
            Err(e) => return Err(Problem::internal(format!("{e:#}"))),
        };
        let input = Value::clone(&input);
        let mut outputs = serde_json::Map::new();
        let mut failed_tasks = Vec::new();
        let mut stragglers = Vec::new();
        let mut used = BTreeSet::new();
        for stage in &view.stages {
            if let Some(output) = context.get(&stage.name) {
                outputs.insert(stage.name.clone(), output.clone());
            }
            if let Some(sha256) = versions.get(&("mode".to_string(), stage.mode.clone())) {
                used.insert(PluginUse { role: "mode".into(), name: stage.mode.clone(), sha256: Some(sha256.clone()) });
            }
            if stage.status == StageState::Pending {
                continue;
            }
            for r in self.engine.results(run_id, &stage.name).unwrap_or_default() {
                used.insert(actor_use(&versions, &r.actor));
                if let Outcome::Failed(error) = &r.outcome {
                    failed_tasks.push(TaskView {
                        stage: stage.name.clone(),
                        index: r.index,
                        actor: r.actor.clone(),
                        attempts: r.attempts,
                        error: Some(error.clone()),
                    });
                }
            }
            for r in self.engine.stragglers(run_id, &stage.name).unwrap_or_default() {
                stragglers.push(TaskView {
                    stage: stage.name.clone(),
                    index: r.index,
                    actor: r.actor.clone(),
                    attempts: r.attempts,
                    error: match &r.outcome {
                        Outcome::Failed(e) => Some(e.clone()),
                        _ => None,
                    },
                });
            }
        }
        failed_tasks.sort_by(|a, b| (&a.stage, a.index).cmp(&(&b.stage, b.index)));
        Ok(RunDetail {
            run: view,
            input,
            outputs: Value::Object(outputs),
            failed_tasks,
            stragglers,
            plugins: used.into_iter().collect(),
        })
    }

    fn cancel(&self, run_id: &str) -> Result<RunView, Problem> {
        {
            let mut registry = self.registry();
            let entry = registry.runs.get_mut(run_id).ok_or_else(|| no_run(run_id))?;
            if entry.view.status != RunState::Running {
                return Err(Problem::conflict(
                    "run-ended",
                    "The run already ended",
                    format!("run {run_id} already ended: it {}", past(entry.view.status)),
                ));
            }
            // First the flag, then the engine: a run the engine does not have yet is
            // cancelled by its observer as soon as it has (`run_started`), whichever of
            // the two comes first.
            entry.cancel_requested = true;
        }
        let ended = |e: anyhow::Error| {
            Problem::conflict("run-ended", "The run already ended", crate::text::one_line(&format!("{e:#}"), 1024))
        };
        if let Err(e) = self.engine.cancel_run(run_id) {
            // It may have started between the two calls: a running run is cancelled now,
            // one its observer cancelled (the flag) is done, and one the engine does not
            // have yet (on Redis, not even half-written) is cancelled by its observer
            // when it starts. Only a run that ended otherwise cannot be cancelled.
            match self.engine.run_status(run_id) {
                Ok(crate::engine::RunStatus::Running) => self.engine.cancel_run(run_id).map_err(ended)?,
                Ok(crate::engine::RunStatus::Cancelled) | Err(_) => {}
                Ok(_) => return Err(ended(e)),
            }
        }
        let mut registry = self.registry();
        let entry = registry.runs.get_mut(run_id).ok_or_else(|| no_run(run_id))?;
        entry.view.error.get_or_insert_with(|| "cancelled through the API".into());
        Ok(entry.view.clone())
    }

    fn validate(&self, pipeline: &Value) -> Validation {
        match self.resolve(pipeline, "/pipeline") {
            Ok(p) => {
                let problems = self.problems(&p, &self.catalog.current(), "/pipeline");
                Validation { valid: problems.is_empty(), problems }
            }
            Err(problem) => Validation { valid: false, problems: problem.errors },
        }
    }

    fn tune(&self, run_id: &str, stage: &str, tune: &TuneStage) -> Result<StageView, Problem> {
        if tune.max_parallel.is_none() && tune.rate.is_none() {
            return Err(Problem::bad_request("say what to change: `maxParallel`, `rate` or both", "/maxParallel"));
        }
        if tune.max_parallel.is_some_and(|max| !(1..=1_000_000).contains(&max)) {
            return Err(Problem::bad_request("`maxParallel` must be from 1 to 1,000,000", "/maxParallel"));
        }
        if let Some(rate) = &tune.rate {
            if !(rate.per_second.is_finite() && (0.001..=1_000_000.0).contains(&rate.per_second)) {
                return Err(Problem::bad_request("`perSecond` must be from 0.001 to 1,000,000", "/rate/perSecond"));
            }
            if !(1..=10_000).contains(&rate.burst) {
                return Err(Problem::bad_request("`burst` must be from 1 to 10,000", "/rate/burst"));
            }
        }
        {
            let registry = self.registry();
            let entry = registry.runs.get(run_id).ok_or_else(|| no_run(run_id))?;
            let view = entry.view.stages.iter().find(|s| s.name == stage).ok_or_else(|| {
                Problem::not_found(format!("run {run_id} has no stage `{}`", crate::text::one_line(stage, 200)))
            })?;
            if entry.view.status != RunState::Running || view.status != StageState::Running {
                return Err(Problem::conflict(
                    "stage-not-running",
                    "The stage is not running",
                    format!(
                        "stage `{stage}` of run {run_id} is {}: only a running stage can be retuned",
                        stage_word(view.status, entry.view.status)
                    ),
                ));
            }
        }
        let retune =
            crate::engine::Retune { max_parallel: tune.max_parallel, rate: tune.rate.map(|r| (r.per_second, r.burst)) };
        let done = self.engine.retune(run_id, stage, &retune).map_err(|e| {
            Problem::conflict(
                "stage-not-running",
                "The stage is not running",
                crate::text::one_line(&format!("{e:#}"), 1024),
            )
        })?;
        let mut registry = self.registry();
        let event = Event::StageRetuned {
            run_id: run_id.to_string(),
            stage: stage.to_string(),
            max_parallel: tune.max_parallel,
            rate: tune.rate,
            released: done.released,
            retimed: done.retimed,
        };
        Self::publish(&mut registry, &self.all, event);
        let entry = registry.runs.get(run_id).ok_or_else(|| no_run(run_id))?;
        entry.view.stages.iter().find(|s| s.name == stage).cloned().ok_or_else(|| no_run(run_id))
    }

    fn live(&self, run_id: &str) -> Result<RunLive, Problem> {
        let view = self.registry().runs.get(run_id).map(|e| e.view.clone()).ok_or_else(|| no_run(run_id))?;
        // Every mode of the pipeline, running or not: a breaker's card outlives its stage.
        let modes: BTreeSet<String> = view.stages.iter().map(|s| s.mode.clone()).collect();
        let mut live = self.run_live(view);
        live.cards = modes
            .iter()
            .flat_map(|m| live::cards(&*self.engine, &crate::stage_host::namespace(Role::Executor, m)))
            .collect();
        Ok(live)
    }

    fn live_all(&self) -> LiveAll {
        let (running, newest): (usize, Vec<RunView>) = {
            let registry = self.registry();
            let mut running =
                registry.order.iter().rev().filter_map(|id| registry.runs.get(id)).filter(|e| e.ended.is_none());
            let newest: Vec<RunView> = running.by_ref().take(live::MAX_RUNS).map(|e| e.view.clone()).collect();
            (newest.len() + running.count(), newest)
        };
        let runs = newest.into_iter().map(|view| self.run_live(view)).collect();
        let plugins = self.catalog.current();
        let namespaces = plugins
            .executors()
            .map(|(name, _)| crate::stage_host::namespace(Role::Executor, name))
            .chain(plugins.actors().map(|(name, _)| crate::stage_host::namespace(Role::Actor, name)));
        let cards = namespaces.flat_map(|ns| live::cards(&*self.engine, &ns)).collect();
        LiveAll { running, runs, cards }
    }

    fn plugins(&self) -> PluginList {
        let plugins = self.catalog.current();
        let reloads = self.reloader.as_ref().map(|r| r.history()).unwrap_or_default();
        // When each entry's version came: the last applied reload that changed it.
        let since = |role: &str, name: &str| -> String {
            reloads
                .iter()
                .rev()
                .find(|r| r.applied && r.changes.iter().any(|c| c.role == role && c.name == name && c.to.is_some()))
                .map_or_else(|| timestamp(self.started_at), |r| r.at.clone())
        };
        let mut views: Vec<PluginView> = plugins
            .executors()
            .map(|(_, p)| {
                let info = p.info();
                PluginView {
                    role: "mode".into(),
                    name: info.name.clone(),
                    kind: "component".into(),
                    wit_version: Some(info.wit_version.clone()),
                    language: info.language.clone(),
                    sha256: Some(info.sha256.clone()),
                    size: Some(info.size),
                    allow_http: info.allow_http.clone(),
                    actors: info.actors.clone(),
                    loaded_at: since("mode", &info.name),
                }
            })
            .collect();
        for (name, actor) in plugins.actors() {
            let (kind, info) = match actor {
                Actor::Component(p) => ("component", Some(p.info())),
                Actor::Builtin(_) => ("builtin", None),
                Actor::External(_) => ("external", None),
            };
            views.push(PluginView {
                role: "actor".into(),
                name: name.to_string(),
                kind: kind.into(),
                wit_version: info.map(|i| i.wit_version.clone()),
                language: match actor {
                    Actor::Builtin(_) => Some("Rust".into()),
                    _ => info.and_then(|i| i.language.clone()),
                },
                sha256: info.map(|i| i.sha256.clone()),
                size: info.map(|i| i.size),
                allow_http: info.map(|i| i.allow_http.clone()).unwrap_or_default(),
                actors: None,
                loaded_at: since("actor", name),
            });
        }
        PluginList {
            plugins: views,
            loaded_at: timestamp(self.reloader.as_ref().map_or(self.started_at, |r| r.loaded_at())),
            watching: self.reloader.is_some(),
            older_sets_in_use: self.catalog.older_sets(),
            error: self.reloader.as_ref().and_then(|r| r.error()),
            reloads,
        }
    }

    fn metrics(&self) -> String {
        let queues = self.engine.queue_stats().unwrap_or_else(|e| {
            tracing::warn!(error = %crate::text::one_line(&format!("{e:#}"), 1024), "cannot read the queues for /metrics");
            Vec::new()
        });
        crate::telemetry::metrics::encode(&queues)
    }

    fn reloaded(&self, outcome: &reload::Outcome) {
        let event = match outcome {
            reload::Outcome::Unchanged => return,
            reload::Outcome::Reloaded(r) => Event::PluginsReloaded { at: r.at.clone(), changes: r.changes.clone() },
            reload::Outcome::Refused(r) => {
                Event::PluginsRefused { at: r.at.clone(), error: r.error.clone().unwrap_or_default() }
            }
        };
        let _ = self.all.send(Numbered { seq: 0, event });
    }

    fn pipelines(&self) -> Vec<PipelineView> {
        self.pipelines
            .iter()
            .map(|(name, p)| {
                let field = |f: &str| -> Vec<String> {
                    p.stages.iter().filter_map(|s| s.get(f).and_then(Value::as_str).map(str::to_string)).collect()
                };
                let mut modes = field("mode");
                modes.sort();
                modes.dedup();
                PipelineView { name: name.clone(), stages: field("name"), modes }
            })
            .collect()
    }

    fn watch(&self, run_id: &str) -> Result<(RunView, broadcast::Receiver<Numbered>), Problem> {
        let registry = self.registry();
        let entry = registry.runs.get(run_id).ok_or_else(|| no_run(run_id))?;
        let receiver = match &entry.events {
            Some(events) => events.subscribe(),
            // Ended: a receiver that is closed at once.
            None => broadcast::channel(1).1,
        };
        Ok((entry.view.clone(), receiver))
    }

    fn watch_all(&self) -> broadcast::Receiver<Numbered> {
        self.all.subscribe()
    }

    fn running(&self) -> Vec<String> {
        let registry = self.registry();
        registry.order.iter().filter(|id| registry.runs.get(*id).is_some_and(|e| e.ended.is_none())).cloned().collect()
    }

    fn interrupt_all(&self, why: &str) {
        for run_id in self.running() {
            {
                let mut registry = self.registry();
                if let Some(entry) = registry.runs.get_mut(&run_id) {
                    entry.view.error = Some(why.to_string());
                }
            }
            let _ = self.engine.cancel_run(&run_id);
        }
    }

    fn forget_ended(&self) -> usize {
        let mut registry = self.registry();
        let due: Vec<String> = registry
            .runs
            .iter()
            .filter(|(_, e)| e.ended.is_some_and(|at| at.elapsed() >= self.retention))
            .map(|(id, _)| id.clone())
            .collect();
        for id in &due {
            registry.runs.remove(id);
            if let Some(forget) = &self.forget {
                forget(id);
            }
        }
        let Registry { runs, order, keys } = &mut *registry;
        order.retain(|id| runs.contains_key(id));
        keys.retain(|_, id| runs.contains_key(id));
        due.len()
    }
}

/// An actor a run used, with its component's sha256 in the run's set.
fn actor_use(versions: &Versions, actor: &str) -> PluginUse {
    let sha256 = versions
        .get(&("actor".to_string(), actor.to_string()))
        .filter(|v| !v.starts_with("builtin:") && *v != "external")
        .cloned();
    PluginUse { role: "actor".into(), name: actor.to_string(), sha256 }
}

fn no_run(run_id: &str) -> Problem {
    Problem::not_found(format!(
        "no run `{}` on this server (ended runs are forgotten after the retention period)",
        crate::text::one_line(run_id, 200)
    ))
}

fn stage_word(stage: StageState, run: RunState) -> &'static str {
    match (stage, run) {
        (StageState::Pending, RunState::Running) => "not started yet",
        (StageState::Pending, _) => "never started",
        (StageState::Running, _) => "running",
        (StageState::Succeeded, _) => "over (it succeeded)",
        (StageState::Failed, _) => "over (it failed)",
    }
}

fn past(state: RunState) -> &'static str {
    match state {
        RunState::Running => "is running",
        RunState::Succeeded => "succeeded",
        RunState::Failed => "failed",
        RunState::Cancelled => "was cancelled",
    }
}
