//! Hook routing and the verdicts a hook host gives through [`HookQueue`]: a stage with
//! `before-task` releases its tasks to admission (no worker sees one before `admit`); a
//! stage with `after-task` turns a worker's report into a review (nothing counted before
//! `record`); `requeue` with `next_attempt` is a retry (attempt + 1, same input), without
//! it a deferral (same attempt, admission asked again); a rejection is recorded as a
//! failure. The embedded engine routes in `make_ready`/`report`; Redis in troupe.lua
//! (`xadd` with `gate`, `finish` -> `to_review`, `admit`, `record`, `requeue`).

use super::subject::{ok, take, take_hook, tasks, Hooks, Run, NO_HOOKS};
use serde_json::json;
use std::sync::Arc;
use troupe::api::{EnqueueOptions, Outcome};
use troupe::engine::{Engine, HookKind, Recorded};

const BEFORE: Hooks = Hooks { before: true, after: false };
const AFTER: Hooks = Hooks { before: false, after: true };

/// A gated task goes to the hook host, not to the workers, until admitted.
pub async fn before_task_routes_to_admission(engine: Arc<dyn Engine>) {
    let run = Run::start(&engine, &["gated", "open"]);
    run.open("gated", BEFORE);
    run.open("open", NO_HOOKS);
    // The gated task is released first, on the same actor: had it gone to the workers,
    // it would be the first task they get.
    run.enqueue("gated", tasks(0..1), &EnqueueOptions::default());
    run.enqueue("open", tasks(0..1), &EnqueueOptions::default());
    run.seal("gated", 1);
    run.seal("open", 1);
    let first = take(&engine).await;
    assert_eq!(&*first.stage, "open", "a task of a stage with before-task reached a worker unadmitted");
    let work = take_hook(&engine).await;
    assert_eq!(work.kind, HookKind::Admit);
    assert_eq!((&*work.task.stage, work.task.index, work.task.attempt), ("gated", 0, 1));
    assert_eq!(work.task.input, json!({ "n": 0 }));
    let c = run.counts("gated");
    assert_eq!((c.in_flight, c.succeeded), (1, 0), "released to admission is in flight: {c:?}");
    engine.admit(work.task).unwrap();
    let admitted = take(&engine).await;
    assert_eq!((&*admitted.stage, admitted.index, admitted.attempt), ("gated", 0, 1));
    assert_eq!(admitted.input, json!({ "n": 0 }));
    run.report(&admitted, ok(json!("ran")));
    let c = run.counts("gated");
    assert_eq!((c.succeeded, c.in_flight), (1, 0), "{c:?}");
}

/// A worker's outcome on a stage with `after-task` waits for the hook host's `record`.
pub async fn after_task_routes_to_review(engine: Arc<dyn Engine>) {
    let run = Run::start(&engine, &["s"]);
    run.open("s", AFTER);
    run.enqueue("s", tasks(0..2), &EnqueueOptions::default());
    run.seal("s", 2);
    let mut taken = [take(&engine).await, take(&engine).await];
    taken.sort_by_key(|t| t.index);
    run.report(&taken[0], ok(json!({ "value": [1, 2] })));
    run.report(&taken[1], Outcome::Failed("boom".into()));
    let c = run.counts("s");
    assert_eq!((c.succeeded, c.failed, c.in_flight), (0, 0, 2), "counted before review: {c:?}");
    for _ in 0..2 {
        let work = take_hook(&engine).await;
        let expected = match work.task.index {
            0 => ok(json!({ "value": [1, 2] })),
            _ => Outcome::Failed("boom".into()),
        };
        assert_eq!(work.kind, HookKind::Review(expected.clone()), "task {}", work.task.index);
        assert_eq!(work.task.attempt, 1);
        assert_eq!(engine.record(&work.task, expected, None).unwrap(), Recorded::Counted);
    }
    let c = run.counts("s");
    assert_eq!((c.succeeded, c.failed, c.in_flight), (1, 1, 0), "{c:?}");
    assert!(c.done());
}

/// `requeue(next_attempt)`: the next delivery is attempt 2 with the same input, released
/// no earlier than the retry's delay; the result records the attempts.
pub async fn retry_verdict(engine: Arc<dyn Engine>) {
    const DELAY_MS: u64 = 30;
    let run = Run::start(&engine, &["s"]);
    run.open("s", AFTER);
    run.enqueue("s", tasks(0..1), &EnqueueOptions::default());
    run.seal("s", 1);
    let first = take(&engine).await;
    assert_eq!(first.attempt, 1);
    run.report(&first, Outcome::Failed("flaky".into()));
    let review = take_hook(&engine).await;
    assert_eq!(review.kind, HookKind::Review(Outcome::Failed("flaky".into())));
    engine.requeue(review.task, DELAY_MS, true).unwrap();
    let second = take(&engine).await;
    assert_eq!((second.index, second.attempt), (0, 2), "a retry is the next attempt");
    assert_eq!(second.input, first.input, "a retry runs the same input");
    let c = run.counts("s");
    assert_eq!((c.failed, c.in_flight), (0, 1), "a retried task is still in flight: {c:?}");
    run.report(&second, ok(json!("second time")));
    let review = take_hook(&engine).await;
    assert_eq!(review.task.attempt, 2);
    assert_eq!(engine.record(&review.task, ok(json!("second time")), None).unwrap(), Recorded::Counted);
    let results = engine.results(&run.id, "s").unwrap();
    assert_eq!((results[0].attempts, &results[0].outcome), (2, &ok(json!("second time"))));
    let history = run.history("s");
    let times = &history[0].1;
    assert_eq!(times.len(), 2, "released twice: {history:?}");
    assert!(times[1] + 1 >= times[0] + DELAY_MS, "the retry was released before its {DELAY_MS} ms delay: {times:?}");
}

/// A deferral keeps the attempt and asks admission again, counted per task; a rejected
/// task is recorded as failed with the hook's message.
pub async fn deferral_and_rejection(engine: Arc<dyn Engine>) {
    let run = Run::start(&engine, &["s"]);
    run.open("s", BEFORE);
    run.enqueue("s", tasks(0..2), &EnqueueOptions::default());
    run.seal("s", 2);
    let mut deferrals = 0;
    let mut admitted = false;
    let mut rejected = false;
    while !(admitted && rejected) {
        let work = take_hook(&engine).await;
        assert_eq!(work.kind, HookKind::Admit);
        assert_eq!(work.task.attempt, 1, "a deferral keeps the attempt");
        assert_eq!(work.task.input, json!({ "n": work.task.index }), "a deferral keeps the input");
        match work.task.index {
            0 if deferrals < 2 => {
                deferrals += 1;
                assert_eq!(engine.count_deferral(&work.task).unwrap(), deferrals);
                engine.requeue(work.task, if deferrals == 1 { 0 } else { 20 }, false).unwrap();
            }
            0 => {
                engine.admit(work.task).unwrap();
                admitted = true;
            }
            _ => {
                let outcome = Outcome::Failed("rejected: not today".into());
                assert_eq!(engine.record(&work.task, outcome, None).unwrap(), Recorded::Counted);
                rejected = true;
            }
        }
    }
    let task = take(&engine).await;
    assert_eq!((task.index, task.attempt), (0, 1));
    run.report(&task, ok(json!("admitted at last")));
    let probe = run.envelope("s", 1, 1);
    assert_eq!(engine.count_deferral(&probe).unwrap(), 1, "deferrals are counted per task");
    let c = run.counts("s");
    assert_eq!((c.succeeded, c.failed, c.in_flight), (1, 1, 0), "{c:?}");
    let outcomes: Vec<Outcome> = engine.results(&run.id, "s").unwrap().into_iter().map(|r| r.outcome).collect();
    assert_eq!(outcomes, vec![ok(json!("admitted at last")), Outcome::Failed("rejected: not today".into())]);
    let releases: Vec<usize> = run.history("s").iter().map(|(_, t)| t.len()).collect();
    assert_eq!(releases, vec![3, 1], "task 0 released three times (two deferrals), task 1 once");
}
