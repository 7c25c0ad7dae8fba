//! `scatter`: one task per item of the array at `scatter.input`, each with the stage's
//! `input` template rendered with the item bound to `$.<scatter.as>` and its position to
//! `$.index`. Output: the results in item order.
//!
//! The host reads the items and renders each task (`queue::enqueue_each`, WIT 0.2.1):
//! neither passes through this guest, so its memory limit does not bound the stage's
//! size (a million items scatter with the default 128 MiB).
//!
//! Config: `maxParallel` (at most this many of the stage's tasks enqueued-or-running,
//! enforced by the host), `batchSize` (tasks handed to the engine per round trip).

use serde::Deserialize;
use troupe_sdk::prelude::*;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Config {
    max_parallel: Option<u32>,
    batch_size: Option<u32>,
}

struct Scatter;

impl Executor for Scatter {
    const NAME: &'static str = "scatter";
    type Config = Config;

    fn validate(stage: &Stage, config: &Config) -> Vec<Problem> {
        let mut problems = stage.check_scatter();
        if config.max_parallel == Some(0) {
            problems.push(Problem::new("executorConfig.maxParallel", "must be at least 1"));
        }
        if config.batch_size == Some(0) {
            problems.push(Problem::new("executorConfig.batchSize", "must be at least 1"));
        }
        problems
    }

    fn execute(stage: &Stage, config: &Config) -> Result<Execution, ExecutorError> {
        let options = EnqueueOptions { max_parallel: config.max_parallel, ..Default::default() };
        let count = queue::enqueue_each(&stage.scatter_each(config.batch_size)?, &options)?;
        // With no tasks the stage completes at once and its output is the metadata:
        // an empty list, what a scatter's output is for no items.
        let execution = Execution::new(count, OutputShape::List);
        Ok(if count == 0 { execution.with_metadata(json!([])) } else { execution })
    }
}

export_executor!(Scatter);
