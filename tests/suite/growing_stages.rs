//! The community executors that grow their stage from `after-task` (WIT 0.2
//! `queue.extend`, `enqueue-options.skip`, `task-ref.generation`): `canary` and `expand`
//! (`plugins/community/`), registered in `troupe.toml` alone. Each in the plugin harness
//! (exact releases on the virtual clock), then in real pipelines on the engine
//! `TROUPE_TEST_ENGINE` picks (`cargo xtask test` runs this module on both), from JSON
//! and from the WDL-style language.

use serde_json::{json, Value};
use troupe::harness::{Harness, HarnessRun, Script};
use troupe::Outcome;
use troupe_tests::{plugin, root, run_pipeline};

fn harness(mode: &str) -> Harness {
    Harness::load(plugin(mode), mode).unwrap_or_else(|e| panic!("{mode}: {e}"))
}

fn script(value: Value) -> Script {
    Script::from_json(&value, "script").unwrap()
}

fn canary_stage(config: Value) -> Value {
    json!({ "name": "deploy", "mode": "canary", "actor": "Pass",
            "scatter": { "input": "$.trigger.hosts", "as": "host" }, "input": { "host": "$.host", "at": "$.index" },
            "executorConfig": config })
}

fn hosts(n: u64) -> Value {
    json!({ "trigger": { "hosts": (0..n).map(|i| format!("h{i}")).collect::<Vec<_>>() } })
}

/// (index, released, ended) of each attempt that ran.
fn ran(run: &HarnessRun) -> Vec<(u64, u64, u64)> {
    run.attempts.iter().filter_map(|a| Some((a.index, a.released_ms, a.ended_ms?))).collect()
}

fn outcome_kinds(run: &HarnessRun) -> Vec<String> {
    run.results
        .iter()
        .map(|r| match &r.outcome {
            Outcome::Succeeded(_) => "ok".to_string(),
            Outcome::Failed(e) => format!("failed: {e}"),
            Outcome::Skipped(reason) => format!("skipped: {reason}"),
        })
        .collect()
}

#[test]
fn canary_runs_its_canaries_one_after_another_then_releases_the_rest_with_max_parallel() {
    let stage = canary_stage(json!({ "canaryCount": 2, "maxParallel": 2 }));
    let run = harness("canary")
        .run_script(&stage, &hosts(6), &script(json!({ "workers": 8, "default": { "echo": true, "ms": 10 } })))
        .unwrap();
    assert!(run.succeeded(), "{}", run.timeline());
    // Task i is item i: the output is in item order.
    let want: Vec<Value> = (0..6).map(|i| json!({ "host": format!("h{i}"), "at": i })).collect();
    assert_eq!(run.output(), Some(&Value::Array(want)));
    assert_eq!(run.execution.expected_tasks, 1, "execute enqueues canary 0 alone");
    let ran = ran(&run);
    // Canary 1 is released when canary 0 ended; the rest when canary 1 ended, two at a time.
    assert_eq!(&ran[..2], &[(0, 0, 10), (1, 10, 20)], "{}", run.timeline());
    assert!(ran[2..].iter().all(|(_, released, _)| *released >= 20), "{}", run.timeline());
    assert_eq!(run.peak_in_flight, 2, "maxParallel 2 holds for the released items");
    assert_eq!(run.ended_ms, 20 + 2 * 10, "four items, two at a time, 10 ms each: {}", run.timeline());
}

#[test]
fn a_failed_canary_fails_the_stage_naming_it_and_the_rest_are_skipped() {
    let stage = canary_stage(json!({ "canaryCount": 3 }));
    let outcomes =
        json!({ "default": { "echo": true, "ms": 5 }, "tasks": { "1": { "err": "health check failed", "ms": 5 } } });
    let run = harness("canary").run_script(&stage, &hosts(5), &script(outcomes)).unwrap();
    assert!(!run.succeeded(), "{}", run.timeline());
    let skipped = "skipped: canary task 1 failed: health check failed".to_string();
    assert_eq!(
        outcome_kinds(&run),
        ["ok".to_string(), "failed: health check failed".to_string(), skipped.clone(), skipped.clone(), skipped]
    );
    // The skipped items never reached a worker.
    assert_eq!(ran(&run).iter().map(|(i, ..)| *i).collect::<Vec<_>>(), [0, 1], "{}", run.timeline());
    let error = run.error().expect("the stage failed").to_string();
    assert!(error.contains("task 1") && error.contains("health check failed"), "{error}");
}

#[test]
fn canary_with_fewer_items_than_canaries_runs_each_as_a_canary_and_none_is_empty() {
    let stage = canary_stage(json!({ "canaryCount": 4 }));
    let run = harness("canary").run(&stage, &hosts(2), |task, _| Outcome::Succeeded(task.input.clone())).unwrap();
    assert_eq!(run.output().and_then(Value::as_array).map(Vec::len), Some(2), "{}", run.timeline());
    let run = harness("canary").run(&stage, &hosts(0), |task, _| Outcome::Succeeded(task.input.clone())).unwrap();
    assert_eq!(run.output(), Some(&json!([])));
}

#[test]
fn canary_and_expand_report_bad_config_by_field() {
    let problems =
        harness("canary").validate(&canary_stage(json!({ "canaryCount": "two", "maxParallel": 0 }))).unwrap();
    let fields: Vec<&str> = problems.iter().map(|p| p.field.as_str()).collect();
    assert_eq!(fields, ["executorConfig.canaryCount", "executorConfig.maxParallel"], "{problems:?}");
    let problems = harness("expand").validate(&crawl_stage(json!({ "maxTasks": 0, "maxDepth": -1 }))).unwrap();
    let fields: Vec<&str> = problems.iter().map(|p| p.field.as_str()).collect();
    assert_eq!(fields, ["executorConfig.maxDepth", "executorConfig.maxTasks"], "{problems:?}");
}

fn crawl_stage(config: Value) -> Value {
    json!({ "name": "crawl", "mode": "expand", "actor": "Pass",
            "scatter": { "input": "$.trigger.seeds", "as": "page" }, "input": { "id": "$.page.id", "next": "$.page.next" },
            "executorConfig": config })
}

fn page(id: &str, next: Vec<Value>) -> Value {
    json!({ "id": id, "next": next })
}

/// Seeds a and b; a -> a1, a2; a1 -> a11 -> a111; b -> b1.
fn site() -> Value {
    let a = page("a", vec![page("a1", vec![page("a11", vec![page("a111", vec![])])]), page("a2", vec![])]);
    let b = page("b", vec![page("b1", vec![])]);
    json!({ "trigger": { "seeds": [a, b] } })
}

fn ids(output: &Value) -> Vec<String> {
    output.as_array().unwrap().iter().map(|r| r["id"].as_str().unwrap().to_string()).collect()
}

#[test]
fn expand_follows_next_to_max_depth_in_discovery_order() {
    // Durations make the order of reviews certain: b (5 ms) ends before a (10 ms).
    let outcomes =
        json!({ "workers": 8, "default": { "echo": true, "ms": 10 }, "tasks": { "1": { "echo": true, "ms": 5 } } });
    let run = harness("expand").run_script(&crawl_stage(json!({ "maxDepth": 2 })), &site(), &script(outcomes)).unwrap();
    assert!(run.succeeded(), "{}", run.timeline());
    // Generation 0: a, b; 1: b1 (b's review first), a1, a2; 2: a11. a111 is generation 3,
    // past maxDepth 2, so a11's `next` is not followed.
    assert_eq!(ids(run.output().unwrap()), ["a", "b", "b1", "a1", "a2", "a11"], "{}", run.timeline());
    let all =
        harness("expand").run(&crawl_stage(json!({})), &site(), |t, _| Outcome::Succeeded(t.input.clone())).unwrap();
    assert_eq!(all.results.len(), 7, "default maxDepth 3 reaches a111: {}", all.timeline());
    let seeds_only = harness("expand")
        .run(&crawl_stage(json!({ "maxDepth": 0 })), &site(), |t, _| Outcome::Succeeded(t.input.clone()));
    assert_eq!(ids(seeds_only.unwrap().output().unwrap()), ["a", "b"]);
}

#[test]
fn expand_stops_at_max_tasks_and_a_failed_task_adds_nothing() {
    let wide = page("root", (0..10).map(|i| page(&format!("c{i}"), vec![])).collect());
    let context = json!({ "trigger": { "seeds": [wide] } });
    let run = harness("expand")
        .run(&crawl_stage(json!({ "maxTasks": 5 })), &context, |t, _| Outcome::Succeeded(t.input.clone()))
        .unwrap();
    assert_eq!(ids(run.output().unwrap()), ["root", "c0", "c1", "c2", "c3"], "{}", run.timeline());

    let outcomes = json!({ "default": { "echo": true }, "tasks": { "0": { "err": "404" } } });
    let stage = crawl_stage(json!({ "toleratedFailures": 1 }));
    let run = harness("expand").run_script(&stage, &site(), &script(outcomes)).unwrap();
    assert!(run.succeeded(), "{}", run.timeline());
    // a failed: none of its pages are found; b's are.
    let output = run.output().unwrap().as_array().unwrap().clone();
    assert_eq!(output[0], Value::Null);
    assert_eq!(ids(&Value::Array(output[1..].to_vec())), ["b", "b1"]);
}

// Real pipelines, on the engine `TROUPE_TEST_ENGINE` picks.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn canary_in_a_pipeline_outputs_every_item_in_order() {
    let stage = canary_stage(json!({ "canaryCount": 2, "maxParallel": 3 }));
    let (report, engine, _workers) = run_pipeline(json!({ "stages": [stage] }), hosts(8)["trigger"].clone(), 4).await;
    let report = report.unwrap();
    let want: Vec<Value> = (0..8).map(|i| json!({ "host": format!("h{i}"), "at": i })).collect();
    assert_eq!(report.context["deploy"], Value::Array(want));
    let counts = engine.counts(&report.run_id, "deploy").unwrap();
    assert_eq!((counts.expected, counts.succeeded, counts.skipped), (Some(8), 8, 0), "{counts:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn canary_in_a_pipeline_skips_the_rest_when_a_canary_fails() {
    // Flaky fails the first call for a key: item 1 is the failing canary.
    let items: Vec<Value> =
        (0..6).map(|i| json!({ "key": format!("canary-{i}"), "failures": i32::from(i == 1) })).collect();
    let stage = json!({ "name": "deploy", "mode": "canary", "actor": "Flaky",
                        "scatter": { "input": "$.trigger.items", "as": "item" }, "input": "$.item",
                        "executorConfig": { "canaryCount": 2 } });
    let (report, engine, _workers) = run_pipeline(json!({ "stages": [stage] }), json!({ "items": items }), 4).await;
    let err = report.unwrap_err();
    let (stage, failure) = err.stage_failure().expect("the canary stage failed");
    assert_eq!(stage, "deploy");
    let failure = failure.to_string();
    assert!(failure.contains("task 1") && failure.contains("flaky: call 1 for `canary-1` fails"), "{failure}");
    let run_id = err.run_id().unwrap();
    let counts = engine.counts(run_id, "deploy").unwrap();
    assert_eq!((counts.succeeded, counts.failed, counts.skipped), (1, 1, 4), "{counts:?}");
    let results = engine.results(run_id, "deploy").unwrap();
    let reason = "canary task 1 failed: flaky: call 1 for `canary-1` fails (1 will)".to_string();
    assert!(results[2..].iter().all(|r| r.outcome == Outcome::Skipped(reason.clone())), "{results:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expand_in_a_pipeline_finds_every_page_to_its_depth_parents_first() {
    let (report, engine, _workers) = run_pipeline(
        json!({ "stages": [crawl_stage(json!({ "maxDepth": 2, "maxParallel": 2 }))] }),
        site()["trigger"].clone(),
        4,
    )
    .await;
    let report = report.unwrap();
    let found = ids(&report.context["crawl"]);
    assert_eq!(&found[..2], ["a", "b"], "the seeds first, in order");
    let mut sorted = found.clone();
    sorted.sort();
    assert_eq!(sorted, ["a", "a1", "a11", "a2", "b", "b1"], "a111 is past maxDepth 2");
    let at = |id: &str| found.iter().position(|f| f == id).unwrap();
    assert!(at("a1") < at("a11") && at("a") < at("a2") && at("b") < at("b1"), "discovery order: {found:?}");
    assert_eq!(engine.counts(&report.run_id, "crawl").unwrap().expected, Some(6));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expand_in_a_pipeline_stops_at_max_tasks() {
    let wide = page("root", (0..10).map(|i| page(&format!("c{i}"), vec![])).collect());
    let (report, engine, _workers) =
        run_pipeline(json!({ "stages": [crawl_stage(json!({ "maxTasks": 4 }))] }), json!({ "seeds": [wide] }), 4).await;
    let report = report.unwrap();
    assert_eq!(ids(&report.context["crawl"]), ["root", "c0", "c1", "c2"]);
    assert_eq!(engine.counts(&report.run_id, "crawl").unwrap().expected, Some(4));
}

/// Both from the WDL-style language's generic form, with no parser change.
const PROGRAM: &str = r#"
workflow growing {
  input { hosts seeds }

  canary (host in hosts) {
    call Pass as deploy {
      input: host = host
      config: { canaryCount: 2, maxParallel: 2 }
    }
  }

  expand (page in seeds) {
    call Pass as crawl {
      input: id = page.id, next = page.next
      config: { maxDepth: 1 }
    }
  }
}
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn canary_and_expand_run_from_the_wdl_style_language() {
    let compiled = troupe_dsl::compile(PROGRAM, "growing.wdl").unwrap_or_else(|d| panic!("{d:?}"));
    assert_eq!(compiled.pipeline["stages"][0]["mode"], "canary");
    assert_eq!(compiled.pipeline["stages"][1]["executorConfig"], json!({ "maxDepth": 1 }));
    let trigger = json!({ "hosts": ["h0", "h1", "h2"], "seeds": site()["trigger"]["seeds"].clone() });
    let (report, _engine, _workers) = run_pipeline(compiled.pipeline, trigger, 4).await;
    let report = report.unwrap();
    assert_eq!(report.context["deploy"], json!([{ "host": "h0" }, { "host": "h1" }, { "host": "h2" }]));
    let mut found = ids(&report.context["crawl"]);
    found[2..].sort();
    assert_eq!(found, ["a", "b", "a1", "a2", "b1"], "maxDepth 1: seeds and their pages");
}

#[test]
fn the_host_source_names_neither_mode() {
    let mut stack = vec![root().join("host/src")];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if let Ok(text) = std::fs::read_to_string(&path) {
                for mode in ["canary", "expand"] {
                    assert!(!text.contains(&format!("\"{mode}\"")), "{} names the mode `{mode}`", path.display());
                }
            }
        }
    }
}
