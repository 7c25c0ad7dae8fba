//! The wasmtime engine every plugin runs on: pooling allocator (instantiation in
//! microseconds), epoch interruption (wall-clock deadlines without fuel's per-instruction
//! cost) and a linker per WIT version, each granting exactly that version's troupe
//! interfaces plus an empty WASI.

use super::store::HostState;
use super::version::WitVersion;
use anyhow::Context as _;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use wasmtime::component::Linker;
use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

/// One epoch tick: how often a running call looks at the clock for its deadline (see
/// `call.rs`), so how late past it a call can stop.
pub const EPOCH_TICK: Duration = Duration::from_millis(1);

/// How many plugin instances may be alive at once (one per in-flight plugin call).
const POOL_INSTANCES: u32 = 256;

/// Bytes at the bottom of each memory (and table) slot reset by memset instead of
/// madvise between calls. A plugin call dirties a handful of pages there (stack, data,
/// first heap pages); page faults and madvise, not wasm, dominate a call's cost otherwise.
/// Measured with `cargo xtask bench -- plugin_call`: 0 gives a 25.6 µs median call,
/// 256 KiB (with guests' 64 KiB stack, plugins/.cargo/config.toml) 13.5 µs.
const KEEP_RESIDENT: usize = 256 << 10;

/// Engine settings that are not plugin limits.
#[derive(Debug, Clone)]
pub struct EngineOptions {
    /// Largest memory limit any plugin has, in MiB; sizes the pool's memory slots.
    pub max_memory_mib: u32,
}

pub(crate) struct PluginEngine {
    pub engine: Engine,
    linker_v0_1: Linker<HostState>,
    linker_v0_2: Linker<HostState>,
    _ticker: EpochTicker,
}

impl PluginEngine {
    pub fn new(options: &EngineOptions) -> anyhow::Result<Self> {
        let mut pool = PoolingAllocationConfig::new();
        pool.total_component_instances(POOL_INSTANCES)
            .total_core_instances(POOL_INSTANCES * 8)
            .total_memories(POOL_INSTANCES)
            .total_tables(POOL_INSTANCES * 4)
            // componentize-py output links a dozen core modules (CPython, libc, adapters)
            // with large function tables; Rust guests need one of each.
            .max_core_instances_per_component(64)
            .max_memories_per_component(8)
            .max_tables_per_component(16)
            .table_elements(100_000)
            .max_memory_size(options.max_memory_mib as usize * 1024 * 1024)
            .linear_memory_keep_resident(KEEP_RESIDENT)
            .table_keep_resident(KEEP_RESIDENT);

        let mut config = Config::new();
        config
            .wasm_component_model(true)
            .epoch_interruption(true)
            .memory_reservation(options.max_memory_mib as u64 * 1024 * 1024)
            .memory_guard_size(0)
            .signals_based_traps(false)
            .allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
        let engine = Engine::new(&config).map_err(anyhow::Error::from).context("cannot configure the wasm engine")?;

        let linker_v0_1 = linker(&engine, WitVersion::V0_1, super::bindings::v0_1::add_to_linker)?;
        let linker_v0_2 = linker(&engine, WitVersion::V0_2, super::bindings::v0_2::add_to_linker)?;
        let ticker = EpochTicker::start(engine.clone());
        Ok(PluginEngine { engine, linker_v0_1, linker_v0_2, _ticker: ticker })
    }

    /// The linker for components of `version`: its troupe interfaces and WASI, nothing
    /// of another version.
    pub fn linker(&self, version: WitVersion) -> &Linker<HostState> {
        match version {
            WitVersion::V0_1 => &self.linker_v0_1,
            WitVersion::V0_2 => &self.linker_v0_2,
        }
    }
}

fn linker(
    engine: &Engine,
    version: WitVersion,
    troupe: fn(&mut Linker<HostState>) -> wasmtime::Result<()>,
) -> anyhow::Result<Linker<HostState>> {
    let mut linker = Linker::new(engine);
    troupe(&mut linker)
        .map_err(anyhow::Error::from)
        .with_context(|| format!("cannot link the troupe:executor@{} interfaces", version.minor()))?;
    wasmtime_wasi::p2::add_to_linker_sync(&mut linker).map_err(anyhow::Error::from).context("cannot link WASI")?;
    // Linked for every component; what a request may reach is the plugin's grants
    // (`plugin::http`), none unless the manifest gives some.
    wasmtime_wasi_http::p2::add_only_http_to_linker_sync(&mut linker)
        .map_err(anyhow::Error::from)
        .context("cannot link wasi:http")?;
    Ok(linker)
}

/// Advances the engine's epoch every [`EPOCH_TICK`] on its own thread; stops on drop.
struct EpochTicker {
    stop: Arc<AtomicBool>,
}

impl EpochTicker {
    fn start(engine: Engine) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        std::thread::Builder::new()
            .name("troupe-epoch".into())
            .spawn(move || {
                while !flag.load(Ordering::Relaxed) {
                    std::thread::sleep(EPOCH_TICK);
                    engine.increment_epoch();
                }
            })
            .expect("cannot start the epoch thread");
        EpochTicker { stop }
    }
}

impl Drop for EpochTicker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}
