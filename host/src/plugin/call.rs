//! One plugin call: a fresh store with the plugin's limits, and the classification of
//! whatever went wrong into a [`Failure`] that says why in words a user can act on.

use super::engine::{PluginEngine, EPOCH_TICK};
use super::error::{CallError, EntryRef, Failure};
use super::store::HostState;
use crate::manifest::Limits;
use crate::stage_host::{Scope, StageHost};
use std::sync::Arc;
use wasmtime::{Store, Trap};

/// What every loaded plugin shares: where it came from, its limits, its engine.
pub(crate) struct PluginCore {
    pub entry: EntryRef,
    pub limits: Limits,
    pub uses_wasi: bool,
    pub engine: Arc<PluginEngine>,
}

impl PluginCore {
    /// A store for one call: memory limit and wall-clock deadline armed.
    pub fn store(&self, host: Arc<dyn StageHost>, scope: Scope) -> Store<HostState> {
        let state = HostState::new(host, scope, &self.limits, self.uses_wasi);
        let mut store = Store::new(&self.engine.engine, state);
        store.limiter(|s| &mut s.limiter);
        let ticks = self.limits.timeout_ms.div_ceil(EPOCH_TICK.as_millis() as u64);
        store.set_epoch_deadline(ticks);
        store
    }

    pub fn error(&self, failure: Failure) -> CallError {
        CallError {
            file: self.entry.file.display().to_string(),
            role: self.entry.role,
            name: self.entry.name.clone(),
            failure,
        }
    }

    /// The call's refusal, if the host refused something the plugin handed it: the call
    /// fails with it whatever the plugin returned.
    pub fn check_refused(&self, store: &mut Store<HostState>) -> Result<(), CallError> {
        match store.data_mut().refused.take() {
            Some(why) => Err(self.error(Failure::Refused(why))),
            None => Ok(()),
        }
    }

    /// Turn a wasmtime error from instantiating or calling into a [`CallError`].
    pub fn classify(&self, store: &Store<HostState>, err: wasmtime::Error) -> CallError {
        let state = store.data();
        let failure = if let Some(requested) = state.limiter.exceeded {
            Failure::Memory { limit_mib: state.limiter.limit_mib(), requested_mib: requested.div_ceil(1024 * 1024) }
        } else if let Some(trap) = err.downcast_ref::<Trap>() {
            if *trap == Trap::Interrupt {
                Failure::Deadline { timeout_ms: self.limits.timeout_ms }
            } else {
                let mut why = match &state.panic_message {
                    Some(panic) => format!("{} ({trap})", panic.replace('\n', " ")),
                    None => trap.to_string(),
                };
                if let Some(stderr) = state.stderr_tail() {
                    why.push_str(&format!("; stderr: {stderr}"));
                }
                Failure::Trap(why)
            }
        } else {
            Failure::Malformed(format!("{err:#}"))
        };
        self.error(failure)
    }
}
