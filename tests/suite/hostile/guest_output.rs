//! Guests that print (item 1): a Python actor or executor hook writing to stdout/stderr
//! on a worker thread used to panic that thread inside wasmtime-wasi ("Cannot start a
//! runtime from within a runtime") and hang the run. Now every call path captures the
//! output, bounded by `output-bytes`, shows it with the task's error, and a print never
//! changes an outcome. On both engines (`TROUPE_TEST_ENGINE=redis`), and a real
//! `troupe worker` process on Redis.

use serde_json::{json, Value};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;
use troupe::engine::EmbeddedEngine;
use troupe::orchestrator::{Orchestrator, RunError, RunReport, Silent};
use troupe::pipeline::Pipeline;
use troupe::plugin::Plugins;
use troupe::LogLevel;
use troupe_tests::{plugins_from, redis_engine, root, test_redis_url, unique_prefix};

/// Python components need room and time (a cold compile takes seconds, a call milliseconds).
pub(crate) const PY_LIMITS: &str = "limits = { memory-mib = 256, timeout-ms = 30000 }";

fn manifest() -> String {
    format!(
        r#"version = 1
plugins-dir = "target/plugins"

[executors.scatter]
component = "scatter.wasm"

[executors.chatty-hooks]
component = "fixtures/chatty-hooks.wasm"
{PY_LIMITS}

[actors.Chatty]
component = "fixtures/chatty-actor.wasm"
{PY_LIMITS}

[actors.Pass]
component = "pass.wasm"
"#
    )
}

/// An engine (embedded, or Redis with `TROUPE_TEST_ENGINE=redis`), its workers and an
/// orchestrator: one host serving run after run.
pub(crate) struct TestHost {
    orchestrator: Either,
    /// Serving tasks until dropped with the host.
    _workers: troupe::worker::Workers,
}

enum Either {
    Embedded(Orchestrator<EmbeddedEngine>),
    Redis(Orchestrator<troupe::engine::RedisEngine>),
}

impl TestHost {
    pub(crate) fn start(plugins: Arc<Plugins>, manifest: &troupe::Manifest, concurrency: usize) -> TestHost {
        if std::env::var("TROUPE_TEST_ENGINE").is_ok_and(|e| e == "redis") {
            let engine = redis_engine(manifest, |o| o.prefetch = concurrency);
            let workers = troupe::worker::spawn(engine.clone(), plugins.clone(), concurrency);
            return TestHost { orchestrator: Either::Redis(Orchestrator::new(engine, plugins)), _workers: workers };
        }
        let actors = manifest.actors.keys().map(|a| a.to_string());
        let engine = Arc::new(EmbeddedEngine::new(actors, LogLevel::Warn));
        let workers = troupe::worker::spawn(engine.clone(), plugins.clone(), concurrency);
        TestHost { orchestrator: Either::Embedded(Orchestrator::new(engine, plugins)), _workers: workers }
    }

    /// Run `pipeline` with `trigger`; a run that does not end within two minutes (a
    /// hang, as printing guests caused) fails the test instead of hanging it.
    pub(crate) async fn run(&self, pipeline: Value, trigger: Value) -> Result<RunReport, RunError> {
        let pipeline = Pipeline::from_value(pipeline, "test").expect("a valid pipeline");
        let run = async {
            match &self.orchestrator {
                Either::Embedded(o) => o.run(&pipeline, trigger, &Silent).await,
                Either::Redis(o) => o.run(&pipeline, trigger, &Silent).await,
            }
        };
        tokio::time::timeout(Duration::from_secs(120), run).await.expect("the run ended (it hung before the fix)")
    }
}

fn talk(items: Value) -> (Value, Value) {
    let pipeline = json!({ "stages": [
        { "name": "talk", "mode": "scatter", "actor": "Chatty", "scatter": { "input": "$.trigger.items", "as": "item" },
          "input": "$.item" }
    ] });
    (pipeline, json!({ "items": items }))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_python_actor_that_prints_runs_to_its_result() {
    let (plugins, manifest) = plugins_from(&manifest());
    let host = TestHost::start(plugins, &manifest, 4);
    let (pipeline, trigger) =
        talk(json!([{ "id": 1, "do": "print" }, { "id": 2, "do": "print" }, { "id": 3, "do": "flood" }]));
    let report = host.run(pipeline, trigger).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        report.context["talk"],
        json!([{ "id": 1, "printed": true }, { "id": 2, "printed": true }, { "id": 3, "printed": true }]),
        "printing (10 MB of it for id 3) changes no outcome"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_python_actor_that_raises_shows_its_traceback_in_the_task_error() {
    let (plugins, manifest) = plugins_from(&manifest());
    let host = TestHost::start(plugins, &manifest, 2);
    let (pipeline, trigger) = talk(json!([{ "id": 1, "do": "raise" }, { "id": 2, "do": "refuse" }]));
    let err = host.run(pipeline.clone(), trigger).await.expect_err("both tasks fail").to_string();
    println!("{err}");
    assert!(err.contains("stage talk failed: 2 of 2 tasks failed"), "{err}");
    assert!(
        err.contains("(actor Chatty): trapped: wasm trap: wasm `unreachable` instruction executed; it printed:"),
        "{err}"
    );
    assert!(
        err.contains(
            "  | chatty stdout: working on 1\n  | chatty stderr: still fine\n  | Traceback (most recent call last):"
        ),
        "{err}"
    );
    assert!(err.contains("ValueError: chatty was asked to raise"), "{err}");
    assert!(
        err.contains("task 1 (Chatty): chatty refused the task; it printed:\n  | chatty stdout: working on 2"),
        "{err}"
    );

    // The same host serves the next run.
    let (_, trigger) = talk(json!([{ "id": 7, "do": "print" }]));
    let report = host.run(pipeline, trigger).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(report.context["talk"], json!([{ "id": 7, "printed": true }]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_python_executor_whose_hooks_print_runs_and_shows_the_output_of_a_rejection() {
    let (plugins, manifest) = plugins_from(&manifest());
    let host = TestHost::start(plugins, &manifest, 2);
    let stage = |config: Value| json!({ "stages": [{ "name": "hooked", "mode": "chatty-hooks", "actor": "Chatty", "executorConfig": config }] });
    let report = host.run(stage(json!({ "items": 3 })), json!({})).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        report.context["hooked"],
        json!([{ "id": 0, "printed": true }, { "id": 1, "printed": true }, { "id": 2, "printed": true }]),
        "plan, execute and both hooks printed on every task; nothing changed"
    );

    let err = host.run(stage(json!({ "items": 2, "reject": true })), json!({})).await.expect_err("task 1 is rejected");
    let err = err.to_string();
    assert!(
        err.contains(
            "task 1 (Chatty): chatty-hooks rejected task 1; it printed:\n  | chatty-hooks stdout: before task 1\n  | chatty-hooks stderr: before task 1"
        ),
        "{err}"
    );
}

/// A `troupe worker` process on Redis serves a printing actor (before the fix its worker
/// thread panicked and the task sat pending, hanging every worker that took it over).
#[test]
fn a_troupe_worker_process_on_redis_serves_a_printing_actor() {
    let dir = tempfile::tempdir().unwrap();
    let manifest = dir.path().join("troupe.toml");
    let text = manifest_text_with_absolute_plugins_dir();
    std::fs::write(&manifest, text).unwrap();
    let (pipeline, trigger) =
        talk(json!([{ "id": 1, "do": "print" }, { "id": 2, "do": "raise" }, { "id": 3, "do": "print" }]));
    let mut pipeline = pipeline;
    pipeline["stages"][0]["executorConfig"] = json!({ "toleratedFailures": 1 });
    let (p, t) = (dir.path().join("pipeline.json"), dir.path().join("input.json"));
    std::fs::write(&p, pipeline.to_string()).unwrap();
    std::fs::write(&t, trigger.to_string()).unwrap();
    let prefix = unique_prefix("printing-worker");
    let troupe = |args: &[&str]| {
        let mut cmd = Command::new(root().join("target/release/troupe"));
        cmd.args(args)
            .arg("--manifest")
            .arg(&manifest)
            .arg("--cache-dir")
            .arg(root().join("target/test-cache"))
            .args(["--redis", &test_redis_url(), "--redis-prefix", &prefix])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        cmd
    };
    let mut worker = troupe(&["worker", "--concurrency", "2"]).spawn().unwrap();
    let run = troupe(&["run", p.to_str().unwrap(), "--input", t.to_str().unwrap(), "--concurrency", "0", "--json"])
        .spawn()
        .unwrap();
    let finished = wait_with_timeout(run, Duration::from_secs(180));
    let _ = Command::new("kill").args(["-TERM", &worker.id().to_string()]).status();
    let worker_out = worker.wait_with_output_bounded();
    let (status, stdout, stderr) = finished.unwrap_or_else(|| panic!("the run hung; worker said:\n{worker_out}"));
    assert!(status.success(), "stdout: {stdout}\nstderr: {stderr}\nworker: {worker_out}");
    let report: Value = serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"));
    assert_eq!(report["talk"], json!([{ "id": 1, "printed": true }, null, { "id": 3, "printed": true }]));
    // No thread of the worker panicked (the guest's own traceback may say anything).
    assert!(!worker_out.lines().any(|l| l.starts_with("thread '") && l.contains("panicked")), "{worker_out}");
}

fn manifest_text_with_absolute_plugins_dir() -> String {
    manifest().replace(
        "plugins-dir = \"target/plugins\"",
        &format!("plugins-dir = \"{}\"", root().join("target/plugins").display()),
    )
}

fn wait_with_timeout(
    mut child: std::process::Child,
    timeout: Duration,
) -> Option<(std::process::ExitStatus, String, String)> {
    let started = std::time::Instant::now();
    loop {
        if child.try_wait().unwrap().is_some() {
            let out = child.wait_with_output().unwrap();
            return Some((
                out.status,
                String::from_utf8_lossy(&out.stdout).into_owned(),
                String::from_utf8_lossy(&out.stderr).into_owned(),
            ));
        }
        if started.elapsed() > timeout {
            let _ = child.kill();
            return None;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

trait BoundedOutput {
    fn wait_with_output_bounded(self) -> String;
}

impl BoundedOutput for &mut std::process::Child {
    /// Wait (at most 30 s, then kill) and return stderr.
    fn wait_with_output_bounded(self) -> String {
        let started = std::time::Instant::now();
        while self.try_wait().unwrap().is_none() {
            if started.elapsed() > Duration::from_secs(30) {
                let _ = self.kill();
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let mut text = String::new();
        if let Some(mut err) = self.stderr.take() {
            use std::io::Read;
            let _ = err.read_to_string(&mut text);
        }
        text
    }
}
