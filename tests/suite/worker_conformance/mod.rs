//! The worker protocol conformance suite: the same cases, asserting the same outcomes, run
//! against every implementation of a worker for troupe's Redis protocol (version 5,
//! `docs/redis-protocol.md`): `troupe worker` (serving the wasm fixtures), the Python
//! package (`workers/python`, through `tests/conformance_server.py`, installed into the
//! venv under `target/` that `python_worker_package` uses), and the Node package
//! (`workers/node`, through `node test/conformance-server.mjs`; while that file does not
//! exist its cases print a notice and pass without running). Test names say both:
//! `worker_conformance::<implementation>::<case>`, and every failure message starts with
//! the implementation's name.
//!
//! Everything is a real process on a real Redis: a `troupe run --redis --concurrency 0`
//! orchestrator (it serves no actor, only the stages' hooks), workers of the
//! implementation under test, killed with SIGKILL or stopped with SIGTERM; each case on a
//! key prefix of its own on the test Redis (`TROUPE_TEST_REDIS`), or on a redis-server of
//! its own where it restarts or needs an empty one. Outcomes are read from the engine's
//! own records: the stage hash's counters (`succeeded`, `failed`, `in_flight`), the
//! results `P:{R}:res:<stage>`, the run's final context (`troupe run --json`), the
//! streams' pending deliveries, and how many times each task ran, counted by the `Tally`
//! actor in `P:state:actor:Tally:runs/<id>`.
//!
//! The actors: `Tally` counts an execution, takes its time, returns `{id, execution}`;
//! `Boom` fails with `input.message`. A conformance server sleeps `input.ms`; the wasm
//! `Tally` has no clock, so on `troupe worker` a task takes its time in `work` rounds
//! (state reads, each a Redis round trip: [`implementations`] converts), which is
//! machine-dependent: where a case needs a task to last it measures the task rather than
//! trust the conversion (it finds a task running before killing or stopping its worker;
//! the heartbeat case checks the task outlived twice the visibility timeout).
//!
//! The cases (`n` tasks each):
//! - `delivery`: a task delivered twice (its stream entry added again): both deliveries
//!   run (`Tally` counted 2), the result is finished twice and counted once: every index
//!   recorded once, first attempt, as the context shows; counters `n` succeeded, 0 failed,
//!   0 in flight; nothing left pending; the worker says it ran `n + 1`.
//! - `kill`: a worker SIGKILLed while tasks run (found running: counted, not recorded);
//!   another worker (visibility timeout 1 s) takes them over: every task counted once,
//!   every task ran, each killed task ran again and its recorded result is the rerun's.
//! - `drain`: SIGTERM while two tasks run: the worker exits 0 having recorded exactly the
//!   tasks it started (the running ones included), says it ran that many and handed back
//!   at least one, leaves nothing pending; a second worker whose visibility timeout (60 s)
//!   rules out reclaiming finishes the run: every task counted once and run exactly once,
//!   the two workers' counts add up to `n`.
//! - `heartbeat`: tasks of 1.5 s, visibility timeout 0.5 s, a second worker looking for
//!   idle deliveries from the moment the first starts a task: the task lasts over twice
//!   the timeout, every task counted once and run exactly once, the counts add up to `n`.
//! - `restart`: its own Redis (`appendonly yes`) shut down and restarted mid-run: the run
//!   succeeds, every task counted once and run, the worker still serving.
//! - `failing`: `Boom` over 3 tasks: the run fails (`3 of 3 tasks failed`), each result is
//!   a first-attempt failure whose message starts with the actor's (quotes and non-ASCII
//!   intact); counters 0 succeeded, 3 failed, 0 in flight; the worker says it ran 3.
//! - `poison`: one task's entry replaced by one whose `input` is not JSON (every other
//!   field as the functions wrote it, so the stage's count accounts for it): that task
//!   fails with a message naming the input as not JSON, `Tally` never ran for it; the
//!   stage (tolerating one failure) counts 2 succeeded and 1 failed, and the run goes on
//!   to its next stage and succeeds; nothing left pending, the worker still serving.
//! - `library`: on a fresh Redis without the `troupe_v5` function library, a worker exits
//!   non-zero naming `troupe_v5` and writes nothing. `troupe worker` loads the library
//!   itself (every troupe process does), so on it the case checks that the library is
//!   there once it started.
//! - `foreign`: two entries added to the `Tally` stream naming another run, then another
//!   actor, than the stream's (with a forged input): never run (`Tally` never counted
//!   their id), acknowledged, nothing written for the other run; each task of the run
//!   counted once, the worker still serving.
//! - `broken`: the active-run set lists a run whose stream has no consumer group and one
//!   whose hash is a string: a healthy run beside them completes, each task counted and
//!   run once, the worker still serving.
//!
//! And one case across implementations, `worker_conformance::mixed_run`: a run whose
//! first stage is served by a Python and a Node worker at once and whose second stage by
//! `troupe worker`, with a Python and a Node worker SIGKILLed mid-task (`mixed.rs`); and
//! one of the functions' side, `worker_conformance::results_not_json`: a result that is
//! not one JSON value fails its task, whoever reports it (`results.rs`).
//!
//! - `implementations.rs`: the implementations, and what differs between them.
//! - `world.rs`: a case's processes, prefix and manifest; the engine's records.
//! - `pipelines.rs`: the `Tally` runs and the every-task-counted-once outcome.

mod broken;
mod delivery;
mod drain;
mod failing;
mod foreign;
mod heartbeat;
mod implementations;
mod kill;
mod library;
mod mixed;
mod pipelines;
mod poison;
mod restart;
mod results;
mod world;

use implementations::Implementation;

/// Run `case` on `imp`, or say why it cannot run here.
fn run(imp: Implementation, case: fn(Implementation)) {
    match imp.missing() {
        Some(why) => println!("worker conformance: skipped on the {}: {why}", imp.name()),
        None => case(imp),
    }
}

/// The cases, one test each, for one implementation.
macro_rules! cases {
    ($imp:expr; $($module:ident::$case:ident),* $(,)?) => {
        $(
            #[test]
            fn $case() {
                super::run($imp, super::$module::$case)
            }
        )*
    };
}

/// The suite for one implementation: a module of tests named after it.
macro_rules! implementation {
    ($name:ident, $imp:expr) => {
        mod $name {
            use super::Implementation;
            cases!(
                $imp;
                delivery::a_task_delivered_twice_is_counted_once,
                kill::a_worker_killed_mid_task_has_its_tasks_run_again_and_counted_once,
                drain::sigterm_finishes_running_tasks_and_hands_back_the_others,
                heartbeat::a_task_longer_than_the_visibility_timeout_runs_once_while_its_worker_lives,
                restart::a_redis_restart_mid_run_loses_nothing,
                failing::a_failing_actor_fails_its_task_with_its_message,
                poison::a_task_whose_input_is_not_json_fails_and_the_run_goes_on,
                library::a_redis_without_the_protocol_library_is_refused,
                foreign::an_entry_naming_another_run_or_actor_is_never_run,
                broken::a_broken_run_does_not_stall_the_others,
            );
        }
    };
}

implementation!(troupe_worker, Implementation::TroupeWorker);
implementation!(python, Implementation::Python);
implementation!(node, Implementation::Node);

/// The mixed run: all three implementations serving one run (`mixed.rs`).
#[test]
fn mixed_run() {
    mixed::one_run_served_by_all_three_survives_a_killed_python_and_node_worker()
}

/// The functions' side: a result that is not JSON fails its task (`results.rs`).
#[test]
fn results_not_json() {
    results::a_result_that_is_not_json_fails_its_task()
}
