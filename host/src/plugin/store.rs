//! The data of one plugin call's `Store`: who is calling, what serves its imports, its
//! memory limiter and, only for guests that import WASI, a locked-down WASI context.

use super::http::HttpGate;
use super::imports::Ledger;
use super::log_budget::LogBudget;
use super::output::Captured;
use crate::api::{Extension, HostError};
use crate::manifest::{HttpGrant, Limits};
use crate::stage_host::{Scope, StageHost};
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};
use wasmtime::component::ResourceTable;
use wasmtime::ResourceLimiter;
use wasmtime_wasi::{HostMonotonicClock, HostWallClock, WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

/// Which export a call is running: what decides the queue calls a guest may make
/// (`enqueue` in `execute` only, `extend` in `after-task` only).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Export {
    Name,
    Validate,
    Plan,
    Execute,
    BeforeTask,
    AfterTask,
    Invoke,
}

impl fmt::Display for Export {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Export::Name => "name",
            Export::Validate => "validate",
            Export::Plan => "plan",
            Export::Execute => "execute",
            Export::BeforeTask => "before-task",
            Export::AfterTask => "after-task",
            Export::Invoke => "invoke",
        })
    }
}

pub(crate) struct HostState {
    pub host: Arc<dyn StageHost>,
    pub scope: Scope,
    /// The export being called.
    pub export: Export,
    pub limiter: MemoryLimiter,
    /// The last `panic: ...` message the guest SDK logged before trapping.
    pub panic_message: Option<String>,
    /// When this call must end: its start plus the plugin's `timeout-ms`.
    pub deadline: Instant,
    /// The call's `log-lines` and `log-bytes` allowance.
    pub log: LogBudget,
    /// The plugin's limits, for the checks its imports make.
    pub limits: Limits,
    /// What this call has enqueued (see `imports::ledger`).
    pub ledger: Ledger,
    /// The first thing this call handed the host that the host refused (a limit, a bad
    /// index): the call fails with it even if the plugin ignored the error it was given.
    pub refused: Option<HostError>,
    /// What this `after-task` call asked to add to its stage (`queue.extend`), checked.
    pub extension: Option<Extension>,
    /// Tasks `queue.extend` handed over past the extension's cap, checked but not kept.
    pub left_out: usize,
    /// The only actors this executor may enqueue for (its manifest entry's `actors`).
    pub may_enqueue: Option<Arc<[String]>>,
    wasi: Option<Wasi>,
}

struct Wasi {
    ctx: WasiCtx,
    table: ResourceTable,
    output: Captured,
    http: WasiHttpCtx,
    gate: HttpGate,
}

impl HostState {
    /// `http`: the plugin's `allow-http` grants (empty: no outgoing HTTP), used only by a
    /// guest that imports WASI.
    pub fn new(
        host: Arc<dyn StageHost>,
        scope: Scope,
        export: Export,
        limits: &Limits,
        uses_wasi: bool,
        http: &Arc<[HttpGrant]>,
    ) -> Self {
        let deadline = Instant::now() + Duration::from_millis(limits.timeout_ms);
        let who = format!("{} `{}`", scope.role.as_str(), scope.name);
        let wasi = uses_wasi
            .then(|| Wasi::locked_down(limits.output_bytes, HttpGate::new(who, http.clone(), limits, deadline)));
        HostState {
            host,
            scope,
            export,
            limiter: MemoryLimiter::new(limits.memory_mib),
            panic_message: None,
            deadline,
            log: LogBudget::new(limits),
            limits: *limits,
            ledger: Ledger::new(),
            refused: None,
            extension: None,
            left_out: 0,
            may_enqueue: None,
            wasi,
        }
    }

    /// Note `why` as this call's refusal (the first one is kept) and return it.
    pub fn refuse(&mut self, why: HostError) -> HostError {
        self.refused.get_or_insert_with(|| why.clone());
        why
    }

    /// After a refusal, every further enqueue, extend or state write of the call fails
    /// at once, with the refusal's kind: a plugin that ignores one costs the host nothing
    /// more. `what` names the kind of call (`enqueue`, `state write`).
    pub fn earlier_refusal(&self, what: &str) -> Result<(), HostError> {
        match &self.refused {
            None => Ok(()),
            Some(refused) => Err(super::imports::same_kind(
                refused,
                format!("an earlier {what} of this call was refused: {refused}"),
            )),
        }
    }

    /// Whether this call is past its deadline. Host imports that may run long (a large
    /// batch of tasks, many Redis round trips) check it as they go and give up once it
    /// is; the call then ends with the deadline's error at its next check in wasm.
    pub fn deadline_passed(&self) -> bool {
        Instant::now() >= self.deadline
    }

    /// What a WASI guest wrote to stdout and stderr (a Python traceback, for example),
    /// bounded by `output-bytes`, not yet escaped.
    pub fn output(&self) -> Option<String> {
        self.wasi.as_ref()?.output.text()
    }

    /// The first outgoing HTTP request this call was refused, if any.
    pub fn http_refusal(&self) -> Option<String> {
        self.wasi.as_ref()?.gate.refusal()
    }
}

impl Wasi {
    /// No arguments, environment, preopened directories, network or name lookup; stdin
    /// is empty; stdout and stderr are captured together (see [`Captured`]); both clocks
    /// are frozen at zero so a plugin cannot observe time except through the host's
    /// interfaces.
    fn locked_down(output_bytes: u64, gate: HttpGate) -> Self {
        let output = Captured::new(output_bytes);
        let ctx = WasiCtxBuilder::new()
            .stdout(output.clone())
            .stderr(output.clone())
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false)
            .socket_addr_check(|_, _| Box::pin(async { false }))
            .wall_clock(FrozenClock)
            .monotonic_clock(FrozenClock)
            .build();
        Wasi { ctx, table: ResourceTable::new(), output, http: WasiHttpCtx::new(), gate }
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

impl WasiHttpView for HostState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        let wasi = self.wasi.as_mut().expect("a wasi:http import was called by a component that declared no WASI");
        WasiHttpCtxView { ctx: &mut wasi.http, table: &mut wasi.table, hooks: &mut wasi.gate }
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
