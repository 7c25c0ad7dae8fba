//! What a running stage is doing right now, beyond its counters: its `maxParallel`, the
//! tasks waiting for their time, and the rate bucket pacing them; and the plugins' state
//! entries a live view reads. `troupe serve`'s live-state view (`GET /v1/runs/{id}/live`,
//! the dashboard) is built from these.
//!
//! Why a read of its own rather than more fields in [`super::StageCounts`]: counters are
//! read on every barrier check, these only when someone looks, and on Redis they cost
//! a scan of the run's delayed set and a bucket read.

use serde::Serialize;

/// Most entries of a run's delayed set read to count one stage's waiting tasks (Redis):
/// a live view is a glance, not an audit; `timed` says when it stopped counting.
pub const TIMED_SCAN: usize = 10_000;

/// A running stage's slots and pacing.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StageLive {
    /// The stage's `maxParallel` (from its executor, or retuned); `None`: no limit.
    pub max_parallel: Option<u32>,
    /// Whether `maxParallel` was set through the API.
    pub retuned: bool,
    /// Released tasks waiting for their time (a delay, a backoff, a rate token).
    pub timed: u64,
    /// `timed` is a lower bound: the scan stopped at [`TIMED_SCAN`] entries.
    pub timed_capped: bool,
    /// The bucket pacing the stage's first tries, when one does.
    pub rate: Option<RateLive>,
}

/// A token bucket as it stands now.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RateLive {
    /// The bucket's name within its executor's namespace (`<mode>:<name>` on the wire of
    /// the Redis protocol); a retuned stage's own bucket is `(retuned)`.
    pub bucket: String,
    pub per_second: f64,
    pub burst: u32,
    /// Tokens in the bucket now, fractional while it refills ([`crate::rules::rate::tokens`]).
    pub tokens: f64,
    /// Set through the API (`PATCH .../stages/{stage}`), not by the executor.
    pub retuned: bool,
}

/// One key of a plugin's state, with its value and how long it has left.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateEntry {
    /// The key as the plugin wrote it (without the host's namespace).
    pub key: String,
    pub value: String,
    /// Milliseconds until it expires (every state key expires).
    pub expires_in_ms: u64,
}

/// The name a retuned stage's bucket is shown under.
pub const RETUNED_BUCKET: &str = "(retuned)";
