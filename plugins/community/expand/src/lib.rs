//! `expand`: a crawler. The seeds are the items of `scatter.input`; a task whose result
//! has `next` (an array) adds one task per item of it to the same stage, rendered with
//! the stage's `input` template like a seed, until `maxDepth` generations below the
//! seeds or `maxTasks` tasks in the stage. See README.md for the decided semantics.
//!
//! Config: `maxDepth` (default 3), `maxTasks` (default 1000), `maxParallel`.

use serde::Deserialize;
use troupe_sdk::prelude::*;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Config {
    #[serde(default = "default_depth")]
    max_depth: u32,
    #[serde(default = "default_tasks")]
    max_tasks: u64,
    max_parallel: Option<u32>,
}

fn default_depth() -> u32 {
    3
}
fn default_tasks() -> u64 {
    1000
}

/// How long a review that met a transient host error waits before the task runs again.
const TRANSIENT_RETRY_MS: u64 = 1000;

struct Expand;

impl Executor for Expand {
    const NAME: &'static str = "expand";
    type Config = Config;

    fn validate(stage: &Stage, config: &Config) -> Vec<Problem> {
        let mut problems = stage.check_scatter();
        if config.max_tasks == 0 {
            problems.push(Problem::new("executorConfig.maxTasks", "must be at least 1"));
        }
        if config.max_parallel == Some(0) {
            problems.push(Problem::new("executorConfig.maxParallel", "must be at least 1"));
        }
        problems
    }

    fn plan(_stage: &Stage, _config: &Config) -> Result<Plan, ExecutorError> {
        Ok(Plan::default().with_after_task())
    }

    fn execute(stage: &Stage, config: &Config) -> Result<Execution, ExecutorError> {
        let seeds = stage.scatter_list()?;
        let take = usize::try_from(config.max_tasks).unwrap_or(usize::MAX).min(seeds.len());
        if take < seeds.len() {
            log::warn(&format!(
                "{} seeds, maxTasks {}: the last {} are left out",
                seeds.len(),
                take,
                seeds.len() - take
            ));
        }
        let tasks = (0..take).map(|i| seeds.task(i)).collect::<Result<Vec<_>, _>>()?;
        let options = EnqueueOptions::default().with_max_parallel(config.max_parallel);
        let count = queue::enqueue_all(tasks, 1000, &options)?;
        let execution = Execution::new(count, OutputShape::List);
        Ok(if count == 0 { execution.with_metadata(json!([])) } else { execution })
    }

    fn after_task(stage: &Stage, config: &Config, task: &TaskRef, outcome: &Outcome) -> Verdict {
        let Outcome::Succeeded(result) = outcome else { return Verdict::Accept };
        let Some(next) = result.get("next") else { return Verdict::Accept };
        let Some(next) = next.as_array() else {
            log::warn(&format!("task {}: `next` is {}, not an array; nothing added", task.index, kind(next)));
            return Verdict::Accept;
        };
        if next.is_empty() {
            return Verdict::Accept;
        }
        if task.generation >= config.max_depth {
            log::debug(&format!(
                "task {} (generation {}): maxDepth {} reached, {} items not followed",
                task.index,
                task.generation,
                config.max_depth,
                next.len()
            ));
            return Verdict::Accept;
        }
        match follow(stage, config, next) {
            Ok(()) => Verdict::Accept,
            Err(ExecutorError::Retryable(m)) => {
                log::warn(&format!("task {}: cannot add its `next` items yet ({m}); retrying", task.index));
                Verdict::Retry(TRANSIENT_RETRY_MS)
            }
            Err(ExecutorError::Fatal(m)) => {
                log::error(&format!("task {}: cannot add its `next` items: {m}", task.index));
                Verdict::Accept
            }
        }
    }
}

/// Extend the stage with a task per item of `next`, in order, up to `maxTasks` in all.
fn follow(stage: &Stage, config: &Config, next: &[Value]) -> Result<(), ExecutorError> {
    let template = stage.scatter_template()?;
    let tasks = next.iter().enumerate().map(|(i, item)| template.new_task(item, i)).collect::<Result<Vec<_>, _>>()?;
    let options = EnqueueOptions::default().with_max_parallel(config.max_parallel);
    Ok(queue::extend(tasks, &options, Some(config.max_tasks))?)
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

export_executor!(Expand);
