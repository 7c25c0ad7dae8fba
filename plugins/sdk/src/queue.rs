//! Enqueueing the stage's tasks through the host: [`enqueue`] and [`enqueue_all`] from
//! `execute`, [`extend`] from `after-task` to grow the stage. A failed call is the
//! host's [`HostError`]; `?` in `execute` turns it into the matching
//! [`crate::ExecutorError`] (an unknown actor is `not-found`: the stage fails at once).

use crate::bindings::raw_queue as raw;
use crate::error::HostError;
use serde_json::Value;

/// One actor invocation (WIT `task`), with its input as JSON.
#[derive(Debug, Clone, PartialEq)]
pub struct Task {
    /// Position within the stage, from 0; with run and stage it forms the task id.
    pub index: u64,
    pub actor: String,
    pub input: Value,
    /// The task's key in `by-key` and `keyed-list` outputs.
    pub key: Option<Value>,
}

impl Task {
    pub fn with_key(mut self, key: Value) -> Self {
        self.key = Some(key);
        self
    }

    fn into_wit(self) -> raw::Task {
        raw::Task {
            index: self.index,
            actor: self.actor,
            input: self.input.to_string(),
            key: self.key.map(|k| k.to_string()),
        }
    }
}

/// A task added to a growing stage by [`extend`] (WIT `new-task`): the host numbers it,
/// after every task the stage has so far.
#[derive(Debug, Clone, PartialEq)]
pub struct NewTask {
    pub actor: String,
    pub input: Value,
    /// The task's key in `by-key` and `keyed-list` outputs.
    pub key: Option<Value>,
}

impl NewTask {
    pub fn new(actor: impl Into<String>, input: Value) -> Self {
        NewTask { actor: actor.into(), input, key: None }
    }

    pub fn with_key(mut self, key: Value) -> Self {
        self.key = Some(key);
        self
    }

    fn into_wit(self) -> raw::NewTask {
        raw::NewTask { actor: self.actor, input: self.input.to_string(), key: self.key.map(|k| k.to_string()) }
    }
}

/// How the host releases tasks (WIT `enqueue-options`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EnqueueOptions {
    /// Hold each task at least this many milliseconds before it may run.
    pub delay_ms: u64,
    /// At most this many of the stage's tasks enqueued-or-running (the last value given
    /// for a stage applies to all its tasks).
    pub max_parallel: Option<u32>,
    /// Release no faster than this token bucket allows.
    pub rate_limit: Option<RateLimit>,
    /// Do not run these tasks: the host records each as skipped with this reason. A
    /// skipped task counts toward the barrier, is not a failure, and is `null` in
    /// `single` and `list` outputs (left out of `by-key` and `keyed-list`).
    pub skip: Option<String>,
}

/// A host-kept token bucket (WIT `rate-limit`).
#[derive(Debug, Clone, PartialEq)]
pub struct RateLimit {
    /// Shared by name within this executor's namespace.
    pub bucket: String,
    pub per_second: f64,
    /// The largest burst released at once (at least 1).
    pub burst: u32,
}

impl EnqueueOptions {
    /// Options that record the tasks as skipped with `reason` instead of running them.
    pub fn skipped(reason: impl Into<String>) -> Self {
        EnqueueOptions { skip: Some(reason.into()), ..Default::default() }
    }

    /// These options with `max_parallel` set.
    pub fn with_max_parallel(mut self, max_parallel: Option<u32>) -> Self {
        self.max_parallel = max_parallel;
        self
    }

    fn to_wit(&self) -> raw::EnqueueOptions {
        raw::EnqueueOptions {
            delay_ms: self.delay_ms,
            max_parallel: self.max_parallel,
            rate_limit: self.rate_limit.as_ref().map(|r| raw::RateLimit {
                bucket: r.bucket.clone(),
                per_second: r.per_second,
                burst: r.burst,
            }),
            skip: self.skip.clone(),
        }
    }
}

/// Whether the manifest names this actor (for `validate`).
pub fn has_actor(name: &str) -> bool {
    raw::has_actor(name)
}

/// Enqueue one task. From `execute` only (`invalid` elsewhere).
pub fn enqueue(task: Task, options: &EnqueueOptions) -> Result<(), HostError> {
    raw::enqueue(&task.into_wit(), &options.to_wit())
}

/// Enqueue many tasks, `batch_size` per host round trip (at least 1); returns how many.
/// From `execute` only.
pub fn enqueue_all(
    tasks: impl IntoIterator<Item = Task>,
    batch_size: usize,
    options: &EnqueueOptions,
) -> Result<u64, HostError> {
    let batch_size = batch_size.max(1);
    let options = options.to_wit();
    let mut batch = Vec::with_capacity(batch_size);
    let mut count = 0u64;
    for task in tasks {
        batch.push(task.into_wit());
        count += 1;
        if batch.len() == batch_size {
            raw::enqueue_batch(&batch, &options)?;
            batch.clear();
        }
    }
    if !batch.is_empty() {
        raw::enqueue_batch(&batch, &options)?;
    }
    Ok(count)
}

/// Grow the stage from `after-task`: the tasks are added when the hook returns
/// [`crate::Verdict::Accept`], atomically with the reviewed outcome and exactly once
/// (dropped with `retry`), numbered after every task so far in the order given, with
/// generation `task.generation + 1`; the barrier waits for them too. Tasks that would
/// take the stage past `max_stage_tasks` (or the manifest's `max-tasks`) are left out.
/// Several calls in one `after-task` add up, in call order, when they give the same
/// options (one review's extension has one set; other options are `invalid`). Anywhere
/// else it is `invalid`.
pub fn extend(
    tasks: impl IntoIterator<Item = NewTask>,
    options: &EnqueueOptions,
    max_stage_tasks: Option<u64>,
) -> Result<(), HostError> {
    let tasks: Vec<raw::NewTask> = tasks.into_iter().map(NewTask::into_wit).collect();
    raw::extend(&tasks, &options.to_wit(), max_stage_tasks)
}

/// A definition path with the field errors name it by (WIT `path-field`), such as
/// `("$.trigger.files", "scatter.input")`.
#[derive(Debug, Clone, PartialEq)]
pub struct PathField {
    pub path: String,
    pub field: String,
}

impl PathField {
    pub fn new(path: impl Into<String>, field: impl Into<String>) -> Self {
        PathField { path: path.into(), field: field.into() }
    }

    fn to_wit(&self) -> raw::PathField {
        raw::PathField { path: self.path.clone(), field: self.field.clone() }
    }
}

/// One task per item of `source`, made by the host ([`enqueue_each`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Each {
    /// The items: the array the path matches in the context (or its several matches).
    pub source: PathField,
    /// The name each item is bound to in `input` (`$.<item_name>`); `$.index` is its
    /// position.
    pub item_name: String,
    pub actor: String,
    /// The input template, rendered per item by the host.
    pub input: Value,
    /// Tasks per engine round trip (default 1000).
    pub batch_size: Option<u32>,
}

/// One task per group of an earlier stage's results, made by the host
/// ([`enqueue_groups`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Groups {
    /// The stage whose successful results are gathered.
    pub stage: String,
    /// The key path evaluated on each result; `None`: one task gets every result.
    pub group_by: Option<PathField>,
    pub actor: String,
    /// The input template, rendered per group with `$.group` = `{key, items}` and
    /// `$.index`.
    pub input: Value,
}

/// Enqueue one task per item, numbered from 0 in item order; returns how many. The host
/// reads the items and renders each input, so neither passes through this guest's
/// memory: the way to scatter a million items. From `execute` only (WIT 0.2.1).
pub fn enqueue_each(each: &Each, options: &EnqueueOptions) -> Result<u64, HostError> {
    let each = raw::Each {
        source: each.source.to_wit(),
        item_name: each.item_name.clone(),
        actor: each.actor.clone(),
        input: each.input.to_string(),
        batch_size: each.batch_size,
    };
    raw::enqueue_each(&each, &options.to_wit())
}

/// Enqueue one task per group of `groups.stage`'s results (one task without
/// `group_by`), numbered from 0 in first-seen order, each keyed by its group's key;
/// returns how many. The host reads and groups the results. From `execute` only (WIT
/// 0.2.1).
pub fn enqueue_groups(groups: &Groups, options: &EnqueueOptions) -> Result<u64, HostError> {
    let groups = raw::Groups {
        stage: groups.stage.clone(),
        group_by: groups.group_by.as_ref().map(PathField::to_wit),
        actor: groups.actor.clone(),
        input: groups.input.to_string(),
    };
    raw::enqueue_groups(&groups, &options.to_wit())
}
