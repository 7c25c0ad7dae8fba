//! The engine conformance suite: every rule an engine must keep atomic (maxParallel
//! slots, token buckets, first result wins, the barrier counters), and the run store's
//! bookkeeping (stragglers, cancellation, leases, run records), driven through the role
//! traits directly, with no wasm: stages are opened with a `StageInfo` built here, tasks
//! enqueued through `StageHost::enqueue` as an executor would, taken with `next_task` as
//! a worker would, and hook verdicts given through `HookQueue` as the hook host would.
//!
//! Every case runs on the embedded engine and on a Redis engine (at `TROUPE_TEST_REDIS`,
//! default `redis://127.0.0.1:6379`), each case on a fresh engine (a fresh key prefix on
//! Redis, deleted afterwards). One test per engine runs the whole table and prints each
//! case's time and the suite's; nothing about time is asserted beyond the rules' own
//! lower bounds (a rate limit never releases early, a retry never before its delay).
//! `TROUPE_CONFORMANCE_CASE=<part of a name>` runs only the matching cases.
//!
//! - `subject.rs`: the engines under test and a run to drive (open, enqueue, take, report).
//! - `slots.rs`: maxParallel, from the engine's own counters.
//! - `rates.rs`: token buckets: spacing, burst, a bucket shared by two stages, held tasks.
//! - `results.rs`: duplicates, idempotent enqueue, stragglers, list and keyed-list order.
//! - `hooks.rs`: hook routing (admit, review), retry, deferral and rejection verdicts.
//! - `barrier.rs`: a stage's life: reopening, expected against enqueued, the barrier with
//!   tolerated failures.
//! - `runs.rs`: cancellation, leases and orphans, run records.
//! - `growth.rs`: skipped tasks, and stages that grow from an accepted review (`extend`).

mod barrier;
mod growth;
mod hooks;
mod rates;
mod results;
mod runs;
mod slots;
mod subject;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};
use troupe::engine::Engine;

/// One case: drives a fresh engine and panics (with what it saw) when a rule is broken.
type Case = fn(Arc<dyn Engine>) -> Pin<Box<dyn Future<Output = ()> + Send>>;

/// How long a case may take before it counts as hung (an engine that never delivers a
/// task would otherwise wait for ever); not a timing assertion.
const HANG: Duration = Duration::from_secs(120);

const CASES: &[(&str, Case)] = &[
    ("max_parallel_never_exceeded", |e| Box::pin(slots::max_parallel_never_exceeded(e))),
    ("max_parallel_across_batches", |e| Box::pin(slots::max_parallel_across_batches(e))),
    ("rate_spacing_and_burst", |e| Box::pin(rates::spacing_and_burst(e))),
    ("rate_bucket_shared_by_namespace", |e| Box::pin(rates::bucket_shared_by_namespace(e))),
    ("rate_held_tasks_honour_the_bucket", |e| Box::pin(rates::held_tasks_honour_the_bucket(e))),
    ("duplicate_results_counted_once", |e| Box::pin(results::duplicates_counted_once(e))),
    ("duplicate_reports_not_reviewed", |e| Box::pin(results::duplicate_reports_not_reviewed(e))),
    ("idempotent_enqueue", |e| Box::pin(results::idempotent_enqueue(e))),
    ("stragglers_after_cut", |e| Box::pin(results::stragglers_after_cut(e))),
    ("list_and_keyed_list_order", |e| Box::pin(results::list_and_keyed_list_order(e))),
    ("before_task_routes_to_admission", |e| Box::pin(hooks::before_task_routes_to_admission(e))),
    ("after_task_routes_to_review", |e| Box::pin(hooks::after_task_routes_to_review(e))),
    ("retry_verdict", |e| Box::pin(hooks::retry_verdict(e))),
    ("deferral_and_rejection", |e| Box::pin(hooks::deferral_and_rejection(e))),
    ("barrier_with_tolerated_failures", |e| Box::pin(barrier::with_tolerated_failures(e))),
    ("expected_against_enqueued", |e| Box::pin(barrier::expected_against_enqueued(e))),
    ("reopening_changes_nothing", |e| Box::pin(barrier::reopening_changes_nothing(e))),
    ("cancellation", |e| Box::pin(runs::cancellation(e))),
    ("leases_and_orphans", |e| Box::pin(runs::leases_and_orphans(e))),
    ("run_records", |e| Box::pin(runs::run_records(e))),
    ("skipped_tasks_end_without_running", |e| Box::pin(growth::skipped_tasks_end_without_running(e))),
    ("extension_joins_with_the_outcome", |e| Box::pin(growth::extension_joins_with_the_outcome(e))),
    ("extension_before_the_seal_waits_for_it", |e| Box::pin(growth::extension_before_the_seal_waits_for_it(e))),
    ("extension_that_skips", |e| Box::pin(growth::extension_that_skips(e))),
];

/// Run every case (or the ones `TROUPE_CONFORMANCE_CASE` names) on fresh engines from
/// `subject`, printing each case's time and the total; fail naming every broken case.
fn conform(subject: subject::Subject) {
    let filter = std::env::var("TROUPE_CONFORMANCE_CASE").unwrap_or_default();
    let runtime =
        tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("a tokio runtime");
    let suite = Instant::now();
    let mut failed = Vec::new();
    let mut ran = 0;
    for (name, case) in CASES.iter().filter(|(name, _)| name.contains(filter.as_str())) {
        let (engine, prefix) = subject.engine();
        let started = Instant::now();
        let outcome = runtime.block_on(async {
            match tokio::time::timeout(HANG, tokio::spawn(case(engine.clone()))).await {
                Ok(Ok(())) => Ok(()),
                Ok(Err(panicked)) => Err(panic_message(panicked)),
                Err(_) => Err(format!("did not finish within {} s", HANG.as_secs())),
            }
        });
        drop(engine);
        if let Some(prefix) = prefix {
            subject::clean_up(&prefix);
        }
        ran += 1;
        let ms = started.elapsed().as_millis();
        match outcome {
            Ok(()) => println!("{:>8} {name:<36} ok      {ms:>6} ms", subject.name()),
            Err(why) => {
                println!("{:>8} {name:<36} FAILED  {ms:>6} ms: {why}", subject.name());
                failed.push(format!("{name}: {why}"));
            }
        }
    }
    println!("{} engine: {ran} conformance cases in {} ms", subject.name(), suite.elapsed().as_millis());
    assert!(ran > 0, "no case matches TROUPE_CONFORMANCE_CASE={filter}");
    assert!(failed.is_empty(), "the {} engine breaks {} rule(s):\n{}", subject.name(), failed.len(), failed.join("\n"));
}

fn panic_message(error: tokio::task::JoinError) -> String {
    match error.try_into_panic() {
        Ok(payload) => match payload.downcast::<String>() {
            Ok(message) => *message,
            Err(payload) => payload.downcast::<&str>().map(|m| m.to_string()).unwrap_or_else(|_| "a panic".into()),
        },
        Err(e) => e.to_string(),
    }
}

#[test]
fn embedded_engine_conforms() {
    conform(subject::Subject::Embedded);
}

#[test]
fn redis_engine_conforms() {
    conform(subject::Subject::Redis);
}
