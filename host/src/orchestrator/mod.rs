//! The orchestrator: runs a pipeline's stages in order on an [`Engine`], calling each
//! stage's executor plugin and keeping the barrier (`succeeded + failed >= expected`).
//! It knows no mode names: every pattern is a plugin.
//!
//! - `mod.rs`: the run loop.
//! - `error`: [`RunError`] and how a failed stage is reported.
//! - `observer`: progress callbacks (the CLI draws bars with them).

mod error;
mod observer;

pub use error::{RunError, StageFailure};
pub use observer::{Observer, Silent};

use crate::api::{ExecutorError, Stage, StagePlan};
use crate::engine::{Engine, RunStatus, StageCounts, StageInfo, StateError, TaskResult};
use crate::pipeline::{self, Pipeline, StageProblem, ValidPipeline};
use crate::plugin::{Catalog, ExecutorPlugin, Plugins};
use crate::rules::{barrier, output};
use crate::stage_host::StageHost;
use serde::Serialize;
use serde_json::Value;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tracing::Instrument as _;

/// How often progress is reported while a stage runs, at most.
const PROGRESS_EVERY: Duration = Duration::from_millis(100);
/// How often a waiting stage looks for tasks no worker reads ([`crate::engine::Unread`]).
const UNREAD_EVERY: Duration = Duration::from_secs(5);
/// An orchestrator holds its run for this long and renews the hold while it works, so a
/// second orchestrator never drives the same run, and one that died is replaced after
/// at most this long.
const LEASE: Duration = Duration::from_secs(5);
const RENEW_EVERY: Duration = Duration::from_secs(1);
/// How often a driving orchestrator looks at its run's status (one small read), so a
/// cancel from any process stops it within this long, whatever it is waiting for.
const WATCH_EVERY: Duration = Duration::from_millis(200);

/// What a finished run produced.
#[derive(Debug, Clone, Serialize)]
pub struct RunReport {
    pub run_id: String,
    /// `{"trigger": ..., "<stage>": <output>, ...}` (shared with the engine, not copied).
    pub context: Arc<Value>,
    pub stages: Vec<StageReport>,
    /// The workers that read each actor's tasks (empty on the embedded engine).
    pub served_by: Vec<crate::engine::ServedBy>,
}

#[derive(Debug, Clone, Serialize)]
pub struct StageReport {
    pub name: String,
    pub mode: String,
    pub counts: StageCounts,
    /// Tasks that failed but were tolerated.
    pub failed_tasks: Vec<TaskResult>,
    /// Late results of a stage the next stage started without (gather `timeout`).
    pub stragglers: Vec<TaskResult>,
    pub duration_ms: u64,
}

/// One stage about to run, with what the run's plans say about it.
struct Step<'a> {
    index: usize,
    mode: &'a str,
    stage: &'a Stage,
    plan: &'a StagePlan,
    /// The next stage's early start (its gather `timeout`) and that stage's name.
    early: Option<(crate::api::EarlyStart, String)>,
}

pub struct Orchestrator<E: Engine> {
    engine: Arc<E>,
    /// Each run's plugins (validation uses the current set).
    catalog: Arc<dyn Catalog>,
    /// This orchestrator's name in run leases.
    owner: String,
    /// When each run's lease was last renewed: one orchestrator may drive several runs
    /// at once (`troupe serve`), each renewing its own.
    renewed: std::sync::Mutex<std::collections::HashMap<String, Instant>>,
    /// The hook host serving the stages' hooks, started with the first run driven and
    /// kept while this orchestrator lives (detached tasks may still need it).
    hooks: std::sync::OnceLock<crate::gatekeeper::HookHost>,
}

impl<E: Engine> Orchestrator<E> {
    pub fn new(engine: Arc<E>, catalog: impl Catalog) -> Self {
        let owner = format!("orchestrator-{}-{}", std::process::id(), new_run_id());
        Orchestrator {
            engine,
            catalog: Arc::new(catalog),
            owner,
            renewed: std::sync::Mutex::new(std::collections::HashMap::new()),
            hooks: std::sync::OnceLock::new(),
        }
    }

    pub fn engine(&self) -> &Arc<E> {
        &self.engine
    }

    fn host(&self) -> Arc<dyn StageHost> {
        self.engine.clone()
    }

    /// Every problem in the pipeline (see [`pipeline::validate`]).
    pub fn validate(&self, pipeline: &Pipeline) -> Vec<StageProblem> {
        pipeline::validate(pipeline, &self.catalog.current(), self.host())
    }

    /// The pipeline, validated against the run's plugins, as the run loop takes it.
    fn check(&self, run_id: &str, pipeline: &Pipeline) -> Result<ValidPipeline, RunError> {
        pipeline::check(pipeline, &self.catalog.plugins_for(run_id), self.host()).map_err(RunError::Invalid)
    }

    /// The executor of a validated stage's mode in the run's plugins (a run keeps its
    /// set, so a mode that validated is there; an error rather than a panic all the same).
    fn executor<'p>(plugins: &'p Plugins, mode: &str) -> Result<&'p ExecutorPlugin, RunError> {
        plugins.executor(mode).ok_or_else(|| RunError::Engine(anyhow::anyhow!("mode `{mode}` is not loaded")))
    }

    /// Run `pipeline` with `trigger` as `$.trigger` to its end.
    pub async fn run(
        &self,
        pipeline: &Pipeline,
        trigger: Value,
        observer: &dyn Observer,
    ) -> Result<RunReport, RunError> {
        self.run_as(&new_run_id(), pipeline, trigger, observer).await
    }

    /// [`Orchestrator::run`] under a run id of the caller's choosing (unique per engine).
    pub async fn run_as(
        &self,
        run_id: &str,
        pipeline: &Pipeline,
        trigger: Value,
        observer: &dyn Observer,
    ) -> Result<RunReport, RunError> {
        if let Some(why) = run_id_problem(run_id) {
            return Err(RunError::BadRunId(why));
        }
        let valid = self.check(run_id, pipeline)?;
        self.engine.start_run(run_id, pipeline, trigger).map_err(RunError::Engine)?;
        observer.run_started(run_id);
        self.drive(run_id, &valid, 0, observer).await
    }

    /// Carry a run on from where the engine says it stands: its orchestrator died, or was
    /// stopped. Tasks already enqueued are not enqueued again; finished stages are not
    /// run again.
    pub async fn resume(&self, run_id: &str, observer: &dyn Observer) -> Result<RunReport, RunError> {
        let record = self.engine.run_record(run_id).map_err(RunError::Engine)?;
        match &record.status {
            RunStatus::Running => {}
            RunStatus::Succeeded => {
                return Err(RunError::Ended { run_id: run_id.to_string(), status: "it succeeded".into() })
            }
            RunStatus::Failed(reason) => {
                return Err(RunError::Ended { run_id: run_id.to_string(), status: format!("it failed: {reason}") })
            }
            RunStatus::Cancelled => {
                return Err(RunError::Ended { run_id: run_id.to_string(), status: "it was cancelled".into() })
            }
        }
        let pipeline = record.pipeline().map_err(RunError::Engine)?;
        let valid = self.check(run_id, &pipeline)?;
        observer.run_started(run_id);
        self.drive(run_id, &valid, record.stage, observer).await
    }

    /// Take the run's lease, waiting out a holder that stopped renewing it.
    async fn take_lease(&self, run_id: &str) -> Result<(), RunError> {
        let started = Instant::now();
        loop {
            if self.engine.acquire_lease(run_id, &self.owner, LEASE).map_err(RunError::Engine)? {
                self.renewed.lock().unwrap_or_else(|p| p.into_inner()).insert(run_id.to_string(), Instant::now());
                return Ok(());
            }
            if started.elapsed() > LEASE + RENEW_EVERY {
                return Err(RunError::Busy { run_id: run_id.to_string(), holder: "a live orchestrator".into() });
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Renew the lease when it is due; fails if another orchestrator took the run.
    fn renew_lease(&self, run_id: &str) -> Result<(), RunError> {
        let mut renewed = self.renewed.lock().unwrap_or_else(|p| p.into_inner());
        if renewed.get(run_id).is_some_and(|at| at.elapsed() < RENEW_EVERY) {
            return Ok(());
        }
        if !self.engine.acquire_lease(run_id, &self.owner, LEASE).map_err(RunError::Engine)? {
            return Err(RunError::Busy { run_id: run_id.to_string(), holder: "another orchestrator".into() });
        }
        renewed.insert(run_id.to_string(), Instant::now());
        Ok(())
    }

    /// Run stages `from..` of a started run and record how it ended, in a `run` span.
    async fn drive(
        &self,
        run_id: &str,
        pipeline: &ValidPipeline,
        from: usize,
        observer: &dyn Observer,
    ) -> Result<RunReport, RunError> {
        let span = tracing::info_span!("run", run_id, pipeline = %pipeline.name);
        let started = Instant::now();
        tracing::info!(parent: &span, from_stage = from, "run started");
        let outcome = self.drive_spanned(run_id, pipeline, from, observer).instrument(span.clone()).await;
        let ms = started.elapsed().as_millis() as u64;
        match &outcome {
            Ok(_) => tracing::info!(parent: &span, duration_ms = ms, "run succeeded"),
            Err(RunError::Cancelled { .. }) => tracing::info!(parent: &span, duration_ms = ms, "run cancelled"),
            Err(e) => {
                tracing::warn!(parent: &span, duration_ms = ms, error = %crate::text::one_line(&e.to_string(), 2048), "run failed")
            }
        }
        outcome
    }

    async fn drive_spanned(
        &self,
        run_id: &str,
        pipeline: &ValidPipeline,
        from: usize,
        observer: &dyn Observer,
    ) -> Result<RunReport, RunError> {
        self.take_lease(run_id).await?;
        self.hooks.get_or_init(|| crate::gatekeeper::spawn(self.engine.clone(), self.catalog.clone()));
        // The stages race the watch: a cancel (or a lost lease, or a state gone from the
        // store) ends the run at whatever await point the stages are (an executor call
        // still running on its blocking thread ends at its deadline, unheard).
        let outcome = tokio::select! {
            outcome = self.drive_stages(run_id, pipeline, from, observer) => outcome,
            stop = self.watch(run_id) => Err(stop),
        };
        self.renewed.lock().unwrap_or_else(|p| p.into_inner()).remove(run_id);
        // A cancel that lands while an executor runs can make its stage fail (the tasks
        // it enqueued after the cancel were dropped): the run was cancelled, not failed.
        let outcome = match outcome {
            Err(RunError::StageFailed { .. }) if matches!(self.engine.run_status(run_id), Ok(RunStatus::Cancelled)) => {
                Err(RunError::Cancelled { run_id: run_id.to_string() })
            }
            other => other,
        };
        let status = match &outcome {
            Ok(_) => Some(RunStatus::Succeeded),
            Err(e @ RunError::StageFailed { .. }) => Some(RunStatus::Failed(e.to_string())),
            // Garbage in the run's state fails the run, recorded where `troupe status`
            // shows it (best effort: the store may refuse that too).
            Err(RunError::Engine(e)) if matches!(e.downcast_ref(), Some(StateError::Garbage { .. })) => {
                let _ = self.engine.finish_run(run_id, &RunStatus::Failed(format!("{e:#}")));
                None
            }
            Err(_) => None,
        };
        if let Some(status) = status {
            self.engine.finish_run(run_id, &status).map_err(RunError::Engine)?;
        }
        outcome
    }

    /// Renew the lease and watch the run's status while it is driven; returns why the run
    /// must stop (never returns while all is well).
    async fn watch(&self, run_id: &str) -> RunError {
        loop {
            tokio::time::sleep(WATCH_EVERY).await;
            if let Err(e) = self.renew_lease(run_id) {
                return e;
            }
            match self.engine.run_status(run_id) {
                Ok(RunStatus::Running) => {}
                Ok(RunStatus::Cancelled) => return RunError::Cancelled { run_id: run_id.to_string() },
                Ok(ended) => return RunError::Ended { run_id: run_id.to_string(), status: ended.word() },
                Err(e) => return RunError::Engine(e),
            }
        }
    }

    async fn drive_stages(
        &self,
        run_id: &str,
        pipeline: &ValidPipeline,
        from: usize,
        observer: &dyn Observer,
    ) -> Result<RunReport, RunError> {
        let mut stages: Vec<(String, Stage)> = Vec::with_capacity(pipeline.stages.len());
        let plugins = self.catalog.plugins_for(run_id);
        for valid in &pipeline.stages {
            let stage = Self::executor(&plugins, &valid.mode)?.stage(run_id, &valid.definition);
            stages.push((valid.mode.clone(), stage));
        }
        let mut plans = Vec::with_capacity(stages.len());
        for (mode, stage) in &stages {
            plans.push(self.plan(mode, stage).await?);
        }

        let mut reports = Vec::with_capacity(stages.len());
        for (i, (mode, stage)) in stages.iter().enumerate() {
            if i < from {
                // Finished by an earlier orchestrator: report what the engine recorded.
                let counts = self.engine.counts(run_id, &stage.name).map_err(RunError::Engine)?;
                observer.stage_started(i, &stage.name, mode);
                observer.stage_finished(&stage.name, &counts, true);
                reports.push(StageReport {
                    name: stage.name.clone(),
                    mode: mode.clone(),
                    counts,
                    failed_tasks: Vec::new(),
                    stragglers: Vec::new(),
                    duration_ms: 0,
                });
                continue;
            }
            self.engine.set_run_stage(run_id, i).map_err(RunError::Engine)?;
            let early = plans
                .get(i + 1)
                .and_then(|p| p.early_start)
                .zip(pipeline.stages.get(i + 1))
                .map(|(e, next)| (e, next.name.clone()));
            let step = Step { index: i, mode, stage, plan: &plans[i], early };
            let report = self.run_stage(run_id, step, observer).await?;
            reports.push(report);
        }
        let context = self.engine.run_context(run_id).map_err(RunError::Engine)?;
        // Who served it is for people reading the summary: failing to learn it is no
        // reason to fail a run whose work is done.
        let served_by = self.engine.served_by(run_id).unwrap_or_else(|e| {
            eprintln!("troupe: cannot tell which workers served run {run_id}: {e:#}");
            Vec::new()
        });
        Ok(RunReport { run_id: run_id.to_string(), context, stages: reports, served_by })
    }

    async fn plan(&self, mode: &str, stage: &Stage) -> Result<StagePlan, RunError> {
        let fail = |reason| RunError::StageFailed { run_id: stage.run_id.clone(), stage: stage.name.clone(), reason };
        let (plugins, host, mode_owned, stage_owned) =
            (self.catalog.plugins_for(&stage.run_id), self.host(), mode.to_string(), stage.clone());
        let result =
            tokio::task::spawn_blocking(move || plugins.executor(&mode_owned).map(|e| e.plan(host, &stage_owned)))
                .await
                .map_err(|e| RunError::Engine(e.into()))?;
        let Some(result) = result else {
            return Err(RunError::Engine(anyhow::anyhow!("mode `{mode}` is not loaded")));
        };
        match result {
            Ok(Ok(plan)) => Ok(plan),
            Ok(Err(e)) => Err(fail(StageFailure::Executor { mode: mode.to_string(), error: e })),
            Err(call) => Err(fail(StageFailure::Plugin(call))),
        }
    }

    /// One stage: open it and get its tasks enqueued, wait for its barrier (or its early
    /// cut), then judge its results and record its output.
    /// [`Orchestrator::run_stage_spanned`] in a `stage` span, timed (metrics).
    async fn run_stage(&self, run_id: &str, step: Step<'_>, observer: &dyn Observer) -> Result<StageReport, RunError> {
        let mode = step.mode.to_string();
        let span = tracing::info_span!("stage", run_id, stage = %step.stage.name, mode = %mode);
        let started = Instant::now();
        let report = self.run_stage_spanned(run_id, step, observer).instrument(span.clone()).await;
        let seconds = started.elapsed().as_secs_f64();
        crate::telemetry::metrics::stage_ended(&mode, report.is_ok(), seconds);
        match &report {
            Ok(r) => tracing::info!(parent: &span, duration_ms = r.duration_ms, succeeded = r.counts.succeeded,
                failed = r.counts.failed, skipped = r.counts.skipped, "stage ended"),
            Err(e) => {
                tracing::info!(parent: &span, error = %crate::text::one_line(&e.to_string(), 2048), "stage failed")
            }
        }
        report
    }

    async fn run_stage_spanned(
        &self,
        run_id: &str,
        step: Step<'_>,
        observer: &dyn Observer,
    ) -> Result<StageReport, RunError> {
        let Step { index, mode, stage, plan, early } = step;
        let started = Instant::now();
        observer.stage_started(index, &stage.name, mode);
        let execution = self.start_stage(run_id, mode, stage, plan).await?;
        let cut = if execution.expected_tasks > 0 && !execution.detached {
            let deadline = early.as_ref().map(|(e, next)| (started + Duration::from_millis(e.after_ms), e, next));
            self.await_barrier(run_id, &stage.name, execution.expected_tasks, deadline, observer).await?
        } else {
            false
        };
        let (counts, failed_tasks, stragglers) = self.end_stage(run_id, stage, &execution, cut, observer)?;
        Ok(StageReport {
            name: stage.name.clone(),
            mode: mode.to_string(),
            counts,
            failed_tasks,
            stragglers,
            duration_ms: started.elapsed().as_millis() as u64,
        })
    }

    /// Open the stage and have its executor enqueue its tasks, unless an earlier
    /// orchestrator sealed it already (then it is not executed again); the number of tasks
    /// enqueued must be what `execute` said.
    async fn start_stage(
        &self,
        run_id: &str,
        mode: &str,
        stage: &Stage,
        plan: &StagePlan,
    ) -> Result<crate::api::Execution, RunError> {
        let fail = |reason| stage_failed(run_id, &stage.name, reason);
        let info = StageInfo {
            mode: mode.to_string(),
            stage: Arc::new(stage.clone()),
            before_task_hook: plan.before_task_hook,
            after_task_hook: plan.after_task_hook,
        };
        self.engine.open_stage(run_id, info).map_err(RunError::Engine)?;
        let execution = match self.engine.sealed(run_id, &stage.name).map_err(RunError::Engine)? {
            Some(execution) => execution,
            None => self.execute(mode, stage).await.map_err(fail)?,
        };
        let enqueued = self.engine.seal_stage(run_id, &stage.name, &execution).map_err(RunError::Engine)?;
        if enqueued != execution.expected_tasks {
            return Err(fail(StageFailure::Miscount {
                mode: mode.to_string(),
                expected: execution.expected_tasks,
                enqueued,
            }));
        }
        Ok(execution)
    }

    /// Wait until every expected task ended, reporting progress and renewing the lease;
    /// or, at the next stage's early start (`deadline`), cut the stage if enough results
    /// arrived. Returns whether the stage was cut.
    async fn await_barrier(
        &self,
        run_id: &str,
        name: &str,
        expected: u64,
        deadline: Option<(Instant, &crate::api::EarlyStart, &String)>,
        observer: &dyn Observer,
    ) -> Result<bool, RunError> {
        let mut unread_checked = Instant::now();
        loop {
            self.renew_lease(run_id)?;
            let counts = self.engine.counts(run_id, name).map_err(RunError::Engine)?;
            observer.stage_progress(name, &counts);
            if unread_checked.elapsed() >= UNREAD_EVERY {
                unread_checked = Instant::now();
                // A failure to look is not the run's: it says nothing this time.
                if let Ok(unread) = self.engine.unread(run_id) {
                    observer.stage_unread(name, &unread);
                }
            }
            if counts.done() {
                return Ok(false);
            }
            if let Some((at, early, next)) = deadline {
                if Instant::now() >= at {
                    if counts.succeeded < early.min_results {
                        return Err(stage_failed(
                            run_id,
                            name,
                            StageFailure::TooFewArrived {
                                next_stage: next.clone(),
                                arrived: counts.succeeded,
                                expected,
                                min_results: early.min_results,
                                after_ms: early.after_ms,
                            },
                        ));
                    }
                    self.engine.cut_stage(run_id, name).map_err(RunError::Engine)?;
                    return Ok(true);
                }
            }
            let wait = deadline
                .map_or(PROGRESS_EVERY, |(at, ..)| at.saturating_duration_since(Instant::now()).min(PROGRESS_EVERY));
            self.engine.wait_for_change(run_id, wait).await;
        }
    }

    /// Judge the stage's results by its tolerance ([`barrier::judge`]) and put its output
    /// in the context; returns its counters, the tolerated failures and, for a cut stage,
    /// the stragglers so far.
    fn end_stage(
        &self,
        run_id: &str,
        stage: &Stage,
        execution: &crate::api::Execution,
        cut: bool,
        observer: &dyn Observer,
    ) -> Result<(StageCounts, Vec<TaskResult>, Vec<TaskResult>), RunError> {
        let name = &stage.name;
        let results = if execution.detached {
            Vec::new()
        } else {
            self.engine.results(run_id, name).map_err(RunError::Engine)?
        };
        let counts = self.engine.counts(run_id, name).map_err(RunError::Engine)?;
        // What `execute` said plus what reviews added (`extend`).
        let expected = counts.expected.unwrap_or(execution.expected_tasks);
        let failed = match barrier::judge(&stage.config, expected, &results) {
            Ok(tolerated) => tolerated,
            Err(failure) => {
                observer.stage_finished(name, &counts, false);
                return Err(stage_failed(run_id, name, failure));
            }
        };
        let output = output::stage_output(execution, expected, results);
        self.engine.set_output(run_id, name, output).map_err(RunError::Engine)?;
        observer.stage_finished(name, &counts, true);
        let stragglers = if cut { self.engine.stragglers(run_id, name).map_err(RunError::Engine)? } else { Vec::new() };
        Ok((counts, failed, stragglers))
    }

    /// Call the stage's `execute`, retrying a retryable error (enqueueing is idempotent,
    /// so a repeated call enqueues nothing twice).
    async fn execute(&self, mode: &str, stage: &Stage) -> Result<crate::api::Execution, StageFailure> {
        for retry in 0.. {
            let (plugins, host, mode_owned, stage_owned) =
                (self.catalog.plugins_for(&stage.run_id), self.host(), mode.to_string(), stage.clone());
            let joined = tokio::task::spawn_blocking(move || {
                plugins.executor(&mode_owned).map(|e| e.execute(host, &stage_owned))
            })
            .await;
            // The runtime is shutting down (a server stopping): the call was cut short, not
            // failed. Wait to be dropped with the runtime rather than fail the stage, which
            // would record the run as failed where another host could have resumed it.
            if joined.as_ref().is_err_and(|e| e.is_cancelled()) {
                std::future::pending::<()>().await;
            }
            let result = joined
                .map_err(|e| e.to_string())
                .and_then(|r| r.ok_or_else(|| format!("mode `{mode}` is not loaded")))
                .map_err(|e| StageFailure::Executor { mode: mode.to_string(), error: ExecutorError::Fatal(e) })?;
            match result {
                Ok(Ok(execution)) => return Ok(execution),
                Ok(Err(error @ ExecutorError::Retryable(_))) => match barrier::executor_retry_delay(retry) {
                    Some(delay) => tokio::time::sleep(delay).await,
                    None => return Err(StageFailure::Executor { mode: mode.to_string(), error }),
                },
                Ok(Err(error)) => return Err(StageFailure::Executor { mode: mode.to_string(), error }),
                Err(call) => return Err(StageFailure::Plugin(call)),
            }
        }
        unreachable!("the retries end: `executor_retry_delay` gives up after EXECUTOR_RETRIES")
    }
}

pub use barrier::tolerated_failures;

fn stage_failed(run_id: &str, stage: &str, reason: StageFailure) -> RunError {
    RunError::StageFailed { run_id: run_id.to_string(), stage: stage.to_string(), reason }
}

/// A run id unique across processes and machines (time, process id).
/// Why `id` cannot name a run, or None. A run id goes into Redis key names inside a
/// hash tag (`P:{R}:...`: a brace would move the tag, a colon would make one run's keys
/// look like another's), into log lines and URLs, and is typed by people: so letters,
/// digits, `.`, `_` and `-`, at most 128 of them, as [`new_run_id`] makes.
pub fn run_id_problem(id: &str) -> Option<String> {
    const MAX: usize = 128;
    if id.is_empty() {
        return Some("a run id cannot be empty".into());
    }
    if id.len() > MAX {
        return Some(format!("a run id has at most {MAX} characters; this one has {}", id.chars().count()));
    }
    let bad = id.chars().find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))?;
    Some(format!(
        "run id `{}` holds {bad:?}: a run id is letters, digits, `.`, `_` and `-` (it goes into Redis keys and URLs)",
        crate::text::one_line(id, 60)
    ))
}

pub fn new_run_id() -> String {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    format!("run-{:x}-{:04x}", nanos, std::process::id() & 0xffff)
}
