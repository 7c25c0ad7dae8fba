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

use serde::Deserialize;
use troupe_sdk::prelude::*;
use troupe_sdk::template::select_simple;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Config {
    timeout: Option<u64>,
    min_results: Option<u64>,
}

struct Gather;

/// The key of result `index` (its position in the gathered stage's output) of `stage`.
fn group_key(result: &Value, path: &str, stage: &str, index: usize) -> Result<Value, ExecutorError> {
    let found = match select_simple(result, path) {
        Some(found) => found,
        None => context::select(result, path)?,
    };
    found.into_iter().next().ok_or_else(|| {
        ExecutorError::fatal(format!(
            "gather.groupBy: `{path}` matched nothing on result {index} of stage `{stage}`; \
             every result needs a key (have the actor always return it)"
        ))
    })
}

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
        let actor = stage.actor()?.to_string();
        let gathered = stage.required_str("gather.stage")?;
        let path = format!("$['{}']", gathered.replace('\'', "\\'"));
        let output = context::query(&path, None)?.pop().ok_or_else(|| {
            ExecutorError::fatal(format!("gather.stage: stage `{gathered}` has no output in the context"))
        })?;
        // A scatter's output lists its results with `null` for failed (tolerated) or
        // not-arrived tasks; anything else is one result.
        let results: Vec<(usize, Value)> = match output {
            Value::Array(items) => items.into_iter().enumerate().filter(|(_, v)| !v.is_null()).collect(),
            other => vec![(0, other)],
        };
        let template = stage.template(&["group", "index"])?;
        let mut bindings = Map::new();

        let Some(group_by) = stage.field("gather.groupBy").and_then(Value::as_str) else {
            let items: Vec<Value> = results.into_iter().map(|(_, v)| v).collect();
            bindings.insert("group".into(), json!({ "key": null, "items": items }));
            bindings.insert("index".into(), json!(0));
            queue::enqueue(stage.task(0, &actor, template.render(&bindings)?), &EnqueueOptions::default())?;
            return Ok(Execution::new(1, OutputShape::Single));
        };

        let mut groups: Vec<(Value, Vec<Value>)> = Vec::new();
        for (index, result) in results {
            let key = group_key(&result, group_by, gathered, index)?;
            match groups.iter_mut().find(|(k, _)| *k == key) {
                Some((_, items)) => items.push(result),
                None => groups.push((key, vec![result])),
            }
        }
        let mut tasks = Vec::with_capacity(groups.len());
        for (index, (key, items)) in groups.into_iter().enumerate() {
            bindings.insert("group".into(), json!({ "key": key, "items": items }));
            bindings.insert("index".into(), json!(index));
            tasks.push(stage.task(index as u64, &actor, template.render(&bindings)?).with_key(key));
        }
        let count = queue::enqueue_all(tasks, 100, &EnqueueOptions::default())?;
        Ok(Execution::new(count, OutputShape::KeyedList))
    }
}

export_executor!(Gather);
