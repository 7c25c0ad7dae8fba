//! Conversions between `crate::api` types and the generated bindings. The only place a
//! WIT change ripples into host code.
//!
//! Text a plugin hands the host in a message (problems, errors, rejections) is escaped
//! and cut here, where it crosses (`text::one_line`), so no path can print it raw.

use super::bindings::types as wit;
use super::error::{printed, Failure};
use crate::api::*;
use crate::text;
use serde_json::Value;

pub(crate) fn stage(s: &Stage) -> wit::Stage {
    wit::Stage {
        run_id: s.run_id.clone(),
        name: s.name.clone(),
        definition: s.definition.to_string(),
        config: s.config.to_string(),
    }
}

/// A plugin's message made safe for a terminal, with what the guest printed under it.
fn message(m: &str, output: &Option<String>) -> String {
    format!("{}{}", text::one_line(m, text::LINE_BUDGET), printed(output))
}

pub(crate) fn problem(p: wit::Problem) -> Problem {
    Problem { field: text::one_line(&p.field, text::LINE_BUDGET), message: message(&p.message, &None) }
}

pub(crate) fn executor_error(e: wit::ExecutorError, output: Option<String>) -> ExecutorError {
    match e {
        wit::ExecutorError::Retryable(m) => ExecutorError::Retryable(message(&m, &output)),
        wit::ExecutorError::Fatal(m) => ExecutorError::Fatal(message(&m, &output)),
    }
}

pub(crate) fn execution(e: wit::Execution) -> Result<Execution, Failure> {
    let metadata = e
        .metadata
        .map(|m| serde_json::from_str::<Value>(&m))
        .transpose()
        .map_err(|err| Failure::Malformed(format!("execute returned metadata that is not JSON: {err}")))?;
    Ok(Execution {
        expected_tasks: e.expected_tasks,
        metadata,
        output: match e.output {
            wit::OutputShape::Single => OutputShape::Single,
            wit::OutputShape::List => OutputShape::List,
            wit::OutputShape::ByKey => OutputShape::ByKey,
            wit::OutputShape::KeyedList => OutputShape::KeyedList,
            wit::OutputShape::Metadata => OutputShape::Metadata,
        },
        detached: e.detached,
    })
}

pub(crate) fn plan(p: wit::StagePlan) -> StagePlan {
    StagePlan {
        early_start: p.early_start.map(|e| EarlyStart { after_ms: e.after_ms, min_results: e.min_results }),
        before_task_hook: p.hooks.contains(wit::Hooks::BEFORE_TASK),
        after_task_hook: p.hooks.contains(wit::Hooks::AFTER_TASK),
    }
}

pub(crate) fn task_ref(t: &TaskRef) -> wit::TaskRef {
    wit::TaskRef { index: t.index, actor: t.actor.clone(), attempt: t.attempt }
}

pub(crate) fn outcome(o: &Outcome) -> wit::Outcome {
    match o {
        Outcome::Succeeded(v) => wit::Outcome::Succeeded(v.to_string()),
        Outcome::Failed(m) => wit::Outcome::Failed(m.clone()),
        // No hook sees a skipped task; were one asked, it reads as not run.
        Outcome::Skipped(m) => wit::Outcome::Failed(format!("skipped: {m}")),
    }
}

pub(crate) fn admission(a: wit::Admission, output: Option<String>) -> Admission {
    match a {
        wit::Admission::Run => Admission::Run,
        wit::Admission::Reject(m) => Admission::Reject(message(&m, &output)),
        wit::Admission::Defer(ms) => Admission::Defer(ms),
    }
}

pub(crate) fn verdict(v: wit::Verdict) -> Verdict {
    match v {
        wit::Verdict::Accept => Verdict::Accept,
        wit::Verdict::Retry(ms) => Verdict::Retry(ms),
    }
}
