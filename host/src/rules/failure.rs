//! How a failed stage is described: one type and one text, so `troupe run`, `troupe
//! status` and the plugin harness say the same thing about the same failure.

use crate::api::{ExecutorError, Outcome};
use crate::engine::TaskResult;
use crate::plugin::CallError;
use std::fmt;

/// How many failed tasks an error lists before summarizing the rest.
const LISTED_TASKS: usize = 10;

#[derive(Debug)]
pub enum StageFailure {
    /// The executor returned an error.
    Executor { mode: String, error: ExecutorError },
    /// The executor plugin trapped, ran out of time or memory, or returned garbage.
    Plugin(CallError),
    /// The executor's `expected-tasks` does not match what it enqueued.
    Miscount { mode: String, expected: u64, enqueued: u64 },
    /// More tasks failed than the stage tolerates.
    Tasks { failed: Vec<TaskResult>, expected: u64, tolerated: u64 },
    /// The next stage's early start (gather `timeout`) came with too few results.
    TooFewArrived { next_stage: String, arrived: u64, expected: u64, min_results: u64, after_ms: u64 },
}

impl fmt::Display for StageFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StageFailure::Executor { mode, error } => write!(f, "the `{mode}` executor returned an error: {error}"),
            StageFailure::Plugin(call) => write!(f, "{call}"),
            StageFailure::Miscount { mode, expected, enqueued } => write!(
                f,
                "the `{mode}` executor said expectedTasks = {expected} but enqueued {enqueued} task{}",
                if *enqueued == 1 { "" } else { "s" }
            ),
            StageFailure::Tasks { failed, expected, tolerated } => {
                write!(f, "{} of {expected} tasks failed (tolerated: {tolerated})", failed.len())?;
                for r in failed.iter().take(LISTED_TASKS) {
                    let error = match &r.outcome {
                        Outcome::Failed(e) => e.as_str(),
                        Outcome::Succeeded(_) | Outcome::Skipped(_) => "",
                    };
                    let attempts = if r.attempts > 1 { format!(", {} attempts", r.attempts) } else { String::new() };
                    write!(f, "\n  task {} ({}{attempts}): {error}", r.index, r.actor)?;
                }
                if failed.len() > LISTED_TASKS {
                    write!(f, "\n  ... and {} more", failed.len() - LISTED_TASKS)?;
                }
                Ok(())
            }
            StageFailure::TooFewArrived { next_stage, arrived, expected, min_results, after_ms } => write!(
                f,
                "{arrived} of {expected} results arrived within {after_ms} ms, fewer than the {min_results} stage {next_stage} needs to start (minResults)"
            ),
        }
    }
}
