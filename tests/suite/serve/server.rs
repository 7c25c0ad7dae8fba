//! The `troupe serve` process the API tests drive (the `hot_reload` and `dashboard` suites
//! start it too), its plain HTTP client with the token, the event streams read as a
//! client would, and the requests several tests send.

use serde_json::{json, Value};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use troupe_tests::root;

/// A `troupe serve` process, killed when dropped.
pub(crate) struct Server {
    pub(super) child: Child,
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

/// The document example's input.
pub(super) fn document_input() -> Value {
    serde_json::from_str(&std::fs::read_to_string(root().join("examples/document-processing/input.json")).unwrap())
        .unwrap()
}

/// A run of `tasks` `Wait` tasks that take `ms` each.
pub(super) fn waiting(ms: u64, tasks: usize) -> Value {
    json!({ "pipeline": { "name": "waiting", "stages": [{ "name": "wait", "mode": "scatter", "actor": "Wait",
        "scatter": { "input": "$.trigger.items", "as": "item" }, "input": { "ms": ms } }] },
        "input": { "items": vec![1; tasks] } })
}
