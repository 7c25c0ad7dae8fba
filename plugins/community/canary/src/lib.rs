//! `canary`: a scatter whose first items go first, one at a time, each gating the next;
//! the rest are released only when every canary succeeded. See README.md for the
//! decided semantics.
//!
//! How it grows its stage: `execute` enqueues item 0 alone; the `after-task` of canary
//! g (the task of generation g, which is item g) extends the stage with item g + 1, or,
//! after the last canary, with every remaining item. A failed canary's review extends
//! the stage with the remaining items as skipped, naming it. Extension numbering follows
//! the stage's task count, so task i is item i and the `list` output is in item order.
//!
//! Config: `canaryCount` (default 1), `maxParallel` (for the items released after the
//! canaries).

use serde::Deserialize;
use troupe_sdk::prelude::*;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Config {
    #[serde(default = "one")]
    canary_count: u64,
    max_parallel: Option<u32>,
}

fn one() -> u64 {
    1
}

/// How long a review that met a transient host error waits before the task runs again
/// (a retried review re-runs its task; its next review extends the stage again).
const TRANSIENT_RETRY_MS: u64 = 1000;

struct Canary;

impl Executor for Canary {
    const NAME: &'static str = "canary";
    type Config = Config;

    fn validate(stage: &Stage, config: &Config) -> Vec<Problem> {
        let mut problems = stage.check_scatter();
        if config.canary_count == 0 {
            problems.push(Problem::new("executorConfig.canaryCount", "must be at least 1"));
        }
        if config.max_parallel == Some(0) {
            problems.push(Problem::new("executorConfig.maxParallel", "must be at least 1"));
        }
        problems
    }

    fn plan(_stage: &Stage, _config: &Config) -> Result<Plan, ExecutorError> {
        Ok(Plan::default().with_after_task())
    }

    fn execute(stage: &Stage, _config: &Config) -> Result<Execution, ExecutorError> {
        let items = stage.scatter_list()?;
        if items.is_empty() {
            return Ok(Execution::new(0, OutputShape::List).with_metadata(json!([])));
        }
        queue::enqueue(items.task(0)?, &EnqueueOptions::default())?;
        Ok(Execution::new(1, OutputShape::List))
    }

    fn after_task(stage: &Stage, config: &Config, task: &TaskRef, outcome: &Outcome) -> Verdict {
        let canary = u64::from(task.generation);
        if canary >= config.canary_count {
            return Verdict::Accept; // a released item: nothing to decide
        }
        match release(stage, config, canary, task, outcome) {
            Ok(()) => Verdict::Accept,
            Err(ExecutorError::Retryable(m)) => {
                log::warn(&format!("canary task {}: cannot release the next items yet ({m}); retrying", task.index));
                Verdict::Retry(TRANSIENT_RETRY_MS)
            }
            Err(ExecutorError::Fatal(m)) => {
                log::error(&format!("canary task {}: cannot release the next items: {m}", task.index));
                Verdict::Accept
            }
        }
    }
}

/// After canary `canary` (item `canary`) ended: extend the stage with what comes next.
fn release(
    stage: &Stage,
    config: &Config,
    canary: u64,
    task: &TaskRef,
    outcome: &Outcome,
) -> Result<(), ExecutorError> {
    let items = stage.scatter_list()?;
    let next = usize::try_from(canary + 1).unwrap_or(usize::MAX).min(items.len());
    let rest = next..items.len();
    match outcome {
        Outcome::Failed(error) => {
            let reason = format!("canary task {} failed: {error}", task.index);
            let skipped = rest.map(|i| items.new_task(i)).collect::<Result<Vec<_>, _>>()?;
            if !skipped.is_empty() {
                queue::extend(skipped, &EnqueueOptions::skipped(reason), None)?;
            }
        }
        Outcome::Succeeded(_) if canary + 1 < config.canary_count => {
            if next < items.len() {
                queue::extend([items.new_task(next)?], &EnqueueOptions::default(), None)?;
            }
        }
        Outcome::Succeeded(_) => {
            let released = rest.map(|i| items.new_task(i)).collect::<Result<Vec<_>, _>>()?;
            if !released.is_empty() {
                let options = EnqueueOptions::default().with_max_parallel(config.max_parallel);
                queue::extend(released, &options, None)?;
            }
        }
    }
    Ok(())
}

export_executor!(Canary);
