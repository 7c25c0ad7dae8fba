//! First result wins: a task's outcome is recorded once however often it arrives (a
//! redelivered task reported twice, a hook host recording twice), enqueueing an index
//! twice makes one task, a cut stage's late results are stragglers, and results come
//! back in index order with their keys. The embedded engine decides these under its
//! mutex; Redis with `HSETNX` on `tasks:<stage>` and `res:<stage>` in troupe.lua.

use super::subject::{ok, take, take_hook, task, tasks, Hooks, Run, NO_HOOKS};
use serde_json::json;
use std::sync::Arc;
use troupe::api::{EnqueueOptions, Outcome, OutputShape, Task};
use troupe::engine::{Engine, HookKind, Recorded};
use troupe::rules::output::assemble as assemble_output;

/// `record` twice, and a worker's `report` twice, count once; the first outcome stays.
pub async fn duplicates_counted_once(engine: Arc<dyn Engine>) {
    let run = Run::start(&engine, &["s"]);
    run.open("s", NO_HOOKS);
    run.enqueue("s", tasks(0..2), &EnqueueOptions::default());
    run.seal("s", 2);
    let (first, second) = (take(&engine).await, take(&engine).await);
    let (hooked, worked) = if first.index == 0 { (first, second) } else { (second, first) };

    assert_eq!(engine.record(&hooked, ok(json!("first")), None).unwrap(), Recorded::Counted);
    assert_eq!(engine.record(&hooked, ok(json!("second")), None).unwrap(), Recorded::Duplicate);
    assert_eq!(engine.record(&hooked, Outcome::Failed("late".into()), None).unwrap(), Recorded::Duplicate);
    let c = run.counts("s");
    assert_eq!((c.succeeded, c.failed, c.in_flight), (1, 0, 1), "{c:?}");

    run.report(&worked, ok(json!("first")));
    run.report(&worked, Outcome::Failed("redelivered".into()));
    let c = run.counts("s");
    assert_eq!((c.succeeded, c.failed, c.in_flight), (2, 0, 0), "{c:?}");
    assert!(c.done());
    let outcomes: Vec<Outcome> = engine.results(&run.id, "s").unwrap().into_iter().map(|r| r.outcome).collect();
    assert_eq!(outcomes, vec![ok(json!("first")), ok(json!("first"))], "the first outcome wins");

    // A result for a task never enqueued is an error, not a count.
    let stranger = run.envelope("s", 7, 1);
    let refused = engine.record(&stranger, ok(json!(null)), None).expect_err("no task 7");
    assert!(refused.to_string().contains("has no task 7"), "{refused:#}");
    assert_eq!(run.counts("s").succeeded, 2);
}

/// With `after-task`, a report for a task that already has a result is not reviewed
/// again: the hook never sees an attempt of a task that has ended.
pub async fn duplicate_reports_not_reviewed(engine: Arc<dyn Engine>) {
    let run = Run::start(&engine, &["s"]);
    run.open("s", Hooks { before: false, after: true });
    run.enqueue("s", tasks(0..2), &EnqueueOptions::default());
    run.seal("s", 2);
    let (first, second) = (take(&engine).await, take(&engine).await);
    run.report(&first, ok(json!(1)));
    let review = take_hook(&engine).await;
    assert_eq!(review.task.index, first.index);
    assert_eq!(engine.record(&review.task, ok(json!(1)), None).unwrap(), Recorded::Counted);
    // The same delivery reported again, then the other task: the next review is the
    // other task's (hook work is handed out in the order it arrives).
    run.report(&first, ok(json!(1)));
    run.report(&second, ok(json!(2)));
    let next = take_hook(&engine).await;
    assert_eq!(next.task.index, second.index, "a task already recorded was reviewed again: {next:?}");
    assert_eq!(next.kind, HookKind::Review(ok(json!(2))));
    assert_eq!(run.counts("s").succeeded, 1);
}

/// Enqueueing an index again (in a later batch, or twice in one) makes no second task;
/// the first task's input and key stay.
pub async fn idempotent_enqueue(engine: Arc<dyn Engine>) {
    let run = Run::start(&engine, &["s"]);
    run.open("s", NO_HOOKS);
    let keyed = |index, text: &str| Task {
        index,
        actor: "A".into(),
        input: json!({ "which": text }).into(),
        key: Some(json!(format!("key-{text}"))),
    };
    run.enqueue("s", vec![keyed(0, "first")], &EnqueueOptions::default());
    run.enqueue("s", vec![keyed(0, "second"), keyed(1, "first"), keyed(1, "second")], &EnqueueOptions::default());
    assert_eq!(run.seal("s", 2), 2, "two tasks, whatever was enqueued twice");
    let mut seen = vec![take(&engine).await, take(&engine).await];
    seen.sort_by_key(|t| t.index);
    for t in &seen {
        assert_eq!(t.input, json!({ "which": "first" }), "task {} keeps its first input", t.index);
        assert_eq!(t.key, Some(json!("key-first")), "task {} keeps its first key", t.index);
        run.report(t, ok(t.input.to_value()));
    }
    let c = run.counts("s");
    assert_eq!((c.enqueued, c.succeeded, c.in_flight), (2, 2, 0), "{c:?}");
    let keys: Vec<_> = engine.results(&run.id, "s").unwrap().into_iter().map(|r| r.key).collect();
    assert_eq!(keys, vec![Some(json!("key-first")); 2]);
}

/// After `cut_stage`, results are stragglers: kept in arrival order, never counted
/// toward the barrier nor among `results()`, and still recorded once.
pub async fn stragglers_after_cut(engine: Arc<dyn Engine>) {
    let run = Run::start(&engine, &["s"]);
    run.open("s", NO_HOOKS);
    run.enqueue("s", tasks(0..3), &EnqueueOptions::default());
    run.seal("s", 3);
    let mut taken = [take(&engine).await, take(&engine).await, take(&engine).await];
    taken.sort_by_key(|t| t.index);
    assert_eq!(engine.record(&taken[0], ok(json!(0)), None).unwrap(), Recorded::Counted);
    engine.cut_stage(&run.id, "s").unwrap();
    assert_eq!(engine.record(&taken[2], ok(json!(2)), None).unwrap(), Recorded::Straggler);
    run.report(&taken[1], Outcome::Failed("late and failed".into()));
    assert_eq!(engine.record(&taken[2], ok(json!("again")), None).unwrap(), Recorded::Duplicate);
    let c = run.counts("s");
    assert_eq!((c.succeeded, c.failed, c.stragglers, c.in_flight), (1, 0, 2, 0), "{c:?}");
    assert!(!c.done(), "stragglers do not trip the barrier");
    let results: Vec<u64> = engine.results(&run.id, "s").unwrap().iter().map(|r| r.index).collect();
    assert_eq!(results, vec![0]);
    let late = engine.stragglers(&run.id, "s").unwrap();
    let late: Vec<(u64, Outcome)> = late.into_iter().map(|r| (r.index, r.outcome)).collect();
    assert_eq!(late, vec![(2, ok(json!(2))), (1, Outcome::Failed("late and failed".into()))], "in arrival order");
}

/// Results in index order whatever order tasks were enqueued and ended in, keys kept,
/// assembled as a list (failed: null) and as a keyed list.
pub async fn list_and_keyed_list_order(engine: Arc<dyn Engine>) {
    let run = Run::start(&engine, &["s"]);
    run.open("s", NO_HOOKS);
    let keys = [json!("invoice"), json!(7), json!({ "k": ["x"] }), json!("invoice"), json!(null)];
    let enqueued: Vec<Task> = [4u64, 2, 0, 3, 1]
        .iter()
        .map(|&i| Task { key: Some(keys[i as usize].clone()), ..task(i, if i % 2 == 0 { "A" } else { "B" }) })
        .collect();
    run.enqueue("s", enqueued, &EnqueueOptions::default());
    run.seal("s", 5);
    let mut taken = Vec::new();
    for _ in 0..5 {
        taken.push(take(&engine).await);
    }
    for t in taken.iter().rev() {
        let outcome = if t.index == 3 { Outcome::Failed("no".into()) } else { ok(json!(t.index * 10)) };
        run.report(t, outcome);
    }
    let results = engine.results(&run.id, "s").unwrap();
    let seen: Vec<(u64, &str, Option<serde_json::Value>)> =
        results.iter().map(|r| (r.index, r.actor.as_str(), r.key.clone())).collect();
    let expected: Vec<(u64, &str, Option<serde_json::Value>)> =
        (0..5).map(|i| (i, if i % 2 == 0 { "A" } else { "B" }, Some(keys[i as usize].clone()))).collect();
    assert_eq!(seen, expected, "results in index order, with actor and key");
    assert_eq!(
        assemble_output(OutputShape::List, 5, results.clone(), None),
        json!([0, 10, 20, null, 40]),
        "a list in index order, a failed task null"
    );
    assert_eq!(
        assemble_output(OutputShape::KeyedList, 5, results, None),
        json!([
            { "key": "invoice", "result": 0 },
            { "key": 7, "result": 10 },
            { "key": { "k": ["x"] }, "result": 20 },
            { "key": "invoice", "result": null },
            { "key": null, "result": 40 }
        ])
    );
}
