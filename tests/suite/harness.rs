//! Each built-in executor tested alone in the plugin harness: a stage, a context and
//! scripted outcomes in; what it enqueued, decided and output, out. No engine, no real
//! workers, no real clock: this is how plugin authors test their own executors.
//!
//! - `harness/scripted.rs`: the scripted harness on the community patterns: failed
//!   stages with `troupe run`'s error, deferral, rejection, rate limits, maxParallel.
//! - `harness/cli.rs`: `troupe test`, golden files in `ui/test/`.

mod cli;
mod scripted;

use serde_json::json;
use troupe::harness::{Harness, HarnessError};
use troupe::orchestrator::{RunError, StageFailure};
use troupe::{Outcome, OutputShape, Problem, Task};
use troupe_tests::plugin;

fn harness(mode: &str) -> Harness {
    Harness::load(plugin(mode), mode).unwrap_or_else(|e| panic!("{e}")).with_actors(["A", "B", "C"].map(String::from))
}

fn echo(task: &Task, _attempt: u32) -> Outcome {
    Outcome::Succeeded(task.input.clone())
}

fn fields(problems: Vec<Problem>) -> Vec<String> {
    problems.into_iter().map(|p| format!("{}: {}", p.field, p.message)).collect()
}

#[test]
fn scatter_enqueues_one_task_per_item_with_max_parallel() {
    let stage = json!({ "name": "s", "mode": "scatter", "actor": "A", "scatter": { "input": "$.trigger.items", "as": "it" },
                        "input": { "v": "$.it.v", "i": "$.index", "tag": "$.trigger.tag" }, "executorConfig": { "maxParallel": 2 } });
    let ctx = json!({ "trigger": { "tag": "x", "items": [{ "v": 10 }, { "v": 20 }, { "v": 30 }] } });
    let run = harness("scatter").run(&stage, &ctx, echo).unwrap();
    assert_eq!((run.execution.expected_tasks, run.execution.output), (3, OutputShape::List));
    assert!(run.enqueued.iter().all(|e| e.options.max_parallel == Some(2)));
    assert_eq!(
        run.output(),
        Some(
            &json!([{ "v": 10, "i": 0, "tag": "x" }, { "v": 20, "i": 1, "tag": "x" }, { "v": 30, "i": 2, "tag": "x" }])
        )
    );
}

#[test]
fn scatter_reports_every_problem_with_its_field() {
    let stage = json!({ "name": "s", "mode": "scatter", "actor": "Nobody", "scatter": { "input": "trigger", "as": "index" },
                        "executorConfig": { "maxParallel": 0, "bogus": 1 } });
    assert_eq!(
        fields(harness("scatter").validate(&stage).unwrap()),
        [
            "actor: unknown actor `Nobody`: the manifest has no [actors.Nobody] (add it with \
             `component = \"<file>.wasm\"`, or `external = true` when a worker of your own serves it)",
            "scatter.input: must be a JSONPath string starting with `$`, found a string",
            "scatter.as: `index` is bound to each item's position; choose another name",
            "executorConfig.bogus: unknown field `bogus`, expected `maxParallel` or `batchSize`",
            "executorConfig.maxParallel: must be at least 1",
        ]
    );
}

#[test]
fn scatter_over_something_that_is_not_an_array_says_so() {
    let stage =
        json!({ "name": "s", "mode": "scatter", "actor": "A", "scatter": { "input": "$.trigger.items", "as": "it" } });
    let err = harness("scatter").run(&stage, &json!({ "trigger": { "items": 5 } }), echo).unwrap_err();
    assert!(matches!(err, HarnessError::Stage(RunError::StageFailed { reason: StageFailure::Executor { .. }, .. })));
    assert_eq!(
        err.to_string(),
        "run harness: stage s failed: the `scatter` executor returned an error: \
         scatter.input: `$.trigger.items` is a number, not an array (stage s)"
    );
}

#[test]
fn gather_groups_successful_results_and_skips_failed_ones() {
    let stage = json!({ "name": "g", "mode": "gather", "actor": "A", "gather": { "stage": "pages", "groupBy": "$.kind" },
                        "input": { "key": "$.group.key", "count": "$.group.items" } });
    let ctx = json!({ "pages": [{ "kind": "a", "n": 1 }, null, { "kind": "b", "n": 2 }, { "kind": "a", "n": 3 }] });
    let run = harness("gather").run(&stage, &ctx, echo).unwrap();
    assert_eq!(run.execution.output, OutputShape::KeyedList);
    assert_eq!(
        run.output(),
        Some(&json!([
            { "key": "a", "result": { "key": "a", "count": [{ "kind": "a", "n": 1 }, { "kind": "a", "n": 3 }] } },
            { "key": "b", "result": { "key": "b", "count": [{ "kind": "b", "n": 2 }] } }
        ]))
    );
    // A result without the key is an error naming it, not a `null` group.
    let ctx = json!({ "pages": [{ "kind": "a", "n": 1 }, null, { "n": 4 }] });
    let err = harness("gather").run(&stage, &ctx, echo).unwrap_err();
    assert_eq!(
        err.to_string(),
        "run harness: stage g failed: the `gather` executor returned an error: gather.groupBy: `$.kind` matched nothing on result 2 of stage `pages`; \
         every result needs a key (have the actor always return it)"
    );
}

#[test]
fn gather_with_timeout_asks_to_start_early() {
    let stage = json!({ "name": "g", "mode": "gather", "actor": "A", "gather": { "stage": "pages" },
                        "executorConfig": { "timeout": 30000, "minResults": 2 } });
    let run = harness("gather").run(&stage, &json!({ "pages": [1, 2] }), echo).unwrap();
    let early = run.plan.early_start.expect("an early start");
    assert_eq!((early.after_ms, early.min_results), (30000, 2));
    assert_eq!(run.output(), Some(&json!({})), "a stage without `input` gives its task an empty object");
}

#[test]
fn broadcast_keys_results_by_actor_and_can_detach() {
    let stage = json!({ "name": "b", "mode": "broadcast", "actor": "unused", "input": { "m": "$.trigger" },
                        "executorConfig": { "actors": ["A", "B"] } });
    let run = harness("broadcast").run(&stage, &json!({ "trigger": 1 }), echo).unwrap();
    assert_eq!(run.output(), Some(&json!({ "A": { "m": 1 }, "B": { "m": 1 } })));
    let detached =
        json!({ "name": "b", "mode": "broadcast", "executorConfig": { "actors": ["A"], "waitForAll": false } });
    let run = harness("broadcast").run(&detached, &json!({}), echo).unwrap();
    assert!(run.execution.detached);
    assert_eq!(run.enqueued.len(), 1);
}

#[test]
fn fork_join_resolves_branch_inputs_against_the_stage_input() {
    let stage = json!({ "name": "f", "mode": "fork-join", "actor": "unused", "input": { "data": "$.trigger" },
                        "executorConfig": { "branches": [
                            { "name": "x", "actor": "A", "input": { "s": "$.data.source" } },
                            { "name": "y", "actor": "B" } ] } });
    let run = harness("fork-join")
        .run(&stage, &json!({ "trigger": { "source": "db" } }), |t, _| {
            if t.actor == "B" {
                Outcome::Failed("down".into())
            } else {
                Outcome::Succeeded(t.input.clone())
            }
        })
        .unwrap();
    // A failed branch fails the stage, as in a run; tolerated, it is `null`.
    assert_eq!(run.output(), None);
    assert_eq!(
        run.error().map(|e| e.to_string()).as_deref(),
        Some("run harness: stage f failed: 1 of 2 tasks failed (tolerated: 0)\n  task 1 (B): down")
    );
    assert_eq!(run.results[1].outcome, Outcome::Failed("down".into()));
    let mut tolerant = stage.clone();
    tolerant["executorConfig"]["toleratedFailures"] = json!(1);
    let run = harness("fork-join")
        .run(&tolerant, &json!({ "trigger": { "source": "db" } }), |t, _| {
            if t.actor == "B" {
                Outcome::Failed("down".into())
            } else {
                Outcome::Succeeded(t.input.clone())
            }
        })
        .unwrap();
    assert_eq!(run.output(), Some(&json!({ "x": { "s": "db" }, "y": null })));
}

#[test]
fn single_output_is_the_one_result() {
    let stage = json!({ "name": "one", "mode": "single", "actor": "C", "input": { "a": [1, "$.trigger.b"] } });
    let run = harness("single").run(&stage, &json!({ "trigger": { "b": true } }), echo).unwrap();
    assert_eq!(run.output(), Some(&json!({ "a": [1, true] })));
}
