//! `troupe serve` over real HTTP: the binary started on port 0 with the default manifest
//! and a folder of named pipelines, driven with a plain HTTP client as an application
//! would: submit (named and inline, idempotent), list with filters and pages, get, the
//! per-run and all-runs event streams, cancel, validate, problem documents naming the
//! field, the bearer token, retention, 50 concurrent runs, shutdown on SIGTERM, and the
//! OpenAPI document kept identical to `docs/openapi.json`.

use serde_json::{json, Value};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use troupe_tests::{assert_golden, root};

/// A `troupe serve` process, killed when dropped.
pub(crate) struct Server {
    child: Child,
    pub(crate) base: String,
    token: Option<String>,
    pub(crate) agent: ureq::Agent,
    /// Every line the server wrote on stderr after it listened.
    logs: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
    _pipelines: tempfile::TempDir,
}

impl Server {
    pub(crate) fn start(extra: &[&str]) -> Server {
        Server::start_with(extra, None)
    }

    pub(crate) fn start_with(extra: &[&str], token: Option<&str>) -> Server {
        let pipelines = tempfile::tempdir().unwrap();
        std::fs::copy(
            root().join("examples/document-processing/pipeline.json"),
            pipelines.path().join("documents.json"),
        )
        .unwrap();
        std::fs::copy(
            root().join("examples/document-processing/pipeline.wdl"),
            pipelines.path().join("documents-wdl.wdl"),
        )
        .unwrap();
        let mut cmd = Command::new(root().join("target/release/troupe"));
        cmd.current_dir(root())
            .args(["serve", "--listen", "127.0.0.1:0", "--cache-dir", "target/test-cache", "--pipelines"])
            .arg(pipelines.path())
            .args(extra)
            .env_remove("TROUPE_REDIS")
            .env_remove("TROUPE_TOKEN")
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        if let Some(token) = token {
            cmd.env("TROUPE_TOKEN", token);
        }
        let mut child = cmd.spawn().unwrap();
        let mut stderr = BufReader::new(child.stderr.take().unwrap());
        let mut seen = String::new();
        let base = loop {
            let mut line = String::new();
            if stderr.read_line(&mut line).unwrap_or(0) == 0 {
                let _ = child.kill();
                panic!("troupe serve ended before listening:\n{seen}");
            }
            seen.push_str(&line);
            if let Some(rest) = line.split("listening on ").nth(1) {
                break rest.split_whitespace().next().unwrap().to_string();
            }
        };
        // Keep draining stderr so the server never blocks on a full pipe.
        let logs = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let kept = logs.clone();
        std::thread::spawn(move || {
            for line in stderr.lines().map_while(Result::ok) {
                kept.lock().unwrap().push(line);
            }
        });
        // A fresh connection per request: a pooled one the server has just closed fails the
        // next request with "Peer disconnected" (seen under load), which is not the API's doing.
        let agent =
            ureq::Agent::config_builder().http_status_as_error(false).max_idle_connections_per_host(0).build().into();
        Server { child, base, token: token.map(str::to_string), agent, logs, _pipelines: pipelines }
    }

    /// The server's stderr so far, a line each.
    pub(crate) fn logs(&self) -> Vec<String> {
        self.logs.lock().unwrap().clone()
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub(crate) fn get(&self, path: &str) -> (u16, Value) {
        let mut request = self.agent.get(&self.url(path));
        if let Some(t) = &self.token {
            request = request.header("authorization", &format!("Bearer {t}"));
        }
        let mut response =
            request.call().unwrap_or_else(|e| panic!("GET {path}: {e}; the server said:\n{}", self.logs().join("\n")));
        let status = response.status().as_u16();
        let text = response.body_mut().read_to_string().unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
    }

    pub(crate) fn post(&self, path: &str, body: &Value) -> (u16, Value) {
        self.post_with(path, body, &[])
    }

    pub(crate) fn post_with(&self, path: &str, body: &Value, headers: &[(&str, &str)]) -> (u16, Value) {
        let mut request = self.agent.post(&self.url(path));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        self.send_json(request, path, body)
    }

    /// Send `body` as JSON with the token; the status and the reply (JSON, else text).
    fn send_json(
        &self,
        request: ureq::RequestBuilder<ureq::typestate::WithBody>,
        path: &str,
        body: &Value,
    ) -> (u16, Value) {
        let mut request = request.header("content-type", "application/json");
        if let Some(t) = &self.token {
            request = request.header("authorization", &format!("Bearer {t}"));
        }
        let mut response = request
            .send(body.to_string())
            .unwrap_or_else(|e| panic!("{path}: {e}; the server said:\n{}", self.logs().join("\n")));
        let status = response.status().as_u16();
        let text = response.body_mut().read_to_string().unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
    }

    /// The run's events until its stream ends: (event name, data) pairs.
    pub(crate) fn events(&self, run_id: &str) -> Vec<(String, Value)> {
        let response = self.agent.get(&self.url(&format!("/v1/runs/{run_id}/events"))).call().unwrap();
        assert_eq!(response.status().as_u16(), 200);
        let reader = BufReader::new(response.into_body().into_reader());
        let mut events = Vec::new();
        let mut name = String::new();
        for line in reader.lines() {
            let line = line.unwrap();
            if let Some(n) = line.strip_prefix("event: ") {
                name = n.to_string();
            } else if let Some(data) = line.strip_prefix("data: ") {
                events.push((name.clone(), serde_json::from_str(data).unwrap()));
            }
        }
        events
    }

    pub(crate) fn patch(&self, path: &str, body: &Value) -> (u16, Value) {
        self.send_json(self.agent.patch(&self.url(path)), path, body)
    }

    /// Every run's events from now on (subscribed when this returns: the reply's headers
    /// come after the subscription), as (event name, data) pairs.
    pub(crate) fn all_events(&self) -> std::sync::mpsc::Receiver<(String, Value)> {
        let all = self.agent.get(&self.url("/v1/events")).call().unwrap();
        let (sender, received) = std::sync::mpsc::channel::<(String, Value)>();
        std::thread::spawn(move || {
            let mut name = String::new();
            for line in BufReader::new(all.into_body().into_reader()).lines() {
                let Ok(line) = line else { return };
                if let Some(n) = line.strip_prefix("event: ") {
                    name = n.to_string();
                } else if let Some(data) = line.strip_prefix("data: ") {
                    if sender.send((name.clone(), serde_json::from_str(data).unwrap())).is_err() {
                        return;
                    }
                }
            }
        });
        received
    }

    /// Poll the run until it ended; its detail.
    pub(crate) fn wait(&self, run_id: &str) -> Value {
        let started = Instant::now();
        loop {
            let (status, run) = self.get(&format!("/v1/runs/{run_id}"));
            assert_eq!(status, 200, "{run}");
            if run["status"] != "running" {
                return run;
            }
            assert!(started.elapsed() < Duration::from_secs(120), "run {run_id} did not end: {run}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn document_input() -> Value {
    serde_json::from_str(&std::fs::read_to_string(root().join("examples/document-processing/input.json")).unwrap())
        .unwrap()
}

/// A run of `tasks` `Wait` tasks that take `ms` each.
fn waiting(ms: u64, tasks: usize) -> Value {
    json!({ "pipeline": { "name": "waiting", "stages": [{ "name": "wait", "mode": "scatter", "actor": "Wait",
        "scatter": { "input": "$.trigger.items", "as": "item" }, "input": { "ms": ms } }] },
        "input": { "items": vec![1; tasks] } })
}

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
fn problems_name_the_field_that_is_wrong() {
    let server = Server::start(&[]);
    let (status, problem) = server.post(
        "/v1/runs",
        &json!({ "pipeline": { "stages": [{ "name": "a", "mode": "scater", "actor": "Pass", "input": "$.trigger" },
                                           { "name": "b", "mode": "single", "actor": "Pas", "input": "$.a" }] } }),
    );
    assert_eq!(status, 422, "{problem}");
    assert_eq!(problem["type"], "urn:troupe:problem:invalid-pipeline");
    assert_eq!(problem["detail"], "the pipeline `inline` has 2 problems; nothing ran");
    let errors = problem["errors"].as_array().unwrap();
    assert_eq!(errors[0]["pointer"], "/pipeline/stages/0/mode");
    assert_eq!(errors[0]["stage"], "a");
    assert!(errors[0]["message"].as_str().unwrap().starts_with("mode: unknown mode `scater`"), "{errors:?}");
    assert_eq!(errors[1]["pointer"], "/pipeline/stages/1/actor");
    assert!(errors[1]["message"].as_str().unwrap().contains("did you mean `Pass`?"), "{errors:?}");

    let (status, problem) = server.post("/v1/runs", &json!({ "pipeline": "nope" }));
    assert_eq!(status, 404);
    assert_eq!(problem["detail"], "no pipeline named `nope`; the server has: documents, documents-wdl");
    assert_eq!(problem["errors"][0]["pointer"], "/pipeline");

    let (status, problem) = server.post("/v1/runs", &json!({ "pipeline": "documents", "idempotencyKey": 7 }));
    assert_eq!(status, 400, "{problem}");
    assert_eq!(problem["errors"][0]["pointer"], "/idempotencyKey");
    let (status, problem) = server.post("/v1/runs", &json!({ "pipline": "documents" }));
    assert_eq!(status, 400, "{problem}");
    assert!(problem["detail"].as_str().unwrap().contains("unknown field `pipline`"), "{problem}");

    let mut response = server
        .agent
        .post(&server.url("/v1/runs"))
        .header("content-type", "text/plain")
        .send("pipeline=documents")
        .unwrap();
    assert_eq!(response.status().as_u16(), 415);
    assert_eq!(response.headers()["content-type"], "application/problem+json");
    let body: Value = serde_json::from_str(&response.body_mut().read_to_string().unwrap()).unwrap();
    assert_eq!(body["status"], 415);

    let (status, problem) = server.get("/v1/nothing-here");
    assert_eq!((status, problem["type"].as_str()), (404, Some("urn:troupe:problem:not-found")));
    let (status, problem) = server.get("/v1/runs/run-unknown");
    assert_eq!(status, 404);
    assert!(problem["detail"].as_str().unwrap().starts_with("no run `run-unknown` on this server"), "{problem}");
}

#[test]
fn validate_says_every_problem_without_running() {
    let server = Server::start(&[]);
    let (status, ok) = server.post("/v1/validate", &json!({ "pipeline": "documents" }));
    assert_eq!((status, &ok), (200, &json!({ "valid": true, "problems": [] })));
    let (status, bad) = server.post(
        "/v1/validate",
        &json!({ "pipeline": [{ "name": "g", "mode": "gather", "actor": "Pass", "gather": { "stage": "later" } }] }),
    );
    assert_eq!(status, 200, "{bad}");
    assert_eq!(bad["valid"], false);
    assert_eq!(bad["problems"][0]["pointer"], "/pipeline/stages/0/gather");
    let (_, page) = server.get("/v1/runs");
    assert_eq!(page["runs"], json!([]), "validation runs nothing");
}

#[test]
fn the_catalogue_lists_pipelines_and_plugins() {
    let server = Server::start(&[]);
    let (status, pipelines) = server.get("/v1/pipelines");
    assert_eq!(status, 200);
    assert_eq!(pipelines[0]["name"], "documents");
    assert_eq!(pipelines[0]["modes"], json!(["broadcast", "fork-join", "gather", "scatter"]));
    let (_, plugins) = server.get("/v1/plugins");
    let find = |role: &str, name: &str| -> Value {
        plugins["plugins"].as_array().unwrap().iter().find(|p| p["role"] == role && p["name"] == name).cloned().unwrap()
    };
    assert_eq!(plugins["error"], Value::Null, "{plugins}");
    assert_eq!(plugins["olderSetsInUse"], 0, "{plugins}");
    assert_eq!(find("mode", "scatter")["witVersion"], "0.2.0");
    assert_eq!(find("actor", "Wait")["kind"], "builtin");
    assert_eq!(find("actor", "FetchJson")["allowHttp"], json!([]));
}

#[test]
fn a_token_guards_every_operation_but_the_health_check() {
    let token = "a-test-token-of-some-length";
    let server = Server::start_with(&[], Some(token));
    let mut anonymous = server.agent.get(&server.url("/v1/runs")).call().unwrap();
    assert_eq!(anonymous.status().as_u16(), 401);
    assert_eq!(anonymous.headers()["www-authenticate"], "Bearer");
    let body: Value = serde_json::from_str(&anonymous.body_mut().read_to_string().unwrap()).unwrap();
    assert_eq!(body["type"], "urn:troupe:problem:unauthorized");
    let wrong = server.agent.get(&server.url("/v1/runs")).header("authorization", "Bearer wrong").call().unwrap();
    assert_eq!(wrong.status().as_u16(), 401);
    let health = server.agent.get(&server.url("/v1/health")).call().unwrap();
    assert_eq!(health.status().as_u16(), 200);
    let (status, _) = server.get("/v1/runs");
    assert_eq!(status, 200, "with the token");

    // Beyond loopback without a token, the server refuses to start.
    let out = Command::new(root().join("target/release/troupe"))
        .current_dir(root())
        .args(["serve", "--listen", "0.0.0.0:0"])
        .env_remove("TROUPE_TOKEN")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("refusing to listen on 0.0.0.0:0 without a token"), "{stderr}");
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

#[test]
fn the_openapi_document_is_served_and_checked_in() {
    let generated = troupe::serve::openapi_document();
    assert_golden(Path::new(&root().join("docs/openapi.json")), &generated);
    let server = Server::start(&[]);
    let (status, served) = server.get("/v1/openapi.json");
    assert_eq!(status, 200);
    assert_eq!(served, serde_json::from_str::<Value>(&generated).unwrap());
    for path in
        ["/v1/runs", "/v1/runs/{id}", "/v1/runs/{id}/cancel", "/v1/runs/{id}/events", "/v1/events", "/v1/validate"]
    {
        assert!(served["paths"].get(path).is_some(), "{path} is not documented");
    }
}

#[test]
fn troupe_run_with_server_submits_and_follows_the_run() {
    let server = Server::start(&[]);
    let run = |args: &[&str]| {
        Command::new(root().join("target/release/troupe"))
            .current_dir(root())
            .arg("run")
            .args(args)
            .args(["--server", &server.base])
            .env_remove("TROUPE_TOKEN")
            .output()
            .unwrap()
    };
    let example = "examples/document-processing";
    let remote = run(&[&format!("{example}/pipeline.wdl"), "--input", &format!("{example}/input.json"), "--json"]);
    let stderr = String::from_utf8_lossy(&remote.stderr);
    assert!(remote.status.success(), "{stderr}");
    let local = Command::new(root().join("target/release/troupe"))
        .current_dir(root())
        .args(["run", &format!("{example}/pipeline.json"), "--input", &format!("{example}/input.json"), "--json"])
        .args(["--cache-dir", "target/test-cache"])
        .output()
        .unwrap();
    assert!(local.status.success());
    let remote: Value = serde_json::from_slice(&remote.stdout).unwrap();
    let local: Value = serde_json::from_slice(&local.stdout).unwrap();
    assert_eq!(remote, local, "the same context, run on the server");
    assert!(stderr.contains("process-files"), "progress is drawn: {stderr}");

    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, r#"[{ "name": "a", "mode": "scater", "actor": "Pass", "input": {} }]"#).unwrap();
    let invalid = run(&[bad.to_str().unwrap()]);
    assert_eq!(invalid.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&invalid.stderr);
    assert!(stderr.contains("stage a: mode: unknown mode `scater`"), "{stderr}");

    let failing = dir.path().join("failing.json");
    std::fs::write(&failing, r#"[{ "name": "a", "mode": "single", "actor": "Fail", "input": { "message": "nope" } }]"#)
        .unwrap();
    let failed = run(&[failing.to_str().unwrap()]);
    assert_eq!(failed.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&failed.stderr);
    assert!(stderr.contains("stage a failed") && stderr.contains("nope"), "{stderr}");
}

#[test]
fn a_running_stages_max_parallel_is_raised_and_the_engine_counts_it() {
    raise_max_parallel(&Server::start(&[]));
}

#[test]
fn a_running_stages_rate_is_changed_and_its_waiting_tasks_are_retimed() {
    change_rate(&Server::start(&[]));
}

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

fn raise_max_parallel(server: &Server) {
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
fn change_rate(server: &Server) {
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

#[test]
fn metrics_count_tasks_stages_and_plugin_calls_and_logs_are_json_lines() {
    let server = Server::start(&["--log-format", "json"]);
    let (status, run) = server.post("/v1/runs", &json!({ "pipeline": "documents", "input": document_input() }));
    assert_eq!(status, 201, "{run}");
    let id = run["id"].as_str().unwrap().to_string();
    assert_eq!(server.wait(&id)["status"], "succeeded");
    let (_, failing) = server.post(
        "/v1/runs",
        &json!({ "pipeline": { "name": "failing", "stages": [
        { "name": "boom", "mode": "single", "actor": "Fail", "input": { "message": "no" } }] } }),
    );
    server.wait(failing["id"].as_str().unwrap());

    let response = server.agent.get(&server.url("/metrics")).call().unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let text = response.into_body().read_to_string().unwrap();
    let value = |series: &str| -> f64 {
        let line = text.lines().find(|l| l.starts_with(series)).unwrap_or_else(|| panic!("no {series} in:\n{text}"));
        line.rsplit(' ').next().unwrap().parse().unwrap()
    };
    assert_eq!(value(r#"troupe_tasks_total{mode="scatter",actor="FileProcessor",outcome="succeeded"}"#), 7.0);
    assert_eq!(value(r#"troupe_tasks_total{mode="broadcast",actor="SlackNotifier",outcome="succeeded"}"#), 1.0);
    assert_eq!(value(r#"troupe_tasks_total{mode="single",actor="Fail",outcome="failed"}"#), 1.0);
    assert_eq!(value(r#"troupe_stage_duration_seconds_count{mode="gather",outcome="succeeded"}"#), 1.0);
    assert!(
        value(r#"troupe_plugin_call_duration_seconds_count{role="mode",name="scatter",function="execute"}"#) >= 1.0
    );
    assert_eq!(
        value(r#"troupe_plugin_call_duration_seconds_count{role="actor",name="FileProcessor",function="invoke"}"#),
        7.0
    );
    assert_eq!(value(r#"troupe_queue_depth{actor="FileProcessor"}"#), 0.0);
    assert_eq!(value(r#"troupe_queue_oldest_seconds{actor="FileProcessor"}"#), 0.0);

    // Every log line is one JSON object; the stages and the run say how they ended, in
    // their spans.
    let started = Instant::now();
    let lines = loop {
        let lines: Vec<Value> = server.logs().iter().filter_map(|l| serde_json::from_str(l).ok()).collect();
        if lines.iter().any(|l| l["fields"]["message"] == "run failed") {
            break lines;
        }
        assert!(started.elapsed() < Duration::from_secs(30), "no `run failed` line: {:?}", server.logs());
        std::thread::sleep(Duration::from_millis(50));
    };
    let stage = lines
        .iter()
        .find(|l| l["fields"]["message"] == "stage ended" && l["span"]["stage"] == "consolidate")
        .unwrap_or_else(|| panic!("{lines:?}"));
    assert_eq!(stage["span"]["run_id"], id.as_str());
    assert_eq!(stage["span"]["mode"], "gather");
    assert_eq!(stage["fields"]["succeeded"], 5);
    assert_eq!(stage["level"], "INFO");
    let run = lines.iter().find(|l| l["fields"]["message"] == "run succeeded").unwrap();
    assert_eq!(run["span"]["pipeline"], "document-processing");
    let failed = lines.iter().find(|l| l["fields"]["message"] == "task failed").unwrap_or_else(|| panic!("{lines:#?}"));
    assert_eq!(failed["fields"]["error"], "no");
    assert_eq!((&failed["fields"]["actor"], &failed["fields"]["stage"]), (&json!("Fail"), &json!("boom")), "{failed}");
}

/// A one-route HTTP sink standing in for an OpenTelemetry collector: every request's
/// path, content type and body.
fn collector() -> (String, std::sync::mpsc::Receiver<(String, String, Vec<u8>)>) {
    use std::io::Write as _;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    let (sender, received) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { return };
            let mut reader = BufReader::new(stream);
            loop {
                let mut request_line = String::new();
                if reader.read_line(&mut request_line).unwrap_or(0) == 0 {
                    break;
                }
                let path = request_line.split_whitespace().nth(1).unwrap_or_default().to_string();
                let (mut length, mut kind) = (0, String::new());
                loop {
                    let mut header = String::new();
                    reader.read_line(&mut header).unwrap();
                    let header = header.trim_end();
                    if header.is_empty() {
                        break;
                    }
                    let (name, value) = header.split_once(':').unwrap_or_default();
                    match name.to_ascii_lowercase().as_str() {
                        "content-length" => length = value.trim().parse().unwrap(),
                        "content-type" => kind = value.trim().to_string(),
                        _ => {}
                    }
                }
                let mut body = vec![0; length];
                std::io::Read::read_exact(&mut reader, &mut body).unwrap();
                reader.get_mut().write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n").unwrap();
                if sender.send((path, kind, body)).is_err() {
                    return;
                }
            }
        }
    });
    (format!("http://{address}/v1/traces"), received)
}

#[test]
fn spans_are_exported_over_otlp_to_a_collector() {
    let (endpoint, received) = collector();
    let server = Server::start(&["--otlp-endpoint", &endpoint]);
    let (status, run) = server.post("/v1/runs", &json!({ "pipeline": "documents", "input": document_input() }));
    assert_eq!(status, 201, "{run}");
    let id = run["id"].as_str().unwrap().to_string();
    assert_eq!(server.wait(&id)["status"], "succeeded");
    // The batch goes out within the SDK's 5 s schedule.
    let mut seen = Vec::new();
    let has = |bytes: &[u8], text: &str| bytes.windows(text.len()).any(|w| w == text.as_bytes());
    while !(has(&seen, "consolidate") && has(&seen, &id)) {
        let (path, kind, body) = received.recv_timeout(Duration::from_secs(60)).expect("spans reach the collector");
        assert_eq!(path, "/v1/traces");
        assert_eq!(kind, "application/x-protobuf");
        seen.extend(body);
    }
    for name in ["run", "stage", "gather", "document-processing", "troupe"] {
        assert!(has(&seen, name), "the exported spans carry `{name}`");
    }
}
