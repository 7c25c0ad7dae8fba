//! `troupe:executor/state`: key-value state namespaced by mode or actor name, so a
//! plugin can never read or write another plugin's keys.
//!
//! Writes are bounded here (a key's length, a value's `result-bytes`) and by the engine
//! (the namespace's `state-keys` and `state-bytes`, an expiry on every key); a refused
//! write (`limit-exceeded`) fails the plugin's call, not just the write, so a plugin
//! cannot ignore it. Other errors are the engine's own (`unavailable` when the state
//! store cannot be reached, `invalid` for an increment of a key that is not a number).

use crate::api::HostError;
use crate::plugin::store::HostState;
use crate::stage_host::StateQuota;

/// Longest state key: a key names a thing (a breaker, a counter); 4 KiB is plenty.
const MAX_KEY_BYTES: usize = 4096;

impl HostState {
    /// Check a write's key and value and give the namespace's quota, or refuse.
    fn check_write(&mut self, key: &str, value_len: usize) -> Result<StateQuota, HostError> {
        self.earlier_refusal("state write")?;
        if key.len() > MAX_KEY_BYTES {
            return Err(self.refuse(HostError::LimitExceeded(format!(
                "wrote a state key of {} bytes, over the longest state key of {MAX_KEY_BYTES} bytes",
                key.len()
            ))));
        }
        if value_len as u64 > self.limits.result_bytes {
            return Err(self.refuse(HostError::LimitExceeded(format!(
                "wrote a state value of {value_len} bytes under key `{}`, over its limit result-bytes = {}",
                crate::text::one_line(key, 120),
                self.limits.result_bytes
            ))));
        }
        Ok(StateQuota::from_limits(&self.limits))
    }

    /// A quota refusal from the engine becomes the call's refusal.
    fn settle<T>(&mut self, result: Result<T, HostError>) -> Result<T, HostError> {
        result.map_err(|e| match e {
            HostError::LimitExceeded(_) => self.refuse(e),
            other => other,
        })
    }

    pub(super) fn state_get(&mut self, key: String) -> Result<Option<String>, HostError> {
        self.host.state_get(&self.scope.state_namespace(), &key)
    }

    pub(super) fn state_set(&mut self, key: String, value: String, ttl_ms: Option<u64>) -> Result<(), HostError> {
        let quota = self.check_write(&key, value.len())?;
        let result = self.host.state_set(&self.scope.state_namespace(), &key, &value, ttl_ms, &quota);
        self.settle(result)
    }

    pub(super) fn state_set_if_absent(
        &mut self,
        key: String,
        value: String,
        ttl_ms: Option<u64>,
    ) -> Result<bool, HostError> {
        let quota = self.check_write(&key, value.len())?;
        let result = self.host.state_set_if_absent(&self.scope.state_namespace(), &key, &value, ttl_ms, &quota);
        self.settle(result)
    }

    pub(super) fn state_increment(&mut self, key: String, delta: i64, ttl_ms: Option<u64>) -> Result<i64, HostError> {
        let quota = self.check_write(&key, 20)?;
        let result = self.host.state_increment(&self.scope.state_namespace(), &key, delta, ttl_ms, &quota);
        self.settle(result)
    }

    pub(super) fn state_delete(&mut self, key: String) -> Result<(), HostError> {
        self.host.state_delete(&self.scope.state_namespace(), &key)
    }
}
