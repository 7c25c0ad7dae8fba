//! Shared helpers for troupe's end-to-end tests and benchmarks: where the components
//! built by `cargo xtask build` are, a loader on a shared compile cache, and golden-file
//! comparison.
//!
//! # Layout
//! - `src/lib.rs` (this file): paths, loaders, goldens, the engine choice of the
//!   behavioural suites ([`run_pipeline`], `TROUPE_TEST_ENGINE`).
//! - `src/own_redis.rs`: a redis-server of a test's own, to restart ([`OwnRedis`]).
//! - `src/own_cluster.rs`: a three-master Redis Cluster of a test's own.
//! - `src/python_venv.rs`: the Python worker package in a venv ([`python_worker_venv`]).
//! - `suite/`: the one test binary (`cargo test -p troupe-tests --test suite`), one module
//!   per suite; test names start with the module (`pipelines::...`). `main.rs` lists them.
//!   - `manifest_ui.rs`: golden files for bad manifests (`ui/manifest/*.toml` + `.err`).
//!   - `sandbox.rs`: plugins that loop, allocate, trap, panic, snoop; the host survives.
//!   - `loading.rs`: components and core modules, the cache, pins, the CLI listing.
//!   - `compat.rs`: WIT compatibility: the frozen 0.1 components of
//!     `tests/fixtures/wit-0.1/` in a pipeline on both engines, 0.1 and 0.2 executors
//!     built here from WAT (the boundary's rules for each), other versions refused.
//!   - `validate_ui.rs`: golden files for bad pipelines (`ui/pipeline/*` + `.err`),
//!     through the `troupe validate` command.
//!   - `pipelines.rs`: the seed's stage examples end to end (both engines).
//!   - `harness.rs` (+ `harness/`): each built-in executor alone in the plugin harness;
//!     scripted outcomes on the virtual clock, `troupe test` and its golden files
//!     (`ui/test/`).
//!   - `custom_executors.rs`: rate-limited, retry, circuit-breaker (both engines).
//!   - `python_guests.rs`: the Python guests on WIT 0.2: `chunk`'s host-error handling,
//!     the `py-canary` fixture growing its stage (both engines).
//!   - `js_guests.rs`: the JavaScript guests (`dedupe`, `Render`): called directly, then
//!     together in a pipeline through the `troupe` binary.
//!   - `examples.rs`: `examples/` end to end (both engines).
//!   - `distributed.rs`: real processes against a real Redis (kills, restarts, resume).
//!   - `cluster.rs`: a real three-master Redis Cluster: run keys in one slot, runs spread
//!     over the masters, the function library on every master (the engine on a cluster
//!     is issue 17's deliverable 5, not built yet).
//!   - `protocol_doc/`: docs/redis-protocol.md's worked session replayed against a real
//!     run; malformed worker calls refused before any write.
//!   - `document_workers.rs` (+ `document_workers/`): the document example's actors in
//!     Python and TypeScript against Redis, same output as wasm, webhooks to a receiver.
//!   - `worker_conformance/`: the worker protocol conformance suite: the same cases
//!     (duplicate delivery, SIGKILL, SIGTERM drain, heartbeats, Redis restart, failing
//!     actor, poison input, protocol check) against `troupe worker`, the Python package
//!     and the Node package, with real processes.
//!   - `retention.rs`: an ended run's Redis keys expire.
//!   - `wdl_ui.rs`, `wdl_validate.rs`: the WDL-style language's golden files
//!     (`ui/wdl/*.wdl` + `.stderr`, `ui/wdl-validate/*.wdl` + `.stdout`); `wdl_compile.rs`,
//!     `wdl_docs.rs`: what programs compile to (the seed's, the examples', the
//!     reference's); `wdl_examples.rs`: `.wdl` examples run like their JSON (both
//!     engines); `wdl_fuzz.rs`: proptest over the parser.
//!   - `hostile/`: plugins, files, inputs and Redis contents that try to hurt the host, a
//!     module per kind of attack (both engines).
//!   - `conformance/`: the engine conformance suite: the role traits (`RunStore`,
//!     `TaskQueue`, `HookQueue`, `StageHost`) driven directly, no wasm, every case on the
//!     embedded engine and on Redis (a fresh engine and key prefix per case); `mod.rs`
//!     holds the case table and prints each engine's run time, `subject.rs` the engines
//!     and a run to drive, one module per rule (`slots`, `rates`, `results`, `hooks`,
//!     `barrier`, `runs`).
//! - `benches/` (`cargo xtask bench`, not built by `cargo test`): `plugin_call.rs`, the
//!   cost of a plugin call and of a load; `pipeline.rs`, embedded-engine throughput;
//!   `stages.rs`, stage-count scaling; `redis.rs`, Redis-engine throughput;
//!   `dsl_compile.rs`, compiling 10,000 stages.
//!
//! "Both engines": `cargo xtask test` runs these modules a second time with
//! `TROUPE_TEST_ENGINE=redis`.

pub mod own_cluster;
mod own_redis;
mod python_venv;

pub use own_redis::OwnRedis;
pub use python_venv::{python_worker_venv, run_in_repo};

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use troupe::engine::{EmbeddedEngine, RedisEngine, RedisOptions, RunStore};
use troupe::manifest::Limits;
use troupe::orchestrator::{Orchestrator, RunError, RunReport, Silent};
use troupe::pipeline::Pipeline;
use troupe::plugin::{CompileCache, EngineOptions, ExecutorPlugin, Loader, PluginSpec};
use troupe::plugin::{LoadOptions, Plugins};
use troupe::{LogLevel, Manifest, RecordingHost, StageHost};

/// The repository root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("tests/ is inside the repository").to_path_buf()
}

fn built(relative: &str) -> PathBuf {
    let path = root().join("target/plugins").join(relative);
    assert!(path.is_file(), "{} is missing: run `cargo xtask build` (or `cargo xtask test`) first", path.display());
    path
}

/// A component built from `plugins/executors/<name>`, `plugins/python/<name>` or
/// `plugins/js/<name>`.
pub fn plugin(name: &str) -> PathBuf {
    built(&format!("{name}.wasm"))
}

/// A test fixture built from `plugins/fixtures/<name>` or `plugins/python/fixtures/<name>`.
pub fn fixture(name: &str) -> PathBuf {
    built(&format!("fixtures/{name}.wasm"))
}

/// The core module cargo produced for a Rust guest, before componentizing.
pub fn core_module(lib: &str) -> PathBuf {
    let path = root().join("plugins/target/wasm32-unknown-unknown/release").join(format!("{lib}.wasm"));
    assert!(path.is_file(), "{} is missing: run `cargo xtask build` first", path.display());
    path
}

/// A compile cache shared by every test run, so a Python component compiles once per
/// machine rather than once per test (entries are keyed by content and engine).
pub fn shared_cache() -> CompileCache {
    CompileCache::new(root().join("target/test-cache"))
}

/// A loader whose engine admits up to 512 MiB per plugin, on the shared cache.
pub fn loader() -> Loader {
    Loader::new(&EngineOptions { max_memory_mib: 512 }, Some(shared_cache())).expect("the engine starts")
}

/// Load an executor from a file with the given limits and no default config.
pub fn executor(loader: &Loader, mode: &str, file: &Path, limits: Limits) -> ExecutorPlugin {
    loader
        .load_executor(&PluginSpec::file(mode, file).with_limits(limits), Value::Object(Default::default()))
        .unwrap_or_else(|e| panic!("{e}"))
}

/// An in-memory host with `context`, as the `Arc<dyn StageHost>` plugin calls take.
pub fn recorder(context: Value) -> (Arc<RecordingHost>, Arc<dyn StageHost>) {
    let host = Arc::new(RecordingHost::new(context));
    let dynamic: Arc<dyn StageHost> = host.clone();
    (host, dynamic)
}

/// Compare `actual` with the golden file at `path`; with `BLESS=1`, write it instead.
pub fn assert_golden(path: &Path, actual: &str) {
    if std::env::var_os("BLESS").is_some() {
        std::fs::write(path, actual).expect("write golden file");
        return;
    }
    let expected = std::fs::read_to_string(path)
        .unwrap_or_else(|_| panic!("{} is missing; run with BLESS=1 to create it", path.display()));
    assert_eq!(expected, actual, "\n{} differs (run with BLESS=1 to accept the new output)", path.display());
}

/// Every plugin of the repository's `troupe.toml`, on the shared cache.
pub fn default_plugins() -> (Arc<Plugins>, Manifest) {
    let manifest = Manifest::load(&root().join("troupe.toml")).expect("troupe.toml loads");
    let options = LoadOptions {
        cache: Some(shared_cache()),
        builtins: troupe::actors::BUILTINS.iter().map(|b| b.to_string()).collect(),
    };
    let plugins = Plugins::load(&manifest, &options).unwrap_or_else(|e| panic!("{e}"));
    (Arc::new(plugins), manifest)
}

/// The plugins of a manifest given as text, read as if it were `troupe.toml` at the
/// repository root (so `plugins-dir = "target/plugins"` finds the built components).
pub fn plugins_from(manifest: &str) -> (Arc<Plugins>, Manifest) {
    let manifest = Manifest::parse(&root().join("test.toml"), manifest).unwrap_or_else(|e| panic!("{e}"));
    let options = LoadOptions { cache: Some(shared_cache()), builtins: vec![] };
    let plugins = Plugins::load(&manifest, &options).unwrap_or_else(|e| panic!("{e}"));
    (Arc::new(plugins), manifest)
}

/// Which engine the behavioural suites run on: the embedded one, or Redis when
/// `TROUPE_TEST_ENGINE=redis` (at `TROUPE_TEST_REDIS`, default `redis://127.0.0.1:6379`,
/// under a key prefix of the test's own). `cargo xtask test` runs them on both. Tests read
/// what a run recorded through the engine's [`RunStore`] role, whichever engine it is.
pub type TestEngine = Arc<dyn RunStore>;

/// The Redis the tests use.
pub fn test_redis_url() -> String {
    std::env::var("TROUPE_TEST_REDIS").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

/// A key prefix no other test (or test process) uses.
pub fn unique_prefix(what: &str) -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    format!("troupe-test-{what}-{}-{}-{:x}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed), nanos & 0xffffff)
}

/// Delete every key under `prefix` from the tests' Redis: a benchmark's run, once
/// measured, so that running the benchmarks again does not fill the Redis every test
/// shares (a million-item run leaves ~660 MiB).
pub fn drop_keys(prefix: &str) {
    let Ok(mut conn) = redis::Client::open(test_redis_url()).and_then(|c| c.get_connection()) else { return };
    let keys: Vec<String> = redis::cmd("KEYS").arg(format!("{prefix}*")).query(&mut conn).unwrap_or_default();
    for chunk in keys.chunks(500) {
        let _: redis::RedisResult<()> = redis::cmd("UNLINK").arg(chunk).query(&mut conn);
    }
}

/// A Redis engine for the manifest's actors under a fresh key prefix.
pub fn redis_engine(manifest: &Manifest, options: impl FnOnce(&mut RedisOptions)) -> Arc<RedisEngine> {
    let mut o = RedisOptions::new(&test_redis_url());
    o.prefix = unique_prefix("engine");
    o.external = manifest.external_actors();
    options(&mut o);
    let actors = manifest.actors.keys().map(|a| a.to_string());
    Arc::new(RedisEngine::connect(&o, actors, LogLevel::Warn).unwrap_or_else(|e| panic!("{e:#}")))
}

/// Run `pipeline` (its JSON) with `trigger` on a fresh engine (see [`TestEngine`]) with
/// `concurrency` workers; returns the outcome, the engine (for its counters) and the
/// workers, which keep running tasks (stragglers, detached tasks) until dropped.
pub async fn run_pipeline(
    pipeline: Value,
    trigger: Value,
    concurrency: usize,
) -> (Result<RunReport, RunError>, TestEngine, troupe::worker::Workers) {
    let (plugins, manifest) = default_plugins();
    run_pipeline_with(plugins, &manifest, pipeline, trigger, concurrency).await
}

/// [`run_pipeline`] with the plugins of another manifest.
pub async fn run_pipeline_with(
    plugins: Arc<Plugins>,
    manifest: &Manifest,
    pipeline: Value,
    trigger: Value,
    concurrency: usize,
) -> (Result<RunReport, RunError>, TestEngine, troupe::worker::Workers) {
    let pipeline = Pipeline::from_value(pipeline, "test").expect("a pipeline");
    if std::env::var("TROUPE_TEST_ENGINE").is_ok_and(|e| e == "redis") {
        let engine = redis_engine(manifest, |o| o.prefetch = concurrency);
        let workers = troupe::worker::spawn(engine.clone(), plugins.clone(), concurrency);
        let orchestrator = Orchestrator::new(engine.clone(), plugins);
        return (orchestrator.run(&pipeline, trigger, &Silent).await, engine, workers);
    }
    let engine = Arc::new(
        EmbeddedEngine::new(manifest.actors.keys().map(|a| a.to_string()), LogLevel::Warn)
            .with_external(manifest.external_actors()),
    );
    let workers = troupe::worker::spawn(engine.clone(), plugins.clone(), concurrency);
    let orchestrator = Orchestrator::new(engine.clone(), plugins);
    (orchestrator.run(&pipeline, trigger, &Silent).await, engine, workers)
}

/// The benchmarks' pipeline: a scatter over `$.trigger.items` (`{id, kind}`) then a gather
/// grouped by kind, `Pass` everywhere.
pub fn scatter_then_gather() -> Pipeline {
    Pipeline::from_value(
        serde_json::json!({ "stages": [
            { "name": "fan-out", "mode": "scatter", "actor": "Pass", "scatter": { "input": "$.trigger.items", "as": "item" },
              "input": { "item": "$.item" }, "executorConfig": { "batchSize": 1000 } },
            { "name": "fan-in", "mode": "gather", "actor": "Pass", "gather": { "stage": "fan-out", "groupBy": "$.item.kind" },
              "input": { "kind": "$.group.key", "count": "$.group.key" } }
        ] }),
        "bench",
    )
    .expect("the benchmark pipeline is valid")
}
