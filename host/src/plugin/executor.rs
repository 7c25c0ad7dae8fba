//! [`ExecutorPlugin`]: a loaded stage executor. Every call instantiates the component
//! afresh from its `InstancePre` (microseconds with the pooling allocator), so no state
//! leaks between calls, runs or stages.

use super::bindings::executor_world::{Executor, ExecutorPre};
use super::call::PluginCore;
use super::convert;
use super::error::{CallError, Failure};
use super::store::HostState;
use super::PluginInfo;
use crate::api::*;
use crate::stage_host::{Role, Scope, StageHost};
use serde_json::Value;
use std::sync::Arc;
use wasmtime::Store;

pub struct ExecutorPlugin {
    pub(crate) core: PluginCore,
    pub(crate) pre: ExecutorPre<HostState>,
    pub(crate) default_config: Value,
    pub(crate) info: PluginInfo,
}

impl ExecutorPlugin {
    /// Where the plugin came from and how it loaded.
    pub fn info(&self) -> &PluginInfo {
        &self.info
    }

    /// The mode name the manifest gives this executor.
    pub fn mode(&self) -> &str {
        &self.core.entry.name
    }

    /// The stage a pipeline definition describes, with the manifest's default config
    /// laid under the stage's `executorConfig`.
    pub fn stage(&self, run_id: &str, definition: &Value) -> Stage {
        let mut config = self.default_config.clone();
        if let Some(own) = definition.get("executorConfig") {
            merge(&mut config, own);
        }
        Stage {
            run_id: run_id.to_string(),
            name: definition.get("name").and_then(Value::as_str).unwrap_or_default().to_string(),
            definition: definition.clone(),
            config,
        }
    }

    fn call<R>(
        &self,
        host: Arc<dyn StageHost>,
        stage: &Stage,
        f: impl FnOnce(&Executor, &mut Store<HostState>) -> wasmtime::Result<R>,
    ) -> Result<R, CallError> {
        self.call_then(host, stage, f, |_, r| Ok(r))
    }

    /// [`Self::call`], then `then` over what the call's store recorded (its enqueues).
    fn call_then<R, T>(
        &self,
        host: Arc<dyn StageHost>,
        stage: &Stage,
        f: impl FnOnce(&Executor, &mut Store<HostState>) -> wasmtime::Result<R>,
        then: impl FnOnce(&HostState, R) -> Result<T, Failure>,
    ) -> Result<T, CallError> {
        let scope = Scope {
            role: Role::Executor,
            name: self.core.entry.name.clone(),
            run_id: stage.run_id.clone(),
            stage: stage.name.clone(),
        };
        let mut store = self.core.store(host, scope);
        let instance = self.pre.instantiate(&mut store).map_err(|e| self.core.classify(&store, e))?;
        let result = f(&instance, &mut store).map_err(|e| self.core.classify(&store, e))?;
        self.core.check_refused(&mut store)?;
        then(store.data(), result).map_err(|f| self.core.error(f))
    }

    /// The name the component reports for itself.
    pub fn reported_name(&self, host: Arc<dyn StageHost>) -> Result<String, CallError> {
        let stage = Stage { run_id: String::new(), name: String::new(), definition: Value::Null, config: Value::Null };
        self.call(host, &stage, |e, s| e.troupe_executor_stage_executor().call_name(s))
    }

    /// Every problem the executor finds in the stage definition.
    pub fn validate(&self, host: Arc<dyn StageHost>, stage: &Stage) -> Result<Vec<Problem>, CallError> {
        let wit_stage = convert::stage(stage);
        let problems =
            self.call(host, stage, |e, s| e.troupe_executor_stage_executor().call_validate(s, &wit_stage))?;
        Ok(problems.into_iter().map(convert::problem).collect())
    }

    pub fn plan(&self, host: Arc<dyn StageHost>, stage: &Stage) -> Result<Result<StagePlan, ExecutorError>, CallError> {
        let wit_stage = convert::stage(stage);
        let plan = self.call(host, stage, |e, s| e.troupe_executor_stage_executor().call_plan(s, &wit_stage))?;
        Ok(plan.map(convert::plan).map_err(convert::executor_error))
    }

    /// Start the stage: the plugin enqueues its tasks through `host`.
    pub fn execute(
        &self,
        host: Arc<dyn StageHost>,
        stage: &Stage,
    ) -> Result<Result<Execution, ExecutorError>, CallError> {
        let wit_stage = convert::stage(stage);
        let limits = self.core.limits;
        self.call_then(
            host,
            stage,
            |e, s| e.troupe_executor_stage_executor().call_execute(s, &wit_stage),
            |state, result| match result {
                Ok(execution) => {
                    if let Some(metadata) = execution.metadata.as_ref().filter(|m| m.len() as u64 > limits.result_bytes)
                    {
                        return Err(Failure::Refused(format!(
                            "returned metadata of {} bytes, over its limit result-bytes = {}",
                            metadata.len(),
                            limits.result_bytes
                        )));
                    }
                    let execution = convert::execution(execution)?;
                    state.ledger.settle(&execution, &limits).map_err(Failure::Refused)?;
                    Ok(Ok(execution))
                }
                Err(e) => Ok(Err(convert::executor_error(e))),
            },
        )
    }

    pub fn before_task(&self, host: Arc<dyn StageHost>, stage: &Stage, task: &TaskRef) -> Result<Admission, CallError> {
        let (wit_stage, wit_task) = (convert::stage(stage), convert::task_ref(task));
        let admission = self
            .call(host, stage, |e, s| e.troupe_executor_stage_executor().call_before_task(s, &wit_stage, &wit_task))?;
        Ok(convert::admission(admission))
    }

    pub fn after_task(
        &self,
        host: Arc<dyn StageHost>,
        stage: &Stage,
        task: &TaskRef,
        outcome: &Outcome,
    ) -> Result<Verdict, CallError> {
        let (wit_stage, wit_task, wit_outcome) =
            (convert::stage(stage), convert::task_ref(task), convert::outcome(outcome));
        let verdict = self.call(host, stage, |e, s| {
            e.troupe_executor_stage_executor().call_after_task(s, &wit_stage, &wit_task, &wit_outcome)
        })?;
        Ok(convert::verdict(verdict))
    }
}

/// Lay `over` onto `base`: objects merge key by key, recursively; anything else replaces.
pub fn merge(base: &mut Value, over: &Value) {
    match (base, over) {
        (Value::Object(base), Value::Object(over)) => {
            for (k, v) in over {
                match base.get_mut(k) {
                    Some(existing) => merge(existing, v),
                    None => {
                        base.insert(k.clone(), v.clone());
                    }
                }
            }
        }
        (base, over) => *base = over.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::merge;
    use serde_json::json;

    #[test]
    fn stage_config_wins_and_objects_merge() {
        let mut base = json!({ "batchSize": 100, "policy": { "max": 3, "backoff": "fixed" } });
        merge(&mut base, &json!({ "maxParallel": 5, "policy": { "backoff": "exponential" } }));
        assert_eq!(
            base,
            json!({ "batchSize": 100, "maxParallel": 5, "policy": { "max": 3, "backoff": "exponential" } })
        );
    }
}
