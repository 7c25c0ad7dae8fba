//! `retry`: runs the stage's actor (once, or once per item when the stage has `scatter`)
//! and re-enqueues a failed task after a backoff delay until its retries run out. Each
//! task's attempts show in the run's status and errors.
//!
//! Config: `maxRetries` (default 3), `backoff` (`fixed` | `exponential`, default
//! exponential), `baseDelayMs` (default 100), `maxDelayMs` (default 10000), `jitter` (a
//! fraction 0..1 of each delay, default 0: the delay varies by up to that much, the same
//! way for the same run, task and attempt, so runs are reproducible).

use serde::Deserialize;
use troupe_sdk::prelude::*;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Config {
    #[serde(default = "default_retries")]
    max_retries: u32,
    #[serde(default)]
    backoff: Backoff,
    #[serde(default = "default_base")]
    base_delay_ms: u64,
    #[serde(default = "default_max")]
    max_delay_ms: u64,
    #[serde(default)]
    jitter: f64,
}

#[derive(Deserialize, Default, Clone, Copy)]
#[serde(rename_all = "lowercase")]
enum Backoff {
    Fixed,
    #[default]
    Exponential,
}

fn default_retries() -> u32 {
    3
}
fn default_base() -> u64 {
    100
}
fn default_max() -> u64 {
    10_000
}

/// The delay before attempt `attempt + 1`, after attempt `attempt` failed.
fn delay(config: &Config, run_id: &str, index: u64, attempt: u32) -> u64 {
    let raw = match config.backoff {
        Backoff::Fixed => config.base_delay_ms,
        Backoff::Exponential => config.base_delay_ms.saturating_mul(1u64 << (attempt - 1).min(32)),
    }
    .min(config.max_delay_ms);
    if config.jitter <= 0.0 {
        return raw;
    }
    // FNV-1a over (run, index, attempt): a fixed pseudo-random fraction in [-1, 1].
    let mut h: u64 = 0xcbf29ce484222325;
    for b in run_id.bytes().chain(index.to_le_bytes()).chain(attempt.to_le_bytes()) {
        h = (h ^ u64::from(b)).wrapping_mul(0x100000001b3);
    }
    let unit = (h % 2001) as f64 / 1000.0 - 1.0;
    ((raw as f64) * (1.0 + config.jitter.min(1.0) * unit)).max(0.0) as u64
}

struct Retry;

impl Executor for Retry {
    const NAME: &'static str = "retry";
    type Config = Config;

    fn validate(stage: &Stage, config: &Config) -> Vec<Problem> {
        let mut problems = stage.check_one_or_scatter();
        if !(0.0..=1.0).contains(&config.jitter) {
            problems
                .push(Problem::new("executorConfig.jitter", format!("must be from 0 to 1, found {}", config.jitter)));
        }
        if config.max_delay_ms < config.base_delay_ms {
            problems.push(Problem::new("executorConfig.maxDelayMs", "must not be less than baseDelayMs"));
        }
        problems
    }

    fn execute(stage: &Stage, _config: &Config) -> Result<Execution, ExecutorError> {
        let (count, shape) = stage.enqueue_one_or_scatter(&EnqueueOptions::default())?;
        Ok(Execution::new(count, shape))
    }

    fn plan(_stage: &Stage, _config: &Config) -> Result<Plan, ExecutorError> {
        Ok(Plan::default().with_after_task())
    }

    fn after_task(stage: &Stage, config: &Config, task: &TaskRef, outcome: &Outcome) -> Verdict {
        match outcome {
            Outcome::Failed(_) if task.attempt <= config.max_retries => {
                Verdict::Retry(delay(config, &stage.run_id, task.index, task.attempt))
            }
            _ => Verdict::Accept,
        }
    }
}

export_executor!(Retry);
