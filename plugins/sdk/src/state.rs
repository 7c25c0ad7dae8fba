//! Host-kept key-value state, namespaced by the host per executor mode (or per actor)
//! and shared by every run and host on the same store. Errors are the host's
//! [`HostError`]: `unavailable` when the store cannot be reached, `limit-exceeded` at a
//! quota. `?` turns one into an [`crate::ExecutorError`] (executors) or the task's error
//! message (actors).

use crate::bindings::raw_state as raw;
use crate::error::HostError;

/// Read a key; `None` when absent or expired.
pub fn get(key: &str) -> Result<Option<String>, HostError> {
    raw::get(key)
}

/// Write a key; with `ttl_ms` it expires after that long.
pub fn set(key: &str, value: &str, ttl_ms: Option<u64>) -> Result<(), HostError> {
    raw::set(key, value, ttl_ms)
}

/// Write a key only when absent; `true` when this call wrote it.
pub fn set_if_absent(key: &str, value: &str, ttl_ms: Option<u64>) -> Result<bool, HostError> {
    raw::set_if_absent(key, value, ttl_ms)
}

/// Atomically add `delta` (absent counts as 0) and return the new value.
pub fn increment(key: &str, delta: i64, ttl_ms: Option<u64>) -> Result<i64, HostError> {
    raw::increment(key, delta, ttl_ms)
}

/// Remove a key (absent is fine).
pub fn delete(key: &str) -> Result<(), HostError> {
    raw::delete(key)
}
