//! `troupe:executor/state`: key-value state namespaced by mode or actor name, so a
//! plugin can never read or write another plugin's keys.

use crate::plugin::bindings::state::Host;
use crate::plugin::store::HostState;

impl Host for HostState {
    fn get(&mut self, key: String) -> Result<Option<String>, String> {
        self.host.state_get(&self.scope.state_namespace(), &key)
    }

    fn set(&mut self, key: String, value: String, ttl_ms: Option<u64>) -> Result<(), String> {
        self.host.state_set(&self.scope.state_namespace(), &key, &value, ttl_ms)
    }

    fn set_if_absent(&mut self, key: String, value: String, ttl_ms: Option<u64>) -> Result<bool, String> {
        self.host.state_set_if_absent(&self.scope.state_namespace(), &key, &value, ttl_ms)
    }

    fn increment(&mut self, key: String, delta: i64, ttl_ms: Option<u64>) -> Result<i64, String> {
        self.host.state_increment(&self.scope.state_namespace(), &key, delta, ttl_ms)
    }

    fn delete(&mut self, key: String) -> Result<(), String> {
        self.host.state_delete(&self.scope.state_namespace(), &key)
    }
}
