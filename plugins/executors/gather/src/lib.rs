//! `gather`: consolidates the successful results of an earlier stage (`gather.stage`).
//! With `gather.groupBy` (a JSONPath evaluated on each result) it runs one task per
//! distinct key, in first-seen order, with `$.group` = `{ key, items }`; its output is
//! `[{ key, result }, ...]`. Without it, one task gets every result (`key: null`) and its
//! result is the output. A result where `groupBy` matches nothing fails the stage, naming
//! the path and the result's index: a silent `null` key would merge unrelated results.
//!
//! Config: `timeout` (ms from the start of the gathered stage) and `minResults`: when the
//! gathered stage, being the stage just before this one, has not finished by then, this
//! stage starts with the results that have arrived if there are at least `minResults`
//! (default 1); otherwise the run fails saying how many of how many arrived.
//!
//! The host groups the results and renders each task (`queue::enqueue_groups`, WIT
//! 0.2.1): no result passes through this guest, so its memory limit does not bound how
//! many results a stage gathers.

use serde::Deserialize;
use troupe_sdk::prelude::*;
use troupe_sdk::{Groups, PathField};

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Config {
    timeout: Option<u64>,
    min_results: Option<u64>,
}

struct Gather;

impl Executor for Gather {
    const NAME: &'static str = "gather";
    type Config = Config;

    fn validate(stage: &Stage, config: &Config) -> Vec<Problem> {
        let mut problems = Vec::new();
        match stage.required_str("actor") {
            Ok(actor) => problems.extend(Stage::check_actor("actor", actor)),
            Err(p) => problems.push(p),
        }
        if let Err(p) = stage.required_str("gather.stage") {
            problems.push(p);
        }
        if stage.field("gather.groupBy").is_some() {
            problems.extend(stage.check_path("gather.groupBy"));
        }
        if config.timeout == Some(0) {
            problems.push(Problem::new("executorConfig.timeout", "must be at least 1 (milliseconds)"));
        }
        // A `timeout` of the wrong type was reported already and reads as absent here.
        let timeout_given = stage.config.get("timeout").is_some();
        if config.min_results.is_some() && !timeout_given {
            problems.push(Problem::new(
                "executorConfig.minResults",
                "only applies with `timeout`; add `timeout` (ms) or remove it",
            ));
        }
        problems
    }

    fn plan(_stage: &Stage, config: &Config) -> Result<Plan, ExecutorError> {
        Ok(Plan {
            early_start: config
                .timeout
                .map(|after_ms| EarlyStart { after_ms, min_results: config.min_results.unwrap_or(1) }),
            ..Plan::default()
        })
    }

    fn execute(stage: &Stage, _config: &Config) -> Result<Execution, ExecutorError> {
        let group_by = stage.field("gather.groupBy").and_then(Value::as_str);
        let groups = Groups {
            stage: stage.required_str("gather.stage")?.to_string(),
            group_by: group_by.map(|path| PathField::new(path, "gather.groupBy")),
            actor: stage.actor()?.to_string(),
            input: stage.input_template(),
        };
        let count = queue::enqueue_groups(&groups, &EnqueueOptions::default())?;
        let shape = if group_by.is_some() { OutputShape::KeyedList } else { OutputShape::Single };
        Ok(Execution::new(count, shape))
    }
}

export_executor!(Gather);
