//! `fork-join`: one task per branch of `executorConfig.branches` (`name`, `actor`,
//! optional `input`). A branch's `input` resolves against the stage's resolved `input`
//! laid over the context, so `$.data.source` reads the stage input's `data`; a branch
//! without `input` gets the stage's resolved input. Output: branch name -> result.

use serde::Deserialize;
use troupe_sdk::prelude::*;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Branch {
    name: String,
    actor: String,
    input: Option<Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    #[serde(default)]
    branches: Vec<Branch>,
}

struct ForkJoin;

impl Executor for ForkJoin {
    const NAME: &'static str = "fork-join";
    type Config = Config;

    fn validate(_stage: &Stage, config: &Config) -> Vec<Problem> {
        let mut problems = Vec::new();
        if config.branches.is_empty() {
            problems.push(Problem::new("executorConfig.branches", "is required: [{ name, actor, input? }, ...]"));
        }
        for (i, b) in config.branches.iter().enumerate() {
            if b.name.is_empty() {
                problems.push(Problem::new(format!("executorConfig.branches[{i}].name"), "must not be empty"));
            } else if config.branches[..i].iter().any(|o| o.name == b.name) {
                problems.push(Problem::new(
                    format!("executorConfig.branches[{i}].name"),
                    format!("`{}` is used by an earlier branch", b.name),
                ));
            }
            problems.extend(Stage::check_actor(&format!("executorConfig.branches[{i}].actor"), &b.actor));
        }
        problems
    }

    fn execute(stage: &Stage, config: &Config) -> Result<Execution, ExecutorError> {
        let stage_input = stage.resolve_input(None)?;
        let bindings = match &stage_input {
            Value::Object(_) => Some(&stage_input),
            _ => None,
        };
        let mut tasks = Vec::with_capacity(config.branches.len());
        for (i, b) in config.branches.iter().enumerate() {
            let input = match &b.input {
                Some(template) => {
                    context::resolve_input(template, bindings).map_err(|e| match ExecutorError::from(e) {
                        ExecutorError::Fatal(m) => {
                            ExecutorError::fatal(m.replacen("input", &format!("executorConfig.branches[{i}].input"), 1))
                        }
                        other => other,
                    })?
                }
                None => stage_input.clone(),
            };
            tasks.push(stage.task(i as u64, &b.actor, input).with_key(json!(b.name)));
        }
        let count = queue::enqueue_all(tasks, 100, &EnqueueOptions::default())?;
        Ok(Execution::new(count, OutputShape::ByKey))
    }
}

export_executor!(ForkJoin);
