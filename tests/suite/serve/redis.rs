//! The API on Redis (the machine's redis-server, a key prefix per test): runs, events,
//! cancel and both retunings served by the server's own workers, and a run that outlives
//! its server on SIGTERM, left in Redis for `troupe resume`.

use super::server::{document_input, waiting, Server};
use super::tuning::{change_rate, raise_max_parallel};
use serde_json::{json, Value};
use std::process::Command;
use std::time::{Duration, Instant};
use troupe_tests::root;

/// The same API on Redis: runs, events, cancel and both retunings, served by the
/// server's own workers against the machine's redis-server.
#[test]
fn the_api_serves_runs_kept_in_redis() {
    let prefix = troupe_tests::unique_prefix("serve");
    let url = troupe_tests::test_redis_url();
    let server = Server::start(&["--redis", &url, "--redis-prefix", &prefix]);
    let (status, run) = server.post("/v1/runs", &json!({ "pipeline": "documents", "input": document_input() }));
    assert_eq!(status, 201, "{run}");
    let id = run["id"].as_str().unwrap().to_string();
    let events = server.events(&id);
    assert_eq!(events.last().unwrap().0, "run-ended", "{events:?}");
    let detail = server.wait(&id);
    assert_eq!(detail["status"], "succeeded", "{detail}");
    assert!(detail["stages"].as_array().unwrap().iter().all(|s| s["status"] == "succeeded"), "{detail}");
    assert_eq!(detail["outputs"]["consolidate"].as_array().map(Vec::len), Some(5), "{detail}");

    let (_, long) = server.post("/v1/runs", &waiting(60_000, 2));
    let long = long["id"].as_str().unwrap().to_string();
    let (status, cancelled) = server.post(&format!("/v1/runs/{long}/cancel"), &json!({}));
    assert_eq!(status, 202, "{cancelled}");
    assert_eq!(server.wait(&long)["status"], "cancelled");

    raise_max_parallel(&server);
    change_rate(&server);

    // The queue gauges read Redis's consumer groups: nothing waits now.
    let (status, text) = server.get("/metrics");
    assert_eq!(status, 200);
    let text = text.as_str().unwrap();
    assert!(text.contains("troupe_queue_depth{actor=\"FileProcessor\"} 0"), "{text}");
    assert!(
        text.contains("troupe_tasks_total{mode=\"rate-limited\",actor=\"Pass\",outcome=\"succeeded\"} 30"),
        "{text}"
    );
}

/// On Redis a run outlives its server: SIGTERM past the drain leaves it running in
/// Redis, and `troupe resume` carries it to its end.
#[test]
fn sigterm_on_redis_leaves_the_run_to_be_resumed() {
    let prefix = troupe_tests::unique_prefix("serve-term");
    let url = troupe_tests::test_redis_url();
    let mut server = Server::start(&["--drain-seconds", "0", "--redis", &url, "--redis-prefix", &prefix]);
    // A second stage: the server stops taking tasks on SIGTERM, so whatever the timing,
    // the run cannot end before the server does.
    let mut request = waiting(3_000, 2);
    request["pipeline"]["stages"]
        .as_array_mut()
        .unwrap()
        .push(json!({ "name": "then", "mode": "single", "actor": "Wait", "input": { "ms": 1 } }));
    let (status, run) = server.post("/v1/runs", &request);
    assert_eq!(status, 201, "{run}");
    let id = run["id"].as_str().unwrap().to_string();
    // The engine has it before the signal.
    let started = Instant::now();
    while server.get(&format!("/v1/runs/{id}")).1["stages"][0]["status"] != "running" {
        assert!(started.elapsed() < Duration::from_secs(30), "the run never started");
        std::thread::sleep(Duration::from_millis(20));
    }
    let pid = server.child.id().to_string();
    assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    let status = server.child.wait().unwrap();
    assert!(status.success(), "{status:?}");
    assert!(server.logs().iter().any(|l| l.contains("leaving 1 run(s) in Redis")), "{:?}", server.logs());
    let resumed = Command::new(root().join("target/release/troupe"))
        .current_dir(root())
        .args(["resume", &id, "--json", "--cache-dir", "target/test-cache", "--redis", &url, "--redis-prefix", &prefix])
        .output()
        .unwrap();
    assert!(resumed.status.success(), "{}", String::from_utf8_lossy(&resumed.stderr));
    let context: Value = serde_json::from_slice(&resumed.stdout).unwrap();
    assert_eq!(context["wait"].as_array().map(Vec::len), Some(2), "{context}");
    assert!(context["then"].is_object(), "the second stage ran on resume: {context}");
}
