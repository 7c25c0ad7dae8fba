//! [`RecordingHost`]: an in-memory [`StageHost`] that records what a plugin enqueued and
//! logged. It serves tests, the plugin harness and `troupe dry-run`; it runs nothing.

use crate::api::{EnqueueOptions, HostError, LogLevel, Task};
use crate::memory_state::MemoryState;
use crate::stage_host::{Scope, StageHost, StateQuota};
use serde_json::Value;
use std::collections::HashSet;
use std::sync::{Arc, Mutex, MutexGuard};

/// One enqueued task with the options it was enqueued with.
#[derive(Debug, Clone, PartialEq)]
pub struct Enqueued {
    pub run_id: String,
    pub stage: String,
    pub task: Task,
    pub options: EnqueueOptions,
}

/// One log line a plugin wrote.
#[derive(Debug, Clone, PartialEq)]
pub struct LogLine {
    pub scope: Scope,
    pub level: LogLevel,
    pub message: String,
}

#[derive(Default)]
struct Recorded {
    enqueued: Vec<Enqueued>,
    task_ids: HashSet<(String, String, u64)>,
    logs: Vec<LogLine>,
}

/// An in-memory host with a fixed context.
pub struct RecordingHost {
    context: Arc<Value>,
    /// The actors `has_actor` knows; `None` knows every name.
    actors: Option<HashSet<String>>,
    recorded: Mutex<Recorded>,
    state: MemoryState,
}

impl RecordingHost {
    pub fn new(context: Value) -> Self {
        RecordingHost {
            context: Arc::new(context),
            actors: None,
            recorded: Mutex::default(),
            state: MemoryState::default(),
        }
    }

    /// A host whose `has_actor` knows exactly `actors` (a manifest's actor names).
    pub fn with_actors(context: Value, actors: impl IntoIterator<Item = String>) -> Self {
        RecordingHost { actors: Some(actors.into_iter().collect()), ..Self::new(context) }
    }

    fn recorded(&self) -> MutexGuard<'_, Recorded> {
        // A panic while holding the lock leaves plain data behind; keep serving it.
        self.recorded.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Every task enqueued so far, in order (a repeated index is recorded once).
    pub fn enqueued(&self) -> Vec<Enqueued> {
        self.recorded().enqueued.clone()
    }

    /// Every log line so far.
    pub fn logs(&self) -> Vec<LogLine> {
        self.recorded().logs.clone()
    }

    /// Forget enqueued tasks and logs; keep state (it outlives stages and runs).
    pub fn clear_tasks_and_logs(&self) {
        let mut r = self.recorded();
        r.enqueued.clear();
        r.task_ids.clear();
        r.logs.clear();
    }
}

impl StageHost for RecordingHost {
    fn context(&self, _scope: &Scope) -> Result<Arc<Value>, HostError> {
        Ok(self.context.clone())
    }

    fn enqueue(&self, scope: &Scope, tasks: Vec<Task>, options: &EnqueueOptions) -> Result<(), HostError> {
        let mut r = self.recorded();
        for task in tasks {
            if r.task_ids.insert((scope.run_id.clone(), scope.stage.clone(), task.index)) {
                r.enqueued.push(Enqueued {
                    run_id: scope.run_id.clone(),
                    stage: scope.stage.clone(),
                    task,
                    options: options.clone(),
                });
            }
        }
        Ok(())
    }

    fn has_actor(&self, name: &str) -> bool {
        self.actors.as_ref().is_none_or(|known| known.contains(name))
    }

    fn state_get(&self, namespace: &str, key: &str) -> Result<Option<String>, HostError> {
        self.state.get(namespace, key)
    }

    fn state_set(
        &self,
        namespace: &str,
        key: &str,
        value: &str,
        ttl_ms: Option<u64>,
        quota: &StateQuota,
    ) -> Result<(), HostError> {
        self.state.set(namespace, key, value, ttl_ms, quota)
    }

    fn state_set_if_absent(
        &self,
        namespace: &str,
        key: &str,
        value: &str,
        ttl_ms: Option<u64>,
        quota: &StateQuota,
    ) -> Result<bool, HostError> {
        self.state.set_if_absent(namespace, key, value, ttl_ms, quota)
    }

    fn state_increment(
        &self,
        namespace: &str,
        key: &str,
        delta: i64,
        ttl_ms: Option<u64>,
        quota: &StateQuota,
    ) -> Result<i64, HostError> {
        self.state.increment(namespace, key, delta, ttl_ms, quota)
    }

    fn state_delete(&self, namespace: &str, key: &str) -> Result<(), HostError> {
        self.state.delete(namespace, key)
    }

    fn log(&self, scope: &Scope, level: LogLevel, message: &str) {
        self.recorded().logs.push(LogLine { scope: scope.clone(), level, message: message.to_string() });
    }
}
