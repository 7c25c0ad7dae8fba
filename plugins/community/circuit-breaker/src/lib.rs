//! `circuit-breaker`: runs the stage's actor (once, or once per item with `scatter`)
//! behind a circuit breaker kept in the host's state store, per actor, so every run and
//! every host calling that actor through this executor shares it.
//!
//! - Closed: tasks reach the actor; each failure adds to a count of consecutive failures,
//!   each success resets it. At `threshold` the circuit opens for `timeout` ms.
//! - Open: tasks fail fast with "circuit open" without reaching the actor.
//! - Half-open (after `timeout`): one trial task goes through; the others fail fast. Its
//!   success closes the circuit; its failure opens it again for `timeout`.
//!
//! Config: `threshold` (default 5), `timeout` (ms, default 10000), `maxParallel` (default
//! 1: tasks go through one at a time, so exactly `threshold` failures reach the actor
//! before the circuit opens; with more in flight, up to that many more may).
//!
//! Each actor's breaker is shown in `troupe serve`'s live-state view as a card
//! (`view:breaker:<actor>`, see `troupe_sdk::view`), written on every change of state or
//! failure count; an open card says when the next trial goes.

use serde::Deserialize;
use troupe_sdk::prelude::*;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Config {
    #[serde(default = "default_threshold")]
    threshold: i64,
    #[serde(default = "default_timeout")]
    timeout: u64,
    #[serde(default = "default_parallel")]
    max_parallel: u32,
}

fn default_threshold() -> i64 {
    5
}
fn default_timeout() -> u64 {
    10_000
}
fn default_parallel() -> u32 {
    1
}

/// The message a task rejected by an open circuit fails with.
const OPEN: &str = "circuit open";

struct Keys {
    failures: String,
    open: String,
    trial: String,
}

fn keys(actor: &str) -> Keys {
    Keys { failures: format!("{actor}/failures"), open: format!("{actor}/open"), trial: format!("{actor}/trial") }
}

/// Show `actor`'s breaker in the live view. Best effort: a card that cannot be written
/// (a state quota) must not change what the breaker does.
fn show(actor: &str, config: &Config, state: &str, failures: i64, first: bool) {
    let mut card = View::breaker(&format!("{actor} breaker"))
        .state(state)
        .field("failures", failures)
        .field("threshold", config.threshold)
        .field("open for (ms)", config.timeout);
    if state == "open" {
        card = card.until(&keys(actor).open, "next trial in", Some("half-open"));
    }
    let name = format!("breaker:{actor}");
    let _ = if first { card.show_if_absent(&name).map(|_| ()) } else { card.show(&name) };
}

struct CircuitBreaker;

impl Executor for CircuitBreaker {
    const NAME: &'static str = "circuit-breaker";
    type Config = Config;

    fn validate(stage: &Stage, config: &Config) -> Vec<Problem> {
        let mut problems = stage.check_one_or_scatter();
        if config.threshold < 1 {
            problems.push(Problem::new("executorConfig.threshold", "must be at least 1"));
        }
        if config.timeout == 0 {
            problems.push(Problem::new("executorConfig.timeout", "must be at least 1 (milliseconds)"));
        }
        if config.max_parallel == 0 {
            problems.push(Problem::new("executorConfig.maxParallel", "must be at least 1"));
        }
        problems
    }

    fn execute(stage: &Stage, config: &Config) -> Result<Execution, ExecutorError> {
        // Shown before any task can run (only if absent: another run may have opened it).
        show(stage.actor()?, config, "closed", 0, true);
        let options = EnqueueOptions { max_parallel: Some(config.max_parallel), ..Default::default() };
        let (count, shape) = stage.enqueue_one_or_scatter(&options)?;
        Ok(Execution::new(count, shape))
    }

    fn plan(_stage: &Stage, _config: &Config) -> Result<Plan, ExecutorError> {
        Ok(Plan::default().with_before_task().with_after_task())
    }

    fn before_task(_stage: &Stage, config: &Config, task: &TaskRef) -> Admission {
        let k = keys(&task.actor);
        let state_error =
            |e: HostError| Admission::Reject(format!("circuit breaker state unavailable: {}", e.message()));
        match state::get(&k.open) {
            Ok(Some(_)) => return Admission::Reject(OPEN.to_string()),
            Ok(None) => {}
            Err(e) => return state_error(e),
        }
        let failures = match state::get(&k.failures) {
            Ok(v) => v.and_then(|v| v.parse::<i64>().ok()).unwrap_or(0),
            Err(e) => return state_error(e),
        };
        if failures < config.threshold {
            return Admission::Run;
        }
        // Half-open: the open period is over; elect one trial task.
        match state::set_if_absent(&k.trial, &task.index.to_string(), Some(config.timeout)) {
            Ok(true) => {
                show(&task.actor, config, "half-open", failures, false);
                Admission::Run
            }
            Ok(false) => Admission::Reject(OPEN.to_string()),
            Err(e) => state_error(e),
        }
    }

    fn after_task(_stage: &Stage, config: &Config, task: &TaskRef, outcome: &Outcome) -> Verdict {
        let k = keys(&task.actor);
        match outcome {
            Outcome::Failed(message) if message == OPEN => {}
            Outcome::Succeeded(_) => {
                // A success after failures closes the card; one after none changes nothing.
                if !matches!(state::get(&k.failures), Ok(None)) {
                    let _ = state::delete(&k.failures);
                    let _ = state::delete(&k.trial);
                    show(&task.actor, config, "closed", 0, false);
                }
            }
            Outcome::Failed(_) => {
                let failures = state::increment(&k.failures, 1, None).unwrap_or(config.threshold);
                if failures >= config.threshold {
                    let _ = state::set(&k.open, "1", Some(config.timeout));
                    let _ = state::delete(&k.trial);
                    show(&task.actor, config, "open", failures, false);
                } else {
                    show(&task.actor, config, "closed", failures, false);
                }
            }
        }
        Verdict::Accept
    }
}

export_executor!(CircuitBreaker);
