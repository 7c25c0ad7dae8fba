//! Host-kept key-value state, namespaced by the host per executor mode (or per actor)
//! and shared by every run and host on the same store.

use crate::bindings::raw_state as raw;

/// Read a key; `None` when absent or expired.
pub fn get(key: &str) -> Result<Option<String>, String> {
    raw::get(key)
}

/// Write a key; with `ttl_ms` it expires after that long.
pub fn set(key: &str, value: &str, ttl_ms: Option<u64>) -> Result<(), String> {
    raw::set(key, value, ttl_ms)
}

/// Write a key only when absent; `true` when this call wrote it.
pub fn set_if_absent(key: &str, value: &str, ttl_ms: Option<u64>) -> Result<bool, String> {
    raw::set_if_absent(key, value, ttl_ms)
}

/// Atomically add `delta` (absent counts as 0) and return the new value.
pub fn increment(key: &str, delta: i64, ttl_ms: Option<u64>) -> Result<i64, String> {
    raw::increment(key, delta, ttl_ms)
}

/// Remove a key (absent is fine).
pub fn delete(key: &str) -> Result<(), String> {
    raw::delete(key)
}
