//! Item 3: task indices and keys an executor hands the host are checked at the boundary.
//! Before, indices {0, 5} with 2 expected gave `[r0, null]` and exit 0, a by-key stage
//! with two equal keys kept one result, a missing key became `""`; now each fails its
//! stage naming the plugin, the stage and the index or key. Also the shared [`Host`]
//! the modules on what plugins hand the host use: the engine the suite runs on
//! (`TROUPE_TEST_ENGINE`), workers, and the `handover` fixture, whose config says what
//! to hand over.

use serde_json::{json, Value};
use std::sync::Arc;
use troupe::engine::{EmbeddedEngine, RedisEngine};
use troupe::orchestrator::{Orchestrator, RunError, RunReport, Silent};
use troupe::pipeline::Pipeline;
use troupe::LogLevel;
use troupe_tests::{plugins_from, redis_engine};

/// The plugins these modules use. `handover` gets small attempt caps so the tests of
/// hooks that never give up end quickly, and room for a 100 MB state value; `retry` and
/// `rate-limited` keep the defaults.
pub const MANIFEST: &str = r#"
version = 1
plugins-dir = "target/plugins"

[executors.handover]
component = "fixtures/handover.wasm"
limits = { memory-mib = 512, task-attempts = 20, task-deferrals = 20 }

[executors.few-tasks]
component = "fixtures/handover.wasm"
limits = { max-tasks = 1000 }

[executors.small-inputs]
component = "fixtures/handover.wasm"
limits = { task-input-bytes = 7 }

[executors.small-calls]
component = "fixtures/handover.wasm"
limits = { enqueue-bytes = 100 }

[executors.single]
component = "single.wasm"

[executors.retry]
component = "retry.wasm"

[executors.rate-limited]
component = "rate-limited.wasm"

[actors.Pass]
component = "pass.wasm"

[actors.Fail]
component = "fail.wasm"

[actors.Bulky]
component = "fixtures/bulky.wasm"
"#;

/// A host serving runs on the suite's engine, with workers, until dropped.
pub struct Host {
    driver: Driver,
    /// Kept so the workers run until the host is dropped.
    _workers: troupe::worker::Workers,
}

enum Driver {
    Embedded(Orchestrator<EmbeddedEngine>),
    Redis(Orchestrator<RedisEngine>),
}

impl Host {
    pub fn new() -> Host {
        let (plugins, manifest) = plugins_from(MANIFEST);
        if std::env::var("TROUPE_TEST_ENGINE").is_ok_and(|e| e == "redis") {
            let engine = redis_engine(&manifest, |_| {});
            let workers = troupe::worker::spawn(engine.clone(), plugins.clone(), 4);
            return Host { driver: Driver::Redis(Orchestrator::new(engine, plugins)), _workers: workers };
        }
        let engine = Arc::new(EmbeddedEngine::new(manifest.actors.keys().map(|a| a.to_string()), LogLevel::Error));
        let workers = troupe::worker::spawn(engine.clone(), plugins.clone(), 4);
        Host { driver: Driver::Embedded(Orchestrator::new(engine, plugins)), _workers: workers }
    }

    pub fn redis(&self) -> Option<&Arc<RedisEngine>> {
        match &self.driver {
            Driver::Redis(o) => Some(o.engine()),
            Driver::Embedded(_) => None,
        }
    }

    /// Run a pipeline of `stages` with trigger `{}`.
    pub async fn run(&self, stages: Value) -> Result<RunReport, RunError> {
        let pipeline =
            Pipeline::from_value(json!({ "name": "hostile", "stages": stages }), "test").expect("a pipeline");
        match &self.driver {
            Driver::Embedded(o) => o.run(&pipeline, json!({}), &Silent).await,
            Driver::Redis(o) => o.run(&pipeline, json!({}), &Silent).await,
        }
    }

    /// Run `stages`, which must fail; the error text.
    pub async fn fails(&self, stages: Value) -> String {
        match self.run(stages).await {
            Ok(report) => panic!("the run should have failed; its context: {}", report.context),
            Err(e) => e.to_string(),
        }
    }

    /// The host still serves: an ordinary run succeeds after whatever came before.
    pub async fn still_serves(&self) {
        let report = self
            .run(json!([{ "name": "after", "mode": "single", "actor": "Pass", "input": { "ok": true } }]))
            .await
            .unwrap_or_else(|e| panic!("a normal run after the hostile one failed: {e}"));
        assert_eq!(report.context["after"], json!({ "ok": true }));
    }
}

/// A `handover` stage named `records` with `config`.
pub fn handover(config: Value) -> Value {
    json!([{ "name": "records", "mode": "handover", "executorConfig": config }])
}

fn assert_names(err: &str, parts: &[&str]) {
    for part in parts {
        assert!(err.contains(part), "the error should contain {part:?}:\n{err}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn indices_0_and_5_with_2_expected_fail_the_stage_naming_index_5() {
    let host = Host::new();
    let err = host.fails(handover(json!({ "tasks": [{ "index": 0 }, { "index": 5 }], "expected": 2 }))).await;
    assert_names(&err, &["stage records failed", "handover.wasm (mode handover)", "enqueued task 5, outside 0..2"]);
    host.still_serves().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn index_2_pow_63_is_refused_as_it_is_enqueued() {
    let host = Host::new();
    let err = host.fails(handover(json!({ "tasks": [{ "index": 1u64 << 63 }], "expected": 1 }))).await;
    assert_names(
        &err,
        &[
            "stage records failed",
            "(mode handover)",
            "task index 9223372036854775808, past its limit max-tasks = 1000000",
        ],
    );
    host.still_serves().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_single_stage_whose_task_has_index_3_fails() {
    let host = Host::new();
    let err = host.fails(handover(json!({ "tasks": [{ "index": 3 }], "expected": 1, "output": "single" }))).await;
    assert_names(&err, &["stage records failed", "(mode handover)", "enqueued task 3, outside 0..1"]);
    let err = host
        .fails(handover(json!({ "tasks": [{ "index": 0 }, { "index": 1 }], "expected": 2, "output": "single" })))
        .await;
    assert_names(&err, &["output shape single with expectedTasks = 2: a single stage has one task, index 0"]);
    host.still_serves().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn two_tasks_with_the_same_key_in_a_by_key_stage_fail() {
    let host = Host::new();
    let tasks = json!([{ "index": 0, "key": "a" }, { "index": 1, "key": "a" }]);
    let err = host.fails(handover(json!({ "tasks": tasks, "output": "by-key" }))).await;
    assert_names(
        &err,
        &["stage records failed", "(mode handover)", "enqueued tasks 0 and 1 with the same key \"a\"", "by-key"],
    );
    host.still_serves().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_task_without_a_key_in_a_keyed_stage_fails() {
    let host = Host::new();
    for output in ["by-key", "keyed-list"] {
        let tasks = json!([{ "index": 0, "key": "a" }, { "index": 1 }]);
        let err = host.fails(handover(json!({ "tasks": tasks, "output": output }))).await;
        assert_names(&err, &["stage records failed", "enqueued task 1 without a key", output]);
    }
    host.still_serves().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_same_index_twice_in_one_call_fails_but_well_formed_keyed_records_pass() {
    let host = Host::new();
    let err = host.fails(handover(json!({ "tasks": [{ "index": 0 }, { "index": 0 }], "expected": 1 }))).await;
    assert_names(&err, &["stage records failed", "enqueued task index 0 twice in one call"]);
    let tasks = json!([{ "index": 1, "key": "b" }, { "index": 0, "key": "a" }]);
    let report = host.run(handover(json!({ "tasks": tasks, "output": "by-key" }))).await.expect("well-formed records");
    assert_eq!(report.context["records"], json!({ "a": { "i": 0 }, "b": { "i": 1 } }));
    host.still_serves().await;
}
