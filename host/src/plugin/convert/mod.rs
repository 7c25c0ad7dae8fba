//! Conversions between `crate::api` types and each WIT version's generated types: the
//! only place a WIT change ripples into host code. The types both versions share are
//! converted by one macro, expanded in each version's module over its own bindings;
//! each module adds what its version has of its own.
//!
//! Text a plugin hands the host in a message (problems, errors, rejections) is escaped
//! and cut here, where it crosses (`text::one_line`), so no path can print it raw.

pub(crate) mod v0_1;
pub(crate) mod v0_2;

use super::error::printed;
use crate::api::{Admission, ExecutorError};
use crate::text;

/// A plugin's message made safe for a terminal.
pub(crate) fn message(m: &str) -> String {
    text::one_line(m, text::LINE_BUDGET)
}

/// An executor's error with what the guest printed during the call under its message.
pub(crate) fn executor_error_printed(e: ExecutorError, output: &Option<String>) -> ExecutorError {
    match e {
        ExecutorError::Retryable(m) => ExecutorError::Retryable(format!("{m}{}", printed(output))),
        ExecutorError::Fatal(m) => ExecutorError::Fatal(format!("{m}{}", printed(output))),
    }
}

/// A rejection with what the guest printed during the call under its message.
pub(crate) fn admission_printed(a: Admission, output: &Option<String>) -> Admission {
    match a {
        Admission::Reject(m) => Admission::Reject(format!("{m}{}", printed(output))),
        other => other,
    }
}

/// The conversions of every type both versions share, for the `wit` types module in
/// scope where it is expanded (the types are the same in 0.1 and 0.2; their Rust types
/// are not, being generated once per version).
macro_rules! shared_conversions {
    () => {
        use crate::api::*;
        use crate::plugin::convert::message;
        use crate::plugin::error::Failure;
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

        pub(crate) fn problem(p: wit::Problem) -> Problem {
            Problem { field: text::one_line(&p.field, text::LINE_BUDGET), message: message(&p.message) }
        }

        /// Without what the guest printed: see [`executor_error_printed`](crate::plugin::convert::executor_error_printed).
        pub(crate) fn executor_error(e: wit::ExecutorError) -> ExecutorError {
            match e {
                wit::ExecutorError::Retryable(m) => ExecutorError::Retryable(message(&m)),
                wit::ExecutorError::Fatal(m) => ExecutorError::Fatal(message(&m)),
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

        pub(crate) fn outcome(o: &Outcome) -> wit::Outcome {
            match o {
                Outcome::Succeeded(v) => wit::Outcome::Succeeded(v.as_str().to_string()),
                Outcome::Failed(m) => wit::Outcome::Failed(m.clone()),
                // No hook sees a skipped task; were one asked, it reads as not run.
                Outcome::Skipped(m) => wit::Outcome::Failed(format!("skipped: {m}")),
            }
        }

        /// Without what the guest printed: see [`admission_printed`](crate::plugin::convert::admission_printed).
        pub(crate) fn admission(a: wit::Admission) -> Admission {
            match a {
                wit::Admission::Run => Admission::Run,
                wit::Admission::Reject(m) => Admission::Reject(message(&m)),
                wit::Admission::Defer(ms) => Admission::Defer(ms),
            }
        }

        pub(crate) fn verdict(v: wit::Verdict) -> Verdict {
            match v {
                wit::Verdict::Accept => Verdict::Accept,
                wit::Verdict::Retry(ms) => Verdict::Retry(ms),
            }
        }
    };
}

pub(crate) use shared_conversions;
