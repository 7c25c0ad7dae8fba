//! The data of one plugin call's `Store`: who is calling, what serves its imports, its
//! memory limiter and, only for guests that import WASI, a locked-down WASI context.

use super::imports::Ledger;
use crate::manifest::Limits;
use crate::stage_host::{Scope, StageHost};
use std::sync::Arc;
use std::time::Duration;
use wasmtime::component::ResourceTable;
use wasmtime::ResourceLimiter;
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{HostMonotonicClock, HostWallClock, WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};

/// How much of a WASI guest's stderr is kept for error messages.
const STDERR_CAPTURE: usize = 16 * 1024;

pub(crate) struct HostState {
    pub host: Arc<dyn StageHost>,
    pub scope: Scope,
    pub limiter: MemoryLimiter,
    /// The last `panic: ...` message the guest SDK logged before trapping.
    pub panic_message: Option<String>,
    /// The plugin's limits, for the checks its imports make.
    pub limits: Limits,
    /// What this call has enqueued (see `imports::ledger`).
    pub ledger: Ledger,
    /// The first thing this call handed the host that the host refused (a limit, a bad
    /// index): the call fails with it even if the plugin ignored the error it was given.
    pub refused: Option<String>,
    wasi: Option<Wasi>,
}

struct Wasi {
    ctx: WasiCtx,
    table: ResourceTable,
    stderr: MemoryOutputPipe,
}

impl HostState {
    pub fn new(host: Arc<dyn StageHost>, scope: Scope, limits: &Limits, uses_wasi: bool) -> Self {
        HostState {
            host,
            scope,
            limiter: MemoryLimiter::new(limits.memory_mib),
            panic_message: None,
            limits: *limits,
            ledger: Ledger::new(),
            refused: None,
            wasi: uses_wasi.then(Wasi::locked_down),
        }
    }

    /// Note `why` as this call's refusal (the first one is kept) and return it.
    pub fn refuse(&mut self, why: String) -> String {
        self.refused.get_or_insert_with(|| why.clone());
        why
    }

    /// The tail of what a WASI guest wrote to stderr (a Python traceback, for example).
    pub fn stderr_tail(&self) -> Option<String> {
        let bytes = self.wasi.as_ref()?.stderr.contents();
        let text = String::from_utf8_lossy(&bytes).trim().to_string();
        (!text.is_empty()).then_some(text)
    }
}

impl Wasi {
    /// No arguments, environment, preopened directories, network or name lookup; stdin
    /// is empty, stdout discarded, stderr captured; both clocks are frozen at zero so a
    /// plugin cannot observe time except through the host's interfaces.
    fn locked_down() -> Self {
        let stderr = MemoryOutputPipe::new(STDERR_CAPTURE);
        let ctx = WasiCtxBuilder::new()
            .stderr(stderr.clone())
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false)
            .socket_addr_check(|_, _| Box::pin(async { false }))
            .wall_clock(FrozenClock)
            .monotonic_clock(FrozenClock)
            .build();
        Wasi { ctx, table: ResourceTable::new(), stderr }
    }
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        // Only components that import WASI can call here, and those get a context when
        // their store is made (`uses_wasi` is computed from the component's imports).
        let wasi = self.wasi.as_mut().expect("a WASI import was called by a component that declared none");
        WasiCtxView { ctx: &mut wasi.ctx, table: &mut wasi.table }
    }
}

struct FrozenClock;

impl HostWallClock for FrozenClock {
    fn resolution(&self) -> Duration {
        Duration::from_secs(1)
    }
    fn now(&self) -> Duration {
        Duration::ZERO
    }
}

impl HostMonotonicClock for FrozenClock {
    fn resolution(&self) -> u64 {
        1_000_000_000
    }
    fn now(&self) -> u64 {
        0
    }
}

/// Enforces a plugin's memory limit and remembers that it did, so the error can say
/// "memory limit" instead of a bare trap.
pub(crate) struct MemoryLimiter {
    limit_bytes: usize,
    /// The size a memory tried to grow to past the limit.
    pub exceeded: Option<usize>,
}

impl MemoryLimiter {
    fn new(limit_mib: u32) -> Self {
        MemoryLimiter { limit_bytes: limit_mib as usize * 1024 * 1024, exceeded: None }
    }

    pub fn limit_mib(&self) -> usize {
        self.limit_bytes / (1024 * 1024)
    }
}

impl ResourceLimiter for MemoryLimiter {
    fn memory_growing(&mut self, _current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        if desired > self.limit_bytes {
            self.exceeded = Some(desired);
            return Err(wasmtime::Error::msg(format!("memory limit of {} MiB exceeded", self.limit_mib())));
        }
        Ok(true)
    }

    fn table_growing(&mut self, _current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        Ok(desired <= 1_000_000)
    }
}
