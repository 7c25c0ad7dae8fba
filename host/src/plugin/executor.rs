//! [`ExecutorPlugin`]: a loaded stage executor. Every call instantiates the component
//! afresh from its `InstancePre` (microseconds with the pooling allocator), so no state
//! leaks between calls, runs or stages.

use super::bindings::executor_world::{Executor, ExecutorPre};
use super::call::{Called, PluginCore};
use super::convert;
use super::error::{CallError, Failure};
use super::store::HostState;
use super::PluginInfo;
use crate::api::*;
use crate::stage_host::{Role, Scope, StageHost};
use crate::text;
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

    fn call<R: Send>(
        &self,
        host: Arc<dyn StageHost>,
        stage: &Stage,
        f: impl FnOnce(&Executor, &mut Store<HostState>) -> wasmtime::Result<R> + Send,
    ) -> Result<Called<R>, CallError> {
        let scope = Scope {
            role: Role::Executor,
            name: self.core.entry.name.clone(),
            run_id: stage.run_id.clone(),
            stage: stage.name.clone(),
        };
        self.core.call(host, scope, |store| {
            let instance = self.pre.instantiate(&mut *store)?;
            f(&instance, store)
        })
    }

    /// The name the component reports for itself.
    pub fn reported_name(&self, host: Arc<dyn StageHost>) -> Result<String, CallError> {
        let stage = Stage { run_id: String::new(), name: String::new(), definition: Value::Null, config: Value::Null };
        let name = self.call(host, &stage, |e, s| e.troupe_executor_stage_executor().call_name(s))?.value;
        Ok(text::one_line(&name, text::LINE_BUDGET))
    }

    /// Every problem the executor finds in the stage definition.
    pub fn validate(&self, host: Arc<dyn StageHost>, stage: &Stage) -> Result<Vec<Problem>, CallError> {
        let wit_stage = convert::stage(stage);
        let problems =
            self.call(host, stage, |e, s| e.troupe_executor_stage_executor().call_validate(s, &wit_stage))?.value;
        Ok(problems.into_iter().map(convert::problem).collect())
    }

    pub fn plan(&self, host: Arc<dyn StageHost>, stage: &Stage) -> Result<Result<StagePlan, ExecutorError>, CallError> {
        let wit_stage = convert::stage(stage);
        let plan = self.call(host, stage, |e, s| e.troupe_executor_stage_executor().call_plan(s, &wit_stage))?;
        Ok(plan.value.map(convert::plan).map_err(|e| convert::executor_error(e, plan.output)))
    }

    /// Start the stage: the plugin enqueues its tasks through `host`.
    pub fn execute(
        &self,
        host: Arc<dyn StageHost>,
        stage: &Stage,
    ) -> Result<Result<Execution, ExecutorError>, CallError> {
        let wit_stage = convert::stage(stage);
        let limits = self.core.limits;
        let result = self.call(host, stage, |e, s| {
            let returned = e.troupe_executor_stage_executor().call_execute(&mut *s, &wit_stage)?;
            // Checked here, while the call's store (what it enqueued) is at hand.
            Ok(returned.map(|execution| -> Result<Execution, Failure> {
                if let Some(metadata) = execution.metadata.as_ref().filter(|m| m.len() as u64 > limits.result_bytes) {
                    return Err(Failure::Refused(format!(
                        "returned metadata of {} bytes, over its limit result-bytes = {}",
                        metadata.len(),
                        limits.result_bytes
                    )));
                }
                let execution = convert::execution(execution)?;
                s.data().ledger.settle(&execution, &limits).map_err(Failure::Refused)?;
                Ok(execution)
            }))
        })?;
        match result.value {
            Ok(Ok(execution)) => Ok(Ok(execution)),
            Ok(Err(failure)) => Err(CallError { output: result.output, ..self.core.error(failure) }),
            Err(e) => Ok(Err(convert::executor_error(e, result.output))),
        }
    }

    pub fn before_task(&self, host: Arc<dyn StageHost>, stage: &Stage, task: &TaskRef) -> Result<Admission, CallError> {
        let (wit_stage, wit_task) = (convert::stage(stage), convert::task_ref(task));
        let admission = self
            .call(host, stage, |e, s| e.troupe_executor_stage_executor().call_before_task(s, &wit_stage, &wit_task))?;
        Ok(convert::admission(admission.value, admission.output))
    }

    pub fn after_task(
        &self,
        host: Arc<dyn StageHost>,
        stage: &Stage,
        task: &TaskRef,
        outcome: &Outcome,
    ) -> Result<(Verdict, Option<Extension>), CallError> {
        let (wit_stage, wit_task, wit_outcome) =
            (convert::stage(stage), convert::task_ref(task), convert::outcome(outcome));
        let verdict = self.call(host, stage, |e, s| {
            e.troupe_executor_stage_executor().call_after_task(s, &wit_stage, &wit_task, &wit_outcome)
        })?;
        Ok((convert::verdict(verdict.value), None))
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
