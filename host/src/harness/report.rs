//! A harness run as people read it (a per-attempt timeline, then the result) and as JSON
//! (`troupe test --json`). Plugin text (errors, rejection messages) and scripted values
//! are printed on one line, escaped and cut ([`crate::text`]): a timeline row stays a row.

use super::{Attempt, HarnessRun, StageEnd, Then};
use crate::api::{Admission, EnqueueOptions, Outcome, Verdict};
use serde_json::{json, Value};
use std::fmt::Write as _;

/// How much of a value or message one timeline cell shows.
const CELL_BYTES: usize = 48;

/// The maxParallel the stage's tasks were enqueued under (the last one given wins, as
/// in the engines).
fn max_parallel(run: &HarnessRun) -> Option<u32> {
    run.enqueued.iter().filter_map(|e| e.options.max_parallel).next_back()
}

/// The distinct enqueue options, in first-use order.
fn option_sets(run: &HarnessRun) -> Vec<&EnqueueOptions> {
    let mut sets: Vec<&EnqueueOptions> = Vec::new();
    for e in &run.enqueued {
        if !sets.contains(&&e.options) {
            sets.push(&e.options);
        }
    }
    sets
}

fn cell(text: &str) -> String {
    crate::text::one_line(text, CELL_BYTES)
}

fn outcome_text(outcome: &Outcome) -> String {
    match outcome {
        Outcome::Succeeded(value) => format!("ok {}", cell(&value.to_string())),
        Outcome::Failed(message) => format!("err {}", cell(message)),
    }
}

fn admission_text(admission: &Option<Admission>) -> String {
    match admission {
        None => "-".into(),
        Some(Admission::Run) => "run".into(),
        Some(Admission::Reject(message)) => format!("reject {}", cell(message)),
        Some(Admission::Defer(ms)) => format!("defer {ms}"),
    }
}

fn then_text(attempt: &Attempt) -> String {
    let verdict = match attempt.verdict {
        Some(Verdict::Accept) => "accept: ",
        Some(Verdict::Retry(_)) => "retry: ",
        None => "",
    };
    let then = match &attempt.then {
        Then::Waiting => "(never ended)".into(),
        Then::Deferred { delay_ms } => format!("deferred {delay_ms} ms"),
        Then::Retried { delay_ms } => format!("retried in {delay_ms} ms"),
        Then::Recorded(outcome) if Some(outcome) == attempt.outcome.as_ref() => "recorded".into(),
        Then::Recorded(outcome) => format!("recorded as {}", outcome_text(outcome)),
    };
    format!("{verdict}{then}")
}

fn ms(at: Option<u64>) -> String {
    at.map_or_else(|| "-".into(), |ms| ms.to_string())
}

/// The report as text.
pub(super) fn text(run: &HarnessRun) -> String {
    let mut out = String::new();
    let tasks = run.execution.expected_tasks;
    let _ = writeln!(
        out,
        "stage {} (mode {}, run {}): {tasks} task{}, {} worker{}",
        cell(&run.stage),
        run.mode,
        cell(&run.run_id),
        if tasks == 1 { "" } else { "s" },
        run.workers,
        if run.workers == 1 { "" } else { "s" },
    );
    let hooks: Vec<&str> = [(run.plan.before_task_hook, "before-task"), (run.plan.after_task_hook, "after-task")]
        .into_iter()
        .filter_map(|(on, name)| on.then_some(name))
        .collect();
    let _ = writeln!(out, "hooks: {}", if hooks.is_empty() { "none".to_string() } else { hooks.join(", ") });
    for options in option_sets(run) {
        let mut parts = vec![format!("delay {} ms", options.delay_ms)];
        if let Some(max) = options.max_parallel {
            parts.push(format!("maxParallel {max}"));
        }
        if let Some(rate) = &options.rate_limit {
            parts.push(format!("rate {}/s burst {} (bucket {})", rate.per_second, rate.burst, cell(&rate.bucket)));
        }
        let _ = writeln!(out, "enqueued with: {}", parts.join(", "));
    }
    if run.execution.detached {
        let _ = writeln!(out, "detached: the stage ends at once; its tasks still run");
    }
    if !run.attempts.is_empty() {
        let _ = writeln!(
            out,
            "\n{:>5} {:>3} {:>9} {:>9} {:>9}  {:<14} {:<24} then",
            "task", "try", "released", "started", "ended", "admission", "outcome"
        );
        for a in &run.attempts {
            let outcome = a.outcome.as_ref().map_or_else(|| "-".to_string(), outcome_text);
            let _ = writeln!(
                out,
                "{:>5} {:>3} {:>9} {:>9} {:>9}  {:<14} {:<24} {}",
                a.index,
                a.attempt,
                a.released_ms,
                ms(a.started_ms),
                ms(a.ended_ms),
                admission_text(&a.admission),
                outcome,
                then_text(a)
            );
        }
    }
    let limit = max_parallel(run).map_or_else(|| "no maxParallel".to_string(), |m| format!("maxParallel {m}"));
    let _ = writeln!(out, "\npeak in flight: {} ({limit})", run.peak_in_flight);
    match &run.end {
        StageEnd::Succeeded { output, tolerated } => {
            let _ = write!(out, "stage succeeded at {} ms", run.ended_ms);
            if !tolerated.is_empty() {
                let _ = write!(
                    out,
                    " ({} failed task{} tolerated)",
                    tolerated.len(),
                    if tolerated.len() == 1 { "" } else { "s" }
                );
            }
            let pretty = serde_json::to_string_pretty(output).unwrap_or_else(|_| output.to_string());
            let _ = writeln!(out, "\noutput:\n{}", crate::text::block(&pretty, crate::text::BLOCK_BUDGET));
        }
        StageEnd::Failed(error) => {
            let _ = writeln!(out, "stage failed at {} ms:", run.ended_ms);
            let _ = writeln!(out, "{}", crate::text::block(&error.to_string(), crate::text::BLOCK_BUDGET));
        }
    }
    out
}

fn then_json(then: &Then) -> Value {
    match then {
        Then::Waiting => json!("waiting"),
        Then::Deferred { delay_ms } => json!({ "deferred": delay_ms }),
        Then::Retried { delay_ms } => json!({ "retried": delay_ms }),
        Then::Recorded(outcome) => json!({ "recorded": outcome }),
    }
}

/// The report as JSON.
pub(super) fn json(run: &HarnessRun) -> Value {
    let attempts: Vec<Value> = run
        .attempts
        .iter()
        .map(|a| {
            json!({ "index": a.index, "attempt": a.attempt, "releasedMs": a.released_ms, "startedMs": a.started_ms,
                    "endedMs": a.ended_ms, "admission": a.admission, "outcome": a.outcome, "verdict": a.verdict,
                    "then": then_json(&a.then) })
        })
        .collect();
    let enqueued: Vec<Value> = run.enqueued.iter().map(|e| json!({ "task": e.task, "options": e.options })).collect();
    let mut report = json!({
        "run": run.run_id, "stage": run.stage, "mode": run.mode, "workers": run.workers,
        "plan": run.plan, "execution": run.execution, "enqueued": enqueued, "attempts": attempts,
        "results": run.results, "peakInFlight": run.peak_in_flight, "maxParallel": max_parallel(run),
        "startedMs": run.started_ms, "endedMs": run.ended_ms, "succeeded": run.succeeded(),
    });
    match &run.end {
        StageEnd::Succeeded { output, .. } => report["output"] = output.clone(),
        StageEnd::Failed(error) => report["error"] = json!(error.to_string()),
    }
    report
}
