//! Retuning a running stage (`PATCH /v1/runs/{id}/stages/{stage}`): its `maxParallel`
//! raised (the engine's `maxInFlight` shows it) and its rate changed (its waiting tasks
//! re-timed at once), each seen as a `stage-retuned` event on the all-runs stream. The
//! Redis suite runs the same two checks on its own server.

use super::server::Server;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

#[test]
fn a_running_stages_max_parallel_is_raised_and_the_engine_counts_it() {
    raise_max_parallel(&Server::start(&[]));
}

#[test]
fn a_running_stages_rate_is_changed_and_its_waiting_tasks_are_retimed() {
    change_rate(&Server::start(&[]));
}

/// Wait until stage `stage` of run `id` runs and its executor has enqueued `expected` tasks.
fn until_enqueued(server: &Server, id: &str, expected: u64) {
    let started = Instant::now();
    loop {
        let (_, detail) = server.get(&format!("/v1/runs/{id}"));
        if detail["stages"][0]["status"] == "running" && detail["stages"][0]["counts"]["expected"] == expected {
            return;
        }
        assert!(started.elapsed() < Duration::from_secs(60), "the stage never ran: {detail}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The run's events on `received` up to its `run-ended`.
fn events_until_ended(received: &std::sync::mpsc::Receiver<(String, Value)>, id: &str) -> Vec<(String, Value)> {
    let mut events = Vec::new();
    while !events.iter().any(|(n, d): &(String, Value)| n == "run-ended" && d["runId"] == id) {
        events.push(received.recv_timeout(Duration::from_secs(60)).expect("the run's events end"));
    }
    events
}

pub(super) fn raise_max_parallel(server: &Server) {
    let request = json!({ "pipeline": { "name": "slow", "stages": [{ "name": "wait", "mode": "scatter", "actor": "Wait",
        "scatter": { "input": "$.trigger.items", "as": "item" }, "input": { "ms": 200 },
        "executorConfig": { "maxParallel": 1 } }] }, "input": { "items": vec![1; 12] } });
    // Every run's events, subscribed before the run exists, read until this run ends.
    let received = server.all_events();
    let (status, run) = server.post("/v1/runs", &request);
    assert_eq!(status, 201, "{run}");
    let id = run["id"].as_str().unwrap();
    // Wait for the stage to run (one task at a time), then raise its limit.
    until_enqueued(server, id, 12);
    let (status, stage) = server.patch(&format!("/v1/runs/{id}/stages/wait"), &json!({ "maxParallel": 6 }));
    assert_eq!(status, 200, "{stage}");
    assert_eq!(stage["name"], "wait");
    let (status, problem) = server.patch(&format!("/v1/runs/{id}/stages/wait"), &json!({ "maxParallel": 0 }));
    assert_eq!((status, problem["errors"][0]["pointer"].as_str()), (400, Some("/maxParallel")));
    let (status, problem) =
        server.patch(&format!("/v1/runs/{id}/stages/wait"), &json!({ "rate": { "perSecond": -1 } }));
    assert_eq!((status, problem["errors"][0]["pointer"].as_str()), (400, Some("/rate/perSecond")), "{problem}");

    let detail = server.wait(id);
    assert_eq!(detail["status"], "succeeded", "{detail}");
    let counts = &detail["stages"][0]["counts"];
    let most = counts["maxInFlight"].as_u64().unwrap();
    assert!(most > 1 && most <= 6, "the engine ran at most 1 task at once before, up to 6 after: {counts}");
    let events = events_until_ended(&received, id);
    let retuned: Vec<&Value> = events.iter().filter(|(n, _)| n == "stage-retuned").map(|(_, d)| d).collect();
    assert_eq!(retuned.len(), 1, "{events:?}");
    assert_eq!(
        (&retuned[0]["runId"], &retuned[0]["stage"], &retuned[0]["maxParallel"], &retuned[0]["rate"]),
        (&json!(id), &json!("wait"), &json!(6), &Value::Null)
    );
    let (status, problem) = server.patch(&format!("/v1/runs/{id}/stages/wait"), &json!({ "maxParallel": 2 }));
    assert_eq!(status, 409, "{problem}");
    assert_eq!(problem["type"], "urn:troupe:problem:stage-not-running");
}

/// A stage paced at one task every 10 s (30 tasks: 5 minutes) is sped up to 100 a
/// second: its waiting tasks are re-timed at once, and the run ends long before the old
/// rate could have ended it (the test's wait gives up after 2 minutes).
pub(super) fn change_rate(server: &Server) {
    let request = json!({ "pipeline": { "name": "paced", "stages": [{ "name": "paced", "mode": "rate-limited",
        "actor": "Pass", "scatter": { "input": "$.trigger.items", "as": "item" }, "input": { "n": "$.item" },
        "executorConfig": { "rateLimit": 0.1 } }] }, "input": { "items": (0..30).collect::<Vec<u32>>() } });
    let received = server.all_events();
    let (status, run) = server.post("/v1/runs", &request);
    assert_eq!(status, 201, "{run}");
    let id = run["id"].as_str().unwrap();
    until_enqueued(server, id, 30);
    let rate = json!({ "perSecond": 100.0, "burst": 5 });
    let (status, stage) = server.patch(&format!("/v1/runs/{id}/stages/paced"), &json!({ "rate": rate }));
    assert_eq!(status, 200, "{stage}");
    let detail = server.wait(id);
    assert_eq!(detail["status"], "succeeded", "{detail}");
    assert_eq!(detail["stages"][0]["counts"]["succeeded"], 30, "{detail}");
    let events = events_until_ended(&received, id);
    let retuned = events.iter().find(|(n, _)| n == "stage-retuned").map(|(_, d)| d).expect("a stage-retuned event");
    assert_eq!(retuned["rate"], rate, "{retuned}");
    assert_eq!(retuned["maxParallel"], Value::Null, "{retuned}");
    let retimed = retuned["retimed"].as_u64().unwrap();
    assert!(retimed >= 25, "the waiting first tries were re-timed (at most a few had their turn): {retuned}");
}
