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

fn items(stage: &Stage, path: &str) -> Result<Vec<Value>, ExecutorError> {
    let mut found = context::query(path, None)?;
    match found.len() {
        0 => Err(ExecutorError::fatal(format!("scatter.input: `{path}` matched nothing"))),
        1 => match found.pop() {
            Some(Value::Array(items)) => Ok(items),
            Some(other) => Err(ExecutorError::fatal(format!(
                "scatter.input: `{path}` is {}, not an array (stage {})",
                kind(&other),
                stage.name
            ))),
            None => unreachable!(),
        },
        _ => Ok(found),
    }
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

impl Executor for Scatter {
    const NAME: &'static str = "scatter";

    fn validate(stage: &Stage) -> Vec<Problem> {
        let mut problems = Vec::new();
        match stage.required_str("actor") {
            Ok(actor) => problems.extend(Stage::check_actor("actor", actor)),
            Err(p) => problems.push(p),
        }
        problems.extend(stage.check_path("scatter.input"));
        match stage.required_str("scatter.as") {
            Ok("index") => problems
                .push(Problem::new("scatter.as", "`index` is bound to each item's position; choose another name")),
            Ok(name) if !name.chars().all(|c| c.is_alphanumeric() || c == '_') => problems.push(Problem::new(
                "scatter.as",
                format!("`{name}` must be letters, digits and '_' so `$.{name}` can read it"),
            )),
            Ok(_) => {}
            Err(p) => problems.push(p),
        }
        match stage.config::<Config>() {
            Ok(c) => {
                if c.max_parallel == Some(0) {
                    problems.push(Problem::new("executorConfig.maxParallel", "must be at least 1"));
                }
                if c.batch_size == Some(0) {
                    problems.push(Problem::new("executorConfig.batchSize", "must be at least 1"));
                }
            }
            Err(p) => problems.push(p),
        }
        problems
    }

    fn execute(stage: &Stage) -> Result<Execution, ExecutorError> {
        let config: Config = stage.config().map_err(|p| ExecutorError::fatal(format!("{}: {}", p.field, p.message)))?;
        let actor = stage.actor()?.to_string();
        let path = stage
            .required_str("scatter.input")
            .map_err(|p| ExecutorError::fatal(format!("{}: {}", p.field, p.message)))?;
        let name = stage
            .required_str("scatter.as")
            .map_err(|p| ExecutorError::fatal(format!("{}: {}", p.field, p.message)))?;
        let items = items(stage, path)?;
        let template = stage.template(&[name, "index"])?;
        let options = EnqueueOptions { max_parallel: config.max_parallel, ..Default::default() };
        let mut bindings = Map::new();
        let mut tasks = Vec::with_capacity(items.len());
        for (index, item) in items.into_iter().enumerate() {
            bindings.insert(name.to_string(), item);
            bindings.insert("index".to_string(), json!(index));
            tasks.push(stage.task(index as u64, &actor, template.render(&bindings)?));
        }
        let batch = config.batch_size.unwrap_or(1000) as usize;
        let count = queue::enqueue_all(tasks, batch, &options)?;
        // With no tasks the stage completes at once and its output is the metadata:
        // an empty list, what a scatter's output is for no items.
        let execution = Execution::new(count, OutputShape::List);
        Ok(if count == 0 { execution.with_metadata(json!([])) } else { execution })
    }
}

export_executor!(Scatter);
