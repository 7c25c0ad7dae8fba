//! `single`: runs the stage's actor once with the stage's resolved `input`. The stage's
//! output is that task's result.

use troupe_sdk::prelude::*;

struct Single;

impl Executor for Single {
    const NAME: &'static str = "single";
    /// single reads no config of its own.
    type Config = IgnoredAny;

    fn validate(stage: &Stage, _config: &Self::Config) -> Vec<Problem> {
        let mut problems = Vec::new();
        if let Err(p) = stage.required_str("actor") {
            problems.push(p);
        }
        problems
    }

    fn execute(stage: &Stage, _config: &Self::Config) -> Result<Execution, ExecutorError> {
        let input = stage.resolve_input(None)?;
        queue::enqueue(stage.task(0, stage.actor()?, input), &EnqueueOptions::default())?;
        Ok(Execution::new(1, OutputShape::Single))
    }
}

export_executor!(Single);
