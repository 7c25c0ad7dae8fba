//! Hot reload in `troupe serve`: a component replaced on disk while a run is in flight.
//! The run in flight finishes on the version it started with, the next run gets the new
//! one (proven by their outputs and the sha256 each run records), and a broken file
//! dropped in is refused while the set that was serving keeps serving; the reload and
//! the refusal show in the plugin list and on the all-runs event stream. The same for a
//! `troupe worker` on Redis, which pins a run at its first task.

use crate::serve::Server;
use serde_json::{json, Value};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant};
use troupe_tests::{root, test_redis_url};

/// A manifest in a folder of its own whose `Ver` actor is `ver.wasm`, a copy of `Pass`.
fn plugins_folder() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let plugins = dir.path().join("plugins");
    std::fs::create_dir(&plugins).unwrap();
    let built = root().join("target/plugins");
    std::fs::copy(built.join("single.wasm"), plugins.join("single.wasm")).unwrap();
    std::fs::copy(built.join("pass.wasm"), plugins.join("ver.wasm")).unwrap();
    std::fs::write(
        dir.path().join("troupe.toml"),
        "version = 1\nplugins-dir = \"plugins\"\n\n[executors.single]\ncomponent = \"single.wasm\"\n\n\
         [actors.Wait]\nbuiltin = \"wait\"\n\n[actors.Ver]\ncomponent = \"ver.wasm\"\n",
    )
    .unwrap();
    dir
}

/// Put `bytes` at `path` as a deployment would: written beside it, then renamed over it.
fn replace(path: &Path, bytes: &[u8]) {
    let temporary = path.with_extension("partial");
    std::fs::write(&temporary, bytes).unwrap();
    std::fs::rename(&temporary, path).unwrap();
}

/// First waits `ms`, then runs `Ver` on `{"n": n}`.
fn run_request(ms: u64, n: u64) -> Value {
    json!({ "pipeline": { "name": "versions", "stages": [
        { "name": "hold", "mode": "single", "actor": "Wait", "input": { "ms": ms } },
        { "name": "ver", "mode": "single", "actor": "Ver", "input": { "n": n } },
    ] } })
}

fn ver_sha(server: &Server) -> (Value, String) {
    let (status, list) = server.get("/v1/plugins");
    assert_eq!(status, 200, "{list}");
    let ver = list["plugins"].as_array().unwrap().iter().find(|p| p["name"] == "Ver").cloned().unwrap();
    let sha = ver["sha256"].as_str().unwrap().to_string();
    (list, sha)
}

/// Poll the plugin list until `done` says so.
fn until(server: &Server, what: &str, done: impl Fn(&Value) -> bool) -> Value {
    let started = Instant::now();
    loop {
        let (_, list) = server.get("/v1/plugins");
        if done(&list) {
            return list;
        }
        assert!(started.elapsed() < Duration::from_secs(120), "{what} never happened: {list}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The next event named `name` on the all-runs stream.
fn next_named(events: &Receiver<(String, Value)>, name: &str) -> Value {
    loop {
        let (n, data) = events.recv_timeout(Duration::from_secs(120)).unwrap_or_else(|_| panic!("no {name} event"));
        if n == name {
            return data;
        }
    }
}

fn used_sha(detail: &Value, name: &str) -> String {
    let used = detail["plugins"].as_array().unwrap().iter().find(|p| p["name"] == name);
    used.and_then(|p| p["sha256"].as_str()).unwrap_or_else(|| panic!("no {name} in {detail}")).to_string()
}

#[test]
fn a_replaced_component_serves_new_runs_while_the_running_run_keeps_its_version() {
    let dir = plugins_folder();
    let manifest = dir.path().join("troupe.toml");
    let server = Server::start(&["--manifest", manifest.to_str().unwrap(), "--watch-ms", "100"]);
    let events = server.all_events();
    let (list, pass_sha) = ver_sha(&server);
    assert_eq!(list["watching"], true, "{list}");
    assert_eq!(list["reloads"], json!([]), "{list}");

    // A run that holds in its first stage while `Ver` is replaced by `Fail`.
    let (status, first) = server.post("/v1/runs", &run_request(4000, 1));
    assert_eq!(status, 201, "{first}");
    let first = first["id"].as_str().unwrap().to_string();
    let started = Instant::now();
    while server.get(&format!("/v1/runs/{first}")).1["stages"][0]["status"] != "running" {
        assert!(started.elapsed() < Duration::from_secs(60), "the first stage never ran");
        std::thread::sleep(Duration::from_millis(20));
    }
    replace(&dir.path().join("plugins/ver.wasm"), &std::fs::read(root().join("target/plugins/fail.wasm")).unwrap());
    let list = until(&server, "the reload", |l| l["reloads"].as_array().is_some_and(|r| !r.is_empty()));
    let reload = &list["reloads"][0];
    assert_eq!(reload["applied"], true, "{list}");
    assert_eq!(reload["changes"].as_array().unwrap().len(), 1, "only Ver changed: {list}");
    assert_eq!(reload["changes"][0]["name"], "Ver");
    assert_eq!(reload["changes"][0]["from"], pass_sha.as_str());
    let (_, fail_sha) = ver_sha(&server);
    assert_ne!(fail_sha, pass_sha);
    assert_eq!(reload["changes"][0]["to"], fail_sha.as_str());
    assert_eq!(list["olderSetsInUse"], 1, "the running run keeps the old set loaded: {list}");
    let ver = list["plugins"].as_array().unwrap().iter().find(|p| p["name"] == "Ver").unwrap();
    assert_eq!(ver["loadedAt"], reload["at"], "{list}");
    let announced = next_named(&events, "plugins-reloaded");
    assert_eq!(announced["changes"], reload["changes"]);

    // The next run gets `Fail`; the first, still holding, finishes on `Pass`.
    let (status, second) = server.post("/v1/runs", &run_request(0, 2));
    assert_eq!(status, 201, "{second}");
    let second = server.wait(second["id"].as_str().unwrap());
    assert_eq!(second["status"], "failed", "{second}");
    assert_eq!(second["failedTasks"][0]["stage"], "ver", "{second}");
    assert_eq!(second["failedTasks"][0]["error"], "failed", "Fail's own error: {second}");
    assert_eq!(used_sha(&second, "Ver"), fail_sha);

    let first = server.wait(&first);
    assert_eq!(first["status"], "succeeded", "{first}");
    assert_eq!(first["outputs"]["ver"], json!({ "n": 1 }), "Pass echoes its input: {first}");
    assert_eq!(used_sha(&first, "Ver"), pass_sha);
    assert_eq!(server.get("/v1/plugins").1["olderSetsInUse"], 0, "the old set goes with its last run");

    // A broken component is refused whole; `Fail` keeps serving.
    replace(&dir.path().join("plugins/ver.wasm"), b"not a component");
    let list = until(&server, "the refusal", |l| !l["error"].is_null());
    let error = list["error"]["error"].as_str().unwrap();
    assert!(error.contains("Ver") && error.contains("ver.wasm"), "the refusal names the entry and file: {error}");
    assert_eq!(list["error"]["applied"], false);
    assert_eq!(ver_sha(&server).1, fail_sha, "the set that was serving keeps serving");
    let refused = next_named(&events, "plugins-refused");
    assert_eq!(refused["error"].as_str(), Some(error));
    let (status, third) = server.post("/v1/runs", &run_request(0, 3));
    assert_eq!(status, 201, "{third}");
    let third = server.wait(third["id"].as_str().unwrap());
    assert_eq!(third["failedTasks"][0]["error"], "failed", "still Fail: {third}");
    assert_eq!(used_sha(&third, "Ver"), fail_sha);

    // Mended: the refusal is no longer the newest word.
    replace(&dir.path().join("plugins/ver.wasm"), &std::fs::read(root().join("target/plugins/pass.wasm")).unwrap());
    let list = until(&server, "the mended reload", |l| l["error"].is_null());
    assert_eq!(ver_sha(&server).1, pass_sha, "{list}");
    assert_eq!(list["reloads"].as_array().unwrap().len(), 3, "reload, refusal, reload: {list}");
}

#[test]
fn a_manifest_that_adds_a_mode_and_an_actor_serves_them_to_new_runs() {
    let dir = plugins_folder();
    let manifest = dir.path().join("troupe.toml");
    let server = Server::start(&["--manifest", manifest.to_str().unwrap(), "--watch-ms", "100"]);
    let request = json!({ "pipeline": { "stages": [
        { "name": "each", "mode": "scatter", "actor": "Echo", "scatter": { "input": "$.trigger.items", "as": "item" },
          "input": { "item": "$.item" } } ] }, "input": { "items": [1, 2] } });
    let (status, problem) = server.post("/v1/runs", &request);
    assert_eq!(status, 422, "no scatter mode nor Echo actor yet: {problem}");

    std::fs::copy(root().join("target/plugins/scatter.wasm"), dir.path().join("plugins/scatter.wasm")).unwrap();
    let mut text = std::fs::read_to_string(&manifest).unwrap();
    text.push_str("\n[executors.scatter]\ncomponent = \"scatter.wasm\"\n\n[actors.Echo]\ncomponent = \"ver.wasm\"\n");
    replace(&manifest, text.as_bytes());
    until(&server, "the reload", |l| l["plugins"].as_array().unwrap().iter().any(|p| p["name"] == "Echo"));

    let (status, run) = server.post("/v1/runs", &request);
    assert_eq!(status, 201, "{run}");
    let run = server.wait(run["id"].as_str().unwrap());
    assert_eq!(run["status"], "succeeded", "{run}");
    assert_eq!(run["stages"][0]["counts"]["succeeded"], 2, "{run}");
}

/// `troupe <args>` on Redis under `prefix`.
fn on_redis(prefix: &str, args: &[&str]) -> Command {
    let mut cmd = Command::new(root().join("target/release/troupe"));
    cmd.args(args)
        .arg("--redis")
        .arg(test_redis_url())
        .arg("--redis-prefix")
        .arg(prefix)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd
}

/// The same with the test's manifest and compile cache.
fn troupe_on_redis(manifest: &Path, prefix: &str, args: &[&str]) -> Command {
    let mut cmd = on_redis(prefix, args);
    cmd.arg("--manifest").arg(manifest).arg("--cache-dir").arg(root().join("target/test-cache"));
    cmd
}

/// Killed when dropped (a failing test leaves no process behind).
struct Killed(Option<Child>);

impl Killed {
    fn child(&mut self) -> &mut Child {
        self.0.as_mut().unwrap()
    }

    /// Wait for it to end on its own.
    fn output(mut self) -> std::process::Output {
        self.0.take().unwrap().wait_with_output().unwrap()
    }
}

impl Drop for Killed {
    fn drop(&mut self) {
        if let Some(mut child) = self.0.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

#[test]
fn a_troupe_worker_on_redis_reloads_and_keeps_each_run_on_the_actor_it_started_with() {
    let dir = plugins_folder();
    let manifest = dir.path().join("troupe.toml");
    let prefix = troupe_tests::unique_prefix("hot-reload");
    let mut worker = troupe_on_redis(
        &manifest,
        &prefix,
        &["worker", "--concurrency", "4", "--watch-ms", "100", "--metrics-listen", "127.0.0.1:0"],
    );
    let mut worker = Killed(Some(worker.spawn().unwrap()));
    let lines = {
        let stderr = BufReader::new(worker.child().stderr.take().unwrap());
        let (sender, lines) = std::sync::mpsc::channel::<String>();
        std::thread::spawn(move || {
            for line in stderr.lines().map_while(Result::ok) {
                let _ = sender.send(line);
            }
        });
        lines
    };
    let metrics = loop {
        let line = lines.recv_timeout(Duration::from_secs(120)).expect("the worker says where its metrics are");
        if let Some(url) = line.split("metrics at ").nth(1) {
            break url.trim().to_string();
        }
    };
    let pipeline = |name: &str, ms: u64, n: u64| {
        let path = dir.path().join(name);
        std::fs::write(&path, run_request(ms, n)["pipeline"].to_string()).unwrap();
        path
    };
    let run = |path: &Path, run_id: &str| {
        let mut cmd = troupe_on_redis(
            &manifest,
            &prefix,
            &["run", path.to_str().unwrap(), "--run-id", run_id, "--concurrency", "0", "--json"],
        );
        Killed(Some(cmd.spawn().unwrap()))
    };

    // Run A holds 6 s in its first stage, whose task this worker takes (pinning the run
    // here); then `Ver` becomes `Fail` and the worker reloads.
    let first = run(&pipeline("a.json", 6000, 1), "hot-a");
    let started = Instant::now();
    loop {
        let out = on_redis(&prefix, &["status", "hot-a", "--json"]).output().unwrap();
        let status: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
        if status["stages"][0]["counts"]["in_flight"].as_u64().unwrap_or(0) > 0 {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(60), "run A's first stage never ran: {status}");
        std::thread::sleep(Duration::from_millis(50));
    }
    // The worker blocks on the stream and takes the task within milliseconds.
    std::thread::sleep(Duration::from_millis(500));
    replace(&dir.path().join("plugins/ver.wasm"), &std::fs::read(root().join("target/plugins/fail.wasm")).unwrap());
    loop {
        let line = lines.recv_timeout(Duration::from_secs(120)).expect("the worker reloads");
        if line.contains("plugins reloaded") {
            assert!(line.contains("actor Ver"), "{line}");
            break;
        }
    }

    // Run B starts after the reload: its `Ver` is `Fail`. Run A finishes on `Pass`.
    let second = run(&pipeline("b.json", 0, 2), "hot-b").output();
    assert_eq!(second.status.code(), Some(1), "run B fails on Fail: {}", String::from_utf8_lossy(&second.stderr));
    assert!(String::from_utf8_lossy(&second.stderr).contains("failed"), "{}", String::from_utf8_lossy(&second.stderr));
    let out = first.output();
    assert!(out.status.success(), "run A succeeds on Pass: {}", String::from_utf8_lossy(&out.stderr));
    let context: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(context["ver"], json!({ "n": 1 }), "{context}");

    // The worker's own metrics: each version's task, and the reload.
    let text = ureq::get(&metrics).call().unwrap().into_body().read_to_string().unwrap();
    for series in [
        r#"troupe_tasks_total{mode="single",actor="Ver",outcome="succeeded"} 1"#,
        r#"troupe_tasks_total{mode="single",actor="Ver",outcome="failed"} 1"#,
        r#"troupe_plugin_reloads_total{outcome="applied"} 1"#,
    ] {
        assert!(text.lines().any(|l| l == series), "no `{series}` in:\n{text}");
    }
    drop(worker);
}
