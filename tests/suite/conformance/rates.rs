//! Token buckets (GCRA): a rate-limited task is released no earlier than its bucket
//! allows, `burst` tasks at once at most, and a bucket is shared by every stage of the
//! same namespace (the executor's mode) that names it. The embedded engine keeps the
//! buckets in its `Inner::buckets`; Redis in `<prefix>:rate:<namespace>:<bucket>`, read
//! and written inside `troupe_v5_enqueue` (`release` in troupe.lua).
//!
//! Asserted from `task_history` (release times, ms since the stage opened): lower bounds
//! only, which are the rule; how late a release comes depends on the machine.

use super::subject::{ok, take, tasks, Run, NO_HOOKS};
use serde_json::json;
use std::sync::Arc;
use troupe::api::{EnqueueOptions, RateLimit};
use troupe::engine::Engine;

const PER_SECOND: f64 = 20.0;
/// 1000 / PER_SECOND.
const INTERVAL_MS: u64 = 50;
/// Release times are whole ms on both engines: one ms of rounding either way.
const ROUNDING_MS: u64 = 1;

fn rated(bucket: &str, burst: u32) -> EnqueueOptions {
    let rate_limit = Some(RateLimit { bucket: bucket.into(), per_second: PER_SECOND, burst });
    EnqueueOptions { rate_limit, ..Default::default() }
}

/// The release times of a stage's tasks (each released once), in index order.
fn releases(run: &Run, stage: &str) -> Vec<u64> {
    run.history(stage)
        .into_iter()
        .map(|(index, times)| {
            assert_eq!(times.len(), 1, "task {index} of {stage} was released {} times", times.len());
            times[0]
        })
        .collect()
}

/// Take `n` tasks and report each at once (the bucket, not the workers, paces them).
async fn run_all(run: &Run, n: usize) {
    for _ in 0..n {
        let task = take(&run.engine).await;
        run.report(&task, ok(json!(null)));
    }
}

/// Five tasks at 20/s with a burst of 2: two released at once, then one per 50 ms.
pub async fn spacing_and_burst(engine: Arc<dyn Engine>) {
    const BURST: u64 = 2;
    let run = Run::start(&engine, &["s"]);
    run.open("s", NO_HOOKS);
    run.enqueue("s", tasks(0..5), &rated("b", BURST as u32));
    assert_eq!(run.seal("s", 5), 5);
    // Before any worker asked, only the burst was released; the rest wait in the bucket.
    let now: Vec<u64> = run.history("s").iter().map(|(index, _)| *index).collect();
    assert_eq!(now, vec![0, 1], "the burst of {BURST} is released at once, the rest held by the bucket");
    run_all(&run, 5).await;
    let times = releases(&run, "s");
    assert_eq!(times.len(), 5);
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "released in enqueue order: {times:?}");
    for (k, at) in times.iter().enumerate().skip(BURST as usize) {
        let earliest = times[0] + (k as u64 + 1 - BURST) * INTERVAL_MS;
        assert!(at + ROUNDING_MS >= earliest, "task {k} released at {at} ms, before {earliest} ms: {times:?}");
    }
    assert_eq!(run.counts("s").succeeded, 5);
}

/// Two stages of one mode naming one bucket share it; a stage of another mode with the
/// same bucket name does not.
pub async fn bucket_shared_by_namespace(engine: Arc<dyn Engine>) {
    let run = Run::start(&engine, &["a", "b", "c"]);
    // Both stages open before the first enqueue: their release times, counted from
    // their own opening, are then no earlier than if counted from the first enqueue.
    run.open("a", NO_HOOKS);
    run.open("b", NO_HOOKS);
    run.open_as("c", "another-mode", NO_HOOKS);
    run.enqueue("a", tasks(0..3), &rated("shared", 1));
    run.enqueue("b", tasks(0..3), &rated("shared", 1));
    run.enqueue_as("c", "another-mode", tasks(0..1), &rated("shared", 1));
    for stage in ["a", "b", "c"] {
        run.seal(stage, if stage == "c" { 1 } else { 3 });
    }
    let released = |stage| run.history(stage).len();
    assert_eq!(
        (released("a"), released("b"), released("c")),
        (1, 0, 1),
        "one token for mode {}, one for another-mode",
        super::subject::MODE
    );
    run_all(&run, 7).await;
    let a = releases(&run, "a");
    let b = releases(&run, "b");
    // a takes the bucket's first three slots, b the next three.
    for (k, at) in b.iter().enumerate() {
        let earliest = (3 + k as u64) * INTERVAL_MS;
        assert!(
            at + ROUNDING_MS >= earliest,
            "b's task {k} released at {at} ms, before {earliest} ms: a {a:?}, b {b:?}"
        );
    }
    for (k, at) in a.iter().enumerate().skip(1) {
        let earliest = a[0] + k as u64 * INTERVAL_MS;
        assert!(at + ROUNDING_MS >= earliest, "a's task {k} released at {at} ms, before {earliest} ms: {a:?}");
    }
}

/// Tasks held by maxParallel pass through the bucket when a slot frees them: with one
/// slot and workers that end each task at once, the bucket still paces the releases.
pub async fn held_tasks_honour_the_bucket(engine: Arc<dyn Engine>) {
    let run = Run::start(&engine, &["s"]);
    run.open("s", NO_HOOKS);
    let options = EnqueueOptions { max_parallel: Some(1), ..rated("held", 1) };
    run.enqueue("s", tasks(0..4), &options);
    run.seal("s", 4);
    let c = run.counts("s");
    assert_eq!((c.in_flight, c.waiting), (1, 3), "{c:?}");
    run_all(&run, 4).await;
    let times = releases(&run, "s");
    // The bucket's bound: the k-th release no earlier than k intervals after the first.
    // (Not k-1 to k: a release that came late, after its due time, leaves the next one
    // due on the bucket's schedule, as GCRA does.)
    for (k, at) in times.iter().enumerate().skip(1) {
        let earliest = times[0] + k as u64 * INTERVAL_MS;
        assert!(at + ROUNDING_MS >= earliest, "held task {k} released at {at} ms, before {earliest} ms: {times:?}");
    }
    assert_eq!(run.counts("s").max_in_flight, 1);
}
