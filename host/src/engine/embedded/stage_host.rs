//! The plugin imports' side of the embedded engine: [`StageHost`].

use super::*;

impl StageHost for EmbeddedEngine {
    fn context(&self, scope: &Scope) -> Result<Arc<Value>, HostError> {
        let inner = self.lock();
        match inner.runs.get(&scope.run_id) {
            Some(run) => Ok(run.context.clone()),
            None if scope.run_id.is_empty() => Ok(Arc::new(Value::Object(Map::new()))),
            None => Err(HostError::NotFound(format!("no run `{}`", scope.run_id))),
        }
    }

    fn enqueue(&self, scope: &Scope, tasks: Vec<Task>, options: &EnqueueOptions) -> Result<(), HostError> {
        crate::engine::check_actors(&tasks, &self.actors.read().unwrap_or_else(|p| p.into_inner()))?;
        let refused = self.external.read().unwrap_or_else(|p| p.into_inner());
        if let Some(external) = tasks.iter().find(|t| refused.contains(&t.actor)) {
            return Err(HostError::Invalid(format!(
                "task {}: {}",
                external.index,
                crate::engine::external_refusal(&external.actor)
            )));
        }
        drop(refused);
        let mut inner = self.lock();
        if inner.runs.get(&scope.run_id).is_some_and(|r| r.record.status == RunStatus::Cancelled) {
            // The run was cancelled while its executor ran: nothing more runs.
            return Ok(());
        }
        let run_id: Arc<str> = Arc::from(scope.run_id.as_str());
        let stage_name: Arc<str> = Arc::from(scope.stage.as_str());
        let added =
            inner.add_tasks(&run_id, &stage_name, tasks, 0, options).map_err(|e| HostError::NotFound(e.to_string()))?;
        drop(inner);
        for _ in 0..added.ready.max(1) {
            self.task_ready.notify_one();
        }
        if added.gated {
            self.hook_ready.notify_one();
        }
        if added.skipped > 0 {
            self.changed();
        }
        Ok(())
    }

    fn has_actor(&self, name: &str) -> bool {
        self.actors.read().unwrap_or_else(|p| p.into_inner()).contains(name)
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
        crate::engine::log_line(scope, level, self.log_level, message);
    }
}
