//! The plugin harness: test one executor plugin in isolation, deterministically (the
//! seed's "test each pattern independently"). Feed it a stage, a context and scripted
//! task outcomes; it calls `validate`, `plan`, `execute` and the per-task hooks exactly
//! as the orchestrator would, on one thread with a virtual clock (delays are recorded,
//! never slept), and returns what the plugin enqueued, decided and produced.
//!
//! ```ignore
//! let harness = Harness::load("target/plugins/my-pattern.wasm", "my-pattern")?;
//! let run = harness.run(&stage_json, &context_json, |task| Outcome::Succeeded(task.input.clone()))?;
//! assert_eq!(run.execution.expected_tasks, 3);
//! assert_eq!(run.output, json!([...]));
//! ```

use crate::api::{Admission, Execution, ExecutorError, Outcome, Problem, StagePlan, Task, TaskRef, Verdict};
use crate::engine::{assemble_output, TaskResult};
use crate::manifest::Limits;
use crate::plugin::{CallError, EngineOptions, ExecutorPlugin, LoadError, Loader, PluginSpec};
use crate::recording::{Enqueued, RecordingHost};
use crate::stage_host::StageHost;
use serde_json::Value;
use std::collections::VecDeque;
use std::path::Path;
use std::sync::Arc;

/// A task attempt as the harness saw it.
#[derive(Debug, Clone, PartialEq)]
pub struct Attempt {
    pub index: u64,
    pub attempt: u32,
    /// Virtual milliseconds since the stage started when this attempt ran.
    pub at_ms: u64,
    /// `None` when `before-task` deferred the task.
    pub outcome: Option<Outcome>,
    pub admission: Admission,
    pub verdict: Option<Verdict>,
}

/// Everything one simulated stage did.
#[derive(Debug, Clone)]
pub struct HarnessRun {
    pub problems: Vec<Problem>,
    pub plan: StagePlan,
    pub execution: Execution,
    pub enqueued: Vec<Enqueued>,
    pub attempts: Vec<Attempt>,
    pub results: Vec<TaskResult>,
    /// The stage output the orchestrator would put in the context.
    pub output: Value,
}

/// Why a harness run stopped.
#[derive(Debug, thiserror::Error)]
pub enum HarnessError {
    #[error(transparent)]
    Load(#[from] LoadError),
    #[error(transparent)]
    Call(#[from] CallError),
    #[error("the stage is invalid: {0:?}")]
    Invalid(Vec<Problem>),
    #[error("execute returned an error: {0}")]
    Executor(ExecutorError),
    #[error("expectedTasks = {expected} but {enqueued} tasks were enqueued")]
    Miscount { expected: u64, enqueued: u64 },
    #[error("task {0} was deferred or retried more than 10,000 times")]
    Runaway(u64),
}

pub struct Harness {
    plugin: ExecutorPlugin,
    actors: Option<Vec<String>>,
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
        Ok(Harness { plugin, actors: None })
    }

    /// Wrap an already loaded plugin.
    pub fn new(plugin: ExecutorPlugin) -> Harness {
        Harness { plugin, actors: None }
    }

    /// Make `has-actor` know only these actors (by default it knows every name).
    pub fn with_actors(mut self, actors: impl IntoIterator<Item = String>) -> Self {
        self.actors = Some(actors.into_iter().collect());
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
        let stage = self.plugin.stage("harness", definition);
        Ok(self.plugin.validate(self.host(&Value::Null), &stage)?)
    }

    /// Run the stage to its end against `context`, with `outcome` deciding how each task
    /// attempt ends. State persists within the run (for example a circuit breaker's).
    pub fn run(
        &self,
        definition: &Value,
        context: &Value,
        mut outcome: impl FnMut(&Task, u32) -> Outcome,
    ) -> Result<HarnessRun, HarnessError> {
        let recorder = self.host(context);
        let host: Arc<dyn StageHost> = recorder.clone();
        let stage = self.plugin.stage("harness", definition);
        let problems = self.plugin.validate(host.clone(), &stage)?;
        if !problems.is_empty() {
            return Err(HarnessError::Invalid(problems));
        }
        let plan = self.plugin.plan(host.clone(), &stage)?.map_err(HarnessError::Executor)?;
        let execution = self.plugin.execute(host.clone(), &stage)?.map_err(HarnessError::Executor)?;
        let enqueued = recorder.enqueued();
        if enqueued.len() as u64 != execution.expected_tasks {
            return Err(HarnessError::Miscount { expected: execution.expected_tasks, enqueued: enqueued.len() as u64 });
        }

        // (due virtual ms, task, attempt), run in due order, then enqueue order.
        let mut queue: VecDeque<(u64, Task, u32)> =
            enqueued.iter().map(|e| (e.options.delay_ms, e.task.clone(), 1)).collect();
        let mut attempts = Vec::new();
        let mut results = Vec::new();
        let mut turns = 0u64;
        // The worker's rules for hook verdicts (`crate::bounds`), so a plugin tested
        // here meets the same caps it will meet in a run.
        let (limits, mode) = (&self.plugin.info().limits, self.plugin.mode());
        let mut deferrals: std::collections::HashMap<u64, u64> = std::collections::HashMap::new();
        while let Some(pos) = (0..queue.len()).min_by_key(|&i| queue[i].0) {
            let (now, task, attempt) = queue.remove(pos).expect("in range");
            turns += 1;
            if turns > 10_000 * (execution.expected_tasks + 1) {
                return Err(HarnessError::Runaway(task.index));
            }
            let task_ref = TaskRef { index: task.index, actor: task.actor.clone(), attempt };
            let admission = if plan.before_task_hook {
                self.plugin.before_task(host.clone(), &stage, &task_ref)?
            } else {
                Admission::Run
            };
            let ended = match &admission {
                Admission::Defer(ms) => {
                    let count = deferrals.entry(task.index).or_insert(0);
                    *count += 1;
                    match crate::rules::bounds::deferral(task.index, *ms, *count, limits) {
                        Ok(delay) => {
                            attempts.push(Attempt {
                                index: task.index,
                                attempt,
                                at_ms: now,
                                outcome: None,
                                admission: admission.clone(),
                                verdict: None,
                            });
                            queue.push_back((now.saturating_add(delay), task, attempt));
                            continue;
                        }
                        Err(why) => Outcome::Failed(format!("before-task of mode {mode} refused: {why}")),
                    }
                }
                Admission::Reject(message) => Outcome::Failed(message.clone()),
                Admission::Run => outcome(&task, attempt),
            };
            let verdict = if plan.after_task_hook {
                Some(self.plugin.after_task(host.clone(), &stage, &task_ref, &ended)?)
            } else {
                None
            };
            attempts.push(Attempt {
                index: task.index,
                attempt,
                at_ms: now,
                outcome: Some(ended.clone()),
                admission,
                verdict,
            });
            let ended = match verdict {
                Some(Verdict::Retry(ms)) => match crate::rules::bounds::retry(task.index, ms, attempt, limits) {
                    Ok(delay) => {
                        queue.push_back((now.saturating_add(delay), task, attempt + 1));
                        continue;
                    }
                    Err(why) => Outcome::Failed(format!("after-task of mode {mode} refused: {why}")),
                },
                _ => ended,
            };
            results.push(TaskResult {
                index: task.index,
                actor: task.actor,
                key: task.key,
                outcome: ended,
                attempts: attempt,
            });
        }
        results.sort_by_key(|r| r.index);
        let output = if execution.detached || execution.expected_tasks == 0 {
            execution.metadata.clone().unwrap_or_else(|| Value::Object(Default::default()))
        } else {
            assemble_output(execution.output, execution.expected_tasks, results.clone(), execution.metadata.as_ref())
        };
        Ok(HarnessRun { problems, plan, execution, enqueued, attempts, results, output })
    }
}
