//! One plugin call: a fresh store with the plugin's limits, the thread it runs on, and
//! the classification of whatever went wrong into a [`Failure`] that says why in words a
//! user can act on.

use super::engine::PluginEngine;
use super::error::{CallError, EntryRef, Failure};
use super::store::{Export, HostState};
use crate::api::LogLevel;
use crate::manifest::{HttpGrant, Limits};
use crate::stage_host::{Scope, StageHost};
use crate::text;
use std::sync::Arc;
use wasmtime::{CallHook, Store, StoreContextMut, Trap, UpdateDeadline};

/// What every loaded plugin shares: where it came from, its limits, its engine.
pub(crate) struct PluginCore {
    pub entry: EntryRef,
    pub limits: Limits,
    /// Its `allow-http` grants (actors only; empty: no outgoing HTTP).
    pub http: Arc<[HttpGrant]>,
    /// The only actors it may enqueue for (executors' `actors = [...]`); None: any.
    pub may_enqueue: Option<Arc<[String]>>,
    pub uses_wasi: bool,
    pub engine: Arc<PluginEngine>,
}

/// A guest's output for a terminal: each line escaped (`text::one_line`) and, from the
/// second on, marked `  | ` (see [`super::error::printed`]), so no printed line can pass
/// for one of the host's own, however it is indented. Already bounded by `output-bytes`.
fn shown(output: &str) -> String {
    output.lines().map(|line| text::one_line(line, usize::MAX)).collect::<Vec<_>>().join("\n  | ")
}

/// What a call returned, with what its guest printed (escaped for a terminal).
pub(crate) struct Called<R> {
    pub value: R,
    pub output: Option<String>,
    /// The first outgoing HTTP request the call was refused (`plugin::http`), for the
    /// actor's error when the guest did not pass the refusal on.
    pub http_refused: Option<String>,
}

impl PluginCore {
    /// Make a store with the plugin's limits, run `f` (instantiate and call) in it, and
    /// classify a failure. Every plugin call goes through here.
    ///
    /// Where it runs: wasmtime-wasi's synchronous WASI bindings (a Python guest's
    /// `print`, a traceback) `block_on` the current tokio runtime, which panics on a
    /// thread that is already inside one ("Cannot start a runtime from within a
    /// runtime"): a worker thread of `troupe run` or `troupe worker`, any caller in
    /// async code. So a guest that imports WASI is called on a thread of its own when
    /// the caller is inside a runtime; there no runtime is entered and the bindings use
    /// wasmtime-wasi's own. Guests without WASI imports (every Rust guest) never reach
    /// those bindings and run inline, where a call costs microseconds; a WASI guest's
    /// call costs milliseconds, against which a thread start is noise.
    pub fn call<R: Send>(
        &self,
        host: Arc<dyn StageHost>,
        scope: Scope,
        export: Export,
        f: impl FnOnce(&mut Store<HostState>) -> wasmtime::Result<R> + Send,
    ) -> Result<Called<R>, CallError> {
        if self.uses_wasi && tokio::runtime::Handle::try_current().is_ok() {
            std::thread::scope(|s| {
                std::thread::Builder::new()
                    .name("troupe-wasi-call".into())
                    .spawn_scoped(s, || self.call_here(host, scope, export, f))
                    .expect("cannot start a thread for a WASI guest's call")
                    .join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            })
        } else {
            self.call_here(host, scope, export, f)
        }
    }

    /// [`PluginCore::call_inner`] in a `plugin_call` span, timed and counted (metrics).
    fn call_here<R>(
        &self,
        host: Arc<dyn StageHost>,
        scope: Scope,
        export: Export,
        f: impl FnOnce(&mut Store<HostState>) -> wasmtime::Result<R>,
    ) -> Result<Called<R>, CallError> {
        let (role, function) = (self.entry.role.as_str(), export.to_string());
        let span = tracing::debug_span!("plugin_call", role, name = %self.entry.name, function = %function);
        let _inside = span.enter();
        let started = std::time::Instant::now();
        let result = self.call_inner(host, scope, export, f);
        let fault = result.as_ref().err().map(|e| e.failure.kind());
        crate::telemetry::metrics::plugin_call(
            role,
            &self.entry.name,
            &function,
            started.elapsed().as_secs_f64(),
            fault,
        );
        if let Err(e) = &result {
            tracing::warn!(fault = fault.unwrap_or_default(), error = %e.failure, "plugin call failed");
        }
        result
    }

    fn call_inner<R>(
        &self,
        host: Arc<dyn StageHost>,
        scope: Scope,
        export: Export,
        f: impl FnOnce(&mut Store<HostState>) -> wasmtime::Result<R>,
    ) -> Result<Called<R>, CallError> {
        let mut store = self.store(host, scope, export);
        let result = f(&mut store);
        let state = store.data();
        if let Some(notice) = state.log.notice() {
            state.host.log(&state.scope, LogLevel::Warn, &notice);
        }
        let output = state.output().map(|o| shown(&o));
        let http_refused = state.http_refusal();
        // A refusal (a limit, a bad index) fails the call whatever the plugin did next:
        // returned normally having ignored the error it was given, or trapped.
        if let Some(why) = store.data_mut().refused.take() {
            return Err(CallError { output, ..self.error(Failure::Refused(why.message().to_string())) });
        }
        match result {
            Ok(value) => Ok(Called { value, output, http_refused }),
            Err(err) => Err(self.classify(&store, err, output)),
        }
    }

    /// A store for one call: memory limit and deadline armed.
    ///
    /// The deadline is a clock reading ([`HostState::deadline`]), checked each epoch
    /// tick and whenever the guest calls into the host. Counting ticks instead drifted
    /// under load (a 10 s limit fired at 16.4 s: a sleeping ticker thread is late, and
    /// late ticks add up); a clock is never late by more than one tick.
    fn store(&self, host: Arc<dyn StageHost>, scope: Scope, export: Export) -> Store<HostState> {
        let mut state = HostState::new(host, scope, export, &self.limits, self.uses_wasi, &self.http);
        state.may_enqueue = self.may_enqueue.clone();
        let mut store = Store::new(&self.engine.engine, state);
        store.limiter(|s| &mut s.limiter);
        store.set_epoch_deadline(1);
        store.epoch_deadline_callback(|ctx: StoreContextMut<'_, HostState>| {
            if ctx.data().deadline_passed() {
                return Err(Trap::Interrupt.into());
            }
            Ok(UpdateDeadline::Continue(1))
        });
        // Time inside host calls counts: a guest that keeps calling the host past its
        // deadline is stopped at the next call, whatever wasm runs in between.
        store.call_hook(|ctx, hook| {
            if matches!(hook, CallHook::CallingHost) && ctx.data().deadline_passed() {
                return Err(Trap::Interrupt.into());
            }
            Ok(())
        });
        store
    }

    pub fn error(&self, failure: Failure) -> CallError {
        CallError {
            file: self.entry.file.display().to_string(),
            role: self.entry.role,
            name: self.entry.name.clone(),
            failure,
            output: None,
        }
    }

    /// Turn a wasmtime error from instantiating or calling into a [`CallError`].
    fn classify(&self, store: &Store<HostState>, err: wasmtime::Error, output: Option<String>) -> CallError {
        let state = store.data();
        let failure = if let Some(requested) = state.limiter.exceeded {
            Failure::Memory { limit_mib: state.limiter.limit_mib(), requested_mib: requested.div_ceil(1024 * 1024) }
        } else if let Some(trap) = err.downcast_ref::<Trap>() {
            if *trap == Trap::Interrupt {
                Failure::Deadline { timeout_ms: self.limits.timeout_ms }
            } else {
                Failure::Trap(match &state.panic_message {
                    Some(panic) => format!("{panic} ({trap})"),
                    None => trap.to_string(),
                })
            }
        } else {
            Failure::Malformed(text::one_line(&format!("{err:#}"), text::LINE_BUDGET))
        };
        CallError { output, ..self.error(failure) }
    }
}
