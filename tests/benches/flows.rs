//! Fan-out/fan-in next to BullMQ's FlowProducer, in one run against the same Redis.
//! Run with `cargo xtask bench -- --bench flows` (needs the Redis at `TROUPE_TEST_REDIS`,
//! default 127.0.0.1:6379, `cargo xtask build` done, and Node.js with npm: the bench
//! installs BullMQ from npm into `target/bench-node`, pinned in
//! `tests/benches/workers/package.json`).
//!
//! The same job on both sides: 100,000 no-op children (items of the same payload), then
//! one parent that reads every child's value.
//! - troupe: a `scatter` of `Pass` over the items, then a `gather` (no `groupBy`) whose one
//!   task gets every result, started by an orchestrator in this process with the default
//!   manifest and served by 4 `troupe worker` processes.
//! - BullMQ: one `FlowProducer` flow of 100,000 children served by 4 BullMQ worker
//!   processes, under a parent whose worker calls `getChildrenValues()`.
//!
//! The manifest's entries are the default manifest's, limits included: the gather's
//! results never pass through its guest (`queue.enqueue-groups`, WIT 0.2.1), so the
//! default 128 MiB holds 100,000 of them (before 0.2.1 the bench raised it to 1 GiB).
//!
//! Every worker process runs 16 at once and is started (and given 2 s to connect) before
//! the clock starts; the time runs from the first enqueue (the flow's add) to the
//! parent's end. Rounds alternate; the medians and their ratio are printed (goal: 5x).

use serde_json::{json, Value};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use troupe::orchestrator::{Orchestrator, Silent};
use troupe::pipeline::Pipeline;
use troupe_tests::{plugins_from, redis_engine, root, test_redis_url, unique_prefix};

#[path = "common/node.rs"]
mod node;
use node::{install_node, median, node_dir, redis_host_port, stop, Workers};

const CHILDREN: usize = 100_000;
const WORKERS: usize = 4;
const CONCURRENCY: usize = 16;
const ROUNDS: usize = 3;
const KINDS: [&str; 3] = ["a", "b", "c"];

/// The default manifest's entries the bench uses, with the default limits.
const MANIFEST: &str = r#"
version = 1
plugins-dir = "target/plugins"
[executors.scatter]
component = "scatter.wasm"
[executors.gather]
component = "gather.wasm"
[actors.Pass]
component = "pass.wasm"
"#;

fn fan_out_fan_in() -> Pipeline {
    Pipeline::from_value(
        json!({ "stages": [
            { "name": "children", "mode": "scatter", "actor": "Pass",
              "scatter": { "input": "$.trigger.items", "as": "item" }, "input": { "item": "$.item" },
              "executorConfig": { "batchSize": 1000 } },
            { "name": "parent", "mode": "gather", "actor": "Pass", "gather": { "stage": "children" },
              "input": { "values": "$.group.items" } } ] }),
        "flows-bench",
    )
    .expect("the benchmark pipeline is valid")
}

fn items() -> Value {
    json!({ "items": (0..CHILDREN).map(|i| json!({ "id": i, "kind": KINDS[i % 3] })).collect::<Vec<_>>() })
}

fn workers(program: &str, args: &[&str]) -> Workers {
    Workers(
        (0..WORKERS)
            .map(|_| {
                Command::new(program)
                    .args(args)
                    .current_dir(root())
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped())
                    .spawn()
                    .unwrap_or_else(|e| panic!("cannot start {program}: {e}"))
            })
            .collect(),
    )
}

fn troupe_round(plugins: &std::sync::Arc<troupe::plugin::Plugins>, manifest: &troupe::Manifest) -> Duration {
    let prefix = unique_prefix("bench-flows");
    let engine = redis_engine(manifest, |o| o.prefix = prefix.clone());
    let troupe = root().join("target/release/troupe");
    let concurrency = CONCURRENCY.to_string();
    let url = test_redis_url();
    let args = ["worker", "--actors", "Pass", "--concurrency", &concurrency, "--cache-dir", "target/test-cache"];
    let mut args: Vec<&str> = args.to_vec();
    args.extend(["--redis", &url, "--redis-prefix", &prefix]);
    let served = workers(troupe.to_str().unwrap(), &args);
    std::thread::sleep(Duration::from_secs(2));
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let orchestrator = Orchestrator::new(engine, plugins.clone());
    let started = Instant::now();
    let report = runtime.block_on(orchestrator.run(&fan_out_fan_in(), items(), &Silent)).unwrap();
    let elapsed = started.elapsed();
    let values = report.context["parent"]["values"].as_array().expect("the parent's values");
    assert_eq!(values.len(), CHILDREN, "the parent read every child's value");
    let ran = stop(served);
    troupe_tests::drop_keys(&prefix);
    let stages: Vec<String> = report.stages.iter().map(|s| format!("{} {} ms", s.name, s.duration_ms)).collect();
    println!(
        "    troupe: {:.0} ms ({}; tasks per worker: {})",
        elapsed.as_secs_f64() * 1e3,
        stages.join(", "),
        ran.join(" ")
    );
    elapsed
}

fn bullmq_round() -> Duration {
    let prefix = unique_prefix("bench-flows-bullmq");
    let (host, port) = redis_host_port();
    let script = node_dir().join("bullmq_worker.mjs");
    let concurrency = CONCURRENCY.to_string();
    let served = workers("node", &[script.to_str().unwrap(), &host, &port, &prefix, "children", &concurrency]);
    std::thread::sleep(Duration::from_secs(2));
    let out = Command::new("node")
        .arg(node_dir().join("bullmq_flow.mjs"))
        .args([&host, &port, &prefix, &CHILDREN.to_string()])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(out.status.success(), "the BullMQ flow failed:\n{text}{}", String::from_utf8_lossy(&out.stderr));
    let words: Vec<&str> = text.split_whitespace().collect();
    assert_eq!(words.get(3), Some(&CHILDREN.to_string().as_str()), "the parent read every child's value: {text}");
    let ms: f64 = words.get(1).and_then(|w| w.parse().ok()).expect("elapsed_ms <ms>");
    let ran = stop(served);
    troupe_tests::drop_keys(&prefix);
    println!("    BullMQ FlowProducer: {ms:.0} ms (jobs per worker: {})", ran.join(" "));
    Duration::from_secs_f64(ms / 1e3)
}

fn main() {
    let (plugins, manifest) = plugins_from(MANIFEST);
    println!(
        "== Fan-out/fan-in benchmark: {CHILDREN} children then one parent reading them all, \
         {WORKERS} worker processes x {CONCURRENCY}, Redis at {}, {ROUNDS} rounds, default limits ==",
        test_redis_url()
    );
    install_node();
    let (mut troupe, mut bullmq) = (Vec::new(), Vec::new());
    for round in 0..ROUNDS {
        println!("  round {}", round + 1);
        troupe.push(troupe_round(&plugins, &manifest));
        bullmq.push(bullmq_round());
    }
    let rate = |t: Vec<Duration>| CHILDREN as f64 / median(t).as_secs_f64();
    let (troupe, bullmq) = (rate(troupe), rate(bullmq));
    println!("medians, children/s:");
    println!("  troupe (scatter + gather)    {troupe:>9.0}  ({:.2}x BullMQ; goal 5x)", troupe / bullmq);
    println!("  BullMQ FlowProducer          {bullmq:>9.0}  (1.00x)");
}
