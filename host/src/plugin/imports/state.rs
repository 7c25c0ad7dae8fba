//! `troupe:executor/state`: key-value state namespaced by mode or actor name, so a
//! plugin can never read or write another plugin's keys.
//!
//! Writes are bounded here (a key's length, a value's `result-bytes`) and by the engine
//! (the namespace's `state-keys` and `state-bytes`, an expiry on every key); a refused
//! write fails the plugin's call, not just the write, so a plugin cannot ignore it.

use crate::api::HostError;
use crate::plugin::bindings::state::Host;
use crate::plugin::store::HostState;
use crate::stage_host::StateQuota;

/// Longest state key: a key names a thing (a breaker, a counter); 4 KiB is plenty.
const MAX_KEY_BYTES: usize = 4096;

impl HostState {
    /// Check a write's key and value and give the namespace's quota, or refuse.
    fn check_write(&mut self, key: &str, value_len: usize) -> Result<StateQuota, String> {
        if let Some(refused) = &self.refused {
            // A plugin that ignores a refusal and writes on costs the host nothing more.
            return Err(format!("an earlier state write of this call was refused: {refused}"));
        }
        if key.len() > MAX_KEY_BYTES {
            return Err(self.refuse(format!(
                "wrote a state key of {} bytes, over the longest state key of {MAX_KEY_BYTES} bytes",
                key.len()
            )));
        }
        if value_len as u64 > self.limits.result_bytes {
            return Err(self.refuse(format!(
                "wrote a state value of {value_len} bytes under key `{}`, over its limit result-bytes = {}",
                crate::text::one_line(key, 120),
                self.limits.result_bytes
            )));
        }
        Ok(StateQuota::from_limits(&self.limits))
    }

    /// A quota refusal from the engine becomes the call's refusal.
    fn settle<T>(&mut self, result: Result<T, HostError>) -> Result<T, String> {
        result.map_err(|e| match e {
            HostError::LimitExceeded(m) => self.refuse(m),
            other => other.to_string(),
        })
    }
}

impl Host for HostState {
    fn get(&mut self, key: String) -> Result<Option<String>, String> {
        self.host.state_get(&self.scope.state_namespace(), &key).map_err(|e| e.to_string())
    }

    fn set(&mut self, key: String, value: String, ttl_ms: Option<u64>) -> Result<(), String> {
        let quota = self.check_write(&key, value.len())?;
        let result = self.host.state_set(&self.scope.state_namespace(), &key, &value, ttl_ms, &quota);
        self.settle(result)
    }

    fn set_if_absent(&mut self, key: String, value: String, ttl_ms: Option<u64>) -> Result<bool, String> {
        let quota = self.check_write(&key, value.len())?;
        let result = self.host.state_set_if_absent(&self.scope.state_namespace(), &key, &value, ttl_ms, &quota);
        self.settle(result)
    }

    fn increment(&mut self, key: String, delta: i64, ttl_ms: Option<u64>) -> Result<i64, String> {
        let quota = self.check_write(&key, 20)?;
        let result = self.host.state_increment(&self.scope.state_namespace(), &key, delta, ttl_ms, &quota);
        self.settle(result)
    }

    fn delete(&mut self, key: String) -> Result<(), String> {
        self.host.state_delete(&self.scope.state_namespace(), &key).map_err(|e| e.to_string())
    }
}
