//! A million items through a scatter, then a gather, with the default manifest
//! (`troupe.toml`, unchanged), on the embedded engine and on Redis; every process's peak
//! RSS and Redis's memory printed per run. Run with `cargo xtask bench -- --bench
//! million` (Redis at `TROUPE_TEST_REDIS`, default 127.0.0.1:6379; `cargo xtask build`
//! done). `TROUPE_BENCH_ITEMS` runs another size (for a quick look: 100000).
//!
//! Each run is a process of its own (this binary again, told which case by
//! `TROUPE_MILLION_CASE`), so its peak RSS (`VmHWM`) is that run's and nothing else's.
//! The cases:
//! - `scatter` of `Pass` over the items (about 100 bytes of JSON each), then a `gather`
//!   without `groupBy` whose one task reads every result's `id`
//!   (`$.group.items[*].id`: a million ids, under the default 16 MiB `task-input-bytes`);
//! - the same with `groupBy: $.kind` over 100 kinds: 100 tasks of 10,000 results each.
//!
//! On Redis the orchestrator is the case's process and 4 `troupe worker` processes serve
//! `Pass`; each worker's peak RSS is read from `/proc` before it is stopped. Redis's
//! `used_memory_peak` is since the server started: the figure that matters is the one
//! printed after each run next to the one before it.
//!
//! The ratio printed is the orchestrator's peak RSS over the JSON size of the scatter's
//! results (what the run must hold at least once): issue 17 asks for "a small multiple".

use serde_json::{json, Value};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use troupe::engine::EmbeddedEngine;
use troupe::orchestrator::{Orchestrator, RunReport, Silent};
use troupe::pipeline::Pipeline;
use troupe::LogLevel;
use troupe_tests::{redis_engine, root, test_redis_url, unique_prefix};

/// The allocator the `troupe` binary uses, so the figures are the binary's.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const KINDS: usize = 100;
const WORKERS: usize = 4;
const CONCURRENCY: usize = 16;
const CASE: &str = "TROUPE_MILLION_CASE";

fn items_count() -> usize {
    std::env::var("TROUPE_BENCH_ITEMS").ok().and_then(|n| n.parse().ok()).unwrap_or(1_000_000)
}

fn pipeline(grouped: bool) -> Pipeline {
    let gather =
        if grouped { json!({ "stage": "children", "groupBy": "$.kind" }) } else { json!({ "stage": "children" }) };
    Pipeline::from_value(
        json!({ "stages": [
            { "name": "children", "mode": "scatter", "actor": "Pass",
              "scatter": { "input": "$.trigger.items", "as": "item" }, "input": "$.item" },
            { "name": "parent", "mode": "gather", "actor": "Pass", "gather": gather,
              "input": { "key": "$.group.key", "ids": "$.group.items[*].id" } } ] }),
        "million-bench",
    )
    .expect("the benchmark pipeline is valid")
}

/// Items of about 100 bytes of JSON each.
fn trigger(n: usize) -> Value {
    let items: Vec<Value> = (0..n)
        .map(|i| json!({ "id": i, "kind": format!("k{:02}", i % KINDS), "body": format!("{:0>60}", i) }))
        .collect();
    json!({ "items": items })
}

/// A process's peak resident set (`VmHWM`), in bytes.
fn peak_rss(pid: u32) -> Option<u64> {
    status_field(pid, "VmHWM:")
}

/// A `/proc/<pid>/status` figure given in kB, in bytes.
fn status_field(pid: u32, name: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with(name))?;
    line.split_whitespace().nth(1)?.parse::<u64>().ok().map(|kib| kib * 1024)
}

fn mib(bytes: u64) -> String {
    format!("{:.0} MiB", bytes as f64 / (1 << 20) as f64)
}

/// Redis's `used_memory` and `used_memory_peak`, in bytes.
fn redis_memory() -> (u64, u64) {
    let client = redis::Client::open(test_redis_url()).expect("a Redis URL");
    let mut conn = client.get_connection().expect("Redis answers");
    let info: String = redis::cmd("INFO").arg("memory").query(&mut conn).expect("INFO memory");
    let field = |name: &str| {
        info.lines().find_map(|l| l.strip_prefix(&format!("{name}:"))).and_then(|v| v.trim().parse().ok()).unwrap_or(0)
    };
    (field("used_memory"), field("used_memory_peak"))
}

/// What a case checks and prints of its run.
fn report(report: &RunReport, n: usize, grouped: bool, elapsed: Duration, loaded: u64) {
    let children = report.context["children"].as_array().expect("the scatter's results");
    assert_eq!(children.len(), n, "one result per item");
    assert!(children.iter().all(|c| !c.is_null()), "every child succeeded");
    // Counted, not written out: a 92 MiB string here would count in the peak read below.
    let results_bytes = troupe::template::json_len(&report.context["children"]) as u64;
    let ids: usize = if grouped {
        let groups = report.context["parent"].as_array().expect("a keyed list");
        assert_eq!(groups.len(), KINDS.min(n), "one task per kind");
        groups.iter().map(|g| g["result"]["ids"].as_array().map_or(1, Vec::len)).sum()
    } else {
        report.context["parent"]["ids"].as_array().expect("every id").len()
    };
    assert_eq!(ids, n, "the gather read every result");
    let stages: Vec<String> = report.stages.iter().map(|s| format!("{} {} ms", s.name, s.duration_ms)).collect();
    let rss = peak_rss(std::process::id()).unwrap_or(0);
    let run = rss.saturating_sub(loaded);
    println!(
        "    {:.1} s ({}); results {}; orchestrator peak RSS {} ({} with the plugins loaded, before the run: \
         the run's own {} = {:.1}x the results' JSON)",
        elapsed.as_secs_f64(),
        stages.join(", "),
        mib(results_bytes),
        mib(rss),
        mib(loaded),
        mib(run),
        run as f64 / results_bytes as f64
    );
}

fn embedded_case(grouped: bool) {
    let (plugins, manifest) = default_manifest();
    let loaded = status_field(std::process::id(), "VmRSS:").unwrap_or(0);
    let n = items_count();
    let engine =
        std::sync::Arc::new(EmbeddedEngine::new(manifest.actors.keys().map(|a| a.to_string()), LogLevel::Warn));
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let _workers = runtime.block_on(async { troupe::worker::spawn(engine.clone(), plugins.clone(), CONCURRENCY) });
    let orchestrator = Orchestrator::new(engine, plugins);
    let trigger = trigger(n);
    let started = Instant::now();
    let run =
        runtime.block_on(orchestrator.run(&pipeline(grouped), trigger, &Silent)).unwrap_or_else(|e| panic!("{e}"));
    report(&run, n, grouped, started.elapsed(), loaded);
}

fn redis_case(grouped: bool) {
    let (plugins, manifest) = default_manifest();
    let loaded = status_field(std::process::id(), "VmRSS:").unwrap_or(0);
    let n = items_count();
    let prefix = unique_prefix("bench-million");
    let engine = redis_engine(&manifest, |o| o.prefix = prefix.clone());
    let troupe = root().join("target/release/troupe");
    let url = test_redis_url();
    let concurrency = CONCURRENCY.to_string();
    let workers: Vec<Child> = (0..WORKERS)
        .map(|_| {
            Command::new(&troupe)
                .args(["worker", "--actors", "Pass", "--concurrency", &concurrency, "--cache-dir", "target/test-cache"])
                .args(["--redis", &url, "--redis-prefix", &prefix])
                .current_dir(root())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("troupe worker starts")
        })
        .collect();
    let mut workers = Guard(workers);
    std::thread::sleep(Duration::from_secs(2));
    let before = redis_memory();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let orchestrator = Orchestrator::new(engine, plugins);
    let trigger = trigger(n);
    let started = Instant::now();
    let run =
        runtime.block_on(orchestrator.run(&pipeline(grouped), trigger, &Silent)).unwrap_or_else(|e| panic!("{e}"));
    let elapsed = started.elapsed();
    let after = redis_memory();
    let peaks: Vec<String> = workers.0.iter().map(|w| peak_rss(w.id()).map_or("?".into(), mib)).collect();
    for w in &mut workers.0 {
        let _ = Command::new("kill").args(["-TERM", &w.id().to_string()]).status();
        let _ = w.wait();
    }
    report(&run, n, grouped, elapsed, loaded);
    println!("    workers' peak RSS: {}", peaks.join(", "));
    println!(
        "    Redis used_memory {} before, {} after; used_memory_peak {} before, {} after",
        mib(before.0),
        mib(after.0),
        mib(before.1),
        mib(after.1)
    );
    // The run's keys go, so the next case starts from the same Redis.
    troupe_tests::drop_keys(&prefix);
}

/// Worker processes, killed if the case fails.
struct Guard(Vec<Child>);

impl Drop for Guard {
    fn drop(&mut self) {
        for w in &mut self.0 {
            let _ = w.kill();
            let _ = w.wait();
        }
    }
}

fn default_manifest() -> (std::sync::Arc<troupe::plugin::Plugins>, troupe::Manifest) {
    troupe_tests::default_plugins()
}

fn main() {
    if let Ok(case) = std::env::var(CASE) {
        let grouped = case.ends_with("grouped");
        if case.starts_with("redis") {
            redis_case(grouped)
        } else {
            embedded_case(grouped)
        }
        return;
    }
    let n = items_count();
    println!(
        "== A million items: {n} items (~100 B of JSON each) scattered to Pass, then gathered; the default \
         manifest; each run in a process of its own =="
    );
    let me = std::env::current_exe().expect("this benchmark's path");
    for case in ["embedded", "embedded grouped", "redis", "redis grouped"] {
        println!("  {case} ({}):", if case.ends_with("grouped") { "groupBy $.kind, 100 kinds" } else { "no groupBy" });
        let status = Command::new(&me).env(CASE, case).current_dir(root()).status().expect("the case runs");
        assert!(status.success(), "the {case} case failed");
    }
}
