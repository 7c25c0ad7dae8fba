//! `scatter`: one task per item of the array at `scatter.input`, each with the stage's
//! `input` template rendered with the item bound to `$.<scatter.as>` and its position to
//! `$.index`. Output: the results in item order.
//!
//! Config: `maxParallel` (at most this many of the stage's tasks enqueued-or-running,
//! enforced by the host), `batchSize` (tasks handed to the host per round trip).

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
        let batch = config.batch_size.unwrap_or(1000) as usize;
        let count = stage.scatter_list()?.enqueue(batch, &options)?;
        // With no tasks the stage completes at once and its output is the metadata:
        // an empty list, what a scatter's output is for no items.
        let execution = Execution::new(count, OutputShape::List);
        Ok(if count == 0 { execution.with_metadata(json!([])) } else { execution })
    }
}

export_executor!(Scatter);
