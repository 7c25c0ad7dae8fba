//! Pipeline throughput on the embedded engine, each figure next to its baseline measured
//! in the same run. Run with `cargo xtask bench -- --bench pipeline` (plain `main`, not
//! criterion: each sample is a whole 100,000-task run).
//!
//! (a) A 100,000-item scatter then a gather, with the `Pass` component, end to end,
//!     next to a bare loop calling the same component 100,000 times on one thread.
//!     Goal: at least 50% of the bare loop's tasks per second.
//! (b) The stage-start cost of the wasm `scatter` executor for 100,000 items (its
//!     `execute` call, which enqueues every task), next to enqueueing the same tasks
//!     directly from Rust into the same engine. Goal: ratio 1.5 or less.

use serde_json::{json, Value};
use std::sync::Arc;
use std::time::{Duration, Instant};
use troupe::api::{EnqueueOptions, Execution, OutputShape, Task};
use troupe::engine::{EmbeddedEngine, RunStore, StageInfo};
use troupe::orchestrator::{Orchestrator, Silent};
use troupe::pipeline::Pipeline;
use troupe::plugin::Actor;
use troupe::{jsonpath, LogLevel, Role, Scope, StageHost};
use troupe_tests::default_plugins;

/// The allocator the `troupe` binary uses.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const ITEMS: usize = 100_000;
const SAMPLES: usize = 3;
const KINDS: [&str; 3] = ["a", "b", "c"];

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn items() -> Value {
    json!((0..ITEMS).map(|i| json!({ "id": i, "kind": KINDS[i % 3] })).collect::<Vec<_>>())
}

fn engine(manifest: &troupe::Manifest) -> Arc<EmbeddedEngine> {
    Arc::new(EmbeddedEngine::new(manifest.actors.keys().map(|a| a.to_string()), LogLevel::Warn))
}

fn main() {
    let (plugins, manifest) = default_plugins();
    let trigger = json!({ "items": items() });
    let concurrency = std::env::var("TROUPE_BENCH_CONCURRENCY")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2) * 4);
    println!("== pipeline benchmark: {ITEMS} items, embedded engine, {concurrency} workers ==");

    // (a) bare loop: the Pass component, called directly, one thread.
    let Some(Actor::Component(pass)) = plugins.actor("Pass") else { panic!("Pass is a component in troupe.toml") };
    let host: Arc<dyn StageHost> = engine(&manifest);
    let inputs: Vec<troupe::payload::Payload> =
        trigger["items"].as_array().unwrap().iter().map(|i| json!({ "item": i }).into()).collect();
    let bare = median(
        (0..SAMPLES)
            .map(|_| {
                let started = Instant::now();
                for input in &inputs {
                    pass.invoke(host.clone(), "bench", "bare", input).unwrap().unwrap();
                }
                started.elapsed()
            })
            .collect(),
    );

    // (a) the pipeline: scatter then gather (grouped by kind), Pass everywhere.
    let pipeline = troupe_tests::scatter_then_gather();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let piped = median(
        (0..SAMPLES)
            .map(|_| {
                let engine = engine(&manifest);
                runtime.block_on(async {
                    let _workers = troupe::worker::spawn(engine.clone(), plugins.clone(), concurrency);
                    let orchestrator = Orchestrator::new(engine.clone(), plugins.clone());
                    let started = Instant::now();
                    let report = orchestrator.run(&pipeline, trigger.clone(), &Silent).await.unwrap();
                    let elapsed = started.elapsed();
                    assert_eq!(report.context["fan-in"].as_array().unwrap().len(), 3);
                    if std::env::var_os("TROUPE_BENCH_STAGES").is_some() {
                        for s in &report.stages {
                            eprintln!("    stage {}: {} ms", s.name, s.duration_ms);
                        }
                    }
                    elapsed
                })
            })
            .collect(),
    );
    let tasks = (ITEMS + 3) as f64;
    let bare_rate = ITEMS as f64 / bare.as_secs_f64();
    let piped_rate = tasks / piped.as_secs_f64();
    println!("(a) bare loop, Pass component x {ITEMS}: {:.0} ms, {bare_rate:.0} tasks/s", bare.as_secs_f64() * 1e3);
    println!(
        "(a) scatter {ITEMS} + gather (3 groups), Pass: {:.0} ms, {piped_rate:.0} tasks/s = {:.0}% of the bare loop (goal >= 50%)",
        piped.as_secs_f64() * 1e3,
        100.0 * piped_rate / bare_rate
    );

    // (b) stage start: the wasm scatter executor vs the same enqueueing from Rust.
    let scatter = plugins.executor("scatter").expect("scatter is in troupe.toml");
    let definition = json!({ "name": "fan-out", "mode": "scatter", "actor": "Pass", "scatter": { "input": "$.trigger.items", "as": "item" },
                             "input": { "id": "$.item.id", "kind": "$.item.kind", "source": "$.trigger.source" },
                             "executorConfig": { "batchSize": 1000 } });
    let trigger_b = json!({ "items": items(), "source": "bench" });
    let open = |run: &str| {
        let engine = engine(&manifest);
        let pipeline = Pipeline { name: "bench".into(), stages: vec![definition.clone()] };
        engine.start_run(run, &pipeline, trigger_b.clone()).unwrap();
        let stage = scatter.stage(run, &definition);
        engine
            .open_stage(
                run,
                StageInfo {
                    mode: "scatter".into(),
                    stage: Arc::new(stage.clone()),
                    before_task_hook: false,
                    after_task_hook: false,
                },
            )
            .unwrap();
        (engine, stage)
    };
    let wasm = median(
        (0..SAMPLES)
            .map(|s| {
                let (engine, stage) = open(&format!("wasm-{s}"));
                let started = Instant::now();
                let execution = scatter.execute(engine.clone(), &stage).unwrap().unwrap();
                let elapsed = started.elapsed();
                assert_eq!(execution.expected_tasks, ITEMS as u64);
                elapsed
            })
            .collect(),
    );
    let native = median(
        (0..SAMPLES)
            .map(|s| {
                let run = format!("native-{s}");
                let (engine, stage) = open(&run);
                let scope = Scope {
                    role: Role::Executor,
                    name: "scatter".into(),
                    run_id: run.clone(),
                    stage: "fan-out".into(),
                };
                let started = Instant::now();
                let context = engine.context(&scope).unwrap();
                let found = jsonpath::query(&context, "$.trigger.items", None).unwrap();
                let Some(Value::Array(list)) = found.into_iter().next() else { panic!("items") };
                let template = stage.definition["input"].clone();
                let mut batch = Vec::with_capacity(1000);
                for (index, item) in list.into_iter().enumerate() {
                    let bindings = json!({ "item": item, "index": index });
                    let input = jsonpath::resolve_input(&context, &template, Some(&bindings), "input").unwrap();
                    batch.push(Task { index: index as u64, actor: "Pass".into(), input: input.into(), key: None });
                    if batch.len() == 1000 {
                        engine.enqueue(&scope, std::mem::take(&mut batch), &EnqueueOptions::default()).unwrap();
                    }
                }
                engine.enqueue(&scope, batch, &EnqueueOptions::default()).unwrap();
                let elapsed = started.elapsed();
                let execution = Execution {
                    expected_tasks: ITEMS as u64,
                    metadata: None,
                    output: OutputShape::List,
                    detached: false,
                };
                assert_eq!(engine.seal_stage(&run, "fan-out", &execution).unwrap(), ITEMS as u64);
                elapsed
            })
            .collect(),
    );
    println!("(b) stage start, enqueue {ITEMS} tasks directly from Rust: {:.1} ms", native.as_secs_f64() * 1e3);
    println!(
        "(b) stage start, wasm scatter executor: {:.1} ms = {:.2}x the direct enqueue (goal <= 1.5)",
        wasm.as_secs_f64() * 1e3,
        wasm.as_secs_f64() / native.as_secs_f64()
    );
}
