//! Retention on the Redis engine: once a run ends, every key it still has expires after
//! the retention (the run uses held tasks, retries with delays and a gather, and every
//! key under its prefix is checked); with no retention they stay; a cancelled run's keys
//! expire too, even when results and retries of its tasks arrive after the cancel. Needs
//! the Redis at `TROUPE_TEST_REDIS`.

use serde_json::{json, Value};
use std::time::Duration;
use troupe::engine::{HookQueue, Receipt, Recorded, RunStore, TaskQueue};
use troupe::orchestrator::{Orchestrator, RunError, Silent};
use troupe::pipeline::Pipeline;
use troupe_tests::{default_plugins, redis_engine, test_redis_url};

/// Stages that touch every kind of run key: a capped scatter (held tasks), a retry of a
/// failing actor (delayed tasks, history), and a gather.
fn pipeline() -> Pipeline {
    let stages = json!({ "name": "kept", "stages": [
        { "name": "spread", "mode": "scatter", "actor": "Pass",
          "scatter": { "input": "$.trigger.items", "as": "item" }, "input": "$.item",
          "executorConfig": { "maxParallel": 2 } },
        { "name": "again", "mode": "retry", "actor": "Fail", "input": { "message": "no" },
          "executorConfig": { "maxRetries": 1, "backoff": "fixed", "baseDelayMs": 10, "toleratedFailures": 1 } },
        { "name": "all", "mode": "gather", "actor": "Pass",
          "gather": { "stage": "spread" }, "input": { "items": "$.group.items" } } ] });
    Pipeline::from_value(stages, "test").unwrap()
}

/// Run the pipeline with `retain`; each key of the run with its PTTL (ms; -1 = none).
async fn run_and_list_ttls(retain: Option<Duration>) -> Vec<(String, i64)> {
    let (plugins, manifest) = default_plugins();
    let engine = redis_engine(&manifest, |o| o.retain = retain);
    let workers = troupe::worker::spawn(engine.clone(), plugins.clone(), 4);
    let items: Vec<Value> = (0..10).map(|i| json!({ "n": i })).collect();
    let report = Orchestrator::new(engine.clone(), plugins).run(&pipeline(), json!({ "items": items }), &Silent).await;
    let report = report.unwrap_or_else(|e| panic!("{e}"));
    tokio::task::spawn_blocking(move || workers.shutdown()).await.unwrap();

    let mut redis = redis::Client::open(test_redis_url().as_str()).unwrap().get_connection().unwrap();
    let pattern = format!("{}:*", engine.keys().base(&report.run_id));
    let keys: Vec<String> = redis::cmd("KEYS").arg(&pattern).query(&mut redis).unwrap();
    assert!(keys.len() >= 10, "the run left few keys ({keys:?}): is the pattern right?");
    keys.into_iter()
        .map(|k| {
            let ttl: i64 = redis::cmd("PTTL").arg(&k).query(&mut redis).unwrap();
            (k, ttl)
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_key_of_an_ended_run_expires_after_the_retention() {
    let ttls = run_and_list_ttls(Some(Duration::from_secs(600))).await;
    let without: Vec<&(String, i64)> = ttls.iter().filter(|(_, ttl)| !(1..=600_000).contains(ttl)).collect();
    assert!(without.is_empty(), "keys that would never expire (or expire wrongly): {without:?}");
    // The kinds of key this run made, so the check above covered them.
    for kind in [":run", ":ctx", ":st:spread", ":tasks:spread", ":res:spread", ":hist:again", ":q:Pass", ":q:Fail"] {
        assert!(ttls.iter().any(|(k, _)| k.ends_with(kind)), "no `{kind}` key among {ttls:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_no_retention_an_ended_run_stays() {
    let ttls = run_and_list_ttls(None).await;
    assert!(ttls.iter().all(|(_, ttl)| *ttl == -1), "{ttls:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_runs_keys_expire_even_when_its_tasks_report_late() {
    let (plugins, manifest) = default_plugins();
    let engine = redis_engine(&manifest, |o| o.retain = Some(Duration::from_secs(600)));
    let pipeline = Pipeline::from_value(
        json!([{ "name": "spread", "mode": "scatter", "actor": "Pass",
                 "scatter": { "input": "$.trigger.items", "as": "item" }, "input": "$.item" }]),
        "test",
    )
    .unwrap();
    let orchestrator = Orchestrator::new(engine.clone(), plugins);
    let run = "cancelled-late";
    let driving = tokio::spawn(async move {
        orchestrator.run_as(run, &pipeline, json!({ "items": [1, 2, 3] }), &Silent).await.map(|_| ())
    });
    // This test is the only worker: it takes one task and sits on it.
    let task = tokio::time::timeout(Duration::from_secs(30), engine.next_task()).await.expect("a task arrived");
    engine.cancel_run(run).unwrap();
    let outcome = tokio::time::timeout(Duration::from_secs(10), driving).await.expect("the orchestrator stopped");
    assert!(matches!(outcome.unwrap(), Err(RunError::Cancelled { .. })));

    // The worker reports after the cancel, and retries another: nothing is written.
    let late = engine.record(&task, troupe::Outcome::Succeeded(json!("late").into()), None).unwrap();
    assert_eq!(late, Recorded::Ended);
    let mut other = task.clone();
    other.index = (task.index + 1) % 3;
    other.receipt = Receipt::none();
    engine.requeue(other, 0, true).unwrap();

    let mut redis = redis::Client::open(test_redis_url().as_str()).unwrap().get_connection().unwrap();
    let keys: Vec<String> = redis::cmd("KEYS").arg(format!("{}:*", engine.keys().base(run))).query(&mut redis).unwrap();
    let ttls: Vec<(String, i64)> =
        keys.into_iter().map(|k| (k.clone(), redis::cmd("PTTL").arg(&k).query(&mut redis).unwrap())).collect();
    assert!(ttls.iter().any(|(k, _)| k.ends_with(":run")), "{ttls:?}");
    assert!(!ttls.iter().any(|(k, _)| k.contains(":res:")), "a late result was recorded: {ttls:?}");
    let forever: Vec<_> = ttls.iter().filter(|(_, ttl)| !(1..=600_000).contains(ttl)).collect();
    assert!(forever.is_empty(), "keys that would never expire: {forever:?}");
}
