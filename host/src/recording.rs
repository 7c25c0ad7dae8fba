//! [`RecordingHost`]: an in-memory [`StageHost`] that records what a plugin enqueued and
//! logged. It serves tests, the plugin harness and `troupe dry-run`; it runs nothing.

use crate::api::{EnqueueOptions, LogLevel, Task};
use crate::stage_host::{Scope, StageHost};
use serde_json::Value;
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

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
    state: HashMap<(String, String), (String, Option<Instant>)>,
    logs: Vec<LogLine>,
}

/// An in-memory host with a fixed context.
pub struct RecordingHost {
    context: Arc<Value>,
    /// The actors `has_actor` knows; `None` knows every name.
    actors: Option<HashSet<String>>,
    recorded: Mutex<Recorded>,
}

impl RecordingHost {
    pub fn new(context: Value) -> Self {
        RecordingHost { context: Arc::new(context), actors: None, recorded: Mutex::default() }
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

    fn live<'a>(r: &'a mut Recorded, namespace: &str, key: &str) -> Option<&'a mut (String, Option<Instant>)> {
        let k = (namespace.to_string(), key.to_string());
        let expired = matches!(r.state.get(&k), Some((_, Some(at))) if *at <= Instant::now());
        if expired {
            r.state.remove(&k);
        }
        r.state.get_mut(&k)
    }
}

fn expiry(ttl_ms: Option<u64>) -> Option<Instant> {
    ttl_ms.map(|ms| Instant::now() + Duration::from_millis(ms))
}

impl StageHost for RecordingHost {
    fn context(&self, _scope: &Scope) -> Result<Arc<Value>, String> {
        Ok(self.context.clone())
    }

    fn enqueue(&self, scope: &Scope, tasks: Vec<Task>, options: &EnqueueOptions) -> Result<(), String> {
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

    fn state_get(&self, namespace: &str, key: &str) -> Result<Option<String>, String> {
        Ok(Self::live(&mut self.recorded(), namespace, key).map(|(v, _)| v.clone()))
    }

    fn state_set(&self, namespace: &str, key: &str, value: &str, ttl_ms: Option<u64>) -> Result<(), String> {
        self.recorded().state.insert((namespace.into(), key.into()), (value.into(), expiry(ttl_ms)));
        Ok(())
    }

    fn state_set_if_absent(
        &self,
        namespace: &str,
        key: &str,
        value: &str,
        ttl_ms: Option<u64>,
    ) -> Result<bool, String> {
        let mut r = self.recorded();
        if Self::live(&mut r, namespace, key).is_some() {
            return Ok(false);
        }
        r.state.insert((namespace.into(), key.into()), (value.into(), expiry(ttl_ms)));
        Ok(true)
    }

    fn state_increment(&self, namespace: &str, key: &str, delta: i64, ttl_ms: Option<u64>) -> Result<i64, String> {
        let mut r = self.recorded();
        let (current, old_expiry) = match Self::live(&mut r, namespace, key) {
            Some((v, at)) => {
                (v.parse::<i64>().map_err(|_| format!("state key `{key}` holds `{v}`, which is not an integer"))?, *at)
            }
            None => (0, None),
        };
        let next = current.checked_add(delta).ok_or_else(|| format!("state key `{key}` would overflow"))?;
        let at = if ttl_ms.is_some() { expiry(ttl_ms) } else { old_expiry };
        r.state.insert((namespace.into(), key.into()), (next.to_string(), at));
        Ok(next)
    }

    fn state_delete(&self, namespace: &str, key: &str) -> Result<(), String> {
        self.recorded().state.remove(&(namespace.to_string(), key.to_string()));
        Ok(())
    }

    fn log(&self, scope: &Scope, level: LogLevel, message: &str) {
        self.recorded().logs.push(LogLine { scope: scope.clone(), level, message: message.to_string() });
    }
}
