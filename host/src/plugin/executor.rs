//! [`ExecutorPlugin`]: a loaded stage executor. Every call instantiates the component
//! afresh from its `InstancePre` (microseconds with the pooling allocator), so no state
//! leaks between calls, runs or stages.

use super::bindings::{v0_1, v0_2};
use super::call::{Called, PluginCore};
use super::convert::{admission_printed, executor_error_printed};
use super::error::{CallError, Failure};
use super::store::{Export, HostState};
use super::PluginInfo;
use crate::api::*;
use crate::stage_host::{Role, Scope, StageHost};
use crate::text;
use serde_json::Value;
use std::sync::Arc;
use wasmtime::Store;

/// A pre-linked executor of the WIT version it targets.
pub(crate) enum ExecutorPre {
    V0_1(v0_1::ExecutorPre<HostState>),
    V0_2(v0_2::ExecutorPre<HostState>),
}

pub struct ExecutorPlugin {
    pub(crate) core: PluginCore,
    pub(crate) pre: ExecutorPre,
    pub(crate) default_config: Value,
    pub(crate) info: PluginInfo,
}

/// Run `$body` with `$instance` (a fresh instance of the plugin, of its version) and
/// `$convert` (that version's conversions) in scope: one body, compiled once per
/// version, since the generated bindings of both name their calls alike.
macro_rules! per_version {
    ($plugin:expr, $host:expr, $stage:expr, $export:expr, |$instance:ident, $store:ident, $convert:ident| $body:expr) => {
        match &$plugin.pre {
            ExecutorPre::V0_1(pre) => {
                #[allow(unused_imports)]
                use super::convert::v0_1 as $convert;
                $plugin.call($host, $stage, $export, |$store| {
                    let $instance = pre.instantiate(&mut *$store)?;
                    $body
                })
            }
            ExecutorPre::V0_2(pre) => {
                #[allow(unused_imports)]
                use super::convert::v0_2 as $convert;
                $plugin.call($host, $stage, $export, |$store| {
                    let $instance = pre.instantiate(&mut *$store)?;
                    $body
                })
            }
        }
    };
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
        export: Export,
        f: impl FnOnce(&mut Store<HostState>) -> wasmtime::Result<R> + Send,
    ) -> Result<Called<R>, CallError> {
        let scope = Scope {
            role: Role::Executor,
            name: self.core.entry.name.clone(),
            run_id: stage.run_id.clone(),
            stage: stage.name.clone(),
        };
        self.core.call(host, scope, export, f)
    }

    /// The name the component reports for itself.
    pub fn reported_name(&self, host: Arc<dyn StageHost>) -> Result<String, CallError> {
        let stage = Stage { run_id: String::new(), name: String::new(), definition: Value::Null, config: Value::Null };
        let name = per_version!(self, host, &stage, Export::Name, |e, s, _c| {
            e.troupe_executor_stage_executor().call_name(s)
        })?;
        Ok(text::one_line(&name.value, text::LINE_BUDGET))
    }

    /// Every problem the executor finds in the stage definition.
    pub fn validate(&self, host: Arc<dyn StageHost>, stage: &Stage) -> Result<Vec<Problem>, CallError> {
        per_version!(self, host, stage, Export::Validate, |e, s, convert| {
            let problems = e.troupe_executor_stage_executor().call_validate(s, &convert::stage(stage))?;
            Ok(problems.into_iter().map(convert::problem).collect())
        })
        .map(|called| called.value)
    }

    pub fn plan(&self, host: Arc<dyn StageHost>, stage: &Stage) -> Result<Result<StagePlan, ExecutorError>, CallError> {
        let plan = per_version!(self, host, stage, Export::Plan, |e, s, convert| {
            let plan = e.troupe_executor_stage_executor().call_plan(s, &convert::stage(stage))?;
            Ok(plan.map(convert::plan).map_err(convert::executor_error))
        })?;
        Ok(plan.value.map_err(|e| executor_error_printed(e, &plan.output)))
    }

    /// Start the stage: the plugin enqueues its tasks through `host`.
    pub fn execute(
        &self,
        host: Arc<dyn StageHost>,
        stage: &Stage,
    ) -> Result<Result<Execution, ExecutorError>, CallError> {
        let limits = self.core.limits;
        let result = per_version!(self, host, stage, Export::Execute, |e, s, convert| {
            let returned = e.troupe_executor_stage_executor().call_execute(&mut *s, &convert::stage(stage))?;
            // Checked here, while the call's store (what it enqueued) is at hand.
            Ok(match returned {
                Ok(execution) => Ok((|| {
                    if let Some(metadata) = execution.metadata.as_ref().filter(|m| m.len() as u64 > limits.result_bytes)
                    {
                        return Err(Failure::Refused(format!(
                            "returned metadata of {} bytes, over its limit result-bytes = {}",
                            metadata.len(),
                            limits.result_bytes
                        )));
                    }
                    let execution = convert::execution(execution)?;
                    s.data().ledger.settle(&execution, &limits).map_err(Failure::Refused)?;
                    Ok(execution)
                })()),
                Err(e) => Err(convert::executor_error(e)),
            })
        })?;
        match result.value {
            Ok(Ok(execution)) => Ok(Ok(execution)),
            Ok(Err(failure)) => Err(CallError { output: result.output, ..self.core.error(failure) }),
            Err(e) => Ok(Err(executor_error_printed(e, &result.output))),
        }
    }

    pub fn before_task(&self, host: Arc<dyn StageHost>, stage: &Stage, task: &TaskRef) -> Result<Admission, CallError> {
        let admission = per_version!(self, host, stage, Export::BeforeTask, |e, s, convert| {
            let admission = e.troupe_executor_stage_executor().call_before_task(
                s,
                &convert::stage(stage),
                &convert::task_ref(task),
            )?;
            Ok(convert::admission(admission))
        })?;
        Ok(admission_printed(admission.value, &admission.output))
    }

    /// Review a task's outcome. With accept, the tasks the hook added through
    /// `queue.extend` (0.2) come with the verdict, checked, for the engine to apply
    /// with the outcome; with retry they are returned too and the engine drops them.
    pub fn after_task(
        &self,
        host: Arc<dyn StageHost>,
        stage: &Stage,
        task: &TaskRef,
        outcome: &Outcome,
    ) -> Result<(Verdict, Option<Extension>), CallError> {
        let log_host = host.clone();
        let reviewed = per_version!(self, host, stage, Export::AfterTask, |e, s, convert| {
            let verdict = e.troupe_executor_stage_executor().call_after_task(
                &mut *s,
                &convert::stage(stage),
                &convert::task_ref(task),
                &convert::outcome(outcome),
            )?;
            let data = s.data_mut();
            Ok((convert::verdict(verdict), data.extension.take(), std::mem::take(&mut data.left_out)))
        })?;
        let (verdict, extension, left_out) = reviewed.value;
        if let Some(extension) = extension.as_ref().filter(|_| left_out > 0) {
            let scope = Scope {
                role: Role::Executor,
                name: self.core.entry.name.clone(),
                run_id: stage.run_id.clone(),
                stage: stage.name.clone(),
            };
            log_host.log(&scope, LogLevel::Warn, &crate::engine::left_out(left_out, extension.cap));
        }
        Ok((verdict, extension))
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
