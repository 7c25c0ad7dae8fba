//! The seed's custom executors (rate-limited, retry, circuit-breaker), built as third-party
//! plugins in `plugins/community/` and registered through `troupe.toml` alone: end to end
//! on the embedded engine, in the plugin harness, and a check that the host knows none of
//! their names.

use serde_json::{json, Value};
use std::time::Duration;
use troupe::engine::RunStore;
use troupe::harness::Harness;
use troupe::{Outcome, Verdict};
use troupe_tests::{plugin, root, run_pipeline};

fn scatter_stage(name: &str, mode: &str, actor: &str, config: Value) -> Value {
    json!({ "name": name, "mode": mode, "actor": actor, "scatter": { "input": "$.trigger.items", "as": "item" },
            "input": "$.item", "executorConfig": config })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limited_releases_thirty_tasks_no_faster_than_ten_per_second() {
    let items: Vec<Value> = (0..30).map(|i| json!({ "n": i })).collect();
    let pipeline =
        json!({ "stages": [scatter_stage("api-calls", "rate-limited", "Pass", json!({ "rateLimit": 10 }))] });
    let (report, engine, _workers) = run_pipeline(pipeline, json!({ "items": items }), 16).await;
    let report = report.unwrap();
    let mut released: Vec<u64> =
        engine.task_history(&report.run_id, "api-calls").unwrap().into_iter().map(|(_, times)| times[0]).collect();
    released.sort();
    assert_eq!(released.len(), 30);
    // 10 per second: the k-th task is released no sooner than k x 100 ms after the first,
    // with 5 ms of tolerance for timer granularity.
    for (k, at) in released.iter().enumerate() {
        assert!(*at + 5 >= released[0] + 100 * k as u64, "task {k} released at {at} ms: {released:?}");
    }
    assert_eq!(report.context["api-calls"][29], json!({ "n": 29 }));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_tries_a_failing_task_max_retries_plus_one_times_with_growing_delays() {
    let pipeline = json!({ "stages": [
        { "name": "fetch-data", "mode": "retry", "actor": "Fail", "input": { "message": "upstream 503" },
          "executorConfig": { "maxRetries": 3, "backoff": "exponential", "baseDelayMs": 50 } }
    ] });
    let (report, engine, _workers) = run_pipeline(pipeline, json!({}), 4).await;
    let err = report.unwrap_err();
    let run_id = err.run_id().expect("the run started").to_string();
    assert_eq!(
        err.stage_failure().map(|(s, r)| (s.to_string(), r.to_string())),
        Some((
            "fetch-data".into(),
            "1 of 1 tasks failed (tolerated: 0)\n  task 0 (Fail, 4 attempts): upstream 503".into()
        ))
    );
    let history = engine.task_history(&run_id, "fetch-data").unwrap();
    let times = &history[0].1;
    assert_eq!(times.len(), 4, "maxRetries + 1 attempts: {times:?}");
    let gaps: Vec<u64> = times.windows(2).map(|w| w[1] - w[0]).collect();
    for (gap, at_least) in gaps.iter().zip([50, 100, 200]) {
        assert!(*gap + 5 >= at_least, "delays must grow 50, 100, 200 ms: {gaps:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_succeeds_once_a_flaky_actor_recovers() {
    let pipeline = json!({ "stages": [
        { "name": "fetch-data", "mode": "retry", "actor": "Flaky", "input": { "key": "fetch", "failures": 2 },
          "executorConfig": { "maxRetries": 3, "backoff": "fixed", "baseDelayMs": 10 } }
    ] });
    let (report, engine, _workers) = run_pipeline(pipeline, json!({}), 4).await;
    let report = report.unwrap();
    assert_eq!(report.context["fetch-data"], json!({ "key": "fetch", "failures": 2 }));
    assert_eq!(engine.task_history(&report.run_id, "fetch-data").unwrap()[0].1.len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn circuit_breaker_opens_after_threshold_fails_fast_and_a_trial_closes_it() {
    let items: Vec<Value> = (0..10).map(|i| json!({ "key": "svc", "failures": 3, "n": i })).collect();
    let stage = scatter_stage(
        "process",
        "circuit-breaker",
        "Flaky",
        json!({ "threshold": 3, "timeout": 400, "toleratedFailurePercent": 100 }),
    );
    let pipeline = json!({ "stages": [stage] });
    let (plugins, manifest) = troupe_tests::default_plugins();
    let engine = std::sync::Arc::new(troupe::engine::EmbeddedEngine::new(
        manifest.actors.keys().map(|a| a.to_string()),
        troupe::LogLevel::Warn,
    ));
    let _workers = troupe::worker::spawn(engine.clone(), plugins.clone(), 8);
    let orchestrator = troupe::orchestrator::Orchestrator::new(engine.clone(), plugins);
    let pipeline = troupe::pipeline::Pipeline::from_value(pipeline, "cb").unwrap();

    // Run 1: the first three calls fail and open the circuit; the other seven fail fast.
    let first =
        orchestrator.run(&pipeline, json!({ "items": items.clone() }), &troupe::orchestrator::Silent).await.unwrap();
    let results = engine.results(&first.run_id, "process").unwrap();
    let errors: Vec<String> = results
        .iter()
        .map(|r| match &r.outcome {
            Outcome::Failed(e) => e.clone(),
            Outcome::Succeeded(_) => "ok".into(),
            Outcome::Skipped(_) => "skipped".into(),
        })
        .collect();
    assert_eq!(errors.iter().filter(|e| e.starts_with("flaky: call")).count(), 3, "{errors:?}");
    assert_eq!(errors.iter().filter(|e| *e == "circuit open").count(), 7, "{errors:?}");

    // While open, a new run fails fast without reaching the actor.
    let second = orchestrator
        .run(&pipeline, json!({ "items": items[..2].to_vec() }), &troupe::orchestrator::Silent)
        .await
        .unwrap();
    assert!(engine
        .results(&second.run_id, "process")
        .unwrap()
        .iter()
        .all(|r| r.outcome == Outcome::Failed("circuit open".into())));

    // After the timeout one trial goes through (call 4 succeeds) and closes the circuit.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let third = orchestrator.run(&pipeline, json!({ "items": items }), &troupe::orchestrator::Silent).await.unwrap();
    let output = third.context["process"].as_array().unwrap().clone();
    assert!(output.iter().all(|v| !v.is_null()), "every task succeeded once the circuit closed: {output:?}");
}

#[test]
fn the_host_source_names_none_of_the_custom_modes() {
    let modes = ["rate-limited", "retry", "circuit-breaker"];
    let mut stack = vec![root().join("host/src")];
    let mut checked = 0;
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            for mode in modes {
                assert!(!text.contains(&format!("\"{mode}\"")), "{} names the mode `{mode}`", path.display());
            }
            checked += 1;
        }
    }
    assert!(checked > 20, "walked the host source");
}

fn harness(mode: &str) -> Harness {
    Harness::load(plugin(mode), mode).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn harness_rate_limited_asks_the_host_for_a_token_bucket_per_actor() {
    let stage = scatter_stage("api-calls", "rate-limited", "APIClient", json!({ "rateLimit": 10, "burst": 2 }));
    let run = harness("rate-limited")
        .run(&stage, &json!({ "trigger": { "items": [1, 2, 3] } }), |t, _| Outcome::Succeeded(t.input.clone()))
        .unwrap();
    assert_eq!(run.output(), Some(&json!([1, 2, 3])));
    let limit = run.enqueued[0].options.rate_limit.clone().expect("a rate limit");
    assert_eq!((limit.bucket.as_str(), limit.per_second, limit.burst), ("APIClient", 10.0, 2));
    let bad = scatter_stage("api-calls", "rate-limited", "APIClient", json!({ "rateLimit": 0 }));
    let problems = harness("rate-limited").validate(&bad).unwrap();
    assert_eq!(problems[0].field, "executorConfig.rateLimit");
}

#[test]
fn harness_retry_backs_off_exponentially_up_to_the_maximum() {
    let stage = json!({ "name": "fetch-data", "mode": "retry", "actor": "APIFetcher",
                        "executorConfig": { "maxRetries": 4, "backoff": "exponential", "baseDelayMs": 100, "maxDelayMs": 500 } });
    let run = harness("retry").run(&stage, &json!({}), |_, _| Outcome::Failed("503".into())).unwrap();
    let at: Vec<u64> = run.attempts.iter().map(|a| a.released_ms).collect();
    assert_eq!(at, [0, 100, 300, 700, 1200], "delays 100, 200, 400, then capped at 500");
    assert_eq!(run.attempts.last().unwrap().verdict, Some(Verdict::Accept));
    assert_eq!(run.results[0].attempts, 5);
}

#[test]
fn harness_retry_jitter_varies_delays_reproducibly() {
    let stage = json!({ "name": "f", "mode": "retry", "actor": "A",
                        "executorConfig": { "maxRetries": 3, "backoff": "fixed", "baseDelayMs": 1000, "jitter": 0.5 } });
    let once = harness("retry").run(&stage, &json!({}), |_, _| Outcome::Failed("x".into())).unwrap();
    let again = harness("retry").run(&stage, &json!({}), |_, _| Outcome::Failed("x".into())).unwrap();
    let gaps: Vec<u64> = once.attempts.windows(2).map(|w| w[1].released_ms - w[0].released_ms).collect();
    assert!(gaps.iter().all(|g| (500..=1500).contains(g)), "{gaps:?}");
    assert!(gaps.iter().any(|g| *g != 1000), "jitter changed something: {gaps:?}");
    assert_eq!(once.attempts, again.attempts, "the same run, task and attempt get the same delay");
}

#[test]
fn harness_circuit_breaker_rejects_after_threshold_consecutive_failures() {
    let stage =
        scatter_stage("process", "circuit-breaker", "DataProcessor", json!({ "threshold": 2, "timeout": 60000 }));
    let items: Vec<u32> = (0..5).collect();
    let mut reached = 0;
    let run = harness("circuit-breaker")
        .run(&stage, &json!({ "trigger": { "items": items } }), |_, _| {
            reached += 1;
            Outcome::Failed("boom".into())
        })
        .unwrap();
    assert_eq!(reached, 2, "two failures reach the actor, then the circuit is open");
    let outcomes: Vec<Option<Outcome>> = run.attempts.iter().map(|a| a.outcome.clone()).collect();
    assert_eq!(
        outcomes[2..],
        [
            Some(Outcome::Failed("circuit open".into())),
            Some(Outcome::Failed("circuit open".into())),
            Some(Outcome::Failed("circuit open".into()))
        ]
    );
    assert_eq!(run.enqueued[0].options.max_parallel, Some(1));
}
