//! The run store's bookkeeping: cancellation (tasks not started are dropped, later
//! results and enqueues write nothing, a second cancel errors), the lease that tells a
//! driven run from an orphan, and run records (`recent_runs`, `run_exists`,
//! `run_status`, `finish_run`). The embedded engine keeps these in its `Run`; Redis in
//! `P:{R}:run`, `P:{R}:lease`, `P:runs` and `P:runs:all`, the cancel in one `WATCH`ed
//! transaction (`engine/redis/run.rs`), the refusals in troupe.lua's `run_state`.

use super::subject::{ok, pipeline, take, take_hook, tasks, Hooks, Run, NO_HOOKS};
use serde_json::json;
use std::sync::Arc;
use std::time::{Duration, Instant};
use troupe::api::EnqueueOptions;
use troupe::engine::{Engine, Recorded, RunStatus};

/// Held, delayed, ready and gated tasks are dropped by the cancel; a result, an admission
/// or a retry arriving afterwards writes nothing.
pub async fn cancellation(engine: Arc<dyn Engine>) {
    let run = Run::start(&engine, &["held", "delayed", "ready", "gated"]);
    for stage in ["held", "delayed", "ready"] {
        run.open(stage, NO_HOOKS);
    }
    run.open("gated", Hooks { before: true, after: false });
    let one_at_a_time = EnqueueOptions { max_parallel: Some(1), ..Default::default() };
    run.enqueue("held", tasks(0..3), &one_at_a_time);
    run.enqueue("delayed", tasks(0..1), &EnqueueOptions { delay_ms: 1, ..Default::default() });
    run.enqueue("ready", tasks(0..1), &EnqueueOptions::default());
    run.enqueue("gated", tasks(0..1), &EnqueueOptions::default());
    for (stage, n) in [("held", 3), ("delayed", 1), ("ready", 1), ("gated", 1)] {
        run.seal(stage, n);
    }
    assert_eq!(run.counts("held").waiting, 2);

    engine.cancel_run(&run.id).unwrap();
    assert_eq!(engine.run_status(&run.id).unwrap(), RunStatus::Cancelled);
    assert_eq!(engine.lease_holder(&run.id).unwrap(), None);
    let c = run.counts("held");
    assert_eq!(c.waiting, 0, "held tasks are dropped by the cancel: {c:?}");

    // Task 0 of `held` was released before the cancel: a worker that had it reports now.
    let started = run.envelope("held", 0, 1);
    assert_eq!(engine.record(&started, ok(json!("late")), None).unwrap(), Recorded::Ended);
    engine.report(&started, ok(json!("late"))).unwrap();
    engine.flush();
    engine.admit(run.envelope("gated", 0, 1)).unwrap();
    engine.requeue(run.envelope("ready", 0, 1), 0, true).unwrap();
    run.enqueue("ready", tasks(5..7), &EnqueueOptions::default());
    assert_eq!(run.seal("ready", 1), 1, "an enqueue after the cancel writes nothing");
    let c = run.counts("held");
    assert_eq!((c.succeeded, c.failed, c.waiting), (0, 0, 0), "nothing recorded or released after the cancel: {c:?}");
    assert!(engine.results(&run.id, "held").unwrap().is_empty());

    let again = engine.cancel_run(&run.id).expect_err("a second cancel is an error");
    assert!(again.to_string().contains("already ended"), "{again:#}");

    // Nothing of the cancelled run reaches a worker or the hook host: a later run's
    // task, released after all of them, is the first either gets.
    let next = Run::start(&engine, &["s", "g"]);
    next.open("s", NO_HOOKS);
    next.open("g", Hooks { before: true, after: false });
    next.enqueue("s", tasks(0..1), &EnqueueOptions { delay_ms: 50, ..Default::default() });
    next.enqueue("g", tasks(0..1), &EnqueueOptions { delay_ms: 50, ..Default::default() });
    next.seal("s", 1);
    next.seal("g", 1);
    let task = take(&engine).await;
    assert_eq!((&*task.run_id, &*task.stage), (next.id.as_str(), "s"), "a task of the cancelled run was delivered");
    let work = take_hook(&engine).await;
    assert_eq!((&*work.task.run_id, &*work.task.stage), (next.id.as_str(), "g"), "hook work of the cancelled run");
}

/// A lease is exclusive while held and lapses after its ttl, when another orchestrator
/// may take the orphaned run; finishing a run releases it.
pub async fn leases_and_orphans(engine: Arc<dyn Engine>) {
    const TTL: Duration = Duration::from_millis(300);
    let run = Run::start(&engine, &["s"]);
    assert_eq!(engine.lease_holder(&run.id).unwrap(), None, "a new run has no driver");
    assert!(engine.acquire_lease(&run.id, "first", TTL).unwrap());
    assert_eq!(engine.lease_holder(&run.id).unwrap().as_deref(), Some("first"));
    assert!(!engine.acquire_lease(&run.id, "second", TTL).unwrap(), "a held lease is not taken");
    assert!(engine.acquire_lease(&run.id, "first", TTL).unwrap(), "its holder extends it");
    assert_eq!(engine.lease_holder(&run.id).unwrap().as_deref(), Some("first"));

    let since = Instant::now();
    while engine.lease_holder(&run.id).unwrap().is_some() {
        assert!(since.elapsed() < Duration::from_secs(20), "the lease never lapsed");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(engine.run_status(&run.id).unwrap(), RunStatus::Running, "running and undriven: an orphan");
    assert!(engine.acquire_lease(&run.id, "second", TTL).unwrap(), "an orphan is taken over");
    assert_eq!(engine.lease_holder(&run.id).unwrap().as_deref(), Some("second"));
    assert!(!engine.acquire_lease(&run.id, "first", TTL).unwrap());

    engine.finish_run(&run.id, &RunStatus::Succeeded).unwrap();
    assert_eq!(engine.lease_holder(&run.id).unwrap(), None, "finishing a run releases its lease");
}

/// What `troupe status` and `resume` read: runs in start order, their existence, status,
/// stage and definition.
pub async fn run_records(engine: Arc<dyn Engine>) {
    let runs: Vec<Run> = (0..3).map(|_| Run::start(&engine, &["first", "second"])).collect();
    let ids: Vec<String> = runs.iter().map(|r| r.id.clone()).collect();
    assert_eq!(engine.recent_runs(10).unwrap(), ids, "oldest first");
    assert_eq!(engine.recent_runs(2).unwrap(), ids[1..].to_vec(), "the latest two");
    assert!(engine.run_exists(&ids[0]).unwrap());
    assert!(!engine.run_exists("never-started").unwrap());
    assert!(engine.run_record("never-started").is_err());
    let again = engine.start_run(&ids[0], &pipeline(&["first"]), json!({})).expect_err("an id is started once");
    assert!(again.to_string().contains("already exists"), "{again:#}");

    let record = engine.run_record(&ids[0]).unwrap();
    assert_eq!((&record.status, record.stage), (&RunStatus::Running, 0));
    let names: Vec<&str> =
        record.pipeline["stages"].as_array().unwrap().iter().filter_map(|s| s["name"].as_str()).collect();
    assert_eq!(names, ["first", "second"]);
    assert_eq!(record.pipeline().unwrap().stages.len(), 2);

    engine.set_run_stage(&ids[1], 1).unwrap();
    engine.finish_run(&ids[1], &RunStatus::Failed("stage second failed".into())).unwrap();
    engine.finish_run(&ids[2], &RunStatus::Succeeded).unwrap();
    assert_eq!(engine.run_status(&ids[0]).unwrap(), RunStatus::Running);
    assert_eq!(engine.run_record(&ids[1]).unwrap().stage, 1);
    assert_eq!(engine.run_status(&ids[1]).unwrap(), RunStatus::Failed("stage second failed".into()));
    assert_eq!(engine.run_status(&ids[2]).unwrap(), RunStatus::Succeeded);
    assert!(engine.run_exists(&ids[2]).unwrap(), "a finished run is kept (for its retention)");
    let refused = engine.cancel_run(&ids[2]).expect_err("a finished run cannot be cancelled");
    assert!(refused.to_string().contains("already ended: succeeded"), "{refused:#}");
    assert_eq!(engine.run_context(&ids[0]).unwrap()["trigger"], json!({ "case": ids[0] }));
}
