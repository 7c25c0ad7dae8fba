//! [`EmbeddedEngine`]: the queue and the run state in this process, behind one mutex.
//! The default when no Redis is given, so `troupe run` works with nothing installed.
//!
//! Task flow: an executor's `enqueue` registers a task with its stage (idempotent by
//! index) and either releases it (ready, or delayed until its delay or rate limit allows)
//! or holds it back while the stage has `maxParallel` tasks in flight. A finished task
//! releases the next held one. Workers take ready tasks from one FIFO queue.
//!
//! # Layout
//! - this file: the engine's state (runs, stages, the ready queue) and the moves every
//!   role shares (adding, releasing, recording tasks).
//! - `stage_host.rs`: what plugins' imports reach (context, enqueue, state, log).
//! - `run_store.rs`: the orchestrator's side (runs, stages, results, outputs, leases,
//!   live reads, retuning).
//! - `queues.rs`: the workers' and the hook host's sides (next task, report, hook work).

mod queues;
mod run_store;
mod stage_host;

use super::live::{RateLive, StageLive, StateEntry, RETUNED_BUCKET};
use super::{
    BoxFuture, HookKind, HookQueue, HookWork, Receipt, Recorded, Retune, Retuned, RunRecord, RunStatus, RunStore,
    StageCounts, StageInfo, TaskEnvelope, TaskQueue, TaskResult,
};
use crate::api::{EnqueueOptions, Execution, Extension, HostError, LogLevel, Outcome, Task};
use crate::memory_state::MemoryState;
use crate::pipeline::Pipeline;
use crate::stage_host::{Role, Scope, StageHost, StateQuota};
use crate::telemetry::metrics::ActorQueue;
use anyhow::{anyhow, Context as _};
use serde_json::{Map, Value};
use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use std::time::{Duration, Instant};
use tokio::sync::{watch, Notify};

/// An in-process engine.
pub struct EmbeddedEngine {
    inner: Mutex<Inner>,
    /// Wakes workers when a task becomes ready (or a delayed one may be due sooner).
    task_ready: Notify,
    /// Wakes the hook host when hook work arrives.
    hook_ready: Notify,
    /// Bumped on every change a run's orchestrator may wait for.
    progress: watch::Sender<u64>,
    /// The manifest's actors (a hot reload may add some: [`EmbeddedEngine::add_actors`]).
    actors: RwLock<HashSet<String>>,
    /// Actors the manifest marks `external`: known, but nothing in this process runs them.
    external: RwLock<HashSet<String>>,
    log_level: LogLevel,
    state: MemoryState,
}

#[derive(Default)]
struct Inner {
    runs: HashMap<String, Run>,
    /// Tasks a worker may take, with when they became ready (the queue-age metric).
    ready: VecDeque<(TaskEnvelope, Instant)>,
    /// Work for the stages' hooks: released tasks to admit, outcomes to review.
    hooks: VecDeque<HookWork>,
    /// Run ids in the order they started.
    order: Vec<String>,
    /// Delayed tasks by (due time, sequence).
    delayed: BTreeMap<(Instant, u64), TaskEnvelope>,
    seq: u64,
    /// Rate-limit buckets: the theoretical arrival time of the next token (GCRA).
    buckets: HashMap<(String, String), Instant>,
}

struct Run {
    context: Arc<Value>,
    stages: HashMap<String, StageState>,
    record: RunRecord,
    /// The orchestrator holding the run, and until when.
    lease: Option<(String, Instant)>,
}

struct StageState {
    info: StageInfo,
    expected: Option<u64>,
    execution: Option<Execution>,
    /// Index -> (actor, key) of every task enqueued.
    tasks: HashMap<u64, (String, Option<Value>)>,
    max_parallel: Option<u32>,
    /// `maxParallel` set through [`RunStore::retune`]: later enqueues keep it.
    retuned: bool,
    /// A rate set through [`RunStore::retune`], (per second, burst): the stage's first
    /// tries are paced by a bucket of its own.
    rate: Option<(f64, u32)>,
    /// The rate limit the executor's latest enqueue asked for (the live view's bucket).
    paced_by: Option<crate::api::RateLimit>,
    held: VecDeque<(TaskEnvelope, EnqueueOptions)>,
    in_flight: u64,
    max_in_flight: u64,
    results: HashMap<u64, TaskResult>,
    succeeded: u64,
    failed: u64,
    skipped: u64,
    /// Extensions reviewed before the stage was sealed: (generation, extension), added
    /// when it is.
    pending: Vec<(u32, Extension)>,
    cut: bool,
    stragglers: Vec<TaskResult>,
    opened: Instant,
    /// (task index, ms since the stage opened) each time a task was released to the
    /// workers: an append-only log, one push per attempt (no allocation per task).
    history: Vec<(u64, u64)>,
    /// How many times each deferred task was deferred.
    deferrals: HashMap<u64, u64>,
}

/// The namespace of retuned stages' own buckets (no plugin's namespace is empty-prefixed
/// like this).
const RETUNED: &str = "\u{0}retuned";

/// A retuned stage's bucket name: its run and stage.
fn retuned_bucket(run_id: &str, stage: &str) -> String {
    format!("{run_id}\u{0}{stage}")
}

/// The state namespace of an executor (its rate buckets are kept under it).
fn executor_namespace(mode: &str) -> String {
    crate::stage_host::namespace(Role::Executor, mode)
}

impl EmbeddedEngine {
    /// An engine whose `has-actor` knows `actors` (the manifest's). Plugin log lines at
    /// `log_level` or above go to stderr.
    pub fn new(actors: impl IntoIterator<Item = String>, log_level: LogLevel) -> Self {
        EmbeddedEngine {
            inner: Mutex::default(),
            task_ready: Notify::new(),
            hook_ready: Notify::new(),
            progress: watch::Sender::new(0),
            actors: RwLock::new(actors.into_iter().collect()),
            external: RwLock::default(),
            log_level,
            state: MemoryState::default(),
        }
    }

    /// Drop an ended run and everything kept for it, so a long-lived host (`troupe
    /// serve`) stays bounded; a running run is kept. Whether it was dropped.
    pub fn forget_run(&self, run_id: &str) -> bool {
        let mut inner = self.lock();
        let ended = inner.runs.get(run_id).is_some_and(|r| r.record.status != RunStatus::Running);
        if ended {
            inner.runs.remove(run_id);
            inner.order.retain(|id| id != run_id);
        }
        ended
    }

    /// Refuse tasks of these actors (the manifest's `external = true`) with an error that
    /// says they need Redis and a worker of the user's own.
    pub fn with_external(mut self, actors: impl IntoIterator<Item = String>) -> Self {
        *self.external.get_mut().unwrap_or_else(|p| p.into_inner()) = actors.into_iter().collect();
        self
    }

    /// A reloaded manifest's actors: names it adds become known (names it drops stay, so
    /// runs still on the old plugins can enqueue for them; a new run cannot validate a
    /// stage naming one), and its `external` ones are refused from now on.
    pub fn add_actors(&self, actors: impl IntoIterator<Item = String>, external: impl IntoIterator<Item = String>) {
        self.actors.write().unwrap_or_else(|p| p.into_inner()).extend(actors);
        *self.external.write().unwrap_or_else(|p| p.into_inner()) = external.into_iter().collect();
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn changed(&self) {
        self.progress.send_modify(|v| *v = v.wrapping_add(1));
    }

    /// Record a task's outcome under the engine's lock (taken by the caller, released
    /// here): count it once, release the next held task, wake only who has work.
    fn record_locked(
        &self,
        mut inner: MutexGuard<'_, Inner>,
        task: &TaskEnvelope,
        outcome: Outcome,
        extension: Option<&Extension>,
    ) -> anyhow::Result<Recorded> {
        if inner.runs.get(&*task.run_id).is_some_and(|r| r.record.status == RunStatus::Cancelled) {
            // As on Redis: a result arriving after the cancel is not recorded, and it
            // releases no held task.
            return Ok(Recorded::Ended);
        }
        let s = inner.stage(&task.run_id, &task.stage)?;
        if !s.tasks.contains_key(&task.index) {
            anyhow::bail!("run `{}` stage `{}` has no task {}", task.run_id, task.stage, task.index);
        }
        if s.results.contains_key(&task.index) || s.stragglers.iter().any(|r| r.index == task.index) {
            return Ok(Recorded::Duplicate);
        }
        s.in_flight = s.in_flight.saturating_sub(1);
        let recorded = if s.cut {
            s.stragglers.push(to_result(task, outcome));
            Recorded::Straggler
        } else {
            match outcome {
                Outcome::Succeeded(_) => s.succeeded += 1,
                Outcome::Failed(_) => s.failed += 1,
                Outcome::Skipped(_) => s.skipped += 1,
            }
            s.results.insert(task.index, to_result(task, outcome));
            Recorded::Counted
        };
        let next = match s.max_parallel {
            Some(max) if s.in_flight < u64::from(max) => s.held.pop_front(),
            _ => None,
        };
        if next.is_some() {
            s.in_flight += 1;
            s.max_in_flight = s.max_in_flight.max(s.in_flight);
        }
        // What the review added joins the stage with the outcome (only a counted one),
        // after the slots: the stage's held tasks keep their turn before the new ones.
        let mut grown = Added::default();
        if let (Recorded::Counted, Some(extension)) = (recorded, extension) {
            let generation = task.generation.saturating_add(1);
            if s.expected.is_none() {
                s.pending.push((generation, extension.clone()));
            } else {
                grown = inner.extend(&task.run_id, &task.stage, generation, extension, self.log_level)?;
            }
        }
        let s = inner.stage(&task.run_id, &task.stage)?;
        let tripped = s.expected.is_some_and(|e| s.succeeded + s.failed + s.skipped >= e);
        let namespace = executor_namespace(&s.info.mode);
        let gated = inner.hooks.len();
        let ready = match next {
            Some((envelope, options)) => inner.release(envelope, &options, &namespace),
            None => false,
        };
        let gated = inner.hooks.len() > gated || grown.gated;
        drop(inner);
        for _ in 0..usize::from(ready) + grown.ready {
            self.task_ready.notify_one();
        }
        // Only when there is hook work: waking the hook host for every result cost a
        // context switch and a lock per task.
        if gated {
            self.hook_ready.notify_one();
        }
        // The orchestrator polls progress; wake it only when the barrier trips.
        if tripped {
            self.changed();
        }
        Ok(recorded)
    }
}

impl Inner {
    fn stage(&mut self, run_id: &str, stage: &str) -> anyhow::Result<&mut StageState> {
        self.runs
            .get_mut(run_id)
            .with_context(|| format!("no run `{run_id}`"))?
            .stages
            .get_mut(stage)
            .with_context(|| format!("run `{run_id}` has no open stage `{stage}`"))
    }

    /// Add `tasks` of generation `generation` to a stage, idempotent by index: with
    /// `options.skip` each is recorded as skipped at once; otherwise each is released,
    /// or held while the stage has `maxParallel` in flight.
    fn add_tasks(
        &mut self,
        run_id: &Arc<str>,
        stage_name: &Arc<str>,
        tasks: Vec<Task>,
        generation: u32,
        options: &EnqueueOptions,
    ) -> anyhow::Result<Added> {
        let mut released = Vec::new();
        let mut out = Added::default();
        let namespace = {
            let stage = self.stage(run_id, stage_name)?;
            if options.max_parallel.is_some() && !stage.retuned {
                stage.max_parallel = options.max_parallel;
            }
            if options.skip.is_none() && options.rate_limit.is_some() {
                stage.paced_by = options.rate_limit.clone();
            }
            for task in tasks {
                if stage.tasks.contains_key(&task.index) {
                    continue; // idempotent: the first task with an index wins
                }
                out.added += 1;
                stage.tasks.insert(task.index, (task.actor.clone(), task.key.clone()));
                if let Some(reason) = &options.skip {
                    let result = TaskResult {
                        index: task.index,
                        actor: task.actor,
                        key: task.key,
                        outcome: Outcome::Skipped(reason.clone()),
                        attempts: 0,
                    };
                    stage.results.insert(task.index, result);
                    stage.skipped += 1;
                    out.skipped += 1;
                    continue;
                }
                let envelope = TaskEnvelope {
                    run_id: run_id.clone(),
                    stage: stage_name.clone(),
                    index: task.index,
                    actor: task.actor,
                    input: task.input,
                    key: task.key,
                    attempt: 1,
                    generation,
                    receipt: Receipt::none(),
                };
                if stage.max_parallel.is_some_and(|max| stage.in_flight >= u64::from(max)) {
                    stage.held.push_back((envelope, options.clone()));
                } else {
                    stage.in_flight += 1;
                    stage.max_in_flight = stage.max_in_flight.max(stage.in_flight);
                    released.push(envelope);
                }
            }
            executor_namespace(&stage.info.mode)
        };
        let gated = self.hooks.len();
        let count = released.len();
        for envelope in released {
            out.ready += usize::from(self.release(envelope, options, &namespace));
        }
        // The hook host learns of new hook work, and of delayed tasks (one may be gated
        // and due before whatever it sleeps for).
        out.gated = self.hooks.len() > gated || out.ready < count;
        Ok(out)
    }

    /// Add what an accepted review asked for to a sealed stage: numbered from its task
    /// count, up to the extension's cap; the expected count rises by as many.
    fn extend(
        &mut self,
        run_id: &Arc<str>,
        stage_name: &Arc<str>,
        generation: u32,
        extension: &Extension,
        log_level: LogLevel,
    ) -> anyhow::Result<Added> {
        let (first, mode) = {
            let s = self.stage(run_id, stage_name)?;
            (s.tasks.len() as u64, s.info.mode.clone())
        };
        let room = usize::try_from(extension.cap.saturating_sub(first)).unwrap_or(usize::MAX);
        let tasks: Vec<Task> = (first..)
            .zip(extension.tasks.iter().take(room))
            .map(|(index, t)| Task { index, actor: t.actor.clone(), input: t.input.clone(), key: t.key.clone() })
            .collect();
        let left_out = extension.tasks.len() - tasks.len();
        if left_out > 0 {
            let scope =
                Scope { role: Role::Executor, name: mode, run_id: run_id.to_string(), stage: stage_name.to_string() };
            crate::engine::log_line(&scope, LogLevel::Warn, log_level, &super::left_out(left_out, extension.cap));
        }
        let added = self.add_tasks(run_id, stage_name, tasks, generation, &extension.options)?;
        let s = self.stage(run_id, stage_name)?;
        s.expected = s.expected.map(|e| e + added.added);
        Ok(added)
    }

    /// Put a task on the ready queue, or the delayed set when its delay or its rate
    /// limit says so. Returns whether it is ready now.
    fn release(&mut self, task: TaskEnvelope, options: &EnqueueOptions, namespace: &str) -> bool {
        let now = Instant::now();
        // Delays and rates are bounded where a plugin hands them over (`crate::rules::bounds`);
        // the checked arithmetic keeps a bug there from becoming a panic here.
        let mut due = now.checked_add(Duration::from_millis(options.delay_ms)).unwrap_or(now);
        // A retuned stage's own rate paces its first tries in place of the executor's.
        let retuned = (task.attempt == 1)
            .then(|| self.runs.get(&*task.run_id)?.stages.get(&*task.stage)?.rate)
            .flatten()
            .map(|(per_second, burst)| {
                ((RETUNED.to_string(), retuned_bucket(&task.run_id, &task.stage)), per_second, burst)
            });
        let rate = retuned.or_else(|| {
            let r = options.rate_limit.as_ref()?;
            Some(((namespace.to_string(), r.bucket.clone()), r.per_second, r.burst))
        });
        if let Some((bucket, per_second, burst)) = rate {
            // The bucket rule is `rules::rate`, on ms from now (a TAT in the past is a full
            // bucket, as is a bucket never used).
            let tat = self.buckets.entry(bucket).or_insert(now);
            let tat_ms = tat.saturating_duration_since(now).as_secs_f64() * 1000.0;
            let slot = crate::rules::rate::take(Some(tat_ms), 0.0, options.delay_ms as f64, per_second, burst);
            let fallback = due;
            let at = |ms: f64| {
                Duration::try_from_secs_f64(ms / 1000.0).ok().and_then(|d| now.checked_add(d)).unwrap_or(fallback)
            };
            *tat = at(slot.tat_ms);
            due = at(slot.release_ms);
        }
        if due <= now {
            self.make_ready(task);
            true
        } else {
            self.seq += 1;
            self.delayed.insert((due, self.seq), task);
            false
        }
    }

    /// Move due delayed tasks to the ready queue; the next due time, if any remain.
    fn promote_due(&mut self) -> Option<Instant> {
        let now = Instant::now();
        while let Some(entry) = self.delayed.first_entry() {
            if entry.key().0 > now {
                return Some(entry.key().0);
            }
            let task = entry.remove();
            self.make_ready(task);
        }
        None
    }

    /// Hand a released task on, noting the release in its stage's attempt history: to
    /// the hook host when its stage has `before-task`, else to the workers.
    fn make_ready(&mut self, task: TaskEnvelope) {
        let mut gated = false;
        if let Ok(stage) = self.stage(&task.run_id, &task.stage) {
            let at = stage.opened.elapsed().as_millis() as u64;
            stage.history.push((task.index, at));
            gated = stage.info.before_task_hook;
        }
        if gated {
            self.hooks.push_back(HookWork { task, kind: HookKind::Admit });
        } else {
            self.ready.push_back((task, Instant::now()));
        }
    }
}

/// What adding tasks to a stage did, so the caller wakes only who has work.
#[derive(Default)]
struct Added {
    /// New tasks (repeated indices are not).
    added: u64,
    /// Of them, recorded as skipped.
    skipped: u64,
    /// Released to the ready queue now.
    ready: usize,
    /// Hook work or a delayed task appeared.
    gated: bool,
}

fn to_result(task: &TaskEnvelope, outcome: Outcome) -> TaskResult {
    TaskResult { index: task.index, actor: task.actor.clone(), key: task.key.clone(), outcome, attempts: task.attempt }
}
