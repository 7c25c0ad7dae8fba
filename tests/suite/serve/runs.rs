//! A run's life through the API: submit (named and inline, idempotent), list with filters
//! and pages, get, the per-run event stream to its end, a failed task's error, cancel,
//! retention, 50 concurrent runs, and shutdown on SIGTERM cancelling what outlives the
//! drain.

use super::server::{document_input, waiting, Server};
use serde_json::{json, Value};
use std::process::Command;
use std::time::{Duration, Instant};

#[test]
fn a_named_pipeline_runs_and_its_events_stream_to_the_end() {
    let server = Server::start(&[]);
    let (status, run) = server.post("/v1/runs", &json!({ "pipeline": "documents", "input": document_input() }));
    assert_eq!(status, 201, "{run}");
    let id = run["id"].as_str().unwrap().to_string();
    assert_eq!(run["pipeline"], "document-processing");
    assert_eq!(run["stages"].as_array().unwrap().len(), 4);

    let events = server.events(&id);
    let names: Vec<&str> = events.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names.first(), Some(&"snapshot"), "{names:?}");
    assert_eq!(names.last(), Some(&"run-ended"), "{names:?}");
    let (_, ended) = events.last().unwrap();
    assert_eq!(ended["status"], "succeeded");
    // A snapshot of a run already ended stands alone; a live one is followed by the rest:
    // each stage ended before the client listened (the snapshot says so) or after (its
    // `stage-ended` event).
    let snapshot = &events[0].1;
    if snapshot["status"] == "running" {
        for (i, stage) in ["process-files", "consolidate", "notify-all", "parallel-processing"].iter().enumerate() {
            let before = snapshot["stages"][i]["status"] == "succeeded";
            let after =
                events.iter().any(|(n, d)| n == "stage-ended" && d["stage"] == *stage && d["succeeded"] == true);
            assert!(before || after, "no stage-ended for {stage}: {names:?}");
        }
    }

    let detail = server.wait(&id);
    assert_eq!(detail["status"], "succeeded");
    assert_eq!(detail["input"], document_input());
    assert_eq!(detail["outputs"]["notify-all"]["EmailNotifier"]["subject"], "Documents processed: 7 pages");
    let counts = &detail["stages"][0]["counts"];
    assert_eq!((counts["expected"].as_u64(), counts["succeeded"].as_u64()), (Some(7), Some(7)), "{detail}");
    assert!(detail["stages"].as_array().unwrap().iter().all(|s| s["status"] == "succeeded"), "{detail}");
    let plugins = detail["plugins"].as_array().unwrap();
    for (role, name) in [("mode", "scatter"), ("mode", "fork-join"), ("actor", "FileProcessor")] {
        let used = plugins.iter().find(|p| p["role"] == role && p["name"] == name);
        let sha = used.and_then(|p| p["sha256"].as_str()).unwrap_or_else(|| panic!("{role} {name}: {plugins:?}"));
        assert_eq!(sha.len(), 64);
    }

    // The WDL program of the same pipeline, by its own name.
    let (status, run) = server.post("/v1/runs", &json!({ "pipeline": "documents-wdl", "input": document_input() }));
    assert_eq!(status, 201, "{run}");
    let wdl = server.wait(run["id"].as_str().unwrap());
    assert_eq!(wdl["outputs"], detail["outputs"]);
}

#[test]
fn runs_are_listed_newest_first_filtered_and_paged() {
    let server = Server::start(&[]);
    let ok = json!({ "pipeline": [{ "name": "one", "mode": "single", "actor": "Pass", "input": "$.trigger" }], "input": { "n": 1 } });
    let bad = json!({ "pipeline": { "name": "failing", "stages": [{ "name": "one", "mode": "single", "actor": "Fail",
        "input": { "message": "no" } }] } });
    let mut ids = Vec::new();
    for request in [&ok, &bad, &ok] {
        let (status, run) = server.post("/v1/runs", request);
        assert_eq!(status, 201, "{run}");
        let id = run["id"].as_str().unwrap().to_string();
        server.wait(&id);
        ids.push(id);
    }
    let listed = |query: &str| -> Vec<String> {
        let (status, page) = server.get(&format!("/v1/runs{query}"));
        assert_eq!(status, 200, "{page}");
        page["runs"].as_array().unwrap().iter().map(|r| r["id"].as_str().unwrap().to_string()).collect()
    };
    assert_eq!(listed(""), [ids[2].clone(), ids[1].clone(), ids[0].clone()]);
    assert_eq!(listed("?status=failed"), [ids[1].clone()]);
    assert_eq!(listed("?status=succeeded"), [ids[2].clone(), ids[0].clone()]);
    assert_eq!(listed("?pipeline=failing"), [ids[1].clone()]);

    let (_, first) = server.get("/v1/runs?limit=2");
    assert_eq!(first["runs"].as_array().unwrap().len(), 2);
    let next = first["next"].as_str().unwrap();
    assert_eq!(next, ids[1]);
    let (_, second) = server.get(&format!("/v1/runs?limit=2&after={next}"));
    assert_eq!(second["runs"][0]["id"], ids[0].as_str());
    assert!(second["next"].is_null(), "{second}");

    let (status, problem) = server.get("/v1/runs?status=done");
    assert_eq!(status, 400);
    assert_eq!(problem["errors"][0]["pointer"], "?status");
    assert_eq!(problem["detail"], "unknown status `done`: use running, succeeded, failed or cancelled");
}

#[test]
fn a_failed_task_is_reported_with_its_error_and_attempts() {
    let server = Server::start(&[]);
    let request = json!({ "pipeline": { "name": "failing", "stages": [{ "name": "each", "mode": "scatter", "actor": "Fail",
        "scatter": { "input": "$.trigger.items", "as": "item" }, "input": { "message": "item $.item is bad" } }] },
        "input": { "items": [1, 2] } });
    let (status, run) = server.post("/v1/runs", &request);
    assert_eq!(status, 201, "{run}");
    let id = run["id"].as_str().unwrap();
    let events = server.events(id);
    let detail = server.wait(id);
    assert_eq!(detail["status"], "failed");
    let error = detail["error"].as_str().unwrap();
    assert!(error.contains("stage each failed: 2 of 2 tasks failed"), "{error}");
    let failed = detail["failedTasks"].as_array().unwrap();
    assert_eq!(failed.len(), 2, "{detail}");
    assert_eq!(failed[0]["actor"], "Fail");
    assert_eq!(failed[0]["attempts"], 1);
    assert!(failed[0]["error"].as_str().unwrap().contains("item $.item is bad"), "{failed:?}");
    if events[0].1["status"] == "running" {
        let reported: Vec<&Value> = events.iter().filter(|(n, _)| n == "task-failed").map(|(_, d)| d).collect();
        assert_eq!(reported.len(), 2, "{events:?}");
        assert!(reported.iter().all(|d| d["stage"] == "each" && d["actor"] == "Fail"), "{reported:?}");
    }
    let (_, ended) = events.last().unwrap();
    assert_eq!(ended["status"], "failed");
}

#[test]
fn the_same_idempotency_key_returns_the_same_run() {
    let server = Server::start(&[]);
    let request = json!({ "pipeline": "documents", "input": document_input(), "idempotencyKey": "order-42" });
    let (first, run) = server.post("/v1/runs", &request);
    assert_eq!(first, 201, "{run}");
    let (again, same) = server.post("/v1/runs", &request);
    assert_eq!(again, 200, "{same}");
    assert_eq!(same["id"], run["id"]);
    assert_eq!(same["idempotencyKey"], "order-42");

    // The header works the same; a key reused for another request is a conflict.
    let no_key = json!({ "pipeline": "documents", "input": document_input() });
    let (status, by_header) = server.post_with("/v1/runs", &no_key, &[("idempotency-key", "order-42")]);
    assert_eq!((status, &by_header["id"]), (200, &run["id"]));
    let other =
        json!({ "pipeline": "documents", "input": { "files": [] , "notify": {} }, "idempotencyKey": "order-42" });
    let (status, problem) = server.post("/v1/runs", &other);
    assert_eq!(status, 409, "{problem}");
    assert_eq!(problem["type"], "urn:troupe:problem:idempotency-key-reused");
    let (status, problem) = server.post("/v1/runs", &json!({ "pipeline": "documents", "idempotencyKey": "no spaces" }));
    assert_eq!(status, 400, "{problem}");
    assert_eq!(problem["errors"][0]["pointer"], "/idempotencyKey");

    let (_, page) = server.get("/v1/runs");
    assert_eq!(page["runs"].as_array().unwrap().len(), 1, "one run for one key: {page}");
}

#[test]
fn a_long_run_is_cancelled() {
    let server = Server::start(&[]);
    let (status, run) = server.post("/v1/runs", &waiting(60_000, 3));
    assert_eq!(status, 201, "{run}");
    let id = run["id"].as_str().unwrap();
    let (status, cancelled) = server.post(&format!("/v1/runs/{id}/cancel"), &json!({}));
    assert_eq!(status, 202, "{cancelled}");
    let detail = server.wait(id);
    assert_eq!(detail["status"], "cancelled", "{detail}");
    assert_eq!(detail["error"], "cancelled through the API");
    let (status, problem) = server.post(&format!("/v1/runs/{id}/cancel"), &json!({}));
    assert_eq!(status, 409, "{problem}");
    assert_eq!(problem["detail"], format!("run {id} already ended: it was cancelled"));
    let (status, problem) = server.post("/v1/runs/run-nope/cancel", &json!({}));
    assert_eq!(status, 404, "{problem}");
}

#[test]
fn fifty_concurrent_runs_all_finish() {
    let server = Server::start(&[]);
    let request = json!({ "pipeline": { "name": "fan", "stages": [
        { "name": "each", "mode": "scatter", "actor": "Pass", "scatter": { "input": "$.trigger.items", "as": "item" },
          "input": { "n": "$.item" } },
        { "name": "all", "mode": "gather", "actor": "Pass", "gather": { "stage": "each" }, "input": "$.group" } ] },
        "input": { "items": (0..20).collect::<Vec<u32>>() } });
    let ids: Vec<String> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..50)
            .map(|_| {
                scope.spawn(|| {
                    let (status, run) = server.post("/v1/runs", &request);
                    assert_eq!(status, 201, "{run}");
                    run["id"].as_str().unwrap().to_string()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for id in &ids {
        let run = server.wait(id);
        assert_eq!(run["status"], "succeeded", "{run}");
        assert_eq!(run["outputs"]["all"]["items"].as_array().map(Vec::len), Some(20), "{run}");
    }
    let (_, page) = server.get("/v1/runs?status=succeeded&limit=500");
    assert_eq!(page["runs"].as_array().unwrap().len(), 50);
}

#[test]
fn ended_runs_are_forgotten_after_the_retention() {
    let server = Server::start(&["--retain-minutes", "0"]);
    let (_, run) = server
        .post("/v1/runs", &json!({ "pipeline": [{ "name": "one", "mode": "single", "actor": "Pass", "input": {} }] }));
    let id = run["id"].as_str().unwrap();
    let started = Instant::now();
    loop {
        let (status, _) = server.get(&format!("/v1/runs/{id}"));
        if status == 404 {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(30), "run {id} is still kept");
        std::thread::sleep(Duration::from_millis(200));
    }
    let (_, page) = server.get("/v1/runs");
    assert_eq!(page["runs"], json!([]));
}

#[test]
fn sigterm_stops_accepting_and_cancels_what_outlives_the_drain() {
    let mut server = Server::start(&["--drain-seconds", "1"]);
    let (status, run) = server.post("/v1/runs", &waiting(60_000, 2));
    assert_eq!(status, 201, "{run}");
    let started = Instant::now();
    let pid = server.child.id().to_string();
    assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    let status = loop {
        if let Some(status) = server.child.try_wait().unwrap() {
            break status;
        }
        assert!(started.elapsed() < Duration::from_secs(30), "troupe serve did not stop on SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "{status:?}");
}
