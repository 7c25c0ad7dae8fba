//! maxParallel: at no moment more than N tasks of a stage released and not ended; the
//! next held task is released, in enqueue order, when one ends. Read from the engine's
//! own counters (`in_flight`, `waiting`, `max_in_flight`), which the embedded engine
//! keeps under its mutex and Redis in the stage hash, changed only inside
//! `troupe_v5_enqueue` and `troupe_v5_finish`/`record`.

use super::subject::{ok, take, tasks, Run, NO_HOOKS};
use serde_json::json;
use std::sync::Arc;
use troupe::api::EnqueueOptions;
use troupe::engine::Engine;

const LIMIT: u64 = 2;
const TASKS: u64 = 6;

fn limited() -> EnqueueOptions {
    EnqueueOptions { max_parallel: Some(LIMIT as u32), ..Default::default() }
}

/// Take every task while keeping `LIMIT` of them running, ending the oldest each time;
/// the counters must show the slots full, never overfull, and the rest held.
async fn drain_two_at_a_time(run: &Run, stage: &str) -> Vec<u64> {
    let engine = &run.engine;
    let mut running = std::collections::VecDeque::new();
    let mut order = Vec::new();
    let mut ended = 0;
    while ended < TASKS {
        while (running.len() as u64) < LIMIT.min(TASKS - ended) {
            let task = take(engine).await;
            assert_eq!(&*task.stage, stage);
            order.push(task.index);
            running.push_back(task);
        }
        let c = run.counts(stage);
        let remaining = TASKS - ended;
        assert_eq!(c.in_flight, LIMIT.min(remaining), "in flight with {remaining} tasks not ended: {c:?}");
        assert_eq!(c.waiting, remaining - c.in_flight, "held with {remaining} tasks not ended: {c:?}");
        assert!(c.max_in_flight <= LIMIT, "maxParallel {LIMIT} exceeded: {c:?}");
        let done = running.pop_front().expect("a task runs");
        run.report(&done, ok(json!(done.index)));
        ended += 1;
    }
    order
}

/// One batch of six tasks, two slots.
pub async fn max_parallel_never_exceeded(engine: Arc<dyn Engine>) {
    let run = Run::start(&engine, &["s"]);
    run.open("s", NO_HOOKS);
    run.enqueue("s", tasks(0..TASKS), &limited());
    assert_eq!(run.seal("s", TASKS), TASKS);
    let c = run.counts("s");
    assert_eq!((c.enqueued, c.in_flight, c.waiting, c.max_in_flight), (TASKS, LIMIT, TASKS - LIMIT, LIMIT), "{c:?}");
    let order = drain_two_at_a_time(&run, "s").await;
    assert_eq!(order, (0..TASKS).collect::<Vec<_>>(), "held tasks are released in enqueue order");
    let c = run.counts("s");
    assert_eq!((c.succeeded, c.in_flight, c.waiting, c.max_in_flight), (TASKS, 0, 0, LIMIT), "{c:?}");
    assert!(c.done());
    let released: Vec<usize> = run.history("s").iter().map(|(_, times)| times.len()).collect();
    assert_eq!(released, vec![1; TASKS as usize], "each task released once");
}

/// The limit holds across an executor's batches (scatter's `batchSize`): the second
/// batch is held behind the first, and a task enqueued while slots are free is released.
pub async fn max_parallel_across_batches(engine: Arc<dyn Engine>) {
    let run = Run::start(&engine, &["s"]);
    run.open("s", NO_HOOKS);
    run.enqueue("s", tasks(0..1), &limited());
    run.enqueue("s", tasks(1..4), &limited());
    run.enqueue("s", tasks(4..TASKS), &limited());
    assert_eq!(run.seal("s", TASKS), TASKS);
    let c = run.counts("s");
    assert_eq!((c.in_flight, c.waiting, c.max_in_flight), (LIMIT, TASKS - LIMIT, LIMIT), "{c:?}");
    let order = drain_two_at_a_time(&run, "s").await;
    assert_eq!(order, (0..TASKS).collect::<Vec<_>>());
    assert_eq!(run.counts("s").max_in_flight, LIMIT);
}
