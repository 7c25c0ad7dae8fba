//! What a plugin call and a plugin load cost. Run with `cargo xtask bench -- --bench plugin_call`.
//!
//! Prints, before criterion's own report, a summary with the figures the foundation
//! issue asks for: the median of instantiate + one no-op call (goal: 20 µs or less), the
//! cold compile time, and the time to load the same component from the on-disk cache;
//! then the same three for an executor in each guest language (Rust `single`, Python
//! `chunk`, JavaScript `dedupe`).

use criterion::{criterion_group, Criterion};
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::{Duration, Instant};
use troupe::manifest::Limits;
use troupe::plugin::{CompileCache, EngineOptions, Loader, PluginSpec};
use troupe::{RecordingHost, StageHost};
use troupe_tests::plugin;

fn options() -> EngineOptions {
    EngineOptions { max_memory_mib: 256 }
}

fn host() -> Arc<dyn StageHost> {
    Arc::new(RecordingHost::new(json!({})))
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn percentile(mut samples: Vec<Duration>, p: f64) -> Duration {
    samples.sort();
    samples[((samples.len() as f64 * p) as usize).min(samples.len() - 1)]
}

/// Room for the components with a language runtime inside (Python, JavaScript), as their
/// manifest entries give them.
fn spec(name: &str) -> PluginSpec {
    PluginSpec::file(name, plugin(name)).with_limits(Limits { memory_mib: 256, timeout_ms: 30_000, ..Limits::DEFAULT })
}

fn load_time(loader: &Loader, name: &str) -> Duration {
    let started = Instant::now();
    loader.load_executor(&spec(name), json!({})).unwrap();
    started.elapsed()
}

/// Instantiate + `name()` of `name`, `calls` times after a warm-up: the median and p99.
fn call_times(loader: &Loader, name: &str, calls: usize) -> (Duration, Duration) {
    let executor = loader.load_executor(&spec(name), json!({})).unwrap();
    let host = host();
    for _ in 0..calls.div_ceil(10) {
        executor.reported_name(host.clone()).unwrap();
    }
    let samples: Vec<Duration> = (0..calls)
        .map(|_| {
            let started = Instant::now();
            executor.reported_name(host.clone()).unwrap();
            started.elapsed()
        })
        .collect();
    (median(samples.clone()), percentile(samples, 0.99))
}

fn summary() {
    let loader = Loader::new(&options(), None).unwrap();
    let single = loader.load_executor(&PluginSpec::file("single", plugin("single")), json!({})).unwrap();
    let host = host();
    for _ in 0..1_000 {
        single.reported_name(host.clone()).unwrap();
    }
    let calls: Vec<Duration> = (0..20_000)
        .map(|_| {
            let started = Instant::now();
            single.reported_name(host.clone()).unwrap();
            started.elapsed()
        })
        .collect();
    println!("== plugin call summary (this machine, release build) ==");
    println!(
        "instantiate + no-op call (single.wasm, name()): median {:.1} µs, p99 {:.1} µs over {} calls (goal: median <= 20 µs)",
        median(calls.clone()).as_secs_f64() * 1e6,
        percentile(calls.clone(), 0.99).as_secs_f64() * 1e6,
        calls.len()
    );

    let cache_dir = tempfile::tempdir().unwrap();
    let cached = Loader::new(&options(), Some(CompileCache::new(cache_dir.path()))).unwrap();
    let languages = [
        ("single", "Rust, single.wasm", 20_000),
        ("chunk", "Python, chunk.wasm", 500),
        ("dedupe", "JavaScript, dedupe.wasm", 500),
    ];
    for (name, label, calls) in languages {
        let size = std::fs::metadata(plugin(name)).unwrap().len() as f64 / (1 << 20) as f64;
        let cold = load_time(&Loader::new(&options(), None).unwrap(), name);
        load_time(&cached, name); // fills the cache
        let warm = median((0..5).map(|_| load_time(&cached, name)).collect());
        let (call, p99) = call_times(&cached, name, calls);
        println!(
            "{label} ({size:.1} MiB): instantiate + name() median {:.1} µs (p99 {:.1} µs, {calls} calls), \
             cold compile {:.1} ms, from the on-disk cache {:.2} ms (median of 5)",
            call.as_secs_f64() * 1e6,
            p99.as_secs_f64() * 1e6,
            cold.as_secs_f64() * 1e3,
            warm.as_secs_f64() * 1e3
        );
    }
    println!();
}

fn calls(c: &mut Criterion) {
    let loader = Loader::new(&options(), None).unwrap();
    let single = loader.load_executor(&PluginSpec::file("single", plugin("single")), json!({})).unwrap();
    let host = host();
    c.bench_function("instantiate + name() [single.wasm]", |b| b.iter(|| single.reported_name(host.clone()).unwrap()));
    let definition: Value = json!({ "name": "s", "mode": "single", "actor": "Pass", "input": { "x": 1 } });
    let stage = single.stage("run", &definition);
    c.bench_function("instantiate + validate() [single.wasm]", |b| {
        b.iter(|| single.validate(host.clone(), &stage).unwrap())
    });
}

fn loads(c: &mut Criterion) {
    let mut group = c.benchmark_group("load");
    group.sample_size(10);
    let uncached = Loader::new(&options(), None).unwrap();
    group.bench_function("cold compile [single.wasm]", |b| b.iter(|| load_time(&uncached, "single")));
    let cache_dir = tempfile::tempdir().unwrap();
    let cached = Loader::new(&options(), Some(CompileCache::new(cache_dir.path()))).unwrap();
    load_time(&cached, "single");
    group.bench_function("from on-disk cache [single.wasm]", |b| b.iter(|| load_time(&cached, "single")));
    group.finish();
}

criterion_group!(benches, calls, loads);

fn main() {
    summary();
    benches();
    Criterion::default().configure_from_args().final_summary();
}
