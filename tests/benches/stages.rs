//! Stage-count scaling on the embedded engine: `validate` and a whole run of a pipeline
//! of N `single` stages (the `Pass` component, each reading `$.trigger`), for N = 1,000,
//! 10,000 and 30,000. Both should grow linearly: the figure to watch is the time per
//! stage, which should stay flat as N grows. Run with
//! `cargo xtask bench -- --bench stages` (plain `main`: each sample is a whole run).
//! `TROUPE_BENCH_STAGES=1000,5000` picks other sizes.

use serde_json::{json, Value};
use std::sync::Arc;
use std::time::{Duration, Instant};
use troupe::engine::EmbeddedEngine;
use troupe::orchestrator::{Orchestrator, Silent};
use troupe::pipeline::Pipeline;
use troupe::LogLevel;
use troupe_tests::default_plugins;

/// The allocator the `troupe` binary uses.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn pipeline(stages: usize) -> Pipeline {
    let stages: Vec<Value> = (0..stages)
        .map(|i| json!({ "name": format!("s{i}"), "mode": "single", "actor": "Pass", "input": { "v": "$.trigger" } }))
        .collect();
    Pipeline { name: "stages".into(), stages }
}

fn per_stage(total: Duration, stages: usize) -> f64 {
    total.as_secs_f64() * 1e6 / stages as f64
}

fn main() {
    let sizes: Vec<usize> = std::env::var("TROUPE_BENCH_STAGES")
        .ok()
        .map(|s| s.split(',').filter_map(|n| n.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![1_000, 10_000, 30_000]);
    let (plugins, manifest) = default_plugins();
    let concurrency = 4;
    println!("== stage-count benchmark: N single stages, embedded engine, {concurrency} workers ==");
    println!("{:>8} {:>12} {:>14} {:>12} {:>14}", "stages", "validate", "per stage", "run", "per stage");
    let runtime = tokio::runtime::Runtime::new().unwrap();
    for n in sizes {
        let pipeline = pipeline(n);
        let engine = Arc::new(EmbeddedEngine::new(manifest.actors.keys().map(|a| a.to_string()), LogLevel::Warn));
        let orchestrator = Orchestrator::new(engine.clone(), plugins.clone());

        let started = Instant::now();
        let problems = orchestrator.validate(&pipeline);
        let validated = started.elapsed();
        assert!(problems.is_empty(), "{problems:?}");

        // The run validates again first, as `troupe run` does.
        let ran = runtime.block_on(async {
            let _workers = troupe::worker::spawn(engine.clone(), plugins.clone(), concurrency);
            let started = Instant::now();
            let report = orchestrator.run(&pipeline, json!({ "x": 1 }), &Silent).await.unwrap();
            let ran = started.elapsed();
            assert_eq!(report.stages.len(), n);
            assert_eq!(report.context[format!("s{}", n - 1)], json!({ "v": { "x": 1 } }));
            ran
        });
        println!(
            "{n:>8} {:>10.2} s {:>11.1} us {:>10.2} s {:>11.1} us",
            validated.as_secs_f64(),
            per_stage(validated, n),
            ran.as_secs_f64(),
            per_stage(ran, n)
        );
    }
}
