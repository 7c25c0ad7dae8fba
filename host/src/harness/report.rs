//! A harness run as people read it (a per-attempt timeline, then the result) and as JSON
//! (`troupe test --json`). Plugin text (errors, rejection messages) and scripted values
//! are printed on one line, escaped and cut ([`crate::text`]): a timeline row stays a row.

use super::{Attempt, HarnessRun, StageEnd, Then};
use crate::api::{Admission, EnqueueOptions, Outcome, Verdict};
use serde_json::{json, Value};
use std::fmt::Write as _;

/// The widths (in characters) of the timeline's text columns; longer cells are cut with
/// `…` (the JSON report and the failure text have them whole).
const ADMISSION_WIDTH: usize = 20;
const OUTCOME_WIDTH: usize = 30;
/// The most lines of output (or of the failure text) the text report shows.
const MAX_LINES: usize = 200;

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

/// `text` escaped onto one line.
fn cell(text: &str) -> String {
    crate::text::one_line(text, crate::text::LINE_BUDGET)
}

/// `text` escaped and cut to `width` characters.
fn fit(text: &str, width: usize) -> String {
    let text = cell(text);
    if text.chars().count() <= width {
        return text;
    }
    let mut cut: String = text.chars().take(width - 1).collect();
    cut.push('…');
    cut
}

/// A multi-line text (pretty JSON, a failure listing) line by line, each escaped, at
/// most [`MAX_LINES`] of them.
fn lines(out: &mut String, text: &str) {
    let total = text.lines().count();
    for line in text.lines().take(MAX_LINES) {
        let _ = writeln!(out, "{}", cell(line));
    }
    if total > MAX_LINES {
        let _ = writeln!(out, "... ({} lines more; --json has them all)", total - MAX_LINES);
    }
}

fn outcome_text(outcome: &Outcome) -> String {
    match outcome {
        Outcome::Succeeded(value) => format!("ok {value}"),
        Outcome::Failed(message) => format!("err {message}"),
        Outcome::Skipped(reason) => format!("skipped {reason}"),
    }
}

fn admission_text(admission: &Option<Admission>) -> String {
    match admission {
        None => "-".into(),
        Some(Admission::Run) => "run".into(),
        Some(Admission::Reject(message)) => format!("reject {message}"),
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
            "\n{:>5} {:>3} {:>9} {:>9} {:>9}  {:<ADMISSION_WIDTH$}  {:<OUTCOME_WIDTH$}  then",
            "task", "try", "released", "started", "ended", "admission", "outcome"
        );
        for a in &run.attempts {
            let outcome = a.outcome.as_ref().map_or_else(|| "-".to_string(), outcome_text);
            let _ = writeln!(
                out,
                "{:>5} {:>3} {:>9} {:>9} {:>9}  {:<ADMISSION_WIDTH$}  {:<OUTCOME_WIDTH$}  {}",
                a.index,
                a.attempt,
                a.released_ms,
                ms(a.started_ms),
                ms(a.ended_ms),
                fit(&admission_text(&a.admission), ADMISSION_WIDTH),
                fit(&outcome, OUTCOME_WIDTH),
                cell(&then_text(a))
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
            let _ = writeln!(out, "\noutput:");
            lines(&mut out, &pretty);
        }
        StageEnd::Failed(error) => {
            let _ = writeln!(out, "stage failed at {} ms:", run.ended_ms);
            lines(&mut out, &error.to_string());
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
            json!({ "index": a.index, "attempt": a.attempt, "released_ms": a.released_ms, "started_ms": a.started_ms,
                    "ended_ms": a.ended_ms, "admission": a.admission, "outcome": a.outcome, "verdict": a.verdict,
                    "then": then_json(&a.then) })
        })
        .collect();
    let enqueued: Vec<Value> = run.enqueued.iter().map(|e| json!({ "task": e.task, "options": e.options })).collect();
    let mut report = json!({
        "run": run.run_id, "stage": run.stage, "mode": run.mode, "workers": run.workers,
        "plan": run.plan, "execution": run.execution, "enqueued": enqueued, "attempts": attempts,
        "results": run.results, "peak_in_flight": run.peak_in_flight, "max_parallel": max_parallel(run),
        "started_ms": run.started_ms, "ended_ms": run.ended_ms, "succeeded": run.succeeded(),
    });
    match &run.end {
        StageEnd::Succeeded { output, .. } => report["output"] = output.clone(),
        StageEnd::Failed(error) => report["error"] = json!(error.to_string()),
    }
    report
}
