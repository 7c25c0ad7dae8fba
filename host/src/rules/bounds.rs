//! Bounds on the numbers a plugin hands the host: the enqueue options of `enqueue` and
//! the delays of `before-task`'s defer and `after-task`'s retry.
//!
//! Why: every one of these numbers turns into host work or host waiting. A rate of
//! `1e-300` tasks per second is a release time past the end of `Duration` (a panic in
//! the embedded engine, a Lua error on Redis); a delay of `u64::MAX` parks a task, and
//! its run, for ever; a delay of 0 with "again" for ever spins a core. A finite number
//! is not a sane one, so each is checked here, once, for both engines: out of bounds is
//! an error naming the option and the value, never a clamp that hides a plugin bug. The
//! one exception is a re-try or defer delay under [`MIN_REQUEUE_DELAY_MS`], which is
//! raised to it: "again, now" is an honest request, and the attempt caps
//! (`task-attempts`, `task-deferrals`) end it.

use crate::api::{Admission, EnqueueOptions, Verdict};
use crate::manifest::Limits;

/// The slowest rate limit accepted: one task per 1,000 s (about 17 minutes).
pub const MIN_RATE_PER_SECOND: f64 = 0.001;
/// The fastest rate limit accepted; faster than any host releases tasks anyway.
pub const MAX_RATE_PER_SECOND: f64 = 1_000_000.0;
/// The largest token-bucket burst accepted.
pub const MAX_BURST: u32 = 1_000_000;
/// The shortest delay before a retried or deferred task runs again: a hook that answers
/// `retry(0)` or `defer(0)` every time costs a wake-up per 10 ms, not a spinning core.
pub const MIN_REQUEUE_DELAY_MS: u64 = 10;

/// Check the options of one `enqueue` call against the calling plugin's limits.
pub fn enqueue_options(options: &EnqueueOptions, limits: &Limits) -> Result<(), String> {
    if options.delay_ms > limits.max_delay_ms {
        return Err(format!(
            "enqueue option delay-ms = {} is over its limit max-delay-ms = {}",
            options.delay_ms, limits.max_delay_ms
        ));
    }
    if options.max_parallel == Some(0) {
        return Err("enqueue option max-parallel = 0: it must be at least 1".to_string());
    }
    if let Some(rate) = &options.rate_limit {
        let r = rate.per_second;
        if !(r.is_finite() && (MIN_RATE_PER_SECOND..=MAX_RATE_PER_SECOND).contains(&r)) {
            return Err(format!(
                "enqueue option rate-limit.per-second = {r:e} is out of bounds: it must be from \
                 {MIN_RATE_PER_SECOND} to {MAX_RATE_PER_SECOND} tasks per second"
            ));
        }
        if rate.burst > MAX_BURST {
            return Err(format!(
                "enqueue option rate-limit.burst = {} is out of bounds: it must be at most {MAX_BURST}",
                rate.burst
            ));
        }
    }
    Ok(())
}

/// A hook's `retry(ms)` or `defer(ms)` delay as the host applies it: raised to
/// [`MIN_REQUEUE_DELAY_MS`], an error past `max-delay-ms`. `verdict` is the hook's
/// answer as the error shows it.
fn requeue_delay(verdict: impl std::fmt::Debug, delay_ms: u64, limits: &Limits) -> Result<u64, String> {
    if delay_ms > limits.max_delay_ms {
        let asked = format!("{verdict:?}").to_lowercase();
        return Err(format!("{asked} asks for a delay over its limit max-delay-ms = {}", limits.max_delay_ms));
    }
    Ok(delay_ms.max(MIN_REQUEUE_DELAY_MS))
}

/// The delay of `before-task`'s `defer(ms)` as applied, or why the task fails instead:
/// the delay is over `max-delay-ms`, or this deferral (`count`, this one included) is
/// past `task-deferrals`.
pub fn deferral(index: u64, delay_ms: u64, count: u64, limits: &Limits) -> Result<u64, String> {
    let delay = requeue_delay(Admission::Defer(delay_ms), delay_ms, limits)?;
    if count > limits.task_deferrals {
        return Err(format!(
            "it deferred task {index} {count} times, its limit task-deferrals = {}",
            limits.task_deferrals
        ));
    }
    Ok(delay)
}

/// The delay of `after-task`'s `retry(ms)` for a task after try `attempt`, or why the
/// task ends instead: the delay is over `max-delay-ms`, or it had `task-attempts` tries.
pub fn retry(index: u64, delay_ms: u64, attempt: u32, limits: &Limits) -> Result<u64, String> {
    let delay = requeue_delay(Verdict::Retry(delay_ms), delay_ms, limits)?;
    if u64::from(attempt) >= limits.task_attempts {
        return Err(format!(
            "it asked for another try of task {index} after {attempt} attempts, its limit task-attempts = {}",
            limits.task_attempts
        ));
    }
    Ok(delay)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::RateLimit;

    fn rate(per_second: f64) -> EnqueueOptions {
        EnqueueOptions {
            rate_limit: Some(RateLimit { bucket: "b".into(), per_second, burst: 1 }),
            ..Default::default()
        }
    }

    #[test]
    fn extreme_rates_and_delays_are_refused_naming_option_and_value() {
        let limits = Limits::DEFAULT;
        for bad in [1e-300, 0.0, -1.0, f64::NAN, f64::INFINITY, 1e300] {
            let err = enqueue_options(&rate(bad), &limits).unwrap_err();
            assert!(err.contains("rate-limit.per-second"), "{err}");
        }
        assert!(enqueue_options(&rate(10.0), &limits).is_ok());
        let err = enqueue_options(&EnqueueOptions { delay_ms: u64::MAX, ..Default::default() }, &limits).unwrap_err();
        assert!(err.contains("delay-ms = 18446744073709551615") && err.contains("max-delay-ms = 86400000"), "{err}");
    }

    #[test]
    fn requeue_delays_have_a_floor_and_a_ceiling() {
        let limits = Limits::DEFAULT;
        assert_eq!(retry(0, 0, 1, &limits), Ok(MIN_REQUEUE_DELAY_MS));
        assert_eq!(retry(0, 500, 1, &limits), Ok(500));
        let err = deferral(0, u64::MAX, 1, &limits).unwrap_err();
        assert!(err.starts_with("defer(18446744073709551615) asks for a delay over"), "{err}");
    }

    #[test]
    fn hooks_that_always_say_again_meet_the_attempt_caps() {
        let limits = Limits { task_attempts: 3, task_deferrals: 2, ..Limits::DEFAULT };
        assert_eq!(retry(0, 0, 2, &limits), Ok(MIN_REQUEUE_DELAY_MS));
        assert!(retry(0, 0, 3, &limits).unwrap_err().contains("after 3 attempts, its limit task-attempts = 3"));
        assert_eq!(deferral(4, 50, 2, &limits), Ok(50));
        assert!(deferral(4, 50, 3, &limits).unwrap_err().contains("deferred task 4 3 times"));
    }
}
