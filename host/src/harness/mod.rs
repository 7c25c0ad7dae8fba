//! The plugin harness: test one executor plugin in isolation, deterministically (the
//! seed's "test each pattern independently"). Feed it a stage, a context and scripted
//! task outcomes; it calls `validate`, `plan`, `execute` and the per-task hooks, and
//! releases, admits, runs and reviews tasks by the same stage rules as a run
//! ([`crate::rules`]) on a virtual clock: nothing sleeps, and deferral, rate limits and
//! maxParallel show in the report's times. A stage that fails is reported failed, with
//! the error `troupe run` prints for it.
//!
//! ```ignore
//! let harness = Harness::load("target/plugins/my-pattern.wasm", "my-pattern")?;
//! // The easy path: a closure decides each attempt, which ends at once.
//! let run = harness.run(&stage_json, &context_json, |task, _attempt| Outcome::Succeeded(task.input.clone()))?;
//! assert_eq!(run.output(), Some(&json!([...])));
//! // The scripted path: durations, workers, per-attempt outcomes.
//! let script = Script::from_json(&json!({ "workers": 2, "tasks": { "1": { "err": "down", "ms": 50 } } }), "script")?;
//! let run = harness.run_script(&stage_json, &context_json, &script)?;
//! assert_eq!(run.error().unwrap().to_string(), "run harness: stage s failed: 1 of 3 tasks failed ...");
//! ```
//!
//! - `mod.rs`: the API ([`Harness`], [`HarnessRun`], [`Attempt`]).
//! - `script`: the outcome script ([`Script`]) and its JSON form.
//! - `sim`: the virtual-clock engine.
//! - `report`: the report as text (a per-attempt timeline) and as JSON.

mod report;
mod script;
mod sim;

pub use script::{Attempts, Reply, Script, ScriptError, Scripted, DEFAULT_WORKERS, MAX_WORKERS};

use crate::api::{Admission, Execution, ExecutorError, Outcome, Problem, StagePlan, Task, Verdict};
use crate::engine::TaskResult;
use crate::manifest::Limits;
use crate::orchestrator::RunError;
use crate::plugin::{CallError, EngineOptions, ExecutorPlugin, LoadError, Loader, PluginSpec, Plugins};
use crate::recording::{Enqueued, RecordingHost};
use crate::rules::{barrier, output, StageFailure};
use crate::stage_host::StageHost;
use serde_json::Value;
use std::path::Path;
use std::sync::Arc;

/// The run id the harness's stages run under unless told otherwise (plugins see it, and
/// it is in the failure text, as in a run).
pub const RUN_ID: &str = "harness";

/// One release of a task and what came of it. A deferred task is released again as a
/// new row with the same attempt number; a retried one as a new row with attempt + 1.
#[derive(Debug, Clone, PartialEq)]
pub struct Attempt {
    pub index: u64,
    /// 1 for the first try.
    pub attempt: u32,
    /// Virtual ms (since the stage started) when the engine released it to the workers.
    pub released_ms: u64,
    /// When a worker started it; `None` when it never reached its actor (deferred or
    /// rejected at admission).
    pub started_ms: Option<u64>,
    /// When the attempt ended; `None` when it was deferred.
    pub ended_ms: Option<u64>,
    /// What `before-task` answered; `None` when the stage has no such hook. A hook that
    /// failed shows as a rejection with its error (the task fails with it).
    pub admission: Option<Admission>,
    /// How the attempt ended: its actor's outcome, or the failure admission gave it.
    /// `None` when it was deferred.
    pub outcome: Option<Outcome>,
    /// What `after-task` answered; `None` without the hook, or when the hook failed.
    pub verdict: Option<Verdict>,
    /// What the host did next.
    pub then: Then,
}

/// What the host did with an attempt.
#[derive(Debug, Clone, PartialEq)]
pub enum Then {
    /// Not decided (only while the simulation runs).
    Waiting,
    /// Deferred at admission: released again after this many ms.
    Deferred { delay_ms: u64 },
    /// Retried after review: attempt + 1 released after this many ms.
    Retried { delay_ms: u64 },
    /// The task ended with this outcome (counted toward the barrier).
    Recorded(Outcome),
}

/// How the stage ended.
#[derive(Debug)]
pub enum StageEnd {
    /// The barrier tripped and the failures (if any) were tolerated: the output the
    /// orchestrator would put in the context as `$.<stage>`, and the tolerated failures.
    Succeeded { output: Value, tolerated: Vec<TaskResult> },
    /// The stage failed; displayed exactly as `troupe run` reports it.
    Failed(RunError),
}

/// Everything one simulated stage did.
#[derive(Debug)]
pub struct HarnessRun {
    pub run_id: String,
    pub stage: String,
    pub mode: String,
    pub plan: StagePlan,
    pub execution: Execution,
    /// Every task `execute` enqueued, with its options, in order.
    pub enqueued: Vec<Enqueued>,
    /// Every release, in the order the simulation handled them.
    pub attempts: Vec<Attempt>,
    /// Each task's recorded result, in task-index order.
    pub results: Vec<TaskResult>,
    /// How many workers ran attempts.
    pub workers: u32,
    /// The most tasks the stage had in flight (released and not yet ended) at once:
    /// never more than its maxParallel.
    pub peak_in_flight: u64,
    /// Virtual ms when the stage started its tasks (after any retries of `execute`).
    pub started_ms: u64,
    /// Virtual ms when the last event happened.
    pub ended_ms: u64,
    pub end: StageEnd,
}

impl HarnessRun {
    /// The stage's output, when it succeeded.
    pub fn output(&self) -> Option<&Value> {
        match &self.end {
            StageEnd::Succeeded { output, .. } => Some(output),
            StageEnd::Failed(_) => None,
        }
    }

    /// The run's error, when the stage failed (its text is what `troupe run` prints).
    pub fn error(&self) -> Option<&RunError> {
        match &self.end {
            StageEnd::Succeeded { .. } => None,
            StageEnd::Failed(e) => Some(e),
        }
    }

    pub fn succeeded(&self) -> bool {
        matches!(self.end, StageEnd::Succeeded { .. })
    }

    /// A readable report: the stage, a per-attempt timeline, the result and output.
    pub fn timeline(&self) -> String {
        report::text(self)
    }

    /// The report as JSON (what `troupe test --json` prints).
    pub fn to_json(&self) -> Value {
        report::json(self)
    }
}

/// Why the harness could not run a stage to an end.
#[derive(Debug, thiserror::Error)]
pub enum HarnessError {
    #[error(transparent)]
    Load(#[from] LoadError),
    /// `validate` trapped, ran out of time or memory, or returned garbage.
    #[error(transparent)]
    Call(#[from] CallError),
    #[error("the stage is invalid:{}", problems(.0))]
    Invalid(Vec<Problem>),
    /// The stage failed before any task ran (`plan` or `execute` failed, or the task
    /// count was wrong), as `troupe run` reports it.
    #[error(transparent)]
    Stage(RunError),
    #[error("the simulation stopped after too many releases; task {0} was still being deferred or retried")]
    Runaway(u64),
}

fn problems(problems: &[Problem]) -> String {
    problems.iter().map(|p| format!("\n  {}: {}", p.field, crate::text::one_line(&p.message, 1024))).collect()
}

pub struct Harness {
    plugin: Source,
    actors: Option<Vec<String>>,
    run_id: String,
}

/// Where the harness's executor lives: loaded for it, or one of a manifest's plugins.
enum Source {
    Owned(Box<ExecutorPlugin>),
    Manifest(Arc<Plugins>, String),
}

impl Harness {
    /// Load an executor component (or core module) for testing.
    pub fn load(file: impl AsRef<Path>, mode: &str) -> Result<Harness, HarnessError> {
        let loader =
            Loader::new(&EngineOptions { max_memory_mib: Limits::default().memory_mib }, None).map_err(|e| {
                CallError {
                    file: file.as_ref().display().to_string(),
                    role: crate::Role::Executor,
                    name: mode.into(),
                    failure: crate::Failure::Trap(format!("{e:#}")),
                    output: None,
                }
            })?;
        let plugin = loader.load_executor(&PluginSpec::file(mode, file.as_ref()), Value::Object(Default::default()))?;
        Ok(Harness::new(plugin))
    }

    /// Wrap an already loaded plugin.
    pub fn new(plugin: ExecutorPlugin) -> Harness {
        Harness { plugin: Source::Owned(Box::new(plugin)), actors: None, run_id: RUN_ID.to_string() }
    }

    /// Test the executor a manifest names for `mode` (with the manifest's default config
    /// and limits); `None` when the manifest has no such mode.
    pub fn from_plugins(plugins: Arc<Plugins>, mode: &str) -> Option<Harness> {
        plugins.executor(mode)?;
        Some(Harness { plugin: Source::Manifest(plugins, mode.to_string()), actors: None, run_id: RUN_ID.to_string() })
    }

    /// The executor under test.
    pub fn plugin(&self) -> &ExecutorPlugin {
        match &self.plugin {
            Source::Owned(plugin) => plugin,
            Source::Manifest(plugins, mode) => plugins.executor(mode).expect("checked in `from_plugins`"),
        }
    }

    /// Make `has-actor` know only these actors (by default it knows every name).
    pub fn with_actors(mut self, actors: impl IntoIterator<Item = String>) -> Self {
        self.actors = Some(actors.into_iter().collect());
        self
    }

    /// Run stages under this run id (default [`RUN_ID`]).
    pub fn with_run_id(mut self, run_id: &str) -> Self {
        self.run_id = run_id.to_string();
        self
    }

    fn host(&self, context: &Value) -> Arc<RecordingHost> {
        Arc::new(match &self.actors {
            Some(a) => RecordingHost::with_actors(context.clone(), a.iter().cloned()),
            None => RecordingHost::new(context.clone()),
        })
    }

    /// The problems `validate` finds in `definition`.
    pub fn validate(&self, definition: &Value) -> Result<Vec<Problem>, HarnessError> {
        let stage = self.plugin().stage(&self.run_id, definition);
        Ok(self.plugin().validate(self.host(&Value::Null), &stage)?)
    }

    /// Run the stage to its end against `context`, with `outcome` deciding how each task
    /// attempt ends (at once, on [`DEFAULT_WORKERS`] workers). State persists within the
    /// run (for example a circuit breaker's).
    pub fn run(
        &self,
        definition: &Value,
        context: &Value,
        mut outcome: impl FnMut(&Task, u32) -> Outcome,
    ) -> Result<HarnessRun, HarnessError> {
        let mut script = |task: &Task, attempt: u32| {
            let reply = match outcome(task, attempt) {
                Outcome::Succeeded(value) => Reply::Ok(value.to_value()),
                Outcome::Failed(message) | Outcome::Skipped(message) => Reply::Err(message),
            };
            Scripted { reply, ms: 0 }
        };
        self.simulate(definition, context, DEFAULT_WORKERS, &mut script)
    }

    /// Run the stage to its end against `context`, each attempt ending as `script` says.
    pub fn run_script(&self, definition: &Value, context: &Value, script: &Script) -> Result<HarnessRun, HarnessError> {
        let mut next = |task: &Task, attempt: u32| script.attempt(task.index, attempt).clone();
        self.simulate(definition, context, script.workers, &mut next)
    }

    fn simulate(
        &self,
        definition: &Value,
        context: &Value,
        workers: u32,
        script: &mut dyn FnMut(&Task, u32) -> Scripted,
    ) -> Result<HarnessRun, HarnessError> {
        let recorder = self.host(context);
        let host: Arc<dyn StageHost> = recorder.clone();
        let stage = self.plugin().stage(&self.run_id, definition);
        let mode = self.plugin().mode().to_string();
        let failed = |reason: StageFailure| {
            HarnessError::Stage(RunError::StageFailed {
                run_id: self.run_id.clone(),
                stage: stage.name.clone(),
                reason,
            })
        };
        let problems = self.plugin().validate(host.clone(), &stage)?;
        if !problems.is_empty() {
            return Err(HarnessError::Invalid(problems));
        }
        let plan = match self.plugin().plan(host.clone(), &stage) {
            Ok(Ok(plan)) => plan,
            Ok(Err(error)) => return Err(failed(StageFailure::Executor { mode, error })),
            Err(call) => return Err(failed(StageFailure::Plugin(call))),
        };
        // `execute`, with the orchestrator's retries of a retryable error, on the clock.
        let mut started_ms = 0u64;
        let mut retry = 0;
        let execution = loop {
            match self.plugin().execute(host.clone(), &stage) {
                Ok(Ok(execution)) => break execution,
                Ok(Err(error @ ExecutorError::Retryable(_))) => match barrier::executor_retry_delay(retry) {
                    Some(delay) => {
                        started_ms += delay.as_millis() as u64;
                        retry += 1;
                    }
                    None => return Err(failed(StageFailure::Executor { mode, error })),
                },
                Ok(Err(error)) => return Err(failed(StageFailure::Executor { mode, error })),
                Err(call) => return Err(failed(StageFailure::Plugin(call))),
            }
        };
        let enqueued = recorder.enqueued();
        if enqueued.len() as u64 != execution.expected_tasks {
            let miscount =
                StageFailure::Miscount { mode, expected: execution.expected_tasks, enqueued: enqueued.len() as u64 };
            return Err(failed(miscount));
        }

        let mut sim = sim::Sim { plugin: self.plugin(), host, stage: &stage, plan: &plan, workers, script };
        // Every task's deferrals and attempts are capped by the executor's limits; this
        // only stops a harness bug from spinning for ever.
        let max_events = 1_000_000u64.saturating_add(enqueued.len() as u64 * 10_000);
        let done = sim.run(&enqueued, started_ms, max_events).map_err(|r| HarnessError::Runaway(r.index))?;
        let end = if execution.detached {
            StageEnd::Succeeded {
                output: output::stage_output(&execution, done.tasks, Vec::new()),
                tolerated: Vec::new(),
            }
        } else {
            match barrier::judge(&stage.config, done.tasks, &done.results) {
                Ok(tolerated) => StageEnd::Succeeded {
                    output: output::stage_output(&execution, done.tasks, done.results.clone()),
                    tolerated,
                },
                Err(reason) => StageEnd::Failed(RunError::StageFailed {
                    run_id: self.run_id.clone(),
                    stage: stage.name.clone(),
                    reason,
                }),
            }
        };
        Ok(HarnessRun {
            run_id: self.run_id.clone(),
            stage: stage.name.clone(),
            mode: self.plugin().mode().to_string(),
            plan,
            execution,
            enqueued,
            attempts: done.attempts,
            results: done.results,
            workers,
            peak_in_flight: done.peak_in_flight,
            started_ms,
            ended_ms: done.ended_ms,
            end,
        })
    }
}
