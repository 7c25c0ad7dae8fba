//! Throughput on the Redis engine, next to its floor measured in the same run against the
//! same Redis. Run with `cargo xtask bench -- --bench redis` (needs the Redis at
//! `TROUPE_TEST_REDIS`, default 127.0.0.1:6379, and `cargo xtask build` done).
//!
//! - troupe: a 100,000-item scatter then a gather (3 groups), `Pass` everywhere, served
//!   by 4 `troupe worker` processes; the orchestrator runs here and serves no tasks.
//! - the floor: a minimal Redis Streams loop, one producer and 4 consumers (threads with a
//!   connection each): the same 100,000 XADDs (pipelined 1,000 at a time, as troupe's
//!   enqueue is), XREADGROUP with the same COUNT as a worker's prefetch, one XACK per
//!   message (as troupe's finish), entries of the same fields and size.
//!
//! Three rounds, each a troupe run then the floor; the medians are compared.
//! Goal: troupe reaches at least 50% of the floor's messages per second.

use serde_json::{json, Value};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};
use troupe::manifest::Manifest;
use troupe::orchestrator::{Orchestrator, Silent};
use troupe::plugin::Plugins;
use troupe_tests::{default_plugins, redis_engine, root, test_redis_url, unique_prefix};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const ITEMS: usize = 100_000;
const WORKERS: usize = 4;
/// Each worker process's concurrency, and so its prefetch.
const CONCURRENCY: usize = 16;
const KINDS: [&str; 3] = ["a", "b", "c"];

fn items() -> Vec<Value> {
    (0..ITEMS).map(|i| json!({ "id": i, "kind": KINDS[i % 3] })).collect()
}

fn connect() -> redis::Connection {
    redis::Client::open(test_redis_url().as_str()).unwrap().get_connection().unwrap()
}

/// The floor: one producer, `WORKERS` consumers, XADD / XREADGROUP / XACK.
fn raw_streams_loop(entry: &[(String, String)]) -> Duration {
    let stream = format!("{}:raw", unique_prefix("bench"));
    let mut producer = connect();
    redis::cmd("XGROUP").arg("CREATE").arg(&stream).arg("g").arg(0).arg("MKSTREAM").query::<()>(&mut producer).unwrap();
    let started = Instant::now();
    let consumers: Vec<_> = (0..WORKERS)
        .map(|n| {
            let stream = stream.clone();
            std::thread::spawn(move || {
                let mut conn = connect();
                let mut acked = 0usize;
                loop {
                    let reply: Option<redis::streams::StreamReadReply> = redis::cmd("XREADGROUP")
                        .arg("GROUP")
                        .arg("g")
                        .arg(format!("c{n}"))
                        .arg("COUNT")
                        .arg(CONCURRENCY)
                        .arg("BLOCK")
                        .arg(200)
                        .arg("STREAMS")
                        .arg(&stream)
                        .arg(">")
                        .query(&mut conn)
                        .unwrap();
                    let Some(reply) = reply else { return acked };
                    for id in reply.keys.iter().flat_map(|k| k.ids.iter()) {
                        let input: String = id.get("input").unwrap();
                        assert!(!input.is_empty());
                        redis::cmd("XACK").arg(&stream).arg("g").arg(&id.id).query::<i64>(&mut conn).unwrap();
                        acked += 1;
                    }
                }
            })
        })
        .collect();
    for chunk in (0..ITEMS).collect::<Vec<_>>().chunks(1000) {
        let mut pipe = redis::pipe();
        for i in chunk {
            let call = pipe.cmd("XADD").arg(&stream).arg("*");
            for (k, v) in entry {
                call.arg(k).arg(if k == "index" { i.to_string() } else { v.clone() });
            }
            call.ignore();
        }
        pipe.query::<()>(&mut producer).unwrap();
    }
    let acked: usize = consumers.into_iter().map(|c| c.join().unwrap()).sum();
    // The consumers stop 200 ms after the stream runs dry.
    let elapsed = started.elapsed().saturating_sub(Duration::from_millis(200));
    assert_eq!(acked, ITEMS);
    redis::cmd("DEL").arg(&stream).query::<()>(&mut producer).unwrap();
    elapsed
}

fn start_workers(prefix: &str) -> Vec<Child> {
    (0..WORKERS)
        .map(|_| {
            Command::new(root().join("target/release/troupe"))
                .current_dir(root())
                .args(["worker", "--actors", "Pass", "--concurrency", &CONCURRENCY.to_string()])
                .args(["--cache-dir", "target/test-cache", "--redis", &test_redis_url(), "--redis-prefix", prefix])
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect()
}

/// Rounds of (troupe, floor), alternated so that both see the same machine; the figures
/// compared are the medians (this 2-core machine's noise is about +-20% per run).
const ROUNDS: usize = 3;

/// One troupe run end to end (4 fresh worker processes); its time and the run id.
fn troupe_round(plugins: &Arc<Plugins>, manifest: &Manifest) -> (Duration, String) {
    let prefix = unique_prefix("bench");
    let workers = start_workers(&prefix);
    std::thread::sleep(Duration::from_secs(2)); // let them load their plugins
    let engine = redis_engine(manifest, |o| o.prefix = prefix.clone());
    let pipeline = troupe_tests::scatter_then_gather();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let orchestrator = Orchestrator::new(engine.clone(), plugins.clone());
    let redis = redis_server_pid();
    let worker_pids: Vec<String> = workers.iter().map(|w| w.id().to_string()).collect();
    let before = (redis.as_deref().map(cpu_ms), cpu_ms("self"), worker_pids.iter().map(|p| cpu_ms(p)).sum::<u64>());
    let started = Instant::now();
    let report = runtime.block_on(orchestrator.run(&pipeline, json!({ "items": items() }), &Silent)).unwrap();
    let elapsed = started.elapsed();
    assert_eq!(report.context["fan-in"].as_array().unwrap().len(), 3);
    let stages: Vec<String> = report.stages.iter().map(|s| format!("{} {} ms", s.name, s.duration_ms)).collect();
    let cpu = format!(
        "CPU: Redis {} ms, orchestrator {} ms, workers {} ms",
        match (redis.as_deref(), before.0) {
            (Some(pid), Some(b)) => (cpu_ms(pid) - b).to_string(),
            _ => "?".into(),
        },
        cpu_ms("self") - before.1,
        worker_pids.iter().map(|p| cpu_ms(p)).sum::<u64>() - before.2
    );
    let mut ran = Vec::new();
    for w in workers {
        Command::new("kill").args(["-TERM", &w.id().to_string()]).status().unwrap();
        let out = w.wait_with_output().unwrap();
        let line = String::from_utf8_lossy(&out.stderr).lines().last().unwrap_or_default().to_string();
        ran.push(line.split("ran ").nth(1).and_then(|r| r.split(' ').next()).unwrap_or("?").to_string());
    }
    println!(
        "    troupe: {:.0} ms ({}; tasks per worker: {}; {cpu})",
        elapsed.as_secs_f64() * 1e3,
        stages.join(", "),
        ran.join(" ")
    );
    troupe_tests::drop_keys(&prefix);
    (elapsed, report.run_id)
}

/// CPU time (user + system) a process used so far, from /proc (Linux).
fn cpu_ms(pid: &str) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let fields: Vec<&str> = stat.rsplit(')').next().unwrap_or_default().split_whitespace().collect();
    let ticks: u64 = fields.get(11..13).map_or(0, |f| f.iter().filter_map(|t| t.parse::<u64>().ok()).sum());
    ticks * 10 // USER_HZ is 100 on Linux
}

/// The local redis-server's pid, when it runs on this machine (to show its CPU time).
fn redis_server_pid() -> Option<String> {
    let out = Command::new("pgrep").args(["-o", "redis-server"]).output().ok()?;
    let pid = String::from_utf8_lossy(&out.stdout).trim().to_string();
    (!pid.is_empty()).then_some(pid)
}

fn median(mut xs: Vec<Duration>) -> Duration {
    xs.sort();
    xs[xs.len() / 2]
}

fn main() {
    let (plugins, manifest) = default_plugins();
    println!(
        "== Redis benchmark: {ITEMS} tasks, {WORKERS} worker processes x {CONCURRENCY}, Redis at {}, {ROUNDS} rounds ==",
        test_redis_url()
    );
    let (mut troupe, mut floor) = (Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        let (elapsed, run_id) = troupe_round(&plugins, &manifest);
        troupe.push(elapsed);
        // The floor, with an entry like the one troupe put on the stream for task 0.
        let sample = json!({ "item": { "id": 0, "kind": "a" } }).to_string();
        let entry: Vec<(String, String)> = [
            ("run", run_id.as_str()),
            ("stage", "fan-out"),
            ("index", "0"),
            ("attempt", "1"),
            ("actor", "Pass"),
            ("input", sample.as_str()),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let raw = raw_streams_loop(&entry);
        println!("    raw loop: {:.0} ms", raw.as_secs_f64() * 1e3);
        floor.push(raw);
    }

    let (troupe, floor) = (median(troupe), median(floor));
    let troupe_rate = (ITEMS + 3) as f64 / troupe.as_secs_f64();
    let floor_rate = ITEMS as f64 / floor.as_secs_f64();
    println!(
        "raw Redis Streams loop (1 producer, {WORKERS} consumers), median: {:.0} ms, {floor_rate:.0} msgs/s",
        floor.as_secs_f64() * 1e3
    );
    println!(
        "troupe scatter {ITEMS} + gather on Redis, {WORKERS} worker processes, median: {:.0} ms, {troupe_rate:.0} tasks/s = {:.0}% of the raw loop (goal >= 50%)",
        troupe.as_secs_f64() * 1e3,
        100.0 * troupe_rate / floor_rate
    );
}
