//! Worker throughput by implementation, next to BullMQ's own worker, in one run against
//! the same Redis. Run with `cargo xtask bench -- --bench workers` (needs the Redis at
//! `TROUPE_TEST_REDIS`, default 127.0.0.1:6379, `cargo xtask build` done, Python 3 and
//! Node.js with npm: the bench installs the Python package into a venv and the Node
//! package, BullMQ and ioredis (pinned in `tests/benches/workers/package.json`) from npm
//! into `target/bench-node`).
//!
//! Each troupe round is a 100,000-item scatter of `Pass` (returns its input) started by an
//! orchestrator in this process, served by 4 worker processes of one implementation:
//! `troupe worker` (the wasm `Pass`), the Python package (`troupe-worker`), the Node package
//! (`troupe-worker`). The BullMQ round adds 100,000 jobs of the same payload (1,000 per
//! `addBulk`, as troupe enqueues) to a queue served by 4 BullMQ worker processes that return
//! the job's data. Every worker process runs 16 tasks at once and is started (and given 2 s
//! to connect) before the clock starts; the time runs from the first enqueue to the last
//! recorded outcome. Rounds alternate implementations; the medians are printed.

use serde_json::{json, Value};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};
use troupe::orchestrator::{Orchestrator, Silent};
use troupe::pipeline::Pipeline;
use troupe::plugin::Plugins;
use troupe_tests::{default_plugins, python_worker_venv, redis_engine, root, test_redis_url, unique_prefix};

#[path = "common/node.rs"]
mod node;
use node::{install_node, median, node_dir, redis_host_port, stop, Workers};

const ITEMS: usize = 100_000;
const WORKERS: usize = 4;
const CONCURRENCY: usize = 16;
const ROUNDS: usize = 3;
const KINDS: [&str; 3] = ["a", "b", "c"];

/// Who serves the tasks in a round.
#[derive(Clone, Copy, PartialEq)]
enum Implementation {
    TroupeWorker,
    Python,
    Node,
    BullMq,
}

impl Implementation {
    fn name(self) -> &'static str {
        match self {
            Implementation::TroupeWorker => "troupe worker (wasm Pass)",
            Implementation::Python => "Python package",
            Implementation::Node => "Node package",
            Implementation::BullMq => "BullMQ worker (Node)",
        }
    }
}

fn start_workers(which: Implementation, prefix: &str, python: &Path) -> Workers {
    let concurrency = CONCURRENCY.to_string();
    let (host, port) = redis_host_port();
    let children = (0..WORKERS)
        .map(|_| {
            let mut cmd = match which {
                Implementation::TroupeWorker => {
                    let mut c = Command::new(root().join("target/release/troupe"));
                    c.args(["worker", "--actors", "Pass", "--concurrency", &concurrency]).args([
                        "--cache-dir",
                        "target/test-cache",
                        "--redis",
                        &test_redis_url(),
                        "--redis-prefix",
                        prefix,
                    ]);
                    c
                }
                Implementation::Python => {
                    let mut c = Command::new(python);
                    c.arg(root().join("tests/benches/workers/pass_worker.py")).args([
                        &test_redis_url(),
                        prefix,
                        &concurrency,
                    ]);
                    c
                }
                Implementation::Node => {
                    let mut c = Command::new("node");
                    c.arg(node_dir().join("pass_worker.mjs")).args([&test_redis_url(), prefix, &concurrency]);
                    c
                }
                Implementation::BullMq => {
                    let mut c = Command::new("node");
                    c.arg(node_dir().join("bullmq_worker.mjs")).args([&host, &port, prefix, "bench", &concurrency]);
                    c
                }
            };
            cmd.current_dir(root()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap()
        })
        .collect();
    Workers(children)
}

fn scatter() -> Pipeline {
    Pipeline::from_value(
        json!({ "stages": [
            { "name": "fan-out", "mode": "scatter", "actor": "Pass",
              "scatter": { "input": "$.trigger.items", "as": "item" }, "input": { "item": "$.item" },
              "executorConfig": { "batchSize": 1000 } } ] }),
        "workers-bench",
    )
    .expect("the benchmark pipeline is valid")
}

fn items() -> Value {
    json!({ "items": (0..ITEMS).map(|i| json!({ "id": i, "kind": KINDS[i % 3] })).collect::<Vec<_>>() })
}

/// One troupe round: its time, after checking every result came back.
fn troupe_round(which: Implementation, plugins: &Arc<Plugins>, manifest: &troupe::Manifest, python: &Path) -> Duration {
    let prefix = unique_prefix("bench-workers");
    // The engine loads the protocol's functions, which the Python and Node workers check
    // for before they start.
    let engine = redis_engine(manifest, |o| o.prefix = prefix.clone());
    let workers = start_workers(which, &prefix, python);
    std::thread::sleep(Duration::from_secs(2));
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let orchestrator = Orchestrator::new(engine.clone(), plugins.clone());
    let started = Instant::now();
    let report = runtime.block_on(orchestrator.run(&scatter(), items(), &Silent)).unwrap();
    let elapsed = started.elapsed();
    let results = report.context["fan-out"].as_array().expect("a list of results");
    assert_eq!(results.len(), ITEMS);
    assert_eq!(results[ITEMS - 1]["item"]["id"], json!(ITEMS - 1));
    let ran = stop(workers);
    println!("    {}: {:.0} ms (tasks per worker: {})", which.name(), elapsed.as_secs_f64() * 1e3, ran.join(" "));
    elapsed
}

fn bullmq_round() -> Duration {
    let prefix = unique_prefix("bench-bullmq");
    let (host, port) = redis_host_port();
    let workers = start_workers(Implementation::BullMq, &prefix, Path::new("python3"));
    std::thread::sleep(Duration::from_secs(2));
    let out = Command::new("node")
        .arg(node_dir().join("bullmq_produce.mjs"))
        .args([&host, &port, &prefix, "bench", &ITEMS.to_string()])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(out.status.success(), "the BullMQ producer failed:\n{text}{}", String::from_utf8_lossy(&out.stderr));
    let words: Vec<&str> = text.split_whitespace().collect();
    assert_eq!(words.get(3), Some(&ITEMS.to_string().as_str()), "every job completed: {text}");
    let ms: f64 = words.get(1).and_then(|w| w.parse().ok()).expect("elapsed_ms <ms>");
    let ran = stop(workers);
    println!("    {}: {ms:.0} ms (jobs per worker: {})", Implementation::BullMq.name(), ran.join(" "));
    Duration::from_secs_f64(ms / 1e3)
}

fn main() {
    let (plugins, manifest) = default_plugins();
    println!("== Workers benchmark: {ITEMS} tasks, {WORKERS} worker processes x {CONCURRENCY}, Redis at {}, {ROUNDS} rounds ==", test_redis_url());
    let python = python_worker_venv();
    let node = root().join("workers/node/package.json").exists();
    if node {
        install_node();
    } else {
        println!("(workers/node is not in this checkout: the Node rounds are left out)");
    }
    let mut order = vec![Implementation::TroupeWorker, Implementation::Python];
    if node {
        order.extend([Implementation::Node, Implementation::BullMq]);
    }
    let mut times: Vec<Vec<Duration>> = vec![Vec::new(); order.len()];
    for round in 0..ROUNDS {
        println!("  round {}", round + 1);
        for (i, which) in order.iter().enumerate() {
            let elapsed = match which {
                Implementation::BullMq => bullmq_round(),
                other => troupe_round(*other, &plugins, &manifest, &python),
            };
            times[i].push(elapsed);
        }
    }
    let rates: Vec<f64> = times.into_iter().map(|t| ITEMS as f64 / median(t).as_secs_f64()).collect();
    let bullmq = order.iter().position(|w| *w == Implementation::BullMq).map(|i| rates[i]);
    println!("medians, tasks/s:");
    for (which, rate) in order.iter().zip(&rates) {
        match bullmq {
            Some(b) => println!("  {:<28} {rate:>9.0}  ({:.2}x BullMQ)", which.name(), rate / b),
            None => println!("  {:<28} {rate:>9.0}", which.name()),
        }
    }
}
