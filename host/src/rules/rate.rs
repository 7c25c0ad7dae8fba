//! The rate limit's token bucket, as a generic cell rate algorithm (GCRA) over
//! milliseconds: one number per bucket (its theoretical arrival time, "TAT"), no timer.
//!
//! Why a pure function: the embedded engine runs it on `Instant`s, the plugin harness on
//! its virtual clock, so a rate-limited pattern tested in the harness is spaced exactly
//! as a run spaces it. The Redis engine keeps its buckets in Redis and must update them
//! atomically, so its copy is Lua (`release` in `engine/redis/troupe.lua`): the two must
//! agree, and the engine conformance suite pins them to the same release times.

/// When a task may be released, and what its bucket holds afterwards.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Slot {
    /// The release time (ms on the caller's clock): never before the task's own due time.
    pub release_ms: f64,
    /// The bucket's new theoretical arrival time, to keep for the next task.
    pub tat_ms: f64,
}

/// Take a token for a task due at `due_ms` (now plus its delay; never before `now_ms`)
/// from a bucket whose TAT is `tat_ms` (`None` for a bucket never used: full).
///
/// Each token costs one interval (`1000 / per_second` ms); `burst` tokens may be taken
/// at once, so a task waits only once the bucket is more than `burst - 1` intervals
/// ahead. A task's own delay is counted too: a delayed task takes a token at its due
/// time, not before.
pub fn take(tat_ms: Option<f64>, now_ms: f64, due_ms: f64, per_second: f64, burst: u32) -> Slot {
    let interval = 1000.0 / per_second;
    let start = tat_ms.unwrap_or(now_ms).max(due_ms);
    let allowance = interval * f64::from(burst.saturating_sub(1));
    Slot { release_ms: due_ms.max(start - allowance), tat_ms: start + interval }
}

/// The tokens a bucket whose TAT is `tat_ms` holds at `now_ms`, fractional (what a
/// dashboard shows: 2.4 of 3 refilling): `burst` for a bucket never used or idle long
/// enough, 0 when the next task would wait. The inverse of [`take`]'s allowance: each
/// token taken moves the TAT one interval past now.
pub fn tokens(tat_ms: Option<f64>, now_ms: f64, per_second: f64, burst: u32) -> f64 {
    let Some(tat) = tat_ms else { return f64::from(burst) };
    let interval = 1000.0 / per_second;
    let owed = (tat - now_ms).max(0.0) / interval;
    (f64::from(burst) - owed).clamp(0.0, f64::from(burst))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Release times of `n` tasks all due at 0 from one fresh bucket.
    fn releases(n: usize, per_second: f64, burst: u32) -> Vec<f64> {
        let mut tat = None;
        (0..n)
            .map(|_| {
                let slot = take(tat, 0.0, 0.0, per_second, burst);
                tat = Some(slot.tat_ms);
                slot.release_ms
            })
            .collect()
    }

    #[test]
    fn one_token_per_interval() {
        assert_eq!(releases(4, 10.0, 1), [0.0, 100.0, 200.0, 300.0]);
    }

    #[test]
    fn a_burst_goes_at_once_then_the_rate_holds() {
        assert_eq!(releases(5, 10.0, 3), [0.0, 0.0, 0.0, 100.0, 200.0]);
    }

    #[test]
    fn an_idle_bucket_refills_and_a_delay_is_respected() {
        // Used up to 300 ms, then nothing until 1000: the bucket is full again.
        let slot = take(Some(300.0), 1000.0, 1000.0, 10.0, 1);
        assert_eq!(slot, Slot { release_ms: 1000.0, tat_ms: 1100.0 });
        // A task delayed past the bucket's TAT goes at its own due time.
        let slot = take(Some(100.0), 0.0, 500.0, 10.0, 1);
        assert_eq!(slot, Slot { release_ms: 500.0, tat_ms: 600.0 });
    }

    #[test]
    fn tokens_drain_with_each_take_and_refill_with_time() {
        let mut tat = None;
        assert_eq!(tokens(tat, 0.0, 10.0, 3), 3.0);
        for left in [2.0, 1.0, 0.0] {
            tat = Some(take(tat, 0.0, 0.0, 10.0, 3).tat_ms);
            assert_eq!(tokens(tat, 0.0, 10.0, 3), left);
        }
        // A task now would wait: the bucket shows none, then refills one per interval.
        assert_eq!(take(tat, 0.0, 0.0, 10.0, 3).release_ms, 100.0);
        assert_eq!(tokens(tat, 50.0, 10.0, 3), 0.5);
        assert_eq!(tokens(tat, 250.0, 10.0, 3), 2.5);
        assert_eq!(tokens(tat, 10_000.0, 10.0, 3), 3.0);
    }
}
