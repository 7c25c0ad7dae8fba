//! Errors about a run's state as a store holds it: garbage where troupe wrote a record,
//! or the whole state gone. Typed, so the orchestrator can tell them from a store that is
//! merely unreachable: garbage fails the run (recorded, so `troupe status` shows why); a
//! state that is gone cannot be written to, and is reported as such.

/// The run's state in the store cannot be trusted or is no longer there.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// A record or counter troupe wrote reads back as something else (something other
    /// than troupe wrote it).
    #[error("run {run_id}: Redis holds garbage: field `{field}` of `{key}` is `{found}`, not {expected}")]
    Garbage { run_id: String, key: String, field: String, found: String, expected: &'static str },
    /// The run's keys are gone while it was running.
    #[error(
        "run {run_id}: its state is gone from Redis (`{key}` no longer exists): most likely Redis was restarted \
         without persistence (turn on appendonly), flushed (FLUSHALL/FLUSHDB), or evicted keys under maxmemory \
         (use maxmemory-policy noeviction); the run cannot go on"
    )]
    Gone { run_id: String, key: String },
}

impl StateError {
    /// Garbage `found` in `field` of `key`, shown safely (one line, at most 80 bytes).
    pub fn garbage(run_id: &str, key: &str, field: &str, found: &str, expected: &'static str) -> StateError {
        StateError::Garbage {
            run_id: run_id.to_string(),
            key: key.to_string(),
            field: field.to_string(),
            found: crate::text::one_line(found, 80),
            expected,
        }
    }
}
