//! Item 6 (data half): what a plugin can make the host hold is bounded by its manifest
//! `limits`. Before, an executor enqueuing 10,000,000 tasks took 1.67 GB and ran past
//! its deadline, a plugin wrote 516,853 state keys (106 MB) into Redis with no expiry,
//! and a 10 MB key with a 100 MB value was accepted. Now each fails only its stage (or
//! task) naming the plugin, the limit and the value, and the host serves on.

use super::task_records::{handover, Host};
use serde_json::{json, Value};
use std::time::Instant;

fn assert_names(err: &str, parts: &[&str]) {
    for part in parts {
        assert!(err.contains(part), "the error should contain {part:?}:\n{err}");
    }
}

/// This process's peak resident memory in MiB (Linux), to print.
fn peak_rss_mib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kib = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches(" kB").trim().parse::<u64>().ok());
    kib.unwrap_or(0) / 1024
}

#[tokio::test(flavor = "multi_thread")]
async fn an_executor_enqueuing_10_million_tasks_stops_at_max_tasks() {
    let host = Host::new();
    let stage = json!([{ "name": "flood", "mode": "few-tasks", "executorConfig": { "count": 10_000_000u64 } }]);
    let started = Instant::now();
    let err = host.fails(stage).await;
    println!(
        "10,000,000 tasks against max-tasks = 1000: refused after {:?}, peak RSS of the test process {} MiB",
        started.elapsed(),
        peak_rss_mib()
    );
    assert_names(
        &err,
        &["stage flood failed", "(mode few-tasks)", "enqueued task index 1000, past its limit max-tasks = 1000"],
    );
    host.still_serves().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn task_inputs_and_the_bytes_of_one_call_are_bounded() {
    let host = Host::new();
    let stage = json!([{ "name": "wide", "mode": "small-inputs", "executorConfig": { "count": 20 } }]);
    let err = host.fails(stage).await;
    assert_names(
        &err,
        &[
            "stage wide failed",
            "(mode small-inputs)",
            "task 10 with an input of 8 bytes, over its limit task-input-bytes = 7",
        ],
    );
    let stage = json!([{ "name": "heavy", "mode": "small-calls", "executorConfig": { "count": 50 } }]);
    let err = host.fails(stage).await;
    assert_names(
        &err,
        &["stage heavy failed", "(mode small-calls)", "in one call (at task 13), over its limit enqueue-bytes = 100"],
    );
    host.still_serves().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_10_mb_state_key_and_a_100_mb_state_value_are_refused() {
    let host = Host::new();
    let err = host.fails(handover(json!({ "state": { "key": "k", "keyRepeat": 10_000_000 }, "count": 1 }))).await;
    assert_names(
        &err,
        &[
            "stage records failed",
            "(mode handover)",
            "state key of 10000000 bytes, over the longest state key of 4096 bytes",
        ],
    );
    let err = host
        .fails(handover(json!({ "state": { "key": "big", "value": "v", "valueRepeat": 100_000_000 }, "count": 1 })))
        .await;
    assert_names(
        &err,
        &[
            "stage records failed",
            "state value of 100000000 bytes under key `big`, over its limit result-bytes = 16777216",
        ],
    );
    host.still_serves().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn half_a_million_state_keys_stop_at_state_keys_and_every_key_expires() {
    let host = Host::new();
    let started = Instant::now();
    let err = host.fails(handover(json!({ "state": { "key": "k", "n": 500_000 }, "count": 1 }))).await;
    println!("500,000 state writes against state-keys = 10000: refused after {:?}", started.elapsed());
    assert_names(
        &err,
        &[
            "stage records failed",
            "(mode handover)",
            "state quota exceeded: it holds 10000 keys, its limit state-keys = 10000",
        ],
    );
    if let Some(redis) = host.redis() {
        let pattern = format!("{}:state:mode:handover:*", redis.keys().prefix());
        let keys: Vec<String> =
            redis.with_connection(|c| redis::cmd("KEYS").arg(&pattern).query(c)).expect("the state keys are listed");
        assert_eq!(keys.len(), 10_000, "exactly state-keys keys were written");
        let mut pipe = redis::pipe();
        for k in &keys {
            pipe.cmd("PTTL").arg(k);
        }
        let ttls: Vec<i64> = redis.with_connection(|c| pipe.query(c)).expect("their expiries are read");
        let week_ms = 168 * 3_600_000;
        assert!(ttls.iter().all(|t| *t > 0 && *t <= week_ms), "every state key expires within state-ttl-hours");
    }
    host.still_serves().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_oversized_actor_result_fails_its_task() {
    let host = Host::new();
    let stage = json!([{ "name": "bulk", "mode": "single", "actor": "Bulky", "input": { "resultBytes": 20_000_000 } }]);
    let err = host.fails(stage).await;
    assert_names(
        &err,
        &[
            "stage bulk failed",
            "1 of 1 tasks failed",
            "(actor Bulky)",
            "result of 20000002 bytes, over its limit result-bytes = 16777216",
        ],
    );
    let ok = json!([{ "name": "small", "mode": "single", "actor": "Bulky", "input": { "resultBytes": 3 } }]);
    let report = host.run(ok).await.expect("a small result passes");
    assert_eq!(report.context["small"], Value::String("xxx".into()));
    host.still_serves().await;
}
