//! `rate-limited`: the seed's `RateLimitedExecutor`. Scatter-shaped (one task per item of
//! `scatter.input`), but tasks are released no faster than `executorConfig.rateLimit` per
//! second, by a token bucket the host keeps for the stage's actor: shared by every stage,
//! run and host that calls that actor through this executor. Nothing sleeps in the plugin.
//!
//! Config: `rateLimit` (tasks per second, > 0), `burst` (tasks released at once, default
//! 1), `bucket` (share a bucket under another name than the actor's), `maxParallel`.

use serde::Deserialize;
use troupe_sdk::prelude::*;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Config {
    rate_limit: Option<f64>,
    burst: Option<u32>,
    bucket: Option<String>,
    max_parallel: Option<u32>,
}

struct RateLimited;

impl Executor for RateLimited {
    const NAME: &'static str = "rate-limited";
    type Config = Config;

    fn validate(stage: &Stage, config: &Config) -> Vec<Problem> {
        let mut problems = stage.check_scatter();
        // A `rateLimit` of the wrong type was reported already (and reads as absent here).
        match config.rate_limit {
            None => {
                problems.push(Problem::new("executorConfig.rateLimit", "is required: tasks per second, such as 10"))
            }
            Some(r) if !(r.is_finite() && r > 0.0) => {
                problems.push(Problem::new("executorConfig.rateLimit", format!("must be more than 0, found {r}")))
            }
            Some(_) => {}
        }
        if config.burst == Some(0) {
            problems.push(Problem::new("executorConfig.burst", "must be at least 1"));
        }
        if config.max_parallel == Some(0) {
            problems.push(Problem::new("executorConfig.maxParallel", "must be at least 1"));
        }
        problems
    }

    fn execute(stage: &Stage, config: &Config) -> Result<Execution, ExecutorError> {
        let per_second =
            config.rate_limit.ok_or_else(|| ExecutorError::fatal("executorConfig.rateLimit is required"))?;
        let bucket = config.bucket.clone().unwrap_or_else(|| stage.actor().unwrap_or_default().to_string());
        let options = EnqueueOptions {
            max_parallel: config.max_parallel,
            rate_limit: Some(RateLimit { bucket, per_second, burst: config.burst.unwrap_or(1) }),
            ..Default::default()
        };
        let count = queue::enqueue_each(&stage.scatter_each(None)?, &options)?;
        let execution = Execution::new(count, OutputShape::List);
        Ok(if count == 0 { execution.with_metadata(json!([])) } else { execution })
    }
}

export_executor!(RateLimited);
