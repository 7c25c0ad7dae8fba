//! Python guests on `troupe:executor@0.2.1` (issue 12, item 5), built by componentize-py
//! from `plugins/python/`:
//! - `chunk` decides what a failed host call means by its `host-error` case alone
//!   (`unavailable` is retryable, every other kind fatal), never by the message;
//! - `py-canary` (`plugins/python/fixtures/py-canary`) grows its stage from `after-task`
//!   with `queue.extend`, and skips what it will not run with `enqueue-options.skip`: a
//!   canary written in another language than the SDK's.
//!
//! The pipelines run on both engines (`TROUPE_TEST_ENGINE=redis`); the test manifest below
//! registers the test-only plugins, as a third party's would.

use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;
use troupe::engine::{EmbeddedEngine, Engine, RunStore};
use troupe::manifest::Limits;
use troupe::orchestrator::{Orchestrator, RunError, RunReport, Silent};
use troupe::pipeline::Pipeline;
use troupe::{EnqueueOptions, ExecutorError, HostError, LogLevel, Outcome, RecordingHost, Task};
use troupe::{Scope, StageHost, StateQuota};
use troupe_tests::{executor, fixture, loader, plugin, plugins_from, redis_engine};

/// Python components need room and time (a cold compile takes seconds, a call milliseconds).
const PY_LIMITS: &str = "limits = { memory-mib = 256, timeout-ms = 30000 }";

fn manifest() -> String {
    format!(
        r#"version = 1
plugins-dir = "target/plugins"

[executors.chunk]
component = "chunk.wasm"
{PY_LIMITS}

[executors.py-canary]
component = "fixtures/py-canary.wasm"
{PY_LIMITS}

[actors.Pass]
component = "pass.wasm"

[actors.Fail]
component = "fail.wasm"

[actors.Flaky]
component = "flaky.wasm"
"#
    )
}

/// A run's outcome and the engine that ran it, to read its counts and results.
struct Ran {
    result: Result<RunReport, RunError>,
    store: Arc<dyn RunStore>,
    /// Serving tasks until dropped.
    _workers: troupe::worker::Workers,
}

/// Run `pipeline` on a fresh engine (embedded, or Redis with `TROUPE_TEST_ENGINE=redis`)
/// with the test manifest's plugins; a run that does not end in two minutes fails the test.
async fn run(pipeline: Value, trigger: Value) -> Ran {
    let (plugins, manifest) = plugins_from(&manifest());
    let pipeline = Pipeline::from_value(pipeline, "test").expect("a valid pipeline");
    if std::env::var("TROUPE_TEST_ENGINE").is_ok_and(|e| e == "redis") {
        let engine = redis_engine(&manifest, |o| o.prefetch = 4);
        return drive(engine, plugins, &pipeline, trigger).await;
    }
    let engine = Arc::new(EmbeddedEngine::new(manifest.actors.keys().map(|a| a.to_string()), LogLevel::Warn));
    drive(engine, plugins, &pipeline, trigger).await
}

async fn drive<E: Engine>(
    engine: Arc<E>,
    plugins: Arc<troupe::plugin::Plugins>,
    pipeline: &Pipeline,
    trigger: Value,
) -> Ran {
    let workers = troupe::worker::spawn(engine.clone(), plugins.clone(), 4);
    let orchestrator = Orchestrator::new(engine.clone(), plugins);
    let result = tokio::time::timeout(Duration::from_secs(120), orchestrator.run(pipeline, trigger, &Silent))
        .await
        .expect("the run ended within two minutes");
    Ran { result, store: engine, _workers: workers }
}

fn canary_stage(actor: &str, input: Value, config: Value) -> Value {
    json!({ "stages": [{ "name": "deploy", "mode": "py-canary", "actor": actor,
                         "scatter": { "input": "$.trigger.items", "as": "item" },
                         "input": input, "executorConfig": config }] })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn py_canary_releases_one_canary_at_a_time_then_the_rest() {
    let input = json!({ "item": "$.item", "position": "$.index", "generation": "$.generation" });
    let items: Vec<String> = (0..6).map(|i| format!("host-{i}")).collect();
    let ran = run(
        canary_stage("Pass", input.clone(), json!({ "canaryCount": 2, "maxParallel": 2 })),
        json!({ "items": items }),
    )
    .await;
    let report = ran.result.unwrap_or_else(|e| panic!("{e}"));
    // Task k is item k; each task's generation, read by the guest from `task-ref` and
    // passed on in the next task's input, shows how the stage grew: canary 0 (added by
    // `execute`), canary 1 (added by canary 0's review), then the rest at once.
    let expected: Vec<Value> = [0, 1, 2, 2, 2, 2]
        .iter()
        .enumerate()
        .map(|(k, generation)| json!({ "item": format!("host-{k}"), "position": k, "generation": generation }))
        .collect();
    assert_eq!(report.context["deploy"], Value::Array(expected));
    let counts = ran.store.counts(&report.run_id, "deploy").unwrap();
    assert_eq!((counts.expected, counts.succeeded, counts.failed, counts.skipped), (Some(6), 6, 0, 0), "{counts:?}");
    assert!(counts.max_in_flight <= 2, "maxParallel 2 held for the released items: {counts:?}");

    // More canaries than items: every item is a canary, one after another (generation
    // g + 1 exists only once generation g was reviewed).
    let ran =
        run(canary_stage("Pass", input.clone(), json!({ "canaryCount": 5 })), json!({ "items": ["a", "b"] })).await;
    let report = ran.result.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        report.context["deploy"],
        json!([{ "item": "a", "position": 0, "generation": 0 }, { "item": "b", "position": 1, "generation": 1 }])
    );

    // No items: no task, so the output is the metadata (the host's rule for a stage
    // without tasks), which shows the default canaryCount.
    let ran = run(canary_stage("Pass", input, json!({})), json!({ "items": [] })).await;
    let report = ran.result.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(report.context["deploy"], json!({ "items": 0, "canaryCount": 1 }));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn py_canary_skips_the_rest_and_fails_naming_the_canary_that_failed() {
    // Canary 1 of 3 fails (Flaky fails its first call for a key given `failures: 1`).
    let items: Vec<Value> =
        (0..6).map(|i| json!({ "key": format!("item-{i}"), "failures": i64::from(i == 1) })).collect();
    let input = json!({ "key": "$.item.key", "failures": "$.item.failures", "generation": "$.generation" });
    let ran = run(canary_stage("Flaky", input, json!({ "canaryCount": 3 })), json!({ "items": items })).await;
    let err = ran.result.expect_err("a canary failed");
    let run_id = err.run_id().expect("the run started").to_string();
    let flaky = "flaky: call 1 for `item-1` fails (1 will)";
    assert_eq!(
        err.stage_failure().map(|(stage, reason)| (stage.to_string(), reason.to_string())),
        Some(("deploy".into(), format!("1 of 6 tasks failed (tolerated: 0)\n  task 1 (Flaky): {flaky}")))
    );
    let counts = ran.store.counts(&run_id, "deploy").unwrap();
    assert_eq!((counts.expected, counts.succeeded, counts.failed, counts.skipped), (Some(6), 1, 1, 4), "{counts:?}");
    let results = ran.store.results(&run_id, "deploy").unwrap();
    assert_eq!(
        results[0].outcome,
        Outcome::Succeeded(json!({ "key": "item-0", "failures": 0, "generation": 0 }).into())
    );
    assert_eq!(results[1].outcome, Outcome::Failed(flaky.into()));
    for skipped in &results[2..] {
        assert_eq!(skipped.outcome, Outcome::Skipped(format!("canary task 1 failed: {flaky}")), "{skipped:?}");
        assert_eq!(skipped.attempts, 0, "a skipped item never reached its actor: {skipped:?}");
    }
    assert_eq!(results.iter().map(|r| r.index).collect::<Vec<_>>(), [0, 1, 2, 3, 4, 5]);

    // The default canaryCount is 1: the first item's failure skips every other one.
    let ran = run(
        canary_stage("Fail", json!({ "message": "bad deploy on $.item" }), json!({})),
        json!({ "items": ["a", "b", "c"] }),
    )
    .await;
    let err = ran.result.expect_err("the canary failed");
    let run_id = err.run_id().expect("the run started").to_string();
    assert_eq!(
        err.stage_failure().map(|(_, reason)| reason.to_string()),
        Some("1 of 3 tasks failed (tolerated: 0)\n  task 0 (Fail): bad deploy on $.item".into())
    );
    let counts = ran.store.counts(&run_id, "deploy").unwrap();
    assert_eq!((counts.succeeded, counts.failed, counts.skipped), (0, 1, 2), "{counts:?}");

    // A stage that tolerates the failed canary succeeds; its skipped items are `null` in
    // the list, as its failed one is, and are not counted as failures.
    let ran = run(
        canary_stage("Fail", json!({ "message": "bad deploy" }), json!({ "toleratedFailures": 1 })),
        json!({ "items": ["a", "b", "c"] }),
    )
    .await;
    let report = ran.result.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(report.context["deploy"], json!([null, null, null]));
    let counts = ran.store.counts(&report.run_id, "deploy").unwrap();
    assert_eq!((counts.succeeded, counts.failed, counts.skipped), (0, 1, 2), "{counts:?}");
}

#[test]
fn py_canary_reports_every_problem_with_its_field() {
    let loader = loader();
    let canary = executor(&loader, "py-canary", &fixture("py-canary"), python_limits());
    assert_eq!(canary.info().wit_version, "0.2.1");
    let (_, host) = troupe_tests::recorder(json!({}));
    let stage = canary.stage(
        "r",
        &json!({ "name": "c", "mode": "py-canary", "scatter": { "input": "trigger", "as": "not a name" },
                 "executorConfig": { "canaryCount": 0, "maxParallel": "2" } }),
    );
    let fields: Vec<String> = canary.validate(host, &stage).unwrap().into_iter().map(|p| p.field).collect();
    assert_eq!(
        fields,
        ["actor", "scatter.input", "scatter.as", "executorConfig.canaryCount", "executorConfig.maxParallel"]
    );
}

fn python_limits() -> Limits {
    Limits { memory_mib: 256, timeout_ms: 30_000, ..Limits::DEFAULT }
}

/// A host whose context or enqueue fails with a given `host-error`; the rest is a
/// [`RecordingHost`].
struct FailingHost {
    inner: RecordingHost,
    context: Option<HostError>,
    enqueue: Option<HostError>,
}

impl FailingHost {
    fn serving(context: Option<HostError>, enqueue: Option<HostError>) -> Arc<dyn StageHost> {
        let inner = RecordingHost::new(json!({ "trigger": { "items": [1, 2, 3] } }));
        Arc::new(FailingHost { inner, context, enqueue })
    }
}

impl StageHost for FailingHost {
    fn context(&self, scope: &Scope) -> Result<Arc<Value>, HostError> {
        match &self.context {
            Some(error) => Err(error.clone()),
            None => self.inner.context(scope),
        }
    }

    fn enqueue(&self, scope: &Scope, tasks: Vec<Task>, options: &EnqueueOptions) -> Result<(), HostError> {
        match &self.enqueue {
            Some(error) => Err(error.clone()),
            None => self.inner.enqueue(scope, tasks, options),
        }
    }

    fn has_actor(&self, name: &str) -> bool {
        self.inner.has_actor(name)
    }

    fn state_get(&self, namespace: &str, key: &str) -> Result<Option<String>, HostError> {
        self.inner.state_get(namespace, key)
    }

    fn state_set(
        &self,
        namespace: &str,
        key: &str,
        value: &str,
        ttl_ms: Option<u64>,
        quota: &StateQuota,
    ) -> Result<(), HostError> {
        self.inner.state_set(namespace, key, value, ttl_ms, quota)
    }

    fn state_set_if_absent(
        &self,
        namespace: &str,
        key: &str,
        value: &str,
        ttl_ms: Option<u64>,
        quota: &StateQuota,
    ) -> Result<bool, HostError> {
        self.inner.state_set_if_absent(namespace, key, value, ttl_ms, quota)
    }

    fn state_increment(
        &self,
        namespace: &str,
        key: &str,
        delta: i64,
        ttl_ms: Option<u64>,
        quota: &StateQuota,
    ) -> Result<i64, HostError> {
        self.inner.state_increment(namespace, key, delta, ttl_ms, quota)
    }

    fn state_delete(&self, namespace: &str, key: &str) -> Result<(), HostError> {
        self.inner.state_delete(namespace, key)
    }

    fn log(&self, scope: &Scope, level: LogLevel, message: &str) {
        self.inner.log(scope, level, message)
    }
}

#[test]
fn chunk_decides_by_the_kind_of_host_error_never_by_its_text() {
    let loader = loader();
    let chunk = executor(&loader, "chunk", &plugin("chunk"), python_limits());
    assert_eq!(chunk.info().wit_version, "0.2.1", "chunk is built against wit/, troupe:executor@0.2.1");
    let stage = chunk.stage(
        "r",
        &json!({ "name": "load", "mode": "chunk", "actor": "Bulk", "scatter": { "input": "$.trigger.items", "as": "rows" },
                 "input": { "rows": "$.rows" }, "executorConfig": { "size": 2 } }),
    );
    // Every error carries the same text, one a message-reading guest would call transient:
    // only the kind can tell them apart.
    let text = "connection refused, try again later";
    let kinds = |make: fn(String) -> HostError| make(text.to_string());
    let cases = [
        (
            FailingHost::serving(Some(kinds(HostError::Unavailable)), None),
            ExecutorError::Retryable(format!("scatter.input: {text}")),
        ),
        (
            FailingHost::serving(Some(kinds(HostError::Invalid)), None),
            ExecutorError::Fatal(format!("scatter.input: {text}")),
        ),
        (
            FailingHost::serving(Some(kinds(HostError::NotFound)), None),
            ExecutorError::Fatal(format!("scatter.input: {text}")),
        ),
        (
            FailingHost::serving(Some(kinds(HostError::LimitExceeded)), None),
            ExecutorError::Fatal(format!("scatter.input: {text}")),
        ),
        (
            FailingHost::serving(None, Some(kinds(HostError::Unavailable))),
            ExecutorError::Retryable(format!("enqueue: {text}")),
        ),
        (
            FailingHost::serving(None, Some(kinds(HostError::LimitExceeded))),
            ExecutorError::Fatal(format!("enqueue: {text}")),
        ),
        (FailingHost::serving(None, Some(kinds(HostError::Invalid))), ExecutorError::Fatal(format!("enqueue: {text}"))),
        // An actor the manifest lacks is the `actor` field's fault.
        (FailingHost::serving(None, Some(kinds(HostError::NotFound))), ExecutorError::Fatal(format!("actor: {text}"))),
    ];
    for (host, expected) in cases {
        let returned = chunk.execute(host, &stage).unwrap_or_else(|e| panic!("the call itself succeeds: {e}"));
        assert_eq!(returned, Err(expected));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chunk_runs_in_a_pipeline() {
    let pipeline = json!({ "stages": [
        { "name": "load", "mode": "chunk", "actor": "Pass", "scatter": { "input": "$.trigger.rows", "as": "rows" },
          "input": { "rows": "$.rows", "part": "$.index" }, "executorConfig": { "size": 2 } }
    ] });
    let ran = run(pipeline, json!({ "rows": [1, 2, 3, 4, 5] })).await;
    let report = ran.result.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        report.context["load"],
        json!([{ "rows": [1, 2], "part": 0 }, { "rows": [3, 4], "part": 1 }, { "rows": [5], "part": 2 }])
    );
}
