//! The scripted harness against real built components: outcomes and durations per task
//! and attempt, a number of workers, a virtual clock. What a run would hold back, space
//! out, defer, reject or fail shows in the report, with the times the rules give.

use serde_json::{json, Value};
use std::process::Command;
use troupe::harness::{Harness, HarnessRun, Script, Then};
use troupe::manifest::Limits;
use troupe::{Admission, Outcome};
use troupe_tests::{executor, fixture, loader, plugin, root};

fn script(value: Value) -> Script {
    Script::from_json(&value, "script").unwrap_or_else(|e| panic!("{e}"))
}

fn items(n: u64) -> Value {
    json!({ "trigger": { "items": (0..n).collect::<Vec<u64>>() } })
}

fn scatter(mode: &str, config: Value) -> Value {
    json!({ "name": "s", "mode": mode, "actor": "Pass", "scatter": { "input": "$.trigger.items", "as": "it" },
            "input": "$.it", "executorConfig": config })
}

fn released(run: &HarnessRun) -> Vec<u64> {
    run.attempts.iter().map(|a| a.released_ms).collect()
}

/// The most attempts running (started, not ended) at once, from the timeline alone.
fn peak_running(run: &HarnessRun) -> usize {
    let spans: Vec<(u64, u64)> = run.attempts.iter().filter_map(|a| Some((a.started_ms?, a.ended_ms?))).collect();
    spans.iter().map(|(at, _)| spans.iter().filter(|(s, e)| s <= at && at < e).count()).max().unwrap_or(0)
}

#[test]
fn a_failed_stage_is_reported_failed_with_the_runs_error() {
    let stage = json!({ "name": "f", "mode": "fork-join", "actor": "unused", "input": { "m": "disk full" },
                        "executorConfig": { "branches": [
                            { "name": "x", "actor": "Pass" },
                            { "name": "y", "actor": "Fail", "input": { "message": "$.m" } } ] } });
    let harness = Harness::load(plugin("fork-join"), "fork-join").unwrap();
    let run = harness
        .run_script(&stage, &json!({}), &script(json!({ "tasks": { "1": { "err": "disk full", "ms": 30 } } })))
        .unwrap();
    assert!(!run.succeeded());
    assert_eq!(run.output(), None, "a failed stage has no output");
    let harness_error = run.error().expect("failed").to_string();
    assert_eq!(
        harness_error,
        "run harness: stage f failed: 1 of 2 tasks failed (tolerated: 0)\n  task 1 (Fail): disk full"
    );

    // The same stage in a real run (the `Fail` actor fails with its input's message),
    // under the same run id: `troupe run` ends its stderr with exactly this error, and
    // `troupe test` prints it alone.
    let dir = tempfile::tempdir().unwrap();
    let (pipeline, stage_file, outcomes) =
        (dir.path().join("pipeline.json"), dir.path().join("stage.json"), dir.path().join("outcomes.json"));
    std::fs::write(&pipeline, json!({ "stages": [stage] }).to_string()).unwrap();
    std::fs::write(&stage_file, stage.to_string()).unwrap();
    std::fs::write(&outcomes, json!({ "tasks": { "1": { "err": "disk full" } } }).to_string()).unwrap();
    let troupe = |args: &[&std::path::Path], command: &str| {
        Command::new(root().join("target/release/troupe"))
            .arg(command)
            .args(args)
            .args(["--run-id", "harness", "--manifest", "troupe.toml", "--cache-dir", "target/test-cache"])
            .current_dir(root())
            .output()
            .unwrap()
    };
    let run = troupe(&[&pipeline], "run");
    assert_eq!(run.status.code(), Some(1));
    let run_stderr = String::from_utf8_lossy(&run.stderr);
    assert!(run_stderr.ends_with(&format!("\nerror: {harness_error}\n")), "{run_stderr}");
    let test = troupe(&[&stage_file, std::path::Path::new("--outcomes"), &outcomes], "test");
    assert_eq!(test.status.code(), Some(1));
    assert_eq!(String::from_utf8_lossy(&test.stderr), format!("error: {harness_error}\n"));
}

#[test]
fn a_rejected_admission_fails_the_task_without_reaching_a_worker() {
    // Circuit breaker, threshold 2, one task at a time: two failures open the circuit and
    // every later task is rejected at its release.
    let stage = scatter("circuit-breaker", json!({ "threshold": 2, "timeout": 60000 }));
    let run = Harness::load(plugin("circuit-breaker"), "circuit-breaker")
        .unwrap()
        .run_script(&stage, &items(4), &script(json!({ "default": { "err": "boom", "ms": 40 } })))
        .unwrap();
    let rows: Vec<(u64, Option<u64>, Option<Admission>)> =
        run.attempts.iter().map(|a| (a.released_ms, a.started_ms, a.admission.clone())).collect();
    assert_eq!(
        rows,
        [
            (0, Some(0), Some(Admission::Run)),
            (40, Some(40), Some(Admission::Run)),
            (80, None, Some(Admission::Reject("circuit open".into()))),
            (80, None, Some(Admission::Reject("circuit open".into()))),
        ],
        "rejected tasks never start and free their slot at once"
    );
    assert_eq!(run.peak_in_flight, 1, "maxParallel 1 by default");
    assert!(run.error().unwrap().to_string().contains("task 3 (Pass): circuit open"));
}

#[test]
fn a_deferred_task_is_released_again_after_its_delay_until_the_cap() {
    let limits = Limits { task_deferrals: 3, ..Limits::DEFAULT };
    let plugin = executor(&loader(), "handover", &fixture("handover"), limits);
    let stage = json!({ "name": "d", "mode": "handover", "executorConfig": { "count": 1, "defer": 50 } });
    let run = Harness::new(plugin).run_script(&stage, &json!({}), &Script::default()).unwrap();
    assert_eq!(released(&run), [0, 50, 100, 150]);
    let thens: Vec<&Then> = run.attempts.iter().map(|a| &a.then).collect();
    let refused = "before-task of mode handover refused: it deferred task 0 4 times, its limit task-deferrals = 3";
    assert_eq!(
        thens,
        [
            &Then::Deferred { delay_ms: 50 },
            &Then::Deferred { delay_ms: 50 },
            &Then::Deferred { delay_ms: 50 },
            &Then::Recorded(Outcome::Failed(refused.into()))
        ]
    );
    assert!(run.attempts.iter().all(|a| a.started_ms.is_none()), "a deferred task never reached a worker");
    assert_eq!(
        run.error().unwrap().to_string(),
        format!("run harness: stage d failed: 1 of 1 tasks failed (tolerated: 0)\n  task 0 (Pass): {refused}")
    );
}

#[test]
fn rate_limited_releases_are_spaced_by_the_bucket_and_held_by_max_parallel() {
    // A burst of 2 goes at once, then one task per 100 ms.
    let stage = scatter("rate-limited", json!({ "rateLimit": 10, "burst": 2 }));
    let harness = Harness::load(plugin("rate-limited"), "rate-limited").unwrap();
    let run = harness.run_script(&stage, &items(5), &Script::default()).unwrap();
    assert_eq!(released(&run), [0, 0, 100, 200, 300]);
    assert_eq!(run.output(), Some(&json!([0, 1, 2, 3, 4])));

    // With maxParallel 2 and tasks of 250 ms, a held task is released when a slot frees,
    // and then no sooner than its token.
    let stage = scatter("rate-limited", json!({ "rateLimit": 10, "maxParallel": 2 }));
    let run =
        harness.run_script(&stage, &items(6), &script(json!({ "default": { "echo": true, "ms": 250 } }))).unwrap();
    assert_eq!(released(&run), [0, 100, 250, 350, 500, 600]);
    assert!(released(&run).windows(2).all(|w| w[1] - w[0] >= 100), "never faster than 10 per second");
    assert_eq!(run.peak_in_flight, 2);
    assert_eq!(run.ended_ms, 850);
}

#[test]
fn max_parallel_is_never_exceeded_and_workers_bound_what_runs() {
    let stage = scatter("scatter", json!({ "maxParallel": 3 }));
    let durations = json!({ "0": { "echo": true, "ms": 90 }, "1": { "echo": true, "ms": 10 },
                            "4": { "echo": true, "ms": 70 }, "7": { "echo": true, "ms": 5 } });
    let harness = Harness::load(plugin("scatter"), "scatter").unwrap();
    for workers in [16, 2] {
        let run = harness
            .run_script(
                &stage,
                &items(10),
                &script(json!({ "workers": workers, "default": { "echo": true, "ms": 30 }, "tasks": durations })),
            )
            .unwrap();
        assert_eq!(run.peak_in_flight, 3, "{workers} workers: the stage's own counter");
        assert!(peak_running(&run) <= 3.min(workers as usize), "{workers} workers: {}", run.timeline());
        assert_eq!(run.results.len(), 10);
        assert_eq!(run.output(), Some(&json!((0..10).collect::<Vec<u64>>())));
    }
}

#[test]
fn retries_follow_the_script_attempt_by_attempt_on_the_clock() {
    let stage = json!({ "name": "r", "mode": "retry", "actor": "Pass",
                        "executorConfig": { "maxRetries": 3, "backoff": "fixed", "baseDelayMs": 100 } });
    let outcomes = script(json!({ "tasks": { "0": [{ "err": "503", "ms": 20 }, { "err": "503", "ms": 20 },
                                                    { "ok": "fine", "ms": 5 }] } }));
    let run = Harness::load(plugin("retry"), "retry").unwrap().run_script(&stage, &json!({}), &outcomes).unwrap();
    let times: Vec<(u32, u64, Option<u64>)> =
        run.attempts.iter().map(|a| (a.attempt, a.released_ms, a.ended_ms)).collect();
    assert_eq!(times, [(1, 0, Some(20)), (2, 120, Some(140)), (3, 240, Some(245))]);
    assert_eq!(run.output(), Some(&json!("fine")));
    assert_eq!(run.results[0].attempts, 3);
}
