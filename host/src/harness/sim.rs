//! The harness's engine: one stage's tasks on a virtual clock, released, admitted, run
//! and reviewed by the same rules as a run (`crate::rules`), so what a run would hold
//! back, space out, defer or retry happens here too, at virtual times a test can assert.
//!
//! What it models, as the embedded engine does it:
//! - Release: a task is due after its delay, then after its rate bucket's token
//!   ([`crate::rules::rate`]); while the stage has `maxParallel` tasks in flight (released
//!   and not yet ended), further tasks are held and released one per ended task.
//! - Admission at release ([`crate::rules::hooks::admit`]): a deferred task is released
//!   again after the delay, keeping its maxParallel slot; a rejected one ends there.
//! - Workers: an admitted task waits for a free worker (first released, first started)
//!   and ends after its scripted duration.
//! - Review at the end of an attempt ([`crate::rules::hooks::review`]): a retry is
//!   released again after the delay as attempt + 1, keeping its slot; an accepted
//!   review's extension (`extend`) joins the stage with the outcome, numbered after
//!   every task so far, one generation on, up to its cap.
//! - Skip: a task enqueued with `skip` is recorded as skipped at once and never runs.
//!
//! Virtual times are whole milliseconds; a rate's release time is rounded up.

use super::script::Scripted;
use super::{Attempt, Then};
use crate::api::{EnqueueOptions, Extension, Outcome, RateLimit, Stage, StagePlan, Task, TaskRef};
use crate::engine::TaskResult;
use crate::plugin::ExecutorPlugin;
use crate::recording::Enqueued;
use crate::rules::hooks::{self, Admit, Review};
use crate::stage_host::StageHost;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;

/// What the simulation hands back.
pub(super) struct Simulated {
    pub attempts: Vec<Attempt>,
    /// In task-index order.
    pub results: Vec<TaskResult>,
    /// Every task the stage had at its end: execute's and what reviews added.
    pub tasks: u64,
    pub peak_in_flight: u64,
    pub ended_ms: u64,
}

/// The simulation gave up: a plugin kept its tasks going past any sane count.
#[derive(Debug)]
pub(super) struct Runaway {
    pub index: u64,
}

enum Event {
    /// A task (attempt) becomes due: admission, then a worker.
    Release { task: Task, attempt: u32 },
    /// A running attempt ends.
    End { row: usize, task: Task, attempt: u32, outcome: Outcome },
}

pub(super) struct Sim<'a> {
    pub plugin: &'a ExecutorPlugin,
    pub host: Arc<dyn StageHost>,
    pub stage: &'a Stage,
    pub plan: &'a StagePlan,
    pub workers: u32,
    pub script: &'a mut dyn FnMut(&Task, u32) -> Scripted,
}

struct State<'s, 'a> {
    sim: &'s mut Sim<'a>,
    now: u64,
    /// Pending events by (virtual ms, sequence): the sequence keeps same-time events in
    /// the order they were scheduled.
    events: BTreeMap<(u64, u64), Event>,
    seq: u64,
    /// Admitted attempts waiting for a worker: (attempt row, task, attempt number).
    ready: VecDeque<(usize, Task, u32)>,
    idle_workers: u32,
    max_parallel: Option<u32>,
    held: VecDeque<(Task, EnqueueOptions)>,
    in_flight: u64,
    peak_in_flight: u64,
    /// Rate buckets' theoretical arrival times (ms), by bucket name.
    buckets: HashMap<String, f64>,
    deferrals: HashMap<u64, u64>,
    attempts: Vec<Attempt>,
    results: BTreeMap<u64, TaskResult>,
    /// Each task's generation (absent: 0, a task `execute` enqueued).
    generations: HashMap<u64, u32>,
    /// How many tasks the stage has: the next extension's first index.
    tasks: u64,
}

impl<'a> Sim<'a> {
    /// Enqueue `enqueued` at virtual time `start_ms` and run the stage until every task
    /// has a result. `max_events` bounds the work (each release and each end is one).
    pub(super) fn run(&mut self, enqueued: &[Enqueued], start_ms: u64, max_events: u64) -> Result<Simulated, Runaway> {
        let idle_workers = self.workers;
        let mut state = State {
            sim: self,
            now: start_ms,
            events: BTreeMap::new(),
            seq: 0,
            ready: VecDeque::new(),
            idle_workers,
            max_parallel: None,
            held: VecDeque::new(),
            in_flight: 0,
            peak_in_flight: 0,
            buckets: HashMap::new(),
            deferrals: HashMap::new(),
            attempts: Vec::new(),
            results: BTreeMap::new(),
            generations: HashMap::new(),
            tasks: enqueued.len() as u64,
        };
        for e in enqueued {
            state.enqueue(e.task.clone(), &e.options);
        }
        let mut handled = 0u64;
        while let Some(((at, _), event)) = state.events.pop_first() {
            handled += 1;
            if handled > max_events {
                let index = match &event {
                    Event::Release { task, .. } | Event::End { task, .. } => task.index,
                };
                return Err(Runaway { index });
            }
            state.now = at;
            match event {
                Event::Release { task, attempt } => state.admit(task, attempt),
                Event::End { row, task, attempt, outcome } => {
                    state.idle_workers += 1;
                    state.attempts[row].ended_ms = Some(at);
                    state.ended(row, task, attempt, outcome);
                }
            }
            state.start_ready();
        }
        Ok(Simulated {
            attempts: state.attempts,
            tasks: state.tasks,
            results: state.results.into_values().collect(),
            peak_in_flight: state.peak_in_flight,
            ended_ms: state.now,
        })
    }
}

impl State<'_, '_> {
    fn schedule(&mut self, at: u64, event: Event) {
        self.seq += 1;
        self.events.insert((at, self.seq), event);
    }

    /// What the engine's `enqueue` does with one task: a maxParallel slot or the hold.
    fn enqueue(&mut self, task: Task, options: &EnqueueOptions) {
        if options.max_parallel.is_some() {
            self.max_parallel = options.max_parallel;
        }
        if let Some(reason) = &options.skip {
            let Task { index, actor, key, .. } = task;
            let skipped = TaskResult { index, actor, key, outcome: Outcome::Skipped(reason.clone()), attempts: 0 };
            self.results.entry(index).or_insert(skipped);
            return;
        }
        if self.max_parallel.is_some_and(|max| self.in_flight >= u64::from(max)) {
            self.held.push_back((task, options.clone()));
            return;
        }
        self.take_slot();
        self.release(task, 1, options.delay_ms, options.rate_limit.as_ref());
    }

    fn take_slot(&mut self) {
        self.in_flight += 1;
        self.peak_in_flight = self.peak_in_flight.max(self.in_flight);
    }

    /// Schedule a task's release after `delay_ms` and its rate bucket's token.
    fn release(&mut self, task: Task, attempt: u32, delay_ms: u64, rate: Option<&RateLimit>) {
        let mut due = self.now.saturating_add(delay_ms);
        if let Some(rate) = rate {
            let tat = self.buckets.get(&rate.bucket).copied();
            let slot = crate::rules::rate::take(tat, self.now as f64, due as f64, rate.per_second, rate.burst);
            self.buckets.insert(rate.bucket.clone(), slot.tat_ms);
            due = slot.release_ms.ceil() as u64;
        }
        self.schedule(due, Event::Release { task, attempt });
    }

    /// A task is released: ask `before-task` (when the stage has it) what to do.
    fn admit(&mut self, task: Task, attempt: u32) {
        let row = self.attempts.len();
        self.attempts.push(Attempt {
            index: task.index,
            attempt,
            released_ms: self.now,
            started_ms: None,
            ended_ms: None,
            admission: None,
            outcome: None,
            verdict: None,
            then: Then::Waiting,
        });
        let admit = if self.sim.plan.before_task_hook {
            let task_ref = self.task_ref(&task, attempt);
            let count = self.deferrals.entry(task.index).or_insert(0);
            let (admission, admit) =
                hooks::admit(self.sim.plugin, self.sim.host.clone(), self.sim.stage, &task_ref, || {
                    *count += 1;
                    Ok(*count)
                });
            self.attempts[row].admission = Some(admission);
            admit
        } else {
            Admit::Run
        };
        match admit {
            Admit::Run => self.ready.push_back((row, task, attempt)),
            Admit::Defer { delay_ms } => {
                self.attempts[row].then = Then::Deferred { delay_ms };
                self.release(task, attempt, delay_ms, None);
            }
            Admit::Fail(message) => {
                self.attempts[row].ended_ms = Some(self.now);
                self.ended(row, task, attempt, Outcome::Failed(message));
            }
        }
    }

    /// Hand admitted tasks to idle workers.
    fn start_ready(&mut self) {
        while self.idle_workers > 0 {
            let Some((row, task, attempt)) = self.ready.pop_front() else { return };
            self.idle_workers -= 1;
            self.attempts[row].started_ms = Some(self.now);
            let scripted = (self.sim.script)(&task, attempt);
            let outcome = scripted.outcome(&task);
            self.schedule(self.now.saturating_add(scripted.ms), Event::End { row, task, attempt, outcome });
        }
    }

    /// An attempt ended (its actor returned, or admission failed it): `after-task`
    /// (when the stage has it) says whether it is recorded or retried.
    fn ended(&mut self, row: usize, task: Task, attempt: u32, outcome: Outcome) {
        self.attempts[row].outcome = Some(outcome.clone());
        let review = if self.sim.plan.after_task_hook {
            let task_ref = self.task_ref(&task, attempt);
            let (verdict, review) =
                hooks::review(self.sim.plugin, self.sim.host.clone(), self.sim.stage, &task_ref, outcome);
            self.attempts[row].verdict = verdict;
            review
        } else {
            Review::Record(outcome, None)
        };
        match review {
            Review::Retry { delay_ms } => {
                self.attempts[row].then = Then::Retried { delay_ms };
                self.release(task, attempt + 1, delay_ms, None);
            }
            Review::Record(outcome, extension) => {
                self.attempts[row].then = Then::Recorded(outcome.clone());
                let generation = self.generations.get(&task.index).copied().unwrap_or(0);
                let had_result = self.results.contains_key(&task.index);
                self.record(task, attempt, outcome);
                if let (false, Some(extension)) = (had_result, extension) {
                    self.extend(generation.saturating_add(1), &extension);
                }
            }
        }
    }

    fn task_ref(&self, task: &Task, attempt: u32) -> TaskRef {
        let generation = self.generations.get(&task.index).copied().unwrap_or(0);
        TaskRef { index: task.index, actor: task.actor.clone(), attempt, generation }
    }

    /// What the engine does with an accepted review's extension.
    fn extend(&mut self, generation: u32, extension: &Extension) {
        let room = usize::try_from(extension.cap.saturating_sub(self.tasks)).unwrap_or(usize::MAX);
        for new in extension.tasks.iter().take(room) {
            let index = self.tasks;
            self.tasks += 1;
            self.generations.insert(index, generation);
            let task = Task { index, actor: new.actor.clone(), input: new.input.clone(), key: new.key.clone() };
            self.enqueue(task, &extension.options);
        }
    }

    /// A task's result counts toward the barrier; its slot goes to the next held task.
    fn record(&mut self, task: Task, attempt: u32, outcome: Outcome) {
        let Task { index, actor, key, .. } = task;
        self.results.entry(index).or_insert(TaskResult { index, actor, key, outcome, attempts: attempt });
        self.in_flight = self.in_flight.saturating_sub(1);
        if self.max_parallel.is_some_and(|max| self.in_flight < u64::from(max)) {
            if let Some((task, options)) = self.held.pop_front() {
                self.take_slot();
                self.release(task, 1, options.delay_ms, options.rate_limit.as_ref());
            }
        }
    }
}
