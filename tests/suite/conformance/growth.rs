//! Stages that skip and grow (WIT 0.2): a task enqueued with `skip` ends at once as
//! skipped (counted by the barrier, not a failure, never delivered); an accepted review's
//! extension joins the stage with the outcome, exactly once, numbered after every task so
//! far, one generation on, up to its cap, raising the expected count; reviewed before the
//! seal, it waits and joins when the stage is sealed. The embedded engine does this under
//! its mutex (`add_tasks`, `extend`); Redis in troupe.lua (`add_task`, `apply_extension`
//! from `record_items` and `seal`).

use super::subject::{ok, take, take_hook, tasks, Hooks, Run, NO_HOOKS};
use serde_json::{json, Value};
use std::sync::Arc;
use troupe::api::{EnqueueOptions, Extension, NewTask, Outcome};
use troupe::engine::{Engine, HookKind, Recorded, TaskEnvelope};

const REVIEWED: Hooks = Hooks { before: false, after: true };

fn grow(inputs: &[&str], cap: u64, options: EnqueueOptions) -> Extension {
    let tasks =
        inputs.iter().map(|i| NewTask { actor: "A".into(), input: json!({ "page": i }).into(), key: None }).collect();
    Extension { tasks, options, cap }
}

/// Take a task, report it, and take its review (the stage has `after-task`).
async fn reviewed(run: &Run, engine: &Arc<dyn Engine>, outcome: Outcome) -> TaskEnvelope {
    let task = take(engine).await;
    run.report(&task, outcome.clone());
    let work = take_hook(engine).await;
    assert_eq!(work.task.index, task.index);
    assert_eq!(work.kind, HookKind::Review(outcome));
    work.task
}

/// Skipped tasks end at once: the barrier counts them, nothing delivers them, they are
/// not failures, and their results say why.
pub async fn skipped_tasks_end_without_running(engine: Arc<dyn Engine>) {
    let run = Run::start(&engine, &["s"]);
    run.open("s", NO_HOOKS);
    run.enqueue("s", tasks(0..1), &EnqueueOptions::default());
    let skip = EnqueueOptions { skip: Some("canary 0 failed".into()), max_parallel: Some(1), ..Default::default() };
    run.enqueue("s", tasks(1..3), &skip);
    run.enqueue("s", tasks(1..3), &EnqueueOptions::default()); // idempotent: still skipped
    assert_eq!(run.seal("s", 3), 3);
    let c = run.counts("s");
    assert_eq!((c.skipped, c.in_flight, c.waiting, c.failed), (2, 1, 0, 0), "{c:?}");
    assert!(!c.done());
    let only = take(&engine).await;
    assert_eq!(only.index, 0);
    run.report(&only, ok(json!("ran")));
    let c = run.counts("s");
    assert_eq!((c.succeeded, c.skipped, c.failed, c.in_flight), (1, 2, 0, 0), "{c:?}");
    assert!(c.done(), "skipped tasks count toward the barrier: {c:?}");
    let outcomes: Vec<(u64, Outcome, u32)> =
        engine.results(&run.id, "s").unwrap().into_iter().map(|r| (r.index, r.outcome, r.attempts)).collect();
    let skipped = Outcome::Skipped("canary 0 failed".into());
    assert_eq!(outcomes, vec![(0, ok(json!("ran")), 1), (1, skipped.clone(), 0), (2, skipped, 0)]);
}

/// An accepted review's extension joins the stage once, after every task so far, one
/// generation on, up to its cap; a repeated record of the same task adds nothing.
pub async fn extension_joins_with_the_outcome(engine: Arc<dyn Engine>) {
    let run = Run::start(&engine, &["s"]);
    run.open("s", REVIEWED);
    run.enqueue("s", tasks(0..1), &EnqueueOptions::default());
    assert_eq!(run.seal("s", 1), 1);
    let seed = reviewed(&run, &engine, ok(json!({ "next": ["a", "b", "c"] }))).await;
    let extension = grow(&["a", "b", "c"], 3, EnqueueOptions::default());
    assert_eq!(engine.record(&seed, ok(json!("seed")), Some(&extension)).unwrap(), Recorded::Counted);
    let c = run.counts("s");
    assert_eq!((c.expected, c.enqueued, c.succeeded), (Some(3), 3, 1), "the cap of 3 left one out: {c:?}");
    // The reviewed task's slot is free before its children take theirs: never 3 at once.
    assert_eq!((c.in_flight, c.max_in_flight), (2, 2), "{c:?}");
    // The same review recorded again (a hook host that died after recording): nothing more.
    assert_eq!(engine.record(&seed, ok(json!("seed")), Some(&extension)).unwrap(), Recorded::Duplicate);
    assert_eq!(run.counts("s").expected, Some(3));

    let mut children = vec![take(&engine).await, take(&engine).await];
    children.sort_by_key(|t| t.index);
    let seen: Vec<(u64, u32, Value)> = children.iter().map(|t| (t.index, t.generation, t.input.to_value())).collect();
    assert_eq!(seen, vec![(1, 1, json!({ "page": "a" })), (2, 1, json!({ "page": "b" }))]);

    // A child's review grows the stage again: generation 2, numbered after the children.
    let child = children.remove(0);
    run.report(&child, ok(json!("a")));
    let work = take_hook(&engine).await;
    assert_eq!((work.task.index, work.task.generation), (1, 1));
    let extension = grow(&["d"], 10, EnqueueOptions::default());
    assert_eq!(engine.record(&work.task, ok(json!("a")), Some(&extension)).unwrap(), Recorded::Counted);
    let grandchild = take(&engine).await;
    assert_eq!((grandchild.index, grandchild.generation), (3, 2));
    assert!(!run.counts("s").done());
    let last = children.remove(0);
    for (task, value) in [(last, json!("b")), (grandchild, json!("d"))] {
        run.report(&task, ok(value.clone()));
        let work = take_hook(&engine).await;
        assert_eq!(engine.record(&work.task, ok(value), None).unwrap(), Recorded::Counted);
    }
    let c = run.counts("s");
    assert_eq!((c.expected, c.succeeded, c.in_flight), (Some(4), 4, 0), "{c:?}");
    assert!(c.done());
    let results: Vec<Value> = engine
        .results(&run.id, "s")
        .unwrap()
        .into_iter()
        .map(|r| match r.outcome {
            Outcome::Succeeded(v) => v.to_value(),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(results, vec![json!("seed"), json!("a"), json!("b"), json!("d")], "discovery order");
}

/// A review that grows the stage before `execute` returned waits for the seal: the seal
/// reports execute's own count, then adds the extension after it.
pub async fn extension_before_the_seal_waits_for_it(engine: Arc<dyn Engine>) {
    let run = Run::start(&engine, &["s"]);
    run.open("s", REVIEWED);
    run.enqueue("s", tasks(0..2), &EnqueueOptions::default());
    let early = reviewed(&run, &engine, ok(json!(0))).await;
    let extension = grow(&["x"], 100, EnqueueOptions { max_parallel: Some(1), ..Default::default() });
    assert_eq!(engine.record(&early, ok(json!(0)), Some(&extension)).unwrap(), Recorded::Counted);
    let c = run.counts("s");
    assert_eq!((c.expected, c.enqueued), (None, 2), "nothing joins before the seal: {c:?}");
    assert_eq!(run.seal("s", 2), 2, "the seal counts what execute enqueued");
    let c = run.counts("s");
    assert_eq!((c.expected, c.enqueued), (Some(3), 3), "{c:?}");
    // maxParallel 1 from the extension: the other seed is in flight, so the new task waits.
    assert_eq!((c.in_flight, c.waiting), (1, 1), "{c:?}");
    let other = take(&engine).await;
    run.report(&other, ok(json!(1)));
    let work = take_hook(&engine).await;
    assert_eq!(engine.record(&work.task, ok(json!(1)), None).unwrap(), Recorded::Counted);
    let grown = take(&engine).await;
    assert_eq!((grown.index, grown.generation, grown.input.to_value()), (2, 1, json!({ "page": "x" })));
}

/// An extension may skip: its tasks are added as skipped (a canary whose canary failed).
pub async fn extension_that_skips(engine: Arc<dyn Engine>) {
    let run = Run::start(&engine, &["s"]);
    run.open("s", REVIEWED);
    run.enqueue("s", tasks(0..1), &EnqueueOptions::default());
    run.seal("s", 1);
    let canary = reviewed(&run, &engine, Outcome::Failed("boom".into())).await;
    let skip = EnqueueOptions { skip: Some("canary task 0 failed: boom".into()), ..Default::default() };
    let extension = grow(&["b", "c"], 100, skip);
    assert_eq!(engine.record(&canary, Outcome::Failed("boom".into()), Some(&extension)).unwrap(), Recorded::Counted);
    let c = run.counts("s");
    assert_eq!((c.expected, c.failed, c.skipped, c.in_flight), (Some(3), 1, 2, 0), "{c:?}");
    assert!(c.done());
}
