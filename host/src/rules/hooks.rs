//! The hook protocol: what `before-task` and `after-task` decide, turned into what the
//! host does with the task. One copy, used by the hook host of every engine
//! ([`crate::gatekeeper`]) and by the plugin harness, so a pattern tested in the harness
//! meets the same rules it meets in a run.
//!
//! Why the hooks are the host's and never an actor worker's: a worker in another
//! language, following the Redis protocol, cannot run a wasm hook. Admission happens
//! where a task is released and review where its outcome is recorded, both in a troupe
//! process that holds the executor plugin.
//!
//! The rules:
//! - A hook that fails (traps, runs out of time or memory, returns garbage) fails the
//!   task with the hook's error; it never fails the run or the host.
//! - `reject(message)` fails the task with `message`; the outcome still goes to
//!   `after-task` (a retry pattern may retry a rejected task).
//! - `defer(ms)` and `retry(ms)` are held to the executor's limits
//!   ([`super::bounds::deferral`], [`super::bounds::retry`]); past them the task fails
//!   with an error that says which limit and what its last try gave.

use crate::api::{Admission, Extension, Outcome, Stage, TaskRef, Verdict};
use crate::plugin::ExecutorPlugin;
use crate::stage_host::StageHost;
use std::sync::Arc;

/// What happens to a released task before its actor sees it.
#[derive(Debug, Clone, PartialEq)]
pub enum Admit {
    /// Hand it to its actor.
    Run,
    /// Ask again after this many ms (already held to the executor's limits).
    Defer { delay_ms: u64 },
    /// It does not run: this is its outcome, which goes to review like any other.
    Fail(String),
}

/// What happens to an attempt's outcome.
#[derive(Debug, Clone, PartialEq)]
pub enum Review {
    /// Record it: the task has ended. With the tasks its review added to the stage
    /// (`extend`), which the engine adds with the outcome, exactly once.
    Record(Outcome, Option<Extension>),
    /// Run the task again (attempt + 1) after this many ms (held to the limits).
    Retry { delay_ms: u64 },
}

/// Ask `before-task` about a released task. `deferrals` counts one more deferral of the
/// task and returns how many it has had (this one included); it is called only when the
/// hook defers, and its error fails the task.
pub fn admit(
    executor: &ExecutorPlugin,
    host: Arc<dyn StageHost>,
    stage: &Stage,
    task: &TaskRef,
    deferrals: impl FnOnce() -> anyhow::Result<u64>,
) -> (Admission, Admit) {
    let admission = match executor.before_task(host, stage, task) {
        Ok(admission) => admission,
        Err(e) => return (Admission::Reject(e.to_string()), Admit::Fail(format!("before-task hook failed: {e}"))),
    };
    let admit = match &admission {
        Admission::Run => Admit::Run,
        Admission::Reject(message) => Admit::Fail(message.clone()),
        Admission::Defer(ms) => match deferrals() {
            Ok(count) => match super::bounds::deferral(task.index, *ms, count, &executor.info().limits) {
                Ok(delay_ms) => Admit::Defer { delay_ms },
                Err(why) => Admit::Fail(format!("before-task of mode {} refused: {why}", executor.mode())),
            },
            Err(e) => Admit::Fail(format!("cannot count the deferrals of task {}: {e:#}", task.index)),
        },
    };
    (admission, admit)
}

/// Ask `after-task` about an attempt's outcome (call it only for a stage whose plan asked
/// for the hook; without it every outcome is recorded as it is).
pub fn review(
    executor: &ExecutorPlugin,
    host: Arc<dyn StageHost>,
    stage: &Stage,
    task: &TaskRef,
    outcome: Outcome,
) -> (Option<Verdict>, Review) {
    match executor.after_task(host, stage, task, &outcome) {
        Ok((Verdict::Accept, extension)) => (Some(Verdict::Accept), Review::Record(outcome, extension)),
        // A retried attempt's extension is dropped: the next attempt's review may add it.
        Ok((verdict @ Verdict::Retry(ms), _)) => {
            match super::bounds::retry(task.index, ms, task.attempt, &executor.info().limits) {
                Ok(delay_ms) => (Some(verdict), Review::Retry { delay_ms }),
                Err(why) => {
                    let last = match &outcome {
                        Outcome::Failed(e) => format!("; its last try failed: {e}"),
                        Outcome::Succeeded(_) | Outcome::Skipped(_) => "; its last try succeeded".to_string(),
                    };
                    let message = format!("after-task of mode {} refused: {why}{last}", executor.mode());
                    (Some(verdict), Review::Record(Outcome::Failed(message), None))
                }
            }
        }
        Err(e) => (None, Review::Record(Outcome::Failed(format!("after-task hook failed: {e}")), None)),
    }
}
