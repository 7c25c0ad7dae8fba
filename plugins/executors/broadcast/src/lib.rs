//! `broadcast`: the stage's resolved `input` to every actor in `executorConfig.actors`.
//! Output: an object actor name -> result. With `waitForAll: false` the stage completes
//! at once and the tasks run on.

use serde::Deserialize;
use troupe_sdk::prelude::*;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Config {
    #[serde(default)]
    actors: Vec<String>,
    #[serde(default = "yes")]
    wait_for_all: bool,
}

fn yes() -> bool {
    true
}

struct Broadcast;

impl Executor for Broadcast {
    const NAME: &'static str = "broadcast";
    type Config = Config;

    fn validate(_stage: &Stage, config: &Config) -> Vec<Problem> {
        let mut problems = Vec::new();
        if config.actors.is_empty() {
            problems.push(Problem::new("executorConfig.actors", "is required: the actor types to broadcast to"));
        }
        for (i, actor) in config.actors.iter().enumerate() {
            let field = format!("executorConfig.actors[{i}]");
            if config.actors[..i].contains(actor) {
                problems.push(Problem::new(&field, format!("`{actor}` is listed twice")));
            }
            problems.extend(Stage::check_actor(&field, actor));
        }
        problems
    }

    fn execute(stage: &Stage, config: &Config) -> Result<Execution, ExecutorError> {
        let input = stage.resolve_input(None)?;
        let tasks = config
            .actors
            .iter()
            .enumerate()
            .map(|(i, actor)| stage.task(i as u64, actor, input.clone()).with_key(json!(actor)));
        let count = queue::enqueue_all(tasks, 100, &EnqueueOptions::default())?;
        let execution = Execution::new(count, OutputShape::ByKey);
        Ok(if config.wait_for_all { execution } else { execution.detached() })
    }
}

export_executor!(Broadcast);
