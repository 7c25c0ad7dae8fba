//! Item 5: finite but extreme numbers a plugin hands the host. Before, `rateLimit:
//! 1e-300` panicked the embedded engine and left a Redis run "running" after a raw Lua
//! error; delays of u64::MAX hung for ever; `maxRetries: 1000000000` with delay 0 and a
//! hook answering `defer(0)`/`retry(0)` spun for ever. Now each ends with an error that
//! names the plugin, the option or verdict and the value, and the host serves on.

use super::task_records::{handover, Host};
use serde_json::json;
use std::time::Instant;

fn assert_names(err: &str, parts: &[&str]) {
    for part in parts {
        assert!(err.contains(part), "the error should contain {part:?}:\n{err}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn rate_limit_1e_300_fails_the_stage_instead_of_panicking() {
    let host = Host::new();
    let stage = json!([{ "name": "slow", "mode": "handover",
        "executorConfig": { "rateLimit": 1e-300, "tasks": [{ "index": 0 }] } }]);
    let err = host.fails(stage).await;
    assert_names(
        &err,
        &[
            "stage slow failed",
            "(mode handover)",
            "rate-limit.per-second = 1e-300 is out of bounds",
            "0.001 to 1000000",
        ],
    );
    host.still_serves().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_rate_limited_plugin_with_rate_1e_300_fails_its_stage() {
    let host = Host::new();
    let stages = json!([
        { "name": "items", "mode": "single", "actor": "Pass", "input": { "items": [1, 2] } },
        { "name": "slow", "mode": "rate-limited", "actor": "Pass",
          "scatter": { "input": "$.items.items", "as": "item" }, "executorConfig": { "rateLimit": 1e-300 } }
    ]);
    let err = host.fails(stages).await;
    assert_names(
        &err,
        &["stage slow failed", "(mode rate-limited)", "rate-limit.per-second = 1e-300 is out of bounds"],
    );
    host.still_serves().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_enqueue_delay_of_u64_max_fails_the_stage() {
    let host = Host::new();
    let err = host.fails(handover(json!({ "delayMs": u64::MAX, "tasks": [{ "index": 0 }] }))).await;
    assert_names(
        &err,
        &[
            "stage records failed",
            "(mode handover)",
            "delay-ms = 18446744073709551615 is over its limit max-delay-ms = 86400000",
        ],
    );
    host.still_serves().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn max_retries_1e9_with_delay_0_ends_at_the_attempt_cap() {
    let host = Host::new();
    let stage = json!([{ "name": "again", "mode": "retry", "actor": "Fail", "input": {},
        "executorConfig": { "maxRetries": 1_000_000_000u64, "baseDelayMs": 0, "maxDelayMs": 0 } }]);
    let started = Instant::now();
    let err = host.fails(stage).await;
    println!("maxRetries 1e9, delay 0: ended after {:?} (100 tries, 10 ms floor between them)", started.elapsed());
    assert_names(
        &err,
        &[
            "stage again failed",
            "after-task of mode retry refused",
            "after 100 attempts, its limit task-attempts = 100",
        ],
    );
    host.still_serves().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_retry_delay_of_u64_max_fails_the_task() {
    let host = Host::new();
    let stage = json!([{ "name": "later", "mode": "retry", "actor": "Fail", "input": {},
        "executorConfig": { "baseDelayMs": u64::MAX, "maxDelayMs": u64::MAX } }]);
    let err = host.fails(stage).await;
    assert_names(
        &err,
        &[
            "stage later failed",
            "after-task of mode retry refused: retry(18446744073709551615)",
            "max-delay-ms = 86400000",
        ],
    );
    host.still_serves().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn hooks_answering_defer_0_or_retry_0_for_ever_end_with_an_error() {
    let host = Host::new();
    let started = Instant::now();
    let err = host.fails(handover(json!({ "defer": 0, "tasks": [{ "index": 0 }] }))).await;
    println!("defer(0) for ever: ended after {:?} (20 deferrals)", started.elapsed());
    assert_names(
        &err,
        &[
            "stage records failed",
            "before-task of mode handover refused",
            "deferred task 0 21 times, its limit task-deferrals = 20",
        ],
    );
    let started = Instant::now();
    let err = host.fails(handover(json!({ "retry": 0, "tasks": [{ "index": 0 }] }))).await;
    println!("retry(0) for ever: ended after {:?} (20 attempts)", started.elapsed());
    assert_names(
        &err,
        &[
            "stage records failed",
            "after-task of mode handover refused",
            "after 20 attempts, its limit task-attempts = 20",
        ],
    );
    host.still_serves().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn defer_u64_max_fails_the_task_instead_of_parking_it() {
    let host = Host::new();
    let err = host.fails(handover(json!({ "defer": u64::MAX, "tasks": [{ "index": 0 }] }))).await;
    assert_names(
        &err,
        &[
            "stage records failed",
            "before-task of mode handover refused: defer(18446744073709551615)",
            "max-delay-ms = 86400000",
        ],
    );
    host.still_serves().await;
}
