//! A stage's life and its barrier. Opening an open stage (a resumed run) changes nothing.
//! The barrier: a stage is done when every expected task ended, succeeded or failed
//! (`StageCounts::done`, from counters the engines change only when they record a
//! result); whether its failures are tolerated is the orchestrator's
//! `tolerated_failures`, engine-independent, applied to those counters. `seal_stage`
//! answers how many tasks were enqueued, for the orchestrator's expected-tasks check.

use super::subject::{ok, take, tasks, Hooks, Run, MODE, NO_HOOKS};
use serde_json::json;
use std::sync::Arc;
use troupe::api::{EnqueueOptions, Outcome};
use troupe::engine::Engine;
use troupe::rules::barrier::tolerated_failures;

/// Four tasks, two failing: done only when the fourth ends; two failures tolerated by a
/// count of 2, not by 25 %.
pub async fn with_tolerated_failures(engine: Arc<dyn Engine>) {
    let run = Run::start(&engine, &["s"]);
    run.open("s", NO_HOOKS);
    run.enqueue("s", tasks(0..4), &EnqueueOptions::default());
    let c = run.counts("s");
    assert_eq!(c.expected, None);
    assert!(!c.done(), "not done before the executor returned");
    assert_eq!(run.seal("s", 4), 4);
    let mut taken = Vec::new();
    for _ in 0..4 {
        taken.push(take(&engine).await);
    }
    taken.sort_by_key(|t| t.index);
    for t in &taken {
        assert!(!run.counts("s").done(), "done before task {} ended", t.index);
        let outcome =
            if t.index % 2 == 1 { Outcome::Failed(format!("task {} failed", t.index)) } else { ok(json!(t.index)) };
        run.report(t, outcome);
    }
    let c = run.counts("s");
    assert_eq!((c.expected, c.enqueued, c.succeeded, c.failed), (Some(4), 4, 2, 2), "{c:?}");
    assert!(c.done());
    let expected = c.expected.unwrap();
    assert!(c.failed <= tolerated_failures(&json!({ "toleratedFailures": 2 }), expected));
    assert!(c.failed <= tolerated_failures(&json!({ "toleratedFailurePercent": 50 }), expected));
    assert!(c.failed > tolerated_failures(&json!({ "toleratedFailurePercent": 25 }), expected));
    assert!(c.failed > tolerated_failures(&json!({}), expected));
}

/// `seal_stage` reports what was enqueued whatever the executor claimed, and a stage that
/// expects no task is done at once.
pub async fn expected_against_enqueued(engine: Arc<dyn Engine>) {
    let run = Run::start(&engine, &["short", "empty"]);
    run.open("short", NO_HOOKS);
    run.open("empty", NO_HOOKS);
    run.enqueue("short", tasks(0..3), &EnqueueOptions::default());
    assert_eq!(engine.sealed(&run.id, "short").unwrap(), None, "not sealed before the executor returned");
    assert_eq!(run.seal("short", 5), 3, "seal answers the tasks enqueued, not the tasks claimed");
    let c = run.counts("short");
    assert_eq!((c.expected, c.enqueued), (Some(5), 3), "{c:?}");
    assert_eq!(run.seal("empty", 0), 0);
    let c = run.counts("empty");
    assert!(c.done(), "a stage expecting no task is done at once: {c:?}");
    let sealed = engine.sealed(&run.id, "short").unwrap().expect("sealed");
    assert_eq!(sealed.expected_tasks, 5);
}

/// Opening a stage again, as a resumed run does, keeps its tasks, counters, history and
/// hooks as first opened, even if the executor now plans other hooks.
pub async fn reopening_changes_nothing(engine: Arc<dyn Engine>) {
    let run = Run::start(&engine, &["s"]);
    run.open("s", NO_HOOKS);
    run.enqueue("s", tasks(0..2), &EnqueueOptions::default());
    run.seal("s", 3);
    let first = take(&engine).await;
    run.report(&first, ok(json!("before the reopen")));
    let (counts, history) = (run.counts("s"), run.history("s"));
    run.open("s", Hooks { before: true, after: true });
    assert_eq!(run.counts("s"), counts, "reopening changed the counters");
    assert_eq!(run.history("s"), history, "reopening changed the history");
    let info = engine.stage_info(&run.id, "s").unwrap();
    assert_eq!((info.mode.as_str(), info.before_task_hook, info.after_task_hook), (MODE, false, false));
    assert_eq!(engine.sealed(&run.id, "s").unwrap().map(|e| e.expected_tasks), Some(3));
    // The stage still routes as first opened: no admission, no review.
    run.enqueue("s", tasks(2..3), &EnqueueOptions::default());
    run.seal("s", 3);
    for _ in 0..2 {
        let task = take(&engine).await;
        run.report(&task, ok(json!("after the reopen")));
    }
    let c = run.counts("s");
    assert_eq!((c.enqueued, c.succeeded, c.in_flight), (3, 3, 0), "{c:?}");
}
