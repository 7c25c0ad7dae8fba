//! The barrier's verdict on a finished stage (did it succeed, given the failures it
//! tolerates?) and the retry rule for an executor's own `execute` call. The barrier's
//! counting (`succeeded + failed >= expected`, each task once) is the store's and stays
//! per engine ([`crate::engine::StageCounts::done`]); what a finished stage's results
//! mean is decided here, for the orchestrator and the harness alike.

use super::failure::StageFailure;
use crate::api::Outcome;
use crate::engine::TaskResult;
use serde_json::Value;
use std::time::Duration;

/// How many times a `retryable` error from `execute` is retried before the stage fails.
pub const EXECUTOR_RETRIES: u32 = 3;
/// The delay before the first retry of `execute`; each further retry doubles it.
const EXECUTOR_FIRST_DELAY: Duration = Duration::from_millis(100);

/// How long to wait before calling `execute` again after its `retry`-th retryable error
/// (0 for the first), or `None` when the retries are used up and the error fails the
/// stage. Enqueueing is idempotent by task index, so a repeated call enqueues nothing
/// twice.
pub fn executor_retry_delay(retry: u32) -> Option<Duration> {
    (retry < EXECUTOR_RETRIES).then(|| EXECUTOR_FIRST_DELAY * 2u32.pow(retry))
}

/// How many failed tasks a stage tolerates: `toleratedFailures`, or
/// `toleratedFailurePercent` of its expected tasks, whichever allows more.
pub fn tolerated_failures(config: &Value, expected: u64) -> u64 {
    let count = config.get("toleratedFailures").and_then(Value::as_u64).unwrap_or(0);
    let percent = config.get("toleratedFailurePercent").and_then(Value::as_f64).unwrap_or(0.0);
    count.max((percent / 100.0 * expected as f64).floor() as u64)
}

/// Judge a stage whose barrier tripped, from its recorded results (in task-index order)
/// and its `executorConfig`: the failed tasks it tolerated (empty when none failed), or
/// the failure `troupe run` reports, listing every failed task and its error.
pub fn judge(config: &Value, expected: u64, results: &[TaskResult]) -> Result<Vec<TaskResult>, StageFailure> {
    let failed: Vec<TaskResult> = results.iter().filter(|r| matches!(r.outcome, Outcome::Failed(_))).cloned().collect();
    let tolerated = tolerated_failures(config, expected);
    if failed.len() as u64 > tolerated {
        return Err(StageFailure::Tasks { failed, expected, tolerated });
    }
    Ok(failed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn results(outcomes: &[bool]) -> Vec<TaskResult> {
        outcomes
            .iter()
            .enumerate()
            .map(|(i, ok)| TaskResult {
                index: i as u64,
                actor: "A".into(),
                key: None,
                outcome: if *ok { Outcome::Succeeded(json!(i).into()) } else { Outcome::Failed(format!("e{i}")) },
                attempts: 1,
            })
            .collect()
    }

    #[test]
    fn a_failed_task_fails_the_stage_unless_tolerated() {
        let r = results(&[true, false, true, false]);
        let err = judge(&json!({}), 4, &r).unwrap_err();
        assert_eq!(err.to_string(), "2 of 4 tasks failed (tolerated: 0)\n  task 1 (A): e1\n  task 3 (A): e3");
        assert_eq!(judge(&json!({ "toleratedFailures": 2 }), 4, &r).unwrap().len(), 2);
        assert_eq!(judge(&json!({ "toleratedFailurePercent": 50 }), 4, &r).unwrap().len(), 2);
        assert!(judge(&json!({ "toleratedFailurePercent": 49 }), 4, &r).is_err(), "49% of 4 is 1");
    }

    #[test]
    fn execute_is_retried_three_times_with_doubling_delays() {
        let delays: Vec<Option<u64>> = (0..4).map(|i| executor_retry_delay(i).map(|d| d.as_millis() as u64)).collect();
        assert_eq!(delays, [Some(100), Some(200), Some(400), None]);
    }
}
