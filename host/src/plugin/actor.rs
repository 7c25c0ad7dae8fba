//! [`ActorPlugin`]: a loaded actor component (JSON in, JSON or an error out).

use super::bindings::{v0_1, v0_2};
use super::call::PluginCore;
use super::error::{printed, CallError, Failure};
use super::store::{Export, HostState};
use super::PluginInfo;
use crate::payload::Payload;
use crate::stage_host::{Role, Scope, StageHost};
use crate::text;
use std::sync::Arc;

/// A pre-linked actor of the WIT version it targets.
pub(crate) enum ActorPre {
    V0_1(v0_1::ActorComponentPre<HostState>),
    V0_2(v0_2::ActorComponentPre<HostState>),
}

pub struct ActorPlugin {
    pub(crate) core: PluginCore,
    pub(crate) pre: ActorPre,
    pub(crate) info: PluginInfo,
}

impl ActorPlugin {
    pub fn info(&self) -> &PluginInfo {
        &self.info
    }

    /// Run one task. `Ok(Err(message))` is the actor's own failure; `Err` is the
    /// sandbox stopping it (trap, deadline, memory) or malformed output.
    pub fn invoke(
        &self,
        host: Arc<dyn StageHost>,
        run_id: &str,
        stage: &str,
        input: &Payload,
    ) -> Result<Result<Payload, String>, CallError> {
        let scope =
            Scope { role: Role::Actor, name: self.core.entry.name.clone(), run_id: run_id.into(), stage: stage.into() };
        let input = input.as_str().to_string();
        let called = self.core.call(host, scope, Export::Invoke, |store| match &self.pre {
            ActorPre::V0_1(pre) => pre.instantiate(&mut *store)?.troupe_executor_actor().call_invoke(store, &input),
            ActorPre::V0_2(pre) => pre.instantiate(&mut *store)?.troupe_executor_actor().call_invoke(store, &input),
        })?;
        match called.value {
            Ok(text) if text.len() as u64 > self.core.limits.result_bytes => Err(CallError {
                output: called.output.clone(),
                ..self.core.error(Failure::Refused(format!(
                    "returned a result of {} bytes, over its limit result-bytes = {}",
                    text.len(),
                    self.core.limits.result_bytes
                )))
            }),
            Ok(text) => Payload::parse(text).map(Ok).map_err(|e| {
                self.core.error(Failure::Malformed(format!("invoke returned a result that is not JSON: {e}")))
            }),
            Err(message) => {
                let mut message = text::one_line(&message, text::LINE_BUDGET);
                if let Some(refused) = called.http_refused.as_deref().filter(|r| !message.contains(*r)) {
                    message = format!("{message} (troupe refused an HTTP request: {})", text::one_line(refused, 400));
                }
                Ok(Err(format!("{message}{}", printed(&called.output))))
            }
        }
    }
}
