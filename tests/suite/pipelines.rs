//! The seed's five stage examples end to end on the embedded engine, with the utility
//! actors (Pass, Wait, Fail), asserting the exact outputs `semantics.md` defines; plus
//! failure handling, `maxParallel` (from the engine's own counters) and gather's
//! `timeout` / `minResults` with stragglers; a 100,000-item scatter within the default
//! plugin limits.

use serde_json::{json, Value};
use std::time::{Duration, Instant};
use troupe::orchestrator::RunError;
use troupe_tests::{plugins_from, run_pipeline, run_pipeline_with};

fn files(n: usize) -> Value {
    let kinds = ["invoice", "contract", "invoice", "receipt"];
    json!((0..n).map(|i| json!({ "path": format!("f{i}.pdf"), "type": kinds[i % kinds.len()] })).collect::<Vec<_>>())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn single_runs_one_task_and_its_result_is_the_output() {
    let pipeline = json!({ "stages": [
        { "name": "process", "mode": "single", "actor": "Pass", "input": { "data": "$.trigger.payload" } }
    ] });
    let (report, _, _workers) = run_pipeline(pipeline, json!({ "payload": { "id": 7, "tags": ["a"] } }), 4).await;
    let report = report.unwrap();
    assert_eq!(report.context["process"], json!({ "data": { "id": 7, "tags": ["a"] } }));
    assert_eq!(report.context["trigger"], json!({ "payload": { "id": 7, "tags": ["a"] } }));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scatter_outputs_results_in_item_order() {
    let pipeline = json!({ "stages": [
        { "name": "process-files", "mode": "scatter", "actor": "Pass",
          "scatter": { "input": "$.trigger.files", "as": "file" },
          "input": { "filepath": "$.file.path", "n": "$.index" },
          "executorConfig": { "maxParallel": 10, "batchSize": 100 } }
    ] });
    let (report, _, _workers) = run_pipeline(pipeline, json!({ "files": files(25) }), 8).await;
    let output = report.unwrap().context["process-files"].clone();
    let expected: Vec<Value> = (0..25).map(|i| json!({ "filepath": format!("f{i}.pdf"), "n": i })).collect();
    assert_eq!(output, Value::Array(expected));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gather_groups_by_key_in_first_seen_order() {
    let pipeline = json!({ "stages": [
        { "name": "process-files", "mode": "scatter", "actor": "Pass",
          "scatter": { "input": "$.trigger.files", "as": "file" },
          "input": { "path": "$.file.path", "documentType": "$.file.type" } },
        { "name": "consolidate", "mode": "gather", "actor": "Pass",
          "gather": { "stage": "process-files", "groupBy": "$.documentType" },
          "input": { "group": "$.group" },
          "executorConfig": { "timeout": 30000, "minResults": 1 } }
    ] });
    let (report, _, _workers) = run_pipeline(pipeline, json!({ "files": files(5) }), 4).await;
    let output = report.unwrap().context["consolidate"].clone();
    let page = |i: usize, t: &str| json!({ "path": format!("f{i}.pdf"), "documentType": t });
    assert_eq!(
        output,
        json!([
            { "key": "invoice", "result": { "group": { "key": "invoice", "items": [page(0, "invoice"), page(2, "invoice"), page(4, "invoice")] } } },
            { "key": "contract", "result": { "group": { "key": "contract", "items": [page(1, "contract")] } } },
            { "key": "receipt", "result": { "group": { "key": "receipt", "items": [page(3, "receipt")] } } }
        ])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gather_without_group_by_is_one_consolidation() {
    let pipeline = json!({ "stages": [
        { "name": "numbers", "mode": "scatter", "actor": "Pass", "scatter": { "input": "$.trigger.n", "as": "n" }, "input": "$.n" },
        { "name": "all", "mode": "gather", "actor": "Pass", "gather": { "stage": "numbers" }, "input": { "items": "$.group.items", "key": "$.group.key" } }
    ] });
    let (report, _, _workers) = run_pipeline(pipeline, json!({ "n": [3, 1, 2] }), 4).await;
    assert_eq!(report.unwrap().context["all"], json!({ "items": [3, 1, 2], "key": null }));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broadcast_sends_the_same_input_to_each_actor() {
    let pipeline = json!({ "stages": [
        { "name": "notify-all", "mode": "broadcast", "actor": "unused", "input": { "message": "$.trigger.result" },
          "executorConfig": { "actors": ["Pass", "Wait"], "waitForAll": true } }
    ] });
    let (report, _, _workers) = run_pipeline(pipeline, json!({ "result": "done" }), 4).await;
    assert_eq!(
        report.unwrap().context["notify-all"],
        json!({ "Pass": { "message": "done" }, "Wait": { "message": "done" } })
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broadcast_without_wait_for_all_completes_at_once() {
    let pipeline = json!({ "stages": [
        { "name": "notify-all", "mode": "broadcast", "actor": "unused", "input": { "ms": 5000 },
          "executorConfig": { "actors": ["Wait"], "waitForAll": false } },
        { "name": "after", "mode": "single", "actor": "Pass", "input": { "ok": true } }
    ] });
    let (report, engine, _workers) = run_pipeline(pipeline, json!({}), 4).await;
    let report = report.unwrap();
    assert_eq!(report.context["notify-all"], json!({}));
    assert_eq!(report.context["after"], json!({ "ok": true }));
    let counts = engine.counts(&report.run_id, "notify-all").unwrap();
    assert_eq!((counts.expected, counts.succeeded), (Some(1), 0), "the run ended while the broadcast task still ran");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fork_join_branches_read_the_stage_input() {
    let pipeline = json!({ "stages": [
        { "name": "parallel-processing", "mode": "fork-join", "actor": "unused", "input": { "data": "$.trigger" },
          "executorConfig": { "branches": [
            { "name": "extract", "actor": "Pass", "input": { "source": "$.data.source" } },
            { "name": "validate", "actor": "Wait", "input": { "rules": "$.data.rules" } },
            { "name": "transform", "actor": "Pass", "input": { "schema": "$.data.schema" } },
            { "name": "everything", "actor": "Pass" } ] } }
    ] });
    let trigger = json!({ "source": "s3://bucket/x", "rules": ["r1"], "schema": { "v": 2 } });
    let (report, _, _workers) = run_pipeline(pipeline, trigger.clone(), 4).await;
    assert_eq!(
        report.unwrap().context["parallel-processing"],
        json!({
            "extract": { "source": "s3://bucket/x" },
            "validate": { "rules": ["r1"] },
            "transform": { "schema": { "v": 2 } },
            "everything": { "data": trigger }
        })
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_task_fails_the_run_naming_stage_task_and_error() {
    let pipeline = json!({ "stages": [
        { "name": "fan-out", "mode": "scatter", "actor": "Fail", "scatter": { "input": "$.trigger.items", "as": "item" },
          "input": { "message": "$.item" } },
        { "name": "never", "mode": "single", "actor": "Pass" }
    ] });
    let (report, _, _workers) = run_pipeline(pipeline, json!({ "items": ["disk full", "timeout"] }), 4).await;
    let err = report.unwrap_err();
    let run_id = err.run_id().expect("the run started").to_string();
    assert_eq!(
        err.to_string(),
        format!("run {run_id}: stage fan-out failed: 2 of 2 tasks failed (tolerated: 0)\n  task 0 (Fail): disk full\n  task 1 (Fail): timeout")
    );
    assert!(matches!(err, RunError::StageFailed { ref stage, .. } if stage == "fan-out"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tolerated_failures_leave_null_in_the_output() {
    let pipeline = json!({ "stages": [
        { "name": "fan-out", "mode": "scatter", "actor": "Pass", "scatter": { "input": "$.trigger.items", "as": "item" },
          "input": "$.item", "executorConfig": { "toleratedFailures": 1 } },
        { "name": "mixed", "mode": "fork-join", "actor": "unused",
          "executorConfig": { "toleratedFailurePercent": 50, "branches": [
            { "name": "ok", "actor": "Pass", "input": { "v": 1 } },
            { "name": "bad", "actor": "Fail", "input": { "message": "nope" } } ] } }
    ] });
    let (report, _, _workers) = run_pipeline(pipeline, json!({ "items": [1, 2] }), 4).await;
    let report = report.unwrap();
    assert_eq!(report.context["mixed"], json!({ "ok": { "v": 1 }, "bad": null }));
    assert_eq!(report.stages[1].failed_tasks.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_path_that_matches_nothing_names_the_run_stage_field_and_path() {
    let pipeline = json!({ "stages": [
        { "name": "process", "mode": "single", "actor": "Pass", "input": { "data": "$.trigger.paylod" } }
    ] });
    let (report, _, _workers) = run_pipeline(pipeline, json!({ "payload": 1 }), 2).await;
    let err = report.unwrap_err();
    let run_id = err.run_id().expect("the run started").to_string();
    assert!(run_id.starts_with("run-"));
    assert_eq!(
        err.to_string(),
        format!("run {run_id}: stage process failed: the `single` executor returned an error: input.data: `$.trigger.paylod` matched nothing")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_parallel_holds_for_ten_thousand_items() {
    let items: Vec<u32> = (0..10_000).collect();
    let pipeline = json!({ "stages": [
        { "name": "fan-out", "mode": "scatter", "actor": "Pass", "scatter": { "input": "$.trigger.items", "as": "item" },
          "input": { "i": "$.item" }, "executorConfig": { "maxParallel": 50, "batchSize": 500 } }
    ] });
    let (report, engine, _workers) = run_pipeline(pipeline, json!({ "items": items }), 64).await;
    let report = report.unwrap();
    let counts = engine.counts(&report.run_id, "fan-out").unwrap();
    assert_eq!((counts.expected, counts.succeeded, counts.failed), (Some(10_000), 10_000, 0));
    assert_eq!(counts.max_in_flight, 50, "never more than 50 in flight, and the limit was reached");
    assert_eq!(report.context["fan-out"][9_999], json!({ "i": 9_999 }));
}

fn slow_scatter_then_gather(timeout: u64, min_results: u64) -> Value {
    json!({ "stages": [
        { "name": "process-files", "mode": "scatter", "actor": "Wait",
          "scatter": { "input": "$.trigger.items", "as": "item" }, "input": { "ms": "$.item.ms", "type": "$.item.type" } },
        { "name": "consolidate", "mode": "gather", "actor": "Pass",
          "gather": { "stage": "process-files", "groupBy": "$.type" }, "input": { "n": "$.group.items" },
          "executorConfig": { "timeout": timeout, "minResults": min_results } }
    ] })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gather_starts_early_with_partial_results_and_records_stragglers() {
    let ms = [0, 0, 0, 0, 0, 0, 3000, 3000];
    let items: Vec<Value> = ms.iter().map(|ms| json!({ "ms": ms, "type": "t" })).collect();
    let (report, engine, _workers) =
        run_pipeline(slow_scatter_then_gather(400, 5), json!({ "items": items }), 16).await;
    let report = report.unwrap();
    let consolidated = report.context["consolidate"][0]["result"]["n"].as_array().unwrap().len();
    assert_eq!(consolidated, 6, "only the six fast results are gathered");
    let gathered = &report.context["process-files"];
    assert_eq!(gathered.as_array().unwrap().iter().filter(|v| v.is_null()).count(), 2);
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let counts = engine.counts(&report.run_id, "process-files").unwrap();
        if counts.stragglers == 2 {
            assert_eq!(counts.succeeded, 6, "late results are never merged");
            break;
        }
        assert!(Instant::now() < deadline, "the stragglers' late results were not recorded: {counts:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut late: Vec<u64> =
        engine.stragglers(&report.run_id, "process-files").unwrap().iter().map(|s| s.index).collect();
    late.sort();
    assert_eq!(late, [6, 7], "stragglers are kept in arrival order; these two were the slow ones");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gather_fails_when_too_few_results_arrived_in_time() {
    let ms = [0, 3000, 3000, 3000];
    let items: Vec<Value> = ms.iter().map(|ms| json!({ "ms": ms, "type": "t" })).collect();
    let (report, _, _workers) = run_pipeline(slow_scatter_then_gather(300, 3), json!({ "items": items }), 16).await;
    let err = report.unwrap_err();
    let (stage, reason) = err.stage_failure().expect("a stage failed");
    assert_eq!(stage, "process-files");
    assert_eq!(
        reason.to_string(),
        "1 of 4 results arrived within 300 ms, fewer than the 3 stage consolidate needs to start (minResults)"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_empty_scatter_completes_at_once_with_an_empty_list() {
    let pipeline = json!({ "stages": [
        { "name": "none", "mode": "scatter", "actor": "Pass", "scatter": { "input": "$.trigger.items", "as": "x" } },
        { "name": "after", "mode": "single", "actor": "Pass", "input": { "none": "$.none" } }
    ] });
    let (report, _, _workers) = run_pipeline(pipeline, json!({ "items": [] }), 2).await;
    assert_eq!(report.unwrap().context["after"], json!({ "none": [] }));
}

/// A manifest with a misbehaving executor next to a good one.
const MISBEHAVING: &str = r#"
version = 1
plugins-dir = "target/plugins"
[executors.single]
component = "single.wasm"
[executors.misbehave]
component = "fixtures/misbehave.wasm"
limits = { timeout-ms = 300, memory-mib = 32 }
[actors.Pass]
component = "pass.wasm"
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_executor_fails_only_its_stage_and_the_host_serves_the_next_run() {
    use troupe::orchestrator::{Orchestrator, Silent};
    let (plugins, manifest) = troupe_tests::plugins_from(MISBEHAVING);
    let engine = std::sync::Arc::new(troupe::engine::EmbeddedEngine::new(
        manifest.actors.keys().map(|a| a.to_string()),
        troupe::LogLevel::Error,
    ));
    let _workers = troupe::worker::spawn(engine.clone(), plugins.clone(), 4);
    let orchestrator = Orchestrator::new(engine, plugins);
    let bad = |behave: &str| {
        troupe::pipeline::Pipeline::from_value(
            json!({ "stages": [{ "name": "bad", "mode": "misbehave", "executorConfig": { "behave": behave } }] }),
            "bad",
        )
        .unwrap()
    };
    let reason = |behave: &'static str| {
        let pipeline = bad(behave);
        let orchestrator = &orchestrator;
        async move {
            let err = orchestrator.run(&pipeline, json!({}), &Silent).await.unwrap_err();
            let (stage, reason) = err.stage_failure().expect("a stage failed");
            assert_eq!(stage, "bad");
            reason.to_string()
        }
    };
    assert_eq!(reason("undercount").await, "the `misbehave` executor said expectedTasks = 2 but enqueued 1 task");
    assert!(reason("loop").await.ends_with("(mode misbehave): stopped at its deadline of 300 ms"));
    assert!(reason("allocate").await.contains("stopped at its memory limit of 32 MiB"));
    assert!(reason("panic").await.contains("trapped: panicked at"));
    assert_eq!(reason("fail").await, "the `misbehave` executor returned an error: misbehave was asked to fail");

    let good = troupe::pipeline::Pipeline::from_value(
        json!({ "stages": [{ "name": "ok", "mode": "single", "actor": "Pass", "input": { "still": "serving" } }] }),
        "good",
    )
    .unwrap();
    let report = orchestrator.run(&good, json!({}), &Silent).await.unwrap();
    assert_eq!(report.context["ok"], json!({ "still": "serving" }));
}

/// A 100,000-item scatter on the default manifest's limits (128 MiB per plugin): the
/// Items and results never pass through the `scatter` and `gather` guests (WIT 0.2.1's
/// `enqueue-each` and `enqueue-groups`): with 4 MiB of memory each, they scatter and
/// gather 6 MB of items, which neither could hold as JSON text, let alone parsed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scatter_and_gather_move_more_data_than_their_guests_can_hold() {
    const N: usize = 30_000;
    let manifest = r#"
version = 1
plugins-dir = "target/plugins"
[executors.scatter]
component = "scatter.wasm"
limits = { memory-mib = 4 }
[executors.gather]
component = "gather.wasm"
limits = { memory-mib = 4 }
[actors.Pass]
component = "pass.wasm"
"#;
    let (plugins, manifest) = plugins_from(manifest);
    let pipeline = json!({ "stages": [
        { "name": "fan-out", "mode": "scatter", "actor": "Pass",
          "scatter": { "input": "$.trigger.items", "as": "item" }, "input": { "item": "$.item", "at": "$.index" } },
        { "name": "by-kind", "mode": "gather", "actor": "Pass", "gather": { "stage": "fan-out", "groupBy": "$.item.kind" },
          "input": { "kind": "$.group.key", "ids": "$.group.items[*].item.id" } },
        { "name": "all", "mode": "gather", "actor": "Pass", "gather": { "stage": "fan-out" },
          "input": { "ats": "$.group.items[*].at", "first": "$.group.items[0].item.id" } }
    ] });
    let kind = |i: usize| ["a", "b", "c"][i % 3];
    let body = "x".repeat(200);
    let items: Vec<Value> = (0..N).map(|i| json!({ "id": i, "kind": kind(i), "body": body })).collect();
    let trigger = json!({ "items": items });
    assert!(trigger.to_string().len() > 6_000_000, "more than the guests' 4 MiB");
    let (report, _, _workers) = run_pipeline_with(plugins, &manifest, pipeline, trigger, 8).await;
    let context = report.unwrap_or_else(|e| panic!("{e}")).context;
    assert_eq!(context["fan-out"].as_array().map(Vec::len), Some(N));
    assert_eq!(context["fan-out"][N - 1]["at"], json!(N - 1));
    let groups = context["by-kind"].as_array().expect("a keyed list");
    assert_eq!(groups.iter().map(|g| g["key"].clone()).collect::<Vec<_>>(), vec![json!("a"), json!("b"), json!("c")]);
    for (g, group) in groups.iter().enumerate() {
        let ids: Vec<usize> = (0..N).filter(|i| i % 3 == g).collect();
        assert_eq!(group["result"], json!({ "kind": kind(g), "ids": ids }));
    }
    assert_eq!(context["all"]["ats"], json!((0..N).collect::<Vec<_>>()));
    assert_eq!(context["all"]["first"], json!(0));
}

/// scatter renders and sends its tasks a batch at a time, so its memory holds the items
/// and one batch (it used to hold every rendered task and stop at its limit).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_100000_item_scatter_fits_the_default_limits() {
    const N: usize = 100_000;
    let pipeline = json!({ "stages": [
        { "name": "fan-out", "mode": "scatter", "actor": "Pass",
          "scatter": { "input": "$.trigger.items", "as": "item" }, "input": { "item": "$.item", "n": "$.index" } }
    ] });
    let kind = |i: usize| ["a", "b", "c"][i % 3];
    let items: Vec<Value> = (0..N).map(|i| json!({ "id": i, "kind": kind(i) })).collect();
    let (report, _, _workers) = run_pipeline(pipeline, json!({ "items": items }), 8).await;
    let output = report.unwrap().context["fan-out"].clone();
    let output = output.as_array().expect("a list of results");
    assert_eq!(output.len(), N);
    for i in [0, 1, N / 2, N - 1] {
        assert_eq!(output[i], json!({ "item": { "id": i, "kind": kind(i) }, "n": i }), "result {i}");
    }
}
